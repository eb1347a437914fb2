use covet::Model;

#[derive(Model)]
#[covet(table = "people")]
#[covet(table = "persons")]
struct Person {
    #[covet(primary_key)]
    #[covet(primary_key)]
    id: i64,
    #[covet(rename = "full_name", rename = "name")]
    name: String,
}

fn main() {}
