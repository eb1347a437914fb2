//! The pool under faults on real servers: operations cancelled at random points,
//! connections killed by the server, connects that cannot succeed, and `min_idle`.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use covet::{ConnectOptions, Database, ErrorKind, Executor, Model};
use tokio::time::timeout;

use support::{Backend, TestDb, run_with, server_url, with_database};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "ledger")]
struct Ledger {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    tag: i64,
}

/// How long cleanup after a cancelled operation or a killed session may take on the server.
const SETTLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(10);

/// Increments the counter row, which only transactions that also insert a ledger row do.
const BUMP_COUNTER: &str = "UPDATE counter SET n = n + 1 WHERE id = 1";

fn select_one(backend: Backend) -> &'static str {
    match backend {
        // PostgreSQL's literal 1 is an INT4, which does not decode as i64.
        Backend::Postgres => "SELECT CAST(1 AS BIGINT)",
        Backend::MySql | Backend::Sqlite => "SELECT 1",
    }
}

/// Returns a query that takes about 10 ms on the server, and the value it returns.
fn slow_query(backend: Backend) -> (&'static str, i64) {
    match backend {
        Backend::Postgres => ("SELECT CAST(1 AS BIGINT) FROM pg_sleep(0.01)", 1),
        Backend::MySql => ("SELECT CAST(SLEEP(0.01) + 1 AS SIGNED)", 1),
        Backend::Sqlite => (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 30000) \
             SELECT count(*) FROM c",
            30_000,
        ),
    }
}

/// Returns the first column of the first row as an i64, or 0 when there is no row.
async fn scalar<E: Executor + ?Sized>(db: &E, sql: &str) -> covet::Result<i64> {
    Ok(covet::raw(sql)
        .fetch_scalar::<i64, _>(db)
        .await?
        .unwrap_or(0))
}

/// Returns the first column of every row as an i64.
async fn column<E: Executor + ?Sized>(db: &E, sql: &str) -> covet::Result<Vec<i64>> {
    let mut values = Vec::new();
    covet::raw(sql)
        .fetch_with(db, |row| {
            values.extend(row.read_i64(0)?);
            Ok(())
        })
        .await?;
    Ok(values)
}

/// Returns an error and all of its sources, joined with ": ".
fn error_chain(error: &covet::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Returns the ids of the sessions connected to the current test database, except the
/// session that runs this query.
async fn other_sessions<E: Executor + ?Sized>(db: &E, backend: Backend) -> covet::Result<Vec<i64>> {
    let sql = match backend {
        Backend::Postgres => {
            "SELECT CAST(pid AS BIGINT) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()"
        }
        Backend::MySql => {
            "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
        }
        Backend::Sqlite => unreachable!("SQLite has no server sessions"),
    };
    column(db, sql).await
}

// ---------------------------------------------------------------------------------------
// Cancellation at random points
// ---------------------------------------------------------------------------------------

const ITERATIONS: u64 = 200;
const WORKERS: u64 = 2;
const STORM_POOL_SIZE: usize = 4;

/// Scrambles the loop index into a pseudo-random number (Marsaglia's xorshift64).
fn xorshift(seed: u64) -> u64 {
    let mut x = seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// Returns a timeout from 0 to 3 ms. A quarter of them are zero, which cancels an operation
/// right after its first poll.
fn tiny_timeout(iteration: u64) -> Duration {
    let draw = xorshift(iteration);
    if draw.is_multiple_of(4) {
        Duration::ZERO
    } else {
        Duration::from_micros((draw >> 2) % 3_001)
    }
}

/// The operations the storm cancels, by `iteration % 5`.
const OPERATIONS: [&str; 5] = [
    "begin",
    "commit",
    "SELECT 1",
    "slow query",
    "insert in a transaction",
];

/// Results of one storm worker.
#[derive(Debug, Default)]
struct StormOutcome {
    /// Tags whose transaction's commit returned Ok.
    committed: Vec<i64>,
    /// Tags whose commit was cancelled, so it may or may not have happened.
    uncertain: Vec<i64>,
    /// Tags whose transaction cannot have committed.
    rolled_back: Vec<i64>,
    /// Per operation: how many finished within their timeout.
    completed: [u32; 5],
    /// Per operation: how many their timeout cancelled.
    cancelled: [u32; 5],
}

/// Unwraps the result of an operation that was not cancelled, which must succeed.
fn must<T>(result: covet::Result<T>, step: &str, iteration: u64) -> T {
    result.unwrap_or_else(|error| {
        panic!("iteration {iteration}: {step} failed although it was not cancelled: {error:?}")
    })
}

/// Runs the iterations `worker`, `worker + WORKERS`, ... and cancels one operation in each
/// after a tiny random timeout.
async fn storm_worker(db: &Database, backend: Backend, worker: u64) -> StormOutcome {
    let mut outcome = StormOutcome::default();
    let (slow_sql, slow_value) = slow_query(backend);
    for iteration in (worker..ITERATIONS).step_by(usize::try_from(WORKERS).unwrap()) {
        let wait = tiny_timeout(iteration);
        let tag = i64::try_from(iteration).unwrap();
        let operation = usize::try_from(iteration % 5).unwrap();
        if xorshift(iteration) >> 63 == 1 {
            // Opening a connection outside the timeout makes an idle one likely, so the
            // timeout cuts into the operation's own round trips rather than into a connect.
            let warmed = covet::raw(select_one(backend)).execute(db).await;
            must(warmed, "warm-up query", iteration);
        }
        let finished = match operation {
            0 => match timeout(wait, db.begin()).await {
                Ok(begun) => {
                    let tx = must(begun, "begin", iteration);
                    if iteration % 2 == 0 {
                        // Dropping an open transaction queues its rollback.
                        drop(tx);
                    } else {
                        must(tx.rollback().await, "rollback", iteration);
                    }
                    true
                }
                Err(_) => false,
            },
            1 => {
                let tx = must(db.begin().await, "begin before a timed commit", iteration);
                let row = Ledger { id: 0, tag };
                must(
                    row.insert(&tx).await,
                    "insert before a timed commit",
                    iteration,
                );
                let bumped = covet::raw(BUMP_COUNTER).execute(&tx).await;
                must(bumped, "counter update before a timed commit", iteration);
                match timeout(wait, tx.commit()).await {
                    Ok(committed) => {
                        must(committed, "commit", iteration);
                        outcome.committed.push(tag);
                        true
                    }
                    Err(_) => {
                        outcome.uncertain.push(tag);
                        false
                    }
                }
            }
            2 => {
                let query = covet::raw(select_one(backend)).fetch_scalar::<i64, _>(db);
                match timeout(wait, query).await {
                    Ok(value) => {
                        let value = must(value, "SELECT 1", iteration);
                        assert_eq!(value, Some(1), "iteration {iteration}: SELECT 1 returned");
                        true
                    }
                    Err(_) => false,
                }
            }
            3 => {
                let query = covet::raw(slow_sql).fetch_scalar::<i64, _>(db);
                match timeout(wait, query).await {
                    Ok(value) => {
                        let value = must(value, "slow query", iteration);
                        assert_eq!(
                            value,
                            Some(slow_value),
                            "iteration {iteration}: the slow query returned"
                        );
                        true
                    }
                    Err(_) => false,
                }
            }
            _ => {
                let tx = must(db.begin().await, "begin before a timed insert", iteration);
                let row = Ledger { id: 0, tag };
                match timeout(wait, row.insert(&tx)).await {
                    Ok(inserted) => {
                        must(inserted, "insert", iteration);
                        let bumped = covet::raw(BUMP_COUNTER).execute(&tx).await;
                        must(bumped, "counter update after a timed insert", iteration);
                        must(tx.commit().await, "commit after a timed insert", iteration);
                        outcome.committed.push(tag);
                        true
                    }
                    Err(_) => {
                        // An insert cancelled midway leaves the connection unusable, so the
                        // commit must fail and the server rolls the transaction back.
                        if let Err(error) = tx.commit().await {
                            assert_eq!(
                                error.kind(),
                                ErrorKind::Connection,
                                "iteration {iteration}: a commit after a cancelled insert \
                                 failed with {error:?}"
                            );
                        }
                        outcome.rolled_back.push(tag);
                        false
                    }
                }
            }
        };
        if finished {
            outcome.completed[operation] += 1;
        } else {
            outcome.cancelled[operation] += 1;
        }
    }
    outcome
}

/// Cancels begin, commit, queries and inserts at random points, then checks that the pool
/// and the server hold no trace of the cancelled work.
async fn cancel_storm(db: Database, backend: Backend) -> covet::Result<()> {
    let started = Instant::now();
    Ledger::create_table(&db).await?;
    covet::raw("CREATE TABLE counter (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)")
        .execute(&db)
        .await?;
    covet::raw("INSERT INTO counter (id, n) VALUES (1, 0)")
        .execute(&db)
        .await?;

    let (first, second) =
        futures_util::future::join(storm_worker(&db, backend, 0), storm_worker(&db, backend, 1))
            .await;
    let mut storm = first;
    storm.committed.extend(second.committed);
    storm.uncertain.extend(second.uncertain);
    storm.rolled_back.extend(second.rolled_back);
    for operation in 0..OPERATIONS.len() {
        storm.completed[operation] += second.completed[operation];
        storm.cancelled[operation] += second.cancelled[operation];
    }
    for (operation, name) in OPERATIONS.iter().enumerate() {
        eprintln!(
            "{backend:?} storm: {name}: {} completed, {} cancelled",
            storm.completed[operation], storm.cancelled[operation]
        );
    }
    let cancelled: u32 = storm.cancelled.iter().sum();
    let completed: u32 = storm.completed.iter().sum();
    assert!(cancelled > 0, "the timeouts cancelled no operation");
    assert!(completed > 0, "every operation was cancelled");
    assert!(
        !storm.committed.is_empty(),
        "no transaction committed during the storm"
    );

    // Queued rollbacks of dropped transactions run on spawned tasks, which hold their
    // connection until the rollback is sent.
    let deadline = Instant::now() + SETTLE;
    let mut status = db.pool_status();
    while status.in_use > 0 && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        status = db.pool_status();
    }
    eprintln!("{backend:?} storm: pool after the storm: {status}");
    assert_eq!(status.in_use, 0, "connections still checked out: {status}");
    assert!(
        status.size <= STORM_POOL_SIZE,
        "the pool is above its maximum: {status}"
    );

    check_server_clean(&db, backend).await?;

    // A final round of normal work on every connection the pool may open.
    let final_round = (0..STORM_POOL_SIZE).map(|slot| {
        let db = db.clone();
        async move {
            let tx = db.begin().await?;
            let tag = 1_000_000 + i64::try_from(slot).unwrap();
            Ledger { id: 0, tag }.insert(&tx).await?;
            covet::raw(BUMP_COUNTER).execute(&tx).await?;
            tx.commit().await?;
            Ok::<_, covet::Error>(tag)
        }
    });
    for result in futures_util::future::join_all(final_round).await {
        let tag = result.unwrap_or_else(|error| panic!("a final transaction failed: {error:?}"));
        storm.committed.push(tag);
    }
    for round in 0..10 {
        let value = covet::raw(select_one(backend))
            .fetch_scalar::<i64, _>(&db)
            .await?;
        assert_eq!(value, Some(1), "final query {round} returned");
    }

    // The counter changes only together with a ledger row, in committed transactions.
    let tx = db.begin().await?;
    let counter = scalar(&tx, "SELECT n FROM counter WHERE id = 1").await?;
    let rows = Ledger::query().all(&tx).await?;
    tx.commit().await?;
    let stored: BTreeSet<i64> = rows.iter().map(|row| row.tag).collect();
    let row_count = i64::try_from(rows.len()).unwrap();
    assert_eq!(
        counter, row_count,
        "the counter disagrees with the number of ledger rows"
    );
    for tag in &storm.committed {
        assert!(
            stored.contains(tag),
            "the row of committed transaction {tag} is missing"
        );
    }
    for tag in &storm.rolled_back {
        assert!(
            !stored.contains(tag),
            "the row of rolled-back transaction {tag} is stored"
        );
    }
    let known: BTreeSet<i64> = storm
        .committed
        .iter()
        .chain(&storm.uncertain)
        .copied()
        .collect();
    let unknown: Vec<&i64> = stored.difference(&known).collect();
    assert!(unknown.is_empty(), "rows of no transaction: {unknown:?}");
    let uncertain_stored = storm
        .uncertain
        .iter()
        .filter(|tag| stored.contains(tag))
        .count();
    let expected = storm.committed.len() + uncertain_stored;
    assert_eq!(
        counter,
        i64::try_from(expected).unwrap(),
        "the counter is not the number of successful commits ({}) plus the cancelled \
         commits that reached the server ({uncertain_stored})",
        storm.committed.len()
    );
    eprintln!(
        "{backend:?} storm: {} commits, {} cancelled commits ({uncertain_stored} stored), \
         {:?} in total",
        storm.committed.len(),
        storm.uncertain.len(),
        started.elapsed()
    );
    Ok(())
}

/// Checks from a connection outside the pool that no pooled session is left in a
/// transaction, and that the server has no session the pool no longer tracks.
async fn check_server_clean(db: &Database, backend: Backend) -> covet::Result<()> {
    let observer = db.dedicated_connection().await?;
    if backend == Backend::Sqlite {
        // A pooled connection left in a write transaction would hold the write lock, and
        // this BEGIN IMMEDIATE would wait the 5 s busy timeout for it.
        let started = Instant::now();
        let tx = observer.begin_with("BEGIN IMMEDIATE").await?;
        let waited = started.elapsed();
        tx.rollback().await?;
        assert!(
            waited < SETTLE,
            "BEGIN IMMEDIATE waited {waited:?} for the write lock"
        );
        return Ok(());
    }

    let in_transaction = match backend {
        Backend::Postgres => {
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND state LIKE 'idle in transaction%'"
        }
        _ => {
            "SELECT COUNT(*) FROM information_schema.INNODB_TRX t \
             JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id \
             WHERE p.DB = DATABASE() AND p.ID <> CONNECTION_ID()"
        }
    };
    let deadline = Instant::now() + SETTLE;
    let open = loop {
        let open = scalar(&observer, in_transaction).await?;
        if open == 0 || Instant::now() >= deadline {
            break open;
        }
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(open, 0, "server sessions still inside a transaction");

    // Sessions of discarded connections end once the server reads the closed socket.
    let deadline = Instant::now() + SETTLE;
    let (sessions, pooled) = loop {
        let sessions = other_sessions(&observer, backend).await?.len();
        let pooled = db.pool_status().size;
        if sessions == pooled || Instant::now() >= deadline {
            break (sessions, pooled);
        }
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(
        sessions, pooled,
        "the server has a different number of sessions than the pool has connections"
    );

    if backend == Backend::Postgres {
        let busy = scalar(
            &observer,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state <> 'idle'",
        )
        .await?;
        assert_eq!(busy, 0, "pooled sessions that are not idle");
    }
    Ok(())
}

fn storm_options() -> ConnectOptions {
    ConnectOptions::new().max_connections(STORM_POOL_SIZE)
}

mod cancellation {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run_with(Backend::Sqlite, "cancel_storm", storm_options(), |db| {
            cancel_storm(db, Backend::Sqlite)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run_with(Backend::Postgres, "cancel_storm", storm_options(), |db| {
            cancel_storm(db, Backend::Postgres)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        run_with(Backend::MySql, "cancel_storm", storm_options(), |db| {
            cancel_storm(db, Backend::MySql)
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// Sessions terminated by the server
// ---------------------------------------------------------------------------------------

const KILLED_POOL_SIZE: usize = 4;
const QUERIES_AFTER_KILL: usize = 20;

/// Opens every connection the pool may hold by keeping that many transactions open at once.
async fn warm_pool(db: &Database) -> covet::Result<()> {
    let mut open = Vec::new();
    for _ in 0..KILLED_POOL_SIZE {
        open.push(db.begin().await?);
    }
    for tx in open {
        tx.rollback().await?;
    }
    Ok(())
}

/// Terminates every other session of the test database from `observer`, and waits until
/// the server has ended them.
async fn kill_pooled_sessions(observer: &covet::Connection, backend: Backend) -> covet::Result<()> {
    match backend {
        Backend::Postgres => {
            let name = covet::raw("SELECT current_database()")
                .fetch_scalar::<String, _>(observer)
                .await?
                .expect("current_database() returns a name");
            let killed = covet::raw(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(name)
            .fetch_with(observer, |_| Ok(()))
            .await?;
            assert_eq!(
                killed,
                u64::try_from(KILLED_POOL_SIZE).unwrap(),
                "pg_terminate_backend calls"
            );
        }
        _ => {
            let ids = other_sessions(observer, backend).await?;
            assert_eq!(ids.len(), KILLED_POOL_SIZE, "sessions to kill: {ids:?}");
            for id in ids {
                covet::raw(format!("KILL {id}"))
                    .execute_unprepared(observer)
                    .await?;
            }
        }
    }
    let deadline = Instant::now() + SETTLE;
    let remaining = loop {
        let remaining = other_sessions(observer, backend).await?;
        if remaining.is_empty() || Instant::now() >= deadline {
            break remaining;
        }
        tokio::time::sleep(POLL).await;
    };
    assert!(
        remaining.is_empty(),
        "sessions still alive after the kill: {remaining:?}"
    );
    Ok(())
}

/// Runs `QUERIES_AFTER_KILL` queries one after another and returns their results.
async fn query_after_kill(db: &Database, backend: Backend) -> Vec<covet::Result<Option<i64>>> {
    let mut results = Vec::new();
    for _ in 0..QUERIES_AFTER_KILL {
        let result = covet::raw(select_one(backend))
            .fetch_scalar::<i64, _>(db)
            .await;
        results.push(result);
    }
    results
}

/// Kills the pool's sessions on the server, then checks that at most the first uses of dead
/// connections fail and that the pool replaces them.
async fn killed_sessions_replaced(db: Database, backend: Backend) -> covet::Result<()> {
    warm_pool(&db).await?;
    let status = db.pool_status();
    assert_eq!(status.size, KILLED_POOL_SIZE, "warmed pool: {status}");
    let observer = db.dedicated_connection().await?;
    kill_pooled_sessions(&observer, backend).await?;

    let results = query_after_kill(&db, backend).await;
    let failed = results.iter().take_while(|result| result.is_err()).count();
    eprintln!("{backend:?} after kill: {failed} queries failed first");
    assert!(failed <= 2, "{failed} queries failed: {results:?}");
    for error in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(
            error.kind(),
            ErrorKind::Connection,
            "a query on a killed connection failed with {error:?}"
        );
    }
    for (index, result) in results.iter().enumerate().skip(failed) {
        match result {
            Ok(value) => assert_eq!(*value, Some(1), "query {index} after the kill returned"),
            Err(error) => panic!("query {index} after the first success failed: {error:?}"),
        }
    }
    let metrics = db.pool_metrics();
    eprintln!("{backend:?} after kill: {metrics:?}");
    assert!(
        metrics.closed_broken + metrics.closed_health_check > 0,
        "the pool closed no dead connection: {metrics:?}"
    );
    let status = db.pool_status();
    assert!(
        status.size <= KILLED_POOL_SIZE,
        "the pool is above its maximum: {status}"
    );

    // Every connection the pool keeps now works, including when all are in use at once.
    warm_pool(&db).await?;
    Ok(())
}

/// Like [`killed_sessions_replaced`], with a health check on every checkout, so no query
/// meets a dead connection.
async fn killed_sessions_checked(db: Database, backend: Backend) -> covet::Result<()> {
    warm_pool(&db).await?;
    let observer = db.dedicated_connection().await?;
    kill_pooled_sessions(&observer, backend).await?;

    let results = query_after_kill(&db, backend).await;
    for (index, result) in results.iter().enumerate() {
        match result {
            Ok(value) => assert_eq!(*value, Some(1), "query {index} after the kill returned"),
            Err(error) => panic!("query {index} after the kill failed: {error:?}"),
        }
    }
    let metrics = db.pool_metrics();
    assert!(
        metrics.closed_health_check > 0,
        "no dead connection failed its health check: {metrics:?}"
    );
    assert_eq!(
        metrics.closed_broken, 0,
        "a query met a dead connection: {metrics:?}"
    );
    Ok(())
}

fn killed_options() -> ConnectOptions {
    ConnectOptions::new().max_connections(KILLED_POOL_SIZE)
}

fn checked_options() -> ConnectOptions {
    killed_options().health_check_after(Duration::ZERO)
}

mod server_kill {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        run_with(Backend::Postgres, "kill_replaced", killed_options(), |db| {
            killed_sessions_replaced(db, Backend::Postgres)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        run_with(Backend::MySql, "kill_replaced", killed_options(), |db| {
            killed_sessions_replaced(db, Backend::MySql)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_checked() {
        run_with(Backend::Postgres, "kill_checked", checked_options(), |db| {
            killed_sessions_checked(db, Backend::Postgres)
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql_checked() {
        run_with(Backend::MySql, "kill_checked", checked_options(), |db| {
            killed_sessions_checked(db, Backend::MySql)
        })
        .await;
    }
}

// ---------------------------------------------------------------------------------------
// Connects that cannot succeed
// ---------------------------------------------------------------------------------------

/// The maximum time a connect that retrying cannot fix may take to fail.
const FAIL_FAST: Duration = Duration::from_secs(1);

/// Returns whether `backend`'s server is reachable. An unreachable server skips the test
/// with a notice, unless `COVET_REQUIRE_ALL_BACKENDS=1` makes it fail.
async fn server_reachable(backend: Backend) -> bool {
    match Database::connect(&server_url(backend)).await {
        Ok(db) => {
            db.close();
            true
        }
        Err(error) if std::env::var("COVET_REQUIRE_ALL_BACKENDS").as_deref() == Ok("1") => {
            panic!("{backend:?} is required but unreachable: {error}")
        }
        Err(error) => {
            eprintln!("NOTICE: skipping on {backend:?}, whose server is unreachable: {error}");
            false
        }
    }
}

/// Connects to `url` and checks that it fails within [`FAIL_FAST`] with a connection
/// error whose chain contains `cause`. Returns the error chain.
async fn assert_connect_fails_fast(url: &str, cause: &str) -> String {
    // A short connect timeout keeps the test short if the error is retried by mistake.
    let options = ConnectOptions::new().connect_timeout(Duration::from_secs(3));

    let started = Instant::now();
    let outcome = Database::connect_with(url, options).await;
    let elapsed = started.elapsed();
    let redacted = covet::redact_url(url);
    let error = match outcome {
        Ok(_) => panic!("connecting to {redacted} succeeded"),
        Err(error) => error,
    };
    let chain = error_chain(&error);
    eprintln!("{redacted} failed after {elapsed:?}: {chain}");

    assert_eq!(
        error.kind(),
        ErrorKind::Connection,
        "connecting to {redacted} failed with {error:?}"
    );
    assert!(
        elapsed < FAIL_FAST,
        "connecting to {redacted} took {elapsed:?} to fail"
    );
    assert!(
        chain.to_lowercase().contains(cause),
        "the error for {redacted} does not name the cause `{cause}`: {chain}"
    );
    assert!(
        !chain.contains("timed out"),
        "the error for {redacted} is a timeout: {chain}"
    );
    chain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_wrong_password_fails_fast() {
    if !server_reachable(Backend::MySql).await {
        return;
    }
    let password = "covet-wrong-password";
    let mut url = url::Url::parse(&server_url(Backend::MySql)).unwrap();
    url.set_password(Some(password)).unwrap();
    let chain = assert_connect_fails_fast(url.as_str(), "access denied").await;
    assert!(
        !chain.contains(password),
        "the error quotes the password: {chain}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_unknown_database_fails_fast() {
    if !server_reachable(Backend::Postgres).await {
        return;
    }
    let name = format!("covet_missing_{}", std::process::id());
    let url = with_database(&server_url(Backend::Postgres), &name);
    let chain = assert_connect_fails_fast(&url, "does not exist").await;
    assert!(
        chain.contains(&name),
        "the error names no database: {chain}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_port_fails_fast() {
    // A port that was just free has no listener once the socket is closed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://root@127.0.0.1:{port}/covet_refused");
        assert_connect_fails_fast(&url, "refused").await;
    }
}

// ---------------------------------------------------------------------------------------
// min_idle
// ---------------------------------------------------------------------------------------

const MIN_IDLE: usize = 2;

/// Opens a pool with `min_idle(2)` and checks that it reaches 2 connections within a
/// second of `connect_with`, without any query.
async fn min_idle_fills_pool(backend: Backend) {
    let Some(test_db) = TestDb::create(backend, "min_idle", ConnectOptions::new()).await else {
        return;
    };
    let started = Instant::now();
    let db = Database::connect_with(&test_db.url, ConnectOptions::new().min_idle(MIN_IDLE))
        .await
        .expect("connect with min_idle");
    let connected = started.elapsed();
    // Poll past the deadline, so a failure reports how late the connections came.
    let give_up = started + 3 * FAIL_FAST;
    // The background task keeps the connections it opens until it has them all, so wait
    // for them to be idle, not only open.
    while db.pool_status().idle < MIN_IDLE && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let filled = started.elapsed();
    let status = db.pool_status();
    db.close();
    test_db.cleanup().await;

    eprintln!("{backend:?} min_idle: connected after {connected:?}, {status} after {filled:?}");
    // A connect that starts together with the first fill can open one more; min_idle is a
    // floor, not an exact count.
    assert!(
        (MIN_IDLE..=MIN_IDLE + 1).contains(&status.size),
        "pool with min_idle: {status}"
    );
    assert_eq!(status.in_use, 0, "pool with min_idle: {status}");
    assert!(
        filled <= FAIL_FAST,
        "min_idle connections took {filled:?} to open"
    );
}

mod min_idle {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        min_idle_fills_pool(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        min_idle_fills_pool(Backend::MySql).await;
    }
}
