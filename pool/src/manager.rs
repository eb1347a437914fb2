//! The adapter between a [`Connector`] and deadpool: connect with retries, and check,
//! reset or retire a connection before it is handed out again.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool::managed::{self, Metrics, RecycleError, RecycleResult};
use tokio::sync::Semaphore;

use crate::config::PoolConfig;
use crate::connector::Connector;
use crate::metrics::{CloseReason, Counters};

/// A pooled connection with the facts the pool needs to manage it.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) conn: T,
    /// This connection's own maximum lifetime, shortened by its jitter.
    pub(crate) lifetime: Option<Duration>,
    /// When it was last returned after use.
    pub(crate) released_at: Instant,
}

/// State shared by the manager and the pool handles.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) counters: Counters,
    /// The last connect error, for the message of a connect timeout.
    pub(crate) last_connect_error: Mutex<Option<String>>,
    /// Microseconds after `epoch` of the last connection-class error. Idle connections
    /// released before it are health-checked on checkout.
    suspect_since_micros: AtomicU64,
    epoch: Instant,
    /// Connections being opened right now, which deadpool counts only once they are open.
    pub(crate) connecting: std::sync::atomic::AtomicUsize,
}

impl Shared {
    pub(crate) fn new() -> Self {
        Self {
            counters: Counters::default(),
            last_connect_error: Mutex::new(None),
            suspect_since_micros: AtomicU64::new(0),
            epoch: Instant::now(),
            connecting: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Records a connection-class error, so that older idle connections are checked.
    pub(crate) fn suspect_idle_connections(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.suspect_since_micros.fetch_max(now, Ordering::Relaxed);
    }

    fn released_before_suspicion(&self, released_at: Instant) -> bool {
        let since = self.suspect_since_micros.load(Ordering::Relaxed);
        since > 0 && released_at <= self.epoch + Duration::from_micros(since)
    }
}

/// Counts a connect in progress for as long as it lives, cancellation included.
struct Connecting<'a>(&'a Shared);

impl<'a> Connecting<'a> {
    fn start(shared: &'a Shared) -> Self {
        shared.connecting.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        self.0.connecting.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub(crate) struct Manager<C: Connector> {
    pub(crate) connector: C,
    config: PoolConfig,
    connects: Semaphore,
    pub(crate) shared: Arc<Shared>,
    jitter_seed: RandomState,
    jitter_counter: AtomicU64,
}

impl<C: Connector> Manager<C> {
    pub(crate) fn new(connector: C, config: PoolConfig, shared: Arc<Shared>) -> Self {
        Self {
            connector,
            connects: Semaphore::new(config.max_concurrent_connects),
            config,
            shared,
            jitter_seed: RandomState::new(),
            jitter_counter: AtomicU64::new(0),
        }
    }

    /// Returns a lifetime shortened by a pseudo-random 0 to 10 %.
    fn jittered_lifetime(&self) -> Option<Duration> {
        let lifetime = self.config.max_lifetime?;
        let draw = self.jitter_counter.fetch_add(1, Ordering::Relaxed);
        let per_mille = self.jitter_seed.hash_one(draw) % 100;
        let cut = lifetime.mul_f64(f64::from(u32::try_from(per_mille).unwrap_or(0)) / 1000.0);
        Some(lifetime.saturating_sub(cut))
    }

    /// Waits before connect attempt `attempt` (from 1): 25 ms doubling up to 1 s, with up
    /// to half of it added at random.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = Duration::from_millis(25).saturating_mul(1 << attempt.min(6));
        let base = base.min(Duration::from_secs(1));
        let draw = self.jitter_counter.fetch_add(1, Ordering::Relaxed);
        let spread = self.jitter_seed.hash_one(draw) % 500;
        base + base.mul_f64(f64::from(u32::try_from(spread).unwrap_or(0)) / 1000.0)
    }

    fn close(&self, reason: CloseReason) -> RecycleError<C::Error> {
        self.shared.counters.connection_closed(reason);
        RecycleError::message(match reason {
            CloseReason::Lifetime => "the connection reached its maximum lifetime",
            CloseReason::HealthCheck => "the connection failed its health check",
            CloseReason::Reset => "the connection could not be reset",
            CloseReason::Hook => "the before_acquire hook failed",
            CloseReason::Broken | CloseReason::Idle => "the connection was retired",
        })
    }
}

impl<C: Connector> managed::Manager for Manager<C> {
    type Type = Entry<C::Connection>;
    type Error = C::Error;

    /// Opens a connection, retrying transient failures with jittered exponential backoff.
    /// deadpool cancels this future at the connect timeout.
    async fn create(&self) -> Result<Entry<C::Connection>, C::Error> {
        let _connecting = Connecting::start(&self.shared);
        let _permit = self.connects.acquire().await;
        let mut attempt = 0;
        loop {
            match self.connector.connect().await {
                Ok(mut conn) => {
                    self.connector.after_connect(&mut conn).await?;
                    self.connector.before_acquire(&mut conn).await?;
                    self.shared.counters.connection_created();
                    return Ok(Entry {
                        conn,
                        lifetime: self.jittered_lifetime(),
                        released_at: Instant::now(),
                    });
                }
                Err(error) => {
                    self.shared.counters.connect_failed();
                    let message = error.to_string();
                    if let Ok(mut last) = self.shared.last_connect_error.lock() {
                        *last = Some(message.clone());
                    }
                    let ever_connected = self.shared.counters.snapshot().created > 0;
                    if self.connector.is_permanent(&error, ever_connected) {
                        return Err(error);
                    }
                    attempt += 1;
                    tracing::debug!(target: "covet::pool", attempt, error = %message, "connect failed, retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                }
            }
        }
    }

    async fn recycle(
        &self,
        entry: &mut Entry<C::Connection>,
        metrics: &Metrics,
    ) -> RecycleResult<C::Error> {
        if entry
            .lifetime
            .is_some_and(|lifetime| metrics.age() >= lifetime)
        {
            return Err(self.close(CloseReason::Lifetime));
        }
        if self.connector.reset(&mut entry.conn).await.is_err() {
            return Err(self.close(CloseReason::Reset));
        }
        let idle = entry.released_at.elapsed() >= self.config.health_check_after;
        if idle || self.shared.released_before_suspicion(entry.released_at) {
            self.shared.counters.health_checked();
            if self.connector.ping(&mut entry.conn).await.is_err() {
                return Err(self.close(CloseReason::HealthCheck));
            }
        }
        if self
            .connector
            .before_acquire(&mut entry.conn)
            .await
            .is_err()
        {
            return Err(self.close(CloseReason::Hook));
        }
        Ok(())
    }
}
