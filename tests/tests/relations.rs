//! Relations declared on models and loaded in batches, on every backend.
//!
//! A counting executor wraps the database and records each statement's SQL, so the tests
//! check the number of statements an eager load sends, not only its result.

mod support;

use std::sync::Mutex;

use async_trait::async_trait;
use covet::backend::{Backend, ExecResult, RowSink, RowStream, Statement};
use covet::{Database, Executor, Model, Relation, Transaction};

// Two relations to the same model repeat its name, which clippy's duplicated_attributes
// lint mistakes for a repeated attribute (rust-clippy#12923).
#[allow(clippy::duplicated_attributes)]
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "users", has_many(Post), has_one(Profile), has_many(Note))]
#[covet(has_many(Post, foreign_key = "editor_id", name = "edited_posts"))]
struct User {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[allow(clippy::duplicated_attributes)]
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "posts", belongs_to(User), has_many(Comment))]
#[covet(many_to_many(Tag, through = PostTag))]
#[covet(belongs_to(User, foreign_key = "editor_id", name = "editor"))]
#[covet(many_to_many(Tag, through = Tagging, name = "live_tags"))]
struct Post {
    #[covet(primary_key, auto_increment)]
    id: i64,
    user_id: i64,
    editor_id: Option<i64>,
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "comments", belongs_to(Post))]
struct Comment {
    #[covet(primary_key, auto_increment)]
    id: i64,
    post_id: i64,
    body: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tags", many_to_many(Post, through = PostTag))]
struct Tag {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "post_tags")]
struct PostTag {
    #[covet(primary_key)]
    post_id: i64,
    #[covet(primary_key)]
    tag_id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "profiles", belongs_to(User))]
struct Profile {
    #[covet(primary_key, auto_increment)]
    id: i64,
    user_id: Option<i64>,
    bio: String,
}

/// A soft-deleted row must not show up through relations or joins.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "notes")]
struct Note {
    #[covet(primary_key, auto_increment)]
    id: i64,
    user_id: i64,
    text: String,
    #[covet(soft_delete)]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A join table whose rows can be soft-deleted, which then no longer link their rows.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "taggings")]
struct Tagging {
    #[covet(primary_key)]
    post_id: i64,
    #[covet(primary_key)]
    tag_id: i64,
    #[covet(soft_delete)]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// An executor that records the SQL of every statement it runs.
struct Counting {
    db: Database,
    statements: Mutex<Vec<String>>,
}

impl Counting {
    fn new(db: &Database) -> Self {
        Self {
            db: db.clone(),
            statements: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, statement: &Statement) {
        self.statements
            .lock()
            .unwrap()
            .push(statement.sql.to_string());
    }

    /// Returns the statements run since the last call, and clears the record.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.statements.lock().unwrap())
    }
}

#[async_trait]
impl Executor for Counting {
    fn backend(&self) -> &dyn Backend {
        self.db.backend()
    }

    async fn execute(&self, statement: Statement) -> covet::Result<ExecResult> {
        self.record(&statement);
        self.db.execute(statement).await
    }

    async fn execute_unprepared(&self, statement: Statement) -> covet::Result<ExecResult> {
        self.record(&statement);
        self.db.execute_unprepared(statement).await
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> covet::Result<u64> {
        self.record(&statement);
        self.db.fetch(statement, sink).await
    }

    fn fetch_stream(&self, statement: Statement) -> RowStream<'_> {
        self.record(&statement);
        self.db.fetch_stream(statement)
    }

    async fn begin(&self) -> covet::Result<Transaction> {
        self.db.begin().await
    }
}

async fn create_tables(db: &Database) -> covet::Result<()> {
    User::create_table(db).await?;
    Post::create_table(db).await?;
    Comment::create_table(db).await?;
    Tag::create_table(db).await?;
    PostTag::create_table(db).await?;
    Profile::create_table(db).await?;
    Note::create_table(db).await?;
    Tagging::create_table(db).await?;
    Ok(())
}

/// Inserts users numbered from `first` up to `end`, each with `posts` posts, each with
/// `comments` comments. Post titles and comment bodies name their parents, so that tests
/// can check the grouping.
async fn seed(
    db: &Database,
    users: std::ops::Range<usize>,
    posts: usize,
    comments: usize,
) -> covet::Result<()> {
    for user in users {
        let user = User {
            id: 0,
            name: format!("user {user}"),
        }
        .insert(db)
        .await?;
        for post in 0..posts {
            let post = Post {
                id: 0,
                user_id: user.id,
                editor_id: None,
                title: format!("{} post {post}", user.name),
            }
            .insert(db)
            .await?;
            let rows: Vec<Comment> = (0..comments)
                .map(|comment| Comment {
                    id: 0,
                    post_id: post.id,
                    body: format!("{} comment {comment}", post.title),
                })
                .collect();
            Comment::insert_many(db, &rows).await?;
        }
    }
    Ok(())
}

/// Loads users with posts and comments through `counting`, checks every row landed
/// under its parent, and returns the number of statements sent.
async fn load_three_levels(counting: &Counting, users: usize) -> covet::Result<usize> {
    counting.take();
    let loaded = User::query()
        .order_by_asc(User::ID)
        .with(
            User::posts()
                .order_by_asc(Post::ID)
                .with(Post::comments().order_by_asc(Comment::ID)),
        )
        .all(counting)
        .await?;
    assert_eq!(loaded.len(), users);
    for (index, (user, posts)) in loaded.iter().enumerate() {
        assert_eq!(user.name, format!("user {index}"));
        assert_eq!(posts.len(), 2, "{user:?}");
        for (number, (post, comments)) in posts.iter().enumerate() {
            assert_eq!(post.user_id, user.id);
            assert_eq!(post.title, format!("user {index} post {number}"));
            let bodies: Vec<&str> = comments.iter().map(|c| c.body.as_str()).collect();
            let expected: Vec<String> = (0..3)
                .map(|comment| format!("{} comment {comment}", post.title))
                .collect();
            assert_eq!(bodies, expected);
        }
    }
    Ok(counting.take().len())
}

backend_tests! {
    async fn eager_loading_sends_one_statement_per_level(db) {
        create_tables(&db).await?;
        let counting = Counting::new(&db);
        seed(&db, 0..4, 2, 3).await?;
        assert_eq!(load_three_levels(&counting, 4).await?, 3);
        // Ten times the parents: still one statement per level.
        seed(&db, 4..40, 2, 3).await?;
        assert_eq!(load_three_levels(&counting, 40).await?, 3);
        Ok(())
    }

    async fn belongs_to_and_has_one_give_an_option(db) {
        create_tables(&db).await?;
        seed(&db, 0..2, 2, 0).await?;
        let users = User::query().order_by_asc(User::ID).all(&db).await?;
        let posts = Post::query().order_by_asc(Post::ID).all(&db).await?;
        let authors = Post::user().load(&db, &posts).await?;
        let names: Vec<Option<&str>> =
            authors.iter().map(|user| user.as_ref().map(|u| u.name.as_str())).collect();
        assert_eq!(names, [Some("user 0"), Some("user 0"), Some("user 1"), Some("user 1")]);

        // A nullable foreign key: NULL has no related row, and a user without a profile
        // gets None.
        let with_owner = Profile { id: 0, user_id: Some(users[1].id), bio: "second".into() }
            .insert(&db)
            .await?;
        let orphan = Profile { id: 0, user_id: None, bio: "nobody".into() }.insert(&db).await?;
        let owners = Profile::user().load(&db, &[with_owner.clone(), orphan]).await?;
        assert_eq!(owners, [Some(users[1].clone()), None]);
        let profiles = User::profile().load(&db, &users).await?;
        assert_eq!(profiles, [None, Some(with_owner)]);

        // The overridden foreign key: `editor_id` instead of `user_id`.
        let mut edited = posts[3].clone();
        edited.editor_id = Some(users[0].id);
        edited.update(&db).await?;
        let edited_by = User::edited_posts().load(&db, &users).await?;
        assert_eq!(edited_by, [vec![edited.clone()], vec![]]);
        let editors = Post::editor().load(&db, &[posts[0].clone(), edited]).await?;
        assert_eq!(editors, [None, Some(users[0].clone())]);
        Ok(())
    }

    async fn many_to_many_goes_through_the_join_table(db) {
        create_tables(&db).await?;
        seed(&db, 0..1, 3, 0).await?;
        let posts = Post::query().order_by_asc(Post::ID).all(&db).await?;
        let mut tags = Vec::new();
        for name in ["rust", "sql", "async"] {
            tags.push(Tag { id: 0, name: name.into() }.insert(&db).await?);
        }
        let links = [(0, 0), (0, 1), (1, 1), (1, 2), (1, 0)];
        let rows: Vec<PostTag> = links
            .iter()
            .map(|&(post, tag)| PostTag { post_id: posts[post].id, tag_id: tags[tag].id })
            .collect();
        PostTag::insert_many(&db, &rows).await?;

        let counting = Counting::new(&db);
        let loaded = Post::tags().order_by_asc(Tag::NAME).load(&counting, &posts).await?;
        assert_eq!(counting.take().len(), 1);
        let names: Vec<Vec<&str>> = loaded
            .iter()
            .map(|tags| tags.iter().map(|tag| tag.name.as_str()).collect())
            .collect();
        assert_eq!(names, [vec!["rust", "sql"], vec!["async", "rust", "sql"], vec![]]);

        // The other direction, declared on Tag.
        let tagged = Tag::posts().order_by_asc(Post::ID).load(&db, &tags).await?;
        let ids: Vec<Vec<i64>> =
            tagged.iter().map(|posts| posts.iter().map(|p| p.id).collect()).collect();
        assert_eq!(ids, [vec![posts[0].id, posts[1].id], vec![posts[0].id, posts[1].id], vec![posts[1].id]]);
        Ok(())
    }

    async fn relation_filters_and_sibling_loads(db) {
        create_tables(&db).await?;
        seed(&db, 0..2, 3, 1).await?;
        let loaded = User::query()
            .order_by_asc(User::ID)
            .with((
                User::posts().filter(Post::TITLE.ends_with("post 1")),
                User::profile(),
            ))
            .all(&db)
            .await?;
        assert_eq!(loaded.len(), 2);
        for (user, (posts, profile)) in &loaded {
            assert_eq!(posts.len(), 1);
            assert_eq!(posts[0].title, format!("{} post 1", user.name));
            assert_eq!(*profile, None);
        }
        // A query that finds no parents sends no statement for the relation.
        let counting = Counting::new(&db);
        let none = User::query()
            .filter(User::NAME.eq("nobody"))
            .with(User::posts())
            .all(&counting)
            .await?;
        assert!(none.is_empty());
        assert_eq!(counting.take().len(), 1);
        Ok(())
    }

    async fn keys_past_the_bind_limit_are_split(db) {
        create_tables(&db).await?;
        seed(&db, 0..2, 1, 0).await?;
        let stored = User::query().order_by_asc(User::ID).all(&db).await?;
        // Parents need not be stored rows: 70,000 keys is past SQLite's 32,766 and MySQL's
        // 65,535 bind parameters.
        let mut parents: Vec<User> = (1..=70_000)
            .map(|id| User { id: id + 1_000_000, name: String::new() })
            .collect();
        parents.extend(stored.iter().cloned());
        let counting = Counting::new(&db);
        let loaded = User::posts().load(&counting, &parents).await?;
        let statements = counting.take();
        let limit = db.backend().capabilities().max_bind_parameters;
        let expected = if db.backend().capabilities().array_parameters {
            1
        } else {
            parents.len().div_ceil(limit)
        };
        assert!(expected >= 1);
        assert_eq!(statements.len(), expected, "bind limit {limit}");
        assert!(loaded[..70_000].iter().all(Vec::is_empty));
        assert_eq!(loaded[70_000].len(), 1);
        assert_eq!(loaded[70_001][0].user_id, stored[1].id);
        Ok(())
    }
}

backend_tests! {
    async fn joins_return_pairs_of_models(db) {
        create_tables(&db).await?;
        seed(&db, 0..3, 2, 0).await?;
        let lonely = User { id: 0, name: "no posts".into() }.insert(&db).await?;

        let pairs = User::query()
            .filter(User::NAME.ne("user 1"))
            .order_by_asc(User::ID)
            .join(User::posts())
            .filter_joined(Post::TITLE.ends_with("post 1"))
            .order_by_joined(Post::ID, covet::Order::Asc)
            .all(&db)
            .await?;
        let titles: Vec<(&str, &str)> =
            pairs.iter().map(|(user, post)| (user.name.as_str(), post.title.as_str())).collect();
        assert_eq!(titles, [("user 0", "user 0 post 1"), ("user 2", "user 2 post 1")]);
        assert!(pairs.iter().all(|(user, post)| post.user_id == user.id));

        // A left join keeps the user without posts, with None; a filter on the relation
        // narrows the right side without dropping left rows.
        let pairs = User::query()
            .order_by_asc(User::ID)
            .left_join(User::posts().filter(Post::TITLE.ends_with("post 0")))
            .all(&db)
            .await?;
        assert_eq!(pairs.len(), 4);
        assert_eq!(pairs[3], (lonely, None));
        for (user, post) in &pairs[..3] {
            assert_eq!(post.as_ref().map(|p| p.title.clone()), Some(format!("{} post 0", user.name)));
        }

        // Many-to-many joins pass through the join table.
        let posts = Post::query().order_by_asc(Post::ID).all(&db).await?;
        let tag = Tag { id: 0, name: "rust".into() }.insert(&db).await?;
        PostTag { post_id: posts[2].id, tag_id: tag.id }.insert(&db).await?;
        let tagged = Post::query().join(Post::tags()).all(&db).await?;
        assert_eq!(tagged, [(posts[2].clone(), tag.clone())]);
        let all = Post::query().order_by_asc(Post::ID).left_join(Post::tags()).all(&db).await?;
        assert_eq!(all.len(), posts.len());
        assert_eq!(all[2].1, Some(tag));
        assert_eq!(all[0].1, None);

        // Belongs-to joins go the other way.
        let authored = Post::query().order_by_asc(Post::ID).join(Post::user()).all(&db).await?;
        assert_eq!(authored.len(), 6);
        assert!(authored.iter().all(|(post, user)| post.user_id == user.id));
        Ok(())
    }

    async fn self_join_is_rejected(db) {
        create_tables(&db).await?;
        let error = User::query()
            .join(Relation::has_many(User::ID, User::ID))
            .all(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), covet::ErrorKind::InvalidInput);
        assert!(error.to_string().contains("Select::with"), "{error}");
        Ok(())
    }
}

backend_tests! {
    async fn soft_deleted_rows_stay_out_of_relations_and_joins(db) {
        create_tables(&db).await?;
        seed(&db, 0..2, 0, 0).await?;
        let users = User::query().order_by_asc(User::ID).all(&db).await?;
        let kept = Note { id: 0, user_id: users[0].id, text: "kept".into(), deleted_at: None }
            .insert(&db)
            .await?;
        let gone = Note { id: 0, user_id: users[1].id, text: "gone".into(), deleted_at: None }
            .insert(&db)
            .await?;
        assert!(gone.delete(&db).await?);

        let loaded = User::notes().load(&db, &users).await?;
        assert_eq!(loaded, [vec![kept.clone()], vec![]]);
        let with_deleted = User::notes().with_deleted().load(&db, &users).await?;
        assert_eq!(with_deleted[0].as_slice(), std::slice::from_ref(&kept));
        assert_eq!(with_deleted[1].len(), 1);
        assert!(with_deleted[1][0].deleted_at.is_some());
        let inner = User::query().join(User::notes()).all(&db).await?;
        assert_eq!(inner, [(users[0].clone(), kept.clone())]);
        let left = User::query().order_by_asc(User::ID).left_join(User::notes()).all(&db).await?;
        assert_eq!(left, [(users[0].clone(), Some(kept)), (users[1].clone(), None)]);

        // A soft-deleted join table row no longer links its post and tag.
        let post = Post { id: 0, user_id: users[0].id, editor_id: None, title: "p".into() }
            .insert(&db)
            .await?;
        let rust = Tag { id: 0, name: "rust".into() }.insert(&db).await?;
        let sql = Tag { id: 0, name: "sql".into() }.insert(&db).await?;
        let link = |tag: &Tag| Tagging { post_id: post.id, tag_id: tag.id, deleted_at: None };
        Tagging::insert_many(&db, &[link(&rust), link(&sql)]).await?;
        assert!(link(&sql).delete(&db).await?);
        let loaded = Post::live_tags().load(&db, std::slice::from_ref(&post)).await?;
        assert_eq!(loaded, [vec![rust.clone()]]);
        let joined = Post::query().join(Post::live_tags()).all(&db).await?;
        assert_eq!(joined, [(post.clone(), rust.clone())]);
        let left = Post::query().left_join(Post::live_tags()).all(&db).await?;
        assert_eq!(left, [(post, Some(rust))]);
        Ok(())
    }
}

/// On PostgreSQL the keys travel as one array parameter, so the statement text is the
/// same for 2 parents and for 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_binds_keys_as_one_array() {
    support::run(
        support::Backend::Postgres,
        "pg_key_array",
        |db| async move {
            create_tables(&db).await?;
            let counting = Counting::new(&db);
            let few: Vec<User> = (1..=2)
                .map(|id| User {
                    id,
                    name: String::new(),
                })
                .collect();
            let many: Vec<User> = (1..=500)
                .map(|id| User {
                    id,
                    name: String::new(),
                })
                .collect();
            User::posts().load(&counting, &few).await?;
            User::posts().load(&counting, &many).await?;
            let statements = counting.take();
            assert_eq!(statements.len(), 2);
            assert_eq!(statements[0], statements[1]);
            assert!(statements[0].contains("= ANY($1)"), "{}", statements[0]);
            Ok(())
        },
    )
    .await;
}

/// Relations built by hand name the same columns the derive infers.
#[test]
fn explicit_constructors_match_the_declared_relations() {
    let declared = format!("{:?}", Post::user());
    let explicit = format!("{:?}", Relation::belongs_to(Post::USER_ID, User::ID));
    assert_eq!(declared, explicit);
    let declared = format!("{:?}", Post::tags());
    let explicit = format!(
        "{:?}",
        Relation::many_to_many(Post::ID, PostTag::POST_ID, PostTag::TAG_ID, Tag::ID)
    );
    assert_eq!(declared, explicit);
    assert!(declared.contains("post_tags"), "{declared}");
}
