/// How a backend writes "insert, or do something else on a key conflict".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpsertStyle {
    /// `INSERT ... ON CONFLICT (columns) DO ...` (PostgreSQL, SQLite).
    OnConflict,
    /// `INSERT ... ON DUPLICATE KEY UPDATE ...` (MySQL, MariaDB). The conflict target is
    /// any unique key of the table; it cannot be narrowed to chosen columns.
    OnDuplicateKey,
}

/// What a backend supports and its limits.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Whether `INSERT ... RETURNING` is available.
    pub insert_returning: bool,
    /// The maximum number of bind parameters in one statement.
    pub max_bind_parameters: usize,
    /// How upserts are written.
    pub upsert: UpsertStyle,
    /// Whether unsigned 64-bit integers above `i64::MAX` can be stored.
    pub unsigned_64: bool,
}

impl Capabilities {
    /// Creates capabilities from their parts.
    pub fn new(
        insert_returning: bool,
        max_bind_parameters: usize,
        upsert: UpsertStyle,
        unsigned_64: bool,
    ) -> Self {
        Self {
            insert_returning,
            max_bind_parameters,
            upsert,
            unsigned_64,
        }
    }
}
