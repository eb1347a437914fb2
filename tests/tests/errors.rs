//! Error kinds, constraint names, codes and messages on every backend.
//!
//! Each database error is matched through `Error::kind()` and the accessors `constraint()`,
//! `code()` and `table()`, never by parsing messages. Every message starts lowercase, names
//! the value at fault and is not empty.

mod support;

use std::error::Error as _;
use std::net::TcpListener;
use std::time::{Duration, Instant};

use covet::{ColumnRef, ConnectOptions, Database, Error, ErrorKind, Model};

use support::{Backend, run_with};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "accounts")]
struct Account {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    email: String,
}

fn account(email: &str) -> Account {
    Account {
        id: 0,
        email: email.to_owned(),
    }
}

/// A model over a table created with raw SQL whose `label` column accepts NULL.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "labels")]
struct Label {
    #[covet(primary_key)]
    id: i64,
    label: String,
}

/// Checks the rules every error message follows and returns the message: it is not empty,
/// starts lowercase, contains each of `expected`, and every cause in the `source()` chain
/// has a message too.
fn check_message(error: &Error, expected: &[&str]) -> String {
    let message = error.to_string();
    assert!(!message.is_empty(), "empty message for {error:?}");
    let first = message.chars().next().unwrap_or_default();
    assert!(
        !first.is_uppercase(),
        "the message must start lowercase: {message}"
    );
    for part in expected {
        assert!(
            message.contains(part),
            "the message must name `{part}`: {message}"
        );
    }
    let mut cause = error.source();
    while let Some(inner) = cause {
        assert!(
            !inner.to_string().is_empty(),
            "empty cause message in {error:?}"
        );
        cause = inner.source();
    }
    message
}

/// Returns the messages of `error` and of every cause, joined by `: `.
fn full_chain(error: &Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

fn system(db: &Database) -> &'static str {
    db.backend().system_name()
}

/// Creates `parents` and `children` with a foreign key named `fk_children_parent`. The
/// same SQL runs on all three backends, and MariaDB's default engine, InnoDB, enforces it.
async fn create_family_tables(db: &Database) -> covet::Result<()> {
    covet::raw("CREATE TABLE parents (id INTEGER PRIMARY KEY)")
        .execute(db)
        .await?;
    covet::raw(
        "CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL, \
         CONSTRAINT fk_children_parent FOREIGN KEY (parent_id) REFERENCES parents (id))",
    )
    .execute(db)
    .await?;
    covet::raw("INSERT INTO parents (id) VALUES (1)")
        .execute(db)
        .await?;
    covet::raw("INSERT INTO children (id, parent_id) VALUES (1, 1)")
        .execute(db)
        .await?;
    Ok(())
}

/// Creates `items` with a NOT NULL `name` and a check constraint named `ck_items_qty`.
async fn create_items_table(db: &Database) -> covet::Result<()> {
    covet::raw(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, \
         qty INTEGER NOT NULL, CONSTRAINT ck_items_qty CHECK (qty >= 0))",
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Returns a loopback port with no listener: bound by the OS, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("bound address").port()
}

/// Connects with a short connect timeout, so an unexpected hang fails fast.
async fn connect_quickly(url: &str) -> covet::Result<Database> {
    let options = ConnectOptions::new().connect_timeout(Duration::from_secs(5));
    Database::connect_with(url, options).await
}

backend_tests! {
    async fn unique_violation_names_constraint(db) {
        Account::create_table(&db).await?;
        account("ann@example.com").insert(&db).await?;
        let error = account("ann@example.com").insert(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UniqueViolation, "{error:?}");
        assert!(!error.is_retryable());
        match system(&db) {
            "sqlite" => {
                assert_eq!(error.constraint(), None, "SQLite reports no constraint name");
                assert_eq!(error.table(), Some("accounts"));
                assert_eq!(error.code(), Some("2067"));
                check_message(&error, &["sqlite", "unique", "accounts.email"]);
            }
            "postgresql" => {
                assert_eq!(error.constraint(), Some("uq_accounts_email"));
                assert_eq!(error.table(), Some("accounts"));
                assert_eq!(error.code(), Some("23505"));
                check_message(&error, &["postgresql", "unique", "uq_accounts_email"]);
            }
            other => {
                assert_eq!(error.constraint(), Some("uq_accounts_email"), "on {other}");
                assert_eq!(error.code(), Some("1062"));
                check_message(&error, &[other, "unique", "uq_accounts_email"]);
            }
        }
        let database = error.as_database().expect("a database error");
        assert_eq!(database.kind, ErrorKind::UniqueViolation);
        assert_eq!(database.backend, system(&db));
        assert!(!database.message.is_empty());
        Ok(())
    }

    async fn primary_key_duplicate_is_unique(db) {
        covet::raw("CREATE TABLE labels (id BIGINT PRIMARY KEY, label VARCHAR(50))")
            .execute(&db)
            .await?;
        let row = Label { id: 7, label: String::from("seven") };
        row.insert(&db).await?;
        let error = row.insert(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UniqueViolation, "{error:?}");
        match system(&db) {
            "sqlite" => {
                assert_eq!(error.code(), Some("1555"));
                assert_eq!(error.table(), Some("labels"));
            }
            "postgresql" => {
                assert_eq!(error.code(), Some("23505"));
                assert_eq!(error.constraint(), Some("labels_pkey"));
            }
            _ => {
                assert_eq!(error.code(), Some("1062"));
                assert_eq!(error.constraint(), Some("PRIMARY"));
            }
        }
        check_message(&error, &["unique"]);
        Ok(())
    }

    async fn foreign_key_violation_names_constraint(db) {
        create_family_tables(&db).await?;

        let insert = covet::raw("INSERT INTO children (id, parent_id) VALUES (2, 42)")
            .execute(&db)
            .await
            .unwrap_err();
        assert_eq!(insert.kind(), ErrorKind::ForeignKeyViolation, "{insert:?}");
        let delete = covet::raw("DELETE FROM parents WHERE id = 1")
            .execute(&db)
            .await
            .unwrap_err();
        assert_eq!(delete.kind(), ErrorKind::ForeignKeyViolation, "{delete:?}");

        match system(&db) {
            "sqlite" => {
                // SQLite's message is only "FOREIGN KEY constraint failed".
                assert_eq!(insert.code(), Some("787"));
                assert_eq!(delete.code(), Some("787"));
                assert_eq!(insert.constraint(), None);
            }
            "postgresql" => {
                assert_eq!(insert.constraint(), Some("fk_children_parent"));
                assert_eq!(insert.code(), Some("23503"));
                assert_eq!(insert.table(), Some("children"));
                assert_eq!(delete.constraint(), Some("fk_children_parent"));
                assert_eq!(delete.code(), Some("23503"));
                check_message(&insert, &["foreign key", "fk_children_parent"]);
                check_message(&delete, &["foreign key", "fk_children_parent"]);
            }
            _ => {
                assert_eq!(insert.constraint(), Some("fk_children_parent"));
                assert_eq!(insert.code(), Some("1452"));
                assert_eq!(delete.constraint(), Some("fk_children_parent"));
                assert_eq!(delete.code(), Some("1451"));
                check_message(&insert, &["foreign key", "fk_children_parent"]);
                check_message(&delete, &["foreign key", "fk_children_parent"]);
            }
        }
        check_message(&insert, &["foreign key constraint violated"]);
        check_message(&delete, &["foreign key constraint violated"]);

        let children = covet::raw("SELECT COUNT(*) FROM children")
            .fetch_scalar::<i64, _>(&db)
            .await?;
        assert_eq!(children, Some(1), "the rejected insert left no row");
        Ok(())
    }

    async fn check_violation_names_constraint(db) {
        create_items_table(&db).await?;
        let error = covet::raw("INSERT INTO items (id, name, qty) VALUES (1, 'pen', -1)")
            .execute(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::CheckViolation, "{error:?}");
        assert_eq!(error.constraint(), Some("ck_items_qty"));
        match system(&db) {
            "sqlite" => assert_eq!(error.code(), Some("275")),
            "postgresql" => {
                assert_eq!(error.code(), Some("23514"));
                assert_eq!(error.table(), Some("items"));
            }
            _ => assert_eq!(error.code(), Some("4025")),
        }
        check_message(&error, &["check constraint violated", "ck_items_qty"]);
        Ok(())
    }

    async fn not_null_violation_names_column(db) {
        create_items_table(&db).await?;
        let error = covet::raw("INSERT INTO items (id, name, qty) VALUES (1, NULL, 1)")
            .execute(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotNullViolation, "{error:?}");
        match system(&db) {
            "sqlite" => {
                assert_eq!(error.code(), Some("1299"));
                assert_eq!(error.table(), Some("items"));
            }
            "postgresql" => {
                assert_eq!(error.code(), Some("23502"));
                assert_eq!(error.table(), Some("items"));
            }
            _ => assert_eq!(error.code(), Some("1048")),
        }
        check_message(&error, &["not-null constraint violated", "name"]);
        Ok(())
    }

    async fn decode_null_names_column(db) {
        covet::raw("CREATE TABLE labels (id BIGINT PRIMARY KEY, label VARCHAR(50))")
            .execute(&db)
            .await?;
        covet::raw("INSERT INTO labels (id, label) VALUES (1, NULL)")
            .execute(&db)
            .await?;

        let error = Label::query().all(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode, "{error:?}");
        assert!(matches!(&error, Error::Decode { column, .. } if column == "label"), "{error:?}");
        assert_eq!(error.constraint(), None);
        assert_eq!(error.code(), None);
        check_message(&error, &["`label`", "NULL", "Option"]);

        let by_key = Label::get(&db, 1).await.unwrap_err();
        assert_eq!(by_key.kind(), ErrorKind::Decode, "{by_key:?}");
        Ok(())
    }

    async fn decode_type_mismatch_names_column(db) {
        let error = covet::raw("SELECT 'abc' AS id, 'x' AS label")
            .fetch_all::<Label, _>(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode, "{error:?}");
        assert!(matches!(&error, Error::Decode { column, .. } if column == "id"), "{error:?}");
        check_message(&error, &["failed to decode column `id`"]);
        Ok(())
    }

    async fn invalid_input_names_value(db) {
        let error = ColumnRef::<Account>::by_name("e-mail").unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        check_message(&error, &["invalid input", "`e-mail`", "accounts", "email"]);

        Account::create_table(&db).await?;
        let error = Account::update_many().exec(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        check_message(&error, &["invalid input", "accounts", ".set("]);

        let stored = account("bea@example.com").insert(&db).await?;
        let error = stored.update_columns(&db, &[]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        check_message(&error, &["invalid input", "accounts"]);

        let error = stored.update_columns(&db, &[Account::ID.into()]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        check_message(&error, &["invalid input", "`id`", "accounts"]);
        Ok(())
    }

    async fn closed_pool_is_pool_closed(db) {
        db.close();
        let error = covet::raw("SELECT 1").execute(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::PoolClosed, "{error:?}");
        check_message(&error, &["pool is closed"]);
        Ok(())
    }
}

/// Holds the only pooled connection in a transaction, so that a statement outside it
/// waits for the acquire timeout and fails.
async fn check_pool_timeout(backend: Backend) {
    let timeout = Duration::from_millis(300);
    let options = ConnectOptions::new()
        .max_connections(1)
        .acquire_timeout(timeout);
    run_with(backend, "pool_timeout", options, |db| async move {
        let tx = db.begin().await?;
        let started = Instant::now();
        let error = covet::raw("SELECT 1").execute(&db).await.unwrap_err();
        let waited = started.elapsed();
        assert_eq!(error.kind(), ErrorKind::PoolTimeout, "{error:?}");
        assert!(
            waited >= timeout,
            "gave up after {waited:?}, before {timeout:?}"
        );
        assert!(
            waited < timeout + Duration::from_secs(5),
            "waited {waited:?}"
        );
        assert!(matches!(&error, Error::PoolTimeout { status, .. } if status.max_size == 1));
        assert!(error.as_database().is_none());
        check_message(&error, &["timed out", "pool size 1/1", "max size"]);
        tx.rollback().await?;

        covet::raw("SELECT 1").execute(&db).await?;
        Ok(())
    })
    .await;
}

mod pool_timeout {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        check_pool_timeout(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        check_pool_timeout(Backend::Postgres).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        check_pool_timeout(Backend::MySql).await;
    }
}

/// Checks a connection failure: the kind, the backend in the message and a cause
/// reachable through `source()`.
fn check_connection_error(error: &Error, backend: &str) {
    assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
    assert!(error.as_database().is_none(), "{error:?}");
    check_message(error, &["connection", backend, "failed"]);
    let cause = error.source().expect("the driver error is the source");
    assert!(!cause.to_string().is_empty());
}

mod connection_failure {
    use super::*;

    #[tokio::test]
    async fn postgres_closed_port() {
        let url = format!("postgres://root@127.0.0.1:{}/test", closed_port());
        let error = connect_quickly(&url).await.unwrap_err();
        check_connection_error(&error, "postgresql");
        let chain = full_chain(&error);
        assert!(chain.to_lowercase().contains("refused"), "{chain}");
    }

    #[tokio::test]
    async fn mysql_closed_port() {
        let url = format!("mysql://root@127.0.0.1:{}/test", closed_port());
        let error = connect_quickly(&url).await.unwrap_err();
        // The server version, and so `mysql` or `mariadb`, is unknown before connecting.
        check_connection_error(&error, "mysql");
        let chain = full_chain(&error);
        assert!(chain.to_lowercase().contains("refused"), "{chain}");
    }

    #[tokio::test]
    async fn sqlite_missing_directory() {
        let directory =
            std::env::temp_dir().join(format!("covet_missing_directory_{}", std::process::id()));
        assert!(
            !directory.exists(),
            "{} must not exist",
            directory.display()
        );
        let url = format!(
            "sqlite://{}",
            directory.join("nested").join("test.db").display()
        );
        let error = connect_quickly(&url).await.unwrap_err();
        check_connection_error(&error, "sqlite");
        assert!(!directory.exists(), "connect must not create directories");
    }

    #[tokio::test]
    async fn mysql_wrong_password() {
        let mut url = url::Url::parse(&support::server_url(Backend::MySql)).expect("valid URL");
        url.set_password(Some("not-the-password"))
            .expect("URL takes a password");
        let error = match connect_quickly(url.as_str()).await {
            Ok(_) => panic!("MariaDB root has an empty password, so a wrong one must fail"),
            Err(error) => error,
        };
        if full_chain(&error).to_lowercase().contains("refused") {
            eprintln!("NOTICE: skipping mysql_wrong_password: no server at {url}");
            return;
        }
        check_connection_error(&error, "mysql");
        let chain = full_chain(&error);
        assert!(chain.contains("Access denied"), "{chain}");
    }
}

/// A connection error names the server it could not reach, so that a deployment with
/// several databases shows which one is down. The URL in the message has no password.
mod connection_error_names_server {
    use super::*;

    #[tokio::test]
    async fn postgres() {
        let address = format!("127.0.0.1:{}", closed_port());
        let error = connect_quickly(&format!("postgres://root@{address}/test"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
        let chain = full_chain(&error);
        assert!(
            chain.contains(&address),
            "the message must name {address}: {chain}"
        );
    }

    #[tokio::test]
    async fn mysql() {
        let address = format!("127.0.0.1:{}", closed_port());
        let error = connect_quickly(&format!("mysql://root@{address}/test"))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
        let chain = full_chain(&error);
        assert!(
            chain.contains(&address),
            "the message must name {address}: {chain}"
        );
    }

    #[tokio::test]
    async fn sqlite() {
        let path = std::env::temp_dir()
            .join(format!("covet_missing_server_{}", std::process::id()))
            .join("test.db");
        let error = connect_quickly(&format!("sqlite://{}", path.display()))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connection, "{error:?}");
        let chain = full_chain(&error);
        let path = path.display().to_string();
        assert!(
            chain.contains(&path),
            "the message must name {path}: {chain}"
        );
    }
}

mod invalid_url {
    use super::*;

    #[tokio::test]
    async fn unknown_scheme() {
        let error = connect_quickly("redis://127.0.0.1:6379/0")
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
        check_message(
            &error,
            &[
                "invalid database URL",
                "redis://127.0.0.1:6379/0",
                "postgres://",
            ],
        );
    }

    #[tokio::test]
    async fn empty_url() {
        let error = connect_quickly("").await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error:?}");
        check_message(&error, &["invalid database URL", "scheme"]);
    }

    #[tokio::test]
    async fn malformed_port() {
        for url in [
            "postgres://root@127.0.0.1:notaport/test",
            "mysql://root@127.0.0.1:notaport/test",
        ] {
            let error = connect_quickly(url).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{url}: {error:?}");
            check_message(&error, &["invalid database URL", "notaport"]);
        }
    }
}

#[tokio::test]
async fn zero_connect_timeout_rejected() {
    let options = ConnectOptions::new().connect_timeout(std::time::Duration::ZERO);
    let error = Database::connect_with("sqlite::memory:", options)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(error.to_string().contains("connect_timeout"), "{error}");
}

#[tokio::test]
async fn dedicated_connection_after_close() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.close();
    let error = db.dedicated_connection().await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::PoolClosed, "{error}");
}
