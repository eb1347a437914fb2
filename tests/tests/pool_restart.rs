//! The pool while its server stops or crashes and comes back, under load.
//!
//! Each test starts a private PostgreSQL or MariaDB instance (see `support::servers`) and
//! runs `SELECT 1` in a loop on 8 tasks through a pool of 4 connections. Meanwhile it takes
//! the server down for about 2 s and starts it again on the same port. Every query's start,
//! duration and outcome is recorded, and the test checks that:
//!
//! - no query takes longer than the acquire timeout plus the connect timeout plus 1 s,
//! - queries fail only around the outage, and then with `ErrorKind::Connection` or
//!   `ErrorKind::PoolTimeout`,
//! - a query succeeds within 1 s after the restart finished, and every query started
//!   later than that succeeds,
//! - afterwards no connection is still checked out and the pool is within its size.
//!
//! The pool keeps its default `health_check_after` (500 ms), so connections in constant use
//! are handed out without a round trip. A connection that the outage ended then fails its
//! next query, which must come back as a connection error and discard the connection. With
//! `health_check_after(Duration::ZERO)` the checkout ping catches most of those connections
//! first, so fewer queries reach that path.
//!
//! The tests take turns, so that one test's server start does not skew another's timings on
//! a small machine. Run with `--nocapture` to see the measured figures.

mod support;

use std::error::Error as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use covet::{ConnectOptions, Database, ErrorKind};

use support::servers::{Server, ServerKind};

const TASKS: usize = 8;
const MAX_CONNECTIONS: usize = 4;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the queries run before the server goes down.
const WARM_UP: Duration = Duration::from_secs(1);
/// How long the server stays down, counted from the start of the stop or kill.
const OUTAGE: Duration = Duration::from_secs(2);
/// How soon after the restart finished queries must succeed again.
const RECOVERY_LIMIT: Duration = Duration::from_secs(1);
/// How long the queries keep running after the restart finished.
const AFTER_RESTART: Duration = Duration::from_secs(3);

/// Makes the tests of this file run one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How the server is taken down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outage {
    /// A graceful stop: `pg_ctl stop -m fast`, or SIGTERM to mariadbd.
    Stop,
    /// SIGKILL to the PostgreSQL postmaster or to mariadbd.
    Kill,
}

/// One query's outcome. Times are offsets from the start of the load.
#[derive(Debug)]
struct Sample {
    started: Duration,
    duration: Duration,
    outcome: Result<(), Failure>,
}

impl Sample {
    fn ended(&self) -> Duration {
        self.started + self.duration
    }
}

#[derive(Debug)]
struct Failure {
    kind: ErrorKind,
    /// The error's message followed by its sources.
    message: String,
}

/// Offsets from the start of the load at which the outage began and ended.
#[derive(Debug)]
struct Timeline {
    /// The stop or kill command was issued.
    outage_start: Duration,
    /// The server had exited.
    down: Duration,
    /// The restarted server completed a `SELECT 1`.
    restart_done: Duration,
}

fn describe(error: &covet::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// Runs `SELECT 1` in a loop until `stop` is set, and returns every query's outcome.
async fn query_loop(db: Database, load_start: Instant, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let mut samples = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let started = load_start.elapsed();
        let clock = Instant::now();
        let result = covet::raw("SELECT 1").fetch_with(&db, |_| Ok(())).await;
        let duration = clock.elapsed();
        let outcome = result.map(drop).map_err(|error| Failure {
            kind: error.kind(),
            message: describe(&error),
        });
        samples.push(Sample {
            started,
            duration,
            outcome,
        });
        // A 1 ms pause between queries leaves CPU time for the server on a small machine.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    samples
}

fn format_samples<'a>(samples: impl Iterator<Item = &'a Sample>) -> String {
    let mut lines = Vec::new();
    for sample in samples.take(10) {
        let outcome = match &sample.outcome {
            Ok(()) => String::from("ok"),
            Err(failure) => format!("{:?}: {}", failure.kind, failure.message),
        };
        lines.push(format!(
            "  started at {:?}, took {:?}: {outcome}",
            sample.started, sample.duration
        ));
    }
    lines.join("\n")
}

async fn restart_under_load(kind: ServerKind, outage: Outage) {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Some(mut server) = Server::start(kind).await else {
        return;
    };
    let options = ConnectOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT);
    let db = Database::connect_with(&server.url(), options)
        .await
        .expect("connect to the private server");

    let load_start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| tokio::spawn(query_loop(db.clone(), load_start, Arc::clone(&stop))))
        .collect();

    tokio::time::sleep(WARM_UP).await;
    let outage_start = load_start.elapsed();
    let taken_down = match outage {
        Outage::Stop => server.stop().await,
        Outage::Kill => server.kill().await,
    };
    if let Err(error) = taken_down {
        panic!("taking the {kind:?} server down ({outage:?}) failed: {error}");
    }
    let down = load_start.elapsed();
    tokio::time::sleep((outage_start + OUTAGE).saturating_sub(down)).await;
    let restart_start = load_start.elapsed();
    if let Err(error) = server.start_again().await {
        panic!("restarting the {kind:?} server failed: {error}");
    }
    let restart_done = load_start.elapsed();
    tokio::time::sleep(AFTER_RESTART).await;

    stop.store(true, Ordering::Relaxed);
    // A loop ends within one query, which the pool's timeouts bound. A hung query fails
    // the test here instead of hanging it.
    let join_limit = ACQUIRE_TIMEOUT + CONNECT_TIMEOUT + Duration::from_secs(5);
    let mut samples = Vec::new();
    for task in tasks {
        match tokio::time::timeout(join_limit, task).await {
            Ok(Ok(task_samples)) => samples.extend(task_samples),
            Ok(Err(error)) => panic!("a query task failed: {error}"),
            Err(_) => panic!("a query task did not finish within {join_limit:?}: a query hung"),
        }
    }
    samples.sort_by_key(|sample| sample.started);
    let timeline = Timeline {
        outage_start,
        down,
        restart_done,
    };
    let status = db.pool_status();
    let metrics = db.pool_metrics();
    db.close();

    report(kind, outage, &timeline, restart_start, &samples);
    println!("[{kind:?} {outage:?}] pool at the end: {status}; {metrics:?}");
    check(&timeline, &samples);
    assert_eq!(
        status.in_use, 0,
        "connections still checked out after every query ended: {status}"
    );
    assert!(
        status.size <= MAX_CONNECTIONS,
        "the pool holds more connections than its maximum: {status}"
    );
    drop(server);
}

/// Returns how long after the restart finished the first query succeeded, zero when one
/// succeeded before the readiness check of the restart returned.
fn first_success_after_restart(timeline: &Timeline, samples: &[Sample]) -> Option<Duration> {
    samples
        .iter()
        .filter(|sample| sample.outcome.is_ok() && sample.ended() > timeline.down)
        .map(Sample::ended)
        .min()
        .map(|ended| ended.saturating_sub(timeline.restart_done))
}

fn report(
    kind: ServerKind,
    outage: Outage,
    timeline: &Timeline,
    restart_start: Duration,
    samples: &[Sample],
) {
    let label = format!("[{kind:?} {outage:?}]");
    let failures: Vec<&Failure> = samples
        .iter()
        .filter_map(|sample| sample.outcome.as_ref().err())
        .collect();
    let count = |wanted: ErrorKind| failures.iter().filter(|f| f.kind == wanted).count();
    let longest = samples.iter().map(|sample| sample.duration).max();
    println!(
        "{label} outage began at {:?}, server down at {:?}, restart began at {restart_start:?} \
         and finished at {:?}",
        timeline.outage_start, timeline.down, timeline.restart_done
    );
    println!(
        "{label} {} queries: {} failed ({} Connection, {} PoolTimeout, {} other)",
        samples.len(),
        failures.len(),
        count(ErrorKind::Connection),
        count(ErrorKind::PoolTimeout),
        failures.len() - count(ErrorKind::Connection) - count(ErrorKind::PoolTimeout)
    );
    let mut messages: Vec<String> = failures
        .iter()
        .map(|failure| format!("{:?}: {}", failure.kind, failure.message))
        .collect();
    messages.sort();
    messages.dedup();
    for message in messages {
        println!("{label} failure seen: {message}");
    }
    println!(
        "{label} time to first success after the restart: {:?}; longest query: {longest:?}",
        first_success_after_restart(timeline, samples)
    );
}

fn check(timeline: &Timeline, samples: &[Sample]) {
    let limit = ACQUIRE_TIMEOUT + CONNECT_TIMEOUT + Duration::from_secs(1);
    let slow: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.duration > limit)
        .collect();
    assert!(
        slow.is_empty(),
        "{} queries took longer than {limit:?}:\n{}",
        slow.len(),
        format_samples(slow.into_iter())
    );

    let succeeded_before = samples
        .iter()
        .filter(|sample| sample.outcome.is_ok() && sample.ended() < timeline.outage_start)
        .count();
    assert!(succeeded_before > 0, "no query succeeded before the outage");

    let wrong_kind: Vec<&Sample> = samples
        .iter()
        .filter(|sample| {
            sample.outcome.as_ref().is_err_and(|failure| {
                !matches!(failure.kind, ErrorKind::Connection | ErrorKind::PoolTimeout)
            })
        })
        .collect();
    assert!(
        wrong_kind.is_empty(),
        "{} queries failed with a kind other than Connection or PoolTimeout:\n{}",
        wrong_kind.len(),
        format_samples(wrong_kind.into_iter())
    );

    let before_outage: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.outcome.is_err() && sample.ended() < timeline.outage_start)
        .collect();
    assert!(
        before_outage.is_empty(),
        "{} queries failed before the outage began at {:?}:\n{}",
        before_outage.len(),
        timeline.outage_start,
        format_samples(before_outage.into_iter())
    );

    let recovery = first_success_after_restart(timeline, samples);
    assert!(
        recovery.is_some(),
        "no query succeeded after the restart finished at {:?}",
        timeline.restart_done
    );
    assert!(
        recovery <= Some(RECOVERY_LIMIT),
        "the first query succeeded {recovery:?} after the restart finished, more than \
         {RECOVERY_LIMIT:?}"
    );

    let recovered_at = timeline.restart_done + RECOVERY_LIMIT;
    let after_recovery: Vec<&Sample> = samples
        .iter()
        .filter(|sample| sample.outcome.is_err() && sample.started >= recovered_at)
        .collect();
    assert!(
        after_recovery.is_empty(),
        "{} queries started after {recovered_at:?}, {RECOVERY_LIMIT:?} after the restart \
         finished, and failed:\n{}",
        after_recovery.len(),
        format_samples(after_recovery.into_iter())
    );
}

mod graceful_restart {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        restart_under_load(ServerKind::Postgres, Outage::Stop).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        restart_under_load(ServerKind::MariaDb, Outage::Stop).await;
    }
}

mod killed_and_restarted {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        restart_under_load(ServerKind::Postgres, Outage::Kill).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        restart_under_load(ServerKind::MariaDb, Outage::Kill).await;
    }
}
