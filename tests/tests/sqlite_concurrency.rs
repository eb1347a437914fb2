//! Many concurrent writers on one SQLite database finish without "database is locked".

use std::sync::Arc;

use covet::{ConnectOptions, Database, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "counters")]
struct Counter {
    #[covet(primary_key)]
    id: i64,
    value: i64,
}

const WRITERS: i64 = 16;
const INCREMENTS: i64 = 25;

/// Runs `WRITERS` tasks that each increment one counter `INCREMENTS` times with a
/// read-modify-write transaction, and returns the final value.
async fn increment_concurrently(db: Database) -> i64 {
    Counter::create_table(&db).await.unwrap();
    Counter { id: 1, value: 0 }.insert(&db).await.unwrap();
    let db = Arc::new(db);
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let db = Arc::clone(&db);
        tasks.push(tokio::spawn(async move {
            for _ in 0..INCREMENTS {
                let tx = db.begin().await?;
                let mut counter = Counter::get(&tx, 1).await?;
                counter.value += 1;
                counter.update(&tx).await?;
                tx.commit().await?;
            }
            Ok::<_, covet::Error>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("a writer failed");
    }
    Counter::get(db.as_ref(), 1).await.unwrap().value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_database_concurrent_writers() {
    let directory = std::env::temp_dir().join(format!("covet-writers-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let url = format!("sqlite://{}", directory.join("writers.db").display());
    let options = ConnectOptions::new().max_connections(8);
    let db = Database::connect_with(&url, options).await.unwrap();
    let value = increment_concurrently(db).await;
    std::fs::remove_dir_all(&directory).unwrap();
    assert_eq!(
        value,
        WRITERS * INCREMENTS,
        "every increment is kept, none lost"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_database_concurrent_writers() {
    let options = ConnectOptions::new().max_connections(8);
    let db = Database::connect_with("sqlite::memory:", options)
        .await
        .unwrap();
    let value = increment_concurrently(db).await;
    assert_eq!(
        value,
        WRITERS * INCREMENTS,
        "every increment is kept, none lost"
    );
}
