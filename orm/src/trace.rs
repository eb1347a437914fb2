//! The tracing span every statement runs in.
//!
//! Spans use the target `covet::query`, and field names follow OpenTelemetry's stable
//! database semantic conventions: `db.system.name`, `db.namespace`, `db.operation.name`,
//! `db.collection.name`, `db.query.text` (SQL with placeholders, never bind values) and
//! `db.response.returned_rows`, plus `db.response.affected_rows` and `duration_ms`.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use tracing::field::Empty;
use tracing::{Instrument, Span};

use crate::backend::{Backend, BackendConnection, RowSink, Statement};
use crate::error::{Error, Result};
use crate::stats::Observer;

/// The row count a traced operation reports when it ends.
pub(crate) enum Outcome {
    /// Rows returned by a query.
    Returned(u64),
    /// Rows changed by a write.
    Affected(u64),
    /// No row count, as for transaction control statements.
    Nothing,
}

/// Runs `operation` inside a span describing `statement`, and records it in `observer`.
pub(crate) async fn traced<T, F>(
    backend: &dyn Backend,
    observer: Option<&Observer>,
    statement: &Statement,
    outcome: impl FnOnce(&T) -> Outcome,
    operation: F,
) -> Result<T>
where
    F: Future<Output = Result<T>>,
{
    let span = query_span(backend, statement);
    let started = Instant::now();
    let result = operation.instrument(span.clone()).await;
    let elapsed = started.elapsed();
    let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
    span.record("duration_ms", elapsed_ms);
    if let Some(observer) = observer {
        let _entered = span.enter();
        observer.record(backend, statement, elapsed, result.is_err());
    }
    match &result {
        Ok(value) => match outcome(value) {
            Outcome::Returned(rows) => {
                span.record("db.response.returned_rows", rows);
            }
            Outcome::Affected(rows) => {
                span.record("db.response.affected_rows", rows);
            }
            Outcome::Nothing => {}
        },
        Err(error) => record_error(&span, error, elapsed_ms),
    }
    result
}

/// Creates the span of one statement, with the fields filled in when it ends left empty.
pub(crate) fn query_span(backend: &dyn Backend, statement: &Statement) -> Span {
    tracing::info_span!(
        target: "covet::query",
        "db.query",
        otel.name = %span_name(statement),
        otel.kind = "client",
        db.system.name = backend.system_name(),
        db.namespace = backend.namespace(),
        db.operation.name = statement.operation,
        db.collection.name = statement.collection,
        db.query.text = %statement.sql,
        db.response.returned_rows = Empty,
        db.response.affected_rows = Empty,
        duration_ms = Empty,
        error.type = Empty,
    )
}

/// Records a failed statement's error class on its span and logs it at DEBUG.
pub(crate) fn record_error(span: &Span, error: &Error, elapsed_ms: f64) {
    span.record("error.type", tracing::field::debug(error.kind()));
    // The server's message can quote bound values (MySQL's duplicate-key message does), so
    // the event carries only the error's class, code and constraint.
    let kind = error.kind();
    tracing::debug!(
        target: "covet::query",
        parent: span,
        kind = ?kind,
        code = error.code(),
        constraint = error.constraint(),
        duration_ms = elapsed_ms,
        "statement failed"
    );
}

/// Returns `{operation} {table}`, the span name OpenTelemetry recommends.
fn span_name(statement: &Statement) -> String {
    match statement.collection {
        Some(table) => format!("{} {table}", statement.operation),
        None => statement.operation.to_owned(),
    }
}

/// Runs a transaction control statement (`BEGIN`, `COMMIT`, ...) inside a span whose query
/// text is `sql`.
pub(crate) async fn traced_control<F>(
    backend: &dyn Backend,
    observer: &Observer,
    sql: &'static str,
    operation: F,
) -> Result<()>
where
    F: Future<Output = Result<()>>,
{
    let operation_name = sql.split(' ').next().unwrap_or(sql);
    traced_control_text(backend, observer, operation_name, sql.to_owned(), operation).await
}

/// Runs a transaction control statement whose text is built at run time, such as a
/// `BEGIN` with an isolation level, inside a span.
pub(crate) async fn traced_control_text<F>(
    backend: &dyn Backend,
    observer: &Observer,
    operation_name: &'static str,
    sql: String,
    operation: F,
) -> Result<()>
where
    F: Future<Output = Result<()>>,
{
    let statement = Statement::new(sql, sea_query::Values(Vec::new()), operation_name);
    let nothing = |_: &()| Outcome::Nothing;
    traced(backend, Some(observer), &statement, nothing, operation).await
}

/// Runs a fixed query that a backend sends for itself, such as a version probe, inside a
/// span like any other statement.
pub(crate) async fn traced_probe(
    backend: &dyn Backend,
    conn: &mut dyn BackendConnection,
    sql: &'static str,
    sink: &mut RowSink<'_>,
) -> Result<u64> {
    let operation = sql.split(' ').next().unwrap_or(sql);
    let statement = Statement::new(sql.to_owned(), sea_query::Values(Vec::new()), operation);
    let rows = conn.fetch(Arc::from(sql), sea_query::Values(Vec::new()), sink);
    traced(
        backend,
        None,
        &statement,
        |rows: &u64| Outcome::Returned(*rows),
        rows,
    )
    .await
}
