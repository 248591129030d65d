//! Typed events the runner emits; reporters turn them into output.

use std::path::PathBuf;

use crate::report::{Report, Stage, StageRecord, TargetReport};

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
    /// The run is stopping early (abort condition, signal, max duration).
    Aborting {
        reason: String,
    },
    RunFinished {
        report: Box<Report>,
        run_dir: PathBuf,
    },
}
