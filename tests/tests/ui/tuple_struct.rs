use covet::Model;

#[derive(Model)]
struct Person(#[covet(primary_key)] i64, String);

fn main() {}
