//! Time: the source for caches and claim checks (the real clock, which tests can move forward
//! to cross TTLs and cool-downs without sleeping), and the one calendar every part of tollgate
//! shares: UTC dates and day counts, `YYYY-MM-DD`, and API Gateway's `requestTime` text, which
//! `serve` writes and the usage report reads.

use std::fmt;
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

    /// Milliseconds since the Unix epoch, for revocation entries and their read cursor.
    pub fn unix_millis(&self) -> u64 {
        (SystemTime::now() + self.skew())
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.skew_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// Milliseconds in a day.
const DAY_MILLIS: i64 = 86_400_000;

/// Month names as API Gateway's `requestTime` writes them, January first.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

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

/// The day count since 1970-01-01 of a proleptic Gregorian date: the inverse of
/// [`civil_from_days`] (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// A calendar date (UTC), printed `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
}

/// Text that is not a date like `2022-01-15`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DateError {
    text: String,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not a date like 2022-01-15", self.text)
    }
}

impl std::error::Error for DateError {}

impl Date {
    /// Parses `YYYY-MM-DD`.
    ///
    /// ```
    /// use tollgate::clock::Date;
    /// assert_eq!(Date::parse("2022-01-15").unwrap().to_string(), "2022-01-15");
    /// assert!(Date::parse("2022-13-01").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, DateError> {
        let bad = || DateError {
            text: text.to_string(),
        };
        let mut parts = text.trim().splitn(3, '-');
        let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let (year, month, day) = (
            y.parse::<i64>().map_err(|_| bad())?,
            m.parse::<u32>().map_err(|_| bad())?,
            d.parse::<u32>().map_err(|_| bad())?,
        );
        if y.len() != 4
            || !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
        {
            return Err(bad());
        }
        Ok(Date { year, month, day })
    }

    /// The UTC date of a Unix time in milliseconds.
    pub fn from_epoch_millis(ms: i64) -> Self {
        let (year, month, day) = civil_from_days(ms.div_euclid(DAY_MILLIS));
        Date { year, month, day }
    }

    /// Days from 1970-01-01 to this date.
    fn days_from_epoch(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `10/Feb/2026:13:45:10 +0000`: a Unix time in milliseconds as API Gateway's
/// `$context.requestTime` writes it (UTC).
///
/// ```
/// use tollgate::clock::{format_request_time, parse_request_time};
/// let text = format_request_time(1_709_210_096_000);
/// assert_eq!(text, "29/Feb/2024:12:34:56 +0000");
/// assert_eq!(parse_request_time(&text), Some(1_709_210_096_000));
/// ```
pub fn format_request_time(epoch_ms: i64) -> String {
    let seconds = epoch_ms.div_euclid(1000);
    let (days, of_day) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// `2026-12-02T17:05:00Z`: a Unix time in seconds as RFC 3339 writes it (UTC).
///
/// ```
/// use tollgate::clock::{format_rfc3339, parse_rfc3339};
/// assert_eq!(format_rfc3339(1_709_210_096), "2024-02-29T12:34:56Z");
/// assert_eq!(parse_rfc3339("2024-02-29T12:34:56Z"), Some(1_709_210_096));
/// ```
pub fn format_rfc3339(epoch_s: i64) -> String {
    let (days, of_day) = (epoch_s.div_euclid(86_400), epoch_s.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Parses an RFC 3339 date-time (`2026-12-02T17:05:00Z`, `2026-12-02T18:05:00.5+01:00`; `t`,
/// `z` and a space for `T` allowed) into Unix seconds, a fraction rounded up: a cut-off or an
/// expiry is never earlier than written. Leap seconds (`:60`) are refused.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.is_ascii() || text.len() < 20 {
        return None;
    }
    let date = Date::parse(&text[..10]).ok()?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return None;
    }
    let rest = &text[11..];
    let (hh, mm, ss) = (
        two_digits(&rest[0..2], 23)?,
        two_digits(rest.get(3..5)?, 59)?,
        two_digits(rest.get(6..8)?, 59)?,
    );
    if rest.as_bytes()[2] != b':' || rest.as_bytes()[5] != b':' {
        return None;
    }
    let mut zone = &rest[8..];
    let mut fraction = false;
    if let Some(after) = zone.strip_prefix('.') {
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = after[..digits].bytes().any(|b| b != b'0');
        zone = &after[digits..];
    }
    let offset = match zone {
        "Z" | "z" => 0,
        _ => {
            let sign = match zone.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if zone.len() != 6 || zone.as_bytes()[3] != b':' {
                return None;
            }
            sign * (two_digits(&zone[1..3], 23)? * 3600 + two_digits(&zone[4..6], 59)? * 60)
        }
    };
    Some(date.days_from_epoch() * 86_400 + hh * 3600 + mm * 60 + ss - offset + i64::from(fraction))
}

/// The value of exactly two ASCII digits, if it is at most `max`.
fn two_digits(text: &str, max: i64) -> Option<i64> {
    match text.as_bytes() {
        [a @ b'0'..=b'9', b @ b'0'..=b'9'] => {
            Some(i64::from(a - b'0') * 10 + i64::from(b - b'0')).filter(|v| *v <= max)
        }
        _ => None,
    }
}

/// Parses API Gateway's `$context.requestTime` (`15/Jan/2022:10:00:00 +0000`) into epoch ms.
/// Every field must have its exact form (two-digit day, hour, minute, second; four-digit year;
/// a `+HHMM` or `-HHMM` zone of ASCII digits), so no value can overflow and no slice can fall
/// inside a multi-byte character.
pub fn parse_request_time(text: &str) -> Option<i64> {
    let (stamp, zone) = text.split_once(' ')?;
    let mut parts = stamp.splitn(3, '/');
    let (day, month, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let mut clock = rest.split(':');
    let (year, h, m, s) = (clock.next()?, clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() || day.len() != 2 {
        return None;
    }
    let month = MONTHS.iter().position(|name| *name == month)? as u32 + 1;
    let date = Date::parse(&format!("{year}-{month:02}-{day}")).ok()?;
    let seconds = two_digits(h, 23)? * 3600 + two_digits(m, 59)? * 60 + two_digits(s, 60)?;
    let (sign, hh, mm) = match (zone.as_bytes().first(), zone.get(1..3), zone.get(3..)) {
        (Some(b'+'), Some(hh), Some(mm)) => (1, hh, mm),
        (Some(b'-'), Some(hh), Some(mm)) => (-1, hh, mm),
        _ => return None,
    };
    let offset = sign * (two_digits(hh, 23)? * 3600 + two_digits(mm, 59)? * 60);
    Some((date.days_from_epoch() * 86_400 + seconds - offset) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_reads_offsets_and_rounds_fractions_up() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339("1969-12-31T23:00:00-01:00"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01t00:00:00.001z"), Some(1));
        assert_eq!(parse_rfc3339("1970-01-01 00:00:00.000Z"), Some(0));
        for bad in [
            "1970-01-01T00:00:00",
            "1970-01-01T24:00:00Z",
            "1970-01-01T00:00:60Z",
            "1970-02-30T00:00:00Z",
            "1970-01-01T00:00:00.Z",
            "1970-01-01T00:00:00+0100",
            "1970-01-01T00:00:00Zjunk",
            "1970-01-01T00:00:00\u{e9}Z",
            "",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn rfc3339_round_trips_every_day_of_four_centuries() {
        for day in (-146_097..146_097).step_by(97) {
            let t = day * 86_400 + 3_723;
            assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t), "{t}");
        }
    }

    #[test]
    fn epoch_millis_become_utc_dates() {
        assert_eq!(Date::from_epoch_millis(0).to_string(), "1970-01-01");
        assert_eq!(
            Date::from_epoch_millis(1_642_204_800_000).to_string(),
            "2022-01-15"
        );
        assert_eq!(
            Date::from_epoch_millis(1_642_291_199_999).to_string(),
            "2022-01-15"
        );
        assert_eq!(
            Date::from_epoch_millis(951_782_400_000).to_string(),
            "2000-02-29"
        );
    }

    #[test]
    fn dates_round_trip_through_days() {
        for text in ["1970-01-01", "2000-02-29", "2022-01-16", "2100-12-31"] {
            let d = Date::parse(text).unwrap();
            assert_eq!(Date::from_epoch_millis(d.days_from_epoch() * 86_400_000), d);
        }
    }

    #[test]
    fn request_time_is_api_gateways_format() {
        assert_eq!(format_request_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(
            format_request_time(1_709_210_096_000),
            "29/Feb/2024:12:34:56 +0000"
        );
    }

    #[test]
    fn request_time_with_offset_is_read_in_utc() {
        let ms = parse_request_time("16/Jan/2022:01:30:00 +0200").unwrap();
        assert_eq!(Date::from_epoch_millis(ms).to_string(), "2022-01-15");
    }

    #[test]
    fn request_time_with_a_multibyte_zone_is_unreadable() {
        for zone in ["+0\u{e9}0", "+\u{e9}00", "\u{2212}0200", "+0\u{662}00"] {
            assert_eq!(
                parse_request_time(&format!("15/Jan/2022:10:00:00 {zone}")),
                None
            );
        }
    }

    #[test]
    fn request_time_fields_out_of_range_are_unreadable() {
        for text in [
            "15/Jan/2022:24:00:00 +0000",
            "15/Jan/2022:9999999999999999999:00:00 +0000",
            "15/Jan/2022:10:60:00 +0000",
            "15/Jan/2022:10:00:00 +2400",
            "15/Jan/2022:10:00:00 +00000",
            "15/Jan/2022:10:00:00:00 +0000",
            "5/Jan/2022:10:00:00 +0000",
        ] {
            assert_eq!(parse_request_time(text), None, "{text}");
        }
    }
}
