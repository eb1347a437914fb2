//! Streaming query results row by row, on every backend.

mod support;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use covet::{ConnectOptions, Database, ErrorKind, Model};
use futures_util::{FutureExt as _, StreamExt as _, TryStreamExt as _};
use support::{Backend, run_with};
use tracing::instrument::WithSubscriber as _;
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "readings")]
struct Reading {
    #[covet(primary_key, auto_increment)]
    id: i64,
    sensor: String,
    value: i32,
    note: Option<String>,
}

/// The same table read with `note` declared non-nullable, so rows with a NULL note fail to
/// decode.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "readings")]
struct StrictReading {
    #[covet(primary_key, auto_increment)]
    id: i64,
    sensor: String,
    value: i32,
    note: String,
}

const ROWS: i32 = 250;

/// Inserts `ROWS` readings; every tenth has a NULL note.
async fn seed<E: covet::Executor>(db: &E) -> covet::Result<()> {
    Reading::create_table(db).await?;
    let rows: Vec<Reading> = (0..ROWS)
        .map(|index| Reading {
            id: 0,
            sensor: format!("s{}", index % 7),
            value: index,
            note: (index % 10 != 9).then(|| format!("note {index}")),
        })
        .collect();
    Reading::insert_many(db, &rows).await?;
    Ok(())
}

/// The fields of every `covet::query` span, in creation order, as text.
#[derive(Clone, Default)]
struct SpanFields(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct Visitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for Visitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> Layer<S> for SpanFields {
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        if attributes.metadata().target() != "covet::query" {
            return;
        }
        let mut fields = BTreeMap::new();
        fields.insert(String::from("id"), format!("{id:?}"));
        attributes.record(&mut Visitor(&mut fields));
        self.0.lock().unwrap().push(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let id = format!("{id:?}");
        let mut spans = self.0.lock().unwrap();
        if let Some(fields) = spans.iter_mut().rev().find(|fields| fields["id"] == id) {
            values.record(&mut Visitor(fields));
        }
    }
}

fn values(rows: &[Reading]) -> Vec<i32> {
    rows.iter().map(|row| row.value).collect()
}

backend_tests! {
    async fn stream_yields_rows_in_order(db) {
        seed(&db).await?;
        let expected = Reading::query().order_by_desc(Reading::VALUE).all(&db).await?;
        let streamed: Vec<Reading> = Reading::query()
            .order_by_desc(Reading::VALUE)
            .stream(&db)
            .try_collect()
            .await?;
        assert_eq!(streamed.len(), usize::try_from(ROWS).unwrap());
        assert_eq!(streamed, expected, "decoded rows match all()");
        let filtered: Vec<Reading> = Reading::query()
            .filter(Reading::SENSOR.eq("s3"))
            .order_by_asc(Reading::VALUE)
            .stream(&db)
            .try_collect()
            .await?;
        let expected: Vec<i32> = (0..ROWS).filter(|value| value % 7 == 3).collect();
        assert_eq!(values(&filtered), expected);
        Ok(())
    }

    async fn stream_of_empty_result_ends(db) {
        seed(&db).await?;
        let mut rows = Reading::query().filter(Reading::VALUE.lt(0)).stream(&db);
        assert!(rows.next().await.is_none(), "no row matches");
        assert!(rows.next().await.is_none(), "the stream stays ended");
        Ok(())
    }

    async fn stream_inside_transaction(db) {
        seed(&db).await?;
        let tx = db.begin().await?;
        Reading::delete_many().filter(Reading::VALUE.ge(100)).exec(&tx).await?;
        let inside: Vec<Reading> = Reading::query()
            .order_by_asc(Reading::ID)
            .stream(&tx)
            .try_collect()
            .await?;
        assert_eq!(values(&inside), (0..100).collect::<Vec<_>>(), "sees its own delete");
        tx.rollback().await?;
        assert_eq!(Reading::query().count(&db).await?, u64::try_from(ROWS).unwrap());
        Ok(())
    }

    async fn decode_error_is_item_and_stream_goes_on(db) {
        seed(&db).await?;
        let items: Vec<covet::Result<StrictReading>> = StrictReading::query()
            .order_by_asc(StrictReading::VALUE)
            .stream(&db)
            .collect()
            .await;
        assert_eq!(items.len(), usize::try_from(ROWS).unwrap(), "one item per row");
        for (index, item) in items.iter().enumerate() {
            let null_note = index % 10 == 9;
            match item {
                Ok(row) => {
                    assert!(!null_note, "row {index} has a NULL note but decoded");
                    assert_eq!(row.value, i32::try_from(index).unwrap());
                }
                Err(error) => {
                    assert!(null_note, "row {index} failed: {error}");
                    assert_eq!(error.kind(), ErrorKind::Decode);
                    assert!(error.to_string().contains("note"), "names the column: {error}");
                }
            }
        }
        let count = Reading::query().count(&db).await?;
        assert_eq!(count, u64::try_from(ROWS).unwrap(), "the pool still works");
        Ok(())
    }

    async fn database_error_is_an_item(db) {
        // No table: the server rejects the query, and the stream yields that error once.
        let items: Vec<covet::Result<Reading>> = Reading::query().stream(&db).collect().await;
        assert_eq!(items.len(), 1, "one error item");
        let error = items.into_iter().next().unwrap().unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::OtherDatabase),
            "a database error, got {error:?}"
        );
        Reading::create_table(&db).await?;
        assert_eq!(Reading::query().count(&db).await?, 0, "the pool still works");
        Ok(())
    }

    async fn stream_span_records_rows(db) {
        seed(&db).await?;
        let spans = SpanFields::default();
        let subscriber = tracing_subscriber::registry().with(spans.clone());
        let db = &db;
        async move {
            let all: Vec<Reading> = Reading::query().stream(db).try_collect().await?;
            assert_eq!(all.len(), usize::try_from(ROWS).unwrap());
            let mut some = Reading::query().filter(Reading::VALUE.ge(5)).stream(db);
            for _ in 0..3 {
                some.try_next().await?.expect("a row");
            }
            Ok::<_, covet::Error>(())
        }
        .with_subscriber(subscriber)
        .await?;
        let spans = spans.0.lock().unwrap().clone();
        let selects: Vec<_> = spans
            .iter()
            .filter(|fields| fields.get("db.operation.name").is_some_and(|name| name == "\"SELECT\""))
            .collect();
        assert_eq!(selects.len(), 2, "one span per stream: {spans:?}");
        assert_eq!(selects[0]["db.response.returned_rows"], ROWS.to_string(), "{selects:?}");
        assert_eq!(selects[1]["db.response.returned_rows"], "3", "dropped after 3 rows");
        for span in selects {
            assert!(span.contains_key("duration_ms"), "the span records its duration: {span:?}");
            assert!(span["db.query.text"].contains("readings"), "{span:?}");
        }
        Ok(())
    }

    async fn open_stream_blocks_other_statements(db) {
        seed(&db).await?;
        let tx = db.begin().await?;
        let mut rows = Reading::query().order_by_asc(Reading::VALUE).stream(&tx);
        let first = rows.try_next().await?.expect("a first row");
        assert_eq!(first.value, 0);
        // Waiting for the connection here would wait forever: this task keeps the stream open.
        let count = tokio::time::timeout(Duration::from_secs(10), Reading::query().count(&tx))
            .await
            .expect("the statement fails instead of waiting");
        let error = count.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains("row stream"), "{error}");
        let savepoint = tokio::time::timeout(Duration::from_secs(10), tx.begin())
            .await
            .expect("the savepoint fails instead of waiting");
        assert_eq!(savepoint.unwrap_err().kind(), ErrorKind::InvalidInput);
        let rest: Vec<Reading> = rows.try_collect().await?;
        assert_eq!(rest.len(), usize::try_from(ROWS - 1).unwrap(), "the stream goes on");
        let count = Reading::query().count(&tx).await?;
        assert_eq!(count, u64::try_from(ROWS).unwrap(), "statements run after the stream ends");
        tx.commit().await?;

        let conn = db.dedicated_connection().await?;
        let mut rows = Reading::query().stream(&conn);
        rows.try_next().await?.expect("a row");
        let error = Reading::query().count(&conn).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        drop(rows);
        assert_eq!(Reading::query().count(&conn).await?, u64::try_from(ROWS).unwrap());
        Ok(())
    }

    async fn drop_while_awaiting_server(db) {
        seed(&db).await?;
        assert_eq!(db.pool_status().in_use, 0, "no connection is in use before the stream");
        let closed_before = db.pool_metrics().closed_broken;
        let mut rows = Reading::query().stream(&db);
        // Poll until the stream has taken a connection from the pool, then drop it.
        for _ in 0..1000 {
            let _ = rows.next().now_or_never();
            if db.pool_status().in_use == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(db.pool_status().in_use, 1, "the stream took a connection");
        drop(rows);
        assert_eq!(db.pool_metrics().closed_broken, closed_before + 1, "the connection is closed");
        let count = Reading::query().count(&db).await?;
        assert_eq!(count, u64::try_from(ROWS).unwrap(), "the pool still works");

        // One poll sends the query and waits for the reply, unless the first row is already
        // there (as on a loaded machine), in which case the stream is between rows and the
        // attempt is repeated in a fresh transaction.
        let mut cancelled = None;
        for _ in 0..20 {
            let tx = db.begin().await?;
            let mut rows = Reading::query().stream(&tx);
            let polled = rows.next().now_or_never();
            drop(rows);
            if polled.is_none() {
                cancelled = Some(tx);
                break;
            }
        }
        let tx = cancelled.expect("a first poll waited for the server");
        let error = Reading::query().count(&tx).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connection, "{error}");
        let reason = std::error::Error::source(&error).map(ToString::to_string);
        let reason = reason.unwrap_or_default();
        assert!(reason.contains("cancelled midway"), "{error}: {reason}");
        drop(tx);
        Ok(())
    }

    async fn transaction_usable_after_early_drop(db) {
        seed(&db).await?;
        let tx = db.begin().await?;
        Reading::delete_many().filter(Reading::VALUE.lt(10)).exec(&tx).await?;
        {
            let mut rows = Reading::query().order_by_asc(Reading::VALUE).stream(&tx);
            let first = rows.try_next().await?.expect("a first row");
            assert_eq!(first.value, 10);
            let second = rows.try_next().await?.expect("a second row");
            assert_eq!(second.value, 11);
        }
        let count = Reading::query().count(&tx).await?;
        assert_eq!(count, u64::try_from(ROWS - 10).unwrap(), "the transaction goes on");
        let again: Vec<Reading> = Reading::query()
            .filter(Reading::VALUE.lt(13))
            .order_by_asc(Reading::VALUE)
            .stream(&tx)
            .try_collect()
            .await?;
        assert_eq!(values(&again), [10, 11, 12], "a second stream reads from the start");
        tx.commit().await?;
        let count = Reading::query().count(&db).await?;
        assert_eq!(count, u64::try_from(ROWS - 10).unwrap(), "the delete was committed");
        Ok(())
    }
}

/// Runs `body` on each backend with a pool of one connection, so a broken connection left in
/// the pool would fail the next statement.
async fn with_one_connection<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: std::future::Future<Output = covet::Result<()>> + Send + 'static,
{
    let options = ConnectOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10));
    run_with(backend, test, options, body).await;
}

async fn early_drop_discards_connection(db: Database) -> covet::Result<()> {
    seed(&db).await?;
    let closed_before = db.pool_metrics().closed_broken;
    {
        let mut rows = Reading::query().order_by_asc(Reading::VALUE).stream(&db);
        for expected in 0..3 {
            let row = rows.try_next().await?.expect("a row");
            assert_eq!(row.value, expected);
        }
        assert_eq!(
            db.pool_status().in_use,
            1,
            "the stream holds the connection"
        );
    }
    let closed_after = db.pool_metrics().closed_broken;
    assert_eq!(
        closed_after,
        closed_before + 1,
        "the unfinished connection is closed"
    );
    for _ in 0..3 {
        let count = Reading::query().count(&db).await?;
        assert_eq!(count, u64::try_from(ROWS).unwrap(), "the next query works");
    }
    let all: Vec<Reading> = Reading::query().stream(&db).try_collect().await?;
    assert_eq!(all.len(), usize::try_from(ROWS).unwrap());
    assert_eq!(
        db.pool_metrics().closed_broken,
        closed_after,
        "a finished stream returns its connection"
    );
    Ok(())
}

mod early_drop_discards_connection {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        with_one_connection(
            Backend::Sqlite,
            "early_drop",
            early_drop_discards_connection,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        with_one_connection(
            Backend::Postgres,
            "early_drop",
            early_drop_discards_connection,
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        with_one_connection(Backend::MySql, "early_drop", early_drop_discards_connection).await;
    }
}

/// A connection written before `fetch_stream` existed: it forwards every other method to a
/// SQLite connection and keeps the trait's default `fetch_stream`.
struct LegacyConnection(Box<dyn covet::backend::BackendConnection>);

#[async_trait::async_trait]
impl covet::backend::BackendConnection for LegacyConnection {
    async fn execute(
        &mut self,
        sql: Arc<str>,
        values: covet::sea_query::Values,
    ) -> covet::Result<covet::backend::ExecResult> {
        self.0.execute(sql, values).await
    }

    async fn execute_unprepared(
        &mut self,
        sql: Arc<str>,
    ) -> covet::Result<covet::backend::ExecResult> {
        self.0.execute_unprepared(sql).await
    }

    async fn fetch(
        &mut self,
        sql: Arc<str>,
        values: covet::sea_query::Values,
        sink: &mut covet::backend::RowSink<'_>,
    ) -> covet::Result<u64> {
        self.0.fetch(sql, values, sink).await
    }

    async fn begin(&mut self) -> covet::Result<()> {
        self.0.begin().await
    }

    async fn begin_with(&mut self, statement: &'static str) -> covet::Result<()> {
        self.0.begin_with(statement).await
    }

    async fn commit(&mut self) -> covet::Result<()> {
        self.0.commit().await
    }

    async fn rollback(&mut self) -> covet::Result<()> {
        self.0.rollback().await
    }

    fn start_rollback(&mut self) {
        self.0.start_rollback();
    }

    async fn flush(&mut self) -> covet::Result<()> {
        self.0.flush().await
    }

    fn transaction_depth(&self) -> usize {
        self.0.transaction_depth()
    }
}

/// A backend that hands out [`LegacyConnection`]s over an in-memory SQLite database.
#[derive(Debug)]
struct LegacyBackend(covet::backend::sqlite::SqliteBackend);

#[async_trait::async_trait]
impl covet::backend::Backend for LegacyBackend {
    fn system_name(&self) -> &'static str {
        "legacy-sqlite"
    }

    fn namespace(&self) -> Option<&str> {
        self.0.namespace()
    }

    fn capabilities(&self) -> &covet::backend::Capabilities {
        self.0.capabilities()
    }

    fn render(
        &self,
        statement: &covet::backend::QueryStatement,
    ) -> (String, covet::sea_query::Values) {
        self.0.render(statement)
    }

    fn render_schema(&self, statement: &covet::backend::SchemaStatement) -> String {
        self.0.render_schema(statement)
    }

    fn column_type(&self, sql_type: covet::SqlType, key: bool) -> &'static str {
        self.0.column_type(sql_type, key)
    }

    fn auto_increment_column(
        &self,
        sql_type: covet::SqlType,
    ) -> covet::backend::AutoIncrementColumn {
        self.0.auto_increment_column(sql_type)
    }

    async fn acquire(&self) -> covet::Result<Box<dyn covet::backend::BackendConnection>> {
        Ok(Box::new(LegacyConnection(self.0.acquire().await?)))
    }

    async fn connect_dedicated(&self) -> covet::Result<Box<dyn covet::backend::BackendConnection>> {
        Ok(Box::new(LegacyConnection(
            self.0.connect_dedicated().await?,
        )))
    }

    fn pool_status(&self) -> covet_pool::PoolStatus {
        self.0.pool_status()
    }

    fn pool_metrics(&self) -> covet_pool::PoolMetrics {
        self.0.pool_metrics()
    }

    fn close(&self) {
        self.0.close();
    }
}

#[tokio::test]
async fn stream_on_legacy_backend_unsupported() {
    let inner =
        covet::backend::sqlite::SqliteBackend::connect("sqlite::memory:", &ConnectOptions::new())
            .await
            .unwrap();
    let db = Database::from_backend(LegacyBackend(inner));
    seed(&db).await.unwrap();
    let items: Vec<covet::Result<Reading>> = Reading::query().stream(&db).collect().await;
    assert_eq!(items.len(), 1, "one error item");
    let error = items.into_iter().next().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
    assert!(
        error.to_string().contains("fetch_stream"),
        "names the method: {error}"
    );
    let count = Reading::query().count(&db).await.unwrap();
    assert_eq!(
        count,
        u64::try_from(ROWS).unwrap(),
        "other queries still work"
    );
}
