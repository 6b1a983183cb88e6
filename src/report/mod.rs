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
//!
//! The rooms: `record` reads one line into a call, `bill` prices calls and adds them up into
//! rows, `reader` streams files and stdin (plain or gzip) into the bill, and `render` prints
//! the table, CSV or JSON. `prices` is the price table `tollgate prices` exports for the
//! at-scale SQL, priced by the bill's own table.

mod bill;
mod prices;
mod reader;
mod record;
mod render;

pub use crate::clock::Date;
pub use bill::Aggregator;
pub use prices::{OTHER_PLANS, PriceRow, PriceTableError, price_rows};

/// The price table as CSV (`route,plan,price_micros`, a header line first), quoted as the
/// report's CSV is.
pub fn prices_csv(rows: &[PriceRow]) -> String {
    render::prices_csv(rows)
}

use crate::access::RouteRule;
use crate::pricing::Plans;

/// How the report is printed (`usage-report --format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A Markdown table, as in the README.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON document: rows, total and line counts.
    Json,
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
#[derive(Clone, Debug, PartialEq, Eq)]
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Non-blank lines read.
    pub read: u64,
    /// 2xx calls in the report.
    pub billed: u64,
    /// Calls that were not 2xx, and CORS preflights (no caller, no cost).
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
        match format {
            Format::Table => render::table(self),
            Format::Csv => render::csv(self),
            Format::Json => render::json(self),
        }
    }

    /// A summary of how the lines were used, and every malformed line, for stderr.
    pub fn summary(&self) -> String {
        let l = &self.lines;
        let mut out = format!(
            "{} lines: {} billed calls, {} not billed (not 2xx, or a CORS preflight), {} outside the dates, {} malformed, {} without a price\n",
            l.read, l.billed, l.not_billed, l.outside_dates, l.malformed, l.unpriced
        );
        for (source, number, why) in &self.problems {
            out.push_str(&format!("malformed: {source}:{number}: {why}\n"));
        }
        out
    }
}
