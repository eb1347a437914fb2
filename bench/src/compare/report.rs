//! The Markdown report: the run's command, machine and library versions, one table per
//! backend, covet's ratios next to their targets, and the pgbench reference.

use std::fmt::Write as _;
use std::process::Command;
use std::time::Duration;

use super::fixture::Backend;
use super::{Cell, Results, Workload};

/// The lock file, read at build time for the library versions.
const LOCK: &str = include_str!("../../../Cargo.lock");

/// Formats a count with thousands separators: 10000 as "10,000".
pub(crate) fn count(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn locked_version(package: &str) -> String {
    let marker = format!("name = \"{package}\"\nversion = \"");
    LOCK.find(&marker)
        .and_then(|start| {
            let rest = &LOCK[start + marker.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| "not in Cargo.lock".to_owned())
}

fn command_output(program: &str, arguments: &[&str]) -> Option<String> {
    let output = Command::new(program).args(arguments).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, model)| model.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<u64>().ok())
        .map_or("unknown memory".to_owned(), |kib| {
            format!("{} GiB", (kib + 512 * 1024) / (1024 * 1024))
        });
    format!("{cores} cores ({cpu}), {memory}")
}

/// Formats the report's opening: the command, date, machine and library versions.
pub(crate) fn header(quick: bool, arguments: &[String]) -> String {
    let mut out = String::new();
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"])
        .unwrap_or_else(|| "unknown date".to_owned());
    let rustc = command_output("rustc", &["--version"]).unwrap_or_else(|| "rustc".to_owned());
    let peers = if cfg!(feature = "peers") {
        "--features peers "
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "## covet side by side with raw sqlx, SeaORM and Diesel\n"
    );
    let _ = writeln!(
        out,
        "Command: `cargo run --release -p covet-bench {peers}-- {}`{}.",
        arguments.join(" "),
        if quick { " (quick mode)" } else { "" }
    );
    let _ = writeln!(
        out,
        "Run on {date}, on {}, {rustc}, while other builds may run on the same machine.",
        machine()
    );
    let _ = writeln!(
        out,
        "Versions (Cargo.lock): covet {}, sqlx {}, sea-query {}, SeaORM {}, Diesel {}, r2d2 {}, \
         deadpool {}, tokio {}.",
        env!("CARGO_PKG_VERSION"),
        locked_version("sqlx"),
        locked_version("sea-query"),
        if cfg!(feature = "peers") {
            locked_version("sea-orm")
        } else {
            "not built".to_owned()
        },
        if cfg!(feature = "peers") {
            locked_version("diesel")
        } else {
            "not built".to_owned()
        },
        if cfg!(feature = "peers") {
            locked_version("r2d2")
        } else {
            "not built".to_owned()
        },
        locked_version("deadpool"),
        locked_version("tokio"),
    );
    if !cfg!(feature = "peers") {
        let _ = writeln!(
            out,
            "\nSeaORM and Diesel are not in this build; add `--features peers` to measure them."
        );
    }
    let rounds = if quick {
        super::QUICK_ROUNDS
    } else {
        super::FULL_ROUNDS
    };
    let _ = writeln!(
        out,
        "\n{rounds} interleaved rounds: in each, every library takes one sample of every \
         workload, in an order that rotates from round to round. Each cell is the median \
         sample as time per operation (queries per second for the concurrent lookups), then \
         in brackets the ratio of its time to raw sqlx on one connection, or to sqlx's pool in \
         the concurrent and pool rows. Every ratio compares times, so lower is faster, in the \
         queries-per-second row too. Every library's rows are checked against the fixture, so \
         each does the same work.\n"
    );
    out
}

fn per_operation(time: Duration, operations: usize) -> Duration {
    let operations = u32::try_from(operations.max(1)).unwrap_or(u32::MAX);
    time / operations
}

fn format_time(time: Duration) -> String {
    let nanos = time.as_nanos();
    if nanos >= 1_000_000 {
        format!("{:.2} ms", time.as_secs_f64() * 1e3)
    } else if nanos >= 1_000 {
        format!("{:.1} µs", time.as_secs_f64() * 1e6)
    } else {
        format!("{nanos} ns")
    }
}

/// Queries per second of a sample of `operations` that took `time`.
fn throughput(time: Duration, operations: usize) -> f64 {
    operations as f64 / time.as_secs_f64().max(f64::MIN_POSITIVE)
}

fn baseline(results: &Results, workload: Workload) -> usize {
    let name = if workload.pool_baseline() {
        "sqlx Pool"
    } else {
        "sqlx, 1 connection"
    };
    results
        .libraries
        .iter()
        .position(|library| *library == name)
        .unwrap_or(0)
}

/// Divides the median of `library` on `workload` by `other`'s.
fn ratio(results: &Results, workload: Workload, library: &str, other: &str) -> Option<f64> {
    let (_, _, cells) = results.rows.iter().find(|(row, _, _)| *row == workload)?;
    let index = |name: &str| {
        results
            .libraries
            .iter()
            .position(|library| *library == name)
    };
    match (&cells[index(library)?], &cells[index(other)?]) {
        (Cell::Median(a), Cell::Median(b)) if !b.is_zero() => {
            Some(a.as_secs_f64() / b.as_secs_f64())
        }
        _ => None,
    }
}

/// Formats the table of one backend, then covet's ratios next to their targets.
pub(crate) fn section(backend: Backend, results: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "### {backend}\n");
    let _ = writeln!(out, "| workload | {} |", results.libraries.join(" | "));
    let _ = writeln!(out, "|---|{}", "---|".repeat(results.libraries.len()));
    for (workload, operations, cells) in &results.rows {
        let base = match &cells[baseline(results, *workload)] {
            Cell::Median(time) => Some(*time),
            _ => None,
        };
        let formatted: Vec<String> = cells
            .iter()
            .map(|cell| match cell {
                Cell::Median(time) => {
                    let value = if workload.is_throughput() {
                        format!("{:.0} q/s", throughput(*time, *operations))
                    } else {
                        format_time(per_operation(*time, *operations))
                    };
                    match base {
                        Some(base) if !base.is_zero() => {
                            format!("{value} ({:.2})", time.as_secs_f64() / base.as_secs_f64())
                        }
                        _ => value,
                    }
                }
                Cell::Unsupported(why) => format!("n/a: {why}"),
                Cell::Failed(message) => format!("failed: {}", message.replace('|', "/")),
            })
            .collect();
        let _ = writeln!(out, "| {workload} | {} |", formatted.join(" | "));
    }
    let _ = writeln!(out);
    let targets: [(&str, Workload, &str, f64); 11] = [
        (
            "sqlx, 1 connection",
            Workload::PkSelect,
            "primary-key select",
            1.05,
        ),
        (
            "sqlx, 1 connection",
            Workload::SelectAll(10_000),
            "select all, 10,000",
            1.05,
        ),
        (
            "sqlx, 1 connection",
            Workload::Join(10_000),
            "join, 10,000 users",
            1.05,
        ),
        ("sqlx, 1 connection", Workload::Insert(1), "insert 1", 1.05),
        (
            "sqlx, 1 connection",
            Workload::Insert(100),
            "insert 100",
            1.05,
        ),
        (
            "sqlx, 1 connection",
            Workload::Insert(10_000),
            "insert 10,000",
            1.05,
        ),
        ("sqlx Pool", Workload::PkSelect, "primary-key select", 1.05),
        (
            "SeaORM",
            Workload::SelectAll(10_000),
            "select all, 10,000",
            0.5,
        ),
        ("SeaORM", Workload::Join(10_000), "join, 10,000 users", 0.5),
        ("SeaORM", Workload::Eager, "eager loading", 0.55),
        ("Diesel (sync)", Workload::Eager, "eager loading", 1.0),
    ];
    let _ = writeln!(
        out,
        "| ratio (time, lower is better) | measured | target | met |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for (other, workload, label, target) in targets {
        if other == "Diesel (sync)" && backend != Backend::Postgres {
            continue;
        }
        let (measured, met) = match ratio(results, workload, "covet", other) {
            Some(value) => (
                format!("{value:.2}"),
                if value <= target { "yes" } else { "no" },
            ),
            None => ("not measured".to_owned(), "-"),
        };
        let _ = writeln!(
            out,
            "| covet / {other}, {label} | {measured} | <= {target:.2} | {met} |"
        );
    }
    let _ = writeln!(out);
    out
}

fn pgbench_binary() -> Option<std::path::PathBuf> {
    let mut found: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| Some(entry.ok()?.path().join("bin/pgbench")))
        .filter(|path| path.exists())
        .collect();
    found.sort();
    found.pop()
}

/// Runs `pgbench -S -M prepared` with the concurrent workload's client count on a scratch
/// database, and compares covet's concurrent throughput with it.
pub(crate) async fn pgbench(seconds: u32, results: &Results) -> String {
    let mut out = String::from("#### pgbench reference\n\n");
    let Some(binary) = pgbench_binary() else {
        out.push_str("pgbench not found under /usr/lib/postgresql/*/bin; not run.\n\n");
        return out;
    };
    let database = format!("covet_pgbench_{}", std::process::id());
    let connection = ["-h", "127.0.0.1", "-p", "5432", "-U", "root"];
    let run = |arguments: Vec<String>| {
        Command::new(&binary)
            .args(connection)
            .args(arguments)
            .output()
            .map_err(|error| format!("cannot start pgbench: {error}"))
    };
    let psql = |sql: String| {
        Command::new("psql")
            .args(connection)
            .args(["-d", "test", "-q", "-c", &sql])
            .output()
    };
    let _ = psql(format!("DROP DATABASE IF EXISTS {database}"));
    let created = psql(format!("CREATE DATABASE {database}"));
    if !created.as_ref().is_ok_and(|output| output.status.success()) {
        out.push_str("could not create the pgbench database with psql; not run.\n\n");
        return out;
    }
    let clients = super::TASKS.to_string();
    let measured = run(vec!["-i".into(), "-q".into(), database.clone()]).and_then(|init| {
        if !init.status.success() {
            return Err(format!(
                "pgbench -i failed: {}",
                String::from_utf8_lossy(&init.stderr).trim()
            ));
        }
        run(vec![
            "-S".into(),
            "-M".into(),
            "prepared".into(),
            "-c".into(),
            clients.clone(),
            "-j".into(),
            "2".into(),
            "-T".into(),
            seconds.to_string(),
            database.clone(),
        ])
    });
    let _ = psql(format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
    let output = match measured {
        Ok(output) if output.status.success() => output,
        Ok(output) => {
            let _ = writeln!(
                out,
                "pgbench failed: {}\n",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            return out;
        }
        Err(message) => {
            let _ = writeln!(out, "{message}\n");
            return out;
        }
    };
    let text = String::from_utf8_lossy(&output.stdout);
    let tps = text
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| {
            line["tps = ".len()..]
                .split_whitespace()
                .next()?
                .parse::<f64>()
                .ok()
        });
    let Some(tps) = tps else {
        let _ = writeln!(
            out,
            "pgbench printed no `tps =` line:\n\n```\n{text}\n```\n"
        );
        return out;
    };
    let _ = writeln!(
        out,
        "`pgbench -S -M prepared -c {clients} -j 2 -T {seconds}` on a scratch database made \
         with `pgbench -i` (scale 1): {tps:.0} transactions (one primary-key select each) per \
         second, {clients} client connections.\n"
    );
    let (index, operations, cells) = match results
        .rows
        .iter()
        .find(|(workload, _, _)| *workload == Workload::Concurrent)
    {
        Some(row) => row,
        None => return out,
    };
    let _ = index;
    let _ = writeln!(
        out,
        "| library | queries/s on {} connections | fraction of pgbench |",
        super::CONNECTIONS
    );
    let _ = writeln!(out, "|---|---|---|");
    for (library, cell) in results.libraries.iter().zip(cells) {
        if let Cell::Median(time) = cell {
            let qps = throughput(*time, *operations);
            let _ = writeln!(out, "| {library} | {qps:.0} | {:.2} |", qps / tps);
        }
    }
    let _ = writeln!(out, "\nTarget: covet >= 0.85 of pgbench.\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_groups_thousands() {
        assert_eq!(count(1), "1");
        assert_eq!(count(100), "100");
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(10_000), "10,000");
        assert_eq!(count(1_000_000), "1,000,000");
    }

    #[test]
    fn versions_come_from_the_lock_file() {
        assert!(locked_version("sqlx").starts_with("0.9"));
        assert_eq!(locked_version("no-such-package"), "not in Cargo.lock");
    }

    fn results() -> Results {
        let ms = Duration::from_millis;
        Results {
            libraries: vec!["covet", "sqlx, 1 connection", "sqlx Pool", "SeaORM"],
            rows: vec![
                (
                    Workload::PkSelect,
                    10,
                    vec![
                        Cell::Median(ms(30)),
                        Cell::Median(ms(20)),
                        Cell::Median(ms(40)),
                        Cell::Failed("broke | here".into()),
                    ],
                ),
                (
                    Workload::CheckoutContended,
                    64,
                    vec![
                        Cell::Median(ms(1)),
                        Cell::Unsupported("one connection, no pool"),
                        Cell::Median(ms(4)),
                        Cell::Unsupported("no checkout API"),
                    ],
                ),
                (
                    Workload::SelectAll(10_000),
                    1,
                    vec![
                        Cell::Median(ms(9)),
                        Cell::Median(ms(10)),
                        Cell::Median(ms(12)),
                        Cell::Median(ms(30)),
                    ],
                ),
            ],
        }
    }

    #[test]
    fn section_shows_times_and_ratios() {
        let text = section(Backend::Sqlite, &results());
        // 30 ms over 10 lookups, 1.5 times sqlx on one connection.
        assert!(text.contains("| 3.00 ms (1.50) |"), "{text}");
        // Pool rows compare with sqlx's pool: 1 ms against 4 ms.
        assert!(text.contains("(0.25)"), "{text}");
        assert!(text.contains("n/a: no checkout API"), "{text}");
        assert!(text.contains("failed: broke / here"), "{text}");
        assert!(
            text.contains(
                "| covet / sqlx, 1 connection, primary-key select | 1.50 | <= 1.05 | no |"
            ),
            "{text}"
        );
        assert!(
            text.contains("| covet / SeaORM, select all, 10,000 | 0.30 | <= 0.50 | yes |"),
            "{text}"
        );
        assert!(!text.contains("Diesel"), "{text}");
    }
}
