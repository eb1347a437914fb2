//! The tracing span of every statement, on every backend.
//!
//! A recording layer stores each span's fields and each event with the spans around it.
//! The tests use a current-thread runtime, so the subscriber set with `set_default` receives
//! every span and event of the test's statements, except those that sqlx's SQLite driver
//! emits on its own worker thread.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use covet::{ConnectOptions, Database, ErrorKind, Model};
use futures_util::FutureExt as _;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use support::{Backend, TestDb};

/// A bound value that must never appear in tracing output.
const SECRET: &str = "secret-value-8431";
/// A second bound value, written by an UPDATE.
const SECRET_NOTE: &str = "secret-note-5570";

const QUERY_TARGET: &str = "covet::query";

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "secrets")]
struct Secret {
    #[covet(primary_key, auto_increment)]
    id: i64,
    token: String,
    note: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "badges")]
struct Badge {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    code: String,
}

/// One span: its target, name and every field recorded on it, as text.
#[derive(Clone, Debug)]
struct SpanRecord {
    target: String,
    name: String,
    fields: BTreeMap<String, String>,
}

impl SpanRecord {
    fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn operation(&self) -> &str {
        self.field("db.operation.name").unwrap_or_default()
    }
}

/// One event: its target, fields, and the spans around it, innermost first, as indexes
/// into [`Recorded::spans`].
#[derive(Clone, Debug)]
struct EventRecord {
    target: String,
    fields: BTreeMap<String, String>,
    scope: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
struct Recorded {
    spans: Vec<SpanRecord>,
    events: Vec<EventRecord>,
}

impl Recorded {
    fn query_spans(&self) -> Vec<&SpanRecord> {
        self.spans
            .iter()
            .filter(|span| span.target == QUERY_TARGET)
            .collect()
    }

    /// Returns the first span or event field whose value contains `text`, as
    /// `place = value`.
    fn find_text(&self, text: &str) -> Option<String> {
        let in_spans = self.spans.iter().flat_map(|span| {
            span.fields
                .iter()
                .map(move |(name, value)| (format!("span {} {name}", span.name), value))
        });
        let in_events = self.events.iter().flat_map(|event| {
            event
                .fields
                .iter()
                .map(move |(name, value)| (format!("event {} {name}", event.target), value))
        });
        in_spans
            .chain(in_events)
            .find(|(_, value)| value.contains(text))
            .map(|(place, value)| format!("{place} = {value}"))
    }
}

/// Index of a span in [`Recorded::spans`], kept in the span's extensions.
struct SpanIndex(usize);

#[derive(Clone, Default)]
struct Recorder {
    recorded: Arc<Mutex<Recorded>>,
}

impl Recorder {
    fn take(&self) -> Recorded {
        std::mem::take(&mut *self.recorded.lock().expect("recorder lock"))
    }
}

struct FieldVisitor<'a> {
    fields: &'a mut BTreeMap<String, String>,
}

impl Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.fields
            .insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.fields
            .insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S> Layer<S> for Recorder
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let metadata = attributes.metadata();
        let mut fields = BTreeMap::new();
        attributes.record(&mut FieldVisitor {
            fields: &mut fields,
        });
        let index = {
            let mut recorded = self.recorded.lock().expect("recorder lock");
            recorded.spans.push(SpanRecord {
                target: metadata.target().to_owned(),
                name: metadata.name().to_owned(),
                fields,
            });
            recorded.spans.len() - 1
        };
        if let Some(span) = context.span(id) {
            span.extensions_mut().insert(SpanIndex(index));
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        let Some(span) = context.span(id) else {
            return;
        };
        let Some(index) = span.extensions().get::<SpanIndex>().map(|index| index.0) else {
            return;
        };
        let mut recorded = self.recorded.lock().expect("recorder lock");
        values.record(&mut FieldVisitor {
            fields: &mut recorded.spans[index].fields,
        });
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut FieldVisitor {
            fields: &mut fields,
        });
        let scope = context
            .event_scope(event)
            .map(|scope| {
                scope
                    .filter_map(|span| span.extensions().get::<SpanIndex>().map(|index| index.0))
                    .collect()
            })
            .unwrap_or_default();
        self.recorded
            .lock()
            .expect("recorder lock")
            .events
            .push(EventRecord {
                target: event.metadata().target().to_owned(),
                fields,
                scope,
            });
    }
}

/// Installs a [`Recorder`] as this thread's subscriber until the guard is dropped.
fn record_tracing() -> (Recorder, tracing::subscriber::DefaultGuard) {
    let recorder = Recorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    (recorder, guard)
}

/// The values a backend's spans must carry.
struct Expected {
    system: &'static str,
    namespace: String,
    placeholder: &'static str,
}

fn expected_for(test_db: &TestDb) -> Expected {
    let system = test_db.db.backend().system_name();
    match test_db.backend {
        Backend::Sqlite => Expected {
            system,
            namespace: test_db
                .url
                .strip_prefix("sqlite://")
                .expect("a sqlite:// URL")
                .to_owned(),
            placeholder: "?",
        },
        Backend::Postgres | Backend::MySql => {
            let url = url::Url::parse(&test_db.url).expect("valid test URL");
            Expected {
                system,
                namespace: url.path().trim_start_matches('/').to_owned(),
                placeholder: if test_db.backend == Backend::Postgres {
                    "$1"
                } else {
                    "?"
                },
            }
        }
    }
}

/// Runs `body` on a fresh database of `backend`, then removes the database.
async fn with_database<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Database, Expected) -> Fut,
    Fut: Future<Output = covet::Result<()>>,
{
    let Some(test_db) = TestDb::create(backend, test, ConnectOptions::new()).await else {
        return;
    };
    let expected = expected_for(&test_db);
    // The body keeps a thread-local subscriber guard, so it cannot move to a spawned task;
    // catching the panic here still lets cleanup drop the database.
    let outcome = std::panic::AssertUnwindSafe(body(test_db.db.clone(), expected))
        .catch_unwind()
        .await;
    test_db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{test} failed on {backend:?}: {error} ({error:?})"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// Checks the fields every statement span carries, whatever the statement.
fn check_common_fields(span: &SpanRecord, expected: &Expected) {
    assert_eq!(span.name, "db.query", "{span:?}");
    assert_eq!(
        span.field("db.system.name"),
        Some(expected.system),
        "{span:?}"
    );
    assert_eq!(
        span.field("db.namespace"),
        Some(expected.namespace.as_str()),
        "{span:?}"
    );

    let operation = span.operation();
    assert!(
        !operation.is_empty(),
        "db.operation.name is missing: {span:?}"
    );
    let text = span.field("db.query.text").unwrap_or_default();
    assert!(!text.is_empty(), "db.query.text is missing: {span:?}");

    let duration: f64 = span
        .field("duration_ms")
        .unwrap_or_else(|| panic!("duration_ms is missing: {span:?}"))
        .parse()
        .unwrap_or_else(|_| panic!("duration_ms is not a number: {span:?}"));
    assert!(duration >= 0.0, "{span:?}");

    let returned = span.field("db.response.returned_rows").is_some();
    let affected = span.field("db.response.affected_rows").is_some();
    let control = matches!(
        operation,
        "BEGIN" | "SAVEPOINT" | "COMMIT" | "RELEASE" | "ROLLBACK"
    );
    if control {
        assert!(
            !returned && !affected,
            "a transaction control span records no row count: {span:?}"
        );
    } else {
        assert!(
            returned != affected,
            "a span records either returned or affected rows: {span:?}"
        );
    }
    assert_eq!(span.field("error.type"), None, "{span:?}");
}

async fn check_span_fields(backend: Backend) {
    with_database(backend, "span_fields", |db, expected| async move {
        let (recorder, guard) = record_tracing();

        Secret::create_table(&db).await?;
        let stored = Secret {
            id: 0,
            token: SECRET.to_owned(),
            note: None,
        }
        .insert(&db)
        .await?;
        assert_eq!(stored.token, SECRET);
        let found = Secret::query()
            .filter(Secret::TOKEN.eq(SECRET))
            .all(&db)
            .await?;
        assert_eq!(found.len(), 1);
        let updated = Secret::update_many()
            .set(Secret::NOTE, SECRET_NOTE)
            .filter(Secret::TOKEN.eq(SECRET))
            .exec(&db)
            .await?;
        assert_eq!(updated, 1);
        let count = Secret::query()
            .filter(Secret::NOTE.eq(SECRET_NOTE))
            .count(&db)
            .await?;
        assert_eq!(count, 1);
        let insert_sql = format!(
            "INSERT INTO secrets (token, note) VALUES ({}, {})",
            expected.placeholder,
            expected.placeholder.replace('1', "2")
        );
        let inserted = covet::raw(insert_sql)
            .bind(SECRET)
            .bind(SECRET_NOTE)
            .execute(&db)
            .await?;
        assert_eq!(inserted.rows_affected, 1);
        let deleted = Secret::delete_many()
            .filter(Secret::TOKEN.eq(SECRET))
            .exec(&db)
            .await?;
        assert_eq!(deleted, 2);

        drop(guard);
        let recorded = recorder.take();
        let spans = recorded.query_spans();
        let mut operations = vec!["CREATE TABLE", "INSERT"];
        if !db.backend().capabilities().insert_returning {
            // Without RETURNING the inserted row is read back by its key.
            operations.push("SELECT");
        }
        operations.extend(["SELECT", "UPDATE", "SELECT", "INSERT", "DELETE"]);
        let seen: Vec<&str> = spans.iter().map(|span| span.operation()).collect();
        assert_eq!(seen, operations, "one span per statement, in order");
        for span in &spans {
            check_common_fields(span, &expected);
        }

        let create = spans[0];
        assert_eq!(create.field("db.collection.name"), Some("secrets"));
        assert_eq!(create.field("otel.name"), Some("CREATE TABLE secrets"));
        assert!(create.field("db.response.affected_rows").is_some());

        let insert = spans[1];
        assert_eq!(insert.field("db.collection.name"), Some("secrets"));
        assert!(
            insert
                .field("db.query.text")
                .unwrap_or_default()
                .contains(expected.placeholder)
        );
        if db.backend().capabilities().insert_returning {
            assert_eq!(insert.field("db.response.returned_rows"), Some("1"));
        } else {
            assert_eq!(insert.field("db.response.affected_rows"), Some("1"));
        }

        let tail = &spans[spans.len() - 5..];
        let (select, update, count_span, raw_insert, delete) =
            (tail[0], tail[1], tail[2], tail[3], tail[4]);
        assert_eq!(select.field("db.collection.name"), Some("secrets"));
        assert_eq!(select.field("otel.name"), Some("SELECT secrets"));
        assert!(
            select
                .field("db.query.text")
                .unwrap_or_default()
                .contains(expected.placeholder)
        );
        assert_eq!(select.field("db.response.returned_rows"), Some("1"));

        assert_eq!(update.field("db.collection.name"), Some("secrets"));
        assert!(
            update
                .field("db.query.text")
                .unwrap_or_default()
                .starts_with("UPDATE")
        );
        assert_eq!(update.field("db.response.affected_rows"), Some("1"));

        assert_eq!(count_span.field("db.response.returned_rows"), Some("1"));

        assert_eq!(
            raw_insert.field("db.collection.name"),
            None,
            "raw SQL names no table"
        );
        assert_eq!(raw_insert.field("otel.name"), Some("INSERT"));
        assert_eq!(raw_insert.field("db.response.affected_rows"), Some("1"));

        assert_eq!(delete.field("db.collection.name"), Some("secrets"));
        assert_eq!(delete.field("db.response.affected_rows"), Some("2"));

        assert_eq!(
            recorded.find_text(SECRET),
            None,
            "a bound value reached tracing"
        );
        assert_eq!(
            recorded.find_text(SECRET_NOTE),
            None,
            "a bound value reached tracing"
        );
        Ok(())
    })
    .await;
}

async fn check_transaction_spans(backend: Backend) {
    with_database(backend, "transaction_spans", |db, expected| async move {
        Secret::create_table(&db).await?;
        let (recorder, guard) = record_tracing();

        db.transaction(|tx| async move {
            Secret {
                id: 0,
                token: SECRET.to_owned(),
                note: Some(SECRET_NOTE.to_owned()),
            }
            .insert(&tx)
            .await?;
            let count = Secret::query()
                .filter(Secret::TOKEN.eq(SECRET))
                .count(&tx)
                .await?;
            assert_eq!(count, 1);
            Ok::<_, covet::Error>(())
        })
        .await?;
        let tx = db.begin().await?;
        Secret::delete_many()
            .filter(Secret::NOTE.eq(SECRET_NOTE))
            .exec(&tx)
            .await?;
        tx.rollback().await?;

        drop(guard);
        let recorded = recorder.take();
        let spans = recorded.query_spans();
        let operations: Vec<&str> = spans.iter().map(|span| span.operation()).collect();
        for control in ["BEGIN", "COMMIT", "ROLLBACK"] {
            assert!(
                operations.contains(&control),
                "{control} runs in a span: {operations:?}"
            );
        }
        let data: Vec<&str> = operations
            .iter()
            .copied()
            .filter(|operation| !matches!(*operation, "BEGIN" | "COMMIT" | "ROLLBACK"))
            .collect();
        assert!(
            data.ends_with(&["SELECT", "DELETE"]),
            "statements in a transaction run in spans: {operations:?}"
        );
        let delete_position = operations
            .iter()
            .rposition(|operation| *operation == "DELETE");
        assert_eq!(
            operations.last(),
            Some(&"ROLLBACK"),
            "the rollback follows the delete at {delete_position:?}: {operations:?}"
        );
        for span in &spans {
            check_common_fields(span, &expected);
        }
        let delete = spans[spans.len() - 2];
        assert_eq!(delete.operation(), "DELETE");
        assert_eq!(delete.field("db.response.affected_rows"), Some("1"));
        assert_eq!(
            recorded.find_text(SECRET),
            None,
            "a bound value reached tracing"
        );
        assert_eq!(
            recorded.find_text(SECRET_NOTE),
            None,
            "a bound value reached tracing"
        );
        Ok(())
    })
    .await;
}

/// Checks, through sqlx's own `sqlx::query` event for each statement it runs, that no
/// statement runs outside a `covet::query` span: transaction control included.
async fn check_every_statement_spanned(backend: Backend) {
    with_database(
        backend,
        "every_statement_spanned",
        |db, _expected| async move {
            let (recorder, guard) = record_tracing();

            Secret::create_table(&db).await?;
            db.transaction(|tx| async move {
                let nested = tx.begin().await?;
                Secret {
                    id: 0,
                    token: String::from("kept"),
                    note: None,
                }
                .insert(&nested)
                .await?;
                nested.commit().await?;
                Ok::<_, covet::Error>(())
            })
            .await?;
            let tx = db.begin().await?;
            Secret::query().count(&tx).await?;
            tx.rollback().await?;

            drop(guard);
            let recorded = recorder.take();
            let statements: Vec<&EventRecord> = recorded
                .events
                .iter()
                .filter(|event| event.target == "sqlx::query")
                .collect();
            // NOTE: sqlx runs SQLite statements, and logs them, on a worker thread that this
            // thread's subscriber does not see, so on SQLite this check finds no statement.
            if backend != Backend::Sqlite {
                assert!(!statements.is_empty(), "sqlx logged no statement");
            }
            let outside: Vec<String> = statements
                .iter()
                .filter(|event| {
                    !event
                        .scope
                        .iter()
                        .any(|&index| recorded.spans[index].target == QUERY_TARGET)
                })
                .map(|event| event.fields.get("summary").cloned().unwrap_or_default())
                .collect();
            assert!(
                outside.is_empty(),
                "statements that ran outside a covet::query span: {outside:?}"
            );
            Ok(())
        },
    )
    .await;
}

/// Checks that a failed statement records `error.type` and a `statement failed` event, and
/// neither carries the bound value that caused the failure.
async fn check_failed_statement(backend: Backend) {
    with_database(backend, "failed_statement", |db, expected| async move {
        Badge::create_table(&db).await?;
        let badge = Badge {
            id: 0,
            code: SECRET.to_owned(),
        };
        badge.insert(&db).await?;
        let (recorder, guard) = record_tracing();
        let error = badge.insert(&db).await.unwrap_err();
        drop(guard);
        assert_eq!(error.kind(), ErrorKind::UniqueViolation, "{error:?}");

        let recorded = recorder.take();
        let spans = recorded.query_spans();
        assert_eq!(spans.len(), 1, "{spans:?}");
        let span = spans[0];
        assert_eq!(span.operation(), "INSERT");
        assert_eq!(span.field("db.system.name"), Some(expected.system));
        assert_eq!(span.field("error.type"), Some("UniqueViolation"));
        assert!(span.field("duration_ms").is_some(), "{span:?}");
        let failed: Vec<&EventRecord> = recorded
            .events
            .iter()
            .filter(|event| {
                event.target == QUERY_TARGET
                    && event.fields.get("message").map(String::as_str) == Some("statement failed")
            })
            .collect();
        assert_eq!(failed.len(), 1, "{:?}", recorded.events);
        assert_eq!(
            failed[0].fields.get("kind").map(String::as_str),
            Some("UniqueViolation"),
            "{:?}",
            failed[0]
        );
        assert!(
            !failed[0].fields.contains_key("error"),
            "the event leaves out the server message, which can quote values: {:?}",
            failed[0]
        );
        assert_eq!(
            recorded.find_text(SECRET),
            None,
            "a bound value reached tracing"
        );
        Ok(())
    })
    .await;
}

/// Defines one current-thread test per backend for each check, so the thread's default
/// subscriber receives the whole test.
macro_rules! per_backend {
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

per_backend! {
    span_fields => check_span_fields;
    transaction_spans => check_transaction_spans;
    every_statement_spanned => check_every_statement_spanned;
    failed_statement_hides_values => check_failed_statement;
}
