use std::fmt;
use std::marker::PhantomData;

use sea_query::{Expr, ExprTrait, JoinType, Order, SelectStatement};

use crate::backend::QueryStatement;
use crate::column::ColumnRef;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::{Select, render};
use crate::relation::Relation;
use crate::row::RowReader;

/// The kind of a [`Join`]: [`Inner`] or [`LeftOuter`].
pub trait JoinKind: Send + Sync + 'static {
    /// The right-hand part of each result: `R`, or `Option<R>` for a left join.
    type Right<R: Send>: Send;

    /// The SQL join type.
    const JOIN: JoinType;

    /// Reads the right-hand row that starts at `offset`.
    ///
    /// # Errors
    ///
    /// Decode errors.
    fn decode<R: Model>(row: &dyn RowReader, offset: usize) -> Result<Self::Right<R>>;
}

/// An inner join: rows with a match on both sides.
#[derive(Debug)]
pub enum Inner {}

/// A left outer join: every left-hand row, with `None` where the right side has no match.
#[derive(Debug)]
pub enum LeftOuter {}

impl JoinKind for Inner {
    type Right<R: Send> = R;
    const JOIN: JoinType = JoinType::InnerJoin;

    fn decode<R: Model>(row: &dyn RowReader, offset: usize) -> Result<R> {
        R::decode(row, offset)
    }
}

impl JoinKind for LeftOuter {
    type Right<R: Send> = Option<R>;
    const JOIN: JoinType = JoinType::LeftJoin;

    fn decode<R: Model>(row: &dyn RowReader, offset: usize) -> Result<Option<R>> {
        // A primary key column is never NULL in a stored row, so NULL there means the
        // right side had no match.
        for (index, column) in R::COLUMNS.iter().enumerate() {
            if column.primary_key && !row.is_null(offset + index)? {
                return R::decode(row, offset).map(Some);
            }
        }
        Ok(None)
    }
}

/// A query over model `L` joined to model `R` by a [`Relation`], returning pairs. Built
/// with [`Select::join`] and [`Select::left_join`].
///
/// The query's filter and sort on `L` stay in effect, and its limit and offset count
/// pairs, not rows of `L`;
/// [`filter_joined`](Self::filter_joined) and [`order_by_joined`](Self::order_by_joined)
/// add conditions and sort keys on `R`. A filter on the relation itself applies to the
/// join condition, so with a left join it drops right-hand rows, not left-hand ones.
pub struct Join<L, R, K> {
    left: Select<L>,
    relation: Relation<L, R, ()>,
    right_filter: Option<Filter<R>>,
    right_order: Vec<(&'static str, Order)>,
    _kind: PhantomData<fn() -> K>,
}

impl<L: Model, R: Model, K> fmt::Debug for Join<L, R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("left", &self.left)
            .field("relation", &self.relation)
            .field("right_filter", &self.right_filter)
            .field("right_order", &self.right_order)
            .finish()
    }
}

impl<L: Model> Select<L> {
    /// Joins the rows of `relation`'s model with an inner join, returning `(L, R)` pairs:
    /// one per matching pair of rows.
    pub fn join<R: Model, C>(self, relation: Relation<L, R, C>) -> Join<L, R, Inner> {
        Join::new(self, relation)
    }

    /// Joins the rows of `relation`'s model with a left outer join, returning
    /// `(L, Option<R>)` pairs: every row of `L`, with `None` where it has no related row.
    pub fn left_join<R: Model, C>(self, relation: Relation<L, R, C>) -> Join<L, R, LeftOuter> {
        Join::new(self, relation)
    }
}

impl<L: Model, R: Model, K: JoinKind> Join<L, R, K> {
    fn new<C>(left: Select<L>, relation: Relation<L, R, C>) -> Self {
        Self {
            left,
            relation: relation.erase_cardinality(),
            right_filter: None,
            right_order: Vec::new(),
            _kind: PhantomData,
        }
    }

    /// Keeps only pairs whose right-hand row matches `filter`. Calling it again adds
    /// another condition, joined with AND. With a left join, a condition here also drops
    /// the left-hand rows that have no match. To keep them, filter the relation instead.
    pub fn filter_joined(mut self, filter: Filter<R>) -> Self {
        self.right_filter = Some(match self.right_filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Sorts by a column of the right-hand model, after the left-hand sort keys.
    pub fn order_by_joined(mut self, column: impl Into<ColumnRef<R>>, order: Order) -> Self {
        self.right_order.push((column.into().name(), order));
        self
    }

    /// Returns the SELECT statement this join runs.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when both sides are the same table, which needs table
    /// aliases that covet's joins do not write.
    pub fn statement(&self) -> Result<SelectStatement> {
        if L::TABLE == R::TABLE {
            return Err(Error::InvalidInput(format!(
                "a join of table `{}` to itself needs table aliases, which covet's joins do not \
                 write; load the relation with `Select::with` instead",
                L::TABLE
            )));
        }
        let mut select = self.left.statement();
        for column in R::COLUMNS {
            select.column((R::TABLE, column.name));
        }
        let mut on_right = match self.relation.through_table() {
            Some((through, to_parent, to_child, live)) => {
                let mut on_through = Expr::col((through, to_parent))
                    .equals((L::TABLE, self.relation.parent_column()));
                if let Some(live) = live {
                    on_through = on_through.and(live);
                }
                select.join(K::JOIN, through, on_through);
                Expr::col((R::TABLE, self.relation.child_column())).equals((through, to_child))
            }
            None => Expr::col((R::TABLE, self.relation.child_column()))
                .equals((L::TABLE, self.relation.parent_column())),
        };
        if let Some(condition) = self.relation.query().condition() {
            on_right = on_right.and(Expr::from(condition));
        }
        select.join(K::JOIN, R::TABLE, on_right);
        if let Some(filter) = &self.right_filter {
            select.cond_where(filter.clone().into_condition());
        }
        let relation_order = self.relation.query().sort_keys();
        for (column, order) in self.right_order.iter().chain(relation_order) {
            select.order_by((R::TABLE, *column), order.clone());
        }
        Ok(select)
    }

    /// Returns every matching pair.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a join of a table to itself, [`Error::Unsupported`] when
    /// the backend cannot run a filter or sort as written, and connection, pool and decode
    /// errors.
    pub async fn all<E: Executor + ?Sized>(self, db: &E) -> Result<Vec<(L, K::Right<R>)>> {
        let backend = db.backend();
        self.left.check_backend(backend)?;
        self.relation.query().check_backend(backend)?;
        if let Some(filter) = &self.right_filter {
            filter.needs().check(backend)?;
        }
        let select = self.statement()?;
        let statement = render(db, QueryStatement::Select(&select), "SELECT", L::TABLE);
        let offset = L::COLUMNS.len();
        let mut pairs = Vec::new();
        db.fetch(statement, &mut |row| {
            pairs.push((L::decode(row, 0)?, K::decode::<R>(row, offset)?));
            Ok(())
        })
        .await?;
        Ok(pairs)
    }
}
