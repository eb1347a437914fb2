//! The results of the runner's commands: status, reports, drift and plans.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The state of one migration, comparing the build's migrations with the history table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Applied by the runner.
    Applied,
    /// Marked applied by `baseline`.
    Baseline,
    /// Finished by hand and marked with `resolve`.
    Resolved,
    /// Not applied yet.
    Pending,
    /// Not applied yet, and older than the newest applied migration.
    PendingOutOfOrder,
    /// Stopped at a failed statement.
    Failed,
    /// Interrupted while running statement by statement.
    Running,
    /// Applied in the database but unknown to this build: the database is ahead of it.
    Unknown,
}

/// One line of [`Status`].
#[derive(Clone, Debug, Serialize)]
pub struct StatusEntry {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// The state.
    pub state: EntryState,
    /// When the history row was written, for applied migrations.
    pub applied_at: Option<DateTime<Utc>>,
    /// Whether the file still matches the recorded checksum; `None` when there is nothing
    /// to compare.
    pub checksum_matches: Option<bool>,
}

/// The state of every migration known to the build or the database, in version order.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    /// The history table.
    pub history_table: String,
    /// One entry per version.
    pub entries: Vec<StatusEntry>,
}

impl Status {
    /// Returns the entries that are pending, in or out of order.
    pub fn pending(&self) -> impl Iterator<Item = &StatusEntry> {
        self.entries.iter().filter(|entry| {
            matches!(
                entry.state,
                EntryState::Pending | EntryState::PendingOutOfOrder
            )
        })
    }

    /// Returns whether a migration failed or was interrupted.
    pub fn has_failed(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| matches!(entry.state, EntryState::Failed | EntryState::Running))
    }

    /// Returns whether an applied migration's file changed.
    pub fn has_drift(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.checksum_matches == Some(false))
    }

    /// Returns whether the database has migrations this build does not know.
    pub fn is_ahead(&self) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.state == EntryState::Unknown)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "history table: {}", self.history_table)?;
        if self.entries.is_empty() {
            return writeln!(f, "no migrations");
        }
        for entry in &self.entries {
            let state = serde_json::to_value(entry.state)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
                .unwrap_or_default();
            let drift = match entry.checksum_matches {
                Some(false) => "  (file changed since it was applied)",
                _ => "",
            };
            writeln!(
                f,
                "{:>20}  {:<20} {}{drift}",
                entry.version, state, entry.name
            )?;
        }
        Ok(())
    }
}

/// A migration applied or reverted by a command.
#[derive(Clone, Debug, Serialize)]
pub struct Done {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

/// The migrations a command applied or reverted.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Migrations applied, in order.
    pub applied: Vec<Done>,
    /// Migrations reverted, in order.
    pub reverted: Vec<Done>,
    /// Warnings, such as out-of-order migrations or a database ahead of the build.
    pub warnings: Vec<String>,
}

/// An applied migration whose file no longer matches its recorded checksum.
#[derive(Clone, Debug, Serialize)]
pub struct Drift {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// The checksum in the history table.
    pub recorded: String,
    /// The checksum of the file now.
    pub current: String,
}

/// One migration of a [`Plan`].
#[derive(Clone, Debug, Serialize)]
pub struct PlanStep {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// Whether the migration and its history row commit in one transaction.
    pub transaction: bool,
    /// Whether it is a Rust migration, whose statements are not known in advance.
    pub rust: bool,
    /// The SQL statements, in order.
    pub statements: Vec<String>,
}

/// The statements `up` would run, computed without running them.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Plan {
    /// The migrations that would run, in order.
    pub steps: Vec<PlanStep>,
    /// Warnings `up` would log.
    pub warnings: Vec<String>,
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            return writeln!(f, "-- nothing to apply");
        }
        for warning in &self.warnings {
            writeln!(f, "-- warning: {warning}")?;
        }
        for step in &self.steps {
            writeln!(f, "-- migration {} ({})", step.version, step.name)?;
            if step.transaction {
                writeln!(f, "BEGIN;")?;
            } else {
                writeln!(f, "-- each statement commits on its own")?;
            }
            if step.rust {
                writeln!(
                    f,
                    "-- Rust code: its statements are known only when it runs"
                )?;
            }
            for statement in &step.statements {
                writeln!(f, "{statement};")?;
            }
            writeln!(f, "-- record version {} in the history table", step.version)?;
            if step.transaction {
                writeln!(f, "COMMIT;")?;
            }
        }
        Ok(())
    }
}
