//! Applying and reverting one migration on the runner's connection.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use covet::{Connection, Executor, Transaction};
use futures_util::FutureExt;
use tracing::Instrument;

use crate::checksum::{checksum, normalize};
use crate::error::{MigrateError, Result};
use crate::history::{History, HistoryRow, RowState};
use crate::lexer::{Dialect, split_statements};
use crate::migration::{Body, Migration};

/// The runner's connection, its backend's SQL dialect and the history table.
pub(crate) struct Session {
    pub(crate) conn: Connection,
    pub(crate) dialect: Dialect,
    pub(crate) history: History,
    /// How long to wait for another runner.
    pub(crate) lock_timeout: std::time::Duration,
}

/// Whether a migration runs forward or backward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Up,
    Down,
}

pub(crate) fn dialect_of(system: &str) -> Dialect {
    match system {
        "postgresql" => Dialect::Postgres,
        "mysql" | "mariadb" => Dialect::MySql,
        _ => Dialect::Sqlite,
    }
}

/// Splits a migration's SQL into statements.
pub(crate) fn statements_of(
    migration: &Migration,
    sql: &str,
    dialect: Dialect,
) -> Result<Vec<String>> {
    // Split the text the checksum covers: without a BOM and with LF line endings, so that a
    // `--` comment ends at a lone CR too.
    let normalized = String::from_utf8_lossy(&normalize(sql.as_bytes())).into_owned();
    let statements =
        split_statements(&normalized, dialect).map_err(|error| MigrateError::Parse {
            version: migration.version,
            name: migration.name.clone(),
            message: error.to_string(),
        })?;
    Ok(statements
        .into_iter()
        .map(|statement| statement.text)
        .collect())
}

/// Returns the checksum of the first `count` statements, recorded as they commit so that a
/// resume can tell whether they were edited since.
pub(crate) fn committed_checksum(statements: &[String], count: usize) -> String {
    checksum(statements[..count].join("\n;\n").as_bytes())
}

/// Returns whether a SQL migration runs statement by statement, committing each: files
/// marked `no-transaction`, and every SQL file on MySQL, where DDL commits implicitly.
pub(crate) fn runs_stepwise(migration: &Migration, dialect: Dialect) -> bool {
    match &migration.body {
        Body::Sql { no_transaction, .. } => *no_transaction || dialect == Dialect::MySql,
        Body::Rust(_) => false,
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

impl Session {
    /// Begins the transaction a migration runs in. On SQLite it takes the write lock at
    /// once, which serializes concurrent runners.
    async fn begin(&self) -> Result<Transaction> {
        if self.dialect != Dialect::Sqlite {
            return Ok(self.conn.begin().await?);
        }
        // SQLite's busy timeout ends each wait for the write lock after 5 s. Keep waiting
        // until the runner's own lock timeout, as the other backends' locks do.
        let started = Instant::now();
        loop {
            match self.conn.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => return Ok(tx),
                Err(error)
                    if error.kind() == covet::ErrorKind::Deadlock
                        && started.elapsed() < self.lock_timeout =>
                {
                    tracing::info!(target: "covet::migrate", "waiting for SQLite's write lock held by another runner");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(error) if error.kind() == covet::ErrorKind::Deadlock => {
                    return Err(MigrateError::LockTimeout {
                        waited: started.elapsed(),
                        holder: String::from("another connection writing to the SQLite file"),
                    });
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Returns whether another runner recorded `version` while this one waited for the
    /// write lock. Only SQLite runners can race this far.
    async fn recorded_meanwhile(&self, tx: &Transaction, version: i64) -> Result<bool> {
        if self.dialect != Dialect::Sqlite {
            return Ok(false);
        }
        let rows = self.history.read(tx).await?;
        Ok(rows.iter().any(|row| row.version == version))
    }

    /// Applies `migration` and records it as number `order`. Returns false when another
    /// runner applied it first.
    pub(crate) async fn apply(&self, migration: &Migration, order: i64) -> Result<bool> {
        let span = tracing::info_span!(
            target: "covet::migrate",
            "migration",
            version = migration.version,
            name = %migration.name,
            direction = "up"
        );
        self.apply_in_span(migration, order).instrument(span).await
    }

    async fn apply_in_span(&self, migration: &Migration, order: i64) -> Result<bool> {
        let started = Instant::now();
        let applied = match &migration.body {
            Body::Sql { up, .. } => {
                let statements = statements_of(migration, up, self.dialect)?;
                if runs_stepwise(migration, self.dialect) {
                    let row = HistoryRow::new(
                        migration.version,
                        &migration.name,
                        &migration.checksum,
                        RowState::Running,
                        order,
                    );
                    self.history.insert(&self.conn, &row).await?;
                    self.run_stepwise(migration, &statements, row, 0).await?;
                    true
                } else {
                    self.run_in_transaction(migration, order, Direction::Up, &statements)
                        .await?
                }
            }
            Body::Rust(_) => {
                self.run_in_transaction(migration, order, Direction::Up, &[])
                    .await?
            }
        };
        if applied {
            tracing::info!(target: "covet::migrate", version = migration.version, name = %migration.name, duration_ms = elapsed_ms(started), "applied migration");
        }
        Ok(applied)
    }

    /// Reverts `migration` and deletes its history row.
    pub(crate) async fn revert(&self, migration: &Migration) -> Result<()> {
        let span = tracing::info_span!(
            target: "covet::migrate",
            "migration",
            version = migration.version,
            name = %migration.name,
            direction = "down"
        );
        self.revert_in_span(migration).instrument(span).await
    }

    async fn revert_in_span(&self, migration: &Migration) -> Result<()> {
        let started = Instant::now();
        match &migration.body {
            Body::Sql {
                down: Some(down), ..
            } => {
                let statements = statements_of(migration, down, self.dialect)?;
                if runs_stepwise(migration, self.dialect) {
                    self.revert_stepwise(migration, &statements).await?;
                    self.history.delete(&self.conn, migration.version).await?;
                } else {
                    self.run_in_transaction(migration, 0, Direction::Down, &statements)
                        .await?;
                }
            }
            Body::Sql { down: None, .. } => {
                return Err(MigrateError::NoDown {
                    version: migration.version,
                    name: migration.name.clone(),
                    rust: false,
                });
            }
            Body::Rust(_) => {
                self.run_in_transaction(migration, 0, Direction::Down, &[])
                    .await?;
            }
        }
        tracing::info!(target: "covet::migrate", version = migration.version, name = %migration.name, duration_ms = elapsed_ms(started), "reverted migration");
        Ok(())
    }

    /// Runs a down file statement by statement. A failure marks the history row failed,
    /// so that `status` shows it and later runs stop until someone decides.
    async fn revert_stepwise(&self, migration: &Migration, statements: &[String]) -> Result<()> {
        for (index, statement) in statements.iter().enumerate() {
            let outcome = covet::raw(statement.clone())
                .execute_unprepared(&self.conn)
                .await;
            let Err(error) = outcome else { continue };
            let rows = self.history.read(&self.conn).await?;
            if let Some(mut row) = rows
                .into_iter()
                .find(|row| row.version == migration.version)
            {
                row.state = RowState::Failed;
                row.error = Some(format!(
                    "reverting failed at statement {} of the down file: {error}",
                    index + 1
                ));
                self.history.update(&self.conn, &row).await?;
            }
            return Err(MigrateError::RevertFailed {
                version: migration.version,
                name: migration.name.clone(),
                failed_statement: i64::try_from(index + 1).unwrap_or(i64::MAX),
                statements: i64::try_from(statements.len()).unwrap_or(i64::MAX),
                error: error.to_string(),
            });
        }
        Ok(())
    }

    /// Runs a migration and its history change in one transaction. Returns false when
    /// another runner applied it first.
    async fn run_in_transaction(
        &self,
        migration: &Migration,
        order: i64,
        direction: Direction,
        statements: &[String],
    ) -> Result<bool> {
        let started = Instant::now();
        let tx = self.begin().await?;
        if direction == Direction::Up && self.recorded_meanwhile(&tx, migration.version).await? {
            tx.rollback().await?;
            return Ok(false);
        }
        let failed = |source: covet::Error| MigrateError::Failed {
            version: migration.version,
            name: migration.name.clone(),
            source: Box::new(source),
        };
        for statement in statements {
            let outcome = covet::raw(statement.clone()).execute_unprepared(&tx).await;
            outcome.map_err(failed)?;
        }
        if let Body::Rust(code) = &migration.body {
            let run = match direction {
                Direction::Up => code.up(&tx),
                Direction::Down => code.down(&tx),
            };
            match AssertUnwindSafe(run).catch_unwind().await {
                Ok(result) => result.map_err(failed)?,
                Err(panic) => {
                    let message = panic_message(panic.as_ref());
                    tx.rollback().await?;
                    return Err(MigrateError::Panicked {
                        version: migration.version,
                        name: migration.name.clone(),
                        message,
                    });
                }
            }
        }
        match direction {
            Direction::Up => {
                let mut row = HistoryRow::new(
                    migration.version,
                    &migration.name,
                    &migration.checksum,
                    RowState::Applied,
                    order,
                );
                row.duration_ms = elapsed_ms(started);
                self.history.insert(&tx, &row).await?;
            }
            Direction::Down => self.history.delete(&tx, migration.version).await?,
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Runs statements from `start` on, committing each and recording progress in `row`.
    pub(crate) async fn run_stepwise(
        &self,
        migration: &Migration,
        statements: &[String],
        mut row: HistoryRow,
        start: usize,
    ) -> Result<()> {
        let started = Instant::now();
        row.statements = i64::try_from(statements.len()).unwrap_or(i64::MAX);
        for (index, statement) in statements.iter().enumerate().skip(start) {
            let outcome = covet::raw(statement.clone())
                .execute_unprepared(&self.conn)
                .await;
            if let Err(error) = outcome {
                row.state = RowState::Failed;
                row.error = Some(error.to_string());
                self.history.update(&self.conn, &row).await?;
                tracing::error!(target: "covet::migrate", version = migration.version, statement = index + 1, %error, "migration statement failed");
                return Err(MigrateError::Dirty {
                    version: migration.version,
                    name: migration.name.clone(),
                    failed_statement: row.statements_done + 1,
                    statements: row.statements,
                    committed: row.statements_done,
                    error: error.to_string(),
                });
            }
            row.statements_done = i64::try_from(index + 1).unwrap_or(i64::MAX);
            row.committed_checksum = Some(committed_checksum(statements, index + 1));
            self.history.update(&self.conn, &row).await?;
        }
        row.state = RowState::Applied;
        row.error = None;
        row.checksum = migration.checksum.clone();
        row.duration_ms += elapsed_ms(started);
        self.history.update(&self.conn, &row).await?;
        Ok(())
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        String::from("a panic without a message")
    }
}
