//! Measuring a replica's replication lag with the replica's own status functions.

use std::time::Duration;

use crate::backend::{Backend, BackendConnection};
use crate::error::{Error, ErrorKind, Result};
use crate::row::RowReader;
use crate::trace::traced_probe;

/// A PostgreSQL write-ahead log position, such as `16/B374D848` in SQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Lsn(u64);

impl Lsn {
    /// Parses the text form of `pg_lsn`: two hexadecimal numbers of at most 32 bits,
    /// separated by a slash.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let (high, low) = text.trim().split_once('/')?;
        let high = u32::from_str_radix(high, 16).ok()?;
        let low = u32::from_str_radix(low, 16).ok()?;
        Some(Self((u64::from(high) << 32) | u64::from(low)))
    }
}

/// The result of one replica check.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Measurement {
    /// The replication lag, or `None` when it cannot be measured, as on a server that is
    /// not a replica.
    pub(crate) lag: Option<Duration>,
    /// The last WAL position replayed, on PostgreSQL.
    pub(crate) replayed: Option<Lsn>,
}

/// The columns of [`POSTGRES_PROBE`].
#[derive(Debug, Default)]
struct PostgresSample {
    in_recovery: bool,
    received: Option<Lsn>,
    replayed: Option<Lsn>,
    /// Seconds since the commit of the last transaction replayed, by the replica's clock.
    replay_age: Option<f64>,
    receiver_running: bool,
}

/// The lag query on PostgreSQL 10 and later. `pg_stat_wal_receiver` has a row only while a
/// WAL receiver process runs. Users without `pg_read_all_stats` see most of its columns as
/// NULL, but they still see the row.
const POSTGRES_PROBE: &str = "SELECT pg_is_in_recovery(), \
     pg_last_wal_receive_lsn()::text, \
     pg_last_wal_replay_lsn()::text, \
     EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8, \
     EXISTS (SELECT 1 FROM pg_stat_wal_receiver)";

/// The query for the replay position alone, for read-your-writes checks.
pub(crate) const POSTGRES_REPLAYED: &str = "SELECT pg_last_wal_replay_lsn()::text";

/// The query for the primary's WAL position after a write. The insert position is used
/// rather than `pg_current_wal_lsn()`, because with `synchronous_commit = off` a commit
/// record can be inserted but not yet written.
pub(crate) const POSTGRES_WRITTEN: &str = "SELECT pg_current_wal_insert_lsn()::text";

/// Measures the lag of the replica `conn` is connected to. Backends other than
/// PostgreSQL, MySQL and MariaDB report no lag.
///
/// # Errors
///
/// The database's error for the status query.
pub(crate) async fn measure(
    backend: &dyn Backend,
    conn: &mut dyn BackendConnection,
) -> Result<Measurement> {
    match backend.system_name() {
        "postgresql" => measure_postgres(backend, conn).await,
        "mysql" | "mariadb" => measure_mysql(backend, conn).await,
        _ => Ok(Measurement::default()),
    }
}

async fn measure_postgres(
    backend: &dyn Backend,
    conn: &mut dyn BackendConnection,
) -> Result<Measurement> {
    let mut sample = PostgresSample::default();
    let mut read = |row: &dyn RowReader| {
        sample.in_recovery = row.read_bool(0)?.unwrap_or(false);
        sample.received = read_lsn(row, 1)?;
        sample.replayed = read_lsn(row, 2)?;
        sample.replay_age = row.read_f64(3)?;
        sample.receiver_running = row.read_bool(4)?.unwrap_or(false);
        Ok(())
    };
    traced_probe(backend, conn, POSTGRES_PROBE, &mut read).await?;
    Ok(Measurement {
        lag: postgres_lag(&sample),
        replayed: sample.replayed,
    })
}

/// Reads a `pg_lsn` column sent as text.
pub(crate) fn read_lsn(row: &dyn RowReader, index: usize) -> Result<Option<Lsn>> {
    let Some(text) = row.read_string(index)? else {
        return Ok(None);
    };
    Lsn::parse(&text)
        .map(Some)
        .ok_or_else(|| Error::decode(row.column_name(index), format!("`{text}` is not a pg_lsn")))
}

/// Computes a PostgreSQL replica's lag from one sample.
///
/// A replica that has replayed everything it received while streaming is current, so its
/// lag is zero however long ago the primary last committed. Measuring the age of the last
/// replayed transaction alone would report an idle primary's quiet time as lag. Otherwise
/// the lag is that age, which overstates it for a moment when WAL arrives after a quiet
/// spell: the replica is then skipped until the next check, which errs on the safe side.
fn postgres_lag(sample: &PostgresSample) -> Option<Duration> {
    if !sample.in_recovery {
        return None;
    }
    let caught_up = match (sample.received, sample.replayed) {
        (Some(received), Some(replayed)) => replayed >= received,
        _ => false,
    };
    if caught_up && sample.receiver_running {
        return Some(Duration::ZERO);
    }
    let age = sample.replay_age?;
    Duration::try_from_secs_f64(age.max(0.0)).ok()
}

async fn measure_mysql(
    backend: &dyn Backend,
    conn: &mut dyn BackendConnection,
) -> Result<Measurement> {
    // SHOW REPLICA STATUS exists from MariaDB 10.5.1 and MySQL 8.0.22; older servers only
    // know SHOW SLAVE STATUS.
    let channels = match mysql_channels(backend, conn, "SHOW REPLICA STATUS").await {
        Err(error) if error.kind() == ErrorKind::OtherDatabase => {
            mysql_channels(backend, conn, "SHOW SLAVE STATUS").await?
        }
        other => other?,
    };
    Ok(Measurement {
        lag: mysql_lag(&channels),
        replayed: None,
    })
}

/// Runs a replica status statement and returns the seconds behind of each channel.
async fn mysql_channels(
    backend: &dyn Backend,
    conn: &mut dyn BackendConnection,
    sql: &'static str,
) -> Result<Vec<Option<u64>>> {
    let mut channels = Vec::new();
    let mut read = |row: &dyn RowReader| {
        channels.push(read_seconds_behind(row)?);
        Ok(())
    };
    traced_probe(backend, conn, sql, &mut read).await?;
    Ok(channels)
}

/// Reads `Seconds_Behind_Master` (or MySQL 8's `Seconds_Behind_Source`) from one row of
/// the replica status, `None` when it is NULL because replication is not running.
fn read_seconds_behind(row: &dyn RowReader) -> Result<Option<u64>> {
    let index = (0..row.len()).find(|&index| {
        let name = row.column_name(index);
        name.eq_ignore_ascii_case("Seconds_Behind_Master")
            || name.eq_ignore_ascii_case("Seconds_Behind_Source")
    });
    let Some(index) = index else {
        return Err(Error::decode(
            "Seconds_Behind_Master",
            "the replica status has no such column",
        ));
    };
    // The server types this column differently across versions, so accept any integer or
    // its text.
    if let Ok(seconds) = row.read_u64(index) {
        return Ok(seconds);
    }
    if let Ok(seconds) = row.read_i64(index) {
        return Ok(seconds.and_then(|seconds| u64::try_from(seconds).ok()));
    }
    let text = row.read_string(index)?;
    Ok(text.and_then(|text| text.trim().parse().ok()))
}

/// Returns the largest lag over the replication channels, or `None` when the server
/// replicates from nothing or a channel is not running.
fn mysql_lag(channels: &[Option<u64>]) -> Option<Duration> {
    if channels.is_empty() {
        return None;
    }
    let mut largest = 0;
    for seconds in channels {
        largest = largest.max((*seconds)?);
    }
    Some(Duration::from_secs(largest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsn_parses_and_orders() {
        let low = Lsn::parse("0/16B3748").expect("valid");
        let high = Lsn::parse("1/0").expect("valid");
        assert_eq!(low, Lsn(0x16B_3748));
        assert_eq!(high, Lsn(1 << 32));
        assert!(low < high);
    }

    #[test]
    fn lsn_rejects_malformed_text() {
        assert_eq!(Lsn::parse("16B3748"), None);
        assert_eq!(Lsn::parse("1/zz"), None);
        assert_eq!(Lsn::parse("100000000/0"), None);
    }

    fn sample(received: &str, replayed: &str, age: f64, streaming: bool) -> PostgresSample {
        PostgresSample {
            in_recovery: true,
            received: Lsn::parse(received),
            replayed: Lsn::parse(replayed),
            replay_age: Some(age),
            receiver_running: streaming,
        }
    }

    #[test]
    fn idle_caught_up_replica_has_no_lag() {
        let lag = postgres_lag(&sample("0/300", "0/300", 3600.0, true));
        assert_eq!(lag, Some(Duration::ZERO));
    }

    #[test]
    fn replica_behind_reports_replay_age() {
        let lag = postgres_lag(&sample("0/400", "0/300", 2.5, true));
        assert_eq!(lag, Some(Duration::from_millis(2500)));
    }

    #[test]
    fn replica_without_receiver_reports_replay_age() {
        let lag = postgres_lag(&sample("0/300", "0/300", 7.0, false));
        assert_eq!(lag, Some(Duration::from_secs(7)));
    }

    #[test]
    fn primary_has_unknown_lag() {
        let mut primary = sample("0/300", "0/300", 0.0, false);
        primary.in_recovery = false;
        assert_eq!(postgres_lag(&primary), None);
    }

    #[test]
    fn mysql_lag_takes_largest_channel() {
        assert_eq!(mysql_lag(&[Some(1), Some(4)]), Some(Duration::from_secs(4)));
        assert_eq!(mysql_lag(&[Some(1), None]), None);
        assert_eq!(mysql_lag(&[]), None);
    }
}
