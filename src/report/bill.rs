//! Billing: each call read from a line is priced (its own logged cost, else its route's price
//! for its plan from the pricing configuration) and added to its row (user, route, UTC date),
//! and the rows become the report's table.

use std::collections::HashMap;

use super::record::{self, Call, LineError, Reading};
use super::{Options, Report, Row};
use crate::access::RouteRule;
use crate::clock::Date;
use crate::pricing::Plans;
use crate::routes::RoutePattern;

/// One user's calls and cost, by route and day.
type RoutesOfUser = HashMap<String, HashMap<Date, (u64, u64)>>;

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
    prices: PriceTable<'o>,
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
            prices: PriceTable::new(options.pricing.as_ref()),
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
        self.report.lines.read += 1;
        if let Err(why) = self.bill(line) {
            self.report.lines.malformed += 1;
            self.report
                .problems
                .push((source.to_string(), number, why.to_string()));
        }
    }

    /// Reads, prices and adds one non-blank line.
    fn bill(&mut self, line: &str) -> Result<(), LineError> {
        let lines = &mut self.report.lines;
        let call = match record::read(line, self.options.from, self.options.to)? {
            Reading::NotBilled => {
                lines.not_billed += 1;
                return Ok(());
            }
            Reading::OutsideDates => {
                lines.outside_dates += 1;
                return Ok(());
            }
            Reading::Call(call) => call,
        };
        let Call {
            user,
            route,
            date,
            plan,
            own_cost,
        } = call;
        let cost = own_cost.or_else(|| self.prices.price(&route, plan.as_deref()));
        let micros = cost.unwrap_or(0);
        self.billed_cost = self
            .billed_cost
            .checked_add(micros)
            .ok_or(LineError::CostOverflow(micros))?;
        lines.billed += 1;
        if cost.is_none() {
            lines.unpriced += 1;
        }
        // Found by borrowed text: a row that exists already costs no allocation.
        let routes = match self.totals.get_mut(user.as_ref()) {
            Some(routes) => routes,
            None => self.totals.entry(user.into_owned()).or_default(),
        };
        let days = match routes.get_mut(route.as_ref()) {
            Some(days) => days,
            None => routes.entry(route.into_owned()).or_default(),
        };
        let entry = days.entry(date).or_default();
        entry.0 += 1;
        entry.1 += micros;
        Ok(())
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

/// The pricing configuration as the report prices calls with it: the rules in order of
/// specificity (sorted once, when the table is built), and each logged route read as a route
/// pattern once, the first time a call to it is priced. The exported price table
/// (`super::prices`) is priced by this same table, so the SQL that joins it bills as the
/// report does.
pub(super) struct PriceTable<'o> {
    /// The rules, most specific first, and the plans; none without a pricing configuration.
    pricing: Option<(Vec<&'o RouteRule>, &'o Plans)>,
    /// Each route priced so far → the most specific rule covering it (none: no rule covers
    /// it, or it is not a route pattern).
    rule_of_route: HashMap<String, Option<&'o RouteRule>>,
}

impl<'o> PriceTable<'o> {
    pub(super) fn new(pricing: Option<&'o (Vec<RouteRule>, Plans)>) -> Self {
        PriceTable {
            pricing: pricing.map(|(rules, plans)| {
                let mut rules: Vec<&RouteRule> = rules.iter().collect();
                // Stable: of rules as specific as each other, the one configured first wins.
                rules.sort_by(|a, b| a.pattern.specificity(&b.pattern));
                (rules, plans)
            }),
            rule_of_route: HashMap::new(),
        }
    }

    /// The price of one call to `route` (`GET /api/user/{id}`, a route key, or a legacy
    /// `GET /concrete/path`) for the logged plan, from the most specific rule that covers it.
    pub(super) fn price(&mut self, route: &str, plan: Option<&str>) -> Option<u64> {
        let rule = self.rule(route)?;
        let plans = self.pricing.as_ref()?.1;
        let plan = plan
            .filter(|p| plans.names.iter().any(|n| n == p))
            .unwrap_or(&plans.default);
        Some(rule.price_for(plan))
    }

    /// The rule that prices calls to `route`: the most specific one covering it.
    pub(super) fn rule(&mut self, route: &str) -> Option<&'o RouteRule> {
        let (rules, _) = self.pricing.as_ref()?;
        match self.rule_of_route.get(route) {
            Some(rule) => *rule,
            None => {
                let rule = most_specific_rule(rules, route);
                self.rule_of_route.insert(route.to_string(), rule);
                rule
            }
        }
    }
}

/// The first of `rules` (most specific first) that covers `route`: as a route template, or as
/// a concrete path.
fn most_specific_rule<'o>(rules: &[&'o RouteRule], route: &str) -> Option<&'o RouteRule> {
    let template = RoutePattern::parse(route).ok()?;
    let method = template.method();
    let path = route.split_once(" /").map_or("", |(_, p)| p);
    rules
        .iter()
        .find(|r| r.pattern.covers_route(method, &template) || r.pattern.matches(method, path))
        .copied()
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
