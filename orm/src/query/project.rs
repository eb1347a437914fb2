//! Queries that return chosen columns and aggregates instead of whole models: selections,
//! group by, having, distinct, and subqueries in filters.

use std::fmt;
use std::marker::PhantomData;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use rust_decimal::Decimal;
use sea_query::{Alias, Expr, ExprTrait, Func, Order, Query, SelectStatement};
use uuid::Uuid;

use crate::backend::{Backend, QueryStatement};
use crate::column::Column;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::{Filter, Needs};
use crate::model::Model;
use crate::query::{Select, render};
use crate::row::RowReader;
use crate::value::{Field, SqlType, ValueOf};

/// A type read from the columns of a result row, in order: a [`Field`] type (one column),
/// a tuple of them, or a struct with `#[derive(FromRow)]`.
pub trait FromRow: Sized + Send {
    /// The number of columns it reads.
    const WIDTH: usize;

    /// Reads the value from `row`, whose columns start at `offset`.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming the column that does not fit.
    fn from_row(row: &dyn RowReader, offset: usize) -> Result<Self>;
}

impl<T: Field> FromRow for T {
    const WIDTH: usize = 1;

    fn from_row(row: &dyn RowReader, offset: usize) -> Result<Self> {
        T::decode(row, offset)
    }
}

macro_rules! tuple_from_row {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<$($name: Field),+> FromRow for ($($name,)+) {
            const WIDTH: usize = [$($index),+].len();

            fn from_row(row: &dyn RowReader, offset: usize) -> Result<Self> {
                Ok(($($name::decode(row, offset + $index)?,)+))
            }
        }
    )*};
}

tuple_from_row! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

/// A field type with its `Option` removed: `i64` for both `i64` and `Option<i64>`. Column
/// comparisons and aggregates use it to accept nullable and non-null columns alike.
pub trait Nullable: Field {
    /// The type without `Option`.
    type Inner: Field;
}

macro_rules! nullable {
    ($($ty:ty),*) => {$(
        impl Nullable for $ty {
            type Inner = $ty;
        }
        impl Nullable for Option<$ty> {
            type Inner = $ty;
        }
    )*};
}

nullable!(
    bool,
    i16,
    i32,
    i64,
    u64,
    f32,
    f64,
    String,
    Vec<u8>,
    DateTime<Utc>,
    NaiveDateTime,
    NaiveDate,
    Uuid,
    Decimal,
    serde_json::Value
);

/// The types a numeric column's SUM and AVG are read as, with the CAST that makes every
/// backend return them. PostgreSQL sums BIGINT into NUMERIC and MySQL sums integers into
/// DECIMAL, so integer sums are cast back to a 64-bit integer and averages to a double.
pub trait Numeric: Nullable {
    /// The type of `SUM(column)`, without `Option`.
    type Sum: Field;
    /// The type of `AVG(column)`, without `Option`.
    type Avg: Field;
    /// The cast applied to `SUM`, if any.
    #[doc(hidden)]
    const SUM_CAST: Option<Cast>;
    /// The cast applied to `AVG`, if any.
    #[doc(hidden)]
    const AVG_CAST: Option<Cast>;
}

macro_rules! numeric {
    ($($ty:ty => $sum:ty, $avg:ty, $sum_cast:expr, $avg_cast:expr;)*) => {$(
        impl Numeric for $ty {
            type Sum = $sum;
            type Avg = $avg;
            const SUM_CAST: Option<Cast> = $sum_cast;
            const AVG_CAST: Option<Cast> = $avg_cast;
        }
        impl Numeric for Option<$ty> {
            type Sum = $sum;
            type Avg = $avg;
            const SUM_CAST: Option<Cast> = $sum_cast;
            const AVG_CAST: Option<Cast> = $avg_cast;
        }
    )*};
}

numeric! {
    i16 => i64, f64, Some(Cast::Integer), Some(Cast::Double);
    i32 => i64, f64, Some(Cast::Integer), Some(Cast::Double);
    i64 => i64, f64, Some(Cast::Integer), Some(Cast::Double);
    f32 => f64, f64, Some(Cast::Double), Some(Cast::Double);
    f64 => f64, f64, Some(Cast::Double), Some(Cast::Double);
    Decimal => Decimal, Decimal, None, None;
}

/// A type an aggregate result is cast to so that every backend returns the same type.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cast {
    /// A 64-bit signed integer.
    Integer,
    /// A double-precision float.
    Double,
}

impl Cast {
    /// Returns the type name that `backend`'s CAST takes.
    fn type_name(self, backend: &dyn Backend) -> &'static str {
        match (self, backend.system_name()) {
            (Cast::Integer, "mysql" | "mariadb") => "SIGNED",
            (Cast::Double, "mysql" | "mariadb") => "DOUBLE",
            (Cast::Integer, "sqlite") => "INTEGER",
            (Cast::Double, "sqlite") => "REAL",
            (Cast::Integer, _) => "BIGINT",
            (Cast::Double, _) => "DOUBLE PRECISION",
        }
    }
}

/// One selected expression, before the backend is known.
#[derive(Clone, Debug)]
pub struct Projected {
    expr: Expr,
    cast: Option<Cast>,
    needs: Needs,
}

impl Projected {
    fn render(&self, backend: Option<&dyn Backend>) -> Expr {
        match (self.cast, backend) {
            // CAST(... AS SIGNED) clamps a sum outside i64 on MySQL, so the DECIMAL sum is
            // left as it is and read exactly, with a range check.
            (Some(Cast::Integer), Some(backend))
                if matches!(backend.system_name(), "mysql" | "mariadb") =>
            {
                self.expr.clone()
            }
            (Some(cast), Some(backend)) => {
                Func::cast_as(self.expr.clone(), Alias::new(cast.type_name(backend))).into()
            }
            _ => self.expr.clone(),
        }
    }
}

/// An aggregate over a column of model `M` whose result has type `T`: built with
/// [`Column::count`], [`Column::sum`], [`Column::avg`], [`Column::min`], [`Column::max`]
/// and [`count_rows`]. Select it, sort by it, or compare it in
/// [`SelectAs::having`].
pub struct Aggregate<M, T> {
    projected: Projected,
    _marker: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for Aggregate<M, T> {
    fn clone(&self) -> Self {
        Self {
            projected: self.projected.clone(),
            _marker: PhantomData,
        }
    }
}

impl<M, T> fmt::Debug for Aggregate<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Aggregate")
            .field(&self.projected.expr)
            .finish()
    }
}

/// `COUNT(*)`: the number of rows, or of rows in each group.
pub fn count_rows<M>() -> Aggregate<M, i64> {
    Aggregate::new(Expr::cust("COUNT(*)"), None, Needs::default())
}

impl<M, T> Aggregate<M, T> {
    fn new(expr: impl Into<Expr>, cast: Option<Cast>, needs: Needs) -> Self {
        Self {
            projected: Projected {
                expr: expr.into(),
                cast,
                needs,
            },
            _marker: PhantomData,
        }
    }

    fn compare(self, compare: impl FnOnce(Expr) -> Expr) -> Filter<M> {
        let needs = self.projected.needs;
        Filter::with_needs(compare(self.projected.expr), needs)
    }
}

impl<M, T: Field> Aggregate<M, T> {
    /// Matches groups whose aggregate equals `value`.
    pub fn eq(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.eq(value.into_value()))
    }

    /// Matches groups whose aggregate differs from `value`.
    pub fn ne(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.ne(value.into_value()))
    }

    /// Matches groups whose aggregate is greater than `value`.
    pub fn gt(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.gt(value.into_value()))
    }

    /// Matches groups whose aggregate is greater than or equal to `value`.
    pub fn ge(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.gte(value.into_value()))
    }

    /// Matches groups whose aggregate is less than `value`.
    pub fn lt(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.lt(value.into_value()))
    }

    /// Matches groups whose aggregate is less than or equal to `value`.
    pub fn le(self, value: impl ValueOf<T>) -> Filter<M> {
        self.compare(|expr| expr.lte(value.into_value()))
    }
}

fn decimal_needs(sql_type: SqlType) -> Needs {
    Needs {
        decimal_comparison: sql_type == SqlType::Decimal,
        ..Needs::default()
    }
}

impl<M: Model, T: Field> Column<M, T> {
    fn column_expr(self) -> Expr {
        Expr::col((M::TABLE, self.name()))
    }

    /// `COUNT(column)`: the number of rows where the column is not NULL.
    pub fn count(self) -> Aggregate<M, i64> {
        Aggregate::new(Func::count(self.column_expr()), None, Needs::default())
    }

    /// `COUNT(DISTINCT column)`: the number of different non-NULL values.
    pub fn count_distinct(self) -> Aggregate<M, i64> {
        Aggregate::new(
            Func::count_distinct(self.column_expr()),
            None,
            Needs::default(),
        )
    }

    /// Matches rows where this column equals `other`, a column of this or another model,
    /// as in a correlated subquery: `Post::USER_ID.eq_column(User::ID)`.
    pub fn eq_column<N: Model, U>(self, other: Column<N, U>) -> Filter<M>
    where
        T: Nullable,
        U: Nullable<Inner = T::Inner>,
    {
        Filter::from_expr(self.column_expr().equals((N::TABLE, other.name())))
    }

    /// Matches rows where the column equals a value that `query` selects, a single column
    /// of another query: `User::ID.in_query(Post::query().select(Post::USER_ID))`.
    pub fn in_query<N: Model, U>(self, query: SelectAs<N, U>) -> Filter<M>
    where
        T: Nullable,
        U: Nullable<Inner = T::Inner>,
    {
        let needs = query.needs();
        let statement = query.statement_for(None);
        Filter::with_needs(self.column_expr().in_subquery(statement), needs)
    }

    /// Matches rows where the column equals none of the values `query` selects. As in SQL,
    /// a NULL among those values makes the condition match no row.
    pub fn not_in_query<N: Model, U>(self, query: SelectAs<N, U>) -> Filter<M>
    where
        T: Nullable,
        U: Nullable<Inner = T::Inner>,
    {
        let needs = query.needs();
        let statement = query.statement_for(None);
        Filter::with_needs(self.column_expr().not_in_subquery(statement), needs)
    }
}

impl<M: Model, T: Nullable> Column<M, T> {
    /// `MIN(column)`: `None` when no non-NULL value exists.
    pub fn min(self) -> Aggregate<M, Option<T::Inner>> {
        Aggregate::new(
            Func::min(self.column_expr()),
            None,
            decimal_needs(T::SQL_TYPE),
        )
    }

    /// `MAX(column)`: `None` when no non-NULL value exists.
    pub fn max(self) -> Aggregate<M, Option<T::Inner>> {
        Aggregate::new(
            Func::max(self.column_expr()),
            None,
            decimal_needs(T::SQL_TYPE),
        )
    }
}

impl<M: Model, T: Numeric> Column<M, T> {
    /// `SUM(column)`: a 64-bit integer for integer columns, `f64` for floats, `Decimal`
    /// for decimals; `None` when no non-NULL value exists.
    pub fn sum(self) -> Aggregate<M, Option<T::Sum>> {
        Aggregate::new(
            Func::sum(self.column_expr()),
            T::SUM_CAST,
            decimal_needs(T::SQL_TYPE),
        )
    }

    /// `AVG(column)`: `f64`, or `Decimal` for decimal columns; `None` when no non-NULL
    /// value exists.
    pub fn avg(self) -> Aggregate<M, Option<T::Avg>> {
        Aggregate::new(
            Func::avg(self.column_expr()),
            T::AVG_CAST,
            decimal_needs(T::SQL_TYPE),
        )
    }
}

impl<M: Model> Filter<M> {
    /// Matches when `query` finds at least one row, usually a correlated query that
    /// compares its columns with this model's: `Filter::exists(Post::query().filter(
    /// Post::USER_ID.eq_column(User::ID)))` keeps users with posts.
    ///
    /// `query` must be over another table: without table aliases, a subquery over the
    /// outer query's own table cannot refer to the outer row, so running such a filter
    /// fails with [`Error::InvalidInput`].
    pub fn exists<N: Model>(query: Select<N>) -> Filter<M> {
        let mut needs = query.filter_needs();
        if M::TABLE == N::TABLE {
            needs.exists_on_own_table = Some(N::TABLE);
        }
        Filter::with_needs(Expr::exists(probe(&query)), needs)
    }

    /// Matches when `query` finds no row.
    pub fn not_exists<N: Model>(query: Select<N>) -> Filter<M> {
        !Filter::exists(query)
    }
}

/// `SELECT 1 FROM ...` with the query's conditions, for EXISTS.
fn probe<N: Model>(query: &Select<N>) -> SelectStatement {
    let mut select = Query::select();
    select.expr(Expr::cust("1")).from(N::TABLE);
    query.apply_clauses(&mut select);
    select
}

/// One selected expression of model `M` with the Rust type `Value` it is read as: a
/// [`Column`] or an [`Aggregate`].
pub trait SelectItem<M> {
    /// The type the expression is read as.
    type Value: Field;

    /// Returns the expression.
    #[doc(hidden)]
    fn projected(self) -> Projected;
}

impl<M: Model, T: Field> SelectItem<M> for Column<M, T> {
    type Value = T;

    fn projected(self) -> Projected {
        Projected {
            expr: self.column_expr(),
            cast: None,
            needs: Needs::default(),
        }
    }
}

impl<M, T: Field> SelectItem<M> for Aggregate<M, T> {
    type Value = T;

    fn projected(self) -> Projected {
        self.projected
    }
}

/// The argument of [`Select::select`]: one [`SelectItem`] or a tuple of them, read as the
/// item's type or a tuple of the items' types.
pub trait Selection<M> {
    /// The type each result row is read as.
    type Output: FromRow;

    /// Returns the expressions in order.
    #[doc(hidden)]
    fn items(self) -> Vec<Projected>;
}

impl<M: Model, T: Field> Selection<M> for Column<M, T> {
    type Output = T;

    fn items(self) -> Vec<Projected> {
        vec![SelectItem::<M>::projected(self)]
    }
}

impl<M, T: Field> Selection<M> for Aggregate<M, T> {
    type Output = T;

    fn items(self) -> Vec<Projected> {
        vec![self.projected]
    }
}

macro_rules! tuple_selection {
    ($(($($name:ident $index:tt),+))*) => {$(
        impl<M, $($name: SelectItem<M>),+> Selection<M> for ($($name,)+) {
            type Output = ($($name::Value,)+);

            fn items(self) -> Vec<Projected> {
                vec![$(self.$index.projected()),+]
            }
        }
    )*};
}

tuple_selection! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
}

impl<M: Model> Select<M> {
    /// Returns chosen columns and aggregates instead of whole rows, read as the item's
    /// type or a tuple: `Post::query().select((Post::USER_ID, count_rows()))` gives
    /// `(i64, i64)` rows. Add [`group_by`](SelectAs::group_by) for one row per group.
    pub fn select<S: Selection<M>>(self, selection: S) -> SelectAs<M, S::Output> {
        self.select_into(selection)
    }

    /// Like [`select`](Self::select), reading each row as `T`, such as a struct with
    /// `#[derive(FromRow)]` whose fields match the selected items in order.
    pub fn select_into<T: FromRow, S: Selection<M>>(self, selection: S) -> SelectAs<M, T> {
        SelectAs {
            query: self,
            items: selection.items(),
            group_by: Vec::new(),
            having: None,
            order: Vec::new(),
            distinct: false,
            _marker: PhantomData,
        }
    }
}

/// A query returning chosen columns and aggregates of model `M`, read as `T`. Built with
/// [`Select::select`] and [`Select::select_into`].
pub struct SelectAs<M, T> {
    query: Select<M>,
    items: Vec<Projected>,
    group_by: Vec<&'static str>,
    having: Option<Filter<M>>,
    order: Vec<(Projected, Order)>,
    distinct: bool,
    _marker: PhantomData<fn() -> T>,
}

impl<M, T> fmt::Debug for SelectAs<M, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectAs")
            .field("query", &self.query)
            .field("items", &self.items)
            .field("group_by", &self.group_by)
            .field("having", &self.having)
            .field("distinct", &self.distinct)
            .finish()
    }
}

impl<M: Model, T: FromRow> SelectAs<M, T> {
    /// Groups rows by `column`: one result per distinct value. Calls add grouping columns.
    pub fn group_by<U>(mut self, column: Column<M, U>) -> Self {
        self.group_by.push(column.name());
        self
    }

    /// Keeps only groups matching `filter`, usually a comparison of an aggregate:
    /// `.having(count_rows().gt(5))`. Calling it again adds a condition, joined with AND.
    pub fn having(mut self, filter: Filter<M>) -> Self {
        self.having = Some(match self.having.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Returns at most `limit` result rows.
    pub fn limit(mut self, limit: u64) -> Self {
        self.query = self.query.limit(limit);
        self
    }

    /// Skips the first `offset` result rows.
    pub fn offset(mut self, offset: u64) -> Self {
        self.query = self.query.offset(offset);
        self
    }

    /// Returns each different result row once (`SELECT DISTINCT`).
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Sorts by a selected or other expression, such as an aggregate, after the query's
    /// own sort keys.
    pub fn order_by<S: SelectItem<M>>(mut self, item: S, order: Order) -> Self {
        self.order.push((item.projected(), order));
        self
    }

    fn needs(&self) -> Needs {
        let mut needs = self.query.filter_needs();
        for projected in &self.items {
            needs = needs.union(projected.needs);
        }
        if let Some(having) = &self.having {
            needs = needs.union(having.needs());
        }
        needs
    }

    /// Returns the statement, with casts for `backend` when it is known. A subquery is
    /// rendered without casts, which only matter when the result is read.
    fn statement_for(&self, backend: Option<&dyn Backend>) -> SelectStatement {
        let mut select = Query::select();
        for projected in &self.items {
            select.expr(projected.render(backend));
        }
        select.from(M::TABLE);
        if self.distinct {
            select.distinct();
        }
        for column in &self.group_by {
            select.add_group_by([Expr::col((M::TABLE, *column))]);
        }
        if let Some(having) = &self.having {
            select.cond_having(having.clone().into_condition());
        }
        // Sort keys on expressions go after the query's column sort keys, which
        // `apply_clauses` adds together with the filter, limit and offset.
        self.query.apply_clauses(&mut select);
        for (projected, order) in &self.order {
            select.order_by_expr(projected.expr.clone(), order.clone());
        }
        select
    }

    /// Returns the SELECT statement this query runs on `backend`.
    pub fn statement(&self, backend: &dyn Backend) -> SelectStatement {
        self.statement_for(Some(backend))
    }

    /// Returns every result row.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `T` reads a different number of columns than are
    /// selected, [`Error::Unsupported`] when the backend cannot run a comparison as
    /// written, and connection, pool and decode errors.
    pub async fn all<E: Executor + ?Sized>(self, db: &E) -> Result<Vec<T>> {
        if T::WIDTH != self.items.len() {
            return Err(Error::InvalidInput(format!(
                "`{}` reads {} columns but the query selects {}; select one item per field",
                std::any::type_name::<T>(),
                T::WIDTH,
                self.items.len()
            )));
        }
        let backend = db.backend();
        self.needs().check(backend)?;
        self.query.check_backend(backend)?;
        let select = self.statement_for(Some(backend));
        let statement = render(db, QueryStatement::Select(&select), "SELECT", M::TABLE);
        let mut rows = Vec::new();
        db.fetch(statement, &mut |row| {
            rows.push(T::from_row(row, 0)?);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Returns the first result row, failing with [`Error::NotFound`] when there is none.
    /// An aggregate without `group_by` always returns one row.
    ///
    /// # Errors
    ///
    /// As for [`all`](Self::all), and [`Error::NotFound`].
    pub async fn one<E: Executor + ?Sized>(self, db: &E) -> Result<T> {
        self.optional(db).await?.ok_or_else(|| Error::NotFound {
            entity: M::TABLE,
            detail: String::from("the query's selection returned no row"),
        })
    }

    /// Returns the first result row, or `None`. Adds `LIMIT 1` unless a limit is set.
    ///
    /// # Errors
    ///
    /// As for [`all`](Self::all).
    pub async fn optional<E: Executor + ?Sized>(mut self, db: &E) -> Result<Option<T>> {
        self.query = self.query.limit_if_unset(1);
        Ok(self.all(db).await?.into_iter().next())
    }
}
