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
