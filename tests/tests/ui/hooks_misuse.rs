use covet::Model;

#[derive(Model, Clone)]
#[covet(hooks, hooks)]
struct Twice {
    #[covet(primary_key)]
    id: i64,
}

#[derive(Model, Clone)]
struct OnField {
    #[covet(primary_key, hooks)]
    id: i64,
}

fn main() {}
