//! Running a transaction again after a serialization failure or deadlock.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::transaction::Transaction;
use crate::transaction_options::TransactionOptions;

/// The policy by which [`Database::transaction_with_retry`] runs a transaction again
/// after a retryable failure.
///
/// When attempt `n` (from 1) fails with a retryable error, the next one starts after
/// `initial_backoff * 2^(n-1)`, capped at `max_backoff`. A random part of up to half of
/// that pause is dropped (jitter), so that transactions that collided do not collide again
/// in step. The defaults are 5 attempts, 10 ms initial backoff and 1 s maximum backoff.
///
/// ```
/// use std::time::Duration;
///
/// let policy = covet::RetryPolicy::new()
///     .max_attempts(10)
///     .initial_backoff(Duration::from_millis(5))
///     .max_backoff(Duration::from_millis(200));
/// assert!(policy.validate().is_ok());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// Creates the default policy: 5 attempts, 10 ms initial backoff, 1 s maximum backoff.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets how many times the transaction runs at most, the first attempt included. It
    /// must be at least 1.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the pause after the first failed attempt, before jitter.
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// Sets the longest pause between two attempts. It must not be below the initial
    /// backoff.
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// Returns the maximum number of attempts.
    pub fn get_max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Checks that the policy can run a transaction at all.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when `max_attempts` is 0 or `max_backoff` is below
    /// `initial_backoff`.
    pub fn validate(&self) -> Result<()> {
        if self.max_attempts == 0 {
            return Err(Error::InvalidInput(String::from(
                "RetryPolicy max_attempts is 0, so the transaction would never run; use 1 to \
                 run it once without retries, or more to retry",
            )));
        }
        if self.max_backoff < self.initial_backoff {
            return Err(Error::InvalidInput(format!(
                "RetryPolicy max_backoff ({:?}) is below initial_backoff ({:?}); raise \
                 max_backoff or lower initial_backoff",
                self.max_backoff, self.initial_backoff
            )));
        }
        Ok(())
    }

    /// Returns the pause before the attempt after `attempt` (counted from 1), before
    /// jitter: the exponential backoff capped at `max_backoff`.
    fn backoff(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Drops a random part of up to half of `backoff`.
fn with_jitter(backoff: Duration) -> Duration {
    // Each RandomState has new random keys, so its hash of a constant is a random number.
    let random = RandomState::new().hash_one(0u8);
    let half = backoff / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let dropped = if nanos == 0 { 0 } else { random % nanos };
    backoff - Duration::from_nanos(dropped)
}

/// An error type a retried transaction may return: [`Error`] itself, or an application
/// error that can carry one.
///
/// Implement it for an application's error type to return that type from the closure of
/// [`Database::transaction_with_retry`].
pub trait RetryableError: From<Error> {
    /// Returns the covet error inside, if this error came from the database layer.
    fn as_covet_error(&self) -> Option<&Error>;

    /// Returns whether running the transaction again may succeed. The default returns
    /// [`Error::is_retryable`] of the covet error inside, and `false` without one.
    fn is_retryable(&self) -> bool {
        self.as_covet_error().is_some_and(Error::is_retryable)
    }
}

impl RetryableError for Error {
    fn as_covet_error(&self) -> Option<&Error> {
        Some(self)
    }
}

/// Runs `body` in transactions begun with `options` until one commits, a non-retryable
/// error occurs, or the policy's attempts run out.
pub(crate) async fn run_with_retry<T, E, F, Fut>(
    db: &Database,
    policy: &RetryPolicy,
    options: TransactionOptions,
    mut body: F,
) -> Result<T, E>
where
    F: FnMut(Transaction) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: RetryableError,
{
    policy.validate()?;
    let mut attempt = 1;
    loop {
        let (outcome, ended_by_body) = match db.begin_with(options).await {
            Ok(tx) => tx.run_reporting(&mut body).await,
            Err(error) => (Err(E::from(error)), false),
        };
        let error = match outcome {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        if ended_by_body {
            // The body committed or rolled back on its own before failing, so its writes
            // may be committed: running it again could write them twice.
            if error.is_retryable() {
                tracing::warn!(
                    target: "covet::transaction",
                    attempt,
                    "not retrying: the transaction body ended its own transaction before \
                     the retryable error, so its writes may already be committed"
                );
            }
            return Err(error);
        }
        if !error.is_retryable() || attempt >= policy.max_attempts {
            if error.is_retryable() {
                log_attempt(&error, attempt, policy, None);
            }
            return Err(error);
        }
        let pause = with_jitter(policy.backoff(attempt));
        log_attempt(&error, attempt, policy, Some(pause));
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

/// Logs a failed attempt: before a retry when `pause` is set, or when giving up. Only the
/// error's kind and code are logged, because a server message can quote bound values.
fn log_attempt<E: RetryableError>(
    error: &E,
    attempt: u32,
    policy: &RetryPolicy,
    pause: Option<Duration>,
) {
    let covet_error = error.as_covet_error();
    let kind = covet_error.map(Error::kind);
    let code = covet_error.and_then(Error::code);
    match pause {
        Some(pause) => tracing::info!(
            target: "covet::transaction",
            attempt,
            max_attempts = policy.max_attempts,
            kind = ?kind,
            code,
            backoff_ms = pause.as_secs_f64() * 1000.0,
            "retrying the transaction after a retryable error"
        ),
        None => tracing::info!(
            target: "covet::transaction",
            attempt,
            max_attempts = policy.max_attempts,
            kind = ?kind,
            code,
            "giving up on the transaction: its last attempt failed with a retryable error"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_max() {
        let policy = RetryPolicy::new()
            .initial_backoff(Duration::from_millis(10))
            .max_backoff(Duration::from_millis(50));
        assert_eq!(policy.backoff(1), Duration::from_millis(10));
        assert_eq!(policy.backoff(2), Duration::from_millis(20));
        assert_eq!(policy.backoff(3), Duration::from_millis(40));
        assert_eq!(policy.backoff(4), Duration::from_millis(50));
        assert_eq!(policy.backoff(1000), Duration::from_millis(50));
    }

    #[test]
    fn jitter_keeps_at_least_half() {
        let backoff = Duration::from_millis(100);
        let pauses: Vec<Duration> = (0..200).map(|_| with_jitter(backoff)).collect();
        for pause in &pauses {
            assert!(*pause <= backoff, "{pause:?}");
            assert!(*pause >= backoff / 2, "{pause:?}");
        }
        let first = pauses[0];
        assert!(
            pauses.iter().any(|pause| *pause != first),
            "jitter varies the pause"
        );
        assert_eq!(with_jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn validate_rejects_zero_attempts() {
        let error = RetryPolicy::new().max_attempts(0).validate().unwrap_err();
        assert!(error.to_string().contains("max_attempts is 0"), "{error}");
    }

    #[test]
    fn validate_rejects_inverted_backoff() {
        let policy = RetryPolicy::new()
            .initial_backoff(Duration::from_secs(2))
            .max_backoff(Duration::from_secs(1));
        let error = policy.validate().unwrap_err();
        assert!(error.to_string().contains("max_backoff (1s)"), "{error}");
    }
}
