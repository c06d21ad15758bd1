//! Limits shared by every replica: one GCRA per key in Redis (a single
//! Lua script, as redis_rate does), so a team's quota and an account's
//! upstream rate hold across replicas. The caller falls back to its local
//! limiter (at 1/N) when Redis does not answer.

use std::time::Duration;

use super::Cluster;

/// A rate: `per_period` units every `period`, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Units replenished per `period`.
    pub per_period: u32,
    /// How often `per_period` units come back; the GCRA's emission
    /// interval is `period / per_period`.
    pub period: Duration,
    /// Units that may go at once after a quiet spell.
    pub burst: u32,
}

/// What the shared limiter answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitAnswer {
    /// Taken; this many units are left right now.
    Allowed {
        /// Units still available at once.
        remaining: u32,
    },
    /// Refused; retry after this long.
    Denied {
        /// Time until the units would be allowed.
        retry_after: Duration,
    },
}

/// GCRA: KEYS[1] holds the theoretical arrival time (ms). ARGV: emission
/// interval (ms, fractional), burst tolerance (ms), units. Redis TIME is the
/// clock, so replicas' clocks never disagree.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + now_parts[2] / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local units = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval * units
local allow_at = new_tat - tolerance - interval
if allow_at > now then
  return {0, math.ceil(allow_at - now)}
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, math.floor((tolerance + interval - (new_tat - now)) / interval)}
";

impl Cluster {
    /// Takes `units` of `limit` under `key` for every replica at once;
    /// `None` when Redis did not answer (the caller limits locally).
    pub async fn take(&self, key: &str, limit: Limit, units: u32) -> Option<LimitAnswer> {
        let interval_ms = limit.period.as_secs_f64() * 1000.0 / f64::from(limit.per_period.max(1));
        let tolerance_ms = interval_ms * f64::from(limit.burst.max(1).saturating_sub(1));
        let key = self.key(&["gcra", key]);
        let (allowed, value): (i64, i64) = self
            .run(|mut redis| async move {
                redis::Script::new(GCRA)
                    .key(key)
                    .arg(interval_ms)
                    .arg(tolerance_ms)
                    .arg(units)
                    .invoke_async(&mut redis)
                    .await
            })
            .await?;
        Some(if allowed == 1 {
            LimitAnswer::Allowed {
                remaining: u32::try_from(value.max(0)).unwrap_or(u32::MAX),
            }
        } else {
            LimitAnswer::Denied {
                retry_after: Duration::from_millis(u64::try_from(value.max(1)).unwrap_or(1)),
            }
        })
    }
}
