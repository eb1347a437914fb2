//! Filters: the WHERE conditions of queries, updates and deletes.

use std::ops::Not;

use sea_query::{Condition, Expr};

use crate::backend::Backend;
use crate::error::{Error, Result};

/// A condition on rows, built from [`Column`](crate::Column) methods and combined with
/// [`and`](Self::and), [`or`](Self::or) and [`not`](Self::not) (or `!filter`).
///
/// Every value in a filter is a bind parameter.
#[derive(Clone, Debug)]
pub struct Filter {
    condition: Condition,
    needs: Needs,
}

/// Backend capabilities a filter relies on, checked before it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    /// The filter compares decimal columns by value.
    pub(crate) decimal_comparison: bool,
    /// The filter has a LIKE pattern with a NUL character.
    pub(crate) nul_in_like: bool,
}

impl Needs {
    fn union(self, other: Needs) -> Needs {
        Needs {
            decimal_comparison: self.decimal_comparison || other.decimal_comparison,
            nul_in_like: self.nul_in_like || other.nul_in_like,
        }
    }

    /// Returns an error naming the first capability `backend` lacks.
    pub(crate) fn check(self, backend: &dyn Backend) -> Result<()> {
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

impl Filter {
    pub(crate) fn from_expr(expr: Expr) -> Self {
        Self::with_needs(expr, Needs::default())
    }

    pub(crate) fn with_needs(expr: Expr, needs: Needs) -> Self {
        Self {
            condition: Condition::all().add(expr),
            needs,
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
    pub fn and(self, other: Filter) -> Self {
        Self {
            condition: Condition::all().add(self.condition).add(other.condition),
            needs: self.needs.union(other.needs),
        }
    }

    /// Matches rows that match either filter.
    pub fn or(self, other: Filter) -> Self {
        Self {
            condition: Condition::any().add(self.condition).add(other.condition),
            needs: self.needs.union(other.needs),
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
            needs: self.needs,
        }
    }
}

impl From<Filter> for Condition {
    fn from(filter: Filter) -> Condition {
        filter.condition
    }
}
