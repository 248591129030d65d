//! Running a program for a `command` gate or a hook: the restored resources
//! in its environment, its output captured (bounded, secrets redacted), and
//! killed when its time is up.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use crate::report::CapturedOutput;

/// Most bytes kept of each of stdout and stderr.
pub const MAX_CAPTURE: usize = 64 * 1024;

/// A program to run, already rendered.
#[derive(Clone, Debug)]
pub struct Invocation {
    pub program: String,
    pub args: Vec<String>,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
}

/// How a run ended: its captured output, or why it never ran.
pub async fn run(
    inv: &Invocation,
    limit: Duration,
    secrets: &[String],
) -> Result<CapturedOutput, String> {
    let mut cmd = tokio::process::Command::new(&inv.program);
    cmd.args(&inv.args)
        .envs(inv.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Its own process group, so that a timeout also ends what it started.
        .process_group(0);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", inv.program))?;
    let pid = child.id();
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let reading = async {
        let (o, e) = tokio::join!(read_bounded(out), read_bounded(err));
        let status = child.wait().await;
        (o, e, status)
    };
    let Ok((stdout, stderr, status)) = tokio::time::timeout(limit, Box::pin(reading)).await else {
        if let Some(pid) = pid {
            kill_group(pid).await;
        }
        return Ok(CapturedOutput {
            exit_code: None,
            timed_out: true,
            stdout: String::new(),
            stderr: format!("killed after {}", firedrill_core::timing::human(limit)),
            truncated: false,
        });
    };
    let status = status.map_err(|e| format!("waiting for `{}`: {e}", inv.program))?;
    let ((stdout, t1), (stderr, t2)) = (stdout, stderr);
    Ok(CapturedOutput {
        exit_code: status.code(),
        timed_out: false,
        stdout: redact(&stdout, secrets),
        stderr: redact(&stderr, secrets),
        truncated: t1 || t2,
    })
}

/// Kill a timed-out program's whole process group.
async fn kill_group(pgid: u32) {
    let _ = tokio::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// Read everything, keep the first [`MAX_CAPTURE`] bytes.
async fn read_bounded<R: AsyncRead + Unpin>(r: Option<R>) -> (String, bool) {
    let Some(mut r) = r else {
        return (String::new(), false);
    };
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 8192];
    let mut truncated = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

/// `text` with every secret (4 characters or more) replaced by `***`.
pub fn redact(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s.as_str(), "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Invocation {
        Invocation {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("GATE_VALUE".into(), "from-env".into())],
        }
    }

    #[tokio::test]
    async fn output_is_captured_bounded_and_redacted() {
        let secrets = vec!["hunter22".to_string()];
        let out = run(
            &sh("echo $GATE_VALUE; echo pw=hunter22 >&2; exit 3"),
            Duration::from_secs(10),
            &secrets,
        )
        .await
        .unwrap();
        assert_eq!(out.exit_code, Some(3));
        assert_eq!(out.stdout, "from-env\n");
        assert_eq!(out.stderr, "pw=***\n");
        let big = run(
            &sh("head -c 200000 /dev/zero | tr '\\0' x"),
            Duration::from_secs(10),
            &[],
        )
        .await
        .unwrap();
        assert_eq!(big.stdout.len(), MAX_CAPTURE);
        assert!(big.truncated);
    }

    #[tokio::test]
    async fn a_hung_program_is_killed_at_its_limit() {
        let started = std::time::Instant::now();
        let out = run(&sh("sleep 30"), Duration::from_millis(300), &[])
            .await
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.exit_code, None);
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = Invocation {
            program: "no-such-program-x".into(),
            args: vec![],
            env: vec![],
        };
        assert!(
            run(&missing, Duration::from_secs(1), &[])
                .await
                .unwrap_err()
                .starts_with("cannot run `no-such-program-x`")
        );
    }
}
