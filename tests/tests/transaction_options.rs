//! Isolation levels and read-only transactions, on every backend.
//!
//! Every test runs on a pool of one connection, so each transaction reuses the connection
//! of the one before it, and a setting that outlived its transaction would show.

mod support;

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::Poll;

use covet::{ConnectOptions, Database, ErrorKind, Executor, IsolationLevel, Model};
use covet::{Transaction, TransactionOptions};

use support::{Backend, run_with};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "notes")]
struct Note {
    #[covet(primary_key, auto_increment)]
    id: i64,
    body: String,
}

fn note(body: &str) -> Note {
    Note {
        id: 0,
        body: body.to_owned(),
    }
}

const LEVELS: [IsolationLevel; 4] = [
    IsolationLevel::ReadUncommitted,
    IsolationLevel::ReadCommitted,
    IsolationLevel::RepeatableRead,
    IsolationLevel::Serializable,
];

/// Defines `name::sqlite`, `name::postgres` and `name::mysql`, each on a fresh database
/// reached through a pool of one connection.
macro_rules! single_connection_tests {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    run_with(Backend::Sqlite, stringify!($name), one_connection(), |$db| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    run_with(Backend::Postgres, stringify!($name), one_connection(), |$db| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    run_with(Backend::MySql, stringify!($name), one_connection(), |$db| async move $body).await;
                }
            }
        )*
    };
}

fn one_connection() -> ConnectOptions {
    ConnectOptions::new().max_connections(1)
}

/// Returns the isolation level in effect for `tx`, in the server's spelling, or `None` on
/// SQLite, which has one level only.
async fn isolation_in_effect(db: &Database, tx: &Transaction) -> covet::Result<Option<String>> {
    match tx.backend().system_name() {
        "postgresql" => {
            covet::raw("SELECT current_setting('transaction_isolation')")
                .fetch_scalar::<String, _>(tx)
                .await
        }
        "mysql" | "mariadb" => observed_mysql_level(db, tx).await.map(Some),
        _ => Ok(None),
    }
}

/// Finds the isolation level of a MySQL or MariaDB transaction from which writes of a
/// second connection to `isolation_probe` it reads. The server has no variable for it:
/// `@@tx_isolation` is the session's level, which SET TRANSACTION leaves alone, and
/// `information_schema.innodb_trx` is cached: read at once, it showed the level of the
/// transaction before.
async fn observed_mysql_level(db: &Database, tx: &Transaction) -> covet::Result<String> {
    let other = db.dedicated_connection().await?;
    covet::raw("SET SESSION innodb_lock_wait_timeout = 1")
        .execute_unprepared(&other)
        .await?;
    let count_sql = "SELECT COUNT(*) FROM isolation_probe";
    let before = covet::raw(count_sql).fetch_scalar::<i64, _>(tx).await?;

    // A serializable transaction locks what it read, so this insert times out.
    let insert_sql = "INSERT INTO isolation_probe (id) VALUES (1)";
    match covet::raw(insert_sql).execute(&other).await {
        Err(error) if error.kind() == ErrorKind::Deadlock => return Ok("SERIALIZABLE".into()),
        Err(error) => return Err(error),
        Ok(_) => {}
    }
    let after = covet::raw(count_sql).fetch_scalar::<i64, _>(tx).await?;
    if after == before {
        return Ok("REPEATABLE READ".into());
    }

    let pending = other.begin().await?;
    covet::raw(insert_sql).execute(&pending).await?;
    let dirty = covet::raw(count_sql).fetch_scalar::<i64, _>(tx).await?;
    pending.rollback().await?;
    let level = if dirty > after {
        "READ UNCOMMITTED"
    } else {
        "READ COMMITTED"
    };
    Ok(level.into())
}

/// Creates the tables the tests use.
async fn create_tables(db: &Database) -> covet::Result<()> {
    Note::create_table(db).await?;
    covet::raw("CREATE TABLE isolation_probe (id INTEGER)")
        .execute(db)
        .await?;
    Ok(())
}

/// Returns how the server of `db` spells `level`, or `None` on SQLite.
fn spelling(db: &Database, level: IsolationLevel) -> Option<String> {
    match db.backend().system_name() {
        "postgresql" => Some(level.as_sql().to_lowercase()),
        "mysql" | "mariadb" => Some(level.as_sql().to_owned()),
        _ => None,
    }
}

/// Returns the level a transaction gets without options, as the server spells it.
fn default_level(db: &Database) -> Option<String> {
    match db.backend().system_name() {
        "postgresql" => spelling(db, IsolationLevel::ReadCommitted),
        "mysql" | "mariadb" => spelling(db, IsolationLevel::RepeatableRead),
        _ => None,
    }
}

/// Checks that a transaction begun without options has the default level and can write,
/// then rolls it back.
async fn check_defaults(db: &Database) -> covet::Result<()> {
    let tx = db.begin().await?;
    assert_eq!(
        isolation_in_effect(db, &tx).await?,
        default_level(db),
        "the next transaction has the default level"
    );
    if db.backend().system_name() == "sqlite" {
        let query_only = covet::raw("PRAGMA query_only")
            .fetch_scalar::<i64, _>(&tx)
            .await?;
        assert_eq!(query_only, Some(0), "query_only is off again");
    }
    note("after").insert(&tx).await?;
    tx.rollback().await?;
    Ok(())
}

/// Polls `future` up to `polls` times, letting the runtime handle I/O in between, then
/// drops it.
async fn cancel_after_polls<F: Future>(future: F, polls: usize) {
    let mut future = pin!(future);
    for _ in 0..polls {
        let ready = poll_fn(|context| Poll::Ready(future.as_mut().poll(context).is_ready())).await;
        if ready {
            return;
        }
        tokio::task::yield_now().await;
    }
}

fn read_only_serializable() -> TransactionOptions {
    TransactionOptions::new()
        .isolation(IsolationLevel::Serializable)
        .read_only(true)
}

single_connection_tests! {
    async fn isolation_level_applies(db) {
        create_tables(&db).await?;
        for level in LEVELS {
            let tx = db.begin_with(TransactionOptions::new().isolation(level)).await?;
            assert_eq!(isolation_in_effect(&db, &tx).await?, spelling(&db, level), "{level:?}");
            note(level.as_sql()).insert(&tx).await?;
            tx.commit().await?;
        }
        assert_eq!(Note::query().count(&db).await?, 4, "each transaction committed");
        check_defaults(&db).await
    }

    async fn read_only_rejects_writes(db) {
        create_tables(&db).await?;
        note("kept").insert(&db).await?;
        let tx = db.begin_with(TransactionOptions::new().read_only(true)).await?;
        assert_eq!(Note::query().count(&tx).await?, 1, "reads work");
        let error = note("rejected").insert(&tx).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ReadOnly, "{error}");
        assert!(error.to_string().contains("read-only"), "{error}");
        tx.rollback().await?;
        check_defaults(&db).await?;
        assert_eq!(Note::query().count(&db).await?, 1);
        Ok(())
    }

    async fn read_only_allows_savepoints(db) {
        create_tables(&db).await?;
        let tx = db.begin_with(TransactionOptions::new().read_only(true)).await?;
        let savepoint = tx.begin().await?;
        let error = note("rejected").insert(&savepoint).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::ReadOnly, "{error}");
        savepoint.rollback().await?;
        assert_eq!(Note::query().count(&tx).await?, 0);
        tx.commit().await?;
        check_defaults(&db).await
    }

    async fn defaults_return_after_commit(db) {
        create_tables(&db).await?;
        let tx = db.begin_with(read_only_serializable()).await?;
        assert_eq!(
            isolation_in_effect(&db, &tx).await?,
            spelling(&db, IsolationLevel::Serializable)
        );
        tx.commit().await?;
        check_defaults(&db).await
    }

    async fn defaults_return_after_rollback(db) {
        create_tables(&db).await?;
        let tx = db.begin_with(read_only_serializable()).await?;
        assert!(note("rejected").insert(&tx).await.is_err());
        tx.rollback().await?;
        check_defaults(&db).await
    }

    async fn defaults_return_after_drop(db) {
        create_tables(&db).await?;
        for _ in 0..3 {
            let tx = db.begin_with(read_only_serializable()).await?;
            assert_eq!(Note::query().count(&tx).await?, 0);
            drop(tx);
            check_defaults(&db).await?;
        }
        Ok(())
    }

    async fn cancelled_begin_leaves_defaults(db) {
        create_tables(&db).await?;
        // Dropping the BEGIN after 1, 2, 3... polls stops it at each of its steps, between
        // its statements included. None may leave its setting on the pooled connection.
        for polls in 1..40 {
            cancel_after_polls(db.begin_with(read_only_serializable()), polls).await;
            check_defaults(&db).await?;
        }
        Ok(())
    }

    async fn options_rejected_inside_transaction(db) {
        let mut conn = db.backend().acquire().await?;
        conn.begin().await?;
        let error = conn
            .begin_with_options(&read_only_serializable())
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains("already open"), "{error}");
        assert_eq!(conn.transaction_depth(), 1, "the open transaction is untouched");
        conn.rollback().await?;
        Ok(())
    }

    async fn closure_form_uses_options(db) {
        create_tables(&db).await?;
        let rejected: covet::Result<()> = db
            .transaction_with(TransactionOptions::new().read_only(true), |tx| async move {
                note("rejected").insert(&tx).await?;
                Ok(())
            })
            .await;
        assert_eq!(rejected.unwrap_err().kind(), ErrorKind::ReadOnly);

        let serializable = TransactionOptions::new().isolation(IsolationLevel::Serializable);
        let expected = spelling(&db, IsolationLevel::Serializable);
        let handle = db.clone();
        let id = db
            .transaction_with(serializable, |tx| async move {
                assert_eq!(isolation_in_effect(&handle, &tx).await?, expected);
                Ok::<_, covet::Error>(note("kept").insert(&tx).await?.id)
            })
            .await?;
        assert_eq!(Note::get(&db, id).await?.body, "kept");
        check_defaults(&db).await
    }
}
