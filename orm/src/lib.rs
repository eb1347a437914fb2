//! covet: an embeddable async ORM for PostgreSQL, MySQL/MariaDB and SQLite.
//!
//! Declare models with `#[derive(Model)]`, build queries from typed columns, and run the
//! same code on any of the three backends, picked at run time from a database URL. SQL
//! comes only from [sea-query], every value is a bind parameter, and every connection comes
//! from one [`covet_pool`] pool.
//!
//! ```
//! use covet::{Database, Model};
//!
//! #[derive(Model, Debug, Clone, PartialEq)]
//! #[covet(table = "users")]
//! struct User {
//!     #[covet(primary_key, auto_increment)]
//!     id: i64,
//!     #[covet(unique)]
//!     email: String,
//!     nickname: Option<String>,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> covet::Result<()> {
//! let db = Database::connect("sqlite::memory:").await?;
//! User::create_table(&db).await?;
//!
//! let alice = User { id: 0, email: "alice@example.com".into(), nickname: None }
//!     .insert(&db)
//!     .await?;
//! assert!(alice.id > 0);
//!
//! let found = User::query()
//!     .filter(User::EMAIL.ends_with("@example.com"))
//!     .filter(User::NICKNAME.eq(None))
//!     .all(&db)
//!     .await?;
//! assert_eq!(found, vec![alice]);
//! # Ok(())
//! # }
//! ```
//!
//! | feature (all on by default) | backend |
//! |---|---|
//! | `sqlite` | SQLite, bundled: needs no server and no system library |
//! | `postgres` | PostgreSQL |
//! | `mysql` | MySQL and MariaDB |
//!
//! [sea-query]: https://docs.rs/sea-query

pub mod backend;
mod column;
mod connection;
mod database;
mod error;
mod executor;
mod filter;
mod hooks;
mod model;
pub mod query;
mod raw;
pub mod relation;
pub mod replica;
mod retry;
mod row;
mod row_stream;
pub mod schema;
mod stats;
mod trace;
mod transaction;
mod transaction_options;
mod value;

pub use covet_derive::{FromRow, Model};
pub use sea_query::Order;

pub use crate::column::{Column, ColumnRef, TextLike, escape_like};
pub use crate::connection::Connection;
pub use crate::database::{ConnectOptions, Database};
pub use crate::error::{DatabaseError, Error, ErrorKind, Result, redact_url};
pub use crate::executor::Executor;
pub use crate::filter::Filter;
pub use crate::hooks::Hooks;
pub use crate::model::{ColumnInfo, Model};
pub use crate::query::{FromRow, count_rows};
pub use crate::raw::{Raw, raw};
pub use crate::relation::{Load, Loaded, Many, One, Relation, SingleKey};
pub use crate::replica::{ReplicaStatus, Session};
pub use crate::retry::{RetryPolicy, RetryableError};
pub use crate::row::RowReader;
pub use crate::stats::{OperationStats, QueryStats};
pub use crate::transaction::Transaction;
pub use crate::transaction_options::{IsolationLevel, TransactionOptions};
pub use crate::value::{Field, SqlType, ValueOf};

/// The sea-query crate covet builds its SQL with, re-exported so that applications and
/// generated code use the same version.
pub use sea_query;

/// Items used by code that `#[derive(Model)]` generates. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::query::version::version_from_i64;
    pub use crate::value::{json_decode, json_option_decode, json_option_to_value, json_to_value};
    pub use sea_query::Value;
}

/// Compiles the README's Rust examples as doctests, so the guide cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
