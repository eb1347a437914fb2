//! The migration lock on every backend. Concurrent runners apply each migration once, and a
//! failing or panicking migration releases the lock. A waiting runner times out naming the
//! holder, and runners with different history tables or lock keys do not wait for each other.

mod support;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use covet::{ConnectOptions, Database, Executor, Transaction};
use covet_migrate::{
    EntryState, MigrateError, Migration, MigrationSet, Migrator, MigratorOptions, Report,
    RustMigration,
};
use support::{Backend, TestDb};
use tokio::sync::Barrier;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// How many runners race in the concurrency test.
const RUNNERS: usize = 20;

/// A fresh database for one test, with its URL so that tests can open more pools.
struct Ctx {
    db: Database,
    url: String,
    backend: Backend,
}

/// Runs `body` on a fresh database on `backend`, then drops the database, even when the
/// body panics.
async fn run_on<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = TestResult> + Send + 'static,
{
    let Some(test_db) = TestDb::create(backend, test, ConnectOptions::new()).await else {
        return;
    };
    let ctx = Ctx {
        db: test_db.db.clone(),
        url: test_db.url.clone(),
        backend,
    };
    let outcome = tokio::spawn(body(ctx)).await;
    test_db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{test} failed on {backend:?}: {error} ({error:?})"),
        Err(join_error) => match join_error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(join_error) => panic!("{test} was cancelled on {backend:?}: {join_error}"),
        },
    }
}

/// One test per backend: `name::sqlite`, `name::postgres` and `name::mysql`.
macro_rules! every_backend {
    ($(async fn $name:ident($ctx:ident) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run_on(Backend::Sqlite, stringify!($name), |$ctx| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run_on(Backend::Postgres, stringify!($name), |$ctx| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    run_on(Backend::MySql, stringify!($name), |$ctx| async move $body).await;
                }
            }
        )*
    };
}

/// One test per server backend: `name::postgres` and `name::mysql`. SQLite has no
/// runner-wide lock to wait for, only its database-wide write lock.
macro_rules! server_backends {
    ($(async fn $name:ident($ctx:ident) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run_on(Backend::Postgres, stringify!($name), |$ctx| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    run_on(Backend::MySql, stringify!($name), |$ctx| async move $body).await;
                }
            }
        )*
    };
}

/// Builds a SQL migration without a down file.
fn sql(version: i64, name: &str, up: &str) -> Migration {
    Migration::sql(version, name, up, None).expect("a valid SQL migration")
}

/// Builds a migration set from migrations with distinct versions.
fn set(migrations: impl IntoIterator<Item = Migration>) -> MigrationSet {
    MigrationSet::new(migrations).expect("distinct versions")
}

/// Returns the versions a run applied, in order.
fn versions(report: &Report) -> Vec<i64> {
    report.applied.iter().map(|done| done.version).collect()
}

/// Runs a query whose first column is a count.
async fn count<E: Executor + ?Sized>(db: &E, query: &str) -> covet::Result<i64> {
    Ok(covet::raw(query)
        .fetch_scalar::<i64, _>(db)
        .await?
        .unwrap_or(0))
}

/// Returns whether the test database has a table named `table`.
async fn table_exists(ctx: &Ctx, table: &str) -> covet::Result<bool> {
    let query = match ctx.backend {
        Backend::Postgres => format!("SELECT count(*) FROM pg_tables WHERE tablename = '{table}'"),
        Backend::MySql => format!(
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '{table}'"
        ),
        Backend::Sqlite => {
            format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
    };
    Ok(count(&ctx.db, &query).await? > 0)
}

/// Returns the state of each of `migrations` in the default history table, in version order.
async fn states(ctx: &Ctx, migrations: &MigrationSet) -> Result<Vec<EntryState>, MigrateError> {
    let status = Migrator::new(migrations.clone()).status(&ctx.db).await?;
    Ok(status.entries.iter().map(|entry| entry.state).collect())
}

/// Counts advisory locks held by sessions connected to the test database (PostgreSQL).
async fn advisory_locks(ctx: &Ctx) -> covet::Result<i64> {
    count(
        &ctx.db,
        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND a.datname = current_database()",
    )
    .await
}

/// Derives a lock in SQL the way the runner does from a scope: on PostgreSQL the first 64
/// bits of the scope's SHA-256 without the sign bit, on MariaDB `covet:` and the first 40 hex
/// digits of the SHA-256. On PostgreSQL, use keys whose SHA-256 starts with a digit below 8:
/// their first 64 bits fit an `i64`, so this matches the runner however it parses larger ones.
fn derived_lock(backend: Backend, scope: &str) -> String {
    match backend {
        Backend::Postgres => format!(
            "(('x' || substr(encode(sha256(convert_to({scope}, 'UTF8')), 'hex'), 1, 16))\
             ::bit(64)::bigint & 9223372036854775807)"
        ),
        _ => format!("CONCAT('covet:', LEFT(SHA2({scope}, 256), 40))"),
    }
}

/// The scope of the default lock of the `covet_migrations` table on MariaDB.
const MYSQL_DEFAULT_SCOPE: &str = "CONCAT('covet-migrate:', DATABASE(), ':covet_migrations')";

/// Checks that no runner holds the default migration lock, by the database's own view.
async fn assert_lock_free(ctx: &Ctx, when: &str) -> TestResult {
    match ctx.backend {
        Backend::Postgres => {
            let held = advisory_locks(ctx).await?;
            assert_eq!(
                held, 0,
                "{when}: no advisory lock remains in the test database"
            );
        }
        Backend::MySql => {
            let lock = derived_lock(ctx.backend, MYSQL_DEFAULT_SCOPE);
            let query = format!("SELECT CAST(IS_FREE_LOCK({lock}) AS SIGNED)");
            let free = count(&ctx.db, &query).await?;
            assert_eq!(
                free, 1,
                "{when}: the GET_LOCK lock of the history table is free"
            );
        }
        Backend::Sqlite => {}
    }
    Ok(())
}

/// Runs `up` with a 2 s lock timeout and returns how long it took.
async fn second_runner(
    ctx: &Ctx,
    migrations: MigrationSet,
) -> (Result<Report, MigrateError>, Duration) {
    let options = MigratorOptions::default().lock_timeout(Duration::from_secs(2));
    let migrator = Migrator::with_options(migrations, options);
    let started = Instant::now();
    let outcome = migrator.up(&ctx.db, None).await;
    (outcome, started.elapsed())
}

/// The maximum time a second runner may take when no lock is held. A held lock would cost it the
/// whole 2 s lock timeout.
const AT_ONCE: Duration = Duration::from_millis(1000);

/// Waits until another session of the test database runs `statement` and returns its
/// process or connection id.
async fn wait_for_statement(ctx: &Ctx, statement: &str) -> Result<i64, MigrateError> {
    let query = match ctx.backend {
        Backend::Postgres => format!(
            "SELECT pid::bigint FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '{statement}%'"
        ),
        _ => format!(
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE '{statement}%'"
        ),
    };
    let started = Instant::now();
    loop {
        if let Some(id) = covet::raw(query.clone())
            .fetch_scalar::<i64, _>(&ctx.db)
            .await?
        {
            return Ok(id);
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no session started `{statement}` within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Returns a statement that takes 3 s, for a slow migration that keeps its runner's lock.
fn sleep_statement(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "SELECT pg_sleep(3)",
        _ => "SELECT SLEEP(3)",
    }
}

/// Returns three migrations that each log one row in `applied_log`, created by the first.
fn logged_migrations() -> MigrationSet {
    set([
        sql(
            1,
            "create_log",
            "CREATE TABLE applied_log (version INTEGER NOT NULL);\n\
             INSERT INTO applied_log (version) VALUES (1);\n",
        ),
        sql(
            2,
            "second",
            "INSERT INTO applied_log (version) VALUES (2);\n",
        ),
        sql(
            3,
            "third",
            "INSERT INTO applied_log (version) VALUES (3);\n",
        ),
    ])
}

/// Returns three migrations. Unless `fixed`, the second statement of migration 2 inserts into
/// a missing table.
fn failing_migrations(fixed: bool) -> MigrationSet {
    let second = if fixed {
        "CREATE TABLE second_table (id INTEGER NOT NULL);\n\
         INSERT INTO second_table (id) VALUES (1);\n"
    } else {
        "CREATE TABLE second_table (id INTEGER NOT NULL);\n\
         INSERT INTO missing_table (id) VALUES (1);\n"
    };
    set([
        sql(
            1,
            "first",
            "CREATE TABLE first_table (id INTEGER NOT NULL);\n\
             INSERT INTO first_table (id) VALUES (1);\n",
        ),
        sql(2, "second", second),
        sql(
            3,
            "third",
            "CREATE TABLE third_table (id INTEGER NOT NULL);\n",
        ),
    ])
}

/// A Rust migration, version 2, that writes a row to `panic_log` and then panics, unless
/// `calm`.
struct WriteThenPanic {
    calm: bool,
}

#[async_trait]
impl RustMigration for WriteThenPanic {
    fn version(&self) -> i64 {
        2
    }

    fn name(&self) -> &str {
        "write_then_panic"
    }

    async fn up(&self, tx: &Transaction) -> covet::Result<()> {
        covet::raw("INSERT INTO panic_log (id) VALUES (2)")
            .execute(tx)
            .await?;
        if !self.calm {
            panic!("migration 2 panicked on purpose");
        }
        Ok(())
    }
}

/// Returns a SQL migration that creates `panic_log`, [`WriteThenPanic`] and a SQL migration
/// that logs version 3.
fn panicking_migrations(calm: bool) -> MigrationSet {
    set([
        sql(
            1,
            "create_panic_log",
            "CREATE TABLE panic_log (id INTEGER NOT NULL);\n",
        ),
        Migration::rust(WriteThenPanic { calm }),
        sql(3, "third", "INSERT INTO panic_log (id) VALUES (3);\n"),
    ])
}

every_backend! {
    async fn twenty_runners_apply_once(ctx) {
        let migrations = logged_migrations();
        let barrier = Arc::new(Barrier::new(RUNNERS));
        let mut tasks = Vec::with_capacity(RUNNERS);
        for _ in 0..RUNNERS {
            let url = ctx.url.clone();
            let migrations = migrations.clone();
            let barrier = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                let db = Database::connect(&url).await.expect("each runner connects");
                let migrator = Migrator::new(migrations);
                barrier.wait().await;
                let started = Instant::now();
                let outcome = migrator.up(&db, None).await;
                let finished = Instant::now();
                db.close();
                (outcome, started, finished)
            }));
        }

        let mut failures = Vec::new();
        let mut applied = Vec::new();
        let mut durations = Vec::new();
        let mut first_start = None::<Instant>;
        let mut last_finish = None::<Instant>;
        for task in tasks {
            let (outcome, started, finished) = task.await?;
            durations.push(finished - started);
            first_start = Some(first_start.map_or(started, |first| first.min(started)));
            last_finish = Some(last_finish.map_or(finished, |last| last.max(finished)));
            match outcome {
                Ok(report) => applied.extend(versions(&report)),
                Err(error) => failures.push(error.to_string()),
            }
        }
        let wall = last_finish
            .zip(first_start)
            .map_or(Duration::ZERO, |(last, first)| last - first);
        durations.sort();
        eprintln!(
            "twenty_runners_apply_once on {:?}: {wall:?} from the barrier to the last runner; \
             per runner: fastest {:?}, median {:?}, slowest {:?}",
            ctx.backend,
            durations[0],
            durations[RUNNERS / 2],
            durations[RUNNERS - 1],
        );

        assert!(failures.is_empty(), "every runner returns Ok, but these failed: {failures:?}");
        applied.sort_unstable();
        assert_eq!(applied, [1, 2, 3], "each migration is reported applied by exactly one runner");

        for version in 1..=3 {
            let runs = count(
                &ctx.db,
                &format!("SELECT COUNT(*) FROM applied_log WHERE version = {version}"),
            )
            .await?;
            assert_eq!(runs, 1, "migration {version} ran exactly once");
        }
        let total = count(&ctx.db, "SELECT COUNT(*) FROM applied_log").await?;
        assert_eq!(total, 3, "applied_log contains one row per migration and nothing else");

        let history = count(&ctx.db, "SELECT COUNT(*) FROM covet_migrations").await?;
        assert_eq!(history, 3, "the history has one row per migration");
        let states = states(&ctx, &migrations).await?;
        assert_eq!(states, [EntryState::Applied; 3], "every history row is applied");
        assert_lock_free(&ctx, "after twenty runners").await?;
        Ok(())
    }

    async fn failed_migration_releases_lock(ctx) {
        let migrator = Migrator::new(failing_migrations(false));
        let error = migrator.up(&ctx.db, None).await.expect_err("migration 2 fails");
        if ctx.backend == Backend::MySql {
            assert!(
                matches!(error, MigrateError::Dirty { version: 2, committed: 1, .. }),
                "MariaDB records migration 2 as failed after its first statement: {error:?}"
            );
        } else {
            assert!(
                matches!(error, MigrateError::Failed { version: 2, .. }),
                "a transactional migration fails naming itself, with the database error as \
                 its source: {error:?}"
            );
        }
        assert_lock_free(&ctx, "after the failed run").await?;

        let expected = if ctx.backend == Backend::MySql {
            [EntryState::Applied, EntryState::Failed, EntryState::Pending]
        } else {
            [EntryState::Applied, EntryState::Pending, EntryState::Pending]
        };
        let states = states(&ctx, &failing_migrations(false)).await?;
        assert_eq!(states, expected, "migration 1 is applied and migration 2 is not");
        assert!(table_exists(&ctx, "first_table").await?, "migration 1's table exists");
        assert_eq!(
            table_exists(&ctx, "second_table").await?,
            ctx.backend == Backend::MySql,
            "migration 2's committed first statement stays only on MariaDB"
        );
        assert!(!table_exists(&ctx, "third_table").await?, "migration 3 did not run");

        let (outcome, elapsed) = second_runner(&ctx, failing_migrations(true)).await;
        assert!(
            elapsed < AT_ONCE,
            "a second runner starts at once, but took {elapsed:?} against a 2 s lock timeout"
        );
        if ctx.backend == Backend::MySql {
            assert!(
                matches!(outcome, Err(MigrateError::Dirty { version: 2, .. })),
                "the second runner stops at the failed migration, not at the lock: {outcome:?}"
            );
        } else {
            let report = outcome.map_err(|error| format!("the second runner fails: {error}"))?;
            assert_eq!(versions(&report), [2, 3], "the second runner applies 2 and 3");
        }
        assert_lock_free(&ctx, "after the second runner").await?;
        Ok(())
    }

    async fn panicking_migration_releases_lock(ctx) {
        let migrator = Migrator::new(panicking_migrations(false));
        let db = ctx.db.clone();
        // A panic that escapes the runner ends this task, not the test.
        let outcome = tokio::spawn(async move { migrator.up(&db, None).await }).await;
        let error = match outcome {
            Ok(result) => result.expect_err("migration 2 panics"),
            Err(join_error) => panic!("the runner let the panic escape: {join_error}"),
        };
        match &error {
            MigrateError::Panicked { version, message, .. } => {
                assert_eq!(*version, 2, "the panic is reported for migration 2");
                assert!(
                    message.contains("migration 2 panicked on purpose"),
                    "the error carries the panic message: {message}"
                );
            }
            other => panic!("up returns MigrateError::Panicked, not {other:?}"),
        }
        assert_lock_free(&ctx, "after the panic").await?;

        let rows = count(&ctx.db, "SELECT COUNT(*) FROM panic_log").await?;
        assert_eq!(rows, 0, "the panicking migration's insert was rolled back");
        let states = states(&ctx, &panicking_migrations(false)).await?;
        assert_eq!(
            states,
            [EntryState::Applied, EntryState::Pending, EntryState::Pending],
            "migration 1 is applied, migration 2 has no history row"
        );

        let (outcome, elapsed) = second_runner(&ctx, panicking_migrations(true)).await;
        assert!(
            elapsed < AT_ONCE,
            "a second runner starts at once, but took {elapsed:?} against a 2 s lock timeout"
        );
        let report = outcome.map_err(|error| format!("the second runner fails: {error}"))?;
        assert_eq!(versions(&report), [2, 3], "the second runner applies 2 and 3");
        let rows = count(&ctx.db, "SELECT COUNT(*) FROM panic_log").await?;
        assert_eq!(rows, 2, "panic_log has the rows of migrations 2 and 3");
        assert_lock_free(&ctx, "after the second runner").await?;
        Ok(())
    }

    async fn history_tables_do_not_block(ctx) {
        if ctx.backend == Backend::Sqlite {
            // SQLite has no runner-wide lock: both runners only take the write lock per
            // migration, so they finish side by side with separate histories.
            let barrier = Arc::new(Barrier::new(2));
            let mut tasks = Vec::new();
            for (table, created) in [("history_a", "table_a"), ("history_b", "table_b")] {
                let url = ctx.url.clone();
                let barrier = Arc::clone(&barrier);
                tasks.push(tokio::spawn(async move {
                    let db = Database::connect(&url).await.expect("each runner connects");
                    let migrations = set([sql(
                        1,
                        created,
                        &format!("CREATE TABLE {created} (id INTEGER NOT NULL);\n"),
                    )]);
                    let options = MigratorOptions::default().history_table(table);
                    barrier.wait().await;
                    let outcome = Migrator::with_options(migrations, options).up(&db, None).await;
                    db.close();
                    outcome
                }));
            }
            for task in tasks {
                let report = task.await?.map_err(|error| format!("a runner fails: {error}"))?;
                assert_eq!(versions(&report), [1], "each runner applies its own migration");
            }
            for table in ["history_a", "history_b"] {
                let rows = count(&ctx.db, &format!("SELECT COUNT(*) FROM {table}")).await?;
                assert_eq!(rows, 1, "{table} records its runner's migration");
            }
            return Ok(());
        }

        let a = MigratorOptions::default().history_table("history_a");
        let b = MigratorOptions::default().history_table("history_b");
        runs_beside(&ctx, a, b).await
    }
}

server_backends! {
    async fn lock_timeout_names_runner(ctx) {
        let slow = sleep_statement(ctx.backend);
        let up = format!("{slow};\nCREATE TABLE slow_done (id INTEGER NOT NULL);\n");
        let first = sql(1, "slow", &up);
        let slow_set = set([first.clone()]);
        let url = ctx.url.clone();
        let runner_a = tokio::spawn(async move {
            let db = Database::connect(&url).await.expect("runner A connects");
            let outcome = Migrator::new(slow_set).up(&db, None).await;
            db.close();
            outcome
        });
        let holder_id = wait_for_statement(&ctx, slow).await?;

        let options = MigratorOptions::default().lock_timeout(Duration::from_millis(500));
        let second = sql(2, "after_wait", "CREATE TABLE after_wait (id INTEGER NOT NULL);\n");
        let runner_b = Migrator::with_options(set([first, second]), options);
        let started = Instant::now();
        let outcome = runner_b.up(&ctx.db, None).await;
        let elapsed = started.elapsed();
        let a_still_running = !runner_a.is_finished();
        let error = outcome.expect_err("runner B times out while runner A holds the lock");
        let message = error.to_string();
        match &error {
            MigrateError::LockTimeout { waited, holder } => {
                let expected = match ctx.backend {
                    Backend::Postgres => format!("pid {holder_id} "),
                    _ => format!("connection {holder_id} "),
                };
                assert!(
                    holder.starts_with(&expected),
                    "the holder names runner A's session `{expected}`: {holder}"
                );
                assert!(
                    message.contains(holder.as_str()),
                    "the message names the holder: {message}"
                );
                assert!(
                    *waited >= Duration::from_millis(500),
                    "runner B waits the whole 500 ms timeout, not {waited:?}"
                );
            }
            other => panic!("runner B fails with MigrateError::LockTimeout, not {other:?}"),
        }
        assert!(a_still_running, "runner B gives up while runner A still has the lock");
        eprintln!(
            "lock_timeout_names_runner on {:?}: runner B gave up after {elapsed:?} with a 500 ms \
             timeout: {message}",
            ctx.backend
        );

        let report = runner_a.await?.map_err(|error| format!("runner A fails: {error}"))?;
        assert_eq!(versions(&report), [1], "runner A applies its slow migration");
        let report = runner_b
            .up(&ctx.db, None)
            .await
            .map_err(|error| format!("runner B fails after runner A finished: {error}"))?;
        assert_eq!(versions(&report), [2], "runner B applies the rest once the lock is free");
        assert_lock_free(&ctx, "after both runners").await?;
        Ok(())
    }

    async fn lock_timeout_names_session(ctx) {
        // The SHA-256 of `delta` starts with 4f4a..., so its sign bit is clear.
        let (holder, holder_id) = hold_lock(&ctx, "delta").await?;

        let options = MigratorOptions::default()
            .lock_key("delta")
            .lock_timeout(Duration::from_millis(500));
        let runner = Migrator::with_options(
            set([sql(1, "create_t", "CREATE TABLE t (id INTEGER NOT NULL);\n")]),
            options,
        );
        let outcome = runner.up(&ctx.db, None).await;
        match &outcome {
            Err(MigrateError::LockTimeout { holder, .. }) => {
                let expected = match ctx.backend {
                    Backend::Postgres => format!("pid {holder_id} "),
                    _ => format!("connection {holder_id} "),
                };
                assert!(
                    holder.starts_with(&expected),
                    "the holder names the other session `{expected}`: {holder}"
                );
            }
            other => panic!("the runner fails with MigrateError::LockTimeout, not {other:?}"),
        }
        assert!(!table_exists(&ctx, "t").await?, "the timed-out runner applied nothing");

        drop(holder);
        let started = Instant::now();
        let report = loop {
            // The server releases the lock of a closed session shortly after, not at once.
            match runner.up(&ctx.db, None).await {
                Err(MigrateError::LockTimeout { .. })
                    if started.elapsed() < Duration::from_secs(5) => {}
                other => break other,
            }
        };
        let report =
            report.map_err(|error| format!("the runner fails once the lock is free: {error}"))?;
        assert_eq!(
            versions(&report),
            [1],
            "the runner applies its migration once the lock is free"
        );
        Ok(())
    }

    async fn short_lock_timeout_is_kept(ctx) {
        // The SHA-256 of `epsilon` starts with 6ebf..., so its sign bit is clear.
        let (holder, _) = hold_lock(&ctx, "epsilon").await?;

        let timeout = Duration::from_millis(300);
        let options = MigratorOptions::default().lock_key("epsilon").lock_timeout(timeout);
        let runner = Migrator::with_options(
            set([sql(1, "create_t", "CREATE TABLE t (id INTEGER NOT NULL);\n")]),
            options,
        );
        let started = Instant::now();
        let outcome = runner.up(&ctx.db, None).await;
        let elapsed = started.elapsed();
        assert!(
            matches!(outcome, Err(MigrateError::LockTimeout { .. })),
            "the runner times out while the lock is held: {outcome:?}"
        );
        assert!(
            elapsed < timeout + Duration::from_millis(400),
            "a {timeout:?} lock timeout gives up within 400 ms of it, not after {elapsed:?}"
        );

        drop(holder);
        Ok(())
    }

    async fn distinct_lock_keys_do_not_block(ctx) {
        // The SHA-256 of both keys starts with a digit of 8 or more, so the sign bit of the
        // first 64 bits is set.
        let a = MigratorOptions::default().lock_key("alpha").history_table("history_a");
        let b = MigratorOptions::default().lock_key("beta").history_table("history_b");
        runs_beside(&ctx, a, b).await
    }
}

/// Takes the lock a runner derives from `key` on a session of its own, and returns the
/// session and its process or connection id.
async fn hold_lock(ctx: &Ctx, key: &str) -> Result<(covet::Connection, i64), covet::Error> {
    let holder = ctx.db.dedicated_connection().await?;
    let lock = derived_lock(ctx.backend, &format!("'{key}'"));
    let (take, own_id) = match ctx.backend {
        Backend::Postgres => (
            format!("SELECT CAST(pg_try_advisory_lock({lock}) AS INTEGER)::bigint"),
            "SELECT pg_backend_pid()::bigint",
        ),
        _ => (
            format!("SELECT CAST(GET_LOCK({lock}, 0) AS SIGNED)"),
            "SELECT CAST(CONNECTION_ID() AS SIGNED)",
        ),
    };
    let taken = count(&holder, &take).await?;
    assert_eq!(taken, 1, "another session takes the lock of key `{key}`");
    let holder_id = count(&holder, own_id).await?;
    Ok((holder, holder_id))
}

/// Runs runner A with a slow migration under `a`, then, while A holds its lock, runner B
/// under `b` with a 500 ms lock timeout, which must finish without waiting for A.
async fn runs_beside(ctx: &Ctx, a: MigratorOptions, b: MigratorOptions) -> TestResult {
    let slow = sleep_statement(ctx.backend);
    let slow_set = set([sql(
        1,
        "slow",
        &format!("{slow};\nCREATE TABLE slow_done (id INTEGER NOT NULL);\n"),
    )]);
    let url = ctx.url.clone();
    let runner_a = tokio::spawn(async move {
        let db = Database::connect(&url).await.expect("runner A connects");
        let outcome = Migrator::with_options(slow_set, a).up(&db, None).await;
        db.close();
        outcome
    });
    wait_for_statement(ctx, slow).await?;

    let quick_set = set([sql(
        1,
        "quick",
        "CREATE TABLE quick_done (id INTEGER NOT NULL);\n",
    )]);
    let started = Instant::now();
    let outcome = Migrator::with_options(quick_set, b.lock_timeout(Duration::from_millis(500)))
        .up(&ctx.db, None)
        .await;
    let elapsed = started.elapsed();
    let a_still_running = !runner_a.is_finished();
    let report = outcome.map_err(|error| format!("runner B fails: {error}"))?;
    assert_eq!(versions(&report), [1], "runner B applies its migration");
    assert!(
        a_still_running,
        "runner B finishes while runner A still has its own lock"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "runner B did not wait for runner A's lock, but took {elapsed:?}"
    );

    let report = runner_a
        .await?
        .map_err(|error| format!("runner A fails: {error}"))?;
    assert_eq!(
        versions(&report),
        [1],
        "runner A applies its slow migration"
    );
    for table in ["history_a", "history_b"] {
        let rows = count(&ctx.db, &format!("SELECT COUNT(*) FROM {table}")).await?;
        assert_eq!(rows, 1, "{table} records only its own runner's migration");
    }
    Ok(())
}
