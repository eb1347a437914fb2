use std::fmt;
use std::marker::PhantomData;

use sea_query::Query;

use crate::backend::QueryStatement;
use crate::error::Result;
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::{key_filter, render};

/// A DELETE over the table of model `M`, built with [`Model::delete_many`].
pub struct Delete<M> {
    filter: Option<Filter<M>>,
    _marker: PhantomData<fn() -> M>,
}

impl<M> fmt::Debug for Delete<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Delete")
            .field("filter", &self.filter)
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

    /// Runs the DELETE and returns the number of rows deleted.
    ///
    /// # Errors
    ///
    /// Foreign key violations, and connection and pool errors.
    pub async fn exec<E: Executor + ?Sized>(self, db: &E) -> Result<u64> {
        let mut delete = Query::delete();
        delete.from_table(M::TABLE);
        if let Some(filter) = self.filter {
            filter.needs().check(db.backend())?;
            delete.cond_where(filter.into_condition());
        }
        let statement = render(db, QueryStatement::Delete(&delete), "DELETE", M::TABLE);
        Ok(db.execute(statement).await?.rows_affected)
    }
}
