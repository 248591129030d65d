//! Stopping a drill early: signals, the scenario's maximum duration and its
//! abort conditions all end here. Once aborted, no new stage starts (so no
//! further fault is injected) and cleanup gets a fixed budget.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

/// Time cleanup may take after an abort before the run gives up, says what
/// it could not delete, and exits 4.
pub const CLEANUP_BUDGET: Duration = Duration::from_secs(30);

/// The run's abort switch. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Abort {
    token: CancellationToken,
    state: Arc<Mutex<Option<(String, Instant)>>>,
}

impl Abort {
    /// Wrap the token signals cancel; a cancellation from outside (SIGINT,
    /// SIGTERM) is recorded as "interrupted by signal".
    pub fn new(token: CancellationToken) -> Self {
        let abort = Self {
            token,
            state: Arc::default(),
        };
        let watcher = abort.clone();
        tokio::spawn(async move {
            watcher.token.cancelled().await;
            watcher.record("interrupted by signal");
        });
        abort
    }

    fn record(&self, reason: &str) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| (reason.to_string(), Instant::now()));
    }

    /// Abort the run for `reason` (the first reason wins).
    pub fn abort(&self, reason: impl Into<String>) {
        self.record(&reason.into());
        self.token.cancel();
    }

    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    pub fn is_aborted(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Why the run was aborted, if it was.
    pub fn reason(&self) -> Option<String> {
        if !self.is_aborted() {
            return None;
        }
        Some(
            self.state
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .map_or_else(|| "interrupted by signal".to_string(), |(r, _)| r.clone()),
        )
    }

    /// Cleanup time left: unlimited before an abort, what remains of
    /// [`CLEANUP_BUDGET`] after one.
    pub fn cleanup_budget(&self) -> Option<Duration> {
        if !self.is_aborted() {
            return None;
        }
        let since = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(Duration::ZERO, |(_, at)| at.elapsed());
        Some(CLEANUP_BUDGET.saturating_sub(since))
    }

    /// Run a cleanup future within the budget; `None` if it ran out.
    pub async fn within_budget<F: std::future::Future>(&self, fut: F) -> Option<F::Output> {
        match self.cleanup_budget() {
            None => Some(fut.await),
            Some(left) => tokio::time::timeout(left, fut).await.ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn first_reason_wins_and_budget_shrinks() {
        let a = Abort::new(CancellationToken::new());
        assert_eq!(a.reason(), None);
        assert_eq!(a.cleanup_budget(), None);
        a.abort("maximum drill duration 1s reached");
        a.abort("second");
        assert_eq!(
            a.reason().as_deref(),
            Some("maximum drill duration 1s reached")
        );
        assert!(a.cleanup_budget().unwrap() <= CLEANUP_BUDGET);
        let slow = a.within_budget(async { 1 }).await;
        assert_eq!(slow, Some(1));
    }

    #[tokio::test]
    async fn outside_cancellation_reads_as_a_signal() {
        let token = CancellationToken::new();
        let a = Abort::new(token.clone());
        token.cancel();
        tokio::task::yield_now().await;
        assert_eq!(a.reason().as_deref(), Some("interrupted by signal"));
    }
}
