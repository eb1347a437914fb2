//! The migration lock that keeps two runners from applying migrations at the same time.
//!
//! | backend | lock |
//! |---|---|
//! | PostgreSQL | a session advisory lock (`pg_try_advisory_lock`), polled without an open transaction |
//! | MySQL, MariaDB | `GET_LOCK`, waiting up to one second per attempt inside the server |
//! | SQLite | none here: each migration runs in `BEGIN IMMEDIATE`, which takes the write lock |
//!
//! The lock lives on the runner's dedicated connection, so closing that connection releases
//! it even when the process cannot run its own cleanup.

use std::time::{Duration, Instant};

use covet::{Connection, Executor};

use crate::checksum::checksum;
use crate::error::{MigrateError, Result};

/// How often a waiting runner logs who holds the lock.
const REPORT_EVERY: Duration = Duration::from_secs(5);

/// Returns the advisory lock key for a hex digest: its first 64 bits with the sign bit
/// cleared, so the key splits cleanly into the two 32-bit halves that `pg_locks` shows.
fn advisory_key(digest: &str) -> i64 {
    let bits = u64::from_str_radix(&digest[..16], 16).unwrap_or_default();
    i64::try_from(bits & 0x7FFF_FFFF_FFFF_FFFF).unwrap_or_default()
}

/// A lock for one database, schema and history table.
#[derive(Clone, Debug)]
pub(crate) enum MigrationLock {
    /// PostgreSQL's advisory lock key.
    Advisory(i64),
    /// MySQL's named lock.
    Named(String),
    /// No runner-wide lock (SQLite).
    None,
}

impl MigrationLock {
    /// Derives the lock for `conn`'s database, schema and the history table, or from
    /// `key` when the caller overrides it.
    pub(crate) async fn for_connection(
        conn: &Connection,
        table: &str,
        key: Option<&str>,
    ) -> Result<Self> {
        let system = conn.backend().system_name();
        let scope = match key {
            Some(key) => key.to_owned(),
            None => {
                let location = match system {
                    "postgresql" => "SELECT current_database() || '.' || current_schema()",
                    "mysql" | "mariadb" => "SELECT DATABASE()",
                    _ => return Ok(MigrationLock::None),
                };
                let place = covet::raw(location)
                    .fetch_scalar::<Option<String>, _>(conn)
                    .await?;
                format!(
                    "covet-migrate:{}:{table}",
                    place.flatten().unwrap_or_default()
                )
            }
        };
        let digest = checksum(scope.as_bytes());
        Ok(match system {
            "postgresql" => MigrationLock::Advisory(advisory_key(&digest)),
            "mysql" | "mariadb" => MigrationLock::Named(format!("covet:{}", &digest[..40])),
            _ => MigrationLock::None,
        })
    }

    /// Waits for the lock, logging who holds it, until `timeout` passes.
    pub(crate) async fn acquire(&self, conn: &Connection, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let mut reported = None::<Instant>;
        loop {
            // A server-side wait of a whole second keeps MySQL's round trips few, but only
            // while a second or more of the timeout is left.
            let left = timeout.saturating_sub(started.elapsed());
            let server_wait = if left >= Duration::from_secs(1) {
                Duration::from_secs(1)
            } else {
                Duration::ZERO
            };
            if self.try_acquire(conn, server_wait).await? {
                if reported.is_some() {
                    let waited_ms =
                        u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    tracing::info!(target: "covet::migrate", waited_ms, "took the migration lock");
                }
                return Ok(());
            }
            if started.elapsed() >= timeout {
                let holder = self.holder(conn).await;
                return Err(MigrateError::LockTimeout {
                    waited: started.elapsed(),
                    holder,
                });
            }
            if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                let holder = self.holder(conn).await;
                tracing::info!(target: "covet::migrate", %holder, "waiting for the migration lock");
                reported = Some(Instant::now());
            }
            if matches!(self, MigrationLock::Advisory(_)) || server_wait.is_zero() {
                let left = timeout.saturating_sub(started.elapsed());
                tokio::time::sleep(left.min(Duration::from_millis(100))).await;
            }
        }
    }

    /// Tries once to take the lock. MySQL's `GET_LOCK` waits up to `wait` (whole seconds)
    /// inside the server.
    async fn try_acquire(&self, conn: &Connection, wait: Duration) -> Result<bool> {
        let taken = match self {
            MigrationLock::Advisory(key) => covet::raw("SELECT pg_try_advisory_lock($1)")
                .bind(*key)
                .fetch_scalar::<bool, _>(conn)
                .await?
                .unwrap_or(false),
            MigrationLock::Named(name) => {
                covet::raw("SELECT GET_LOCK(?, ?)")
                    .bind(name.clone())
                    .bind(i64::try_from(wait.as_secs()).unwrap_or(1))
                    .fetch_scalar::<Option<i64>, _>(conn)
                    .await?
                    .flatten()
                    == Some(1)
            }
            MigrationLock::None => true,
        };
        Ok(taken)
    }

    /// Releases the lock.
    pub(crate) async fn release(&self, conn: &Connection) -> Result<()> {
        match self {
            MigrationLock::Advisory(key) => {
                covet::raw("SELECT pg_advisory_unlock($1)")
                    .bind(*key)
                    .fetch_scalar::<bool, _>(conn)
                    .await?;
            }
            MigrationLock::Named(name) => {
                covet::raw("SELECT RELEASE_LOCK(?)")
                    .bind(name.clone())
                    .fetch_scalar::<Option<i64>, _>(conn)
                    .await?;
            }
            MigrationLock::None => {}
        }
        Ok(())
    }

    /// Describes the session holding the lock, as far as the database reports it.
    async fn holder(&self, conn: &Connection) -> String {
        let described = match self {
            MigrationLock::Advisory(key) => {
                let sql = "SELECT 'pid ' || a.pid || ' (' || concat_ws(', ', \
                           nullif(a.application_name, ''), \
                           coalesce(a.client_addr::text, 'local')) || ')' \
                           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                           WHERE l.locktype = 'advisory' AND l.granted \
                           AND l.classid::bigint = $1 AND l.objid::bigint = $2";
                covet::raw(sql)
                    .bind(*key >> 32)
                    .bind(*key & 0xFFFF_FFFF)
                    .fetch_scalar::<Option<String>, _>(conn)
                    .await
            }
            MigrationLock::Named(name) => {
                let sql = "SELECT CONCAT('connection ', p.ID, ' (', p.USER, '@', p.HOST, ')') \
                           FROM information_schema.PROCESSLIST p WHERE p.ID = IS_USED_LOCK(?)";
                covet::raw(sql)
                    .bind(name.clone())
                    .fetch_scalar::<Option<String>, _>(conn)
                    .await
            }
            MigrationLock::None => Ok(None),
        };
        match described {
            Ok(Some(Some(holder))) => holder,
            Ok(_) => String::from("an unknown session"),
            Err(error) => {
                tracing::debug!(target: "covet::migrate", %error, "could not read the lock holder");
                String::from("an unknown session")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::advisory_key;

    #[test]
    fn advisory_key_keeps_high_digests() {
        let low = advisory_key("0123456789abcdef0000");
        let high = advisory_key("f123456789abcdef0000");
        assert_eq!(low, 0x0123_4567_89ab_cdef);
        assert_eq!(
            high, 0x7123_4567_89ab_cdef,
            "a digest from 8 upward must not become 0"
        );
    }
}
