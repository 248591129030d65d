//! A ledger read back: the run header, every scratch resource's latest
//! status, every fault's, and which resources must not be deleted because
//! a fault they protect is not undone.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use firedrill_core::{Environment, LedgerError, ScratchResource};
use serde::Serialize;

use super::record::{FaultRecord, Record};
use super::{hostname, process_alive};

/// Where a resource stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Recorded before the create call; may or may not exist.
    Intended,
    Created,
    Deleted,
    /// The last delete attempt failed.
    DeleteFailed,
    /// Kept on purpose (why, and the command that restores from it).
    Retained {
        why: String,
        restore: String,
    },
}

/// Where a fault stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultStatus {
    /// Recorded before the call: it may or may not have happened.
    Intended,
    Done,
    /// The undo started and did not finish.
    Reverting,
    Reverted {
        detail: String,
    },
    RevertFailed {
        error: String,
    },
}

impl FaultStatus {
    /// Whether the damage is undone, so that its copies may go.
    pub fn is_undone(&self) -> bool {
        matches!(self, FaultStatus::Reverted { .. })
    }
}

/// One fault of the run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultEntry {
    pub fault: FaultRecord,
    pub status: FaultStatus,
}

/// A ledger read back: header plus every resource's and fault's latest status.
#[derive(Clone, Debug, Default)]
pub struct LedgerState {
    pub run_id: String,
    pub scenario: String,
    pub pid: u32,
    pub host: String,
    pub environment: Environment,
    pub finished: bool,
    /// By id, in intent order.
    pub resources: BTreeMap<u64, (ScratchResource, Status)>,
    /// By id, in order.
    pub faults: BTreeMap<u64, FaultEntry>,
}

impl LedgerState {
    pub(super) fn apply(&mut self, record: &Record) {
        match record {
            Record::Run {
                run_id,
                scenario,
                pid,
                host,
                environment,
                ..
            } => {
                self.run_id.clone_from(run_id);
                self.scenario.clone_from(scenario);
                self.pid = *pid;
                self.host.clone_from(host);
                self.environment = environment.clone();
            }
            Record::Intent { id, resource, .. } => {
                self.resources
                    .insert(*id, (resource.clone(), Status::Intended));
            }
            Record::Created { id, .. } => self.set(*id, Status::Created),
            Record::Deleted { id, .. } => self.set(*id, Status::Deleted),
            Record::DeleteFailed { id, .. } => self.set(*id, Status::DeleteFailed),
            Record::Retained {
                id, why, restore, ..
            } => self.set(
                *id,
                Status::Retained {
                    why: why.clone(),
                    restore: restore.clone(),
                },
            ),
            Record::FaultIntent { id, fault, .. } => {
                self.faults.insert(
                    *id,
                    FaultEntry {
                        fault: fault.clone(),
                        status: FaultStatus::Intended,
                    },
                );
            }
            Record::FaultDone { id, .. } => self.set_fault(*id, FaultStatus::Done),
            Record::RevertIntent { id, .. } => self.set_fault(*id, FaultStatus::Reverting),
            Record::RevertDone { id, detail, .. } => self.set_fault(
                *id,
                FaultStatus::Reverted {
                    detail: detail.clone(),
                },
            ),
            Record::RevertFailed { id, error, .. } => self.set_fault(
                *id,
                FaultStatus::RevertFailed {
                    error: error.clone(),
                },
            ),
            Record::Finished { .. } => self.finished = true,
        }
    }

    fn set(&mut self, id: u64, status: Status) {
        if let Some(entry) = self.resources.get_mut(&id) {
            entry.1 = status;
        }
    }

    fn set_fault(&mut self, id: u64, status: FaultStatus) {
        if let Some(entry) = self.faults.get_mut(&id) {
            entry.status = status;
        }
    }

    /// The highest id in use (resources and faults share one sequence).
    pub(super) fn last_id(&self) -> u64 {
        let r = self.resources.keys().next_back().copied().unwrap_or(0);
        let f = self.faults.keys().next_back().copied().unwrap_or(0);
        r.max(f)
    }

    /// Resources neither deleted nor retained, newest first (the delete
    /// order: dependants first). Some may be protected: see [`Self::deletable`].
    pub fn pending(&self) -> Vec<(u64, ScratchResource)> {
        self.resources
            .iter()
            .rev()
            .filter(|(_, (_, s))| !matches!(s, Status::Deleted | Status::Retained { .. }))
            .map(|(id, (r, _))| (*id, r.clone()))
            .collect()
    }

    /// Ids of resources that hold the pre-fault data of a fault not undone:
    /// cleanup and reap must not delete them.
    pub fn protected(&self) -> BTreeSet<u64> {
        self.faults
            .values()
            .filter(|f| !f.status.is_undone())
            .flat_map(|f| f.fault.protects.iter().copied())
            .collect()
    }

    /// Pending resources that may be deleted now, newest first.
    pub fn deletable(&self) -> Vec<(u64, ScratchResource)> {
        let protected = self.protected();
        self.pending()
            .into_iter()
            .filter(|(id, _)| !protected.contains(id))
            .collect()
    }

    /// Faults not undone, in order.
    pub fn open_faults(&self) -> Vec<(u64, FaultEntry)> {
        self.faults
            .iter()
            .filter(|(_, f)| !f.status.is_undone())
            .map(|(id, f)| (*id, f.clone()))
            .collect()
    }

    /// Resources kept on purpose, with why and how to restore from them.
    pub fn retained(&self) -> Vec<(u64, ScratchResource, String, String)> {
        self.resources
            .iter()
            .filter_map(|(id, (r, s))| match s {
                Status::Retained { why, restore } => {
                    Some((*id, r.clone(), why.clone(), restore.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Read a ledger file. A torn last line (crash mid-write) is ignored;
    /// any other bad line is an error.
    pub fn load(path: &Path) -> Result<Self, LedgerError> {
        let file = File::open(path).map_err(|e| LedgerError::io(path, "open", &e))?;
        let mut state = Self::default();
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| LedgerError::io(path, "read", &e))?;
        let last = lines.len().saturating_sub(1);
        for (n, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Record>(line) {
                Ok(r) => state.apply(&r),
                Err(_) if n == last => {}
                Err(e) => {
                    return Err(LedgerError::Corrupt {
                        path: path.to_path_buf(),
                        line: n + 1,
                        message: e.to_string(),
                    });
                }
            }
        }
        Ok(state)
    }

    /// Whether the run that wrote this ledger is still going on this host.
    pub fn is_live(&self) -> bool {
        !self.finished && self.host == hostname() && process_alive(self.pid)
    }
}
