//! SQL rendered once per model and statement shape, for the statements every CRUD call
//! sends: find by key, for now.

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use sea_query::Values;

/// The fixed statement shapes whose SQL is cached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Shape {
    /// `SELECT <columns> FROM <table> WHERE <key columns> = ... LIMIT 1`, with the model's
    /// soft-delete condition when it has one.
    FindByKey,
}

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
        {
            let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((sql, values)) = entries.get(&key) {
                return (Arc::clone(sql), values.clone());
            }
        }
        let (sql, values) = render();
        let sql: Arc<str> = Arc::from(sql);
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries.insert(key, (Arc::clone(&sql), values.clone()));
        (sql, values)
    }
}
