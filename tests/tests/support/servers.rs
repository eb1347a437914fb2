//! Private PostgreSQL and MariaDB servers that a test may stop, kill and start again.
//!
//! [`Server::start`] creates a fresh instance in its own temporary directory, listening
//! only on a spare port of 127.0.0.1. The returned [`Server`] is a guard: dropping it stops
//! the instance and deletes the directory, also when the test panics. The shared servers
//! on ports 5432 and 3306 are never touched.
//!
//! PostgreSQL runs as the `postgres` OS user, because initdb rejects root, and is started
//! and stopped with pg_ctl. MariaDB runs as a child process of the test. Both need the test
//! to run as root. Where a server binary, the `postgres` user or root is missing, `start`
//! prints a notice and returns `None`, unless `COVET_REQUIRE_ALL_BACKENDS=1` is set, in
//! which case it panics.
//!
//! [`Server::start_standby`] copies a private PostgreSQL server with `pg_basebackup -R`
//! into a hot standby that streams and replays its WAL, for read replica tests. It also
//! needs `pg_basebackup` from the same directory as `initdb`.
//!
//! The async methods run their blocking commands on tokio's blocking pool, so queries on
//! the runtime's workers keep running meanwhile.

use std::fmt::Write as _;
use std::fs::{self, OpenOptions};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use covet::{ConnectOptions, Database};

/// Returns where Debian's postgresql package installs initdb, pg_ctl and postgres:
/// `/usr/lib/postgresql/<major>/bin`, for the newest major version installed.
fn postgres_bin() -> std::path::PathBuf {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .max()
        .unwrap_or(15);
    Path::new("/usr/lib/postgresql")
        .join(newest.to_string())
        .join("bin")
}
const MARIADBD: &str = "/usr/sbin/mariadbd";
const MARIADB_INSTALL_DB: &str = "/usr/bin/mariadb-install-db";

/// MariaDB's redo log size. The default of 96 MiB would be most of the instance's disk use.
const MARIADB_LOG_FILE_SIZE: &str = "--innodb-log-file-size=8M";
const MARIADB_BUFFER_POOL_SIZE: &str = "--innodb-buffer-pool-size=16M";

/// How long a start or a stop may take before the helper gives up.
const SERVER_TIMEOUT: Duration = Duration::from_secs(30);

/// The server software of a private instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerKind {
    Postgres,
    MariaDb,
}

impl ServerKind {
    fn name(self) -> &'static str {
        match self {
            ServerKind::Postgres => "PostgreSQL",
            ServerKind::MariaDb => "MariaDB",
        }
    }
}

/// A private server instance. Dropping it stops the server and deletes its directory.
#[derive(Debug)]
pub struct Server {
    kind: ServerKind,
    port: u16,
    /// The temporary directory, with the data directory and the server log inside.
    directory: PathBuf,
    /// The mariadbd process. PostgreSQL's postmaster is found through its pid file.
    child: Option<Child>,
    /// Options added to the server's command line on every start.
    server_args: Vec<String>,
}

fn required() -> bool {
    std::env::var("COVET_REQUIRE_ALL_BACKENDS").is_ok_and(|value| value == "1")
}

/// Returns why a private instance of `kind` cannot run here, or `None` when it can.
fn unavailable_reason(kind: ServerKind) -> Option<String> {
    let binaries: Vec<PathBuf> = match kind {
        ServerKind::Postgres => ["initdb", "pg_ctl", "postgres"]
            .iter()
            .map(|program| postgres_bin().join(program))
            .collect(),
        ServerKind::MariaDb => vec![PathBuf::from(MARIADBD), PathBuf::from(MARIADB_INSTALL_DB)],
    };
    for path in binaries {
        if !path.exists() {
            return Some(format!("{} is missing", path.display()));
        }
    }
    match command_stdout(Command::new("id").arg("-u")) {
        Ok(uid) if uid == "0" => {}
        Ok(uid) => return Some(format!("the test runs as uid {uid}, not as root")),
        Err(error) => return Some(error),
    }
    if kind == ServerKind::Postgres
        && let Err(error) = command_stdout(Command::new("id").arg("-u").arg("postgres"))
    {
        return Some(format!("the postgres OS user is missing: {error}"));
    }
    None
}

/// Returns an unused TCP port of 127.0.0.1. Another process could take it before the
/// server binds it, but on a test machine that is unlikely.
fn spare_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a spare port on 127.0.0.1");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// Formats a command as it would be typed in a shell, for error messages.
fn command_line(command: &Command) -> String {
    let mut line = command.get_program().to_string_lossy().into_owned();
    for argument in command.get_args() {
        let argument = argument.to_string_lossy();
        if argument.contains(' ') {
            let _ = write!(line, " '{argument}'");
        } else {
            let _ = write!(line, " {argument}");
        }
    }
    line
}

/// Runs `command` to completion and returns an error naming the command line, the exit
/// status and the output when it fails.
fn run(command: &mut Command) -> Result<String, String> {
    let line = command_line(command);
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|error| format!("`{line}` could not be started: {error}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        return Ok(stdout.into_owned());
    }
    Err(format!(
        "`{line}` failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    ))
}

fn command_stdout(command: &mut Command) -> Result<String, String> {
    run(command).map(|stdout| stdout.trim().to_owned())
}

/// Runs `command` as the `postgres` OS user.
fn as_postgres(program: &str) -> Command {
    let mut command = Command::new("runuser");
    command
        .args(["-u", "postgres", "--"])
        .arg(postgres_bin().join(program));
    command
}

/// Returns the last lines of a server log, for messages about a failed start.
fn log_tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(20);
    lines[start..].join("\n")
}

/// Runs a blocking closure on tokio's blocking pool and returns its result, resuming its
/// panic if it panicked.
async fn blocking<T, F>(work: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(error) => match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("a blocking server command was cancelled: {error}"),
        },
    }
}

/// Returns whether process `pid` still runs, counting a zombie as stopped.
fn process_running(pid: u32) -> bool {
    let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return false;
    };
    !status
        .lines()
        .any(|line| line.starts_with("State:") && line.contains("zombie"))
}

/// Returns the processes whose parent is `parent`.
fn child_processes(parent: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The fields after the command name, which is in brackets and may contain spaces,
        // are the state and then the parent's pid.
        let after_name = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or_default();
        let parent_pid = after_name.split_whitespace().nth(1);
        if parent_pid.and_then(|text| text.parse::<u32>().ok()) == Some(parent) {
            children.push(pid);
        }
    }
    children
}

/// Sends `signal` (such as `TERM` or `KILL`) to process `pid` with the kill command.
fn send_signal(pid: u32, signal: &str) -> Result<(), String> {
    run(Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string()))
    .map(drop)
}

/// Waits up to `timeout` until `done` returns true.
fn wait_until(timeout: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `timeout` for a child process to exit and reaps it.
fn wait_for_exit(child: &mut Child, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() >= deadline => {
                return Err(format!(
                    "process {} did not exit within {timeout:?}",
                    child.id()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(error) => return Err(format!("waiting for process {}: {error}", child.id())),
        }
    }
}

impl Server {
    /// Creates, starts and waits for a private instance of `kind`. Returns `None`, after
    /// printing why, when this machine cannot run one and `COVET_REQUIRE_ALL_BACKENDS` is
    /// not `1`.
    ///
    /// # Panics
    ///
    /// When a command to create or start the instance fails, with its command line and
    /// output, and when the instance is unavailable but required.
    pub async fn start(kind: ServerKind) -> Option<Self> {
        Self::start_with(kind, &[]).await
    }

    /// Like [`start`](Self::start), with options added to the server's command line on
    /// every start: mariadbd options such as `--server-id=2`, or PostgreSQL ones such as
    /// `-c fsync=off`. A mariadbd option given here overrides the default it repeats.
    ///
    /// # Panics
    ///
    /// As for [`start`](Self::start).
    pub async fn start_with(kind: ServerKind, server_args: &[&str]) -> Option<Self> {
        if let Some(reason) = unavailable_reason(kind) {
            let name = kind.name();
            assert!(
                !required(),
                "a private {name} server is required but cannot run here: {reason}"
            );
            eprintln!(
                "NOTICE: skipping a test on a private {name} server: {reason}; set \
                 COVET_REQUIRE_ALL_BACKENDS=1 to fail instead"
            );
            return None;
        }
        let prefix = match kind {
            ServerKind::Postgres => "covet-pg-",
            ServerKind::MariaDb => "covet-mariadb-",
        };
        let directory = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .expect("create a temporary directory for the server")
            .keep();
        // From here on, dropping `server` removes the directory and stops whatever started.
        let mut server = Self {
            kind,
            port: spare_port(),
            directory,
            child: None,
            server_args: server_args.iter().map(|arg| (*arg).to_owned()).collect(),
        };
        let initialized = {
            let paths = server.clone_paths();
            blocking(move || paths.initialize()).await
        };
        if let Err(error) = initialized {
            panic!("creating a private {} server failed: {error}", kind.name());
        }
        if let Err(error) = server.start_again().await {
            panic!("starting a private {} server failed: {error}", kind.name());
        }
        Some(server)
    }

    /// Creates, starts and waits for a hot standby of the private PostgreSQL server
    /// `primary`: a copy taken with `pg_basebackup -R` that streams the primary's WAL and
    /// replays it, on a port of its own. Returns `None` like [`start`](Self::start).
    ///
    /// # Panics
    ///
    /// When `primary` is not PostgreSQL, when a command fails, and when the standby is
    /// unavailable but required.
    pub async fn start_standby(primary: &Server) -> Option<Self> {
        assert_eq!(
            primary.kind,
            ServerKind::Postgres,
            "only PostgreSQL servers get a standby here"
        );
        let basebackup = postgres_bin().join("pg_basebackup");
        let reason = unavailable_reason(ServerKind::Postgres).or_else(|| {
            (!basebackup.exists()).then(|| format!("{} is missing", basebackup.display()))
        });
        if let Some(reason) = reason {
            assert!(
                !required(),
                "a private PostgreSQL standby is required but cannot run here: {reason}"
            );
            eprintln!(
                "NOTICE: skipping a test on a private PostgreSQL standby: {reason}; set \
                 COVET_REQUIRE_ALL_BACKENDS=1 to fail instead"
            );
            return None;
        }
        let directory = tempfile::Builder::new()
            .prefix("covet-pg-standby-")
            .tempdir()
            .expect("create a temporary directory for the standby")
            .keep();
        let mut server = Self {
            kind: ServerKind::Postgres,
            port: spare_port(),
            directory,
            child: None,
            server_args: Vec::new(),
        };
        let copied = {
            let paths = server.clone_paths();
            let primary_port = primary.port;
            blocking(move || paths.copy_from_primary(primary_port)).await
        };
        if let Err(error) = copied {
            panic!("copying the primary for a PostgreSQL standby failed: {error}");
        }
        if let Err(error) = server.start_again().await {
            panic!("starting a PostgreSQL standby failed: {error}");
        }
        Some(server)
    }

    /// Returns the server's software.
    pub fn kind(&self) -> ServerKind {
        self.kind
    }

    /// Returns the port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Returns the URL of a database that exists on a fresh instance, for the user `root`
    /// without a password.
    pub fn url(&self) -> String {
        match self.kind {
            ServerKind::Postgres => format!("postgres://root@127.0.0.1:{}/postgres", self.port),
            ServerKind::MariaDb => format!("mysql://root@127.0.0.1:{}/mysql", self.port),
        }
    }

    /// Starts the stopped or killed server again on the same port and data directory, and
    /// waits until it accepts a TCP connection and completes a `SELECT 1`.
    ///
    /// # Errors
    ///
    /// A message naming the failed command and its output, or the end of the server log.
    pub async fn start_again(&mut self) -> Result<(), String> {
        let paths = self.clone_paths();
        let child = blocking(move || paths.launch()).await?;
        self.child = child;
        self.wait_until_ready().await
    }

    /// Stops the server gracefully: `pg_ctl stop -m fast` for PostgreSQL, SIGTERM for
    /// MariaDB. Returns once the server has exited.
    ///
    /// # Errors
    ///
    /// A message naming the failed command and its output.
    pub async fn stop(&mut self) -> Result<(), String> {
        let paths = self.clone_paths();
        let child = self.child.take();
        blocking(move || paths.stop(child)).await
    }

    /// Kills the server with SIGKILL, the PostgreSQL postmaster or mariadbd, and returns once
    /// it and, for PostgreSQL, the children it left behind are gone, so that it can start
    /// again on the same data directory.
    ///
    /// # Errors
    ///
    /// A message naming the failed command, or the process that did not go away.
    pub async fn kill(&mut self) -> Result<(), String> {
        let paths = self.clone_paths();
        let child = self.child.take();
        blocking(move || paths.kill(child)).await
    }

    async fn wait_until_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + SERVER_TIMEOUT;
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let options = ConnectOptions::new()
            .max_connections(1)
            .connect_timeout(Duration::from_secs(1))
            .acquire_timeout(Duration::from_secs(1));
        loop {
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!(
                    "mariadbd exited with {status} before it was ready; its log ends with:\n{}",
                    log_tail(&self.clone_paths().log())
                ));
            }
            let last_error = match TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
                Ok(_) => match Database::connect_with(&self.url(), options.clone()).await {
                    Ok(db) => {
                        let selected = covet::raw("SELECT 1").fetch_with(&db, |_| Ok(())).await;
                        db.close();
                        match selected {
                            Ok(_) => return Ok(()),
                            Err(error) => format!("SELECT 1 failed: {error}"),
                        }
                    }
                    Err(error) => format!("connecting failed: {error}"),
                },
                Err(error) => format!("TCP connect to {address} failed: {error}"),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "the {} server on port {} was not ready within {SERVER_TIMEOUT:?}: \
                     {last_error}; its log ends with:\n{}",
                    self.kind.name(),
                    self.port,
                    log_tail(&self.clone_paths().log())
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn clone_paths(&self) -> ServerPaths {
        ServerPaths {
            kind: self.kind,
            port: self.port,
            directory: self.directory.clone(),
            server_args: self.server_args.clone(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let paths = self.clone_paths();
        if let Err(error) = paths.shut_down(self.child.take()) {
            eprintln!(
                "stopping the private {} server in {} failed: {error}",
                self.kind.name(),
                self.directory.display()
            );
        }
        if let Err(error) = fs::remove_dir_all(&self.directory) {
            eprintln!(
                "removing the private server directory {} failed: {error}",
                self.directory.display()
            );
        }
    }
}

/// The facts the blocking commands need, copied out of a [`Server`] so that they can run
/// on another thread.
struct ServerPaths {
    kind: ServerKind,
    port: u16,
    directory: PathBuf,
    server_args: Vec<String>,
}

impl ServerPaths {
    fn data(&self) -> PathBuf {
        self.directory.join("data")
    }

    fn log(&self) -> PathBuf {
        match self.kind {
            ServerKind::Postgres => self.directory.join("postgres.log"),
            ServerKind::MariaDb => self.directory.join("mariadbd.log"),
        }
    }

    /// Gives the temporary directory to the `postgres` OS user, which runs the server.
    fn chown_to_postgres(&self) -> Result<(), String> {
        let uid = command_stdout(Command::new("id").args(["-u", "postgres"]))?;
        let gid = command_stdout(Command::new("id").args(["-g", "postgres"]))?;
        let uid = uid.parse().map_err(|_| format!("invalid uid `{uid}`"))?;
        let gid = gid.parse().map_err(|_| format!("invalid gid `{gid}`"))?;
        std::os::unix::fs::chown(&self.directory, Some(uid), Some(gid))
            .map_err(|error| format!("chown postgres {}: {error}", self.directory.display()))
    }

    /// Creates the data directory.
    fn initialize(&self) -> Result<(), String> {
        let data = self.data();
        match self.kind {
            ServerKind::Postgres => {
                self.chown_to_postgres()?;
                run(as_postgres("initdb")
                    .arg("-D")
                    .arg(&data)
                    .args(["--auth=trust", "--username=root"])
                    .current_dir(&self.directory))
                .map(drop)
            }
            ServerKind::MariaDb => run(Command::new(MARIADB_INSTALL_DB)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args([
                    "--user=root",
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    MARIADB_LOG_FILE_SIZE,
                    MARIADB_BUFFER_POOL_SIZE,
                ])
                .current_dir(&self.directory))
            .map(drop),
        }
    }

    /// Creates the data directory of a standby as a copy of the PostgreSQL primary on
    /// `primary_port`. `-R` writes `standby.signal` and the `primary_conninfo` to stream
    /// from, and `--checkpoint=fast` spares the wait for the next scheduled checkpoint.
    fn copy_from_primary(&self, primary_port: u16) -> Result<(), String> {
        self.chown_to_postgres()?;
        run(as_postgres("pg_basebackup")
            .arg("-D")
            .arg(self.data())
            .args(["-h", "127.0.0.1", "-p", &primary_port.to_string()])
            .args(["-U", "root", "-R", "-X", "stream", "--checkpoint=fast"])
            .arg("--no-sync")
            .current_dir(&self.directory))?;
        // The standby is deleted after the test, so it needs no durable writes. Without
        // fsync it also skips syncing the whole copy when it starts, which otherwise took
        // about 2 s of the start on a busy 2-core machine.
        let settings = self.data().join("postgresql.auto.conf");
        let mut file = OpenOptions::new()
            .append(true)
            .open(&settings)
            .map_err(|error| format!("open {}: {error}", settings.display()))?;
        std::io::Write::write_all(&mut file, b"fsync = off\n")
            .map_err(|error| format!("write {}: {error}", settings.display()))
    }

    /// Starts the server: pg_ctl waits until PostgreSQL accepts connections, while mariadbd
    /// is returned as a child that may still be starting.
    fn launch(&self) -> Result<Option<Child>, String> {
        let data = self.data();
        match self.kind {
            ServerKind::Postgres => {
                let mut options = format!(
                    "-p {} -k {} -c listen_addresses=127.0.0.1",
                    self.port,
                    data.display()
                );
                for arg in &self.server_args {
                    options.push(' ');
                    options.push_str(arg);
                }
                run(as_postgres("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(self.log())
                    .args(["-o", &options, "-w", "-t", "30", "start"]))
                .map_err(|error| {
                    format!(
                        "{error}\nthe server log ends with:\n{}",
                        log_tail(&self.log())
                    )
                })?;
                Ok(None)
            }
            ServerKind::MariaDb => {
                let log = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.log())
                    .map_err(|error| format!("open {}: {error}", self.log().display()))?;
                let log_for_stderr = log
                    .try_clone()
                    .map_err(|error| format!("duplicate the log file handle: {error}"))?;
                let mut command = Command::new(MARIADBD);
                command
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .arg(format!("--port={}", self.port))
                    .arg("--bind-address=127.0.0.1")
                    .arg(format!("--socket={}", data.join("mysqld.sock").display()))
                    .arg(format!("--pid-file={}", data.join("mysqld.pid").display()))
                    .args([
                        "--user=root",
                        "--skip-log-bin",
                        MARIADB_BUFFER_POOL_SIZE,
                        MARIADB_LOG_FILE_SIZE,
                    ])
                    .args(&self.server_args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::from(log))
                    .stderr(Stdio::from(log_for_stderr));
                let line = command_line(&command);
                let child = command
                    .spawn()
                    .map_err(|error| format!("`{line}` could not be started: {error}"))?;
                Ok(Some(child))
            }
        }
    }

    fn stop(&self, child: Option<Child>) -> Result<(), String> {
        match self.kind {
            ServerKind::Postgres => run(as_postgres("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-m", "fast", "-w", "-t", "30", "stop"]))
            .map(drop),
            ServerKind::MariaDb => {
                let mut child = child.ok_or("mariadbd is not running")?;
                send_signal(child.id(), "TERM")?;
                wait_for_exit(&mut child, SERVER_TIMEOUT)
            }
        }
    }

    fn kill(&self, child: Option<Child>) -> Result<(), String> {
        match self.kind {
            ServerKind::Postgres => {
                let postmaster = self
                    .postmaster_pid()
                    .ok_or("PostgreSQL is not running: postmaster.pid is missing")?;
                let children = child_processes(postmaster);
                send_signal(postmaster, "KILL")?;
                // pg_ctl exits after starting the postmaster, so its parent is PID 1 and this
                // process cannot reap it. PostgreSQL rejects a postmaster.pid naming a pid
                // that still exists, zombie included, so the restart waits until PID 1 has
                // reaped it (1.5 to 1.8 s in runs on the CI machine kind). The children exit
                // by themselves on postmaster death. The restart also waits for them, because
                // PostgreSQL rejects shared memory that a process still has attached.
                // NOTE: where PID 1 never reaps orphans, this wait times out.
                let exited = wait_until(SERVER_TIMEOUT, || {
                    !Path::new(&format!("/proc/{postmaster}")).exists()
                        && !children.iter().any(|pid| process_running(*pid))
                });
                if !exited {
                    return Err(format!(
                        "the killed postmaster {postmaster} or its children {children:?} were \
                         still present after {SERVER_TIMEOUT:?}"
                    ));
                }
                Ok(())
            }
            ServerKind::MariaDb => {
                let mut child = child.ok_or("mariadbd is not running")?;
                send_signal(child.id(), "KILL")?;
                wait_for_exit(&mut child, SERVER_TIMEOUT)
            }
        }
    }

    fn postmaster_pid(&self) -> Option<u32> {
        let text = fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Stops whatever still runs, for the guard's drop: a graceful stop first, then SIGKILL.
    fn shut_down(&self, child: Option<Child>) -> Result<(), String> {
        match self.kind {
            ServerKind::Postgres => {
                let Some(postmaster) = self.postmaster_pid() else {
                    return Ok(());
                };
                if !process_running(postmaster) {
                    return Ok(());
                }
                let stopped = self.stop(None);
                if stopped.is_err() && process_running(postmaster) {
                    send_signal(postmaster, "KILL")?;
                }
                stopped
            }
            ServerKind::MariaDb => {
                let Some(mut child) = child else {
                    return Ok(());
                };
                if matches!(child.try_wait(), Ok(Some(_))) {
                    return Ok(());
                }
                let stopped = send_signal(child.id(), "TERM")
                    .and_then(|()| wait_for_exit(&mut child, SERVER_TIMEOUT));
                if stopped.is_err() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                stopped
            }
        }
    }
}
