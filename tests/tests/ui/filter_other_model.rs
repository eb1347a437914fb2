use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Pet {
    #[covet(primary_key)]
    id: i64,
}

fn main() {
    let _ = Person::query().filter(Pet::ID.eq(1));
}
