//! The slow-statement log, per-table statement counts and the `metrics` facade, on every
//! backend.
//!
//! The tests that capture tracing events or metrics use a current-thread runtime, so the
//! thread's subscriber or recorder receives everything the test's statements emit.

mod support;

use futures_util::TryStreamExt as _;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet::{ConnectOptions, Database, ErrorKind, Model};
use futures_util::FutureExt as _;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use support::{Backend, TestDb};

/// A bound value that must never appear in a log event.
const SECRET: &str = "secret-value-2718";

const SLOW_TARGET: &str = "covet::slow_query";

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "authors")]
struct Author {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "books")]
struct Book {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    title: String,
}

fn author(name: &str) -> Author {
    Author {
        id: 0,
        name: name.to_owned(),
    }
}

fn book(title: &str) -> Book {
    Book {
        id: 0,
        title: title.to_owned(),
    }
}

/// One tracing event: its target, level and fields as text.
#[derive(Clone, Debug)]
struct EventRecord {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

impl EventRecord {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

#[derive(Clone, Default)]
struct EventRecorder {
    events: Arc<Mutex<Vec<EventRecord>>>,
}

impl EventRecorder {
    fn take(&self) -> Vec<EventRecord> {
        std::mem::take(&mut *self.events.lock().expect("recorder lock"))
    }
}

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for EventRecorder {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor(&mut fields));
        self.events
            .lock()
            .expect("recorder lock")
            .push(EventRecord {
                target: event.metadata().target().to_owned(),
                level: *event.metadata().level(),
                fields,
            });
    }
}

/// Runs `body` on a fresh database of `backend` opened with `options`, then removes the
/// database, also when `body` panics.
async fn with_database<F, Fut>(backend: Backend, test: &str, options: ConnectOptions, body: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = covet::Result<()>>,
{
    let Some(test_db) = TestDb::create(backend, test, options).await else {
        return;
    };
    // The body runs here rather than in a spawned task because it uses this thread's
    // subscriber or recorder. Catching its panic lets cleanup drop the database.
    let outcome = std::panic::AssertUnwindSafe(body(test_db.db.clone()))
        .catch_unwind()
        .await;
    test_db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{test} failed on {backend:?}: {error} ({error:?})"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Installs an [`EventRecorder`] as this thread's subscriber until the guard is dropped.
fn record_events() -> (EventRecorder, tracing::subscriber::DefaultGuard) {
    let recorder = EventRecorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    (recorder, tracing::subscriber::set_default(subscriber))
}

fn slow_events(events: &[EventRecord]) -> Vec<&EventRecord> {
    events
        .iter()
        .filter(|event| event.target == SLOW_TARGET)
        .collect()
}

fn placeholder(db: &Database) -> &'static str {
    match db.backend().system_name() {
        "postgresql" => "$1",
        _ => "?",
    }
}

/// Defines `name::sqlite`, `name::postgres` and `name::mysql`, each calling `check` with
/// its backend on a current-thread runtime.
macro_rules! current_thread_tests {
    ($($name:ident => $check:ident;)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test]
                async fn sqlite() {
                    $check(Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    $check(Backend::Postgres).await;
                }

                #[tokio::test]
                async fn mysql() {
                    $check(Backend::MySql).await;
                }
            }
        )*
    };
}

async fn check_slow_log_hides_values(backend: Backend) {
    let options = ConnectOptions::new().slow_query_threshold(Some(Duration::ZERO));
    with_database(backend, "slow_log", options, |db| async move {
        Author::create_table(&db).await?;
        let (recorder, guard) = record_events();
        author(SECRET).insert(&db).await?;
        let found = Author::query()
            .filter(Author::NAME.eq(SECRET))
            .all(&db)
            .await?;
        assert_eq!(found.len(), 1);
        drop(guard);

        let events = recorder.take();
        let slow = slow_events(&events);
        let insert = slow
            .iter()
            .find(|event| event.field("db.operation.name") == Some("INSERT"))
            .unwrap_or_else(|| panic!("no slow INSERT event: {events:?}"));
        assert_eq!(insert.level, Level::WARN);
        assert_eq!(insert.field("db.collection.name"), Some("authors"));
        assert!(
            insert.field("message").unwrap_or_default().contains("slow"),
            "{insert:?}"
        );
        let text = insert.field("db.query.text").unwrap_or_default();
        assert!(text.contains(placeholder(&db)), "placeholders only: {text}");
        let duration: f64 = insert
            .field("duration_ms")
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("duration_ms is missing or not a number: {insert:?}"));
        assert!(duration >= 0.0, "{insert:?}");

        let select = slow
            .iter()
            .find(|event| event.field("db.operation.name") == Some("SELECT"))
            .unwrap_or_else(|| panic!("no slow SELECT event: {events:?}"));
        assert_eq!(select.field("db.collection.name"), Some("authors"));

        for event in &events {
            for value in event.fields.values() {
                assert!(
                    !value.contains(SECRET),
                    "a bound value was logged: {event:?}"
                );
            }
        }
        Ok(())
    })
    .await;
}

/// Returns a statement that takes about 300 ms or more.
fn sleeping_statement(db: &Database) -> &'static str {
    match db.backend().system_name() {
        "postgresql" => "SELECT pg_sleep(0.3)",
        "mysql" | "mariadb" => "SELECT SLEEP(0.3)",
        // SQLite has no sleep function: count through a long recursive CTE instead.
        _ => {
            "WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter \
             WHERE n < 3000000) SELECT COUNT(*) FROM counter"
        }
    }
}

async fn check_threshold_separates_slow(backend: Backend) {
    let threshold = Duration::from_millis(100);
    let options = ConnectOptions::new().slow_query_threshold(Some(threshold));
    with_database(backend, "slow_threshold", options, |db| async move {
        Author::create_table(&db).await?;
        let (recorder, guard) = record_events();
        author("fast").insert(&db).await?;
        covet::raw(sleeping_statement(&db))
            .fetch_with(&db, |_| Ok(()))
            .await?;
        drop(guard);

        let events = recorder.take();
        let slow = slow_events(&events);
        let sleeping = slow
            .iter()
            .find(|event| event.field("db.query.text") == Some(sleeping_statement(&db)));
        assert!(
            sleeping.is_some(),
            "the sleeping statement is slow: {slow:?}"
        );
        // The insert is normally fast, but a loaded machine may slow it past the threshold,
        // so the check is that nothing faster than the threshold is logged.
        for event in &slow {
            let duration: f64 = event
                .field("duration_ms")
                .and_then(|value| value.parse().ok())
                .unwrap_or_else(|| panic!("duration_ms is missing: {event:?}"));
            assert!(duration >= 100.0, "{event:?}");
        }
        Ok(())
    })
    .await;
}

async fn check_slow_log_off(backend: Backend) {
    for threshold in [None, Some(Duration::from_secs(3600))] {
        let options = ConnectOptions::new().slow_query_threshold(threshold);
        check_nothing_slow(backend, options).await;
    }
}

async fn check_nothing_slow(backend: Backend, options: ConnectOptions) {
    with_database(backend, "slow_log_off", options, |db| async move {
        Author::create_table(&db).await?;
        let (recorder, guard) = record_events();
        author("quiet").insert(&db).await?;
        covet::raw(sleeping_statement(&db))
            .fetch_with(&db, |_| Ok(()))
            .await?;
        drop(guard);
        let events = recorder.take();
        assert!(slow_events(&events).is_empty(), "{events:?}");
        Ok(())
    })
    .await;
}

/// One recorded metric: its name, its labels as (key, value) pairs, and its value.
type RecordedMetric = (String, Vec<(String, String)>, DebugValue);

/// Returns the value of the metric `name` with the labels `table` and `operation`.
fn metric<'a>(
    recorded: &'a [RecordedMetric],
    name: &str,
    table: &str,
    operation: &str,
) -> Option<&'a DebugValue> {
    let labels = [
        (String::from("table"), table.to_owned()),
        (String::from("operation"), operation.to_owned()),
    ];
    recorded
        .iter()
        .find(|(key, key_labels, _)| {
            key == name && labels.iter().all(|label| key_labels.contains(label))
        })
        .map(|(_, _, value)| value)
}

async fn check_metrics_facade(backend: Backend) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _guard = metrics::set_default_local_recorder(&recorder);
    with_database(backend, "metrics", ConnectOptions::new(), |db| async move {
        Book::create_table(&db).await?;
        for title in ["a", "b", "c"] {
            book(title).insert(&db).await?;
        }
        let duplicate = book("a").insert(&db).await.unwrap_err();
        assert_eq!(duplicate.kind(), ErrorKind::UniqueViolation);
        Ok(())
    })
    .await;

    let recorded: Vec<RecordedMetric> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let labels = key
                .key()
                .labels()
                .map(|label| (label.key().to_owned(), label.value().to_owned()))
                .collect();
            (key.key().name().to_owned(), labels, value)
        })
        .collect();
    let inserts = metric(&recorded, "covet_queries_total", "books", "INSERT");
    assert!(
        matches!(inserts, Some(DebugValue::Counter(4))),
        "four inserts counted: {inserts:?}"
    );
    let errors = metric(&recorded, "covet_query_errors_total", "books", "INSERT");
    assert!(
        matches!(errors, Some(DebugValue::Counter(1))),
        "one failed insert: {errors:?}"
    );
    let durations = metric(&recorded, "covet_query_duration_seconds", "books", "INSERT");
    assert!(
        matches!(durations, Some(DebugValue::Histogram(samples)) if samples.len() == 4),
        "four insert durations: {durations:?}"
    );
}

current_thread_tests! {
    slow_log_hides_values => check_slow_log_hides_values;
    threshold_separates_slow => check_threshold_separates_slow;
    slow_log_off => check_slow_log_off;
    metrics_facade => check_metrics_facade;
}

backend_tests! {
    async fn query_stats_count_per_table(db) {
        Author::create_table(&db).await?;
        Book::create_table(&db).await?;
        db.reset_query_stats();
        assert_eq!(db.query_stats().total().count, 0, "reset clears the counts");

        author("one").insert(&db).await?;
        author("two").insert(&db).await?;
        let tx = db.begin().await?;
        author("three").insert(&tx).await?;
        tx.commit().await?;
        assert_eq!(Author::query().all(&db).await?.len(), 3);
        book("only").insert(&db).await?;
        let duplicate = book("only").insert(&db).await.unwrap_err();
        assert_eq!(duplicate.kind(), ErrorKind::UniqueViolation);

        let stats = db.query_stats();
        // Without RETURNING, each insert reads its row back with a SELECT.
        let read_backs = if db.backend().capabilities().insert_returning { 0 } else { 1 };
        let author_inserts = stats.get(Some("authors"), "INSERT").expect("author inserts");
        assert_eq!(author_inserts.count, 3, "{stats:?}");
        assert_eq!(author_inserts.errors, 0, "{stats:?}");
        assert!(author_inserts.total_duration >= author_inserts.max_duration);
        assert!(author_inserts.max_duration > Duration::ZERO);
        let author_selects = stats.get(Some("authors"), "SELECT").expect("author selects");
        assert_eq!(author_selects.count, 1 + 3 * read_backs, "{stats:?}");
        let book_inserts = stats.get(Some("books"), "INSERT").expect("book inserts");
        assert_eq!(book_inserts.count, 2, "{stats:?}");
        assert_eq!(book_inserts.errors, 1, "{stats:?}");
        assert_eq!(stats.table("books").count, 2 + read_backs, "{stats:?}");
        assert_eq!(stats.get(None, "BEGIN").map(|s| s.count), Some(1), "{stats:?}");
        assert_eq!(stats.get(None, "COMMIT").map(|s| s.count), Some(1), "{stats:?}");
        assert_eq!(db.clone().query_stats(), stats, "clones share the counts");

        // A row stream counts once, when it ends.
        let streamed: Vec<Author> = Author::query().stream(&db).try_collect().await?;
        assert_eq!(streamed.len(), 3);
        let after = db.query_stats();
        let selects = after.get(Some("authors"), "SELECT").expect("author selects");
        assert_eq!(selects.count, author_selects.count + 1, "{after:?}");
        Ok(())
    }
}
