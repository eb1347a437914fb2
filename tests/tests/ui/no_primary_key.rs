use covet::Model;

#[derive(Model)]
struct Person {
    id: i64,
    name: String,
}

fn main() {}
