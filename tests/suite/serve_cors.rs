//! `serve`'s CORS over real HTTP, as the template configures API Gateway: preflights answered
//! without the authorizer (REST: the mock `OPTIONS` method of each resource; HTTP: any path),
//! the CORS headers on every answer to an allowed origin (gateway responses included), none
//! for an origin that is not allowed, and the defaults held equal to the template's.

use crate::common;
use crate::serving::Serving;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::HeaderMap;
use jsonwebtoken::Algorithm;
use tollgate::config::Config;
use tollgate::cors::{self, CorsSettings};
use tollgate::handler::Authorizer;
use tollgate::log::Capture;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Server, Settings};

use common::http::{Reply, Server as Backend};
use common::{access_claims, config_with, repo_path, sign};

const APP: &str = "http://localhost:8080";
const OTHER: &str = "https://elsewhere.example";

fn dev_config(extra: &[(&str, &str)]) -> Config {
    let file = repo_path("events/tollgate.dev.toml");
    let mut pairs = vec![("TOLLGATE_CONFIG", file.to_str().unwrap())];
    pairs.extend_from_slice(extra);
    config_with(&pairs)
}

fn settings(api: Api, upstream: Option<String>, cors: CorsSettings) -> Settings {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: upstream.map(|u| reqwest::Url::parse(&u).unwrap()),
        api,
        authorizer: AuthorizerKind::Request,
        identity_sources: IdentitySource::template_defaults(api, AuthorizerKind::Request),
        cache_ttl: Duration::from_secs(300),
        access_log: std::env::temp_dir().join(format!(
            "tollgate-serve-cors-{}-{n}.jsonl",
            std::process::id()
        )),
        stage: api.default_stage().to_string(),
        routes: dev_config(&[])
            .routes
            .iter()
            .map(|r| r.pattern.clone())
            .collect(),
        max_body_bytes: 64,
        // As the template's HTTP API: IAM policies, not simple responses.
        simple_responses: false,
        cors,
    }
}

/// serve as the template configures its APIs: IAM policies (not simple responses) and the
/// route table declared, as `tollgate serve` declares it (its routes are the rules).
async fn start(settings: Settings, mut config: Config) -> Serving {
    config.http_api_simple_responses = false;
    config.route_table = tollgate::access::RouteTableSetting::Declared;
    Serving::start(settings, config).await
}

async fn serve(api: Api) -> Serving {
    start(
        settings(api, None, CorsSettings::default()),
        dev_config(&[]),
    )
    .await
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

async fn send(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut request = reqwest::Client::new()
        .request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("{base}{path}"),
        )
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap(),
    }
}

fn bearer() -> String {
    format!("Bearer {}", sign(Algorithm::RS256, &access_claims()))
}

fn preflight(origin: &str, method: &str) -> [(&'static str, String); 3] {
    [
        ("Origin", origin.to_string()),
        ("Access-Control-Request-Method", method.to_string()),
        (
            "Access-Control-Request-Headers",
            "authorization,content-type".to_string(),
        ),
    ]
}

fn borrowed<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn header<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.get(name).and_then(|v| v.to_str().ok())
}

/// The headers an actual answer to the allowed origin carries.
fn assert_cors_for_app(answer: &Answer, what: &str) {
    assert_eq!(
        header(answer, "access-control-allow-origin"),
        Some(APP),
        "{what}: {:?}",
        answer.headers
    );
    assert_eq!(header(answer, "vary"), Some("Origin"), "{what}");
    assert_eq!(
        header(answer, "access-control-expose-headers"),
        Some("WWW-Authenticate"),
        "{what}"
    );
}

fn no_cors(answer: &Answer) -> bool {
    !answer
        .headers
        .keys()
        .any(|name| name.as_str().starts_with("access-control-"))
}

/// The value after `key:` on the template's line (unquoted, trimmed).
fn template_value(template: &str, key: &str) -> String {
    template
        .lines()
        .find_map(|l| l.trim().strip_prefix(key))
        .unwrap_or_else(|| panic!("{key} in template.yaml"))
        .trim()
        .to_string()
}

#[test]
fn serve_cors_defaults_are_the_templates() {
    let template = std::fs::read_to_string(repo_path("template.yaml")).unwrap();
    let parameter = template
        .split("\n  CorsAllowOrigin:\n")
        .nth(1)
        .expect("the CorsAllowOrigin parameter");
    assert_eq!(
        template_value(parameter, "Default:"),
        cors::DEFAULT_ALLOW_ORIGIN
    );
    assert_eq!(
        template_value(&template, "AllowHeaders: \"'"),
        format!("{}'\"", cors::ALLOW_HEADERS.join(","))
    );
    assert_eq!(
        template_value(&template, "MaxAge: \"'"),
        format!("{}'\"", cors::MAX_AGE_SECONDS)
    );
    assert_eq!(
        template_value(&template, "AllowMethods: "),
        format!("[{}]", cors::HTTP_ALLOW_METHODS.join(", "))
    );
    assert_eq!(
        template_value(&template, "ExposeHeaders: "),
        format!("[{}]", cors::EXPOSE_HEADERS.join(", "))
    );
    let challenge = template_value(&template, "WWW-Authenticate: ");
    assert_eq!(
        challenge,
        format!("\"'{}'\"", cors::WWW_AUTHENTICATE.replace('"', "\\\""))
    );
    assert_eq!(
        CorsSettings::default().origins(),
        [cors::DEFAULT_ALLOW_ORIGIN]
    );
}

#[tokio::test]
async fn a_rest_preflight_is_answered_by_the_mock_method_without_the_authorizer() {
    let _logs = Capture::start();
    let running = serve(Api::Rest).await;
    let answer = send(
        &running.base,
        "OPTIONS",
        "/api/user/update",
        &borrowed(&preflight(APP, "POST")),
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body, "{}\n");
    assert_eq!(header(&answer, "access-control-allow-origin"), Some(APP));
    assert_eq!(header(&answer, "vary"), Some("Origin"));
    assert_eq!(
        header(&answer, "access-control-allow-methods"),
        Some("OPTIONS,POST")
    );
    assert_eq!(
        header(&answer, "access-control-allow-headers"),
        Some("Authorization,Content-Type")
    );
    assert_eq!(header(&answer, "access-control-max-age"), Some("600"));
    assert_eq!(running.gateway.invocations(), 0);
    let lines = running.access_log_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["httpMethod"], "OPTIONS");
    assert_eq!(lines[0]["resourcePath"], "/api/user/update");
    assert_eq!(lines[0]["status"], "200");
    assert_eq!(lines[0]["costMicros"], "-");
    let report = tollgate::report::Options::default();
    let mut bill = tollgate::report::Aggregator::new(&report);
    bill.add("log", 1, &serde_json::to_string(&lines[0]).unwrap());
    let report = bill.finish();
    assert!(report.rows.is_empty() && report.problems.is_empty());
}

#[tokio::test]
async fn a_rest_options_on_a_path_no_resource_takes_is_a_missing_token_403_with_cors() {
    let _logs = Capture::start();
    let running = serve(Api::Rest).await;
    let answer = send(
        &running.base,
        "OPTIONS",
        "/api/nothing",
        &borrowed(&preflight(APP, "GET")),
        "",
    )
    .await;
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("Missing Authentication Token"));
    assert_cors_for_app(&answer, "missing token");
}

#[tokio::test]
async fn an_http_preflight_is_answered_for_any_path_without_the_authorizer() {
    let _logs = Capture::start();
    let running = serve(Api::Http).await;
    for path in ["/api/user/profile", "/no/such/route"] {
        let answer = send(
            &running.base,
            "OPTIONS",
            path,
            &borrowed(&preflight(APP, "GET")),
            "",
        )
        .await;
        assert_eq!(answer.status, 204, "{path}");
        assert_eq!(header(&answer, "access-control-allow-origin"), Some(APP));
        assert_eq!(
            header(&answer, "access-control-allow-methods"),
            Some("GET,POST,PUT,PATCH,DELETE")
        );
        assert_eq!(
            header(&answer, "access-control-allow-headers"),
            Some("Authorization,Content-Type")
        );
    }
    assert_eq!(running.gateway.invocations(), 0);
}

#[tokio::test]
async fn every_rest_gateway_response_to_an_allowed_origin_carries_cors() {
    let _logs = Capture::start();
    let running = serve(Api::Rest).await;
    let origin = [("Origin", APP)];
    let token = bearer();
    let with_token = [("Origin", APP), ("Authorization", token.as_str())];
    let unauthorized = send(&running.base, "GET", "/api/user/profile", &origin, "").await;
    assert_eq!(unauthorized.status, 401);
    assert_cors_for_app(&unauthorized, "401");
    assert_eq!(
        header(&unauthorized, "www-authenticate"),
        Some(cors::WWW_AUTHENTICATE)
    );
    let denied = send(&running.base, "DELETE", "/api/user/42", &with_token, "").await;
    assert_eq!(denied.status, 403);
    assert_cors_for_app(&denied, "403 deny");
    let unrouted = send(&running.base, "GET", "/api/nothing", &with_token, "").await;
    assert_eq!(unrouted.status, 403);
    assert_cors_for_app(&unrouted, "403 missing token");
    let too_large = send(
        &running.base,
        "POST",
        "/api/user/update",
        &with_token,
        &"x".repeat(100),
    )
    .await;
    assert_eq!(too_large.status, 413);
    assert_cors_for_app(&too_large, "413");
    assert_eq!(header(&denied, "www-authenticate"), None);
}

#[tokio::test]
async fn rest_errors_500_and_504_to_an_allowed_origin_carry_cors() {
    let _logs = Capture::start();
    // No keys reachable: the authorizer cannot decide (500).
    let no_keys = start(
        settings(Api::Rest, None, CorsSettings::default()),
        dev_config(&[("JWKS_URI", "http://127.0.0.1:9/jwks.json")]),
    )
    .await;
    let token = bearer();
    let with_token = [("Origin", APP), ("Authorization", token.as_str())];
    let error = send(&no_keys.base, "GET", "/api/user/profile", &with_token, "").await;
    assert_eq!(error.status, 500);
    assert_cors_for_app(&error, "500");
    // An integration that cannot be reached (504).
    let gone = start(
        settings(
            Api::Rest,
            Some("http://127.0.0.1:9".into()),
            CorsSettings::default(),
        ),
        dev_config(&[]),
    )
    .await;
    let failed = send(&gone.base, "GET", "/api/user/profile", &with_token, "").await;
    assert_eq!(failed.status, 504);
    assert_cors_for_app(&failed, "504");
}

#[tokio::test]
async fn every_http_gateway_response_to_an_allowed_origin_carries_cors() {
    let _logs = Capture::start();
    let running = start(
        settings(
            Api::Http,
            Some("http://127.0.0.1:9".into()),
            CorsSettings::default(),
        ),
        dev_config(&[]),
    )
    .await;
    let token = bearer();
    let origin = [("Origin", APP)];
    let with_token = [("Origin", APP), ("Authorization", token.as_str())];
    for (method, path, headers, body, status) in [
        ("GET", "/api/user/profile", &origin[..], "", 401),
        ("DELETE", "/api/user/42", &with_token[..], "", 403),
        ("GET", "/api/nothing", &with_token[..], "", 404),
        (
            "POST",
            "/api/user/update",
            &with_token[..],
            &"x".repeat(100)[..],
            413,
        ),
        ("GET", "/api/user/profile", &with_token[..], "", 500),
    ] {
        let answer = send(&running.base, method, path, headers, body).await;
        assert_eq!(answer.status, status, "{method} {path}");
        assert_cors_for_app(&answer, &format!("{status}"));
    }
}

#[tokio::test]
async fn an_origin_not_allowed_gets_no_cors_headers() {
    let _logs = Capture::start();
    for api in [Api::Rest, Api::Http] {
        let running = serve(api).await;
        let token = bearer();
        let answers = [
            send(
                &running.base,
                "OPTIONS",
                "/api/user/profile",
                &borrowed(&preflight(OTHER, "GET")),
                "",
            )
            .await,
            send(
                &running.base,
                "GET",
                "/api/user/profile",
                &[("Origin", OTHER), ("Authorization", token.as_str())],
                "",
            )
            .await,
            send(
                &running.base,
                "GET",
                "/api/user/profile",
                &[("Origin", OTHER)],
                "",
            )
            .await,
        ];
        for answer in &answers {
            assert!(no_cors(answer), "{api:?}: {:?}", answer.headers);
        }
        assert_eq!(answers[1].status, 200, "{api:?}: the call itself is served");
    }
}

#[tokio::test]
async fn the_echo_backend_answers_an_allowed_origin_with_cors_like_the_demo() {
    let _logs = Capture::start();
    let running = serve(Api::Rest).await;
    let token = bearer();
    let answer = send(
        &running.base,
        "GET",
        "/api/user/profile",
        &[("Origin", APP), ("Authorization", token.as_str())],
        "",
    )
    .await;
    assert_eq!(answer.status, 200);
    assert_cors_for_app(&answer, "echo backend");
}

#[tokio::test]
async fn a_rest_backends_own_cors_headers_pass_and_none_are_added() {
    let _logs = Capture::start();
    let backend = Backend::with(
        "/api/user/profile",
        Reply::json("{}").header("access-control-allow-origin", "https://backend.example"),
    );
    let running = start(
        settings(Api::Rest, Some(backend.base()), CorsSettings::default()),
        dev_config(&[]),
    )
    .await;
    let token = bearer();
    let answer = send(
        &running.base,
        "GET",
        "/api/user/profile",
        &[("Origin", APP), ("Authorization", token.as_str())],
        "",
    )
    .await;
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some("https://backend.example")
    );
    assert_eq!(header(&answer, "vary"), None);
}

#[tokio::test]
async fn an_http_api_replaces_the_backends_cors_headers_with_its_own() {
    let _logs = Capture::start();
    let backend = Backend::with(
        "/api/user/profile",
        Reply::json("{}")
            .header("access-control-allow-origin", "*")
            .header("access-control-allow-credentials", "true"),
    );
    let running = start(
        settings(Api::Http, Some(backend.base()), CorsSettings::default()),
        dev_config(&[]),
    )
    .await;
    let token = bearer();
    let answer = send(
        &running.base,
        "GET",
        "/api/user/profile",
        &[("Origin", APP), ("Authorization", token.as_str())],
        "",
    )
    .await;
    assert_cors_for_app(&answer, "HTTP integration");
    assert_eq!(header(&answer, "access-control-allow-credentials"), None);
    let elsewhere = send(
        &running.base,
        "GET",
        "/api/user/profile",
        &[("Origin", OTHER), ("Authorization", token.as_str())],
        "",
    )
    .await;
    assert!(no_cors(&elsewhere), "{:?}", elsewhere.headers);
}

#[tokio::test]
async fn a_rest_api_with_two_origins_is_refused_and_an_http_api_takes_them() {
    let _logs = Capture::start();
    let two = CorsSettings::new([APP, "https://app.example.com"]).unwrap();
    let authorizer = Arc::new(Authorizer::new(&dev_config(&[])).unwrap());
    let refused = Server::bind(
        settings(Api::Rest, None, two.clone()),
        Arc::clone(&authorizer),
    )
    .await
    .err()
    .expect("a REST API has one static origin");
    assert!(refused.to_string().contains("one origin"), "{refused}");
    let running = start(settings(Api::Http, None, two), dev_config(&[])).await;
    let answer = send(
        &running.base,
        "OPTIONS",
        "/api/user/profile",
        &borrowed(&preflight("https://app.example.com", "GET")),
        "",
    )
    .await;
    assert_eq!(
        header(&answer, "access-control-allow-origin"),
        Some("https://app.example.com")
    );
}
