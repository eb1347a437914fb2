//! The error type of the migration runner.

use std::path::PathBuf;
use std::time::Duration;

/// The result type of migration operations.
pub type Result<T, E = MigrateError> = std::result::Result<T, E>;

/// An error from loading or running migrations. Each message names the next step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A database operation failed.
    #[error(transparent)]
    Database(#[from] covet::Error),
    /// A migration file or directory could not be read.
    #[error("failed to read `{path}`")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The migration files are not usable as they are.
    #[error("invalid migration source: {0}")]
    InvalidSource(String),
    /// A migration's SQL failed to parse into statements.
    #[error("migration {version} ({name}) cannot be split into statements: {message}")]
    Parse {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The unterminated construct and its line.
        message: String,
    },
    /// A transactional migration contains a statement that cannot run in a transaction.
    #[error(
        "migration {version} ({name}) contains `{statement}`, which cannot run inside a \
         transaction; add `-- covet:no-transaction` as the first line of the file to run it \
         statement by statement outside a transaction"
    )]
    NeedsNoTransaction {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The kind of statement, such as `CREATE INDEX CONCURRENTLY`.
        statement: &'static str,
    },
    /// A transactional migration contains a statement that would end its transaction.
    #[error(
        "migration {version} ({name}) contains `{statement}`, which would end the transaction \
         the runner wraps around it, so a failure could leave half of it applied; remove it, \
         or add `-- covet:no-transaction` as the first line to run the file statement by \
         statement"
    )]
    TransactionControl {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The statement, such as `COMMIT`.
        statement: &'static str,
    },
    /// A migration file has no statement.
    #[error("migration {version} ({name}) has no SQL statement; write its SQL, or delete the file")]
    Empty {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
    },
    /// A migration failed; nothing of it was committed.
    #[error("migration {version} ({name}) failed and was rolled back")]
    Failed {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The database error.
        #[source]
        source: Box<covet::Error>,
    },
    /// Reverting a migration statement by statement failed partway.
    #[error(
        "reverting migration {version} ({name}) failed at statement {failed_statement} of \
         {statements} of its down file: {error}. The statements before it were committed. \
         Finish the revert by hand and delete its history row, or restore what was dropped \
         and run `covet-migrate resolve {version}` to mark it applied again"
    )]
    RevertFailed {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The 1-based number of the failed statement.
        failed_statement: i64,
        /// How many statements the down file has.
        statements: i64,
        /// The database error.
        error: String,
    },
    /// A migration failed partway, or a run was interrupted, and the database needs a
    /// decision before anything else runs.
    #[error(
        "migration {version} ({name}) failed at statement {failed_statement} of {statements}: \
         {error}. {}. Fix the file, then run `covet-migrate resume {version}` to continue from \
         statement {failed_statement}, or finish it by hand and run \
         `covet-migrate resolve {version}`",
        committed_statements(*committed)
    )]
    Dirty {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The 1-based number of the failed statement.
        failed_statement: i64,
        /// How many statements the migration has.
        statements: i64,
        /// How many statements were committed.
        committed: i64,
        /// The recorded database error.
        error: String,
    },
    /// Applied migrations were edited after they ran.
    #[error(
        "applied migrations were changed after they ran: {versions:?}; run `covet-migrate \
         verify` to list them, then restore the files or record the edit with `covet-migrate \
         accept VERSION --reason TEXT`"
    )]
    Drift {
        /// The versions whose files changed.
        versions: Vec<i64>,
    },
    /// A pending migration is older than the newest applied one, in strict mode.
    #[error(
        "migration {pending} is pending but {newest_applied} is already applied; strict \
         ordering rejects it. Give the new migration a later version, or turn strict \
         ordering off to apply it out of order"
    )]
    OutOfOrder {
        /// The pending version.
        pending: i64,
        /// The newest applied version.
        newest_applied: i64,
    },
    /// The migration lock stayed taken past the lock timeout.
    #[error(
        "timed out after {waited:?} waiting for the migration lock, held by {holder}; wait \
         for that run to finish or raise the lock timeout"
    )]
    LockTimeout {
        /// How long the runner waited.
        waited: Duration,
        /// The session holding the lock, as far as the database reports it.
        holder: String,
    },
    /// A revert needs a down migration that does not exist.
    #[error(
        "migration {version} ({name}) has no down migration, so it cannot be reverted; {}",
        if *rust {
            String::from("implement has_down and down in its RustMigration")
        } else {
            format!("add `{version}_{name}.down.sql`")
        }
    )]
    NoDown {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// Whether it is a Rust migration.
        rust: bool,
    },
    /// A command named a version that it cannot act on.
    #[error("{0}")]
    InvalidRequest(String),
    /// A Rust migration panicked. The lock was released and its transaction rolled back.
    #[error("migration {version} ({name}) panicked: {message}")]
    Panicked {
        /// The migration version.
        version: i64,
        /// The migration name.
        name: String,
        /// The panic message.
        message: String,
    },
}

fn committed_statements(committed: i64) -> String {
    match committed {
        0 => String::from("No statement was committed"),
        1 => String::from("Statement 1 was committed"),
        n => format!("Statements 1 to {n} were committed"),
    }
}
