//! Typed events the runner emits and reporters turn into output. They live
//! with the reporters (as the vocabulary they consume), so the runner imports
//! the reports and never the other way round.

use std::path::PathBuf;

use super::{Report, TargetReport};
use firedrill_core::{Stage, StageRecord};

/// Something that happened during a run.
#[derive(Clone, Debug)]
pub enum Event {
    RunStarted {
        run_id: String,
        scenario: String,
        targets: Vec<String>,
        run_dir: PathBuf,
    },
    StageStarted {
        target: String,
        stage: Stage,
    },
    StageFinished {
        target: String,
        record: StageRecord,
    },
    TargetFinished {
        report: Box<TargetReport>,
    },
    /// A gate waits for its targets, then starts its attempts.
    GateStarted {
        gate: String,
    },
    GateFinished {
        report: Box<super::GateReport>,
    },
    /// The run is stopping early (abort condition, signal, max duration).
    Aborting {
        reason: String,
    },
    RunFinished {
        report: Box<Report>,
        run_dir: PathBuf,
    },
}
