//! Read replicas: routing, lag and health checks, and read-your-writes sessions.
//!
//! The PostgreSQL tests run against a real streaming replica: each starts a private
//! primary (see `support::servers`), copies it with `pg_basebackup -R` into a hot standby
//! on another loopback port, and waits until the standby replays. `pg_is_in_recovery()`
//! returns which server ran a read: true on the standby, false on the primary.
//!
//! One MariaDB test runs a real replica too: a private primary with a binary log and a
//! private replica that replicates from it, where `@@server_id` returns which server ran a
//! read. The other MySQL tests give two databases of the shared MariaDB server the roles
//! of primary and replica, and `SELECT DATABASE()` returns which one ran a read. That
//! shows the routing, and that a server which is not a replica has no measurable lag.
//! SQLite rejects replicas.

mod support;

use std::fmt;
use std::future::Future;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use covet::{ConnectOptions, Database, Error, ErrorKind, Executor, Model, ReplicaStatus};
use futures_util::TryStreamExt as _;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use support::servers::{Server, ServerKind};
use support::{Backend, TestDb};

/// How long a condition that depends on replication may take to become true.
const EVENTUALLY: Duration = Duration::from_secs(20);
/// How often the background task checks each replica in these tests.
const CHECK_INTERVAL: Duration = Duration::from_millis(100);
const PASSWORD: &str = "Replica5ecretPw";

/// A private PostgreSQL primary and its hot standby. Dropping it stops both.
struct Cluster {
    primary: Server,
    standby: Server,
}

impl Cluster {
    /// Starts a primary and a standby, and waits until the standby replays a table created
    /// on the primary.
    async fn start() -> Option<Self> {
        let primary = Server::start(ServerKind::Postgres).await?;
        let standby = Server::start_standby(&primary).await?;
        let cluster = Self { primary, standby };
        let primary_db = connect(&cluster.primary.url()).await;
        execute(&primary_db, "CREATE TABLE replayed (id BIGINT)").await;
        let standby_db = connect(&cluster.standby.url()).await;
        eventually("the standby replays the primary's first table", || {
            table_exists(&standby_db, "replayed")
        })
        .await;
        primary_db.close();
        standby_db.close();
        Some(cluster)
    }

    /// Options with the standby as the one replica.
    fn options(&self) -> ConnectOptions {
        quick_options()
            .replica(self.standby.url())
            .replica_check_interval(CHECK_INTERVAL)
    }
}

fn quick_options() -> ConnectOptions {
    ConnectOptions::new()
        .connect_timeout(Duration::from_secs(2))
        .acquire_timeout(Duration::from_secs(3))
}

async fn connect(url: &str) -> Database {
    Database::connect_with(url, quick_options())
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"))
}

async fn connect_routed(url: &str, options: ConnectOptions) -> Database {
    Database::connect_with(url, options)
        .await
        .unwrap_or_else(|error| panic!("connect to {url} with replicas: {error}"))
}

async fn execute<E: Executor>(db: &E, sql: &str) {
    covet::raw(sql)
        .execute(db)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Returns whether the server that ran the read is a standby.
async fn in_recovery<E: Executor>(db: &E) -> bool {
    covet::raw("SELECT pg_is_in_recovery()")
        .fetch_scalar::<bool, _>(db)
        .await
        .unwrap_or_else(|error| panic!("SELECT pg_is_in_recovery(): {error}"))
        .expect("SELECT returns one row")
}

async fn count<E: Executor>(db: &E, table: &str) -> i64 {
    let sql = format!("SELECT count(*) FROM {table}");
    covet::raw(&sql)
        .fetch_scalar::<i64, _>(db)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
        .expect("count(*) returns one row")
}

/// Returns whether the server that runs the read has `table` with `rows` rows.
async fn has_rows<E: Executor>(db: &E, table: &str, rows: i64) -> bool {
    let sql = format!("SELECT count(*) FROM {table}");
    let counted = covet::raw(&sql).fetch_scalar::<i64, _>(db).await;
    matches!(counted, Ok(Some(counted)) if counted == rows)
}

async fn table_exists(db: &Database, table: &str) -> bool {
    covet::raw("SELECT count(*) FROM pg_tables WHERE tablename = $1")
        .bind(table)
        .fetch_scalar::<i64, _>(db)
        .await
        .expect("query pg_tables")
        == Some(1)
}

/// Polls `check` until it returns true, and fails the test after [`EVENTUALLY`].
async fn eventually<F, Fut>(condition: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + EVENTUALLY;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {EVENTUALLY:?} waiting until {condition}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Pauses WAL replay on a standby and waits until replay has stopped.
async fn pause_replay(standby: &Database) {
    covet::raw("SELECT pg_wal_replay_pause()")
        .fetch_with(standby, |_| Ok(()))
        .await
        .expect("pause replay");
    eventually("replay is paused", || async {
        covet::raw("SELECT pg_get_wal_replay_pause_state()")
            .fetch_scalar::<String, _>(standby)
            .await
            .expect("read the pause state")
            .as_deref()
            == Some("paused")
    })
    .await;
}

async fn resume_replay(standby: &Database) {
    covet::raw("SELECT pg_wal_replay_resume()")
        .fetch_with(standby, |_| Ok(()))
        .await
        .expect("resume replay");
}

fn only_replica(db: &Database) -> ReplicaStatus {
    let statuses = db.replica_status();
    assert_eq!(statuses.len(), 1, "one replica: {statuses:?}");
    statuses.into_iter().next().expect("one replica")
}

/// Returns a loopback port with no listener: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("bound address").port()
}

/// The table the routing test writes on the primary and reads back.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "items")]
struct Item {
    #[covet(primary_key)]
    id: i64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reads_go_to_replica() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let db = connect_routed(&cluster.primary.url(), cluster.options()).await;

    assert!(in_recovery(&db).await, "a read runs on the standby");
    assert!(
        !in_recovery(&db.primary()).await,
        "a read through primary() runs on the primary"
    );
    let before = only_replica(&db);
    assert!(before.reachable, "{before:?}");
    assert!(before.usable, "{before:?}");
    // WAL the idle primary writes now and then, such as its running-transactions record,
    // can make one check see the standby behind for a moment.
    eventually("a check finds the idle standby current", || async {
        db.check_replicas().await[0].lag == Some(Duration::ZERO)
    })
    .await;
    assert!(before.pool.is_some(), "the replica has its own pool");

    // DDL and writes would fail on the read-only standby.
    execute(&db, "CREATE TABLE items (id BIGINT PRIMARY KEY)").await;
    execute(&db, "INSERT INTO items (id) VALUES (1)").await;
    eventually("a routed read sees the write", || has_rows(&db, "items", 1)).await;
    let reads_before = only_replica(&db).reads;
    assert!(in_recovery(&db).await, "reads still go to the standby");
    assert_eq!(only_replica(&db).reads, reads_before + 1);

    // A row stream reads from the standby too, and one through primary() does not.
    let streamed: Vec<Item> = Item::query()
        .stream(&db)
        .try_collect()
        .await
        .expect("stream");
    assert_eq!(streamed, [Item { id: 1 }]);
    assert_eq!(only_replica(&db).reads, reads_before + 2);
    let primary = db.primary();
    let streamed: Vec<Item> = Item::query()
        .stream(&primary)
        .try_collect()
        .await
        .expect("stream on the primary");
    assert_eq!(streamed.len(), 1);
    assert_eq!(only_replica(&db).reads, reads_before + 2);

    let in_transaction = db
        .transaction(|tx| async move { Ok::<_, Error>(in_recovery(&tx).await) })
        .await
        .expect("transaction");
    assert!(!in_transaction, "a transaction runs on the primary");
    let tx = db.begin().await.expect("begin");
    assert!(
        !in_recovery(&tx).await,
        "a begun transaction runs on the primary"
    );
    tx.rollback().await.expect("rollback");
    let dedicated = db
        .dedicated_connection()
        .await
        .expect("dedicated connection");
    assert!(
        !in_recovery(&dedicated).await,
        "a dedicated connection is on the primary"
    );

    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_lag_bound_falls_back() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let max_lag = Duration::from_millis(500);
    let options = cluster.options().max_replica_lag(max_lag);
    let db = connect_routed(&cluster.primary.url(), options).await;
    let standby = connect(&cluster.standby.url()).await;
    execute(&db, "CREATE TABLE items (id BIGINT)").await;
    eventually("the standby has the table", || {
        table_exists(&standby, "items")
    })
    .await;
    eventually("a current standby serves reads", || in_recovery(&db)).await;

    pause_replay(&standby).await;
    execute(&db, "INSERT INTO items (id) VALUES (1)").await;
    eventually("the lag check skips the paused standby", || async {
        !only_replica(&db).usable
    })
    .await;
    let status = only_replica(&db);
    assert!(status.reachable, "a paused standby is still up: {status:?}");
    assert!(
        status.lag.is_some_and(|lag| lag > max_lag),
        "the lag is above the bound: {status:?}"
    );
    assert!(!in_recovery(&db).await, "reads fall back to the primary");
    assert_eq!(count(&db, "items").await, 1, "the read sees the write");
    assert_eq!(count(&standby, "items").await, 0, "the standby is behind");

    resume_replay(&standby).await;
    eventually("the caught-up standby serves reads again", || {
        in_recovery(&db)
    })
    .await;
    assert_eq!(count(&db, "items").await, 1);

    standby.close();
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_session_reads_own_writes() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    // No lag bound, so plain reads keep going to the paused standby.
    let db = connect_routed(&cluster.primary.url(), cluster.options()).await;
    let standby = connect(&cluster.standby.url()).await;
    execute(&db, "CREATE TABLE items (id BIGINT)").await;
    eventually("the standby has the table", || {
        table_exists(&standby, "items")
    })
    .await;
    pause_replay(&standby).await;

    let session = db.session();
    assert!(
        in_recovery(&session).await,
        "a session that has not written reads from the standby"
    );
    execute(&session, "INSERT INTO items (id) VALUES (1)").await;
    assert_eq!(
        count(&session, "items").await,
        1,
        "the session sees its write"
    );
    assert!(
        !in_recovery(&session).await,
        "the session reads from the primary while the standby is behind"
    );
    assert_eq!(
        count(&db, "items").await,
        0,
        "plain reads hit the stale standby"
    );

    resume_replay(&standby).await;
    eventually("the session reads from the caught-up standby", || {
        in_recovery(&session)
    })
    .await;
    assert_eq!(count(&session, "items").await, 1);

    pause_replay(&standby).await;
    session
        .transaction(|tx| async move {
            covet::raw("INSERT INTO items (id) VALUES (2)")
                .execute(&tx)
                .await
        })
        .await
        .expect("transaction");
    assert_eq!(
        count(&session, "items").await,
        2,
        "the session sees its committed transaction"
    );
    assert_eq!(count(&db, "items").await, 1, "the standby is behind again");

    resume_replay(&standby).await;
    eventually("the standby replays the transaction", || {
        has_rows(&standby, "items", 2)
    })
    .await;
    let tx = session.begin().await.expect("begin");
    tx.commit().await.expect("commit");
    assert!(
        !in_recovery(&session).await,
        "after begin() the session reads from the primary"
    );
    assert!(in_recovery(&db).await, "other reads still use the standby");

    standby.close();
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_replica_skipped() {
    let Some(mut cluster) = Cluster::start().await else {
        return;
    };
    let db = connect_routed(&cluster.primary.url(), cluster.options()).await;
    assert!(in_recovery(&db).await, "the standby serves reads");

    cluster.standby.stop().await.expect("stop the standby");
    for _ in 0..5 {
        assert!(
            !in_recovery(&db).await,
            "reads succeed on the primary while the standby is down"
        );
    }
    let status = only_replica(&db);
    assert!(!status.reachable, "the standby is down: {status:?}");
    assert!(!status.usable, "{status:?}");
    assert!(status.error.is_some(), "the failure is kept: {status:?}");

    cluster
        .standby
        .start_again()
        .await
        .expect("start the standby");
    eventually("reads return to the restarted standby", || in_recovery(&db)).await;
    assert!(only_replica(&db).reachable);

    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_check_replicas_on_demand() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    // A background interval far beyond the test, so only on-demand checks run.
    let options = quick_options()
        .replica(cluster.standby.url())
        .replica_check_interval(Duration::from_secs(3600))
        .max_replica_lag(Duration::from_millis(300));
    let db = connect_routed(&cluster.primary.url(), options).await;
    let standby = connect(&cluster.standby.url()).await;
    eventually("a check finds the standby current", || async {
        db.check_replicas().await[0].usable
    })
    .await;
    assert!(in_recovery(&db).await, "a current standby serves reads");

    pause_replay(&standby).await;
    execute(&db, "CREATE TABLE items (id BIGINT)").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        in_recovery(&db).await,
        "without a check the standby keeps serving reads"
    );
    // The standby may receive the WAL of CREATE TABLE a moment later on a busy machine,
    // and until then it counts as current.
    eventually("an on-demand check sees the lag", || async {
        !db.check_replicas().await[0].usable
    })
    .await;
    assert!(
        !in_recovery(&db).await,
        "reads go to the primary after the check"
    );

    resume_replay(&standby).await;
    eventually("an on-demand check finds the standby current", || async {
        db.check_replicas().await[0].usable
    })
    .await;
    assert!(in_recovery(&db).await);

    standby.close();
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migrations_use_primary() {
    let Some(cluster) = Cluster::start().await else {
        return;
    };
    let db = connect_routed(&cluster.primary.url(), cluster.options()).await;
    let standby = connect(&cluster.standby.url()).await;
    pause_replay(&standby).await;
    let migration =
        covet_migrate::Migration::sql(1, "create items", "CREATE TABLE items (id BIGINT)", None)
            .expect("valid migration");
    let set = covet_migrate::MigrationSet::new([migration]).expect("one migration");
    let migrator = covet_migrate::Migrator::new(set);

    let report = migrator
        .up(&db, None)
        .await
        .expect("migrate on the primary");
    assert_eq!(report.applied.len(), 1, "{report:?}");
    // The paused standby has no history table yet, so only the primary has the result.
    let status = migrator.status(&db).await.expect("status");
    assert_eq!(status.pending().count(), 0, "{status}");
    let drift = migrator.verify(&db).await.expect("verify");
    assert!(drift.is_empty(), "{drift:?}");
    assert!(
        !table_exists(&standby, "items").await,
        "the standby is behind"
    );

    resume_replay(&standby).await;
    standby.close();
    db.close();
}

/// A tracing layer that keeps the text of every event.
#[derive(Clone, Default)]
struct EventRecorder {
    lines: Arc<Mutex<Vec<String>>>,
}

struct LineVisitor<'a>(&'a mut String);

impl Visit for LineVisitor<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl<S: Subscriber> Layer<S> for EventRecorder {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let mut line = format!("{} {}", event.metadata().target(), event.metadata().level());
        event.record(&mut LineVisitor(&mut line));
        self.lines.lock().expect("recorder lock").push(line);
    }
}

/// Checks on one backend that an unreachable replica's password stays out of `Debug`,
/// the replica status and the logs, while the database opens and reads from the primary.
async fn unreachable_replica_hides_password(backend: Backend) {
    let recorder = EventRecorder::default();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let guard = tracing::subscriber::set_default(subscriber);
    let Some(primary) = TestDb::create(backend, "replica_password", quick_options()).await else {
        return;
    };
    let (scheme, one) = if backend == Backend::Postgres {
        ("postgres", "SELECT 1::int8")
    } else {
        ("mysql", "SELECT CAST(1 AS SIGNED)")
    };
    let replica = format!(
        "{scheme}://root:{PASSWORD}@127.0.0.1:{}/test",
        closed_port()
    );
    let options = quick_options().replica(&replica);
    assert!(!format!("{options:?}").contains(PASSWORD), "{options:?}");

    let db = connect_routed(&primary.url, options).await;
    let scalar = covet::raw(one).fetch_scalar::<i64, _>(&db).await;
    assert_eq!(scalar.expect("the read runs on the primary"), Some(1));
    let status = only_replica(&db);
    assert!(!status.reachable, "{status:?}");
    let error = status.error.clone().expect("the connect error is kept");
    assert!(
        error.contains("127.0.0.1"),
        "the error names the replica: {error}"
    );
    for text in [format!("{db:?}"), format!("{status:?}"), error] {
        assert!(!text.contains(PASSWORD), "the password leaks: {text}");
    }
    db.close();
    drop(guard);
    let lines = recorder.lines.lock().expect("recorder lock").clone();
    assert!(
        lines
            .iter()
            .any(|line| line.contains("replica unreachable")),
        "the unreachable replica is logged: {lines:#?}"
    );
    for line in lines {
        assert!(
            !line.contains(PASSWORD),
            "the password leaks into a log: {line}"
        );
    }
    primary.cleanup().await;
}

#[tokio::test]
async fn postgres_replica_password_hidden() {
    unreachable_replica_hides_password(Backend::Postgres).await;
}

#[tokio::test]
async fn mysql_replica_password_hidden() {
    unreachable_replica_hides_password(Backend::MySql).await;
}

async fn current_database<E: Executor>(db: &E) -> String {
    covet::raw("SELECT DATABASE()")
        .fetch_scalar::<String, _>(db)
        .await
        .expect("SELECT DATABASE()")
        .expect("a database is selected")
}

/// Creates two databases on the shared MariaDB server, for the primary and the replica.
async fn mysql_pair(test: &str) -> Option<(TestDb, TestDb)> {
    let primary = TestDb::create(Backend::MySql, test, quick_options()).await?;
    let replica = TestDb::create(Backend::MySql, test, quick_options()).await?;
    Some((primary, replica))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_reads_go_to_replica() {
    let Some((primary, replica)) = mysql_pair("mysql_routing").await else {
        return;
    };
    let primary_name = current_database(&primary.db).await;
    let replica_name = current_database(&replica.db).await;
    let options = quick_options()
        .replica(&replica.url)
        .replica_check_interval(CHECK_INTERVAL);
    let db = connect_routed(&primary.url, options).await;

    assert_eq!(
        current_database(&db).await,
        replica_name,
        "reads go to the replica"
    );
    assert_eq!(current_database(&db.primary()).await, primary_name);
    let in_transaction = db
        .transaction(|tx| async move { Ok::<_, Error>(current_database(&tx).await) })
        .await
        .expect("transaction");
    assert_eq!(
        in_transaction, primary_name,
        "transactions run on the primary"
    );
    let status = only_replica(&db);
    assert!(status.usable, "{status:?}");
    assert_eq!(
        status.lag, None,
        "a server that is not a replica has no lag"
    );

    execute(&db, "CREATE TABLE items (id BIGINT)").await;
    assert!(
        covet::raw("SELECT count(*) FROM items")
            .fetch_scalar::<i64, _>(&db.primary())
            .await
            .is_ok(),
        "the table was created on the primary"
    );
    let session = db.session();
    assert_eq!(current_database(&session).await, replica_name);
    execute(&session, "INSERT INTO items (id) VALUES (1)").await;
    assert_eq!(
        current_database(&session).await,
        primary_name,
        "after a write the session reads from the primary"
    );

    db.close();
    primary.cleanup().await;
    replica.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_replicas_take_turns() {
    let Some((primary, first)) = mysql_pair("mysql_turns").await else {
        return;
    };
    let Some(second) = TestDb::create(Backend::MySql, "mysql_turns", quick_options()).await else {
        return;
    };
    let first_name = current_database(&first.db).await;
    let second_name = current_database(&second.db).await;
    let options = quick_options().replica(&first.url).replica(&second.url);
    let db = connect_routed(&primary.url, options).await;

    let mut served = Vec::new();
    for _ in 0..4 {
        served.push(current_database(&db).await);
    }
    let by_first = served.iter().filter(|name| **name == first_name).count();
    let by_second = served.iter().filter(|name| **name == second_name).count();
    assert_eq!(by_first, 2, "round robin: {served:?}");
    assert_eq!(by_second, 2, "round robin: {served:?}");
    assert_ne!(
        served[0], served[1],
        "consecutive reads alternate: {served:?}"
    );
    let reads: Vec<u64> = db
        .replica_status()
        .iter()
        .map(|status| status.reads)
        .collect();
    assert_eq!(reads, vec![2, 2]);

    db.close();
    primary.cleanup().await;
    first.cleanup().await;
    second.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_unknown_lag_skipped() {
    let Some((primary, replica)) = mysql_pair("mysql_lag").await else {
        return;
    };
    let primary_name = current_database(&primary.db).await;
    let options = quick_options()
        .replica(&replica.url)
        .max_replica_lag(Duration::from_secs(5));
    let db = connect_routed(&primary.url, options).await;

    let status = only_replica(&db);
    assert!(status.reachable, "{status:?}");
    assert!(!status.usable, "a lag bound needs a known lag: {status:?}");
    assert_eq!(current_database(&db).await, primary_name);

    db.close();
    primary.cleanup().await;
    replica.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_denied_lag_query_keeps_replica() {
    let Some((primary, replica)) = mysql_pair("mysql_denied").await else {
        return;
    };
    let replica_name = current_database(&replica.db).await;
    // A user that may read the replica's database but not run SHOW REPLICA STATUS.
    let user = format!("covet_lag_{}", std::process::id());
    execute(&primary.db, &format!("CREATE USER '{user}'@'%'")).await;
    let grant = format!("GRANT SELECT ON `{replica_name}`.* TO '{user}'@'%'");
    execute(&primary.db, &grant).await;
    let mut limited = url::Url::parse(&replica.url).expect("valid replica URL");
    limited.set_username(&user).expect("the URL takes a user");
    let options = quick_options()
        .replica(limited.as_str())
        .replica_check_interval(CHECK_INTERVAL);
    let db = connect_routed(&primary.url, options).await;

    let status = only_replica(&db);
    assert!(
        status.reachable,
        "a denied lag query is no outage: {status:?}"
    );
    assert_eq!(status.lag, None, "the lag is unknown: {status:?}");
    assert!(
        status.usable,
        "without a lag bound it serves reads: {status:?}"
    );
    assert_eq!(current_database(&db).await, replica_name);

    db.close();
    execute(&primary.db, &format!("DROP USER '{user}'@'%'")).await;
    primary.cleanup().await;
    replica.cleanup().await;
}

async fn execute_text(db: &Database, sql: &str) {
    covet::raw(sql)
        .execute_unprepared(db)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Returns the `server_id` of the MariaDB server that ran the read.
async fn server_id<E: Executor>(db: &E) -> i64 {
    covet::raw("SELECT CAST(@@server_id AS SIGNED)")
        .fetch_scalar::<i64, _>(db)
        .await
        .expect("SELECT @@server_id")
        .expect("one row")
}

/// Starts a private MariaDB primary with a binary log and a replica that replicates its
/// database `app`, and waits until the replica has the database.
async fn mariadb_replication() -> Option<(Server, Server)> {
    let primary_args = ["--log-bin=primary-bin", "--server-id=1"];
    let primary = Server::start_with(ServerKind::MariaDb, &primary_args).await?;
    let replica = Server::start_with(ServerKind::MariaDb, &["--server-id=2"]).await?;
    let replica_admin = connect(&replica.url()).await;
    let change = format!(
        "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'root', \
         MASTER_USE_GTID = slave_pos",
        primary.port()
    );
    execute_text(&replica_admin, &change).await;
    execute_text(&replica_admin, "START SLAVE").await;
    let primary_admin = connect(&primary.url()).await;
    execute_text(&primary_admin, "CREATE DATABASE app").await;
    eventually("the replica has the database", || async {
        covet::raw("SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'app'")
            .fetch_scalar::<i64, _>(&replica_admin)
            .await
            .expect("query information_schema")
            == Some(1)
    })
    .await;
    primary_admin.close();
    replica_admin.close();
    Some((primary, replica))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_replica_lag_measured() {
    let Some((primary, replica)) = mariadb_replication().await else {
        return;
    };
    let options = quick_options()
        .replica(support::with_database(&replica.url(), "app"))
        .replica_check_interval(CHECK_INTERVAL)
        .max_replica_lag(Duration::from_secs(30));
    let db = connect_routed(&support::with_database(&primary.url(), "app"), options).await;
    let status = only_replica(&db);
    assert!(status.usable, "a running replica serves reads: {status:?}");
    assert!(
        status.lag.is_some_and(|lag| lag <= Duration::from_secs(30)),
        "Seconds_Behind_Master is read: {status:?}"
    );
    assert_eq!(server_id(&db).await, 2, "reads go to the replica");
    assert_eq!(server_id(&db.primary()).await, 1);

    execute(&db, "CREATE TABLE items (id BIGINT)").await;
    execute(&db, "INSERT INTO items (id) VALUES (1)").await;
    eventually("a routed read sees the write", || has_rows(&db, "items", 1)).await;

    let replica_admin = connect(&replica.url()).await;
    execute_text(&replica_admin, "STOP SLAVE SQL_THREAD").await;
    eventually("the stopped replication is skipped", || async {
        !only_replica(&db).usable
    })
    .await;
    let status = only_replica(&db);
    assert!(status.reachable, "{status:?}");
    assert_eq!(
        status.lag, None,
        "a stopped SQL thread has no lag: {status:?}"
    );
    assert_eq!(server_id(&db).await, 1, "reads fall back to the primary");

    execute_text(&replica_admin, "START SLAVE SQL_THREAD").await;
    eventually("the restarted replication serves reads", || async {
        server_id(&db).await == 2
    })
    .await;

    replica_admin.close();
    db.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_rejects_bad_replica_settings() {
    let Some(primary) = TestDb::create(Backend::MySql, "mysql_settings", quick_options()).await
    else {
        return;
    };
    let postgres_replica = format!("postgres://root:{PASSWORD}@127.0.0.1:5432/test");
    let error = Database::connect_with(&primary.url, quick_options().replica(&postgres_replica))
        .await
        .expect_err("a PostgreSQL replica of a MariaDB primary");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    assert!(error.to_string().contains("same backend"), "{error}");
    assert!(!error.to_string().contains(PASSWORD), "{error}");

    let zero_interval = quick_options()
        .replica(&primary.url)
        .replica_check_interval(Duration::ZERO);
    let error = Database::connect_with(&primary.url, zero_interval)
        .await
        .expect_err("a zero check interval");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    assert!(
        error.to_string().contains("replica_check_interval"),
        "{error}"
    );

    let malformed = format!("mysql://root:{PASSWORD}@127.0.0.1:notaport/test");
    let error = Database::connect_with(&primary.url, quick_options().replica(&malformed))
        .await
        .expect_err("a malformed replica URL");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
    assert!(!format!("{error:?}").contains(PASSWORD), "{error:?}");

    primary.cleanup().await;
}

#[tokio::test]
async fn sqlite_rejects_replicas() {
    let directory = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", directory.path().join("app.db").display());
    let replica = format!("sqlite://{}", directory.path().join("copy.db").display());
    let error = Database::connect_with(&url, ConnectOptions::new().replica(replica))
        .await
        .expect_err("SQLite has no replicas");
    assert_eq!(error.kind(), ErrorKind::Unsupported, "{error:?}");
    let message = error.to_string();
    assert!(message.contains("sqlite"), "{message}");
    assert!(message.contains("read replicas"), "{message}");
    assert!(message.contains("share one Database handle"), "{message}");
}
