//! The price table for the at-scale path (`tollgate prices`): under a token-keyed cache the
//! access log carries no cost, so the README's Athena SQL joins this table to bill each call at
//! its logged route's price for its plan, as `usage-report --pricing` does.
//!
//! One row per route API Gateway may log for the rules (a REST `httpMethod` with its
//! `resourcePath`, an HTTP API or WebSocket `routeKey`) and per plan: an `ANY` rule is logged
//! as `ANY /x` by an HTTP API and as the method called by a REST API, so it gives a route for
//! `ANY` and for each method. Every price comes from the report's own [`PriceTable`], so the
//! SQL and the report cannot disagree on a route the table lists.

use std::collections::BTreeSet;
use std::fmt;

use super::bill::PriceTable;
use crate::access::RouteRule;
use crate::pricing::Plans;
use crate::routes::HTTP_METHODS;

/// The plan column's value for every plan without a row of its own (a plan with no price of
/// its own, an unknown plan, no plan): the price `usage-report` gives such a call.
pub const OTHER_PLANS: &str = "*";

/// One row of the price table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriceRow {
    /// The route as API Gateway logs it (`GET /api/user/{id}`, `ANY /files/{proxy+}`,
    /// `$connect`).
    pub route: String,
    /// A plan, or [`OTHER_PLANS`].
    pub plan: String,
    /// The price of one call to the route on the plan, in micros.
    pub price_micros: u64,
}

/// Why the price table cannot be exported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceTableError {
    /// A plan is named [`OTHER_PLANS`], which the table uses for every other plan.
    PlanNamedOtherPlans,
}

impl fmt::Display for PriceTableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PriceTableError::PlanNamedOtherPlans => write!(
                f,
                "[plans] names has a plan named {OTHER_PLANS:?}, which the price table uses for \
                 every plan without a row of its own; rename the plan"
            ),
        }
    }
}

impl std::error::Error for PriceTableError {}

/// The price table of a pricing configuration, sorted by route: for each route, a row for
/// every plan that has a price of its own on it or pays other than [`OTHER_PLANS`], then the
/// [`OTHER_PLANS`] row. A plan named `-` gets no row: API Gateway writes `-` for a missing
/// value, and the report reads it as no plan.
///
/// ```
/// use tollgate::report::price_rows;
/// let pricing = tollgate::config::file::pricing(std::path::Path::new("events/tollgate.dev.toml")).unwrap();
/// let rows = price_rows(&pricing).unwrap();
/// let search: Vec<_> = rows.iter().filter(|r| r.route == "GET /api/product/search")
///     .map(|r| (r.plan.as_str(), r.price_micros)).collect();
/// assert_eq!(search, [("pro", 50_000), ("*", 70_000)]);
/// ```
pub fn price_rows(pricing: &(Vec<RouteRule>, Plans)) -> Result<Vec<PriceRow>, PriceTableError> {
    let (rules, plans) = pricing;
    if plans.names.iter().any(|n| n == OTHER_PLANS) {
        return Err(PriceTableError::PlanNamedOtherPlans);
    }
    let routes: BTreeSet<String> = rules.iter().flat_map(logged_routes).collect();
    let mut table = PriceTable::new(Some(pricing));
    let mut rows = Vec::new();
    for route in routes {
        let (Some(rule), Some(other)) = (table.rule(&route), table.price(&route, None)) else {
            continue;
        };
        for plan in plans.names.iter().filter(|p| p.as_str() != "-") {
            let Some(price) = table.price(&route, Some(plan)) else {
                continue;
            };
            if rule.plan_prices.contains_key(plan) || price != other {
                rows.push(PriceRow {
                    route: route.clone(),
                    plan: plan.clone(),
                    price_micros: price,
                });
            }
        }
        rows.push(PriceRow {
            route,
            plan: OTHER_PLANS.to_string(),
            price_micros: other,
        });
    }
    Ok(rows)
}

/// The routes API Gateway logs for calls a rule matches by its own name: the route key, or
/// the method with the resource template (`*` as `{proxy+}`), `ANY` as itself (HTTP API) and
/// as every method (REST).
fn logged_routes(rule: &RouteRule) -> Vec<String> {
    let pattern = &rule.pattern;
    if pattern.is_route_key() {
        return vec![pattern.as_str().to_string()];
    }
    let template = pattern.resource_template();
    let mut routes = vec![format!("{} {template}", pattern.method())];
    if pattern.method() == "ANY" {
        routes.extend(HTTP_METHODS.iter().map(|m| format!("{m} {template}")));
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::RoutePattern;
    use std::collections::HashMap;

    fn rule(route: &str, price: u64, plan_prices: &[(&str, u64)]) -> RouteRule {
        RouteRule {
            pattern: RoutePattern::parse(route).expect("a route"),
            scopes: vec![],
            groups: vec![],
            closed: false,
            price_micros: price,
            plan_prices: plan_prices
                .iter()
                .map(|(p, m)| (p.to_string(), *m))
                .collect(),
        }
    }

    fn plans(names: &[&str], default: &str) -> Plans {
        Plans {
            names: names.iter().map(|n| n.to_string()).collect(),
            default: default.to_string(),
            claim: None,
            group_prefix: None,
            usage_keys: HashMap::new(),
        }
    }

    fn table(rows: &[PriceRow]) -> Vec<(&str, &str, u64)> {
        rows.iter()
            .map(|r| (r.route.as_str(), r.plan.as_str(), r.price_micros))
            .collect()
    }

    #[test]
    fn an_any_rule_is_listed_as_any_and_as_every_method() {
        let pricing = (vec![rule("ANY /files/*", 7, &[])], plans(&["free"], "free"));
        let rows = price_rows(&pricing).expect("a table");
        let routes: Vec<&str> = rows.iter().map(|r| r.route.as_str()).collect();
        assert_eq!(
            routes,
            [
                "ANY /files/{proxy+}",
                "DELETE /files/{proxy+}",
                "GET /files/{proxy+}",
                "HEAD /files/{proxy+}",
                "OPTIONS /files/{proxy+}",
                "PATCH /files/{proxy+}",
                "POST /files/{proxy+}",
                "PUT /files/{proxy+}",
            ]
        );
        assert!(
            rows.iter()
                .all(|r| r.plan == OTHER_PLANS && r.price_micros == 7)
        );
    }

    #[test]
    fn a_method_beside_any_keeps_its_own_price() {
        let pricing = (
            vec![rule("ANY /x", 1, &[]), rule("GET /x", 2, &[])],
            plans(&["free"], "free"),
        );
        let rows = price_rows(&pricing).expect("a table");
        let get: Vec<u64> = rows
            .iter()
            .filter(|r| r.route == "GET /x")
            .map(|r| r.price_micros)
            .collect();
        assert_eq!(get, [2], "one row, the GET rule's");
        assert!(
            rows.iter()
                .any(|r| r.route == "POST /x" && r.price_micros == 1)
        );
    }

    #[test]
    fn plans_with_their_own_price_get_rows_and_every_other_plan_the_default_plans() {
        // The default plan "free" has its own price: an unknown plan pays it, while "team",
        // a known plan without one, pays the route's price.
        let pricing = (
            vec![rule("GET /a", 100, &[("free", 80), ("pro", 50)])],
            plans(&["free", "pro", "team"], "free"),
        );
        assert_eq!(
            table(&price_rows(&pricing).expect("a table")),
            [
                ("GET /a", "free", 80),
                ("GET /a", "pro", 50),
                ("GET /a", "team", 100),
                ("GET /a", "*", 80)
            ]
        );
    }

    #[test]
    fn a_websocket_route_is_its_route_key() {
        let pricing = (vec![rule("$connect", 10, &[])], plans(&["free"], "free"));
        assert_eq!(
            table(&price_rows(&pricing).expect("a table")),
            [("$connect", "*", 10)]
        );
    }

    #[test]
    fn a_plan_named_like_the_other_plans_row_is_refused() {
        let pricing = (vec![rule("GET /a", 1, &[])], plans(&["free", "*"], "free"));
        assert_eq!(
            price_rows(&pricing),
            Err(PriceTableError::PlanNamedOtherPlans)
        );
    }

    #[test]
    fn a_plan_named_dash_gets_no_row_because_the_log_cannot_tell_it_from_none() {
        let pricing = (
            vec![rule("GET /a", 100, &[("-", 1)])],
            plans(&["free", "-"], "free"),
        );
        assert_eq!(
            table(&price_rows(&pricing).expect("a table")),
            [("GET /a", "*", 100)]
        );
    }
}
