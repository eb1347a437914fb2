use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(auto_increment)]
    id: i64,
    #[covet(uniq)]
    email: String,
}

fn main() {}
