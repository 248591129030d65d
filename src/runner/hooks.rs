//! Running hooks: each one a timed stage of its target (or a run-level
//! record for scenario hooks), its output captured, redacted and kept in
//! the run directory for the evidence bundle.

use std::time::Duration;

use firedrill_core::{Finding, Outcome, Stage, StageError, StageRecord};

use super::RunShared;
use super::record::Recorder;
use crate::gates::{command, env};
use crate::report::CapturedOutput;
use crate::scenario::hooks::{HookPoint, HookSpec};
use crate::targets::{Restored, StageContext};

/// One hook run: its record and, when it failed, the finding.
pub(super) struct HookRun {
    pub record: StageRecord,
    pub finding: Option<Finding>,
}

/// Run the hooks of `point` in order; stops at the first that fails.
pub(super) async fn run_point(
    shared: &RunShared,
    hooks: &[HookSpec],
    point: HookPoint,
    owner: &str,
    cx: &StageContext,
    own: Option<&Restored>,
) -> Vec<HookRun> {
    let mut out = Vec::new();
    for (n, h) in hooks.iter().filter(|h| h.when == point).enumerate() {
        let run = one(shared, h, n, owner, cx, own).await;
        let failed = run.finding.is_some();
        out.push(run);
        if failed {
            break;
        }
    }
    out
}

async fn one(
    shared: &RunShared,
    h: &HookSpec,
    n: usize,
    owner: &str,
    cx: &StageContext,
    own: Option<&Restored>,
) -> HookRun {
    // A target's own hooks see its fields even before it is recovered.
    let mut restored = shared.board.restored();
    if let Some(r) = own {
        restored.insert(owner.to_string(), std::sync::Arc::new(r.clone()));
    }
    let secrets = env::secrets(&restored);
    let fill = |t: &crate::scenario::template::Template| {
        t.render(|target, field| env::field(&restored, target, field))
    };
    let inv = command::Invocation {
        program: fill(&h.program),
        args: h.args.iter().map(fill).collect(),
        env: env::variables(&restored)
            .into_iter()
            .chain(h.env.iter().map(|(k, v)| (k.clone(), fill(v))))
            .collect(),
    };
    let watch = cx.clock.start();
    let result = tokio::select! {
        biased;
        () = cx.cancel.cancelled() => Err("the drill was aborted".to_string()),
        r = command::run(&inv, h.timeout, &secrets) => r,
    };
    let timing = watch.finish(Duration::ZERO);
    let what = format!("{} hook `{}`", h.when.as_str(), inv.program);
    let log = format!("hooks/{owner}.{}.{n}.log", h.when.as_str());
    let (outcome, detail, output) = match result {
        Ok(o) if o.exit_code == Some(0) => (Outcome::Passed, format!("{what} exited 0"), Some(o)),
        Ok(o) if o.timed_out => (
            Outcome::TimedOut,
            format!(
                "{what} was killed after {}",
                firedrill_core::timing::human(h.timeout)
            ),
            Some(o),
        ),
        Ok(o) => (
            Outcome::Failed,
            format!(
                "{what} exited {}: {}",
                o.exit_code
                    .map_or("by a signal".to_string(), |c| c.to_string()),
                tail(&o)
            ),
            Some(o),
        ),
        Err(e) => (Outcome::Failed, format!("{what}: {e}"), None),
    };
    let mut record = StageRecord {
        stage: Stage::Hook,
        outcome,
        timing: Some(timing),
        emulated: false,
        detail: detail.clone(),
        request_ids: Vec::new(),
        facts: std::collections::BTreeMap::from([(
            "when".to_string(),
            h.when.as_str().to_string(),
        )]),
    };
    if let Some(o) = &output
        && write_log(cx, &log, o).is_ok()
    {
        record.facts.insert("output".into(), log);
    }
    let finding = (outcome != Outcome::Passed).then(|| Finding::error("hook.failed", detail));
    HookRun { record, finding }
}

/// The last lines a program printed, for the finding.
fn tail(o: &CapturedOutput) -> String {
    let text = if o.stderr.trim().is_empty() {
        &o.stdout
    } else {
        &o.stderr
    };
    let lines: Vec<&str> = text.trim().lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}

fn write_log(cx: &StageContext, rel: &str, o: &CapturedOutput) -> std::io::Result<()> {
    let path = cx.run_dir.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        path,
        format!(
            "exit code: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            o.exit_code, o.stdout, o.stderr
        ),
    )
}

/// Run a target's hooks of `point` as stages of its drill; a failure stops
/// the drill stages after it (`before_cleanup` failures do not stop cleanup).
pub(super) async fn target_point(
    rec: &mut Recorder<'_>,
    shared: &RunShared,
    hooks: &[HookSpec],
    point: HookPoint,
    cx: &StageContext,
    own: &Restored,
) -> bool {
    if !hooks.iter().any(|h| h.when == point) {
        return true;
    }
    let mut ok = true;
    for run in run_point(shared, hooks, point, &cx.target_name, cx, Some(own)).await {
        rec.started(Stage::Hook);
        if let Some(f) = run.finding {
            ok = false;
            rec.note(f);
            rec.stop_at(Stage::Hook, &StageError::Failed(run.record.detail.clone()));
        }
        rec.record(run.record);
    }
    ok
}
