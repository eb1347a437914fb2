//! Derive macros for covet. Use them through the `covet` crate: `use covet::Model;`.

mod attr;
mod behaviour;
mod embed;
mod from_row;
mod model;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Implements `covet::Model` for a struct with named fields, and adds a typed column
/// constant per field (`User::EMAIL` for the field `email`).
///
/// # Struct attribute
///
/// | attribute | meaning | default |
/// |---|---|---|
/// | `#[covet(table = "users")]` | the table name | the struct name in snake_case (`BlogPost` is `blog_post`) |
/// | `#[covet(hooks)]` | you implement `covet::Hooks` for the model, and single-row writes run them in a transaction. The model must implement `Clone` | no hooks: the derive implements `Hooks` with no-ops and writes open no transaction |
/// | `#[covet(belongs_to(User))]` | adds `fn user() -> Relation<Self, User, One>`: this model's `user_id` field contains a `User` key | `foreign_key = "author_id"`, `name = "author"` override the field and the method |
/// | `#[covet(has_one(Profile))]` | adds `fn profile() -> Relation<Self, Profile, One>`: `Profile`'s `{self}_id` field holds this model's key | `foreign_key`, `name` as above |
/// | `#[covet(has_many(Post))]` | adds `fn posts() -> Relation<Self, Post, Many>`, with the key found as for `has_one` | `foreign_key`, `name` as above |
/// | `#[covet(many_to_many(Tag, through = PostTag))]` | adds `fn tags() -> Relation<Self, Tag, Many>`: rows of the join model `PostTag` pair `{self}_id` with `tag_id` | `from = "post_id"`, `to = "tag_id"`, `name` |
///
/// A method is named after the related model in snake_case, with an `s` appended for
/// lists (`has_many(Category)` gives `categorys`); name irregular plurals with `name`.
/// Relation keys refer to the single-column primary key of the model on the other side
/// (see `covet::SingleKey`), and both ends must have the same key type, `Option` aside. A
/// misspelled or missing foreign key field is a compile error at the attribute. Two
/// relations to the same model trip clippy's `duplicated_attributes` lint, a known false
/// positive; allow it on the struct.
///
/// # Field attributes
///
/// | attribute | meaning |
/// |---|---|
/// | `#[covet(primary_key)]` | part of the primary key; mark several fields for a composite key |
/// | `#[covet(auto_increment)]` | the database numbers new rows; needs `primary_key` and an integer type. An insert leaves the column out when the value is 0 (or `None`) and returns the generated key |
/// | `#[covet(generated)]` | the database fills the value (a default or trigger) when the field is unset, 0 for integers or `None` for options |
/// | `#[covet(unique)]` | `create_table` adds a unique constraint named `uq_{table}_{column}` |
/// | `#[covet(rename = "name")]` | the column name; the field name by default |
/// | `#[covet(json)]` | store any serde type as JSON; `Option<T>` makes SQL NULL `None` |
/// | `#[covet(column_type = "VARCHAR(40)")]` | the column type `create_table` writes, on every backend |
/// | `#[covet(skip)]` | not a column; filled with `Default::default()` when read |
/// | `#[covet(version)]` | optimistic locking: an `i32` or `i64` column that `update`, `save` and `delete` match and that updates bump by one. A stale row fails with `Error::Conflict`. `insert` stores the field's value as the first version. At most one per model, not part of the key |
/// | `#[covet(soft_delete)]` | an `Option<DateTime<Utc>>` or `Option<NaiveDateTime>` column that deletes set to the current time instead of removing the row. Reads leave such rows out unless `with_deleted()` or `only_deleted()` is called. At most one per model, not part of the key |
///
/// A field without `json` must implement `covet::Field`: `bool`, `i16`, `i32`, `i64`, `u64`,
/// `f32`, `f64`, `String`, `Vec<u8>`, `chrono::DateTime<Utc>`, `chrono::NaiveDateTime`,
/// `chrono::NaiveDate`, `uuid::Uuid`, `rust_decimal::Decimal`, `serde_json::Value`, or an
/// `Option` of one of them.
///
/// The `version` and `soft_delete` checks read the type as written, so a type alias of
/// `i64` or of `Option<DateTime<Utc>>` is rejected; write the type itself.
#[proc_macro_derive(Model, attributes(covet))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Implements `covet::query::FromRow` for a struct with named fields, so that a query's
/// selected columns and aggregates are read into it, in field order:
///
/// ```ignore
/// #[derive(FromRow)]
/// struct PostsPerUser {
///     user_id: i64,
///     posts: i64,
/// }
///
/// let rows: Vec<PostsPerUser> = Post::query()
///     .select_into((Post::USER_ID, count_rows()))
///     .group_by(Post::USER_ID)
///     .all(&db)
///     .await?;
/// ```
///
/// Every field type must implement `covet::Field`. A selection with a different number of
/// items than the struct has fields fails with `Error::InvalidInput` before it runs.
#[proc_macro_derive(FromRow)]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    from_row::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Embeds the migration files of a directory, relative to the crate's `Cargo.toml`, and
/// expands to `covet_migrate::MigrationSet::from_embedded(...)`, a
/// `Result<MigrationSet, MigrateError>`. Use it through `covet_migrate::embed_migrations!`.
///
/// File names that do not fit `VERSION_NAME.up.sql` or `VERSION_NAME.down.sql`, and
/// versions used by two names, are compile errors. An edited file triggers a rebuild; for a
/// new file to do so too, add a build script that prints
/// `cargo:rerun-if-changed=migrations`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    let directory = parse_macro_input!(input as syn::LitStr);
    embed::expand(&directory)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
