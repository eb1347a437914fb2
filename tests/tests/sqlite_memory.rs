//! An in-memory SQLite URL gives every pooled connection the same database.

use covet::{ConnectOptions, Database, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "notes")]
struct Note {
    #[covet(primary_key, auto_increment)]
    id: i64,
    text: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_shared_by_pool() {
    let options = ConnectOptions::new().max_connections(4);
    let db = Database::connect_with("sqlite::memory:", options)
        .await
        .unwrap();
    Note::create_table(&db).await.unwrap();
    Note {
        id: 0,
        text: String::from("shared"),
    }
    .insert(&db)
    .await
    .unwrap();

    // Hold three pooled connections at once, so each read below runs on a different one.
    // Transactions would not do here: each takes SQLite's write lock, so a second one
    // waits for the first.
    let mut held = Vec::new();
    for position in 0..3 {
        let mut conn = db.backend().acquire().await.unwrap();
        let sql = "SELECT COUNT(*) FROM notes";
        let mut count = None;
        conn.fetch(
            sql.into(),
            covet::sea_query::Values(Vec::new()),
            &mut |row| {
                count = row.read_i64(0)?;
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(
            count,
            Some(1),
            "connection {position} sees the table and its row"
        );
        held.push(conn);
    }
    let status = db.pool_status();
    assert!(status.in_use >= 3, "three connections are in use: {status}");
    drop(held);
    assert_eq!(Note::query().count(&db).await.unwrap(), 1);
}

#[tokio::test]
async fn separate_memory_databases_are_isolated() {
    let first = Database::connect("sqlite::memory:").await.unwrap();
    let second = Database::connect("sqlite::memory:").await.unwrap();
    Note::create_table(&first).await.unwrap();
    Note {
        id: 0,
        text: String::from("only in first"),
    }
    .insert(&first)
    .await
    .unwrap();
    Note::create_table(&second).await.unwrap();
    assert_eq!(Note::query().count(&second).await.unwrap(), 0);
    assert_eq!(Note::query().count(&first).await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_outlives_idle_timeout() {
    let options = ConnectOptions::new()
        .max_connections(2)
        .idle_timeout(Some(std::time::Duration::from_millis(40)));
    let db = Database::connect_with("sqlite::memory:", options)
        .await
        .unwrap();
    Note::create_table(&db).await.unwrap();
    Note {
        id: 0,
        text: String::from("kept"),
    }
    .insert(&db)
    .await
    .unwrap();
    // Let the pool close every idle connection: the database must survive without them.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        db.pool_status().size,
        0,
        "every pooled connection was closed"
    );
    assert!(db.pool_metrics().closed_idle >= 1);
    assert_eq!(
        Note::query().count(&db).await.unwrap(),
        1,
        "the table and its row remain"
    );
}
