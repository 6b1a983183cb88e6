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

/// The proleptic Gregorian date of a day count since 1970-01-01, as (year, month 1-12, day
/// 1-31): Howard Hinnant's `civil_from_days`, exact for every `i64` day that fits a year.
///
/// ```
/// assert_eq!(tollgate::clock::civil_from_days(0), (1970, 1, 1));
/// assert_eq!(tollgate::clock::civil_from_days(19_782), (2024, 2, 29));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}
