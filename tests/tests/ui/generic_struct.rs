use covet::Model;

#[derive(Model)]
struct Person<T> {
    #[covet(primary_key)]
    id: i64,
    extra: T,
}

fn main() {}
