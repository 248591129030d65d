//! Pushing a run's metrics to a Prometheus Pushgateway, grouped by
//! `job="firedrill"` and the scenario: a PUT replaces the scenario's group,
//! so a target dropped from the scenario disappears from it too.

use bytes::Bytes;
use hyper::Method;

use super::deliver::{Delivered, Undelivered, deliver};
use super::http::{Http, Request};
use crate::report::prometheus::CONTENT_TYPE;
use crate::scenario::notify::DeliveryPolicy;

/// The group URL of a scenario. Scenario names are letters, digits, `-`
/// and `_`, so they need no escaping in a path.
pub fn group_url(base: &str, scenario: &str) -> String {
    format!(
        "{}/metrics/job/firedrill/scenario/{scenario}",
        base.trim_end_matches('/')
    )
}

/// PUT the metrics text to the scenario's group.
pub async fn push(
    http: &Http,
    base: &str,
    scenario: &str,
    metrics: Vec<u8>,
) -> Result<Delivered, Undelivered> {
    let req = Request {
        method: Method::PUT,
        url: group_url(base, scenario),
        headers: vec![("content-type", CONTENT_TYPE.to_string())],
        body: Bytes::from(metrics),
    };
    let policy = DeliveryPolicy {
        attempts: 3,
        ..DeliveryPolicy::default()
    };
    deliver(http, &req, &policy).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn group_url_has_job_and_scenario() {
        assert_eq!(
            super::group_url("http://127.0.0.1:9091/", "orders-drill"),
            "http://127.0.0.1:9091/metrics/job/firedrill/scenario/orders-drill"
        );
    }
}
