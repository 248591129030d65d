//! Stage timing: wall-clock UTC for reports, monotonic durations for
//! measurements, and the measurement error of every timing.
//!
//! A [`Clock`] is either the system clock (UTC from `SystemTime`, durations
//! from `Instant`) or a virtual one built from smithy's time source and sleep,
//! so that tests can run an hour of polling in microseconds. The adaptive
//! [`poll_until`] is the only way firedrill waits for a resource: the SDK
//! waiters poll every 15-30 s, which would put up to 30 s of error on a
//! measured RTO.

use std::fmt;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use aws_smithy_async::rt::sleep::{AsyncSleep, SharedAsyncSleep, TokioSleep};
use aws_smithy_async::time::{SharedTimeSource, SystemTimeSource};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where time comes from: the system, or a virtual source in tests.
#[derive(Clone, Debug)]
pub struct Clock {
    time: SharedTimeSource,
    sleep: SharedAsyncSleep,
    /// Set for the system clock: durations then come from `Instant`, which
    /// never jumps when NTP adjusts the wall clock mid-drill.
    mono_origin: Option<Instant>,
    utc_origin: SystemTime,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        let time = SharedTimeSource::new(SystemTimeSource::new());
        let utc_origin = time.now();
        Self {
            time,
            sleep: SharedAsyncSleep::new(TokioSleep::new()),
            mono_origin: Some(Instant::now()),
            utc_origin,
        }
    }

    /// A clock driven by an external time source and sleep, e.g. smithy's
    /// `instant_time_and_sleep` in tests. Durations come from the source.
    pub fn virtual_time(time: SharedTimeSource, sleep: SharedAsyncSleep) -> Self {
        let utc_origin = time.now();
        Self {
            time,
            sleep,
            mono_origin: None,
            utc_origin,
        }
    }

    /// The time source, for handing to SDK clients so their retries and
    /// signing share the drill's notion of time.
    pub fn time_source(&self) -> SharedTimeSource {
        self.time.clone()
    }

    /// The sleep implementation, for the same reason.
    pub fn async_sleep(&self) -> SharedAsyncSleep {
        self.sleep.clone()
    }

    /// The current moment.
    pub fn now(&self) -> Moment {
        let now = self.time.now();
        let mono = match self.mono_origin {
            Some(origin) => origin.elapsed(),
            None => now.duration_since(self.utc_origin).unwrap_or_default(),
        };
        Moment {
            utc: OffsetDateTime::from(now),
            mono,
        }
    }

    /// Sleep on this clock.
    pub async fn sleep(&self, duration: Duration) {
        self.sleep.sleep(duration).await;
    }

    /// Start a stopwatch now.
    pub fn start(&self) -> Stopwatch {
        Stopwatch {
            clock: self.clone(),
            start: self.now(),
        }
    }
}

/// A point in time on a [`Clock`]: UTC for people, monotonic for arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moment {
    pub utc: OffsetDateTime,
    mono: Duration,
}

impl Moment {
    /// Time elapsed from `earlier` to `self` (zero if `earlier` is later).
    pub fn since(&self, earlier: Moment) -> Duration {
        self.mono.saturating_sub(earlier.mono)
    }
}

/// Measures one stage.
#[derive(Clone, Debug)]
pub struct Stopwatch {
    clock: Clock,
    start: Moment,
}

impl Stopwatch {
    /// When the stopwatch started.
    pub fn started(&self) -> Moment {
        self.start
    }

    /// Time elapsed so far.
    pub fn elapsed(&self) -> Duration {
        self.clock.now().since(self.start)
    }

    /// Stop now; `error` is how far the true end may lie before the observed
    /// one (the polling interval for waits, the call latency otherwise).
    pub fn finish(&self, error: Duration) -> Timing {
        let end = self.clock.now();
        Timing::between(self.start, end, error)
    }
}

/// The timing of a stage or measurement, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timing {
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    #[serde(rename = "duration_ms", with = "millis")]
    pub duration: Duration,
    /// Upper bound on how much earlier the stage may really have ended.
    #[serde(rename = "error_ms", with = "millis")]
    pub error: Duration,
}

impl Timing {
    /// The timing between two moments.
    pub fn between(start: Moment, end: Moment, error: Duration) -> Self {
        Self {
            started_at: start.utc,
            finished_at: end.utc,
            duration: end.since(start),
            error,
        }
    }
}

/// Durations serialised as whole milliseconds, the unit every report uses.
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }

    /// The same for `Option<Duration>`.
    pub mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        #[allow(clippy::ref_option)]
        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
        }
    }
}

/// Format a duration for people: `1.234s`, `2m 5s`, `350ms`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let secs = d.as_secs();
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        if h > 0 {
            format!("{h}h {m}m {s}s")
        } else {
            format!("{m}m {s}s")
        }
    }
}

/// How the adaptive poller spaces its probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollPolicy {
    /// First interval: fast, since emulators and small restores finish quickly.
    pub initial: Duration,
    /// Interval never grows past this.
    pub cap: Duration,
    /// Give up after this long: the stage times out with a finding.
    pub deadline: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(100),
            cap: Duration::from_secs(30),
            deadline: Duration::from_hours(1),
        }
    }
}

impl PollPolicy {
    /// A policy with the given deadline and default spacing.
    pub fn with_deadline(deadline: Duration) -> Self {
        Self {
            deadline,
            ..Self::default()
        }
    }

    /// The error budget after `elapsed`: max(1 s, 1% of elapsed).
    pub fn budget(&self, elapsed: Duration) -> Duration {
        Duration::from_secs(1).max(elapsed / 100)
    }

    /// The next interval after `previous`, given the stage has run for
    /// `elapsed`: doubling from `initial` toward `cap`, but never longer than
    /// max(1 s, 1% of elapsed), so the error bound stays within that budget.
    pub fn next_interval(&self, previous: Option<Duration>, elapsed: Duration) -> Duration {
        let backoff = previous.map_or(self.initial, |p| p.saturating_mul(2));
        backoff
            .min(self.budget(elapsed))
            .min(self.cap)
            .max(Duration::from_millis(1))
    }
}

/// What one probe saw.
#[derive(Debug)]
pub enum Probe<T> {
    /// The awaited state was reached.
    Ready(T),
    /// Not yet; the observed state, e.g. `creating`.
    Pending(String),
    /// The service asked us to slow down (after the SDK's own retries).
    Throttled,
    /// A state the awaited one can no longer follow (`failed`, `error`):
    /// the wait ends with this reason.
    Failed(String),
}

/// The outcome of a successful wait.
#[derive(Debug)]
pub struct Polled<T> {
    pub value: T,
    /// The moment the ready state was observed.
    pub observed: Moment,
    /// The ready state was reached at most this long before `observed`.
    pub error_bound: Duration,
    /// Number of probes sent.
    pub probes: u32,
    /// Distinct states observed, in order, with the time each was first seen
    /// (relative to the start of the wait).
    pub states: Vec<(Duration, String)>,
    /// Whether throttling widened the error bound past the budget.
    pub throttled: bool,
}

/// Why a wait ended without reaching the awaited state.
#[derive(Debug, thiserror::Error)]
pub enum PollError<E> {
    #[error("stage timed out after {} (last state: {last_state})", human(*.after))]
    TimedOut { after: Duration, last_state: String },
    /// The resource reached a dead end; the reason says which.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Probe(E),
}

/// Probe until `probe` reports [`Probe::Ready`], with adaptive spacing.
///
/// The error bound is the span from the start of the last probe that saw the
/// old state to the end of the probe that saw the new one: the transition
/// happened somewhere inside it.
pub async fn poll_until<T, E, F, Fut>(
    clock: &Clock,
    policy: PollPolicy,
    mut probe: F,
) -> Result<Polled<T>, PollError<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Probe<T>, E>>,
{
    let start = clock.now();
    let mut interval: Option<Duration> = None;
    let mut previous_probe_start: Option<Moment> = None;
    let mut probes = 0u32;
    let mut states: Vec<(Duration, String)> = Vec::new();
    let mut throttled = false;
    let mut last_state = String::from("unknown");
    let mut latency_allowance = Duration::ZERO;
    loop {
        let mut throttled_now = false;
        let probe_start = clock.now();
        probes += 1;
        let seen = probe().await.map_err(PollError::Probe)?;
        let probe_end = clock.now();
        match seen {
            Probe::Ready(value) => {
                let since = previous_probe_start.unwrap_or(probe_start);
                return Ok(Polled {
                    value,
                    observed: probe_end,
                    error_bound: probe_end.since(since),
                    probes,
                    states,
                    throttled,
                });
            }
            Probe::Pending(state) => {
                if states.last().is_none_or(|(_, s)| *s != state) {
                    states.push((probe_start.since(start), state.clone()));
                }
                last_state = state;
                previous_probe_start = Some(probe_start);
                let next = policy.next_interval(interval, probe_end.since(start));
                interval = Some(next);
                // The bound spans this probe, the sleep and the next probe:
                // leave room for two calls' latency inside the budget.
                latency_allowance = probe_end.since(probe_start).saturating_mul(2);
            }
            Probe::Failed(reason) => return Err(PollError::Failed(reason)),
            Probe::Throttled => {
                // Back off past the error budget: being throttled is worse
                // for the drill than a wider, honestly recorded bound.
                throttled = true;
                throttled_now = true;
                let next = interval
                    .unwrap_or(policy.initial)
                    .saturating_mul(2)
                    .min(policy.cap);
                interval = Some(next);
            }
        }
        let elapsed = clock.now().since(start);
        if elapsed >= policy.deadline {
            return Err(PollError::TimedOut {
                after: elapsed,
                last_state,
            });
        }
        let mut wait = interval.unwrap_or(policy.initial);
        if !throttled_now {
            wait = wait
                .min(policy.budget(elapsed).saturating_sub(latency_allowance))
                .max(Duration::from_millis(1));
        }
        let wait = wait.min(policy.deadline.saturating_sub(elapsed));
        clock.sleep(wait).await;
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ±{}", human(self.duration), human(self.error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_async::test_util::instant_time_and_sleep;

    fn virtual_clock() -> Clock {
        let (time, sleep) = instant_time_and_sleep(SystemTime::UNIX_EPOCH);
        Clock::virtual_time(SharedTimeSource::new(time), SharedAsyncSleep::new(sleep))
    }

    #[test]
    fn interval_backs_off_but_stays_within_one_percent_budget() {
        let p = PollPolicy::default();
        assert_eq!(
            p.next_interval(None, Duration::ZERO),
            Duration::from_millis(100)
        );
        assert_eq!(
            p.next_interval(Some(Duration::from_millis(800)), Duration::from_secs(5)),
            Duration::from_secs(1)
        );
        // After 20 minutes the budget is 12 s.
        assert_eq!(
            p.next_interval(Some(Duration::from_secs(16)), Duration::from_mins(20)),
            Duration::from_secs(12)
        );
        assert_eq!(
            p.next_interval(Some(Duration::from_secs(64)), Duration::from_hours(10)),
            Duration::from_secs(30)
        );
    }

    #[tokio::test]
    async fn wait_reports_ready_within_error_bound() {
        let clock = virtual_clock();
        let start = clock.now();
        let ready_at = Duration::from_secs(95);
        let c = clock.clone();
        let polled = poll_until(&clock, PollPolicy::default(), || {
            let now = c.now().since(start);
            async move {
                Ok::<_, std::io::Error>(if now >= ready_at {
                    Probe::Ready(now)
                } else {
                    Probe::Pending("creating".into())
                })
            }
        })
        .await
        .unwrap();
        let measured = polled.observed.since(start);
        assert!(measured >= ready_at);
        assert!(measured.checked_sub(polled.error_bound).unwrap() <= ready_at);
        assert!(
            polled.error_bound <= Duration::from_secs(1),
            "{:?}",
            polled.error_bound
        );
        assert_eq!(
            polled.states,
            vec![(Duration::ZERO, "creating".to_string())]
        );
    }

    #[tokio::test]
    async fn wait_times_out_with_last_state() {
        let clock = virtual_clock();
        let err = poll_until(
            &clock,
            PollPolicy::with_deadline(Duration::from_mins(1)),
            || async { Ok::<Probe<()>, std::io::Error>(Probe::Pending("backing-up".into())) },
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("stage timed out after 1m 0s"), "{text}");
        assert!(text.contains("backing-up"), "{text}");
    }

    #[test]
    fn human_durations_read_naturally() {
        assert_eq!(human(Duration::from_millis(350)), "350ms");
        assert_eq!(human(Duration::from_millis(1234)), "1.2s");
        assert_eq!(human(Duration::from_secs(125)), "2m 5s");
        assert_eq!(human(Duration::from_secs(3725)), "1h 2m 5s");
    }
}
