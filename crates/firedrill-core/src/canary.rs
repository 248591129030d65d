//! Canaries: small records stamped into the source at a fixed interval
//! before the fault, and the measured RPO that follows from the newest one
//! the restored copy still holds. The writer lives with the runner; the
//! data and the arithmetic live here.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::timing::millis;

/// How often canaries are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryPlan {
    pub interval: Duration,
    /// Writes made after the backup finished, before the fault (default 1):
    /// they are the data a real disaster would lose.
    pub writes_after_backup: u32,
}

/// The newest canary found in the restored copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveredCanary {
    pub seq: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
}

/// One canary write as acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryWrite {
    pub seq: u64,
    /// The stamp written into the canary (when the write was sent).
    #[serde(with = "time::serde::rfc3339")]
    pub written_at: OffsetDateTime,
    /// Time until the write was acknowledged.
    #[serde(with = "millis", rename = "latency_ms")]
    pub latency: Duration,
}

/// Canary and RPO facts for one target, as reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryReport {
    pub location: String,
    #[serde(with = "millis", rename = "interval_ms")]
    pub interval: Duration,
    /// Canaries written (and acknowledged) before the fault.
    pub written: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_written: Option<CanaryWrite>,
    /// Newest canary found in the restored copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_recovered: Option<RecoveredCanary>,
    /// Canaries written but not found in the restored copy.
    pub lost_writes: u64,
    /// Fault time minus the newest recovered write time.
    #[serde(default, with = "millis::option", rename = "measured_rpo_ms")]
    pub measured_rpo: Option<Duration>,
    /// Fault time minus backup completion: what the snapshot alone promises.
    #[serde(default, with = "millis::option", rename = "snapshot_rpo_ms")]
    pub snapshot_rpo: Option<Duration>,
}

/// Work out measured RPO and lost writes.
pub fn assess(
    location: String,
    interval: Duration,
    writes: &[CanaryWrite],
    recovered: Option<RecoveredCanary>,
    fault_at: OffsetDateTime,
    backup_at: Option<OffsetDateTime>,
) -> CanaryReport {
    let last_written = writes.last().copied();
    let lost_writes = match recovered {
        Some(r) => writes.iter().filter(|w| w.seq > r.seq).count() as u64,
        None => writes.len() as u64,
    };
    let span = |from: OffsetDateTime| -> Duration {
        let d = fault_at - from;
        Duration::try_from(d).unwrap_or(Duration::ZERO)
    };
    CanaryReport {
        location,
        interval,
        written: writes.len() as u64,
        last_written,
        newest_recovered: recovered,
        lost_writes,
        measured_rpo: recovered.map(|r| span(r.written_at)),
        snapshot_rpo: backup_at.map(span),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rpo_is_fault_minus_newest_recovered_write() {
        let t = |s: i64| datetime!(2026-11-25 12:00:00 UTC) + time::Duration::seconds(s);
        let writes: Vec<CanaryWrite> = (1..=4)
            .map(|i| CanaryWrite {
                seq: i,
                written_at: t(i as i64 * 2),
                latency: Duration::from_millis(3),
            })
            .collect();
        let r = assess(
            "m".into(),
            Duration::from_secs(2),
            &writes,
            Some(RecoveredCanary {
                seq: 2,
                written_at: t(4),
            }),
            t(9),
            Some(t(5)),
        );
        assert_eq!(r.lost_writes, 2);
        assert_eq!(r.measured_rpo, Some(Duration::from_secs(5)));
        assert_eq!(r.snapshot_rpo, Some(Duration::from_secs(4)));
        let none = assess(
            "m".into(),
            Duration::from_secs(2),
            &writes,
            None,
            t(9),
            None,
        );
        assert_eq!(none.lost_writes, 4);
        assert_eq!(none.measured_rpo, None);
    }
}
