use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    #[covet(skip, unique)]
    cached_name: String,
    #[covet(skip, column_type = "TEXT")]
    cached_email: String,
}

fn main() {}
