use std::fmt;
use std::marker::PhantomData;

use sea_query::Query;

use crate::backend::QueryStatement;
use crate::error::Result;
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::soft_delete::{Visibility, now_value};
use crate::query::{key_filter, render};

/// A DELETE over the table of model `M`, built with [`Model::delete_many`].
///
/// On a model with a `#[covet(soft_delete)]` column it is a soft delete: an UPDATE that sets
/// that column to the current time in the matching rows that are not deleted yet. Call
/// [`force`](Self::force) to remove rows, soft-deleted or not, for real.
pub struct Delete<M> {
    filter: Option<Filter<M>>,
    force: bool,
    _marker: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Delete<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delete")
            .field("filter", &self.filter)
            .field("force", &self.force)
            .finish()
    }
}

impl<M: Model> Default for Delete<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: Model> Delete<M> {
    /// Creates a DELETE of every row; narrow it with [`filter`](Self::filter).
    pub fn new() -> Self {
        Self {
            filter: None,
            force: false,
            _marker: PhantomData,
        }
    }

    pub(crate) fn by_key(key: &M::PrimaryKey) -> Self {
        Self::new().filter(key_filter::<M>(key))
    }

    /// Deletes only rows matching `filter`. Calling it again adds a condition with AND.
    pub fn filter(mut self, filter: Filter<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(existing) => existing.and(filter),
            None => filter,
        });
        self
    }

    /// Removes the matching rows even on a model with a soft-delete column, including rows
    /// that are already soft-deleted.
    pub fn force(mut self) -> Self {
        self.force = true;
        self
    }

    /// Runs the DELETE and returns the number of rows deleted (or soft-deleted).
    ///
    /// # Errors
    ///
    /// Foreign key violations, and connection and pool errors.
    pub async fn exec<E: Executor + ?Sized>(self, db: &E) -> Result<u64> {
        if let Some(index) = M::SOFT_DELETE_COLUMN
            && !self.force
        {
            return self.soft_delete(db, index).await;
        }
        let mut delete = Query::delete();
        delete.from_table(M::TABLE);
        if let Some(filter) = self.filter {
            filter.needs().check(db.backend())?;
            delete.cond_where(filter.into_condition());
        }
        let statement = render(db, QueryStatement::Delete(&delete), "DELETE", M::TABLE);
        Ok(db.execute(statement).await?.rows_affected)
    }

    /// Sets the soft-delete column at `index` to the current time in matching live rows.
    async fn soft_delete<E: Executor + ?Sized>(self, db: &E, index: usize) -> Result<u64> {
        let column = &M::COLUMNS[index];
        let mut update = Query::update();
        update
            .table(M::TABLE)
            .value(column.name, now_value(column.sql_type));
        if let Some(filter) = self.filter {
            filter.needs().check(db.backend())?;
            update.cond_where(filter.into_condition());
        }
        if let Some(condition) = Visibility::Live.condition::<M>() {
            update.and_where(condition);
        }
        let statement = render(db, QueryStatement::Update(&update), "UPDATE", M::TABLE);
        Ok(db.execute(statement).await?.rows_affected)
    }
}
