//! SQL rendered once per model and statement shape, for the statements CRUD calls send
//! most: find by key and single-row insert.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use sea_query::Values;

/// The fixed statement shapes whose SQL is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// `SELECT <columns> FROM <table> WHERE <key columns> = ...`, with the model's
    /// soft-delete condition when it has one.
    FindByKey,
    /// `INSERT INTO <table> (<columns>) VALUES (...)`, with `RETURNING` where the backend
    /// has it. `columns` has bit `i` set when the row sets column `i`.
    Insert {
        /// The columns the row sets.
        columns: u64,
    },
    /// A multi-row `INSERT` of `rows` rows that set the columns in `columns`.
    InsertRows {
        /// The columns the rows set.
        columns: u64,
        /// The number of rows.
        rows: usize,
    },
}

/// The maximum number of entries a cache keeps. Multi-row inserts add one entry per batch size, so a
/// program that inserts batches of many sizes stops caching new ones here.
const MAX_ENTRIES: usize = 256;

/// The longest SQL text a cache keeps, in bytes: about 50,000 rows of two columns.
const MAX_SQL_BYTES: usize = 1 << 20;

/// A backend's rendered statements, keyed by model type and shape. Each entry keeps the SQL
/// text and the values of its first rendering, which callers overwrite with their own key
/// values and reuse for the constant ones (such as a bound LIMIT).
#[derive(Default)]
pub struct StatementCache {
    entries: RwLock<HashMap<(TypeId, Shape), Rendered>>,
}

/// The SQL text of a statement and the values of its first rendering.
type Rendered = (Arc<str>, Values);

impl fmt::Debug for StatementCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("StatementCache")
            .field("entries", &entries.len())
            .finish()
    }
}

impl StatementCache {
    /// Returns the SQL and values of `shape` for the model `model`, rendering them with
    /// `render` the first time.
    pub(crate) fn get_or_render(
        &self,
        model: TypeId,
        shape: Shape,
        render: impl FnOnce() -> (String, Values),
    ) -> Rendered {
        let key = (model, shape);
        if let Some(found) = self.read(&key, |(sql, values)| (Arc::clone(sql), values.clone())) {
            return found;
        }
        let (sql, values) = render();
        let sql = self.store(key, sql, values.clone());
        (sql, values)
    }

    /// Returns the SQL of `shape` for the model `model`, rendering it with `render` the
    /// first time. A failed rendering is returned and nothing is cached.
    pub(crate) fn try_sql_or_render<E>(
        &self,
        model: TypeId,
        shape: Shape,
        render: impl FnOnce() -> Result<(String, Values), E>,
    ) -> Result<Arc<str>, E> {
        let key = (model, shape);
        if let Some(sql) = self.read(&key, |(sql, _)| Arc::clone(sql)) {
            return Ok(sql);
        }
        let (sql, _) = render()?;
        Ok(self.store(key, sql, Values(Vec::new())))
    }

    fn read<R>(&self, key: &(TypeId, Shape), read: impl FnOnce(&Rendered) -> R) -> Option<R> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(key).map(read)
    }

    fn store(&self, key: (TypeId, Shape), sql: String, values: Values) -> Arc<str> {
        let sql: Arc<str> = Arc::from(sql);
        if sql.len() > MAX_SQL_BYTES {
            return sql;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        if entries.len() < MAX_ENTRIES {
            entries.insert(key, (Arc::clone(&sql), values));
        }
        sql
    }
}
