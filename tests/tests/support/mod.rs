//! Shared setup for the integration tests: one fresh database per test and backend.
//!
//! Each test runs once per backend. SQLite gets a file in a temporary directory. PostgreSQL
//! and MariaDB get a database created for the test (named `covet_<test>_<pid>_<n>`) and
//! dropped afterwards, on the servers named by `COVET_TEST_POSTGRES_URL` and
//! `COVET_TEST_MYSQL_URL` (defaults: `postgres://root@127.0.0.1:5432/test` and
//! `mysql://root@127.0.0.1:3306/test`).
//!
//! When a server cannot be reached the test prints a notice and passes, unless
//! `COVET_REQUIRE_ALL_BACKENDS=1` is set, as CI does, in which case it fails.

#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use covet::{ConnectOptions, Database};

/// The backends every test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

const DEFAULT_POSTGRES_URL: &str = "postgres://root@127.0.0.1:5432/test";
const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/test";

static NEXT_DATABASE: AtomicUsize = AtomicUsize::new(0);

/// A database created for one test, removed by [`TestDb::cleanup`].
pub struct TestDb {
    pub db: Database,
    pub backend: Backend,
    /// The URL of the test's own database.
    pub url: String,
    admin: Option<Database>,
    name: String,
    directory: Option<PathBuf>,
}

pub fn server_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => String::from("sqlite::memory:"),
        Backend::Postgres => std::env::var("COVET_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_owned()),
        Backend::MySql => {
            std::env::var("COVET_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_owned())
        }
    }
}

fn required() -> bool {
    std::env::var("COVET_REQUIRE_ALL_BACKENDS").is_ok_and(|value| value == "1")
}

fn unique_name(test: &str) -> String {
    let counter = NEXT_DATABASE.fetch_add(1, Ordering::Relaxed);
    let mut name = format!("covet_{}_{}_{}", test, std::process::id(), counter);
    name.truncate(60);
    name.to_lowercase()
}

/// Replaces the database path of a server URL.
pub fn with_database(url: &str, database: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("the test server URL is valid");
    parsed.set_path(&format!("/{database}"));
    parsed.to_string()
}

impl TestDb {
    /// Creates a fresh database for `test`, or returns `None` (after printing why) when
    /// the server is unreachable and not required.
    pub async fn create(backend: Backend, test: &str, options: ConnectOptions) -> Option<Self> {
        let name = unique_name(test);
        if backend == Backend::Sqlite {
            let directory = std::env::temp_dir().join(&name);
            std::fs::create_dir_all(&directory).expect("temporary directory");
            let url = format!("sqlite://{}", directory.join("test.db").display());
            let db = Database::connect_with(&url, options)
                .await
                .expect("open SQLite");
            return Some(Self {
                db,
                backend,
                url,
                admin: None,
                name,
                directory: Some(directory),
            });
        }
        let server = server_url(backend);
        let admin = match Database::connect(&server).await {
            Ok(admin) => admin,
            Err(error) if !required() => {
                let server = covet::redact_url(&server);
                eprintln!(
                    "NOTICE: skipping {test} on {backend:?}: {server} is unreachable ({error}); \
                     set COVET_REQUIRE_ALL_BACKENDS=1 to fail instead"
                );
                return None;
            }
            Err(error) => {
                let server = covet::redact_url(&server);
                panic!("{backend:?} at {server} is required but unreachable: {error}")
            }
        };
        let quoted = match backend {
            Backend::Postgres => format!("\"{name}\""),
            _ => format!("`{name}`"),
        };
        covet::raw(format!("CREATE DATABASE {quoted}"))
            .execute(&admin)
            .await
            .expect("create the test database");
        let url = with_database(&server, &name);
        let db = Database::connect_with(&url, options)
            .await
            .expect("connect to the test database");
        Some(Self {
            db,
            backend,
            url,
            admin: Some(admin),
            name,
            directory: None,
        })
    }

    /// Drops the test's database.
    pub async fn cleanup(self) {
        self.db.close();
        drop(self.db);
        if let Some(admin) = self.admin {
            let sql = match self.backend {
                Backend::Postgres => {
                    format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name)
                }
                _ => format!("DROP DATABASE IF EXISTS `{}`", self.name),
            };
            if let Err(error) = covet::raw(sql).execute(&admin).await {
                eprintln!("could not drop test database {}: {error}", self.name);
            }
            admin.close();
        }
        if let Some(directory) = self.directory {
            let _ = std::fs::remove_dir_all(directory);
        }
    }
}

/// Runs `body` against a fresh database on `backend`, then removes the database.
pub async fn run<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = covet::Result<()>> + Send + 'static,
{
    run_with(backend, test, ConnectOptions::new(), body).await;
}

/// Like [`run`], with pool options. The database is dropped even when `body` panics.
pub async fn run_with<F, Fut>(backend: Backend, test: &str, options: ConnectOptions, body: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = covet::Result<()>> + Send + 'static,
{
    let Some(test_db) = TestDb::create(backend, test, options).await else {
        return;
    };
    // A spawned task turns a panic into a JoinError, so cleanup still runs.
    let outcome = tokio::spawn(body(test_db.db.clone())).await;
    test_db.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{test} failed on {backend:?}: {error} ({error:?})"),
        Err(join_error) => match join_error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(join_error) => panic!("{test} was cancelled on {backend:?}: {join_error}"),
        },
    }
}

/// Defines one test per backend: `name::sqlite`, `name::postgres` and `name::mysql`.
///
/// ```ignore
/// backend_tests! {
///     async fn insert_returns_key(db) {
///         ...;
///         Ok(())
///     }
/// }
/// ```
#[macro_export]
macro_rules! backend_tests {
    ($(async fn $name:ident($db:ident) $body:block)*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    $crate::support::run($crate::support::Backend::Sqlite, stringify!($name), |$db| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    $crate::support::run($crate::support::Backend::Postgres, stringify!($name), |$db| async move $body).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn mysql() {
                    $crate::support::run($crate::support::Backend::MySql, stringify!($name), |$db| async move $body).await;
                }
            }
        )*
    };
}
pub mod servers;
