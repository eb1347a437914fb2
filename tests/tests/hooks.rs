//! Lifecycle hooks run around single-row writes inside one transaction, on every backend.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use covet::backend::{Backend, ExecResult, RowSink, RowStream, Statement};
use covet::{Database, Error, ErrorKind, Executor, Hooks, Model, Transaction};

/// The hook of [`Article`] that fails on purpose. `after_insert` gets the row read back
/// from the database, where this skipped field is back to its default, so it fails on the
/// title [`FAIL_AFTER_INSERT`] instead.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum FailAt {
    #[default]
    Nowhere,
    BeforeInsert,
    BeforeUpdate,
    /// `before_update` changes the primary key instead of failing.
    ChangeKey,
    /// `before_update` changes the version instead of failing.
    ChangeVersion,
    /// `before_update` sets the soft-delete column instead of failing.
    ChangeDeletedAt,
    AfterUpdate,
    BeforeDelete,
    AfterDelete,
}

const FAIL_AFTER_INSERT: &str = "fail after insert";

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "articles", hooks)]
struct Article {
    #[covet(primary_key, auto_increment)]
    id: i64,
    title: String,
    created_at: Option<DateTime<Utc>>,
    updated_at: Option<DateTime<Utc>>,
    #[covet(version)]
    version: i64,
    #[covet(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
    #[covet(skip)]
    fail_at: FailAt,
}

/// One row per hook call, written through the hook's transaction.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "audit_log")]
struct Audit {
    #[covet(primary_key, auto_increment)]
    id: i64,
    action: String,
    title: String,
    /// The nesting level of the transaction the hook ran in.
    depth: i32,
}

async fn audit(tx: &Transaction, action: &str, article: &Article) -> covet::Result<()> {
    let depth = i32::try_from(tx.depth()).expect("small depth");
    Audit {
        id: 0,
        action: action.to_owned(),
        title: article.title.clone(),
        depth,
    }
    .insert(tx)
    .await?;
    Ok(())
}

fn fail_if(article: &Article, stage: FailAt) -> covet::Result<()> {
    if article.fail_at == stage {
        return Err(Error::InvalidInput(format!("hook failed at {stage:?}")));
    }
    Ok(())
}

impl Hooks for Article {
    async fn before_insert(&mut self, tx: &Transaction) -> covet::Result<()> {
        self.created_at = Some(Utc::now());
        audit(tx, "before_insert", self).await?;
        fail_if(self, FailAt::BeforeInsert)
    }

    async fn after_insert(&self, tx: &Transaction) -> covet::Result<()> {
        assert!(self.id > 0, "after_insert sees the generated key");
        audit(tx, "after_insert", self).await?;
        if self.title == FAIL_AFTER_INSERT {
            return Err(Error::InvalidInput(String::from(
                "hook failed at AfterInsert",
            )));
        }
        Ok(())
    }

    async fn before_update(&mut self, tx: &Transaction) -> covet::Result<()> {
        self.updated_at = Some(Utc::now());
        audit(tx, "before_update", self).await?;
        match self.fail_at {
            FailAt::ChangeKey => self.id += 1,
            FailAt::ChangeVersion => self.version += 10,
            FailAt::ChangeDeletedAt => self.deleted_at = Some(Utc::now()),
            _ => {}
        }
        fail_if(self, FailAt::BeforeUpdate)
    }

    async fn after_update(&self, tx: &Transaction) -> covet::Result<()> {
        audit(tx, "after_update", self).await?;
        fail_if(self, FailAt::AfterUpdate)
    }

    async fn before_delete(&self, tx: &Transaction) -> covet::Result<()> {
        audit(tx, "before_delete", self).await?;
        fail_if(self, FailAt::BeforeDelete)
    }

    async fn after_delete(&self, tx: &Transaction) -> covet::Result<()> {
        audit(tx, "after_delete", self).await?;
        fail_if(self, FailAt::AfterDelete)
    }
}

/// A model without `#[covet(hooks)]`.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tags")]
struct Tag {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
}

/// An executor that counts the transactions begun through it.
struct CountingBegins {
    inner: Database,
    begins: AtomicUsize,
}

#[async_trait]
impl Executor for CountingBegins {
    fn backend(&self) -> &dyn Backend {
        self.inner.backend()
    }

    async fn execute(&self, statement: Statement) -> covet::Result<ExecResult> {
        self.inner.execute(statement).await
    }

    async fn execute_unprepared(&self, statement: Statement) -> covet::Result<ExecResult> {
        self.inner.execute_unprepared(statement).await
    }

    async fn fetch(&self, statement: Statement, sink: &mut RowSink<'_>) -> covet::Result<u64> {
        self.inner.fetch(statement, sink).await
    }

    fn fetch_stream(&self, statement: Statement) -> RowStream<'_> {
        self.inner.fetch_stream(statement)
    }

    async fn begin(&self) -> covet::Result<Transaction> {
        self.begins.fetch_add(1, Ordering::SeqCst);
        self.inner.begin().await
    }
}

fn article(title: &str) -> Article {
    Article {
        id: 0,
        title: title.to_owned(),
        created_at: None,
        updated_at: None,
        version: 1,
        deleted_at: None,
        fail_at: FailAt::Nowhere,
    }
}

async fn setup(db: &impl Executor) -> covet::Result<()> {
    Article::create_table(db).await?;
    Audit::create_table(db).await
}

/// Returns the audit log as `action title` lines, oldest first.
async fn audit_log(db: &impl Executor) -> covet::Result<Vec<String>> {
    let rows = Audit::query().order_by_asc(Audit::ID).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|row| format!("{} {}", row.action, row.title))
        .collect())
}

async fn article_count(db: &impl Executor) -> covet::Result<u64> {
    Article::query().with_deleted().count(db).await
}

backend_tests! {
    async fn insert_runs_hooks(db) {
        setup(&db).await?;
        let row = article("a");
        let stored = row.insert(&db).await?;
        assert!(stored.created_at.is_some(), "before_insert set created_at");
        assert_eq!(row.created_at, None, "the caller's struct is not changed");
        let fetched = Article::get(&db, stored.id).await?;
        assert_eq!(fetched.created_at.map(|at| at.timestamp()), stored.created_at.map(|at| at.timestamp()));
        assert_eq!(audit_log(&db).await?, ["before_insert a", "after_insert a"]);
        let depths: Vec<i32> = Audit::query().all(&db).await?.iter().map(|row| row.depth).collect();
        assert_eq!(depths, [1, 1], "hooks run in the write's own transaction");
        Ok(())
    }

    async fn failing_before_insert_writes_nothing(db) {
        setup(&db).await?;
        let mut row = article("a");
        row.fail_at = FailAt::BeforeInsert;
        let error = row.insert(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("BeforeInsert"), "{error}");
        assert_eq!(article_count(&db).await?, 0, "no row");
        assert!(audit_log(&db).await?.is_empty(), "the hook's audit row was rolled back");
        Ok(())
    }

    async fn failing_after_insert_rolls_back(db) {
        setup(&db).await?;
        let row = article(FAIL_AFTER_INSERT);
        let error = row.insert(&db).await.unwrap_err();
        assert!(error.to_string().contains("AfterInsert"), "{error}");
        assert_eq!(article_count(&db).await?, 0, "the insert was rolled back");
        assert!(audit_log(&db).await?.is_empty());
        Ok(())
    }

    async fn hooks_use_savepoint_in_transaction(db) {
        setup(&db).await?;
        let tx = db.begin().await?;
        article("kept").insert(&tx).await?;
        let failing = article(FAIL_AFTER_INSERT);
        assert!(failing.insert(&tx).await.is_err());
        let depths: Vec<i32> = Audit::query().all(&tx).await?.iter().map(|row| row.depth).collect();
        assert_eq!(depths, [2, 2], "a savepoint inside the caller's transaction");
        tx.commit().await?;
        let titles: Vec<String> = Article::query().all(&db).await?.into_iter().map(|row| row.title).collect();
        assert_eq!(titles, ["kept"], "only the failed insert was undone");
        assert_eq!(audit_log(&db).await?, ["before_insert kept", "after_insert kept"]);
        Ok(())
    }

    async fn save_keeps_hook_changes(db) {
        setup(&db).await?;
        let mut stored = article("a").insert(&db).await?;
        stored.title = String::from("b");
        stored.save(&db).await?;
        assert!(stored.updated_at.is_some(), "before_update's change reached the struct");
        assert_eq!(stored.version, 2);
        let fetched = Article::get(&db, stored.id).await?;
        assert_eq!(fetched.title, "b");
        assert!(fetched.updated_at.is_some(), "and the database");
        let log = audit_log(&db).await?;
        assert_eq!(log[2..], ["before_update b", "after_update b"]);
        Ok(())
    }

    async fn update_writes_hook_changes(db) {
        setup(&db).await?;
        let stored = article("a").insert(&db).await?;
        stored.update(&db).await?;
        assert_eq!(stored.updated_at, None, "update takes &self");
        assert!(Article::get(&db, stored.id).await?.updated_at.is_some());
        Ok(())
    }

    async fn failing_update_hooks_roll_back(db) {
        setup(&db).await?;
        let stored = article("a").insert(&db).await?;
        for stage in [FailAt::BeforeUpdate, FailAt::AfterUpdate] {
            let mut changed = stored.clone();
            changed.title = String::from("changed");
            changed.fail_at = stage;
            let before = changed.clone();
            let error = changed.save(&db).await.unwrap_err();
            assert!(error.to_string().contains(&format!("{stage:?}")), "{error}");
            assert_eq!(changed, before, "a failed save leaves the struct as it was");
            let row = Article::get(&db, stored.id).await?;
            assert_eq!((row.title.as_str(), row.version), ("a", 1), "{stage:?}");
            assert_eq!(row.updated_at, None);
        }
        assert_eq!(audit_log(&db).await?.len(), 2, "only the insert's audit rows remain");
        Ok(())
    }

    async fn hook_cannot_change_key(db) {
        setup(&db).await?;
        let first = article("first").insert(&db).await?;
        let second = article("second").insert(&db).await?;
        assert_eq!(second.id, first.id + 1);
        let mut changed = first.clone();
        changed.title = String::from("changed");
        changed.fail_at = FailAt::ChangeKey;
        let error = changed.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("primary key"), "{error}");
        assert_eq!(Article::get(&db, second.id).await?.title, "second");
        assert_eq!(Article::get(&db, first.id).await?.title, "first");

        // The version and the soft-delete column are not the hook's to change either.
        for (stage, column) in [(FailAt::ChangeVersion, "version"), (FailAt::ChangeDeletedAt, "deleted_at")] {
            let mut changed = first.clone();
            changed.title = String::from("changed");
            changed.fail_at = stage;
            let before = changed.clone();
            let error = changed.save(&db).await.unwrap_err();
            assert_eq!(error.kind(), ErrorKind::InvalidInput, "{stage:?}");
            assert!(error.to_string().contains(column), "{error}");
            assert_eq!(changed, before, "a failed save leaves the struct as it was");
            let stored = Article::get(&db, first.id).await?;
            assert_eq!(stored.title, "first");
            assert_eq!(stored.version, first.version);
        }
        Ok(())
    }

    async fn conflict_skips_after_update(db) {
        setup(&db).await?;
        let stored = article("a").insert(&db).await?;
        let mut first = stored.clone();
        first.save(&db).await?;
        let mut stale = stored.clone();
        let error = stale.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict);
        let log = audit_log(&db).await?;
        assert_eq!(log.len(), 4, "the stale save's before_update row was rolled back: {log:?}");
        Ok(())
    }

    async fn delete_runs_hooks(db) {
        setup(&db).await?;
        let stored = article("a").insert(&db).await?;
        assert!(stored.delete(&db).await?);
        assert!(!stored.delete(&db).await?, "already soft-deleted");
        let log = audit_log(&db).await?;
        assert_eq!(log[2..], ["before_delete a", "after_delete a", "before_delete a"], "no after_delete without a deleted row");
        assert!(stored.force_delete(&db).await?);
        assert_eq!(article_count(&db).await?, 0);
        assert_eq!(audit_log(&db).await?.len(), 7);
        Ok(())
    }

    async fn failing_delete_hooks_roll_back(db) {
        setup(&db).await?;
        let mut stored = article("a").insert(&db).await?;
        for stage in [FailAt::BeforeDelete, FailAt::AfterDelete] {
            stored.fail_at = stage;
            assert!(stored.delete(&db).await.is_err());
            assert!(stored.force_delete(&db).await.is_err());
            assert_eq!(Article::query().count(&db).await?, 1, "{stage:?} kept the row live");
        }
        assert_eq!(audit_log(&db).await?.len(), 2);
        Ok(())
    }

    async fn bulk_operations_skip_hooks(db) {
        setup(&db).await?;
        let inserted = Article::insert_many(&db, &[article("a"), article("b")]).await?;
        assert_eq!(inserted, 2);
        Article::update_many().set(Article::TITLE, "c").exec(&db).await?;
        Article::upsert(&[article("d")]).exec(&db).await?;
        let first = Article::query().one(&db).await?;
        Article::delete_by_key(&db, first.id).await?;
        Article::restore_by_key(&db, first.id).await?;
        Article::delete_many().exec(&db).await?;
        assert!(audit_log(&db).await?.is_empty(), "no hook ran");
        let rows = Article::query().with_deleted().all(&db).await?;
        assert!(rows.iter().all(|row| row.created_at.is_none()));
        Ok(())
    }

    async fn transaction_only_with_hooks(db) {
        setup(&db).await?;
        Tag::create_table(&db).await?;
        let counting = CountingBegins { inner: db.clone(), begins: AtomicUsize::new(0) };
        let mut tag = Tag { id: 0, name: String::from("t") }.insert(&counting).await?;
        tag.name = String::from("u");
        tag.update(&counting).await?;
        tag.save(&counting).await?;
        assert!(tag.delete(&counting).await?);
        assert_eq!(counting.begins.load(Ordering::SeqCst), 0, "no hooks, no transaction");
        let mut stored = article("a").insert(&counting).await?;
        assert_eq!(counting.begins.load(Ordering::SeqCst), 1);
        stored.save(&counting).await?;
        assert!(stored.delete(&counting).await?);
        assert_eq!(counting.begins.load(Ordering::SeqCst), 3, "one per hooked write");
        Ok(())
    }
}
