//! The [`Model`] trait that `#[derive(Model)]` implements, and the operations it provides.

use std::fmt::Debug;

use futures_util::future::BoxFuture;
use sea_query::Value;

use crate::column::ColumnRef;
use crate::error::Result;
use crate::executor::Executor;
use crate::query::{Delete, Select, Update, Upsert, write};
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
pub trait Model: Sized + Send + Sync + 'static {
    /// The primary key: the key field's type, or a tuple for a composite key.
    type PrimaryKey: Clone + Debug + Send + Sync + 'static;

    /// The table name.
    const TABLE: &'static str;

    /// The columns, in field order. Rows are read in this order.
    const COLUMNS: &'static [ColumnInfo];

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

    /// Starts a query over this table.
    fn query() -> Select<Self> {
        Select::new()
    }

    /// Finds the row with this primary key.
    ///
    /// # Errors
    ///
    /// Connection, pool and decode errors.
    fn find<E: Executor + ?Sized>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> BoxFuture<'_, Result<Option<Self>>> {
        Box::pin(async move { Select::<Self>::by_key(&key).optional(db).await })
    }

    /// Finds the row with this primary key, failing with
    /// [`Error::NotFound`](crate::Error::NotFound) when there is none.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound), and connection, pool and decode errors.
    fn get<E: Executor + ?Sized>(db: &E, key: Self::PrimaryKey) -> BoxFuture<'_, Result<Self>> {
        Box::pin(async move {
            let found = Select::<Self>::by_key(&key).optional(db).await?;
            found.ok_or_else(|| crate::Error::NotFound {
                entity: Self::TABLE,
                detail: format!("primary key = {key:?}"),
            })
        })
    }

    /// Inserts this row and returns it as stored, with database-generated keys filled in.
    ///
    /// # Errors
    ///
    /// Constraint violations such as
    /// [`ErrorKind::UniqueViolation`](crate::ErrorKind::UniqueViolation), and connection
    /// and pool errors.
    fn insert<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<Self>> {
        Box::pin(write::insert_one(db, self))
    }

    /// Inserts many rows in as few statements as the backend's bind-parameter limit allows,
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
    /// # Errors
    ///
    /// [`Error::NotFound`](crate::Error::NotFound) when no row has this key, constraint
    /// violations, and connection and pool errors.
    fn update<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<()>> {
        Box::pin(write::update_one(db, self, None))
    }

    /// Writes the chosen columns of this row to the row with the same primary key.
    ///
    /// # Errors
    ///
    /// As for [`update`](Self::update), and
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) when `columns` is empty or names
    /// a key column.
    fn update_columns<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        columns: &'a [ColumnRef<Self>],
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(write::update_one(db, self, Some(columns)))
    }

    /// Starts an UPDATE of the rows matching a filter.
    fn update_many() -> Update<Self> {
        Update::new()
    }

    /// Deletes the row with this row's primary key, returning whether a row was deleted.
    ///
    /// # Errors
    ///
    /// Foreign key violations, and connection and pool errors.
    fn delete<'a, E: Executor + ?Sized>(&'a self, db: &'a E) -> BoxFuture<'a, Result<bool>> {
        Box::pin(async move {
            let deleted = Delete::<Self>::by_key(&self.primary_key()).exec(db).await?;
            Ok(deleted > 0)
        })
    }

    /// Deletes the row with this primary key, returning whether a row was deleted.
    ///
    /// # Errors
    ///
    /// As for [`delete`](Self::delete).
    fn delete_by_key<E: Executor + ?Sized>(
        db: &E,
        key: Self::PrimaryKey,
    ) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let deleted = Delete::<Self>::by_key(&key).exec(db).await?;
            Ok(deleted > 0)
        })
    }

    /// Starts a DELETE of the rows matching a filter.
    fn delete_many() -> Delete<Self> {
        Delete::new()
    }

    /// Starts an upsert of `rows`: insert each, and on a key conflict either skip it or
    /// update the existing row.
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
