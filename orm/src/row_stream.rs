//! Streams of result rows from an executor, traced over their whole life.

use std::future::Future;
use std::ops::DerefMut;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Stream, StreamExt as _};
use sea_query::Values;
use tracing::Span;

use crate::backend::{Backend, BackendConnection, RowStream, Statement};
use crate::stats::Observer;
use crate::trace::{query_span, record_error};

/// The handling of a stream's connection when the stream is dropped before its last row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnEarlyDrop {
    /// The pool closes the connection, rather than have its next user wait while the
    /// driver reads and drops the rest of the result.
    Discard,
    /// The connection stays with its owner, such as a transaction, and the driver drops
    /// the rest of the result before the owner's next statement.
    Keep,
}

/// Runs a query and streams its rows from the connection `conn` resolves to. The stream
/// keeps that connection until it ends or is dropped, and sets `streaming`, when given,
/// for that long.
pub(crate) fn run_fetch_stream<'a, G, F>(
    backend: &'a dyn Backend,
    observer: &'a Observer,
    mut statement: Statement,
    on_early_drop: OnEarlyDrop,
    streaming: Option<&'a AtomicBool>,
    conn: F,
) -> RowStream<'a>
where
    F: Future<Output = crate::Result<G>> + Send + 'a,
    G: DerefMut<Target = Box<dyn BackendConnection>> + Send + 'a,
{
    let values = std::mem::replace(&mut statement.values, Values(Vec::new()));
    let sql = Arc::clone(&statement.sql);
    let rows = async_stream::stream! {
        let conn = match conn.await {
            Ok(conn) => conn,
            Err(error) => {
                yield Err(error);
                return;
            }
        };
        let mut held = StreamConnection { conn, finished: false, on_early_drop, streaming };
        if let Some(streaming) = streaming {
            streaming.store(true, Ordering::Release);
        }
        {
            let mut rows = held.conn.fetch_stream(sql, values);
            while let Some(row) = rows.next().await {
                yield row;
            }
        }
        held.finished = true;
    };
    Box::pin(TracedRows {
        rows: Box::pin(rows),
        span: query_span(backend, &statement),
        backend,
        observer,
        statement,
        started: Instant::now(),
        returned: 0,
        ended: false,
    })
}

/// The connection of a stream, discarded on drop before the last row when asked to.
struct StreamConnection<'a, G: DerefMut<Target = Box<dyn BackendConnection>>> {
    conn: G,
    finished: bool,
    on_early_drop: OnEarlyDrop,
    streaming: Option<&'a AtomicBool>,
}

impl<G: DerefMut<Target = Box<dyn BackendConnection>>> Drop for StreamConnection<'_, G> {
    fn drop(&mut self) {
        if let Some(streaming) = self.streaming {
            streaming.store(false, Ordering::Release);
        }
        if !self.finished && self.on_early_drop == OnEarlyDrop::Discard {
            self.conn.discard();
        }
    }
}

/// A row stream that polls inside its statement's span and records the row count and
/// duration on the span when the last row has been read, at the first error, or when the
/// stream is dropped early.
struct TracedRows<'a> {
    rows: RowStream<'a>,
    span: Span,
    backend: &'a dyn Backend,
    observer: &'a Observer,
    statement: Statement,
    started: Instant,
    returned: u64,
    ended: bool,
}

impl TracedRows<'_> {
    fn end(&mut self, failed: bool) {
        if self.ended {
            return;
        }
        self.ended = true;
        let elapsed = self.started.elapsed();
        self.observer
            .record(self.backend, &self.statement, elapsed, failed);
        let elapsed_ms = elapsed.as_secs_f64() * 1000.0;
        self.span.record("duration_ms", elapsed_ms);
        self.span.record("db.response.returned_rows", self.returned);
    }
}

impl Stream for TracedRows<'_> {
    type Item = crate::Result<Box<dyn crate::RowReader + Send>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = {
            let _entered = this.span.enter();
            this.rows.as_mut().poll_next(cx)
        };
        match &polled {
            Poll::Ready(Some(Ok(_))) => this.returned += 1,
            Poll::Ready(Some(Err(error))) => {
                let elapsed_ms = this.started.elapsed().as_secs_f64() * 1000.0;
                record_error(&this.span, error, elapsed_ms);
                this.end(true);
            }
            Poll::Ready(None) => this.end(false),
            Poll::Pending => {}
        }
        polled
    }
}

impl Drop for TracedRows<'_> {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        tracing::debug!(
            target: "covet::query",
            parent: &self.span,
            returned_rows = self.returned,
            "row stream dropped before its last row"
        );
        self.end(false);
    }
}
