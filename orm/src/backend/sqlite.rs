//! The SQLite backend, the embedded default that needs no server.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use covet_pool::sqlx_connector::SqlxConnector;
use covet_pool::{Pool, PoolStatus};
use sea_query::{SqliteQueryBuilder, Values};
use sqlx::ConnectOptions;
use sqlx::error::DatabaseError as SqlxDatabaseError;
use sqlx::sqlite::{
    Sqlite, SqliteConnectOptions, SqliteConnection as RawSqliteConnection, SqliteQueryResult,
    SqliteRow,
};

use crate::backend::support::{
    Classified, Held, common_row_reader_methods, i64_to_u64, parse_decimal, parse_json,
    pooled_backend_methods, read_column, sqlx_connection,
};
use crate::backend::{
    AutoIncrementColumn, Backend, BackendConnection, Capabilities, QueryStatement, SchemaStatement,
    StatementCache, UpsertStyle,
};
use crate::error::{Error, ErrorKind, Result};
use crate::row::RowReader;
use crate::trace::traced_probe;
use crate::transaction_options::{BeginPlan, TransactionOptions};
use crate::value::SqlType;

const SYSTEM: &str = "sqlite";

/// SQLite's default `SQLITE_MAX_VARIABLE_NUMBER` since 3.32.0, used when the build does
/// not report its own in `PRAGMA compile_options`.
const DEFAULT_MAX_VARIABLES: usize = 32_766;

/// The default before SQLite 3.32.0.
const LEGACY_MAX_VARIABLES: usize = 999;

/// A SQLite database file, or an in-memory database, reached through a pool.
///
/// An in-memory URL (`sqlite::memory:`) opens one shared-cache database for the whole pool.
/// The backend keeps one extra connection to it open for its lifetime, because SQLite frees
/// an in-memory database when its last connection closes.
pub struct SqliteBackend {
    pool: Pool<SqlxConnector<SqliteConnectOptions>>,
    namespace: Option<String>,
    /// The URL without its password, named in connection errors.
    target: std::sync::Arc<str>,
    capabilities: Capabilities,
    /// SQL rendered once per model for fixed statement shapes.
    statements: StatementCache,
    _keep_alive: Option<tokio::sync::Mutex<RawSqliteConnection>>,
}

impl fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBackend")
            .field("pool", &self.pool)
            .field("namespace", &self.namespace)
            .field("in_memory", &self._keep_alive.is_some())
            .finish()
    }
}

impl SqliteBackend {
    /// Wraps a pooled or dedicated connection of this backend.
    fn connection(&self, conn: Held<SqlxConnector<SqliteConnectOptions>>) -> SqliteConnection {
        SqliteConnection {
            conn,
            system: SYSTEM,
            capabilities: self.capabilities.clone(),
            target: std::sync::Arc::clone(&self.target),
            busy: false,
            reset_after_transaction: None,
        }
    }

    /// Opens a pool for a `sqlite:` URL: `sqlite::memory:`, `sqlite:app.db`,
    /// `sqlite://relative/app.db` or `sqlite:///absolute/app.db`. A missing database file
    /// is created. Foreign keys are enforced and a busy connection waits up to 5 s for a
    /// lock (sqlx's defaults).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a URL sqlx cannot parse, and the connection error when the
    /// file cannot be opened or created.
    pub async fn connect(url: &str, settings: &crate::ConnectOptions) -> Result<Self> {
        let (options, in_memory) = parse_url(url)?;
        let namespace = Some(options.get_filename().display().to_string());

        let keep_alive = if in_memory {
            let conn = options
                .connect()
                .await
                .map_err(|error| connect_error(url, error))?;
            Some(tokio::sync::Mutex::new(conn))
        } else {
            None
        };

        let connector = SqlxConnector::new(options, crate::error::redact_url(url));
        let connector = settings.apply_after_connect(connector);
        let target = std::sync::Arc::from(connector.label());
        let mut backend = Self {
            pool: Pool::new(connector, settings.pool_config().clone()),
            namespace,
            target,
            statements: StatementCache::default(),
            capabilities: Capabilities::new(
                true,
                DEFAULT_MAX_VARIABLES,
                UpsertStyle::OnConflict,
                false,
            ),
            _keep_alive: keep_alive,
        };

        backend.probe_limits().await?;
        Ok(backend)
    }

    /// Reads the library version and variable limit of the SQLite build in use.
    async fn probe_limits(&mut self) -> Result<()> {
        let mut conn = self.acquire().await?;
        let mut version = String::new();
        let mut read_version = |row: &dyn RowReader| {
            version = row.read_string(0)?.unwrap_or_default();
            Ok(())
        };
        traced_probe(
            self,
            conn.as_mut(),
            "SELECT sqlite_version()",
            &mut read_version,
        )
        .await?;
        let mut options = Vec::new();
        let mut read_option = |row: &dyn RowReader| {
            options.extend(row.read_string(0)?);
            Ok(())
        };
        traced_probe(
            self,
            conn.as_mut(),
            "PRAGMA compile_options",
            &mut read_option,
        )
        .await?;
        let version = parse_version(&version);
        self.capabilities.decimal_comparison = false;
        self.capabilities.stores_nan = false;
        self.capabilities.nul_in_like = false;
        self.capabilities.insert_returning = version >= (3, 35);
        self.capabilities.max_bind_parameters = max_variables(&options, version);
        Ok(())
    }
}

/// Parses a `sqlite:` URL into connect options, and returns whether it names an in-memory
/// database.
fn parse_url(url: &str) -> Result<(SqliteConnectOptions, bool)> {
    let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() {
        // SQLite would open a private temporary database per connection, so each pooled
        // connection would see different tables.
        return Err(Error::InvalidUrl {
            url: url.to_owned(),
            reason: String::from(
                "the URL names no database file; use sqlite:path/to/app.db, or \
                 sqlite::memory: for one in-memory database",
            ),
        });
    }

    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| Error::InvalidUrl {
            url: crate::error::redact_url(url),
            reason: crate::database::scrub(&error.to_string(), url),
        })?
        .create_if_missing(true);
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    // Write-ahead logging lets readers go on while one connection writes. An in-memory
    // database has no log file to write ahead to.
    let options = if in_memory {
        options
    } else {
        options.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
    };
    Ok((options, in_memory))
}

fn connect_error(url: &str, error: sqlx::Error) -> Error {
    Error::Connection {
        backend: SYSTEM,
        target: Some(crate::error::redact_url(url)),
        source: Box::new(error),
    }
}

fn parse_version(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|part| part.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Returns the build's `SQLITE_MAX_VARIABLE_NUMBER`.
fn max_variables(compile_options: &[String], version: (u32, u32)) -> usize {
    compile_options
        .iter()
        .find_map(|option| option.strip_prefix("MAX_VARIABLE_NUMBER="))
        .and_then(|value| value.parse().ok())
        .unwrap_or(if version >= (3, 32) {
            DEFAULT_MAX_VARIABLES
        } else {
            LEGACY_MAX_VARIABLES
        })
}

#[async_trait]
impl Backend for SqliteBackend {
    fn system_name(&self) -> &'static str {
        SYSTEM
    }

    fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn statement_cache(&self) -> Option<&StatementCache> {
        Some(&self.statements)
    }

    fn render(&self, statement: &QueryStatement) -> (String, Values) {
        match statement {
            QueryStatement::Select(select) => select.build(SqliteQueryBuilder),
            QueryStatement::Insert(insert) => insert.build(SqliteQueryBuilder),
            QueryStatement::InsertReturning(insert, columns) => {
                let mut insert = (*insert).clone();
                insert.returning(sea_query::Query::returning().columns(columns.iter().copied()));
                insert.build(SqliteQueryBuilder)
            }
            QueryStatement::Update(update) => update.build(SqliteQueryBuilder),
            QueryStatement::Delete(delete) => delete.build(SqliteQueryBuilder),
        }
    }

    fn render_schema(&self, statement: &SchemaStatement) -> String {
        match statement {
            SchemaStatement::CreateTable(create) => create.build(SqliteQueryBuilder),
            SchemaStatement::DropTable(drop) => drop.build(SqliteQueryBuilder),
            SchemaStatement::CreateIndex(index) => index.build(SqliteQueryBuilder),
        }
    }

    fn column_type(&self, sql_type: SqlType, _key: bool) -> &'static str {
        match sql_type {
            SqlType::Bool => "BOOLEAN",
            SqlType::SmallInt | SqlType::Int | SqlType::BigInt | SqlType::BigUnsigned => "INTEGER",
            SqlType::Float | SqlType::Double => "REAL",
            SqlType::Text => "TEXT",
            SqlType::Bytes | SqlType::Uuid => "BLOB",
            SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME",
            SqlType::Date => "DATE",
            // TEXT affinity keeps decimals exact, scale included. A NUMERIC column would
            // turn `1.000` into the integer 1.
            SqlType::Decimal => "TEXT",
            SqlType::Json => "TEXT",
        }
    }

    /// SQLite numbers rows only through an `INTEGER PRIMARY KEY` column, which is the
    /// rowid. AUTOINCREMENT stops the reuse of keys of deleted rows.
    fn auto_increment_column(&self, _sql_type: SqlType) -> AutoIncrementColumn {
        AutoIncrementColumn {
            type_sql: "INTEGER PRIMARY KEY AUTOINCREMENT",
            declares_primary_key: true,
        }
    }

    async fn acquire(&self) -> Result<Box<dyn BackendConnection>> {
        self.acquire_pooled().await
    }

    async fn connect_dedicated(&self) -> Result<Box<dyn BackendConnection>> {
        self.open_dedicated().await
    }

    fn pool_status(&self) -> PoolStatus {
        self.pool.status()
    }

    fn pool_metrics(&self) -> covet_pool::PoolMetrics {
        self.pool.metrics()
    }

    fn close(&self) {
        self.pool.close();
    }
}

pooled_backend_methods!(SqliteBackend, system: |_: &SqliteBackend| SYSTEM);

sqlx_connection!(
    SqliteConnection,
    options: SqliteConnectOptions,
    database: Sqlite,
    row_reader: SqliteRowReader,
    classify: classify,
    prepare: crate::backend::support::values_as_given,
    // A deferred transaction that reads and then writes fails with SQLITE_BUSY at once when
    // another connection writes first. Taking the write lock at BEGIN makes it wait for the
    // busy timeout instead.
    begin: Some("BEGIN IMMEDIATE"),
    begin_plan: begin_plan,
);

/// Builds the statements of a SQLite transaction with options. SQLite transactions are
/// always serializable, so the isolation level needs no statement. A read-only transaction
/// sets `PRAGMA query_only` for its duration and begins deferred, taking no write lock.
fn begin_plan(options: &TransactionOptions) -> BeginPlan {
    if options.is_read_only() {
        BeginPlan {
            prepare: Some(String::from("PRAGMA query_only = ON")),
            begin: String::from("BEGIN"),
            reset: Some("PRAGMA query_only = OFF"),
        }
    } else {
        BeginPlan {
            prepare: None,
            begin: String::from("BEGIN IMMEDIATE"),
            reset: None,
        }
    }
}

fn last_insert_id(done: &SqliteQueryResult) -> Option<i64> {
    Some(done.last_insert_rowid())
}

/// Maps SQLite extended result codes to error kinds.
fn classify(error: &dyn SqlxDatabaseError) -> Classified {
    let message = error.message();
    let kind = match error.code().as_deref() {
        Some("2067" | "1555") => ErrorKind::UniqueViolation,
        Some("787") => ErrorKind::ForeignKeyViolation,
        Some("275") => ErrorKind::CheckViolation,
        Some("1299") => ErrorKind::NotNullViolation,
        // SQLITE_BUSY and SQLITE_LOCKED with their extended codes: another connection holds
        // the lock, and retrying the transaction may succeed.
        Some("5" | "261" | "517" | "773" | "6" | "262") => ErrorKind::Deadlock,
        // SQLITE_READONLY and its extended codes, which `PRAGMA query_only` also raises.
        Some("8" | "264" | "520" | "776" | "1032" | "1288" | "1544") => ErrorKind::ReadOnly,
        _ => ErrorKind::OtherDatabase,
    };
    // Messages read `CHECK constraint failed: name` or `UNIQUE constraint failed: t.col`.
    let detail = message
        .split_once("constraint failed: ")
        .map(|(_, rest)| rest);
    let (constraint, table) = match (kind, detail) {
        (ErrorKind::CheckViolation, Some(name)) => (Some(name.to_owned()), None),
        (ErrorKind::UniqueViolation | ErrorKind::NotNullViolation, Some(columns)) => {
            (None, columns.split('.').next().map(str::to_owned))
        }
        _ => (None, None),
    };
    Classified {
        kind: Some(kind),
        code: None,
        constraint,
        table,
    }
}

struct SqliteRowReader<'a>(&'a SqliteRow);

impl RowReader for SqliteRowReader<'_> {
    common_row_reader_methods!();

    fn read_i64(&self, index: usize) -> Result<Option<i64>> {
        read_column!(self.0, index, i64)
    }

    fn read_u64(&self, index: usize) -> Result<Option<u64>> {
        i64_to_u64(self.column_name(index), read_column!(self.0, index, i64)?)
    }

    fn read_decimal(&self, index: usize) -> Result<Option<rust_decimal::Decimal>> {
        // covet writes decimals as text. A number written by other code is read as well.
        match read_column!(self.0, index, String) {
            Ok(text) => parse_decimal(self.column_name(index), text),
            Err(text_error) => match read_column!(self.0, index, i64) {
                Ok(number) => Ok(number.map(rust_decimal::Decimal::from)),
                Err(_) => Err(text_error),
            },
        }
    }

    fn read_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        let text = read_column!(self.0, index, String)?;
        parse_json(self.column_name(index), text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_variables_reads_compile_option() {
        let options = vec![String::from("MAX_VARIABLE_NUMBER=250000")];
        assert_eq!(max_variables(&options, (3, 45)), 250_000);
    }

    #[test]
    fn max_variables_defaults_by_version() {
        assert_eq!(max_variables(&[], (3, 45)), DEFAULT_MAX_VARIABLES);
        assert_eq!(max_variables(&[], (3, 31)), LEGACY_MAX_VARIABLES);
    }
}
