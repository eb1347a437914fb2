use std::collections::HashMap;

use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    labels: HashMap<String, String>,
}

fn main() {}
