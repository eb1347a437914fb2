//! Transactions, savepoints and rollback on drop, on every backend.

mod support;

use covet::{ConnectOptions, Database, ErrorKind, Executor, Model};

use support::{Backend, run_with};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "ledger")]
struct Entry {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    label: String,
}

fn entry(label: &str) -> Entry {
    Entry {
        id: 0,
        label: label.to_owned(),
    }
}

async fn labels(db: &impl Executor) -> covet::Result<Vec<String>> {
    let rows = Entry::query().order_by_asc(Entry::ID).all(db).await?;
    Ok(rows.into_iter().map(|row| row.label).collect())
}

backend_tests! {
    async fn commit_keeps_rows(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        entry("a").insert(&tx).await?;
        assert_eq!(labels(&tx).await?, ["a"], "the transaction sees its own write");
        tx.commit().await?;
        assert_eq!(labels(&db).await?, ["a"]);
        Ok(())
    }

    async fn rollback_discards_rows(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        entry("a").insert(&tx).await?;
        tx.rollback().await?;
        assert!(labels(&db).await?.is_empty());
        Ok(())
    }

    async fn closure_commits_on_ok(db) {
        Entry::create_table(&db).await?;
        let id = db
            .transaction(|tx| async move {
                let stored = entry("kept").insert(&tx).await?;
                Ok::<_, covet::Error>(stored.id)
            })
            .await?;
        assert_eq!(Entry::get(&db, id).await?.label, "kept");
        Ok(())
    }

    async fn closure_may_end_its_transaction(db) {
        // A body that commits or rolls back its own transaction and returns Ok keeps that
        // outcome, and the closure form does not report the already ended level.
        Entry::create_table(&db).await?;
        db.transaction(|tx| async move {
            entry("committed").insert(&tx).await?;
            tx.commit().await
        })
        .await?;
        db.transaction(|tx| async move {
            entry("rolled back").insert(&tx).await?;
            tx.rollback().await
        })
        .await?;
        assert_eq!(labels(&db).await?, ["committed"]);
        Ok(())
    }

    async fn closure_rolls_back_on_err(db) {
        Entry::create_table(&db).await?;
        let outcome: Result<(), covet::Error> = db
            .transaction(|tx| async move {
                entry("gone").insert(&tx).await?;
                entry("gone").insert(&tx).await?;
                Ok(())
            })
            .await;
        assert_eq!(outcome.unwrap_err().kind(), ErrorKind::UniqueViolation);
        assert!(labels(&db).await?.is_empty(), "the first insert must be rolled back");
        Ok(())
    }

    async fn savepoint_keeps_outer_work(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        entry("outer-1").insert(&tx).await?;
        let inner: Result<(), covet::Error> = tx
            .transaction(|savepoint| async move {
                entry("inner").insert(&savepoint).await?;
                // Fails: the label is taken, so the savepoint rolls back.
                entry("outer-1").insert(&savepoint).await?;
                Ok(())
            })
            .await;
        assert_eq!(inner.unwrap_err().kind(), ErrorKind::UniqueViolation);
        entry("outer-2").insert(&tx).await?;
        tx.commit().await?;
        assert_eq!(labels(&db).await?, ["outer-1", "outer-2"]);
        Ok(())
    }

    async fn savepoint_commit_joins_outer(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        let savepoint = tx.begin().await?;
        assert_eq!(savepoint.depth(), 2);
        entry("inner").insert(&savepoint).await?;
        savepoint.commit().await?;
        tx.rollback().await?;
        assert!(labels(&db).await?.is_empty(), "outer rollback undoes a released savepoint");
        Ok(())
    }

    async fn dropped_savepoint_rolls_back(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        entry("outer").insert(&tx).await?;
        {
            let savepoint = tx.begin().await?;
            entry("inner").insert(&savepoint).await?;
        }
        assert_eq!(labels(&tx).await?, ["outer"]);
        tx.commit().await?;
        assert_eq!(labels(&db).await?, ["outer"]);
        Ok(())
    }

    async fn dedicated_connection_keeps_session(db) {
        let conn = db.dedicated_connection().await?;
        // A temporary table lives in one session only, so every statement below must run on
        // the same connection for it to be found.
        covet::raw("CREATE TEMPORARY TABLE scratch (id INTEGER)").execute(&conn).await?;
        covet::raw("INSERT INTO scratch (id) VALUES (1)").execute(&conn).await?;
        let tx = conn.begin().await?;
        covet::raw("INSERT INTO scratch (id) VALUES (2)").execute(&tx).await?;
        tx.commit().await?;
        let count = covet::raw("SELECT COUNT(*) FROM scratch")
            .fetch_scalar::<i64, _>(&conn)
            .await?;
        assert_eq!(count, Some(2));
        let pooled = covet::raw("SELECT COUNT(*) FROM scratch")
            .fetch_scalar::<i64, _>(&db)
            .await;
        assert!(pooled.is_err(), "pooled connections do not see the temporary table");
        assert_eq!(db.pool_status().in_use, 0, "the dedicated connection is not pooled");
        Ok(())
    }

    async fn dropped_transaction_releases_locks(db) {
        Entry::create_table(&db).await?;
        let row = entry("locked").insert(&db).await?;
        // Warm the pool so that the next statement can take a different connection than
        // the dropped transaction's.
        let warm = [
            db.backend().acquire().await?,
            db.backend().acquire().await?,
            db.backend().acquire().await?,
        ];
        drop(warm);
        {
            let tx = db.begin().await?;
            Entry::update_many()
                .set(Entry::LABEL, "inside")
                .filter(Entry::ID.eq(row.id))
                .exec(&tx)
                .await?;
        }
        let update = Entry::update_many()
            .set(Entry::LABEL, "after")
            .filter(Entry::ID.eq(row.id))
            .exec(&db);
        let updated = tokio::time::timeout(std::time::Duration::from_secs(10), update)
            .await
            .expect("the dropped transaction still holds its row lock after 10 s")?;
        assert_eq!(updated, 1);
        assert_eq!(Entry::get(&db, row.id).await?.label, "after");
        Ok(())
    }

    async fn commit_with_open_savepoint_fails(db) {
        Entry::create_table(&db).await?;
        let tx = db.begin().await?;
        let savepoint = tx.begin().await?;
        let error = tx.commit().await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("savepoint"), "{error}");
        savepoint.rollback().await?;
        Ok(())
    }
}

/// With one pooled connection, a transaction dropped without commit must be rolled back
/// before the connection serves the next statement.
async fn dropped_transaction_rolls_back(backend: Backend) {
    let options = ConnectOptions::new().max_connections(1);
    run_with(
        backend,
        "dropped_transaction",
        options,
        |db: Database| async move {
            Entry::create_table(&db).await?;
            {
                let tx = db.begin().await?;
                entry("never").insert(&tx).await?;
            }
            assert!(
                labels(&db).await?.is_empty(),
                "the dropped transaction left a row"
            );
            entry("after").insert(&db).await?;
            let tx = db.begin().await?;
            tx.rollback().await?;
            assert_eq!(
                labels(&db).await?,
                ["after"],
                "later statements autocommit again"
            );
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back_sqlite() {
    dropped_transaction_rolls_back(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back_postgres() {
    dropped_transaction_rolls_back(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_transaction_rolls_back_mysql() {
    dropped_transaction_rolls_back(Backend::MySql).await;
}

/// `after_connect` SQL runs on every pooled connection, not only the first.
async fn after_connect_applies_everywhere(backend: Backend) {
    let (setting, probe, expected) = match backend {
        Backend::Sqlite => ("PRAGMA foreign_keys = OFF", "PRAGMA foreign_keys", "0"),
        Backend::Postgres => (
            "SET application_name = 'covet-hook'",
            "SELECT current_setting('application_name')",
            "covet-hook",
        ),
        Backend::MySql => (
            "SET SESSION sql_mode = 'ANSI_QUOTES'",
            "SELECT @@SESSION.sql_mode",
            "ANSI_QUOTES",
        ),
    };
    let options = ConnectOptions::new()
        .max_connections(3)
        .after_connect(setting);
    run_with(
        backend,
        "after_connect",
        options,
        move |db: Database| async move {
            let mut held = Vec::new();
            for position in 0..3 {
                let mut conn = db.backend().acquire().await?;
                let mut value = None;
                conn.fetch(
                    probe.into(),
                    covet::sea_query::Values(Vec::new()),
                    &mut |row| {
                        value = match row.read_string(0) {
                            Ok(text) => text,
                            Err(_) => row.read_i64(0)?.map(|number| number.to_string()),
                        };
                        Ok(())
                    },
                )
                .await?;
                assert_eq!(value.as_deref(), Some(expected), "connection {position}");
                held.push(conn);
            }
            Ok(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_connect_applies_everywhere_sqlite() {
    after_connect_applies_everywhere(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_connect_applies_everywhere_postgres() {
    after_connect_applies_everywhere(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_connect_applies_everywhere_mysql() {
    after_connect_applies_everywhere(Backend::MySql).await;
}
