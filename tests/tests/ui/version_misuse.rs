use covet::Model;

#[derive(Model)]
struct InKey {
    #[covet(primary_key, version)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Twice {
    #[covet(primary_key)]
    id: i64,
    #[covet(version)]
    version: i64,
    #[covet(version)]
    revision: i32,
}

#[derive(Model)]
struct Skipped {
    #[covet(primary_key)]
    id: i64,
    #[covet(skip, version)]
    version: i64,
}

fn main() {}
