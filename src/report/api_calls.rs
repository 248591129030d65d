//! The one line every format shows about a run's API traffic: per service,
//! the requests sent, how many were retries and how many were throttled,
//! e.g. `s3 412 requests (37 retried, 35 throttled), ec2 98 requests (…)`.

use std::collections::BTreeMap;

use firedrill_core::{ApiCallStats, Service};

/// The line, services in the usual order (s3, ec2, rds, sts, then any
/// other name a newer report holds); `None` when the report has no counts.
pub(crate) fn line(calls: &BTreeMap<String, ApiCallStats>) -> Option<String> {
    if calls.is_empty() {
        return None;
    }
    let rank = |name: &str| {
        Service::ALL
            .iter()
            .position(|s| s.as_str() == name)
            .unwrap_or(Service::ALL.len())
    };
    let mut services: Vec<(&String, &ApiCallStats)> = calls.iter().collect();
    services.sort_by_key(|(name, _)| (rank(name), name.as_str()));
    let parts: Vec<String> = services
        .iter()
        .map(|(name, stats)| format!("{name} {}", stats.describe()))
        .collect();
    Some(parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64, retries: u64, throttled: u64) -> ApiCallStats {
        ApiCallStats {
            requests,
            retries,
            throttled,
            ..ApiCallStats::default()
        }
    }

    #[test]
    fn services_in_the_usual_order() {
        let calls = BTreeMap::from([
            ("rds".to_string(), stats(40, 3, 3)),
            ("s3".to_string(), stats(412, 37, 35)),
            ("ec2".to_string(), stats(98, 0, 0)),
            ("kms".to_string(), stats(1, 0, 0)),
        ]);
        assert_eq!(
            line(&calls).unwrap(),
            "s3 412 requests (37 retried, 35 throttled), ec2 98 requests (0 retried, 0 throttled), \
             rds 40 requests (3 retried, 3 throttled), kms 1 request (0 retried, 0 throttled)"
        );
        assert_eq!(line(&BTreeMap::new()), None);
    }

    /// The fixed report, with the counts of a drill that rode out throttling.
    fn throttled_report() -> crate::report::Report {
        let mut r = crate::report::fixture::report();
        r.api_calls = BTreeMap::from([
            ("s3".to_string(), stats(412, 37, 35)),
            ("ec2".to_string(), stats(98, 4, 3)),
        ]);
        r
    }

    fn render(f: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> String {
        let mut out = Vec::new();
        f(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The lines of `text` that mention the API counts, with `context`
    /// lines before and after.
    fn around(text: &str, needle: &str, context: usize) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"));
        lines[at.saturating_sub(context)..(at + context + 1).min(lines.len())].join("\n")
    }

    /// One top-level field of a `report.json`, pretty-printed.
    fn json_field(text: &str, field: &str) -> String {
        let value: serde_json::Value = serde_json::from_str(text).unwrap();
        serde_json::to_string_pretty(&value[field]).unwrap()
    }

    #[test]
    fn every_format_shows_the_counts() {
        use crate::report::{html, json, markdown, terminal};
        let r = throttled_report();
        let excerpts = [
            (
                "terminal",
                around(&render(|o| terminal::write(&r, o)), "api: ", 1),
            ),
            (
                "markdown",
                around(&render(|o| markdown::write(&r, &[], o)), "API calls", 2),
            ),
            (
                "html",
                around(&render(|o| html::write(&r, &[], o)), "api-calls", 1),
            ),
            (
                "json",
                json_field(&render(|o| json::write(&r, o)), "api_calls"),
            ),
        ];
        let text: Vec<String> = excerpts
            .iter()
            .map(|(format, excerpt)| format!("--- {format}\n{excerpt}"))
            .collect();
        insta::assert_snapshot!(text.join("\n"));
    }

    #[test]
    fn counts_round_trip_through_json_and_are_absent_when_none() {
        use crate::report::json;
        let r = throttled_report();
        let back: crate::report::Report =
            serde_json::from_str(&render(|o| json::write(&r, o))).unwrap();
        assert_eq!(back.api_calls, r.api_calls);
        let plain = render(|o| json::write(&crate::report::fixture::report(), o));
        assert!(!plain.contains("api_calls"), "an empty map is left out");
    }
}
