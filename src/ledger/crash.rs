//! A deterministic `kill -9` for the crash tests: with
//! `FIREDRILL_CRASH_AFTER=<record>[:<n>]` (for example `fault-done` or
//! `created:2`), the process sends itself SIGKILL right after the n-th (by
//! default the first) ledger record of that name is fsync'd. Unset, this
//! does nothing; it exists so that every stage boundary of every kind can
//! be proven to leave nothing behind and lose no data.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::record::Record;

/// The variable naming the crash point.
pub const CRASH_AFTER: &str = "FIREDRILL_CRASH_AFTER";

struct Point {
    record: String,
    nth: usize,
    seen: Mutex<HashMap<&'static str, usize>>,
}

fn point() -> Option<&'static Point> {
    static POINT: OnceLock<Option<Point>> = OnceLock::new();
    POINT
        .get_or_init(|| {
            let spec = std::env::var(CRASH_AFTER).ok()?;
            let (record, nth) = match spec.split_once(':') {
                Some((r, n)) => (r.to_string(), n.parse().unwrap_or(1)),
                None => (spec, 1),
            };
            Some(Point {
                record,
                nth,
                seen: Mutex::new(HashMap::new()),
            })
        })
        .as_ref()
}

/// Called after every fsync'd record.
pub(super) fn after(record: &Record) {
    let Some(p) = point() else {
        return;
    };
    let name = record.name();
    if name != p.record {
        return;
    }
    let mut seen = p
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let n = seen.entry(name).or_insert(0);
    *n += 1;
    if *n == p.nth {
        kill_self();
    }
}

/// SIGKILL, as `kill -9` sends it: no destructor, no flush, no cleanup
/// runs, and no other task gets to make another call.
#[allow(unsafe_code)]
fn kill_self() -> ! {
    // SAFETY: kill(2) with our own pid and a valid signal has no memory
    // effects; SIGKILL cannot be caught, so it does not return.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
    unreachable!("SIGKILL is delivered before kill(2) returns to its own process")
}
