//! The replica's local circuit in front of Redis: after a failed or slow
//! command, every command falls back at once for a back-off period (from
//! `FIRST_BACKOFF`, doubling to `MAX_BACKOFF`); then one command at a
//! time probes Redis, and its success closes the circuit. A Redis outage
//! then costs a request nothing instead of `cluster.command_timeout`.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(15);

#[derive(Debug, Default)]
pub(super) struct Circuit {
    /// std `Mutex`: never held across `.await`.
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Set while open: commands fall back until then.
    open_until: Option<Instant>,
    /// The back-off of the next opening.
    backoff: Option<Duration>,
    /// A probe is out: the others fall back until it answers.
    probing: bool,
}

/// Leave to send one command; say how it went.
pub(super) struct Pass<'a> {
    circuit: &'a Circuit,
    probe: bool,
}

impl Circuit {
    /// Leave to send a command, or `None` to fall back at once.
    pub(super) fn pass(&self) -> Option<Pass<'_>> {
        let mut state = self.lock();
        let Some(open_until) = state.open_until else {
            return Some(Pass {
                circuit: self,
                probe: false,
            });
        };
        if Instant::now() < open_until || state.probing {
            return None;
        }
        state.probing = true;
        Some(Pass {
            circuit: self,
            probe: true,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Pass<'_> {
    /// Closes the circuit on success; opens it (longer after a failed
    /// probe) on failure.
    pub(super) fn went(self, ok: bool) {
        let mut state = self.circuit.lock();
        if self.probe {
            state.probing = false;
        }
        if ok {
            *state = State::default();
            return;
        }
        let backoff = match state.backoff {
            Some(last) if self.probe => (last * 2).min(MAX_BACKOFF),
            Some(last) => last,
            None => FIRST_BACKOFF,
        };
        state.backoff = Some(backoff);
        state.open_until = Some(Instant::now() + backoff);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failure_opens_the_circuit_then_one_probe_at_a_time_closes_it() {
        let circuit = Circuit::default();
        circuit.pass().expect("closed: commands go").went(false);
        assert!(circuit.pass().is_none(), "open: fall back at once");
        tokio::time::advance(FIRST_BACKOFF).await;
        let probe = circuit.pass().expect("one probe after the back-off");
        assert!(circuit.pass().is_none(), "a single probe at a time");
        probe.went(false);
        tokio::time::advance(FIRST_BACKOFF).await;
        assert!(
            circuit.pass().is_none(),
            "a failed probe doubles the back-off"
        );
        tokio::time::advance(FIRST_BACKOFF).await;
        circuit.pass().expect("the next probe").went(true);
        circuit.pass().expect("closed again").went(true);
        assert!(circuit.pass().is_some());
    }
}
