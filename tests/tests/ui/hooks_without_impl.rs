use covet::Model;

#[derive(Model, Clone)]
#[covet(table = "notes", hooks)]
struct Note {
    #[covet(primary_key)]
    id: i64,
}

fn main() {}
