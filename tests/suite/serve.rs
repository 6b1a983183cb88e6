//! `tollgate serve` end to end: real HTTP from a client to the server on 127.0.0.1, through
//! the same handler Lambda runs, to a recording upstream on 127.0.0.1. Each test states one
//! behaviour of API Gateway that `serve` must show.

use crate::common;
use crate::serving::Serving;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::config::Config;
use tollgate::handler::Authorizer;
use tollgate::log::Capture;
use tollgate::serve::gateway::CACHE_HEADER;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Server, Settings, access_log};

use common::upstream::Upstream;
use common::{access_claims, config_with, repo_path, sign, with};

/// A unique scratch file for an access log.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "tollgate-serve-test-{}-{n}-{name}.jsonl",
        std::process::id()
    ))
}

/// The development configuration with its route rules and prices.
fn dev_config() -> Config {
    let file = repo_path("events/tollgate.dev.toml");
    config_with(&[("TOLLGATE_CONFIG", file.to_str().unwrap())])
}

/// Identity sources with the route in the key (the answers carry each route's cost), as these
/// tests were written for; the template's own (the token alone) are
/// `IdentitySource::template_defaults`.
fn route_keyed(api: Api, authorizer: AuthorizerKind) -> Vec<IdentitySource> {
    let mut sources = IdentitySource::template_defaults(api, authorizer);
    if authorizer == AuthorizerKind::Request {
        sources.extend(match api {
            Api::Rest => vec![IdentitySource::HttpMethod, IdentitySource::ResourcePath],
            Api::Http => vec![IdentitySource::RouteKey],
        });
    }
    sources
}

fn settings(
    api: Api,
    authorizer: AuthorizerKind,
    ttl: u64,
    upstream: Option<&Upstream>,
) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: upstream.map(|u| reqwest::Url::parse(&u.url()).unwrap()),
        api,
        authorizer,
        identity_sources: route_keyed(api, authorizer),
        cache_ttl: Duration::from_secs(ttl),
        access_log: scratch("access"),
        stage: api.default_stage().to_string(),
        routes: dev_config()
            .routes
            .iter()
            .map(|r| r.pattern.clone())
            .collect(),
        max_body_bytes: 1024,
        simple_responses: true,
        cors: tollgate::cors::CorsSettings::default(),
    }
}

/// serve with the development configuration.
async fn start(settings: Settings) -> Serving {
    Serving::start(settings, dev_config()).await
}

/// serve with `config`, reading a request body for at most `body_timeout`.
async fn start_with_body_timeout(
    settings: Settings,
    config: Config,
    body_timeout: Duration,
) -> Serving {
    Serving::start_with(settings, config, |server| {
        server.with_body_read_timeout(body_timeout)
    })
    .await
}

/// The call these tests make on a server.
trait Calls {
    /// `METHOD path` against this server, with an `Authorization` header if given.
    async fn call(&self, method: &str, path: &str, authorization: Option<&str>) -> Answer;
}

impl Calls for Serving {
    async fn call(&self, method: &str, path: &str, authorization: Option<&str>) -> Answer {
        call(method, &format!("{}{path}", self.base), authorization).await
    }
}

fn bearer() -> String {
    format!("Bearer {}", sign(Algorithm::RS256, &access_claims()))
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(method: &str, url: &str, authorization: Option<&str>) -> Answer {
    call_with(method, url, authorization, &[], "").await
}

async fn call_with(
    method: &str,
    url: &str,
    authorization: Option<&str>,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client
        .request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url)
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

fn cache(answer: &Answer) -> &str {
    answer.headers[CACHE_HEADER].to_str().unwrap()
}

#[tokio::test]
async fn an_allowed_request_reaches_the_upstream_with_its_method_path_query_body_and_context() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let answer = call_with(
        "POST",
        &format!("{}/api/user/update?dry=1&x=a%20b", server.base),
        Some(&bearer()),
        &[("content-type", "application/json"), ("x-trace", "t1")],
        r#"{"name":"alice"}"#,
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, json!({"from": "upstream"}));
    assert_eq!(answer.headers["x-upstream"], "yes");
    let received = upstream.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, "/api/user/update?dry=1&x=a%20b");
    assert_eq!(got.body, br#"{"name":"alice"}"#);
    assert_eq!(got.header("x-trace"), Some("t1"));
    assert_eq!(got.header("x-authorizer-userid"), Some("123456"));
    assert_eq!(got.header("x-authorizer-plan"), Some("pro"));
    assert_eq!(
        got.header("x-authorizer-endpoint"),
        Some("POST /api/user/update")
    );
    assert_eq!(got.header("x-authorizer-costmicros"), Some("50000"));
    server.stop().await;
}

#[tokio::test]
async fn a_context_header_the_client_sent_never_reaches_the_upstream() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let answer = call_with(
        "GET",
        &format!("{}/api/user/profile", server.base),
        Some(&bearer()),
        &[
            ("x-authorizer-userid", "999999"),
            ("X-Authorizer-Admin", "true"),
        ],
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    let got = &upstream.received()[0];
    let userids: Vec<&str> = got
        .headers
        .iter()
        .filter(|(n, _)| n == "x-authorizer-userid")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(userids, ["123456"]);
    assert_eq!(got.header("x-authorizer-admin"), None);
    assert_eq!(got.header("x_authorizer_plan"), None);
    assert_eq!(got.header("x-authorizer-plan"), Some("pro"));
}

#[tokio::test]
async fn a_request_without_its_identity_source_is_401_and_never_invokes_the_authorizer() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    for authorization in [None, Some(""), Some("   ")] {
        let answer = call(
            "GET",
            &format!("{}/api/user/profile", server.base),
            authorization,
        )
        .await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.body, json!({"message": "Unauthorized"}));
        assert_eq!(answer.headers["x-amzn-errortype"], "UnauthorizedException");
    }
    assert_eq!(server.gateway.invocations(), 0);
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn a_token_the_authorizer_rejects_is_401_and_not_cached() {
    let logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let expired = format!(
        "Bearer {}",
        sign(
            Algorithm::RS256,
            &with(access_claims(), json!({"exp": 1_700_000_000u64}))
        )
    );
    for _ in 0..2 {
        let answer = server
            .call("GET", "/api/user/profile", Some(&expired))
            .await;
        assert_eq!(answer.status, 401);
        assert_eq!(answer.body, json!({"message": "Unauthorized"}));
        assert_eq!(cache(&answer), "miss");
    }
    assert_eq!(
        server.gateway.invocations(),
        2,
        "a Lambda error is never cached"
    );
    assert_eq!(logs.of("decision")[0]["reason"], "expired");
}

#[tokio::test]
async fn a_route_the_token_may_not_call_is_403_with_the_explicit_deny_message() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let answer = call(
        "DELETE",
        &format!("{}/api/user/42", server.base),
        Some(&bearer()),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.body,
        json!({"Message": "User is not authorized to access this resource with an explicit deny"})
    );
    assert_eq!(answer.headers["x-amzn-errortype"], "AccessDeniedException");
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn a_path_no_route_takes_is_missing_authentication_token_on_rest_and_not_found_on_http() {
    let _logs = Capture::start();
    let rest = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let answer = call(
        "GET",
        &format!("{}/api/nothing", rest.base),
        Some(&bearer()),
    )
    .await;
    assert_eq!(answer.status, 403);
    assert_eq!(
        answer.body,
        json!({"message": "Missing Authentication Token"})
    );
    let answer = call(
        "PUT",
        &format!("{}/api/user/profile", rest.base),
        Some(&bearer()),
    )
    .await;
    assert_eq!(answer.status, 403, "a method the resource lacks");
    let http = start(settings(Api::Http, AuthorizerKind::Request, 300, None)).await;
    let answer = call(
        "GET",
        &format!("{}/api/nothing", http.base),
        Some(&bearer()),
    )
    .await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.body, json!({"message": "Not Found"}));
    assert_eq!(rest.gateway.invocations() + http.gateway.invocations(), 0);
}

#[tokio::test]
async fn an_authorizer_that_cannot_decide_is_500_with_a_null_message_and_not_cached() {
    let _logs = Capture::start();
    // A JWKS on a port nothing listens on: no keys, so tollgate cannot decide.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/jwks.json", closed.local_addr().unwrap());
    drop(closed);
    let file = repo_path("events/tollgate.dev.toml");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", file.to_str().unwrap()),
        ("JWKS_URI", url.as_str()),
    ]);
    let server = Serving::start(
        settings(Api::Rest, AuthorizerKind::Request, 300, None),
        config,
    )
    .await;
    for _ in 0..2 {
        let answer = call(
            "GET",
            &format!("{}/api/user/profile", server.base),
            Some(&bearer()),
        )
        .await;
        assert_eq!(answer.status, 500);
        assert_eq!(answer.body, json!({"message": null}));
        assert_eq!(
            answer.headers["x-amzn-errortype"],
            "AuthorizerConfigurationException"
        );
    }
    assert_eq!(server.gateway.invocations(), 2);
}

#[tokio::test]
async fn answers_are_cached_within_the_ttl_and_not_after() {
    let _logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let url = format!("{}/api/user/profile", server.base);
    let token = bearer();
    let first = call("GET", &url, Some(&token)).await;
    let second = call("GET", &url, Some(&token)).await;
    assert_eq!((first.status, cache(&first)), (200, "miss"));
    assert_eq!((second.status, cache(&second)), (200, "hit"));
    assert_eq!(server.gateway.invocations(), 1);
    // Another route is another cache key under the template's identity sources.
    let other = server
        .call("GET", "/api/product/search", Some(&token))
        .await;
    assert_eq!((other.status, cache(&other)), (200, "miss"));
    server.clock.advance(Duration::from_secs(300));
    let later = call("GET", &url, Some(&token)).await;
    assert_eq!((later.status, cache(&later)), (200, "miss"));
    assert_eq!(server.gateway.invocations(), 3);
}

#[tokio::test]
async fn with_ttl_zero_every_request_invokes_the_authorizer() {
    let _logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 0, None)).await;
    let url = format!("{}/api/user/profile", server.base);
    let token = bearer();
    for _ in 0..3 {
        let answer = call("GET", &url, Some(&token)).await;
        assert_eq!((answer.status, cache(&answer)), (200, "miss"));
    }
    assert_eq!(server.gateway.invocations(), 3);
}

#[tokio::test]
async fn a_cached_token_authorizer_policy_still_refuses_a_forbidden_route() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Token,
        300,
        Some(&upstream),
    ))
    .await;
    let token = bearer();
    let allowed = server.call("GET", "/api/user/profile", Some(&token)).await;
    assert_eq!((allowed.status, cache(&allowed)), (200, "miss"));
    let forbidden = server.call("DELETE", "/api/user/42", Some(&token)).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(
        cache(&forbidden),
        "hit",
        "the TOKEN authorizer's answer is keyed on the token alone"
    );
    let other = server.call("POST", "/api/user/update", Some(&token)).await;
    assert_eq!((other.status, cache(&other)), (200, "hit"));
    assert_eq!(server.gateway.invocations(), 1);
    assert_eq!(upstream.received().len(), 2);
}

#[tokio::test]
async fn an_http_api_answers_with_its_own_statuses_and_passes_the_context() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Http,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let token = bearer();
    let allowed = server
        .call("GET", "/api/product/search?q=x", Some(&token))
        .await;
    assert_eq!(allowed.status, 200);
    assert!(allowed.headers.contains_key("apigw-requestid"));
    let got = &upstream.received()[0];
    assert_eq!(got.target, "/api/product/search?q=x");
    assert_eq!(
        got.header("x-authorizer-endpoint"),
        Some("GET /api/product/search")
    );
    assert_eq!(got.header("x-authorizer-costmicros"), Some("50000"));
    let forbidden = server.call("DELETE", "/api/user/42", Some(&token)).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.body, json!({"message": "Forbidden"}));
    let missing = server.call("GET", "/api/product/search", None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.body, json!({"message": "Unauthorized"}));
    let bad = server
        .call("GET", "/api/product/search", Some("Bearer x.y.z"))
        .await;
    assert_eq!(
        bad.status, 403,
        "a simple response says false for a bad token"
    );
}

#[tokio::test]
async fn the_built_in_echo_backend_answers_with_the_route_and_the_context() {
    let _logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let answer = call(
        "GET",
        &format!("{}/api/user/profile", server.base),
        Some(&bearer()),
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["route"], "GET /api/user/profile");
    assert_eq!(answer.body["userId"], "123456");
    assert_eq!(answer.body["costMicros"], 100000);
    assert_eq!(answer.body["authorizer"]["plan"], "pro");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413_and_never_reaches_the_upstream() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let big = "x".repeat(1025);
    let answer = call_with(
        "POST",
        &format!("{}/api/user/update", server.base),
        Some(&bearer()),
        &[],
        &big,
    )
    .await;
    assert_eq!(answer.status, 413);
    assert!(upstream.received().is_empty());
    assert_eq!(server.gateway.invocations(), 0);
}

#[tokio::test]
async fn the_access_log_becomes_the_right_bill() {
    let _logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let token = bearer();
    for (method, path) in [
        ("GET", "/api/user/profile"),
        ("GET", "/api/user/profile"),
        ("POST", "/api/user/update"),
        ("GET", "/api/product/search"),
        ("DELETE", "/api/user/42"),
        ("GET", "/api/nothing"),
    ] {
        call(method, &format!("{}{path}", server.base), Some(&token)).await;
    }
    server.call("GET", "/api/user/profile", None).await;
    let lines = server.access_log_lines();
    assert_eq!(lines.len(), 7);
    assert_eq!(lines[4]["status"], "403");
    assert_eq!(lines[5]["resourcePath"], "-");
    let options = tollgate::report::Options::default();
    let mut aggregator = tollgate::report::Aggregator::new(&options);
    aggregator.read("access", std::fs::File::open(&server.access_log).unwrap());
    let report = aggregator.finish();
    assert_eq!(report.lines.malformed, 0, "{:?}", report.problems);
    assert_eq!((report.lines.billed, report.lines.not_billed), (4, 3));
    let bill: Vec<(String, u64, u64)> = report
        .rows
        .iter()
        .map(|r| (r.endpoint.clone(), r.calls, r.cost_micros))
        .collect();
    // The pro plan: profile 0.10 each, update 0.05, search 0.05 (the pro price).
    assert_eq!(
        bill,
        [
            ("/api/product/search".to_string(), 1, 50_000),
            ("/api/user/profile".to_string(), 2, 200_000),
            ("/api/user/update".to_string(), 1, 50_000),
        ]
    );
}

#[test]
fn the_access_log_formats_are_the_templates() {
    let template = std::fs::read_to_string(repo_path("template.yaml")).unwrap();
    let formats: Vec<String> = template
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Format: '"))
        .map(|f| f.trim_end_matches('\'').to_string())
        .collect();
    assert!(
        formats.contains(&access_log::REST_FORMAT.to_string()),
        "REST format drifted from template.yaml"
    );
    assert!(
        formats.contains(&access_log::HTTP_FORMAT.to_string()),
        "HTTP format drifted from template.yaml"
    );
}

#[tokio::test]
async fn a_port_already_taken_is_refused_with_a_message_that_says_so() {
    let _logs = Capture::start();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut settings = settings(Api::Rest, AuthorizerKind::Request, 300, None);
    settings.listen = taken.local_addr().unwrap();
    let authorizer = Arc::new(Authorizer::new(&dev_config()).unwrap());
    let error = Server::bind(settings, authorizer)
        .await
        .err()
        .expect("bind must fail");
    assert!(error.to_string().contains("already in use"), "{error}");
    assert!(error.to_string().contains("--listen"), "{error}");
}

#[tokio::test]
async fn shutdown_lets_the_request_in_flight_finish() {
    let _logs = Capture::start();
    let upstream = Upstream::start_slow(Duration::from_millis(300));
    let server = start(settings(
        Api::Rest,
        AuthorizerKind::Request,
        300,
        Some(&upstream),
    ))
    .await;
    let url = format!("{}/api/user/profile", server.base);
    let token = bearer();
    let in_flight = tokio::spawn(async move { call("GET", &url, Some(&token)).await.status });
    while upstream.received().is_empty() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let base = server.base.clone();
    server.stop().await;
    assert_eq!(in_flight.await.unwrap(), 200);
    assert!(
        reqwest::get(format!("{base}/api/user/profile"))
            .await
            .is_err(),
        "no longer listening"
    );
}

#[test]
fn declaring_route_scope_without_the_route_in_the_key_is_refused() {
    let mut settings = settings(Api::Rest, AuthorizerKind::Request, 300, None);
    settings.identity_sources = vec![IdentitySource::Header("Authorization".into())];
    let problem = tollgate::serve::settings::check_declared_scope(
        tollgate::access::CacheScope::Route,
        &settings,
    )
    .unwrap_err()
    .to_string();
    assert!(problem.contains("context.resourcePath"), "{problem}");
    assert!(
        tollgate::serve::settings::check_declared_scope(
            tollgate::access::CacheScope::Token,
            &settings
        )
        .is_ok()
    );
}

/// Sends `request` exactly as written (no client-side path normalisation) and returns the
/// status and the body.
async fn raw(base: &str, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let address = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// A configuration whose only rules are a public route (scope `api/read`) matching
/// `public_route` and `GET /api/admin/*` for the admins group.
fn rules_config(public_route: &str) -> Config {
    let file = std::env::temp_dir().join(format!(
        "tollgate-rules-{}-{}.toml",
        std::process::id(),
        public_route.len()
    ));
    std::fs::write(
        &file,
        format!("[[routes]]\nroute = \"{public_route}\"\nscopes = [\"api/read\"]\n\n[[routes]]\nroute = \"GET /api/admin/*\"\ngroups = [\"admins\"]\n"),
    )
    .unwrap();
    let config = config_with(&[("TOLLGATE_CONFIG", file.to_str().unwrap())]);
    let _ = std::fs::remove_file(&file);
    config
}

/// A server of kind `api` whose routes are `config`'s rules, in front of `upstream`.
async fn serving(api: Api, config: &Config, upstream: &Upstream) -> Serving {
    let mut settings = settings(api, AuthorizerKind::Request, 300, Some(upstream));
    settings.routes = config.routes.iter().map(|r| r.pattern.clone()).collect();
    Serving::start(settings, config.clone()).await
}

#[tokio::test]
async fn a_path_with_dot_segments_is_routed_nowhere_and_never_reaches_another_upstream_path() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let config = rules_config("GET /api/public/*");
    for api in [Api::Rest, Api::Http] {
        let server = serving(api, &config, &upstream).await;
        let token = bearer();
        let public = server.call("GET", "/api/public/x", Some(&token)).await;
        assert_eq!(public.status, 200);
        for path in [
            "/api/public/%2e%2e/admin/secret",
            "/api/public/../admin/secret",
            "/api/public/.%2E/admin/secret",
            "/api/public/..%2Fadmin%2Fsecret",
            "/api/public/..%5cadmin",
        ] {
            let (status, body) = raw(
                &server.base,
                &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"),
            )
            .await;
            let expected = match api {
                Api::Rest => (403, r#"{"message":"Missing Authentication Token"}"#),
                Api::Http => (404, r#"{"message":"Not Found"}"#),
            };
            assert_eq!((status, body.as_str()), expected, "{api:?} {path}");
        }
        let reached: Vec<String> = upstream
            .received()
            .iter()
            .map(|r| r.target.clone())
            .collect();
        assert!(reached.iter().all(|t| t == "/api/public/x"), "{reached:?}");
    }
}

#[tokio::test]
async fn a_second_authorization_header_makes_another_cache_key() {
    let logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let token = bearer();
    let first = server.call("GET", "/api/user/profile", Some(&token)).await;
    assert_eq!((first.status, cache(&first)), (200, "miss"));
    let (status, _) = raw(
        &server.base,
        &format!("GET /api/user/profile HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nAuthorization: Bearer x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(
        status, 401,
        "both values reach the authorizer, which refuses two tokens"
    );
    assert_eq!(
        logs.of("decision").last().unwrap()["reason"],
        "multiple_tokens"
    );
    assert_eq!(server.gateway.invocations(), 2);
}

#[tokio::test]
async fn a_body_that_never_arrives_is_408_after_the_read_timeout() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let server = start_with_body_timeout(
        settings(Api::Rest, AuthorizerKind::Request, 300, Some(&upstream)),
        dev_config(),
        Duration::from_millis(200),
    )
    .await;
    let (status, body) = raw(
        &server.base,
        &format!("POST /api/user/update HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 100\r\n\r\nonly ten b", bearer()),
    )
    .await;
    assert_eq!(
        (status, body.as_str()),
        (408, r#"{"message":"Request Timeout"}"#)
    );
    assert!(upstream.received().is_empty());
}

#[test]
fn a_token_source_outside_the_identity_sources_is_refused() {
    use tollgate::serve::settings::check_token_sources;
    use tollgate::token::TokenSource;
    let settings = settings(Api::Rest, AuthorizerKind::Request, 300, None);
    let query = [TokenSource::parse("query:token").unwrap()];
    let problem = check_token_sources(Some(&query), &settings)
        .unwrap_err()
        .to_string();
    assert!(problem.contains("query parameter token"), "{problem}");
    assert!(
        check_token_sources(None, &settings).is_ok(),
        "the Authorization header is keyed"
    );
    let mut keyed = settings.clone();
    keyed
        .identity_sources
        .push(IdentitySource::Query("token".into()));
    assert!(check_token_sources(Some(&query), &keyed).is_ok());
    let mut off = settings;
    off.cache_ttl = Duration::ZERO;
    assert!(
        check_token_sources(Some(&query), &off).is_ok(),
        "nothing is cached"
    );
}

#[tokio::test]
async fn an_escaped_letter_is_routed_nowhere_and_never_reaches_the_route_it_spells() {
    let _logs = Capture::start();
    let upstream = Upstream::start();
    let config = rules_config("GET /api/*");
    for api in [Api::Rest, Api::Http] {
        let server = serving(api, &config, &upstream).await;
        let token = bearer();
        let direct = server.call("GET", "/api/admin/secret", Some(&token)).await;
        assert_eq!(direct.status, 403, "{api:?}: not an admin");
        for path in [
            "/api/%61dmin/secret",
            "/api/admi%6E/secret",
            "/api/..;/api/admin/secret",
        ] {
            let (status, _) = raw(
                &server.base,
                &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"),
            )
            .await;
            assert_eq!(
                status,
                if api == Api::Rest { 403 } else { 404 },
                "{api:?} {path}"
            );
        }
    }
    assert!(upstream.received().is_empty());
}

#[tokio::test]
async fn two_header_values_never_share_the_key_of_one_value_holding_a_comma() {
    let _logs = Capture::start();
    let server = start(settings(Api::Rest, AuthorizerKind::Request, 300, None)).await;
    let token = bearer();
    let (first, _) = raw(
        &server.base,
        &format!("GET /api/user/profile HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nAuthorization:\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let (second, _) = raw(
        &server.base,
        &format!("GET /api/user/profile HTTP/1.1\r\nHost: x\r\nAuthorization: {token},\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert_eq!(
        first, 200,
        "the empty second value is skipped by the token reader"
    );
    assert_eq!(
        second, 401,
        "a fresh decision on `TOKEN,`, not the first request's answer"
    );
    assert_eq!(server.gateway.invocations(), 2);
}

#[tokio::test]
async fn stalled_uploads_never_hold_up_a_request_without_a_body() {
    use tokio::io::AsyncWriteExt;
    let _logs = Capture::start();
    let mut settings = settings(Api::Rest, AuthorizerKind::Request, 300, None);
    settings.max_body_bytes = 10 * 1024 * 1024;
    let server = start_with_body_timeout(settings, dev_config(), Duration::from_secs(20)).await;
    // Eight uploads that promise 10 MiB and send nothing: more than the shared budget.
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let mut stream = tokio::net::TcpStream::connect(server.base.trim_start_matches("http://"))
            .await
            .unwrap();
        let head = format!(
            "POST /api/user/update HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 10485760\r\n\r\n",
            bearer()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        server.call("GET", "/api/user/profile", Some(&bearer())),
    )
    .await
    .expect("a GET must not wait behind stalled uploads");
    assert_eq!(answer.status, 200);
    drop(stalled);
}

/// The path rule as a property: over 200,000 seeded adversarial paths (escapes of every kind,
/// dots, `;`, blanks, separators), every path `serve` routes is one that the upstream URL
/// keeps as it is, whose escapes hide no letter, digit or other unreserved character, and
/// which no server's dot-segment removal (after decoding, `;` parameters stripped, blanks
/// trimmed) can shorten.
#[test]
fn every_routed_path_means_the_same_to_the_upstream() {
    use tollgate::serve::routing::is_plain_path;
    const PIECES: [&str; 24] = [
        "a", "admin", "x", "1", "-", "_", "~", ".", "..", ";", ";x", " ", "%2e", "%2E", "%61",
        "%41", "%25", "%2f", "%5c", "%20", "%3F", "%00", "%c0%ae", "\\",
    ];
    let mut rng = common::generate::Rng(0x9A7E_5EED);
    let mut routed = 0;
    for _ in 0..200_000 {
        let mut path = String::new();
        for _ in 0..1 + rng.below(4) {
            path.push('/');
            for _ in 0..rng.below(3) {
                let piece: &&str = rng.pick(&PIECES);
                path.push_str(piece);
            }
        }
        if !is_plain_path(&path) {
            continue;
        }
        routed += 1;
        let url = reqwest::Url::parse(&format!("http://upstream.invalid{path}")).unwrap();
        assert_eq!(url.path(), path, "the URL library changed a routed path");
        for segment in path.split('/').skip(1) {
            let decoded = percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned();
            if decoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
            {
                assert_eq!(
                    decoded, segment,
                    "an escape hides an unreserved character: {path}"
                );
            }
            let core = decoded.split(';').next().unwrap().trim();
            assert!(
                core != "." && core != "..",
                "a dot segment got through: {path}"
            );
        }
    }
    assert!(routed > 10_000, "only {routed} paths were plain");
}
