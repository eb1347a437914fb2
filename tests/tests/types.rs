//! Round trips of every supported field type with its edge values, on every backend.

mod support;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use covet::{Database, ErrorKind, Model};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

fn is_mysql(db: &Database) -> bool {
    matches!(db.backend().system_name(), "mysql" | "mariadb")
}

fn is_postgres(db: &Database) -> bool {
    db.backend().system_name() == "postgresql"
}

fn naive(date: (i32, u32, u32), time: (u32, u32, u32), micros: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(date.0, date.1, date.2)
        .and_then(|day| day.and_hms_micro_opt(time.0, time.1, time.2, micros))
        .expect("valid date and time")
}

fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

/// Parses a decimal literal keeping its scale (`1.000` has scale 3).
fn decimal(text: &str) -> Decimal {
    Decimal::from_str_exact(text).expect("valid decimal literal")
}

/// Returns the column named by a decode error, or panics with the error.
fn decode_column(error: &covet::Error) -> &str {
    match error {
        covet::Error::Decode { column, .. } => column,
        other => panic!("expected a decode error, got {other} ({other:?})"),
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "integers")]
struct Integers {
    #[covet(primary_key)]
    id: i32,
    small: i16,
    int: i32,
    big: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "counters")]
struct Counter {
    #[covet(primary_key)]
    id: i32,
    value: u64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "measurements")]
struct Measurement {
    #[covet(primary_key)]
    id: i32,
    flag: bool,
    single: f32,
    double: f64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "texts")]
struct TextRow {
    #[covet(primary_key)]
    id: i32,
    text: String,
    note: Option<String>,
    data: Vec<u8>,
    maybe_data: Option<Vec<u8>>,
}

fn text_row(id: i32, text: &str) -> TextRow {
    TextRow {
        id,
        text: text.to_owned(),
        note: None,
        data: Vec::new(),
        maybe_data: None,
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "moments")]
struct Moment {
    #[covet(primary_key)]
    id: i32,
    at: DateTime<Utc>,
    local: NaiveDateTime,
    day: NaiveDate,
    maybe_at: Option<DateTime<Utc>>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "identifiers")]
struct Identifier {
    #[covet(primary_key)]
    id: Uuid,
    other: Option<Uuid>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "amounts")]
struct Amount {
    #[covet(primary_key)]
    id: i32,
    amount: Decimal,
    maybe_amount: Option<Decimal>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Preferences {
    theme: String,
    font_size: u16,
    tags: Vec<String>,
    limit: Option<i64>,
}

fn preferences(theme: &str) -> Preferences {
    Preferences {
        theme: theme.to_owned(),
        font_size: 14,
        tags: vec![String::from("a \"quoted\" tag"), String::from("ünïcödé 😀")],
        limit: None,
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "documents")]
struct Document {
    #[covet(primary_key)]
    id: i32,
    body: serde_json::Value,
    extra: Option<serde_json::Value>,
    #[covet(json)]
    preferences: Preferences,
    #[covet(json)]
    previous: Option<Preferences>,
}

fn document(id: i32, body: serde_json::Value, extra: Option<serde_json::Value>) -> Document {
    Document {
        id,
        body,
        extra,
        preferences: preferences("dark"),
        previous: None,
    }
}

/// The `documents` table read with a JSON field type that does not match what is stored.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "documents")]
struct MismatchedDocument {
    #[covet(primary_key)]
    id: i32,
    body: serde_json::Value,
    extra: Option<serde_json::Value>,
    #[covet(json)]
    preferences: Vec<String>,
    #[covet(json)]
    previous: Option<Preferences>,
}

/// One nullable column of every supported type. The decimal column comes last so that a
/// failure to read decimals does not hide the checks of the other columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "nullable_values")]
struct NullableRow {
    #[covet(primary_key)]
    id: i32,
    small: Option<i16>,
    int: Option<i32>,
    big: Option<i64>,
    unsigned: Option<u64>,
    flag: Option<bool>,
    single: Option<f32>,
    double: Option<f64>,
    text: Option<String>,
    data: Option<Vec<u8>>,
    at: Option<DateTime<Utc>>,
    local: Option<NaiveDateTime>,
    day: Option<NaiveDate>,
    uid: Option<Uuid>,
    json: Option<serde_json::Value>,
    #[covet(json)]
    prefs: Option<Preferences>,
    amount: Option<Decimal>,
}

/// The `nullable_values` table read into fields that do not accept NULL.
#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "nullable_values")]
struct RequiredRow {
    #[covet(primary_key)]
    id: i32,
    small: i16,
    int: i32,
    big: i64,
    unsigned: u64,
    flag: bool,
    single: f32,
    double: f64,
    text: String,
    data: Vec<u8>,
    at: DateTime<Utc>,
    local: NaiveDateTime,
    day: NaiveDate,
    uid: Uuid,
    json: serde_json::Value,
    #[covet(json)]
    prefs: Preferences,
    amount: Decimal,
}

/// A row with every column set to a falsy or empty value, which a NULL must never turn
/// into.
fn filled_row(id: i32) -> NullableRow {
    NullableRow {
        id,
        small: Some(0),
        int: Some(0),
        big: Some(0),
        unsigned: Some(0),
        flag: Some(false),
        single: Some(0.0),
        double: Some(0.0),
        text: Some(String::new()),
        data: Some(Vec::new()),
        at: Some(naive((1970, 1, 1), (0, 0, 0), 0).and_utc()),
        local: Some(naive((1970, 1, 1), (0, 0, 0), 0)),
        day: Some(day(1970, 1, 1)),
        uid: Some(Uuid::nil()),
        json: Some(json!({})),
        prefs: Some(preferences("")),
        amount: Some(Decimal::ZERO),
    }
}

/// Sets the column named `column` to NULL and returns whether it was NULL before.
fn clear_column(row: &mut NullableRow, column: &str) -> bool {
    match column {
        "small" => row.small.take().is_none(),
        "int" => row.int.take().is_none(),
        "big" => row.big.take().is_none(),
        "unsigned" => row.unsigned.take().is_none(),
        "flag" => row.flag.take().is_none(),
        "single" => row.single.take().is_none(),
        "double" => row.double.take().is_none(),
        "text" => row.text.take().is_none(),
        "data" => row.data.take().is_none(),
        "at" => row.at.take().is_none(),
        "local" => row.local.take().is_none(),
        "day" => row.day.take().is_none(),
        "uid" => row.uid.take().is_none(),
        "json" => row.json.take().is_none(),
        "prefs" => row.prefs.take().is_none(),
        "amount" => row.amount.take().is_none(),
        other => panic!("no nullable column named {other}"),
    }
}

/// Values with the scale PostgreSQL and SQLite keep, and the scale MySQL returns. MySQL
/// stores every value with the column's scale of 28. Reading keeps those 28 digits when the
/// padded text fits `Decimal`, and otherwise drops the padding zeros (see
/// `orm/src/backend/mysql.rs`).
const DECIMALS: [(&str, u32); 10] = [
    ("0", 28),
    ("0.1", 28),
    ("1.000", 28),
    ("21474836.47", 2),
    ("-0.01", 28),
    ("1234567890.123456789012345678", 18),
    ("0.1234567890123456789012345678", 28),
    ("-0.0000000000000000000000000001", 28),
    ("79228162514264337593543950335", 0),
    ("-79228162514264337593543950335", 0),
];

backend_tests! {
    async fn integer_limits_round_trip(db) {
        Integers::create_table(&db).await?;
        let rows = [
            Integers {
                id: 1,
                small: i16::MIN,
                int: i32::MIN,
                big: i64::MIN,
            },
            Integers {
                id: 2,
                small: i16::MAX,
                int: i32::MAX,
                big: i64::MAX,
            },
            Integers {
                id: 3,
                small: 0,
                int: 0,
                big: 1 << 31,
            },
            Integers {
                id: 4,
                small: -1,
                int: -1,
                big: 1 << 32,
            },
            Integers {
                id: 5,
                small: 1,
                int: 1,
                big: -(1 << 31) - 1,
            },
            Integers {
                id: 6,
                small: 0,
                int: 0,
                big: -(1 << 32),
            },
        ];
        for row in &rows {
            let stored = row.insert(&db).await?;
            assert_eq!(&stored, row, "insert returns row {} unchanged", row.id);
            let fetched = Integers::get(&db, row.id).await?;
            assert_eq!(&fetched, row, "row {} reads back unchanged", row.id);
        }
        for row in &rows {
            let matched = Integers::query()
                .filter(Integers::BIG.eq(row.big))
                .all(&db)
                .await?;
            assert_eq!(matched, vec![row.clone()], "filter big = {}", row.big);
        }
        let small_min = Integers::query()
            .filter(Integers::SMALL.eq(i16::MIN))
            .count(&db)
            .await?;
        assert_eq!(small_min, 1, "filter small = i16::MIN");
        let int_max = Integers::query()
            .filter(Integers::INT.eq(i32::MAX))
            .count(&db)
            .await?;
        assert_eq!(int_max, 1, "filter int = i32::MAX");
        let above_i32 = Integers::query()
            .filter(Integers::BIG.gt(i64::from(i32::MAX)))
            .count(&db)
            .await?;
        assert_eq!(above_i32, 3, "i64::MAX, 2^31 and 2^32 are above i32::MAX");
        let below_i32 = Integers::query()
            .filter(Integers::BIG.lt(i64::from(i32::MIN)))
            .count(&db)
            .await?;
        assert_eq!(
            below_i32, 3,
            "i64::MIN, -2^31 - 1 and -2^32 are below i32::MIN"
        );

        let swapped = Integers {
            id: 1,
            small: i16::MAX,
            int: i32::MAX,
            big: i64::MAX,
        };
        swapped.update(&db).await?;
        assert_eq!(
            Integers::get(&db, 1).await?,
            swapped,
            "update writes the maximums"
        );
        let updated = Integers::update_many()
            .set(Integers::SMALL, i16::MIN)
            .set(Integers::INT, i32::MIN)
            .set(Integers::BIG, i64::MIN)
            .filter(Integers::ID.eq(2))
            .exec(&db)
            .await?;
        assert_eq!(updated, 1, "update_many matches one row");
        let minimums = Integers {
            id: 2,
            small: i16::MIN,
            int: i32::MIN,
            big: i64::MIN,
        };
        assert_eq!(
            Integers::get(&db, 2).await?,
            minimums,
            "update_many writes the minimums"
        );
        Ok(())
    }

    async fn integer_out_of_range_fails(db) {
        Integers::create_table(&db).await?;
        // 2^40 does not fit the INT column. PostgreSQL and MySQL in strict mode reject it,
        // and SQLite stores it, so reading it into an i32 field must fail instead of
        // wrapping.
        let insert = covet::raw(if is_postgres(&db) {
            "INSERT INTO integers (id, small, int, big) VALUES ($1, $2, $3, $4)"
        } else {
            "INSERT INTO integers (id, small, int, big) VALUES (?, ?, ?, ?)"
        })
        .bind(1_i32)
        .bind(0_i16)
        .bind(1_i64 << 40)
        .bind(0_i64)
        .execute(&db)
        .await;

        match insert {
            Ok(_) => {
                let error = Integers::get(&db, 1).await.unwrap_err();
                assert_eq!(
                    error.kind(),
                    ErrorKind::Decode,
                    "2^40 read into an i32: {error}"
                );
                assert_eq!(decode_column(&error), "int", "the error names the column");
            }
            Err(error) => {
                // The database rejected the value, so it must have stored nothing.
                assert_ne!(
                    db.backend().system_name(),
                    "sqlite",
                    "SQLite accepts any integer in an INTEGER column: {error}"
                );
                assert!(
                    error.as_database().is_some(),
                    "the database rejects 2^40: {error:?}"
                );
                assert_eq!(Integers::query().count(&db).await?, 0, "no row was stored");
            }
        }
        Ok(())
    }

    async fn unsigned_within_i64_round_trip(db) {
        Counter::create_table(&db).await?;
        let values = [0, 1, 1 << 32, i64::MAX.unsigned_abs()];
        for (id, value) in (1..).zip(values) {
            let row = Counter { id, value };
            assert_eq!(row.insert(&db).await?, row, "insert returns {value}");
            assert_eq!(
                Counter::get(&db, id).await?,
                row,
                "{value} reads back unchanged"
            );
            let matched = Counter::query()
                .filter(Counter::VALUE.eq(value))
                .count(&db)
                .await?;
            assert_eq!(matched, 1, "filter value = {value}");
        }
        let updated = Counter::update_many()
            .set(Counter::VALUE, i64::MAX.unsigned_abs())
            .filter(Counter::ID.eq(1))
            .exec(&db)
            .await?;
        assert_eq!(updated, 1, "update_many matches one row");
        let stored = Counter::get(&db, 1).await?;
        assert_eq!(
            stored.value,
            i64::MAX.unsigned_abs(),
            "update writes i64::MAX as u64"
        );
        Ok(())
    }

    async fn unsigned_above_i64_max(db) {
        Counter::create_table(&db).await?;
        let baseline = Counter { id: 1, value: 7 };
        baseline.insert(&db).await?;
        let above = [i64::MAX.unsigned_abs() + 1, u64::MAX];
        if is_mysql(&db) {
            // BIGINT UNSIGNED stores the whole u64 range.
            for (id, value) in (2..).zip(above) {
                let row = Counter { id, value };
                assert_eq!(row.insert(&db).await?, row, "insert returns {value}");
                assert_eq!(
                    Counter::get(&db, id).await?,
                    row,
                    "{value} reads back unchanged"
                );
                let matched = Counter::query()
                    .filter(Counter::VALUE.eq(value))
                    .count(&db)
                    .await?;
                assert_eq!(matched, 1, "filter value = {value}");
            }
            let mut row = Counter::get(&db, 1).await?;
            row.value = u64::MAX;
            row.update(&db).await?;
            assert_eq!(
                Counter::get(&db, 1).await?.value,
                u64::MAX,
                "update writes u64::MAX"
            );
            return Ok(());
        }
        for value in above {
            let error = Counter { id: 2, value }.insert(&db).await.unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidInput,
                "insert of {value}: {error}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&value.to_string()),
                "the message names the value: {message}"
            );
            assert!(
                message.contains("u64"),
                "the message names the type: {message}"
            );

            let error = Counter::query()
                .filter(Counter::VALUE.eq(value))
                .all(&db)
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidInput,
                "filter on {value}: {error}"
            );

            let error = Counter::update_many()
                .set(Counter::VALUE, value)
                .exec(&db)
                .await
                .unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidInput,
                "update_many to {value}: {error}"
            );

            let error = Counter { id: 1, value }.update(&db).await.unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidInput,
                "update to {value}: {error}"
            );

            let rows = [Counter { id: 3, value: 1 }, Counter { id: 4, value }];
            let error = Counter::insert_many(&db, &rows).await.unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::InvalidInput,
                "insert_many with {value}: {error}"
            );
        }
        let stored = Counter::query().all(&db).await?;
        assert_eq!(
            stored,
            vec![baseline],
            "rejected writes leave the table unchanged"
        );
        Ok(())
    }

    async fn bool_and_floats_round_trip(db) {
        Measurement::create_table(&db).await?;
        let singles = [
            f32::MIN,
            f32::MAX,
            f32::MIN_POSITIVE,
            f32::EPSILON,
            0.0,
            -1.5,
            0.1,
        ];
        let doubles = [
            f64::MIN,
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            0.0,
            -1.5,
            0.1,
        ];
        let rows: Vec<Measurement> = (1..)
            .zip(singles.into_iter().zip(doubles))
            .map(|(id, (single, double))| Measurement {
                id,
                flag: id % 2 == 0,
                single,
                double,
            })
            .collect();
        for row in &rows {
            assert_eq!(
                &row.insert(&db).await?,
                row,
                "insert returns row {} unchanged",
                row.id
            );
            let fetched = Measurement::get(&db, row.id).await?;
            assert_eq!(fetched.flag, row.flag, "bool of row {}", row.id);
            assert_eq!(
                fetched.single.to_bits(),
                row.single.to_bits(),
                "f32 {:e} reads back bit for bit",
                row.single
            );
            assert_eq!(
                fetched.double.to_bits(),
                row.double.to_bits(),
                "f64 {:e} reads back bit for bit",
                row.double
            );
        }
        let flagged = Measurement::query()
            .filter(Measurement::FLAG.eq(true))
            .count(&db)
            .await?;
        assert_eq!(flagged, 3, "filter flag = true");
        let unflagged = Measurement::query()
            .filter(Measurement::FLAG.eq(false))
            .count(&db)
            .await?;
        assert_eq!(unflagged, 4, "filter flag = false");
        let tenth = Measurement::query()
            .filter(Measurement::DOUBLE.eq(0.1))
            .all(&db)
            .await?;
        assert_eq!(tenth.len(), 1, "filter double = 0.1 matches exactly");
        let single_tenth = Measurement::query()
            .filter(Measurement::SINGLE.eq(0.1_f32))
            .count(&db)
            .await?;
        assert_eq!(single_tenth, 1, "filter single = 0.1f32 matches exactly");
        let largest = Measurement::query()
            .order_by_desc(Measurement::DOUBLE)
            .one(&db)
            .await?;
        assert_eq!(largest.double, f64::MAX, "f64::MAX sorts last");

        let mut row = rows[0].clone();
        row.flag = !row.flag;
        row.single = f32::MAX;
        row.double = f64::MIN_POSITIVE;
        row.update(&db).await?;
        let fetched = Measurement::get(&db, row.id).await?;
        assert_eq!(fetched, row, "update writes bool and float edges");
        Ok(())
    }

    async fn float_specials_never_change(db) {
        Measurement::create_table(&db).await?;
        // Backends differ. PostgreSQL stores NaN and both infinities, SQLite stores the
        // infinities but binds NaN as NULL, and MariaDB rejects all three as out of range.
        // Each value must either come back as written or fail with an error.
        let specials = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY];
        for (id, double) in (1..).zip(specials) {
            let row = Measurement {
                id,
                flag: true,
                single: 1.0,
                double,
            };
            match row.insert(&db).await {
                Ok(stored) => {
                    assert_eq!(
                        stored.double.to_bits(),
                        double.to_bits(),
                        "insert returns {double}"
                    );
                    let fetched = Measurement::get(&db, id).await?;
                    assert_eq!(
                        fetched.double.to_bits(),
                        double.to_bits(),
                        "{double} reads back"
                    );
                }
                Err(error) => {
                    let stored = Measurement::find(&db, id).await?;
                    assert_eq!(stored, None, "a rejected {double} stores no row: {error}");
                }
            }
        }

        // A nullable column has no NOT NULL constraint to catch a NaN that became NULL.
        NullableRow::create_table(&db).await?;
        let row = NullableRow {
            single: Some(f32::NAN),
            double: Some(f64::NAN),
            ..filled_row(1)
        };
        match row.insert(&db).await {
            Ok(_) => {
                let fetched = NullableRow::get(&db, 1).await?;
                assert!(
                    fetched.single.is_some_and(f32::is_nan),
                    "f32 NaN reads back as NaN, not {:?}",
                    fetched.single
                );
                assert!(
                    fetched.double.is_some_and(f64::is_nan),
                    "f64 NaN reads back as NaN, not {:?}",
                    fetched.double
                );
            }
            Err(error) => {
                let count = NullableRow::query().count(&db).await?;
                assert_eq!(count, 0, "a rejected NaN stores no row: {error}");
            }
        }
        Ok(())
    }

    async fn text_and_bytes_round_trip(db) {
        TextRow::create_table(&db).await?;
        let every_byte: Vec<u8> = (0..=255).collect();
        // Above 64 KiB, the limit of MySQL's TEXT and BLOB types.
        let long_text = "long text ".repeat(10_000);
        let long_bytes: Vec<u8> = (0..=255).cycle().take(200_000).collect();
        let rows = [
            TextRow {
                data: every_byte.clone(),
                maybe_data: Some(every_byte.clone()),
                ..text_row(1, "plain")
            },
            TextRow {
                data: Vec::new(),
                maybe_data: Some(Vec::new()),
                ..text_row(2, "")
            },
            TextRow {
                data: long_bytes.clone(),
                note: Some(long_text.clone()),
                ..text_row(3, &long_text)
            },
            TextRow {
                data: vec![0],
                ..text_row(4, "  leading and trailing spaces  ")
            },
            TextRow {
                data: vec![255, 0, 255],
                ..text_row(5, "line\nbreak\ttab\r\nend")
            },
        ];
        for row in &rows {
            assert_eq!(
                &row.insert(&db).await?,
                row,
                "insert returns row {} unchanged",
                row.id
            );
            assert_eq!(
                &TextRow::get(&db, row.id).await?,
                row,
                "row {} reads back unchanged",
                row.id
            );
        }
        let fetched = TextRow::get(&db, 1).await?;
        assert_eq!(
            fetched.data, every_byte,
            "every byte value 0..=255 survives in order"
        );
        assert_eq!(
            fetched.maybe_data.as_deref(),
            Some(every_byte.as_slice()),
            "optional bytes too"
        );
        let long = TextRow::get(&db, 3).await?;
        assert_eq!(
            long.text.len(),
            long_text.len(),
            "long text keeps its length"
        );
        assert_eq!(
            long.data.len(),
            long_bytes.len(),
            "long bytes keep their length"
        );

        let by_bytes = TextRow::query()
            .filter(TextRow::DATA.eq(every_byte.clone()))
            .all(&db)
            .await?;
        assert_eq!(
            by_bytes.len(),
            1,
            "filter on bytes matches the row with every byte"
        );
        assert_eq!(by_bytes[0].id, 1, "filter on bytes finds row 1");
        let spaced = TextRow::query()
            .filter(TextRow::TEXT.eq("  leading and trailing spaces  "))
            .count(&db)
            .await?;
        assert_eq!(spaced, 1, "filter on text with spaces at both ends");

        let mut row = rows[1].clone();
        row.text = String::from("updated");
        row.data = every_byte.iter().rev().copied().collect();
        row.update(&db).await?;
        assert_eq!(
            TextRow::get(&db, 2).await?,
            row,
            "update writes text and bytes"
        );
        Ok(())
    }

    async fn empty_string_differs_from_null(db) {
        TextRow::create_table(&db).await?;
        let empty = TextRow {
            note: Some(String::new()),
            maybe_data: Some(Vec::new()),
            ..text_row(1, "")
        };
        let null = TextRow {
            note: None,
            maybe_data: None,
            ..text_row(2, "")
        };
        empty.insert(&db).await?;
        null.insert(&db).await?;
        let fetched_empty = TextRow::get(&db, 1).await?;
        assert_eq!(
            fetched_empty.note,
            Some(String::new()),
            "an empty string stays Some(\"\")"
        );
        assert_eq!(
            fetched_empty.maybe_data,
            Some(Vec::new()),
            "empty bytes stay Some(vec![])"
        );
        let fetched_null = TextRow::get(&db, 2).await?;
        assert_eq!(fetched_null.note, None, "NULL text stays None");
        assert_eq!(fetched_null.maybe_data, None, "NULL bytes stay None");

        let by_empty = TextRow::query()
            .filter(TextRow::NOTE.eq(""))
            .all(&db)
            .await?;
        assert_eq!(
            by_empty,
            vec![empty.clone()],
            "note = '' matches only the empty string"
        );
        let by_null = TextRow::query()
            .filter(TextRow::NOTE.is_null())
            .all(&db)
            .await?;
        assert_eq!(
            by_null,
            vec![null.clone()],
            "note IS NULL matches only NULL"
        );
        let by_none = TextRow::query()
            .filter(TextRow::NOTE.eq(None))
            .all(&db)
            .await?;
        assert_eq!(by_none, vec![null.clone()], "note = None matches only NULL");

        let cleared = TextRow::update_many()
            .set(TextRow::NOTE, None::<String>)
            .filter(TextRow::ID.eq(1))
            .exec(&db)
            .await?;
        assert_eq!(cleared, 1, "update_many to NULL matches one row");
        assert_eq!(
            TextRow::get(&db, 1).await?.note,
            None,
            "update writes NULL, not ''"
        );
        let emptied = TextRow::update_many()
            .set(TextRow::NOTE, "")
            .filter(TextRow::ID.eq(2))
            .exec(&db)
            .await?;
        assert_eq!(emptied, 1, "update_many to '' matches one row");
        assert_eq!(
            TextRow::get(&db, 2).await?.note,
            Some(String::new()),
            "update writes '', not NULL"
        );
        Ok(())
    }

    async fn unicode_text_round_trip(db) {
        TextRow::create_table(&db).await?;
        let samples = [
            "emoji 😀🎉 with skin tone 👍🏽",
            "family joined by ZWJ 👨‍👩‍👧‍👦 and flag 🇳🇴",
            "precomposed \u{e9}",
            "combining e\u{301} and a\u{308}\u{301}\u{323}",
            "Hangul 한국어, Cyrillic Ж, Greek Ω, Arabic مرحبا, Hebrew שלום",
            "outside the BMP 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎",
            "zero width\u{200b}space, BOM \u{feff}, replacement \u{fffd}, last \u{10ffff}",
        ];
        for (id, sample) in (1..).zip(samples) {
            let row = TextRow {
                note: Some(sample.to_owned()),
                ..text_row(id, sample)
            };
            row.insert(&db).await?;
            let fetched = TextRow::get(&db, id).await?;
            assert_eq!(
                fetched.text.as_bytes(),
                sample.as_bytes(),
                "{sample:?} reads back byte for byte"
            );
            assert_eq!(
                fetched.note.as_deref(),
                Some(sample),
                "{sample:?} in a nullable column"
            );
            let matched = TextRow::query()
                .filter(TextRow::TEXT.eq(sample))
                .all(&db)
                .await?;
            let ids: Vec<i32> = matched.iter().map(|row| row.id).collect();
            assert_eq!(ids, [id], "filter text = {sample:?}");
        }
        let precomposed = TextRow::get(&db, 3).await?;
        assert_eq!(
            precomposed.text.chars().last(),
            Some('\u{e9}'),
            "é stays one code point"
        );
        let combining = TextRow::get(&db, 4).await?;
        assert!(
            combining.text.contains("e\u{301}"),
            "e + U+0301 is not normalized: {:?}",
            combining.text
        );
        Ok(())
    }

    async fn date_and_time_round_trip(db) {
        Moment::create_table(&db).await?;
        // Within MySQL's DATETIME range, 1000-01-01 to 9999-12-31.
        let times = [
            naive((2024, 2, 29), (23, 59, 59), 123_456),
            naive((1970, 1, 1), (0, 0, 0), 0),
            naive((1000, 1, 1), (0, 0, 0), 1),
            naive((9999, 12, 31), (23, 59, 59), 999_999),
            naive((2038, 1, 19), (3, 14, 8), 500_000),
        ];
        let days = [
            day(2024, 2, 29),
            day(1970, 1, 1),
            day(1000, 1, 1),
            day(9999, 12, 31),
            day(2038, 1, 19),
        ];
        let mut rows = Vec::new();
        for (id, (time, date)) in (1..).zip(times.into_iter().zip(days)) {
            let row = Moment {
                id,
                at: time.and_utc(),
                local: time,
                day: date,
                maybe_at: (id % 2 == 1).then(|| time.and_utc()),
            };
            assert_eq!(
                row.insert(&db).await?,
                row,
                "insert returns {time} unchanged"
            );
            let fetched = Moment::get(&db, id).await?;
            assert_eq!(
                fetched.at, row.at,
                "DateTime<Utc> {} keeps its microseconds",
                row.at
            );
            assert_eq!(
                fetched.local, row.local,
                "NaiveDateTime {} keeps its microseconds",
                row.local
            );
            assert_eq!(fetched.day, row.day, "NaiveDate {}", row.day);
            assert_eq!(
                fetched.maybe_at, row.maybe_at,
                "Option<DateTime<Utc>> of row {id}"
            );
            rows.push(row);
        }
        for row in &rows {
            let by_at = Moment::query()
                .filter(Moment::AT.eq(row.at))
                .count(&db)
                .await?;
            assert_eq!(by_at, 1, "filter at = {}", row.at);
            let by_local = Moment::query()
                .filter(Moment::LOCAL.eq(row.local))
                .count(&db)
                .await?;
            assert_eq!(by_local, 1, "filter local = {}", row.local);
            let by_day = Moment::query()
                .filter(Moment::DAY.eq(row.day))
                .count(&db)
                .await?;
            assert_eq!(by_day, 1, "filter day = {}", row.day);
        }
        let sorted = Moment::query().order_by_asc(Moment::AT).all(&db).await?;
        let sorted_ids: Vec<i32> = sorted.iter().map(|row| row.id).collect();
        assert_eq!(sorted_ids, [3, 2, 1, 5, 4], "rows sort by time");
        let one_microsecond = naive((1000, 1, 1), (0, 0, 0), 0).and_utc();
        let after = Moment::query()
            .filter(Moment::AT.gt(one_microsecond))
            .count(&db)
            .await?;
        assert_eq!(after, 5, "1000-01-01 00:00:00.000001 is after 00:00:00");

        let mut row = rows[0].clone();
        row.at = naive((2000, 1, 1), (12, 0, 0), 654_321).and_utc();
        row.local = naive((2000, 1, 1), (12, 0, 0), 654_321);
        row.day = day(2000, 1, 1);
        row.maybe_at = None;
        row.update(&db).await?;
        assert_eq!(
            Moment::get(&db, row.id).await?,
            row,
            "update writes dates and times"
        );
        Ok(())
    }

    async fn far_optional_datetime_not_null(db) {
        Moment::create_table(&db).await?;
        let now = naive((2024, 2, 29), (12, 0, 0), 0);
        // Outside the range of a MySQL TIMESTAMP (1970-01-01 00:00:01 to 2038-01-19
        // 03:14:07 UTC) but inside that of the DATETIME(6) column.
        let far = [
            naive((1000, 1, 1), (0, 0, 0), 0),
            naive((1969, 12, 31), (23, 59, 59), 0),
            naive((2038, 1, 19), (3, 14, 8), 0),
            naive((9999, 12, 31), (23, 59, 59), 999_999),
        ];
        for (id, time) in (1..).zip(far) {
            let row = Moment {
                id,
                at: now.and_utc(),
                local: now,
                day: now.date(),
                maybe_at: Some(time.and_utc()),
            };
            let stored = row.insert(&db).await?;
            assert_eq!(
                stored.maybe_at, row.maybe_at,
                "insert returns {time} UTC, not NULL"
            );
            let fetched = Moment::get(&db, id).await?;
            assert_eq!(
                fetched.maybe_at, row.maybe_at,
                "{time} UTC reads back, not NULL"
            );
            let matched = Moment::query()
                .filter(Moment::MAYBE_AT.eq(time.and_utc()))
                .count(&db)
                .await?;
            assert_eq!(matched, 1, "filter maybe_at = {time} UTC");
        }
        let null = Moment::query()
            .filter(Moment::MAYBE_AT.is_null())
            .count(&db)
            .await?;
        assert_eq!(null, 0, "no far date was stored as NULL");
        Ok(())
    }

    async fn uuid_round_trip(db) {
        Identifier::create_table(&db).await?;
        let rows = [
            Identifier {
                id: Uuid::nil(),
                other: Some(Uuid::from_u128(u128::MAX)),
            },
            Identifier {
                id: Uuid::from_u128(u128::MAX),
                other: None,
            },
            Identifier {
                id: Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef),
                other: Some(Uuid::nil()),
            },
        ];
        for row in &rows {
            assert_eq!(
                &row.insert(&db).await?,
                row,
                "insert returns {} unchanged",
                row.id
            );
            assert_eq!(
                &Identifier::get(&db, row.id).await?,
                row,
                "{} reads back by key",
                row.id
            );
        }
        let by_other = Identifier::query()
            .filter(Identifier::OTHER.eq(Uuid::nil()))
            .all(&db)
            .await?;
        assert_eq!(by_other, vec![rows[2].clone()], "filter other = nil");
        let mut row = rows[1].clone();
        row.other = Some(rows[2].id);
        row.update(&db).await?;
        assert_eq!(
            Identifier::get(&db, row.id).await?,
            row,
            "update writes a UUID"
        );
        Ok(())
    }

    async fn decimal_values_round_trip(db) {
        Amount::create_table(&db).await?;
        let mysql = is_mysql(&db);
        for (id, (text, mysql_scale)) in (1..).zip(DECIMALS) {
            let value = decimal(text);
            let row = Amount {
                id,
                amount: value,
                maybe_amount: Some(value),
            };
            row.insert(&db).await?;
            let fetched = Amount::get(&db, id).await?;
            assert_eq!(fetched.amount, value, "{text} keeps its value");
            assert_eq!(
                fetched.maybe_amount,
                Some(value),
                "{text} keeps its value when optional"
            );
            let expected_scale = if mysql { mysql_scale } else { value.scale() };
            assert_eq!(
                fetched.amount.scale(),
                expected_scale,
                "scale of {text}, read as {}",
                fetched.amount
            );
            let matched = Amount::query()
                .filter(Amount::AMOUNT.eq(value))
                .count(&db)
                .await;
            if db.backend().system_name() == "sqlite" {
                // Decimal comparisons are rejected on SQLite, see the next test.
                assert_eq!(matched.unwrap_err().kind(), ErrorKind::Unsupported);
            } else {
                assert_eq!(matched?, 1, "filter amount = {text}");
            }
        }
        let mut row = Amount::get(&db, 1).await?;
        row.amount = decimal("-21474836.48");
        row.maybe_amount = None;
        row.update(&db).await?;
        let fetched = Amount::get(&db, 1).await?;
        assert_eq!(
            fetched.amount,
            decimal("-21474836.48"),
            "update writes a decimal"
        );
        assert_eq!(fetched.maybe_amount, None, "update writes NULL");
        Ok(())
    }

    async fn decimal_filters_compare_numbers(db) {
        Amount::create_table(&db).await?;
        for (id, text) in (1..).zip(["9", "10", "1.000", "2.5"]) {
            Amount {
                id,
                amount: decimal(text),
                maybe_amount: None,
            }
            .insert(&db)
            .await?;
        }

        if db.backend().system_name() == "sqlite" {
            // SQLite keeps decimals as text, so value comparisons are rejected, not wrong.
            let filters = [
                Amount::AMOUNT.eq(decimal("1")),
                Amount::AMOUNT.gt(decimal("5")),
                Amount::AMOUNT.between(decimal("1"), decimal("3")),
            ];
            for filter in filters {
                let error = Amount::query().filter(filter).count(&db).await.unwrap_err();
                assert_eq!(error.kind(), ErrorKind::Unsupported, "{error}");
            }
            let sort = Amount::query().order_by_asc(Amount::AMOUNT).all(&db).await;
            assert_eq!(sort.unwrap_err().kind(), ErrorKind::Unsupported);
            let null_check = Amount::query()
                .filter(Amount::MAYBE_AMOUNT.is_null())
                .count(&db)
                .await?;
            assert_eq!(null_check, 4, "IS NULL on a decimal column still works");
            return Ok(());
        }
        let equal_to_one = Amount::query()
            .filter(Amount::AMOUNT.eq(decimal("1")))
            .count(&db)
            .await?;
        assert_eq!(equal_to_one, 1, "amount = 1 matches 1.000");
        let above_five = Amount::query()
            .filter(Amount::AMOUNT.gt(decimal("5")))
            .count(&db)
            .await?;
        assert_eq!(above_five, 2, "9 and 10 are above 5");
        let below_three = Amount::query()
            .filter(Amount::AMOUNT.lt(decimal("3")))
            .count(&db)
            .await?;
        assert_eq!(below_three, 2, "1.000 and 2.5 are below 3");

        let sorted = Amount::query()
            .order_by_asc(Amount::AMOUNT)
            .all(&db)
            .await?;
        let sorted_ids: Vec<i32> = sorted.iter().map(|row| row.id).collect();
        assert_eq!(sorted_ids, [3, 4, 1, 2], "1.000 < 2.5 < 9 < 10");
        Ok(())
    }

    async fn decimal_overflow_is_decode_error(db) {
        Amount::create_table(&db).await?;
        // 10^35 fits NUMERIC, TEXT and DECIMAL(65, 28) but not Decimal, whose maximum is
        // about 7.9 * 10^28.
        let too_large = format!("1{}", "0".repeat(35));
        let sql = if is_postgres(&db) {
            "INSERT INTO amounts (id, amount) VALUES ($1, CAST($2 AS NUMERIC))"
        } else {
            "INSERT INTO amounts (id, amount) VALUES (?, ?)"
        };
        covet::raw(sql)
            .bind(1_i32)
            .bind(too_large.clone())
            .execute(&db)
            .await?;

        let error = Amount::get(&db, 1).await.unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Decode, "reading 10^35: {error}");
        assert_eq!(
            decode_column(&error),
            "amount",
            "the error names the column"
        );
        let message = error.to_string();
        assert!(
            message.contains("amount"),
            "the message names the column: {message}"
        );
        assert!(
            message.contains("rust_decimal::Decimal"),
            "the message says the value does not fit Decimal: {message}"
        );

        let error = Amount::query().all(&db).await.unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::Decode,
            "a query over the row fails the same way"
        );
        let count = Amount::query().count(&db).await?;
        assert_eq!(
            count, 1,
            "the connection still works after the decode error"
        );
        Ok(())
    }

    async fn json_values_round_trip(db) {
        Document::create_table(&db).await?;
        let bodies = [
            json!({"nested": {"list": [1, 2.5, "three", null, true], "empty": {}}}),
            json!([]),
            json!({}),
            json!(null),
            json!("quotes \" and ' and backslash \\ and emoji 😀"),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(0.1),
            json!(false),
            json!({"a": null}),
        ];
        for (id, body) in (1..).zip(bodies) {
            let row = document(id, body.clone(), Some(body.clone()));
            assert_eq!(
                row.insert(&db).await?,
                row,
                "insert returns {body} unchanged"
            );
            let fetched = Document::get(&db, id).await?;
            assert_eq!(fetched.body, body, "{body} reads back");
            assert_eq!(
                fetched.extra,
                Some(body.clone()),
                "{body} reads back when optional"
            );
        }
        let mut row = Document::get(&db, 1).await?;
        row.body = json!({"replaced": ["by", "update"]});
        row.update(&db).await?;
        assert_eq!(
            Document::get(&db, 1).await?.body,
            row.body,
            "update writes JSON"
        );
        Ok(())
    }

    async fn json_null_kinds_stay_distinct(db) {
        Document::create_table(&db).await?;
        let kinds = [
            None,
            Some(json!(null)),
            Some(json!({"a": null})),
            Some(json!([])),
        ];
        for (id, extra) in (1..).zip(kinds.clone()) {
            document(id, json!(1), extra).insert(&db).await?;
        }
        for (id, extra) in (1..).zip(kinds) {
            let fetched = Document::get(&db, id).await?;
            assert_eq!(fetched.extra, extra, "row {id} keeps its kind of null");
        }
        let sql_null = Document::query()
            .filter(Document::EXTRA.is_null())
            .all(&db)
            .await?;
        let sql_null_ids: Vec<i32> = sql_null.iter().map(|row| row.id).collect();
        assert_eq!(sql_null_ids, [1], "only SQL NULL is IS NULL, not JSON null");
        let not_null = Document::query()
            .filter(Document::EXTRA.is_not_null())
            .count(&db)
            .await?;
        assert_eq!(
            not_null, 3,
            "JSON null, {{\"a\": null}} and [] are not SQL NULL"
        );

        let mut row = Document::get(&db, 2).await?;
        row.extra = None;
        row.update(&db).await?;
        assert_eq!(
            Document::get(&db, 2).await?.extra,
            None,
            "update from JSON null to SQL NULL"
        );
        row.extra = Some(json!(null));
        row.update(&db).await?;
        assert_eq!(
            Document::get(&db, 2).await?.extra,
            Some(json!(null)),
            "update from SQL NULL to JSON null"
        );
        Ok(())
    }

    async fn json_struct_round_trip(db) {
        Document::create_table(&db).await?;
        let mut full = document(1, json!({}), None);
        full.preferences = Preferences {
            theme: String::from("'; DROP TABLE documents; --"),
            font_size: u16::MAX,
            tags: Vec::new(),
            limit: Some(i64::MIN),
        };
        full.previous = Some(preferences("light"));
        let empty = document(2, json!({}), None);
        for row in [&full, &empty] {
            assert_eq!(
                &row.insert(&db).await?,
                row,
                "insert returns row {} unchanged",
                row.id
            );
            assert_eq!(
                &Document::get(&db, row.id).await?,
                row,
                "row {} reads back unchanged",
                row.id
            );
        }
        let fetched = Document::get(&db, 2).await?;
        assert_eq!(fetched.previous, None, "Option<struct> None stays None");

        let mut row = fetched;
        row.previous = Some(preferences("updated"));
        row.update(&db).await?;
        assert_eq!(
            Document::get(&db, 2).await?.previous,
            row.previous,
            "update writes Some(struct)"
        );
        row.previous = None;
        row.update(&db).await?;
        assert_eq!(
            Document::get(&db, 2).await?.previous,
            None,
            "update writes None"
        );

        let error = MismatchedDocument::get(&db, 1).await.unwrap_err();
        assert_eq!(
            error.kind(),
            ErrorKind::Decode,
            "an object read as Vec<String>: {error}"
        );
        assert_eq!(
            decode_column(&error),
            "preferences",
            "the error names the column"
        );
        Ok(())
    }

    async fn null_into_required_field_fails(db) {
        NullableRow::create_table(&db).await?;
        let columns: Vec<&str> = NullableRow::COLUMNS
            .iter()
            .map(|column| column.name)
            .skip(1)
            .collect();
        for (id, column) in (1..).zip(columns.iter().copied()) {
            let mut row = filled_row(id);
            let was_null = clear_column(&mut row, column);
            assert!(!was_null, "{column} starts set");
            row.insert(&db).await?;

            let error = RequiredRow::get(&db, id).await.unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::Decode,
                "NULL in {column} read into a required field: {error}"
            );
            assert_eq!(
                decode_column(&error),
                column,
                "the error names the NULL column"
            );
            let message = error.to_string();
            assert!(
                message.contains("NULL"),
                "the message says the value is NULL: {message}"
            );
        }
        // These reads decode every column, the decimal one included, so they run after the
        // checks above.
        for (id, column) in (1..).zip(columns.iter().copied()) {
            let mut stored = NullableRow::get(&db, id).await?;
            assert!(
                clear_column(&mut stored, column),
                "{column} reads back as None, not a default"
            );
        }
        filled_row(0).insert(&db).await?;
        let required = RequiredRow::get(&db, 0).await?;
        assert_eq!(
            required.text, "",
            "a row without NULL reads into required fields"
        );
        Ok(())
    }
}
