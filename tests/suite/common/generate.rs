//! Seeded generators for the cache property tests: random rule sets (methods including `ANY`,
//! literals, `{param}`, `{proxy+}`, the root, scopes and groups) and random requests with
//! adversarial paths (`*`, `?`, empty segments, trailing slashes, deeper and shallower paths,
//! other case).

use std::collections::HashMap;

use tollgate::access::RouteRule;
use tollgate::routes::{HTTP_METHODS, RoutePattern};

/// xorshift64*: small, seeded, reproducible.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

pub const LITERALS: [&str; 5] = ["a", "b", "users", "admin", "status"];
pub const SCOPES: [&str; 3] = ["read", "write", "admin"];
pub const GROUPS: [&str; 2] = ["admins", "staff"];
/// Concrete segment values: the rules' literals and values no rule names, adversarial ones
/// included.
pub const VALUES: [&str; 11] = [
    "a", "b", "users", "admin", "status", "42", "x", "*", "?", "", "Admin",
];

pub fn random_rules(rng: &mut Rng) -> Vec<RouteRule> {
    let mut rules: Vec<RouteRule> = Vec::new();
    let count = 1 + rng.below(7);
    while rules.len() < count {
        let method = *rng.pick(&["GET", "POST", "DELETE", "ANY", "ANY", "GET"]);
        let depth = rng.below(4);
        let mut path = String::new();
        for i in 0..depth {
            let roll = rng.below(10);
            let segment = if roll < 6 {
                rng.pick(&LITERALS).to_string()
            } else if roll < 9 || i + 1 < depth {
                "{p}".to_string()
            } else {
                "{proxy+}".to_string()
            };
            path.push('/');
            path.push_str(&segment);
        }
        if path.is_empty() {
            path.push('/');
        }
        let Ok(pattern) = RoutePattern::parse(&format!("{method} {path}")) else {
            continue;
        };
        if rules.iter().any(|r| r.pattern.same_shape(&pattern)) {
            continue;
        }
        let scopes: Vec<String> = SCOPES
            .iter()
            .filter(|_| rng.chance(30))
            .map(|s| s.to_string())
            .collect();
        let groups: Vec<String> = GROUPS
            .iter()
            .filter(|_| rng.chance(15))
            .map(|s| s.to_string())
            .collect();
        rules.push(RouteRule {
            closed: false,
            pattern,
            scopes,
            groups,
            price_micros: 0,
            plan_prices: HashMap::new(),
        });
    }
    rules
}

/// A concrete request: method and path as they appear in the method ARN.
pub fn random_request(rng: &mut Rng, rules: &[RouteRule]) -> (String, String) {
    let method = rng.pick(&HTTP_METHODS).to_string();
    // Half the time, a request shaped after a rule (deeper, shallower or exact).
    let path = if rng.chance(50) {
        let rule = rng.pick(rules);
        let mut segments: Vec<String> = rule
            .pattern
            .segments()
            .iter()
            .map(|s| match s {
                tollgate::routes::Segment::Literal(t) => t.clone(),
                _ => rng.pick(&VALUES).to_string(),
            })
            .collect();
        match rng.below(4) {
            0 => segments.push(rng.pick(&VALUES).to_string()),
            1 if !segments.is_empty() => {
                let at = rng.below(segments.len());
                segments.insert(at, rng.pick(&VALUES).to_string());
            }
            2 => segments.push(String::new()),
            _ => {}
        }
        segments.join("/")
    } else {
        let depth = rng.below(6);
        (0..depth)
            .map(|_| rng.pick(&VALUES).to_string())
            .collect::<Vec<_>>()
            .join("/")
    };
    (method, path)
}
