use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    #[covet(auto_increment)]
    sequence: i64,
}

fn main() {}
