//! Inserts and key-based updates of model rows.

use std::any::TypeId;
use std::sync::Arc;

use sea_query::{Expr, ExprTrait, InsertStatement, Query, SimpleExpr, Value, Values};

use crate::backend::{QueryStatement, Shape, Statement};
use crate::column::ColumnRef;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::soft_delete::Visibility;
use crate::query::version::VersionCheck;
use crate::query::{Select, key_filter, render};

/// Returns the columns an insert writes: all but generated columns left unset.
pub(crate) fn insert_columns<M: Model>(row: &M) -> Vec<usize> {
    (0..M::COLUMNS.len())
        .filter(|&index| !(M::COLUMNS[index].generated && row.is_unset(index)))
        .collect()
}

/// Checks that every row sets the same columns as the first, so that one column list fits
/// all of them.
pub(crate) fn common_columns<M: Model>(rows: &[M]) -> Result<Vec<usize>> {
    let columns = insert_columns(&rows[0]);
    let generated: Vec<usize> = (0..M::COLUMNS.len())
        .filter(|&index| M::COLUMNS[index].generated)
        .collect();
    let first_unset: Vec<bool> = generated
        .iter()
        .map(|&index| rows[0].is_unset(index))
        .collect();
    let differs = |row: &M| {
        generated
            .iter()
            .zip(&first_unset)
            .any(|(&index, &unset)| row.is_unset(index) != unset)
    };
    if let Some(position) = rows.iter().position(differs) {
        return Err(Error::InvalidInput(format!(
            "row {position} of the batch for `{}` sets a different set of generated columns \
             than row 0; leave generated keys unset (0 or None) in every row, or set them in \
             every row",
            M::TABLE
        )));
    }
    Ok(columns)
}

/// Returns the values of `columns` for each row, in column order.
pub(crate) fn picked_values<M: Model>(rows: &[M], columns: &[usize]) -> Result<Vec<Vec<Value>>> {
    let every_column = columns.len() == M::COLUMNS.len();
    rows.iter()
        .map(|row| {
            let mut values = row.values()?;
            if every_column {
                return Ok(values);
            }
            let picked = columns
                .iter()
                .map(|&index| std::mem::replace(&mut values[index], Value::Bool(None)))
                .collect();
            Ok(picked)
        })
        .collect()
}

/// Builds `INSERT INTO table (columns) VALUES (...), (...)` from rows of picked values.
pub(crate) fn insert_statement<M: Model>(
    rows: impl IntoIterator<Item = Vec<Value>>,
    columns: &[usize],
) -> Result<InsertStatement> {
    let mut insert = Query::insert();
    insert.into_table(M::TABLE);
    // NOTE: `insert_chunk` binds its own values in row-major order in place of the ones
    // given here. That is correct as long as each value renders as one placeholder.
    if columns.is_empty() {
        // A row that sets no column, such as one with only a generated key, is written
        // with the table's defaults: `DEFAULT VALUES`, or `VALUES ()` on MySQL. Callers
        // pass one such row per statement, since SQLite has no multi-row form of it.
        insert.or_default_values();
        return Ok(insert);
    }
    insert.columns(columns.iter().map(|&index| M::COLUMNS[index].name));
    for row in rows {
        let exprs: Vec<SimpleExpr> = row.into_iter().map(Expr::val).collect();
        insert.values(exprs).map_err(|error| {
            Error::InvalidInput(format!(
                "cannot build the INSERT for `{}`: {error}",
                M::TABLE
            ))
        })?;
    }
    Ok(insert)
}

/// Returns the sizes of the batches that `rows` of picked values split into so that each
/// fits one statement: under the backend's bind-parameter limit and, where the backend has
/// one, half its statement size limit.
pub(crate) fn batch_sizes<E: Executor + ?Sized>(
    db: &E,
    rows: &[Vec<Value>],
    columns: usize,
) -> Vec<usize> {
    let capabilities = db.backend().capabilities();
    let max_rows = (capabilities.max_bind_parameters / columns.max(1)).max(1);
    let byte_budget = capabilities.max_statement_bytes.map(|bytes| bytes / 2);
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, row) in rows.iter().enumerate() {
        let row_bytes = if byte_budget.is_some() {
            estimated_bytes(row)
        } else {
            0
        };
        let over_budget =
            byte_budget.is_some_and(|budget| index > start && bytes + row_bytes > budget);
        if index - start == max_rows || over_budget {
            batches.push(index - start);
            start = index;
            bytes = 0;
        }
        bytes += row_bytes;
    }
    if start < rows.len() {
        batches.push(rows.len() - start);
    }
    batches
}

/// Splits owned rows into consecutive batches of the given sizes, without copying values.
pub(crate) fn split_rows(rows: Vec<Vec<Value>>, sizes: &[usize]) -> Vec<Vec<Vec<Value>>> {
    let mut rows = rows.into_iter();
    sizes
        .iter()
        .map(|&size| rows.by_ref().take(size).collect())
        .collect()
}

/// Estimates how many bytes a row's values take in a statement sent to the server.
fn estimated_bytes(row: &[Value]) -> usize {
    row.iter()
        .map(|value| match value {
            Value::String(Some(text)) => text.len() + 16,
            Value::Bytes(Some(bytes)) => bytes.len() + 16,
            Value::Json(Some(json)) => json.to_string().len() + 16,
            _ => 24,
        })
        .sum()
}

pub(crate) async fn insert_one<M: Model, E: Executor + ?Sized>(db: &E, row: &M) -> Result<M> {
    let columns = insert_columns(row);
    let row_values = picked_values(std::slice::from_ref(row), &columns)?
        .pop()
        .unwrap_or_default();
    let backend = db.backend();
    let returning = backend.capabilities().insert_returning;
    let render_insert = || -> Result<(String, Values)> {
        let insert = insert_statement::<M>([row_values.clone()], &columns)?;
        if returning {
            let names: Vec<&'static str> = M::COLUMNS.iter().map(|column| column.name).collect();
            Ok(backend.render(&QueryStatement::InsertReturning(&insert, &names)))
        } else {
            Ok(backend.render(&QueryStatement::Insert(&insert)))
        }
    };
    // The SQL depends only on which columns the row sets, so it is rendered once per set.
    let shape = column_mask(&columns).map(|columns| Shape::Insert { columns });
    let sql = match (backend.statement_cache(), shape) {
        (Some(cache), Some(shape)) => {
            cache.try_sql_or_render(TypeId::of::<M>(), shape, render_insert)?
        }
        _ => Arc::from(render_insert()?.0),
    };
    let statement = Statement::shared(sql, Values(row_values), "INSERT").collection(M::TABLE);
    if returning {
        let mut stored = None;
        db.fetch(statement, &mut |result| {
            stored = Some(M::decode(result, 0)?);
            Ok(())
        })
        .await?;
        return stored.ok_or_else(|| Error::NotFound {
            entity: M::TABLE,
            detail: String::from("INSERT ... RETURNING returned no row"),
        });
    }
    let done = db.execute(statement).await?;
    read_back(db, row, &columns, done.last_insert_id).await
}

/// Returns the set of column positions as a bit mask, or `None` past 64 columns.
fn column_mask(columns: &[usize]) -> Option<u64> {
    columns.iter().try_fold(0u64, |mask, &index| {
        let bit = 1u64.checked_shl(u32::try_from(index).ok()?)?;
        Some(mask | bit)
    })
}

/// Reads an inserted row back by its key, on backends without `INSERT ... RETURNING`.
async fn read_back<M: Model, E: Executor + ?Sized>(
    db: &E,
    row: &M,
    columns: &[usize],
    last_insert_id: Option<i64>,
) -> Result<M> {
    let key_columns: Vec<usize> = (0..M::COLUMNS.len())
        .filter(|&index| M::COLUMNS[index].primary_key)
        .collect();
    let unset_keys: Vec<usize> = key_columns
        .iter()
        .copied()
        .filter(|index| !columns.contains(index))
        .collect();
    let select = match (unset_keys.as_slice(), last_insert_id) {
        // A row inserted with its soft-delete column set is read back too.
        ([], _) => Select::<M>::by_key(&row.primary_key()).with_deleted(),
        ([generated], Some(id)) if key_columns.len() == 1 => {
            let column = M::COLUMNS[*generated].name;
            Select::<M>::new()
                .with_deleted()
                .filter(crate::filter::Filter::from_expr(sea_query::ExprTrait::eq(
                    Expr::col((M::TABLE, column)),
                    id,
                )))
        }
        _ => {
            return Err(Error::Unsupported {
                backend: db.backend().system_name(),
                feature: "reading back a generated key other than a single auto-increment key \
                          (INSERT ... RETURNING is not available)",
            });
        }
    };
    select.one(db).await
}

pub(crate) async fn insert_many<M: Model, E: Executor + ?Sized>(db: &E, rows: &[M]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let columns = common_columns(rows)?;
    let values = picked_values(rows, &columns)?;
    let sizes = if columns.is_empty() {
        vec![1; rows.len()]
    } else {
        batch_sizes(db, &values, columns.len())
    };
    let mut batches = split_rows(values, &sizes);
    if batches.len() == 1 {
        let only = batches.pop().unwrap_or_default();
        return insert_chunk::<M, E>(db, only, &columns).await;
    }
    // Several statements: run them in one transaction so a failure leaves no partial batch.
    let tx = db.begin().await?;
    let mut inserted = 0;
    for chunk in batches {
        inserted += insert_chunk::<M, _>(&tx, chunk, &columns).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

async fn insert_chunk<M: Model, E: Executor + ?Sized>(
    db: &E,
    rows: Vec<Vec<Value>>,
    columns: &[usize],
) -> Result<u64> {
    // The SQL is rendered from placeholder values, and the rows' own values are bound
    // as they are: building the statement from them would copy every value twice. It is
    // rendered once per column set and batch size.
    let backend = db.backend();
    let count = rows.len();
    let render_insert = || -> Result<(String, Values)> {
        let placeholders = vec![vec![Value::Bool(None); columns.len()]; count];
        let insert = insert_statement::<M>(placeholders, columns)?;
        Ok(backend.render(&QueryStatement::Insert(&insert)))
    };
    let shape = column_mask(columns).map(|columns| Shape::InsertRows {
        columns,
        rows: count,
    });
    let sql = match (backend.statement_cache(), shape) {
        (Some(cache), Some(shape)) => {
            cache.try_sql_or_render(TypeId::of::<M>(), shape, render_insert)?
        }
        _ => Arc::from(render_insert()?.0),
    };
    let values = Values(rows.into_iter().flatten().collect());
    let statement = Statement::shared(sql, values, "INSERT").collection(M::TABLE);
    Ok(db.execute(statement).await?.rows_affected)
}

/// Writes `row` over the stored row with its key, and returns the version written when the
/// model has a version column. A soft-deleted row counts as missing, and the soft-delete
/// column is never written, so a struct read before a delete cannot undo it.
pub(crate) async fn update_one<M: Model, E: Executor + ?Sized>(
    db: &E,
    row: &M,
    chosen: Option<&[ColumnRef<M>]>,
) -> Result<Option<i64>> {
    let version = VersionCheck::of(row);
    let columns: Vec<usize> = match chosen {
        Some(chosen) => checked_update_columns::<M>(chosen)?,
        None => (0..M::COLUMNS.len())
            .filter(|&index| !M::COLUMNS[index].primary_key && !is_managed::<M>(index))
            .collect(),
    };
    if columns.is_empty() {
        return Err(Error::InvalidInput(format!(
            "`{}` has no column besides its primary key, so there is nothing to update",
            M::TABLE
        )));
    }
    let mut values = row.values()?;
    let mut update = Query::update();
    update.table(M::TABLE);
    for index in columns {
        let value = std::mem::replace(&mut values[index], Value::Bool(None));
        update.value(M::COLUMNS[index].name, value);
    }
    let key = row.primary_key();
    let mut filter = key_filter::<M>(&key);
    let mut next = None;
    if let Some(version) = &version {
        next = Some(version.next::<M>(&key)?);
        let column = version.column::<M>();
        update.value(column, Expr::col(column).add(1));
        filter = filter.and(version.filter());
    }
    update.cond_where(filter.into_condition());
    if let Some(condition) = Visibility::Live.condition::<M>() {
        update.and_where(condition);
    }
    let statement = render(db, QueryStatement::Update(&update), "UPDATE", M::TABLE);
    if db.execute(statement).await?.rows_affected > 0 {
        return Ok(next);
    }
    match version {
        Some(version) => Err(version
            .stale_or_missing::<M, E>(db, &key, Visibility::Live)
            .await?),
        None => Err(Error::NotFound {
            entity: M::TABLE,
            detail: format!("primary key = {key:?}"),
        }),
    }
}

fn checked_update_columns<M: Model>(chosen: &[ColumnRef<M>]) -> Result<Vec<usize>> {
    if chosen.is_empty() {
        return Err(Error::InvalidInput(format!(
            "update_columns on `{}` got an empty column list; name at least one column",
            M::TABLE
        )));
    }
    let mut columns = Vec::with_capacity(chosen.len());
    for column in chosen {
        if M::COLUMNS[column.index()].primary_key {
            return Err(Error::InvalidInput(format!(
                "`{}` is part of the primary key of `{}` and cannot be updated by key; \
                 delete and insert the row instead",
                column.name(),
                M::TABLE
            )));
        }
        if Some(column.index()) == M::VERSION_COLUMN {
            return Err(Error::InvalidInput(format!(
                "`{}` is the version column of `{}`, which every update bumps by one; leave it \
                 out of the column list",
                column.name(),
                M::TABLE
            )));
        }
        if Some(column.index()) == M::SOFT_DELETE_COLUMN {
            return Err(Error::InvalidInput(format!(
                "`{}` is the soft-delete column of `{}`; set it with delete and clear it with \
                 restore, and leave it out of the column list",
                column.name(),
                M::TABLE
            )));
        }
        if !columns.contains(&column.index()) {
            columns.push(column.index());
        }
    }
    Ok(columns)
}

/// Returns whether the column at `index` is written only by covet itself: the version and
/// soft-delete columns.
fn is_managed<M: Model>(index: usize) -> bool {
    Some(index) == M::VERSION_COLUMN || Some(index) == M::SOFT_DELETE_COLUMN
}
