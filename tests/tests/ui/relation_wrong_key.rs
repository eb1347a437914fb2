use covet::Model;

#[derive(Model)]
#[covet(has_many(Post))]
struct User {
    #[covet(primary_key)]
    id: i64,
}

// The foreign key is text, but users have integer keys.
#[derive(Model)]
#[covet(belongs_to(User))]
struct Post {
    #[covet(primary_key)]
    id: i64,
    user_id: String,
}

// No `account_id` field for the relation to use.
#[derive(Model)]
#[covet(belongs_to(User, name = "owner"), belongs_to(Account))]
struct Comment {
    #[covet(primary_key)]
    id: i64,
    user_id: Option<i64>,
}

#[derive(Model)]
struct Account {
    #[covet(primary_key)]
    id: i64,
}

fn main() {}
