//! Counters the pool keeps, readable as a snapshot and exported through the `metrics`
//! crate facade under names starting with `covet_pool_`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The reason the pool closed a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// It failed with a connection-class error.
    Broken,
    /// It reached its maximum lifetime.
    Lifetime,
    /// It stayed unused past the idle timeout.
    Idle,
    /// Its health check failed.
    HealthCheck,
    /// Resetting it after use failed.
    Reset,
    /// Its `before_acquire` hook failed.
    Hook,
}

impl CloseReason {
    fn label(self) -> &'static str {
        match self {
            CloseReason::Broken => "broken",
            CloseReason::Lifetime => "lifetime",
            CloseReason::Idle => "idle",
            CloseReason::HealthCheck => "health_check",
            CloseReason::Reset => "reset",
            CloseReason::Hook => "hook",
        }
    }
}

/// The pool's running totals.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    created: AtomicU64,
    connect_failures: AtomicU64,
    closed_broken: AtomicU64,
    closed_lifetime: AtomicU64,
    closed_idle: AtomicU64,
    closed_health_check: AtomicU64,
    closed_reset: AtomicU64,
    acquires: AtomicU64,
    acquire_timeouts: AtomicU64,
    health_checks: AtomicU64,
    wait_micros_total: AtomicU64,
    wait_micros_max: AtomicU64,
    hold_micros_total: AtomicU64,
    hold_micros_max: AtomicU64,
    leaks: AtomicU64,
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

impl Counters {
    pub(crate) fn connection_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_connections_created_total").increment(1);
    }

    pub(crate) fn connect_failed(&self) {
        self.connect_failures.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_connect_failures_total").increment(1);
    }

    pub(crate) fn connection_closed(&self, reason: CloseReason) {
        let counter = match reason {
            CloseReason::Broken => &self.closed_broken,
            CloseReason::Lifetime => &self.closed_lifetime,
            CloseReason::Idle => &self.closed_idle,
            CloseReason::HealthCheck => &self.closed_health_check,
            CloseReason::Reset | CloseReason::Hook => &self.closed_reset,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_connections_closed_total", "reason" => reason.label())
            .increment(1);
        tracing::debug!(target: "covet::pool", reason = reason.label(), "closed a pooled connection");
    }

    pub(crate) fn acquired(&self, waited: Duration) {
        self.acquires.fetch_add(1, Ordering::Relaxed);
        self.wait_micros_total
            .fetch_add(micros(waited), Ordering::Relaxed);
        self.wait_micros_max
            .fetch_max(micros(waited), Ordering::Relaxed);
        metrics::histogram!("covet_pool_acquire_wait_seconds").record(waited.as_secs_f64());
        tracing::trace!(target: "covet::pool", wait_us = micros(waited), "acquired a connection");
    }

    pub(crate) fn acquire_timed_out(&self) {
        self.acquire_timeouts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_acquire_timeouts_total").increment(1);
    }

    pub(crate) fn health_checked(&self) {
        self.health_checks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_health_checks_total").increment(1);
    }

    pub(crate) fn released(&self, held: Duration) {
        self.hold_micros_total
            .fetch_add(micros(held), Ordering::Relaxed);
        self.hold_micros_max
            .fetch_max(micros(held), Ordering::Relaxed);
        metrics::histogram!("covet_pool_hold_seconds").record(held.as_secs_f64());
        tracing::trace!(target: "covet::pool", hold_us = micros(held), "released a connection");
    }

    pub(crate) fn leak_found(&self) {
        self.leaks.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("covet_pool_leaks_total").increment(1);
    }

    pub(crate) fn snapshot(&self) -> PoolMetrics {
        let read = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        PoolMetrics {
            created: read(&self.created),
            connect_failures: read(&self.connect_failures),
            closed_broken: read(&self.closed_broken),
            closed_lifetime: read(&self.closed_lifetime),
            closed_idle: read(&self.closed_idle),
            closed_health_check: read(&self.closed_health_check),
            closed_reset: read(&self.closed_reset),
            acquires: read(&self.acquires),
            acquire_timeouts: read(&self.acquire_timeouts),
            health_checks: read(&self.health_checks),
            wait_time_total: Duration::from_micros(read(&self.wait_micros_total)),
            wait_time_max: Duration::from_micros(read(&self.wait_micros_max)),
            hold_time_total: Duration::from_micros(read(&self.hold_micros_total)),
            hold_time_max: Duration::from_micros(read(&self.hold_micros_max)),
            leaks: read(&self.leaks),
        }
    }
}

/// Totals since the pool was created, from [`Pool::metrics`](crate::Pool::metrics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolMetrics {
    /// Connections opened.
    pub created: u64,
    /// Failed attempts to open a connection, retried ones included.
    pub connect_failures: u64,
    /// Connections closed after a connection-class error.
    pub closed_broken: u64,
    /// Connections closed at their maximum lifetime.
    pub closed_lifetime: u64,
    /// Connections closed after the idle timeout.
    pub closed_idle: u64,
    /// Connections closed because their health check failed.
    pub closed_health_check: u64,
    /// Connections closed because resetting them after use, or their `before_acquire`
    /// hook, failed.
    pub closed_reset: u64,
    /// Successful acquires.
    pub acquires: u64,
    /// Acquires that timed out.
    pub acquire_timeouts: u64,
    /// Health-check round trips sent on checkout.
    pub health_checks: u64,
    /// Total time callers waited in acquire.
    pub wait_time_total: Duration,
    /// The maximum wait in acquire.
    pub wait_time_max: Duration,
    /// Total time connections were held by callers.
    pub hold_time_total: Duration,
    /// The maximum time a caller held a connection.
    pub hold_time_max: Duration,
    /// Checkouts held past the leak threshold.
    pub leaks: u64,
}
