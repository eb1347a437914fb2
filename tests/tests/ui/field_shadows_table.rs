use covet::Model;

#[derive(Model)]
struct Furniture {
    #[covet(primary_key)]
    id: i64,
    table: String,
}

fn main() {}
