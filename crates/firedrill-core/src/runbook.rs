//! One step of a recovery runbook (`firedrill runbook`): a command a person
//! runs on the bad day, with the drill stage whose measured durations tell
//! how long it takes.

use crate::stage::Stage;

crate::named_enum! {
    /// The program a runbook step runs.
    pub enum Tool {
        Aws = "aws",
        Psql = "psql",
        PgRestore = "pg_restore",
        Shell = "sh",
    }
}

/// One recovery step of a target, with the real identifiers filled in.
/// Shell variables (`$SNAPSHOT_ID`) carry a value one step finds into the
/// next; the step that sets one says so in `sets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunbookStep {
    /// What the step does, for people: "find the newest completed snapshot".
    pub title: String,
    pub tool: Tool,
    /// The command, ready to paste into a POSIX shell.
    pub command: String,
    /// The drill stage this step matches, for the expected duration from
    /// the history; `None` for quick look-ups no drill times.
    pub stage: Option<Stage>,
    /// The shell variable this step's command assigns, if any.
    pub sets: Option<&'static str>,
}

impl RunbookStep {
    pub fn new(title: impl Into<String>, tool: Tool, command: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            tool,
            command: command.into(),
            stage: None,
            sets: None,
        }
    }

    /// The drill stage whose durations this step takes.
    #[must_use]
    pub fn timed(mut self, stage: Stage) -> Self {
        self.stage = Some(stage);
        self
    }

    /// The shell variable the command assigns.
    #[must_use]
    pub fn setting(mut self, var: &'static str) -> Self {
        self.sets = Some(var);
        self
    }
}

/// Quote a value for a POSIX shell: bare when it is only safe characters,
/// single-quoted otherwise.
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_cases() {
        assert_eq!(shell_quote("vol-0abc"), "vol-0abc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
