//! Retrying transactions after serialization failures, deadlocks and SQLite busy errors.
//!
//! The conflicts are real: two transactions synchronized with a barrier so that they
//! collide, or a second connection holding SQLite's write lock.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use covet::{
    ConnectOptions, Database, Error, ErrorKind, Executor, IsolationLevel, Model, RetryPolicy,
    RetryableError, Transaction, TransactionOptions,
};
use tokio::sync::Barrier;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use support::{Backend, run, run_with};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "shifts")]
struct Shift {
    #[covet(primary_key, auto_increment)]
    id: i64,
    hours: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "accounts")]
struct Account {
    #[covet(primary_key)]
    id: i64,
    balance: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "labels")]
struct Label {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    name: String,
}

/// Returns a policy that retries quickly, so the tests do not wait long between attempts.
fn quick_policy(attempts: u32) -> RetryPolicy {
    RetryPolicy::new()
        .max_attempts(attempts)
        .initial_backoff(Duration::from_millis(5))
        .max_backoff(Duration::from_millis(40))
}

fn serializable() -> TransactionOptions {
    TransactionOptions::new().isolation(IsolationLevel::Serializable)
}

/// Reads the number of shifts, waits at `barrier` when given, then inserts a shift. Two
/// of these in serializable transactions are write skew: each read misses the other's
/// insert, so no serial order explains both.
async fn count_then_insert(tx: &Transaction, barrier: Option<Arc<Barrier>>) -> covet::Result<()> {
    let count = covet::raw("SELECT COUNT(*) FROM shifts")
        .fetch_scalar::<i64, _>(tx)
        .await?
        .unwrap_or(0);
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    Shift {
        id: 0,
        hours: count + 1,
    }
    .insert(tx)
    .await?;
    Ok(())
}

/// Runs two write-skew transactions at once, without retries, and returns their results.
async fn write_skew_once(db: &Database) -> Vec<covet::Result<()>> {
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let db = db.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            db.transaction_with(serializable(), |tx| async move {
                count_then_insert(&tx, Some(barrier)).await
            })
            .await
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("the transaction task panicked"));
    }
    results
}

/// Runs two write-skew transactions at once with retries, and returns how many attempts
/// each needed. Only the first attempts wait at the barrier, since a retry runs alone.
async fn write_skew_retried(db: &Database) -> covet::Result<Vec<u32>> {
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let db = db.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let attempts = AtomicU32::new(0);
            let policy = quick_policy(10);
            db.transaction_with_retry(&policy, serializable(), |tx| {
                let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                let barrier = (attempt == 1).then(|| Arc::clone(&barrier));
                async move { count_then_insert(&tx, barrier).await }
            })
            .await?;
            Ok::<_, covet::Error>(attempts.load(Ordering::SeqCst))
        }));
    }
    let mut attempts = Vec::new();
    for task in tasks {
        attempts.push(task.await.expect("the transaction task panicked")?);
    }
    Ok(attempts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_write_skew_is_retried() {
    run(Backend::Postgres, "write_skew", |db| async move {
        Shift::create_table(&db).await?;
        let results = write_skew_once(&db).await;
        let failures: Vec<&Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(
            failures.len(),
            1,
            "exactly one of the two fails: {results:?}"
        );
        assert_eq!(
            failures[0].kind(),
            ErrorKind::SerializationFailure,
            "{}",
            failures[0]
        );
        assert_eq!(failures[0].code(), Some("40001"));

        covet::raw("DELETE FROM shifts").execute(&db).await?;
        let attempts = write_skew_retried(&db).await?;
        assert!(
            attempts.iter().sum::<u32>() > 2,
            "one transaction needed a retry: {attempts:?}"
        );
        let mut hours: Vec<i64> = Shift::query()
            .all(&db)
            .await?
            .into_iter()
            .map(|shift| shift.hours)
            .collect();
        hours.sort_unstable();
        assert_eq!(hours, [1, 2], "the retry saw the first transaction's row");
        Ok(())
    })
    .await;
}

/// Moves one unit from account `first` to account `second`, locking `first` and, after
/// the barrier, `second`.
async fn transfer(
    tx: &Transaction,
    first: i64,
    second: i64,
    barrier: Option<Arc<Barrier>>,
) -> covet::Result<()> {
    let placeholder = |n: usize| match tx.backend().system_name() {
        "postgresql" => format!("${n}"),
        _ => String::from("?"),
    };
    let sql = format!(
        "UPDATE accounts SET balance = balance + {} WHERE id = {}",
        placeholder(1),
        placeholder(2)
    );
    covet::raw(&sql).bind(-1i64).bind(first).execute(tx).await?;
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    covet::raw(&sql).bind(1i64).bind(second).execute(tx).await?;
    Ok(())
}

/// Runs two transfers that lock accounts 1 and 2 in opposite orders, so they deadlock,
/// and returns each one's result and attempt count. With `policy` unset neither retries.
async fn opposite_transfers(
    db: &Database,
    policy: Option<RetryPolicy>,
) -> Vec<(covet::Result<()>, u32)> {
    let barrier = Arc::new(Barrier::new(2));
    let mut tasks = Vec::new();
    for (first, second) in [(1, 2), (2, 1)] {
        let db = db.clone();
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            let attempts = AtomicU32::new(0);
            let policy = policy.unwrap_or_else(|| RetryPolicy::new().max_attempts(1));
            let outcome = db
                .transaction_with_retry(&policy, TransactionOptions::new(), |tx| {
                    let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
                    let barrier = (attempt == 1).then(|| Arc::clone(&barrier));
                    async move { transfer(&tx, first, second, barrier).await }
                })
                .await;
            (outcome, attempts.load(Ordering::SeqCst))
        }));
    }
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("the transfer task panicked"));
    }
    results
}

async fn check_deadlock_retry(db: Database) -> covet::Result<()> {
    Account::create_table(&db).await?;
    for id in [1, 2] {
        Account { id, balance: 0 }.insert(&db).await?;
    }

    let once = opposite_transfers(&db, None).await;
    let failures: Vec<&Error> = once.iter().filter_map(|(r, _)| r.as_ref().err()).collect();
    assert_eq!(
        failures.len(),
        1,
        "exactly one is the deadlock victim: {once:?}"
    );
    assert_eq!(failures[0].kind(), ErrorKind::Deadlock, "{}", failures[0]);

    let retried = opposite_transfers(&db, Some(quick_policy(10))).await;
    for (outcome, _) in &retried {
        assert!(outcome.is_ok(), "both transfers commit: {retried:?}");
    }
    let attempts: u32 = retried.iter().map(|(_, attempts)| attempts).sum();
    assert!(attempts > 2, "the deadlock victim ran again: {retried:?}");

    // One transfer of each pair committed in the first round, both in the second: account
    // 1 sent and received the same amount overall, as did account 2.
    let balances: Vec<i64> = Account::query()
        .order_by_asc(Account::ID)
        .all(&db)
        .await?
        .into_iter()
        .map(|account| account.balance)
        .collect();
    let total: i64 = balances.iter().sum();
    assert_eq!(
        total, 0,
        "transfers move money without creating it: {balances:?}"
    );
    assert_eq!(
        balances.iter().map(|b| b.abs()).sum::<i64>(),
        2,
        "{balances:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_deadlock_is_retried() {
    run(Backend::MySql, "deadlock", check_deadlock_retry).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_deadlock_is_retried() {
    run(Backend::Postgres, "deadlock", check_deadlock_retry).await;
}

/// Counts the events of target `covet::transaction` by message.
#[derive(Clone, Default)]
struct RetryEvents {
    messages: Arc<Mutex<BTreeMap<String, u32>>>,
}

impl RetryEvents {
    fn count(&self, prefix: &str) -> u32 {
        let messages = self.messages.lock().expect("event lock");
        messages
            .iter()
            .filter(|(message, _)| message.starts_with(prefix))
            .map(|(_, count)| count)
            .sum()
    }
}

struct MessageVisitor(Option<String>);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

impl<S: Subscriber> Layer<S> for RetryEvents {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        if event.metadata().target() != "covet::transaction" {
            return;
        }
        let mut visitor = MessageVisitor(None);
        event.record(&mut visitor);
        let message = visitor.0.unwrap_or_default();
        *self
            .messages
            .lock()
            .expect("event lock")
            .entry(message)
            .or_default() += 1;
    }
}

/// SQLite options with a 20 ms busy timeout, so a locked database fails fast.
fn short_busy_timeout() -> ConnectOptions {
    ConnectOptions::new().after_connect("PRAGMA busy_timeout = 20")
}

// A current-thread runtime, so that the thread's tracing subscriber receives every event.
#[tokio::test]
async fn sqlite_busy_is_retried() {
    let events = RetryEvents::default();
    let subscriber = tracing_subscriber::registry().with(events.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let counted = events.clone();
    run_with(
        Backend::Sqlite,
        "busy",
        short_busy_timeout(),
        |db| async move {
            Shift::create_table(&db).await?;
            let holder = db.dedicated_connection().await?;
            let lock = holder.begin_with("BEGIN IMMEDIATE").await?;

            let plain: covet::Result<()> = db
                .transaction(|tx| async move { count_then_insert(&tx, None).await })
                .await;
            let error = plain.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Deadlock, "{error}");

            let held_for = Duration::from_millis(150);
            let release = tokio::spawn(async move {
                tokio::time::sleep(held_for).await;
                lock.commit().await?;
                drop(holder);
                Ok::<_, covet::Error>(())
            });
            let started = Instant::now();
            let calls = AtomicU32::new(0);
            db.transaction_with_retry(&quick_policy(50), TransactionOptions::new(), |tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move { count_then_insert(&tx, None).await }
            })
            .await?;
            release.await.expect("the lock holder panicked")?;

            assert!(
                started.elapsed() >= held_for,
                "it waited for the lock holder"
            );
            assert_eq!(
                calls.load(Ordering::SeqCst),
                1,
                "only the attempt whose BEGIN took the lock ran the closure"
            );
            assert!(
                counted.count("retrying") >= 1,
                "the busy BEGIN was retried and logged"
            );
            assert_eq!(Shift::query().count(&db).await?, 1);
            Ok(())
        },
    )
    .await;
}

/// Makes the current attempt fail with a real retryable error from the database: a
/// serialization failure raised by the server on PostgreSQL and MySQL, and on SQLite a
/// write through the pool while another connection holds the write lock.
async fn fail_retryably(db: &Database, tx: &Transaction) -> covet::Result<()> {
    match db.backend().system_name() {
        "postgresql" => {
            let sql = "DO $$ BEGIN RAISE EXCEPTION 'forced conflict' \
                       USING ERRCODE = 'serialization_failure'; END $$";
            covet::raw(sql).execute_unprepared(tx).await?;
        }
        "mysql" | "mariadb" => {
            let sql = "SIGNAL SQLSTATE '40001' \
                       SET MYSQL_ERRNO = 1213, MESSAGE_TEXT = 'forced conflict'";
            covet::raw(sql).execute_unprepared(tx).await?;
        }
        _ => {
            Label {
                id: 0,
                name: String::from("blocked"),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

async fn check_gives_up(db: Database) -> covet::Result<()> {
    Label::create_table(&db).await?;
    // SQLite: another connection holds the write lock for the whole test.
    let holder = db.dedicated_connection().await?;
    let _lock = match db.backend().system_name() {
        "sqlite" => Some(holder.begin_with("BEGIN IMMEDIATE").await?),
        _ => None,
    };
    // A read-only transaction takes no lock on SQLite, so its BEGIN succeeds.
    let options = TransactionOptions::new().read_only(true);
    let calls = AtomicU32::new(0);
    let outcome: covet::Result<()> = db
        .transaction_with_retry(&quick_policy(3), options, |tx| {
            calls.fetch_add(1, Ordering::SeqCst);
            let db = db.clone();
            async move { fail_retryably(&db, &tx).await }
        })
        .await;
    let error = outcome.unwrap_err();
    assert!(error.is_retryable(), "the last error is returned: {error}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "three attempts, then it gives up"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_attempts_sqlite() {
    run_with(
        Backend::Sqlite,
        "gives_up",
        short_busy_timeout(),
        check_gives_up,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_attempts_postgres() {
    run(Backend::Postgres, "gives_up", check_gives_up).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gives_up_after_max_attempts_mysql() {
    run(Backend::MySql, "gives_up", check_gives_up).await;
}

/// An application error type that carries covet errors.
#[derive(Debug)]
enum AppError {
    Database(Error),
    Rejected(&'static str),
    /// An application error that requests a retry, such as a conflict the program found.
    TryAgain,
}

impl From<Error> for AppError {
    fn from(error: Error) -> Self {
        AppError::Database(error)
    }
}

impl RetryableError for AppError {
    fn as_covet_error(&self) -> Option<&Error> {
        match self {
            AppError::Database(error) => Some(error),
            AppError::Rejected(_) | AppError::TryAgain => None,
        }
    }

    fn is_retryable(&self) -> bool {
        match self {
            AppError::Database(error) => error.is_retryable(),
            AppError::Rejected(_) => false,
            AppError::TryAgain => true,
        }
    }
}

backend_tests! {
    async fn unique_violation_is_not_retried(db) {
        Label::create_table(&db).await?;
        Label { id: 0, name: String::from("taken") }.insert(&db).await?;
        let calls = AtomicU32::new(0);
        let outcome: covet::Result<()> = db
            .transaction_with_retry(&quick_policy(5), TransactionOptions::new(), |tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    Label { id: 0, name: String::from("taken") }.insert(&tx).await?;
                    Ok(())
                }
            })
            .await;
        assert_eq!(outcome.unwrap_err().kind(), ErrorKind::UniqueViolation);
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a unique violation is final");
        Ok(())
    }

    async fn zero_attempts_is_rejected(db) {
        let calls = AtomicU32::new(0);
        let outcome: covet::Result<()> = db
            .transaction_with_retry(&RetryPolicy::new().max_attempts(0), TransactionOptions::new(), |_tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Ok(()) }
            })
            .await;
        let error = outcome.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("max_attempts is 0"), "{error}");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        Ok(())
    }

    async fn application_error_is_not_retried(db) {
        let calls = AtomicU32::new(0);
        let outcome: Result<(), AppError> = db
            .transaction_with_retry(&quick_policy(5), TransactionOptions::new(), |_tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(AppError::Rejected("insufficient funds")) }
            })
            .await;
        assert!(matches!(outcome, Err(AppError::Rejected("insufficient funds"))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        Ok(())
    }

    async fn body_that_committed_is_not_rerun(db) {
        // The body commits its own transaction and then fails with a retryable error:
        // running it again would insert the row twice.
        Label::create_table(&db).await?;
        let calls = AtomicU32::new(0);
        let outcome: Result<(), AppError> = db
            .transaction_with_retry(&quick_policy(5), TransactionOptions::new(), |tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async move {
                    Label { id: 0, name: String::from("once") }.insert(&tx).await?;
                    tx.commit().await?;
                    Err(AppError::TryAgain)
                }
            })
            .await;
        assert!(matches!(outcome, Err(AppError::TryAgain)), "{outcome:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(Label::query().count(&db).await?, 1);

        // Without the commit, the same error is retried to the policy's limit.
        let calls = AtomicU32::new(0);
        let outcome: Result<(), AppError> = db
            .transaction_with_retry(&quick_policy(3), TransactionOptions::new(), |_tx| {
                calls.fetch_add(1, Ordering::SeqCst);
                async { Err(AppError::TryAgain) }
            })
            .await;
        assert!(matches!(outcome, Err(AppError::TryAgain)));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        Ok(())
    }

    async fn committed_value_is_returned(db) {
        Label::create_table(&db).await?;
        let id = db
            .transaction_with_retry(&RetryPolicy::new(), TransactionOptions::new(), |tx| async move {
                let label = Label { id: 0, name: String::from("kept") }.insert(&tx).await?;
                Ok::<_, Error>(label.id)
            })
            .await?;
        assert_eq!(Label::get(&db, id).await?.name, "kept");
        Ok(())
    }
}
