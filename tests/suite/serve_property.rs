//! The cache promise, driven through `tollgate serve` over real HTTP: for seeded random rule
//! sets, tokens and request sequences (adversarial paths included), a server with API
//! Gateway's cache on (TTL 300 s) and one with it off (TTL 0) answer every request with the
//! same status, or the cached one refuses (403), or it answers 500 where no policy is safe under
//! a token-keyed cache (never cached). A cached 2xx where the fresh answer is not 2xx is an
//! over-allow, and fails the test with the case.
//!
//! Each configuration plays one authorizer set-up: REST TOKEN; REST REQUEST keyed on the
//! header only; REST REQUEST with the template's identity sources (the route in the key); an
//! HTTP API with the route key; an HTTP API keyed on the header only.
//! `TOLLGATE_SERVE_PROPERTY_CONFIGS` sets the number of configurations (default 200) and
//! `TOLLGATE_PROPERTY_SEED` the seed.

use crate::common;
use crate::serving::Serving;

use std::collections::HashMap;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::access::RouteTableSetting;
use tollgate::config::Config;
use tollgate::log::Capture;
use tollgate::routes::RoutePattern;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Settings};

use common::generate::{GROUPS, Rng, SCOPES, random_request, random_rules};
use common::{access_claims, config_with, sign, with};

#[derive(Clone, Copy, Debug)]
enum Setup {
    RestToken,
    RestHeaderOnly,
    RestWithRoute,
    HttpWithRoute,
    HttpHeaderOnly,
}

const SETUPS: [Setup; 5] = [
    Setup::RestToken,
    Setup::RestHeaderOnly,
    Setup::RestWithRoute,
    Setup::HttpWithRoute,
    Setup::HttpHeaderOnly,
];

impl Setup {
    fn settings(self, ttl: u64, config: &Config, log: &std::path::Path) -> Settings {
        let (api, authorizer) = match self {
            Setup::RestToken => (Api::Rest, AuthorizerKind::Token),
            Setup::RestHeaderOnly | Setup::RestWithRoute => (Api::Rest, AuthorizerKind::Request),
            Setup::HttpWithRoute | Setup::HttpHeaderOnly => (Api::Http, AuthorizerKind::Request),
        };
        let identity_sources = match self {
            Setup::RestHeaderOnly | Setup::HttpHeaderOnly => {
                vec![IdentitySource::Header("Authorization".into())]
            }
            Setup::RestWithRoute => vec![
                IdentitySource::Header("Authorization".into()),
                IdentitySource::HttpMethod,
                IdentitySource::ResourcePath,
            ],
            Setup::HttpWithRoute => vec![
                IdentitySource::Header("Authorization".into()),
                IdentitySource::RouteKey,
            ],
            Setup::RestToken => IdentitySource::template_defaults(api, authorizer),
        };
        Settings {
            listen: "127.0.0.1:0".parse().unwrap(),
            upstream: None,
            api,
            authorizer,
            identity_sources,
            cache_ttl: Duration::from_secs(ttl),
            access_log: log.to_path_buf(),
            stage: api.default_stage().to_string(),
            routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
            max_body_bytes: 1024,
            simple_responses: true,
            cors: tollgate::cors::CorsSettings::default(),
        }
    }
}

/// The path as a URL carries it: `?` and `%` would end or escape it, so they are sent
/// percent-encoded (the server sees `%3F`, a literal no rule names).
fn url_path(path: &str) -> String {
    format!("/{}", path.replace('%', "%25").replace('?', "%3F"))
}

fn random_token(rng: &mut Rng) -> String {
    let scopes: Vec<&str> = SCOPES.iter().copied().filter(|_| rng.chance(50)).collect();
    let groups: Vec<&str> = GROUPS.iter().copied().filter(|_| rng.chance(30)).collect();
    let claims = with(
        access_claims(),
        json!({"scope": scopes.join(" "), "cognito:groups": groups}),
    );
    format!("Bearer {}", sign(Algorithm::RS256, &claims))
}

#[derive(Default, Debug)]
struct Tally {
    requests: usize,
    cached_hits: usize,
    same: usize,
    over_denies: usize,
    unanswerable: usize,
    per_setup: HashMap<String, (usize, usize)>,
}

#[tokio::test(flavor = "current_thread")]
async fn serve_with_the_cache_on_never_allows_what_it_refuses_with_the_cache_off() {
    let logs = Capture::start();
    let configs: usize = std::env::var("TOLLGATE_SERVE_PROPERTY_CONFIGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let seed: u64 = std::env::var("TOLLGATE_PROPERTY_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5EED_CAFE);
    let mut rng = Rng(seed | 1);
    let dir = std::env::temp_dir().join(format!("tollgate-serve-property-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let client = reqwest::Client::new();
    let mut tally = Tally::default();
    for n in 0..configs {
        let setup = SETUPS[n % SETUPS.len()];
        let mut config = config_with(&[("REQUIRED_SCOPES", "")]);
        config.routes = random_rules(&mut rng);
        // Every other round of set-ups declares the route table, as `tollgate serve` itself
        // does (its routes are the rules), with a closed route or an HTTP `$default` at times.
        let declared = (n / SETUPS.len()) % 2 == 1;
        if declared {
            config.route_table = RouteTableSetting::Declared;
            if rng.chance(30) {
                let at = rng.below(config.routes.len());
                config.routes[at].closed = true;
                config.routes[at].scopes.clear();
                config.routes[at].groups.clear();
            }
            if matches!(setup, Setup::HttpWithRoute | Setup::HttpHeaderOnly) && rng.chance(30) {
                let mut default = config.routes[0].clone();
                default.pattern = RoutePattern::parse("$default").expect("a route key");
                default.closed = false;
                config.routes.push(default);
            }
        }
        let rules = config.routes.clone();
        let cached = Serving::start(
            setup.settings(300, &config, &dir.join("cached.jsonl")),
            config.clone(),
        )
        .await;
        let fresh =
            Serving::start(setup.settings(0, &config, &dir.join("fresh.jsonl")), config).await;
        let tokens: Vec<String> = (0..3).map(|_| random_token(&mut rng)).collect();
        for _ in 0..24 {
            let token = rng.pick(&tokens).clone();
            let (method, path) = random_request(&mut rng, &rules);
            let target = url_path(&path);
            let mut statuses = Vec::new();
            let mut hit = false;
            for base in [&cached.base, &fresh.base] {
                let response = client
                    .request(
                        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                        format!("{base}{target}"),
                    )
                    .header("Authorization", &token)
                    .send()
                    .await
                    .unwrap();
                hit |= response
                    .headers()
                    .get("x-tollgate-authorizer-cache")
                    .is_some_and(|v| v == "hit");
                statuses.push(response.status().as_u16());
            }
            let (with_cache, without) = (statuses[0], statuses[1]);
            tally.requests += 1;
            tally.cached_hits += usize::from(hit);
            let label = match declared {
                true => format!("{setup:?}, table declared"),
                false => format!("{setup:?}"),
            };
            let entry = tally.per_setup.entry(label).or_default();
            entry.0 += 1;
            if (200..300).contains(&with_cache) && !(200..300).contains(&without) {
                let rules: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
                panic!(
                    "over-allow through serve ({setup:?}, declared {declared}, seed {seed}, configuration {n}): {method} {target} answered {with_cache} with the cache on and {without} with it off; rules {rules:?}"
                );
            }
            if with_cache == without {
                tally.same += 1;
            } else if with_cache == 403 {
                tally.over_denies += 1;
                entry.1 += 1;
            } else if with_cache == 500 && (200..300).contains(&without) {
                tally.unanswerable += 1;
            } else {
                let rules: Vec<&str> = rules.iter().map(|r| r.pattern.as_str()).collect();
                let reasons: Vec<String> = logs
                    .of("decision")
                    .iter()
                    .rev()
                    .take(2)
                    .map(|l| format!("{} {}", l["decision"], l["reason"]))
                    .collect();
                panic!(
                    "{setup:?}, declared {declared}, configuration {n}: {method} {target} answered {with_cache} with the cache on and {without} with it off; rules {rules:?}; last decisions {reasons:?}"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    // The only 500s are the never-cached `no_safe_policy` answers.
    let unsafe_500s = logs
        .of("decision")
        .iter()
        .filter(|l| l["decision"] == "error" && l["reason"] != "no_safe_policy")
        .count();
    assert_eq!(
        unsafe_500s, 0,
        "an error decision other than no_safe_policy"
    );
    assert!(
        tally.cached_hits >= tally.requests / 20,
        "the cache was exercised: {tally:?}"
    );
    drop(logs);
    eprintln!(
        "serve property: {} configurations, {} requests, {} served from the cache; same status {}, over-denies {}, 500 no_safe_policy {}; per set-up (requests, over-denies): {:?}",
        configs,
        tally.requests,
        tally.cached_hits,
        tally.same,
        tally.over_denies,
        tally.unanswerable,
        tally.per_setup
    );
}
