use chrono::{DateTime, NaiveDate, Utc};
use covet::Model;

#[derive(Model)]
struct NotOptional {
    #[covet(primary_key)]
    id: i64,
    #[covet(soft_delete)]
    deleted_at: DateTime<Utc>,
}

#[derive(Model)]
struct Flag {
    #[covet(primary_key)]
    id: i64,
    #[covet(soft_delete)]
    deleted: Option<bool>,
}

#[derive(Model)]
struct Date {
    #[covet(primary_key)]
    id: i64,
    #[covet(soft_delete)]
    deleted_on: Option<NaiveDate>,
}

fn main() {}
