//! The declared route table's edge cases, one named regression each: with the rules declared to
//! be the API's whole route table, a token-keyed cache gets one exact policy per caller on
//! ordinary APIs (no over-allow, no false 403 on any routed request), and a request the table
//! does not hold is a 500 that API Gateway never caches.
//!
//! Each test takes a caller's first answer as API Gateway would cache it under the token and
//! replays it on every request of a list (each routed by the table), against a fresh decision.

use std::collections::HashMap;

use tollgate::access::{
    AccessOutcome, AccessRules, CacheScope, Fit, RouteRequest, RouteRule, RouteTableSetting,
};
use tollgate::errors::Reason;
use tollgate::event::{MethodArn, RoutedTo};
use tollgate::iam::policy_allows;
use tollgate::route_table::{RouteTable, Routed, Routing};
use tollgate::routes::RoutePattern;
use tollgate::verify::VerifiedClaims;

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

fn rule(route: &str, scopes: &[&str]) -> RouteRule {
    RouteRule {
        pattern: RoutePattern::parse(route).expect("a route"),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        groups: vec![],
        closed: false,
        price_micros: 0,
        plan_prices: HashMap::new(),
    }
}

fn closed(route: &str) -> RouteRule {
    RouteRule {
        closed: true,
        ..rule(route, &[])
    }
}

fn declared(rules: Vec<RouteRule>) -> AccessRules {
    AccessRules::with_table(vec![], vec![], rules, RouteTableSetting::Declared)
}

fn caller(scopes: &[&str]) -> VerifiedClaims {
    VerifiedClaims {
        sub: "user".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn ask(
    rules: &AccessRules,
    claims: &VerifiedClaims,
    routing: Routing,
    method_and_path: &str,
    routed_to: Option<&RoutedTo>,
) -> AccessOutcome {
    let arn = MethodArn::parse(&format!("{PREFIX}{method_and_path}")).expect("an ARN");
    rules.evaluate(
        claims,
        &RouteRequest {
            arn: &arn,
            routed_to,
            scope: CacheScope::Token,
            routing,
        },
    )
}

/// The route an HTTP API event names, as API Gateway routes the request by the table (`None`
/// for `$default`, as payload 2.0 names none, and for a REST API, as a TOKEN event names none).
fn event_route(table: &[&str], routing: Routing, method_and_path: &str) -> Option<RoutedTo> {
    if routing != Routing::Http {
        return None;
    }
    let patterns: Vec<RoutePattern> = table
        .iter()
        .map(|r| RoutePattern::parse(r).expect("a route"))
        .collect();
    let (method, path) = method_and_path.split_once('/')?;
    match RouteTable::new(routing, &patterns).route(method, path) {
        Routed::Route(i) if !patterns[i].is_route_key() => Some(RoutedTo {
            method: method.to_string(),
            template: patterns[i].resource_template(),
        }),
        _ => None,
    }
}

/// Caches the answer to each request in turn and replays it on all of them: every cached
/// verdict must be the fresh one. Returns the first answer's fit.
fn one_exact_policy(
    rules_table: &[&str],
    rules: &AccessRules,
    claims: &VerifiedClaims,
    routing: Routing,
    requests: &[&str],
) -> Fit {
    let fresh: Vec<bool> = requests
        .iter()
        .map(|r| {
            let event = event_route(rules_table, routing, r);
            ask(rules, claims, routing, r, event.as_ref())
                .permitted
                .is_ok()
        })
        .collect();
    let mut fits = Vec::new();
    for first in requests {
        let event = event_route(rules_table, routing, first);
        let cached = ask(rules, claims, routing, first, event.as_ref());
        fits.push(cached.fit);
        for (later, fresh) in requests.iter().zip(&fresh) {
            let allows = policy_allows(&cached.allow, &cached.deny, &format!("{PREFIX}{later}"));
            assert_eq!(
                allows, *fresh,
                "cached after {first}, replayed on {later}: allow {:?} deny {:?}",
                cached.allow, cached.deny
            );
        }
    }
    assert!(fits.iter().all(|f| *f == fits[0]), "{fits:?}");
    fits[0]
}

#[test]
fn nested_parameters_get_one_exact_policy_once_the_table_is_declared() {
    // The case: `GET/v1/products/*` also matches `/v1/products/1/x/y`, which no route
    // takes; undeclared, no policy is exact.
    let routes = || {
        vec![
            rule("GET /v1/products/{id}", &[]),
            rule("GET /v1/products/{id}/reviews", &[]),
            rule("POST /v1/products/{id}/reviews", &["shop/write"]),
        ]
    };
    let requests = [
        "GET/v1/products/1",
        "GET/v1/products/1/reviews",
        "POST/v1/products/1/reviews",
    ];
    let reader = caller(&[]);
    assert_eq!(
        one_exact_policy(&[], &declared(routes()), &reader, Routing::Rest, &requests),
        Fit::Exact
    );
    let undeclared = AccessRules::new(vec![], vec![], routes());
    assert_eq!(
        ask(&undeclared, &reader, Routing::Rest, requests[0], None).fit,
        Fit::Narrowed
    );
}

#[test]
fn a_literal_beside_a_parameter_is_told_apart() {
    let rules = declared(vec![
        rule("GET /products/{id}", &["shop/read"]),
        rule("GET /products/search", &[]),
    ]);
    let requests = ["GET/products/search", "GET/products/7", "GET/products/*"];
    for scopes in [&[][..], &["shop/read"][..]] {
        let fit = one_exact_policy(&[], &rules, &caller(scopes), Routing::Rest, &requests);
        assert_eq!(fit, Fit::Exact, "{scopes:?}");
    }
    // A parameter holding `*` is routed to `{id}`, and is refused to a caller without the scope.
    let anonymous = ask(&rules, &caller(&[]), Routing::Rest, "GET/products/*", None);
    assert!(anonymous.permitted.is_err());
}

#[test]
fn a_greedy_route_beside_deeper_literals_keeps_the_literals_apart() {
    let rules = declared(vec![
        rule("GET /files/{proxy+}", &["files/read"]),
        rule("GET /files/public/terms", &[]),
        rule("GET /files/admin/keys", &["admin"]),
    ]);
    let requests = [
        "GET/files/a",
        "GET/files/a/b/c",
        "GET/files/public/terms",
        "GET/files/admin/keys",
        "GET/files/admin/keys/x",
        "GET/files/public",
    ];
    for scopes in [&[][..], &["files/read"][..], &["admin"][..]] {
        let fit = one_exact_policy(&[], &rules, &caller(scopes), Routing::Rest, &requests);
        assert_eq!(fit, Fit::Exact, "{scopes:?}");
    }
}

#[test]
fn any_beside_an_exact_method_on_one_resource_leaves_that_method_to_its_own_route() {
    let rules = declared(vec![
        rule("ANY /orders/{id}", &["shop/read"]),
        rule("DELETE /orders/{id}", &["admin"]),
    ]);
    let requests = [
        "GET/orders/1",
        "PATCH/orders/1",
        "HEAD/orders/1",
        "DELETE/orders/1",
        "OPTIONS/orders/1",
    ];
    for scopes in [&["shop/read"][..], &["admin"][..], &[][..]] {
        let fit = one_exact_policy(&[], &rules, &caller(scopes), Routing::Rest, &requests);
        assert_eq!(fit, Fit::Exact, "{scopes:?}");
    }
    let reader = ask(
        &rules,
        &caller(&["shop/read"]),
        Routing::Rest,
        "GET/orders/1",
        None,
    );
    assert!(!policy_allows(
        &reader.allow,
        &reader.deny,
        &format!("{PREFIX}DELETE/orders/1")
    ));
}

#[test]
fn an_http_api_default_route_takes_every_path_but_the_forbidden_routes() {
    let table = ["GET /admin", "$default"];
    let rules = declared(vec![rule(table[0], &["admin"]), rule(table[1], &[])]);
    let requests = [
        "GET/admin",
        "GET/admin/x",
        "POST/admin",
        "DELETE/anything/at/all",
        "GET/",
        "GET/a//b",
        "PUT/a/",
    ];
    for scopes in [&[][..], &["admin"][..]] {
        let fit = one_exact_policy(&table, &rules, &caller(scopes), Routing::Http, &requests);
        assert_eq!(fit, Fit::Exact, "{scopes:?}");
    }
}

#[test]
fn a_closed_route_is_refused_to_everyone_and_the_policy_stays_exact() {
    let rules = declared(vec![
        rule("GET /jobs/{id}", &[]),
        closed("POST /jobs/reindex"),
        rule("POST /jobs/{id}", &["admin"]),
    ]);
    let requests = ["GET/jobs/1", "POST/jobs/reindex", "POST/jobs/1"];
    for scopes in [&[][..], &["admin"][..]] {
        let fit = one_exact_policy(&[], &rules, &caller(scopes), Routing::Rest, &requests);
        assert_eq!(fit, Fit::Exact, "{scopes:?}");
        let outcome = ask(
            &rules,
            &caller(scopes),
            Routing::Rest,
            "POST/jobs/reindex",
            None,
        );
        assert!(outcome.permitted.is_err());
    }
}

#[test]
fn a_request_the_declared_table_routes_nowhere_is_a_500_never_a_cached_policy() {
    let rules = declared(vec![rule("GET /pets/{id}", &[])]);
    let outcome = ask(
        &rules,
        &caller(&[]),
        Routing::Rest,
        "GET/pets/1/photos",
        None,
    );
    assert_eq!(outcome.fit, Fit::NotInTable);
    assert_eq!(
        outcome.permitted.map_err(|r| r.reason),
        Err(Reason::RouteNotInTable)
    );
    assert!(outcome.allow.is_empty());
}

#[test]
fn an_event_whose_route_is_missing_from_the_declared_table_is_a_500() {
    // API Gateway routed to /pets/{id}/photos, a route the table does not list (the same path
    // the table would route nowhere), or to /pets/{id} for a path the table gives /pets/new.
    let rules = declared(vec![
        rule("GET /pets/{id}", &[]),
        rule("GET /pets/new", &[]),
    ]);
    let photos = RoutedTo {
        method: "GET".into(),
        template: "/pets/{id}/photos".into(),
    };
    let outcome = ask(
        &rules,
        &caller(&[]),
        Routing::Rest,
        "GET/pets/1/photos",
        Some(&photos),
    );
    assert_eq!(outcome.fit, Fit::NotInTable);
    let elsewhere = RoutedTo {
        method: "GET".into(),
        template: "/pets/{id}".into(),
    };
    let outcome = ask(
        &rules,
        &caller(&[]),
        Routing::Rest,
        "GET/pets/new",
        Some(&elsewhere),
    );
    assert_eq!(outcome.fit, Fit::NotInTable);
    let agreeing = ask(
        &rules,
        &caller(&[]),
        Routing::Rest,
        "GET/pets/1",
        Some(&elsewhere),
    );
    assert_eq!(agreeing.fit, Fit::Exact);
    assert!(agreeing.permitted.is_ok());
}

#[test]
fn a_path_with_an_empty_segment_is_refused_by_the_cached_policy_too() {
    let rules = declared(vec![rule("GET /a/{id}", &[]), rule("GET /a", &[])]);
    let requests = ["GET/a/1", "GET/a", "GET/a/", "GET/a//1", "GET//a"];
    assert_eq!(
        one_exact_policy(&[], &rules, &caller(&[]), Routing::Rest, &requests),
        Fit::Exact
    );
}
