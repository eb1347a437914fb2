//! Filters: the WHERE conditions of queries, updates and deletes.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Not;

use sea_query::{Condition, Expr};

use crate::backend::Backend;
use crate::error::{Error, Result};

/// A condition on rows of model `M`, built from [`Column`](crate::Column) methods and
/// combined with [`and`](Self::and), [`or`](Self::or) and [`not`](Self::not) (or
/// `!filter`). A filter on one model's columns cannot be passed to another model's query.
///
/// Every value in a filter is a bind parameter.
pub struct Filter<M> {
    condition: Condition,
    needs: Needs,
    _marker: PhantomData<fn() -> M>,
}

impl<M> Clone for Filter<M> {
    fn clone(&self) -> Self {
        Self {
            condition: self.condition.clone(),
            needs: self.needs,
            _marker: PhantomData,
        }
    }
}

impl<M> fmt::Debug for Filter<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Filter")
            .field("condition", &self.condition)
            .finish()
    }
}

/// Backend capabilities a filter relies on, checked before it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The filter compares decimal columns by value.
    pub(crate) decimal_comparison: bool,
    /// The filter has a LIKE pattern with a NUL character.
    pub(crate) nul_in_like: bool,
    /// The filter has an EXISTS subquery over its own table, which cannot refer to the
    /// outer row without table aliases: the table's name.
    pub(crate) exists_on_own_table: Option<&'static str>,
}

impl Needs {
    pub(crate) fn union(self, other: Needs) -> Needs {
        Needs {
            decimal_comparison: self.decimal_comparison || other.decimal_comparison,
            nul_in_like: self.nul_in_like || other.nul_in_like,
            exists_on_own_table: self.exists_on_own_table.or(other.exists_on_own_table),
        }
    }

    /// Returns an error naming the first capability `backend` lacks.
    pub(crate) fn check(self, backend: &dyn Backend) -> Result<()> {
        if let Some(table) = self.exists_on_own_table {
            return Err(Error::InvalidInput(format!(
                "an EXISTS subquery over `{table}` inside a query over `{table}` cannot refer \
                 to the outer row, since covet writes no table aliases; filter with \
                 `in_query` or load a relation instead"
            )));
        }
        let capabilities = backend.capabilities();
        if self.decimal_comparison && !capabilities.decimal_comparison {
            return Err(Error::Unsupported {
                backend: backend.system_name(),
                feature: "comparing or sorting decimal columns, which it stores as text; \
                          compare in Rust, or store the value as f64 or scaled i64",
            });
        }
        if self.nul_in_like && !capabilities.nul_in_like {
            return Err(Error::Unsupported {
                backend: backend.system_name(),
                feature: "a NUL character in a LIKE pattern, where it ends the pattern",
            });
        }
        Ok(())
    }
}

impl<M> Filter<M> {
    pub(crate) fn from_expr(expr: Expr) -> Self {
        Self::with_needs(expr, Needs::default())
    }

    pub(crate) fn with_needs(expr: Expr, needs: Needs) -> Self {
        Self {
            condition: Condition::all().add(expr),
            needs,
            _marker: PhantomData,
        }
    }

    pub(crate) fn needs(&self) -> Needs {
        self.needs
    }

    /// Returns a filter that matches every row.
    pub fn all() -> Self {
        // Constant SQL with no value in it, so it stays a complete condition under NOT.
        Self::from_expr(Expr::cust("1 = 1"))
    }

    /// Returns a filter that matches no row.
    pub fn none() -> Self {
        Self::from_expr(Expr::cust("1 = 0"))
    }

    /// Matches rows that match both filters.
    pub fn and(self, other: Filter<M>) -> Self {
        Self {
            condition: Condition::all().add(self.condition).add(other.condition),
            needs: self.needs.union(other.needs),
            _marker: PhantomData,
        }
    }

    /// Matches rows that match either filter.
    pub fn or(self, other: Filter<M>) -> Self {
        Self {
            condition: Condition::any().add(self.condition).add(other.condition),
            needs: self.needs.union(other.needs),
            _marker: PhantomData,
        }
    }

    /// Matches rows that match every filter in `filters`; an empty list matches every row.
    pub fn all_of(filters: impl IntoIterator<Item = Filter<M>>) -> Self {
        filters
            .into_iter()
            .reduce(Filter::and)
            .unwrap_or_else(Filter::all)
    }

    /// Matches rows that match any filter in `filters`; an empty list matches no row.
    pub fn any_of(filters: impl IntoIterator<Item = Filter<M>>) -> Self {
        filters
            .into_iter()
            .reduce(Filter::or)
            .unwrap_or_else(Filter::none)
    }

    pub(crate) fn into_condition(self) -> Condition {
        self.condition
    }
}

impl<M> Not for Filter<M> {
    type Output = Filter<M>;

    /// Matches rows that the filter does not match. As in SQL, a comparison with NULL is
    /// neither true nor false, so such rows match neither a filter nor its negation.
    fn not(self) -> Filter<M> {
        Filter {
            condition: self.condition.not(),
            needs: self.needs,
            _marker: PhantomData,
        }
    }
}

impl<M> From<Filter<M>> for Condition {
    fn from(filter: Filter<M>) -> Condition {
        filter.condition
    }
}
