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

    // Hold three connections at once: each open transaction owns one, so every read below
    // runs on a different connection of the pool.
    let mut open = Vec::new();
    for _ in 0..3 {
        let tx = db.begin().await.unwrap();
        let seen = Note::query().all(&tx).await.unwrap();
        assert_eq!(
            seen.len(),
            1,
            "connection {} sees the table and its row",
            open.len()
        );
        open.push(tx);
    }
    let status = db.pool_status();
    assert!(status.in_use >= 3, "three connections are in use: {status}");
    assert_eq!(Note::query().count(&db).await.unwrap(), 1);
    for tx in open {
        tx.rollback().await.unwrap();
    }
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
