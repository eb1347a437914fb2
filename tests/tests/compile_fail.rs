//! Compile-time checks of `#[derive(Model)]` and of typed columns, run with trybuild.
//!
//! Each `tests/ui/*.rs` case must fail to compile with exactly the diagnostics in the
//! `.stderr` file beside it. The `tests/ui/pass_*.rs` cases must compile. After a deliberate
//! change to a diagnostic or a new Rust toolchain, regenerate the `.stderr` files with
//! `TRYBUILD=overwrite` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
    // A path matched by two globs takes the expectation of the later one, so the pass
    // cases are taken out of the compile-fail set here.
    cases.pass("tests/ui/pass_*.rs");
}
