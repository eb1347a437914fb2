//! The `covet-migrate` command line, as a library so that its commands are testable.
//!
//! Exit codes:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success; for `status`, nothing pending |
//! | 1 | error: the message names what failed and the next step |
//! | 2 | invalid command line |
//! | 3 | `status`: migrations are pending |
//! | 4 | `status` or `verify`: an applied migration's file changed |
//! | 5 | a migration failed partway and needs `resume` or `resolve` |

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use covet::Database;

use crate::error::MigrateError;
use crate::runner::{DEFAULT_HISTORY_TABLE, DownTarget, Migrator, MigratorOptions};
use crate::source::MigrationSet;

/// Success; for `status`, nothing is pending.
pub const EXIT_OK: i32 = 0;
/// An error.
pub const EXIT_ERROR: i32 = 1;
/// Migrations are pending.
pub const EXIT_PENDING: i32 = 3;
/// An applied migration's file changed.
pub const EXIT_DRIFT: i32 = 4;
/// A migration failed partway.
pub const EXIT_FAILED: i32 = 5;

const AFTER_HELP: &str = "\
Exit codes: 0 success (status: up to date), 1 error, 2 invalid command line,
3 migrations pending (status), 4 an applied file changed (status, verify),
5 a migration failed partway and needs resume or resolve.

The database URL comes from --database-url, else DATABASE_URL in the environment, else
DATABASE_URL in a .env file in the current directory. Passwords are never printed.
Log lines go to stderr; set COVET_LOG or RUST_LOG (for example COVET_LOG=off or
COVET_LOG=debug) to change them.";

/// Versioned schema migrations for covet, on SQLite, PostgreSQL and MySQL/MariaDB.
#[derive(Debug, Parser)]
#[command(name = "covet-migrate", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// The database URL, such as sqlite:app.db or postgres://user@host/db.
    #[arg(
        long,
        env = "DATABASE_URL",
        global = true,
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Global options"
    )]
    pub database_url: Option<String>,

    /// The directory of migration files.
    #[arg(
        long,
        default_value = "migrations",
        global = true,
        value_name = "DIR",
        help_heading = "Global options"
    )]
    pub source: PathBuf,

    /// The history table, as table or schema.table.
    #[arg(long, default_value = DEFAULT_HISTORY_TABLE, global = true, help_heading = "Global options")]
    pub history_table: String,

    /// Reject a pending migration older than the newest applied one.
    #[arg(long, global = true, help_heading = "Global options")]
    pub strict: bool,

    /// Seconds to wait for another runner's migration lock.
    #[arg(
        long,
        default_value_t = 60,
        global = true,
        value_name = "SECONDS",
        help_heading = "Global options"
    )]
    pub lock_timeout: u64,

    /// Output format of status, verify, plan and the lists of applied or reverted migrations.
    #[arg(long, value_enum, default_value_t = Format::Text, global = true, help_heading = "Global options")]
    pub format: Format,

    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Plain text for people.
    Text,
    /// JSON for programs.
    Json,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create VERSION_NAME.up.sql and VERSION_NAME.down.sql with a UTC timestamp version.
    New {
        /// The migration name: lowercase letters, digits and underscores.
        name: String,
    },
    /// Apply pending migrations.
    #[command(
        after_help = "Exit codes: 0 applied or nothing to do, 4 an applied file changed, \
                            5 a migration failed partway, 1 error."
    )]
    Up(TargetArgs),
    /// Revert applied migrations, newest first (one by default).
    Down(DownArgs),
    /// Revert the last migrations and apply them again.
    Redo {
        /// How many migrations to redo.
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// Show every migration and its state.
    #[command(
        after_help = "Exit codes: 0 up to date, 3 pending, 4 an applied file changed, 5 a \
                            migration failed partway, 1 error."
    )]
    Status,
    /// List applied migrations whose files changed since they ran.
    #[command(after_help = "Exit codes: 0 nothing changed, 4 an applied file changed, 1 error.")]
    Verify,
    /// Record an intentional edit of an applied migration.
    Accept {
        /// The migration version.
        version: i64,
        /// The reason for the edit.
        #[arg(long)]
        reason: String,
    },
    /// Mark the migrations up to VERSION as applied without running them.
    Baseline {
        /// The last version the database already has.
        version: i64,
    },
    /// Print the SQL that up would run and where each transaction begins and ends.
    #[command(visible_alias = "dry-run")]
    Plan(TargetArgs),
    /// Continue a migration that failed partway, after fixing its file.
    Resume {
        /// The failed migration's version.
        version: i64,
    },
    /// Mark a failed migration as finished by hand.
    Resolve {
        /// The failed migration's version.
        version: i64,
        /// A note on the work done by hand.
        #[arg(long, default_value = "resolved by hand")]
        note: String,
    },
}

/// The optional last version to apply.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Apply up to and including this version.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<i64>,
}

/// How far to revert.
#[derive(Debug, Args)]
pub struct DownArgs {
    /// How many migrations to revert.
    #[arg(long, conflicts_with = "to", value_name = "N")]
    pub steps: Option<usize>,
    /// Revert every migration above this version.
    #[arg(long, value_name = "VERSION")]
    pub to: Option<i64>,
}

/// Runs a parsed command line, writing results to `out` and errors to `err`, and returns
/// the exit code.
pub async fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match execute(cli, out).await {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(err, "error: {}", with_causes(&error));
            match error {
                MigrateError::Dirty { .. } => EXIT_FAILED,
                MigrateError::Drift { .. } => EXIT_DRIFT,
                _ => EXIT_ERROR,
            }
        }
    }
}

/// Returns the error's message followed by each cause that adds something new, so that a
/// refused connection and a wrong password read differently.
fn with_causes(error: &MigrateError) -> String {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

async fn execute(cli: Cli, out: &mut dyn Write) -> Result<i32, MigrateError> {
    if let Command::New { name } = &cli.command {
        let (up, down) = create_files(&cli.source, name)?;
        write_line(
            out,
            &format!("created {}\ncreated {}", up.display(), down.display()),
        );
        return Ok(EXIT_OK);
    }
    let url = cli.database_url.clone().ok_or_else(|| {
        MigrateError::InvalidRequest(String::from(
            "no database URL: pass --database-url, or set DATABASE_URL in the environment or a \
             .env file",
        ))
    })?;
    let set = MigrationSet::from_dir(&cli.source)?;
    let options = MigratorOptions::default()
        .history_table(cli.history_table.clone())
        .strict_order(cli.strict)
        .lock_timeout(Duration::from_secs(cli.lock_timeout));
    let migrator = Migrator::with_options(set, options);
    let db = Database::connect(&url).await?;
    let code = dispatch(&cli, &migrator, &db, out).await;
    db.close();
    code
}

async fn dispatch(
    cli: &Cli,
    migrator: &Migrator,
    db: &Database,
    out: &mut dyn Write,
) -> Result<i32, MigrateError> {
    let json = cli.format == Format::Json;
    match &cli.command {
        Command::New { .. } => unreachable!("handled before connecting"),
        Command::Up(target) => {
            let report = migrator.up(db, target.to).await?;
            print_report(out, &report, json);
        }
        Command::Down(args) => {
            let target = match (args.steps, args.to) {
                (_, Some(version)) => DownTarget::To(version),
                (steps, None) => DownTarget::Steps(steps.unwrap_or(1)),
            };
            let report = migrator.down(db, target).await?;
            print_report(out, &report, json);
        }
        Command::Redo { steps } => {
            let report = migrator.redo(db, *steps).await?;
            print_report(out, &report, json);
        }
        Command::Status => {
            let status = migrator.status(db).await?;
            print(out, &status, json);
            return Ok(status_code(&status));
        }
        Command::Verify => {
            let drift = migrator.verify(db).await?;
            if json {
                write_line(
                    out,
                    &serde_json::to_string_pretty(&drift).unwrap_or_default(),
                );
            } else if drift.is_empty() {
                write_line(out, "every applied migration matches its file");
            }
            for item in drift.iter().filter(|_| !json) {
                write_line(
                    out,
                    &format!(
                        "changed: {} {} (recorded {}, now {})",
                        item.version, item.name, item.recorded, item.current
                    ),
                );
            }
            return Ok(if drift.is_empty() {
                EXIT_OK
            } else {
                EXIT_DRIFT
            });
        }
        Command::Accept { version, reason } => {
            migrator.accept(db, *version, reason).await?;
            write_line(out, &format!("accepted the edit of migration {version}"));
        }
        Command::Baseline { version } => {
            let report = migrator.baseline(db, *version).await?;
            if json {
                print_report(out, &report, json);
            }
            for done in report.applied.iter().filter(|_| !json) {
                write_line(
                    out,
                    &format!(
                        "marked {} {} as applied (baseline)",
                        done.version, done.name
                    ),
                );
            }
        }
        Command::Plan(target) => {
            let plan = migrator.plan(db, target.to).await?;
            print(out, &plan, json);
        }
        Command::Resume { version } => {
            let report = migrator.resume(db, *version).await?;
            print_report(out, &report, json);
        }
        Command::Resolve { version, note } => {
            migrator.resolve(db, *version, note).await?;
            write_line(out, &format!("marked migration {version} as resolved"));
        }
    }
    Ok(EXIT_OK)
}

fn status_code(status: &crate::report::Status) -> i32 {
    if status.has_failed() {
        EXIT_FAILED
    } else if status.has_drift() {
        EXIT_DRIFT
    } else if status.pending().next().is_some() {
        EXIT_PENDING
    } else {
        EXIT_OK
    }
}

fn write_line(out: &mut dyn Write, text: &str) {
    // A closed stdout (a pipe to `head`) must not turn a finished migration into an error.
    let _ = writeln!(out, "{text}");
}

fn print<T: serde::Serialize + std::fmt::Display>(out: &mut dyn Write, value: &T, json: bool) {
    if json {
        write_line(
            out,
            &serde_json::to_string_pretty(value).unwrap_or_default(),
        );
    } else {
        let _ = write!(out, "{value}");
    }
}

fn print_report(out: &mut dyn Write, report: &crate::report::Report, json: bool) {
    if json {
        write_line(
            out,
            &serde_json::to_string_pretty(report).unwrap_or_default(),
        );
        return;
    }
    for warning in &report.warnings {
        write_line(out, &format!("warning: {warning}"));
    }
    for done in &report.reverted {
        write_line(
            out,
            &format!(
                "reverted {} {} ({} ms)",
                done.version, done.name, done.duration_ms
            ),
        );
    }
    for done in &report.applied {
        write_line(
            out,
            &format!(
                "applied {} {} ({} ms)",
                done.version, done.name, done.duration_ms
            ),
        );
    }
    if report.applied.is_empty() && report.reverted.is_empty() {
        write_line(out, "nothing to do");
    }
}

/// Creates the up and down files of a new migration, versioned with the current UTC time
/// (`YYYYMMDDHHMMSS`), one second later if that version is taken.
fn create_files(directory: &Path, name: &str) -> Result<(PathBuf, PathBuf), MigrateError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(MigrateError::InvalidRequest(format!(
            "`{name}` is not a valid migration name; use lowercase letters, digits and \
             underscores, such as create_users"
        )));
    }
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |source| MigrateError::Io { path, source }
    };
    std::fs::create_dir_all(directory).map_err(io_error(directory))?;
    let taken = MigrationSet::from_dir(directory)?;
    let mut version: i64 = chrono::Utc::now()
        .format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .unwrap_or_default();
    while taken.get(version).is_some() {
        version += 1;
    }
    let up = directory.join(format!("{version}_{name}.up.sql"));
    let down = directory.join(format!("{version}_{name}.down.sql"));
    std::fs::write(&up, format!("-- {name}: apply\n")).map_err(io_error(&up))?;
    std::fs::write(&down, format!("-- {name}: revert\n")).map_err(io_error(&down))?;
    Ok((up, down))
}
