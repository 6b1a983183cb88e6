//! The promise that sets tollgate apart, checked as an attacker would: with API Gateway's
//! authorizer cache emulated, no cached answer ever allows what a fresh decision refuses.
//!
//! A seeded generator makes random rule sets (methods including `ANY`, literals, `{param}`,
//! `{proxy+}`, the root, scopes and groups), random tokens, and random request sequences with
//! adversarial paths (`*`, `?`, empty segments, trailing slashes, deeper paths, other case,
//! the root). An emulated API Gateway routes each request to its resource (the rules are the
//! API's routes), builds the event its authorizer type sends, caches the first answer under
//! that authorizer's cache key and evaluates the cached policy on every later request with the
//! same key, as IAM does (an explicit Deny wins). Every cached verdict must equal the fresh one
//! or be a refusal; the test fails on the first over-allow and prints the case. Over-denies
//! (refusals only the cache causes) are counted and printed.
//!
//! `TOLLGATE_PROPERTY_CONFIGS` sets the number of configurations (default 10,000) and
//! `TOLLGATE_PROPERTY_SEED` the seed.

use std::collections::HashMap;

use crate::common;

use common::generate::{GROUPS, Rng, SCOPES, random_request, random_rules};
use tollgate::access::{AccessRules, CacheScope, Fit, RouteRequest, RouteRule, RouteTableSetting};
use tollgate::event::{MethodArn, RoutedTo};
use tollgate::iam::policy_allows;
use tollgate::route_table::{RouteTable as GatewayRoutes, Routed, Routing};
use tollgate::routes::RoutePattern;
use tollgate::verify::VerifiedClaims;

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

fn random_claims(rng: &mut Rng) -> VerifiedClaims {
    VerifiedClaims {
        sub: "user".into(),
        scopes: SCOPES
            .iter()
            .filter(|_| rng.chance(50))
            .map(|s| s.to_string())
            .collect(),
        groups: GROUPS
            .iter()
            .filter(|_| rng.chance(30))
            .map(|s| s.to_string())
            .collect(),
        ..Default::default()
    }
}

/// The authorizer set-ups API Gateway can have, as the emulator plays them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// TOKEN authorizer: the key is the token; the event has only the method ARN.
    Token,
    /// REQUEST authorizer keyed on a header only: the key is the token; the event names the
    /// route API Gateway routed to.
    RequestHeaderOnly,
    /// REQUEST authorizer with the method and resource path among the identity sources.
    RequestWithRoute,
    /// Cache disabled: every answer is used once.
    Off,
}

impl Setup {
    fn scope(self) -> CacheScope {
        match self {
            Setup::Token | Setup::RequestHeaderOnly => CacheScope::Token,
            Setup::RequestWithRoute => CacheScope::Route,
            Setup::Off => CacheScope::Off,
        }
    }
}

/// The rule API Gateway routes a concrete request to (the API's resources are the rules).
fn routed(rules: &[RouteRule], method: &str, path: &str) -> Option<usize> {
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by(|a, b| rules[*a].pattern.specificity(&rules[*b].pattern));
    order
        .into_iter()
        .find(|i| rules[*i].pattern.matches(method, path))
}

/// The table's edge cases a declared table may have: a route no caller may call, and an HTTP
/// API's `$default` route.
fn add_table_edges(rng: &mut Rng, rules: &mut Vec<RouteRule>, routing: Routing) {
    if rng.chance(30) {
        let at = rng.below(rules.len());
        rules[at].closed = true;
        rules[at].scopes.clear();
        rules[at].groups.clear();
    }
    if routing == Routing::Http && rng.chance(30) {
        let scopes = if rng.chance(50) {
            vec!["read".to_string()]
        } else {
            vec![]
        };
        rules.push(RouteRule {
            pattern: RoutePattern::parse("$default").expect("a route key"),
            scopes,
            groups: vec![],
            closed: false,
            price_micros: 0,
            plan_prices: HashMap::new(),
        });
    }
}

/// The emulated cache key: the token alone (`None`), or the token with method and route.
type CacheKey = Option<(String, usize)>;

/// A cached answer: the simple response it would give, its Allow and its Deny resources.
type CachedAnswer = (bool, Vec<String>, Vec<String>);

#[derive(Default)]
struct Tally {
    configurations: usize,
    cached_uses: usize,
    cached_fresh_allows: usize,
    unanswerable: usize,
    over_denies: HashMap<&'static str, (usize, usize)>,
}

#[test]
fn no_cached_answer_ever_allows_what_a_fresh_decision_refuses() {
    let configs: usize = std::env::var("TOLLGATE_PROPERTY_CONFIGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let seed: u64 = std::env::var("TOLLGATE_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x7011_6a7e);
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::default();
    for config in 0..configs {
        let rules = random_rules(&mut rng);
        let required: Vec<String> = if rng.chance(10) {
            vec!["read".into()]
        } else {
            vec![]
        };
        let setup = *rng.pick(&[
            Setup::Token,
            Setup::RequestHeaderOnly,
            Setup::RequestWithRoute,
            Setup::Off,
        ]);
        // Half the configurations declare the rules to be the API's whole route table, as a
        // REST API or (for the authorizers an HTTP API has) an HTTP API routes them.
        let declared = rng.chance(50);
        let routing = match setup {
            Setup::RequestHeaderOnly | Setup::Off if declared && rng.chance(50) => Routing::Http,
            _ => Routing::Rest,
        };
        let mut rules = rules;
        if declared {
            add_table_edges(&mut rng, &mut rules, routing);
        }
        let table = if declared {
            RouteTableSetting::Declared
        } else {
            RouteTableSetting::Undeclared
        };
        let access = AccessRules::with_table(required, vec![], rules.clone(), table);
        let gateway = declared.then(|| {
            let patterns: Vec<RoutePattern> = rules.iter().map(|r| r.pattern.clone()).collect();
            GatewayRoutes::new(routing, &patterns)
        });
        let label = |scope: &'static str| match (declared, routing) {
            (false, _) => scope,
            (true, Routing::Rest) => match scope {
                "route scope" => "route scope, REST table declared",
                "own request" => "own request, REST table declared",
                _ => "token scope, REST table declared",
            },
            (true, Routing::Http) => match scope {
                "own request" => "own request, HTTP table declared",
                _ => "token scope, HTTP table declared",
            },
        };
        for _ in 0..3 {
            let claims = random_claims(&mut rng);
            let mut cache: HashMap<CacheKey, CachedAnswer> = HashMap::new();
            for _ in 0..12 {
                let (method, path) = random_request(&mut rng, &rules);
                // API Gateway answers a request it routes nowhere itself, before any
                // authorizer: with the table declared, only routed requests are played.
                // An HTTP API's `$default` route names no route in its event.
                let mut to_default = false;
                let route = match &gateway {
                    None => routed(&rules, &method, &path),
                    Some(gateway) => match gateway.route(&method, &path) {
                        Routed::Route(i) if !rules[i].pattern.is_route_key() => Some(i),
                        Routed::Route(_) => {
                            to_default = true;
                            None
                        }
                        Routed::Refused => {
                            to_default = gateway.default_route().is_some();
                            None
                        }
                        Routed::NotRouted => continue,
                    },
                };
                // REQUEST authorizers are only invoked for a routed request.
                let routed_to = match (setup, route) {
                    (Setup::Token, _) => None,
                    (_, Some(i)) => Some(RoutedTo {
                        method: method.clone(),
                        template: {
                            let text = rules[i].pattern.as_str();
                            text.split_once(' ').map_or(text, |(_, p)| p).to_string()
                        },
                    }),
                    (_, None) if to_default => None,
                    (_, None) => continue,
                };
                let arn =
                    MethodArn::parse(&format!("{PREFIX}{method}/{path}")).expect("a method ARN");
                let request = RouteRequest {
                    arn: &arn,
                    routed_to: routed_to.as_ref(),
                    scope: setup.scope(),
                    routing,
                };
                let fresh = access.evaluate(&claims, &request);
                if fresh.fit == Fit::NoSafePolicy {
                    // Answered with an error (500), which API Gateway never caches.
                    tally.unanswerable += 1;
                    continue;
                }
                assert_ne!(
                    fresh.fit,
                    Fit::NotInTable,
                    "config {config}: a routed request of the declared table was taken for one outside it: {method} /{path}"
                );
                let fresh_allows = fresh.permitted.is_ok();
                // The answer must hold for the request in hand: a refusal never allows it, and
                // an Allow that its own policy refuses is counted.
                let own = policy_allows(&fresh.allow, &fresh.deny, arn.raw());
                assert!(
                    !own || fresh_allows,
                    "config {config}: the answer's policy allows the request it refuses"
                );
                if fresh_allows {
                    let entry = tally.over_denies.entry(label("own request")).or_default();
                    entry.1 += 1;
                    if !own {
                        entry.0 += 1;
                        if std::env::var("TOLLGATE_PROPERTY_SHOW").is_ok() && entry.0 < 6 {
                            println!(
                                "own over-deny ({setup:?}): rules {:?} claims {:?}: {method} /{path}: allow {:?} deny {:?} narrowed {:?}",
                                rules
                                    .iter()
                                    .map(|r| (r.pattern.as_str(), &r.scopes, &r.groups))
                                    .collect::<Vec<_>>(),
                                claims.scopes,
                                fresh
                                    .allow
                                    .iter()
                                    .map(|a| a.trim_start_matches(PREFIX))
                                    .collect::<Vec<_>>(),
                                fresh
                                    .deny
                                    .iter()
                                    .map(|a| a.trim_start_matches(PREFIX))
                                    .collect::<Vec<_>>(),
                                fresh.fit
                            );
                        }
                    }
                }
                let key = match setup {
                    Setup::Off => continue,
                    Setup::Token | Setup::RequestHeaderOnly => None,
                    Setup::RequestWithRoute => Some((method.clone(), route.unwrap_or(usize::MAX))),
                };
                let Some((simple, allow, deny)) = cache.get(&key).cloned() else {
                    cache.insert(
                        key,
                        (
                            fresh_allows && fresh.simple_true_ok,
                            fresh.allow.clone(),
                            fresh.deny.clone(),
                        ),
                    );
                    continue;
                };
                tally.cached_uses += 1;
                let cached_allows = policy_allows(&allow, &deny, arn.raw());
                assert!(
                    !cached_allows || fresh_allows,
                    "OVER-ALLOW (config {config}, {setup:?}): rules {:?}, claims {:?} {:?}: cached policy allow {allow:?} deny {deny:?} allows {method} /{path}, which a fresh decision refuses ({:?})",
                    rules
                        .iter()
                        .map(|r| (r.pattern.as_str(), &r.scopes, &r.groups))
                        .collect::<Vec<_>>(),
                    claims.scopes,
                    claims.groups,
                    fresh.permitted
                );
                // An HTTP API simple response has no policy: a cached `true` is `true` for all.
                assert!(
                    !simple || fresh_allows,
                    "OVER-ALLOW by a cached simple response (config {config}, {setup:?}): {method} /{path}"
                );
                if fresh_allows {
                    tally.cached_fresh_allows += 1;
                    let entry = tally
                        .over_denies
                        .entry(label(match setup {
                            Setup::RequestWithRoute => "route scope",
                            _ => "token scope",
                        }))
                        .or_default();
                    entry.1 += 1;
                    if !cached_allows {
                        entry.0 += 1;
                        if std::env::var("TOLLGATE_PROPERTY_SHOW").is_ok() && entry.0 < 8 {
                            println!(
                                "cache over-deny ({setup:?}): rules {:?} claims {:?} {:?}: {method} /{path}: cached allow {:?} deny {:?}",
                                rules
                                    .iter()
                                    .map(|r| (r.pattern.as_str(), &r.scopes, &r.groups))
                                    .collect::<Vec<_>>(),
                                claims.scopes,
                                claims.groups,
                                allow
                                    .iter()
                                    .map(|a| a.trim_start_matches(PREFIX))
                                    .collect::<Vec<_>>(),
                                deny.iter()
                                    .map(|a| a.trim_start_matches(PREFIX))
                                    .collect::<Vec<_>>(),
                            );
                        }
                    }
                }
            }
        }
        tally.configurations += 1;
    }
    println!(
        "{} configurations, {} cached uses ({} of them for requests a fresh decision allows)",
        tally.configurations, tally.cached_uses, tally.cached_fresh_allows
    );
    println!(
        "permitted requests answered 500 for want of a safe policy: {}",
        tally.unanswerable
    );
    let mut labels: Vec<_> = tally.over_denies.iter().collect();
    labels.sort();
    for (label, (over_denied, allowed)) in labels {
        println!("over-deny {label}: {over_denied} of {allowed}");
    }
    assert_eq!(tally.configurations, configs);
    assert!(
        tally.cached_uses > configs,
        "the emulated cache was exercised"
    );
}
