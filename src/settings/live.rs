//! `[live]`: subscriptions (how often an account is polled while someone
//! listens, how many may listen) and the device history they leave.

use std::time::Duration;

use serde::Deserialize;

use super::validate::invalid;
use super::{CacheSettings, SettingsError};

/// Subscriptions and history.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LiveSettings {
    /// How often an account's collection is read while at least one
    /// subscription listens to it; unset: `cache.ttl`. Never below
    /// `cache.min_refresh_interval`.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Option<Duration>,
    /// Most subscriptions open on one WebSocket connection.
    pub max_subscriptions_per_connection: usize,
    /// Most subscriptions one team (or one identity provider's role) has
    /// open at once, over all its connections.
    pub max_subscriptions_per_team: usize,
    /// Most subscriptions one person (one `sub` of one provider's role)
    /// has open at once, so that no one person takes a role's slots.
    pub max_subscriptions_per_person: usize,
    /// Most subscriptions open in the whole process.
    pub max_subscriptions: usize,
    /// A ping is sent this often on an idle stream (WebSocket `ping`, SSE
    /// comment), so proxies keep it open and dead peers are found.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// A WebSocket client that sends no `connection_init` within this long,
    /// or answers no ping within it, is disconnected.
    #[serde(with = "humantime_serde")]
    pub client_timeout: Duration,
    /// Events kept for a subscriber that has not read them yet; one that
    /// falls further behind reads the rest from the change log.
    pub event_buffer: usize,
    /// Longest a message may wait for the client to read it before the
    /// client is disconnected as too slow.
    #[serde(with = "humantime_serde")]
    pub send_timeout: Duration,
    /// How long observed changes are kept in the history.
    #[serde(with = "humantime_serde")]
    pub history_retention: Duration,
    /// Most history rows kept in all; the oldest go first.
    pub history_max_rows: u64,
    /// Snapshots whose changes wait to be logged; past it their changes
    /// are counted (`gateway_live_history_dropped_total`) and the log
    /// catches up from the items' last states with a gap, which ends
    /// resumes across it with `CURSOR_EXPIRED`.
    pub history_queue: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            poll_interval: None,
            max_subscriptions_per_connection: 20,
            max_subscriptions_per_team: 500,
            max_subscriptions_per_person: 20,
            max_subscriptions: 5_000,
            keep_alive: Duration::from_secs(15),
            client_timeout: Duration::from_secs(10),
            event_buffer: 1_024,
            send_timeout: Duration::from_secs(10),
            history_retention: Duration::from_secs(30 * 24 * 3600),
            history_max_rows: 1_000_000,
            history_queue: 10_000,
        }
    }
}

impl LiveSettings {
    /// The interval subscriptions are served at: `poll_interval`, else the
    /// cache's TTL, never below `cache.min_refresh_interval`.
    pub fn poll_every(&self, cache: &CacheSettings) -> Duration {
        self.poll_interval
            .unwrap_or(cache.ttl)
            .max(cache.min_refresh_interval)
    }

    pub(super) fn validate(&self, cache: &CacheSettings) -> Result<(), SettingsError> {
        if let Some(interval) = self.poll_interval
            && interval < cache.min_refresh_interval
        {
            return Err(invalid(
                "live.poll_interval",
                "must be at least cache.min_refresh_interval (RemotePC is never read more often)",
            ));
        }
        let positive = [
            (
                "live.max_subscriptions_per_connection",
                self.max_subscriptions_per_connection,
            ),
            (
                "live.max_subscriptions_per_team",
                self.max_subscriptions_per_team,
            ),
            (
                "live.max_subscriptions_per_person",
                self.max_subscriptions_per_person,
            ),
            ("live.max_subscriptions", self.max_subscriptions),
            ("live.event_buffer", self.event_buffer),
            ("live.history_queue", self.history_queue),
        ];
        if let Some((key, _)) = positive.iter().find(|(_, value)| *value == 0) {
            return Err(invalid(key, "must be at least 1"));
        }
        let durations = [
            ("live.keep_alive", self.keep_alive),
            ("live.client_timeout", self.client_timeout),
            ("live.send_timeout", self.send_timeout),
            ("live.history_retention", self.history_retention),
        ];
        if let Some((key, _)) = durations.iter().find(|(_, value)| value.is_zero()) {
            return Err(invalid(key, "must be longer than 0s"));
        }
        if self.history_max_rows == 0 {
            return Err(invalid("live.history_max_rows", "must be at least 1"));
        }
        Ok(())
    }
}
