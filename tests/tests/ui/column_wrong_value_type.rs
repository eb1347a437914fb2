use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    age: i32,
}

fn main() {
    let _ = Person::AGE.eq("ten");
}
