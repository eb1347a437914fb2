//! The history table: one row per applied, failed or baselined migration.

use chrono::{DateTime, Utc};
use covet::backend::{QueryStatement, SchemaStatement, Statement};
use covet::sea_query::{
    Alias, ColumnDef, Expr, ExprTrait, IntoTableRef, Order, Query, Table, TableRef, Value,
};
use covet::{Executor, RowReader, SqlType};

use crate::checksum::ALGORITHM;
use crate::error::{MigrateError, Result};

/// The state of a history row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowState {
    /// Applied by the runner.
    Applied,
    /// Being applied statement by statement; a run that stops here was interrupted.
    Running,
    /// Stopped at a failed statement; needs `resume` or `resolve`.
    Failed,
    /// Finished by hand after a failure and marked with `resolve`.
    Resolved,
    /// Marked as applied by `baseline` without running.
    Baseline,
}

impl RowState {
    fn as_str(self) -> &'static str {
        match self {
            RowState::Applied => "applied",
            RowState::Running => "running",
            RowState::Failed => "failed",
            RowState::Resolved => "resolved",
            RowState::Baseline => "baseline",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            RowState::Applied,
            RowState::Running,
            RowState::Failed,
            RowState::Resolved,
            RowState::Baseline,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }

    /// Returns whether the migration counts as done.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            RowState::Applied | RowState::Resolved | RowState::Baseline
        )
    }
}

/// One row of the history table.
#[derive(Clone, Debug, serde::Serialize)]
pub struct HistoryRow {
    /// The migration version.
    pub version: i64,
    /// The migration name.
    pub name: String,
    /// The checksum of the migration's text when it was applied or accepted.
    pub checksum: String,
    /// The checksum algorithm.
    pub checksum_algorithm: String,
    /// The row's state.
    pub state: RowState,
    /// The position in the order migrations were applied, from 1.
    pub applied_order: i64,
    /// When the row was last written.
    pub applied_at: DateTime<Utc>,
    /// How long applying took, in milliseconds.
    pub duration_ms: i64,
    /// How many statements the migration has, for migrations run statement by statement.
    pub statements: i64,
    /// How many statements were committed.
    pub statements_done: i64,
    /// The checksum of the committed statements, checked before a resume.
    pub committed_checksum: Option<String>,
    /// The error that stopped the migration.
    pub error: Option<String>,
    /// A note: the reason given to `accept` or `resolve`.
    pub note: Option<String>,
}

const COLUMNS: [&str; 13] = [
    "version",
    "name",
    "checksum",
    "checksum_algorithm",
    "state",
    "applied_order",
    "applied_at",
    "duration_ms",
    "statements",
    "statements_done",
    "committed_checksum",
    "error",
    "note",
];

/// The history table's name and the statements that read and write it.
#[derive(Clone, Debug)]
pub(crate) struct History {
    schema: Option<String>,
    table: String,
}

impl History {
    /// Checks a table name, optionally schema-qualified (`schema.table`).
    pub(crate) fn new(name: &str) -> Result<Self> {
        let valid = |part: &str| {
            !part.is_empty()
                && part.len() <= 63
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        let (schema, table) = match name.split_once('.') {
            Some((schema, table)) => (Some(schema), table),
            None => (None, name),
        };
        if !valid(table) || !schema.is_none_or(valid) {
            return Err(MigrateError::InvalidRequest(format!(
                "`{name}` is not a valid history table name; use letters, digits and \
                 underscores, optionally as schema.table"
            )));
        }
        Ok(Self {
            schema: schema.map(str::to_owned),
            table: table.to_owned(),
        })
    }

    /// Returns the name as given, `schema.table` or `table`.
    pub(crate) fn name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.table),
            None => self.table.clone(),
        }
    }

    fn table_ref(&self) -> TableRef {
        match &self.schema {
            Some(schema) => (Alias::new(schema), Alias::new(&self.table)).into_table_ref(),
            None => Alias::new(&self.table).into_table_ref(),
        }
    }

    /// Creates the table if it does not exist.
    pub(crate) async fn ensure<E: Executor + ?Sized>(&self, db: &E) -> Result<()> {
        let backend = db.backend();
        let column = |name: &str, sql_type: SqlType, key: bool, null: bool| {
            let mut def = ColumnDef::new(Alias::new(name));
            def.custom(Alias::new(backend.column_type(sql_type, key)));
            if !null {
                def.not_null();
            }
            def
        };
        let mut create = Table::create();
        create
            .table(self.table_ref())
            .if_not_exists()
            .col(column("version", SqlType::BigInt, true, false).primary_key())
            .col(column("name", SqlType::Text, false, false))
            .col(column("checksum", SqlType::Text, false, false))
            .col(column("checksum_algorithm", SqlType::Text, false, false))
            .col(column("state", SqlType::Text, false, false))
            .col(column("applied_order", SqlType::BigInt, false, false))
            .col(column("applied_at", SqlType::TimestampUtc, false, false))
            .col(column("duration_ms", SqlType::BigInt, false, false))
            .col(column("statements", SqlType::BigInt, false, false))
            .col(column("statements_done", SqlType::BigInt, false, false))
            .col(column("committed_checksum", SqlType::Text, false, true))
            .col(column("error", SqlType::Text, false, true))
            .col(column("note", SqlType::Text, false, true));
        let sql = backend.render_schema(&SchemaStatement::CreateTable(&create));
        let statement = Statement::new(sql, covet::sea_query::Values(Vec::new()), "CREATE TABLE");
        db.execute(statement).await?;
        Ok(())
    }

    /// Returns whether the table exists.
    pub(crate) async fn exists<E: Executor + ?Sized>(&self, db: &E) -> Result<bool> {
        let exists = match db.backend().system_name() {
            "postgresql" => {
                // Compare the name as written: the table is created with a quoted name, so
                // its case is kept.
                let sql = "SELECT COUNT(*) FROM information_schema.tables \
                           WHERE table_schema = COALESCE($1, current_schema()) \
                           AND table_name = $2";
                let count = covet::raw(sql)
                    .bind(self.schema.clone())
                    .bind(self.table.clone())
                    .fetch_scalar::<i64, _>(db)
                    .await?;
                count.unwrap_or(0) > 0
            }
            "mysql" | "mariadb" => {
                let sql = "SELECT COUNT(*) FROM information_schema.TABLES \
                           WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?";
                let count = covet::raw(sql)
                    .bind(self.schema.clone())
                    .bind(self.table.clone())
                    .fetch_scalar::<i64, _>(db)
                    .await?;
                count.unwrap_or(0) > 0
            }
            _ => {
                let sql = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?";
                let count = covet::raw(sql)
                    .bind(self.table.clone())
                    .fetch_scalar::<i64, _>(db)
                    .await?;
                count.unwrap_or(0) > 0
            }
        };
        Ok(exists)
    }

    /// Reads every row, in applied order.
    pub(crate) async fn read<E: Executor + ?Sized>(&self, db: &E) -> Result<Vec<HistoryRow>> {
        let mut select = Query::select();
        select
            .columns(COLUMNS.map(Alias::new))
            .from(self.table_ref())
            .order_by(Alias::new("applied_order"), Order::Asc);
        let (sql, values) = db.backend().render(&QueryStatement::Select(&select));
        let mut rows = Vec::new();
        db.fetch(Statement::new(sql, values, "SELECT"), &mut |row| {
            rows.push(decode_row(row)?);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Inserts a row.
    pub(crate) async fn insert<E: Executor + ?Sized>(
        &self,
        db: &E,
        row: &HistoryRow,
    ) -> Result<()> {
        let mut insert = Query::insert();
        insert
            .into_table(self.table_ref())
            .columns(COLUMNS.map(Alias::new))
            .values_panic(row_values(row).map(Expr::val));
        let (sql, values) = db.backend().render(&QueryStatement::Insert(&insert));
        db.execute(Statement::new(sql, values, "INSERT")).await?;
        Ok(())
    }

    /// Overwrites the row with the same version.
    pub(crate) async fn update<E: Executor + ?Sized>(
        &self,
        db: &E,
        row: &HistoryRow,
    ) -> Result<()> {
        let mut update = Query::update();
        update.table(self.table_ref());
        for (column, value) in COLUMNS.into_iter().zip(row_values(row)).skip(1) {
            update.value(Alias::new(column), value);
        }
        update.and_where(Expr::col(Alias::new("version")).eq(row.version));
        let (sql, values) = db.backend().render(&QueryStatement::Update(&update));
        db.execute(Statement::new(sql, values, "UPDATE")).await?;
        Ok(())
    }

    /// Deletes the row of `version`.
    pub(crate) async fn delete<E: Executor + ?Sized>(&self, db: &E, version: i64) -> Result<()> {
        let mut delete = Query::delete();
        delete
            .from_table(self.table_ref())
            .and_where(Expr::col(Alias::new("version")).eq(version));
        let (sql, values) = db.backend().render(&QueryStatement::Delete(&delete));
        db.execute(Statement::new(sql, values, "DELETE")).await?;
        Ok(())
    }
}

impl HistoryRow {
    /// Creates a row for a migration about to be recorded.
    pub(crate) fn new(
        version: i64,
        name: &str,
        checksum: &str,
        state: RowState,
        order: i64,
    ) -> Self {
        Self {
            version,
            name: name.to_owned(),
            checksum: checksum.to_owned(),
            checksum_algorithm: ALGORITHM.to_owned(),
            state,
            applied_order: order,
            applied_at: Utc::now(),
            duration_ms: 0,
            statements: 0,
            statements_done: 0,
            committed_checksum: None,
            error: None,
            note: None,
        }
    }
}

fn row_values(row: &HistoryRow) -> [Value; 13] {
    [
        Value::BigInt(Some(row.version)),
        Value::String(Some(row.name.clone())),
        Value::String(Some(row.checksum.clone())),
        Value::String(Some(row.checksum_algorithm.clone())),
        Value::String(Some(row.state.as_str().to_owned())),
        Value::BigInt(Some(row.applied_order)),
        Value::ChronoDateTimeUtc(Some(row.applied_at)),
        Value::BigInt(Some(row.duration_ms)),
        Value::BigInt(Some(row.statements)),
        Value::BigInt(Some(row.statements_done)),
        Value::String(row.committed_checksum.clone()),
        Value::String(row.error.clone()),
        Value::String(row.note.clone()),
    ]
}

fn required<T>(row: &dyn RowReader, index: usize, value: Option<T>) -> covet::Result<T> {
    value.ok_or_else(|| covet::Error::Decode {
        column: row.column_name(index).to_owned(),
        message: String::from("unexpected NULL in the migration history table"),
    })
}

fn decode_row(row: &dyn RowReader) -> covet::Result<HistoryRow> {
    let text = |index| -> covet::Result<String> { required(row, index, row.read_string(index)?) };
    let number = |index| -> covet::Result<i64> { required(row, index, row.read_i64(index)?) };
    let state_text = text(4)?;
    let state = RowState::parse(&state_text).ok_or_else(|| covet::Error::Decode {
        column: String::from("state"),
        message: format!("`{state_text}` is not a migration state"),
    })?;
    Ok(HistoryRow {
        version: number(0)?,
        name: text(1)?,
        checksum: text(2)?,
        checksum_algorithm: text(3)?,
        state,
        applied_order: number(5)?,
        applied_at: required(row, 6, row.read_datetime_utc(6)?)?,
        duration_ms: number(7)?,
        statements: number(8)?,
        statements_done: number(9)?,
        committed_checksum: row.read_string(10)?,
        error: row.read_string(11)?,
        note: row.read_string(12)?,
    })
}
