use covet::Model;

#[derive(Model)]
#[covet(many_to_many(Tag))]
#[covet(has_many(Post, foreign_key = "user_id", through = Tagging))]
#[covet(belongs_to(foreign_key = "user_id"))]
#[covet(has_one(Profile, Account))]
#[covet(has_many(Post), has_many(Comment, name = "posts"))]
struct User {
    #[covet(primary_key)]
    id: i64,
}

fn main() {}
