//! covet: derived models, typed queries, `Select::left_join`, `Select::with` for eager
//! loading and `Model::insert_many`, on one `Database` whose pool has `CONNECTIONS`
//! connections and keeps covet's defaults otherwise.

use std::time::Instant;

use covet::{ConnectOptions, Database, Model};

use super::fixture::{self, Scratch};
use super::sqlx_lib::{expect, expect_affected, expect_tree, tree_sizes};
use super::{CONNECTIONS, Outcome, TASKS, Workload};

/// A user.
#[derive(Model, Debug, Clone)]
#[covet(table = "users", has_many(Post))]
pub(crate) struct User {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
    hair_color: Option<String>,
}

/// A post of a user.
#[derive(Model, Debug, Clone)]
#[covet(table = "posts", belongs_to(User), has_many(Comment))]
pub(crate) struct Post {
    #[covet(primary_key, auto_increment)]
    id: i64,
    user_id: i64,
    title: String,
    body: Option<String>,
}

/// A comment on a post.
#[derive(Model, Debug, Clone)]
#[covet(table = "comments", belongs_to(Post))]
pub(crate) struct Comment {
    #[covet(primary_key, auto_increment)]
    id: i64,
    post_id: i64,
    text: String,
}

fn new_user(index: usize) -> User {
    User {
        id: 0,
        name: fixture::new_user_name(index),
        hair_color: fixture::hair_color(index).map(str::to_owned),
    }
}

/// The covet subject.
pub(crate) struct Covet {
    db: Database,
}

impl Covet {
    /// Opens the scratch database with a pool of `CONNECTIONS`.
    pub(crate) async fn connect(scratch: &Scratch) -> Result<Self, String> {
        let options = ConnectOptions::new().max_connections(CONNECTIONS);
        let db = Database::connect_with(&scratch.url(), options)
            .await
            .map_err(|error| format!("covet connect: {error}"))?;
        Ok(Covet { db })
    }

    /// Closes the pool.
    pub(crate) fn close(&self) {
        self.db.close();
    }

    /// Runs one sample of `workload`.
    pub(crate) async fn run(
        &self,
        workload: Workload,
        iterations: usize,
    ) -> Result<Outcome, String> {
        let db = &self.db;
        let failed = |error: covet::Error| error.to_string();
        let started = Instant::now();
        match workload {
            Workload::SelectAll(rows) => {
                for _ in 0..iterations {
                    let users = User::query().all(db).await.map_err(failed)?;
                    expect("select all", users.len(), rows)?;
                }
            }
            Workload::PkSelect => {
                for index in 0..iterations {
                    let id = fixture::lookup_id(index);
                    let user = User::find(db, id).await.map_err(failed)?;
                    expect(
                        "select one",
                        usize::from(user.is_some_and(|user| user.id == id)),
                        1,
                    )?;
                }
            }
            Workload::Concurrent => {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|task| {
                        let db = db.clone();
                        tokio::spawn(async move {
                            for index in 0..iterations {
                                let id = fixture::lookup_id(task * iterations + index);
                                match User::find(&db, id).await {
                                    Ok(Some(user)) if user.id == id => {}
                                    Ok(_) => return Err(format!("user {id} not found")),
                                    Err(error) => return Err(error.to_string()),
                                }
                            }
                            Ok(())
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await.map_err(|error| error.to_string())??;
                }
            }
            Workload::CheckoutUncontended => {
                for _ in 0..iterations {
                    drop(db.backend().acquire().await.map_err(failed)?);
                }
            }
            Workload::CheckoutContended => {
                let tasks: Vec<_> = (0..TASKS)
                    .map(|_| {
                        let db = db.clone();
                        tokio::spawn(async move {
                            for _ in 0..iterations {
                                drop(db.backend().acquire().await?);
                            }
                            Ok::<_, covet::Error>(())
                        })
                    })
                    .collect();
                for task in tasks {
                    task.await
                        .map_err(|error| error.to_string())?
                        .map_err(failed)?;
                }
            }
            Workload::Join(users) => {
                for _ in 0..iterations {
                    let rows = User::query()
                        .filter(User::HAIR_COLOR.eq(String::from("black")))
                        .left_join(User::posts())
                        .all(db)
                        .await
                        .map_err(failed)?;
                    expect("join", rows.len(), fixture::join_rows(users))?;
                }
            }
            Workload::Eager => {
                for _ in 0..iterations {
                    let tree = User::query()
                        .with(User::posts().with(Post::comments()))
                        .all(db)
                        .await
                        .map_err(failed)?;
                    expect_tree(tree_sizes(&tree))?;
                }
            }
            Workload::Insert(1) => {
                for index in 0..iterations {
                    let user = new_user(index).insert(db).await.map_err(failed)?;
                    expect("insert one", usize::from(user.id > 0), 1)?;
                }
            }
            Workload::Insert(rows) => {
                for index in 0..iterations {
                    let users: Vec<User> =
                        (index * rows..(index + 1) * rows).map(new_user).collect();
                    let inserted = User::insert_many(db, &users).await.map_err(failed)?;
                    expect_affected("insert", inserted, rows)?;
                }
            }
        }
        Ok(Outcome::Time(started.elapsed()))
    }
}
