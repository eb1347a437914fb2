//! Optimistic locking with a `#[covet(version)]` column, on every backend.

mod support;

use covet::{ErrorKind, Executor, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "accounts")]
struct Account {
    #[covet(primary_key, auto_increment)]
    id: i64,
    owner: String,
    balance: i64,
    #[covet(version)]
    version: i64,
}

/// A narrow version column and a soft-delete column on one model.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "documents")]
struct Document {
    #[covet(primary_key)]
    id: i32,
    title: String,
    #[covet(version, rename = "lock_version")]
    revision: i32,
    #[covet(soft_delete)]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn account(owner: &str, balance: i64) -> Account {
    Account {
        id: 0,
        owner: owner.to_owned(),
        balance,
        version: 1,
    }
}

async fn stored_version(db: &impl Executor, id: i64) -> covet::Result<i64> {
    Ok(Account::get(db, id).await?.version)
}

backend_tests! {
    async fn update_bumps_version(db) {
        Account::create_table(&db).await?;
        let mut stored = account("ann", 10).insert(&db).await?;
        assert_eq!(stored.version, 1);
        stored.balance = 20;
        stored.update(&db).await?;
        assert_eq!(stored.version, 1, "update takes &self and leaves the struct alone");
        let reloaded = Account::get(&db, stored.id).await?;
        assert_eq!(reloaded.version, 2);
        assert_eq!(reloaded.balance, 20);
        Ok(())
    }

    async fn save_stores_new_version(db) {
        Account::create_table(&db).await?;
        let mut stored = account("ann", 10).insert(&db).await?;
        stored.balance = 11;
        stored.save(&db).await?;
        assert_eq!(stored.version, 2);
        stored.balance = 12;
        stored.save(&db).await?;
        assert_eq!(stored.version, 3);
        assert_eq!(Account::get(&db, stored.id).await?, stored);
        Ok(())
    }

    async fn second_writer_conflicts(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let mut first = Account::get(&db, stored.id).await?;
        let mut second = Account::get(&db, stored.id).await?;
        first.balance = 100;
        second.balance = 200;
        first.save(&db).await?;
        let error = second.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict);
        let message = error.to_string();
        assert!(message.contains("accounts"), "names the model: {message}");
        assert!(message.contains(&format!("primary key = {}", stored.id)), "{message}");
        assert!(message.contains("version = 1"), "names the expected version: {message}");
        assert_eq!(second.version, 1, "a failed save leaves the struct's version");
        let row = Account::get(&db, stored.id).await?;
        assert_eq!(row.balance, 100, "the row holds the first writer's data");
        assert_eq!(row.version, 2);
        Ok(())
    }

    async fn concurrent_tasks_one_wins(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 0).insert(&db).await?;
        let mut tasks = Vec::new();
        for balance in 1..=4 {
            let db = db.clone();
            let mut copy = stored.clone();
            tasks.push(tokio::spawn(async move {
                copy.balance = balance;
                copy.save(&db).await.map(|()| balance)
            }));
        }
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.expect("the task does not panic") {
                Ok(balance) => winners.push(balance),
                Err(error) => assert_eq!(error.kind(), ErrorKind::Conflict, "{error}"),
            }
        }
        assert_eq!(winners.len(), 1, "exactly one of the writers read version 1 last");
        let row = Account::get(&db, stored.id).await?;
        assert_eq!(row.balance, winners[0]);
        assert_eq!(row.version, 2);
        Ok(())
    }

    async fn missing_row_is_not_found(db) {
        Account::create_table(&db).await?;
        let mut ghost = account("ghost", 0);
        ghost.id = 404;
        let error = ghost.update(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        let error = ghost.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound, "{error}");
        assert!(!ghost.delete(&db).await?, "deleting a missing row is not a conflict");
        Ok(())
    }

    async fn update_columns_checks_version(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let mut changed = stored.clone();
        changed.balance = 50;
        changed.owner = String::from("not written");
        changed.update_columns(&db, &[Account::BALANCE.into()]).await?;
        let row = Account::get(&db, stored.id).await?;
        assert_eq!((row.owner.as_str(), row.balance, row.version), ("ann", 50, 2));
        let error = changed
            .update_columns(&db, &[Account::BALANCE.into()])
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
        let error = row
            .update_columns(&db, &[Account::VERSION.into()])
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("version column"), "{error}");
        Ok(())
    }

    async fn stale_delete_conflicts(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let mut fresh = stored.clone();
        fresh.balance = 1;
        fresh.save(&db).await?;
        let error = stored.delete(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
        assert_eq!(stored_version(&db, stored.id).await?, 2, "the row is still there");
        assert!(fresh.delete(&db).await?);
        assert_eq!(Account::find(&db, stored.id).await?, None);
        Ok(())
    }

    async fn delete_by_key_ignores_version(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let mut fresh = stored.clone();
        fresh.save(&db).await?;
        assert!(Account::delete_by_key(&db, stored.id).await?);
        assert_eq!(Account::find(&db, stored.id).await?, None);
        Ok(())
    }

    async fn bulk_update_bumps_version(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let changed = Account::update_many()
            .set(Account::BALANCE, 99)
            .filter(Account::ID.eq(stored.id))
            .exec(&db)
            .await?;
        assert_eq!(changed, 1);
        assert_eq!(stored_version(&db, stored.id).await?, 2, "update_many bumps versions");

        // A struct read before the bulk update is stale: its save conflicts instead of
        // writing over the bulk update's balance.
        let mut stale = stored.clone();
        stale.balance = 5;
        let error = stale.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert_eq!(Account::get(&db, stored.id).await?.balance, 99);

        let error = Account::update_many()
            .set(Account::VERSION, 7)
            .exec(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("version column"), "{error}");
        Ok(())
    }

    async fn upsert_bumps_version(db) {
        Account::create_table(&db).await?;
        let stored = account("ann", 10).insert(&db).await?;
        let mut incoming = stored.clone();
        incoming.balance = 42;
        Account::upsert(std::slice::from_ref(&incoming))
            .do_update_all()
            .exec(&db)
            .await?;
        let after = Account::get(&db, stored.id).await?;
        assert_eq!(after.balance, 42);
        assert_eq!(after.version, stored.version + 1, "the upsert's update bumps the version");

        let mut stale = stored.clone();
        stale.balance = 5;
        let error = stale.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict);
        assert_eq!(Account::get(&db, stored.id).await?.balance, 42);

        let error = Account::upsert(std::slice::from_ref(&incoming))
            .do_update([Account::VERSION.into()])
            .exec(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("version column"), "{error}");
        Ok(())
    }

    async fn narrow_version_column(db) {
        Document::create_table(&db).await?;
        let mut doc = Document { id: 1, title: "a".into(), revision: 7, deleted_at: None }
            .insert(&db)
            .await?;
        doc.title = String::from("b");
        doc.save(&db).await?;
        assert_eq!(doc.revision, 8);
        assert_eq!(Document::get(&db, 1).await?.revision, 8);
        Ok(())
    }

    async fn version_at_limit_is_rejected(db) {
        Document::create_table(&db).await?;
        let mut doc = Document { id: 1, title: "a".into(), revision: i32::MAX, deleted_at: None }
            .insert(&db)
            .await?;
        doc.title = String::from("b");
        let error = doc.save(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("widen the field to i64"), "{error}");
        assert_eq!(Document::get(&db, 1).await?.title, "a", "nothing was written");
        Ok(())
    }

    async fn soft_delete_checks_version(db) {
        Document::create_table(&db).await?;
        let doc = Document { id: 1, title: "a".into(), revision: 1, deleted_at: None }
            .insert(&db)
            .await?;
        let mut fresh = doc.clone();
        fresh.save(&db).await?;
        let error = doc.delete(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict, "{error}");
        assert!(fresh.delete(&db).await?);
        assert!(!fresh.delete(&db).await?, "an already deleted row is not a conflict");
        let error = doc.force_delete(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Conflict, "force_delete checks the version too");
        assert!(fresh.force_delete(&db).await?);
        assert_eq!(Document::query().with_deleted().count(&db).await?, 0);
        Ok(())
    }
}
