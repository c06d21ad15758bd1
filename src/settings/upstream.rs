//! `[upstream]`: how the gateway calls RemotePC, for every account: time
//! limits, paging, the rate and concurrency it shares out fairly between
//! flows, retries and the breaker.

use std::time::Duration;

use serde::Deserialize;

/// Upstream client behaviour shared by all accounts.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamSettings {
    /// Time allowed to open a connection.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Time allowed for a whole upstream call, body included.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Records asked per list page (the vendor's maximum is 500).
    pub page_size: u32,
    /// List pages fetched at the same time when reading a whole collection.
    pub page_fanout: usize,
    /// Computers per `computer/remove` call (the vendor's maximum is 50).
    pub remove_batch_size: usize,
    /// Largest upstream response body accepted, in bytes.
    pub max_response_bytes: usize,
    /// Most records one collection (users, devices) may hold; a list claiming
    /// more is refused before its pages are read.
    pub max_collection_records: u64,
    /// Most calls in flight to one account at once.
    pub max_concurrent: usize,
    /// Calls per second to one account, on average.
    pub rate_per_second: u32,
    /// Calls to one account that may go at once after a quiet spell.
    pub burst: u32,
    /// How long a call may wait for the rate limit and a free slot before it
    /// fails with RATE_LIMITED.
    #[serde(with = "humantime_serde")]
    pub queue_timeout: Duration,
    /// Most calls one flow (a team, or a person) may have waiting for a
    /// place at once; more are refused RATE_LIMITED at once.
    pub max_queued_per_flow: usize,
    /// The least share of places the gateway's own reads (refreshes
    /// readers are served stale for, live polling) keep when others wait,
    /// from 0 to 1; otherwise they use what others leave.
    pub background_floor: f64,
    /// The background lane's weight beside the teams' and roles'; 0 (the
    /// default): it has only its floor and what interactive calls leave.
    pub background_weight: u32,
    /// Attempts of a list call (GET), retries included; writes are never
    /// retried once they may have been sent.
    pub retry_attempts: u32,
    /// Pause before the first retry; doubled each time, with jitter.
    #[serde(with = "humantime_serde")]
    pub retry_initial_backoff: Duration,
    /// No retry starts later than this after the first attempt.
    #[serde(with = "humantime_serde")]
    pub retry_max_elapsed: Duration,
    /// Consecutive failed calls to one account that open its circuit breaker.
    pub breaker_failures: u32,
    /// How long an open breaker fails calls fast before letting one probe by.
    #[serde(with = "humantime_serde")]
    pub breaker_cooldown: Duration,
    /// How often key files are checked for a new key (SIGHUP checks at once).
    #[serde(with = "humantime_serde")]
    pub key_reload_interval: Duration,
}

impl Default for UpstreamSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            page_size: 500,
            page_fanout: 20,
            remove_batch_size: 50,
            max_response_bytes: 64 * 1024 * 1024,
            max_collection_records: 200_000,
            max_concurrent: 20,
            rate_per_second: 20,
            burst: 40,
            queue_timeout: Duration::from_secs(5),
            max_queued_per_flow: 200,
            background_floor: 0.1,
            background_weight: 0,
            retry_attempts: 3,
            retry_initial_backoff: Duration::from_millis(200),
            retry_max_elapsed: Duration::from_secs(10),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            key_reload_interval: Duration::from_secs(5),
        }
    }
}
