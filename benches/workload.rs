//! What API Gateway's authorizer cache costs and refuses on ordinary APIs, per cache set-up.
//!
//! The promise under the cache is twofold: a cached answer never allows what a fresh decision
//! would not, and repeat calls cost (almost) nothing. The property tests hold the first on
//! adversarial rule sets; this bench measures both on the common case: generated, ordinary
//! REST-style APIs and Zipf-shaped traffic from callers in a few scope profiles.
//!
//! From a seed it generates APIs of 10 to 40 routes (collections with `{id}` or `{slug}`
//! items, a literal beside a parameter such as `/products/search`, nested resources such as
//! `/products/{id}/reviews`, several methods per resource, `ANY` sometimes, a greedy
//! `{proxy+}` route with deeper literal routes beside it sometimes), whose rules are public,
//! scoped (`shop/read`, `shop/write`) or for a group (`admin`), and one route no caller may
//! call (a rule for a group no caller holds). Callers come in four profiles (no scope,
//! reader, writer, admin), each with its own RS256 token signed once. Traffic is Zipf-shaped
//! (s = 1.1) over callers and over each API's routes: mostly routes the caller may call, some
//! it may not; concrete ids and slugs fill the parameters, and only requests that serve's own
//! routing (REST and HTTP API alike) sends to the intended route are generated, so nothing
//! is answered `Missing Authentication Token` or `Not Found`.
//!
//! The same sequence then goes through `tollgate serve` (in process, real HTTP on 127.0.0.1,
//! one server per API and set-up, the whole sequence well within the 300 s TTL) under each
//! set-up: REST REQUEST keyed on `Authorization` + method + resource path (the route in the
//! key); REST TOKEN; REST REQUEST keyed on `Authorization` alone; HTTP API keyed on
//! `Authorization` alone with IAM policy answers (`HTTP_API_SIMPLE_RESPONSES=false`); and with
//! the cache off (TTL 0), once per API kind, as the truth. The configuration declares the
//! route table (`TOLLGATE_ROUTE_TABLE=declared`), as serve's routes are its rules.
//!
//! Per set-up it prints authorizer invocations per 1,000 requests (serve's
//! `x-tollgate-authorizer-cache: miss`), the floor for its key (distinct cache keys per 1,000
//! requests: for a token key, distinct tokens), their ratio, over-allows (a cached 2xx where
//! the truth is not 2xx), false 403s (a cached 403 where the truth is 2xx) and any other
//! difference from the truth.
//!
//! `cargo bench --bench workload` runs six APIs of 240 callers and 4,700 requests each;
//! `cargo test --bench workload -- --quick` a smaller run for CI, which asserts 0 over-allows
//! for every set-up and, with `TOLLGATE_WORKLOAD_EXPECT_EXACT=1`, also 0 false 403s (and no
//! other difference) and invocations within 1.05x of the floor for the token-keyed set-ups.
//! `--seed=N` picks another seed.

#[path = "../tests/suite/common/mod.rs"]
mod common;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::generate::Rng;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::config::Config;
use tollgate::handler::Authorizer;
use tollgate::log::Capture;
use tollgate::serve::gateway::CACHE_HEADER;
use tollgate::serve::routing::RouteTable;
use tollgate::serve::settings::cache_scope_of;
use tollgate::serve::{Api, AuthorizerKind, Gateway, IdentitySource, Server, Settings};

/// The template's authorizer cache TTL: every set-up's whole sequence must fit in it.
const TTL_SECONDS: u64 = tollgate::serve::DEFAULT_CACHE_TTL_SECONDS;
/// The Zipf exponent of the traffic, over callers and over routes.
const ZIPF_S: f64 = 1.1;
/// Percent of requests that go to a route the caller may call.
const PERMITTED_SHARE: u64 = 92;
/// The group of the route no caller may call: no profile holds it.
const NOBODY_GROUP: &str = "breakglass";

/// How big a run is.
struct Scale {
    apis: usize,
    callers: usize,
    requests: usize,
}

/// Who may call a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tier {
    Public,
    Read,
    Write,
    Admin,
    Closed,
}

impl Tier {
    /// The rule's `scopes` and `groups` lines in TOML.
    fn toml(self) -> String {
        match self {
            Tier::Public => String::new(),
            Tier::Read => "scopes = [\"shop/read\"]\n".into(),
            Tier::Write => "scopes = [\"shop/write\"]\n".into(),
            Tier::Admin => "groups = [\"admin\"]\n".into(),
            Tier::Closed => format!("groups = [\"{NOBODY_GROUP}\"]\n"),
        }
    }
}

/// One route of a generated API.
struct Route {
    method: &'static str,
    /// The resource template, `/v1/products/{id}`.
    template: String,
    tier: Tier,
}

impl Route {
    fn key(&self) -> String {
        format!("{} {}", self.method, self.template)
    }
}

/// A caller's scope profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    NoScope,
    Reader,
    Writer,
    Admin,
}

const PROFILES: [Profile; 4] = [
    Profile::NoScope,
    Profile::Reader,
    Profile::Writer,
    Profile::Admin,
];

impl Profile {
    fn may_call(self, tier: Tier) -> bool {
        match tier {
            Tier::Public => true,
            Tier::Read => self != Profile::NoScope,
            Tier::Write => matches!(self, Profile::Writer | Profile::Admin),
            Tier::Admin => self == Profile::Admin,
            Tier::Closed => false,
        }
    }

    fn claims(self) -> (serde_json::Value, Vec<&'static str>) {
        match self {
            Profile::NoScope => (serde_json::Value::Null, vec![]),
            Profile::Reader => (json!("shop/read"), vec![]),
            Profile::Writer => (json!("shop/read shop/write"), vec![]),
            Profile::Admin => (json!("shop/read shop/write"), vec!["admin"]),
        }
    }
}

/// A caller: a profile and its own signed token.
struct Caller {
    profile: Profile,
    authorization: String,
}

/// One request of the sequence.
struct Request {
    caller: usize,
    method: &'static str,
    path: String,
    /// The resource path API Gateway routes it to (part of a route key).
    resource: String,
}

fn unit(rng: &mut Rng) -> f64 {
    (rng.next() >> 11) as f64 / (1u64 << 53) as f64
}

/// Ranks 0..n drawn with weight 1 / (rank + 1)^s.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / (rank as f64).powf(ZIPF_S);
                total
            })
            .collect();
        Zipf { cumulative }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = unit(rng) * total;
        self.cumulative
            .partition_point(|&c| c <= target)
            .min(self.cumulative.len().saturating_sub(1))
    }
}

fn shuffle<T>(rng: &mut Rng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, rng.below(i + 1));
    }
}

const COLLECTIONS: [(&str, &str); 14] = [
    ("products", "id"),
    ("orders", "id"),
    ("users", "id"),
    ("carts", "id"),
    ("categories", "slug"),
    ("invoices", "id"),
    ("shipments", "id"),
    ("coupons", "slug"),
    ("stores", "slug"),
    ("wishlists", "id"),
    ("payments", "id"),
    ("articles", "slug"),
    ("tickets", "id"),
    ("brands", "slug"),
];
const CHILDREN: [&str; 5] = ["reviews", "items", "notes", "history", "images"];
const WORDS: [&str; 12] = [
    "red-shoes",
    "summer",
    "kitchen",
    "garden-tools",
    "winter-sale",
    "books",
    "toys",
    "audio",
    "coffee",
    "outdoor",
    "gift-cards",
    "office",
];
const FILES: [&str; 8] = [
    "logo.png",
    "css",
    "app.js",
    "img",
    "fonts",
    "banner.jpg",
    "v2",
    "icons",
];

/// One collection's routes: list and create, item read, update and delete, sometimes a
/// literal beside the item parameter, sometimes a nested collection, sometimes `ANY`.
fn collection(rng: &mut Rng, prefix: &str, name: &str, param: &str) -> Vec<Route> {
    let base = format!("{prefix}/{name}");
    let item = format!("{base}/{{{param}}}");
    let read = if rng.chance(35) {
        Tier::Public
    } else {
        Tier::Read
    };
    let route = |method, template: &str, tier| Route {
        method,
        template: template.to_string(),
        tier,
    };
    let mut routes = vec![route("GET", &base, read), route("GET", &item, read)];
    if rng.chance(80) {
        routes.push(route("POST", &base, Tier::Write));
    }
    if rng.chance(70) {
        routes.push(route(*rng.pick(&["PUT", "PATCH"]), &item, Tier::Write));
    }
    if rng.chance(60) {
        let tier = if rng.chance(50) {
            Tier::Write
        } else {
            Tier::Admin
        };
        routes.push(route("DELETE", &item, tier));
    }
    if rng.chance(35) {
        routes.push(route("GET", &format!("{base}/search"), Tier::Public));
    }
    let mut children = CHILDREN.to_vec();
    shuffle(rng, &mut children);
    if rng.chance(45) {
        let nested = format!("{item}/{}", children[0]);
        routes.push(route("GET", &nested, read));
        if rng.chance(60) {
            routes.push(route("POST", &nested, Tier::Write));
        }
    }
    if rng.chance(15) {
        routes.push(route(
            "ANY",
            &format!("{item}/{}", children[1]),
            Tier::Write,
        ));
    }
    routes
}

/// An ordinary API of 10 to 40 routes, with one route no caller may call.
fn generate_api(rng: &mut Rng) -> Vec<Route> {
    let prefix = if rng.chance(50) { "/v1" } else { "" };
    let route = |method, template: String, tier| Route {
        method,
        template,
        tier,
    };
    let mut routes = Vec::new();
    if rng.chance(60) {
        routes.push(route("GET", format!("{prefix}/health"), Tier::Public));
    }
    if rng.chance(50) {
        // A greedy route with deeper literal routes beside it.
        routes.push(route(
            "GET",
            format!("{prefix}/files/{{proxy+}}"),
            Tier::Read,
        ));
        routes.push(route(
            "GET",
            format!("{prefix}/files/public/terms"),
            Tier::Public,
        ));
        if rng.chance(50) {
            routes.push(route(
                "PUT",
                format!("{prefix}/files/{{proxy+}}"),
                Tier::Write,
            ));
        }
    }
    if rng.chance(60) {
        // The admin area: a greedy `ANY` for the group, with a public literal inside it.
        routes.push(route(
            "ANY",
            format!("{prefix}/admin/{{proxy+}}"),
            Tier::Admin,
        ));
        routes.push(route("GET", format!("{prefix}/admin/status"), Tier::Public));
    } else {
        routes.push(route("GET", format!("{prefix}/admin/reports"), Tier::Admin));
        routes.push(route(
            "POST",
            format!("{prefix}/admin/reports"),
            Tier::Admin,
        ));
    }
    let closed = route("POST", format!("{prefix}/internal/reindex"), Tier::Closed);
    let target = 10 + rng.below(31);
    let mut names = COLLECTIONS.to_vec();
    shuffle(rng, &mut names);
    for (name, param) in names {
        if routes.len() + 1 >= target {
            break;
        }
        let more = collection(rng, prefix, name, param);
        if routes.len() + more.len() + 1 > 40 {
            continue;
        }
        routes.extend(more);
    }
    routes.push(closed);
    routes
}

/// The API's rules as a `TOLLGATE_CONFIG` file.
fn config_file(routes: &[Route]) -> String {
    let mut text = String::new();
    for route in routes {
        let _ = write!(
            text,
            "[[routes]]\nroute = \"{}\"\n{}\n",
            route.key(),
            route.tier.toml()
        );
    }
    text
}

/// A concrete path for a route's template: ids, slugs, a few segments for a greedy one.
fn fill(rng: &mut Rng, template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{id}" => (1 + rng.below(5000)).to_string(),
            "{slug}" => rng.pick(&WORDS).to_string(),
            "{proxy+}" => {
                let depth = 1 + rng.below(3);
                (0..depth)
                    .map(|_| rng.pick(&FILES).to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            }
            literal => literal.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

const ANY_METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The request sequence for one API: Zipf over callers, then over the routes the caller may
/// call (or, now and then, over all routes); only requests both a REST and an HTTP API route
/// to the chosen route.
fn traffic(
    rng: &mut Rng,
    routes: &[Route],
    config: &Config,
    callers: &[Caller],
    count: usize,
) -> Vec<Request> {
    let patterns: Vec<_> = config.routes.iter().map(|r| r.pattern.clone()).collect();
    let tables = [
        RouteTable::new(Api::Rest, &patterns),
        RouteTable::new(Api::Http, &patterns),
    ];
    // Popularity: a random order of the routes, and of the callers.
    let mut popular: Vec<usize> = (0..routes.len()).collect();
    shuffle(rng, &mut popular);
    let mut caller_rank: Vec<usize> = (0..callers.len()).collect();
    shuffle(rng, &mut caller_rank);
    let permitted: Vec<Vec<usize>> = PROFILES
        .iter()
        .map(|p| {
            popular
                .iter()
                .copied()
                .filter(|&r| p.may_call(routes[r].tier))
                .collect()
        })
        .collect();
    let zipf_permitted: Vec<Zipf> = permitted.iter().map(|p| Zipf::new(p.len())).collect();
    let zipf_all = Zipf::new(routes.len());
    let zipf_callers = Zipf::new(callers.len());
    let mut requests = Vec::with_capacity(count);
    while requests.len() < count {
        let caller = caller_rank[zipf_callers.sample(rng)];
        let profile = PROFILES
            .iter()
            .position(|p| *p == callers[caller].profile)
            .unwrap_or(0);
        let route = if rng.chance(PERMITTED_SHARE) && !permitted[profile].is_empty() {
            permitted[profile][zipf_permitted[profile].sample(rng)]
        } else {
            popular[zipf_all.sample(rng)]
        };
        let route = &routes[route];
        let method = if route.method == "ANY" {
            *rng.pick(&ANY_METHODS)
        } else {
            route.method
        };
        let path = fill(rng, &route.template);
        let routed_here = tables.iter().all(|table| {
            table
                .route(method, &path)
                .is_some_and(|r| r.resource_path == route.template)
        });
        if routed_here {
            requests.push(Request {
                caller,
                method,
                path,
                resource: route.template.clone(),
            });
        }
    }
    requests
}

/// The development configuration with these rules, no required scope, IAM policy answers for
/// HTTP APIs, and the route table declared (serve's routes are its rules).
fn config_for(routes: &[Route], dir: &Path) -> Config {
    let file = dir.join(format!("tollgate-workload-{}.toml", std::process::id()));
    std::fs::write(&file, config_file(routes)).expect("write the generated configuration");
    let config = common::config_with(&[
        (
            "TOLLGATE_CONFIG",
            file.to_str().expect("a UTF-8 temporary path"),
        ),
        ("REQUIRED_SCOPES", ""),
        ("HTTP_API_SIMPLE_RESPONSES", "false"),
        ("TOLLGATE_ROUTE_TABLE", "declared"),
    ]);
    let _ = std::fs::remove_file(&file);
    config
}

/// One authorizer set-up behind serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    RestRouteKeyed,
    RestToken,
    RestAuthorizationOnly,
    HttpAuthorizationOnly,
    RestOff,
    HttpOff,
}

const SETUPS: [Setup; 6] = [
    Setup::RestRouteKeyed,
    Setup::RestToken,
    Setup::RestAuthorizationOnly,
    Setup::HttpAuthorizationOnly,
    Setup::RestOff,
    Setup::HttpOff,
];

impl Setup {
    fn label(self) -> &'static str {
        match self {
            Setup::RestRouteKeyed => {
                "REST REQUEST keyed on Authorization + method + resource path (the template before issue 20)"
            }
            Setup::RestToken => "REST TOKEN authorizer",
            Setup::RestAuthorizationOnly => "REST REQUEST keyed on Authorization only",
            Setup::HttpAuthorizationOnly => "HTTP API, IAM policies, keyed on Authorization only",
            Setup::RestOff => "REST, cache off (the truth)",
            Setup::HttpOff => "HTTP API, cache off (the truth)",
        }
    }

    fn api(self) -> Api {
        match self {
            Setup::HttpAuthorizationOnly | Setup::HttpOff => Api::Http,
            _ => Api::Rest,
        }
    }

    /// The set-up with the cache off that is its truth.
    fn truth(self) -> Setup {
        match self.api() {
            Api::Rest => Setup::RestOff,
            Api::Http => Setup::HttpOff,
        }
    }

    fn is_truth(self) -> bool {
        self == self.truth()
    }

    /// Whether the cache key is the token alone.
    fn token_keyed(self) -> bool {
        matches!(
            self,
            Setup::RestToken | Setup::RestAuthorizationOnly | Setup::HttpAuthorizationOnly
        )
    }

    fn settings(self, config: &Config, log: &Path) -> Settings {
        let api = self.api();
        let authorizer = match self {
            Setup::RestToken => AuthorizerKind::Token,
            _ => AuthorizerKind::Request,
        };
        let identity_sources = match self {
            Setup::RestRouteKeyed | Setup::RestOff => vec![
                IdentitySource::Header("Authorization".into()),
                IdentitySource::HttpMethod,
                IdentitySource::ResourcePath,
            ],
            _ => vec![IdentitySource::Header("Authorization".into())],
        };
        Settings {
            listen: "127.0.0.1:0".parse().expect("a socket address"),
            upstream: None,
            api,
            authorizer,
            identity_sources,
            cache_ttl: Duration::from_secs(if self.is_truth() { 0 } else { TTL_SECONDS }),
            access_log: log.to_path_buf(),
            stage: api.default_stage().to_string(),
            routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
            max_body_bytes: 1 << 20,
            simple_responses: config.http_api_simple_responses,
            cors: config.cors.clone(),
        }
    }

    /// The cache key of a request under this set-up, for the floor.
    fn key(self, request: &Request) -> String {
        if self.token_keyed() {
            request.caller.to_string()
        } else {
            format!("{} {} {}", request.caller, request.method, request.resource)
        }
    }
}

/// What one replay through one server saw.
struct Replay {
    statuses: Vec<u16>,
    misses: usize,
    invocations: usize,
    elapsed: Duration,
    /// Answers whose policy tollgate narrowed to the called route (its `policy_narrowed`
    /// warning): no exact policy for the caller's whole permitted set.
    narrowed: usize,
}

/// Replays the sequence through a fresh server for `setup`, one request after another on one
/// keep-alive connection, on this thread (so the capture holds the authorizer's log lines).
async fn replay(setup: Setup, config: &Config, requests: &[Request], callers: &[Caller]) -> Replay {
    let dir = std::env::temp_dir();
    let log = dir.join(format!(
        "tollgate-workload-{}-{setup:?}.jsonl",
        std::process::id()
    ));
    let settings = setup.settings(config, &log);
    let mut config = config.clone();
    config.authorizer_cache = Some(cache_scope_of(&settings));
    let authorizer = Arc::new(Authorizer::new(&config).expect("an authorizer"));
    let server = Server::bind(settings, authorizer)
        .await
        .expect("serve starts");
    let gateway: Arc<Gateway> = server.gateway();
    let base = format!("http://{}", server.local_addr().expect("its address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .build()
        .expect("an HTTP client");
    let mut statuses = Vec::with_capacity(requests.len());
    let mut misses = 0;
    let started = Instant::now();
    for request in requests {
        let method = reqwest::Method::from_bytes(request.method.as_bytes()).expect("a method");
        let response = client
            .request(method, format!("{base}{}", request.path))
            .header("Authorization", &callers[request.caller].authorization)
            .send()
            .await
            .expect("serve answers");
        misses += usize::from(
            response
                .headers()
                .get(CACHE_HEADER)
                .is_none_or(|v| v != "hit"),
        );
        statuses.push(response.status().as_u16());
        let _ = response.bytes().await;
    }
    let elapsed = started.elapsed();
    drop(client);
    let _ = stop.send(());
    let _ = running.await;
    let _ = std::fs::remove_file(&log);
    Replay {
        statuses,
        misses,
        invocations: gateway.invocations(),
        elapsed,
        narrowed: 0,
    }
}

/// One set-up's counts, summed over the APIs.
#[derive(Default)]
struct Tally {
    requests: usize,
    invocations: usize,
    keys: usize,
    over_allows: usize,
    false_403s: usize,
    other: usize,
    narrowed: usize,
    /// Answers that are not 2xx (for the truth: requests a fresh decision refuses).
    refused: usize,
}

fn per_thousand(count: usize, requests: usize) -> f64 {
    count as f64 * 1000.0 / requests.max(1) as f64
}

fn signed_callers(rng: &mut Rng, count: usize) -> Vec<Caller> {
    (0..count)
        .map(|i| {
            let roll = rng.below(100);
            let profile = match roll {
                0..25 => Profile::NoScope,
                25..65 => Profile::Reader,
                65..90 => Profile::Writer,
                _ => Profile::Admin,
            };
            let (scope, groups) = profile.claims();
            let claims = common::with(
                common::access_claims(),
                json!({
                    "sub": format!("caller-{i}"),
                    "username": format!("caller{i}"),
                    "jti": format!("workload-{i}"),
                    "scope": scope,
                    "cognito:groups": groups,
                }),
            );
            Caller {
                profile,
                authorization: format!("Bearer {}", common::sign(Algorithm::RS256, &claims)),
            }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let seed = args
        .iter()
        .find_map(|a| a.strip_prefix("--seed="))
        .map(|s| s.parse::<u64>().expect("--seed=N takes a number"))
        .unwrap_or(0x0005_EED2_0B0E);
    let expect_exact = std::env::var("TOLLGATE_WORKLOAD_EXPECT_EXACT").is_ok_and(|v| v == "1");
    let scale = if quick {
        Scale {
            apis: 3,
            callers: 100,
            requests: 1_000,
        }
    } else {
        Scale {
            apis: 6,
            callers: 240,
            requests: 4_700,
        }
    };
    let mut rng = Rng(seed | 1);
    let callers = signed_callers(&mut rng, scale.callers);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut tallies: Vec<Tally> = SETUPS.iter().map(|_| Tally::default()).collect();
    let mut route_counts = Vec::new();
    let mut slowest = Duration::ZERO;
    for _ in 0..scale.apis {
        let routes = generate_api(&mut rng);
        route_counts.push(routes.len());
        let config = config_for(&routes, &std::env::temp_dir());
        let requests = traffic(&mut rng, &routes, &config, &callers, scale.requests);
        let replays: Vec<Replay> = SETUPS
            .iter()
            .map(|&setup| {
                // tollgate's decision lines stay here; the bench prints only its table.
                let logs = Capture::start();
                let mut replay = runtime.block_on(replay(setup, &config, &requests, &callers));
                replay.narrowed = logs.of("policy_narrowed").len();
                replay
            })
            .collect();
        for (i, setup) in SETUPS.iter().enumerate() {
            let replay = &replays[i];
            assert_eq!(
                replay.misses,
                replay.invocations,
                "{}: every miss invokes the authorizer (a request serve did not route?)",
                setup.label()
            );
            slowest = slowest.max(replay.elapsed);
            let truth = &replays[SETUPS.iter().position(|s| *s == setup.truth()).unwrap_or(i)];
            let tally = &mut tallies[i];
            tally.requests += requests.len();
            tally.invocations += replay.invocations;
            tally.narrowed += replay.narrowed;
            tally.keys += requests
                .iter()
                .map(|r| setup.key(r))
                .collect::<HashSet<_>>()
                .len();
            tally.refused += replay
                .statuses
                .iter()
                .filter(|s| !(200..300).contains(*s))
                .count();
            for (&cached, &fresh) in replay.statuses.iter().zip(&truth.statuses) {
                let (cached_ok, fresh_ok) =
                    ((200..300).contains(&cached), (200..300).contains(&fresh));
                if cached_ok && !fresh_ok {
                    tally.over_allows += 1;
                } else if cached == 403 && fresh_ok {
                    tally.false_403s += 1;
                } else if cached != fresh {
                    tally.other += 1;
                }
            }
        }
    }
    assert!(
        slowest < Duration::from_secs(TTL_SECONDS),
        "a replay took {slowest:?}: longer than one TTL"
    );
    let requests: usize = tallies[0].requests;
    println!(
        "workload: {} generated APIs ({} to {} routes), {} callers (RS256, four profiles), {} requests per API (Zipf s = {ZIPF_S}), seed {seed}, TTL {TTL_SECONDS} s, slowest replay {:.1} s",
        scale.apis,
        route_counts.iter().min().copied().unwrap_or(0),
        route_counts.iter().max().copied().unwrap_or(0),
        scale.callers,
        scale.requests,
        slowest.as_secs_f64()
    );
    println!(
        "| set-up | authorizer invocations per 1,000 requests | floor for its key per 1,000 | invocations / floor | over-allows | false 403s | other differences |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (setup, tally) in SETUPS.iter().zip(&tallies) {
        let invocations = per_thousand(tally.invocations, tally.requests);
        let floor = per_thousand(tally.keys, tally.requests);
        if setup.is_truth() {
            println!(
                "| {} | {invocations:.0} | (no cache) | | - | - | - |",
                setup.label()
            );
            continue;
        }
        println!(
            "| {} | {invocations:.0} | {floor:.0} | {:.2}x | {} | {} ({:.1}%) | {} |",
            setup.label(),
            tally.invocations as f64 / tally.keys.max(1) as f64,
            tally.over_allows,
            tally.false_403s,
            100.0 * tally.false_403s as f64 / tally.requests.max(1) as f64,
            tally.other
        );
    }
    let truth = &tallies[SETUPS
        .iter()
        .position(|s| *s == Setup::RestOff)
        .unwrap_or(0)];
    let narrowed: Vec<String> = SETUPS
        .iter()
        .zip(&tallies)
        .filter(|(s, _)| !s.is_truth())
        .map(|(s, t)| format!("{s:?} {} of {}", t.narrowed, t.invocations))
        .collect();
    println!(
        "invocations answered with a policy narrowed to the called route (`policy_narrowed`): {}",
        narrowed.join("; ")
    );
    println!(
        "({requests} requests per set-up in all; the truth refuses {} of them, {:.1}%, as the traffic sends some callers to routes they may not call)",
        truth.refused,
        100.0 * truth.refused as f64 / requests.max(1) as f64
    );
    for (setup, tally) in SETUPS.iter().zip(&tallies) {
        assert_eq!(
            tally.over_allows,
            0,
            "{}: a cached answer allowed what the cache-off truth refused",
            setup.label()
        );
        if expect_exact && setup.token_keyed() {
            assert_eq!(
                tally.false_403s,
                0,
                "{}: false 403s under a token key (TOLLGATE_WORKLOAD_EXPECT_EXACT=1)",
                setup.label()
            );
            assert_eq!(
                tally.other,
                0,
                "{}: answers that differ from the truth (TOLLGATE_WORKLOAD_EXPECT_EXACT=1)",
                setup.label()
            );
            assert!(
                tally.invocations as f64 <= 1.05 * tally.keys as f64,
                "{}: {} invocations for {} tokens, over 1.05x the floor (TOLLGATE_WORKLOAD_EXPECT_EXACT=1)",
                setup.label(),
                tally.invocations,
                tally.keys
            );
        }
    }
}
