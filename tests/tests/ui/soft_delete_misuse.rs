use chrono::{DateTime, Utc};
use covet::Model;

#[derive(Model)]
struct Twice {
    #[covet(primary_key)]
    id: i64,
    #[covet(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
    #[covet(soft_delete)]
    archived_at: Option<DateTime<Utc>>,
}

#[derive(Model)]
struct InKey {
    #[covet(primary_key)]
    id: i64,
    #[covet(primary_key, soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Model)]
#[covet(soft_delete)]
struct Misplaced {
    #[covet(primary_key)]
    id: i64,
}

fn main() {}
