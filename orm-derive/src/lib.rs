//! Derive macros for covet. Use them through the `covet` crate: `use covet::Model;`.

mod attr;
mod behaviour;
mod embed;
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
