use std::time::Duration;

/// Pool limits, timeouts and lifecycle settings. Every timeout has a finite default.
///
/// | setting | default |
/// |---|---|
/// | [`max_size`](Self::max_size) | 10 connections |
/// | [`min_idle`](Self::min_idle) | 0 connections kept open while unused |
/// | [`acquire_timeout`](Self::acquire_timeout) | 30 s waiting for a free connection |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s opening one connection, retries included |
/// | [`health_check_timeout`](Self::health_check_timeout) | 5 s for a health check or reset |
/// | [`health_check_after`](Self::health_check_after) | 500 ms idle before a connection is checked on checkout |
/// | [`max_lifetime`](Self::max_lifetime) | 30 min, shortened by up to 10 % per connection |
/// | [`idle_timeout`](Self::idle_timeout) | 10 min idle before a connection above `min_idle` is closed |
/// | [`max_concurrent_connects`](Self::max_concurrent_connects) | 4 connections opened at once |
/// | [`leak_threshold`](Self::leak_threshold) | none: no warning for long-held connections |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub(crate) max_size: usize,
    pub(crate) min_idle: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) health_check_timeout: Duration,
    pub(crate) health_check_after: Duration,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) max_concurrent_connects: usize,
    pub(crate) leak_threshold: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 10,
            min_idle: 0,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            health_check_timeout: Duration::from_secs(5),
            health_check_after: Duration::from_millis(500),
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            max_concurrent_connects: 4,
            leak_threshold: None,
        }
    }
}

impl PoolConfig {
    /// Sets the maximum number of open connections. A value of 0 is raised to 1.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// Sets how many connections a background task keeps open while unused. It is capped
    /// at the maximum size.
    pub fn min_idle(mut self, min_idle: usize) -> Self {
        self.min_idle = min_idle;
        self
    }

    /// Sets how long [`Pool::acquire`](crate::Pool::acquire) waits for a free connection
    /// when every connection is in use.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets how long opening one connection may take, retries after transient failures
    /// included.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets how long a health check or a reset of a returned connection may take before the
    /// connection is discarded.
    pub fn health_check_timeout(mut self, timeout: Duration) -> Self {
        self.health_check_timeout = timeout;
        self
    }

    /// Sets how long a connection may sit unused before it is checked with a round trip on
    /// checkout. Connections used more recently are handed out without one.
    pub fn health_check_after(mut self, idle: Duration) -> Self {
        self.health_check_after = idle;
        self
    }

    /// Sets the age at which a connection is closed instead of reused, or `None` for no
    /// limit. Each connection's limit is shortened by a random amount of up to 10 %, so
    /// connections opened together do not all close together.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = lifetime;
        self
    }

    /// Sets how long a connection may stay unused before it is closed, or `None` to keep
    /// it. Connections up to [`min_idle`](Self::min_idle) are kept regardless.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Sets how many connections may be opened at the same time. A value of 0 is raised
    /// to 1.
    pub fn max_concurrent_connects(mut self, connects: usize) -> Self {
        self.max_concurrent_connects = connects.max(1);
        self
    }

    /// Sets how long a caller may hold a connection before a warning names where it was
    /// acquired, or `None` for no warning.
    pub fn leak_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.leak_threshold = threshold;
        self
    }

    /// Returns the maximum number of open connections.
    pub fn get_max_size(&self) -> usize {
        self.max_size
    }

    /// Returns the acquire timeout.
    pub fn get_acquire_timeout(&self) -> Duration {
        self.acquire_timeout
    }

    /// Returns the connect timeout.
    pub fn get_connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
}
