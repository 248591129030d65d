//! Connection settings and errors. The password is read from an environment
//! variable when needed and never written anywhere: [`ConnSpec::url`] is the
//! form safe for ledgers and reports.

use std::fmt;
use std::time::Duration;

use tokio_postgres::config::SslMode;
use tokio_postgres::{Client, NoTls};

/// A password that prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Where the password comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Password {
    None,
    /// Name of the environment variable holding it.
    Env(String),
    /// Given directly (e.g. fetched from a secrets manager by an RDS kind).
    Value(Secret),
}

/// How to reach one database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnSpec {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    pub password: Password,
    /// libpq `sslmode`; firedrill's own connections support `disable`,
    /// `allow` and `prefer` (no TLS).
    pub sslmode: Option<String>,
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to {endpoint}: {message}")]
    Connect { endpoint: String, message: String },
    /// The password variable is not set.
    #[error("environment variable `{0}` is not set (hint: export the database password in it)")]
    MissingPassword(String),
    /// A query failed.
    #[error("{what} failed: {message}")]
    Query { what: String, message: String },
}

impl SqlError {
    pub fn query(what: impl Into<String>, e: &tokio_postgres::Error) -> Self {
        SqlError::Query {
            what: what.into(),
            message: pg_message(e),
        }
    }
}

/// The server's message (with detail) or the client-side cause.
pub fn pg_message(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = db.message().to_string();
        if let Some(d) = db.detail() {
            m.push_str(" (");
            m.push_str(d);
            m.push(')');
        }
        return m;
    }
    let mut m = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        m.push_str(": ");
        m.push_str(&s.to_string());
        src = s.source();
    }
    m
}

impl ConnSpec {
    /// The same server, another database.
    #[must_use]
    pub fn with_database(&self, database: &str) -> Self {
        Self {
            database: database.to_string(),
            ..self.clone()
        }
    }

    /// `host:port/database`, for messages.
    pub fn endpoint(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }

    /// The password, read now.
    pub fn password(&self) -> Result<Option<Secret>, SqlError> {
        match &self.password {
            Password::None => Ok(None),
            Password::Value(s) => Ok(Some(s.clone())),
            Password::Env(var) => std::env::var(var)
                .map(|v| Some(Secret(v)))
                .map_err(|_| SqlError::MissingPassword(var.clone())),
        }
    }

    /// A URL without the password, safe for ledgers and reports:
    /// `postgresql://user@host:port/db?password_env=VAR&sslmode=MODE`.
    pub fn url(&self) -> String {
        let mut q = Vec::new();
        if let Password::Env(v) = &self.password {
            q.push(format!("password_env={v}"));
        }
        if let Some(m) = &self.sslmode {
            q.push(format!("sslmode={m}"));
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let mut s = format!(
            "postgresql://{}@{host}:{}/{}",
            self.user, self.port, self.database
        );
        if !q.is_empty() {
            s.push('?');
            s.push_str(&q.join("&"));
        }
        s
    }

    /// Parse what [`ConnSpec::url`] wrote.
    pub fn parse_url(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("postgresql://")?;
        let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (user, rest) = main.split_once('@')?;
        let (hostport, database) = rest.split_once('/')?;
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, p) = h.split_once("]:")?;
            (h.to_string(), p)
        } else {
            let (h, p) = hostport.rsplit_once(':')?;
            (h.to_string(), p)
        };
        let mut spec = Self {
            host,
            port: port.parse().ok()?,
            user: user.to_string(),
            database: database.to_string(),
            password: Password::None,
            sslmode: None,
        };
        for kv in query.split('&').filter(|s| !s.is_empty()) {
            match kv.split_once('=')? {
                ("password_env", v) => spec.password = Password::Env(v.to_string()),
                ("sslmode", v) => spec.sslmode = Some(v.to_string()),
                _ => {}
            }
        }
        Some(spec)
    }

    /// `text` with the password (if set and readable) replaced by `***`:
    /// for child output and server messages, which should never echo it.
    pub fn redact(&self, text: &str) -> String {
        match self.password() {
            Ok(Some(p)) if p.0.len() >= 4 => text.replace(&p.0, "***"),
            _ => text.to_string(),
        }
    }

    /// Environment for `pg_dump`/`pg_restore`/`psql` children: the password
    /// goes into the child's environment only.
    pub fn child_env(&self) -> Result<Vec<(&'static str, String)>, SqlError> {
        let mut env = vec![
            ("PGHOST", self.host.clone()),
            ("PGPORT", self.port.to_string()),
            ("PGUSER", self.user.clone()),
            ("PGDATABASE", self.database.clone()),
            ("PGAPPNAME", "firedrill".to_string()),
            ("PGCONNECT_TIMEOUT", "10".to_string()),
        ];
        if let Some(m) = &self.sslmode {
            env.push(("PGSSLMODE", m.clone()));
        }
        if let Some(p) = self.password()? {
            env.push(("PGPASSWORD", p.0));
        }
        Ok(env)
    }

    /// Connect (10 s timeout); the connection task runs in the background.
    pub async fn connect(&self) -> Result<Client, SqlError> {
        let mut cfg = tokio_postgres::Config::new();
        cfg.host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname(&self.database)
            .application_name("firedrill")
            .connect_timeout(Duration::from_secs(10));
        if let Some(p) = self.password()? {
            cfg.password(p.0.as_bytes());
        }
        cfg.ssl_mode(match self.sslmode.as_deref() {
            None | Some("prefer" | "allow") => SslMode::Prefer,
            Some("disable") => SslMode::Disable,
            Some(other) => {
                return Err(SqlError::Connect {
                    endpoint: self.endpoint(),
                    message: format!(
                        "sslmode `{other}` needs TLS, which firedrill's own connections do not support yet (hint: use `prefer` or `disable`)"
                    ),
                });
            }
        });
        let (client, connection) = cfg.connect(NoTls).await.map_err(|e| SqlError::Connect {
            endpoint: self.endpoint(),
            message: pg_message(&e),
        })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        // Text renderings of rows (checksums) must not depend on the session.
        client
            .batch_execute(
                "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1",
            )
            .await
            .map_err(|e| SqlError::query("setting the session", &e))?;
        Ok(client)
    }
}

/// Quote one identifier: `a"b` → `"a""b"`.
pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A table, schema-qualified.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct TableRef {
    pub schema: String,
    pub name: String,
}

impl TableRef {
    /// `orders` (schema `public`) or `sales.orders`.
    pub fn parse(s: &str) -> Self {
        match s.split_once('.') {
            Some((schema, name)) => Self {
                schema: schema.to_string(),
                name: name.to_string(),
            },
            None => Self {
                schema: "public".to_string(),
                name: s.to_string(),
            },
        }
    }

    pub fn sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

impl fmt::Display for TableRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.schema == "public" {
            f.write_str(&self.name)
        } else {
            write!(f, "{}.{}", self.schema, self.name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_round_trips_without_the_password() {
        let spec = ConnSpec {
            host: "127.0.0.1".into(),
            port: 55432,
            user: "firedrill".into(),
            database: "firedrill_demo".into(),
            password: Password::Env("FIREDRILL_PG_PASSWORD".into()),
            sslmode: Some("prefer".into()),
        };
        let url = spec.url();
        assert_eq!(
            url,
            "postgresql://firedrill@127.0.0.1:55432/firedrill_demo?password_env=FIREDRILL_PG_PASSWORD&sslmode=prefer"
        );
        assert_eq!(ConnSpec::parse_url(&url), Some(spec));
        let v6 = ConnSpec {
            host: "::1".into(),
            password: Password::None,
            sslmode: None,
            ..ConnSpec::parse_url(&url).unwrap()
        };
        assert_eq!(ConnSpec::parse_url(&v6.url()), Some(v6));
    }

    #[test]
    fn a_given_password_never_prints() {
        let spec = ConnSpec {
            host: "h".into(),
            port: 1,
            user: "u".into(),
            database: "d".into(),
            password: Password::Value(Secret::new("hunter2")),
            sslmode: None,
        };
        assert!(!format!("{spec:?}").contains("hunter2"));
        assert_eq!(spec.redact("pw hunter2 here"), "pw *** here");
        assert!(!spec.url().contains("hunter2"));
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(TableRef::parse("orders").sql(), "\"public\".\"orders\"");
        assert_eq!(TableRef::parse("s.t").to_string(), "s.t");
    }
}
