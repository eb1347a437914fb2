//! The [`Migrator`]: the commands that compare, apply and revert migrations.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use covet::{Database, Executor};
use futures_util::FutureExt;

use crate::apply::{Session, committed_checksum, dialect_of, runs_stepwise, statements_of};
use crate::error::{MigrateError, Result};
use crate::history::{History, HistoryRow, RowState};
use crate::lexer::{Dialect, needs_no_transaction, transaction_control};
use crate::lock::MigrationLock;
use crate::migration::{Body, Migration};
use crate::report::{Done, Drift, EntryState, Plan, PlanStep, Report, Status, StatusEntry};
use crate::source::MigrationSet;

/// The default history table name.
pub const DEFAULT_HISTORY_TABLE: &str = "covet_migrations";

/// Settings of a [`Migrator`].
#[derive(Clone, Debug)]
pub struct MigratorOptions {
    history_table: String,
    strict_order: bool,
    lock_timeout: Duration,
    lock_key: Option<String>,
}

impl Default for MigratorOptions {
    fn default() -> Self {
        Self {
            history_table: String::from(DEFAULT_HISTORY_TABLE),
            strict_order: false,
            lock_timeout: Duration::from_secs(60),
            lock_key: None,
        }
    }
}

impl MigratorOptions {
    /// Sets the history table, `table` or `schema.table`. Default: `covet_migrations`.
    pub fn history_table(mut self, name: impl Into<String>) -> Self {
        self.history_table = name.into();
        self
    }

    /// Rejects a pending migration older than the newest applied one, instead of applying
    /// it with a warning. Default: off.
    pub fn strict_order(mut self, strict: bool) -> Self {
        self.strict_order = strict;
        self
    }

    /// Sets how long to wait for another runner's lock. Default: 60 s.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Overrides the lock key. By default it is derived from the database, schema and
    /// history table, so runners of unrelated schemas do not wait for each other (unless
    /// two keys collide in the 63 bits PostgreSQL's advisory lock keeps).
    pub fn lock_key(mut self, key: impl Into<String>) -> Self {
        self.lock_key = Some(key.into());
        self
    }
}

/// The migrations `down` reverts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DownTarget {
    /// The last N applied migrations, newest first.
    Steps(usize),
    /// Every applied migration with a version above this one, newest first.
    To(i64),
}

/// Applies, reverts and inspects a [`MigrationSet`] on a database.
///
/// Every command that writes takes the migration lock on a connection of its own, not one
/// from the pool, and holds it for the whole run. It releases the lock on every path, errors
/// and panics included, and closing that connection releases it as well.
#[derive(Clone, Debug)]
pub struct Migrator {
    set: MigrationSet,
    options: MigratorOptions,
}

/// Runs `$body` with a locked session and releases the lock afterwards, even on a panic.
macro_rules! locked {
    ($migrator:expr, $db:expr, |$session:ident| $body:expr) => {{
        let ($session, lock) = $migrator.open($db).await?;
        let outcome = AssertUnwindSafe(async { $body }).catch_unwind().await;
        $migrator.close(&$session, &lock).await;
        match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }};
}

impl Migrator {
    /// Creates a runner with default options.
    pub fn new(set: MigrationSet) -> Self {
        Self::with_options(set, MigratorOptions::default())
    }

    /// Creates a runner with options.
    pub fn with_options(set: MigrationSet, options: MigratorOptions) -> Self {
        Self { set, options }
    }

    /// Returns the migrations.
    pub fn migrations(&self) -> &MigrationSet {
        &self.set
    }

    fn history(&self) -> Result<History> {
        History::new(&self.options.history_table)
    }

    /// Opens the runner's own connection, takes the lock, and makes sure the history table
    /// exists.
    async fn open(&self, db: &Database) -> Result<(Session, MigrationLock)> {
        let history = self.history()?;
        let conn = db.dedicated_connection().await?;
        let dialect = dialect_of(conn.backend().system_name());
        let lock =
            MigrationLock::for_connection(&conn, &history.name(), self.options.lock_key.as_deref())
                .await?;
        lock.acquire(&conn, self.options.lock_timeout).await?;
        let session = Session {
            conn,
            dialect,
            history,
            lock_timeout: self.options.lock_timeout,
        };
        if let Err(error) = session.history.ensure(&session.conn).await {
            self.close(&session, &lock).await;
            return Err(error);
        }
        Ok((session, lock))
    }

    async fn close(&self, session: &Session, lock: &MigrationLock) {
        if let Err(error) = lock.release(&session.conn).await {
            // The connection closes when the session is dropped, which releases it as well.
            tracing::warn!(target: "covet::migrate", %error, "releasing the migration lock failed");
        }
    }

    /// Reads the history without creating the table: a missing table is an empty history.
    /// It reads on the primary, because a read replica may not have replayed the latest
    /// migrations yet.
    async fn read_history(&self, db: &Database) -> Result<Vec<HistoryRow>> {
        let history = self.history()?;
        let primary = db.primary();
        if !history.exists(&primary).await? {
            return Ok(Vec::new());
        }
        history.read(&primary).await
    }

    /// Compares the build's migrations with the history table. Writes nothing.
    ///
    /// # Errors
    ///
    /// Connection and database errors.
    pub async fn status(&self, db: &Database) -> Result<Status> {
        let rows = self.read_history(db).await?;
        Ok(self.compare(&rows))
    }

    fn compare(&self, rows: &[HistoryRow]) -> Status {
        let by_version: BTreeMap<i64, &HistoryRow> =
            rows.iter().map(|row| (row.version, row)).collect();
        let newest_done = rows
            .iter()
            .filter(|row| row.state.is_done())
            .map(|row| row.version)
            .max();
        let mut entries: Vec<StatusEntry> = self
            .set
            .migrations()
            .iter()
            .map(|migration| match by_version.get(&migration.version) {
                Some(row) => StatusEntry {
                    version: migration.version,
                    name: migration.name.clone(),
                    state: entry_state(row.state),
                    applied_at: Some(row.applied_at),
                    checksum_matches: row
                        .state
                        .is_done()
                        .then(|| row.checksum == migration.checksum),
                },
                None => StatusEntry {
                    version: migration.version,
                    name: migration.name.clone(),
                    state: if newest_done.is_some_and(|newest| newest > migration.version) {
                        EntryState::PendingOutOfOrder
                    } else {
                        EntryState::Pending
                    },
                    applied_at: None,
                    checksum_matches: None,
                },
            })
            .collect();
        for row in rows
            .iter()
            .filter(|row| self.set.get(row.version).is_none())
        {
            entries.push(StatusEntry {
                version: row.version,
                name: row.name.clone(),
                state: EntryState::Unknown,
                applied_at: Some(row.applied_at),
                checksum_matches: None,
            });
        }
        entries.sort_by_key(|entry| entry.version);
        Status {
            history_table: self.options.history_table.clone(),
            entries,
        }
    }

    /// Works out what `up` to `target` would apply, checking the history first.
    fn pending(
        &self,
        rows: &[HistoryRow],
        target: Option<i64>,
    ) -> Result<(Vec<&Migration>, Vec<String>)> {
        if let Some(row) = rows
            .iter()
            .find(|row| matches!(row.state, RowState::Failed | RowState::Running))
        {
            return Err(dirty(row));
        }
        let drifted: Vec<i64> = rows
            .iter()
            .filter(|row| row.state.is_done())
            .filter(|row| {
                self.set
                    .get(row.version)
                    .is_some_and(|m| m.checksum != row.checksum)
            })
            .map(|row| row.version)
            .collect();
        if !drifted.is_empty() {
            return Err(MigrateError::Drift { versions: drifted });
        }
        let mut warnings = Vec::new();
        let unknown: Vec<i64> = rows
            .iter()
            .map(|row| row.version)
            .filter(|version| self.set.get(*version).is_none())
            .collect();
        if !unknown.is_empty() {
            warnings.push(format!("database is ahead of this build: versions {unknown:?} are applied but not in this build"));
        }
        let newest_applied = rows.iter().map(|row| row.version).max();
        let mut pending = Vec::new();
        for migration in self.set.migrations() {
            let applied = rows.iter().any(|row| row.version == migration.version);
            if applied || target.is_some_and(|target| migration.version > target) {
                continue;
            }
            if let Some(newest) = newest_applied.filter(|newest| *newest > migration.version) {
                if self.options.strict_order {
                    return Err(MigrateError::OutOfOrder {
                        pending: migration.version,
                        newest_applied: newest,
                    });
                }
                warnings.push(format!(
                    "migration {} is applied out of order: {newest} is already applied",
                    migration.version
                ));
            }
            pending.push(migration);
        }
        Ok((pending, warnings))
    }

    /// Checks every pending SQL migration before anything runs: it must split into
    /// statements, and a transactional one must not contain a statement that cannot run in
    /// a transaction.
    fn validate(&self, pending: &[&Migration], dialect: Dialect) -> Result<()> {
        for migration in pending {
            let Body::Sql { up, .. } = &migration.body else {
                continue;
            };
            let statements = statements_of(migration, up, dialect)?;
            if statements.is_empty() {
                return Err(MigrateError::Empty {
                    version: migration.version,
                    name: migration.name.clone(),
                });
            }
            if runs_stepwise(migration, dialect) {
                continue;
            }
            for statement in &statements {
                if let Some(kind) = transaction_control(statement, dialect) {
                    return Err(MigrateError::TransactionControl {
                        version: migration.version,
                        name: migration.name.clone(),
                        statement: kind,
                    });
                }
                if let Some(kind) = needs_no_transaction(statement, dialect) {
                    return Err(MigrateError::NeedsNoTransaction {
                        version: migration.version,
                        name: migration.name.clone(),
                        statement: kind,
                    });
                }
            }
        }
        Ok(())
    }

    /// Applies pending migrations, up to and including `target` when given.
    ///
    /// # Errors
    ///
    /// [`MigrateError::Dirty`] when a migration failed earlier, [`MigrateError::Drift`] when
    /// an applied file changed, [`MigrateError::OutOfOrder`] in strict mode, and a lock
    /// timeout. A failing migration's error is returned too. A migration that ran statement
    /// by statement is then recorded as failed; one that ran in a transaction is rolled
    /// back.
    pub async fn up(&self, db: &Database, target: Option<i64>) -> Result<Report> {
        locked!(self, db, |session| self.up_locked(&session, target).await)
    }

    async fn up_locked(&self, session: &Session, target: Option<i64>) -> Result<Report> {
        let rows = session.history.read(&session.conn).await?;
        let (pending, warnings) = self.pending(&rows, target)?;
        for warning in &warnings {
            tracing::warn!(target: "covet::migrate", "{warning}");
        }
        self.validate(&pending, session.dialect)?;
        let mut order = rows.iter().map(|row| row.applied_order).max().unwrap_or(0);
        let mut report = Report {
            warnings,
            ..Report::default()
        };
        for migration in pending {
            order += 1;
            let started = std::time::Instant::now();
            match session.apply(migration, order).await {
                Ok(true) => report.applied.push(done(migration, started)),
                Ok(false) => {}
                Err(error) => {
                    // The error replaces the report, so name what did get applied.
                    let applied: Vec<i64> =
                        report.applied.iter().map(|done| done.version).collect();
                    if !applied.is_empty() {
                        tracing::warn!(
                            target: "covet::migrate",
                            ?applied,
                            failed = migration.version,
                            "stopped after applying these migrations"
                        );
                    }
                    return Err(error);
                }
            }
        }
        Ok(report)
    }

    /// Reverts applied migrations, newest first by the order they were applied in.
    ///
    /// # Errors
    ///
    /// [`MigrateError::NoDown`] when one has no down migration (nothing is reverted then),
    /// [`MigrateError::InvalidRequest`] when an applied migration is not in this build, and
    /// the error of a failing down migration.
    pub async fn down(&self, db: &Database, target: DownTarget) -> Result<Report> {
        locked!(self, db, |session| self.down_locked(&session, target).await)
    }

    async fn down_locked(&self, session: &Session, target: DownTarget) -> Result<Report> {
        let rows = session.history.read(&session.conn).await?;
        if let Some(row) = rows.iter().find(|row| !row.state.is_done()) {
            return Err(dirty(row));
        }
        let mut applied: Vec<&HistoryRow> = rows.iter().collect();
        applied.sort_by_key(|row| std::cmp::Reverse(row.applied_order));
        let chosen: Vec<&HistoryRow> = match target {
            DownTarget::Steps(steps) => applied.into_iter().take(steps).collect(),
            DownTarget::To(version) => applied
                .into_iter()
                .filter(|row| row.version > version)
                .collect(),
        };
        let mut migrations = Vec::with_capacity(chosen.len());
        for row in chosen {
            let migration = self.set.get(row.version).ok_or_else(|| {
                MigrateError::InvalidRequest(format!(
                    "database is ahead of this build: migration {} ({}) is applied but not in \
                     this build, so it cannot be reverted; run a build that has it",
                    row.version, row.name
                ))
            })?;
            if !migration.has_down() {
                return Err(MigrateError::NoDown {
                    version: migration.version,
                    name: migration.name.clone(),
                    rust: migration.is_rust(),
                });
            }
            migrations.push(migration);
        }
        let mut report = Report::default();
        for migration in migrations {
            let started = std::time::Instant::now();
            session.revert(migration).await?;
            report.reverted.push(done(migration, started));
        }
        Ok(report)
    }

    /// Reverts the last `steps` migrations and applies them again.
    ///
    /// # Errors
    ///
    /// As for [`down`](Self::down) and [`up`](Self::up).
    pub async fn redo(&self, db: &Database, steps: usize) -> Result<Report> {
        let reverted = self.down(db, DownTarget::Steps(steps)).await?;
        let highest = reverted.reverted.iter().map(|done| done.version).max();
        let mut report = self.up(db, highest).await?;
        report.reverted = reverted.reverted;
        Ok(report)
    }

    /// Lists applied migrations whose files changed since they ran. Line-ending changes do
    /// not count. Writes nothing.
    ///
    /// # Errors
    ///
    /// Connection and database errors.
    pub async fn verify(&self, db: &Database) -> Result<Vec<Drift>> {
        let rows = self.read_history(db).await?;
        let drift = rows
            .iter()
            .filter(|row| row.state.is_done())
            .filter_map(|row| {
                let migration = self.set.get(row.version)?;
                (migration.checksum != row.checksum).then(|| Drift {
                    version: row.version,
                    name: row.name.clone(),
                    recorded: row.checksum.clone(),
                    current: migration.checksum.clone(),
                })
            })
            .collect();
        Ok(drift)
    }

    /// Records an intentional edit of an applied migration: its new checksum and `reason`.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidRequest`] when the version is not applied or not in this
    /// build.
    pub async fn accept(&self, db: &Database, version: i64, reason: &str) -> Result<()> {
        locked!(self, db, |session| {
            let rows = session.history.read(&session.conn).await?;
            let mut row = find_row(&rows, version, |row| row.state.is_done(), "applied")?;
            let migration = self.known(version)?;
            row.checksum = migration.checksum.clone();
            row.note = Some(reason.to_owned());
            session.history.update(&session.conn, &row).await?;
            tracing::info!(target: "covet::migrate", version, reason, "accepted an edited migration");
            Ok(())
        })
    }

    /// Marks every migration up to and including `version` as applied without running it,
    /// for a database whose schema was made before covet managed it.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidRequest`] when `version` is not in this build or some of those
    /// migrations already have history rows.
    pub async fn baseline(&self, db: &Database, version: i64) -> Result<Report> {
        self.known(version)?;
        locked!(self, db, |session| {
            let rows = session.history.read(&session.conn).await?;
            if let Some(row) = rows.iter().find(|row| row.version <= version) {
                return Err(MigrateError::InvalidRequest(format!(
                    "cannot baseline at {version}: migration {} is already recorded; baseline \
                     only a database with no history up to that version",
                    row.version
                )));
            }
            let mut order = rows.iter().map(|row| row.applied_order).max().unwrap_or(0);
            let mut report = Report::default();
            for migration in self
                .set
                .migrations()
                .iter()
                .filter(|m| m.version <= version)
            {
                order += 1;
                let row = HistoryRow::new(
                    migration.version,
                    &migration.name,
                    &migration.checksum,
                    RowState::Baseline,
                    order,
                );
                session.history.insert(&session.conn, &row).await?;
                report.applied.push(Done {
                    version: migration.version,
                    name: migration.name.clone(),
                    duration_ms: 0,
                });
            }
            Ok(report)
        })
    }

    /// Returns what [`up`](Self::up) to `target` would run, statement by statement, with
    /// the transaction boundaries. Writes nothing, not even the history table.
    ///
    /// # Errors
    ///
    /// The errors `up` would stop with before running anything.
    pub async fn plan(&self, db: &Database, target: Option<i64>) -> Result<Plan> {
        let rows = self.read_history(db).await?;
        let (pending, warnings) = self.pending(&rows, target)?;
        let dialect = dialect_of(db.backend().system_name());
        self.validate(&pending, dialect)?;
        let mut plan = Plan {
            warnings,
            ..Plan::default()
        };
        for migration in pending {
            let statements = match &migration.body {
                Body::Sql { up, .. } => statements_of(migration, up, dialect)?,
                Body::Rust(_) => Vec::new(),
            };
            plan.steps.push(PlanStep {
                version: migration.version,
                name: migration.name.clone(),
                transaction: !runs_stepwise(migration, dialect),
                rust: migration.is_rust(),
                statements,
            });
        }
        Ok(plan)
    }

    /// Continues a migration that failed partway, from its failed statement, after the file
    /// was fixed. The statements that already committed must be unchanged.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidRequest`] when the migration did not fail or its committed
    /// statements were edited, and [`MigrateError::Dirty`] when a statement fails again.
    pub async fn resume(&self, db: &Database, version: i64) -> Result<Report> {
        locked!(self, db, |session| {
            let rows = session.history.read(&session.conn).await?;
            let row = find_row(&rows, version, |row| !row.state.is_done(), "failed")?;
            let migration = self.known(version)?;
            let Body::Sql { up, .. } = &migration.body else {
                return Err(MigrateError::InvalidRequest(format!(
                    "migration {version} is a Rust migration and cannot be resumed"
                )));
            };
            let statements = statements_of(migration, up, session.dialect)?;
            let done = usize::try_from(row.statements_done).unwrap_or(usize::MAX);
            let unchanged = done <= statements.len()
                && row
                    .committed_checksum
                    .as_deref()
                    .is_none_or(|recorded| recorded == committed_checksum(&statements, done));
            if !unchanged {
                return Err(MigrateError::InvalidRequest(format!(
                    "statements 1 to {done} of migration {version} already ran but were edited \
                     since; restore them, or finish the migration by hand and run \
                     `covet-migrate resolve {version}`"
                )));
            }
            let started = std::time::Instant::now();
            let mut row = row;
            row.state = RowState::Running;
            session.history.update(&session.conn, &row).await?;
            session
                .run_stepwise(migration, &statements, row, done)
                .await?;
            Ok(Report {
                applied: vec![done_with(migration, started)],
                ..Report::default()
            })
        })
    }

    /// Marks a failed migration as finished by hand, recording `note`.
    ///
    /// # Errors
    ///
    /// [`MigrateError::InvalidRequest`] when the migration did not fail.
    pub async fn resolve(&self, db: &Database, version: i64, note: &str) -> Result<()> {
        locked!(self, db, |session| {
            let rows = session.history.read(&session.conn).await?;
            let mut row = find_row(&rows, version, |row| !row.state.is_done(), "failed")?;
            if let Some(migration) = self.set.get(version) {
                row.checksum = migration.checksum.clone();
            }
            row.state = RowState::Resolved;
            row.note = Some(note.to_owned());
            session.history.update(&session.conn, &row).await?;
            tracing::info!(target: "covet::migrate", version, note, "marked a failed migration as resolved");
            Ok(())
        })
    }

    fn known(&self, version: i64) -> Result<&Migration> {
        self.set.get(version).ok_or_else(|| {
            MigrateError::InvalidRequest(format!("migration {version} is not in this build"))
        })
    }
}

fn entry_state(state: RowState) -> EntryState {
    match state {
        RowState::Applied => EntryState::Applied,
        RowState::Baseline => EntryState::Baseline,
        RowState::Resolved => EntryState::Resolved,
        RowState::Failed => EntryState::Failed,
        RowState::Running => EntryState::Running,
    }
}

fn dirty(row: &HistoryRow) -> MigrateError {
    MigrateError::Dirty {
        version: row.version,
        name: row.name.clone(),
        failed_statement: row.statements_done + 1,
        statements: row.statements,
        committed: row.statements_done,
        error: row
            .error
            .clone()
            .unwrap_or_else(|| String::from("the run was interrupted")),
    }
}

fn find_row(
    rows: &[HistoryRow],
    version: i64,
    wanted: impl Fn(&HistoryRow) -> bool,
    state: &str,
) -> Result<HistoryRow> {
    rows.iter()
        .find(|row| row.version == version && wanted(row))
        .cloned()
        .ok_or_else(|| MigrateError::InvalidRequest(format!("migration {version} is not {state}")))
}

fn done(migration: &Migration, started: std::time::Instant) -> Done {
    done_with(migration, started)
}

fn done_with(migration: &Migration, started: std::time::Instant) -> Done {
    Done {
        version: migration.version,
        name: migration.name.clone(),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }
}
