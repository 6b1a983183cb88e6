//! Which routes a verified token may call, and the policy that says so under API Gateway's
//! authorizer cache.
//!
//! API Gateway caches an answer under a cache key and applies it to every later request with
//! the same key, whatever its route. The rule this module keeps, without exception: a cached
//! answer never allows what a fresh decision would not. How it keeps it depends on the
//! [`CacheScope`]:
//!
//! - *Route scope* (the route is part of the key) and *off*: the answer covers the called
//!   route only ([`route_scope`](self)): its rule's resources, one per method (`ANY` spelled
//!   out), with the Denies that keep IAM's `*` from reaching deeper or sibling routes.
//! - *Token scope* (the key is the token): the policy must be exact for the whole stage
//!   (`token_scope.rs`). The Allow lists every permitted rule; Denies are chosen from candidates
//!   (forbidden rules, parameters widened to several segments or to the empty segment,
//!   empty-segment paths) and the result is proven exact by [`crate::exactness`], over every
//!   request a path could be or, with the route table declared ([`RouteTableSetting`]), over
//!   the requests API Gateway routes. Where no policy is exact (or it would be too large), the
//!   answer falls back to narrower ones, proven never to over-allow: an over-deny under the
//!   cache, which the decision log reports ([`Fit`]).
//!
//! Route identity comes from API Gateway's own routing whenever the event carries it; only
//! `TOKEN` events (and HTTP API `$default` routes) fall back to the concrete path. Nothing the
//! caller sent is ever copied into a resource: resources are built from rule patterns and the
//! API's own account, region, API id and stage.

mod proven;
mod route_scope;
mod scope;
mod token_scope;

use std::collections::HashMap;

pub use scope::{CacheScope, RouteTableSetting, UnknownSetting};

use crate::errors::{Reason, Rejection};
use crate::event::{MethodArn, RoutedTo};
use crate::exactness::{Domain, Prover, RuleSet};
use crate::iam::policy_allows;
use crate::route_table::{RouteTable, Routed, Routing};
use crate::routes::RoutePattern;
use crate::verify::VerifiedClaims;

use proven::DenyCandidates;

/// Most resources in one policy: API Gateway's authorizer cache stores the whole answer, and a
/// WebSocket API refuses answers over 8 KB.
pub const MAX_POLICY_RESOURCES: usize = 100;

/// One route rule: who may call it and what a call costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// The route it applies to.
    pub pattern: RoutePattern,
    /// Scopes of which the token needs at least one (none: no scope needed).
    pub scopes: Vec<String>,
    /// Groups of which the token needs at least one (none: no group needed).
    pub groups: Vec<String>,
    /// No caller may call it: the route is listed so that a declared route table is whole.
    pub closed: bool,
    /// Price per call in micros, for plans without their own price.
    pub price_micros: u64,
    /// Price per call in micros, by plan.
    pub plan_prices: HashMap<String, u64>,
}

impl RouteRule {
    /// The price of one call for a plan.
    pub fn price_for(&self, plan: &str) -> u64 {
        self.plan_prices
            .get(plan)
            .copied()
            .unwrap_or(self.price_micros)
    }

    fn admits(&self, claims: &VerifiedClaims) -> bool {
        !self.closed && any_of(&self.scopes, &claims.scopes) && any_of(&self.groups, &claims.groups)
    }
}

fn any_of(required: &[String], held: &[String]) -> bool {
    required.is_empty() || held.iter().any(|h| required.contains(h))
}

/// The request as the access step sees it.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    /// The method or route ARN: the API's own prefix, and the concrete request for `TOKEN`
    /// events.
    pub arn: &'a MethodArn,
    /// The route from API Gateway's routing, when the event carries it.
    pub routed_to: Option<&'a RoutedTo>,
    /// How the answer will be cached.
    pub scope: CacheScope,
    /// Which kind of API routed the request (REST for `TOKEN`, REST `REQUEST` and WebSocket
    /// events, HTTP for HTTP API events).
    pub routing: Routing,
}

/// How the policy of an [`AccessOutcome`] fits the token's rights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// It allows exactly what the token may call, over every request that can reuse it.
    Exact,
    /// Narrower: no single policy is exact for the token's routes under a token-keyed cache,
    /// so some other routes are refused until the cache entry expires (an over-deny, logged).
    Narrowed,
    /// The request is permitted, but no policy that allows it is safe under the cache: the
    /// answer must be an error (500, which API Gateway never caches), not a cached Deny.
    NoSafePolicy,
    /// The route table is declared, but API Gateway routed this request where the table has
    /// no route: the declaration is wrong, and no policy proven over it may be cached (500).
    NotInTable,
}

impl Fit {
    /// What the decision log says of it, when it is not [`Fit::Exact`].
    pub fn note(self) -> Option<&'static str> {
        match self {
            Fit::Exact => None,
            Fit::Narrowed => Some(
                "no single policy is exact for this token's routes; the answer allows the called route and only the routes IAM can tell apart from forbidden ones (an over-deny under a token-keyed cache)",
            ),
            Fit::NoSafePolicy => Some(
                "no policy that allows the called route is safe under a token-keyed cache: not answered (500, never cached); declare the route table (TOLLGATE_ROUTE_TABLE=declared) or route scope",
            ),
            Fit::NotInTable => Some(
                "the route table is declared, but this request reached a route it does not list: not answered (500, never cached); list every route of the API in the rules",
            ),
        }
    }
}

/// The outcome for one request: the rule it matched, whether it is permitted, and the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessOutcome {
    /// The most specific rule covering the request, if any.
    pub rule: Option<usize>,
    /// `Ok` if the token may call the requested route, else why not.
    pub permitted: Result<(), Rejection>,
    /// Resources to Allow (full ARNs).
    pub allow: Vec<String>,
    /// Resources to Deny (full ARNs).
    pub deny: Vec<String>,
    /// Whether an HTTP API simple response of `true` would be right for every request that can
    /// reuse it from the cache.
    pub simple_true_ok: bool,
    /// How the policy fits the token's rights.
    pub fit: Fit,
}

/// A declared route table, routed by one kind of API, with its prover.
#[derive(Debug)]
struct Declared {
    table: RouteTable,
    prover: Prover,
}

/// The provers of a rule set: over every request, and over the requests each kind of API
/// routes when the table is declared.
#[derive(Debug)]
struct Provers {
    every: Prover,
    rest: Option<Declared>,
    http: Option<Declared>,
}

impl Provers {
    fn new(patterns: &[RoutePattern], table: RouteTableSetting) -> Self {
        let declared = |routing| {
            let table = RouteTable::new(routing, patterns);
            let prover = Prover::routed(&table);
            Declared { table, prover }
        };
        let is_declared = table == RouteTableSetting::Declared;
        Provers {
            every: Prover::new(patterns),
            rest: is_declared.then(|| declared(Routing::Rest)),
            http: is_declared.then(|| declared(Routing::Http)),
        }
    }

    fn declared(&self, routing: Routing) -> Option<&Declared> {
        match routing {
            Routing::Rest => self.rest.as_ref(),
            Routing::Http => self.http.as_ref(),
        }
    }

    fn get(&self, domain: Domain) -> &Prover {
        match domain {
            Domain::EveryRequest => &self.every,
            Domain::RoutedBy(routing) => self
                .declared(routing)
                .map_or(&self.every, |declared| &declared.prover),
        }
    }
}

/// The route rules, built once from the configuration.
///
/// ```
/// use tollgate::{access::{AccessRules, CacheScope, RouteRequest}, event::MethodArn, verify::VerifiedClaims};
/// use tollgate::route_table::Routing;
/// let rules = AccessRules::new(vec!["api/read".into()], vec![], vec![]);
/// let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:api/prod/GET/x").unwrap();
/// let request = RouteRequest { arn: &arn, routed_to: None, scope: CacheScope::Token, routing: Routing::Rest };
/// let reader = VerifiedClaims { scopes: vec!["api/read".into()], ..Default::default() };
/// assert_eq!(rules.evaluate(&reader, &request).allow, vec!["arn:aws:execute-api:us-east-1:1:api/prod/*"]);
/// assert!(rules.evaluate(&VerifiedClaims::default(), &request).permitted.is_err());
/// ```
#[derive(Debug, Default)]
pub struct AccessRules {
    required_scopes: Vec<String>,
    required_groups: Vec<String>,
    /// Sorted from most to least specific.
    rules: Vec<RouteRule>,
    table: RouteTableSetting,
    provers: Option<Provers>,
    candidates: DenyCandidates,
    memos: token_scope::Memos,
    route_memo: route_scope::RouteMemo,
}

impl AccessRules {
    /// Rules with stage-wide requirements (at least one of `required_scopes`, if any, and at
    /// least one of `required_groups`, if any) and per-route rules; the route table undeclared.
    pub fn new(
        required_scopes: Vec<String>,
        required_groups: Vec<String>,
        rules: Vec<RouteRule>,
    ) -> Self {
        AccessRules::with_table(
            required_scopes,
            required_groups,
            rules,
            RouteTableSetting::Undeclared,
        )
    }

    /// The same, with the route table declared or not.
    pub fn with_table(
        required_scopes: Vec<String>,
        required_groups: Vec<String>,
        mut rules: Vec<RouteRule>,
        table: RouteTableSetting,
    ) -> Self {
        rules.sort_by(|a, b| a.pattern.specificity(&b.pattern));
        let patterns: Vec<RoutePattern> = rules.iter().map(|r| r.pattern.clone()).collect();
        AccessRules {
            required_scopes,
            required_groups,
            provers: (!rules.is_empty()).then(|| Provers::new(&patterns, table)),
            candidates: DenyCandidates::new(&patterns),
            rules,
            table,
            ..AccessRules::default()
        }
    }

    /// The rule at an index of an [`AccessOutcome`].
    pub fn rule(&self, index: usize) -> Option<&RouteRule> {
        self.rules.get(index)
    }

    /// Whether the rules are declared to be the API's whole route table.
    pub fn route_table(&self) -> RouteTableSetting {
        self.table
    }

    fn stage_wide(&self, claims: &VerifiedClaims) -> Result<(), Rejection> {
        if !any_of(&self.required_scopes, &claims.scopes) {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token has none of the required scopes {:?}",
                    self.required_scopes
                ),
            ));
        }
        if !any_of(&self.required_groups, &claims.groups) {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token is in none of the required groups {:?}",
                    self.required_groups
                ),
            ));
        }
        Ok(())
    }

    /// Over which requests the answer must be right: with the table declared, the requests the
    /// event's kind of API routes (under route scope the answer only ever serves its own
    /// route's requests, all of them routed); else every request.
    fn domain(&self, request: &RouteRequest<'_>) -> Domain {
        match self.table {
            RouteTableSetting::Declared => Domain::RoutedBy(request.routing),
            RouteTableSetting::Undeclared => Domain::EveryRequest,
        }
    }

    /// The most specific rule for the request, as the fresh decision the policy is proven
    /// against finds it.
    ///
    /// Under route scope (or off) the event's route decides when the event names it. Under a
    /// token-keyed cache the decision goes by the concrete request in the ARN even when the
    /// event names a route, since a cached policy is applied to later requests by their ARN:
    /// by API Gateway's routing over the declared table (a request it routes nowhere is the
    /// table's error, [`Fit::NotInTable`]), else by the most specific matching rule.
    fn find_rule(&self, request: &RouteRequest<'_>, domain: Domain) -> Found {
        let (method, path) = (request.arn.method(), request.arn.resource());
        // With the table declared, a request whose event names no route (a TOKEN event, an
        // HTTP API `$default` route) goes by the table under every scope, as API Gateway
        // routed it; under a token-keyed cache every request does.
        let by_table = match domain {
            Domain::RoutedBy(routing)
                if request.scope == CacheScope::Token || request.routed_to.is_none() =>
            {
                Some(routing)
            }
            _ => None,
        };
        if let Some(routing) = by_table
            && let Some(declared) = self.provers.as_ref().and_then(|p| p.declared(routing))
        {
            return match declared.table.route(method, path) {
                Routed::Route(i) if self.agrees_with_event(i, request, &declared.table) => {
                    Found::Rule(i)
                }
                Routed::Route(_) | Routed::NotRouted => Found::NotInTable,
                Routed::Refused => Found::NoRule,
            };
        }
        let routed_to = match request.scope {
            CacheScope::Token => None,
            CacheScope::Route | CacheScope::Off => request.routed_to,
        };
        let Some(route) = routed_to else {
            return self
                .rules
                .iter()
                .position(|r| r.pattern.matches(method, path))
                .map_or(Found::NoRule, Found::Rule);
        };
        match route_pattern(route) {
            Some(template) => self
                .rules
                .iter()
                .position(|r| r.pattern.covers_route(&route.method, &template))
                .map_or(Found::NoRule, Found::Rule),
            None => Found::Unreadable,
        }
    }

    /// Whether the event's own route is the declared table's route `rule`: the same method
    /// (or `ANY`) and a path of the same shape. An HTTP API event that names no route of its
    /// own (payload 2.0's routeKey `$default`) was routed to `$default`, so it agrees only
    /// with the table's `$default` route; a `TOKEN` event names none and agrees with any.
    fn agrees_with_event(
        &self,
        rule: usize,
        request: &RouteRequest<'_>,
        table: &RouteTable,
    ) -> bool {
        let Some(route) = request.routed_to else {
            return match request.routing {
                Routing::Http => table.default_route() == Some(rule),
                Routing::Rest => true,
            };
        };
        let pattern = &self.rules[rule].pattern;
        if pattern.is_route_key() {
            return route.template == pattern.method();
        }
        route_pattern(route).is_some_and(|template| {
            pattern.covers_route(&route.method, &template)
                && template
                    .for_any_method()
                    .same_shape(&pattern.for_any_method())
        })
    }

    /// Decides the request and builds the policy for it under its cache scope.
    pub fn evaluate(&self, claims: &VerifiedClaims, request: &RouteRequest<'_>) -> AccessOutcome {
        let arn = request.arn;
        let stage_wide = self.stage_wide(claims);
        let Some(provers) = &self.provers else {
            return everything(arn, stage_wide);
        };
        let permitted = RuleSet::from_fn(self.rules.len(), |i| {
            stage_wide.is_ok() && self.rules[i].admits(claims)
        });
        let domain = self.domain(request);
        let found = self.find_rule(request, domain);
        let rule = match found {
            Found::Rule(i) => Some(i),
            _ => None,
        };
        let decision = match (found, &stage_wide) {
            (Found::NotInTable, _) => {
                return AccessOutcome {
                    rule: None,
                    permitted: Err(Rejection::new(
                        Reason::RouteNotInTable,
                        "the route table is declared, but the request's route is not in it",
                    )),
                    allow: vec![],
                    deny: vec![arn.stage_wildcard()],
                    simple_true_ok: false,
                    fit: Fit::NotInTable,
                };
            }
            (Found::Unreadable, _) => Err(Rejection::new(
                Reason::RouteNotPermitted,
                "the event's route is not a resource template tollgate can read",
            )),
            (_, Err(why)) => Err(why.clone()),
            (Found::NoRule, _) => Err(Rejection::new(
                Reason::RouteNotPermitted,
                "no route rule covers the requested route",
            )),
            (Found::Rule(i), _) if permitted.contains(i) => Ok(()),
            (Found::Rule(i), _) => Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token lacks the scopes or groups that {} requires",
                    self.rules[i].pattern
                ),
            )),
        };
        let prover = provers.get(domain);
        let answer = match request.scope {
            CacheScope::Token => {
                self.token_scope_answer(prover, domain, &permitted, rule, decision.is_ok(), arn)
            }
            CacheScope::Route | CacheScope::Off => match (&decision, rule) {
                (Ok(()), Some(i)) => {
                    self.route_scope_answer(prover, domain, &permitted, i, arn.method())
                }
                _ => Answer::deny_everything(),
            },
        };
        let prefix = arn.stage_prefix();
        let full = |suffixes: &[String]| -> Vec<String> {
            suffixes.iter().map(|s| format!("{prefix}{s}")).collect()
        };
        let (mut allow, mut deny) = match &answer.policy {
            Some(policy) => (full(&policy.allow), full(&policy.deny)),
            None => (vec![], vec![arn.stage_wildcard()]),
        };
        // The answer must also hold for the request in hand: a refused request is never
        // allowed by its own policy, whatever the routing model says.
        if decision.is_err() && policy_allows(&allow, &deny, arn.raw()) {
            (allow, deny) = (vec![], vec![arn.stage_wildcard()]);
        }
        let simple_true_ok = decision.is_ok()
            && match request.scope {
                CacheScope::Token => self.universal(prover, domain, &permitted),
                CacheScope::Route | CacheScope::Off => true,
            };
        AccessOutcome {
            rule,
            permitted: decision,
            allow,
            deny,
            simple_true_ok,
            fit: answer.fit,
        }
    }
}

/// What [`AccessRules::find_rule`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Found {
    /// The rule that decides.
    Rule(usize),
    /// No rule takes the request: refused.
    NoRule,
    /// The event's route is not a template tollgate reads: refused.
    Unreadable,
    /// The route table is declared and does not hold the request's route.
    NotInTable,
}

/// A policy for the request and how it fits; no policy means Deny everything.
struct Answer {
    policy: Option<std::sync::Arc<proven::ProvenPolicy>>,
    fit: Fit,
}

impl Answer {
    fn deny_everything() -> Self {
        Answer {
            policy: None,
            fit: Fit::Exact,
        }
    }
}

/// The event's route as a pattern (`GET /pets/{id}`, or a route key).
fn route_pattern(route: &RoutedTo) -> Option<RoutePattern> {
    let text = if route.template.starts_with('$') {
        route.template.clone()
    } else {
        format!("{} {}", route.method, route.template)
    };
    RoutePattern::parse(&text).ok()
}

/// No rules: the whole stage, for every token that meets the stage-wide needs.
fn everything(arn: &MethodArn, stage_wide: Result<(), Rejection>) -> AccessOutcome {
    let everything = vec![arn.stage_wildcard()];
    let allowed = stage_wide.is_ok();
    AccessOutcome {
        rule: None,
        permitted: stage_wide,
        allow: if allowed { everything.clone() } else { vec![] },
        deny: if allowed { vec![] } else { everything },
        simple_true_ok: allowed,
        fit: Fit::Exact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(method_and_path: &str) -> MethodArn {
        MethodArn::parse(&format!(
            "arn:aws:execute-api:us-east-1:123456789012:api1/prod/{method_and_path}"
        ))
        .unwrap()
    }

    fn rule(route: &str, scopes: &[&str]) -> RouteRule {
        RouteRule {
            pattern: RoutePattern::parse(route).unwrap(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            groups: vec![],
            closed: false,
            price_micros: 0,
            plan_prices: HashMap::new(),
        }
    }

    fn claims(scopes: &[&str]) -> VerifiedClaims {
        VerifiedClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn token(arn: &MethodArn) -> RouteRequest<'_> {
        RouteRequest {
            arn,
            routed_to: None,
            scope: CacheScope::Token,
            routing: Routing::Rest,
        }
    }

    const P: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

    #[test]
    fn no_rules_permit_the_whole_stage_only() {
        let a = arn("GET/pets");
        let v = AccessRules::default().evaluate(&VerifiedClaims::default(), &token(&a));
        assert_eq!(v.allow, vec![format!("{P}*")]);
        assert!(v.permitted.is_ok());
    }

    #[test]
    fn allow_lists_exactly_the_permitted_rules() {
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /pets", &["read"]),
                rule("GET /pets/{id}", &["read"]),
                rule("DELETE /pets/{id}", &["admin"]),
            ],
        );
        let a = arn("GET/pets/7");
        let v = rules.evaluate(&claims(&["read"]), &token(&a));
        assert!(v.permitted.is_ok());
        assert_eq!(v.fit, Fit::Exact);
        assert_eq!(
            v.allow,
            vec![format!("{P}GET/pets/*"), format!("{P}GET/pets")]
        );
        // No Allow covers DELETE, so it needs no Deny; GET/pets/* must not reach deeper
        // paths, nor paths with an empty segment.
        assert!(v.deny.contains(&format!("{P}GET/pets/*/*")));
        assert!(v.deny.contains(&format!("{P}GET/pets/")));
        assert!(!v.deny.iter().any(|d| d.contains("DELETE")));
    }

    #[test]
    fn any_is_spelled_out_as_the_methods_never_a_star() {
        let rules = AccessRules::new(vec![], vec![], vec![rule("ANY /status", &[])]);
        let a = arn("GET/status");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.allow.len(), 7);
        assert!(v.allow.iter().all(|r| !r.ends_with("*/status")));
        assert!(v.allow.contains(&format!("{P}DELETE/status")));
    }

    #[test]
    fn forbidden_rule_under_an_allowed_wildcard_is_denied_explicitly() {
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /docs/{page+}", &[]),
                rule("GET /docs/internal", &["staff"]),
            ],
        );
        let a = arn("GET/docs/intro");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.allow, vec![format!("{P}GET/docs/*")]);
        assert!(v.deny.contains(&format!("{P}GET/docs/internal")));
    }

    #[test]
    fn policy_that_iam_would_read_differently_falls_back_to_the_route() {
        // Deny GET/a/*/secret (for the forbidden rule) would also match GET/a/1/x/secret,
        // which is permitted: no stage-wide policy is exact, so only the called route is
        // allowed, from its rule's pattern (never from the request).
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /a/{id}", &[]),
                rule("GET /a/{id}/secret", &["admin"]),
                rule("GET /a/{id}/x/secret", &[]),
            ],
        );
        let a = arn("GET/a/1/x/secret");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert!(v.permitted.is_ok());
        assert_eq!(v.fit, Fit::Narrowed);
        assert_eq!(v.allow, vec![format!("{P}GET/a/*/x/secret")]);
        assert!(policy_allows(&v.allow, &v.deny, a.raw()));
    }

    #[test]
    fn route_without_a_rule_is_denied_without_naming_the_request() {
        let rules = AccessRules::new(vec![], vec![], vec![rule("GET /pets", &[])]);
        let a = arn("GET/owners");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.permitted.unwrap_err().reason, Reason::RouteNotPermitted);
        assert_eq!(v.allow, vec![format!("{P}GET/pets")]);
        assert!(!v.deny.iter().chain(&v.allow).any(|r| r.contains("owners")));
        assert!(!policy_allows(&v.allow, &v.deny, a.raw()));
    }
}
