//! Never the disaster: `kill -9` at every safety boundary of every kind's
//! damaging fault, then `firedrill reap`.
//!
//! Each case first runs the drill to the end, reads the record sequence of
//! its ledger and derives the crash points from it: the first resource
//! created, the fault's intent and completion, the first resource asked for
//! and created after the fault (the restore), the revert's intent and
//! completion, the first copy retained and the first deletion. The drill
//! then runs again once per point with `FIREDRILL_CRASH_AFTER` (the process
//! SIGKILLs itself right after that record is fsync'd), and `reap` must:
//!
//! - leave the named resource as it was (byte for byte where the kind can
//!   compare), or a retained copy that exists, is tagged and is reported
//!   with its restore command;
//! - leave no other scratch resource, and mark the ledger finished;
//! - have nothing left to do on a second run.
//!
//! Every row of the matrix is printed (`--no-capture` shows them).

mod subjects;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::signals::{ledger_state, ledger_text, run_dir};
use crate::support::Workspace;

/// What a crashed-and-reaped run left, as the ledger and reap tell it.
#[derive(Debug)]
pub(crate) struct Crashed {
    pub point: String,
    pub run_id: String,
    /// Whether a fault was recorded (the named resource may be damaged).
    pub fault_recorded: bool,
    /// Whether reap undid a fault.
    pub reverted: bool,
    /// Retained copies: (resource type, id, restore command).
    pub retained: Vec<(String, String, String)>,
}

/// One kind and fault under test.
pub(crate) trait Subject {
    /// The scenario's name (its reports directory).
    fn name(&self) -> &'static str;
    /// A fresh source for the next run; returns the scenario text.
    async fn fresh(&mut self) -> String;
    /// The named resource is as it was before the run, or a retained copy
    /// exists for it; nothing else of `run_id` exists.
    async fn verify(&mut self, c: &Crashed);
    /// Remove this run's source and any retained copy.
    async fn discard(&mut self, c: &Crashed);
}

/// The safety boundaries of a finished run, as `record:n` crash points.
fn crash_points(ledger: &str) -> Vec<String> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut points = Vec::new();
    let mut after_fault = false;
    let mut restore_intent = false;
    let mut restore_created = false;
    for line in ledger.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let name = v["record"].as_str().unwrap().to_string();
        let n = {
            let c = counts.entry(name.clone()).or_default();
            *c += 1;
            *c
        };
        let first_after_fault = match name.as_str() {
            "intent" if after_fault && !restore_intent => {
                restore_intent = true;
                true
            }
            "created" if after_fault && !restore_created => {
                restore_created = true;
                true
            }
            _ => false,
        };
        let boundary = matches!(
            name.as_str(),
            "created"
                | "fault-intent"
                | "fault-done"
                | "revert-intent"
                | "revert-done"
                | "retained"
                | "deleted"
        ) && n == 1;
        if boundary || first_after_fault {
            points.push(format!("{name}:{n}"));
        }
        if name == "fault-done" {
            after_fault = true;
        }
    }
    points.dedup();
    points
}

/// Read a crashed run's ledger back after reap and check the invariant that
/// holds for every kind.
fn settled(dir: &Path, point: &str, reap: &Value) -> Crashed {
    let (resources, finished) = ledger_state(dir);
    let text = ledger_text(dir);
    assert!(
        finished,
        "after {point}: reap did not finish the run:\n{text}"
    );
    let mut retained = Vec::new();
    for (rtype, id, status) in resources.values() {
        match status.as_str() {
            "deleted" => {}
            "retained" => {
                let restore = text
                    .lines()
                    .map(|l| serde_json::from_str::<Value>(l).unwrap())
                    .find(|v| v["record"] == "retained" && resources_id(&resources, v) == Some(id))
                    .and_then(|v| v["restore"].as_str().map(str::to_string))
                    .unwrap_or_default();
                assert!(
                    !restore.is_empty(),
                    "after {point}: retained {rtype} {id} has no restore command"
                );
                retained.push((rtype.clone(), id.clone(), restore));
            }
            other => panic!("after {point}: {rtype} {id} is `{other}` after reap:\n{text}"),
        }
    }
    let faults = crate::signals::fault_states(dir);
    for (action, status) in faults.values() {
        let undone = status == "revert-done";
        assert!(
            undone || !retained.is_empty(),
            "after {point}: fault `{action}` ends `{status}` with no copy retained:\n{text}"
        );
    }
    let reverted = reap["reverted"]
        .as_array()
        .is_some_and(|r| r.iter().any(|x| x[1]["result"].get("Ok").is_some()));
    Crashed {
        point: point.to_string(),
        run_id: dir.file_name().unwrap().to_string_lossy().into_owned(),
        fault_recorded: !faults.is_empty(),
        reverted,
        retained,
    }
}

fn resources_id<'a>(
    resources: &'a BTreeMap<u64, (String, String, String)>,
    record: &Value,
) -> Option<&'a String> {
    resources.get(&record["id"].as_u64()?).map(|r| &r.1)
}

/// One line of the matrix, for people.
fn outcome(c: &Crashed) -> String {
    let kept: Vec<String> = c
        .retained
        .iter()
        .map(|(t, id, _)| format!("{t} {id}"))
        .collect();
    match (c.fault_recorded, c.reverted, kept.is_empty()) {
        (false, _, _) => "before the fault: reap removed the scratch; source untouched".into(),
        (true, true, true) => "reap undid the fault; source intact; nothing kept".into(),
        (true, false, true) => "fault already undone before the crash; source intact".into(),
        (true, _, false) => format!("kept {}", kept.join(", ")),
    }
}

/// Reap (JSON), then reap again, which must find nothing to do.
fn reap_twice(ws: &Workspace, point: &str) -> Value {
    let first = ws.firedrill().args(["reap", "--json"]).run();
    first.code(0);
    let report: Value = serde_json::from_str(&first.stdout).unwrap();
    let again = ws.firedrill().args(["reap", "--json"]).run();
    again.code(0);
    let again: Value = serde_json::from_str(&again.stdout).unwrap();
    for field in ["reverted", "removed", "failed"] {
        assert!(
            again[field].as_array().is_none_or(Vec::is_empty),
            "after {point}: a second reap still had `{field}`: {again:#}"
        );
    }
    // Retained copies are listed again (by tag), never changed.
    report
}

/// The scenario text with its `name` replaced: the reports directory.
fn named(text: &str, name: &str) -> String {
    let line = text
        .lines()
        .find(|l| l.starts_with("name = "))
        .expect("a scenario names itself");
    text.replacen(line, &format!("name = \"{name}\""), 1)
}

/// The whole matrix for one subject.
pub(crate) async fn run_matrix<S: Subject>(subject: &mut S) {
    let name = subject.name();
    // The clean run gives the record sequence (and must itself be safe).
    let ws = Workspace::new();
    let file = ws.scenario(name, &named(&subject.fresh().await, name));
    let clean = ws.firedrill().args(["run", "--yes"]).arg(&file).run();
    assert!(
        clean.code == 0 || clean.code == 1,
        "the uncrashed run exited {}:\n{}\n{}",
        clean.code,
        clean.stdout,
        clean.stderr
    );
    let dir = run_dir(&ws, name).unwrap();
    let points = crash_points(&ledger_text(&dir));
    assert!(
        points.iter().any(|p| p.starts_with("fault-done")),
        "{name}: the uncrashed run injected no fault: {points:?}"
    );
    let reap = reap_twice(&ws, "the uncrashed run");
    let c = settled(&dir, "the uncrashed run", &reap);
    subject.verify(&c).await;
    subject.discard(&c).await;

    for point in &points {
        let ws = Workspace::new();
        let file = ws.scenario(name, &named(&subject.fresh().await, name));
        let ran = ws
            .firedrill()
            .env("FIREDRILL_CRASH_AFTER", point)
            .args(["run", "--yes"])
            .arg(&file)
            .run();
        assert_eq!(
            ran.code, -1,
            "{name}: the run was to be killed after {point}:\n{}\n{}",
            ran.stdout, ran.stderr
        );
        let dir = run_dir(&ws, name).unwrap();
        let reap = reap_twice(&ws, point);
        let c = settled(&dir, point, &reap);
        subject.verify(&c).await;
        eprintln!("crash matrix | {name} | after {point} | {}", outcome(&c));
        subject.discard(&c).await;
    }
}

#[test]
fn crash_points_follow_the_record_sequence() {
    let ledger = [
        "run",
        "intent",
        "created",
        "intent",
        "created",
        "fault-intent",
        "fault-done",
        "intent",
        "created",
        "revert-intent",
        "revert-done",
        "deleted",
        "deleted",
        "finished",
    ]
    .iter()
    .map(|r| format!("{{\"record\":\"{r}\"}}"))
    .collect::<Vec<_>>()
    .join("\n");
    assert_eq!(
        crash_points(&ledger),
        [
            "created:1",
            "fault-intent:1",
            "fault-done:1",
            "intent:3",
            "created:3",
            "revert-intent:1",
            "revert-done:1",
            "deleted:1"
        ]
    );
}
