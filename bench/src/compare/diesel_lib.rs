//! Diesel 2, synchronous: `table!` schemas, derived `Queryable`/`Selectable`/`Associations`
//! structs, `belonging_to` and `grouped_by` for eager loading. The single-connection
//! workloads run on one connection, as Diesel's own benchmark suite does; the concurrent
//! and pool workloads use `r2d2` (Diesel's `r2d2` feature) with `CONNECTIONS` connections
//! and its defaults, which test each connection on checkout, and one thread per task.
//!
//! The sync API rather than diesel-async: diesel-async has no SQLite driver of its own (only
//! a wrapper that moves the sync connection to a blocking thread) and its MySQL driver is
//! another crate's, so the sync API is the one Diesel offers on all three backends.

use std::time::Instant;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use diesel::{MysqlConnection, PgConnection, SqliteConnection};

use super::fixture::{self, Backend, Scratch};
use super::sqlx_lib::{expect, expect_tree, tree_sizes};
use super::{Outcome, TASKS, Workload};

#[allow(unreachable_pub)]
mod schema {
    diesel::table! {
        users (id) {
            id -> BigInt,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }

    diesel::table! {
        posts (id) {
            id -> BigInt,
            user_id -> BigInt,
            title -> Text,
            body -> Nullable<Text>,
        }
    }

    diesel::table! {
        comments (id) {
            id -> BigInt,
            post_id -> BigInt,
            text -> Text,
        }
    }

    diesel::joinable!(posts -> users (user_id));
    diesel::joinable!(comments -> posts (post_id));
    diesel::allow_tables_to_appear_in_same_query!(users, posts, comments);
}

use schema::{comments, posts, users};

/// A user.
#[derive(Debug, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
struct User {
    id: i64,
    #[allow(dead_code)]
    name: String,
    #[allow(dead_code)]
    hair_color: Option<String>,
}

/// A post of a user.
#[derive(Debug, Queryable, Selectable, Identifiable, Associations)]
#[diesel(belongs_to(User), table_name = posts)]
struct Post {
    id: i64,
    user_id: i64,
    #[allow(dead_code)]
    title: String,
    #[allow(dead_code)]
    body: Option<String>,
}

/// A comment on a post.
#[derive(Debug, Queryable, Selectable, Identifiable, Associations)]
#[diesel(belongs_to(Post), table_name = comments)]
struct Comment {
    id: i64,
    post_id: i64,
    #[allow(dead_code)]
    text: String,
}

/// A user to insert. `None` is written as NULL, which lets SQLite take many rows in one
/// statement.
#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUser {
    name: String,
    hair_color: Option<&'static str>,
}

fn new_user(index: usize) -> NewUser {
    NewUser {
        name: fixture::new_user_name(index),
        hair_color: fixture::hair_color(index),
    }
}

/// Writes the workloads for one connection type.
macro_rules! backend_functions {
    ($sample:ident, $pooled:ident, $connection:ty) => {
        fn $sample(
            connection: &mut $connection,
            workload: Workload,
            iterations: usize,
        ) -> Result<(), String> {
            let failed = |error: diesel::result::Error| error.to_string();
            match workload {
                Workload::SelectAll(rows) => {
                    for _ in 0..iterations {
                        let users = users::table
                            .select(User::as_select())
                            .load(connection)
                            .map_err(failed)?;
                        expect("select all", users.len(), rows)?;
                    }
                }
                Workload::PkSelect => {
                    for index in 0..iterations {
                        let id = fixture::lookup_id(index);
                        let user = users::table
                            .find(id)
                            .select(User::as_select())
                            .first(connection)
                            .map_err(failed)?;
                        expect("select one", usize::from(user.id == id), 1)?;
                    }
                }
                Workload::Join(users) => {
                    for _ in 0..iterations {
                        let rows: Vec<(User, Option<Post>)> = users::table
                            .left_join(posts::table)
                            .filter(users::hair_color.eq("black"))
                            .select((User::as_select(), Option::<Post>::as_select()))
                            .load(connection)
                            .map_err(failed)?;
                        expect("join", rows.len(), fixture::join_rows(users))?;
                    }
                }
                Workload::Eager => {
                    for _ in 0..iterations {
                        let users = users::table
                            .select(User::as_select())
                            .load(connection)
                            .map_err(failed)?;
                        let posts = Post::belonging_to(&users)
                            .select(Post::as_select())
                            .load(connection)
                            .map_err(failed)?;
                        let comments = Comment::belonging_to(&posts)
                            .select(Comment::as_select())
                            .load(connection)
                            .map_err(failed)?;
                        let comments = comments.grouped_by(&posts);
                        let posts = posts.into_iter().zip(comments).grouped_by(&users);
                        let tree: Vec<(User, Vec<(Post, Vec<Comment>)>)> =
                            users.into_iter().zip(posts).collect();
                        expect_tree(tree_sizes(&tree))?;
                    }
                }
                Workload::Insert(rows) => {
                    // NOTE: `execute`, as in Diesel's own suite, does not read back the key
                    // that the other libraries return for one row; MySQL has no `RETURNING`.
                    for index in 0..iterations {
                        let inserted = if rows == 1 {
                            diesel::insert_into(users::table)
                                .values(&new_user(index))
                                .execute(connection)
                        } else {
                            let new_users: Vec<NewUser> =
                                (index * rows..(index + 1) * rows).map(new_user).collect();
                            diesel::insert_into(users::table)
                                .values(&new_users)
                                .execute(connection)
                        }
                        .map_err(failed)?;
                        expect("insert", inserted, rows)?;
                    }
                }
                Workload::Concurrent
                | Workload::CheckoutUncontended
                | Workload::CheckoutContended => {
                    return Err(format!("`{workload}` runs on the pool"));
                }
            }
            Ok(())
        }

        fn $pooled(
            pool: &Pool<ConnectionManager<$connection>>,
            workload: Workload,
            iterations: usize,
        ) -> Result<(), String> {
            match workload {
                Workload::CheckoutUncontended => {
                    for _ in 0..iterations {
                        drop(pool.get().map_err(|error| error.to_string())?);
                    }
                    Ok(())
                }
                Workload::Concurrent | Workload::CheckoutContended => std::thread::scope(|scope| {
                    let threads: Vec<_> = (0..TASKS)
                        .map(|task| {
                            scope.spawn(move || -> Result<(), String> {
                                for index in 0..iterations {
                                    let mut connection =
                                        pool.get().map_err(|error| error.to_string())?;
                                    if workload == Workload::CheckoutContended {
                                        continue;
                                    }
                                    let id = fixture::lookup_id(task * iterations + index);
                                    let user = users::table
                                        .find(id)
                                        .select(User::as_select())
                                        .first(&mut *connection)
                                        .map_err(|error| error.to_string())?;
                                    expect("select one", usize::from(user.id == id), 1)?;
                                }
                                Ok(())
                            })
                        })
                        .collect();
                    threads.into_iter().try_for_each(|thread| {
                        thread.join().map_err(|_| "a thread panicked".to_owned())?
                    })
                }),
                _ => Err(format!("`{workload}` runs on one connection")),
            }
        }
    };
}

backend_functions!(sample_sqlite, pooled_sqlite, SqliteConnection);
backend_functions!(sample_postgres, pooled_postgres, PgConnection);
backend_functions!(sample_mysql, pooled_mysql, MysqlConnection);

/// One connection and one r2d2 pool of a backend.
enum Handles {
    Sqlite(SqliteConnection, Pool<ConnectionManager<SqliteConnection>>),
    Postgres(PgConnection, Pool<ConnectionManager<PgConnection>>),
    Mysql(MysqlConnection, Pool<ConnectionManager<MysqlConnection>>),
}

/// The Diesel subject.
pub(crate) struct Diesel {
    handles: Handles,
}

fn pool<C: diesel::r2d2::R2D2Connection + 'static>(
    url: &str,
) -> Result<Pool<ConnectionManager<C>>, String> {
    Pool::builder()
        .max_size(super::pool_size())
        .build(ConnectionManager::new(url))
        .map_err(|error| format!("Diesel r2d2 pool: {error}"))
}

impl Diesel {
    /// Opens one connection and an r2d2 pool of `CONNECTIONS`.
    pub(crate) fn connect(scratch: &Scratch) -> Result<Self, String> {
        let url = scratch.diesel_url();
        let failed = |error: diesel::ConnectionError| format!("Diesel connect: {error}");
        let handles = match scratch.backend {
            Backend::Sqlite => {
                let mut connection = SqliteConnection::establish(&url).map_err(failed)?;
                diesel::sql_query("PRAGMA busy_timeout = 5000")
                    .execute(&mut connection)
                    .map_err(|error| error.to_string())?;
                Handles::Sqlite(connection, pool(&url)?)
            }
            Backend::Postgres => {
                Handles::Postgres(PgConnection::establish(&url).map_err(failed)?, pool(&url)?)
            }
            Backend::Mysql => Handles::Mysql(
                MysqlConnection::establish(&url).map_err(failed)?,
                pool(&url)?,
            ),
        };
        Ok(Diesel { handles })
    }

    /// Runs one sample of `workload`, blocking this runtime thread as sync Diesel does.
    pub(crate) async fn run(
        &mut self,
        workload: Workload,
        iterations: usize,
    ) -> Result<Outcome, String> {
        let pooled = matches!(
            workload,
            Workload::Concurrent | Workload::CheckoutUncontended | Workload::CheckoutContended
        );
        tokio::task::block_in_place(|| {
            let started = Instant::now();
            match (&mut self.handles, pooled) {
                (Handles::Sqlite(connection, _), false) => {
                    sample_sqlite(connection, workload, iterations)
                }
                (Handles::Sqlite(_, pool), true) => pooled_sqlite(pool, workload, iterations),
                (Handles::Postgres(connection, _), false) => {
                    sample_postgres(connection, workload, iterations)
                }
                (Handles::Postgres(_, pool), true) => pooled_postgres(pool, workload, iterations),
                (Handles::Mysql(connection, _), false) => {
                    sample_mysql(connection, workload, iterations)
                }
                (Handles::Mysql(_, pool), true) => pooled_mysql(pool, workload, iterations),
            }?;
            Ok(Outcome::Time(started.elapsed()))
        })
    }
}
