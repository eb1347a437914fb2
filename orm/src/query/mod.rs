//! Query builders: SELECT, UPDATE, DELETE and upserts over a model's table.
//!
//! Each builder produces a sea-query statement that the backend renders in its own
//! dialect. Values are always bind parameters. For `User::query().filter(User::AGE.ge(18))`
//! the backends receive:
//!
//! | backend | SQL |
//! |---|---|
//! | PostgreSQL | `SELECT "users"."id", ... FROM "users" WHERE "users"."age" >= $1` |
//! | MySQL | ``SELECT `users`.`id`, ... FROM `users` WHERE `users`.`age` >= ?`` |
//! | SQLite | `SELECT "users"."id", ... FROM "users" WHERE "users"."age" >= ?` |

mod cursor;
mod delete;
mod join;
mod keyset;
pub(crate) mod lifecycle;
mod page;
mod project;
mod select;
pub(crate) mod soft_delete;
mod stream;
mod update;
mod upsert;
pub(crate) mod version;
pub(crate) mod write;

pub use self::cursor::Cursor;
pub use self::delete::Delete;
pub use self::join::{Inner, Join, JoinKind, LeftOuter};
pub use self::keyset::{Keyset, KeysetPage};
pub use self::page::Page;
pub use self::project::{
    Aggregate, FromRow, Nullable, Numeric, SelectAs, SelectItem, Selection, count_rows,
};
#[doc(hidden)]
pub use self::project::{Cast, Projected};
pub use self::select::Select;
pub use self::update::Update;
pub use self::upsert::{Upsert, UpsertResult};

use sea_query::{Expr, ExprTrait};

use std::any::TypeId;

use crate::backend::{QueryStatement, Shape, Statement};
use crate::executor::Executor;
use crate::filter::Filter;
use crate::model::Model;

/// Returns the filter matching the row with primary key `key`.
pub(crate) fn key_filter<M: Model>(key: &M::PrimaryKey) -> Filter<M> {
    let values = M::key_values(key);
    let key_columns = M::COLUMNS.iter().filter(|column| column.primary_key);
    let filters = key_columns
        .zip(values)
        .map(|(column, value)| Filter::from_expr(Expr::col((M::TABLE, column.name)).eq(value)));
    Filter::all_of(filters)
}

/// Finds the row of `M` with primary key `key`. The SQL is rendered once per model and
/// backend: later calls reuse it with their own key values.
pub(crate) async fn find_by_key<M: Model, E: Executor + ?Sized>(
    db: &E,
    key: &M::PrimaryKey,
) -> crate::Result<Option<M>> {
    let backend = db.backend();
    let render_select = || {
        // No LIMIT: the key matches one row at most, and a bound LIMIT costs SQLite about as
        // much again as the lookup itself.
        let select = Select::<M>::by_key(key).statement();
        backend.render(&QueryStatement::Select(&select))
    };
    let statement = match backend.statement_cache() {
        Some(cache) => {
            let (sql, mut values) =
                cache.get_or_render(TypeId::of::<M>(), Shape::FindByKey, render_select);
            // The statement's values are the key columns' values, in key order.
            for (slot, value) in values.0.iter_mut().zip(M::key_values(key)) {
                *slot = value;
            }
            Statement::shared(sql, values, "SELECT")
        }
        None => {
            let (sql, values) = render_select();
            Statement::new(sql, values, "SELECT")
        }
    };
    let mut found = None;
    db.fetch(statement.collection(M::TABLE), &mut |row| {
        found = Some(M::decode(row, 0)?);
        Ok(())
    })
    .await?;
    Ok(found)
}

/// Renders a statement for the executor's backend.
pub(crate) fn render<E: Executor + ?Sized>(
    db: &E,
    statement: QueryStatement<'_>,
    operation: &'static str,
    table: &'static str,
) -> Statement {
    let (sql, values) = db.backend().render(&statement);
    Statement::new(sql, values, operation).collection(table)
}
