//! The PostgreSQL backend.

use std::str::FromStr;

use async_trait::async_trait;
use covet_pool::sqlx_connector::SqlxConnector;
use covet_pool::{Pool, PoolStatus};
use sea_query::{PostgresQueryBuilder, Values};
use sqlx::error::DatabaseError as SqlxDatabaseError;
use sqlx::postgres::{PgConnectOptions, PgQueryResult, PgRow, Postgres};

use crate::backend::support::{
    Classified, Held, common_row_reader_methods, i64_to_u64, pooled_backend_methods, read_column,
    sqlx_connection,
};
use crate::backend::{
    AutoIncrementColumn, Backend, BackendConnection, Capabilities, QueryStatement, SchemaStatement,
    StatementCache, UpsertStyle,
};
use crate::error::{Error, ErrorKind, Result};
use crate::row::RowReader;
use crate::transaction_options::{BeginPlan, TransactionOptions};
use crate::value::SqlType;

const SYSTEM: &str = "postgresql";

/// PostgreSQL's limit: the bind message counts parameters in a 16-bit integer.
const MAX_BIND_PARAMETERS: usize = 65_535;

/// A PostgreSQL database reached through a pool.
#[derive(Debug)]
pub struct PostgresBackend {
    pool: Pool<SqlxConnector<PgConnectOptions>>,
    namespace: Option<String>,
    /// The URL without its password, named in connection errors.
    target: std::sync::Arc<str>,
    capabilities: Capabilities,
    /// SQL rendered once per model for fixed statement shapes.
    statements: StatementCache,
}

impl PostgresBackend {
    /// Wraps a pooled or dedicated connection of this backend.
    fn connection(&self, conn: Held<SqlxConnector<PgConnectOptions>>) -> PgConnection {
        PgConnection {
            conn,
            system: SYSTEM,
            capabilities: self.capabilities.clone(),
            target: std::sync::Arc::clone(&self.target),
            busy: false,
            reset_after_transaction: None,
        }
    }

    /// Opens a pool for a `postgres://` or `postgresql://` URL and checks that one
    /// connection can be made.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a URL sqlx cannot parse, and the connection error when the
    /// server cannot be reached.
    pub async fn connect(url: &str, settings: &crate::ConnectOptions) -> Result<Self> {
        let options = PgConnectOptions::from_str(url).map_err(|error| Error::InvalidUrl {
            url: crate::error::redact_url(url),
            reason: crate::database::scrub(&error.to_string(), url),
        })?;
        let namespace = options.get_database().map(str::to_owned);
        let connector = SqlxConnector::new(options, crate::error::redact_url(url));
        let connector = settings.apply_after_connect(connector);
        let target = std::sync::Arc::from(connector.label());
        let backend = Self {
            pool: Pool::new(connector, settings.pool_config().clone()),
            namespace,
            target,
            statements: StatementCache::default(),
            capabilities: Capabilities {
                array_parameters: true,
                ..Capabilities::new(true, MAX_BIND_PARAMETERS, UpsertStyle::OnConflict, false)
            },
        };
        let first = backend.acquire().await;
        drop(first.map_err(|error| crate::database::scrub_error(error, url))?);
        Ok(backend)
    }
}

#[async_trait]
impl Backend for PostgresBackend {
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
            QueryStatement::Select(select) => select.build(PostgresQueryBuilder),
            QueryStatement::Insert(insert) => insert.build(PostgresQueryBuilder),
            QueryStatement::InsertReturning(insert, columns) => {
                let mut insert = (*insert).clone();
                insert.returning(sea_query::Query::returning().columns(columns.iter().copied()));
                insert.build(PostgresQueryBuilder)
            }
            QueryStatement::Update(update) => update.build(PostgresQueryBuilder),
            QueryStatement::Delete(delete) => delete.build(PostgresQueryBuilder),
        }
    }

    fn render_schema(&self, statement: &SchemaStatement) -> String {
        match statement {
            SchemaStatement::CreateTable(create) => create.build(PostgresQueryBuilder),
            SchemaStatement::DropTable(drop) => drop.build(PostgresQueryBuilder),
            SchemaStatement::CreateIndex(index) => index.build(PostgresQueryBuilder),
        }
    }

    fn column_type(&self, sql_type: SqlType, _key: bool) -> &'static str {
        match sql_type {
            SqlType::Bool => "BOOLEAN",
            SqlType::SmallInt => "SMALLINT",
            SqlType::Int => "INTEGER",
            SqlType::BigInt | SqlType::BigUnsigned => "BIGINT",
            SqlType::Float => "REAL",
            SqlType::Double => "DOUBLE PRECISION",
            SqlType::Text => "TEXT",
            SqlType::Bytes => "BYTEA",
            SqlType::TimestampUtc => "TIMESTAMPTZ",
            SqlType::Timestamp => "TIMESTAMP",
            SqlType::Date => "DATE",
            SqlType::Uuid => "UUID",
            // NUMERIC without a precision keeps the scale of every stored value.
            SqlType::Decimal => "NUMERIC",
            SqlType::Json => "JSONB",
        }
    }

    fn auto_increment_column(&self, sql_type: SqlType) -> AutoIncrementColumn {
        let type_sql = match sql_type {
            SqlType::SmallInt => "SMALLINT GENERATED BY DEFAULT AS IDENTITY",
            SqlType::Int => "INTEGER GENERATED BY DEFAULT AS IDENTITY",
            _ => "BIGINT GENERATED BY DEFAULT AS IDENTITY",
        };
        AutoIncrementColumn {
            type_sql,
            declares_primary_key: false,
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

pooled_backend_methods!(PostgresBackend, system: |_: &PostgresBackend| SYSTEM);

sqlx_connection!(
    PgConnection,
    options: PgConnectOptions,
    database: Postgres,
    row_reader: PgRowReader,
    classify: classify,
    prepare: crate::backend::support::values_as_given,
    begin: None,
    begin_plan: begin_plan,
);

/// Builds `BEGIN ISOLATION LEVEL ... READ ONLY`: PostgreSQL takes both options in one
/// statement, and they last for that transaction only.
fn begin_plan(options: &TransactionOptions) -> BeginPlan {
    BeginPlan {
        prepare: None,
        begin: options.begin_text(),
        reset: None,
    }
}

fn last_insert_id(_: &PgQueryResult) -> Option<i64> {
    None
}

/// Maps SQLSTATE codes to error kinds.
fn classify(error: &dyn SqlxDatabaseError) -> Classified {
    let kind = match error.code().as_deref() {
        Some("23505") => ErrorKind::UniqueViolation,
        Some("23503") => ErrorKind::ForeignKeyViolation,
        Some("23514") => ErrorKind::CheckViolation,
        Some("23502") => ErrorKind::NotNullViolation,
        Some("40001") => ErrorKind::SerializationFailure,
        Some("40P01") => ErrorKind::Deadlock,
        Some("25006") => ErrorKind::ReadOnly,
        // The server ended the session (57P01 admin shutdown or pg_terminate_backend, 57P02
        // crash shutdown, 57P03 cannot connect now) or the connection failed (class 08).
        Some("57P01" | "57P02" | "57P03") => ErrorKind::Connection,
        Some(code) if code.starts_with("08") => ErrorKind::Connection,
        _ => ErrorKind::OtherDatabase,
    };
    Classified::kind(kind)
}

struct PgRowReader<'a>(&'a PgRow);

impl RowReader for PgRowReader<'_> {
    common_row_reader_methods!();

    fn read_i64(&self, index: usize) -> Result<Option<i64>> {
        read_column!(self.0, index, i64)
    }

    fn read_u64(&self, index: usize) -> Result<Option<u64>> {
        i64_to_u64(self.column_name(index), read_column!(self.0, index, i64)?)
    }

    fn read_decimal(&self, index: usize) -> Result<Option<rust_decimal::Decimal>> {
        read_column!(self.0, index, rust_decimal::Decimal)
    }

    fn read_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        read_column!(self.0, index, serde_json::Value)
    }
}
