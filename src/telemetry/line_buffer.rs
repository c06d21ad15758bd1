//! Log lines leave through a bounded buffer: the thread that logs only
//! copies its line in, and one thread of the buffer's own hands whatever
//! gathered to the sink (stdout) in one write, at most every millisecond.
//! A write per line was a system call per request and a wake-up of
//! whatever reads the gateway's output (a container runtime, a pipe),
//! on the same two cores that answer requests. A full buffer makes the
//! logging thread wait for room, as a full pipe did: no line is dropped,
//! no more than `bound` bytes wait, and `gateway_log_waits_total` counts
//! the lines that waited.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// How long lines gather before they are written: one write covers
/// every line logged meanwhile.
const GATHER: Duration = Duration::from_millis(1);

/// Bytes that may wait to be written (a few thousand access lines).
const BOUND: usize = 256 * 1024;

/// Log lines that waited for room in the full buffer.
pub(super) const LOG_WAITS: &str = "gateway_log_waits_total";

/// Standard output behind a bounded `LineBuffer`: the writer the binary
/// gives `init`. Keep the `LineFlush` until exit.
pub fn stdout_lines() -> io::Result<(LineBuffer, LineFlush)> {
    LineBuffer::new(io::stdout(), BOUND)
}

/// The logging side: a `MakeWriter` for the subscriber.
pub struct LineBuffer {
    shared: Arc<Shared>,
}

/// Writes what is left when dropped (keep it until exit), or waits for
/// it with `flush`.
pub struct LineFlush {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// The writer waits here while there is nothing to write.
    filled: Condvar,
    /// Loggers waiting for room, and flushes, wait here.
    progress: Condvar,
    bound: usize,
}

#[derive(Default)]
struct State {
    waiting: Vec<u8>,
    /// The writer is parked on `filled` and must be woken.
    idle: bool,
    /// Lines taken out of `waiting` and not yet written.
    writing: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LineBuffer {
    /// A buffer of `bound` bytes in front of `sink`, written by a thread
    /// of its own, which lives as long as the process (one per process).
    pub fn new<S: Write + Send + 'static>(sink: S, bound: usize) -> io::Result<(Self, LineFlush)> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            filled: Condvar::new(),
            progress: Condvar::new(),
            bound,
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-lines".to_owned())
            .spawn(move || write_gathered(&writer, sink))?;
        let flush = LineFlush {
            shared: Arc::clone(&shared),
        };
        Ok((Self { shared }, flush))
    }
}

/// The writer thread: waits for lines, lets more gather, writes them.
fn write_gathered<S: Write>(shared: &Shared, mut sink: S) {
    let mut taken = Vec::new();
    loop {
        let mut state = shared.lock();
        while state.waiting.is_empty() {
            state.idle = true;
            state = shared
                .filled
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        drop(state);
        std::thread::sleep(GATHER);
        let mut state = shared.lock();
        std::mem::swap(&mut state.waiting, &mut taken);
        state.writing = true;
        drop(state);
        shared.progress.notify_all();
        // A sink that fails (a closed stdout) loses these lines; there is
        // nowhere left to say so.
        let _ = sink.write_all(&taken).and_then(|()| sink.flush());
        taken.clear();
        // Capacity beyond the bound came from one long line: not kept.
        taken.shrink_to(shared.bound);
        shared.lock().writing = false;
        shared.progress.notify_all();
    }
}

/// One logging thread's handle, taking whole lines.
pub struct LineInput<'a> {
    shared: &'a Shared,
}

impl<'a> MakeWriter<'a> for LineBuffer {
    type Writer = LineInput<'a>;

    fn make_writer(&'a self) -> LineInput<'a> {
        LineInput {
            shared: &self.shared,
        }
    }
}

impl Write for LineInput<'_> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let shared = self.shared;
        let mut state = shared.lock();
        // A line longer than the bound waits for an empty buffer and goes
        // alone.
        let full = |state: &State| {
            !state.waiting.is_empty() && state.waiting.len() + line.len() > shared.bound
        };
        let waited = full(&state);
        while full(&state) {
            state = shared
                .progress
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.waiting.extend_from_slice(line);
        let wake = std::mem::take(&mut state.idle);
        drop(state);
        if wake {
            shared.filled.notify_one();
        }
        if waited {
            metrics::counter!(LOG_WAITS).increment(1);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl LineFlush {
    /// Waits until every line logged before the call is written, or
    /// `deadline` passes; whether they were.
    pub fn flush(&self, deadline: Duration) -> bool {
        let until = Instant::now() + deadline;
        let mut state = self.shared.lock();
        while !state.waiting.is_empty() || state.writing {
            let Some(left) = until.checked_duration_since(Instant::now()) else {
                return false;
            };
            let (next, _) = (self.shared.progress)
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
        }
        true
    }
}

/// How long an exit waits for the last lines.
const AT_EXIT: Duration = Duration::from_secs(2);

impl Drop for LineFlush {
    fn drop(&mut self) {
        self.flush(AT_EXIT);
    }
}

#[cfg(test)]
#[path = "line_buffer_tests.rs"]
mod tests;
