use covet::{Hooks, Model};

#[derive(Model)]
#[covet(hooks)]
struct Note {
    #[covet(primary_key)]
    id: i64,
}

impl Hooks for Note {}

fn main() {}
