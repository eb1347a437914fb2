//! The MySQL and MariaDB backend.

use std::str::FromStr;

use async_trait::async_trait;
use covet_pool::sqlx_connector::SqlxConnector;
use covet_pool::{Pool, PoolStatus};
use sea_query::{MysqlQueryBuilder, Values};
use sqlx::error::DatabaseError as SqlxDatabaseError;
use sqlx::mysql::{MySql, MySqlConnectOptions, MySqlDatabaseError, MySqlQueryResult, MySqlRow};

use crate::backend::support::{
    Classified, Held, between, common_row_reader_methods, parse_decimal, parse_json,
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

/// The protocol counts statement parameters in a 16-bit integer.
const MAX_BIND_PARAMETERS: usize = 65_535;

/// A MySQL or MariaDB database reached through a pool.
///
/// The backend reports itself as `mariadb` or `mysql` after reading the server version, and
/// uses `INSERT ... RETURNING` on MariaDB 10.5 and later, which have it.
#[derive(Debug)]
pub struct MySqlBackend {
    pool: Pool<SqlxConnector<MySqlConnectOptions>>,
    namespace: Option<String>,
    /// The URL without its password, named in connection errors.
    target: std::sync::Arc<str>,
    system: &'static str,
    capabilities: Capabilities,
    /// SQL rendered once per model for fixed statement shapes.
    statements: StatementCache,
}

impl MySqlBackend {
    /// Wraps a pooled or dedicated connection of this backend.
    fn connection(&self, conn: Held<SqlxConnector<MySqlConnectOptions>>) -> MySqlConnection {
        MySqlConnection {
            conn,
            system: self.system,
            capabilities: self.capabilities.clone(),
            target: std::sync::Arc::clone(&self.target),
            busy: false,
            reset_after_transaction: None,
        }
    }

    /// Opens a pool for a `mysql://` or `mariadb://` URL and reads the server version from
    /// a first connection.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a URL sqlx cannot parse, and the connection error when the
    /// server cannot be reached.
    pub async fn connect(url: &str, settings: &crate::ConnectOptions) -> Result<Self> {
        // sqlx accepts only the `mysql` scheme, and MariaDB speaks the same protocol.
        let sqlx_url = match url.strip_prefix("mariadb:") {
            Some(rest) => format!("mysql:{rest}"),
            None => url.to_owned(),
        };
        let options =
            MySqlConnectOptions::from_str(&sqlx_url).map_err(|error| Error::InvalidUrl {
                url: crate::error::redact_url(url),
                reason: crate::database::scrub(&error.to_string(), url),
            })?;
        let namespace = options.get_database().map(str::to_owned);
        let connector = SqlxConnector::new(options, crate::error::redact_url(url));
        let connector = settings.apply_after_connect(connector);
        let target = std::sync::Arc::from(connector.label());
        let mut backend = Self {
            pool: Pool::new(connector, settings.pool_config().clone()),
            namespace,
            target,
            system: "mysql",
            statements: StatementCache::default(),
            capabilities: Capabilities::new(
                false,
                MAX_BIND_PARAMETERS,
                UpsertStyle::OnDuplicateKey,
                true,
            ),
        };
        // MySQL rejects NaN with an out-of-range error; covet rejects it first with a clear one.
        backend.capabilities.stores_nan = false;
        let settings = backend.server_settings().await;
        let (version, max_packet) =
            settings.map_err(|error| crate::database::scrub_error(error, url))?;
        backend.capabilities.max_statement_bytes = Some(max_packet);
        if let Some(mariadb) = mariadb_version(&version) {
            backend.system = "mariadb";
            backend.capabilities.insert_returning = mariadb >= (10, 5);
        }
        Ok(backend)
    }

    /// Reads the server version and `max_allowed_packet`, the largest statement it accepts.
    async fn server_settings(&self) -> Result<(String, usize)> {
        let mut conn = self.acquire().await?;
        let mut version = None;
        let mut max_packet = None;
        let mut read = |row: &dyn RowReader| {
            version = row.read_string(0)?;
            max_packet = row.read_u64(1)?;
            Ok(())
        };
        let sql = "SELECT VERSION(), CAST(@@max_allowed_packet AS UNSIGNED)";
        traced_probe(self, conn.as_mut(), sql, &mut read).await?;
        // 16 MiB is the server default when the setting cannot be read.
        let max_packet = max_packet
            .and_then(|bytes| usize::try_from(bytes).ok())
            .unwrap_or(16 * 1024 * 1024);
        Ok((version.unwrap_or_default(), max_packet))
    }
}

/// Returns MariaDB's (major, minor) version from a `VERSION()` string such as
/// `10.11.6-MariaDB-0+deb12u1`, or `None` for MySQL.
fn mariadb_version(version: &str) -> Option<(u32, u32)> {
    if !version.contains("MariaDB") {
        return None;
    }
    let mut parts = version.split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[async_trait]
impl Backend for MySqlBackend {
    fn system_name(&self) -> &'static str {
        self.system
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
            QueryStatement::Select(select) => select.build(MysqlQueryBuilder),
            QueryStatement::Insert(insert) => insert.build(MysqlQueryBuilder),
            // sea-query's MySQL builder writes no RETURNING clause, so MariaDB's is appended.
            QueryStatement::InsertReturning(insert, columns) => {
                let (mut sql, values) = insert.build(MysqlQueryBuilder);
                let quoted: Vec<String> = columns
                    .iter()
                    .map(|column| format!("`{}`", column.replace('`', "``")))
                    .collect();
                sql.push_str(" RETURNING ");
                sql.push_str(&quoted.join(", "));
                (sql, values)
            }
            QueryStatement::Update(update) => update.build(MysqlQueryBuilder),
            QueryStatement::Delete(delete) => delete.build(MysqlQueryBuilder),
        }
    }

    fn render_schema(&self, statement: &SchemaStatement) -> String {
        match statement {
            SchemaStatement::CreateTable(create) => create.build(MysqlQueryBuilder),
            SchemaStatement::DropTable(drop) => drop.build(MysqlQueryBuilder),
            SchemaStatement::CreateIndex(index) => index.build(MysqlQueryBuilder),
        }
    }

    fn column_type(&self, sql_type: SqlType, key: bool) -> &'static str {
        match sql_type {
            SqlType::Bool => "BOOLEAN",
            SqlType::SmallInt => "SMALLINT",
            SqlType::Int => "INT",
            SqlType::BigInt => "BIGINT",
            SqlType::BigUnsigned => "BIGINT UNSIGNED",
            SqlType::Float => "FLOAT",
            SqlType::Double => "DOUBLE",
            // Key columns need a bounded length to be indexed.
            SqlType::Text if key => "VARCHAR(255)",
            SqlType::Text => "LONGTEXT",
            SqlType::Bytes if key => "VARBINARY(255)",
            SqlType::Bytes => "LONGBLOB",
            SqlType::TimestampUtc | SqlType::Timestamp => "DATETIME(6)",
            SqlType::Date => "DATE",
            SqlType::Uuid => "BINARY(16)",
            // MySQL decimals have a fixed scale per column. 28 is rust_decimal's maximum
            // scale, which leaves 37 digits before the point.
            SqlType::Decimal => "DECIMAL(65, 28)",
            SqlType::Json => "JSON",
        }
    }

    fn auto_increment_column(&self, sql_type: SqlType) -> AutoIncrementColumn {
        let type_sql = match sql_type {
            SqlType::SmallInt => "SMALLINT AUTO_INCREMENT",
            SqlType::Int => "INT AUTO_INCREMENT",
            SqlType::BigUnsigned => "BIGINT UNSIGNED AUTO_INCREMENT",
            _ => "BIGINT AUTO_INCREMENT",
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

pooled_backend_methods!(MySqlBackend, system: |backend: &MySqlBackend| backend.system);

sqlx_connection!(
    MySqlConnection,
    options: MySqlConnectOptions,
    database: MySql,
    row_reader: MySqlRowReader,
    classify: classify,
    prepare: utc_as_naive,
    begin: None,
    begin_plan: begin_plan,
);

/// Builds `SET TRANSACTION ISOLATION LEVEL ...` and `START TRANSACTION [READ ONLY]`. Without
/// `SESSION` or `GLOBAL`, the level applies to the next transaction only.
fn begin_plan(options: &TransactionOptions) -> BeginPlan {
    let prepare = options
        .get_isolation()
        .map(|level| format!("SET TRANSACTION ISOLATION LEVEL {}", level.as_sql()));
    let begin = if options.is_read_only() {
        "START TRANSACTION READ ONLY"
    } else {
        "START TRANSACTION"
    };
    BeginPlan {
        prepare,
        begin: begin.to_owned(),
        reset: None,
    }
}

/// Binds `DateTime<Utc>` values as DATETIME. sqlx sends them as TIMESTAMP, which MariaDB
/// turns into NULL outside 1970-2038. sqlx sets the session time zone to UTC, so the stored
/// value is the same.
fn utc_as_naive(values: Values) -> Values {
    let converted = values
        .0
        .into_iter()
        .map(|value| match value {
            sea_query::Value::ChronoDateTimeUtc(time) => {
                sea_query::Value::ChronoDateTime(time.map(|time| time.naive_utc()))
            }
            other => other,
        })
        .collect();
    Values(converted)
}

fn last_insert_id(done: &MySqlQueryResult) -> Option<i64> {
    i64::try_from(done.last_insert_id())
        .ok()
        .filter(|id| *id != 0)
}

/// Maps MySQL and MariaDB error numbers to error kinds, and reads the constraint name from
/// the message, the only place these servers report it.
fn classify(error: &dyn SqlxDatabaseError) -> Classified {
    let Some(mysql) = error.try_downcast_ref::<MySqlDatabaseError>() else {
        return Classified::default();
    };
    let message = mysql.message();
    let (kind, constraint) = match mysql.number() {
        1062 | 1586 => (
            ErrorKind::UniqueViolation,
            between(message, "for key ", '\'', '\''),
        ),
        1216 | 1217 | 1451 | 1452 => (
            ErrorKind::ForeignKeyViolation,
            between(message, "CONSTRAINT ", '`', '`'),
        ),
        // 4025 is MariaDB's CONSTRAINT_FAILED, 3819 MySQL's check constraint error.
        4025 => (
            ErrorKind::CheckViolation,
            between(message, "CONSTRAINT ", '`', '`'),
        ),
        3819 => (
            ErrorKind::CheckViolation,
            between(message, "constraint ", '\'', '\''),
        ),
        1048 | 1364 => (ErrorKind::NotNullViolation, None),
        1213 | 1205 => (ErrorKind::Deadlock, None),
        // 1792: a write in a READ ONLY transaction.
        1792 => (ErrorKind::ReadOnly, None),
        // 1927: MariaDB's "connection was killed"; 1053: the server is shutting down.
        1927 | 1053 => (ErrorKind::Connection, None),
        _ => (ErrorKind::OtherDatabase, None),
    };
    // MySQL 8 writes the key as `table.key`; keep the key name alone.
    let constraint = constraint.map(|name| name.rsplit('.').next().unwrap_or(name).to_owned());
    Classified {
        kind: Some(kind),
        code: Some(mysql.number().to_string()),
        constraint,
        table: None,
    }
}

struct MySqlRowReader<'a>(&'a MySqlRow);

impl RowReader for MySqlRowReader<'_> {
    common_row_reader_methods!();

    fn read_i64(&self, index: usize) -> Result<Option<i64>> {
        // MySQL sums integers into DECIMAL, so `SUM` of an integer column arrives as one.
        // It is read exactly, and a sum outside i64 is a decode error, not a clamped value.
        let column = self.column_name(index);
        let is_decimal = sqlx::Row::columns(self.0).get(index).is_some_and(|info| {
            let name = sqlx::TypeInfo::name(sqlx::Column::type_info(info));
            name.eq_ignore_ascii_case("DECIMAL")
        });
        if !is_decimal {
            return read_column!(self.0, index, i64);
        }
        let Some(value) = self.read_decimal(index)? else {
            return Ok(None);
        };
        if !value.fract().is_zero() {
            return Err(crate::error::Error::decode(
                column,
                format!("{value} has a fraction; read it as Decimal or f64"),
            ));
        }
        rust_decimal::prelude::ToPrimitive::to_i64(&value)
            .map(Some)
            .ok_or_else(|| {
                crate::error::Error::decode(
                    column,
                    format!("{value} is outside the range of i64; read it as Decimal"),
                )
            })
    }

    fn read_u64(&self, index: usize) -> Result<Option<u64>> {
        read_column!(self.0, index, u64)
    }

    fn read_decimal(&self, index: usize) -> Result<Option<rust_decimal::Decimal>> {
        // Decimals arrive as text. A column scale above what a value needs pads it with
        // zeros, which are dropped only when the padded text does not fit Decimal.
        // sqlx's String type check rejects DECIMAL columns, whose values arrive as text.
        let text: Option<String> = sqlx::Row::try_get_unchecked(self.0, index)
            .map_err(|error| crate::error::Error::decode(self.column_name(index), error))?;
        let column = self.column_name(index);
        match parse_decimal(column, text.clone()) {
            Ok(value) => Ok(value),
            Err(error) => match text.as_deref().and_then(trim_fraction_zeros) {
                Some(trimmed) => parse_decimal(column, Some(trimmed)).map_err(|_| error),
                None => Err(error),
            },
        }
    }

    fn read_json(&self, index: usize) -> Result<Option<serde_json::Value>> {
        // MariaDB stores JSON as LONGTEXT, so read text on both servers and parse it here.
        let text = read_column!(self.0, index, String)?;
        parse_json(self.column_name(index), text)
    }
}

fn trim_fraction_zeros(text: &str) -> Option<String> {
    if !text.contains('.') {
        return None;
    }
    let trimmed = text.trim_end_matches('0').trim_end_matches('.');
    (trimmed.len() < text.len()).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mariadb_version_parses_debian_string() {
        assert_eq!(mariadb_version("10.11.6-MariaDB-0+deb12u1"), Some((10, 11)));
    }

    #[test]
    fn mariadb_version_rejects_mysql() {
        assert_eq!(mariadb_version("8.0.36"), None);
    }

    #[test]
    fn trim_fraction_zeros_keeps_integer_part() {
        assert_eq!(trim_fraction_zeros("100.5000").as_deref(), Some("100.5"));
        assert_eq!(trim_fraction_zeros("100.000").as_deref(), Some("100"));
        assert_eq!(trim_fraction_zeros("100"), None);
    }
}
