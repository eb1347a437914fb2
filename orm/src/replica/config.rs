//! The replica settings of [`ConnectOptions`].

use std::fmt;
use std::time::Duration;

use crate::database::ConnectOptions;
use crate::error::redact_url;

/// How often each replica's reachability and lag are measured when no interval is set.
const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The read replicas of a database and the rules for using them.
#[derive(Clone)]
pub(crate) struct ReplicaConfig {
    /// The replica URLs as given, passwords included. They are used only to connect.
    pub(crate) urls: Vec<String>,
    pub(crate) max_lag: Option<Duration>,
    pub(crate) check_interval: Duration,
}

impl Default for ReplicaConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            max_lag: None,
            check_interval: DEFAULT_CHECK_INTERVAL,
        }
    }
}

impl fmt::Debug for ReplicaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let urls: Vec<String> = self.urls.iter().map(|url| redact_url(url)).collect();
        f.debug_struct("ReplicaConfig")
            .field("urls", &urls)
            .field("max_lag", &self.max_lag)
            .field("check_interval", &self.check_interval)
            .finish()
    }
}

impl ConnectOptions {
    /// Adds a read replica. A [`Database`](crate::Database) opened with replicas sends each
    /// `SELECT` run outside a transaction to a usable replica, taking turns (round robin),
    /// and everything else to the primary. Each replica gets its own pool with the same
    /// settings as the primary's.
    ///
    /// The URL must use the primary's backend: PostgreSQL or MySQL/MariaDB. SQLite has no
    /// replicas, so connecting fails with [`Error::Unsupported`](crate::Error::Unsupported).
    /// A replica that cannot be reached when the database opens does not fail the connect,
    /// which waits for each replica's first check (at most the connect timeout) and then
    /// skips the unreachable ones until a check reaches them. A replica's password never
    /// appears in `Debug` output, errors or logs.
    ///
    /// ```no_run
    /// # async fn demo() -> covet::Result<()> {
    /// use std::time::Duration;
    /// use covet::{ConnectOptions, Database};
    ///
    /// let options = ConnectOptions::new()
    ///     .replica("postgres://app:secret@replica-1/shop")
    ///     .replica("postgres://app:secret@replica-2/shop")
    ///     .max_replica_lag(Duration::from_secs(2));
    /// let db = Database::connect_with("postgres://app:secret@primary/shop", options).await?;
    /// # Ok(()) }
    /// ```
    pub fn replica(mut self, url: impl Into<String>) -> Self {
        self.replicas.urls.push(url.into());
        self
    }

    /// Sets the largest replication lag at which a replica still serves reads. A replica
    /// whose lag exceeds it, or whose lag cannot be measured, is skipped until a later
    /// check finds it within the bound. The default is no bound: every reachable replica
    /// serves reads however far behind it is.
    ///
    /// On PostgreSQL the lag is measured on the replica: zero when it has replayed all the
    /// WAL it received while its WAL receiver runs, otherwise the age of the last
    /// transaction it replayed. On MySQL and MariaDB it is `Seconds_Behind_Master` (or
    /// `Seconds_Behind_Source`) of `SHOW REPLICA STATUS`. That statement needs the
    /// `REPLICATION CLIENT` privilege on MySQL and on MariaDB before 10.5, and `REPLICA
    /// MONITOR` (also named `SLAVE MONITOR`) on later MariaDB releases. A server that is
    /// not a replica, or a user without the privilege, leaves the lag unknown.
    pub fn max_replica_lag(mut self, lag: Duration) -> Self {
        self.replicas.max_lag = Some(lag);
        self
    }

    /// Sets how often a background task checks each replica's reachability and lag. The
    /// default is 1 s. A replica found down or too far behind is skipped until a later
    /// check finds it usable again.
    /// [`Database::check_replicas`](crate::Database::check_replicas) runs a check at once.
    pub fn replica_check_interval(mut self, interval: Duration) -> Self {
        self.replicas.check_interval = interval;
        self
    }
}
