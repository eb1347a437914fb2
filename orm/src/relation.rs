//! Relations between models, and loading related rows in batches, one query per level.
//!
//! A [`Relation`] joins two models by a key: belongs-to and has-one give each row at most
//! one related row, has-many and many-to-many a list. `#[derive(Model)]` declares them with
//! `#[covet(belongs_to(User))]`, `#[covet(has_many(Post))]` and friends, which infer the
//! key columns by convention; [`Relation::belongs_to`] and the other constructors name them
//! explicitly.
//!
//! Loading is batched: for a list of parents, the children of all of them come from one
//! statement, `WHERE child.key IN (...)`, split only when the backend's bind-parameter limit
//! requires it. PostgreSQL binds the keys as one array, `= ANY($1)`, so the statement has
//! the same text whatever the number of parents. The rows are then grouped back per parent
//! in memory.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use sea_query::{Expr, ExprTrait, Order, Value};
use uuid::Uuid;

use crate::backend::{Backend, QueryStatement};
use crate::column::{Column, ColumnRef};
use crate::error::Result;
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::soft_delete::Visibility;
use crate::query::{Select, render};
use crate::row::RowReader;
use crate::value::Field;

/// A field type that can be a relation key: an integer, a string, a UUID or bytes, or an
/// `Option` of one for a nullable foreign key. Both ends of a relation must have the same
/// [`Base`](Self::Base) type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a relation key",
    note = "relation keys are i16, i32, i64, u64, String, Vec<u8> or uuid::Uuid, or an Option of one"
)]
pub trait KeyField: Field {
    /// The key type without `Option`.
    type Base;
}

macro_rules! key_field {
    ($($ty:ty),*) => {$(
        impl KeyField for $ty {
            type Base = $ty;
        }
        impl KeyField for Option<$ty> {
            type Base = $ty;
        }
    )*};
}

key_field!(i16, i32, i64, u64, String, Vec<u8>, Uuid);

/// A model whose primary key is one column, the column other models' foreign keys refer
/// to. `#[derive(Model)]` implements it for every model with a single key field.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no single-column primary key for a relation to refer to",
    note = "relations by convention need one key field; name the columns with \
            `Relation::belongs_to`, `has_one`, `has_many` or `many_to_many` instead"
)]
pub trait SingleKey: Model {
    /// The key field's type.
    type Key: KeyField;
    /// The key column.
    const KEY: Column<Self, Self::Key>;
}

/// How many related rows each parent has: [`One`] or [`Many`].
pub trait Cardinality: Send + Sync + 'static {
    /// The container of the related rows of one parent: `Option<T>` or `Vec<T>`.
    type Of<T: Send>: Send;

    /// Builds the container from the rows found for one parent.
    fn collect<T: Send>(items: Vec<T>) -> Self::Of<T>;

    /// Returns the rows in the container.
    fn items<T: Send>(of: Self::Of<T>) -> Vec<T>;
}

/// Each parent has at most one related row (belongs-to, has-one).
#[derive(Debug)]
pub enum One {}

/// Each parent has any number of related rows (has-many, many-to-many).
#[derive(Debug)]
pub enum Many {}

impl Cardinality for One {
    type Of<T: Send> = Option<T>;

    fn collect<T: Send>(items: Vec<T>) -> Option<T> {
        items.into_iter().next()
    }

    fn items<T: Send>(of: Option<T>) -> Vec<T> {
        of.into_iter().collect()
    }
}

impl Cardinality for Many {
    type Of<T: Send> = Vec<T>;

    fn collect<T: Send>(items: Vec<T>) -> Vec<T> {
        items
    }

    fn items<T: Send>(of: Vec<T>) -> Vec<T> {
        of
    }
}

/// A key value, normalized so that equal keys of different integer widths group together.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Int(i64),
    Unsigned(u64),
    Text(String),
    Uuid(Uuid),
    Bytes(Vec<u8>),
}

/// Returns the grouping key of a key value, or `None` for NULL.
fn key_of(value: &Value) -> Option<Key> {
    match value {
        Value::SmallInt(Some(number)) => Some(Key::Int(i64::from(*number))),
        Value::Int(Some(number)) => Some(Key::Int(i64::from(*number))),
        Value::BigInt(Some(number)) => Some(Key::Int(*number)),
        Value::BigUnsigned(Some(number)) => Some(match i64::try_from(*number) {
            Ok(signed) => Key::Int(signed),
            Err(_) => Key::Unsigned(*number),
        }),
        Value::String(Some(text)) => Some(Key::Text(text.clone())),
        Value::Uuid(Some(uuid)) => Some(Key::Uuid(*uuid)),
        Value::Bytes(Some(bytes)) => Some(Key::Bytes(bytes.clone())),
        _ => None,
    }
}

/// The join table of a many-to-many relation.
#[derive(Clone, Debug)]
struct Through {
    table: &'static str,
    /// The join table's column that contains the parent's key.
    parent_column: &'static str,
    /// The join table's column that contains the related row's key.
    child_column: &'static str,
    /// Reads the parent key from the extra column a many-to-many load selects.
    decode_parent_key: fn(&dyn RowReader, usize) -> Result<Value>,
    /// The join table's condition for rows that are not soft-deleted, if it has one.
    live: Option<Expr>,
}

fn decode_key<T: Field>(row: &dyn RowReader, index: usize) -> Result<Value> {
    T::decode(row, index).map(|value| value.to_value())
}

type KeyGetter<M> = Arc<dyn Fn(&M) -> Value + Send + Sync>;

/// The source of the parent key that each related row is grouped under.
enum Link<C> {
    /// A column of the related row: its foreign key (has-one, has-many) or its key
    /// (belongs-to).
    Direct(KeyGetter<C>),
    /// The join table's column that refers to the parent (many-to-many).
    Through(Through),
}

impl<C> Clone for Link<C> {
    fn clone(&self) -> Self {
        match self {
            Link::Direct(getter) => Link::Direct(Arc::clone(getter)),
            Link::Through(through) => Link::Through(through.clone()),
        }
    }
}

fn getter<M: Model, T: Field>(column: Column<M, T>) -> KeyGetter<M> {
    Arc::new(move |row: &M| column.get(row).to_value())
}

/// A relation from each row of `P` (the parent) to rows of `C` (the related model), with
/// [`One`] or [`Many`] related rows per parent.
///
/// Load it for a list of parents with [`load`](Self::load) or
/// [`Select::with`](crate::query::Select::with), join it with
/// [`Select::join`](crate::query::Select::join), and nest it with [`with`](Self::with).
pub struct Relation<P, C, K> {
    /// The parent's key column, which the join condition compares.
    parent_column: &'static str,
    parent_key: KeyGetter<P>,
    /// The related model's key column.
    child_column: &'static str,
    /// Where the key to group related rows by comes from.
    link: Link<C>,
    query: Select<C>,
    _cardinality: PhantomData<fn() -> K>,
}

impl<P, C, K> Clone for Relation<P, C, K> {
    fn clone(&self) -> Self {
        Self {
            parent_column: self.parent_column,
            parent_key: Arc::clone(&self.parent_key),
            child_column: self.child_column,
            link: self.link.clone(),
            query: self.query.clone(),
            _cardinality: PhantomData,
        }
    }
}

impl<P: Model, C: Model, K> fmt::Debug for Relation<P, C, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relation")
            .field("from", &(P::TABLE, self.parent_column))
            .field("to", &(C::TABLE, self.child_column))
            .field("through", &self.through().map(|through| through.table))
            .field("query", &self.query)
            .finish()
    }
}

impl<P: Model, C: Model, K> Relation<P, C, K> {
    /// Returns the same relation without its cardinality, for joins, where each pair of
    /// rows is one result whatever the cardinality.
    pub(crate) fn erase_cardinality(self) -> Relation<P, C, ()> {
        Relation {
            parent_column: self.parent_column,
            parent_key: self.parent_key,
            child_column: self.child_column,
            link: self.link,
            query: self.query,
            _cardinality: PhantomData,
        }
    }

    pub(crate) fn parent_column(&self) -> &'static str {
        self.parent_column
    }

    pub(crate) fn child_column(&self) -> &'static str {
        self.child_column
    }

    fn through(&self) -> Option<&Through> {
        match &self.link {
            Link::Through(through) => Some(through),
            Link::Direct(_) => None,
        }
    }

    /// Returns the join table, its columns that refer to the parent and the related row,
    /// and its condition for rows that are not soft-deleted.
    pub(crate) fn through_table(
        &self,
    ) -> Option<(&'static str, &'static str, &'static str, Option<Expr>)> {
        self.through().map(|through| {
            (
                through.table,
                through.parent_column,
                through.child_column,
                through.live.clone(),
            )
        })
    }

    pub(crate) fn query(&self) -> &Select<C> {
        &self.query
    }
}

impl<P: Model, C: Model> Relation<P, C, One> {
    /// Each `P` row refers to one `C` row: `foreign_key` on `P` contains the value of
    /// `key` on `C`. A NULL foreign key has no related row.
    ///
    /// ```
    /// # use covet::{Model, relation::{Relation, One}};
    /// # #[derive(Model, Clone)] struct User { #[covet(primary_key)] id: i64 }
    /// # #[derive(Model, Clone)] struct Post { #[covet(primary_key)] id: i64, user_id: i64 }
    /// let author: Relation<Post, User, One> = Relation::belongs_to(Post::USER_ID, User::ID);
    /// ```
    pub fn belongs_to<A, B>(foreign_key: Column<P, A>, key: Column<C, B>) -> Self
    where
        A: KeyField,
        B: KeyField<Base = A::Base>,
    {
        Self::direct(foreign_key, key)
    }

    /// Builds a relation in which each `P` row has at most one `C` row: `foreign_key` on
    /// `C` contains the value of `key` on `P`. When several rows match, the first one the query returns is kept.
    pub fn has_one<A, B>(key: Column<P, A>, foreign_key: Column<C, B>) -> Self
    where
        A: KeyField,
        B: KeyField<Base = A::Base>,
    {
        Self::direct(key, foreign_key)
    }
}

impl<P: Model, C: Model> Relation<P, C, Many> {
    /// Builds a relation in which each `P` row has any number of `C` rows: `foreign_key`
    /// on `C` contains the value of `key` on `P`.
    pub fn has_many<A, B>(key: Column<P, A>, foreign_key: Column<C, B>) -> Self
    where
        A: KeyField,
        B: KeyField<Base = A::Base>,
    {
        Self::direct(key, foreign_key)
    }

    /// Builds a relation in which each `P` row has any number of `C` rows through the join
    /// table `J`, whose rows pair `to_parent` (the `key` of `P`) with `to_child` (the
    /// `child_key` of `C`).
    pub fn many_to_many<J, A, B, X, Y>(
        key: Column<P, A>,
        to_parent: Column<J, X>,
        to_child: Column<J, Y>,
        child_key: Column<C, B>,
    ) -> Self
    where
        J: Model,
        A: KeyField,
        B: KeyField,
        X: KeyField<Base = A::Base>,
        Y: KeyField<Base = B::Base>,
    {
        Self {
            parent_column: key.name(),
            parent_key: getter(key),
            child_column: child_key.name(),
            link: Link::Through(Through {
                table: J::TABLE,
                parent_column: to_parent.name(),
                child_column: to_child.name(),
                decode_parent_key: decode_key::<X>,
                live: Visibility::Live.condition::<J>(),
            }),
            query: Select::new(),
            _cardinality: PhantomData,
        }
    }
}

impl<P: Model, C: Model, K: Cardinality> Relation<P, C, K> {
    fn direct<A: KeyField, B: KeyField>(parent: Column<P, A>, child: Column<C, B>) -> Self {
        Self {
            parent_column: parent.name(),
            parent_key: getter(parent),
            child_column: child.name(),
            link: Link::Direct(getter(child)),
            query: Select::new(),
            _cardinality: PhantomData,
        }
    }

    /// Keeps only related rows matching `filter`, such as published posts.
    pub fn filter(mut self, filter: Filter<C>) -> Self {
        self.query = self.query.filter(filter);
        self
    }

    /// Includes soft-deleted related rows, which a relation leaves out by default. Rows of
    /// a many-to-many join table that are soft-deleted still link nothing.
    pub fn with_deleted(mut self) -> Self {
        self.query = self.query.with_deleted();
        self
    }

    /// Sorts each parent's related rows by `column`. Calls add sort keys in order.
    pub fn order_by(mut self, column: impl Into<ColumnRef<C>>, order: Order) -> Self {
        self.query = self.query.order_by(column, order);
        self
    }

    /// Sorts each parent's related rows by `column`, ascending.
    pub fn order_by_asc(self, column: impl Into<ColumnRef<C>>) -> Self {
        self.order_by(column, Order::Asc)
    }

    /// Sorts each parent's related rows by `column`, descending.
    pub fn order_by_desc(self, column: impl Into<ColumnRef<C>>) -> Self {
        self.order_by(column, Order::Desc)
    }

    /// Loads `nested` for the related rows too, one more query per level: `User::posts()
    /// .with(Post::comments())` gives each user's posts with each post's comments.
    pub fn with<L: Load<C>>(self, nested: L) -> With<Self, L> {
        With {
            relation: self,
            nested,
        }
    }

    /// Loads the related rows of every parent in `parents`, returned in the same order.
    ///
    /// # Errors
    ///
    /// Connection, pool and decode errors, and [`Error::Unsupported`](crate::Error::Unsupported)
    /// when the related model's query cannot run on the backend.
    pub async fn load<E: Executor + ?Sized>(&self, db: &E, parents: &[P]) -> Result<Vec<K::Of<C>>>
    where
        C: Clone,
    {
        let groups = self.load_groups(db, parents).await?;
        Ok(groups.into_iter().map(K::collect).collect())
    }

    /// Returns, for each parent in order, the related rows.
    async fn load_groups<E: Executor + ?Sized>(&self, db: &E, parents: &[P]) -> Result<Vec<Vec<C>>>
    where
        C: Clone,
    {
        let parent_keys: Vec<Option<Key>> = parents
            .iter()
            .map(|parent| key_of(&(self.parent_key)(parent)))
            .collect();
        // Distinct keys in first-seen order, and how many parents share each one, so that
        // the last parent with a key takes its rows without a copy.
        let mut wanted: HashMap<&Key, usize> = HashMap::new();
        let mut values = Vec::new();
        for (parent, key) in parents.iter().zip(&parent_keys) {
            if let Some(key) = key {
                let count = wanted.entry(key).or_insert(0);
                if *count == 0 {
                    values.push((self.parent_key)(parent));
                }
                *count += 1;
            }
        }
        let mut groups: HashMap<Key, Vec<C>> = HashMap::new();
        if !values.is_empty() {
            self.fetch_related(db, values, &mut groups).await?;
        }
        let mut result = Vec::with_capacity(parents.len());
        for key in &parent_keys {
            let Some(key) = key else {
                result.push(Vec::new());
                continue;
            };
            let remaining = wanted.get_mut(key).expect("every parent key was counted");
            *remaining -= 1;
            let rows = if *remaining == 0 {
                groups.remove(key).unwrap_or_default()
            } else {
                groups.get(key).cloned().unwrap_or_default()
            };
            result.push(rows);
        }
        if !groups.is_empty() {
            let rows: usize = groups.values().map(Vec::len).sum();
            // NOTE: the database matched these keys, but not exactly: MySQL's default
            // collations ignore case and trailing spaces, so `k0` matches a parent's `K0`.
            tracing::warn!(
                target: "covet::relation",
                table = C::TABLE,
                rows,
                "related rows came back with keys that match no parent key exactly, so they \
                 were left out; give string key columns a binary collation"
            );
        }
        Ok(result)
    }

    /// Runs the batched query for `keys` and files each related row under its parent key.
    async fn fetch_related<E: Executor + ?Sized>(
        &self,
        db: &E,
        keys: Vec<Value>,
        groups: &mut HashMap<Key, Vec<C>>,
    ) -> Result<()> {
        let backend = db.backend();
        self.query.check_backend(backend)?;
        let (key_table, key_column) = match self.through() {
            Some(through) => (through.table, through.parent_column),
            None => (C::TABLE, self.child_column),
        };
        let width = C::COLUMNS.len();
        for chunk in key_chunks(backend, &self.base_statement(), keys) {
            let mut select = self.base_statement();
            select.and_where(key_condition(backend, key_table, key_column, chunk));
            let statement = render(db, QueryStatement::Select(&select), "SELECT", C::TABLE);
            db.fetch(statement, &mut |row| {
                let child = C::decode(row, 0)?;
                let key = match &self.link {
                    Link::Through(through) => (through.decode_parent_key)(row, width)?,
                    Link::Direct(child_key) => child_key(&child),
                };
                if let Some(key) = key_of(&key) {
                    groups.entry(key).or_default().push(child);
                }
                Ok(())
            })
            .await?;
        }
        Ok(())
    }

    /// Returns the related model's query, joined to the join table for many-to-many,
    /// without the key condition.
    fn base_statement(&self) -> sea_query::SelectStatement {
        let mut select = self.query.statement();
        if let Some(through) = self.through() {
            select.column((through.table, through.parent_column));
            let mut on = Expr::col((through.table, through.child_column))
                .equals((C::TABLE, self.child_column));
            if let Some(live) = &through.live {
                on = on.and(live.clone());
            }
            select.inner_join(through.table, on);
        }
        select
    }
}

/// Splits `keys` into lists that fit the backend's bind-parameter limit next to the values
/// `base` already binds. A backend that binds arrays takes them all at once.
fn key_chunks(
    backend: &dyn Backend,
    base: &sea_query::SelectStatement,
    keys: Vec<Value>,
) -> Vec<Vec<Value>> {
    if backend.capabilities().array_parameters {
        return vec![keys];
    }
    let (_, bound) = backend.render(&QueryStatement::Select(base));
    let room = backend
        .capabilities()
        .max_bind_parameters
        .saturating_sub(bound.0.len())
        .max(1);
    let mut chunks = Vec::with_capacity(keys.len().div_ceil(room));
    let mut keys = keys.into_iter().peekable();
    while keys.peek().is_some() {
        chunks.push(keys.by_ref().take(room).collect());
    }
    chunks
}

/// Returns `table.column IN (keys)`, or `= ANY($1)` with one array parameter on a backend
/// that binds arrays.
fn key_condition(
    backend: &dyn Backend,
    table: &'static str,
    column: &'static str,
    keys: Vec<Value>,
) -> Expr {
    let column = Expr::col((table, column));
    #[cfg(feature = "postgres")]
    if backend.capabilities().array_parameters {
        return column.eq(sea_query::extension::postgres::PgFunc::any(array_of(keys)));
    }
    let _ = backend;
    column.is_in(keys)
}

/// Packs key values into one PostgreSQL array parameter. `u64` keys become `BIGINT`
/// elements, since PostgreSQL has no unsigned type.
#[cfg(feature = "postgres")]
fn array_of(keys: Vec<Value>) -> Value {
    let keys: Vec<Value> = keys
        .into_iter()
        .map(|key| match key {
            Value::BigUnsigned(Some(number)) => match i64::try_from(number) {
                Ok(signed) => Value::BigInt(Some(signed)),
                Err(_) => Value::BigUnsigned(Some(number)),
            },
            other => other,
        })
        .collect();
    let element = keys
        .first()
        .map_or(sea_query::ArrayType::BigInt, Value::array_type);
    Value::Array(element, Some(Box::new(keys)))
}

/// Something that loads related data for a list of parents `P`: a [`Relation`], a
/// relation [`With`] nested loads, or a tuple of loads for several relations at once.
pub trait Load<P>: Send + Sync {
    /// The data each parent gets: `Option<C>` or `Vec<C>` for a relation, with nested
    /// loads paired in, and a tuple for a tuple of loads.
    type Output: Send;

    /// Loads the data of every parent in `parents`, returned in the same order. Runs one
    /// query per relation and level, more only when the bind-parameter limit splits one.
    fn load_for<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        parents: &'a [P],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>>>;
}

impl<P: Model, C: Model + Clone, K: Cardinality> Load<P> for Relation<P, C, K> {
    type Output = K::Of<C>;

    fn load_for<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        parents: &'a [P],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>>> {
        Box::pin(self.load(db, parents))
    }
}

/// A relation whose related rows get nested loads of their own. Built with
/// [`Relation::with`].
#[derive(Clone, Debug)]
pub struct With<R, L> {
    relation: R,
    nested: L,
}

impl<P, C, K, L> Load<P> for With<Relation<P, C, K>, L>
where
    P: Model,
    C: Model + Clone,
    K: Cardinality,
    L: Load<C>,
{
    type Output = K::Of<(C, L::Output)>;

    fn load_for<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        parents: &'a [P],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>>> {
        Box::pin(async move {
            let groups = self.relation.load_groups(db, parents).await?;
            let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
            let children: Vec<C> = groups.into_iter().flatten().collect();
            let nested = self.nested.load_for(db, &children).await?;
            let mut pairs = children.into_iter().zip(nested);
            Ok(sizes
                .into_iter()
                .map(|size| K::collect(pairs.by_ref().take(size).collect()))
                .collect())
        })
    }
}

impl<P: Sync, A: Load<P>, B: Load<P>> Load<P> for (A, B) {
    type Output = (A::Output, B::Output);

    fn load_for<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        parents: &'a [P],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>>> {
        Box::pin(async move {
            let first = self.0.load_for(db, parents).await?;
            let second = self.1.load_for(db, parents).await?;
            Ok(first.into_iter().zip(second).collect())
        })
    }
}

impl<P: Sync, A: Load<P>, B: Load<P>, C: Load<P>> Load<P> for (A, B, C) {
    type Output = (A::Output, B::Output, C::Output);

    fn load_for<'a, E: Executor + ?Sized>(
        &'a self,
        db: &'a E,
        parents: &'a [P],
    ) -> BoxFuture<'a, Result<Vec<Self::Output>>> {
        Box::pin(async move {
            let first = self.0.load_for(db, parents).await?;
            let second = self.1.load_for(db, parents).await?;
            let third = self.2.load_for(db, parents).await?;
            Ok(first
                .into_iter()
                .zip(second)
                .zip(third)
                .map(|((a, b), c)| (a, b, c))
                .collect())
        })
    }
}

impl<M: Model> Select<M> {
    /// Loads related rows for every row this query returns, one more query per relation
    /// and level: `User::query().with(User::posts().with(Post::comments()))` runs three
    /// statements for any number of users.
    pub fn with<L: Load<M>>(self, load: L) -> Loaded<M, L> {
        Loaded { query: self, load }
    }
}

/// A query whose rows come with their related rows, built with
/// [`Select::with`](crate::query::Select::with).
#[derive(Debug)]
pub struct Loaded<M, L> {
    query: Select<M>,
    load: L,
}

impl<M: Model, L: Load<M>> Loaded<M, L> {
    /// Returns every matching row paired with its related data.
    ///
    /// # Errors
    ///
    /// As for [`Select::all`](crate::query::Select::all), for each query.
    pub async fn all<E: Executor + ?Sized>(self, db: &E) -> Result<Vec<(M, L::Output)>> {
        let rows = self.query.all(db).await?;
        let related = self.load.load_for(db, &rows).await?;
        Ok(rows.into_iter().zip(related).collect())
    }

    /// Returns the first matching row with its related data, or `None`.
    ///
    /// # Errors
    ///
    /// As for [`all`](Self::all).
    pub async fn optional<E: Executor + ?Sized>(self, db: &E) -> Result<Option<(M, L::Output)>> {
        let Some(row) = self.query.optional(db).await? else {
            return Ok(None);
        };
        let rows = [row];
        let related = self.load.load_for(db, &rows).await?;
        let [row] = rows;
        Ok(related.into_iter().next().map(|related| (row, related)))
    }
}

#[cfg(test)]
mod tests {
    use super::{Key, key_of};
    use sea_query::Value;

    #[test]
    fn integer_keys_of_any_width_group_together() {
        assert_eq!(key_of(&Value::Int(Some(7))), Some(Key::Int(7)));
        assert_eq!(key_of(&Value::BigInt(Some(7))), Some(Key::Int(7)));
        assert_eq!(key_of(&Value::BigUnsigned(Some(7))), Some(Key::Int(7)));
        assert_eq!(
            key_of(&Value::BigUnsigned(Some(u64::MAX))),
            Some(Key::Unsigned(u64::MAX))
        );
        assert_eq!(key_of(&Value::BigInt(None)), None);
    }
}
