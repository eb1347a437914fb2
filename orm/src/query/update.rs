use std::fmt;
use std::marker::PhantomData;

use sea_query::{ExprTrait as _, Query, Value};

use crate::backend::QueryStatement;
use crate::column::Column;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::render;
use crate::query::soft_delete::Visibility;
use crate::value::{Field, ValueOf};

/// An UPDATE of chosen columns over the rows of model `M` that match a filter, built with
/// [`Model::update_many`].
pub struct Update<M> {
    assignments: Vec<(&'static str, Value)>,
    filter: Option<Filter<M>>,
    visibility: Visibility,
    _marker: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Update<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let columns: Vec<&str> = self.assignments.iter().map(|(name, _)| *name).collect();
        f.debug_struct("Update")
            .field("columns", &columns)
            .field("filter", &self.filter)
            .field("visibility", &self.visibility)
            .finish()
    }
}

impl<M: Model> Default for Update<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Update<M> {
    /// Creates an UPDATE that sets nothing yet. When the model has a
    /// `#[covet(soft_delete)]` column it leaves soft-deleted rows alone unless
    /// [`with_deleted`](Self::with_deleted) is called.
    pub fn new() -> Self {
        Self {
            assignments: Vec::new(),
            filter: None,
            visibility: Visibility::Live,
            _marker: PhantomData,
        }
    }

    /// Sets `column` to `value` in every matching row.
    pub fn set<T: Field>(mut self, column: Column<M, T>, value: impl ValueOf<T>) -> Self {
        self.assignments.push((column.name(), value.into_value()));
        self
    }

    /// Updates only rows matching `filter`. Calling it again adds a condition with AND.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Updates soft-deleted rows too. On a model without a `#[covet(soft_delete)]` column
    /// this changes nothing.
    pub fn with_deleted(mut self) -> Self {
        self.visibility = Visibility::All;
        self
    }

    /// Runs the UPDATE and returns the number of rows it matched. On a model with a
    /// `#[covet(version)]` column it also adds 1 to the version of every updated row.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when no column was set, constraint violations, and
    /// connection and pool errors.
    pub async fn exec<E: Executor + ?Sized>(self, db: &E) -> Result<u64> {
        if self.assignments.is_empty() {
            return Err(Error::InvalidInput(format!(
                "the UPDATE of `{}` sets no column; call .set(column, value) first",
                M::TABLE
            )));
        }
        let version = M::VERSION_COLUMN.map(|index| M::COLUMNS[index].name);
        if let Some(version) = version
            && self.assignments.iter().any(|(name, _)| *name == version)
        {
            return Err(Error::InvalidInput(format!(
                "update_many sets `{version}`, the version column of `{}`; covet bumps it on \
                 every update, so leave it out of .set(...)",
                M::TABLE
            )));
        }
        let mut update = Query::update();
        update.table(M::TABLE);
        for (column, value) in self.assignments {
            update.value(column, value);
        }
        // Bumping the version makes a struct read before this update stale, so its later
        // save fails with a conflict instead of writing over this update.
        if let Some(version) = version {
            update.value(version, sea_query::Expr::col(version).add(1));
        }
        if let Some(filter) = self.filter {
            filter.needs().check(db.backend())?;
            update.cond_where(filter.into_condition());
        }
        if let Some(condition) = self.visibility.condition::<M>() {
            update.and_where(condition);
        }
        let statement = render(db, QueryStatement::Update(&update), "UPDATE", M::TABLE);
        Ok(db.execute(statement).await?.rows_affected)
    }
}
