//! Versioned schema migrations for covet, from code or from the `covet-migrate` CLI.
//!
//! Migrations are SQL files named `VERSION_NAME.up.sql` with an optional
//! `VERSION_NAME.down.sql`, or Rust code implementing [`RustMigration`]. A [`Migrator`]
//! applies them in version order and records each in a history table.
//!
//! - Each migration and its history row commit in one transaction, so a crash leaves both
//!   or neither. A file whose first line is `-- covet:no-transaction` runs statement by
//!   statement instead. So does every SQL file on MySQL and MariaDB, because their DDL
//!   commits implicitly. The history then records how many statements committed, and
//!   [`Migrator::resume`] continues after a failure.
//! - Runners take a lock first (an advisory lock on PostgreSQL, `GET_LOCK` on MySQL,
//!   `BEGIN IMMEDIATE` per migration on SQLite) on a connection of their own, so two
//!   application instances starting together apply each migration once.
//! - Checksums ignore a UTF-8 BOM and line endings, so a checkout on Windows and on Linux
//!   agree, and [`Migrator::verify`] reports real edits.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use covet::Database;
//! use covet_migrate::{MigrationSet, Migrator};
//!
//! let db = Database::connect("sqlite:app.db").await?;
//! let migrations = MigrationSet::from_dir("migrations")?;
//! let report = Migrator::new(migrations).up(&db, None).await?;
//! println!("applied {} migrations", report.applied.len());
//! # Ok(()) }
//! ```

mod apply;
mod checksum;
pub mod cli;

mod error;
mod history;
mod lexer;
mod lock;
mod migration;
mod report;
mod runner;
mod source;

pub use covet_derive::embed_migrations;

pub use crate::error::{MigrateError, Result};
pub use crate::history::{HistoryRow, RowState};
pub use crate::migration::{Migration, NO_TRANSACTION, RustMigration};
pub use crate::report::{Done, Drift, EntryState, Plan, PlanStep, Report, Status, StatusEntry};
pub use crate::runner::{DEFAULT_HISTORY_TABLE, DownTarget, Migrator, MigratorOptions};
pub use crate::source::{EmbeddedFile, MigrationSet};
