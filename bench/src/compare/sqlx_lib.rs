//! Raw sqlx: hand-written SQL, `#[derive(sqlx::FromRow)]` structs, and `QueryBuilder` for
//! multi-row inserts and `IN` lists. One struct serves both subjects: on one connection,
//! and behind a `Pool` of `CONNECTIONS`, which keeps sqlx's defaults (a ping before each
//! checkout among them).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use super::fixture::{self, Backend, Scratch};
use super::{Outcome, TASKS, Workload};

/// A user row.
// Decoded as an application would; the bench reads only the keys.
#[allow(dead_code)]
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct User {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) hair_color: Option<String>,
}

/// A post row.
// Decoded as an application would; the bench reads only the keys.
#[allow(dead_code)]
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Post {
    pub(crate) id: i64,
    pub(crate) user_id: i64,
    pub(crate) title: String,
    pub(crate) body: Option<String>,
}

/// A comment row.
// Decoded as an application would; the bench reads only the keys.
#[allow(dead_code)]
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Comment {
    pub(crate) id: i64,
    pub(crate) post_id: i64,
    pub(crate) text: String,
}

/// Checks that a workload returned as many rows as the fixture holds, so that no library
/// gets away with less work.
pub(crate) fn expect(what: &str, got: usize, wanted: usize) -> Result<(), String> {
    if got == wanted {
        Ok(())
    } else {
        Err(format!("{what}: got {got} rows, expected {wanted}"))
    }
}

/// Users with their posts, and each post with its comments.
pub(crate) type Tree = Vec<(User, Vec<(Post, Vec<Comment>)>)>;

/// Checks the rows a write reports against the rows it sent.
pub(crate) fn expect_affected(what: &str, affected: u64, wanted: usize) -> Result<(), String> {
    if u64::try_from(wanted) == Ok(affected) {
        Ok(())
    } else {
        Err(format!(
            "{what}: {affected} rows affected, expected {wanted}"
        ))
    }
}

/// Groups posts under their users and comments under their posts, in the parents' order.
fn tree(users: Vec<User>, posts: Vec<Post>, comments: Vec<Comment>) -> Tree {
    let mut by_post: HashMap<i64, Vec<Comment>> = HashMap::new();
    for comment in comments {
        by_post.entry(comment.post_id).or_default().push(comment);
    }
    let mut by_user: HashMap<i64, Vec<(Post, Vec<Comment>)>> = HashMap::new();
    for post in posts {
        let comments = by_post.remove(&post.id).unwrap_or_default();
        by_user
            .entry(post.user_id)
            .or_default()
            .push((post, comments));
    }
    users
        .into_iter()
        .map(|user| {
            let posts = by_user.remove(&user.id).unwrap_or_default();
            (user, posts)
        })
        .collect()
}

/// One user of an eager-loaded tree of any library: the user, its posts and their comments.
pub(crate) type Branch<U, P, C> = (U, Vec<(P, Vec<C>)>);

/// Counts the users, posts and comments of an eager-loaded tree.
pub(crate) fn tree_sizes<U, P, C>(tree: &[Branch<U, P, C>]) -> (usize, usize, usize) {
    let posts = tree.iter().map(|(_, posts)| posts.len()).sum();
    let comments = tree
        .iter()
        .flat_map(|(_, posts)| posts.iter().map(|(_, comments)| comments.len()))
        .sum();
    (tree.len(), posts, comments)
}

/// Checks an eager-loaded tree against the fixture's sizes.
pub(crate) fn expect_tree(sizes: (usize, usize, usize)) -> Result<(), String> {
    let wanted = (
        fixture::TREE_USERS,
        fixture::TREE_USERS * fixture::TREE_POSTS,
        fixture::TREE_USERS * fixture::TREE_POSTS * fixture::TREE_COMMENTS,
    );
    if sizes == wanted {
        Ok(())
    } else {
        Err(format!(
            "eager load: got (users, posts, comments) = {sizes:?}, expected {wanted:?}"
        ))
    }
}

/// Writes one backend's workloads. `$p1` is its first bind placeholder.
macro_rules! backend_module {
    ($module:ident, $db:ty, $connection:ty, $pool:ty, $options:ty, $p1:literal) => {
        pub(crate) mod $module {
            use super::*;
            use sqlx::{Connection, Executor, QueryBuilder, Row};

            const SELECT_ALL: &str = "SELECT id, name, hair_color FROM users";
            const SELECT_ONE: &str =
                concat!("SELECT id, name, hair_color FROM users WHERE id = ", $p1);
            const JOIN: &str = concat!(
                "SELECT users.id, users.name, users.hair_color, ",
                "posts.id, posts.user_id, posts.title, posts.body ",
                "FROM users LEFT JOIN posts ON posts.user_id = users.id ",
                "WHERE users.hair_color = ",
                $p1
            );

            /// The handles of one subject: a connection, or a pool.
            pub(crate) enum Handle {
                Connection($connection),
                Pool($pool),
            }

            pub(crate) async fn connect(url: &str, pooled: bool) -> Result<Handle, String> {
                let options: $options = url
                    .parse()
                    .map_err(|error| format!("sqlx cannot parse its URL: {error}"))?;
                if pooled {
                    let pool = sqlx::pool::PoolOptions::<$db>::new()
                        .max_connections(super::super::pool_size())
                        .connect_with(options)
                        .await
                        .map_err(|error| format!("sqlx pool: {error}"))?;
                    Ok(Handle::Pool(pool))
                } else {
                    let connection = <$connection>::connect_with(&options)
                        .await
                        .map_err(|error| format!("sqlx connect: {error}"))?;
                    Ok(Handle::Connection(connection))
                }
            }

            // NOTE: reads with `fetch_all` because `fetch_one` took 4 to 10 µs more per lookup
            // on PostgreSQL and MariaDB with sqlx 0.9.1 here, and the baseline should be the
            // fastest plain sqlx call (covet reads every row of its result too).
            async fn select_one<'c, E: Executor<'c, Database = $db>>(
                executor: E,
                id: i64,
            ) -> sqlx::Result<User> {
                sqlx::query_as::<_, User>(SELECT_ONE)
                    .bind(id)
                    .fetch_all(executor)
                    .await?
                    .pop()
                    .ok_or(sqlx::Error::RowNotFound)
            }

            async fn select_all<'c, E: Executor<'c, Database = $db>>(
                executor: E,
            ) -> sqlx::Result<Vec<User>> {
                sqlx::query_as::<_, User>(SELECT_ALL)
                    .fetch_all(executor)
                    .await
            }

            async fn join<'c, E: Executor<'c, Database = $db>>(
                executor: E,
            ) -> sqlx::Result<Vec<(User, Option<Post>)>> {
                let rows = sqlx::query(JOIN).bind("black").fetch_all(executor).await?;
                rows.iter()
                    .map(|row| {
                        let user = User {
                            id: row.try_get(0)?,
                            name: row.try_get(1)?,
                            hair_color: row.try_get(2)?,
                        };
                        let post = match row.try_get::<Option<i64>, _>(3)? {
                            Some(id) => Some(Post {
                                id,
                                user_id: row.try_get(4)?,
                                title: row.try_get(5)?,
                                body: row.try_get(6)?,
                            }),
                            None => None,
                        };
                        Ok((user, post))
                    })
                    .collect()
            }

            async fn insert_rows<'c, E: Executor<'c, Database = $db>>(
                executor: E,
                first: usize,
                count: usize,
            ) -> sqlx::Result<u64> {
                let mut builder = QueryBuilder::<$db>::new("INSERT INTO users (name, hair_color) ");
                builder.push_values(first..first + count, |mut row, index| {
                    row.push_bind(fixture::new_user_name(index))
                        .push_bind(fixture::hair_color(index));
                });
                Ok(builder.build().execute(executor).await?.rows_affected())
            }

            async fn eager(connection: &mut $connection) -> sqlx::Result<Tree> {
                let users = sqlx::query_as::<_, User>(SELECT_ALL)
                    .fetch_all(&mut *connection)
                    .await?;
                let mut builder = QueryBuilder::<$db>::new(
                    "SELECT id, user_id, title, body FROM posts WHERE user_id IN (",
                );
                let mut list = builder.separated(", ");
                for user in &users {
                    list.push_bind(user.id);
                }
                builder.push(")");
                let posts = builder
                    .build_query_as::<Post>()
                    .fetch_all(&mut *connection)
                    .await?;
                let mut builder = QueryBuilder::<$db>::new(
                    "SELECT id, post_id, text FROM comments WHERE post_id IN (",
                );
                let mut list = builder.separated(", ");
                for post in &posts {
                    list.push_bind(post.id);
                }
                builder.push(")");
                let comments = builder
                    .build_query_as::<Comment>()
                    .fetch_all(&mut *connection)
                    .await?;
                Ok(tree(users, posts, comments))
            }

            /// Runs one sample of `workload` and returns its time.
            pub(crate) async fn run(
                handle: &mut Handle,
                workload: Workload,
                iterations: usize,
            ) -> Result<Outcome, String> {
                let started = Instant::now();
                let failed = |error: sqlx::Error| error.to_string();
                match (workload, handle) {
                    (Workload::SelectAll(rows), Handle::Connection(connection)) => {
                        for _ in 0..iterations {
                            let users = select_all(&mut *connection).await.map_err(failed)?;
                            expect("select all", users.len(), rows)?;
                        }
                    }
                    (Workload::SelectAll(rows), Handle::Pool(pool)) => {
                        for _ in 0..iterations {
                            let users = select_all(&*pool).await.map_err(failed)?;
                            expect("select all", users.len(), rows)?;
                        }
                    }
                    (Workload::PkSelect, Handle::Connection(connection)) => {
                        for index in 0..iterations {
                            let id = fixture::lookup_id(index);
                            let user = select_one(&mut *connection, id).await.map_err(failed)?;
                            expect("select one", usize::from(user.id == id), 1)?;
                        }
                    }
                    (Workload::PkSelect, Handle::Pool(pool)) => {
                        for index in 0..iterations {
                            let id = fixture::lookup_id(index);
                            let user = select_one(&*pool, id).await.map_err(failed)?;
                            expect("select one", usize::from(user.id == id), 1)?;
                        }
                    }
                    (Workload::Join(users), Handle::Connection(connection)) => {
                        for _ in 0..iterations {
                            let rows = join(&mut *connection).await.map_err(failed)?;
                            expect("join", rows.len(), fixture::join_rows(users))?;
                        }
                    }
                    (Workload::Join(users), Handle::Pool(pool)) => {
                        for _ in 0..iterations {
                            let rows = join(&*pool).await.map_err(failed)?;
                            expect("join", rows.len(), fixture::join_rows(users))?;
                        }
                    }
                    (Workload::Eager, Handle::Connection(connection)) => {
                        for _ in 0..iterations {
                            let tree = eager(connection).await.map_err(failed)?;
                            expect_tree(tree_sizes(&tree))?;
                        }
                    }
                    (Workload::Eager, Handle::Pool(pool)) => {
                        for _ in 0..iterations {
                            let mut connection = pool.acquire().await.map_err(failed)?;
                            let tree = eager(&mut connection).await.map_err(failed)?;
                            expect_tree(tree_sizes(&tree))?;
                        }
                    }
                    (Workload::Insert(1), handle) => {
                        for index in 0..iterations {
                            let id = handle.insert_one_returning(index).await.map_err(failed)?;
                            expect("insert one", usize::from(id > 0), 1)?;
                        }
                    }
                    (Workload::Insert(rows), Handle::Connection(connection)) => {
                        for index in 0..iterations {
                            let inserted = insert_rows(&mut *connection, index * rows, rows)
                                .await
                                .map_err(failed)?;
                            expect_affected("insert", inserted, rows)?;
                        }
                    }
                    (Workload::Insert(rows), Handle::Pool(pool)) => {
                        for index in 0..iterations {
                            let inserted = insert_rows(&*pool, index * rows, rows)
                                .await
                                .map_err(failed)?;
                            expect_affected("insert", inserted, rows)?;
                        }
                    }
                    (Workload::Concurrent, Handle::Pool(pool)) => {
                        let pool = Arc::new(pool.clone());
                        let tasks: Vec<_> = (0..TASKS)
                            .map(|task| {
                                let pool = Arc::clone(&pool);
                                tokio::spawn(async move {
                                    for index in 0..iterations {
                                        let id = fixture::lookup_id(task * iterations + index);
                                        let user = select_one(&*pool, id).await?;
                                        if user.id != id {
                                            return Err(sqlx::Error::RowNotFound);
                                        }
                                    }
                                    Ok(())
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await
                                .map_err(|error| error.to_string())?
                                .map_err(failed)?;
                        }
                    }
                    (Workload::CheckoutUncontended, Handle::Pool(pool)) => {
                        for _ in 0..iterations {
                            drop(pool.acquire().await.map_err(failed)?);
                        }
                    }
                    (Workload::CheckoutContended, Handle::Pool(pool)) => {
                        let tasks: Vec<_> = (0..TASKS)
                            .map(|_| {
                                let pool = pool.clone();
                                tokio::spawn(async move {
                                    for _ in 0..iterations {
                                        drop(pool.acquire().await?);
                                    }
                                    Ok::<_, sqlx::Error>(())
                                })
                            })
                            .collect();
                        for task in tasks {
                            task.await
                                .map_err(|error| error.to_string())?
                                .map_err(failed)?;
                        }
                    }
                    (
                        Workload::Concurrent
                        | Workload::CheckoutUncontended
                        | Workload::CheckoutContended,
                        Handle::Connection(_),
                    ) => {
                        return Ok(Outcome::Unsupported("one connection, no pool"));
                    }
                }
                Ok(Outcome::Time(started.elapsed()))
            }
        }
    };
}

backend_module!(
    sqlite,
    sqlx::Sqlite,
    sqlx::SqliteConnection,
    sqlx::SqlitePool,
    sqlx::sqlite::SqliteConnectOptions,
    "$1"
);
backend_module!(
    postgres,
    sqlx::Postgres,
    sqlx::PgConnection,
    sqlx::PgPool,
    sqlx::postgres::PgConnectOptions,
    "$1"
);
backend_module!(
    mysql,
    sqlx::MySql,
    sqlx::MySqlConnection,
    sqlx::MySqlPool,
    sqlx::mysql::MySqlConnectOptions,
    "?"
);

const INSERT_RETURNING: &str = "INSERT INTO users (name, hair_color) VALUES ($1, $2) RETURNING id";

impl sqlite::Handle {
    async fn insert_one_returning(&mut self, index: usize) -> sqlx::Result<i64> {
        let query = sqlx::query_scalar::<_, i64>(INSERT_RETURNING)
            .bind(fixture::new_user_name(index))
            .bind(fixture::hair_color(index));
        match self {
            sqlite::Handle::Connection(connection) => query.fetch_one(connection).await,
            sqlite::Handle::Pool(pool) => query.fetch_one(&*pool).await,
        }
    }
}

impl postgres::Handle {
    async fn insert_one_returning(&mut self, index: usize) -> sqlx::Result<i64> {
        let query = sqlx::query_scalar::<_, i64>(INSERT_RETURNING)
            .bind(fixture::new_user_name(index))
            .bind(fixture::hair_color(index));
        match self {
            postgres::Handle::Connection(connection) => query.fetch_one(connection).await,
            postgres::Handle::Pool(pool) => query.fetch_one(&*pool).await,
        }
    }
}

impl mysql::Handle {
    /// Reads the key from the insert's `last_insert_id`, because MySQL has no
    /// `INSERT ... RETURNING` (MariaDB has it from 10.5).
    async fn insert_one_returning(&mut self, index: usize) -> sqlx::Result<i64> {
        let query = sqlx::query("INSERT INTO users (name, hair_color) VALUES (?, ?)")
            .bind(fixture::new_user_name(index))
            .bind(fixture::hair_color(index));
        let done = match self {
            mysql::Handle::Connection(connection) => query.execute(connection).await?,
            mysql::Handle::Pool(pool) => query.execute(&*pool).await?,
        };
        i64::try_from(done.last_insert_id()).map_err(|error| sqlx::Error::Decode(Box::new(error)))
    }
}

/// The raw sqlx subject on one backend.
pub(crate) enum Sqlx {
    Sqlite(sqlite::Handle),
    Postgres(postgres::Handle),
    Mysql(mysql::Handle),
}

impl Sqlx {
    /// Opens one connection, or a pool when `pooled`.
    pub(crate) async fn connect(scratch: &Scratch, pooled: bool) -> Result<Self, String> {
        let url = scratch.url();
        Ok(match scratch.backend {
            Backend::Sqlite => Sqlx::Sqlite(sqlite::connect(&url, pooled).await?),
            Backend::Postgres => Sqlx::Postgres(postgres::connect(&url, pooled).await?),
            Backend::Mysql => Sqlx::Mysql(mysql::connect(&url, pooled).await?),
        })
    }

    /// Runs one sample of `workload`.
    pub(crate) async fn run(
        &mut self,
        workload: Workload,
        iterations: usize,
    ) -> Result<Outcome, String> {
        match self {
            Sqlx::Sqlite(handle) => sqlite::run(handle, workload, iterations).await,
            Sqlx::Postgres(handle) => postgres::run(handle, workload, iterations).await,
            Sqlx::Mysql(handle) => mysql::run(handle, workload, iterations).await,
        }
    }
}
