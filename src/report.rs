//! `tollgate usage-report`: API Gateway access logs in, the cost table out.
//!
//! Reads access-log lines in the JSON format the SAM template configures (one object per line,
//! carrying `$context.authorizer.*` fields), bills every 2xx call to its user, route and UTC
//! date, and prints User ID, API Endpoint, Date, Calls and Cost with totals, as a table, CSV or
//! JSON. A call's route is the one API Gateway routed it to (REST `resourcePath` with the
//! method, HTTP API and WebSocket `routeKey`), and calls to different routes are never merged.
//! A call's cost is its logged `costMicros` when the logged `endpoint` is its own route; when a
//! line has none, or another route's (a context cached under a token-only key), the route's
//! price for the logged plan comes from the pricing configuration. Lines that are not 2xx are
//! not billed. Malformed lines are counted and reported, never silently dropped, and
//! never abort the report.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::sync::{Mutex, PoisonError};

/// One user's calls and cost, by route and day.
type RoutesOfUser = HashMap<String, HashMap<Date, (u64, u64)>>;

/// How much of a log is read at a time (then cut after its last newline).
const BLOCK_BYTES: usize = 1 << 20;

use std::borrow::Cow;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

use crate::access::RouteRule;
use crate::pricing::{Plans, format_micros};
use crate::routes::RoutePattern;

/// How the report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Markdown-style table.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON document with rows, totals and line counts.
    Json,
}

impl Format {
    /// Parses `table`, `csv` or `json`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "table" => Ok(Format::Table),
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            other => Err(format!("--format {other:?} is not table, csv or json")),
        }
    }
}

/// A calendar date (UTC), printed `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    ///
    /// ```
    /// use tollgate::report::Date;
    /// assert_eq!(Date::parse("2022-01-15").unwrap().to_string(), "2022-01-15");
    /// assert!(Date::parse("2022-13-01").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a date like 2022-01-15");
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
        let (year, month, day) = crate::clock::civil_from_days(ms.div_euclid(86_400_000));
        Date { year, month, day }
    }

    fn days_from_epoch(self) -> i64 {
        let y = self.year - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
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
fn request_time_millis(text: &str) -> Option<i64> {
    let (stamp, zone) = text.split_once(' ')?;
    let mut parts = stamp.splitn(3, '/');
    let (day, month, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let mut clock = rest.split(':');
    let (year, h, m, s) = (clock.next()?, clock.next()?, clock.next()?, clock.next()?);
    if clock.next().is_some() || day.len() != 2 {
        return None;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
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

/// What the report needs to know besides the log lines.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// First date included.
    pub from: Option<Date>,
    /// Last date included.
    pub to: Option<Date>,
    /// Route rules and plans, to price lines without `costMicros`.
    pub pricing: Option<(Vec<RouteRule>, Plans)>,
}

/// One row of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    /// The caller.
    pub user_id: String,
    /// The route API Gateway routed the calls to: its path (`/api/user/profile`), or the whole
    /// route (`GET /x`, `$connect`) where the path alone would not tell two routes apart.
    pub endpoint: String,
    /// The UTC date.
    pub date: String,
    /// Billed (2xx) calls.
    pub calls: u64,
    /// Their cost in micros.
    pub cost_micros: u64,
}

/// How the input lines were used.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LineCounts {
    /// Non-blank lines read.
    pub read: u64,
    /// 2xx calls in the report.
    pub billed: u64,
    /// Calls that were not 2xx.
    pub not_billed: u64,
    /// Lines that could not be used.
    pub malformed: u64,
    /// Calls outside `--from`/`--to`.
    pub outside_dates: u64,
    /// Billed calls with no `costMicros` and no priced route: counted at zero cost.
    pub unpriced: u64,
}

/// The aggregated report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rows sorted by user, endpoint and date.
    pub rows: Vec<Row>,
    /// How the lines were used.
    pub lines: LineCounts,
    /// Why each malformed line was refused: (source, line number, reason).
    pub problems: Vec<(String, usize, String)>,
}

/// One access-log field as the report sees it: text, a number, or something else.
#[derive(Debug)]
enum Field<'a> {
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    /// `null`, a boolean, an array or an object (named for the error message).
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Field<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<'a>, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Field::Other("number"), Field::Number))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field<'a>, E> {
                Ok(Field::Other("boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field<'a>, E> {
                Ok(Field::Other("null"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'a>, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Field::Other("array"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Field<'a>, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Field::Other("object"))
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// The fields of an access-log line the report reads; every other field is skipped unread.
#[derive(Debug, Default)]
struct Record<'a> {
    fields: [Option<Field<'a>>; RECORD_KEYS.len()],
}

/// How many `\n` bytes `bytes` holds (a sum with no branch per byte, which the compiler
/// vectorises).
fn newlines(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |count, &b| count + usize::from(b == b'\n'))
}

/// A member name, borrowed from the line unless it holds an escape.
#[derive(Deserialize)]
#[serde(transparent)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// The keys [`Record`] keeps, in the order of its fields.
const RECORD_KEYS: [&str; 12] = [
    "status",
    "requestTimeEpoch",
    "requestTime",
    "userId",
    "principalId",
    "httpMethod",
    "endpoint",
    "routeKey",
    "resourcePath",
    "path",
    "plan",
    "costMicros",
];

/// The place of `key` in [`RECORD_KEYS`] (one match, not a comparison with each key).
fn record_index(key: &str) -> Option<usize> {
    let i = match key {
        "status" => 0,
        "requestTimeEpoch" => 1,
        "requestTime" => 2,
        "userId" => 3,
        "principalId" => 4,
        "httpMethod" => 5,
        "endpoint" => 6,
        "routeKey" => 7,
        "resourcePath" => 8,
        "path" => 9,
        "plan" => 10,
        "costMicros" => 11,
        _ => return None,
    };
    debug_assert_eq!(RECORD_KEYS[i], key);
    Some(i)
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Record<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Record<'a>, A::Error> {
                let mut record = Record::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match record_index(&key) {
                        // A repeated key: the last one counts, as in a JSON object read whole.
                        Some(i) => record.fields[i] = Some(map.next_value()?),
                        None => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(record)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl Record<'_> {
    fn get(&self, key: &str) -> Option<&Field<'_>> {
        let i = record_index(key)?;
        self.fields[i].as_ref()
    }
}

fn text_field<'a>(record: &'a Record<'_>, key: &str) -> Option<&'a str> {
    match record.get(key)? {
        Field::Text(s) if !s.is_empty() && s != "-" => Some(s),
        _ => None,
    }
}

/// A text field as [`text_field`] reads it, borrowed from the line itself where it can be.
fn line_text<'a>(record: &Record<'a>, key: &str) -> Option<Cow<'a, str>> {
    let i = record_index(key)?;
    match record.fields[i].as_ref()? {
        Field::Text(s) if !s.is_empty() && s != "-" => Some(s.clone()),
        _ => None,
    }
}

fn number_field(record: &Record<'_>, key: &str) -> Option<Result<i64, String>> {
    match record.get(key)? {
        Field::Number(n) => Some(
            n.as_i64()
                .ok_or_else(|| format!("{key} {n} is not a whole number")),
        ),
        Field::Text(s) if s.is_empty() || s == "-" => None,
        Field::Text(s) => Some(
            s.trim()
                .parse::<i64>()
                .map_err(|_| format!("{key} {s:?} is not a whole number")),
        ),
        Field::Other("null") => None,
        Field::Other(kind) => Some(Err(format!("{key} is {kind}, not a number"))),
    }
}

/// Builds the report from `(source, line number, line)` triples.
pub fn aggregate<'a>(
    lines: impl IntoIterator<Item = (&'a str, usize, &'a str)>,
    options: &Options,
) -> Report {
    let mut aggregator = Aggregator::new(options);
    for (source, number, line) in lines {
        aggregator.add(source, number, line);
    }
    aggregator.finish()
}

/// Bills access-log lines one at a time: memory grows with the rows of the table (users ×
/// routes × days), never with the log.
///
/// ```
/// use tollgate::report::{Aggregator, Options};
/// let options = Options::default();
/// let mut report = Aggregator::new(&options);
/// report.add("log", 1, r#"{"status":"200","requestTimeEpoch":"1642240800000","userId":"u","httpMethod":"GET","resourcePath":"/x","endpoint":"GET /x","costMicros":"100000"}"#);
/// report.add("log", 2, "not json");
/// let report = report.finish();
/// assert_eq!(report.totals(), (1, 100_000));
/// assert_eq!(report.lines.malformed, 1);
/// ```
pub struct Aggregator<'o> {
    options: &'o Options,
    /// user → route → day → (calls, cost): looked up by borrowed text, so a line that adds to an
    /// existing row allocates nothing.
    totals: HashMap<String, RoutesOfUser>,
    /// The cost of everything billed so far. Every row's cost is part of it, so keeping this
    /// sum within u64 keeps every row's sum (and the report's total) within u64 too.
    billed_cost: u64,
    report: Report,
}

impl<'o> Aggregator<'o> {
    /// An empty report with these options.
    pub fn new(options: &'o Options) -> Self {
        Aggregator {
            options,
            totals: HashMap::new(),
            billed_cost: 0,
            report: Report::default(),
        }
    }

    /// Bills one line (`number` counts from 1 in `source`); blank lines are skipped.
    pub fn add(&mut self, source: &str, number: usize, line: &str) {
        if line.trim().is_empty() {
            return;
        }
        let report = &mut self.report;
        report.lines.read += 1;
        match bill(line, self.options) {
            Ok(Billing::NotBilled) => report.lines.not_billed += 1,
            Ok(Billing::OutsideDates) => report.lines.outside_dates += 1,
            Ok(Billing::Call { cost, .. })
                if self.billed_cost.checked_add(cost.unwrap_or(0)).is_none() =>
            {
                report.lines.malformed += 1;
                report.problems.push((
                    source.to_string(),
                    number,
                    format!(
                        "costMicros {} would overflow the report's total cost",
                        cost.unwrap_or(0)
                    ),
                ));
            }
            Ok(Billing::Call {
                user,
                endpoint,
                date,
                cost,
            }) => {
                self.billed_cost += cost.unwrap_or(0);
                report.lines.billed += 1;
                if cost.is_none() {
                    report.lines.unpriced += 1;
                }
                let routes = match self.totals.get_mut(user.as_ref()) {
                    Some(routes) => routes,
                    None => self.totals.entry(user.into_owned()).or_default(),
                };
                let days = match routes.get_mut(endpoint.as_ref()) {
                    Some(days) => days,
                    None => routes.entry(endpoint.into_owned()).or_default(),
                };
                let entry = days.entry(date).or_default();
                entry.0 += 1;
                entry.1 += cost.unwrap_or(0);
            }
            Err(why) => {
                report.lines.malformed += 1;
                report.problems.push((source.to_string(), number, why));
            }
        }
    }

    /// Notes that part of `source` could not be read (a broken gzip stream, say): counted and
    /// listed like a malformed line, and the report goes on.
    pub fn unreadable(&mut self, source: &str, after_line: usize, problem: &str) {
        self.report.lines.malformed += 1;
        self.report.problems.push((
            source.to_string(),
            after_line + 1,
            format!("unreadable: {problem}"),
        ));
    }

    /// Reads every line of `input` (gzip-compressed or plain, told apart by its first bytes),
    /// line by line.
    pub fn read(&mut self, source: &str, input: impl Read) {
        let mut input = BufReader::with_capacity(256 * 1024, input);
        let gzip = matches!(input.fill_buf(), Ok([0x1f, 0x8b, ..]));
        if gzip {
            let decoder = flate2::bufread::MultiGzDecoder::new(input);
            self.read_lines(source, BufReader::with_capacity(256 * 1024, decoder));
        } else {
            self.read_lines(source, input);
        }
    }

    /// Reads `input` in blocks of whole lines and bills them on as many threads as the
    /// machine has cores (at most four): each thread keeps its own totals, merged at the end,
    /// so memory stays a few blocks plus the rows.
    fn read_lines(&mut self, source: &str, mut input: impl BufRead) {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 4);
        let (send, receive) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(workers * 2);
        let receive = Mutex::new(receive);
        let options = self.options;
        let mut unreadable: Option<(usize, String)> = None;
        let partials: Vec<Aggregator<'_>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    let receive = &receive;
                    scope.spawn(move || {
                        let mut partial = Aggregator::new(options);
                        loop {
                            let next = receive
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .recv();
                            let Ok((first, block)) = next else {
                                return partial;
                            };
                            // A block that is UTF-8 as a whole (checked at once) is cut into
                            // lines by `memchr`; otherwise line by line, each read lossily.
                            if let Ok(text) = std::str::from_utf8(&block) {
                                for (i, line) in text.split('\n').enumerate() {
                                    partial.add(source, first + i, line.trim_end_matches('\r'));
                                }
                                continue;
                            }
                            for (i, line) in block.split(|b| *b == b'\n').enumerate() {
                                let text = String::from_utf8_lossy(line);
                                partial.add(source, first + i, text.trim_end_matches('\r'));
                            }
                        }
                    })
                })
                .collect();
            // Blocks of about a MiB, cut after a newline; `number` counts the lines sent.
            let mut number = 1;
            let mut carry: Vec<u8> = Vec::new();
            let mut chunk = vec![0u8; BLOCK_BYTES];
            loop {
                let mut block = std::mem::take(&mut carry);
                block.reserve(BLOCK_BYTES);
                let read = match input.read(&mut chunk) {
                    Ok(0) => 0,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        // The line the stream broke off in is not billed: it is not whole.
                        let whole = block.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                        block.truncate(whole);
                        let lines_before = number - 1 + newlines(&block);
                        unreadable = Some((lines_before, e.to_string()));
                        0
                    }
                };
                block.extend_from_slice(&chunk[..read]);
                let at_end = read == 0;
                let cut = if at_end {
                    block.len()
                } else {
                    match block.iter().rposition(|b| *b == b'\n') {
                        Some(i) => i + 1,
                        None => {
                            carry = block;
                            continue;
                        }
                    }
                };
                carry = block.split_off(cut);
                if block.last() == Some(&b'\n') {
                    block.pop();
                }
                if !block.is_empty() {
                    let lines = newlines(&block) + 1;
                    if send.send((number, block)).is_err() {
                        break;
                    }
                    number += lines;
                }
                if at_end {
                    break;
                }
            }
            drop(send);
            handles.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for partial in partials {
            self.merge(partial);
        }
        self.report.problems.sort_by_key(|(_, line, _)| *line);
        if let Some((after, problem)) = unreadable {
            self.unreadable(source, after, &problem);
        }
    }

    /// Adds another aggregator's lines and rows to this one.
    fn merge(&mut self, other: Aggregator<'_>) {
        let lines = &mut self.report.lines;
        let theirs = &other.report.lines;
        lines.read += theirs.read;
        lines.billed += theirs.billed;
        lines.not_billed += theirs.not_billed;
        lines.malformed += theirs.malformed;
        lines.outside_dates += theirs.outside_dates;
        lines.unpriced += theirs.unpriced;
        self.report.problems.extend(other.report.problems);
        // Each part kept its own sum within u64; their sum saturates rather than wraps.
        self.billed_cost = self.billed_cost.saturating_add(other.billed_cost);
        for (user, routes) in other.totals {
            let mine = self.totals.entry(user).or_default();
            for (route, days) in routes {
                let mine = mine.entry(route).or_default();
                for (date, (calls, cost)) in days {
                    let entry = mine.entry(date).or_default();
                    entry.0 += calls;
                    entry.1 = entry.1.saturating_add(cost);
                }
            }
        }
    }

    /// The report: rows sorted by user, route and date.
    pub fn finish(self) -> Report {
        let mut report = self.report;
        let mut rows: Vec<(String, String, Date, u64, u64)> = Vec::new();
        for (user, routes) in self.totals {
            for (route, days) in routes {
                for (date, (calls, cost)) in days {
                    rows.push((user.clone(), route.clone(), date, calls, cost));
                }
            }
        }
        rows.sort_by(|a, b| (&a.0, &a.1, a.2).cmp(&(&b.0, &b.1, b.2)));
        let mut routes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        routes.sort_unstable();
        routes.dedup();
        let shown: HashMap<String, String> = routes
            .iter()
            .map(|r| r.to_string())
            .zip(shown_endpoints(&routes))
            .collect();
        report.rows = rows
            .into_iter()
            .map(|(user_id, route, date, calls, cost_micros)| Row {
                user_id,
                endpoint: shown.get(&route).cloned().unwrap_or(route),
                date: date.to_string(),
                calls,
                cost_micros,
            })
            .collect();
        report
    }
}

enum Billing<'a> {
    NotBilled,
    OutsideDates,
    Call {
        user: Cow<'a, str>,
        endpoint: Cow<'a, str>,
        date: Date,
        cost: Option<u64>,
    },
}

fn bill<'a>(line: &'a str, options: &Options) -> Result<Billing<'a>, String> {
    let record: Record<'_> = match line.trim_start().as_bytes().first() {
        Some(b'{') => serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?,
        _ => {
            return Err(match serde_json::from_str::<de::IgnoredAny>(line) {
                Ok(_) => "not a JSON object".to_string(),
                Err(e) => format!("not JSON: {e}"),
            });
        }
    };
    let status = number_field(&record, "status").ok_or("no status")??;
    if !(200..300).contains(&status) {
        return Ok(Billing::NotBilled);
    }
    let millis = match number_field(&record, "requestTimeEpoch") {
        Some(ms) => ms?,
        None => text_field(&record, "requestTime")
            .and_then(request_time_millis)
            .ok_or("no requestTimeEpoch or readable requestTime")?,
    };
    let date = Date::from_epoch_millis(millis);
    if options.from.is_some_and(|from| date < from) || options.to.is_some_and(|to| date > to) {
        return Ok(Billing::OutsideDates);
    }
    let user = line_text(&record, "userId")
        .or_else(|| line_text(&record, "principalId"))
        .ok_or("a 2xx call with no userId (is the authorizer context in the access-log format?)")?;
    let method = text_field(&record, "httpMethod");
    let logged = text_field(&record, "endpoint");
    // The route API Gateway routed the call to: REST `resourcePath` with the method, HTTP API
    // and WebSocket `routeKey`. Never `$context.path`, which carries the stage; only a line
    // with neither falls back to its logged endpoint, or its method and path.
    let own_route: Option<Cow<'a, str>> = match (
        line_text(&record, "routeKey"),
        method,
        text_field(&record, "resourcePath"),
    ) {
        (Some(key), _, _) => Some(key),
        (None, Some(m), Some(resource)) => Some(Cow::Owned(format!("{m} {resource}"))),
        _ => None,
    };
    let has_own_route = own_route.is_some();
    let route: Cow<'a, str> = match (own_route, logged, method, text_field(&record, "path")) {
        (Some(route), _, _, _) => route,
        (None, Some(_), _, _) => line_text(&record, "endpoint").unwrap_or_default(),
        (None, None, Some(m), Some(p)) => Cow::Owned(format!("{m} {p}")),
        _ => return Err("no routeKey, resourcePath, endpoint, or httpMethod and path".to_string()),
    };
    let plan = text_field(&record, "plan");
    // A logged cost is the call's own only if it was logged for this very route (a context
    // cached under a token-only key carries another route's endpoint and price).
    let logged_cost = match number_field(&record, "costMicros") {
        Some(micros) => {
            Some(u64::try_from(micros?).map_err(|_| "costMicros is negative".to_string())?)
        }
        None => None,
    };
    let cost = match logged_cost {
        Some(micros) if logged == Some(route.as_ref()) || !has_own_route => Some(micros),
        _ => price_from_config(options, &route, plan),
    };
    Ok(Billing::Call {
        user,
        endpoint: route,
        date,
        cost,
    })
}

/// The price of one call to `route` (`GET /api/user/{id}`, a route key, or a legacy
/// `GET /concrete/path`) for the logged plan, from the most specific rule that covers it.
fn price_from_config(options: &Options, route: &str, plan: Option<&str>) -> Option<u64> {
    let (rules, plans) = options.pricing.as_ref()?;
    let template = RoutePattern::parse(route).ok()?;
    let method = template.method().to_string();
    let mut matching: Vec<&RouteRule> = rules
        .iter()
        .filter(|r| {
            r.pattern.covers_route(&method, &template)
                || r.pattern
                    .matches(&method, route.split_once(" /").map_or("", |(_, p)| p))
        })
        .collect();
    matching.sort_by(|a, b| a.pattern.specificity(&b.pattern));
    let plan = plan
        .filter(|p| plans.names.iter().any(|n| n == p))
        .unwrap_or(&plans.default);
    matching.first().map(|rule| rule.price_for(plan))
}

/// How a route is shown: its path (`/api/user/profile`, as in the seed table) when no other
/// row of the report has the same path under another method, else the whole route.
fn shown_endpoints(routes: &[&str]) -> Vec<String> {
    let path = |route: &str| -> Option<String> {
        route
            .split_once(' ')
            .map(|(_, p)| p.to_string())
            .filter(|p| p.starts_with('/'))
    };
    routes
        .iter()
        .map(|route| match path(route) {
            Some(p)
                if !routes
                    .iter()
                    .any(|other| other != route && path(other).as_deref() == Some(p.as_str())) =>
            {
                p
            }
            _ => route.to_string(),
        })
        .collect()
}

impl Report {
    /// Total billed calls and cost. [`aggregate`] keeps the cost within u64 (a line that would
    /// overflow it is malformed); for rows built by hand the sums saturate rather than wrap.
    pub fn totals(&self) -> (u64, u64) {
        self.rows.iter().fold((0, 0), |(calls, cost), r| {
            (
                calls.saturating_add(r.calls),
                cost.saturating_add(r.cost_micros),
            )
        })
    }

    /// The report in a format.
    pub fn render(&self, format: Format) -> String {
        let (calls, cost) = self.totals();
        match format {
            Format::Table => {
                let mut rows: Vec<[String; 5]> = vec![[
                    "User ID".into(),
                    "API Endpoint".into(),
                    "Date".into(),
                    "Calls".into(),
                    "Cost".into(),
                ]];
                for r in &self.rows {
                    rows.push([
                        table_cell(&r.user_id),
                        table_cell(&r.endpoint),
                        r.date.clone(),
                        r.calls.to_string(),
                        format!("${}", format_micros(r.cost_micros)),
                    ]);
                }
                rows.push([
                    "Total".into(),
                    String::new(),
                    String::new(),
                    calls.to_string(),
                    format!("${}", format_micros(cost)),
                ]);
                let widths: Vec<usize> = (0..5)
                    .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
                    .collect();
                let line = |cells: &[String; 5]| {
                    let padded: Vec<String> = cells
                        .iter()
                        .zip(&widths)
                        .map(|(cell, w)| format!(" {cell:<w$} "))
                        .collect();
                    format!("|{}|\n", padded.join("|"))
                };
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
                let mut out = line(&rows[0]);
                out.push_str(&format!("|{}|\n", rule.join("|")));
                for r in &rows[1..] {
                    out.push_str(&line(r));
                }
                out
            }
            Format::Csv => {
                let mut out = String::from("User ID,API Endpoint,Date,Calls,Cost\n");
                for r in &self.rows {
                    out.push_str(&format!(
                        "{},{},{},{},{}\n",
                        csv(&r.user_id),
                        csv(&r.endpoint),
                        r.date,
                        r.calls,
                        format_micros(r.cost_micros)
                    ));
                }
                out.push_str(&format!("Total,,,{calls},{}\n", format_micros(cost)));
                out
            }
            Format::Json => {
                // Written from typed rows straight to text: no tree of JSON values in memory.
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct JsonRow<'a> {
                    user_id: &'a str,
                    endpoint: &'a str,
                    date: &'a str,
                    calls: u64,
                    cost_micros: u64,
                    cost: String,
                }
                #[derive(Serialize)]
                #[serde(rename_all = "camelCase")]
                struct Total {
                    calls: u64,
                    cost_micros: u64,
                    cost: String,
                }
                #[derive(Serialize)]
                struct Doc<'a> {
                    rows: Vec<JsonRow<'a>>,
                    total: Total,
                    lines: &'a LineCounts,
                }
                let doc = Doc {
                    rows: self
                        .rows
                        .iter()
                        .map(|r| JsonRow {
                            user_id: &r.user_id,
                            endpoint: &r.endpoint,
                            date: &r.date,
                            calls: r.calls,
                            cost_micros: r.cost_micros,
                            cost: format_micros(r.cost_micros),
                        })
                        .collect(),
                    total: Total {
                        calls,
                        cost_micros: cost,
                        cost: format_micros(cost),
                    },
                    lines: &self.lines,
                };
                serde_json::to_string_pretty(&doc)
                    .map(|s| s + "\n")
                    .unwrap_or_default()
            }
        }
    }

    /// A summary of how the lines were used, and every malformed line, for stderr.
    pub fn summary(&self) -> String {
        let l = &self.lines;
        let mut out = format!(
            "{} lines: {} billed calls, {} not 2xx (not billed), {} outside the dates, {} malformed, {} without a price\n",
            l.read, l.billed, l.not_billed, l.outside_dates, l.malformed, l.unpriced
        );
        for (source, number, why) in &self.problems {
            out.push_str(&format!("malformed: {source}:{number}: {why}\n"));
        }
        out
    }
}

/// A table cell with control characters escaped, so that a value from the log (a user id with
/// a newline, say) can never start a row of its own.
fn table_cell(field: &str) -> String {
    if field.chars().any(char::is_control) {
        field
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        field.to_string()
    }
}

fn csv(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_key_has_its_own_place() {
        for (i, key) in RECORD_KEYS.iter().enumerate() {
            assert_eq!(record_index(key), Some(i), "{key}");
        }
        assert_eq!(record_index("userid"), None);
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
    fn request_time_with_offset_is_read_in_utc() {
        let ms = request_time_millis("16/Jan/2022:01:30:00 +0200").unwrap();
        assert_eq!(Date::from_epoch_millis(ms).to_string(), "2022-01-15");
    }

    #[test]
    fn request_time_with_a_multibyte_zone_is_unreadable() {
        for zone in ["+0\u{e9}0", "+\u{e9}00", "\u{2212}0200", "+0\u{662}00"] {
            assert_eq!(
                request_time_millis(&format!("15/Jan/2022:10:00:00 {zone}")),
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
            assert_eq!(request_time_millis(text), None, "{text}");
        }
    }

    #[test]
    fn table_cells_escape_control_characters() {
        assert_eq!(table_cell("a\n| Total |\r"), "a\\n| Total |\\r");
        assert_eq!(table_cell("caf\u{e9}"), "caf\u{e9}");
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        assert_eq!(csv("a,b"), "\"a,b\"");
        assert_eq!(csv("plain"), "plain");
    }
}
