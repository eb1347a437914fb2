//! Lifecycle hooks: code a model runs before and after its own inserts, updates and deletes.

use std::future::Future;

use crate::error::Result;
use crate::transaction::Transaction;

/// Code that runs around the single-row writes of a model, inside the write's transaction.
///
/// `#[derive(Model)]` implements this trait with no-op methods. Mark the struct
/// `#[covet(hooks)]` to implement it yourself. Such a model must also implement `Clone`,
/// because [`Model::insert`](crate::Model::insert) and [`Model::update`](crate::Model::update)
/// take `&self` and so hand the before-hook a copy to change.
///
/// For a model with hooks, [`insert`](crate::Model::insert), [`update`](crate::Model::update),
/// [`update_columns`](crate::Model::update_columns), [`save`](crate::Model::save),
/// [`delete`](crate::Model::delete) and [`force_delete`](crate::Model::force_delete) run the
/// before-hook, the statement and the after-hook in one transaction, or in a savepoint when
/// the executor is already a transaction. An error from either hook rolls that transaction
/// back and is returned, so a failing before-hook leaves nothing written and a failing
/// after-hook undoes the write and whatever the hooks wrote through the transaction.
///
/// Hooks do not run for the bulk operations ([`insert_many`](crate::Model::insert_many),
/// [`update_many`](crate::Model::update_many), [`delete_many`](crate::Model::delete_many),
/// [`upsert`](crate::Model::upsert)), for the by-key forms
/// ([`delete_by_key`](crate::Model::delete_by_key),
/// [`restore_by_key`](crate::Model::restore_by_key)), which have no row to pass, or for
/// [`restore`](crate::Model::restore). A bulk operation is one statement over many rows,
/// some of which the program never loaded, and running per-row hooks would turn it into a
/// read and a write per row.
///
/// Implement the methods as `async fn`. The returned futures must be `Send`. Write through
/// the `tx` a hook receives: a write through another connection waits for the locks this
/// transaction holds, which on SQLite is the whole database.
///
/// ```
/// use chrono::{DateTime, Utc};
/// use covet::{Hooks, Model, Transaction};
///
/// #[derive(Model, Clone, Debug)]
/// #[covet(table = "notes", hooks)]
/// struct Note {
///     #[covet(primary_key, auto_increment)]
///     id: i64,
///     body: String,
///     created_at: Option<DateTime<Utc>>,
/// }
///
/// impl Hooks for Note {
///     async fn before_insert(&mut self, _tx: &Transaction) -> covet::Result<()> {
///         self.created_at.get_or_insert_with(Utc::now);
///         Ok(())
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is marked #[covet(hooks)] but does not implement `covet::Hooks`",
    label = "no `Hooks` implementation",
    note = "add `impl covet::Hooks for {Self} {{ ... }}`, or remove `hooks` from #[covet(...)]"
)]
pub trait Hooks: Sized + Send + Sync {
    /// Runs before an insert, and may change the row that is inserted.
    fn before_insert(&mut self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Runs after an insert, with the row read back from the database: generated keys are
    /// filled in, and `#[covet(skip)]` fields are set to their defaults.
    fn after_insert(&self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Runs before an update, and may change the row that is written. Only
    /// [`save`](crate::Model::save) passes those changes back to the caller's struct.
    fn before_update(&mut self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Runs after an update, with the row as written (the version column already bumped).
    fn after_update(&self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Runs before a delete, soft or real.
    fn before_delete(&self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Runs after a delete, soft or real, that deleted a row. A delete that matched no row
    /// skips it.
    fn after_delete(&self, tx: &Transaction) -> impl Future<Output = Result<()>> + Send {
        let _ = tx;
        async { Ok(()) }
    }
}
