//! CRUD and filters through derived models, on every backend.

mod support;

use covet::{ColumnRef, ErrorKind, Filter, Model, Order};

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "people")]
struct Person {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique)]
    email: String,
    name: String,
    age: i32,
    nickname: Option<String>,
    #[covet(skip)]
    cached_greeting: String,
}

fn person(email: &str, name: &str, age: i32, nickname: Option<&str>) -> Person {
    Person {
        id: 0,
        email: email.to_owned(),
        name: name.to_owned(),
        age,
        nickname: nickname.map(str::to_owned),
        cached_greeting: String::from("not stored"),
    }
}

/// A model whose only column is its generated key.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "tickets")]
struct Ticket {
    #[covet(primary_key, auto_increment)]
    id: i64,
}

/// A composite primary key with no generated column.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "memberships")]
struct Membership {
    #[covet(primary_key)]
    group_id: i32,
    #[covet(primary_key)]
    person_id: i64,
    #[covet(rename = "member_role")]
    role: String,
}

/// Four people: ages 20, 30, 40, 50; two without a nickname.
async fn seed(db: &covet::Database) -> covet::Result<Vec<Person>> {
    Person::create_table(db).await?;
    let mut stored = Vec::new();
    for row in [
        person("ann@example.com", "Ann", 20, Some("annie")),
        person("bob@example.com", "Bob", 30, None),
        person("cyd@example.com", "Cyd", 40, Some("100%_real")),
        person("dee@example.com", "Dee", 50, None),
    ] {
        stored.push(row.insert(db).await?);
    }
    Ok(stored)
}

fn names(people: &[Person]) -> Vec<&str> {
    people.iter().map(|person| person.name.as_str()).collect()
}

backend_tests! {
    async fn insert_returns_generated_key(db) {
        Person::create_table(&db).await?;
        let first = person("a@example.com", "A", 1, None).insert(&db).await?;
        let second = person("b@example.com", "B", 2, Some("bee")).insert(&db).await?;
        assert!(first.id > 0, "generated id {}", first.id);
        assert!(second.id > first.id, "ids {} then {}", first.id, second.id);
        assert_eq!(second.nickname.as_deref(), Some("bee"));
        assert_eq!(second.cached_greeting, "", "skipped fields come back as Default");
        let fetched = Person::get(&db, second.id).await?;
        assert_eq!(fetched, second);
        Ok(())
    }

    async fn find_missing_key_is_none(db) {
        seed(&db).await?;
        assert_eq!(Person::find(&db, 999_999).await?, None);
        let error = Person::get(&db, 999_999).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        Ok(())
    }

    async fn query_all_one_optional(db) {
        seed(&db).await?;
        let all = Person::query().order_by_asc(Person::AGE).all(&db).await?;
        assert_eq!(names(&all), ["Ann", "Bob", "Cyd", "Dee"]);
        let oldest = Person::query().order_by_desc(Person::AGE).one(&db).await?;
        assert_eq!(oldest.name, "Dee");
        let none = Person::query().filter(Person::AGE.gt(100)).optional(&db).await?;
        assert_eq!(none, None);
        let error = Person::query().filter(Person::AGE.gt(100)).one(&db).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::NotFound);
        Ok(())
    }

    async fn comparison_filters(db) {
        seed(&db).await?;
        let db = &db;
        let by = |filter: Filter<Person>| async move {
            let rows = Person::query().filter(filter).order_by_asc(Person::AGE).all(db).await?;
            Ok::<_, covet::Error>(names(&rows).into_iter().map(str::to_owned).collect::<Vec<_>>())
        };
        assert_eq!(by(Person::AGE.eq(30)).await?, ["Bob"]);
        assert_eq!(by(Person::AGE.ne(30)).await?, ["Ann", "Cyd", "Dee"]);
        assert_eq!(by(Person::AGE.lt(30)).await?, ["Ann"]);
        assert_eq!(by(Person::AGE.le(30)).await?, ["Ann", "Bob"]);
        assert_eq!(by(Person::AGE.gt(40)).await?, ["Dee"]);
        assert_eq!(by(Person::AGE.ge(40)).await?, ["Cyd", "Dee"]);
        assert_eq!(by(Person::AGE.between(25, 45)).await?, ["Bob", "Cyd"]);
        assert_eq!(by(Person::NAME.is_in(["Ann", "Dee"])).await?, ["Ann", "Dee"]);
        assert_eq!(by(Person::NAME.is_not_in(["Ann", "Dee"])).await?, ["Bob", "Cyd"]);
        Ok(())
    }

    async fn empty_in_lists(db) {
        seed(&db).await?;
        let none: Vec<i32> = Vec::new();
        let matched = Person::query().filter(Person::AGE.is_in(none.clone())).all(&db).await?;
        assert!(matched.is_empty(), "empty IN matched {matched:?}");
        let all = Person::query().filter(Person::AGE.is_not_in(none.clone())).count(&db).await?;
        assert_eq!(all, 4, "empty NOT IN must match every row");
        let negated = Person::query().filter(!Person::AGE.is_in(none)).count(&db).await?;
        assert_eq!(negated, 4, "NOT of an empty IN must match every row");
        Ok(())
    }

    async fn null_filters(db) {
        seed(&db).await?;
        let without = Person::query().filter(Person::NICKNAME.eq(None)).order_by_asc(Person::AGE).all(&db).await?;
        assert_eq!(names(&without), ["Bob", "Dee"]);
        let with = Person::query().filter(Person::NICKNAME.ne(None)).order_by_asc(Person::AGE).all(&db).await?;
        assert_eq!(names(&with), ["Ann", "Cyd"]);
        let null = Person::query().filter(Person::NICKNAME.is_null()).count(&db).await?;
        assert_eq!(null, 2);
        let not_null = Person::query().filter(Person::NICKNAME.is_not_null()).count(&db).await?;
        assert_eq!(not_null, 2);
        let annie = Person::query().filter(Person::NICKNAME.eq("annie")).one(&db).await?;
        assert_eq!(annie.name, "Ann");
        Ok(())
    }

    async fn like_escapes_user_text(db) {
        seed(&db).await?;
        let literal = Person::query().filter(Person::NICKNAME.contains("%_")).all(&db).await?;
        assert_eq!(names(&literal), ["Cyd"], "contains() must treat % and _ literally");
        let no_wildcard = Person::query().filter(Person::NICKNAME.contains("0_r")).count(&db).await?;
        assert_eq!(no_wildcard, 0, "an escaped _ must not match one character");
        let pattern = Person::query().filter(Person::EMAIL.like("_ob@%")).all(&db).await?;
        assert_eq!(names(&pattern), ["Bob"]);
        let starts = Person::query().filter(Person::EMAIL.starts_with("dee@")).count(&db).await?;
        assert_eq!(starts, 1);
        let ends = Person::query().filter(Person::EMAIL.ends_with("@example.com")).count(&db).await?;
        assert_eq!(ends, 4);
        let not_like = Person::query().filter(Person::NAME.not_like("A%")).count(&db).await?;
        assert_eq!(not_like, 3);
        Ok(())
    }

    async fn and_or_not(db) {
        seed(&db).await?;
        let both = Person::query()
            .filter(Person::AGE.gt(20).and(Person::NICKNAME.is_null()))
            .order_by_asc(Person::AGE)
            .all(&db)
            .await?;
        assert_eq!(names(&both), ["Bob", "Dee"]);
        let either = Person::query()
            .filter(Person::AGE.eq(20).or(Person::AGE.eq(50)))
            .order_by_asc(Person::AGE)
            .all(&db)
            .await?;
        assert_eq!(names(&either), ["Ann", "Dee"]);
        let negated = Person::query()
            .filter(!(Person::AGE.eq(20).or(Person::AGE.eq(50))))
            .order_by_asc(Person::AGE)
            .all(&db)
            .await?;
        assert_eq!(names(&negated), ["Bob", "Cyd"]);
        let any_empty = Person::query().filter(Filter::any_of([])).count(&db).await?;
        assert_eq!(any_empty, 0);
        let all_empty = Person::query().filter(Filter::all_of([])).count(&db).await?;
        assert_eq!(all_empty, 4);
        Ok(())
    }

    async fn order_limit_offset_count_exists(db) {
        seed(&db).await?;
        let page = Person::query().order_by(Person::AGE, Order::Desc).limit(2).offset(1).all(&db).await?;
        assert_eq!(names(&page), ["Cyd", "Bob"]);
        let tail = Person::query().order_by_asc(Person::AGE).offset(3).all(&db).await?;
        assert_eq!(names(&tail), ["Dee"]);
        assert_eq!(Person::query().count(&db).await?, 4);
        assert_eq!(Person::query().filter(Person::AGE.ge(30)).count(&db).await?, 3);
        assert_eq!(Person::query().limit(2).count(&db).await?, 2);
        assert!(Person::query().filter(Person::NAME.eq("Cyd")).exists(&db).await?);
        assert!(!Person::query().filter(Person::NAME.eq("Zed")).exists(&db).await?);
        Ok(())
    }

    async fn order_by_name_checks_column(db) {
        seed(&db).await?;
        let sorted = Person::query().order_by_name("age", Order::Desc)?.all(&db).await?;
        assert_eq!(names(&sorted), ["Dee", "Cyd", "Bob", "Ann"]);
        let error = Person::query().order_by_name("age; DROP TABLE people", Order::Asc).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        let message = error.to_string();
        assert!(message.contains("age; DROP TABLE people"), "{message}");
        assert!(message.contains("email"), "the message lists valid columns: {message}");
        Ok(())
    }

    async fn update_all_and_chosen_columns(db) {
        let people = seed(&db).await?;
        let mut bob = people[1].clone();
        bob.name = String::from("Robert");
        bob.age = 31;
        bob.update(&db).await?;
        assert_eq!(Person::get(&db, bob.id).await?, Person { cached_greeting: String::new(), ..bob.clone() });

        let mut changed = bob.clone();
        changed.name = String::from("ignored");
        changed.nickname = Some(String::from("rob"));
        changed.update_columns(&db, &[Person::NICKNAME.into()]).await?;
        let stored = Person::get(&db, bob.id).await?;
        assert_eq!(stored.name, "Robert", "columns not listed stay unchanged");
        assert_eq!(stored.nickname.as_deref(), Some("rob"));

        let error = changed.update_columns(&db, &[Person::ID.into()]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);
        let error = changed.update_columns(&db, &[]).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput);

        let mut ghost = bob.clone();
        ghost.id = 999_999;
        assert_eq!(ghost.update(&db).await.unwrap_err().kind(), ErrorKind::NotFound);

        let renamed = Person::update_many()
            .set(Person::NICKNAME, "senior")
            .filter(Person::AGE.ge(40))
            .exec(&db)
            .await?;
        assert_eq!(renamed, 2);
        assert_eq!(Person::query().filter(Person::NICKNAME.eq("senior")).count(&db).await?, 2);
        let cleared = Person::update_many().set(Person::NICKNAME, None::<String>).exec(&db).await?;
        assert_eq!(cleared, 4);
        assert_eq!(Person::query().filter(Person::NICKNAME.is_null()).count(&db).await?, 4);
        Ok(())
    }

    async fn update_unchanged_row_is_not_missing(db) {
        let people = seed(&db).await?;
        // MySQL reports changed rows unless asked for matched rows; an update that writes
        // the same values must still succeed.
        people[0].update(&db).await?;
        Ok(())
    }

    async fn delete_by_key_and_filter(db) {
        let people = seed(&db).await?;
        assert!(people[0].delete(&db).await?);
        assert!(!people[0].delete(&db).await?, "a second delete finds nothing");
        assert!(Person::delete_by_key(&db, people[1].id).await?);
        let removed = Person::delete_many().filter(Person::AGE.ge(50)).exec(&db).await?;
        assert_eq!(removed, 1);
        let left = Person::query().all(&db).await?;
        assert_eq!(names(&left), ["Cyd"]);
        Ok(())
    }

    async fn composite_primary_key(db) {
        Membership::create_table(&db).await?;
        let rows = [
            Membership { group_id: 1, person_id: 10, role: String::from("owner") },
            Membership { group_id: 1, person_id: 11, role: String::from("member") },
            Membership { group_id: 2, person_id: 10, role: String::from("member") },
        ];
        for row in &rows {
            assert_eq!(&row.insert(&db).await?, row);
        }
        assert_eq!(Membership::get(&db, (1, 11)).await?, rows[1]);
        assert_eq!(Membership::find(&db, (2, 11)).await?, None);
        let mut promoted = rows[2].clone();
        promoted.role = String::from("owner");
        promoted.update(&db).await?;
        assert_eq!(Membership::get(&db, (2, 10)).await?.role, "owner");
        assert!(Membership::delete_by_key(&db, (1, 10)).await?);
        assert_eq!(Membership::query().count(&db).await?, 2);
        let duplicate = rows[1].insert(&db).await.unwrap_err();
        assert_eq!(duplicate.kind(), ErrorKind::UniqueViolation);
        let column = ColumnRef::<Membership>::by_name("member_role")?;
        assert_eq!(column.name(), "member_role");
        Ok(())
    }

    async fn insert_reuses_sql_per_column_set(db) {
        // Rows that leave the generated key unset and rows that set it render different
        // SQL; each must keep its own, in any order.
        Person::create_table(&db).await?;
        let first = person("a@example.com", "A", 1, None).insert(&db).await?;
        let mut explicit = person("b@example.com", "B", 2, Some("bee"));
        explicit.id = first.id + 100;
        let stored = explicit.insert(&db).await?;
        assert_eq!(stored.id, explicit.id);
        assert_eq!(stored.nickname.as_deref(), Some("bee"));
        let third = person("c@example.com", "C", 3, None).insert(&db).await?;
        assert_ne!(third.id, first.id);
        assert_ne!(third.id, explicit.id);
        assert_eq!(Person::get(&db, third.id).await?.email, "c@example.com");
        assert_eq!(Person::query().count(&db).await?, 3);
        Ok(())
    }

    async fn insert_row_without_set_columns(db) {
        // Every column is generated, so the INSERT names none and uses the defaults.
        Ticket::create_table(&db).await?;
        let first = Ticket { id: 0 }.insert(&db).await?;
        let second = Ticket { id: 0 }.insert(&db).await?;
        assert!(first.id > 0);
        assert!(second.id > first.id);
        let inserted = Ticket::insert_many(&db, &[Ticket { id: 0 }, Ticket { id: 0 }, Ticket { id: 0 }]).await?;
        assert_eq!(inserted, 3);
        assert_eq!(Ticket::query().count(&db).await?, 5);
        Ok(())
    }

    async fn find_reuses_sql_with_new_keys(db) {
        // `find` renders its SQL once per model and backend; each later call must bind its
        // own key, or it would return the first call's row.
        Membership::create_table(&db).await?;
        let rows = [
            Membership { group_id: 1, person_id: 10, role: String::from("first") },
            Membership { group_id: 2, person_id: 20, role: String::from("second") },
            Membership { group_id: 3, person_id: 30, role: String::from("third") },
        ];
        Membership::insert_many(&db, &rows).await?;
        for row in rows.iter().rev() {
            let key = (row.group_id, row.person_id);
            assert_eq!(Membership::find(&db, key).await?.as_ref(), Some(row));
        }
        assert_eq!(Membership::find(&db, (1, 20)).await?, None);
        let tx = db.begin().await?;
        assert_eq!(Membership::get(&tx, (2, 20)).await?, rows[1]);
        tx.rollback().await?;
        Ok(())
    }
}
