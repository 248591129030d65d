//! How hard a run leaned on each AWS API: requests sent, how many of them
//! were retries, and how many the service answered with throttling. The
//! report carries one [`ApiCallStats`] per service, so a drill that passed
//! only after riding out a throttling storm says so.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The API traffic of one service during a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiCallStats {
    /// HTTP requests sent, every attempt counted (a call retried twice is
    /// three requests).
    pub requests: u64,
    /// Requests that were retries: attempts beyond the first of their call.
    pub retries: u64,
    /// Responses that were throttling errors (`SlowDown`, `Throttling`,
    /// `RequestLimitExceeded`, HTTP 429, …), each retried or the call's end.
    pub throttled: u64,
    /// Calls per operation (`DescribeInstances` → 3), retries not
    /// counted: what the run did, for `firedrill iam-policy`'s tests and
    /// for auditors.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub operations: BTreeMap<String, u64>,
}

impl ApiCallStats {
    /// True when the service was never called.
    pub fn is_empty(&self) -> bool {
        self.requests == 0
    }

    /// Calls made: requests that were not retries.
    pub fn calls(&self) -> u64 {
        self.requests.saturating_sub(self.retries)
    }

    /// One line for people: `412 requests (37 retried, 35 throttled)`.
    pub fn describe(&self) -> String {
        format!(
            "{} request{} ({} retried, {} throttled)",
            self.requests,
            if self.requests == 1 { "" } else { "s" },
            self.retries,
            self.throttled
        )
    }
}

impl std::ops::AddAssign for ApiCallStats {
    fn add_assign(&mut self, other: Self) {
        self.requests += other.requests;
        self.retries += other.retries;
        self.throttled += other.throttled;
        for (op, n) in other.operations {
            *self.operations.entry(op).or_default() += n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ApiCallStats;

    #[test]
    fn described_for_people_and_summed() {
        let mut s = ApiCallStats {
            requests: 412,
            retries: 37,
            throttled: 35,
            ..ApiCallStats::default()
        };
        assert_eq!(s.describe(), "412 requests (37 retried, 35 throttled)");
        assert_eq!(s.calls(), 375);
        s += ApiCallStats {
            requests: 1,
            retries: 0,
            throttled: 0,
            ..ApiCallStats::default()
        };
        assert_eq!(s.requests, 413);
        assert!(!s.is_empty());
        assert!(ApiCallStats::default().is_empty());
        assert_eq!(
            ApiCallStats {
                requests: 1,
                ..ApiCallStats::default()
            }
            .describe(),
            "1 request (0 retried, 0 throttled)"
        );
    }

    #[test]
    fn serialized_with_plain_field_names() {
        let s = ApiCallStats {
            requests: 3,
            retries: 2,
            throttled: 1,
            ..ApiCallStats::default()
        };
        let text = serde_json::to_string(&s).unwrap();
        assert_eq!(text, r#"{"requests":3,"retries":2,"throttled":1}"#);
        assert_eq!(serde_json::from_str::<ApiCallStats>(&text).unwrap(), s);
    }
}
