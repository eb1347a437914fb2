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

    /// The table contents the workload reads, or `Empty` for the inserts.
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

    /// Whether the table shows throughput rather than time per operation.
    fn is_throughput(self) -> bool {
        self == Workload::Concurrent
    }

    /// Whether the ratio column compares with sqlx's pool: these workloads need one.
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

/// What one library did with one sample.
pub(crate) enum Outcome {
    /// The sample's wall-clock time.
    Time(Duration),
    /// The library has no way to do this workload; the text says why.
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
}

fn parse(arguments: &[String]) -> Result<Options, String> {
    let mut options = Options {
        quick: false,
        backends: Vec::new(),
        output: None,
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
            other => {
                return Err(format!(
                    "unknown argument `{other}` for `compare`; it takes --quick, \
                     --backend sqlite|postgres|mysql and --output FILE"
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
    match run(&options, arguments).await {
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
        let section = run_backend(backend, options.quick).await?;
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

async fn run_backend(backend: Backend, quick: bool) -> Result<String, String> {
    eprintln!("== {backend}: creating a scratch database");
    let scratch = Scratch::create(backend).await?;
    let outcome = measure(&scratch, quick).await;
    let dropped = scratch.drop_database().await;
    let results = outcome?;
    dropped?;
    let mut section = report::section(backend, &results);
    if backend == Backend::Postgres {
        let seconds = if quick { 3 } else { 15 };
        section.push_str(&report::pgbench(seconds, &results).await);
    }
    Ok(section)
}

async fn measure(scratch: &Scratch, quick: bool) -> Result<Results, String> {
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
    let libraries: Vec<&'static str> = subjects.iter().map(Subject::name).collect();
    let rounds = if quick { 3 } else { 7 };
    let workloads = Workload::all();
    let mut samples: Vec<Vec<Vec<Duration>>> =
        vec![vec![Vec::new(); subjects.len()]; workloads.len()];
    let mut cells: Vec<Vec<Option<Cell>>> = vec![vec![None; subjects.len()]; workloads.len()];
    let mut current = None;
    for round in 0..rounds {
        eprintln!("   {}: round {} of {rounds}", scratch.backend, round + 1);
        for (workload_index, &workload) in workloads.iter().enumerate() {
            let iterations = if quick {
                (workload.iterations() / 10).max(1)
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
                (workload.iterations() / 10).max(1)
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
