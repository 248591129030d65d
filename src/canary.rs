//! Canary writes and measured RPO, shared by every target kind.
//!
//! A writer stamps small records (sequence number, UTC time) into the source
//! at a fixed interval from before the backup until just before the fault.
//! After the restore the kind reports the newest canary it found; measured
//! RPO is the fault time minus that canary's write time, and the canaries
//! written after it are the writes lost.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::targets::{RecoveredCanary, StageError};
use crate::timing::{Clock, millis};

/// How often canaries are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CanaryPlan {
    pub interval: Duration,
    /// Writes made after the backup finished, before the fault (default 1):
    /// they are the data a real disaster would lose.
    pub writes_after_backup: u32,
}

/// Where a kind writes its canaries.
#[async_trait]
pub trait CanarySink: Send + Sync {
    /// For people: `s3://orders/.firedrill/canary/<run>/`.
    fn location(&self) -> String;

    /// Write canary `seq` stamped `at`; return once it is durable.
    async fn write(&self, seq: u64, at: OffsetDateTime) -> Result<(), StageError>;
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

/// A running canary writer.
#[derive(Debug)]
pub struct CanaryWriter {
    stop: watch::Sender<bool>,
    progress: watch::Receiver<u64>,
    task: JoinHandle<(Vec<CanaryWrite>, Option<StageError>)>,
}

impl CanaryWriter {
    /// Start writing: canary 1 immediately, then one per interval.
    pub fn start(sink: Arc<dyn CanarySink>, plan: CanaryPlan, clock: Clock) -> Self {
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let (progress_tx, progress_rx) = watch::channel(0u64);
        let task = tokio::spawn(async move {
            let mut writes = Vec::new();
            let mut seq = 0u64;
            loop {
                seq += 1;
                let start = clock.now();
                if let Err(e) = sink.write(seq, start.utc).await {
                    return (writes, Some(e));
                }
                writes.push(CanaryWrite {
                    seq,
                    written_at: start.utc,
                    latency: clock.now().since(start),
                });
                let _ = progress_tx.send(seq);
                if *stop_rx.borrow() {
                    return (writes, None);
                }
                tokio::select! {
                    () = clock.sleep(plan.interval) => {}
                    _ = stop_rx.changed() => return (writes, None),
                }
            }
        });
        Self {
            stop: stop_tx,
            progress: progress_rx,
            task,
        }
    }

    /// The last acknowledged sequence number.
    pub fn latest(&self) -> u64 {
        *self.progress.borrow()
    }

    /// Wait until canary `seq` has been acknowledged (or the writer ended).
    pub async fn wait_for(&mut self, seq: u64) {
        let _ = self.progress.wait_for(|s| *s >= seq).await;
    }

    /// Stop after the write in flight; returns every acknowledged write.
    pub async fn stop(self) -> Result<Vec<CanaryWrite>, StageError> {
        let _ = self.stop.send(true);
        match self.task.await {
            Ok((writes, None)) => Ok(writes),
            Ok((_, Some(e))) => Err(e),
            Err(e) => Err(StageError::Failed(format!("canary writer crashed: {e}"))),
        }
    }
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
    use std::sync::Mutex;
    use time::macros::datetime;

    #[derive(Default)]
    struct Memory(Mutex<Vec<u64>>);

    #[async_trait]
    impl CanarySink for Memory {
        fn location(&self) -> String {
            "memory".into()
        }

        async fn write(&self, seq: u64, _at: OffsetDateTime) -> Result<(), StageError> {
            self.0.lock().unwrap().push(seq);
            Ok(())
        }
    }

    #[tokio::test]
    async fn writer_writes_in_sequence_until_stopped() {
        let sink = Arc::new(Memory::default());
        let plan = CanaryPlan {
            interval: Duration::from_millis(5),
            writes_after_backup: 1,
        };
        let mut w = CanaryWriter::start(sink.clone(), plan, Clock::system());
        w.wait_for(3).await;
        let writes = w.stop().await.unwrap();
        assert!(writes.len() >= 3);
        let seqs: Vec<u64> = writes.iter().map(|w| w.seq).collect();
        assert_eq!(seqs, (1..=writes.len() as u64).collect::<Vec<_>>());
        assert_eq!(*sink.0.lock().unwrap(), seqs);
    }

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
