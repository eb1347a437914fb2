//! Runs the built `covet-migrate` binary, each test in a temporary directory of its own as
//! the working directory, and checks what it prints and the exit codes it returns, on
//! SQLite, MariaDB and PostgreSQL.
//!
//! MariaDB must listen on 127.0.0.1:3306 (root, empty password) and PostgreSQL on
//! 127.0.0.1:5432 (root, trust). Each test that uses them creates a database with a unique
//! name and drops it when it ends, also when it fails.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_covet-migrate");

/// The database the MariaDB tests connect to for creating and dropping their own.
const MARIADB_ADMIN: &str = "mysql://root@127.0.0.1:3306/test";
/// The database the PostgreSQL tests connect to for creating and dropping their own.
const POSTGRES_ADMIN: &str = "postgres://root@127.0.0.1:5432/postgres";

/// Every command `--help` must list.
const COMMANDS: [&str; 11] = [
    "new", "up", "down", "redo", "status", "verify", "accept", "baseline", "plan", "resume",
    "resolve",
];

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// What one run of the binary returned.
struct Run {
    args: Vec<String>,
    code: i32,
    stdout: String,
    stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "covet-migrate {:?} exited {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// Asserts the exit code, showing the whole run when it differs.
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "expected exit code {expected}\n{self}");
        self
    }

    fn stdout_has(&self, text: &str) -> &Self {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }

    fn stderr_has(&self, text: &str) -> &Self {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        self
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON: {error}\n{self}"))
    }

    /// Asserts that neither stream contains `secret`.
    fn hides(&self, secret: &str) -> &Self {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "the output shows {secret:?}\n{self}"
        );
        self
    }
}

/// A temporary working directory with an optional `DATABASE_URL` for the runs in it.
struct Project {
    dir: TempDir,
    url: Option<String>,
}

impl Project {
    /// Creates a directory whose runs have no `DATABASE_URL` in their environment.
    fn bare() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temporary directory"),
            url: None,
        }
    }

    /// Creates a directory whose runs use `url`.
    fn with_url(url: &str) -> Self {
        let mut project = Self::bare();
        project.url = Some(url.to_owned());
        project
    }

    /// Creates a directory whose runs use a SQLite file `app.db` in it.
    fn sqlite() -> Self {
        let mut project = Self::bare();
        project.url = Some(sqlite_url(&project.path().join("app.db")));
        project
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs the binary in the directory. `DATABASE_URL` is set only when this project has a
    /// URL, whatever the test's own environment contains.
    fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(self.path())
            .env_remove("DATABASE_URL")
            .env_remove("COVET_LOG")
            .env("NO_COLOR", "1");
        if let Some(url) = &self.url {
            command.env("DATABASE_URL", url);
        }
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().expect("start covet-migrate");
        Run {
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            code: output
                .status
                .code()
                .unwrap_or_else(|| panic!("covet-migrate {args:?} was killed by a signal")),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    fn migrations(&self) -> PathBuf {
        self.path().join("migrations")
    }

    /// Creates a migration with `covet-migrate new`, fills in its files and returns its
    /// version.
    fn add_migration(&self, name: &str, up: &str, down: &str) -> i64 {
        self.run(&["new", name]).code(0);
        let suffix = format!("_{name}.up.sql");
        let version = migration_files(&self.migrations())
            .iter()
            .find_map(|file| file.strip_suffix(&suffix).map(str::to_owned))
            .unwrap_or_else(|| panic!("`new {name}` made no file ending in {suffix}"));
        let version: i64 = version.parse().expect("the version is a number");
        self.write_up(version, name, up);
        fs::write(self.down_file(version, name), down).expect("write the down file");
        version
    }

    fn up_file(&self, version: i64, name: &str) -> PathBuf {
        self.migrations().join(format!("{version}_{name}.up.sql"))
    }

    fn down_file(&self, version: i64, name: &str) -> PathBuf {
        self.migrations().join(format!("{version}_{name}.down.sql"))
    }

    fn write_up(&self, version: i64, name: &str, sql: &str) {
        fs::write(self.up_file(version, name), sql).expect("write the up file");
    }
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}", file.display())
}

/// Returns the sorted names of the files in `dir`, or none when it does not exist.
fn migration_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| {
            entry
                .expect("read a directory entry")
                .file_name()
                .into_string()
                .expect("a UTF-8 file name")
        })
        .collect();
    names.sort();
    names
}

/// Runs a future to completion on a runtime of its own.
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start a tokio runtime")
        .block_on(future)
}

/// Runs a query returning one integer, on a connection of its own.
fn scalar(url: &str, sql: &str) -> i64 {
    block_on(async {
        let db = covet::Database::connect(url)
            .await
            .unwrap_or_else(|error| panic!("connect to check the database: {error}"));
        let value = covet::raw(sql).fetch_scalar::<i64, _>(&db).await;
        db.close();
        value
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .unwrap_or_else(|| panic!("{sql}: no row"))
    })
}

/// Returns whether the SQLite database of `project`, opened with covet, has `table`.
fn sqlite_has_table(project: &Project, table: &str) -> bool {
    let url = project.url.as_deref().expect("a SQLite project");
    scalar(
        url,
        &format!("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '{table}'"),
    ) == 1
}

/// Runs one statement that returns no rows, on a connection of its own.
fn execute(url: &str, sql: &str) -> Result<(), covet::Error> {
    block_on(async {
        let db = covet::Database::connect(url).await?;
        let outcome = covet::raw(sql).execute_unprepared(&db).await;
        db.close();
        outcome.map(|_| ())
    })
}

/// A database created on a local server for one test, dropped when the value is.
struct ServerDb {
    admin: &'static str,
    name: String,
    url: String,
    drop_sql: String,
}

impl ServerDb {
    fn mariadb(tag: &str) -> Self {
        Self::create(MARIADB_ADMIN, tag, "mysql://root@127.0.0.1:3306", |name| {
            format!("DROP DATABASE IF EXISTS {name}")
        })
    }

    fn postgres(tag: &str) -> Self {
        Self::create(
            POSTGRES_ADMIN,
            tag,
            "postgres://root@127.0.0.1:5432",
            |name| format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
    }

    fn create(
        admin: &'static str,
        tag: &str,
        server: &str,
        drop_sql: impl Fn(&str) -> String,
    ) -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("the clock is after 1970")
            .as_nanos();
        let name = format!("covet_cli_{tag}_{}_{nanos}", std::process::id());
        execute(admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|error| panic!("create database {name} through {admin}: {error}"));
        Self {
            admin,
            url: format!("{server}/{name}"),
            drop_sql: drop_sql(&name),
            name,
        }
    }
}

impl Drop for ServerDb {
    fn drop(&mut self) {
        if let Err(error) = execute(self.admin, &self.drop_sql) {
            eprintln!("could not drop the test database {}: {error}", self.name);
        }
    }
}

/// Returns the current UTC time as a migration version, `YYYYMMDDHHMMSS`.
fn utc_version_now() -> i64 {
    chrono::Utc::now()
        .format("%Y%m%d%H%M%S")
        .to_string()
        .parse()
        .expect("a number")
}

/// Returns the index of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line contains {needle:?} in:\n{text}"))
}

const USERS_UP: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n\
                        CREATE INDEX users_name ON users (name);\n";
const USERS_DOWN: &str = "DROP INDEX users_name;\nDROP TABLE users;\n";
const POSTS_UP: &str = "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT NOT NULL);\n";
const POSTS_DOWN: &str = "DROP TABLE posts;\n";

// ---------------------------------------------------------------------------------------
// Help and the command line
// ---------------------------------------------------------------------------------------

#[test]
fn help_lists_commands_and_exit_codes() {
    let run = Project::bare().run(&["--help"]);
    run.code(0);
    let commands = &run.stdout[run.stdout.find("Commands:").expect("a Commands section")..];
    for command in COMMANDS {
        assert!(
            commands
                .lines()
                .any(|line| line.trim_start().starts_with(&format!("{command} "))),
            "--help does not list `{command}`\n{run}"
        );
    }
    run.stdout_has("Exit codes:")
        .stdout_has("0 success")
        .stdout_has("1 error")
        .stdout_has("2 invalid command line")
        .stdout_has("3 migrations pending")
        .stdout_has("4 an applied file changed")
        .stdout_has("5 a migration failed partway")
        .stdout_has("DATABASE_URL")
        .stdout_has(".env");
}

#[test]
fn up_help_documents_to() {
    Project::bare()
        .run(&["up", "--help"])
        .code(0)
        .stdout_has("--to <VERSION>")
        .stdout_has("Apply up to and including this version");
}

#[test]
fn unknown_command_exits_2() {
    let project = Project::bare();
    let run = project.run(&["frobnicate"]);
    run.code(2).stderr_has("frobnicate");
    assert!(run.stdout.is_empty(), "an error printed to stdout\n{run}");
    project.run(&[]).code(2);
    project.run(&["status", "--format", "xml"]).code(2);
    project.run(&["down", "--steps", "1", "--to", "2"]).code(2);
    project
        .run(&["accept", "20250101000000"])
        .code(2)
        .stderr_has("--reason");
}

// ---------------------------------------------------------------------------------------
// new
// ---------------------------------------------------------------------------------------

#[test]
fn new_creates_timestamped_file_pair() {
    let project = Project::bare();
    let before = utc_version_now();
    let run = project.run(&["new", "create_users"]);
    let after = utc_version_now();
    run.code(0);
    let files = migration_files(&project.migrations());
    assert_eq!(files.len(), 2, "expected two files, got {files:?}");
    let version = files[0]
        .strip_suffix("_create_users.down.sql")
        .unwrap_or_else(|| panic!("unexpected file {:?}", files[0]));
    assert_eq!(version.len(), 14, "the version is not 14 digits: {version}");
    assert!(version.bytes().all(|b| b.is_ascii_digit()), "{version}");
    assert_eq!(files[1], format!("{version}_create_users.up.sql"));
    let number: i64 = version.parse().expect("a number");
    assert!(
        (before..=after).contains(&number),
        "version {number} is not the UTC time of the run ({before} to {after})"
    );
    run.stdout_has(&format!("{version}_create_users.up.sql"))
        .stdout_has(&format!("{version}_create_users.down.sql"));
}

#[test]
fn new_twice_distinct_versions() {
    let project = Project::bare();
    project.run(&["new", "first"]).code(0);
    project.run(&["new", "second"]).code(0);
    let versions: std::collections::BTreeSet<String> = migration_files(&project.migrations())
        .iter()
        .map(|file| file.split('_').next().expect("a version").to_owned())
        .collect();
    assert_eq!(versions.len(), 2, "{versions:?}");
}

#[test]
fn new_rejects_an_invalid_name() {
    let project = Project::bare();
    project
        .run(&["new", "Create Users"])
        .code(1)
        .stderr_has("`Create Users`")
        .stderr_has("lowercase");
    assert!(
        migration_files(&project.migrations()).is_empty(),
        "an invalid name created files"
    );
}

// ---------------------------------------------------------------------------------------
// A session on SQLite
// ---------------------------------------------------------------------------------------

#[test]
fn sqlite_status_plan_and_up() {
    let project = Project::sqlite();
    let users = project.add_migration("create_users", USERS_UP, USERS_DOWN);

    let status = project.run(&["status"]);
    status.code(3).stdout_has("history table: covet_migrations");
    let line = status
        .stdout
        .lines()
        .nth(line_of(&status.stdout, &users.to_string()));
    let line = line.expect("a status line");
    assert!(
        line.contains("pending") && line.contains("create_users"),
        "{line:?}\n{status}"
    );

    let json = project.run(&["status", "--format", "json"]);
    let value = json.code(3).json();
    assert_eq!(value["history_table"], "covet_migrations", "{json}");
    let entries = value["entries"].as_array().expect("entries is an array");
    assert_eq!(entries.len(), 1, "{json}");
    assert_eq!(entries[0]["version"], users, "{json}");
    assert_eq!(entries[0]["name"], "create_users", "{json}");
    assert_eq!(entries[0]["state"], "pending", "{json}");
    assert!(entries[0]["applied_at"].is_null(), "{json}");
    assert!(entries[0]["checksum_matches"].is_null(), "{json}");

    let plan = project.run(&["plan"]);
    plan.code(0)
        .stdout_has(&format!("-- migration {users} (create_users)"))
        .stdout_has("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL);")
        .stdout_has("CREATE INDEX users_name ON users (name);");
    let begin = line_of(&plan.stdout, "BEGIN;");
    let create = line_of(&plan.stdout, "CREATE TABLE users");
    let commit = line_of(&plan.stdout, "COMMIT;");
    assert!(begin < create, "{plan}");
    assert!(create < commit, "{plan}");
    project.run(&["dry-run"]).code(0).stdout_has("BEGIN;");

    let plan_json = project.run(&["plan", "--format", "json"]);
    let value = plan_json.code(0).json();
    let steps = value["steps"].as_array().expect("steps is an array");
    assert_eq!(steps.len(), 1, "{plan_json}");
    assert_eq!(steps[0]["version"], users, "{plan_json}");
    assert_eq!(steps[0]["name"], "create_users", "{plan_json}");
    assert_eq!(steps[0]["transaction"], true, "{plan_json}");
    assert_eq!(steps[0]["rust"], false, "{plan_json}");
    assert_eq!(
        steps[0]["statements"],
        serde_json::json!([
            "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
            "CREATE INDEX users_name ON users (name)"
        ]),
        "{plan_json}"
    );
    assert_eq!(value["warnings"], serde_json::json!([]), "{plan_json}");

    // Neither status nor plan wrote anything.
    assert!(
        !sqlite_has_table(&project, "covet_migrations"),
        "plan or status created the history table"
    );
    assert!(!sqlite_has_table(&project, "users"), "plan ran the SQL");
    project.run(&["status"]).code(3);

    project
        .run(&["up"])
        .code(0)
        .stdout_has(&format!("applied {users} create_users"));
    assert!(sqlite_has_table(&project, "users"));
    let status = project.run(&["status"]);
    status.code(0);
    let line =
        &status.stdout.lines().collect::<Vec<_>>()[line_of(&status.stdout, &users.to_string())];
    assert!(line.contains("applied"), "{line:?}\n{status}");
    let value = project.run(&["status", "--format", "json"]).code(0).json();
    assert_eq!(value["entries"][0]["state"], "applied");
    assert_eq!(value["entries"][0]["checksum_matches"], true);
    assert!(value["entries"][0]["applied_at"].is_string());

    project.run(&["up"]).code(0).stdout_has("nothing to do");
    project
        .run(&["plan"])
        .code(0)
        .stdout_has("-- nothing to apply");
}

#[test]
fn sqlite_up_to_version_json_reports() {
    let project = Project::sqlite();
    let users = project.add_migration("create_users", USERS_UP, USERS_DOWN);
    let posts = project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    let users_text = users.to_string();

    let plan = project.run(&["plan", "--to", &users_text]);
    plan.code(0).stdout_has("CREATE TABLE users");
    assert!(
        !plan.stdout.contains("posts"),
        "plan --to went past {users}\n{plan}"
    );

    let up = project.run(&["up", "--to", &users_text, "--format", "json"]);
    let value = up.code(0).json();
    let applied = value["applied"].as_array().expect("applied is an array");
    assert_eq!(applied.len(), 1, "{up}");
    assert_eq!(applied[0]["version"], users, "{up}");
    assert_eq!(applied[0]["name"], "create_users", "{up}");
    assert!(applied[0]["duration_ms"].is_i64(), "{up}");
    assert_eq!(value["reverted"], serde_json::json!([]), "{up}");
    assert!(!sqlite_has_table(&project, "posts"));

    let status = project.run(&["status"]);
    status.code(3);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert!(
        lines[line_of(&status.stdout, &posts.to_string())].contains("pending"),
        "{status}"
    );

    project
        .run(&["up"])
        .code(0)
        .stdout_has(&format!("applied {posts} create_posts"));
    project.run(&["status"]).code(0);
}

#[test]
fn sqlite_edited_file_is_drift_until_accepted() {
    let project = Project::sqlite();
    let users = project.add_migration("create_users", USERS_UP, USERS_DOWN);
    project.run(&["up"]).code(0);
    project
        .run(&["verify"])
        .code(0)
        .stdout_has("every applied migration matches its file");

    project.write_up(
        users,
        "create_users",
        &format!("{USERS_UP}-- the index serves lookups by name\n"),
    );
    project
        .run(&["status"])
        .code(4)
        .stdout_has("file changed since it was applied");
    let value = project.run(&["status", "--format", "json"]).code(4).json();
    assert_eq!(value["entries"][0]["checksum_matches"], false);

    project
        .run(&["verify"])
        .code(4)
        .stdout_has(&format!("changed: {users} create_users"));
    let verify = project.run(&["verify", "--format", "json"]);
    let value = verify.code(4).json();
    let drift = value
        .as_array()
        .expect("verify --format json prints an array");
    assert_eq!(drift.len(), 1, "{verify}");
    assert_eq!(drift[0]["version"], users, "{verify}");
    assert_eq!(drift[0]["name"], "create_users", "{verify}");
    assert_ne!(drift[0]["recorded"], drift[0]["current"], "{verify}");

    // up rejects the run while an applied file differs.
    project
        .run(&["up"])
        .code(4)
        .stderr_has("covet-migrate accept VERSION --reason");

    project
        .run(&[
            "accept",
            &users.to_string(),
            "--reason",
            "documented the index",
        ])
        .code(0)
        .stdout_has(&format!("accepted the edit of migration {users}"));
    project.run(&["status"]).code(0);
    project
        .run(&["verify"])
        .code(0)
        .stdout_has("every applied migration matches its file");

    // Accepting a version that is not applied is an error that names it.
    project
        .run(&["accept", "19990101000000", "--reason", "none"])
        .code(1)
        .stderr_has("19990101000000");
}

#[test]
fn sqlite_down_redo_and_baseline() {
    let project = Project::sqlite();
    let users = project.add_migration("create_users", USERS_UP, USERS_DOWN);
    let posts = project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    project.run(&["up"]).code(0);

    // down reverts the newest one only.
    project
        .run(&["down"])
        .code(0)
        .stdout_has(&format!("reverted {posts} create_posts"));
    assert!(!sqlite_has_table(&project, "posts"));
    assert!(sqlite_has_table(&project, "users"));
    project.run(&["status"]).code(3);

    // redo reverts and applies the last one again.
    project.run(&["up"]).code(0);
    project
        .run(&["redo"])
        .code(0)
        .stdout_has(&format!("reverted {posts} create_posts"))
        .stdout_has(&format!("applied {posts} create_posts"));
    assert!(sqlite_has_table(&project, "posts"));
    project.run(&["status"]).code(0);

    // down --to 0 reverts everything, newest first.
    let down = project.run(&["down", "--to", "0"]);
    down.code(0);
    assert!(
        line_of(&down.stdout, &format!("reverted {posts}"))
            < line_of(&down.stdout, &format!("reverted {users}")),
        "{down}"
    );
    assert!(!sqlite_has_table(&project, "users"));
    project.run(&["down"]).code(0).stdout_has("nothing to do");

    // baseline marks users as applied without running it.
    project
        .run(&["baseline", &users.to_string()])
        .code(0)
        .stdout_has(&users.to_string());
    assert!(!sqlite_has_table(&project, "users"), "baseline ran the SQL");
    let value = project.run(&["status", "--format", "json"]).code(3).json();
    assert_eq!(value["entries"][0]["state"], "baseline", "{value}");
    assert_eq!(value["entries"][1]["state"], "pending", "{value}");
    project
        .run(&["baseline", &users.to_string()])
        .code(1)
        .stderr_has("already recorded");
    project
        .run(&["up"])
        .code(0)
        .stdout_has(&format!("applied {posts} create_posts"));
    project.run(&["status"]).code(0);
}

/// `redo` undoes first and applies second, so its report should read in that order.
#[test]
fn redo_reports_revert_before_apply() {
    let project = Project::sqlite();
    let posts = project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    project.run(&["up"]).code(0);
    let redo = project.run(&["redo"]);
    redo.code(0);
    assert!(
        line_of(&redo.stdout, &format!("reverted {posts}"))
            < line_of(&redo.stdout, &format!("applied {posts}")),
        "redo lists the apply before the revert\n{redo}"
    );
}

// ---------------------------------------------------------------------------------------
// Where the database URL comes from
// ---------------------------------------------------------------------------------------

#[test]
fn url_from_dotenv_and_flag_override() {
    let project = Project::bare();
    let version = project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    let from_env_file = project.path().join("from_env_file.db");
    let from_flag = project.path().join("from_flag.db");
    let from_environment = project.path().join("from_environment.db");
    fs::write(
        project.path().join(".env"),
        format!("DATABASE_URL={}\n", sqlite_url(&from_env_file)),
    )
    .expect("write .env");

    project
        .run(&["status"])
        .code(3)
        .stdout_has(&version.to_string());
    project.run(&["up"]).code(0).stdout_has("applied");
    project.run(&["status"]).code(0);
    assert!(from_env_file.exists(), "the .env URL was not used");

    let flag_url = sqlite_url(&from_flag);
    project
        .run(&["status", "--database-url", &flag_url])
        .code(3);
    project.run(&["up", "--database-url", &flag_url]).code(0);
    project
        .run(&["status", "--database-url", &flag_url])
        .code(0);
    assert!(from_flag.exists(), "--database-url was not used");

    // DATABASE_URL in the environment wins over the .env file.
    let environment_url = sqlite_url(&from_environment);
    project
        .run_with_env(&["status"], &[("DATABASE_URL", &environment_url)])
        .code(3);
    assert!(from_environment.exists(), "DATABASE_URL was not used");
}

#[test]
fn missing_url_exits_1_with_hint() {
    let project = Project::bare();
    project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    for command in ["status", "up", "plan", "verify"] {
        project
            .run(&[command])
            .code(1)
            .stderr_has("--database-url")
            .stderr_has("DATABASE_URL")
            .stderr_has(".env");
    }
}

/// A `.env` file that cannot be parsed must be reported, not taken for a missing URL.
#[test]
fn malformed_dotenv_is_reported() {
    let project = Project::bare();
    project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    let url = sqlite_url(&project.path().join("app.db"));
    fs::write(
        project.path().join(".env"),
        format!("GREETING='unterminated\nDATABASE_URL={url}\n"),
    )
    .expect("write .env");
    let run = project.run(&["status"]);
    run.code(1).stderr_has(".env");
    assert!(
        !run.stderr.contains("no database URL"),
        "a .env file that sets DATABASE_URL but fails to parse is reported as no URL\n{run}"
    );
}

// ---------------------------------------------------------------------------------------
// Passwords and error messages
// ---------------------------------------------------------------------------------------

const SECRET: &str = "WrongSecret99";

#[test]
fn passwords_are_never_printed() {
    let project = Project::bare();
    project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    let urls = [
        format!("mysql://root:{SECRET}@127.0.0.1:3306/test"),
        format!("postgres://root:{SECRET}@127.0.0.1:1/test"),
    ];
    for url in &urls {
        project
            .run(&["status", "--database-url", url])
            .code(1)
            .hides(SECRET)
            .stderr_has("127.0.0.1");
        project
            .run_with_env(&["status"], &[("DATABASE_URL", url)])
            .code(1)
            .hides(SECRET);
        project
            .run_with_env(&["up", "--format", "json"], &[("DATABASE_URL", url)])
            .code(1)
            .hides(SECRET);
        // Help and usage errors do not show the environment's URL either.
        project
            .run_with_env(&["status", "--help"], &[("DATABASE_URL", url)])
            .code(0)
            .hides(SECRET);
        project
            .run_with_env(
                &["down", "--steps", "1", "--to", "2"],
                &[("DATABASE_URL", url)],
            )
            .code(2)
            .hides(SECRET);
    }
}

/// Exit code 1 promises a message that names what failed. "connection failed" alone does
/// not tell a wrong password from a closed port, and "failed to read" gives no reason.
/// Every case is checked before the test fails, so that its message lists all of them.
#[test]
fn errors_name_their_cause() {
    let project = Project::bare();
    let mut runs = vec![(
        project.run(&["status", "--database-url", "sqlite:app.db"]),
        "No such file or directory",
    )];
    project.add_migration("create_posts", POSTS_UP, POSTS_DOWN);
    runs.push((
        project.run(&[
            "status",
            "--database-url",
            "postgres://root@127.0.0.1:1/test",
        ]),
        "refused",
    ));
    let wrong_password = format!("mysql://root:{SECRET}@127.0.0.1:3306/test");
    runs.push((
        project.run(&["status", "--database-url", &wrong_password]),
        "denied",
    ));
    let mut missing = Vec::new();
    for (run, cause) in &runs {
        run.code(1).hides(SECRET);
        if !run.stderr.to_lowercase().contains(&cause.to_lowercase()) {
            missing.push(format!("stderr lacks the cause {cause:?}\n{run}"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

// ---------------------------------------------------------------------------------------
// MariaDB: a migration that fails partway
// ---------------------------------------------------------------------------------------

#[test]
fn mariadb_partial_failure_then_resume() {
    let db = ServerDb::mariadb("partial");
    let project = Project::with_url(&db.url);
    let name = "three_tables";
    let first = "CREATE TABLE first_t (id INT PRIMARY KEY);\n";
    let broken = "INSERT INTO missing_t VALUES (1);\n";
    let fixed = "CREATE TABLE second_t (id INT PRIMARY KEY);\n";
    let third = "CREATE TABLE third_t (id INT PRIMARY KEY);\n";
    let version = project.add_migration(
        name,
        &format!("{first}{broken}{third}"),
        "DROP TABLE third_t;\nDROP TABLE second_t;\nDROP TABLE first_t;\n",
    );
    let resume_hint = format!("covet-migrate resume {version}");
    let tables = |names: &str| {
        scalar(
            MARIADB_ADMIN,
            &format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = '{}' AND table_name IN ({names})",
                db.name
            ),
        )
    };

    // Each statement commits on its own on MariaDB.
    project
        .run(&["plan"])
        .code(0)
        .stdout_has("each statement commits on its own");

    project
        .run(&["up"])
        .code(5)
        .stderr_has("statement 2 of 3")
        .stderr_has(&resume_hint)
        .stderr_has("missing_t");
    assert_eq!(tables("'first_t'"), 1, "statement 1 was not committed");
    assert_eq!(tables("'third_t'"), 0, "statement 3 ran after the failure");

    let status = project.run(&["status"]);
    status.code(5);
    let lines: Vec<&str> = status.stdout.lines().collect();
    assert!(
        lines[line_of(&status.stdout, &version.to_string())].contains("failed"),
        "{status}"
    );
    let value = project.run(&["status", "--format", "json"]).code(5).json();
    assert_eq!(value["entries"][0]["state"], "failed", "{value}");

    // Nothing else runs until the failure is dealt with.
    project
        .run(&["up"])
        .code(5)
        .stderr_has("statement 2 of 3")
        .stderr_has(&resume_hint);

    // A resume with an edited committed statement is rejected.
    project.write_up(
        version,
        name,
        &format!("CREATE TABLE first_t (id BIGINT PRIMARY KEY);\n{fixed}{third}"),
    );
    project
        .run(&["resume", &version.to_string()])
        .code(1)
        .stderr_has("were edited");

    project.write_up(version, name, &format!("{first}{fixed}{third}"));
    project
        .run(&["resume", &version.to_string()])
        .code(0)
        .stdout_has(&format!("applied {version} {name}"));
    assert_eq!(tables("'first_t', 'second_t', 'third_t'"), 3);
    project.run(&["status"]).code(0);
    project.run(&["verify"]).code(0);
    project
        .run(&["resume", &version.to_string()])
        .code(1)
        .stderr_has("is not failed");

    project
        .run(&["down"])
        .code(0)
        .stdout_has(&format!("reverted {version} {name}"));
    assert_eq!(tables("'first_t', 'second_t', 'third_t'"), 0);
    project.run(&["status"]).code(3);
}

#[test]
fn mariadb_failed_migration_resolved_by_hand() {
    let db = ServerDb::mariadb("resolve");
    let project = Project::with_url(&db.url);
    let version = project.add_migration(
        "two_steps",
        "CREATE TABLE kept_t (id INT PRIMARY KEY);\nINSERT INTO missing_t VALUES (1);\n",
        "DROP TABLE kept_t;\n",
    );
    project.run(&["up"]).code(5).stderr_has("statement 2 of 2");
    project
        .run(&[
            "resolve",
            &version.to_string(),
            "--note",
            "dropped the insert",
        ])
        .code(0)
        .stdout_has(&format!("marked migration {version} as resolved"));
    let value = project.run(&["status", "--format", "json"]).code(0).json();
    assert_eq!(value["entries"][0]["state"], "resolved", "{value}");
    project.run(&["up"]).code(0).stdout_has("nothing to do");
}

// ---------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------

#[test]
fn postgres_up_and_status() {
    let db = ServerDb::postgres("session");
    let project = Project::with_url(&db.url);
    let users = project.add_migration(
        "create_users",
        "CREATE TABLE users (id BIGINT PRIMARY KEY, name TEXT NOT NULL);\n\
         CREATE INDEX users_name ON users (name);\n",
        USERS_DOWN,
    );

    project.run(&["status"]).code(3).stdout_has("pending");
    let plan = project.run(&["plan"]);
    plan.code(0);
    assert!(
        line_of(&plan.stdout, "BEGIN;") < line_of(&plan.stdout, "COMMIT;"),
        "{plan}"
    );
    project
        .run(&["up"])
        .code(0)
        .stdout_has(&format!("applied {users} create_users"));
    let status = project.run(&["status"]);
    status.code(0).stdout_has("applied");
    let value = project.run(&["status", "--format", "json"]).code(0).json();
    assert_eq!(value["entries"][0]["version"], users, "{value}");
    assert_eq!(value["entries"][0]["state"], "applied", "{value}");
    assert_eq!(value["entries"][0]["checksum_matches"], true, "{value}");
    assert_eq!(
        scalar(&db.url, "SELECT COUNT(*) FROM users"),
        0,
        "the users table is missing"
    );
    project
        .run(&["down"])
        .code(0)
        .stdout_has(&format!("reverted {users} create_users"));
    project.run(&["status"]).code(3);
}
