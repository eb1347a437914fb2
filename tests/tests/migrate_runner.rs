//! The migration runner of `covet-migrate` on real databases: checksums across line endings,
//! ordering, baselines, plans, reverts, Rust and embedded migrations, and the
//! backend-specific handling of statements that cannot run in a transaction (PostgreSQL)
//! and of migrations that fail partway (MariaDB).

mod support;

use std::future::Future;
use std::path::Path;

use async_trait::async_trait;
use covet::{ConnectOptions, Database, Model, Transaction};
use covet_migrate::{
    DEFAULT_HISTORY_TABLE, Done, DownTarget, EntryState, MigrateError, Migration, MigrationSet,
    Migrator, MigratorOptions, RustMigration, Status,
};
use support::{Backend, TestDb};

// ---------------------------------------------------------------------------
// Helpers

/// Wraps a runner error so that a test body can return it with `?`.
fn migrate_error(error: MigrateError) -> covet::Error {
    covet::Error::Driver(Box::new(error))
}

fn sql(version: i64, name: &str, up: &str, down: Option<&str>) -> Migration {
    Migration::sql(version, name, up, down).expect("valid migration source")
}

fn set(migrations: impl IntoIterator<Item = Migration>) -> MigrationSet {
    MigrationSet::new(migrations).expect("unique versions")
}

fn is_mysql(db: &Database) -> bool {
    matches!(db.backend().system_name(), "mysql" | "mariadb")
}

fn versions(done: &[Done]) -> Vec<i64> {
    done.iter().map(|done| done.version).collect()
}

fn state_of(status: &Status, version: i64) -> Option<EntryState> {
    status
        .entries
        .iter()
        .find(|entry| entry.version == version)
        .map(|entry| entry.state)
}

/// Returns the numbers that appear in `text`, such as the versions named by a warning.
fn numbers_in(text: &str) -> Vec<i64> {
    text.split(|c: char| !c.is_ascii_digit())
        .filter_map(|part| part.parse().ok())
        .collect()
}

/// Turns CRLF and lone CR into LF.
fn to_lf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// Writes migration files into a new temporary directory, removed when it is dropped.
fn write_migrations(files: &[(&str, Vec<u8>)]) -> tempfile::TempDir {
    let directory = tempfile::tempdir().expect("create a temporary directory");
    for (name, contents) in files {
        std::fs::write(directory.path().join(name), contents).expect("write a migration file");
    }
    directory
}

fn load(directory: &Path) -> MigrationSet {
    MigrationSet::from_dir(directory).expect("load the migration directory")
}

async fn table_exists(db: &Database, table: &str) -> covet::Result<bool> {
    let sql = match db.backend().system_name() {
        "postgresql" => {
            "SELECT COUNT(*) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = $1"
        }
        "mysql" | "mariadb" => {
            "SELECT COUNT(*) FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
        }
        _ => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    let count = covet::raw(sql)
        .bind(table.to_owned())
        .fetch_scalar::<i64, _>(db)
        .await?;
    Ok(count.unwrap_or(0) > 0)
}

async fn count_rows(db: &Database, table: &str) -> covet::Result<i64> {
    let count = covet::raw(format!("SELECT COUNT(*) FROM {table}"))
        .fetch_scalar::<i64, _>(db)
        .await?;
    Ok(count.unwrap_or(0))
}

/// Reads the versions recorded in a history table, in version order.
async fn recorded_versions(db: &Database, history_table: &str) -> covet::Result<Vec<i64>> {
    let mut recorded = Vec::new();
    covet::raw(format!(
        "SELECT version FROM {history_table} ORDER BY version"
    ))
    .fetch_with(db, |row| {
        recorded.push(row.read_i64(0)?.unwrap_or_default());
        Ok(())
    })
    .await?;
    Ok(recorded)
}

/// Reads the `note` column of a version's history row.
async fn history_note(db: &Database, version: i64) -> covet::Result<Option<String>> {
    let note = covet::raw(format!(
        "SELECT note FROM {DEFAULT_HISTORY_TABLE} WHERE version = {version}"
    ))
    .fetch_scalar::<Option<String>, _>(db)
    .await?;
    Ok(note.flatten())
}

/// Like `support::run`, with two fresh databases on the same server.
async fn run_pair<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(Database, Database) -> Fut,
    Fut: Future<Output = covet::Result<()>> + Send + 'static,
{
    let Some(first) = TestDb::create(backend, test, ConnectOptions::new()).await else {
        return;
    };
    let Some(second) = TestDb::create(backend, test, ConnectOptions::new()).await else {
        first.cleanup().await;
        return;
    };
    let outcome = tokio::spawn(body(first.db.clone(), second.db.clone())).await;
    first.cleanup().await;
    second.cleanup().await;
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("{test} failed on {backend:?}: {error} ({error:?})"),
        Err(join_error) => match join_error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(join_error) => panic!("{test} was cancelled on {backend:?}: {join_error}"),
        },
    }
}

// ---------------------------------------------------------------------------
// A Rust migration that writes rows through covet

#[derive(Model, Debug, Clone, PartialEq)]
#[covet(table = "rust_seeds")]
struct Seed {
    #[covet(primary_key)]
    id: i64,
    name: String,
}

const CREATE_SEEDS: &str =
    "CREATE TABLE rust_seeds (id BIGINT PRIMARY KEY, name VARCHAR(100) NOT NULL);";
const DROP_SEEDS: &str = "DROP TABLE rust_seeds;";

/// The way [`SeedMigration::up`] ends after inserting its rows.
#[derive(Clone, Copy, Debug)]
enum SeedEnding {
    Succeed,
    ReturnError,
    Panic,
}

/// A Rust migration that inserts one `rust_seeds` row per id, and whose `down` deletes them.
struct SeedMigration {
    version: i64,
    name: &'static str,
    ids: &'static [i64],
    ending: SeedEnding,
}

#[async_trait]
impl RustMigration for SeedMigration {
    fn version(&self) -> i64 {
        self.version
    }

    fn name(&self) -> &str {
        self.name
    }

    async fn up(&self, tx: &Transaction) -> covet::Result<()> {
        for &id in self.ids {
            let seed = Seed {
                id,
                name: format!("seed {id}"),
            };
            seed.insert(tx).await?;
        }
        match self.ending {
            SeedEnding::Succeed => Ok(()),
            SeedEnding::ReturnError => Err(covet::Error::InvalidInput(String::from(
                "the seed data is incomplete",
            ))),
            SeedEnding::Panic => panic!("the seed migration panicked on purpose"),
        }
    }

    fn has_down(&self) -> bool {
        true
    }

    async fn down(&self, tx: &Transaction) -> covet::Result<()> {
        for &id in self.ids {
            Seed::delete_by_key(tx, id).await?;
        }
        Ok(())
    }
}

fn seed_migration(version: i64, ids: &'static [i64], ending: SeedEnding) -> Migration {
    Migration::rust(SeedMigration {
        version,
        name: "seed_rows",
        ids,
        ending,
    })
}

async fn seed_ids(db: &Database) -> covet::Result<Vec<i64>> {
    let seeds = Seed::query().order_by_asc(Seed::ID).all(db).await?;
    Ok(seeds.into_iter().map(|seed| seed.id).collect())
}

// ---------------------------------------------------------------------------
// Every backend

/// A migration with a line comment inside a statement, which must end at the line break
/// whichever line ending the file uses.
const EOL_UP: &str = concat!(
    "-- Line endings and a byte order mark must not change the checksum.\n",
    "CREATE TABLE eol_notes (\n",
    "    id INTEGER PRIMARY KEY, -- the key\n",
    "    body VARCHAR(100) NOT NULL\n",
    ");\n",
    "INSERT INTO eol_notes (id, body) VALUES (1, 'keep; this text');\n",
);
const EOL_DOWN: &str = "DROP TABLE eol_notes;\n";
const EOL_UP_FILE: &str = "1_eol_notes.up.sql";
const EOL_DOWN_FILE: &str = "1_eol_notes.down.sql";

/// Writes the line-ending test migration with `\n` replaced by `newline`, after `prefix`.
fn eol_directory(prefix: &str, newline: &str) -> tempfile::TempDir {
    let encode = |text: &str| format!("{prefix}{}", text.replace('\n', newline)).into_bytes();
    write_migrations(&[
        (EOL_UP_FILE, encode(EOL_UP)),
        (EOL_DOWN_FILE, encode(EOL_DOWN)),
    ])
}

/// Writes the line-ending test migration once per way of saving it other than plain LF.
fn eol_copies() -> Vec<(&'static str, tempfile::TempDir)> {
    vec![
        ("CRLF", eol_directory("", "\r\n")),
        ("BOM with LF", eol_directory("\u{feff}", "\n")),
        ("BOM with CRLF", eol_directory("\u{feff}", "\r\n")),
        ("CR", eol_directory("", "\r")),
    ]
}

const PLAN_CREATE_ITEMS: &str = concat!(
    "CREATE TABLE plan_items (\n",
    "    id INTEGER PRIMARY KEY,\n",
    "    name VARCHAR(50) NOT NULL\n",
    ")",
);
const PLAN_INSERT_ITEM: &str = "INSERT INTO plan_items (id, name) VALUES (1, 'a; b')";

/// Builds migration 1, which creates `redo_items`, and migration 2, which creates `redo_log`
/// with one row and drops it when reverted.
fn redo_migrations() -> MigrationSet {
    set([
        sql(
            1,
            "create_items",
            "CREATE TABLE redo_items (id INTEGER PRIMARY KEY);",
            Some("DROP TABLE redo_items;"),
        ),
        sql(
            2,
            "create_log",
            "CREATE TABLE redo_log (id INTEGER PRIMARY KEY, note VARCHAR(50) NOT NULL);\n\
             INSERT INTO redo_log (id, note) VALUES (1, 'applied');",
            Some("DROP TABLE redo_log;"),
        ),
    ])
}

backend_tests! {
    async fn line_endings_keep_checksums(db) {
        let lf = eol_directory("", "\n");
        let variants = eol_copies();
        let lf_set = load(lf.path());
        let lf_checksum = lf_set
            .get(1)
            .expect("version 1 is loaded")
            .checksum()
            .to_owned();

        // Equal checksums, and the same statements once line breaks are normalized.
        let lf_plan = Migrator::new(lf_set.clone())
            .plan(&db, None)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            lf_plan.steps.len(),
            1,
            "one pending migration in the LF copy"
        );
        assert_eq!(
            lf_plan.steps[0].statements.len(),
            2,
            "the LF copy has two statements"
        );
        for (label, directory) in &variants {
            let loaded = load(directory.path());
            let migration = loaded.get(1).expect("version 1 is loaded");
            assert_eq!(migration.checksum(), lf_checksum, "{label} copy checksum");
            let plan = Migrator::new(loaded.clone())
                .plan(&db, None)
                .await
                .map_err(migrate_error)?;
            let statements: Vec<String> = plan.steps[0]
                .statements
                .iter()
                .map(|statement| to_lf(statement))
                .collect();
            assert_eq!(
                statements, lf_plan.steps[0].statements,
                "{label} copy statements"
            );
        }

        let report = Migrator::new(lf_set.clone())
            .up(&db, None)
            .await
            .map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1], "the LF copy applies");
        assert_eq!(
            count_rows(&db, "eol_notes").await?,
            1,
            "the seed row is inserted"
        );

        // The other copies match what was applied.
        for (label, directory) in &variants {
            let migrator = Migrator::new(load(directory.path()));
            let drift = migrator.verify(&db).await.map_err(migrate_error)?;
            assert!(
                drift.is_empty(),
                "verify with the {label} copy reports {drift:?}"
            );
            let status = migrator.status(&db).await.map_err(migrate_error)?;
            assert_eq!(
                status.entries[0].checksum_matches,
                Some(true),
                "status with the {label} copy"
            );
            let report = migrator.up(&db, None).await.map_err(migrate_error)?;
            assert!(
                report.applied.is_empty(),
                "up with the {label} copy applies nothing"
            );
        }

        // One character changed inside a string literal is drift.
        let edited_text = EOL_UP.replace("'keep; this text'", "'keep; this texT'");
        assert_ne!(edited_text, EOL_UP, "the edit changed the file");
        let edited = write_migrations(&[
            (EOL_UP_FILE, edited_text.into_bytes()),
            (EOL_DOWN_FILE, EOL_DOWN.as_bytes().to_vec()),
        ]);
        let edited_migrator = Migrator::new(load(edited.path()));
        let edited_checksum = edited_migrator
            .migrations()
            .get(1)
            .expect("version 1")
            .checksum()
            .to_owned();
        assert_ne!(
            edited_checksum, lf_checksum,
            "the edit changes the checksum"
        );
        let drift = edited_migrator.verify(&db).await.map_err(migrate_error)?;
        assert_eq!(
            drift.len(),
            1,
            "verify reports the edited migration: {drift:?}"
        );
        assert_eq!(drift[0].version, 1, "drift names version 1");
        assert_eq!(
            drift[0].recorded, lf_checksum,
            "drift shows the recorded checksum"
        );
        assert_eq!(
            drift[0].current, edited_checksum,
            "drift shows the file's checksum"
        );
        let status = edited_migrator.status(&db).await.map_err(migrate_error)?;
        assert!(status.has_drift(), "status shows the drift: {status}");

        let error = edited_migrator.up(&db, None).await.unwrap_err();
        let MigrateError::Drift { versions: drifted } = &error else {
            panic!("up with an edited migration returned {error:?}, expected Drift");
        };
        assert_eq!(drifted, &[1], "Drift names version 1");

        // Accepting the edit records the new checksum and the reason.
        let reason = "fixed the capitalization of the seed row";
        edited_migrator
            .accept(&db, 1, reason)
            .await
            .map_err(migrate_error)?;
        let drift = edited_migrator.verify(&db).await.map_err(migrate_error)?;
        assert!(drift.is_empty(), "verify after accept reports {drift:?}");
        let report = edited_migrator.up(&db, None).await.map_err(migrate_error)?;
        assert!(report.applied.is_empty(), "up after accept applies nothing");
        assert_eq!(
            history_note(&db, 1).await?.as_deref(),
            Some(reason),
            "accept stores the reason"
        );
        let drift = Migrator::new(lf_set)
            .verify(&db)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            drift.len(),
            1,
            "the original file now differs from the accepted checksum"
        );
        Ok(())
    }

    async fn line_ending_copies_apply(db) {
        // Each copy applies on a clean schema and is reverted before the next one.
        let mut copies = vec![("LF", eol_directory("", "\n"))];
        copies.extend(eol_copies());
        for (label, directory) in &copies {
            let migrator = Migrator::new(load(directory.path()));
            let applied = migrator.up(&db, None).await;
            assert!(
                applied.is_ok(),
                "the {label} copy applies: {:?}",
                applied.err()
            );
            let body = covet::raw("SELECT body FROM eol_notes WHERE id = 1")
                .fetch_scalar::<String, _>(&db)
                .await?;
            assert_eq!(
                body.as_deref(),
                Some("keep; this text"),
                "seed row of the {label} copy"
            );
            let report = migrator
                .down(&db, DownTarget::To(0))
                .await
                .map_err(migrate_error)?;
            assert_eq!(versions(&report.reverted), [1], "the {label} copy reverts");
            assert!(
                !table_exists(&db, "eol_notes").await?,
                "the {label} copy's down drops eol_notes"
            );
        }
        Ok(())
    }

    async fn out_of_order_applies_with_warning(db) {
        let first = || {
            sql(
                1,
                "create_first",
                "CREATE TABLE order_first (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE order_first;"),
            )
        };
        let second = || {
            sql(
                2,
                "create_second",
                "CREATE TABLE order_second (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE order_second;"),
            )
        };
        let third = || {
            sql(
                3,
                "create_third",
                "CREATE TABLE order_third (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE order_third;"),
            )
        };

        let report = Migrator::new(set([first(), third()]))
            .up(&db, None)
            .await
            .map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1, 3], "1 and 3 apply first");

        let all = set([first(), second(), third()]);
        let status = Migrator::new(all.clone())
            .status(&db)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::PendingOutOfOrder),
            "status marks 2 as out of order"
        );

        let strict =
            Migrator::with_options(all.clone(), MigratorOptions::default().strict_order(true));
        let error = strict.up(&db, None).await.unwrap_err();
        let MigrateError::OutOfOrder {
            pending,
            newest_applied,
        } = &error
        else {
            panic!("strict up returned {error:?}, expected OutOfOrder");
        };
        assert_eq!(*pending, 2, "OutOfOrder names the pending version");
        assert_eq!(
            *newest_applied, 3,
            "OutOfOrder names the newest applied version"
        );
        assert!(
            !table_exists(&db, "order_second").await?,
            "strict up applies nothing"
        );

        let migrator = Migrator::new(all);
        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [2], "default up applies 2");
        assert_eq!(
            report.warnings.len(),
            1,
            "one warning: {:?}",
            report.warnings
        );
        let named = numbers_in(&report.warnings[0]);
        assert!(
            named.contains(&2),
            "the warning names 2: {}",
            report.warnings[0]
        );
        assert!(
            named.contains(&3),
            "the warning names 3: {}",
            report.warnings[0]
        );
        assert!(
            table_exists(&db, "order_second").await?,
            "order_second exists after up"
        );

        // The last applied migration is 2, although 3 has the higher version.
        let report = migrator
            .down(&db, DownTarget::Steps(1))
            .await
            .map_err(migrate_error)?;
        assert_eq!(versions(&report.reverted), [2], "down one step reverts 2");
        assert!(
            !table_exists(&db, "order_second").await?,
            "order_second is dropped"
        );
        assert!(table_exists(&db, "order_third").await?, "order_third stays");
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 3),
            Some(EntryState::Applied),
            "3 stays applied"
        );
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::PendingOutOfOrder),
            "2 is pending again"
        );
        Ok(())
    }

    async fn baseline_skips_old_migrations(db) {
        // Migrations 1 and 2 fail if they run, because legacy_missing does not exist.
        let migrator = Migrator::new(set([
            sql(
                1,
                "legacy_users",
                "INSERT INTO legacy_missing (id) VALUES (1);",
                None,
            ),
            sql(
                2,
                "legacy_orders",
                "INSERT INTO legacy_missing (id) VALUES (2);",
                None,
            ),
            sql(
                3,
                "create_after",
                "CREATE TABLE baseline_after (id INTEGER PRIMARY KEY);",
                None,
            ),
        ]));
        assert!(
            !table_exists(&db, "legacy_missing").await?,
            "legacy_missing does not exist"
        );

        let report = migrator.baseline(&db, 2).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1, 2], "baseline marks 1 and 2");
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 1),
            Some(EntryState::Baseline),
            "1 is baseline"
        );
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Baseline),
            "2 is baseline"
        );
        assert_eq!(
            state_of(&status, 3),
            Some(EntryState::Pending),
            "3 is pending"
        );
        assert_eq!(
            status.entries[0].checksum_matches,
            Some(true),
            "baseline records the checksum"
        );

        let error = migrator.baseline(&db, 2).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::InvalidRequest(_)),
            "a second baseline returned {error:?}"
        );

        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [3], "up applies only 3");
        assert!(
            table_exists(&db, "baseline_after").await?,
            "baseline_after exists"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 1),
            Some(EntryState::Baseline),
            "1 stays baseline"
        );
        assert_eq!(
            state_of(&status, 3),
            Some(EntryState::Applied),
            "3 is applied"
        );
        Ok(())
    }

    async fn plan_writes_nothing(db) {
        let migrator = Migrator::new(set([
            sql(
                1,
                "create_items",
                &format!("{PLAN_CREATE_ITEMS};\n{PLAN_INSERT_ITEM};\n"),
                None,
            ),
            sql(
                2,
                "index_items",
                "-- covet:no-transaction\nCREATE INDEX plan_items_name ON plan_items (name);\n",
                None,
            ),
            seed_migration(3, &[1], SeedEnding::Succeed),
        ]));
        let plan = migrator.plan(&db, None).await.map_err(migrate_error)?;
        let planned: Vec<i64> = plan.steps.iter().map(|step| step.version).collect();
        assert_eq!(planned, [1, 2, 3], "plan lists every pending migration");

        let create = &plan.steps[0];
        assert_eq!(
            create.statements,
            [
                PLAN_CREATE_ITEMS,
                PLAN_INSERT_ITEM,
            ],
            "statements of migration 1"
        );
        // MySQL and MariaDB commit DDL implicitly, so every SQL file runs statement by statement.
        assert_eq!(
            create.transaction,
            !is_mysql(&db),
            "transaction flag of migration 1"
        );
        assert!(!create.rust, "migration 1 is SQL");

        let index = &plan.steps[1];
        assert_eq!(
            index.statements,
            ["CREATE INDEX plan_items_name ON plan_items (name)"],
            "statements of migration 2"
        );
        assert!(
            !index.transaction,
            "a no-transaction file runs outside a transaction"
        );

        let rust = &plan.steps[2];
        assert!(rust.rust, "migration 3 is Rust");
        assert!(rust.transaction, "a Rust migration runs in a transaction");
        assert!(
            rust.statements.is_empty(),
            "a Rust migration has no planned statements"
        );
        assert!(
            plan.to_string().contains("CREATE INDEX plan_items_name"),
            "the printed plan lists statements:\n{plan}"
        );

        assert!(
            !table_exists(&db, DEFAULT_HISTORY_TABLE).await?,
            "plan creates no history table"
        );
        assert!(
            !table_exists(&db, "plan_items").await?,
            "plan runs no migration"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            status.pending().count(),
            3,
            "every migration is still pending"
        );
        assert!(
            !table_exists(&db, DEFAULT_HISTORY_TABLE).await?,
            "status creates no history table"
        );
        Ok(())
    }

    async fn down_without_file_reverts_nothing(db) {
        let migrator = Migrator::new(set([
            sql(
                1,
                "create_first",
                "CREATE TABLE nodown_first (id INTEGER PRIMARY KEY);",
                None,
            ),
            sql(
                2,
                "create_second",
                "CREATE TABLE nodown_second (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE nodown_second;"),
            ),
        ]));
        migrator.up(&db, None).await.map_err(migrate_error)?;

        // Migration 2 has a down file, but 1 does not, so neither is reverted.
        let error = migrator.down(&db, DownTarget::Steps(2)).await.unwrap_err();
        let MigrateError::NoDown {
            version,
            name,
            rust,
        } = &error
        else {
            panic!("down returned {error:?}, expected NoDown");
        };
        assert!(!rust, "migration 1 is a SQL migration");
        assert_eq!(*version, 1, "NoDown names version 1");
        assert_eq!(name, "create_first", "NoDown names the migration");
        assert!(
            error.to_string().contains("1_create_first.down.sql"),
            "the message names the file to add: {error}"
        );
        assert!(
            table_exists(&db, "nodown_second").await?,
            "migration 2 is not reverted"
        );
        assert!(
            table_exists(&db, "nodown_first").await?,
            "migration 1 is not reverted"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 1),
            Some(EntryState::Applied),
            "1 stays applied"
        );
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Applied),
            "2 stays applied"
        );

        let error = migrator.down(&db, DownTarget::To(0)).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::NoDown { version: 1, .. }),
            "down to 0 returned {error:?}"
        );
        assert!(
            table_exists(&db, "nodown_second").await?,
            "down to 0 reverts nothing"
        );
        Ok(())
    }

    async fn rust_migration_up_and_down(db) {
        let migrator = Migrator::new(set([
            sql(1, "create_seeds", CREATE_SEEDS, Some(DROP_SEEDS)),
            seed_migration(2, &[1, 2, 3], SeedEnding::Succeed),
        ]));
        assert!(
            migrator.migrations().get(2).expect("version 2").is_rust(),
            "version 2 is Rust"
        );

        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1, 2], "up applies both");
        assert_eq!(
            seed_ids(&db).await?,
            [1, 2, 3],
            "the Rust migration inserted its rows"
        );
        let seed = Seed::get(&db, 2).await?;
        assert_eq!(seed.name, "seed 2", "row 2 has its name");

        let report = migrator
            .down(&db, DownTarget::Steps(1))
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            versions(&report.reverted),
            [2],
            "down reverts the Rust migration"
        );
        assert!(
            seed_ids(&db).await?.is_empty(),
            "the Rust down deleted its rows"
        );
        assert!(
            table_exists(&db, "rust_seeds").await?,
            "migration 1 stays applied"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Pending),
            "2 is pending again"
        );

        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(
            versions(&report.applied),
            [2],
            "up applies the Rust migration again"
        );
        assert_eq!(seed_ids(&db).await?, [1, 2, 3], "the rows are back");

        let report = migrator
            .down(&db, DownTarget::To(0))
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            versions(&report.reverted),
            [2, 1],
            "down to 0 reverts newest first"
        );
        assert!(
            !table_exists(&db, "rust_seeds").await?,
            "rust_seeds is dropped"
        );
        assert!(
            recorded_versions(&db, DEFAULT_HISTORY_TABLE)
                .await?
                .is_empty(),
            "the history is empty"
        );
        Ok(())
    }

    async fn rust_migration_error_rolls_back(db) {
        let create = || sql(1, "create_seeds", CREATE_SEEDS, Some(DROP_SEEDS));
        let first_seed = || seed_migration(2, &[1], SeedEnding::Succeed);

        let failing = Migrator::new(set([
            create(),
            first_seed(),
            seed_migration(3, &[10, 11], SeedEnding::ReturnError),
        ]));
        let error = failing.up(&db, None).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::Failed { version: 3, .. }),
            "a failing Rust migration returned {error:?}"
        );
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert!(
            cause.unwrap_or_default().contains("the seed data is incomplete"),
            "the error is the migration's: {error}"
        );
        assert_eq!(
            seed_ids(&db).await?,
            [1],
            "the failed migration's rows are rolled back"
        );
        assert_eq!(
            recorded_versions(&db, DEFAULT_HISTORY_TABLE).await?,
            [1, 2],
            "nothing is recorded for 3"
        );
        let status = failing.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 3),
            Some(EntryState::Pending),
            "3 is still pending"
        );
        assert!(
            !status.has_failed(),
            "a rolled-back migration is not failed"
        );

        let panicking = Migrator::new(set([
            create(),
            first_seed(),
            seed_migration(3, &[20], SeedEnding::Panic),
        ]));
        let error = panicking.up(&db, None).await.unwrap_err();
        let MigrateError::Panicked {
            version, message, ..
        } = &error
        else {
            panic!("a panicking Rust migration returned {error:?}, expected Panicked");
        };
        assert_eq!(*version, 3, "Panicked names version 3");
        assert!(
            message.contains("panicked on purpose"),
            "Panicked carries the panic message: {message}"
        );
        assert_eq!(
            seed_ids(&db).await?,
            [1],
            "the panicked migration's rows are rolled back"
        );
        assert_eq!(
            recorded_versions(&db, DEFAULT_HISTORY_TABLE).await?,
            [1, 2],
            "nothing is recorded after the panic"
        );

        // The runner released its lock and can apply the fixed migration.
        let fixed = Migrator::new(set([
            create(),
            first_seed(),
            seed_migration(3, &[10, 11], SeedEnding::Succeed),
        ]));
        let report = fixed.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(
            versions(&report.applied),
            [3],
            "the fixed migration applies"
        );
        assert_eq!(
            seed_ids(&db).await?,
            [1, 10, 11],
            "the fixed migration's rows are stored"
        );
        Ok(())
    }

    async fn embedded_migrations_apply_and_revert(db) {
        let embedded =
            covet_migrate::embed_migrations!("migrations/embedded").map_err(migrate_error)?;
        let listed: Vec<i64> = embedded
            .migrations()
            .iter()
            .map(Migration::version)
            .collect();
        assert_eq!(listed, [1, 2], "both embedded migrations are found");
        assert!(
            embedded.migrations().iter().all(Migration::has_down),
            "every embedded migration has a down file"
        );
        let on_disk = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/embedded"));
        for migration in embedded.migrations() {
            let file = on_disk
                .get(migration.version())
                .expect("the same version on disk");
            assert_eq!(
                migration.checksum(),
                file.checksum(),
                "checksum of embedded version {}",
                migration.version()
            );
        }

        let migrator = Migrator::new(embedded);
        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(
            versions(&report.applied),
            [1, 2],
            "up applies the embedded migrations"
        );
        let body = covet::raw("SELECT body FROM embedded_notes WHERE id = 2")
            .fetch_scalar::<String, _>(&db)
            .await?;
        assert_eq!(
            body.as_deref(),
            Some("it's the second"),
            "the doubled quote is one quote"
        );
        let body = covet::raw("SELECT body FROM embedded_notes WHERE id = 1")
            .fetch_scalar::<String, _>(&db)
            .await?;
        assert_eq!(
            body.as_deref(),
            Some("first; note"),
            "the semicolon stays inside the string"
        );

        let report = migrator
            .down(&db, DownTarget::To(0))
            .await
            .map_err(migrate_error)?;
        assert_eq!(versions(&report.reverted), [2, 1], "down reverts both");
        assert!(
            !table_exists(&db, "embedded_notes").await?,
            "embedded_notes is dropped"
        );
        Ok(())
    }

    async fn custom_history_table_name(db) {
        let table = "app_schema_history";
        let migrations = set([
            sql(
                1,
                "create_widgets",
                "CREATE TABLE widgets (id INTEGER PRIMARY KEY);",
                Some("DROP TABLE widgets;"),
            ),
            sql(
                2,
                "seed_widgets",
                "INSERT INTO widgets (id) VALUES (1);",
                Some("DELETE FROM widgets WHERE id = 1;"),
            ),
        ]);
        let migrator = Migrator::with_options(
            migrations.clone(),
            MigratorOptions::default().history_table(table),
        );
        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1, 2], "up applies both");
        assert!(
            table_exists(&db, table).await?,
            "the custom history table exists"
        );
        assert!(
            !table_exists(&db, DEFAULT_HISTORY_TABLE).await?,
            "the default history table is not created"
        );
        assert_eq!(
            recorded_versions(&db, table).await?,
            [1, 2],
            "the custom table records both"
        );

        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(status.history_table, table, "status names the custom table");
        assert_eq!(
            status.pending().count(),
            0,
            "nothing is pending in the custom table"
        );
        let default_status = Migrator::new(migrations)
            .status(&db)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            default_status.pending().count(),
            2,
            "the default table has no history"
        );

        let report = migrator
            .down(&db, DownTarget::Steps(1))
            .await
            .map_err(migrate_error)?;
        assert_eq!(versions(&report.reverted), [2], "down reverts 2");
        assert_eq!(
            recorded_versions(&db, table).await?,
            [1],
            "the custom table drops 2"
        );
        assert_eq!(
            count_rows(&db, "widgets").await?,
            0,
            "the seed row is deleted"
        );
        Ok(())
    }

    async fn mixed_case_history_table(db) {
        // The name is valid, and the table is created with its case kept.
        let table = "AppSchemaHistory";
        let migrator = Migrator::with_options(
            set([sql(
                1,
                "create_gadgets",
                "CREATE TABLE gadgets (id INTEGER PRIMARY KEY);",
                None,
            )]),
            MigratorOptions::default().history_table(table),
        );
        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1], "up applies 1");

        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 1),
            Some(EntryState::Applied),
            "status reads the {table} history"
        );
        let plan = migrator.plan(&db, None).await.map_err(migrate_error)?;
        assert!(
            plan.steps.is_empty(),
            "plan lists applied migrations: {plan}"
        );
        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert!(report.applied.is_empty(), "a second up applies nothing");
        Ok(())
    }

    async fn redo_reapplies_last_migration(db) {
        let migrator = Migrator::new(redo_migrations());
        migrator.up(&db, None).await.map_err(migrate_error)?;
        covet::raw("INSERT INTO redo_items (id) VALUES (7)")
            .execute(&db)
            .await?;
        covet::raw("INSERT INTO redo_log (id, note) VALUES (2, 'added later')")
            .execute(&db)
            .await?;

        let report = migrator.redo(&db, 1).await.map_err(migrate_error)?;
        assert_eq!(
            versions(&report.reverted),
            [2],
            "redo reverts the last migration"
        );
        assert_eq!(versions(&report.applied), [2], "redo applies it again");
        assert_eq!(
            count_rows(&db, "redo_log").await?,
            1,
            "redo_log was dropped and recreated"
        );
        assert_eq!(
            count_rows(&db, "redo_items").await?,
            1,
            "migration 1 is untouched"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 1),
            Some(EntryState::Applied),
            "1 stays applied"
        );
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Applied),
            "2 is applied again"
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// PostgreSQL

const PG_CREATE_ORDERS: &str = "CREATE TABLE pg_orders (id BIGINT PRIMARY KEY, \
                                customer TEXT NOT NULL, total NUMERIC(10, 2) NOT NULL);";

const PG_NO_TRANSACTION: &str = "-- covet:no-transaction
CREATE INDEX CONCURRENTLY pg_orders_customer ON pg_orders (customer);
CREATE INDEX CONCURRENTLY pg_orders_total ON pg_orders (total);
CREATE FUNCTION pg_order_label(order_id BIGINT) RETURNS TEXT AS $$
DECLARE
    label TEXT;
BEGIN
    SELECT customer || ': ' || total INTO label FROM pg_orders WHERE id = order_id;
    RETURN coalesce(label, 'missing; none');
END;
$$ LANGUAGE plpgsql;
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_no_transaction_file_applies() {
    support::run(Backend::Postgres, "pg_no_transaction", |db| async move {
        let migrator = Migrator::new(set([
            sql(1, "create_orders", PG_CREATE_ORDERS, None),
            sql(2, "index_orders", PG_NO_TRANSACTION, None),
        ]));
        let file = migrator.migrations().get(2).expect("version 2");
        assert!(file.is_no_transaction(), "the directive marks the file");

        let plan = migrator.plan(&db, None).await.map_err(migrate_error)?;
        let step = &plan.steps[1];
        assert!(!step.transaction, "the file runs outside a transaction");
        assert_eq!(
            step.statements.len(),
            3,
            "three statements: {:?}",
            step.statements
        );
        assert!(
            step.statements[2].starts_with("CREATE FUNCTION"),
            "the function is one statement: {:?}",
            step.statements[2]
        );
        assert!(
            step.statements[2].ends_with("LANGUAGE plpgsql"),
            "the function body is not split: {:?}",
            step.statements[2]
        );

        let report = migrator.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [1, 2], "up applies both");
        let valid_indexes = covet::raw(
            "SELECT COUNT(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname IN ('pg_orders_customer', 'pg_orders_total') AND i.indisvalid",
        )
        .fetch_scalar::<i64, _>(&db)
        .await?;
        assert_eq!(
            valid_indexes,
            Some(2),
            "both concurrent indexes are built and valid"
        );

        covet::raw("INSERT INTO pg_orders (id, customer, total) VALUES (1, 'ann', 12.50)")
            .execute(&db)
            .await?;
        let label = covet::raw("SELECT pg_order_label(1)")
            .fetch_scalar::<String, _>(&db)
            .await?;
        assert_eq!(
            label.as_deref(),
            Some("ann: 12.50"),
            "the function reads the order"
        );
        let missing = covet::raw("SELECT pg_order_label(99)")
            .fetch_scalar::<String, _>(&db)
            .await?;
        assert_eq!(
            missing.as_deref(),
            Some("missing; none"),
            "the whole function body was created"
        );

        let done = covet::raw(format!(
            "SELECT statements_done FROM {DEFAULT_HISTORY_TABLE} WHERE version = 2"
        ))
        .fetch_scalar::<i64, _>(&db)
        .await?;
        assert_eq!(
            done,
            Some(3),
            "the history counts three committed statements"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Applied),
            "2 is applied"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrently_needs_no_transaction() {
    support::run(Backend::Postgres, "pg_needs_no_tx", |db| async move {
        let migrator = Migrator::new(set([
            sql(
                1,
                "create_audit",
                "CREATE TABLE pg_audit (id BIGINT PRIMARY KEY);",
                None,
            ),
            sql(
                2,
                "create_events",
                "CREATE TABLE pg_events (id BIGINT PRIMARY KEY, kind TEXT NOT NULL);\n\
                 CREATE INDEX CONCURRENTLY pg_events_kind ON pg_events (kind);\n",
                None,
            ),
        ]));
        let error = migrator.up(&db, None).await.unwrap_err();
        let MigrateError::NeedsNoTransaction {
            version, statement, ..
        } = &error
        else {
            panic!("up returned {error:?}, expected NeedsNoTransaction");
        };
        assert_eq!(*version, 2, "NeedsNoTransaction names version 2");
        assert_eq!(
            *statement, "CREATE INDEX CONCURRENTLY",
            "NeedsNoTransaction names the statement"
        );
        assert!(
            error.to_string().contains("-- covet:no-transaction"),
            "the message names the directive: {error}"
        );

        assert!(
            !table_exists(&db, "pg_events").await?,
            "the file's first statement did not run"
        );
        assert!(
            !table_exists(&db, "pg_audit").await?,
            "no earlier pending migration ran"
        );
        assert!(
            recorded_versions(&db, DEFAULT_HISTORY_TABLE)
                .await?
                .is_empty(),
            "no history row is written"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, 2),
            Some(EntryState::Pending),
            "2 is still pending"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_plan_rejects_concurrently() {
    support::run(Backend::Postgres, "pg_plan_concurrently", |db| async move {
        let migrator = Migrator::new(set([sql(
            1,
            "create_events",
            "CREATE TABLE pg_events (id BIGINT PRIMARY KEY, kind TEXT NOT NULL);\n\
             CREATE INDEX CONCURRENTLY pg_events_kind ON pg_events (kind);\n",
            None,
        )]));
        // A dry run stops with the error `up` stops with before running anything.
        let planned = migrator.plan(&db, None).await;
        assert!(
            matches!(
                planned,
                Err(MigrateError::NeedsNoTransaction { version: 1, .. })
            ),
            "plan returned {planned:?}, expected NeedsNoTransaction"
        );
        assert!(
            !table_exists(&db, DEFAULT_HISTORY_TABLE).await?,
            "plan creates no history table"
        );
        Ok(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// MariaDB

const ACCOUNTS_VERSION: i64 = 7;
const ACCOUNTS_FIRST: &str =
    "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(50) NOT NULL)";
const ACCOUNTS_FIRST_EDITED: &str =
    "CREATE TABLE accounts (id BIGINT PRIMARY KEY, name VARCHAR(80) NOT NULL)";
const ACCOUNTS_BROKEN: &str =
    "ALTER TABLE accounts ADD COLUMN email VARCHAR(100) NOT NULL AFTER no_such_column";
const ACCOUNTS_FIXED: &str = "ALTER TABLE accounts ADD COLUMN email VARCHAR(100) NOT NULL AFTER id";
const ACCOUNTS_LAST: &str = "CREATE INDEX accounts_email ON accounts (email)";

/// Builds the three-statement accounts migration from its first and second statements.
fn accounts_migration(first: &str, second: &str) -> Migration {
    let up = format!("{first};\n{second};\n{ACCOUNTS_LAST};\n");
    sql(ACCOUNTS_VERSION, "create_accounts", &up, None)
}

/// Lists every column of the current database as `table|column|position|type|null|default|key`.
async fn column_layout(db: &Database) -> covet::Result<Vec<String>> {
    let sql = "SELECT CONCAT_WS('|', TABLE_NAME, COLUMN_NAME, CAST(ORDINAL_POSITION AS CHAR), \
               COLUMN_TYPE, IS_NULLABLE, COALESCE(COLUMN_DEFAULT, 'none'), COLUMN_KEY) \
               FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() \
               ORDER BY TABLE_NAME, ORDINAL_POSITION";
    let mut layout = Vec::new();
    covet::raw(sql)
        .fetch_with(db, |row| {
            layout.push(row.read_string(0)?.unwrap_or_default());
            Ok(())
        })
        .await?;
    Ok(layout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_failed_statement_resumes() {
    run_pair(Backend::MySql, "mysql_resume", |db, clean_db| async move {
        let broken = Migrator::new(set([accounts_migration(ACCOUNTS_FIRST, ACCOUNTS_BROKEN)]));
        let error = broken.up(&db, None).await.unwrap_err();
        let MigrateError::Dirty {
            version,
            failed_statement,
            statements,
            committed,
            ..
        } = &error
        else {
            panic!("up returned {error:?}, expected Dirty");
        };
        assert_eq!(*version, ACCOUNTS_VERSION, "Dirty names the migration");
        assert_eq!(*failed_statement, 2, "Dirty names statement 2");
        assert_eq!(*statements, 3, "Dirty counts 3 statements");
        assert_eq!(*committed, 1, "statement 1 committed");
        assert!(
            error.to_string().contains("statement 2 of 3"),
            "the message names statement 2 of 3: {error}"
        );
        assert!(
            table_exists(&db, "accounts").await?,
            "statement 1 committed its table"
        );

        let status = broken.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, ACCOUNTS_VERSION),
            Some(EntryState::Failed),
            "status shows Failed"
        );
        assert!(status.has_failed(), "status reports a failed migration");

        let error = broken.up(&db, None).await.unwrap_err();
        assert!(
            matches!(
                error,
                MigrateError::Dirty {
                    failed_statement: 2,
                    ..
                }
            ),
            "a second up returned {error:?}"
        );
        let resume_command = format!("covet-migrate resume {ACCOUNTS_VERSION}");
        assert!(
            error.to_string().contains(&resume_command),
            "the message names `{resume_command}`: {error}"
        );

        // Statement 1 already ran, so an edit to it makes the resume unsafe.
        let edited_first = Migrator::new(set([accounts_migration(
            ACCOUNTS_FIRST_EDITED,
            ACCOUNTS_FIXED,
        )]));
        let error = edited_first
            .resume(&db, ACCOUNTS_VERSION)
            .await
            .unwrap_err();
        assert!(
            matches!(error, MigrateError::InvalidRequest(_)),
            "resume after editing statement 1 returned {error:?}"
        );
        let status = broken.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, ACCOUNTS_VERSION),
            Some(EntryState::Failed),
            "the rejected resume leaves it Failed"
        );

        let fixed_set = set([accounts_migration(ACCOUNTS_FIRST, ACCOUNTS_FIXED)]);
        let fixed = Migrator::new(fixed_set.clone());
        let report = fixed
            .resume(&db, ACCOUNTS_VERSION)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            versions(&report.applied),
            [ACCOUNTS_VERSION],
            "resume finishes the migration"
        );
        let status = fixed.status(&db).await.map_err(migrate_error)?;
        let entry = &status.entries[0];
        assert_eq!(
            entry.state,
            EntryState::Applied,
            "status shows Applied after resume"
        );
        assert_eq!(
            entry.checksum_matches,
            Some(true),
            "the history records the fixed file"
        );
        let drift = fixed.verify(&db).await.map_err(migrate_error)?;
        assert!(drift.is_empty(), "verify after resume reports {drift:?}");

        // The resumed schema equals a clean apply of the fixed file.
        let report = Migrator::new(fixed_set)
            .up(&clean_db, None)
            .await
            .map_err(migrate_error)?;
        assert_eq!(
            versions(&report.applied),
            [ACCOUNTS_VERSION],
            "the fixed file applies cleanly"
        );
        let resumed = column_layout(&db).await?;
        let clean = column_layout(&clean_db).await?;
        assert!(
            resumed
                .iter()
                .any(|column| column.starts_with("accounts|email|")),
            "the resumed schema has accounts.email: {resumed:#?}"
        );
        assert_eq!(resumed, clean, "resumed and clean schemas differ");
        let progress = format!(
            "SELECT CONCAT_WS('|', state, statements, statements_done) FROM {DEFAULT_HISTORY_TABLE}"
        );
        let resumed_row = covet::raw(progress.clone())
            .fetch_scalar::<String, _>(&db)
            .await?;
        let clean_row = covet::raw(progress)
            .fetch_scalar::<String, _>(&clean_db)
            .await?;
        assert_eq!(
            resumed_row.as_deref(),
            Some("applied|3|3"),
            "the resumed history row"
        );
        assert_eq!(
            resumed_row, clean_row,
            "resumed and clean history rows differ"
        );
        Ok(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_resolve_marks_resolved() {
    support::run(Backend::MySql, "mysql_resolve", |db| async move {
        let broken = accounts_migration(ACCOUNTS_FIRST, ACCOUNTS_BROKEN);
        let migrator = Migrator::new(set([broken.clone()]));
        let error = migrator.up(&db, None).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::Dirty { .. }),
            "up returned {error:?}"
        );

        let error = migrator
            .resolve(&db, 99, "no such migration")
            .await
            .unwrap_err();
        assert!(
            matches!(error, MigrateError::InvalidRequest(_)),
            "resolve of an unknown version returned {error:?}"
        );

        // The rest of the migration is finished by hand.
        covet::raw(ACCOUNTS_FIXED).execute_unprepared(&db).await?;
        covet::raw(ACCOUNTS_LAST).execute_unprepared(&db).await?;
        let note = "added accounts.email and its index by hand";
        migrator
            .resolve(&db, ACCOUNTS_VERSION, note)
            .await
            .map_err(migrate_error)?;
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert_eq!(
            state_of(&status, ACCOUNTS_VERSION),
            Some(EntryState::Resolved),
            "status shows Resolved"
        );
        assert!(!status.has_failed(), "nothing is failed after resolve");
        assert_eq!(
            history_note(&db, ACCOUNTS_VERSION).await?.as_deref(),
            Some(note),
            "resolve stores the note"
        );

        let error = migrator
            .resolve(&db, ACCOUNTS_VERSION, "again")
            .await
            .unwrap_err();
        assert!(
            matches!(error, MigrateError::InvalidRequest(_)),
            "resolving a resolved migration returned {error:?}"
        );

        let next = Migrator::new(set([
            broken,
            sql(
                8,
                "create_audit",
                "CREATE TABLE account_audit (id BIGINT PRIMARY KEY)",
                None,
            ),
        ]));
        let report = next.up(&db, None).await.map_err(migrate_error)?;
        assert_eq!(versions(&report.applied), [8], "up goes on after resolve");
        assert!(table_exists(&db, "account_audit").await?, "migration 8 ran");
        Ok(())
    })
    .await;
}

backend_tests! {
    async fn transaction_control_is_rejected(db) {
        let migrator = Migrator::new(set([sql(
            1,
            "commits_early",
            "CREATE TABLE early (id INTEGER);\nCOMMIT;\nCREATE TABLE late (id INTEGER);\n",
            None,
        )]));
        if db.backend().system_name() == "mariadb" {
            // MariaDB runs every SQL file statement by statement, where COMMIT is harmless.
            migrator.up(&db, None).await.map_err(migrate_error)?;
            return Ok(());
        }
        let error = migrator.up(&db, None).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::TransactionControl { version: 1, statement: "COMMIT", .. }),
            "a COMMIT inside a transactional file is rejected: {error:?}"
        );
        assert!(!table_exists(&db, "early").await?, "nothing ran before the rejection");
        Ok(())
    }

    async fn empty_migration_is_rejected(db) {
        let migrator = Migrator::new(set([sql(1, "only_comments", "-- write SQL here\n", None)]));
        let error = migrator.up(&db, None).await.unwrap_err();
        assert!(
            matches!(error, MigrateError::Empty { version: 1, .. }),
            "a file without statements is rejected, not recorded: {error:?}"
        );
        assert!(migrator.status(&db).await.map_err(migrate_error)?.pending().count() == 1);
        Ok(())
    }
}

/// On MariaDB a down file runs statement by statement; a failure partway is recorded, so
/// `status` shows it instead of a clean "applied".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_failed_revert_is_recorded() {
    support::run(Backend::MySql, "failed_revert", |db| async move {
        let migrator = Migrator::new(set([sql(
            1,
            "two_tables",
            "CREATE TABLE d1 (a INT);\nCREATE TABLE d2 (a INT);\n",
            Some("DROP TABLE d1;\nDROP TABLEE d2;\n"),
        )]));
        migrator.up(&db, None).await.map_err(migrate_error)?;
        let error = migrator.down(&db, DownTarget::Steps(1)).await.unwrap_err();
        assert!(
            matches!(
                error,
                MigrateError::RevertFailed {
                    version: 1,
                    failed_statement: 2,
                    statements: 2,
                    ..
                }
            ),
            "the revert names statement 2 of 2: {error:?}"
        );
        let status = migrator.status(&db).await.map_err(migrate_error)?;
        assert!(
            status.has_failed(),
            "status shows the half-reverted migration: {status}"
        );
        Ok(())
    })
    .await;
}
