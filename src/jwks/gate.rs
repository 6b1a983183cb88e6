//! Whether a fetch may start now: the one place that owns the pauses between fetches.
//!
//! Two pauses, as aws-jwt-verify's penalty box and Envoy's fetcher have them: after a refetch
//! for an unknown `kid` that came back still without it, unknown `kid`s trigger no fetch for
//! the cool-down; after a failed fetch, nothing fetches again before the retry pause.

use std::fmt;
use std::time::{Duration, Instant};

use super::fetch::FetchError;

/// Why a fetch for an unknown `kid` is not made now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pause {
    /// A refetch for an unknown `kid` came back without it, too recently.
    KidCooldown,
    /// The last fetch failed, too recently.
    AfterFailure,
}

impl fmt::Display for Pause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pause::KidCooldown => "refetch cool-down active, not refetched",
            Pause::AfterFailure => "the last fetch failed, not refetched before the retry pause",
        })
    }
}

/// A failed fetch, kept until the next fetch succeeds.
#[derive(Clone, Debug)]
struct Failure {
    /// When the failed fetch started.
    at: Instant,
    error: FetchError,
}

/// The pauses between fetches of one JWKS.
#[derive(Clone, Debug)]
pub(super) struct Gate {
    refetch_cooldown: Duration,
    retry_after_failure: Duration,
    /// Set by a refetch that came back without the unknown `kid` it was made for.
    kid_cooldown_until: Option<Instant>,
    last_failure: Option<Failure>,
}

impl Gate {
    /// A gate with no pause running.
    pub(super) fn new(refetch_cooldown: Duration, retry_after_failure: Duration) -> Self {
        Gate {
            refetch_cooldown,
            retry_after_failure,
            kid_cooldown_until: None,
            last_failure: None,
        }
    }

    /// The last fetch's error while its retry pause runs at `now`: no fetch of any kind
    /// until it has passed.
    pub(super) fn backing_off(&self, now: Instant) -> Option<&FetchError> {
        self.last_failure
            .as_ref()
            .filter(|failure| now < failure.at + self.retry_after_failure)
            .map(|failure| &failure.error)
    }

    /// Whether a token with an unknown `kid` may refetch at `now`.
    pub(super) fn admit_kid_miss(&self, now: Instant) -> Result<(), Pause> {
        if self.kid_cooldown_until.is_some_and(|until| now < until) {
            return Err(Pause::KidCooldown);
        }
        if self.backing_off(now).is_some() {
            return Err(Pause::AfterFailure);
        }
        Ok(())
    }

    /// A fetch made for an unknown `kid` came back without it: the cool-down starts at `now`.
    pub(super) fn kid_still_missing(&mut self, now: Instant) {
        self.kid_cooldown_until = Some(now + self.refetch_cooldown);
    }

    /// The error of the last fetch, unless a later one succeeded.
    pub(super) fn last_error(&self) -> Option<&FetchError> {
        self.last_failure.as_ref().map(|failure| &failure.error)
    }

    /// A fetch succeeded: the retry pause and the last error are over.
    pub(super) fn fetch_succeeded(&mut self) {
        self.last_failure = None;
    }

    /// A fetch that started at `at` failed: the retry pause runs from `at`.
    pub(super) fn fetch_failed(&mut self, at: Instant, error: FetchError) {
        self.last_failure = Some(Failure { at, error });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate() -> (Gate, Instant) {
        (
            Gate::new(Duration::from_secs(10), Duration::from_secs(1)),
            Instant::now(),
        )
    }

    #[test]
    fn a_new_gate_admits_a_kid_miss() {
        let (gate, now) = gate();
        assert_eq!(gate.admit_kid_miss(now), Ok(()));
        assert!(gate.backing_off(now).is_none());
    }

    #[test]
    fn a_kid_still_missing_refuses_kid_misses_for_the_cooldown_only() {
        let (mut gate, now) = gate();
        gate.kid_still_missing(now);
        assert_eq!(
            gate.admit_kid_miss(now + Duration::from_secs(9)),
            Err(Pause::KidCooldown)
        );
        assert!(
            gate.backing_off(now).is_none(),
            "the cool-down is for kid misses alone"
        );
        assert_eq!(gate.admit_kid_miss(now + Duration::from_secs(10)), Ok(()));
    }

    #[test]
    fn a_failed_fetch_pauses_every_fetch_until_the_retry_pause_has_passed() {
        let (mut gate, now) = gate();
        gate.fetch_failed(now, FetchError::NoClient);
        assert_eq!(gate.admit_kid_miss(now), Err(Pause::AfterFailure));
        assert_eq!(gate.backing_off(now), Some(&FetchError::NoClient));
        let later = now + Duration::from_secs(1);
        assert_eq!(gate.admit_kid_miss(later), Ok(()));
        assert!(gate.backing_off(later).is_none());
        assert_eq!(
            gate.last_error(),
            Some(&FetchError::NoClient),
            "kept until a success"
        );
    }

    #[test]
    fn a_successful_fetch_ends_the_retry_pause() {
        let (mut gate, now) = gate();
        gate.fetch_failed(now, FetchError::NoClient);
        gate.fetch_succeeded();
        assert_eq!(gate.admit_kid_miss(now), Ok(()));
        assert!(gate.last_error().is_none());
    }
}
