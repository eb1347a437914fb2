use covet::Model;

#[derive(Model)]
struct Text {
    #[covet(primary_key)]
    id: i64,
    #[covet(version)]
    version: String,
}

#[derive(Model)]
struct Optional {
    #[covet(primary_key)]
    id: i64,
    #[covet(version)]
    version: Option<i64>,
}

#[derive(Model)]
struct Unsigned {
    #[covet(primary_key)]
    id: i64,
    #[covet(version)]
    version: u64,
}

fn main() {}
