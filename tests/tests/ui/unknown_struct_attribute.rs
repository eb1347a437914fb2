use covet::Model;

#[derive(Model)]
#[covet(name = "people")]
struct Person {
    #[covet(primary_key)]
    id: i64,
}

fn main() {}
