//! Soft deletes: a `#[covet(soft_delete)]` column that marks a row deleted instead of
//! removing it.

use chrono::Utc;
use sea_query::{Expr, ExprTrait, Query, SimpleExpr, Value};

use crate::backend::QueryStatement;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::{key_filter, render};
use crate::value::{SqlType, null_value};

/// The rows a statement over a soft-delete model reads or changes. Models without a
/// soft-delete column have no deleted rows, so `DeletedOnly` matches nothing there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Visibility {
    /// Rows whose soft-delete column is NULL.
    #[default]
    Live,
    /// Every row.
    All,
    /// Rows whose soft-delete column is set.
    DeletedOnly,
}

impl Visibility {
    /// Returns the condition that keeps the visible rows of `M`, or `None` for every row.
    pub(crate) fn condition<M: Model>(self) -> Option<SimpleExpr> {
        let Some(column) = soft_delete_column::<M>() else {
            return match self {
                Visibility::DeletedOnly => Some(Expr::cust("1 = 0")),
                Visibility::Live | Visibility::All => None,
            };
        };
        match self {
            Visibility::Live => Some(column.is_null()),
            Visibility::All => None,
            Visibility::DeletedOnly => Some(column.is_not_null()),
        }
    }
}

/// Returns the qualified soft-delete column of `M`, if it has one.
fn soft_delete_column<M: Model>() -> Option<Expr> {
    let index = M::SOFT_DELETE_COLUMN?;
    Some(Expr::col((M::TABLE, M::COLUMNS[index].name)))
}

/// Returns the current time as a value of the soft-delete column's type.
pub(crate) fn now_value(sql_type: SqlType) -> Value {
    match sql_type {
        SqlType::Timestamp => Value::ChronoDateTime(Some(Utc::now().naive_utc())),
        _ => Value::ChronoDateTimeUtc(Some(Utc::now())),
    }
}

/// Clears the soft-delete column of the row with `key`, returning whether a deleted row was
/// restored.
pub(crate) async fn restore_by_key<M: Model, E: Executor + ?Sized>(
    db: &E,
    key: &M::PrimaryKey,
) -> Result<bool> {
    let Some(index) = M::SOFT_DELETE_COLUMN else {
        return Err(Error::InvalidInput(format!(
            "`{}` has no soft-delete column, so it has no deleted rows to restore; mark an \
             `Option<DateTime<Utc>>` field #[covet(soft_delete)]",
            M::TABLE
        )));
    };
    let column = &M::COLUMNS[index];
    let mut update = Query::update();
    update
        .table(M::TABLE)
        .value(column.name, null_value(column.sql_type))
        .cond_where(key_filter::<M>(key).into_condition())
        .and_where(Expr::col((M::TABLE, column.name)).is_not_null());
    let statement = render(db, QueryStatement::Update(&update), "UPDATE", M::TABLE);
    Ok(db.execute(statement).await?.rows_affected > 0)
}
