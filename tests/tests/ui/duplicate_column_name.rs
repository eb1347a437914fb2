use covet::Model;

#[derive(Model)]
struct Person {
    #[covet(primary_key)]
    id: i64,
    name: String,
    #[covet(rename = "name")]
    nickname: String,
    email: String,
    #[covet(rename = "EMAIL")]
    backup_email: String,
}

fn main() {}
