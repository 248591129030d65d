//! The crash-safe journal of scratch resources.
//!
//! Before any create call the intended resource is appended to
//! `<run dir>/ledger.jsonl` and fsync'd; creation, deletion and failed
//! deletions are appended as they happen. A run killed at any point leaves a
//! ledger from which `firedrill reap` finds everything it may have created.
//! Only resources in a ledger (or carrying firedrill's tags) are ever deleted.
//!
//! Faults are journalled the same way: the fault's intent (with the
//! resources holding the pre-fault data, and how to undo it) before its API
//! call, then done, revert intent, revert done or failed. Cleanup and reap
//! read them: what protects a fault that is not undone is never deleted.

mod crash;
mod record;
mod state;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use firedrill_core::{Environment, LedgerError, ScratchResource};
use time::OffsetDateTime;

pub use record::{FaultRecord, Record};
pub use state::{FaultEntry, FaultStatus, LedgerState, Status};

/// File name of the ledger inside a run directory.
pub const LEDGER_FILE: &str = "ledger.jsonl";

/// An open ledger. Cheap to clone; appends are serialised.
#[derive(Clone, Debug)]
pub struct Ledger {
    path: PathBuf,
    inner: Arc<Mutex<Open>>,
}

#[derive(Debug)]
struct Open {
    file: File,
    next_id: u64,
    state: LedgerState,
}

impl Ledger {
    /// Create `<run_dir>/ledger.jsonl` and write the run header.
    pub fn create(
        run_dir: &Path,
        run_id: &str,
        scenario: &str,
        environment: &Environment,
    ) -> Result<Self, LedgerError> {
        let path = run_dir.join(LEDGER_FILE);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|e| LedgerError::io(&path, "create", &e))?;
        let ledger = Self {
            path,
            inner: Arc::new(Mutex::new(Open {
                file,
                next_id: 1,
                state: LedgerState::default(),
            })),
        };
        ledger.append(&Record::Run {
            run_id: run_id.to_string(),
            scenario: scenario.to_string(),
            pid: std::process::id(),
            host: hostname(),
            environment: environment.clone(),
            at: OffsetDateTime::now_utc(),
        })?;
        // Make the new directory entry durable too.
        if let Ok(dir) = File::open(run_dir) {
            let _ = dir.sync_all();
        }
        Ok(ledger)
    }

    /// Reopen an existing ledger for appending (reap).
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let state = LedgerState::load(path)?;
        let file = OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| LedgerError::io(path, "open", &e))?;
        let next_id = state.last_id() + 1;
        Ok(Self {
            path: path.to_path_buf(),
            inner: Arc::new(Mutex::new(Open {
                file,
                next_id,
                state,
            })),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append(&self, record: &Record) -> Result<(), LedgerError> {
        let mut open = self.lock();
        Self::append_locked(&self.path, &mut open, record)
    }

    fn append_locked(path: &Path, open: &mut Open, record: &Record) -> Result<(), LedgerError> {
        let mut line = serde_json::to_string(record).map_err(|e| LedgerError::Io {
            path: path.to_path_buf(),
            op: "encode",
            message: e.to_string(),
        })?;
        line.push('\n');
        open.file
            .write_all(line.as_bytes())
            .map_err(|e| LedgerError::io(path, "append to", &e))?;
        open.file
            .sync_data()
            .map_err(|e| LedgerError::io(path, "fsync", &e))?;
        open.state.apply(record);
        crash::after(record);
        Ok(())
    }

    /// The next id of the one sequence resources and faults share.
    fn next(open: &mut Open) -> u64 {
        let id = open.next_id;
        open.next_id += 1;
        id
    }

    /// Record an intended resource (before creating it); returns its id.
    pub fn intend(&self, resource: ScratchResource) -> Result<u64, LedgerError> {
        let mut open = self.lock();
        let id = Self::next(&mut open);
        Self::append_locked(
            &self.path,
            &mut open,
            &Record::Intent {
                id,
                resource,
                at: OffsetDateTime::now_utc(),
            },
        )?;
        Ok(id)
    }

    pub fn created(&self, id: u64, request_id: Option<&str>) -> Result<(), LedgerError> {
        self.append(&Record::Created {
            id,
            request_id: request_id.map(str::to_string),
            at: OffsetDateTime::now_utc(),
        })
    }

    pub fn deleted(&self, id: u64, by: &str, already_gone: bool) -> Result<(), LedgerError> {
        self.append(&Record::Deleted {
            id,
            by: by.to_string(),
            already_gone,
            at: OffsetDateTime::now_utc(),
        })
    }

    pub fn delete_failed(&self, id: u64, error: &str) -> Result<(), LedgerError> {
        self.append(&Record::DeleteFailed {
            id,
            error: error.to_string(),
            at: OffsetDateTime::now_utc(),
        })
    }

    /// Keep a resource on purpose: it may be the last copy of damaged data.
    pub fn retained(&self, id: u64, why: &str, restore: &str) -> Result<(), LedgerError> {
        self.append(&Record::Retained {
            id,
            why: why.to_string(),
            restore: restore.to_string(),
            at: OffsetDateTime::now_utc(),
        })
    }

    /// Record a fault before its API call; returns its id.
    pub fn fault_intent(&self, fault: FaultRecord) -> Result<u64, LedgerError> {
        let mut open = self.lock();
        let id = Self::next(&mut open);
        Self::append_locked(
            &self.path,
            &mut open,
            &Record::FaultIntent {
                id,
                fault,
                at: OffsetDateTime::now_utc(),
            },
        )?;
        Ok(id)
    }

    pub fn fault_done(&self, id: u64) -> Result<(), LedgerError> {
        self.append(&Record::FaultDone {
            id,
            at: OffsetDateTime::now_utc(),
        })
    }

    /// Record that the undo of fault `id` starts (`by`: `run` or `reap`).
    pub fn revert_intent(&self, id: u64, by: &str) -> Result<(), LedgerError> {
        self.append(&Record::RevertIntent {
            id,
            by: by.to_string(),
            at: OffsetDateTime::now_utc(),
        })
    }

    pub fn revert_done(&self, id: u64, detail: &str) -> Result<(), LedgerError> {
        self.append(&Record::RevertDone {
            id,
            detail: detail.to_string(),
            at: OffsetDateTime::now_utc(),
        })
    }

    pub fn revert_failed(&self, id: u64, error: &str) -> Result<(), LedgerError> {
        self.append(&Record::RevertFailed {
            id,
            error: error.to_string(),
            at: OffsetDateTime::now_utc(),
        })
    }

    /// Mark the run finished (cleanup done or given up).
    pub fn finish(&self) -> Result<(), LedgerError> {
        self.append(&Record::Finished {
            at: OffsetDateTime::now_utc(),
        })
    }

    /// The current state.
    pub fn state(&self) -> LedgerState {
        self.lock().state.clone()
    }
}

/// This host's name, to tell a live run from a dead one.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown".into())
}

pub(crate) fn process_alive(pid: u32) -> bool {
    // A zombie or a recycled pid running something else is not our run.
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("firedrill"))
        && std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|s| !s.split(") ").nth(1).is_some_and(|r| r.starts_with('Z')))
}

/// Every ledger under a reports directory (`<dir>/<scenario>/<run>/ledger.jsonl`).
pub fn find_ledgers(reports_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(scenarios) = std::fs::read_dir(reports_dir) else {
        return out;
    };
    for scenario in scenarios.flatten() {
        let Ok(runs) = std::fs::read_dir(scenario.path()) else {
            continue;
        };
        for run in runs.flatten() {
            let p = run.path().join(LEDGER_FILE);
            if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use firedrill_core::{ResourceType, Service};

    fn res(id: &str) -> ScratchResource {
        ScratchResource {
            kind: "s3-bucket".into(),
            rtype: ResourceType::Bucket,
            id: id.into(),
            region: "us-east-1".into(),
            parent: None,
            target: "t".into(),
            service: Some(Service::S3),
        }
    }

    #[test]
    fn ledger_round_trips_and_reports_pending_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::create(dir.path(), "r1", "s", &Environment::default()).unwrap();
        let a = l.intend(res("a")).unwrap();
        l.created(a, Some("req-1")).unwrap();
        let b = l.intend(res("b")).unwrap();
        let c = l.intend(res("c")).unwrap();
        l.deleted(b, "cleanup", false).unwrap();
        let state = LedgerState::load(l.path()).unwrap();
        assert_eq!(state.run_id, "r1");
        let pending: Vec<u64> = state.pending().iter().map(|(id, _)| *id).collect();
        assert_eq!(pending, vec![c, a]);
        assert!(
            state.is_live(),
            "this test process is alive and named firedrill-*"
        );
    }

    #[test]
    fn torn_last_line_is_ignored_but_corruption_elsewhere_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let l = Ledger::create(dir.path(), "r1", "s", &Environment::default()).unwrap();
        l.intend(res("a")).unwrap();
        let path = l.path().to_path_buf();
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"record\":\"intent\",\"id\":2,\"reso")
            .unwrap();
        let state = LedgerState::load(&path).unwrap();
        assert_eq!(state.pending().len(), 1);
        f.write_all(b"\n{\"record\":\"finished\",\"at\":\"2026-01-01T00:00:00Z\"}\n")
            .unwrap();
        assert!(matches!(
            LedgerState::load(&path),
            Err(LedgerError::Corrupt { line: 3, .. })
        ));
    }
}
