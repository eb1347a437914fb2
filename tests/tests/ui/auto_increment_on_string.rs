use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key, auto_increment)]
    id: String,
}

fn main() {}
