//! The [`Model`] trait that `#[derive(Model)]` implements, and the operations it provides.

use std::fmt::Debug;

use futures_util::future::BoxFuture;
use sea_query::Value;

use crate::column::ColumnRef;
use crate::error::Result;
use crate::executor::Executor;
use crate::hooks::Hooks;
use crate::query::soft_delete::restore_by_key;
use crate::query::{Delete, Select, Update, Upsert, lifecycle, write};
use crate::row::RowReader;
use crate::schema;
use crate::value::SqlType;

/// The facts the derive records about one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnInfo {
    /// The column name in the database.
    pub name: &'static str,
    /// The Rust field name.
    pub field: &'static str,
    /// The type family, which picks the column type on each backend.
    pub sql_type: SqlType,
    /// Whether the column accepts NULL (the field is an `Option`).
    pub nullable: bool,
    /// Whether the column is part of the primary key.
    pub primary_key: bool,
    /// Whether the database generates the value from a sequence or identity.
    pub auto_increment: bool,
    /// Whether an unset value (0 or `None`) is left out of inserts so that the database
    /// fills it in. True for every `auto_increment` column.
    pub generated: bool,
    /// Whether the column has its own unique constraint, named by
    /// [`unique_constraint_name`](crate::schema::unique_constraint_name).
    pub unique: bool,
    /// A column type that overrides the backend's choice in `CREATE TABLE`.
    pub column_type: Option<&'static str>,
}

/// A struct mapped to a table. Implement it with `#[derive(Model)]`.
///
/// The provided methods are the CRUD operations. Each takes any [`Executor`], so it runs on
/// a [`Database`](crate::Database) or inside a [`Transaction`](crate::Transaction).
///
/// Three field and struct attributes change what they do:
///
/// - With a `#[covet(version)]` column, [`update`](Self::update),
///   [`update_columns`](Self::update_columns), [`save`](Self::save),
///   [`delete`](Self::delete) and [`force_delete`](Self::force_delete) match the row on its
///   key and the version read, and fail with [`Error::Conflict`](crate::Error::Conflict) when
///   the stored row has another version. Updates bump the version by one.
/// - With a `#[covet(soft_delete)]` column, deletes set that column to the current time,
///   and queries, [`find`](Self::find), [`get`](Self::get) and
///   [`update_many`](Self::update_many) leave such rows out.
/// - With `#[covet(hooks)]`, single-row writes run the model's [`Hooks`] in a transaction.
pub trait Model: Hooks + Sized + Send + Sync + 'static {
    /// The primary key: the key field's type, or a tuple for a composite key.
    type PrimaryKey: Clone + Debug + Send + Sync + 'static;

    /// The table name.
    const TABLE: &'static str;

    /// The columns, in field order. Rows are read in this order.
    const COLUMNS: &'static [ColumnInfo];

    /// The index in [`Self::COLUMNS`] of the `#[covet(version)]` column, if any.
    const VERSION_COLUMN: Option<usize> = None;

    /// The index in [`Self::COLUMNS`] of the `#[covet(soft_delete)]` column, if any.
    const SOFT_DELETE_COLUMN: Option<usize> = None;

    /// Whether single-row writes run the model's [`Hooks`] (`#[covet(hooks)]`). When false,
    /// they open no transaction of their own.
    const HOOKS: bool = false;

    /// Reads a model from `row`, whose columns start at `offset` in [`Self::COLUMNS`]
    /// order.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`](crate::Error::Decode) naming the column that does not fit.
    fn decode(row: &dyn RowReader, offset: usize) -> Result<Self>;

    /// Returns the values of all columns, in [`Self::COLUMNS`] order.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when a JSON field fails to
    /// serialize.
    fn values(&self) -> Result<Vec<Value>>;

    /// Returns this row's primary key.
    fn primary_key(&self) -> Self::PrimaryKey;

    /// Converts a primary key to the values of the key columns, in column order.
    fn key_values(key: &Self::PrimaryKey) -> Vec<Value>;

    /// Returns whether the generated column at `index` is unset in this row, so that the
    /// database should fill it in.
    fn is_unset(&self, index: usize) -> bool;

    /// Returns the value of the version column, or `None` without one.
    fn version(&self) -> Option<i64> {
        None
    }

    /// Stores `version` in the version column's field. Does nothing without one.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when `version` does not fit the
    /// field's type.
    fn set_version(&mut self, version: i64) -> Result<()> {
        let _ = version;
        Ok(())
    }

    /// Returns a copy for before-hooks to change, when [`Self::HOOKS`] is true. The derive
    /// implements it with `Clone`.
    #[doc(hidden)]
    fn clone_for_hooks(&self) -> Option<Self> {
        None
    }

    /// Starts a query over this table.
    fn query() -> Select<Self> {
        Select::new()
    }

    /// Finds the row with this primary key. A soft-deleted row is not found; use
    /// `Self::query().with_deleted()` to read one.
    ///
    /// # Errors
    ///
    /// Connection, pool and decode errors.
    fn find<E: Executor + ?Sized>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> BoxFuture<'_, Result<Option<Self>>> {
        Box::pin(async move { crate::query::find_by_key::<Self, E>(db, &key).await })
    }

    /// Finds the row with this primary key, failing with
    /// [`Error::NotFound`](crate::Error::NotFound) when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), and connection, pool and decode errors.
    fn get<E: Executor + ?Sized>(db: &E, key: Self::PrimaryKey) -> BoxFuture<'_, Result<Self>> {
        Box::pin(async move {
            let found = crate::query::find_by_key::<Self, E>(db, &key).await?;
            found.ok_or_else(|| crate::Error::NotFound {
                entity: Self::TABLE,
                detail: format!("primary key = {key:?}"),
            })
        })
    }

    /// Inserts this row and returns it as stored, with database-generated keys filled in.
    ///
    /// With hooks, a copy of this row goes through
    /// [`before_insert`](Hooks::before_insert), and the stored row through
    /// [`after_insert`](Hooks::after_insert).
    ///
    /// # Errors
    ///
    /// Constraint violations such as
    /// [`ErrorKind::UniqueViolation`](crate::ErrorKind::UniqueViolation), a hook's error,
    /// and connection and pool errors.
    fn insert<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<Self>> {
        if Self::HOOKS {
            Box::pin(lifecycle::insert_hooked(db, self))
        } else {
            Box::pin(write::insert_one(db, self))
        }
    }

    /// Inserts many rows, without running hooks, in as few statements as the backend's bind-parameter limit allows,
    /// and returns the number inserted. When more than one statement is needed they run in
    /// one transaction (a savepoint inside a transaction), so either every row is inserted
    /// or none is.
    ///
    /// # Errors
    ///
    /// As for [`insert`](Self::insert), and
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when some rows leave a generated
    /// key unset and others set it.
    fn insert_many<'a, E: Executor + ?Sized>(
        db: &'a E,
        rows: &'a [Self],
    ) -> BoxFuture<'a, Result<u64>> {
        Box::pin(write::insert_many(db, rows))
    }

    /// Writes every non-key column of this row to the row with the same primary key.
    ///
    /// With a version column, the update matches the version in this row and bumps it by
    /// one in the database. This row keeps the old version, so a second `update` of it
    /// conflicts. Use [`save`](Self::save) to keep the struct current. With hooks, a copy of
    /// this row goes through [`before_update`](Hooks::before_update) and is written, and the
    /// copy is then dropped. The soft-delete column is not written, and a soft-deleted row
    /// counts as missing: [`restore`](Self::restore) it first.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when no row has this key,
    /// [`Error::Conflict`](crate::Error::Conflict) when the stored row has another version,
    /// constraint violations, a hook's error, and connection and pool errors.
    fn update<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if Self::HOOKS {
                lifecycle::update_hooked(db, self, None).await?;
            } else {
                write::update_one(db, self, None).await?;
            }
            Ok(())
        })
    }

    /// Writes every non-key column of this row, as [`update`](Self::update) does, and
    /// stores the outcome in this struct: the bumped version, and the changes that
    /// [`before_update`](Hooks::before_update) made. On an error the struct is left as it
    /// was, except that without hooks nothing could have changed it.
    ///
    /// # Errors
    ///
    /// As for [`update`](Self::update).
    ///
    /// # Cancel safety
    ///
    /// If the future is dropped after the UPDATE ran outside a transaction, the database
    /// has the new version and this struct the old one, so its next save conflicts.
    fn save<'a, E: Executor + ?Sized>(&'a mut self, db: &'a E) -> BoxFuture<'a, Result<()>> {
        Box::pin(lifecycle::save(db, self))
    }

    /// Writes the chosen columns of this row to the row with the same primary key.
    ///
    /// The version column is matched and bumped as in [`update`](Self::update); it cannot
    /// be named in `columns`. With hooks, changes that
    /// [`before_update`](Hooks::before_update) makes to other columns are not written.
    ///
    /// # Errors
    ///
    /// As for [`update`](Self::update), and
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when `columns` is empty or names
    /// a key, version or soft-delete column.
    fn update_columns<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        columns: &'a [ColumnRef<Self>],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if Self::HOOKS {
                lifecycle::update_hooked(db, self, Some(columns)).await?;
            } else {
                write::update_one(db, self, Some(columns)).await?;
            }
            Ok(())
        })
    }

    /// Starts an UPDATE of the rows matching a filter. It runs no hooks, adds 1 to the
    /// version column of every row it changes without checking it (so structs read before
    /// are stale), and skips soft-deleted rows unless [`Update::with_deleted`] is called.
    fn update_many() -> Update<Self> {
        Update::new()
    }

    /// Deletes the row with this row's primary key, returning whether a row was deleted.
    ///
    /// With a soft-delete column this sets the column to the current time instead, and an
    /// already soft-deleted row counts as not found (`false`). With a version column the
    /// row must still hold this row's version. With hooks,
    /// [`before_delete`](Hooks::before_delete) and [`after_delete`](Hooks::after_delete)
    /// run around it.
    ///
    /// # Errors
    ///
    /// [`Error::Conflict`](crate::Error::Conflict) when the stored row has another version,
    /// foreign key violations, a hook's error, and connection and pool errors.
    fn delete<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<bool>> {
        Box::pin(lifecycle::delete_one(db, self, false))
    }

    /// Deletes the row with this row's primary key for real, even on a model with a
    /// soft-delete column and even when the row is soft-deleted. Versions and hooks are
    /// handled as in [`delete`](Self::delete).
    ///
    /// # Errors
    ///
    /// As for [`delete`](Self::delete).
    fn force_delete<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<bool>> {
        Box::pin(lifecycle::delete_one(db, self, true))
    }

    /// Deletes the row with this primary key, returning whether a row was deleted. A
    /// soft-delete column makes it a soft delete. It runs no hooks and checks no version,
    /// since it has no row to take them from.
    ///
    /// # Errors
    ///
    /// Foreign key violations, and connection and pool errors.
    fn delete_by_key<E: Executor + ?Sized>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let deleted = Delete::<Self>::by_key(&key).exec(db).await?;
            Ok(deleted > 0)
        })
    }

    /// Starts a DELETE of the rows matching a filter: a soft delete on a model with a
    /// soft-delete column, unless [`Delete::force`] is called. It runs no hooks and checks
    /// no version.
    fn delete_many() -> Delete<Self> {
        Delete::new()
    }

    /// Clears the soft-delete column of this row's stored row, returning whether a deleted
    /// row was restored. This struct keeps its old value of the column. It runs no hooks
    /// and neither checks nor bumps a version.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when the model has no
    /// soft-delete column, and connection and pool errors.
    fn restore<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move { restore_by_key::<Self, E>(db, &self.primary_key()).await })
    }

    /// Clears the soft-delete column of the row with this primary key, returning whether a
    /// deleted row was restored.
    ///
    /// # Errors
    ///
    /// As for [`restore`](Self::restore).
    fn restore_by_key<E: Executor + ?Sized>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move { restore_by_key::<Self, E>(db, &key).await })
    }

    /// Starts an upsert of `rows`: insert each, and on a key conflict either skip it or
    /// update the existing row. It runs no hooks, adds 1 to the version column of each row
    /// it updates without checking it (so structs read before are stale), and treats a
    /// soft-deleted row like a live one.
    fn upsert(rows: &[Self]) -> Upsert<'_, Self> {
        Upsert::new(rows)
    }

    /// Creates this model's table if it does not exist, with the column types the backend
    /// picks for each field, the primary key and `uq_{table}_{column}` unique constraints.
    ///
    /// # Errors
    ///
    /// The database's error for `CREATE TABLE`, and connection and pool errors.
    fn create_table<E: Executor + ?Sized>(db: &E) -> BoxFuture<'_, Result<()>> {
        Box::pin(schema::create_table::<Self, E>(db))
    }

    /// Drops this model's table if it exists.
    ///
    /// # Errors
    ///
    /// The database's error for `DROP TABLE`, and connection and pool errors.
    fn drop_table<E: Executor + ?Sized>(db: &E) -> BoxFuture<'_, Result<()>> {
        Box::pin(schema::drop_table::<Self, E>(db))
    }
}
