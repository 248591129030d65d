//! Canary writes and measured RPO, shared by every target kind.
//!
//! A writer stamps small records (sequence number, UTC time) into the source
//! at a fixed interval from before the backup until just before the fault.
//! After the restore the kind reports the newest canary it found; measured
//! RPO is the fault time minus that canary's write time, and the canaries
//! written after it are the writes lost.

use std::sync::Arc;

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use firedrill_core::StageError;
use firedrill_core::canary::{CanaryPlan, CanaryWrite};
use firedrill_core::timing::Clock;

/// Where a kind writes its canaries.
#[async_trait]
pub trait CanarySink: Send + Sync {
    /// For people: `s3://orders/.firedrill/canary/<run>/`.
    fn location(&self) -> String;

    /// Write canary `seq` stamped `at`; return once it is durable.
    async fn write(&self, seq: u64, at: OffsetDateTime) -> Result<(), StageError>;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::time::Duration;

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
}
