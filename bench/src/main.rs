//! Side-by-side benchmarks. `cargo run --release -p covet-bench -- pool [--quick]` measures
//! pool checkout and release for covet-pool, raw deadpool, bb8 and sqlx's own pool, in
//! interleaved rounds, and prints a Markdown table of medians and ratios to sqlx's pool.

mod compare;
mod pool;

fn main() {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let quick = arguments.iter().any(|argument| argument == "--quick");
    let workload = arguments
        .iter()
        .find(|argument| !argument.starts_with("--"))
        .map(String::as_str)
        .unwrap_or("pool");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");
    match workload {
        "pool" => runtime.block_on(pool::run(quick)),
        "compare" => runtime.block_on(compare::main(&arguments)),
        other => {
            eprintln!("error: unknown workload `{other}`; the workloads are: pool");
            std::process::exit(2);
        }
    }
}
