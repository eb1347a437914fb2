use std::fmt;
use std::marker::PhantomData;

use sea_query::{Alias, Expr, Order, Query, SelectStatement};

use crate::backend::{Backend, QueryStatement};
use crate::column::ColumnRef;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::soft_delete::Visibility;
use crate::query::{key_filter, render};
use crate::value::SqlType;

/// A SELECT over the table of model `M`, built with [`Model::query`].
pub struct Select<M> {
    filter: Option<Filter<M>>,
    pub(super) order: Vec<(&'static str, Order)>,
    pub(super) limit: Option<u64>,
    pub(super) offset: Option<u64>,
    visibility: Visibility,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Clone for Select<M> {
    fn clone(&self) -> Self {
        Self {
            filter: self.filter.clone(),
            order: self.order.clone(),
            limit: self.limit,
            offset: self.offset,
            visibility: self.visibility,
            _marker: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Select<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("filter", &self.filter)
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .field("visibility", &self.visibility)
            .finish()
    }
}

impl<M: Model> Default for Select<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Select<M> {
    /// Creates a query that matches every row, leaving out soft-deleted rows when the model
    /// has a `#[covet(soft_delete)]` column.
    pub fn new() -> Self {
        Self {
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            visibility: Visibility::Live,
            _marker: PhantomData,
        }
    }

    pub(crate) fn by_key(key: &M::PrimaryKey) -> Self {
        Self::new().filter(key_filter::<M>(key))
    }

    /// Keeps only rows matching `filter`. Calling it again adds another condition, joined
    /// with AND.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Includes soft-deleted rows. On a model without a `#[covet(soft_delete)]` column this
    /// changes nothing.
    pub fn with_deleted(self) -> Self {
        self.visibility(Visibility::All)
    }

    /// Keeps only soft-deleted rows. On a model without a `#[covet(soft_delete)]` column no
    /// row is soft-deleted, so the query matches nothing.
    pub fn only_deleted(self) -> Self {
        self.visibility(Visibility::DeletedOnly)
    }

    pub(crate) fn visibility(mut self, visibility: Visibility) -> Self {
        self.visibility = visibility;
        self
    }

    /// Sorts by `column`. Calls add sort keys in order.
    pub fn order_by(mut self, column: impl Into<ColumnRef<M>>, order: Order) -> Self {
        self.order.push((column.into().name(), order));
        self
    }

    /// Sorts by `column`, ascending.
    pub fn order_by_asc(self, column: impl Into<ColumnRef<M>>) -> Self {
        self.order_by(column, Order::Asc)
    }

    /// Sorts by `column`, descending.
    pub fn order_by_desc(self, column: impl Into<ColumnRef<M>>) -> Self {
        self.order_by(column, Order::Desc)
    }

    /// Sorts by a column named at run time, such as a sort key from a request. The name is
    /// checked against the model's columns, never written into SQL unchecked.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the value and listing the valid columns.
    pub fn order_by_name(self, name: &str, order: Order) -> Result<Self> {
        let column = ColumnRef::<M>::by_name(name)?;
        Ok(self.order_by(column, order))
    }

    /// Returns at most `limit` rows.
    pub fn limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Skips the first `offset` rows.
    pub fn offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Returns the SELECT statement this query runs.
    pub fn statement(&self) -> SelectStatement {
        let mut select = Query::select();
        for column in M::COLUMNS {
            select.column((M::TABLE, column.name));
        }
        select.from(M::TABLE);
        self.apply_clauses(&mut select);
        select
    }

    pub(crate) fn apply_clauses(&self, select: &mut SelectStatement) {
        if let Some(filter) = &self.filter {
            select.cond_where(filter.clone().into_condition());
        }
        if let Some(condition) = self.visibility.condition::<M>() {
            select.and_where(condition);
        }
        for (column, order) in &self.order {
            select.order_by((M::TABLE, *column), order.clone());
        }
        // Larger values mean "no limit" in practice, and PostgreSQL and SQLite take a signed
        // 64-bit LIMIT and OFFSET.
        let largest = i64::MAX.unsigned_abs();
        match (self.limit, self.offset) {
            (Some(limit), _) => {
                select.limit(limit.min(largest));
            }
            // MySQL and SQLite accept OFFSET only after a LIMIT.
            (None, Some(_)) => {
                select.limit(i64::MAX.unsigned_abs());
            }
            (None, None) => {}
        }
        if let Some(offset) = self.offset {
            select.offset(offset.min(largest));
        }
    }

    /// Returns the backend capabilities the filter relies on.
    pub(crate) fn filter_needs(&self) -> crate::filter::Needs {
        self.filter.as_ref().map(Filter::needs).unwrap_or_default()
    }

    /// Sets a limit unless one is set.
    pub(crate) fn limit_if_unset(mut self, limit: u64) -> Self {
        self.limit.get_or_insert(limit);
        self
    }

    /// Returns the condition rows must match, if any: the filter and the soft-delete
    /// visibility.
    pub(crate) fn condition(&self) -> Option<sea_query::Condition> {
        let filter = self.filter.clone().map(Filter::into_condition);
        match (filter, self.visibility.condition::<M>()) {
            (Some(filter), Some(visible)) => {
                Some(sea_query::Condition::all().add(filter).add(visible))
            }
            (Some(filter), None) => Some(filter),
            (None, Some(visible)) => Some(sea_query::Condition::all().add(visible)),
            (None, None) => None,
        }
    }

    /// Returns the sort keys: column names of `M` with their direction.
    pub(crate) fn sort_keys(&self) -> &[(&'static str, Order)] {
        &self.order
    }

    /// Checks that the backend can run this query's filter and sort as written.
    pub(crate) fn check_backend(&self, backend: &dyn Backend) -> Result<()> {
        let mut needs = self.filter.as_ref().map(Filter::needs).unwrap_or_default();
        let sorts_decimal = self.order.iter().any(|(name, _)| {
            M::COLUMNS
                .iter()
                .any(|column| column.name == *name && column.sql_type == SqlType::Decimal)
        });
        needs.decimal_comparison |= sorts_decimal;
        needs.check(backend)
    }

    /// Returns every matching row.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] when the backend cannot run the filter or sort as written,
    /// and connection, pool and decode errors.
    pub async fn all<E: Executor + ?Sized>(self, db: &E) -> Result<Vec<M>> {
        self.check_backend(db.backend())?;
        let statement = render(
            db,
            QueryStatement::Select(&self.statement()),
            "SELECT",
            M::TABLE,
        );
        self.fetch_rows(db, statement).await
    }

    async fn fetch_rows<E: Executor + ?Sized>(
        &self,
        db: &E,
        statement: crate::backend::Statement,
    ) -> Result<Vec<M>> {
        let mut rows = Vec::new();
        db.fetch(statement, &mut |row| {
            rows.push(M::decode(row, 0)?);
            Ok(())
        })
        .await?;
        Ok(rows)
    }

    /// Returns the first matching row, or `None`. Adds `LIMIT 1` unless a limit is set.
    ///
    /// # Errors
    ///
    /// Connection, pool and decode errors.
    pub async fn optional<E: Executor + ?Sized>(self, db: &E) -> Result<Option<M>> {
        if self.limit.is_some() || self.offset.is_some() {
            return Ok(self.all(db).await?.into_iter().next());
        }
        self.check_backend(db.backend())?;
        let mut statement = render(
            db,
            QueryStatement::Select(&self.statement()),
            "SELECT",
            M::TABLE,
        );
        limit_one(&mut statement);
        Ok(self.fetch_rows(db, statement).await?.into_iter().next())
    }

    /// Returns the first matching row. Adds `LIMIT 1` unless a limit is set.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] when no row matches, and connection, pool and decode errors.
    pub async fn one<E: Executor + ?Sized>(self, db: &E) -> Result<M> {
        let detail = match (&self.filter, self.visibility) {
            (Some(_), _) => "the query's filter matched no row",
            (None, Visibility::DeletedOnly) => "the table has no soft-deleted row",
            (None, Visibility::Live) if M::SOFT_DELETE_COLUMN.is_some() => {
                "the table has no row that is not soft-deleted"
            }
            (None, _) => "the table is empty",
        };
        self.optional(db).await?.ok_or_else(|| Error::NotFound {
            entity: M::TABLE,
            detail: detail.to_owned(),
        })
    }

    /// Returns the number of matching rows. Sorting is ignored; a limit or offset is
    /// applied before counting.
    ///
    /// # Errors
    ///
    /// Connection and pool errors.
    pub async fn count<E: Executor + ?Sized>(self, db: &E) -> Result<u64> {
        self.check_backend(db.backend())?;
        let mut inner = Query::select();
        inner.expr(Expr::cust("1")).from(M::TABLE);
        let unordered = Select::<M> {
            order: Vec::new(),
            ..self
        };
        unordered.apply_clauses(&mut inner);
        let mut outer = Query::select();
        outer
            .expr(Expr::cust("COUNT(*)"))
            .from_subquery(inner, Alias::new("covet_count"));
        let statement = render(db, QueryStatement::Select(&outer), "SELECT", M::TABLE);
        let mut count = 0i64;
        db.fetch(statement, &mut |row| {
            count = row.read_i64(0)?.unwrap_or(0);
            Ok(())
        })
        .await?;
        Ok(count.unsigned_abs())
    }

    /// Returns whether any row matches.
    ///
    /// # Errors
    ///
    /// Connection and pool errors.
    pub async fn exists<E: Executor + ?Sized>(self, db: &E) -> Result<bool> {
        self.check_backend(db.backend())?;
        let mut select = Query::select();
        select.expr(Expr::cust("1")).from(M::TABLE);
        let probe = Select::<M> {
            filter: self.filter,
            order: Vec::new(),
            limit: None,
            offset: self.offset,
            visibility: self.visibility,
            _marker: PhantomData,
        };
        probe.apply_clauses(&mut select);
        if probe.offset.is_some() {
            select.limit(1);
        }
        let mut statement = render(db, QueryStatement::Select(&select), "SELECT", M::TABLE);
        if probe.offset.is_none() {
            limit_one(&mut statement);
        }
        let rows = db.fetch(statement, &mut |_| Ok(())).await?;
        Ok(rows > 0)
    }
}

/// Ends a rendered SELECT that has no LIMIT or OFFSET with a literal `LIMIT 1`, valid as
/// the last clause on every backend. sea-query binds a LIMIT as a parameter, and a bound
/// LIMIT makes SQLite prepare the statement again each time a value is bound to it.
fn limit_one(statement: &mut crate::backend::Statement) {
    let mut sql = String::with_capacity(statement.sql.len() + 8);
    sql.push_str(&statement.sql);
    sql.push_str(" LIMIT 1");
    statement.sql = sql.into();
}
