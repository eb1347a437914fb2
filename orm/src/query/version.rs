//! Optimistic locking: a `#[covet(version)]` column that each update checks and bumps.

use sea_query::{Expr, ExprTrait};

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;
use crate::query::Select;
use crate::query::soft_delete::Visibility;
use crate::value::SqlType;

/// The version a write of one row expects to find.
#[derive(Clone, Copy, Debug)]
pub(crate) struct VersionCheck {
    /// The index of the version column in `M::COLUMNS`.
    pub(crate) index: usize,
    /// The version the row had when it was read.
    pub(crate) expected: i64,
}

impl VersionCheck {
    /// Returns the check for `row`, or `None` for a model without a version column.
    pub(crate) fn of<M: Model>(row: &M) -> Option<Self> {
        Some(Self {
            index: M::VERSION_COLUMN?,
            expected: row.version()?,
        })
    }

    /// Returns the version an update writes, `expected + 1`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when that does not fit the column's type, so that the row is
    /// not written at all.
    pub(crate) fn next<M: Model>(&self, key: &M::PrimaryKey) -> Result<i64> {
        let limit = match M::COLUMNS[self.index].sql_type {
            SqlType::Int => i64::from(i32::MAX),
            _ => i64::MAX,
        };
        if self.expected >= limit {
            return Err(Error::InvalidInput(format!(
                "version {} of the `{}` row with primary key {key:?} is the largest value its \
                 `{}` column holds, so it cannot be bumped; widen the field to i64",
                self.expected,
                M::TABLE,
                self.column::<M>()
            )));
        }
        Ok(self.expected + 1)
    }

    /// Returns the column name.
    pub(crate) fn column<M: Model>(&self) -> &'static str {
        M::COLUMNS[self.index].name
    }

    /// Returns the filter matching rows that still have the expected version.
    pub(crate) fn filter<M: Model>(&self) -> Filter<M> {
        Filter::from_expr(Expr::col((M::TABLE, self.column::<M>())).eq(self.expected))
    }

    /// Builds the error for a versioned write that matched no row: a conflict when a row with
    /// the key is still visible, not found otherwise.
    pub(crate) async fn stale_or_missing<M: Model, E: Executor + ?Sized>(
        &self,
        db: &E,
        key: &M::PrimaryKey,
        visibility: Visibility,
    ) -> Result<Error> {
        let exists = Select::<M>::by_key(key)
            .visibility(visibility)
            .exists(db)
            .await?;
        let detail = format!(
            "primary key = {key:?} and {} = {}",
            self.column::<M>(),
            self.expected
        );
        Ok(if exists {
            Error::Conflict {
                entity: M::TABLE,
                detail,
            }
        } else {
            Error::NotFound {
                entity: M::TABLE,
                detail: format!("primary key = {key:?}"),
            }
        })
    }
}

/// Converts a version read as i64 to the version field's type. Generated code calls this.
///
/// # Errors
///
/// [`Error::InvalidInput`] when `version` does not fit `T`.
pub fn version_from_i64<T: TryFrom<i64>>(version: i64, table: &'static str) -> Result<T> {
    T::try_from(version).map_err(|_| {
        Error::InvalidInput(format!(
            "version {version} does not fit the version field of `{table}`; widen the field \
             to i64"
        ))
    })
}
