//! Read replicas: routing reads away from the primary, with health and lag checks.
//!
//! A [`Database`] opened with [`ConnectOptions::replica`] keeps one pool per replica next
//! to the primary's. A `SELECT` run with [`Executor::fetch`](crate::Executor::fetch)
//! outside a transaction goes to the next usable replica in turn. Every other statement
//! goes to the primary, and so do transactions, dedicated connections, migrations and
//! everything run through [`Database::primary`].
//!
//! A replica is usable while its last check reached it and, when
//! [`ConnectOptions::max_replica_lag`] is set, found its lag within the bound. A
//! background task checks every replica at [`ConnectOptions::replica_check_interval`].
//!
//! A read that fails on a replica before any row arrived runs again on the next usable
//! replica or on the primary, so the read still succeeds. That happens on a connection
//! error or a pool timeout, which also mark the replica down until a check reaches it,
//! and on a PostgreSQL recovery conflict. The first read that finds a replica down waits
//! for the connect timeout.
//!
//! Only the statement's operation decides the route. A `SELECT` that writes or locks, such
//! as `SELECT nextval('seq')` or `SELECT ... FOR UPDATE` outside a transaction, fails on a
//! replica with a read-only error, so run it through [`Database::primary`].

mod config;
mod lag;
mod session;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use covet_pool::PoolStatus;

pub(crate) use self::config::ReplicaConfig;
use self::lag::{Lsn, Measurement};
pub use self::session::Session;
use crate::backend::{Backend, RowSink, Statement};
use crate::database::{ConnectOptions, Database, open_backend, scrub};
use crate::error::{Error, ErrorKind, Result, redact_url};
use crate::executor::{Owned, run_fetch};
use crate::row::RowReader;
use crate::stats::Observer;

/// The state of one replica, as the last check and the reads since found it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReplicaStatus {
    /// The replica's URL with its password removed.
    pub target: String,
    /// Whether the last check or read reached the replica.
    pub reachable: bool,
    /// The replication lag the last check measured, or `None` when it could not be
    /// measured, as on a server that is not a replica.
    pub lag: Option<Duration>,
    /// Whether reads are sent to this replica: it is reachable and, when a lag bound is
    /// set, its lag is known and within the bound.
    pub usable: bool,
    /// The number of reads this replica has served.
    pub reads: u64,
    /// The error of the last failed check or read, without passwords, while unreachable.
    pub error: Option<String>,
    /// The counts of the replica's pool, once it has been opened.
    pub pool: Option<PoolStatus>,
}

/// The replicas of one [`Database`] and the state of each.
pub(crate) struct ReplicaSet {
    replicas: Vec<Replica>,
    /// The index the next read starts its round at.
    next: AtomicUsize,
    max_lag: Option<Duration>,
    /// The pool settings replicas are opened with.
    options: ConnectOptions,
    closed: AtomicBool,
}

impl fmt::Debug for ReplicaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let targets: Vec<&str> = self
            .replicas
            .iter()
            .map(|replica| replica.target.as_str())
            .collect();
        f.debug_struct("ReplicaSet")
            .field("replicas", &targets)
            .field("max_lag", &self.max_lag)
            .finish_non_exhaustive()
    }
}

/// One replica: its URL, its backend once opened, and its health.
struct Replica {
    /// The URL as given, password included. Used only to connect.
    url: String,
    /// The URL with its password removed, for messages and logs.
    target: String,
    backend: RwLock<Option<Arc<dyn Backend>>>,
    health: Mutex<Health>,
    reads: AtomicU64,
}

#[derive(Clone, Debug, Default)]
struct Health {
    reachable: bool,
    measured: Measurement,
    /// Whether reads went to this replica after the last change, to log changes once.
    usable: bool,
    /// Whether the last lag query failed, to log such failures once.
    lag_failing: bool,
    error: Option<String>,
}

/// The outcome of a read tried on a replica.
enum Attempt {
    /// The read ran, and its result is final whether it succeeded or failed.
    Done(Result<u64>),
    /// The replica failed before sending a row, so another server may run the read.
    Retry,
}

/// Returns whether `statement` is a read that may run on a replica.
pub(crate) fn is_read(statement: &Statement) -> bool {
    statement.operation == "SELECT"
}

impl ReplicaSet {
    /// Opens the replicas configured in `options` for `primary`, checks each once, and
    /// starts the background checks. Returns `None` when no replica is configured.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] on SQLite, [`Error::InvalidInput`] for a zero check interval
    /// or a replica of another backend, and [`Error::InvalidUrl`] for a malformed replica
    /// URL. An unreachable replica is no error.
    pub(crate) async fn open(
        primary: &dyn Backend,
        options: &ConnectOptions,
    ) -> Result<Option<Arc<Self>>> {
        let config = &options.replicas;
        if config.urls.is_empty() {
            return Ok(None);
        }
        validate(primary, config)?;
        let mut replica_options = options.clone();
        replica_options.replicas = ReplicaConfig::default();
        let set = Arc::new(Self {
            replicas: config.urls.iter().map(|url| Replica::new(url)).collect(),
            next: AtomicUsize::new(0),
            max_lag: config.max_lag,
            options: replica_options,
            closed: AtomicBool::new(false),
        });
        for replica in &set.replicas {
            if let Err(error @ Error::InvalidUrl { .. }) = replica.open(&set.options).await {
                set.close();
                return Err(error);
            }
        }
        set.check_all().await;
        spawn_checks(&set, config.check_interval);
        Ok(Some(set))
    }

    /// Runs a read on the next usable replica, falling back to the next one and then to
    /// the primary when a replica fails before sending a row.
    pub(crate) async fn fetch(
        &self,
        primary: &dyn Backend,
        observer: &Observer,
        statement: Statement,
        sink: &mut RowSink<'_>,
    ) -> Result<u64> {
        for replica in self.candidates() {
            let Some(backend) = replica.backend() else {
                continue;
            };
            let conn = async { Ok(Owned(backend.acquire().await?)) };
            let attempt = replica
                .fetch(backend.as_ref(), observer, statement.clone(), sink, conn)
                .await;
            if let Attempt::Done(result) = attempt {
                return result;
            }
        }
        fetch_on_primary(primary, observer, statement, sink).await
    }

    /// Runs a read on a replica that has replayed the WAL up to `written`, or else on the
    /// primary. A replica whose last known position is behind is asked again on the
    /// connection that then runs the read, which costs one round trip.
    pub(crate) async fn fetch_after(
        &self,
        primary: &dyn Backend,
        observer: &Observer,
        written: Lsn,
        statement: Statement,
        sink: &mut RowSink<'_>,
    ) -> Result<u64> {
        for replica in self.candidates() {
            let Some(backend) = replica.backend() else {
                continue;
            };
            let mut conn = match backend.acquire().await {
                Ok(conn) => conn,
                Err(error) => {
                    replica.record_failure(&error);
                    continue;
                }
            };
            if replica.replayed().is_none_or(|replayed| replayed < written) {
                match replica
                    .query_replayed(backend.as_ref(), conn.as_mut())
                    .await
                {
                    Some(replayed) if replayed >= written => {}
                    _ => continue,
                }
            }
            let conn = async { Ok(Owned(conn)) };
            let attempt = replica
                .fetch(backend.as_ref(), observer, statement.clone(), sink, conn)
                .await;
            if let Attempt::Done(result) = attempt {
                return result;
            }
        }
        fetch_on_primary(primary, observer, statement, sink).await
    }

    /// Returns the usable replicas, starting one further along on each call.
    /// Returns the backend of the next usable replica for a row stream, counting the read,
    /// or `None` when no replica is usable.
    pub(crate) fn stream_source(&self) -> Option<Arc<dyn Backend>> {
        self.candidates().find_map(|replica| {
            let backend = replica.backend()?;
            replica.reads.fetch_add(1, Ordering::Relaxed);
            Some(backend)
        })
    }

    fn candidates(&self) -> impl Iterator<Item = &Replica> {
        let count = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        (0..count)
            .map(move |offset| &self.replicas[(start + offset) % count])
            .filter(|replica| replica.usable(self.max_lag))
    }

    /// Checks every replica at once: opens it if needed and measures its lag. Does nothing
    /// once the set is closed, so that no check opens a new pool.
    pub(crate) async fn check_all(&self) {
        if self.closed.load(Ordering::Acquire) {
            return;
        }
        let checks = self
            .replicas
            .iter()
            .map(|replica| replica.check(&self.options, self.max_lag));
        futures_util::future::join_all(checks).await;
    }

    /// Returns the state of each replica, in the order they were added.
    pub(crate) fn status(&self) -> Vec<ReplicaStatus> {
        self.replicas
            .iter()
            .map(|replica| replica.status(self.max_lag))
            .collect()
    }

    /// Closes every replica's pool and stops the background checks.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for replica in &self.replicas {
            if let Some(backend) = replica.backend() {
                backend.close();
            }
        }
    }
}

/// Rejects replicas where they cannot work, before any is opened.
fn validate(primary: &dyn Backend, config: &ReplicaConfig) -> Result<()> {
    let family = match primary.system_name() {
        "postgresql" => "postgresql",
        "mysql" | "mariadb" => "mysql",
        other => {
            return Err(Error::Unsupported {
                backend: other,
                feature: "read replicas: a SQLite database is one file on one machine, so \
                          remove the replica URLs and share one Database handle",
            });
        }
    };
    if config.check_interval.is_zero() {
        return Err(Error::InvalidInput(String::from(
            "replica_check_interval is zero; give it a positive interval such as 1 s (the \
             default)",
        )));
    }
    for url in &config.urls {
        let scheme = url.split(':').next().unwrap_or_default();
        let replica_family = match scheme {
            "postgres" | "postgresql" => "postgresql",
            "mysql" | "mariadb" => "mysql",
            _ => scheme,
        };
        if replica_family != family {
            return Err(Error::InvalidInput(format!(
                "replica URL `{}` is not for the primary's backend ({}); a replica must use \
                 the same backend as the primary",
                redact_url(url),
                primary.system_name()
            )));
        }
    }
    Ok(())
}

/// Starts the task that checks every replica each `interval` until the set is dropped or
/// closed.
fn spawn_checks(set: &Arc<ReplicaSet>, interval: Duration) {
    let set: Weak<ReplicaSet> = Arc::downgrade(set);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once, and the set was checked when it opened.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(set) = set.upgrade() else {
                return;
            };
            if set.closed.load(Ordering::Acquire) {
                return;
            }
            set.check_all().await;
        }
    });
}

async fn fetch_on_primary(
    primary: &dyn Backend,
    observer: &Observer,
    statement: Statement,
    sink: &mut RowSink<'_>,
) -> Result<u64> {
    tracing::trace!(target: "covet::replica", "no replica is usable; reading from the primary");
    run_fetch(primary, observer, statement, sink, async {
        Ok(Owned(primary.acquire().await?))
    })
    .await
}

impl Replica {
    fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            target: redact_url(url),
            backend: RwLock::new(None),
            health: Mutex::new(Health::default()),
            reads: AtomicU64::new(0),
        }
    }

    fn backend(&self) -> Option<Arc<dyn Backend>> {
        let backend = self.backend.read().unwrap_or_else(PoisonError::into_inner);
        backend.clone()
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Returns the replica's backend, opening its pool on first use.
    async fn open(&self, options: &ConnectOptions) -> Result<Arc<dyn Backend>> {
        if let Some(backend) = self.backend() {
            return Ok(backend);
        }
        let opened = open_backend(&self.url, options)
            .await
            .map_err(|error| crate::database::scrub_error(error, &self.url))?;
        let mut slot = self.backend.write().unwrap_or_else(PoisonError::into_inner);
        match slot.as_ref() {
            // Another check opened it meanwhile; keep that one.
            Some(existing) => {
                opened.close();
                Ok(Arc::clone(existing))
            }
            None => {
                *slot = Some(Arc::clone(&opened));
                Ok(opened)
            }
        }
    }

    /// Connects to the replica and measures its lag. A failed lag query on a working
    /// connection, such as one the user lacks the privilege for, leaves the lag unknown
    /// but the replica reachable.
    async fn check(&self, options: &ConnectOptions, max_lag: Option<Duration>) {
        let connected = async {
            let backend = self.open(options).await?;
            let conn = backend.acquire().await?;
            Ok::<_, Error>((backend, conn))
        };
        let (backend, mut conn) = match connected.await {
            Ok(connected) => connected,
            Err(error) => return self.record_failure(&error),
        };
        let measurement = match lag::measure(backend.as_ref(), conn.as_mut()).await {
            Ok(measurement) => {
                self.health().lag_failing = false;
                measurement
            }
            Err(error) if error.kind() == ErrorKind::Connection => {
                return self.record_failure(&error);
            }
            Err(error) => {
                self.log_lag_failure(&error);
                Measurement::default()
            }
        };
        self.record_measurement(measurement, max_lag);
    }

    /// Logs a failed lag query once, until a lag query succeeds again.
    fn log_lag_failure(&self, error: &Error) {
        let mut health = self.health();
        if !health.lag_failing {
            tracing::warn!(
                target: "covet::replica",
                replica = %self.target,
                error = %scrub(&error_chain(error), &self.url),
                "measuring the replica's lag failed, so its lag is unknown"
            );
        }
        health.lag_failing = true;
    }

    /// Runs a read on `conn` and counts it. A failure that another server could avoid
    /// returns [`Attempt::Retry`], as long as no row reached `sink`.
    async fn fetch<F>(
        &self,
        backend: &dyn Backend,
        observer: &Observer,
        statement: Statement,
        sink: &mut RowSink<'_>,
        conn: F,
    ) -> Attempt
    where
        F: Future<Output = Result<Owned>> + Send,
    {
        let mut delivered = false;
        let result = {
            let mut counting = |row: &dyn RowReader| {
                delivered = true;
                sink(row)
            };
            run_fetch(backend, observer, statement, &mut counting, conn).await
        };
        match result {
            Ok(rows) => {
                self.reads.fetch_add(1, Ordering::Relaxed);
                Attempt::Done(Ok(rows))
            }
            Err(error) if !delivered && error.kind() == ErrorKind::SerializationFailure => {
                // On a hot standby this is a recovery conflict: replay removed rows the
                // query needed. The primary has no such conflict.
                tracing::debug!(
                    target: "covet::replica",
                    replica = %self.target,
                    %error,
                    "read canceled by a recovery conflict; running it elsewhere"
                );
                Attempt::Retry
            }
            Err(error)
                if !delivered
                    && matches!(error.kind(), ErrorKind::Connection | ErrorKind::PoolTimeout) =>
            {
                self.record_failure(&error);
                Attempt::Retry
            }
            Err(error) => Attempt::Done(Err(error)),
        }
    }

    /// Reads the replica's replay position on `conn` and stores it. Returns `None` when the
    /// position is unknown, as on a server that is not a standby.
    async fn query_replayed(
        &self,
        backend: &dyn Backend,
        conn: &mut dyn crate::backend::BackendConnection,
    ) -> Option<Lsn> {
        let mut replayed = None;
        let mut read = |row: &dyn RowReader| {
            replayed = lag::read_lsn(row, 0)?;
            Ok(())
        };
        let sql = lag::POSTGRES_REPLAYED;
        let queried = crate::trace::traced_probe(backend, conn, sql, &mut read).await;
        if let Err(error) = queried {
            tracing::debug!(
                target: "covet::replica",
                replica = %self.target,
                %error,
                "reading the replay position failed"
            );
            if error.kind() == ErrorKind::Connection {
                self.record_failure(&error);
            }
            return None;
        }
        if replayed.is_some() {
            self.health().measured.replayed = replayed;
        }
        replayed
    }

    fn replayed(&self) -> Option<Lsn> {
        self.health().measured.replayed
    }

    fn usable(&self, max_lag: Option<Duration>) -> bool {
        usable(&self.health(), max_lag)
    }

    fn record_measurement(&self, measured: Measurement, max_lag: Option<Duration>) {
        let mut health = self.health();
        if !health.reachable && health.error.is_some() {
            tracing::info!(target: "covet::replica", replica = %self.target, "replica reachable again");
        }
        health.reachable = true;
        health.error = None;
        health.measured = measured;
        let now_usable = usable(&health, max_lag);
        if now_usable != health.usable {
            let lag_ms = measured.lag.map(|lag| lag.as_secs_f64() * 1000.0);
            if now_usable {
                tracing::info!(target: "covet::replica", replica = %self.target, lag_ms, "replica serves reads");
            } else {
                tracing::info!(
                    target: "covet::replica",
                    replica = %self.target,
                    lag_ms,
                    max_lag_ms = max_lag.map(|max| max.as_secs_f64() * 1000.0),
                    "replica skipped: its lag is unknown or above the bound"
                );
            }
        }
        health.usable = now_usable;
    }

    /// Marks the replica down after `error`, logging only the change from up to down.
    fn record_failure(&self, error: &Error) {
        let message = scrub(&error_chain(error), &self.url);
        let mut health = self.health();
        if health.reachable || health.error.is_none() {
            tracing::warn!(
                target: "covet::replica",
                replica = %self.target,
                error = %message,
                "replica unreachable; reads go to other replicas or the primary"
            );
        }
        health.reachable = false;
        health.usable = false;
        health.error = Some(message);
    }

    fn status(&self, max_lag: Option<Duration>) -> ReplicaStatus {
        let health = self.health().clone();
        ReplicaStatus {
            target: self.target.clone(),
            reachable: health.reachable,
            lag: health.measured.lag,
            usable: usable(&health, max_lag),
            reads: self.reads.load(Ordering::Relaxed),
            error: health.error,
            pool: self.backend().map(|backend| backend.pool_status()),
        }
    }
}

fn usable(health: &Health, max_lag: Option<Duration>) -> bool {
    let within_bound = match max_lag {
        None => true,
        Some(max) => health.measured.lag.is_some_and(|lag| lag <= max),
    };
    health.reachable && within_bound
}

/// Formats an error followed by its sources, for a status message.
fn error_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Database {
    /// Returns a handle to the same database that runs everything on the primary, reads
    /// included. It shares this handle's pools. Use it for reads that must see the latest
    /// committed data, and for `SELECT`s that write or lock.
    pub fn primary(&self) -> Database {
        Database {
            backend: Arc::clone(&self.backend),
            replicas: None,
            observer: Arc::clone(&self.observer),
        }
    }

    /// Starts a [`Session`]: a handle whose reads see its own earlier writes, also when
    /// they go to a replica.
    pub fn session(&self) -> Session {
        Session::new(self.clone())
    }

    /// Returns the state of each replica as the last check and the reads since left it,
    /// in the order they were added. Empty without replicas.
    pub fn replica_status(&self) -> Vec<ReplicaStatus> {
        self.replicas
            .as_ref()
            .map(|replicas| replicas.status())
            .unwrap_or_default()
    }

    /// Checks every replica now, as the background task does each interval, and returns
    /// their state. A replica found down or too far behind is skipped from then on, until
    /// a check finds it usable.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future leaves each replica as its last completed check found it.
    pub async fn check_replicas(&self) -> Vec<ReplicaStatus> {
        let Some(replicas) = &self.replicas else {
            return Vec::new();
        };
        replicas.check_all().await;
        replicas.status()
    }

    /// Returns the replicas that may run `statement`: `None` when this handle has none or
    /// the statement must run on the primary.
    pub(crate) fn replica_route(&self, statement: &Statement) -> Option<&ReplicaSet> {
        self.replicas.as_deref().filter(|_| is_read(statement))
    }
}
