use covet::Model;

#[derive(Model)]
#[covet(table = "")]
struct Person {
    #[covet(primary_key, rename = "")]
    id: i64,
}

fn main() {}
