use std::time::Duration;

/// Pool limits and timeouts.
///
/// The defaults are finite: 10 connections, 30 s to acquire one (waiting for a free slot),
/// and 10 s to open a new connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub(crate) max_size: usize,
    pub(crate) acquire_timeout: Duration,
    pub(crate) connect_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_size: 10,
            acquire_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

impl PoolConfig {
    /// Sets the maximum number of open connections. A value of 0 is raised to 1.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = max_size.max(1);
        self
    }

    /// Sets how long [`Pool::acquire`](crate::Pool::acquire) waits for a free connection
    /// when every connection is in use.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Sets how long opening one new connection may take.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
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
