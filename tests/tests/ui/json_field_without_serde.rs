use covet::Model;

struct Address {
    street: String,
}

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    #[covet(json)]
    address: Address,
    #[covet(json)]
    previous_address: Option<Address>,
}

fn main() {}
