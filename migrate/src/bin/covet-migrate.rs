//! The `covet-migrate` command: `covet-migrate --help` lists its commands.

use std::io::IsTerminal;

use clap::Parser;
use covet_migrate::cli::{Cli, run};
use tracing_subscriber::EnvFilter;

fn main() {
    // A .env file in the current directory is optional; the environment and
    // --database-url take precedence over it. A file that exists but cannot be read is an
    // error, since ignoring it would hide the URL it holds.
    match dotenvy::from_path(".env") {
        Ok(()) => {}
        Err(error) if error.not_found() => {}
        Err(error) => {
            eprintln!("error: cannot read .env in the current directory: {error}");
            std::process::exit(1);
        }
    }
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_env("COVET_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("covet::migrate=info,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(run(cli, &mut std::io::stdout(), &mut std::io::stderr()));
    std::process::exit(code);
}
