//! The `compare` workload: covet side by side with raw sqlx, SeaORM and Diesel on the schema
//! of Diesel's public benchmark suite (users, posts, comments), on SQLite, PostgreSQL and
//! MariaDB. Every library takes its turn once per workload in each round, in an order that
//! rotates from round to round, and the report shows each library's median.

mod covet_lib;
#[cfg(feature = "peers")]
mod diesel_lib;
mod fixture;
mod report;
#[cfg(feature = "peers")]
mod seaorm_lib;
mod sqlx_lib;

use std::fmt;
use std::time::Duration;

use fixture::{Backend, Fixture, Scratch};

/// How many primary-key lookups each of the concurrent tasks makes per sample.
const TASKS: usize = 64;
/// The connections shared by the concurrent tasks, and the size of every pool.
const CONNECTIONS: usize = 8;
/// Quick mode runs this fraction of each sample's operations.
const QUICK_DIVISOR: usize = 5;
/// Rounds of a full run: every library takes one sample of every workload per round.
const FULL_ROUNDS: usize = 11;
/// Rounds of a quick run.
const QUICK_ROUNDS: usize = 3;

/// `CONNECTIONS` as the pools' builders take it.
fn pool_size() -> u32 {
    u32::try_from(CONNECTIONS).unwrap_or(u32::MAX)
}

/// One measured operation. The numbers are table sizes or row counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Select all users into structs, with this many rows in the table.
    SelectAll(usize),
    /// Select one user by primary key, through the pool where the library has one.
    PkSelect,
    /// `TASKS` tasks on `CONNECTIONS` connections doing primary-key lookups.
    Concurrent,
    /// Pool checkout and release by one task.
    CheckoutUncontended,
    /// Pool checkout and release by `TASKS` tasks sharing `CONNECTIONS` connections.
    CheckoutContended,
    /// Users left join posts, filtered on hair color, with this many users.
    Join(usize),
    /// 100 users, each with 10 posts, each with 10 comments, loaded as a tree.
    Eager,
    /// Insert this many users in one statement, or in bulk for 10,000.
    Insert(usize),
}

impl Workload {
    fn all() -> Vec<Workload> {
        vec![
            Workload::SelectAll(1),
            Workload::SelectAll(100),
            Workload::SelectAll(10_000),
            Workload::PkSelect,
            Workload::Concurrent,
            Workload::CheckoutUncontended,
            Workload::CheckoutContended,
            Workload::Join(100),
            Workload::Join(10_000),
            Workload::Eager,
            Workload::Insert(1),
            Workload::Insert(100),
            Workload::Insert(10_000),
        ]
    }

    /// Returns the name `--workload` selects it by, one name for every size.
    fn key(self) -> &'static str {
        match self {
            Workload::SelectAll(_) => "select-all",
            Workload::PkSelect => "pk",
            Workload::Concurrent => "concurrent",
            Workload::CheckoutUncontended | Workload::CheckoutContended => "checkout",
            Workload::Join(_) => "join",
            Workload::Eager => "eager",
            Workload::Insert(_) => "insert",
        }
    }

    /// Returns the table contents the workload reads, or `Empty` for the inserts.
    fn fixture(self) -> Fixture {
        match self {
            Workload::SelectAll(rows) => Fixture::Users(rows),
            Workload::PkSelect
            | Workload::Concurrent
            | Workload::CheckoutUncontended
            | Workload::CheckoutContended => Fixture::Users(fixture::LOOKUP_USERS),
            Workload::Join(users) => Fixture::UsersWithPosts(users),
            Workload::Eager => Fixture::Tree,
            Workload::Insert(_) => Fixture::Empty,
        }
    }

    /// Operations per sample in a full run; quick mode divides them.
    fn iterations(self) -> usize {
        match self {
            Workload::SelectAll(1) | Workload::PkSelect => 1_000,
            Workload::SelectAll(100) => 200,
            Workload::SelectAll(_) => 5,
            Workload::Concurrent => 50,
            Workload::CheckoutUncontended => 5_000,
            Workload::CheckoutContended => 100,
            Workload::Join(100) => 200,
            Workload::Join(_) => 5,
            Workload::Eager => 10,
            Workload::Insert(1) => 200,
            Workload::Insert(100) => 50,
            Workload::Insert(_) => 2,
        }
    }

    /// Operations one sample counts: the concurrent workloads run `iterations` per task.
    fn operations(self, iterations: usize) -> usize {
        match self {
            Workload::Concurrent | Workload::CheckoutContended => iterations * TASKS,
            _ => iterations,
        }
    }

    /// Returns whether the table shows throughput rather than time per operation.
    fn is_throughput(self) -> bool {
        self == Workload::Concurrent
    }

    /// Returns whether the ratio column compares with sqlx's pool, because the workload
    /// needs one.
    fn pool_baseline(self) -> bool {
        matches!(
            self,
            Workload::Concurrent | Workload::CheckoutUncontended | Workload::CheckoutContended
        )
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workload::SelectAll(1) => f.write_str("select all, 1 row"),
            Workload::SelectAll(rows) => write!(f, "select all, {} rows", report::count(*rows)),
            Workload::PkSelect => f.write_str("select one by primary key"),
            Workload::Concurrent => write!(
                f,
                "{TASKS} tasks on {CONNECTIONS} connections, primary-key lookups (queries/s)"
            ),
            Workload::CheckoutUncontended => f.write_str("pool checkout + release, 1 task"),
            Workload::CheckoutContended => write!(
                f,
                "pool checkout + release, {TASKS} tasks on {CONNECTIONS} connections"
            ),
            Workload::Join(users) => write!(
                f,
                "users left join posts, hair_color filter, {} users",
                report::count(*users)
            ),
            Workload::Eager => f.write_str("eager load 100 users / 1,000 posts / 10,000 comments"),
            Workload::Insert(1) => f.write_str("insert 1 user"),
            Workload::Insert(10_000) => f.write_str("insert 10,000 users in bulk"),
            Workload::Insert(rows) => {
                write!(f, "insert {} users in one statement", report::count(*rows))
            }
        }
    }
}

/// The result of one library's sample.
pub(crate) enum Outcome {
    /// The sample's wall-clock time.
    Time(Duration),
    /// The library has no way to do this workload, for the reason given.
    Unsupported(&'static str),
}

/// The libraries under test; SeaORM and Diesel only with the `peers` feature.
pub(crate) enum Subject {
    Covet(covet_lib::Covet),
    SqlxConnection(sqlx_lib::Sqlx),
    SqlxPool(sqlx_lib::Sqlx),
    #[cfg(feature = "peers")]
    SeaOrm(seaorm_lib::SeaOrm),
    #[cfg(feature = "peers")]
    Diesel(diesel_lib::Diesel),
}

impl Subject {
    /// Returns the name `--library` selects it by.
    fn key(&self) -> &'static str {
        match self {
            Subject::Covet(_) => "covet",
            Subject::SqlxConnection(_) => "sqlx",
            Subject::SqlxPool(_) => "sqlx-pool",
            #[cfg(feature = "peers")]
            Subject::SeaOrm(_) => "seaorm",
            #[cfg(feature = "peers")]
            Subject::Diesel(_) => "diesel",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Subject::Covet(_) => "covet",
            Subject::SqlxConnection(_) => "sqlx, 1 connection",
            Subject::SqlxPool(_) => "sqlx Pool",
            #[cfg(feature = "peers")]
            Subject::SeaOrm(_) => "SeaORM",
            #[cfg(feature = "peers")]
            Subject::Diesel(_) => "Diesel (sync)",
        }
    }

    async fn run(&mut self, workload: Workload, iterations: usize) -> Result<Outcome, String> {
        match self {
            Subject::Covet(subject) => subject.run(workload, iterations).await,
            Subject::SqlxConnection(subject) => subject.run(workload, iterations).await,
            Subject::SqlxPool(subject) => subject.run(workload, iterations).await,
            #[cfg(feature = "peers")]
            Subject::SeaOrm(subject) => subject.run(workload, iterations).await,
            #[cfg(feature = "peers")]
            Subject::Diesel(subject) => subject.run(workload, iterations).await,
        }
    }
}

/// The command line of `compare`.
#[derive(Debug)]
struct Options {
    quick: bool,
    backends: Vec<Backend>,
    output: Option<String>,
    /// Library keys to run (`Subject::key`); empty runs all.
    libraries: Vec<String>,
    /// Workload keys to run (`Workload::key`); empty runs all.
    workloads: Vec<String>,
}

const LIBRARY_KEYS: [&str; 5] = ["covet", "sqlx", "sqlx-pool", "seaorm", "diesel"];
const WORKLOAD_KEYS: [&str; 7] = [
    "select-all",
    "pk",
    "concurrent",
    "checkout",
    "join",
    "eager",
    "insert",
];

fn parse(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        backends: Vec::new(),
        output: None,
        libraries: Vec::new(),
        workloads: Vec::new(),
    };
    let mut rest = arguments.iter();
    while let Some(argument) = rest.next() {
        match argument.as_str() {
            "compare" => {}
            "--quick" => options.quick = true,
            "--backend" => {
                let value = rest.next().ok_or(
                    "`--backend` needs a value: sqlite, postgres or mysql (repeat it for more)",
                )?;
                options.backends.push(Backend::parse(value)?);
            }
            "--output" => {
                let value = rest
                    .next()
                    .ok_or("`--output` needs a file name, such as `bench-results.md`")?;
                options.output = Some(value.clone());
            }
            "--library" => {
                let value = rest.next().map(String::as_str).unwrap_or_default();
                if !LIBRARY_KEYS.contains(&value) {
                    return Err(format!(
                        "unknown library `{value}` for `--library`; use one of {}",
                        LIBRARY_KEYS.join(", ")
                    ));
                }
                options.libraries.push(value.to_owned());
            }
            "--workload" => {
                let value = rest.next().map(String::as_str).unwrap_or_default();
                if !WORKLOAD_KEYS.contains(&value) {
                    return Err(format!(
                        "unknown workload `{value}` for `--workload`; use one of {}",
                        WORKLOAD_KEYS.join(", ")
                    ));
                }
                options.workloads.push(value.to_owned());
            }
            other => {
                return Err(format!(
                    "unknown argument `{other}` for `compare`; it takes --quick, \
                     --backend sqlite|postgres|mysql, --library NAME, --workload NAME and \
                     --output FILE"
                ));
            }
        }
    }
    if options.backends.is_empty() {
        options.backends = vec![Backend::Sqlite, Backend::Postgres, Backend::Mysql];
    }
    Ok(options)
}

/// Runs `compare` with the command line `arguments` (the workload name included) and
/// prints the report; exits with status 2 on bad arguments and 1 on a failed run.
pub(crate) async fn main(arguments: &[String]) {
    let options = match parse(arguments) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let owned = arguments.to_vec();
    // Run on a runtime worker, as a server's request handlers do, rather than on the thread
    // that blocks on the runtime, so that no library pays for wake-ups across threads.
    let (options, outcome) = match tokio::spawn(async move {
        let outcome = run(&options, &owned).await;
        (options, outcome)
    })
    .await
    {
        Ok(done) => done,
        Err(error) => {
            eprintln!("error: the benchmark task failed: {error}");
            std::process::exit(1);
        }
    };
    match outcome {
        Ok(markdown) => {
            if let Some(path) = &options.output {
                if let Err(error) = std::fs::write(path, &markdown) {
                    eprintln!("error: cannot write the results to `{path}`: {error}");
                    std::process::exit(1);
                }
                eprintln!("results written to {path}");
            }
        }
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(1);
        }
    }
}

async fn run(options: &Options, arguments: &[String]) -> Result<String, String> {
    let mut markdown = report::header(options.quick, arguments);
    print!("{markdown}");
    for &backend in &options.backends {
        let section = run_backend(backend, options).await?;
        print!("{section}");
        markdown.push_str(&section);
    }
    Ok(markdown)
}

/// The measured medians of one backend, per workload and library.
pub(crate) struct Results {
    pub(crate) libraries: Vec<&'static str>,
    /// `(workload, operations per sample, one cell per library)`.
    pub(crate) rows: Vec<(Workload, usize, Vec<Cell>)>,
}

/// One library's result on one workload.
#[derive(Clone, Debug)]
pub(crate) enum Cell {
    Median(Duration),
    Unsupported(&'static str),
    Failed(String),
}

async fn run_backend(backend: Backend, options: &Options) -> Result<String, String> {
    let quick = options.quick;
    eprintln!("== {backend}: creating a scratch database");
    let scratch = Scratch::create(backend).await?;
    let outcome = measure(&scratch, options).await;
    let dropped = scratch.drop_database().await;
    let results = outcome?;
    dropped?;
    let mut section = report::section(backend, &results);
    let concurrent = results
        .rows
        .iter()
        .any(|(workload, _, _)| *workload == Workload::Concurrent);
    if backend == Backend::Postgres && concurrent {
        let seconds = if quick { 5 } else { 15 };
        section.push_str(&report::pgbench(seconds, &results).await);
    }
    Ok(section)
}

async fn measure(scratch: &Scratch, options: &Options) -> Result<Results, String> {
    let quick = options.quick;
    let mut subjects = vec![
        Subject::Covet(covet_lib::Covet::connect(scratch).await?),
        Subject::SqlxConnection(sqlx_lib::Sqlx::connect(scratch, false).await?),
        Subject::SqlxPool(sqlx_lib::Sqlx::connect(scratch, true).await?),
    ];
    #[cfg(feature = "peers")]
    {
        subjects.push(Subject::SeaOrm(seaorm_lib::SeaOrm::connect(scratch).await?));
        subjects.push(Subject::Diesel(diesel_lib::Diesel::connect(scratch)?));
    }
    if !options.libraries.is_empty() {
        subjects.retain(|subject| options.libraries.iter().any(|key| key == subject.key()));
    }
    if subjects.is_empty() {
        return Err(
            "`--library` picked no library of this build; SeaORM and Diesel need \
                    `--features peers`"
                .to_owned(),
        );
    }
    let libraries: Vec<&'static str> = subjects.iter().map(Subject::name).collect();
    let rounds = if quick { QUICK_ROUNDS } else { FULL_ROUNDS };
    let mut workloads = Workload::all();
    if !options.workloads.is_empty() {
        workloads.retain(|workload| options.workloads.iter().any(|key| key == workload.key()));
    }
    let mut samples: Vec<Vec<Vec<Duration>>> =
        vec![vec![Vec::new(); subjects.len()]; workloads.len()];
    let mut cells: Vec<Vec<Option<Cell>>> = vec![vec![None; subjects.len()]; workloads.len()];
    let mut current = None;
    for round in 0..rounds {
        eprintln!("   {}: round {} of {rounds}", scratch.backend, round + 1);
        for (workload_index, &workload) in workloads.iter().enumerate() {
            let iterations = if quick {
                (workload.iterations() / QUICK_DIVISOR).max(1)
            } else {
                workload.iterations()
            };
            for offset in 0..subjects.len() {
                let index = (offset + round) % subjects.len();
                if cells[workload_index][index].is_some() {
                    continue;
                }
                let wanted = workload.fixture();
                if current != Some(wanted) || wanted == Fixture::Empty {
                    scratch.load(wanted).await?;
                    current = Some(wanted);
                }
                match subjects[index].run(workload, iterations).await {
                    Ok(Outcome::Time(time)) => samples[workload_index][index].push(time),
                    Ok(Outcome::Unsupported(why)) => {
                        cells[workload_index][index] = Some(Cell::Unsupported(why));
                    }
                    Err(message) => {
                        eprintln!(
                            "   {} failed on `{workload}`: {message}",
                            subjects[index].name()
                        );
                        cells[workload_index][index] = Some(Cell::Failed(message));
                    }
                }
            }
        }
    }
    let rows = workloads
        .iter()
        .enumerate()
        .map(|(workload_index, &workload)| {
            let iterations = if quick {
                (workload.iterations() / QUICK_DIVISOR).max(1)
            } else {
                workload.iterations()
            };
            let row = (0..subjects.len())
                .map(|index| {
                    cells[workload_index][index].clone().unwrap_or_else(|| {
                        Cell::Median(median(&mut samples[workload_index][index]))
                    })
                })
                .collect();
            (workload, workload.operations(iterations), row)
        })
        .collect();
    for subject in &subjects {
        if let Subject::Covet(covet) = subject {
            covet.close();
        }
    }
    drop(subjects);
    Ok(Results { libraries, rows })
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parse_defaults_to_every_backend_in_full_mode() {
        let options = parse(&arguments("compare")).expect("valid arguments");
        assert!(!options.quick);
        assert_eq!(
            options.backends,
            vec![Backend::Sqlite, Backend::Postgres, Backend::Mysql]
        );
        assert_eq!(options.output, None);
    }

    #[test]
    fn parse_reads_quick_backends_and_output() {
        let options = parse(&arguments(
            "compare --quick --backend mariadb --backend sqlite --output out.md",
        ))
        .expect("valid arguments");
        assert!(options.quick);
        assert_eq!(options.backends, vec![Backend::Mysql, Backend::Sqlite]);
        assert_eq!(options.output.as_deref(), Some("out.md"));
    }

    #[test]
    fn parse_rejects_an_unknown_backend_by_name() {
        let message = parse(&arguments("compare --backend oracle")).expect_err("oracle");
        assert!(message.contains("`oracle`"), "{message}");
        assert!(message.contains("--backend sqlite"), "{message}");
    }

    #[test]
    fn parse_rejects_a_missing_value_and_unknown_flags() {
        let message = parse(&arguments("compare --backend")).expect_err("no value");
        assert!(message.contains("sqlite, postgres or mysql"), "{message}");
        let message = parse(&arguments("compare --rounds 3")).expect_err("unknown flag");
        assert!(message.contains("`--rounds`"), "{message}");
    }

    #[test]
    fn parse_reads_and_checks_library_and_workload_filters() {
        let options =
            parse(&arguments("compare --library covet --workload pk")).expect("valid arguments");
        assert_eq!(options.libraries, vec!["covet"]);
        assert_eq!(options.workloads, vec!["pk"]);
        let message = parse(&arguments("compare --library hibernate")).expect_err("unknown");
        assert!(
            message.contains("`hibernate`") && message.contains("seaorm"),
            "{message}"
        );
        let message = parse(&arguments("compare --workload")).expect_err("no value");
        assert!(message.contains("select-all"), "{message}");
    }

    #[test]
    fn every_workload_has_a_selectable_key() {
        for workload in Workload::all() {
            assert!(WORKLOAD_KEYS.contains(&workload.key()), "{workload}");
        }
    }

    #[test]
    fn median_takes_the_middle_sample() {
        let mut samples = [5, 1, 4, 2, 3].map(Duration::from_millis);
        assert_eq!(median(&mut samples), Duration::from_millis(3));
        assert_eq!(median(&mut []), Duration::ZERO);
    }

    #[test]
    fn concurrent_workloads_count_every_task() {
        assert_eq!(Workload::Concurrent.operations(10), 10 * TASKS);
        assert_eq!(Workload::CheckoutContended.operations(10), 10 * TASKS);
        assert_eq!(Workload::PkSelect.operations(10), 10);
    }
}
