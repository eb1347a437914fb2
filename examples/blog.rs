//! A small blog: users, posts, comments and tags, with relations, eager loading, pagination
//! and a retried transaction.
//!
//! ```sh
//! cargo run -p covet-examples --example blog                  # in-memory SQLite
//! DATABASE_URL=postgres://root@127.0.0.1/test cargo run -p covet-examples --example blog
//! ```
//!
//! On a server database the example works in tables named `blog_*` and drops them when it
//! ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use covet::{
    Database, FromRow, IsolationLevel, Load, Model, Order, RetryPolicy, TransactionOptions,
    count_rows,
};

#[derive(Model, Debug, Clone)]
#[covet(table = "blog_users", has_many(Post))]
struct User {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone)]
#[covet(table = "blog_posts", belongs_to(User), has_many(Comment))]
#[covet(many_to_many(Tag, through = PostTag))]
struct Post {
    #[covet(primary_key, auto_increment)]
    id: i64,
    user_id: i64,
    title: String,
    likes: i64,
}

#[derive(Model, Debug, Clone)]
#[covet(table = "blog_comments", belongs_to(Post))]
struct Comment {
    #[covet(primary_key, auto_increment)]
    id: i64,
    post_id: i64,
    body: String,
}

#[derive(Model, Debug, Clone)]
#[covet(table = "blog_tags")]
struct Tag {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[covet(table = "blog_post_tags")]
struct PostTag {
    #[covet(primary_key)]
    post_id: i64,
    #[covet(primary_key)]
    tag_id: i64,
}

/// One row of the "posts per author" report.
#[derive(FromRow)]
struct PostsPerAuthor {
    user_id: i64,
    posts: i64,
    likes: Option<i64>,
}

#[tokio::main]
async fn main() -> covet::Result<()> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| String::from("sqlite::memory:"));
    let db = Database::connect(&url).await?;
    create_tables(&db).await?;
    let outcome = run(&db).await;
    drop_tables(&db).await?;
    outcome
}

async fn run(db: &Database) -> covet::Result<()> {
    seed(db).await?;

    // The first page of posts, newest first, with its total, then each post's author,
    // comments and tags: one statement per relation, however many posts the page holds.
    let page = Post::query()
        .order_by_desc(Post::ID)
        .paginate(db, 1, 3)
        .await?;
    println!(
        "page {} of {} ({} posts in all):",
        page.page, page.total_pages, page.total
    );
    let related = (Post::user(), Post::comments(), Post::tags())
        .load_for(db, &page.items)
        .await?;
    for (post, (author, comments, tags)) in page.items.iter().zip(related) {
        let author = author.as_ref().map_or("?", |user| user.name.as_str());
        let tags: Vec<&str> = tags.iter().map(|tag| tag.name.as_str()).collect();
        println!(
            "  {:<28} by {author:<5} {} comments, tags [{}]",
            post.title,
            comments.len(),
            tags.join(", ")
        );
    }

    // Every post by keyset pagination: each page starts after the cursor of the last, so
    // posts written meanwhile neither repeat nor push rows onto the next page.
    let mut cursor = None;
    for number in 1.. {
        let mut keyset = Post::query().order_by_asc(Post::TITLE).keyset(4)?;
        if let Some(cursor) = &cursor {
            keyset = keyset.after(cursor)?;
        }
        let page = keyset.fetch(db).await?;
        let titles: Vec<&str> = page.items.iter().map(|post| post.title.as_str()).collect();
        println!("keyset page {number}: {}", titles.join(" | "));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    // Users with their posts and each post's comments: three statements.
    let users = User::query()
        .order_by_asc(User::NAME)
        .with(User::posts().order_by_asc(Post::ID).with(Post::comments()))
        .all(db)
        .await?;
    println!("authors:");
    for (user, posts) in &users {
        let comments: usize = posts.iter().map(|(_, comments)| comments.len()).sum();
        println!(
            "  {:<5} {} posts, {comments} comments",
            user.name,
            posts.len()
        );
    }

    // Likes arrive concurrently. Each is a serializable transaction that reads the post
    // and writes it back, and a serialization failure or deadlock re-runs the closure.
    let post_id = page.items[0].id;
    let policy = RetryPolicy::new().max_attempts(10);
    let serializable = TransactionOptions::new().isolation(IsolationLevel::Serializable);
    let attempts = Arc::new(AtomicU32::new(0));
    let mut likes = Vec::new();
    for _ in 0..5 {
        let (db, policy, attempts) = (db.clone(), policy, Arc::clone(&attempts));
        likes.push(tokio::spawn(async move {
            let attempts = &attempts;
            db.transaction_with_retry(&policy, serializable, |tx| async move {
                attempts.fetch_add(1, Ordering::Relaxed);
                let mut post = Post::get(&tx, post_id).await?;
                post.likes += 1;
                post.update(&tx).await?;
                Ok::<_, covet::Error>(())
            })
            .await
        }));
    }
    for like in likes {
        like.await.expect("the like task panicked")?;
    }
    let liked = Post::get(db, post_id).await?;
    println!(
        "\"{}\" has {} likes, from {} attempts",
        liked.title,
        liked.likes,
        attempts.load(Ordering::Relaxed)
    );

    // An aggregate report, grouped by author.
    let report: Vec<PostsPerAuthor> = Post::query()
        .select_into((Post::USER_ID, count_rows(), Post::LIKES.sum()))
        .group_by(Post::USER_ID)
        .order_by(count_rows(), Order::Desc)
        .all(db)
        .await?;
    println!("posts per author:");
    for row in &report {
        let likes = row.likes.unwrap_or(0);
        println!("  user {}: {} posts, {likes} likes", row.user_id, row.posts);
    }
    Ok(())
}

async fn create_tables(db: &Database) -> covet::Result<()> {
    User::create_table(db).await?;
    Post::create_table(db).await?;
    Comment::create_table(db).await?;
    Tag::create_table(db).await?;
    PostTag::create_table(db).await
}

async fn drop_tables(db: &Database) -> covet::Result<()> {
    PostTag::drop_table(db).await?;
    Tag::drop_table(db).await?;
    Comment::drop_table(db).await?;
    Post::drop_table(db).await?;
    User::drop_table(db).await
}

async fn seed(db: &Database) -> covet::Result<()> {
    let mut tags = Vec::new();
    for name in ["rust", "sql", "async"] {
        tags.push(
            Tag {
                id: 0,
                name: name.into(),
            }
            .insert(db)
            .await?,
        );
    }
    for (number, name) in ["ada", "bo", "cy"].into_iter().enumerate() {
        let user = User {
            id: 0,
            name: name.into(),
        }
        .insert(db)
        .await?;
        for index in 0..=number {
            let post = Post {
                id: 0,
                user_id: user.id,
                title: format!("{name}'s post number {}", index + 1),
                likes: 0,
            }
            .insert(db)
            .await?;
            let comments: Vec<Comment> = (0..index + 1)
                .map(|comment| Comment {
                    id: 0,
                    post_id: post.id,
                    body: format!("comment {comment}"),
                })
                .collect();
            Comment::insert_many(db, &comments).await?;
            let links: Vec<PostTag> = tags
                .iter()
                .take(index + 1)
                .map(|tag| PostTag {
                    post_id: post.id,
                    tag_id: tag.id,
                })
                .collect();
            PostTag::insert_many(db, &links).await?;
        }
    }
    Ok(())
}
