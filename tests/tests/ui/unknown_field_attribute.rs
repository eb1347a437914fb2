use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    #[covet(uniq)]
    email: String,
}

fn main() {}
