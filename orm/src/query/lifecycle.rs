//! Single-row writes that run a model's hooks and check its version column.

use crate::column::ColumnRef;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::Delete;
use crate::query::soft_delete::Visibility;
use crate::query::version::VersionCheck;
use crate::query::write;
use crate::transaction::Transaction;

/// Returns the copy of `row` that before-hooks change.
fn hook_copy<M: Model>(row: &M) -> Result<M> {
    row.clone_for_hooks().ok_or_else(|| {
        Error::InvalidInput(format!(
            "`{}` sets Model::HOOKS but clone_for_hooks returns None; implement Model with \
             #[derive(Model)] and #[covet(hooks)]",
            M::TABLE
        ))
    })
}

/// Commits `tx` when `result` is `Ok`, and rolls it back otherwise.
async fn finish<T>(tx: Transaction, result: Result<T>) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback_error) = tx.rollback().await {
                tracing::warn!(
                    target: "covet::query",
                    error = %rollback_error,
                    "rollback after a failed hook or write also failed"
                );
            }
            Err(error)
        }
    }
}

/// Inserts a copy of `row` between its insert hooks, in one transaction.
pub(crate) async fn insert_hooked<M: Model, E: Executor + ?Sized>(db: &E, row: &M) -> Result<M> {
    let mut copy = hook_copy(row)?;
    let tx = db.begin().await?;
    let result = async {
        copy.before_insert(&tx).await?;
        let stored = write::insert_one(&tx, &copy).await?;
        stored.after_insert(&tx).await?;
        Ok(stored)
    }
    .await;
    finish(tx, result).await
}

/// Updates `row` and returns the row as written: with the changes of `before_update`, when
/// the model has hooks, and with the bumped version, when it has a version column.
pub(crate) async fn update_hooked<M: Model, E: Executor + ?Sized>(
    db: &E,
    row: &M,
    columns: Option<&[ColumnRef<M>]>,
) -> Result<M> {
    let mut copy = hook_copy(row)?;
    let tx = db.begin().await?;
    let result = async {
        copy.before_update(&tx).await?;
        // The UPDATE finds the row by its key, so a hook that changed the key would write
        // over another row.
        let (before, after) = (row.primary_key(), copy.primary_key());
        if M::key_values(&before) != M::key_values(&after) {
            return Err(Error::InvalidInput(format!(
                "before_update changed the primary key of a `{}` row from {before:?} to \
                 {after:?}; a hook may change other fields only",
                M::TABLE
            )));
        }
        // The version and the soft-delete column are covet's to write: a changed version
        // would read as a conflict, and a changed deleted-at would not be written.
        if row.version() != copy.version() {
            return Err(Error::InvalidInput(format!(
                "before_update changed the version of the `{}` row with key {before:?}; \
                 covet sets the version, so leave it to the update",
                M::TABLE
            )));
        }
        if let Some(index) = M::SOFT_DELETE_COLUMN
            && row.values()?[index] != copy.values()?[index]
        {
            return Err(Error::InvalidInput(format!(
                "before_update changed `{}` of the `{}` row with key {before:?}; an update \
                 does not write the soft-delete column, so call delete or restore instead",
                M::COLUMNS[index].name,
                M::TABLE
            )));
        }
        if let Some(version) = write::update_one(&tx, &copy, columns).await? {
            copy.set_version(version)?;
        }
        copy.after_update(&tx).await?;
        Ok(())
    }
    .await;
    finish(tx, result).await?;
    Ok(copy)
}

/// Updates `row` in place: runs the hooks on a copy and stores it back when everything
/// succeeded, or sets the bumped version on a model without hooks.
pub(crate) async fn save<M: Model, E: Executor + ?Sized>(db: &E, row: &mut M) -> Result<()> {
    if M::HOOKS {
        *row = update_hooked(db, row, None).await?;
        return Ok(());
    }
    if let Some(version) = write::update_one(db, row, None).await? {
        row.set_version(version)?;
    }
    Ok(())
}

/// Deletes `row` by key, soft unless `force`, checking its version when the model has one.
pub(crate) async fn delete_one<M: Model, E: Executor + ?Sized>(
    db: &E,
    row: &M,
    force: bool,
) -> Result<bool> {
    if !M::HOOKS {
        return delete_checked(db, row, force).await;
    }
    let tx = db.begin().await?;
    let result = async {
        row.before_delete(&tx).await?;
        let deleted = delete_checked(&tx, row, force).await?;
        if deleted {
            row.after_delete(&tx).await?;
        }
        Ok(deleted)
    }
    .await;
    finish(tx, result).await
}

/// Runs the DELETE (or soft delete) of `row`. With a version column, a row that is still
/// there under another version is a conflict, not a miss.
async fn delete_checked<M: Model, E: Executor + ?Sized>(
    db: &E,
    row: &M,
    force: bool,
) -> Result<bool> {
    let key = row.primary_key();
    let version = VersionCheck::of(row);
    let mut delete = Delete::<M>::by_key(&key);
    if let Some(version) = &version {
        delete = delete.filter(version.filter());
    }
    if force {
        delete = delete.force();
    }
    if delete.exec(db).await? > 0 {
        return Ok(true);
    }
    let Some(version) = version else {
        return Ok(false);
    };
    // A soft delete skips rows that are already deleted, so only a live row with another
    // version is a conflict for it.
    let visibility = if force {
        Visibility::All
    } else {
        Visibility::Live
    };
    match version
        .stale_or_missing::<M, E>(db, &key, visibility)
        .await?
    {
        conflict @ Error::Conflict { .. } => Err(conflict),
        _ => Ok(false),
    }
}
