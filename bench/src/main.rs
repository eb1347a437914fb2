//! Side-by-side benchmarks. `cargo run --release -p covet-bench -- pool [--quick]` measures
//! pool checkout and release for covet-pool, raw deadpool, bb8 and sqlx's own pool, in
//! interleaved rounds, and prints a Markdown table of medians and ratios to sqlx's pool.
//! `cargo run --release -p covet-bench -- stream [--quick]` compares the peak memory of
//! streaming 1,000,000 rows (100,000 with `--quick`) with collecting them, on SQLite and
//! on the PostgreSQL and MariaDB servers named by `COVET_BENCH_POSTGRES_URL` and
//! `COVET_BENCH_MYSQL_URL` (by default the local ones), which are skipped when unreachable.

mod compare;
mod pool;
mod stream;

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
        "stream" => runtime.block_on(stream::run(quick)),
        // The child process of `stream`, which measures one backend and mode.
        "stream-child" => {
            let [_, mode, url] = &arguments[..] else {
                eprintln!("error: usage: covet-bench stream-child stream|collect URL");
                std::process::exit(2);
            };
            if let Err(error) = runtime.block_on(stream::child(mode, url)) {
                eprintln!("error: {error}");
                std::process::exit(1);
            }
        }
        "compare" => runtime.block_on(compare::main(&arguments)),
        other => {
            eprintln!(
                "error: unknown workload `{other}`; the workloads are: pool, stream, compare"
            );
            std::process::exit(2);
        }
    }
}
