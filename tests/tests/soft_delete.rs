//! Soft deletes with a `#[covet(soft_delete)]` column, on every backend.

mod support;

use chrono::{DateTime, NaiveDateTime, Utc};
use covet::{ErrorKind, Executor, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "posts")]
struct Post {
    #[covet(primary_key, auto_increment)]
    id: i64,
    title: String,
    #[covet(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
}

/// A soft-delete column without a time zone.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "drafts")]
struct Draft {
    #[covet(primary_key)]
    id: i32,
    #[covet(soft_delete, rename = "removed_on")]
    removed: Option<NaiveDateTime>,
}

/// A model without a soft-delete column.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "plain_rows")]
struct Plain {
    #[covet(primary_key)]
    id: i32,
}

fn post(title: &str) -> Post {
    Post {
        id: 0,
        title: title.to_owned(),
        deleted_at: None,
    }
}

/// Inserts posts "a", "b", "c" and "d" and returns them.
async fn seed(db: &impl Executor) -> covet::Result<Vec<Post>> {
    Post::create_table(db).await?;
    let mut stored = Vec::new();
    for title in ["a", "b", "c", "d"] {
        stored.push(post(title).insert(db).await?);
    }
    Ok(stored)
}

async fn titles(
    select: covet::query::Select<Post>,
    db: &impl Executor,
) -> covet::Result<Vec<String>> {
    let rows = select.order_by_asc(Post::ID).all(db).await?;
    Ok(rows.into_iter().map(|row| row.title).collect())
}

/// Reads the soft-delete column with a query that bypasses covet's filter.
async fn raw_deleted_count(db: &impl Executor) -> covet::Result<i64> {
    let count = covet::raw("SELECT COUNT(*) FROM posts WHERE deleted_at IS NOT NULL")
        .fetch_scalar::<i64, _>(db)
        .await?;
    Ok(count.unwrap_or(0))
}

backend_tests! {
    async fn delete_marks_row(db) {
        let posts = seed(&db).await?;
        let before = Utc::now() - chrono::Duration::seconds(5);
        assert!(posts[1].delete(&db).await?);
        assert_eq!(raw_deleted_count(&db).await?, 1, "the row is kept, only marked");
        let marked = Post::query().only_deleted().one(&db).await?;
        assert_eq!(marked.id, posts[1].id);
        let deleted_at = marked.deleted_at.expect("the column is set");
        assert!(deleted_at > before, "set to the current time: {deleted_at}");
        assert!(deleted_at < Utc::now() + chrono::Duration::seconds(5), "{deleted_at}");
        assert!(!posts[1].delete(&db).await?, "a second delete finds no live row");
        let again = Post::query().only_deleted().one(&db).await?;
        assert_eq!(again.deleted_at, marked.deleted_at, "the first time stays");
        Ok(())
    }

    async fn reads_skip_deleted_rows(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        assert!(Post::delete_by_key(&db, posts[2].id).await?);
        assert_eq!(titles(Post::query(), &db).await?, ["b", "d"]);
        assert_eq!(Post::query().count(&db).await?, 2);
        assert!(!Post::query().filter(Post::TITLE.eq("a")).exists(&db).await?);
        assert_eq!(Post::query().filter(Post::TITLE.eq("a")).optional(&db).await?, None);
        let error = Post::query().filter(Post::TITLE.eq("a")).one(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(Post::find(&db, posts[0].id).await?, None);
        let error = Post::get(&db, posts[0].id).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert_eq!(Post::find(&db, posts[1].id).await?.map(|row| row.title), Some("b".into()));
        Ok(())
    }

    async fn with_and_only_deleted(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        posts[3].delete(&db).await?;
        assert_eq!(titles(Post::query().with_deleted(), &db).await?, ["a", "b", "c", "d"]);
        assert_eq!(titles(Post::query().only_deleted(), &db).await?, ["a", "d"]);
        assert_eq!(Post::query().with_deleted().count(&db).await?, 4);
        assert_eq!(Post::query().only_deleted().count(&db).await?, 2);
        let filtered = Post::query().only_deleted().filter(Post::TITLE.eq("d"));
        assert_eq!(titles(filtered, &db).await?, ["d"]);
        assert!(Post::query().only_deleted().filter(Post::TITLE.eq("a")).exists(&db).await?);
        Ok(())
    }

    async fn delete_many_is_soft(db) {
        seed(&db).await?;
        let deleted = Post::delete_many().filter(Post::TITLE.is_in(["a", "b"])).exec(&db).await?;
        assert_eq!(deleted, 2);
        let again = Post::delete_many().filter(Post::TITLE.is_in(["a", "b"])).exec(&db).await?;
        assert_eq!(again, 0, "rows already deleted are not counted again");
        assert_eq!(raw_deleted_count(&db).await?, 2);
        assert_eq!(titles(Post::query(), &db).await?, ["c", "d"]);
        Ok(())
    }

    async fn force_delete_removes_rows(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        assert!(posts[0].force_delete(&db).await?, "a soft-deleted row can be removed");
        assert!(posts[1].force_delete(&db).await?, "so can a live one");
        assert_eq!(titles(Post::query().with_deleted(), &db).await?, ["c", "d"]);
        posts[2].delete(&db).await?;
        let removed = Post::delete_many().force().exec(&db).await?;
        assert_eq!(removed, 2, "force deletes deleted and live rows alike");
        assert_eq!(Post::query().with_deleted().count(&db).await?, 0);
        Ok(())
    }

    async fn restore_clears_column(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        posts[1].delete(&db).await?;
        assert!(posts[0].restore(&db).await?);
        assert!(!posts[0].restore(&db).await?, "a live row has nothing to restore");
        assert!(Post::restore_by_key(&db, posts[1].id).await?);
        assert!(!Post::restore_by_key(&db, 999_999).await?);
        assert_eq!(titles(Post::query(), &db).await?, ["a", "b", "c", "d"]);
        assert_eq!(Post::get(&db, posts[0].id).await?.deleted_at, None);
        Ok(())
    }

    async fn update_many_skips_deleted(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        let changed = Post::update_many().set(Post::TITLE, "x").exec(&db).await?;
        assert_eq!(changed, 3);
        let all = titles(Post::query().with_deleted(), &db).await?;
        assert_eq!(all, ["a", "x", "x", "x"], "the deleted row keeps its title");
        let changed = Post::update_many().set(Post::TITLE, "y").with_deleted().exec(&db).await?;
        assert_eq!(changed, 4);
        assert_eq!(titles(Post::query().only_deleted(), &db).await?, ["y"]);
        Ok(())
    }

    async fn update_skips_deleted_row(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        let mut renamed = posts[0].clone();
        renamed.title = String::from("renamed");
        let error = renamed.update(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        let row = Post::query().only_deleted().one(&db).await?;
        assert_eq!(row.title, "a");
        posts[0].restore(&db).await?;
        renamed.update(&db).await?;
        assert_eq!(Post::get(&db, posts[0].id).await?.title, "renamed");
        Ok(())
    }

    async fn stale_struct_keeps_row_deleted(db) {
        let posts = seed(&db).await?;
        let mut stale = posts[1].clone();
        let mut current = posts[1].clone();
        current.title = String::from("edited");
        current.save(&db).await?;
        posts[1].delete(&db).await?;
        posts[1].restore(&db).await?;
        stale.title = String::from("stale edit");
        stale.deleted_at = Some(Utc::now());
        stale.save(&db).await?;
        let row = Post::get(&db, posts[1].id).await?;
        assert_eq!(row.title, "stale edit");
        assert_eq!(row.deleted_at, None, "update never writes the soft-delete column");
        let error = row
            .update_columns(&db, &[Post::DELETED_AT.into()])
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("soft-delete column"), "{error}");
        Ok(())
    }

    async fn insert_deleted_row(db) {
        Post::create_table(&db).await?;
        let mut row = post("hidden");
        row.deleted_at = Some(Utc::now());
        let stored = row.insert(&db).await?;
        assert!(stored.id > 0);
        assert!(stored.deleted_at.is_some());
        assert_eq!(Post::query().count(&db).await?, 0);
        assert_eq!(Post::query().only_deleted().count(&db).await?, 1);
        Ok(())
    }

    async fn naive_column_works(db) {
        Draft::create_table(&db).await?;
        Draft { id: 1, removed: None }.insert(&db).await?;
        Draft { id: 2, removed: None }.insert(&db).await?;
        assert!(Draft::delete_by_key(&db, 1).await?);
        let deleted = Draft::query().only_deleted().one(&db).await?;
        assert_eq!(deleted.id, 1);
        assert!(deleted.removed.is_some());
        assert_eq!(Draft::query().all(&db).await?, [Draft { id: 2, removed: None }]);
        Ok(())
    }

    async fn plain_model_is_unchanged(db) {
        Plain::create_table(&db).await?;
        Plain { id: 1 }.insert(&db).await?;
        assert_eq!(Plain::query().only_deleted().count(&db).await?, 0);
        assert_eq!(Plain::query().with_deleted().count(&db).await?, 1);
        let error = Plain::restore_by_key(&db, 1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("#[covet(soft_delete)]"), "{error}");
        assert!(Plain { id: 1 }.delete(&db).await?);
        assert_eq!(Plain::query().with_deleted().count(&db).await?, 0, "a real delete");
        Ok(())
    }

    async fn one_names_soft_deleted_rows(db) {
        seed(&db).await?;
        Post::delete_many().exec(&db).await?;
        let error = Post::query().one(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        assert!(error.to_string().contains("no row that is not soft-deleted"), "{error}");
        Post::delete_many().force().exec(&db).await?;
        let error = Post::query().only_deleted().one(&db).await.unwrap_err();
        assert!(error.to_string().contains("no soft-deleted row"), "{error}");
        Ok(())
    }

    async fn or_filter_keeps_exclusion(db) {
        let posts = seed(&db).await?;
        posts[0].delete(&db).await?;
        let either = Post::TITLE.eq("a").or(Post::TITLE.eq("b"));
        assert_eq!(titles(Post::query().filter(either.clone()), &db).await?, ["b"]);
        assert_eq!(Post::query().filter(either.clone()).count(&db).await?, 1);
        let changed = Post::update_many().set(Post::TITLE, "z").filter(either.clone()).exec(&db).await?;
        assert_eq!(changed, 1, "the deleted row matching one branch is left alone");
        let deleted = Post::delete_many().filter(Post::TITLE.eq("a").or(Post::TITLE.eq("c"))).exec(&db).await?;
        assert_eq!(deleted, 1, "only the live row is deleted again");
        Ok(())
    }
}
