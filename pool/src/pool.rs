use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Metrics, Object, RecycleError, RecycleResult, TimeoutType};

use crate::config::PoolConfig;
use crate::connector::Connector;
use crate::error::PoolError;

/// The adapter between a [`Connector`] and deadpool's manager trait.
#[derive(Debug)]
struct Manager<C: Connector> {
    connector: C,
}

impl<C: Connector> managed::Manager for Manager<C> {
    type Type = C::Connection;
    type Error = C::Error;

    async fn create(&self) -> Result<C::Connection, C::Error> {
        self.connector.connect().await
    }

    async fn recycle(&self, conn: &mut C::Connection, _: &Metrics) -> RecycleResult<C::Error> {
        self.connector
            .reset(conn)
            .await
            .map_err(RecycleError::Backend)
    }
}

/// A pool of connections opened by a [`Connector`].
///
/// Cloning a `Pool` is cheap and gives another handle to the same connections.
pub struct Pool<C: Connector> {
    inner: Arc<Inner<C>>,
}

struct Inner<C: Connector> {
    pool: managed::Pool<Manager<C>>,
    config: PoolConfig,
}

impl<C: Connector> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Connector> fmt::Debug for Pool<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("connector", &self.inner.pool.manager().connector)
            .field("config", &self.inner.config)
            .field("status", &self.status())
            .finish()
    }
}

/// A snapshot of the pool's connection counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    /// The maximum number of connections.
    pub max_size: usize,
    /// Connections currently open, idle or in use.
    pub size: usize,
    /// Open connections waiting in the pool.
    pub idle: usize,
    /// Connections handed out and not yet returned.
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
}

impl fmt::Display for PoolStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "pool size {}/{}, {} idle, {} in use, {} waiting",
            self.size, self.max_size, self.idle, self.in_use, self.waiting
        )
    }
}

impl<C: Connector> Pool<C> {
    /// Creates a pool. No connection is opened until the first [`acquire`](Self::acquire).
    pub fn new(connector: C, config: PoolConfig) -> Self {
        let timeouts = managed::Timeouts {
            wait: Some(config.acquire_timeout),
            create: Some(config.connect_timeout),
            recycle: Some(config.connect_timeout),
        };
        let pool = managed::Pool::builder(Manager { connector })
            .max_size(config.max_size)
            .timeouts(timeouts)
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime set always builds");
        Self {
            inner: Arc::new(Inner { pool, config }),
        }
    }

    /// Takes a connection from the pool, opening a new one if none is idle and the pool has
    /// room.
    ///
    /// # Errors
    ///
    /// [`PoolError::AcquireTimeout`] when every connection stays busy past the acquire
    /// timeout, [`PoolError::ConnectTimeout`] or [`PoolError::Connect`] when opening a new
    /// connection fails, and [`PoolError::Closed`] after [`close`](Self::close).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future gives up the wait and leaks no capacity. A connection being opened
    /// at that moment is dropped.
    pub async fn acquire(&self) -> Result<Pooled<C>, PoolError<C::Error>> {
        let started = Instant::now();
        match self.inner.pool.get().await {
            Ok(object) => Ok(Pooled {
                object: Some(object),
                broken: false,
            }),
            Err(error) => Err(self.map_error(error, started.elapsed())),
        }
    }

    fn map_error(
        &self,
        error: managed::PoolError<C::Error>,
        waited: Duration,
    ) -> PoolError<C::Error> {
        let status = self.status();
        match error {
            managed::PoolError::Timeout(TimeoutType::Create) => PoolError::ConnectTimeout {
                waited: self.inner.config.connect_timeout,
                status,
            },
            managed::PoolError::Timeout(_) => PoolError::AcquireTimeout { waited, status },
            managed::PoolError::Backend(error) => PoolError::Connect(error),
            managed::PoolError::PostCreateHook(_) | managed::PoolError::NoRuntimeSpecified => {
                unreachable!("covet-pool installs no hooks and always sets a runtime")
            }
            managed::PoolError::Closed => PoolError::Closed,
        }
    }

    /// Returns the pool's current counts.
    pub fn status(&self) -> PoolStatus {
        let status = self.inner.pool.status();
        PoolStatus {
            max_size: status.max_size,
            size: status.size,
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }

    /// Returns the configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Returns the connector that opens this pool's connections.
    pub fn connector(&self) -> &C {
        &self.inner.pool.manager().connector
    }

    /// Closes the pool: idle connections are dropped, waiting callers get
    /// [`PoolError::Closed`], and connections still in use are dropped when returned.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Returns whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }
}

/// A connection borrowed from a [`Pool`]. Dropping it returns the connection to the pool,
/// unless it was marked broken.
pub struct Pooled<C: Connector> {
    object: Option<Object<Manager<C>>>,
    broken: bool,
}

impl<C: Connector> Pooled<C> {
    /// Marks the connection as unusable, so it is closed instead of returned to the pool.
    pub fn mark_broken(&mut self) {
        self.broken = true;
    }

    /// Returns whether the connection was marked broken.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Returns how long ago the connection was opened.
    pub fn age(&self) -> Duration {
        Object::metrics(self.object()).age()
    }

    fn object(&self) -> &Object<Manager<C>> {
        self.object.as_ref().expect("present until drop")
    }
}

impl<C: Connector> Drop for Pooled<C> {
    fn drop(&mut self) {
        if self.broken
            && let Some(object) = self.object.take()
        {
            // Detaching the object frees its slot. The connection itself is dropped here.
            drop(Object::take(object));
        }
    }
}

impl<C: Connector> Deref for Pooled<C> {
    type Target = C::Connection;

    fn deref(&self) -> &C::Connection {
        self.object()
    }
}

impl<C: Connector> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C::Connection {
        self.object.as_mut().expect("present until drop")
    }
}

impl<C: Connector> fmt::Debug for Pooled<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}
