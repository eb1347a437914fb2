//! A model that uses every covet attribute and every supported field type compiles, and
//! its typed columns accept values of the field's type.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use covet::Model;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Settings {
    theme: String,
}

#[derive(Model)]
#[covet(table = "accounts")]
struct Account {
    #[covet(primary_key, auto_increment)]
    id: i64,
    #[covet(unique, rename = "email_address", column_type = "VARCHAR(320)")]
    email: String,
    #[covet(generated)]
    created_at: Option<DateTime<Utc>>,
    #[covet(json)]
    settings: Settings,
    #[covet(json)]
    labels: Option<HashMap<String, String>>,
    #[covet(json, generated)]
    defaults: Option<Settings>,
    #[covet(skip)]
    cached_name: String,
    active: bool,
    rank: i16,
    age: i32,
    visits: u64,
    ratio: f32,
    balance: f64,
    avatar: Vec<u8>,
    last_seen: NaiveDateTime,
    birthday: NaiveDate,
    token: Uuid,
    credit: Decimal,
    extra: serde_json::Value,
    nickname: Option<String>,
    r#type: String,
}

#[derive(Model)]
struct Membership {
    #[covet(primary_key)]
    group_id: i32,
    #[covet(primary_key)]
    account_id: i64,
}

fn main() {
    let _ = Account::AGE.eq(30);
    let _ = Account::EMAIL.eq("a@example.com");
    let _ = Account::NICKNAME.eq(None);
    let _ = Account::NICKNAME.eq("annie");
    let _ = Account::TYPE.starts_with("admin");
    let _ = Account::update_many()
        .set(Account::AGE, 31)
        .set(Account::NICKNAME, "ann")
        .filter(Account::ID.eq(1));
    let _: <Membership as Model>::PrimaryKey = (1_i32, 2_i64);
    assert_eq!(Account::TABLE, "accounts");
    assert_eq!(Membership::TABLE, "membership");
    assert_eq!(Account::EMAIL.name(), "email_address");
}
