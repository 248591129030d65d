//! Recovery in dependency order: each target publishes whether it was
//! restored and validated; a target's restore waits until every target it
//! depends on has, and is skipped with the reason when one of them failed.
//!
//! Targets take their concurrency permits level by level (see
//! [`launch_order`]), so a waiting target only ever waits for targets that
//! already hold a permit: no deadlock, whatever `max_concurrency` is.

use std::sync::Arc;

use firedrill_core::timing::Moment;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::targets::Restored;

/// Where one target's recovery stands, as its dependants see it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Recovery {
    Pending,
    /// Restored and validated at this moment; what it offers gates.
    Recovered(Moment, Arc<Restored>),
    /// Will not be recovered in this run, and why.
    Failed(String),
}

/// Why a target's restore may not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Blocked {
    /// A dependency was not recovered: "`orders-db` did not recover (validate failed)".
    Dependency {
        name: String,
        why: String,
    },
    Cancelled,
}

impl Blocked {
    pub fn reason(&self) -> String {
        match self {
            Blocked::Dependency { name, why } => {
                format!("dependency `{name}` was not recovered ({why})")
            }
            Blocked::Cancelled => "the drill was aborted".to_string(),
        }
    }
}

/// The recovery state of every target of a run.
pub(crate) struct Board {
    names: Vec<String>,
    deps: Vec<Vec<usize>>,
    states: Vec<watch::Sender<Recovery>>,
    /// The earliest fault of the run, where the application RTO starts.
    first_fault: std::sync::Mutex<Option<Moment>>,
}

impl Board {
    pub fn new(names: Vec<String>, deps: Vec<Vec<usize>>) -> Self {
        let states = names
            .iter()
            .map(|_| watch::Sender::new(Recovery::Pending))
            .collect();
        Self {
            names,
            deps,
            states,
            first_fault: std::sync::Mutex::new(None),
        }
    }

    /// A fault was injected at `at`.
    pub fn fault_injected(&self, at: Moment) {
        let mut first = self
            .first_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none_or(|f| f.since(at) > std::time::Duration::ZERO) {
            *first = Some(at);
        }
    }

    /// The earliest fault of the run, if any.
    pub fn first_fault(&self) -> Option<Moment> {
        *self
            .first_fault
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reports target `index` as not recovered when dropped before it was
    /// (a drill that crashed must not leave its dependants waiting).
    pub fn guard(&self, index: usize) -> FailOnDrop<'_> {
        FailOnDrop { board: self, index }
    }

    /// Target `index` was restored and validated.
    pub fn recovered(&self, index: usize, at: Moment, restored: Restored) {
        self.states[index].send_replace(Recovery::Recovered(at, Arc::new(restored)));
    }

    /// How many targets the run has.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// The index of a target by name.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Every target recovered so far, by name.
    pub fn restored(&self) -> crate::gates::RestoredMap {
        self.states
            .iter()
            .zip(&self.names)
            .filter_map(|(s, n)| match &*s.borrow() {
                Recovery::Recovered(_, r) => Some((n.clone(), r.clone())),
                _ => None,
            })
            .collect()
    }

    /// Target `index` ended without being recovered; a no-op once it was.
    pub fn failed(&self, index: usize, why: &str) {
        self.states[index].send_if_modified(|s| {
            if *s == Recovery::Pending {
                *s = Recovery::Failed(why.to_string());
                true
            } else {
                false
            }
        });
    }

    /// Whether target `index` waits for any other.
    pub fn has_dependencies(&self, index: usize) -> bool {
        !self.deps[index].is_empty()
    }

    /// Wait until every dependency of target `index` is recovered; returns
    /// the moment the last one was, or why the restore must not start.
    pub async fn wait(
        &self,
        index: usize,
        cancel: &CancellationToken,
    ) -> Result<Option<Moment>, Blocked> {
        self.wait_all(&self.deps[index], cancel).await
    }

    /// Wait until every one of `targets` is recovered.
    pub async fn wait_all(
        &self,
        targets: &[usize],
        cancel: &CancellationToken,
    ) -> Result<Option<Moment>, Blocked> {
        let mut last: Option<Moment> = None;
        for &d in targets {
            let mut rx = self.states[d].subscribe();
            let state = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(Blocked::Cancelled),
                s = rx.wait_for(|s| *s != Recovery::Pending) => s.map(|s| s.clone()),
            };
            match state {
                Ok(Recovery::Recovered(at, _)) => {
                    if last.is_none_or(|l| at.since(l) > std::time::Duration::ZERO) {
                        last = Some(at);
                    }
                }
                Ok(Recovery::Failed(why)) => {
                    return Err(Blocked::Dependency {
                        name: self.names[d].clone(),
                        why,
                    });
                }
                // The sender lives as long as the board; a closed channel
                // means the run is being torn down.
                Ok(Recovery::Pending) | Err(_) => return Err(Blocked::Cancelled),
            }
        }
        Ok(last)
    }
}

/// See [`Board::guard`].
pub(crate) struct FailOnDrop<'a> {
    board: &'a Board,
    index: usize,
}

impl Drop for FailOnDrop<'_> {
    fn drop(&mut self) {
        self.board
            .failed(self.index, "its drill ended unexpectedly");
    }
}

/// The order in which targets take their concurrency permits: level by
/// level, scenario order inside a level.
pub(crate) fn launch_order(levels: &[Vec<usize>]) -> Vec<usize> {
    levels.iter().flatten().copied().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use firedrill_core::timing::Clock;

    #[test]
    fn launch_order_is_level_by_level() {
        assert_eq!(launch_order(&[vec![2], vec![0, 3], vec![1]]), [2, 0, 3, 1]);
    }

    #[tokio::test]
    async fn a_failed_dependency_blocks_with_its_reason() {
        let board = Board::new(
            vec!["db".into(), "cache".into(), "app".into()],
            vec![vec![], vec![], vec![0, 1]],
        );
        let cancel = CancellationToken::new();
        let clock = Clock::system();
        board.recovered(0, clock.now(), Restored::default());
        board.failed(1, "restore failed");
        // A later failure report does not overwrite a recovery.
        board.failed(0, "cleanup failed");
        let got = board.wait(2, &cancel).await;
        assert_eq!(
            got,
            Err(Blocked::Dependency {
                name: "cache".into(),
                why: "restore failed".into()
            })
        );
        assert_eq!(
            got.unwrap_err().reason(),
            "dependency `cache` was not recovered (restore failed)"
        );
    }

    #[tokio::test]
    async fn waiting_ends_when_the_last_dependency_recovers_or_on_abort() {
        let board = std::sync::Arc::new(Board::new(
            vec!["db".into(), "app".into()],
            vec![vec![], vec![0]],
        ));
        let cancel = CancellationToken::new();
        let clock = Clock::system();
        let b = board.clone();
        let at = clock.now();
        let waiter = tokio::spawn({
            let cancel = cancel.clone();
            async move { b.wait(1, &cancel).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        board.recovered(0, at, Restored::default());
        assert_eq!(waiter.await.unwrap(), Ok(Some(at)));

        let board = Board::new(vec!["db".into(), "app".into()], vec![vec![], vec![0]]);
        cancel.cancel();
        assert_eq!(board.wait(1, &cancel).await, Err(Blocked::Cancelled));
    }
}
