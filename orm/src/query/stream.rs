//! Streaming the rows of a SELECT one at a time.

use futures_util::StreamExt as _;
use futures_util::stream::{self, BoxStream};

use crate::backend::QueryStatement;
use crate::error::Result;
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{Select, render};

impl<M: Model> Select<M> {
    /// Returns the matching rows as a stream that reads and decodes one row at a time, so
    /// memory stays flat however many rows match.
    ///
    /// ```no_run
    /// # use covet::Model;
    /// # #[derive(Model)] #[covet(table = "events")]
    /// # struct Event { #[covet(primary_key)] id: i64, kind: String }
    /// # async fn demo(db: covet::Database) -> covet::Result<()> {
    /// use futures_util::TryStreamExt as _;
    ///
    /// let mut events = Event::query().order_by_asc(Event::ID).stream(&db);
    /// while let Some(event) = events.try_next().await? {
    ///     println!("{} {}", event.id, event.kind);
    /// }
    /// # Ok(()) }
    /// ```
    ///
    /// The stream keeps a connection until it ends or is dropped: a pooled one on a
    /// [`Database`](crate::Database), or the transaction's own on a
    /// [`Transaction`](crate::Transaction). Until then, other statements on that
    /// transaction fail with [`Error::InvalidInput`](crate::Error::InvalidInput), so collect
    /// what they need first or run them after the stream ends.
    ///
    /// # Errors
    ///
    /// Each error is an `Err` item. [`Error::Unsupported`](crate::Error::Unsupported) when
    /// the backend cannot run the filter or sort, and pool and connection errors, end the
    /// stream. A row that fails to decode yields
    /// [`Error::Decode`](crate::Error::Decode) and the stream goes on with the next row.
    ///
    /// # Cancel safety
    ///
    /// See [`Executor::fetch_stream`]: dropping a [`Database`](crate::Database)'s stream
    /// early closes its connection, and dropping a transaction's stream between rows leaves
    /// the transaction usable.
    pub fn stream<'a, E: Executor + ?Sized>(self, db: &'a E) -> BoxStream<'a, Result<M>> {
        if let Err(error) = self.check_backend(db.backend()) {
            return stream::once(async { Err(error) }).boxed();
        }
        let statement = render(
            db,
            QueryStatement::Select(&self.statement()),
            "SELECT",
            M::TABLE,
        );
        db.fetch_stream(statement)
            .map(|row| row.and_then(|row| M::decode(row.as_ref(), 0)))
            .boxed()
    }
}
