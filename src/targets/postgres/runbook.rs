//! The bad-day recovery steps of a `postgres` target: the newest dump from
//! S3, `pg_restore` into a new database next to the damaged one, the
//! scenario's checks with `psql`.

use firedrill_core::Stage;
use firedrill_core::runbook::{RunbookStep, Tool, shell_quote};

use super::PgTarget;
use super::cleanup::KEY_PREFIX;
use crate::sql::{ConnSpec, Password};

/// `PGPASSWORD=... ` when the password comes from the environment.
fn password(c: &ConnSpec) -> String {
    match &c.password {
        Password::Env(var) => format!("PGPASSWORD=\"${var}\" "),
        Password::None | Password::Value(_) => String::new(),
    }
}

fn conn_args(c: &ConnSpec, database: &str) -> String {
    format!(
        "-h {} -p {} -U {} -d {}",
        shell_quote(&c.host),
        c.port,
        shell_quote(&c.user),
        shell_quote(database)
    )
}

pub(super) fn steps(t: &PgTarget) -> Vec<RunbookStep> {
    let db = &t.source.database;
    let restored = format!("{db}_restored");
    let bucket = shell_quote(&t.bucket);
    let prefix = t.dump_prefix.as_deref().unwrap_or(KEY_PREFIX);
    let file = format!("{db}.dump");
    let mut steps = vec![
        RunbookStep::new(
            format!("find the newest dump of {db}"),
            Tool::Aws,
            format!(
                "DUMP_KEY=$(aws s3api list-objects-v2 --bucket {bucket} --prefix {} \\\n  --query \"sort_by(Contents[?ends_with(Key, '.dump')], &LastModified)[-1].Key\" --output text)",
                shell_quote(prefix)
            ),
        )
        .setting("DUMP_KEY"),
        RunbookStep::new(
            "download it",
            Tool::Aws,
            format!(
                "aws s3 cp \"s3://{}/$DUMP_KEY\" {}",
                t.bucket,
                shell_quote(&file)
            ),
        ),
        RunbookStep::new(
            format!("create the database {restored} next to the damaged one"),
            Tool::Psql,
            format!(
                "{}psql -X {} -c {}",
                password(&t.restore),
                conn_args(&t.restore, &t.restore.database),
                shell_quote(&format!("CREATE DATABASE \"{restored}\""))
            ),
        ),
        RunbookStep::new(
            "restore the dump into it",
            Tool::PgRestore,
            format!(
                "{}pg_restore --no-owner --exit-on-error {} {}",
                password(&t.restore),
                conn_args(&t.restore, &restored),
                shell_quote(&file)
            ),
        )
        .timed(Stage::Restore),
    ];
    for check in &t.checks {
        steps.push(
            RunbookStep::new(
                format!("check: {}", check.name),
                Tool::Psql,
                format!(
                    "{}psql -X -tA {} -c {}",
                    password(&t.restore),
                    conn_args(&t.restore, &restored),
                    shell_quote(&check.query)
                ),
            )
            .timed(Stage::Validate),
        );
    }
    steps.push(RunbookStep::new(
        format!("point the application at {restored} (or rename it to {db} once the damaged one is kept aside)"),
        Tool::Psql,
        format!(
            "{}psql -X {} -c {}",
            password(&t.restore),
            conn_args(&t.restore, &t.restore.database),
            shell_quote(&format!(
                "ALTER DATABASE \"{db}\" RENAME TO \"{db}_damaged\"; ALTER DATABASE \"{restored}\" RENAME TO \"{db}\""
            ))
        ),
    ));
    steps
}
