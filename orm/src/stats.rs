//! Per-table statement counts and durations, the slow-statement log, and the `metrics`
//! facade.
//!
//! Each statement run through a [`Database`](crate::Database), or through a transaction or
//! connection begun from it, is recorded once when it ends:
//!
//! - in the database's [`QueryStats`], read with
//!   [`Database::query_stats`](crate::Database::query_stats);
//! - through the `metrics` crate facade, as the counter `covet_queries_total`, the counter
//!   `covet_query_errors_total` and the histogram `covet_query_duration_seconds`, each
//!   labelled `table` (empty for statements without one) and `operation`;
//! - as a WARN event with the target `covet::slow_query` when it took at least the
//!   threshold set with
//!   [`ConnectOptions::slow_query_threshold`](crate::ConnectOptions::slow_query_threshold).
//!
//! A duration runs from the request for a connection to the last row, so it includes any
//! wait for a free pooled connection.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use crate::backend::{Backend, Statement};

/// The slow-statement threshold used when none is set: the same 1 s that sqlx uses for
/// its own slow-statement log.
const DEFAULT_SLOW_QUERY_THRESHOLD: Duration = Duration::from_secs(1);

/// The slow-statement threshold of [`ConnectOptions`](crate::ConnectOptions), or `None`
/// when the log is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlowQueryThreshold(pub(crate) Option<Duration>);

impl Default for SlowQueryThreshold {
    fn default() -> Self {
        Self(Some(DEFAULT_SLOW_QUERY_THRESHOLD))
    }
}

/// The table and operation a statement is counted under.
type StatsKey = (Option<&'static str>, &'static str);

/// The live counters of one database, shared by its transactions and connections.
#[derive(Debug, Default)]
pub(crate) struct Observer {
    slow_query_threshold: SlowQueryThreshold,
    stats: Mutex<HashMap<StatsKey, OperationStats>>,
}

impl Observer {
    pub(crate) fn new(slow_query_threshold: SlowQueryThreshold) -> Self {
        Self {
            slow_query_threshold,
            stats: Mutex::default(),
        }
    }

    /// Records one finished statement. `failed` is true when it returned an error.
    pub(crate) fn record(
        &self,
        backend: &dyn Backend,
        statement: &Statement,
        elapsed: Duration,
        failed: bool,
    ) {
        let table = statement.collection;
        let operation = statement.operation;
        self.lock_stats()
            .entry((table, operation))
            .or_default()
            .add(elapsed, failed);

        let table_label = table.unwrap_or_default();
        metrics::counter!("covet_queries_total", "table" => table_label, "operation" => operation)
            .increment(1);
        if failed {
            metrics::counter!(
                "covet_query_errors_total",
                "table" => table_label,
                "operation" => operation
            )
            .increment(1);
        }
        metrics::histogram!(
            "covet_query_duration_seconds",
            "table" => table_label,
            "operation" => operation
        )
        .record(elapsed.as_secs_f64());

        if let Some(threshold) = self.slow_query_threshold.0
            && elapsed >= threshold
        {
            log_slow(backend, statement, elapsed, threshold);
        }
    }

    /// Returns a copy of the counters.
    pub(crate) fn snapshot(&self) -> QueryStats {
        let by_statement = self
            .lock_stats()
            .iter()
            .map(|(key, stats)| (*key, *stats))
            .collect();
        QueryStats { by_statement }
    }

    /// Sets every counter back to zero.
    pub(crate) fn reset(&self) {
        self.lock_stats().clear();
    }

    fn lock_stats(&self) -> std::sync::MutexGuard<'_, HashMap<StatsKey, OperationStats>> {
        // A panic while the lock was held left at worst one statement half counted.
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Logs a slow statement. The SQL text has placeholders only, never bind values.
fn log_slow(backend: &dyn Backend, statement: &Statement, elapsed: Duration, threshold: Duration) {
    tracing::warn!(
        target: "covet::slow_query",
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        threshold_ms = threshold.as_secs_f64() * 1000.0,
        db.system.name = backend.system_name(),
        db.namespace = backend.namespace(),
        db.operation.name = statement.operation,
        db.collection.name = statement.collection,
        db.query.text = %statement.sql,
        "slow statement"
    );
}

/// The totals of one kind of statement on one table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperationStats {
    /// The number of statements run, failed ones included.
    pub count: u64,
    /// The number of statements that returned an error.
    pub errors: u64,
    /// The sum of their durations.
    pub total_duration: Duration,
    /// The maximum duration.
    pub max_duration: Duration,
}

impl OperationStats {
    fn add(&mut self, elapsed: Duration, failed: bool) {
        self.count += 1;
        self.errors += u64::from(failed);
        self.total_duration += elapsed;
        self.max_duration = self.max_duration.max(elapsed);
    }

    fn merge(&mut self, other: &OperationStats) {
        self.count += other.count;
        self.errors += other.errors;
        self.total_duration += other.total_duration;
        self.max_duration = self.max_duration.max(other.max_duration);
    }
}

/// A snapshot of a database's statement counts and durations, keyed by table and
/// operation, from [`Database::query_stats`](crate::Database::query_stats).
///
/// The operation is the statement's leading keyword as tracing reports it
/// (`db.operation.name`): `SELECT`, `INSERT`, `UPDATE`, `DELETE`, `CREATE TABLE`, `BEGIN`,
/// `COMMIT` and so on. Statements with no table, such as transaction control and most raw
/// SQL, are kept under the table `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryStats {
    by_statement: BTreeMap<StatsKey, OperationStats>,
}

impl QueryStats {
    /// Returns the totals of `operation` statements on `table`, or `None` when none ran.
    pub fn get(&self, table: Option<&str>, operation: &str) -> Option<&OperationStats> {
        self.by_statement
            .iter()
            .find(|((key_table, key_operation), _)| {
                *key_table == table && *key_operation == operation
            })
            .map(|(_, stats)| stats)
    }

    /// Returns the totals of every statement on `table`, whatever the operation.
    pub fn table(&self, table: &str) -> OperationStats {
        let mut total = OperationStats::default();
        for ((key_table, _), stats) in &self.by_statement {
            if *key_table == Some(table) {
                total.merge(stats);
            }
        }
        total
    }

    /// Returns the totals of every statement.
    pub fn total(&self) -> OperationStats {
        let mut total = OperationStats::default();
        for stats in self.by_statement.values() {
            total.merge(stats);
        }
        total
    }

    /// Iterates over `(table, operation, totals)`, sorted by table and operation.
    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (Option<&'static str>, &'static str, &OperationStats)> {
        self.by_statement
            .iter()
            .map(|((table, operation), stats)| (*table, *operation, stats))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_stats_keep_max_and_errors() {
        let mut stats = OperationStats::default();
        stats.add(Duration::from_millis(5), false);
        stats.add(Duration::from_millis(9), true);
        stats.add(Duration::from_millis(2), false);
        assert_eq!(stats.count, 3);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.total_duration, Duration::from_millis(16));
        assert_eq!(stats.max_duration, Duration::from_millis(9));
    }

    #[test]
    fn query_stats_sum_a_table() {
        let mut by_statement = BTreeMap::new();
        let one = OperationStats {
            count: 2,
            errors: 0,
            total_duration: Duration::from_millis(4),
            max_duration: Duration::from_millis(3),
        };
        by_statement.insert((Some("a"), "INSERT"), one);
        by_statement.insert((Some("a"), "SELECT"), one);
        by_statement.insert((Some("b"), "SELECT"), one);
        let stats = QueryStats { by_statement };
        assert_eq!(stats.table("a").count, 4);
        assert_eq!(stats.table("b").count, 2);
        assert_eq!(stats.table("c").count, 0);
        assert_eq!(stats.total().count, 6);
        assert_eq!(stats.get(Some("a"), "INSERT"), Some(&one));
        assert_eq!(stats.get(None, "INSERT"), None);
    }
}
