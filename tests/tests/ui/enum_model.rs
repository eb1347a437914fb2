use covet::Model;

#[derive(Model)]
enum Person {
    Named { id: i64 },
}

fn main() {}
