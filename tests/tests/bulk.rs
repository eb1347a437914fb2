//! Batch inserts past the bind-parameter limit, and upserts, on every backend.

mod support;

use covet::{Database, ErrorKind, Model};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "readings")]
struct Reading {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    sensor: String,
    value: i64,
}

fn reading(sensor: &str, value: i64) -> Reading {
    Reading {
        id: 0,
        sensor: sensor.to_owned(),
        value,
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "settings")]
struct Setting {
    #[covet(primary_key)]
    key: String,
    value: String,
}

fn setting(key: &str, value: &str) -> Setting {
    Setting {
        key: key.to_owned(),
        value: value.to_owned(),
    }
}

/// Returns enough rows of two bound columns to need more than the backend's limit.
fn rows_past_limit(db: &Database) -> Vec<Reading> {
    let limit = db.backend().capabilities().max_bind_parameters;
    let rows = limit / 2 + 1_000;
    assert!(rows * 2 > limit);
    (0..rows)
        .map(|index| reading(&format!("sensor-{index}"), i64::try_from(index).unwrap()))
        .collect()
}

async fn values_by_key(db: &Database) -> covet::Result<Vec<(String, String)>> {
    let rows = Setting::query().order_by_asc(Setting::KEY).all(db).await?;
    Ok(rows.into_iter().map(|row| (row.key, row.value)).collect())
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

backend_tests! {
    async fn insert_many_past_bind_limit(db) {
        Reading::create_table(&db).await?;
        let rows = rows_past_limit(&db);
        let inserted = Reading::insert_many(&db, &rows).await?;
        assert_eq!(inserted, rows.len() as u64);
        assert_eq!(Reading::query().count(&db).await?, rows.len() as u64);
        let last = Reading::query().order_by_desc(Reading::VALUE).one(&db).await?;
        assert_eq!(last.value, i64::try_from(rows.len() - 1).unwrap());
        Ok(())
    }

    async fn insert_many_splits_by_size(db) {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[covet(table = "documents")]
        struct Document {
            #[covet(primary_key)]
            id: i64,
            body: String,
        }
        Document::create_table(&db).await?;
        // 40 MB in all, past MySQL's default 16 MiB statement limit, in few bind values.
        let text = "x".repeat(100_000);
        let rows: Vec<Document> = (0..400)
            .map(|id| Document { id, body: format!("{id}-{text}") })
            .collect();
        let inserted = Document::insert_many(&db, &rows).await?;
        assert_eq!(inserted, 400);
        let stored = Document::get(&db, 399).await?;
        assert_eq!(stored.body, rows[399].body);
        Ok(())
    }

    async fn split_batch_is_atomic(db) {
        Reading::create_table(&db).await?;
        let mut rows = rows_past_limit(&db);
        // The duplicate sits in the last statement, after earlier statements succeeded.
        let duplicate = rows[0].clone();
        rows.push(duplicate);
        let error = Reading::insert_many(&db, &rows).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::UniqueViolation);
        assert_eq!(Reading::query().count(&db).await?, 0, "no part of the batch may stay");
        Ok(())
    }

    async fn insert_many_empty_and_mixed_keys(db) {
        Reading::create_table(&db).await?;
        assert_eq!(Reading::insert_many(&db, &[]).await?, 0);
        let mut keyed = reading("b", 2);
        keyed.id = 500;
        let error = Reading::insert_many(&db, &[reading("a", 1), keyed]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert!(error.to_string().contains("row 1"), "{error}");
        Ok(())
    }

    async fn upsert_nothing_conflicts(db) {
        Setting::create_table(&db).await?;
        let rows = [setting("a", "1"), setting("b", "2")];
        let result = Setting::upsert(&rows).do_nothing().exec(&db).await?;
        assert_eq!(result.rows, 2);
        assert_eq!(result.inserted, Some(2));
        assert_eq!(result.conflicted, Some(0));
        assert_eq!(values_by_key(&db).await?, pairs(&[("a", "1"), ("b", "2")]));
        Ok(())
    }

    async fn upsert_some_rows_conflict(db) {
        Setting::create_table(&db).await?;
        setting("a", "old").insert(&db).await?;
        let rows = [setting("a", "new"), setting("b", "2"), setting("c", "3")];
        let result = Setting::upsert(&rows).do_nothing().exec(&db).await?;
        assert_eq!(result.inserted, Some(2));
        assert_eq!(result.conflicted, Some(1));
        assert_eq!(
            values_by_key(&db).await?,
            pairs(&[("a", "old"), ("b", "2"), ("c", "3")]),
            "DO NOTHING keeps the existing row"
        );
        Ok(())
    }

    async fn upsert_every_row_conflicts(db) {
        Setting::create_table(&db).await?;
        let rows = [setting("a", "1"), setting("b", "2")];
        Setting::insert_many(&db, &rows).await?;
        let again = [setting("a", "x"), setting("b", "y")];
        let result = Setting::upsert(&again).do_nothing().exec(&db).await?;
        assert_eq!(result.inserted, Some(0));
        assert_eq!(result.conflicted, Some(2));
        let single = Setting::upsert(&again[..1]).do_nothing().exec(&db).await?;
        assert_eq!(single.inserted, Some(0), "one conflicting row is not an error");
        assert_eq!(single.conflicted, Some(1));
        assert_eq!(values_by_key(&db).await?, pairs(&[("a", "1"), ("b", "2")]));
        Ok(())
    }

    async fn upsert_updates_on_conflict(db) {
        Setting::create_table(&db).await?;
        setting("a", "old").insert(&db).await?;
        let rows = [setting("a", "new"), setting("b", "2")];
        let result = Setting::upsert(&rows).do_update_all().exec(&db).await?;
        assert_eq!(result.rows, 2);
        assert_eq!(values_by_key(&db).await?, pairs(&[("a", "new"), ("b", "2")]));
        let only_value = [setting("b", "3")];
        Setting::upsert(&only_value)
            .do_update([Setting::VALUE.into()])
            .exec(&db)
            .await?;
        assert_eq!(values_by_key(&db).await?, pairs(&[("a", "new"), ("b", "3")]));
        Ok(())
    }

    async fn upsert_on_unique_column(db) {
        Reading::create_table(&db).await?;
        let first = reading("kitchen", 20).insert(&db).await?;
        let rows = [reading("kitchen", 25), reading("garage", 5)];
        let result = Reading::upsert(&rows)
            .on_columns([Reading::SENSOR.into()])
            .do_update([Reading::VALUE.into()])
            .exec(&db)
            .await?;
        assert_eq!(result.rows, 2);
        let kitchen = Reading::query().filter(Reading::SENSOR.eq("kitchen")).one(&db).await?;
        assert_eq!(kitchen.id, first.id, "the existing row is updated, not replaced");
        assert_eq!(kitchen.value, 25);
        let skipped = Reading::upsert(&[reading("garage", 99)])
            .on_columns([Reading::SENSOR.into()])
            .do_nothing()
            .exec(&db)
            .await?;
        assert_eq!(skipped.conflicted, Some(1));
        let garage = Reading::query().filter(Reading::SENSOR.eq("garage")).one(&db).await?;
        assert_eq!(garage.value, 5);
        Ok(())
    }

    async fn upsert_update_all_keeps_key(db) {
        Reading::create_table(&db).await?;
        let first = reading("kitchen", 20).insert(&db).await?;
        let rows = [reading("kitchen", 25), reading("garage", 5)];
        Reading::upsert(&rows)
            .on_columns([Reading::SENSOR.into()])
            .do_update_all()
            .exec(&db)
            .await?;
        let kitchen = Reading::query().filter(Reading::SENSOR.eq("kitchen")).one(&db).await?;
        assert_eq!(kitchen.id, first.id, "do_update_all must not rewrite the primary key");
        assert_eq!(kitchen.value, 25);
        let error = Reading::upsert(&rows)
            .on_columns([Reading::SENSOR.into()])
            .do_update([])
            .exec(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "an empty update list: {error}");
        Ok(())
    }

    async fn too_many_binds_is_invalid_input(db) {
        Reading::create_table(&db).await?;
        let limit = db.backend().capabilities().max_bind_parameters;
        let values: Vec<i64> = (0..i64::try_from(limit).unwrap() + 1).collect();
        let error = Reading::query()
            .filter(Reading::VALUE.is_in(values))
            .count(&db)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
        assert!(error.to_string().contains(&limit.to_string()), "{error}");
        assert_eq!(Reading::query().count(&db).await?, 0, "the connection still works");
        Ok(())
    }

    async fn upsert_past_bind_limit(db) {
        Reading::create_table(&db).await?;
        let rows = rows_past_limit(&db);
        Reading::insert_many(&db, &rows[..10]).await?;
        let result = Reading::upsert(&rows)
            .on_columns([Reading::SENSOR.into()])
            .do_nothing()
            .exec(&db)
            .await?;
        assert_eq!(result.conflicted, Some(10));
        assert_eq!(result.inserted, Some(rows.len() as u64 - 10));
        Ok(())
    }

    async fn upsert_update_needs_columns(db) {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[covet(table = "tags")]
        struct Tag {
            #[covet(primary_key)]
            name: String,
        }
        Tag::create_table(&db).await?;
        let tags = [Tag { name: String::from("rust") }];
        let error = Tag::upsert(&tags).do_update_all().exec(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        assert_eq!(Tag::upsert(&tags).do_nothing().exec(&db).await?.inserted, Some(1));
        Ok(())
    }
}

/// The probed SQLite limit is the real one: straight through sqlx, a statement at the limit
/// runs and one past it is rejected by SQLite itself. Through covet, the one past it is
/// rejected before it is sent.
#[tokio::test]
async fn sqlite_limit_matches_build() {
    use sqlx::Connection as _;

    let db = covet::Database::connect("sqlite::memory:").await.unwrap();
    let limit = db.backend().capabilities().max_bind_parameters;
    let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
        .await
        .unwrap();
    let select = |count: usize| format!("SELECT 0 IN ({})", vec!["?"; count].join(", "));

    let at_limit = select(limit);
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(at_limit));
    for value in 0..limit {
        query = query.bind(i64::try_from(value).unwrap());
    }
    assert_eq!(query.fetch_one(&mut conn).await.unwrap(), 1);

    let past_limit = select(limit + 1);
    let mut query = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(past_limit.clone()));
    for value in 0..=limit {
        query = query.bind(i64::try_from(value).unwrap());
    }
    let error = query.fetch_one(&mut conn).await.unwrap_err();
    assert!(
        error.to_string().contains("too many SQL variables"),
        "{error}"
    );

    let mut raw = covet::raw(past_limit);
    for value in 0..=limit {
        raw = raw.bind(i64::try_from(value).unwrap());
    }
    let error = raw.fetch_scalar::<i64, _>(&db).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
}
