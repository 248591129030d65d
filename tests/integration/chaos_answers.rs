//! The answers of the chaos proxy: which AWS service a request addresses,
//! and what that service answers when it throttles or fails internally.
//!
//! - S3: HTTP 503 `SlowDown` (the head only for a `HEAD`, as S3 sends it);
//! - EC2: HTTP 503 `RequestLimitExceeded` in EC2's `<Response><Errors>`;
//! - RDS and STS: HTTP 400 `Throttling` in the query protocol's
//!   `<ErrorResponse>`.

/// The AWS service a request addresses: the `SigV4` credential scope
/// (`Credential=<key>/<date>/<region>/<service>/aws4_request`), else the API
/// version of a query request, else S3 (whose presigned and anonymous
/// requests carry neither).
pub(crate) fn service_of(authorization: Option<&str>, body: &[u8]) -> String {
    let scoped = authorization
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split([',', ' ']).next())
        .and_then(|scope| scope.split('/').nth(3))
        .filter(|s| !s.is_empty());
    if let Some(service) = scoped {
        return service.to_string();
    }
    let body = String::from_utf8_lossy(body);
    let version = body
        .split('&')
        .find_map(|pair| pair.strip_prefix("Version="))
        .unwrap_or_default();
    match version {
        "2016-11-15" => "ec2",
        "2014-10-31" => "rds",
        "2011-06-15" => "sts",
        _ => "s3",
    }
    .to_string()
}

/// The answer `service` gives a request it throttles.
pub(crate) fn throttle_response(service: &str, method: &str, n: usize) -> Vec<u8> {
    let id = format!("chaos-{n}");
    match service {
        "ec2" => response(
            503,
            method,
            &format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>{id}</RequestID></Response>"
            ),
        ),
        "rds" | "sts" => response(
            400,
            method,
            &format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"
            ),
        ),
        _ => s3_error(
            503,
            method,
            "SlowDown",
            "Please reduce your request rate.",
            &id,
        ),
    }
}

/// The answer `service` gives when it fails internally.
pub(crate) fn internal_error_response(service: &str, method: &str, n: usize) -> Vec<u8> {
    let id = format!("chaos-{n}");
    match service {
        "ec2" => response(
            500,
            method,
            &format!(
                "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has occurred.</Message></Error></Errors><RequestID>{id}</RequestID></Response>"
            ),
        ),
        "rds" | "sts" => response(
            500,
            method,
            &format!(
                "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>An internal error has occurred.</Message></Error><RequestId>{id}</RequestId></ErrorResponse>"
            ),
        ),
        _ => s3_error(
            500,
            method,
            "InternalError",
            "We encountered an internal error. Please try again.",
            &id,
        ),
    }
}

fn s3_error(status: u16, method: &str, code: &str, message: &str, id: &str) -> Vec<u8> {
    response(
        status,
        method,
        &format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message><RequestId>{id}</RequestId><HostId>chaos</HostId></Error>"
        ),
    )
}

/// An XML error response; a `HEAD` gets the head only, as from AWS (a body
/// would be read as the start of the next response on the connection).
fn response(status: u16, method: &str, body: &str) -> Vec<u8> {
    let reason = match status {
        400 => "Bad Request",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
    let body = if method.eq_ignore_ascii_case("HEAD") {
        ""
    } else {
        body
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: text/xml\r\nx-amz-request-id: chaos-proxy\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_read_from_the_credential_scope_or_the_api_version() {
        let auth = "AWS4-HMAC-SHA256 Credential=test/20260301/us-east-1/rds/aws4_request, SignedHeaders=host, Signature=00";
        assert_eq!(service_of(Some(auth), b""), "rds");
        assert_eq!(
            service_of(None, b"Action=DescribeVolumes&Version=2016-11-15"),
            "ec2"
        );
        assert_eq!(service_of(None, b""), "s3");
    }

    #[test]
    fn each_service_throttles_in_its_own_words() {
        let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
        let ec2 = text(throttle_response("ec2", "POST", 7));
        assert!(ec2.starts_with("HTTP/1.1 503 "), "{ec2}");
        assert!(ec2.contains(
            "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
        ));
        assert!(ec2.contains("<RequestID>chaos-7</RequestID>"));
        let rds = text(throttle_response("rds", "POST", 1));
        assert!(rds.starts_with("HTTP/1.1 400 "), "{rds}");
        assert!(rds.contains(
            "<Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>"
        ));
        let s3 = text(throttle_response("s3", "GET", 2));
        assert!(s3.starts_with("HTTP/1.1 503 ") && s3.contains("<Code>SlowDown</Code>"));
        let head = text(throttle_response("s3", "HEAD", 3));
        assert!(head.ends_with("content-length: 0\r\n\r\n"), "{head}");
    }
}
