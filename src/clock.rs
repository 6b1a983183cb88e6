//! The time source for caches and claim checks: the real clock, which tests can move forward
//! to cross TTLs and cool-downs without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The real clock plus a skew that only tests change.
///
/// ```
/// use std::time::Duration;
/// let clock = tollgate::clock::Clock::default();
/// let before = clock.now();
/// clock.advance(Duration::from_secs(60));
/// assert!(clock.now() >= before + Duration::from_secs(60));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Clock {
    skew_ms: Arc<AtomicU64>,
}

impl Clock {
    fn skew(&self) -> Duration {
        Duration::from_millis(self.skew_ms.load(Ordering::Relaxed))
    }

    /// The current monotonic instant.
    pub fn now(&self) -> Instant {
        Instant::now() + self.skew()
    }

    /// Seconds since the Unix epoch, for `exp`, `nbf` and `iat`.
    pub fn unix_seconds(&self) -> u64 {
        (SystemTime::now() + self.skew())
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }
}
