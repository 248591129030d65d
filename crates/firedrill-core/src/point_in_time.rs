//! Point-in-time recovery points: the time T a point-in-time restore goes
//! back to. Either asked for (`latest` or an RFC 3339 time, checked against
//! the window the service can restore) or chosen at random within a window
//! (seeded, like a random recovery point). Both are pure: the caller gives
//! the clock, the restorable window and the seed.

use std::time::Duration;

use time::OffsetDateTime;

use crate::recovery::{days, mix, rfc3339};

/// Why a requested restore time cannot be restored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreTimeError {
    #[error(
        "`restore_time` {} is in the future (now {}) (hint: use a past time, or `restore_time = \"latest\"`)",
        rfc3339(*t), rfc3339(*now)
    )]
    Future {
        t: OffsetDateTime,
        now: OffsetDateTime,
    },
    #[error(
        "`restore_time` {} is before the earliest restorable time {} of {resource} (hint: the backup retention period ends there; choose a later time)",
        rfc3339(*t), rfc3339(*earliest)
    )]
    BeforeEarliest {
        t: OffsetDateTime,
        earliest: OffsetDateTime,
        resource: String,
    },
    #[error(
        "`restore_time` {} is after the latest restorable time {} of {resource} (hint: the transaction logs are not there yet; choose an earlier time, or `restore_time = \"latest\"`)",
        rfc3339(*t), rfc3339(*latest)
    )]
    AfterLatest {
        t: OffsetDateTime,
        latest: OffsetDateTime,
        resource: String,
    },
    #[error(
        "{resource} has nothing restorable within the last {} (the oldest version is from {}) (hint: check that versioning was on, or widen `window`)",
        days(*window), rfc3339(*oldest)
    )]
    EmptyWindow {
        window: Duration,
        oldest: OffsetDateTime,
        resource: String,
    },
}

/// The restorable window of a resource, as far as the service reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restorable {
    pub earliest: Option<OffsetDateTime>,
    pub latest: Option<OffsetDateTime>,
}

/// The time T a requested restore goes back to: `None` asks for the latest
/// restorable time (`now` when the service does not report it); a given
/// time must be past and within the restorable window where it is known.
pub fn restore_time(
    requested: Option<OffsetDateTime>,
    window: Restorable,
    now: OffsetDateTime,
    resource: &str,
) -> Result<OffsetDateTime, RestoreTimeError> {
    let Some(t) = requested else {
        return Ok(window.latest.unwrap_or(now).min(now));
    };
    if t > now {
        return Err(RestoreTimeError::Future { t, now });
    }
    if let Some(earliest) = window.earliest.filter(|e| t < *e) {
        return Err(RestoreTimeError::BeforeEarliest {
            t,
            earliest,
            resource: resource.to_string(),
        });
    }
    if let Some(latest) = window.latest.filter(|l| t > *l) {
        return Err(RestoreTimeError::AfterLatest {
            t,
            latest,
            resource: resource.to_string(),
        });
    }
    Ok(t)
}

/// The versions a random time is chosen among: when the oldest was
/// written, and when the newest change (a write or a delete) was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Versions {
    pub oldest: OffsetDateTime,
    pub newest: OffsetDateTime,
}

/// A seeded random T in whole seconds between max(now − window, the oldest
/// version) and the newest change, both ends included. Every time after
/// the newest change holds the same contents as that change, so ending
/// there loses no state and makes the choice independent of the clock:
/// the same seed and listing give the same T, run after run (until the
/// window's start passes the oldest version).
pub fn random_time(
    window: Duration,
    versions: Versions,
    now: OffsetDateTime,
    seed: u64,
    resource: &str,
) -> Result<OffsetDateTime, RestoreTimeError> {
    let now_s = now.unix_timestamp();
    let from = (now - window).max(versions.oldest);
    // Round the lower end up: a time before `oldest` holds nothing.
    let from_s = from.unix_timestamp() + i64::from(from.nanosecond() > 0);
    if from_s > now_s {
        return Err(RestoreTimeError::EmptyWindow {
            window,
            oldest: versions.oldest,
            resource: resource.to_string(),
        });
    }
    let to_s = versions.newest.unix_timestamp().clamp(from_s, now_s);
    let span = u64::try_from(to_s - from_s).unwrap_or(0) + 1;
    let offset = i64::try_from(mix(seed) % span).unwrap_or(0);
    // Between `from` and `now`, both representable: the fallback is unreachable.
    Ok(OffsetDateTime::from_unix_timestamp(from_s + offset).unwrap_or(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-02-01 12:00:00 UTC);

    #[test]
    fn requested_times_are_checked_against_the_restorable_window() {
        let known = Restorable {
            earliest: Some(datetime!(2026-01-25 00:00:00 UTC)),
            latest: Some(datetime!(2026-02-01 11:55:00 UTC)),
        };
        let unknown = Restorable::default();
        let cases: &[(
            Option<OffsetDateTime>,
            Restorable,
            Result<OffsetDateTime, &str>,
        )] = &[
            (None, known, Ok(datetime!(2026-02-01 11:55:00 UTC))),
            (None, unknown, Ok(NOW)),
            (
                Some(datetime!(2026-01-30 00:00:00 UTC)),
                known,
                Ok(datetime!(2026-01-30 00:00:00 UTC)),
            ),
            (
                Some(known.earliest.unwrap()),
                known,
                Ok(known.earliest.unwrap()),
            ),
            (
                Some(datetime!(2026-02-02 00:00:00 UTC)),
                known,
                Err("in the future"),
            ),
            (
                Some(datetime!(2026-02-02 00:00:00 UTC)),
                unknown,
                Err("in the future"),
            ),
            (
                Some(datetime!(2026-01-01 00:00:00 UTC)),
                known,
                Err("before the earliest"),
            ),
            (
                Some(datetime!(2026-01-01 00:00:00 UTC)),
                unknown,
                Ok(datetime!(2026-01-01 00:00:00 UTC)),
            ),
            (
                Some(datetime!(2026-02-01 11:58:00 UTC)),
                known,
                Err("after the latest"),
            ),
        ];
        for (requested, window, want) in cases {
            let got = restore_time(*requested, *window, NOW, "rds:cluster:orders");
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(*w, g, "{requested:?}"),
                (Err(w), Err(e)) => {
                    let msg = e.to_string();
                    assert!(msg.contains(w), "{requested:?}: {msg}");
                    assert!(msg.contains("hint:"), "{msg}");
                }
                (w, g) => panic!("{requested:?}: want {w:?}, got {g:?}"),
            }
        }
    }

    #[test]
    fn random_times_fall_in_the_window_in_whole_seconds_and_repeat_by_seed() {
        let week = Duration::from_hours(7 * 24);
        let v = |oldest, newest| Versions { oldest, newest };
        let an_hour_ago = NOW - Duration::from_hours(1);
        // (versions, first and last possible T)
        let cases: &[(Versions, OffsetDateTime, OffsetDateTime)] = &[
            // the window starts at now − 7d, the newest change ends it
            (
                v(datetime!(2025-01-01 00:00:00 UTC), an_hour_ago),
                NOW - week,
                an_hour_ago,
            ),
            // the oldest version starts it, rounded up to its next second
            (
                v(datetime!(2026-02-01 11:59:50.25 UTC), NOW),
                datetime!(2026-02-01 11:59:51 UTC),
                NOW,
            ),
            // nothing changed within the window: its start
            (
                v(
                    datetime!(2025-01-01 00:00:00 UTC),
                    datetime!(2025-06-01 00:00:00 UTC),
                ),
                NOW - week,
                NOW - week,
            ),
            // only now itself
            (v(NOW, NOW), NOW, NOW),
        ];
        for (versions, from, to) in cases {
            for seed in 0..50 {
                let t = random_time(week, *versions, NOW, seed, "s3:b").unwrap();
                assert!(t >= *from && t <= *to, "{versions:?} seed {seed}: {t}");
                assert_eq!(t.nanosecond(), 0);
                assert_eq!(t, random_time(week, *versions, NOW, seed, "s3:b").unwrap());
            }
        }
        let young = v(an_hour_ago, NOW - Duration::from_mins(5));
        let ts: std::collections::BTreeSet<OffsetDateTime> = (0..20)
            .map(|s| random_time(week, young, NOW, s, "s3:b").unwrap())
            .collect();
        assert!(ts.len() > 15, "seeds should spread: {ts:?}");
        // A later clock does not move T while the oldest version bounds it.
        for seed in 0..20 {
            assert_eq!(
                random_time(week, young, NOW, seed, "s3:b"),
                random_time(week, young, NOW + Duration::from_hours(2), seed, "s3:b")
            );
        }
    }

    #[test]
    fn a_window_with_nothing_restorable_is_an_error() {
        let later = datetime!(2026-02-01 12:00:00.5 UTC);
        let e = random_time(
            Duration::from_hours(24),
            Versions {
                oldest: later,
                newest: later,
            },
            NOW,
            1,
            "s3:bucket:b",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("nothing restorable within the last 1d"),
            "{e}"
        );
    }
}
