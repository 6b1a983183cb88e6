//! The cost of a proven policy: the first decision for a new set of permitted rules (the
//! prover runs then, and its result is memoised) and a repeat decision (memoised), for 100 and
//! 1,000 route rules shaped like a REST API's, under token and route scope.
//!
//! `cargo bench --bench policy` (add `-- --quick` for one round). Figures go to BENCHMARKS.md.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tollgate::access::{AccessRules, CacheScope, RouteRequest, RouteRule};
use tollgate::event::{MethodArn, RoutedTo};
use tollgate::routes::RoutePattern;
use tollgate::verify::VerifiedClaims;

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

/// `count` rules over services of five routes each: a collection, an item, an item's
/// sub-collection, an admin-only delete, and a catch-all for the service's files.
fn rules(count: usize) -> Vec<RouteRule> {
    let shapes = [
        ("GET", "/svc{n}/items", "read"),
        ("POST", "/svc{n}/items", "write"),
        ("GET", "/svc{n}/items/{id}", "read"),
        ("DELETE", "/svc{n}/items/{id}", "admin"),
        ("GET", "/svc{n}/items/{id}/parts", "read"),
    ];
    (0..count)
        .map(|i| {
            let (method, path, scope) = shapes[i % shapes.len()];
            let path = path.replace("{n}", &(i / shapes.len()).to_string());
            RouteRule {
                closed: false,
                pattern: RoutePattern::parse(&format!("{method} {path}")).expect("a route"),
                scopes: vec![scope.to_string()],
                groups: vec![],
                price_micros: 1000,
                plan_prices: HashMap::new(),
            }
        })
        .collect()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let rounds = if quick { 1 } else { 5 };
    let reader = VerifiedClaims {
        sub: "u".into(),
        scopes: vec!["read".into(), "write".into()],
        ..Default::default()
    };
    let arn = MethodArn::parse(&format!("{PREFIX}GET/svc3/items/42")).expect("an ARN");
    let routed = RoutedTo {
        method: "GET".into(),
        template: "/svc3/items/{id}".into(),
    };
    println!("| rules | scope | first decision (proof) | repeat (memoised) | policy resources |");
    println!("|---|---|---|---|---|");
    for count in [100, 1000] {
        for (scope, routed_to) in [
            (CacheScope::Token, None),
            (CacheScope::Route, Some(&routed)),
        ] {
            let request = RouteRequest {
                arn: &arn,
                routed_to,
                scope,
                routing: tollgate::route_table::Routing::Rest,
            };
            let mut first = Vec::new();
            let mut repeat = Vec::new();
            let mut resources = 0;
            for _ in 0..rounds {
                let access = AccessRules::new(vec![], vec![], rules(count));
                let started = Instant::now();
                let verdict = access.evaluate(&reader, &request);
                first.push(started.elapsed());
                assert!(
                    verdict.permitted.is_ok(),
                    "the bench token may call its route"
                );
                resources = verdict.allow.len() + verdict.deny.len();
                let started = Instant::now();
                for _ in 0..100 {
                    std::hint::black_box(access.evaluate(&reader, &request));
                }
                repeat.push(started.elapsed() / 100);
            }
            println!(
                "| {count} | {} | {:.2} ms | {:.1} µs | {resources} |",
                scope.name(),
                median(first).as_secs_f64() * 1e3,
                median(repeat).as_secs_f64() * 1e6,
            );
        }
    }
}
