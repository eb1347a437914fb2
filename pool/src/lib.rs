//! The connection pool behind every covet query.
//!
//! `covet-pool` wraps [deadpool]'s managed pool around a [`Connector`], the small trait
//! that opens and resets one kind of connection. The [`sqlx`](crate::sqlx_connector)
//! connector pools PostgreSQL, MySQL and SQLite connections; a test can plug in a fake
//! connector to exercise pool mechanics without a server.
//!
//! Every timeout has a finite default (see [`PoolConfig`]), so `acquire` returns an error
//! instead of waiting forever for a connection.
//!
//! ```
//! use covet_pool::{Connector, Pool, PoolConfig};
//! use std::time::Duration;
//!
//! #[derive(Debug)]
//! struct Numbers;
//!
//! impl Connector for Numbers {
//!     type Connection = u32;
//!     type Error = std::io::Error;
//!
//!     async fn connect(&self) -> Result<u32, std::io::Error> {
//!         Ok(7)
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), covet_pool::PoolError<std::io::Error>> {
//! let config = PoolConfig::default().max_size(2).acquire_timeout(Duration::from_millis(50));
//! let pool = Pool::new(Numbers, config);
//! let conn = pool.acquire().await?;
//! assert_eq!(*conn, 7);
//! # Ok(())
//! # }
//! ```

mod config;
mod connector;
mod error;
mod manager;
mod metrics;
mod pool;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub mod sqlx_connector;

pub use crate::config::PoolConfig;
pub use crate::connector::Connector;
pub use crate::error::PoolError;
pub use crate::metrics::PoolMetrics;
pub use crate::pool::{Pool, PoolStatus, Pooled};
