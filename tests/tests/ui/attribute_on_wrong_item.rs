use covet::Model;

#[derive(Model)]
#[covet(primary_key)]
struct Person {
    #[covet(primary_key, table = "people")]
    id: i64,
}

fn main() {}
