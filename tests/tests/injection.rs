//! SQL injection strings and reserved-word identifiers through the public API, on every
//! backend: values must be stored and matched byte for byte, and identifiers quoted.

mod support;

use covet::{Database, ErrorKind, Model, escape_like};
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "users")]
struct User {
    #[covet(primary_key, auto_increment)]
    id: i64,
    name: String,
    note: Option<String>,
    profile: serde_json::Value,
}

fn user(name: &str) -> User {
    User {
        id: 0,
        name: name.to_owned(),
        note: Some(name.to_owned()),
        profile: json!({ "name": name }),
    }
}

/// Rows that no hostile string matches, to show that the others leave them alone.
const BYSTANDERS: [&str; 2] = ["alice", "bob"];

/// Strings that break SQL built by pasting values into the text. No two differ only in
/// ASCII case or trailing spaces, which MySQL and SQLite comparisons may ignore.
const HOSTILE: [&str; 22] = [
    "'; DROP TABLE users; --",
    "' OR '1'='1",
    "\" OR \"1\"=\"1",
    "Robert'); DROP TABLE users;--",
    "'",
    "''",
    "\"",
    "`",
    "\\",
    "\\'",
    "\\\\'",
    "ends with a backslash\\",
    "%",
    "_",
    "100%_off",
    "$1",
    "$1; SELECT 1",
    "?",
    "? OR 1=1",
    "/* comment */ --",
    "; COMMIT; ROLLBACK;",
    "\u{2019} OR \u{2018}1\u{2019}=\u{2019}1",
];

fn is_postgres(db: &Database) -> bool {
    db.backend().system_name() == "postgresql"
}

/// Creates `users` with the bystanders first, then one row per hostile string, and returns
/// the stored rows in that order.
async fn seed(db: &Database) -> covet::Result<Vec<User>> {
    User::create_table(db).await?;
    let mut stored = Vec::new();
    for name in BYSTANDERS.iter().chain(HOSTILE.iter()) {
        stored.push(user(name).insert(db).await?);
    }
    Ok(stored)
}

/// Returns every row, ordered by key.
async fn all_users(db: &Database) -> covet::Result<Vec<User>> {
    User::query().order_by_asc(User::ID).all(db).await
}

fn ids(rows: &[User]) -> Vec<i64> {
    rows.iter().map(|row| row.id).collect()
}

/// Returns the keys of the seeded rows whose name satisfies `predicate`.
fn ids_where(rows: &[User], predicate: impl Fn(&str) -> bool) -> Vec<i64> {
    rows.iter()
        .filter(|row| predicate(&row.name))
        .map(|row| row.id)
        .collect()
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "order")]
struct OrderRow {
    #[covet(primary_key, auto_increment)]
    select: i64,
    #[covet(unique)]
    group: String,
    user: Option<String>,
    order: i32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "user")]
struct UserRow {
    #[covet(primary_key)]
    order: i32,
    #[covet(primary_key)]
    group: String,
    select: Option<bool>,
    #[covet(rename = "where")]
    condition: String,
    #[covet(rename = "from")]
    source: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "group")]
struct GroupRow {
    #[covet(primary_key, rename = "user")]
    id: i32,
    // A field named `table` would hide `Model::TABLE`, so the column is renamed instead.
    #[covet(rename = "table")]
    table_name: String,
    #[covet(rename = "limit")]
    maximum: i64,
    #[covet(rename = "desc")]
    description: Option<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "select")]
struct SelectRow {
    #[covet(primary_key, auto_increment, rename = "key")]
    id: i64,
    #[covet(unique, rename = "index")]
    position: i32,
    #[covet(rename = "column")]
    value: String,
    #[covet(rename = "check")]
    checked: bool,
}

backend_tests! {
    async fn hostile_strings_round_trip(db) {
        let stored = seed(&db).await?;
        for (row, name) in stored.iter().skip(BYSTANDERS.len()).zip(HOSTILE) {
            assert_eq!(row.name, name, "insert returns {name:?} unchanged");
            let fetched = User::get(&db, row.id).await?;
            assert_eq!(
                fetched.name.as_bytes(),
                name.as_bytes(),
                "{name:?} reads back byte for byte"
            );
            assert_eq!(
                fetched.note.as_deref(),
                Some(name),
                "{name:?} in a nullable column"
            );
            assert_eq!(fetched.profile["name"], name, "{name:?} inside JSON");
        }
        let count = User::query().count(&db).await?;
        assert_eq!(
            count,
            stored.len() as u64,
            "every row is stored once and the table exists"
        );
        assert_eq!(
            all_users(&db).await?,
            stored,
            "no row changed after the inserts"
        );
        Ok(())
    }

    async fn hostile_strings_in_eq_filters(db) {
        let stored = seed(&db).await?;
        let total = stored.len() as u64;
        for row in stored.iter().skip(BYSTANDERS.len()) {
            let name = row.name.as_str();
            let by_name = User::query().filter(User::NAME.eq(name)).all(&db).await?;
            assert_eq!(ids(&by_name), [row.id], "name = {name:?}");
            let by_note = User::query().filter(User::NOTE.eq(name)).all(&db).await?;
            assert_eq!(ids(&by_note), [row.id], "note = {name:?}");
            let others = User::query().filter(User::NAME.ne(name)).count(&db).await?;
            assert_eq!(others, total - 1, "name <> {name:?}");
            let listed = User::query()
                .filter(User::NAME.is_in([name, "nobody"]))
                .all(&db)
                .await?;
            assert_eq!(ids(&listed), [row.id], "name IN ({name:?}, 'nobody')");
            let unlisted = User::query()
                .filter(User::NAME.is_not_in([name]))
                .count(&db)
                .await?;
            assert_eq!(unlisted, total - 1, "name NOT IN ({name:?})");
            let exists = User::query()
                .filter(User::NAME.eq(name))
                .exists(&db)
                .await?;
            assert!(exists, "exists with name = {name:?}");
        }
        assert_eq!(
            all_users(&db).await?,
            stored,
            "no row changed after the filters"
        );
        Ok(())
    }

    async fn hostile_strings_in_like_filters(db) {
        let stored = seed(&db).await?;
        let total = stored.len() as u64;
        for name in HOSTILE {
            let contains = User::query()
                .filter(User::NAME.contains(name))
                .order_by_asc(User::ID)
                .all(&db)
                .await?;
            let expected = ids_where(&stored, |stored| stored.contains(name));
            assert_eq!(ids(&contains), expected, "name contains {name:?}");

            let starts = User::query()
                .filter(User::NAME.starts_with(name))
                .order_by_asc(User::ID)
                .all(&db)
                .await?;
            let expected = ids_where(&stored, |stored| stored.starts_with(name));
            assert_eq!(ids(&starts), expected, "name starts with {name:?}");

            let ends = User::query()
                .filter(User::NAME.ends_with(name))
                .order_by_asc(User::ID)
                .all(&db)
                .await?;
            let expected = ids_where(&stored, |stored| stored.ends_with(name));
            assert_eq!(ids(&ends), expected, "name ends with {name:?}");

            let exact = User::query()
                .filter(User::NAME.like(escape_like(name)))
                .all(&db)
                .await?;
            let expected = ids_where(&stored, |stored| stored == name);
            assert_eq!(ids(&exact), expected, "name LIKE the escaped {name:?}");

            let not_like = User::query()
                .filter(User::NAME.not_like(escape_like(name)))
                .count(&db)
                .await?;
            assert_eq!(not_like, total - 1, "name NOT LIKE the escaped {name:?}");

            let note = User::query()
                .filter(User::NOTE.contains(name))
                .count(&db)
                .await?;
            let expected = ids_where(&stored, |stored| stored.contains(name)).len() as u64;
            assert_eq!(note, expected, "note contains {name:?}");
        }
        // Unescaped, `%` and `_` stay wildcards.
        let everything = User::query()
            .filter(User::NAME.like("%"))
            .count(&db)
            .await?;
        assert_eq!(everything, total, "LIKE '%' matches every row");
        let one_character = User::query()
            .filter(User::NAME.like("_"))
            .order_by_asc(User::ID)
            .all(&db)
            .await?;
        let expected = ids_where(&stored, |stored| stored.chars().count() == 1);
        assert_eq!(
            ids(&one_character),
            expected,
            "LIKE '_' matches one-character names"
        );
        assert_eq!(
            all_users(&db).await?,
            stored,
            "no row changed after the filters"
        );
        Ok(())
    }

    async fn hostile_strings_in_updates(db) {
        let mut expected = seed(&db).await?;
        let first = BYSTANDERS.len();
        for (offset, name) in HOSTILE.iter().enumerate() {
            let next = HOSTILE[(offset + 1) % HOSTILE.len()];
            let updated = User::update_many()
                .set(User::NOTE, next)
                .filter(User::NAME.eq(*name))
                .exec(&db)
                .await?;
            assert_eq!(
                updated, 1,
                "update_many where name = {name:?} matches one row"
            );
            expected[first + offset].note = Some(next.to_owned());
        }
        assert_eq!(
            all_users(&db).await?,
            expected,
            "update_many changes only the matched rows"
        );

        for (offset, name) in HOSTILE.iter().enumerate() {
            let mut row = expected[first + offset].clone();
            row.name = format!("updated {name}");
            row.profile = json!([name, { "nested": name }]);
            row.update(&db).await?;
            let fetched = User::get(&db, row.id).await?;
            assert_eq!(fetched, row, "update writes {name:?} back byte for byte");
            expected[first + offset] = row;
        }
        assert_eq!(
            all_users(&db).await?,
            expected,
            "update changes only its own row"
        );

        for (offset, name) in HOSTILE.iter().enumerate() {
            let mut row = expected[first + offset].clone();
            row.note = Some(format!("{name}{name}"));
            row.name = String::from("not written");
            row.update_columns(&db, &[User::NOTE.into()]).await?;
            expected[first + offset].note = row.note.clone();
        }
        assert_eq!(
            all_users(&db).await?,
            expected,
            "update_columns writes only the note"
        );

        let bystanders = User::query()
            .filter(User::NAME.is_in(BYSTANDERS))
            .count(&db)
            .await?;
        assert_eq!(
            bystanders,
            BYSTANDERS.len() as u64,
            "the bystander rows are still there"
        );
        Ok(())
    }

    async fn hostile_strings_in_deletes(db) {
        let stored = seed(&db).await?;
        let mut remaining = stored.len() as u64;
        for name in HOSTILE {
            let deleted = User::delete_many()
                .filter(User::NAME.eq(name))
                .exec(&db)
                .await?;
            assert_eq!(deleted, 1, "delete where name = {name:?} removes one row");
            remaining -= 1;
            let count = User::query().count(&db).await?;
            assert_eq!(
                count, remaining,
                "{remaining} rows left after deleting {name:?}"
            );
        }
        let left = all_users(&db).await?;
        assert_eq!(
            left,
            stored[..BYSTANDERS.len()],
            "only the bystander rows are left, unchanged"
        );
        Ok(())
    }

    async fn nul_byte_in_text(db) {
        let stored = seed(&db).await?;
        let samples = ["a\0b", "\0", "ends with NUL\0", "\0'; DROP TABLE users; --"];
        if is_postgres(&db) {
            // PostgreSQL text cannot contain NUL and rejects it with SQLSTATE 22021.
            for sample in samples {
                let error = User {
                    note: None,
                    ..user(sample)
                }
                .insert(&db)
                .await
                .unwrap_err();
                assert_eq!(
                    error.kind(),
                    ErrorKind::OtherDatabase,
                    "insert of {sample:?}: {error}"
                );
                assert_eq!(error.code(), Some("22021"), "insert of {sample:?}: {error}");
                assert!(
                    error.to_string().contains("0x00"),
                    "the message names the NUL byte: {error}"
                );

                let error = User::query()
                    .filter(User::NAME.eq(sample))
                    .all(&db)
                    .await
                    .unwrap_err();
                assert_eq!(error.code(), Some("22021"), "filter on {sample:?}: {error}");

                let error = User::update_many()
                    .set(User::NOTE, sample)
                    .filter(User::ID.eq(stored[0].id))
                    .exec(&db)
                    .await
                    .unwrap_err();
                assert_eq!(error.code(), Some("22021"), "update to {sample:?}: {error}");
            }
            assert_eq!(
                all_users(&db).await?,
                stored,
                "rejected statements change no row"
            );
            let after = user("inserted after the errors").insert(&db).await?;
            assert!(after.id > 0, "the database still accepts statements");
            return Ok(());
        }
        let mut expected = stored.clone();
        for sample in samples {
            let row = User {
                note: None,
                ..user(sample)
            }
            .insert(&db)
            .await?;
            assert_eq!(row.name, sample, "insert returns {sample:?} unchanged");
            let fetched = User::get(&db, row.id).await?;
            assert_eq!(
                fetched.name.as_bytes(),
                sample.as_bytes(),
                "{sample:?} reads back byte for byte"
            );
            assert_eq!(fetched.profile["name"], sample, "{sample:?} inside JSON");
            let matched = User::query().filter(User::NAME.eq(sample)).all(&db).await?;
            assert_eq!(ids(&matched), [row.id], "name = {sample:?}");
            expected.push(row);
        }
        let updated = User::update_many()
            .set(User::NOTE, "x\0y")
            .filter(User::NAME.eq("a\0b"))
            .exec(&db)
            .await?;
        assert_eq!(
            updated, 1,
            "update_many where name = \"a\\0b\" matches one row"
        );
        let position = expected
            .iter()
            .position(|row| row.name == "a\0b")
            .expect("seeded");
        expected[position].note = Some(String::from("x\0y"));
        assert_eq!(
            all_users(&db).await?,
            expected,
            "only the matched row changed"
        );

        if db.backend().system_name() == "sqlite" {
            // SQLite ends a LIKE pattern at NUL, so `%\0%` would match every row.
            let error = User::query()
                .filter(User::NAME.contains("\0"))
                .count(&db)
                .await
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
            assert!(error.to_string().contains("NUL"), "{error}");
            return Ok(());
        }
        let with_nul = User::query()
            .filter(User::NAME.contains("\0"))
            .count(&db)
            .await?;
        assert_eq!(with_nul, samples.len() as u64, "name contains NUL");
        let text_after_nul = User::query()
            .filter(User::NAME.contains("\0b"))
            .count(&db)
            .await?;
        assert_eq!(text_after_nul, 1, "name contains NUL followed by b");
        Ok(())
    }

    async fn table_named_order(db) {
        OrderRow::create_table(&db).await?;
        let first = OrderRow {
            select: 0,
            group: String::from("a"),
            user: None,
            order: 1,
        }
        .insert(&db)
        .await?;
        let second = OrderRow {
            select: 0,
            group: String::from("b"),
            user: Some(String::from("x")),
            order: 2,
        }
        .insert(&db)
        .await?;
        assert!(
            second.select > first.select,
            "the `select` key is generated: {} then {}",
            first.select,
            second.select
        );
        assert_eq!(
            OrderRow::get(&db, second.select).await?,
            second,
            "get by the `select` key"
        );

        let by_group = OrderRow::query()
            .filter(OrderRow::GROUP.eq("b"))
            .all(&db)
            .await?;
        assert_eq!(by_group, vec![second.clone()], "filter on `group`");
        let by_user = OrderRow::query()
            .filter(OrderRow::USER.is_null())
            .count(&db)
            .await?;
        assert_eq!(by_user, 1, "filter on `user` IS NULL");
        let sorted = OrderRow::query()
            .order_by_desc(OrderRow::ORDER)
            .all(&db)
            .await?;
        assert_eq!(
            sorted,
            vec![second.clone(), first.clone()],
            "order by `order`"
        );

        let duplicate = OrderRow {
            select: 0,
            group: String::from("a"),
            user: None,
            order: 3,
        }
        .insert(&db)
        .await
        .unwrap_err();
        assert_eq!(
            duplicate.kind(),
            ErrorKind::UniqueViolation,
            "the unique `group` column: {duplicate}"
        );

        let mut changed = first.clone();
        changed.user = Some(String::from("y"));
        changed.order = 10;
        changed.update(&db).await?;
        assert_eq!(
            OrderRow::get(&db, first.select).await?,
            changed,
            "update by the `select` key"
        );
        let updated = OrderRow::update_many()
            .set(OrderRow::ORDER, 20)
            .filter(OrderRow::GROUP.eq("b"))
            .exec(&db)
            .await?;
        assert_eq!(updated, 1, "update_many on `order` where `group` matches");

        assert!(changed.delete(&db).await?, "delete by the `select` key");
        let deleted = OrderRow::delete_many()
            .filter(OrderRow::ORDER.eq(20))
            .exec(&db)
            .await?;
        assert_eq!(deleted, 1, "delete_many where `order` matches");
        assert_eq!(OrderRow::query().count(&db).await?, 0, "the table is empty");
        OrderRow::drop_table(&db).await?;
        Ok(())
    }

    async fn table_named_user(db) {
        UserRow::create_table(&db).await?;
        let rows = [
            UserRow {
                order: 1,
                group: String::from("g"),
                select: Some(true),
                condition: String::from("1 = 1"),
                source: String::from("dual"),
            },
            UserRow {
                order: 2,
                group: String::from("g"),
                select: None,
                condition: String::from("TRUE"),
                source: String::from("users"),
            },
        ];
        for row in &rows {
            assert_eq!(
                &row.insert(&db).await?,
                row,
                "insert into `user` with a composite key"
            );
        }
        assert_eq!(
            UserRow::get(&db, (2, String::from("g"))).await?,
            rows[1],
            "get by (`order`, `group`)"
        );
        let by_where = UserRow::query()
            .filter(UserRow::CONDITION.eq("1 = 1"))
            .all(&db)
            .await?;
        assert_eq!(by_where, vec![rows[0].clone()], "filter on `where`");
        let by_from = UserRow::query()
            .filter(UserRow::SOURCE.contains("user"))
            .count(&db)
            .await?;
        assert_eq!(by_from, 1, "contains on `from`");
        let selected = UserRow::query()
            .filter(UserRow::SELECT.eq(true))
            .count(&db)
            .await?;
        assert_eq!(selected, 1, "filter on `select`");

        let mut changed = rows[1].clone();
        changed.select = Some(false);
        changed.update(&db).await?;
        assert_eq!(
            UserRow::get(&db, (2, String::from("g"))).await?,
            changed,
            "update by (`order`, `group`)"
        );
        assert!(
            UserRow::delete_by_key(&db, (1, String::from("g"))).await?,
            "delete by (`order`, `group`)"
        );
        assert_eq!(
            UserRow::query().all(&db).await?,
            vec![changed],
            "one row is left"
        );
        Ok(())
    }

    async fn table_named_group(db) {
        GroupRow::create_table(&db).await?;
        let row = GroupRow {
            id: 1,
            table_name: String::from("t"),
            maximum: 5,
            description: None,
        };
        assert_eq!(row.insert(&db).await?, row, "insert into `group`");
        let by_table = GroupRow::query()
            .filter(GroupRow::TABLE_NAME.eq("t"))
            .one(&db)
            .await?;
        assert_eq!(by_table, row, "filter on `table`");
        let by_limit = GroupRow::query()
            .filter(GroupRow::MAXIMUM.ge(5))
            .count(&db)
            .await?;
        assert_eq!(by_limit, 1, "filter on `limit`");

        let updated = GroupRow::update_many()
            .set(GroupRow::DESCRIPTION, "described")
            .filter(GroupRow::ID.eq(1))
            .exec(&db)
            .await?;
        assert_eq!(updated, 1, "update_many on `desc` where `user` matches");
        let described = GroupRow::get(&db, 1).await?;
        assert_eq!(
            described.description.as_deref(),
            Some("described"),
            "update wrote `desc`"
        );
        let deleted = GroupRow::delete_many()
            .filter(GroupRow::DESCRIPTION.is_not_null())
            .exec(&db)
            .await?;
        assert_eq!(deleted, 1, "delete_many where `desc` IS NOT NULL");
        assert!(!GroupRow::query().exists(&db).await?, "the table is empty");
        Ok(())
    }

    async fn table_named_select(db) {
        SelectRow::create_table(&db).await?;
        let first = SelectRow {
            id: 0,
            position: 1,
            value: String::from("one"),
            checked: false,
        }
        .insert(&db)
        .await?;
        let second = SelectRow {
            id: 0,
            position: 2,
            value: String::from("two"),
            checked: true,
        }
        .insert(&db)
        .await?;
        assert!(second.id > first.id, "the `key` column is generated");
        let by_index = SelectRow::query()
            .filter(SelectRow::POSITION.eq(2))
            .one(&db)
            .await?;
        assert_eq!(by_index, second, "filter on `index`");
        let by_check = SelectRow::query()
            .filter(SelectRow::CHECKED.eq(false))
            .one(&db)
            .await?;
        assert_eq!(by_check, first, "filter on `check`");
        let sorted = SelectRow::query()
            .order_by_desc(SelectRow::VALUE)
            .all(&db)
            .await?;
        assert_eq!(
            sorted,
            vec![second.clone(), first.clone()],
            "order by `column`"
        );

        let mut changed = first.clone();
        changed.value = String::from("uno");
        changed
            .update_columns(&db, &[SelectRow::VALUE.into()])
            .await?;
        assert_eq!(
            SelectRow::get(&db, first.id).await?,
            changed,
            "update_columns on `column`"
        );
        assert!(
            SelectRow::delete_by_key(&db, second.id).await?,
            "delete by the `key` column"
        );
        assert_eq!(
            SelectRow::query().all(&db).await?,
            vec![changed],
            "one row is left"
        );
        SelectRow::drop_table(&db).await?;
        Ok(())
    }
}
