//! Filters: the WHERE conditions of queries, updates and deletes.

use std::ops::Not;

use sea_query::{Condition, Expr};

/// A condition on rows, built from [`Column`](crate::Column) methods and combined with
/// [`and`](Self::and), [`or`](Self::or) and [`not`](Self::not) (or `!filter`).
///
/// Every value in a filter is a bind parameter.
#[derive(Clone, Debug)]
pub struct Filter {
    condition: Condition,
}

impl Filter {
    pub(crate) fn from_expr(expr: Expr) -> Self {
        Self {
            condition: Condition::all().add(expr),
        }
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
    pub fn and(self, other: Filter) -> Self {
        Self {
            condition: Condition::all().add(self.condition).add(other.condition),
        }
    }

    /// Matches rows that match either filter.
    pub fn or(self, other: Filter) -> Self {
        Self {
            condition: Condition::any().add(self.condition).add(other.condition),
        }
    }

    /// Matches rows that match every filter in `filters`; an empty list matches every row.
    pub fn all_of(filters: impl IntoIterator<Item = Filter>) -> Self {
        filters
            .into_iter()
            .reduce(Filter::and)
            .unwrap_or_else(Filter::all)
    }

    /// Matches rows that match any filter in `filters`; an empty list matches no row.
    pub fn any_of(filters: impl IntoIterator<Item = Filter>) -> Self {
        filters
            .into_iter()
            .reduce(Filter::or)
            .unwrap_or_else(Filter::none)
    }

    pub(crate) fn into_condition(self) -> Condition {
        self.condition
    }
}

impl Not for Filter {
    type Output = Filter;

    /// Matches rows that the filter does not match. As in SQL, a comparison with NULL is
    /// neither true nor false, so such rows match neither a filter nor its negation.
    fn not(self) -> Filter {
        Filter {
            condition: self.condition.not(),
        }
    }
}

impl From<Filter> for Condition {
    fn from(filter: Filter) -> Condition {
        filter.condition
    }
}
