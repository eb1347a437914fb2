use covet::Model;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Address {
    street: String,
    city: String,
}

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    address: Address,
}

fn main() {}
