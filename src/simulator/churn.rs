//! Churn: the account changing on its own, as a real fleet does. Computers
//! go online and offline, sessions start, comments are edited in the
//! RemotePC console, computers are added and removed, so that live
//! subscriptions and history have something to show.

use rand::Rng;
use rand::rngs::StdRng;

use super::SimState;
use super::seed::device;

/// What one churn step changed, for tests to compare with the events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Churned {
    /// Computers whose status flipped.
    pub status: Vec<String>,
    /// Computers whose comment was edited.
    pub comments: Vec<String>,
    /// Computers a session started on (they came online too).
    pub sessions: Vec<String>,
    /// Computers added.
    pub added: Vec<String>,
    /// Computers removed.
    pub removed: Vec<String>,
}

impl SimState {
    /// Makes about `changes` random changes: mostly status flips, some
    /// sessions and comment edits, now and then a computer added or
    /// removed. `now` is the session time written (RemotePC's format).
    pub fn churn(&mut self, rng: &mut StdRng, changes: usize, now: &str) -> Churned {
        let mut churned = Churned::default();
        for _ in 0..changes {
            let roll = rng.random_range(0..100);
            if roll < 4 || self.devices.is_empty() {
                let index = self.devices.len() + rng.random_range(0..1_000_000);
                let mut added = device(rng, index);
                added.host_name = format!("NEW-{index:07}");
                churned.added.push(added.host_name.clone());
                self.devices.insert(added.host_name.clone(), added);
                continue;
            }
            let name = self
                .devices
                .keys()
                .nth(rng.random_range(0..self.devices.len()))
                .cloned()
                .unwrap_or_default();
            let Some(device) = self.devices.get_mut(&name) else {
                continue;
            };
            match roll {
                4..8 => {
                    self.devices.remove(&name);
                    churned.removed.push(name);
                }
                8..20 => {
                    device.comments =
                        format!("Edited in the console ({})", rng.random_range(0..1000));
                    churned.comments.push(name);
                }
                20..35 => {
                    device.last_session = now.to_owned();
                    device.online = true;
                    churned.sessions.push(name);
                }
                _ => {
                    device.online = !device.online;
                    churned.status.push(name);
                }
            }
        }
        churned
    }

    /// Sets a computer online or offline, as its agent would.
    pub fn set_online(&mut self, name: &str, online: bool) -> bool {
        self.devices
            .get_mut(name)
            .map(|device| device.online = online)
            .is_some()
    }

    /// The invited `email` accepts: an active user from now on.
    pub fn accept_invitation(&mut self, email: &str) -> bool {
        let key = email.to_ascii_lowercase();
        if !self.invited.remove(&key) {
            return false;
        }
        let user = super::SimUser {
            firstname: "Invited".to_owned(),
            lastname: "User".to_owned(),
            username: key.clone(),
            two_factor: false,
        };
        self.users.insert(key, user);
        true
    }

    /// Edits a computer's comment outside the gateway (the web console).
    pub fn set_comment(&mut self, name: &str, comment: &str) -> bool {
        self.devices
            .get_mut(name)
            .map(|device| device.comments = comment.to_owned())
            .is_some()
    }
}
