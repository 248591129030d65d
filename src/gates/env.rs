//! The restored resources as template values and environment variables:
//! `FIREDRILL_TARGET_<NAME>_<FIELD>` (name upper-cased, `-` as `_`). No
//! password is ever one of them: a command reads it from the variable that
//! `FIREDRILL_TARGET_<NAME>_PASSWORD_ENV` names, as the target does.

use super::RestoredMap;

/// A field of a restored target, for templates.
pub fn field(restored: &RestoredMap, target: &str, field: &str) -> Option<String> {
    restored.get(target)?.values.get(field).cloned()
}

/// `FIREDRILL_TARGET_ORDERS_DB_HOST` for target `orders-db`, field `host`.
pub fn variable_name(target: &str, field: &str) -> String {
    let up = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect::<String>()
    };
    format!("FIREDRILL_TARGET_{}_{}", up(target), up(field))
}

/// Every field of every restored target, as environment variables.
pub fn variables(restored: &RestoredMap) -> Vec<(String, String)> {
    restored
        .iter()
        .flat_map(|(name, r)| {
            r.values
                .iter()
                .map(move |(f, v)| (variable_name(name, f), v.clone()))
        })
        .collect()
}

/// The passwords of the restored databases, to redact from any output.
pub fn secrets(restored: &RestoredMap) -> Vec<String> {
    restored
        .values()
        .filter_map(|r| r.database.as_ref()?.password().ok().flatten())
        .map(|s| s.expose().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_are_shell_safe() {
        assert_eq!(
            variable_name("orders-db", "host"),
            "FIREDRILL_TARGET_ORDERS_DB_HOST"
        );
        assert_eq!(
            variable_name("site", "password_env"),
            "FIREDRILL_TARGET_SITE_PASSWORD_ENV"
        );
    }
}
