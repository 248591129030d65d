//! What a restored target offers the application checks (gates and hooks):
//! named fields for templates and environment variables, never a secret,
//! and for database kinds the connection to the restored database.

use std::collections::BTreeMap;

use crate::sql::ConnSpec;

/// A restored target, as gates and hooks see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Field name → value (`bucket`, `host`, `database`...). No passwords:
    /// a password reaches a command only through the variable that the
    /// target's `password_env` names.
    pub values: BTreeMap<String, String>,
    /// The restored database, for `sql` gates.
    pub database: Option<ConnSpec>,
}

impl Restored {
    #[must_use]
    pub fn with(mut self, field: &str, value: impl ToString) -> Self {
        self.values.insert(field.to_string(), value.to_string());
        self
    }
}
