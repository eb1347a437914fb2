//! Pool checkout and release, uncontended and contended, across four pools that all hold
//! in-memory SQLite connections, so the figures measure the pools and not a server.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use covet_pool::sqlx_connector::SqlxConnector;
use covet_pool::{Pool, PoolConfig};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool, SqlitePoolOptions};
use sqlx::{ConnectOptions, Connection};

const CONNECTIONS: usize = 8;
const TASKS: usize = 64;

fn options() -> SqliteConnectOptions {
    SqliteConnectOptions::from_str("sqlite::memory:").expect("a valid URL")
}

/// A raw deadpool manager for SQLite connections, with no checks on recycle.
struct DeadpoolSqlite;

impl deadpool::managed::Manager for DeadpoolSqlite {
    type Type = SqliteConnection;
    type Error = sqlx::Error;

    async fn create(&self) -> Result<SqliteConnection, sqlx::Error> {
        options().connect().await
    }

    async fn recycle(
        &self,
        _: &mut SqliteConnection,
        _: &deadpool::managed::Metrics,
    ) -> deadpool::managed::RecycleResult<sqlx::Error> {
        Ok(())
    }
}

/// A bb8 manager for SQLite connections; bb8 pings on checkout by default.
struct Bb8Sqlite;

impl bb8::ManageConnection for Bb8Sqlite {
    type Connection = SqliteConnection;
    type Error = sqlx::Error;

    async fn connect(&self) -> Result<SqliteConnection, sqlx::Error> {
        options().connect().await
    }

    async fn is_valid(&self, conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
        conn.ping().await
    }

    fn has_broken(&self, _: &mut SqliteConnection) -> bool {
        false
    }
}

/// The pools under test, each with `CONNECTIONS` connections and its defaults otherwise.
#[derive(Clone)]
enum Subject {
    Covet(Pool<SqlxConnector<SqliteConnectOptions>>),
    Deadpool(deadpool::managed::Pool<DeadpoolSqlite>),
    Bb8(bb8::Pool<Bb8Sqlite>),
    Sqlx(SqlitePool),
}

impl Subject {
    fn name(&self) -> &'static str {
        match self {
            Subject::Covet(_) => "covet-pool",
            Subject::Deadpool(_) => "deadpool (raw)",
            Subject::Bb8(_) => "bb8",
            Subject::Sqlx(_) => "sqlx Pool",
        }
    }

    async fn checkout(&self) {
        match self {
            Subject::Covet(pool) => drop(pool.acquire().await.expect("covet checkout")),
            Subject::Deadpool(pool) => drop(pool.get().await.expect("deadpool checkout")),
            Subject::Bb8(pool) => drop(pool.get().await.expect("bb8 checkout")),
            Subject::Sqlx(pool) => drop(pool.acquire().await.expect("sqlx checkout")),
        }
    }
}

async fn subjects() -> Vec<Subject> {
    let covet = Pool::new(
        SqlxConnector::new(options(), "sqlite::memory:"),
        PoolConfig::default().max_size(CONNECTIONS),
    );
    let deadpool = deadpool::managed::Pool::builder(DeadpoolSqlite)
        .max_size(CONNECTIONS)
        .build()
        .expect("deadpool builds");
    let bb8 = bb8::Pool::builder()
        .max_size(u32::try_from(CONNECTIONS).expect("small"))
        .build(Bb8Sqlite)
        .await
        .expect("bb8 builds");
    let sqlx = SqlitePoolOptions::new()
        .max_connections(u32::try_from(CONNECTIONS).expect("small"))
        .connect_with(options())
        .await
        .expect("sqlx pool builds");
    vec![
        Subject::Covet(covet),
        Subject::Deadpool(deadpool),
        Subject::Bb8(bb8),
        Subject::Sqlx(sqlx),
    ]
}

/// Times `iterations` checkouts and releases by one task.
async fn uncontended(subject: &Subject, iterations: usize) -> Duration {
    let started = Instant::now();
    for _ in 0..iterations {
        subject.checkout().await;
    }
    started.elapsed()
}

/// Times `TASKS` tasks sharing `CONNECTIONS` connections, each doing `iterations`.
async fn contended(subject: &Subject, iterations: usize) -> Duration {
    let started = Instant::now();
    let subject = Arc::new(subject.clone());
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let subject = Arc::clone(&subject);
            tokio::spawn(async move {
                for _ in 0..iterations {
                    subject.checkout().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a benchmark task finishes");
    }
    started.elapsed()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Runs both workloads in interleaved rounds and prints the results as Markdown.
pub(crate) async fn run(quick: bool) {
    let (rounds, single, per_task) = if quick {
        (3, 2_000, 100)
    } else {
        (9, 20_000, 1_000)
    };
    let subjects = subjects().await;
    for subject in &subjects {
        // Warm every pool to its full size before timing.
        contended(subject, 10).await;
    }
    let mut single_times = vec![Vec::new(); subjects.len()];
    let mut shared_times = vec![Vec::new(); subjects.len()];
    for _ in 0..rounds {
        for (index, subject) in subjects.iter().enumerate() {
            single_times[index].push(uncontended(subject, single).await);
            shared_times[index].push(contended(subject, per_task).await);
        }
    }
    let single_medians: Vec<Duration> = single_times.into_iter().map(median).collect();
    let shared_medians: Vec<Duration> = shared_times.into_iter().map(median).collect();
    let baseline = subjects.len() - 1;
    println!(
        "| pool | uncontended, ns per checkout | ratio to sqlx | {TASKS} tasks on {CONNECTIONS} connections, ns per checkout | ratio to sqlx |"
    );
    println!("|---|---|---|---|---|");
    let total_shared = u32::try_from(TASKS * per_task).expect("small");
    for (index, subject) in subjects.iter().enumerate() {
        let single_ns = single_medians[index].as_nanos() / single as u128;
        let shared_ns = shared_medians[index].as_nanos() / u128::from(total_shared);
        let single_ratio =
            single_medians[index].as_secs_f64() / single_medians[baseline].as_secs_f64();
        let shared_ratio =
            shared_medians[index].as_secs_f64() / shared_medians[baseline].as_secs_f64();
        println!(
            "| {} | {single_ns} | {single_ratio:.2} | {shared_ns} | {shared_ratio:.2} |",
            subject.name()
        );
    }
    if let Subject::Covet(pool) = &subjects[0] {
        let metrics = pool.metrics();
        println!();
        println!(
            "covet-pool health-check round trips during the run: {} (of {} checkouts)",
            metrics.health_checks, metrics.acquires
        );
    }
    println!();
    println!(
        "rounds: {rounds}, median of each; uncontended: {single} checkouts per round; contended: {per_task} per task per round"
    );
}
