use covet::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Key {
    region: String,
    number: i64,
}

#[derive(Model)]
struct Person {
    #[covet(primary_key, json)]
    id: Key,
}

fn main() {}
