use std::fmt;

use sea_query::{Expr, ExprTrait as _, OnConflict};

use crate::backend::{QueryStatement, Statement, UpsertStyle};
use crate::column::ColumnRef;
use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::model::Model;
use crate::query::render;
use crate::query::write::{
    batch_sizes, common_columns, insert_statement, picked_values, split_rows,
};

/// The MySQL session variable that counts conflicting rows of a DO NOTHING upsert.
const CONFLICT_COUNTER: &str = "@covet_upsert_conflicts";

/// The action an upsert takes on a row whose key already exists.
enum Action<M> {
    Nothing,
    /// The columns to update, or `None` for every column that is not part of the target,
    /// the primary key or a generated column.
    Update(Option<Vec<ColumnRef<M>>>),
}

/// An insert that resolves key conflicts, built with [`Model::upsert`].
///
/// Choose the conflict target with [`on_columns`](Self::on_columns) (the primary key by
/// default), then the action with [`do_nothing`](Self::do_nothing) or
/// [`do_update`](Self::do_update). A conflict is a normal outcome, counted in
/// [`UpsertResult`], never an error.
///
/// On MySQL and MariaDB, `ON DUPLICATE KEY UPDATE` reacts to a conflict on any unique key of
/// the table, whatever the target.
pub struct Upsert<'a, M> {
    rows: &'a [M],
    target: Vec<ColumnRef<M>>,
    action: Action<M>,
}

impl<M> fmt::Debug for Upsert<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upsert")
            .field("rows", &self.rows.len())
            .field("target", &self.target)
            .field("do_nothing", &matches!(self.action, Action::Nothing))
            .finish()
    }
}

/// The outcome of an upsert.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpsertResult {
    /// Rows passed to the upsert.
    pub rows: u64,
    /// Rows inserted. Known for DO NOTHING; `None` for DO UPDATE, whose row counts do not
    /// tell inserts from updates on every backend.
    pub inserted: Option<u64>,
    /// Rows skipped because their key existed. Known for DO NOTHING; `None` for DO UPDATE.
    pub conflicted: Option<u64>,
}

impl<'a, M: Model> Upsert<'a, M> {
    pub(crate) fn new(rows: &'a [M]) -> Self {
        Self {
            rows,
            target: Vec::new(),
            action: Action::Nothing,
        }
    }

    /// Sets the columns whose conflict triggers the action, such as a unique `email`. They
    /// need a unique constraint or index of their own.
    pub fn on_columns(mut self, columns: impl IntoIterator<Item = ColumnRef<M>>) -> Self {
        self.target = columns.into_iter().collect();
        self
    }

    /// Skips conflicting rows.
    pub fn do_nothing(mut self) -> Self {
        self.action = Action::Nothing;
        self
    }

    /// Updates the chosen columns of the existing row with the new row's values. An empty
    /// list is rejected by [`exec`](Self::exec).
    pub fn do_update(mut self, columns: impl IntoIterator<Item = ColumnRef<M>>) -> Self {
        self.action = Action::Update(Some(columns.into_iter().collect()));
        self
    }

    /// Updates every column outside the conflict target, the primary key and generated
    /// columns, so the existing row keeps its identity.
    pub fn do_update_all(mut self) -> Self {
        self.action = Action::Update(None);
        self
    }

    /// Runs the upsert, in one transaction (a savepoint inside a transaction) when it needs
    /// more than one statement.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an update that names no column, violations of other
    /// constraints, and connection and pool errors.
    pub async fn exec<E: Executor + ?Sized>(self, db: &E) -> Result<UpsertResult> {
        let rows = self.rows.len() as u64;
        if self.rows.is_empty() {
            return Ok(UpsertResult {
                rows,
                inserted: Some(0),
                conflicted: Some(0),
            });
        }
        let columns = common_columns(self.rows)?;
        let on_conflict = self.on_conflict(db)?;
        let values = picked_values(self.rows, &columns)?;
        let sizes = batch_sizes(db, &values, columns.len());
        let batches = split_rows(values, &sizes);
        let counts_conflicts = self.counts_conflicts(db);

        let tx = db.begin().await?;
        if counts_conflicts {
            let reset = format!("SET {CONFLICT_COUNTER} = 0");
            tx.execute(Statement::new(reset, sea_query::Values(Vec::new()), "SET"))
                .await?;
        }
        let mut affected = 0;
        for chunk in batches {
            let mut insert = insert_statement::<M>(chunk, &columns)?;
            insert.on_conflict(on_conflict.clone());
            let statement = render(&tx, QueryStatement::Insert(&insert), "INSERT", M::TABLE);
            affected += tx.execute(statement).await?.rows_affected;
        }
        let conflicted = match (&self.action, counts_conflicts) {
            (Action::Nothing, true) => Some(read_counter(&tx).await?),
            (Action::Nothing, false) => Some(rows.saturating_sub(affected)),
            (Action::Update(_), _) => None,
        };
        let result = UpsertResult {
            rows,
            inserted: conflicted.map(|conflicted| rows.saturating_sub(conflicted)),
            conflicted,
        };
        tx.commit().await?;
        Ok(result)
    }

    fn counts_conflicts<E: Executor + ?Sized>(&self, db: &E) -> bool {
        matches!(self.action, Action::Nothing)
            && db.backend().capabilities().upsert == UpsertStyle::OnDuplicateKey
    }

    fn target_names(&self) -> Vec<&'static str> {
        if self.target.is_empty() {
            M::COLUMNS
                .iter()
                .filter(|column| column.primary_key)
                .map(|column| column.name)
                .collect()
        } else {
            self.target.iter().map(ColumnRef::name).collect()
        }
    }

    fn on_conflict<E: Executor + ?Sized>(&self, db: &E) -> Result<OnConflict> {
        let target = self.target_names();
        let mut on_conflict = OnConflict::columns(target.clone());
        match &self.action {
            Action::Nothing if self.counts_conflicts(db) => {
                // MySQL has no DO NOTHING, and with CLIENT_FOUND_ROWS (sqlx's default) an
                // unchanged row counts as affected. Assigning a key column to itself while
                // counting in a session variable skips the row and records the conflict.
                let column = target[0];
                let quoted = format!("`{}`", column.replace('`', "``"));
                let counting = format!(
                    "IF(({CONFLICT_COUNTER} := {CONFLICT_COUNTER} + 1) > 0, {quoted}, {quoted})"
                );
                on_conflict.value(column, Expr::cust(counting));
            }
            Action::Nothing => {
                on_conflict.do_nothing();
            }
            Action::Update(chosen) => {
                let version = M::VERSION_COLUMN.map(|index| M::COLUMNS[index].name);
                let columns: Vec<&'static str> = match chosen {
                    None => M::COLUMNS
                        .iter()
                        .filter(|column| !column.primary_key && !column.generated)
                        .map(|column| column.name)
                        .filter(|name| !target.contains(name) && Some(*name) != version)
                        .collect(),
                    Some(chosen) => chosen.iter().map(ColumnRef::name).collect(),
                };
                if let Some(version) = version
                    && columns.contains(&version)
                {
                    return Err(Error::InvalidInput(format!(
                        "the upsert into `{}` updates `{version}`, its version column; covet \
                         bumps it on every update, so leave it out of do_update()",
                        M::TABLE
                    )));
                }
                if columns.is_empty() {
                    return Err(Error::InvalidInput(format!(
                        "the upsert into `{}` has no column to update: do_update() got an \
                         empty list, or every column is part of the key or conflict target; \
                         name the columns, or use do_nothing()",
                        M::TABLE
                    )));
                }
                on_conflict.update_columns(columns);
                // An updated row gets a new version, so a struct read before the upsert is
                // stale and its save conflicts instead of writing over the upsert.
                if let Some(version) = version {
                    on_conflict.value(version, Expr::col((M::TABLE, version)).add(1));
                }
            }
        }
        Ok(on_conflict)
    }
}

async fn read_counter<E: Executor + ?Sized>(db: &E) -> Result<u64> {
    let statement = Statement::new(
        format!("SELECT CAST({CONFLICT_COUNTER} AS SIGNED)"),
        sea_query::Values(Vec::new()),
        "SELECT",
    );
    let mut conflicted = 0i64;
    db.fetch(statement, &mut |row| {
        conflicted = row.read_i64(0)?.unwrap_or(0);
        Ok(())
    })
    .await?;
    Ok(conflicted.unsigned_abs())
}
