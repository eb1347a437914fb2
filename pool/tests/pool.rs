//! Pool mechanics with fake connectors that never touch a database.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use covet_pool::{Connector, Pool, PoolConfig, PoolError};

#[derive(Debug, thiserror::Error)]
#[error("fake connect failure: {0}")]
struct FakeError(&'static str);

/// Hands out numbered connections and counts connects and resets.
#[derive(Debug, Default)]
struct Counting {
    connects: Arc<AtomicUsize>,
    resets: Arc<AtomicUsize>,
}

impl Connector for Counting {
    type Connection = usize;
    type Error = FakeError;

    async fn connect(&self) -> Result<usize, FakeError> {
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn reset(&self, _conn: &mut usize) -> Result<(), FakeError> {
        self.resets.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Fails every connect at once, as a wrong password does.
#[derive(Debug)]
struct Refusing;

impl Connector for Refusing {
    type Connection = ();
    type Error = FakeError;

    async fn connect(&self) -> Result<(), FakeError> {
        Err(FakeError("password authentication failed"))
    }

    fn is_permanent(&self, _: &FakeError, _: bool) -> bool {
        true
    }
}

/// Never finishes connecting, as an unresponsive server does.
#[derive(Debug)]
struct Hanging;

impl Connector for Hanging {
    type Connection = ();
    type Error = FakeError;

    async fn connect(&self) -> Result<(), FakeError> {
        std::future::pending().await
    }
}

fn config(max_size: usize) -> PoolConfig {
    PoolConfig::default()
        .max_size(max_size)
        .acquire_timeout(Duration::from_millis(100))
        .connect_timeout(Duration::from_millis(100))
}

#[tokio::test]
async fn reuses_returned_connection() {
    let connector = Counting::default();
    let connects = Arc::clone(&connector.connects);
    let resets = Arc::clone(&connector.resets);
    let pool = Pool::new(connector, config(2));
    let first = *pool.acquire().await.unwrap();
    let second = *pool.acquire().await.unwrap();
    assert_eq!(first, second, "the idle connection is handed out again");
    assert_eq!(connects.load(Ordering::SeqCst), 1);
    assert_eq!(
        resets.load(Ordering::SeqCst),
        1,
        "a reused connection is reset first"
    );
}

#[tokio::test]
async fn acquire_times_out_when_full() {
    let pool = Pool::new(Counting::default(), config(1));
    let held = pool.acquire().await.unwrap();
    let error = pool.acquire().await.unwrap_err();
    let PoolError::AcquireTimeout { waited, status } = &error else {
        panic!("expected an acquire timeout, got {error:?}");
    };
    assert!(*waited >= Duration::from_millis(100), "waited {waited:?}");
    assert_eq!(status.max_size, 1);
    assert_eq!(status.in_use, 1);
    let message = error.to_string();
    assert!(message.contains("1 in use"), "{message}");
    drop(held);
    assert!(pool.acquire().await.is_ok(), "the slot is free again");
}

#[tokio::test]
async fn connect_error_keeps_cause() {
    let pool = Pool::new(Refusing, config(1));
    let error = pool.acquire().await.unwrap_err();
    let PoolError::Connect(cause) = &error else {
        panic!("expected the connect error, got {error:?}");
    };
    assert!(cause.to_string().contains("password authentication failed"));
    let source = std::error::Error::source(&error).expect("the cause is the source");
    assert!(source.to_string().contains("password"));
    assert_eq!(pool.status().size, 0, "a failed connect holds no slot");
}

#[tokio::test]
async fn hanging_connect_times_out() {
    let pool = Pool::new(Hanging, config(1));
    let error = pool.acquire().await.unwrap_err();
    assert!(
        matches!(error, PoolError::ConnectTimeout { .. }),
        "expected a connect timeout, got {error:?}"
    );
    assert_eq!(pool.status().size, 0);
}

#[tokio::test]
async fn broken_connection_is_discarded() {
    let connector = Counting::default();
    let connects = Arc::clone(&connector.connects);
    let pool = Pool::new(connector, config(1));
    let mut conn = pool.acquire().await.unwrap();
    conn.mark_broken();
    assert!(conn.is_broken());
    drop(conn);
    assert_eq!(pool.status().size, 0, "a broken connection frees its slot");
    let replacement = *pool.acquire().await.unwrap();
    assert_eq!(replacement, 1, "a new connection replaces the broken one");
    assert_eq!(connects.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn dropped_waiter_leaks_no_capacity() {
    let pool = Pool::new(Counting::default(), config(1));
    let held = pool.acquire().await.unwrap();
    let waiter = tokio::time::timeout(Duration::from_millis(20), pool.acquire()).await;
    assert!(waiter.is_err(), "the waiter was cancelled");
    drop(held);
    let status = pool.status();
    assert_eq!(status.waiting, 0);
    assert_eq!(status.in_use, 0);
    assert!(pool.acquire().await.is_ok());
}

#[tokio::test]
async fn closed_pool_rejects_acquire() {
    let pool = Pool::new(Counting::default(), config(1));
    pool.close();
    assert!(pool.is_closed());
    assert!(matches!(pool.acquire().await, Err(PoolError::Closed)));
}

#[tokio::test]
async fn status_counts_idle_and_in_use() {
    let pool = Pool::new(Counting::default(), config(3));
    let first = pool.acquire().await.unwrap();
    let second = pool.acquire().await.unwrap();
    drop(first);
    let status = pool.status();
    assert_eq!(status.size, 2);
    assert_eq!(status.idle, 1);
    assert_eq!(status.in_use, 1);
    drop(second);
}

#[test]
fn zero_max_size_becomes_one() {
    assert_eq!(PoolConfig::default().max_size(0).get_max_size(), 1);
}

/// Counts pings, and fails them while `fail_pings` is set.
#[derive(Debug, Default)]
struct Pinging {
    connects: Arc<AtomicUsize>,
    pings: Arc<AtomicUsize>,
    fail_pings: Arc<std::sync::atomic::AtomicBool>,
}

impl Connector for Pinging {
    type Connection = usize;
    type Error = FakeError;

    async fn connect(&self) -> Result<usize, FakeError> {
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn ping(&self, _conn: &mut usize) -> Result<(), FakeError> {
        self.pings.fetch_add(1, Ordering::SeqCst);
        if self.fail_pings.load(Ordering::SeqCst) {
            return Err(FakeError("connection reset"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn hot_checkout_sends_no_ping() {
    let connector = Pinging::default();
    let pings = Arc::clone(&connector.pings);
    let pool = Pool::new(
        connector,
        config(1).health_check_after(Duration::from_secs(5)),
    );
    for _ in 0..20 {
        drop(pool.acquire().await.unwrap());
    }
    assert_eq!(
        pings.load(Ordering::SeqCst),
        0,
        "recently used connections are not pinged"
    );
    assert_eq!(pool.metrics().health_checks, 0);
}

#[tokio::test]
async fn idle_checkout_is_health_checked() {
    let connector = Pinging::default();
    let pings = Arc::clone(&connector.pings);
    let connects = Arc::clone(&connector.connects);
    let fail = Arc::clone(&connector.fail_pings);
    let pool = Pool::new(
        connector,
        config(1).health_check_after(Duration::from_millis(20)),
    );
    drop(pool.acquire().await.unwrap());
    tokio::time::sleep(Duration::from_millis(40)).await;
    drop(pool.acquire().await.unwrap());
    assert_eq!(
        pings.load(Ordering::SeqCst),
        1,
        "an idle connection is pinged once"
    );

    fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let replacement = *pool.acquire().await.unwrap();
    assert_eq!(
        replacement, 1,
        "a connection that fails its check is replaced"
    );
    assert_eq!(connects.load(Ordering::SeqCst), 2);
    assert_eq!(pool.metrics().closed_health_check, 1);
}

#[tokio::test]
async fn broken_connection_triggers_checks() {
    let connector = Pinging::default();
    let pings = Arc::clone(&connector.pings);
    let pool = Pool::new(
        connector,
        config(2).health_check_after(Duration::from_secs(60)),
    );
    let first = pool.acquire().await.unwrap();
    let mut second = pool.acquire().await.unwrap();
    drop(first);
    second.mark_broken();
    drop(second);
    drop(pool.acquire().await.unwrap());
    assert_eq!(
        pings.load(Ordering::SeqCst),
        1,
        "an idle connection released before a broken one is checked on its next checkout"
    );
}

/// Opens connections whose health check always fails.
#[derive(Debug, Default)]
struct AlwaysBroken {
    connects: Arc<AtomicUsize>,
}

impl Connector for AlwaysBroken {
    type Connection = usize;
    type Error = FakeError;

    async fn connect(&self) -> Result<usize, FakeError> {
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn reset(&self, _conn: &mut usize) -> Result<(), FakeError> {
        Err(FakeError("broken"))
    }
}

#[tokio::test]
async fn always_broken_stays_within_max() {
    let connector = AlwaysBroken::default();
    let connects = Arc::clone(&connector.connects);
    let pool = Pool::new(connector, config(3));
    for _ in 0..30 {
        let held: Vec<_> = futures_like_join(&pool, 3).await;
        assert!(
            pool.status().size <= 3,
            "size {} exceeds max 3",
            pool.status().size
        );
        drop(held);
    }
    assert!(
        connects.load(Ordering::SeqCst) >= 30,
        "broken connections are replaced"
    );
    assert!(pool.metrics().closed_reset > 0);
}

async fn futures_like_join(
    pool: &Pool<AlwaysBroken>,
    count: usize,
) -> Vec<covet_pool::Pooled<AlwaysBroken>> {
    let mut held = Vec::new();
    for _ in 0..count {
        held.push(pool.acquire().await.unwrap());
    }
    held
}

#[tokio::test]
async fn max_lifetime_retires_connections() {
    let connector = Counting::default();
    let connects = Arc::clone(&connector.connects);
    let pool = Pool::new(
        connector,
        config(1).max_lifetime(Some(Duration::from_millis(30))),
    );
    drop(pool.acquire().await.unwrap());
    tokio::time::sleep(Duration::from_millis(60)).await;
    drop(pool.acquire().await.unwrap());
    assert_eq!(
        connects.load(Ordering::SeqCst),
        2,
        "an old connection is replaced"
    );
    assert!(pool.metrics().closed_lifetime >= 1);
}

#[tokio::test]
async fn idle_timeout_keeps_min_idle() {
    let options = config(4)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_millis(40)));
    let pool = Pool::new(Counting::default(), options);
    let held = [
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
        pool.acquire().await.unwrap(),
    ];
    drop(held);
    assert_eq!(pool.status().size, 3);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        pool.status().size,
        1,
        "idle connections above min_idle are closed"
    );
    assert_eq!(pool.metrics().closed_idle, 2);
}

#[tokio::test]
async fn min_idle_is_kept_warm() {
    let options = config(4)
        .min_idle(2)
        .idle_timeout(Some(Duration::from_millis(40)));
    let pool = Pool::new(Counting::default(), options);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        pool.status().size,
        2,
        "the background task opens min_idle connections"
    );
    assert_eq!(pool.status().idle, 2);
}

/// Fails every connect with an error that retrying might fix, counting attempts.
#[derive(Debug, Default)]
struct Flaky {
    attempts: Arc<AtomicUsize>,
}

impl Connector for Flaky {
    type Connection = ();
    type Error = FakeError;

    async fn connect(&self) -> Result<(), FakeError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        Err(FakeError("connection refused"))
    }
}

#[tokio::test]
async fn transient_errors_retry_with_backoff() {
    let connector = Flaky::default();
    let attempts = Arc::clone(&connector.attempts);
    let options = config(1).connect_timeout(Duration::from_millis(400));
    let pool = Pool::new(connector, options);
    let error = pool.acquire().await.unwrap_err();
    let PoolError::ConnectTimeout { last_error, .. } = &error else {
        panic!("expected a connect timeout, got {error:?}");
    };
    assert_eq!(
        last_error.as_deref(),
        Some("fake connect failure: connection refused")
    );
    assert!(error.to_string().contains("connection refused"), "{error}");
    let tries = attempts.load(Ordering::SeqCst);
    assert!(tries >= 3, "retried {tries} times");
    assert!(
        tries < 20,
        "backoff keeps retries few, not a busy loop: {tries}"
    );
}

#[tokio::test]
async fn permanent_error_returns_at_once() {
    let options = config(1).connect_timeout(Duration::from_secs(5));
    let pool = Pool::new(Refusing, options);
    let started = std::time::Instant::now();
    let error = pool.acquire().await.unwrap_err();
    assert!(matches!(error, PoolError::Connect(_)), "{error:?}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn waiters_served_in_order() {
    let pool = Pool::new(
        Counting::default(),
        config(1).acquire_timeout(Duration::from_secs(5)),
    );
    let held = pool.acquire().await.unwrap();
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut waiters = Vec::new();
    for position in 0..5 {
        let pool = pool.clone();
        let order = Arc::clone(&order);
        waiters.push(tokio::spawn(async move {
            let conn = pool.acquire().await.unwrap();
            order.lock().unwrap().push(position);
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(conn);
        }));
        // Let each waiter reach the queue before the next starts.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(held);
    for waiter in waiters {
        waiter.await.unwrap();
    }
    assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[tokio::test]
async fn drain_waits_for_borrowed() {
    let pool = Pool::new(Counting::default(), config(2));
    let held = pool.acquire().await.unwrap();
    let returner = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
    });
    let open = pool.drain(Duration::from_secs(2)).await;
    assert_eq!(
        open, 0,
        "every connection is closed once the borrower returns"
    );
    assert!(matches!(pool.acquire().await, Err(PoolError::Closed)));
    returner.await.unwrap();
}

#[tokio::test]
async fn drain_gives_up_after_timeout() {
    let pool = Pool::new(Counting::default(), config(2));
    let _held = pool.acquire().await.unwrap();
    assert_eq!(pool.drain(Duration::from_millis(50)).await, 1);
}

#[tokio::test]
async fn leak_is_reported_once() {
    let options = config(1).leak_threshold(Some(Duration::from_millis(20)));
    let pool = Pool::new(Counting::default(), options);
    let held = pool.acquire().await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        pool.metrics().leaks,
        1,
        "a held connection is reported once"
    );
    drop(held);
}

#[tokio::test]
async fn metrics_count_acquires_and_waits() {
    let pool = Pool::new(Counting::default(), config(1));
    let held = pool.acquire().await.unwrap();
    let _ = pool.acquire().await;
    drop(held);
    let metrics = pool.metrics();
    assert_eq!(metrics.acquires, 1);
    assert_eq!(metrics.acquire_timeouts, 1);
    assert_eq!(metrics.created, 1);
    assert!(
        metrics.hold_time_max >= Duration::from_millis(100),
        "{metrics:?}"
    );
}

/// Counts each hook, and fails `before_acquire` for connection 0.
#[derive(Debug, Default)]
struct Hooked {
    connects: Arc<AtomicUsize>,
    after_connect: Arc<AtomicUsize>,
    before_acquire: Arc<AtomicUsize>,
    after_release: Arc<AtomicUsize>,
    reject_first: bool,
}

impl Connector for Hooked {
    type Connection = usize;
    type Error = FakeError;

    async fn connect(&self) -> Result<usize, FakeError> {
        Ok(self.connects.fetch_add(1, Ordering::SeqCst))
    }

    async fn after_connect(&self, _conn: &mut usize) -> Result<(), FakeError> {
        self.after_connect.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn before_acquire(&self, conn: &mut usize) -> Result<(), FakeError> {
        let calls = self.before_acquire.fetch_add(1, Ordering::SeqCst);
        if self.reject_first && *conn == 0 && calls > 0 {
            return Err(FakeError("rejected by hook"));
        }
        Ok(())
    }

    fn after_release(&self, _conn: &mut usize) {
        self.after_release.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn hooks_run_at_their_points() {
    let connector = Hooked::default();
    let after_connect = Arc::clone(&connector.after_connect);
    let before_acquire = Arc::clone(&connector.before_acquire);
    let after_release = Arc::clone(&connector.after_release);
    let pool = Pool::new(connector, config(2));
    for _ in 0..3 {
        drop(pool.acquire().await.unwrap());
    }
    assert_eq!(
        after_connect.load(Ordering::SeqCst),
        1,
        "once per new connection"
    );
    assert_eq!(
        before_acquire.load(Ordering::SeqCst),
        3,
        "once per checkout"
    );
    assert_eq!(after_release.load(Ordering::SeqCst), 3, "once per return");
}

#[tokio::test]
async fn failing_before_acquire_discards() {
    let connector = Hooked {
        reject_first: true,
        ..Hooked::default()
    };
    let connects = Arc::clone(&connector.connects);
    let pool = Pool::new(connector, config(1));
    assert_eq!(*pool.acquire().await.unwrap(), 0);
    let replacement = *pool.acquire().await.unwrap();
    assert_eq!(replacement, 1, "the rejected connection is replaced");
    assert_eq!(connects.load(Ordering::SeqCst), 2);
}

/// Fails the first `failures` connects with a transient error, then succeeds.
#[derive(Debug)]
struct SlowStart {
    attempts: Arc<AtomicUsize>,
    failures: usize,
}

impl Connector for SlowStart {
    type Connection = ();
    type Error = FakeError;

    async fn connect(&self) -> Result<(), FakeError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) < self.failures {
            return Err(FakeError("the database system is starting up"));
        }
        Ok(())
    }
}

#[tokio::test]
async fn wait_until_ready_retries() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let connector = SlowStart {
        attempts: Arc::clone(&attempts),
        failures: 3,
    };
    let pool = Pool::new(connector, config(1).connect_timeout(Duration::from_secs(5)));
    pool.wait_until_ready().await.unwrap();
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        4,
        "three failures, then success"
    );
    assert_eq!(
        pool.status().idle,
        1,
        "the connection stays open for the next caller"
    );
}

#[tokio::test]
async fn metrics_reach_the_facade() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // The test runs on one thread, so a thread-local recorder receives every call.
    let _guard = metrics::set_default_local_recorder(&recorder);
    let pool = Pool::new(Counting::default(), config(1));
    drop(pool.acquire().await.unwrap());
    drop(pool.acquire().await.unwrap());

    let recorded: Vec<(String, DebugValue)> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| (key.key().name().to_owned(), value))
        .collect();
    let created = recorded
        .iter()
        .find(|(name, _)| name == "covet_pool_connections_created_total");
    assert!(
        matches!(created, Some((_, DebugValue::Counter(1)))),
        "one connection created: {recorded:?}"
    );
    let waits = recorded
        .iter()
        .find(|(name, _)| name == "covet_pool_acquire_wait_seconds");
    assert!(
        matches!(waits, Some((_, DebugValue::Histogram(samples))) if samples.len() == 2),
        "two wait times recorded: {recorded:?}"
    );
}
