//! Rebuilds the examples when a migration file is added, so `embed_migrations!` embeds it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
