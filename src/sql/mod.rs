//! SQL validation shared by every database kind (self-managed `PostgreSQL`
//! now, RDS later): connection settings that never hold a password in a
//! file, the custom check model (`query` + `expect`), and the baseline of
//! per-table row counts and content checksums captured at backup time and
//! compared after the restore.
//!
//! An RDS kind calls [`validate`] with the restored endpoint's
//! [`ConnSpec`]; when the endpoint cannot be reached every check comes back
//! [`firedrill_core::CheckStatus::NotVerified`] with the reason, never passed.

mod baseline;
mod check;
mod conn;
mod options;

pub use baseline::{Baseline, TableBaseline, capture, list_user_tables, validate, validate_with};
pub use check::{Expect, SqlCheck, evaluate, first_value};
pub use conn::{ConnSpec, Password, Secret, SqlError, TableRef, pg_message, quote_ident};
pub use options::{RawCheck, checks, env_var_name, password_env};
