//! Scratch databases and the table contents each workload reads. Every backend gets a
//! database of its own that the run creates and drops: a temporary file for SQLite, a
//! `covet_bench_<pid>` database on the local PostgreSQL and MariaDB servers.

use std::fmt;
use std::path::PathBuf;

use sqlx::Connection;

/// Users in the table of the primary-key, concurrent and pool workloads.
pub(crate) const LOOKUP_USERS: usize = 10_000;
/// Users in the eager-loading tree.
pub(crate) const TREE_USERS: usize = 100;
/// Posts per user in the eager-loading tree.
pub(crate) const TREE_POSTS: usize = 10;
/// Comments per post in the eager-loading tree.
pub(crate) const TREE_COMMENTS: usize = 10;
/// Rows per seeding statement.
const SEED_CHUNK: usize = 1_000;

const POSTGRES_ADMIN: &str = "postgres://root@127.0.0.1:5432/test";
const MYSQL_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";

/// A backend under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
    Mysql,
}

impl Backend {
    /// Reads `--backend`'s value.
    pub(crate) fn parse(value: &str) -> Result<Self, String> {
        match value {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::Mysql),
            other => Err(format!(
                "unknown backend `{other}`; use `--backend sqlite`, `--backend postgres` or \
                 `--backend mysql`"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MariaDB",
        })
    }
}

/// What the tables hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fixture {
    /// No rows: the inserts start from here.
    Empty,
    /// This many users, with ids 1 to n, and no posts.
    Users(usize),
    /// This many users; every second one has one post.
    UsersWithPosts(usize),
    /// `TREE_USERS` users with `TREE_POSTS` posts each and `TREE_COMMENTS` per post.
    Tree,
}

/// Returns the hair color of user `index`: black, brown or none, in turn.
pub(crate) fn hair_color(index: usize) -> Option<&'static str> {
    match index % 3 {
        0 => Some("black"),
        1 => Some("brown"),
        _ => None,
    }
}

/// Returns the name of the `index`th user an insert workload writes.
pub(crate) fn new_user_name(index: usize) -> String {
    format!("New user {index}")
}

/// Counts the rows of the join with `users` users: every black-haired user once, with its
/// post or with none.
pub(crate) fn join_rows(users: usize) -> usize {
    (1..=users)
        .filter(|&id| hair_color(id) == Some("black"))
        .count()
}

/// Returns the id the `index`th primary-key lookup reads, spread over the table.
pub(crate) fn lookup_id(index: usize) -> i64 {
    i64::try_from(index * 7_919 % LOOKUP_USERS + 1).unwrap_or(1)
}

/// The one setup connection of a scratch database.
enum Admin {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
    Mysql(sqlx::MySqlConnection),
}

impl Admin {
    /// Runs setup SQL, which the bench writes itself from its own numbers and names.
    async fn execute(&mut self, sql: &str) -> Result<(), String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let result = match self {
            Admin::Sqlite(connection) => sqlx::raw_sql(sql).execute(connection).await.map(drop),
            Admin::Postgres(connection) => sqlx::raw_sql(sql).execute(connection).await.map(drop),
            Admin::Mysql(connection) => sqlx::raw_sql(sql).execute(connection).await.map(drop),
        };
        result.map_err(|error| format!("setup statement failed: {error}"))
    }
}

/// A scratch database and the connection that fills it.
pub(crate) struct Scratch {
    pub(crate) backend: Backend,
    /// The SQLite file, or the server database's name.
    name: String,
    admin: tokio::sync::Mutex<Admin>,
}

impl Scratch {
    /// Creates the scratch database and its three tables.
    pub(crate) async fn create(backend: Backend) -> Result<Self, String> {
        let pid = std::process::id();
        let (name, admin) = match backend {
            Backend::Sqlite => {
                let path: PathBuf = std::env::temp_dir().join(format!("covet-bench-{pid}.db"));
                let name = path.display().to_string();
                remove_sqlite_files(&name);
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename(&path)
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
                let connection = sqlx::SqliteConnection::connect_with(&options)
                    .await
                    .map_err(|error| format!("cannot create `{name}`: {error}"))?;
                (name, Admin::Sqlite(connection))
            }
            Backend::Postgres => {
                let name = format!("covet_bench_{pid}");
                let mut server = sqlx::PgConnection::connect(POSTGRES_ADMIN)
                    .await
                    .map_err(|error| unreachable_server("PostgreSQL", POSTGRES_ADMIN, &error))?;
                for sql in [
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut server)
                        .await
                        .map_err(|error| format!("cannot create database `{name}`: {error}"))?;
                }
                server.close().await.ok();
                let url = format!("postgres://root@127.0.0.1:5432/{name}");
                let connection = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|error| format!("cannot open `{name}`: {error}"))?;
                (name, Admin::Postgres(connection))
            }
            Backend::Mysql => {
                let name = format!("covet_bench_{pid}");
                let mut server = sqlx::MySqlConnection::connect(MYSQL_ADMIN)
                    .await
                    .map_err(|error| unreachable_server("MariaDB", MYSQL_ADMIN, &error))?;
                for sql in [
                    format!("DROP DATABASE IF EXISTS {name}"),
                    format!("CREATE DATABASE {name}"),
                ] {
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut server)
                        .await
                        .map_err(|error| format!("cannot create database `{name}`: {error}"))?;
                }
                server.close().await.ok();
                let url = format!("mysql://root@127.0.0.1:3306/{name}");
                let connection = sqlx::MySqlConnection::connect(&url)
                    .await
                    .map_err(|error| format!("cannot open `{name}`: {error}"))?;
                (name, Admin::Mysql(connection))
            }
        };
        let scratch = Scratch {
            backend,
            name,
            admin: tokio::sync::Mutex::new(admin),
        };
        scratch.admin.lock().await.execute(scratch.schema()).await?;
        Ok(scratch)
    }

    /// The URL every library opens, in the form sqlx, covet and SeaORM read.
    pub(crate) fn url(&self) -> String {
        match self.backend {
            Backend::Sqlite => format!("sqlite://{}", self.name),
            Backend::Postgres => format!("postgres://root@127.0.0.1:5432/{}", self.name),
            Backend::Mysql => format!("mysql://root@127.0.0.1:3306/{}", self.name),
        }
    }

    /// The URL Diesel opens: a plain path for SQLite.
    #[cfg_attr(not(feature = "peers"), allow(dead_code))]
    pub(crate) fn diesel_url(&self) -> String {
        match self.backend {
            Backend::Sqlite => self.name.clone(),
            _ => self.url(),
        }
    }

    /// The tables of Diesel's benchmark suite, with 64-bit keys, and indexes on the
    /// foreign keys that the eager loads and the join read.
    fn schema(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => {
                "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
                 CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL,
                     title TEXT NOT NULL, body TEXT);
                 CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL,
                     text TEXT NOT NULL);
                 CREATE INDEX posts_user_id ON posts (user_id);
                 CREATE INDEX comments_post_id ON comments (post_id);"
            }
            Backend::Postgres => {
                "CREATE TABLE users (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, hair_color TEXT);
                 CREATE TABLE posts (id BIGSERIAL PRIMARY KEY, user_id BIGINT NOT NULL,
                     title TEXT NOT NULL, body TEXT);
                 CREATE TABLE comments (id BIGSERIAL PRIMARY KEY, post_id BIGINT NOT NULL,
                     text TEXT NOT NULL);
                 CREATE INDEX posts_user_id ON posts (user_id);
                 CREATE INDEX comments_post_id ON comments (post_id);"
            }
            Backend::Mysql => {
                "CREATE TABLE users (id BIGINT AUTO_INCREMENT PRIMARY KEY,
                     name VARCHAR(255) NOT NULL, hair_color VARCHAR(255));
                 CREATE TABLE posts (id BIGINT AUTO_INCREMENT PRIMARY KEY,
                     user_id BIGINT NOT NULL, title VARCHAR(255) NOT NULL, body TEXT,
                     INDEX posts_user_id (user_id));
                 CREATE TABLE comments (id BIGINT AUTO_INCREMENT PRIMARY KEY,
                     post_id BIGINT NOT NULL, text TEXT NOT NULL,
                     INDEX comments_post_id (post_id));"
            }
        }
    }

    /// Empties the tables and fills them as `fixture` describes, outside any timing.
    pub(crate) async fn load(&self, fixture: Fixture) -> Result<(), String> {
        let mut admin = self.admin.lock().await;
        let empty = match self.backend {
            Backend::Sqlite => "DELETE FROM comments; DELETE FROM posts; DELETE FROM users;",
            Backend::Postgres => "TRUNCATE comments, posts, users",
            Backend::Mysql => {
                "TRUNCATE TABLE comments; TRUNCATE TABLE posts; TRUNCATE TABLE users;"
            }
        };
        admin.execute(empty).await?;
        let (users, posts_per_user, comments_per_post, every_other) = match fixture {
            Fixture::Empty => return Ok(()),
            Fixture::Users(users) => (users, 0, 0, false),
            Fixture::UsersWithPosts(users) => (users, 1, 0, true),
            Fixture::Tree => (TREE_USERS, TREE_POSTS, TREE_COMMENTS, false),
        };
        let user_rows: Vec<String> = (1..=users)
            .map(|id| {
                let hair = hair_color(id).map_or("NULL".to_owned(), |color| format!("'{color}'"));
                format!("({id}, 'User {id}', {hair})")
            })
            .collect();
        insert_chunks(&mut admin, "users (id, name, hair_color)", &user_rows).await?;
        let mut post_rows = Vec::new();
        for user in 1..=users {
            if every_other && user % 2 == 1 {
                continue;
            }
            for _ in 0..posts_per_user {
                let id = post_rows.len() + 1;
                let body = if id % 2 == 0 {
                    format!("'Body of post {id}'")
                } else {
                    "NULL".to_owned()
                };
                post_rows.push(format!("({id}, {user}, 'Post {id}', {body})"));
            }
        }
        insert_chunks(&mut admin, "posts (id, user_id, title, body)", &post_rows).await?;
        let comment_rows: Vec<String> = (1..=post_rows.len())
            .flat_map(|post| (0..comments_per_post).map(move |index| (post, index)))
            .enumerate()
            .map(|(index, (post, _))| {
                let id = index + 1;
                format!("({id}, {post}, 'Comment {id}')")
            })
            .collect();
        insert_chunks(&mut admin, "comments (id, post_id, text)", &comment_rows).await?;
        if self.backend == Backend::Postgres {
            // Fresh statistics, so that no library meets a plan made for an empty table.
            admin
                .execute("ANALYZE users; ANALYZE posts; ANALYZE comments")
                .await?;
        }
        Ok(())
    }

    /// Drops the scratch database, or removes the SQLite file.
    pub(crate) async fn drop_database(self) -> Result<(), String> {
        let admin = self.admin.into_inner();
        match admin {
            Admin::Sqlite(connection) => {
                connection.close().await.ok();
                remove_sqlite_files(&self.name);
                Ok(())
            }
            Admin::Postgres(connection) => {
                connection.close().await.ok();
                let mut server = sqlx::PgConnection::connect(POSTGRES_ADMIN)
                    .await
                    .map_err(|error| unreachable_server("PostgreSQL", POSTGRES_ADMIN, &error))?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&mut server)
                .await
                .map(drop)
                .map_err(|error| format!("cannot drop database `{}`: {error}", self.name))
            }
            Admin::Mysql(connection) => {
                connection.close().await.ok();
                let mut server = sqlx::MySqlConnection::connect(MYSQL_ADMIN)
                    .await
                    .map_err(|error| unreachable_server("MariaDB", MYSQL_ADMIN, &error))?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {}",
                    self.name
                )))
                .execute(&mut server)
                .await
                .map(drop)
                .map_err(|error| format!("cannot drop database `{}`: {error}", self.name))
            }
        }
    }
}

async fn insert_chunks(admin: &mut Admin, table: &str, rows: &[String]) -> Result<(), String> {
    for chunk in rows.chunks(SEED_CHUNK) {
        admin
            .execute(&format!("INSERT INTO {table} VALUES {}", chunk.join(", ")))
            .await?;
    }
    Ok(())
}

fn remove_sqlite_files(path: &str) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        std::fs::remove_file(format!("{path}{suffix}")).ok();
    }
}

fn unreachable_server(server: &str, url: &str, error: &sqlx::Error) -> String {
    format!(
        "cannot reach {server} at {url}: {error}; start it, or leave the backend out with \
         `--backend sqlite`"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_rows_count_the_black_haired_users() {
        assert_eq!(join_rows(100), 33);
        assert_eq!(join_rows(10_000), 3_333);
        assert_eq!(join_rows(2), 0);
    }

    #[test]
    fn lookup_ids_stay_inside_the_table_and_spread() {
        let ids: Vec<i64> = (0..1_000).map(lookup_id).collect();
        assert!(
            ids.iter()
                .all(|&id| usize::try_from(id).is_ok_and(|id| (1..=LOOKUP_USERS).contains(&id)))
        );
        let mut distinct = ids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ids.len());
    }

    #[test]
    fn backend_names_parse_and_unknown_ones_are_rejected() {
        assert_eq!(Backend::parse("postgresql"), Ok(Backend::Postgres));
        assert_eq!(Backend::parse("mysql"), Ok(Backend::Mysql));
        let message = Backend::parse("sqlserver").expect_err("unknown");
        assert!(message.contains("`sqlserver`"), "{message}");
    }
}
