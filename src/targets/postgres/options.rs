//! The `postgres` keys of a `[[targets]]` table, and their validation.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::sql::{ConnSpec, Password, RawCheck, TableRef, password_env};
use firedrill_core::Diagnostic;
use firedrill_core::input::{HumanDuration, Spanned};
use firedrill_core::recovery::{BackupSource, SourceSpec};
use firedrill_core::source_keys::{IdShape, source_spec};
use firedrill_core::validate::{misplaced, one_of};

/// `kind = "postgres"`: a self-managed `PostgreSQL` database.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPostgres {
    /// Server host name or address.
    pub host: Spanned<String>,
    /// Server port (default 5432).
    pub port: Option<Spanned<u16>>,
    /// Role to connect as; it needs to read every table and create databases.
    pub user: Spanned<String>,
    /// The database the drill protects.
    pub database: Spanned<String>,
    /// Name of the environment variable holding the password.
    pub password_env: Option<Spanned<String>>,
    /// Never allowed: passwords do not belong in scenario files.
    #[schemars(skip)]
    pub password: Option<Spanned<toml::Value>>,
    /// libpq `sslmode` (`disable`, `allow`, `prefer`).
    pub sslmode: Option<Spanned<String>>,
    pub backup: RawBackup,
    #[serde(default)]
    pub canary: RawCanary,
    pub fault: Option<RawFault>,
    pub restore: Option<RawRestore>,
    /// Custom SQL checks run on the restored database.
    #[serde(default)]
    pub check: Vec<RawCheck>,
    #[serde(default)]
    pub validate: RawValidate,
}

/// `[targets.backup]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBackup {
    /// S3 bucket (in the scenario's S3 endpoint) receiving the `pg_dump -Fc` file.
    pub bucket: Spanned<String>,
    /// Keep the dump after the drill (default false).
    pub keep: Option<bool>,
    /// `new` (default: a fresh `pg_dump`), `latest`, `random` or the key of
    /// an existing `pg_dump -Fc` object in `bucket`.
    pub source: Option<Spanned<String>>,
    /// For `latest` and `random`: the dumps' key prefix, e.g. `nightly/orders/`.
    pub prefix: Option<Spanned<String>>,
    /// For `latest` and `random`: only dumps written within this long
    /// before the drill, `1d` to `365d`.
    pub window: Option<Spanned<String>>,
    /// For `random`: `unproven` prefers a dump no earlier drill proved.
    pub prefer: Option<Spanned<String>>,
}

/// What an existing dump's id looks like: its S3 key.
pub const DUMP_KEY: IdShape = IdShape {
    what: "dump object key",
    example: "nightly/orders-2026-01-31.dump",
    accepts: |v| v.contains('/') || v.contains('.'),
};

/// Validate where the dump comes from. An existing dump is older than the
/// source: undoing a fault that damages rows from it would put back old
/// data, so only `none` and `stop-server` go with it.
pub fn dump_source(
    raw: &RawBackup,
    fault: &Fault,
    fault_span: Option<std::ops::Range<usize>>,
    diags: &mut Vec<Diagnostic>,
) -> SourceSpec {
    let spec = source_spec(
        raw.source.as_ref(),
        raw.window.as_ref(),
        raw.prefer.as_ref(),
        DUMP_KEY,
        diags,
    );
    match (&spec.source, raw.source.as_ref(), raw.prefix.as_ref()) {
        (BackupSource::Latest | BackupSource::Random, Some(s), None) => diags.push(
            Diagnostic::new(format!(
                "source `{}` needs `prefix`: where the dump job writes its dumps",
                s.get_ref()
            ))
            .at(s.span())
            .label("which dumps?")
            .help("add e.g. `prefix = \"nightly/orders/\"`"),
        ),
        (BackupSource::New | BackupSource::Id(_), _, Some(p)) => diags.push(
            Diagnostic::new("`prefix` applies only to source `latest` and `random`")
                .at(p.span())
                .label("not used by this source")
                .help("remove `prefix`, or set `source = \"latest\"`"),
        ),
        _ => {}
    }
    if spec.is_existing()
        && matches!(
            fault,
            Fault::DropTable(_) | Fault::Truncate(_) | Fault::DeleteRows { .. }
        )
        && let Some(span) = fault_span
    {
        diags.push(
            Diagnostic::new("this fault needs `source = \"new\"`: an existing dump is older than the data it would put back")
                .at(span)
                .label("its undo would restore old rows")
                .help("drill the existing dump with fault `none` or `stop-server`, or take a new dump"),
        );
    }
    spec
}

/// `[targets.canary]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCanary {
    /// Write canaries at all (default true).
    pub enabled: Option<bool>,
    /// Time between canary writes (default "1s").
    pub interval: Option<HumanDuration>,
    /// Canaries written after the backup, before the fault (default 1).
    pub writes_after_backup: Option<Spanned<u32>>,
    /// Canary table created in the source database for the run (default `firedrill_canary`).
    pub table: Option<Spanned<String>>,
}

/// `[targets.fault]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawFault {
    /// `drop-table`, `truncate`, `delete-rows`, `stop-server` or `none`.
    pub action: Spanned<String>,
    /// Table hit by `drop-table`, `truncate` and `delete-rows`.
    pub table: Option<Spanned<String>>,
    /// SQL predicate choosing the rows `delete-rows` deletes.
    #[serde(rename = "where")]
    pub predicate: Option<Spanned<String>>,
    /// Shell command that stops the server, for `stop-server`.
    pub command: Option<Spanned<String>>,
    /// Shell command that starts the server again after validation, for
    /// `stop-server` (without it the server is left stopped).
    pub start_command: Option<Spanned<String>>,
    /// Undo the fault after validation (default true): put back the table
    /// or the rows it removed, from the restored copy or the dump; rows
    /// written after the fault are kept.
    pub revert: Option<bool>,
}

/// `[targets.restore]`: restore into another server (default: the source server).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRestore {
    pub host: Option<Spanned<String>>,
    pub port: Option<Spanned<u16>>,
    pub user: Option<Spanned<String>>,
    pub password_env: Option<Spanned<String>>,
    #[schemars(skip)]
    pub password: Option<Spanned<toml::Value>>,
    pub sslmode: Option<Spanned<String>>,
}

/// `[targets.validate]`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawValidate {
    /// Tables whose row counts and checksums are compared (default: all user tables).
    pub tables: Option<Vec<Spanned<String>>>,
}

/// The fault to inject.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    DropTable(TableRef),
    Truncate(TableRef),
    DeleteRows {
        table: TableRef,
        predicate: String,
    },
    StopServer {
        command: String,
        start_command: Option<String>,
    },
}

firedrill_core::named_enum! {
    /// The `[targets.fault] action` values.
    pub enum FaultAction {
        DropTable = "drop-table",
        Truncate = "truncate",
        DeleteRows = "delete-rows",
        StopServer = "stop-server",
        None = "none",
    }
}

impl Fault {
    pub fn action(&self) -> FaultAction {
        match self {
            Fault::None => FaultAction::None,
            Fault::DropTable(_) => FaultAction::DropTable,
            Fault::Truncate(_) => FaultAction::Truncate,
            Fault::DeleteRows { .. } => FaultAction::DeleteRows,
            Fault::StopServer { .. } => FaultAction::StopServer,
        }
    }
}
const SSL_MODES: &[&str] = &[
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

fn no_password(p: Option<&Spanned<toml::Value>>, diags: &mut Vec<Diagnostic>) {
    if let Some(p) = p {
        diags.push(
            Diagnostic::new("a password does not belong in a scenario file")
                .at(p.span())
                .label("remove this key")
                .help("put the password in an environment variable and name it: `password_env = \"FIREDRILL_PG_PASSWORD\"`"),
        );
    }
}

fn sslmode(v: Option<&Spanned<String>>, diags: &mut Vec<Diagnostic>) -> Option<String> {
    let v = v?;
    if !SSL_MODES.contains(&v.get_ref().as_str()) {
        one_of(v, "sslmode", SSL_MODES, diags);
    }
    Some(v.get_ref().clone())
}

fn required<'a>(
    v: Option<&'a Spanned<String>>,
    key: &str,
    action: &Spanned<String>,
    example: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<&'a Spanned<String>> {
    if v.is_none() {
        diags.push(
            Diagnostic::new(format!("fault `{}` needs `{key}`", action.get_ref()))
                .at(action.span())
                .label(format!("no {key} given"))
                .help(format!("add `{key} = {example}`")),
        );
    }
    v
}

/// Validated connection settings of the source.
pub fn source(raw: &RawPostgres, diags: &mut Vec<Diagnostic>) -> ConnSpec {
    no_password(raw.password.as_ref(), diags);
    if let Some(p) = &raw.password_env {
        password_env(p, diags);
    }
    ConnSpec {
        host: raw.host.get_ref().clone(),
        port: raw.port.as_ref().map_or(5432, |p| *p.get_ref()),
        user: raw.user.get_ref().clone(),
        database: raw.database.get_ref().clone(),
        password: raw
            .password_env
            .as_ref()
            .map_or(Password::None, |p| Password::Env(p.get_ref().clone())),
        sslmode: sslmode(raw.sslmode.as_ref(), diags),
    }
}

/// The server restores go to (the maintenance database `postgres` on it).
pub fn restore(
    raw: Option<&RawRestore>,
    source: &ConnSpec,
    diags: &mut Vec<Diagnostic>,
) -> ConnSpec {
    let mut spec = source.with_database("postgres");
    let Some(raw) = raw else {
        return spec;
    };
    no_password(raw.password.as_ref(), diags);
    if let Some(h) = &raw.host {
        spec.host.clone_from(h.get_ref());
    }
    if let Some(p) = &raw.port {
        spec.port = *p.get_ref();
    }
    if let Some(u) = &raw.user {
        spec.user.clone_from(u.get_ref());
    }
    if let Some(p) = &raw.password_env {
        password_env(p, diags);
        spec.password = Password::Env(p.get_ref().clone());
    }
    if raw.sslmode.is_some() {
        spec.sslmode = sslmode(raw.sslmode.as_ref(), diags);
    }
    spec
}

/// Validate the fault.
pub fn fault(raw: Option<&RawFault>, diags: &mut Vec<Diagnostic>) -> Fault {
    let Some(raw) = raw else {
        return Fault::None;
    };
    let Some(action) = FaultAction::parse(&raw.action, "fault action", diags) else {
        return Fault::None;
    };
    let misplaced = |key: &str, span| misplaced(key, span, action.as_str());
    let table = |diags: &mut Vec<Diagnostic>| {
        required(
            raw.table.as_ref(),
            "table",
            &raw.action,
            "\"orders\"",
            diags,
        )
        .map_or_else(|| TableRef::parse("?"), |t| TableRef::parse(t.get_ref()))
    };
    let fault = match action {
        FaultAction::None => Fault::None,
        FaultAction::DropTable => Fault::DropTable(table(diags)),
        FaultAction::Truncate => Fault::Truncate(table(diags)),
        FaultAction::DeleteRows => {
            let t = table(diags);
            let predicate = required(
                raw.predicate.as_ref(),
                "where",
                &raw.action,
                "\"id % 10 = 0\"",
                diags,
            )
            .map_or_else(String::new, |p| p.get_ref().clone());
            Fault::DeleteRows {
                table: t,
                predicate,
            }
        }
        FaultAction::StopServer => {
            let command = required(
                raw.command.as_ref(),
                "command",
                &raw.action,
                "\"pg_ctl -D /var/lib/postgresql/data stop -m immediate\"",
                diags,
            )
            .map_or_else(String::new, |c| c.get_ref().clone());
            Fault::StopServer {
                command,
                start_command: raw.start_command.as_ref().map(|c| c.get_ref().clone()),
            }
        }
    };
    let uses_table = matches!(
        action,
        FaultAction::DropTable | FaultAction::Truncate | FaultAction::DeleteRows
    );
    if !uses_table && let Some(t) = &raw.table {
        diags.push(misplaced("table", t.span()));
    }
    if action != FaultAction::DeleteRows
        && let Some(p) = &raw.predicate
    {
        diags.push(misplaced("where", p.span()));
    }
    if action != FaultAction::StopServer {
        if let Some(c) = &raw.command {
            diags.push(misplaced("command", c.span()));
        }
        if let Some(c) = &raw.start_command {
            diags.push(misplaced("start_command", c.span()));
        }
    }
    fault
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use firedrill_core::Diagnostic;

    const HEAD: &str = "name = \"t\"\n[environment]\nregion = \"us-east-1\"\n[objectives]\nrto = \"1m\"\nrpo = \"1m\"\n[[targets]]\nname = \"db\"\nkind = \"postgres\"\nhost = \"127.0.0.1\"\nuser = \"u\"\ndatabase = \"d\"\n";

    fn diags(body: &str) -> (String, Vec<Diagnostic>) {
        let text = format!("{HEAD}{body}");
        let d = match crate::scenario::parse(Path::new("t.toml"), &text) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics,
        };
        (text, d)
    }

    fn line_of(text: &str, d: &Diagnostic) -> usize {
        let span = d.span.clone().expect("a diagnostic with a span");
        text[..span.start].lines().count() + usize::from(text[..span.start].ends_with('\n'))
    }

    #[test]
    fn a_valid_target_parses() {
        let (_, d) = diags(
            "password_env = \"PGPASS\"\n[targets.backup]\nbucket = \"dumps\"\n[targets.fault]\naction = \"delete-rows\"\ntable = \"orders\"\nwhere = \"id < 5\"\n[[targets.check]]\nname = \"a\"\nquery = \"select 1\"\nexpect = { min = 0, max = 2 }\n[[targets.check]]\nname = \"b\"\nquery = \"select 1\"\nexpect = \"baseline\"\n",
        );
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn a_password_in_the_file_is_refused_with_a_hint() {
        let (text, d) = diags("password = \"hunter2\"\n[targets.backup]\nbucket = \"dumps\"\n");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].message,
            "a password does not belong in a scenario file"
        );
        assert!(d[0].help.as_deref().unwrap().contains("password_env"));
        assert!(!d[0].message.contains("hunter2"));
        assert_eq!(line_of(&text, &d[0]), 13);
    }

    #[test]
    fn bad_fault_and_expectations_point_at_their_keys() {
        let (_, d) = diags(
            "[targets.backup]\nbucket = \"dumps\"\n[targets.fault]\naction = \"delete-row\"\n[[targets.check]]\nname = \"a\"\nquery = \"select 1\"\nexpect = { min = 3, max = 1 }\n[[targets.check]]\nname = \"a\"\nquery = \"select 1\"\nexpect = true\n",
        );
        let msgs: Vec<String> = d.iter().map(|d| d.message.clone()).collect();
        assert!(
            msgs.contains(&"unknown fault action `delete-row`".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"invalid `expect`: `min` is above `max`".to_string()),
            "{msgs:?}"
        );
        assert!(
            msgs.contains(&"two checks are named `a`".to_string()),
            "{msgs:?}"
        );
        assert!(msgs.iter().any(|m| m.contains("booleans")), "{msgs:?}");
        let fault = d
            .iter()
            .find(|d| d.message.starts_with("unknown fault"))
            .unwrap();
        assert_eq!(fault.help.as_deref(), Some("did you mean `delete-rows`?"));
        assert!(d.iter().all(|d| d.span.is_some()));
    }

    #[test]
    fn delete_rows_needs_a_table_and_a_predicate() {
        let (_, d) = diags(
            "[targets.backup]\nbucket = \"dumps\"\n[targets.fault]\naction = \"delete-rows\"\ncommand = \"x\"\n",
        );
        let msgs: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "fault `delete-rows` needs `table`",
                "fault `delete-rows` needs `where`",
                "`command` does not apply to fault `delete-rows`"
            ]
        );
    }

    #[test]
    fn stop_server_needs_another_restore_server() {
        let body = "[targets.backup]\nbucket = \"dumps\"\n[targets.fault]\naction = \"stop-server\"\ncommand = \"true\"\n";
        let (_, d) = diags(body);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(
            d[0].message
                .contains("stops the server the restore would go to")
        );
        let (_, d) = diags(&format!("{body}[targets.restore]\nhost = \"10.0.0.2\"\n"));
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn password_env_must_name_a_variable() {
        let (_, d) =
            diags("password_env = \"s3cr3t pass!\"\n[targets.backup]\nbucket = \"dumps\"\n");
        assert_eq!(d.len(), 1);
        assert!(d[0].message.contains("is not an environment variable name"));
        assert!(!d[0].message.contains("s3cr3t"));
    }
}
