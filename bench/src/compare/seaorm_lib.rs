//! SeaORM: entities in its compact format, `find_also_related` for the join, `LoaderTrait`
//! for eager loading and `insert_many`, on one `DatabaseConnection` whose pool has
//! `CONNECTIONS` connections, with sqlx's statement logging off.

use std::time::Instant;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, DatabaseConnection, DbErr, EntityTrait,
    LoaderTrait, QueryFilter, Set,
};

use super::fixture::{self, Scratch};
use super::sqlx_lib::{expect, expect_affected, expect_tree, tree_sizes};
use super::{Outcome, TASKS, Workload};

// SeaORM's derives want these items public.
#[allow(unreachable_pub)]
mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub name: String,
        pub hair_color: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(has_many = "super::post::Entity")]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub title: String,
        pub body: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::user::Entity",
            from = "Column::UserId",
            to = "super::user::Column::Id"
        )]
        User,
        #[sea_orm(has_many = "super::comment::Entity")]
        Comment,
    }

    impl Related<super::user::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::User.def()
        }
    }

    impl Related<super::comment::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Comment.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

#[allow(unreachable_pub)]
mod comment {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "comments")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub post_id: i64,
        pub text: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {
        #[sea_orm(
            belongs_to = "super::post::Entity",
            from = "Column::PostId",
            to = "super::post::Column::Id"
        )]
        Post,
    }

    impl Related<super::post::Entity> for Entity {
        fn to() -> RelationDef {
            Relation::Post.def()
        }
    }

    impl ActiveModelBehavior for ActiveModel {}
}

type Tree = Vec<(user::Model, Vec<(post::Model, Vec<comment::Model>)>)>;

fn new_user(index: usize) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(fixture::new_user_name(index)),
        hair_color: Set(fixture::hair_color(index).map(str::to_owned)),
        ..Default::default()
    }
}

/// Loads every user with its posts and their comments: one query per level.
async fn eager(db: &DatabaseConnection) -> Result<Tree, DbErr> {
    let users = user::Entity::find().all(db).await?;
    let posts = users.load_many(post::Entity, db).await?;
    let counts: Vec<usize> = posts.iter().map(Vec::len).collect();
    let flat: Vec<post::Model> = posts.into_iter().flatten().collect();
    let comments = flat.load_many(comment::Entity, db).await?;
    let mut pairs = flat.into_iter().zip(comments);
    Ok(users
        .into_iter()
        .zip(counts)
        .map(|(user, count)| (user, pairs.by_ref().take(count).collect()))
        .collect())
}

/// The SeaORM subject.
pub(crate) struct SeaOrm {
    db: DatabaseConnection,
}

impl SeaOrm {
    /// Opens the scratch database with a pool of `CONNECTIONS`.
    pub(crate) async fn connect(scratch: &Scratch) -> Result<Self, String> {
        let mut options = ConnectOptions::new(scratch.url());
        options
            .max_connections(super::pool_size())
            .sqlx_logging(false);
        let db = sea_orm::Database::connect(options)
            .await
            .map_err(|error| format!("SeaORM connect: {error}"))?;
        Ok(SeaOrm { db })
    }

    /// Runs one sample of `workload`.
    pub(crate) async fn run(
        &self,
        workload: Workload,
        iterations: usize,
    ) -> Result<Outcome, String> {
        let db = &self.db;
        let failed = |error: DbErr| error.to_string();
        let started = Instant::now();
        match workload {
            Workload::SelectAll(rows) => {
                for _ in 0..iterations {
                    let users = user::Entity::find().all(db).await.map_err(failed)?;
                    expect("select all", users.len(), rows)?;
                }
            }
            Workload::PkSelect => {
                for index in 0..iterations {
                    let id = fixture::lookup_id(index);
                    let user = user::Entity::find_by_id(id).one(db).await.map_err(failed)?;
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
                                match user::Entity::find_by_id(id).one(&db).await {
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
            Workload::CheckoutUncontended | Workload::CheckoutContended => {
                return Ok(Outcome::Unsupported(
                    "no checkout API: statements take a connection inside",
                ));
            }
            Workload::Join(users) => {
                for _ in 0..iterations {
                    let rows = user::Entity::find()
                        .filter(user::Column::HairColor.eq("black"))
                        .find_also_related(post::Entity)
                        .all(db)
                        .await
                        .map_err(failed)?;
                    expect("join", rows.len(), fixture::join_rows(users))?;
                }
            }
            Workload::Eager => {
                for _ in 0..iterations {
                    let tree = eager(db).await.map_err(failed)?;
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
                    let users: Vec<user::ActiveModel> =
                        (index * rows..(index + 1) * rows).map(new_user).collect();
                    user::Entity::insert_many(users)
                        .exec_without_returning(db)
                        .await
                        .map_err(failed)
                        .and_then(|inserted| expect_affected("insert", inserted, rows))?;
                }
            }
        }
        Ok(Outcome::Time(started.elapsed()))
    }
}
