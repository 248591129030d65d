//! One attempt of a `sql` gate: the query on the restored database, judged
//! like the SQL checks of a database target.

use super::Attempt;
use crate::sql::{self, ConnSpec, SqlCheck};
use firedrill_core::CheckStatus;

pub async fn attempt(conn: &ConnSpec, check: &SqlCheck) -> Attempt {
    let client = match conn.connect().await {
        Ok(c) => c,
        Err(e) => return Attempt::failed(conn.redact(&e.to_string())),
    };
    match sql::first_value(&client, &check.query).await {
        Ok(v) => {
            let c = sql::evaluate(check, v.as_deref(), None);
            let detail = format!("{}: {}", conn.endpoint(), c.detail);
            if c.status == CheckStatus::Passed {
                Attempt::passed(detail)
            } else {
                Attempt::failed(detail)
            }
        }
        Err(e) => Attempt::failed(conn.redact(&format!("{}: {e}", conn.endpoint()))),
    }
}
