//! Examples live beside this crate: run `cargo run --example quickstart`.
