use std::backtrace::Backtrace;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use deadpool::Runtime;
use deadpool::managed::{self, Object, TimeoutType};

use crate::config::PoolConfig;
use crate::connector::Connector;
use crate::error::PoolError;
use crate::manager::{Manager, Shared};
use crate::metrics::{CloseReason, PoolMetrics};

/// A pool of connections opened by a [`Connector`].
///
/// Cloning a `Pool` is cheap and gives another handle to the same connections. When it is
/// created inside a tokio runtime, a background task keeps `min_idle` connections open,
/// closes connections past the idle timeout or their lifetime, and reports leaks. The task
/// stops when the last handle is dropped.
pub struct Pool<C: Connector> {
    inner: Arc<Inner<C>>,
}

struct Inner<C: Connector> {
    pool: managed::Pool<Manager<C>>,
    config: PoolConfig,
    shared: Arc<Shared>,
    checkouts: Mutex<HashMap<u64, Checkout>>,
    next_checkout: AtomicU64,
}

/// A connection handed out and not yet returned, for leak reports.
struct Checkout {
    since: Instant,
    acquired_at: Option<Backtrace>,
    reported: bool,
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
    /// Creates a pool. No connection is opened until the first [`acquire`](Self::acquire),
    /// unless `min_idle` is set, in which case the background task opens them.
    pub fn new(connector: C, config: PoolConfig) -> Self {
        let timeouts = managed::Timeouts {
            wait: Some(config.acquire_timeout),
            create: Some(config.connect_timeout),
            recycle: Some(config.health_check_timeout),
        };
        let shared = Arc::new(Shared::new());
        let manager = Manager::new(connector, config.clone(), Arc::clone(&shared));
        let pool = managed::Pool::builder(manager)
            .max_size(config.max_size)
            .timeouts(timeouts)
            .queue_mode(managed::QueueMode::Lifo)
            .runtime(Runtime::Tokio1)
            .build()
            .expect("a pool with a runtime set always builds");
        let inner = Arc::new(Inner {
            pool,
            config,
            shared,
            checkouts: Mutex::new(HashMap::new()),
            next_checkout: AtomicU64::new(0),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(maintain(Arc::downgrade(&inner)));
        }
        Self { inner }
    }

    /// Takes a connection from the pool, opening a new one if none is idle and the pool has
    /// room. Waiters are served in the order they arrived.
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
            Ok(object) => {
                self.inner.shared.counters.acquired(started.elapsed());
                let checkout = self.inner.next_checkout.fetch_add(1, Ordering::Relaxed);
                // Checkouts are tracked only for leak reports, which cost a backtrace each.
                if self.inner.config.leak_threshold.is_some()
                    && let Ok(mut checkouts) = self.inner.checkouts.lock()
                {
                    let checkout_record = Checkout {
                        since: Instant::now(),
                        acquired_at: Some(Backtrace::force_capture()),
                        reported: false,
                    };
                    checkouts.insert(checkout, checkout_record);
                }
                Ok(Pooled {
                    object: Some(object),
                    broken: false,
                    checkout,
                    acquired: Instant::now(),
                    pool: Arc::clone(&self.inner),
                })
            }
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
            managed::PoolError::Timeout(TimeoutType::Create) => {
                let last_error = self
                    .inner
                    .shared
                    .last_connect_error
                    .lock()
                    .ok()
                    .and_then(|last| last.clone());
                PoolError::ConnectTimeout {
                    waited: self.inner.config.connect_timeout,
                    status,
                    last_error,
                }
            }
            managed::PoolError::Timeout(_) => {
                self.inner.shared.counters.acquire_timed_out();
                PoolError::AcquireTimeout { waited, status }
            }
            managed::PoolError::Backend(error) => PoolError::Connect(error),
            managed::PoolError::PostCreateHook(_) | managed::PoolError::NoRuntimeSpecified => {
                unreachable!("covet-pool installs no hooks and always sets a runtime")
            }
            managed::PoolError::Closed => PoolError::Closed,
        }
    }

    /// Waits until one connection can be opened, retrying transient failures, for
    /// applications that should not start serving before their database is reachable.
    ///
    /// # Errors
    ///
    /// As for [`acquire`](Self::acquire).
    pub async fn wait_until_ready(&self) -> Result<(), PoolError<C::Error>> {
        drop(self.acquire().await?);
        Ok(())
    }

    /// Returns the pool's current counts.
    pub fn status(&self) -> PoolStatus {
        let status = self.inner.pool.status();
        PoolStatus {
            max_size: self.inner.config.max_size,
            size: status.size,
            idle: status.available,
            in_use: status.size.saturating_sub(status.available),
            waiting: status.waiting,
        }
    }

    /// Returns the totals since the pool was created.
    pub fn metrics(&self) -> PoolMetrics {
        self.inner.shared.counters.snapshot()
    }

    /// Returns the configuration the pool was built with.
    pub fn config(&self) -> &PoolConfig {
        &self.inner.config
    }

    /// Returns the connector that opens this pool's connections.
    pub fn connector(&self) -> &C {
        &self.inner.pool.manager().connector
    }

    /// Closes the pool at once: idle connections are dropped, waiting callers get
    /// [`PoolError::Closed`], and connections still in use are dropped when returned.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Closes the pool and waits up to `timeout` for every borrowed connection to come back
    /// and be dropped. Returns the number of connections still open when it gave up, 0 on
    /// success.
    pub async fn drain(&self, timeout: Duration) -> usize {
        self.close();
        let deadline = Instant::now() + timeout;
        loop {
            let open = self.inner.pool.status().size;
            if open == 0 || Instant::now() >= deadline {
                return open;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Returns whether [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.inner.pool.is_closed()
    }
}

/// Runs the pool's upkeep until the pool is dropped or closed.
async fn maintain<C: Connector>(inner: Weak<Inner<C>>) {
    let interval = match inner.upgrade() {
        Some(inner) => upkeep_interval(&inner.config),
        None => return,
    };
    // The first pass runs at once, so min_idle connections open right after start.
    loop {
        {
            let Some(inner) = inner.upgrade() else { return };
            if inner.pool.is_closed() {
                return;
            }
            retire_idle(&inner);
            keep_min_idle(&inner).await;
            report_leaks(&inner);
        }
        tokio::time::sleep(interval).await;
    }
}

/// Returns how often upkeep runs: often enough for the shortest configured limit.
fn upkeep_interval(config: &PoolConfig) -> Duration {
    let limits = [
        config.idle_timeout,
        config.max_lifetime,
        config.leak_threshold,
    ];
    limits
        .into_iter()
        .flatten()
        .map(|limit| limit / 4)
        .fold(Duration::from_secs(1), Duration::min)
        .max(Duration::from_millis(10))
}

/// Closes idle connections past their lifetime, and past the idle timeout while more than
/// `min_idle` are idle.
fn retire_idle<C: Connector>(inner: &Inner<C>) {
    let idle = inner.pool.status().available;
    let mut removable = idle.saturating_sub(inner.config.min_idle);
    let idle_timeout = inner.config.idle_timeout;
    let counters = &inner.shared.counters;
    inner.pool.retain(|entry, metrics| {
        if entry
            .lifetime
            .is_some_and(|lifetime| metrics.age() >= lifetime)
        {
            counters.connection_closed(CloseReason::Lifetime);
            removable = removable.saturating_sub(1);
            return false;
        }
        let expired = idle_timeout.is_some_and(|timeout| entry.released_at.elapsed() >= timeout);
        if expired && removable > 0 {
            counters.connection_closed(CloseReason::Idle);
            removable -= 1;
            return false;
        }
        true
    });
}

/// Opens connections until `min_idle` are open.
async fn keep_min_idle<C: Connector>(inner: &Inner<C>) {
    let wanted = inner.config.min_idle.min(inner.config.max_size);
    let connecting = inner.shared.connecting.load(Ordering::Relaxed);
    if inner.pool.status().size + connecting >= wanted {
        return;
    }
    // Hold every connection taken here until the pool has `wanted`: a connection handed
    // back at once would be handed out again instead of a new one being opened.
    let mut opened = Vec::with_capacity(wanted);
    while opened.len() < wanted
        && inner.pool.status().size + inner.shared.connecting.load(Ordering::Relaxed) < wanted
    {
        match inner.pool.get().await {
            Ok(object) => opened.push(object),
            Err(error) => {
                tracing::debug!(target: "covet::pool", %error, "opening a min_idle connection failed");
                break;
            }
        }
    }
}

/// Logs each connection held past the leak threshold once, with where it was acquired.
fn report_leaks<C: Connector>(inner: &Inner<C>) {
    let Some(threshold) = inner.config.leak_threshold else {
        return;
    };
    let Ok(mut checkouts) = inner.checkouts.lock() else {
        return;
    };
    for checkout in checkouts.values_mut() {
        if checkout.reported || checkout.since.elapsed() < threshold {
            continue;
        }
        checkout.reported = true;
        inner.shared.counters.leak_found();
        let held_ms = u64::try_from(checkout.since.elapsed().as_millis()).unwrap_or(u64::MAX);
        let backtrace = checkout
            .acquired_at
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        let acquired_at = caller_location(&backtrace).unwrap_or("unknown");
        tracing::warn!(target: "covet::pool", held_ms, acquired_at, %backtrace, "a connection is held past the leak threshold");
    }
}

/// Returns the first `file:line:column` of `backtrace` outside covet, its dependencies and
/// the standard library: the application code that acquired the connection.
fn caller_location(backtrace: &str) -> Option<&str> {
    const INTERNAL: [&str; 5] = [
        "/orm/src/",
        "/pool/src/",
        "/.cargo/",
        "/rustc/",
        "/rustlib/",
    ];
    backtrace
        .lines()
        .filter_map(|line| line.trim().strip_prefix("at "))
        .find(|location| !INTERNAL.iter().any(|internal| location.contains(internal)))
}

/// A connection borrowed from a [`Pool`]. Dropping it returns the connection to the pool,
/// unless it was marked broken.
pub struct Pooled<C: Connector> {
    object: Option<Object<Manager<C>>>,
    broken: bool,
    checkout: u64,
    acquired: Instant,
    pool: Arc<Inner<C>>,
}

impl<C: Connector> Pooled<C> {
    /// Marks the connection as unusable, so it is closed instead of returned to the pool,
    /// and the pool's older idle connections are health-checked before their next use.
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
        let shared = &self.pool.shared;
        shared.counters.released(self.acquired.elapsed());
        if self.pool.config.leak_threshold.is_some()
            && let Ok(mut checkouts) = self.pool.checkouts.lock()
        {
            checkouts.remove(&self.checkout);
        }
        let Some(mut object) = self.object.take() else {
            return;
        };
        if self.broken {
            shared.counters.connection_closed(CloseReason::Broken);
            shared.suspect_idle_connections();
            // Detaching the object frees its slot. The connection itself is dropped here.
            drop(Object::take(object));
        } else {
            self.pool
                .pool
                .manager()
                .connector
                .after_release(&mut object.conn);
            object.released_at = Instant::now();
        }
    }
}

impl<C: Connector> Deref for Pooled<C> {
    type Target = C::Connection;

    fn deref(&self) -> &C::Connection {
        &self.object().conn
    }
}

impl<C: Connector> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C::Connection {
        &mut self.object.as_mut().expect("present until drop").conn
    }
}

impl<C: Connector> fmt::Debug for Pooled<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pooled")
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::caller_location;

    #[test]
    fn caller_location_skips_library_frames() {
        let backtrace = "   0: covet_pool::pool::Pool<C>::acquire\n             at /work/pool/src/pool.rs:140:20\n   1: tokio::runtime\n             at /root/.cargo/registry/src/tokio/src/lib.rs:10:5\n   2: app::main\n             at ./src/main.rs:207:29\n";
        assert_eq!(caller_location(backtrace), Some("./src/main.rs:207:29"));
    }
}
