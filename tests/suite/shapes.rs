//! Each event shape, allowed, unauthorized and denied, through the handler in-process.

use crate::common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::decision::Decision;
use tollgate::handler::{Authorizer, Outcome};
use tollgate::log::Capture;

/// Runs one event; checks its decision line: the decision, the reason, the shape and the
/// request id, and nothing of the token.
async fn run(event: Value, overrides: &[(&str, &str)]) -> Outcome {
    let authorizer = Authorizer::new(&config_with(overrides)).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    let logs = Capture::start();
    let out = authorizer
        .handle(event.to_string().as_bytes(), Some("test-request"))
        .await;
    assert_decision_logged(&logs, &out, &tokens_in(&event));
    let line = &logs.of("decision")[0];
    assert_eq!(line["requestId"], "test-request");
    assert!(line["shape"].is_string(), "{line}");
    out
}

fn valid() -> String {
    sign(Algorithm::RS256, &access_claims())
}

fn no_scope() -> String {
    sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"scope": "profile"})),
    )
}

fn expired() -> String {
    sign(
        Algorithm::RS256,
        &with(
            access_claims(),
            json!({"exp": 1_600_000_000u64, "iat": 1_599_990_000u64}),
        ),
    )
}

fn auth(token: &str) -> Value {
    json!({ "Authorization": format!("Bearer {token}") })
}

fn denied(mut ctx: Value) -> Value {
    ctx["scopes"] = json!("profile");
    ctx
}

fn ok(outcome: &Outcome) -> Value {
    outcome
        .response
        .as_ref()
        .expect("a response, not a Lambda error")
        .to_value()
}

fn failure(outcome: &Outcome) -> Value {
    serde_json::to_value(outcome.response.as_ref().expect_err("a Lambda error")).expect("json")
}

// REST API TOKEN

#[tokio::test]
async fn rest_token_allowed_gets_a_stage_wide_allow_policy() {
    let _logs = Capture::start();
    let out = run(
        rest_token_event(&format!("Bearer {}", valid()), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(&ok(&out), &stage_allow_policy("123456", token_context()));
    assert_eq!(out.decision.status(), 200);
}

#[tokio::test]
async fn rest_token_unauthorized_is_the_unauthorized_error() {
    let _logs = Capture::start();
    let out = run(
        rest_token_event(&format!("Bearer {}", expired()), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(failure(&out), unauthorized_error());
    assert_eq!(out.decision.reason_code(), "expired");
}

#[tokio::test]
async fn rest_token_denied_gets_a_stage_deny_never_the_request_arn() {
    let _logs = Capture::start();
    let out = run(
        rest_token_event(&format!("Bearer {}", no_scope()), "DELETE", "/api/user/42"),
        &[],
    )
    .await;
    assert_eq!(
        &ok(&out),
        &deny_policy("123456", &format!("{ARN_PREFIX}*"), denied(token_context()))
    );
    assert_eq!(out.decision.status(), 403);
}

// REST API REQUEST

#[tokio::test]
async fn rest_request_allowed_gets_a_stage_wide_allow_policy() {
    let _logs = Capture::start();
    let out = run(
        rest_request_event(auth(&valid()), json!({}), "GET", "/api/user/{id}"),
        &[],
    )
    .await;
    assert_eq!(&ok(&out), &stage_allow_policy("123456", token_context()));
}

#[tokio::test]
async fn rest_request_unauthorized_is_the_unauthorized_error() {
    let _logs = Capture::start();
    let out = run(
        rest_request_event(json!({}), json!({}), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(failure(&out), unauthorized_error());
    assert_eq!(out.decision.reason_code(), "no_token");
}

#[tokio::test]
async fn rest_request_denied_gets_a_deny_policy() {
    let _logs = Capture::start();
    let out = run(
        rest_request_event(auth(&no_scope()), json!({}), "POST", "/api/user/update"),
        &[],
    )
    .await;
    assert_eq!(
        &ok(&out),
        &deny_policy("123456", &format!("{ARN_PREFIX}*"), denied(token_context()))
    );
}

// HTTP API payload 1.0

#[tokio::test]
async fn http_v1_allowed_gets_an_allow_policy_without_usage_key() {
    let _logs = Capture::start();
    let out = run(
        http_v1_event(auth(&valid()), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(&ok(&out), &stage_allow_policy("123456", token_context()));
}

#[tokio::test]
async fn http_v1_unauthorized_is_the_unauthorized_error() {
    let _logs = Capture::start();
    let out = run(
        http_v1_event(auth(&expired()), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(failure(&out), unauthorized_error());
}

#[tokio::test]
async fn http_v1_denied_gets_a_deny_policy() {
    let _logs = Capture::start();
    let out = run(
        http_v1_event(auth(&no_scope()), "GET", "/api/user/profile"),
        &[],
    )
    .await;
    assert_eq!(
        &ok(&out),
        &deny_policy("123456", &format!("{ARN_PREFIX}*"), denied(token_context()))
    );
}

// HTTP API payload 2.0, simple responses

#[tokio::test]
async fn http_v2_simple_allowed_is_authorized_with_context() {
    let _logs = Capture::start();
    let out = run(
        http_v2_event(
            json!({"authorization": format!("Bearer {}", valid())}),
            "GET",
            "/api/product/search",
        ),
        &[],
    )
    .await;
    assert_eq!(
        &ok(&out),
        &json!({"isAuthorized": true, "context": token_context()})
    );
}

#[tokio::test]
async fn http_v2_simple_unauthorized_is_not_authorized_without_context() {
    let _logs = Capture::start();
    let out = run(
        http_v2_event(
            json!({"authorization": format!("Bearer {}", expired())}),
            "GET",
            "/x",
        ),
        &[],
    )
    .await;
    assert_eq!(&ok(&out), &json!({"isAuthorized": false, "context": {}}));
    assert!(matches!(out.decision, Decision::Unauthorized(_)));
}

#[tokio::test]
async fn http_v2_simple_denied_is_not_authorized_with_context() {
    let _logs = Capture::start();
    let out = run(
        http_v2_event(
            json!({"authorization": format!("Bearer {}", no_scope())}),
            "GET",
            "/x",
        ),
        &[],
    )
    .await;
    assert_eq!(
        &ok(&out),
        &json!({"isAuthorized": false, "context": denied(token_context())})
    );
    assert!(matches!(out.decision, Decision::Deny(..)));
}

// HTTP API payload 2.0, IAM policy responses

#[tokio::test]
async fn http_v2_policy_mode_allowed_gets_an_allow_policy() {
    let _logs = Capture::start();
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", valid())}),
        "GET",
        "/x",
    );
    let out = run(event, &[("HTTP_API_SIMPLE_RESPONSES", "false")]).await;
    assert_eq!(&ok(&out), &stage_allow_policy("123456", token_context()));
}

#[tokio::test]
async fn http_v2_policy_mode_unauthorized_is_the_unauthorized_error() {
    let _logs = Capture::start();
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", expired())}),
        "GET",
        "/x",
    );
    let out = run(event, &[("HTTP_API_SIMPLE_RESPONSES", "false")]).await;
    assert_eq!(failure(&out), unauthorized_error());
}

#[tokio::test]
async fn http_v2_policy_mode_denied_gets_a_deny_policy() {
    let _logs = Capture::start();
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", no_scope())}),
        "GET",
        "/x",
    );
    let out = run(event, &[("HTTP_API_SIMPLE_RESPONSES", "false")]).await;
    assert_eq!(
        &ok(&out),
        &deny_policy("123456", &format!("{ARN_PREFIX}*"), denied(token_context()))
    );
}

#[tokio::test]
async fn http_v2_default_route_is_token_scope_and_never_names_the_raw_path() {
    let _logs = Capture::start();
    // `$default` catches every unrouted path: the route key does not tell routes apart, so
    // even a declared route scope is not trusted there, and the caller's path is not an
    // endpoint label.
    let mut event = http_v2_event(
        json!({"authorization": format!("Bearer {}", valid())}),
        "GET",
        "/x",
    );
    event["routeKey"] = json!("$default");
    event["requestContext"]["routeKey"] = json!("$default");
    event["rawPath"] = json!("/api/user/profile");
    event["identitySource"] = json!([format!("Bearer {}", valid()), "$default"]);
    let out = run(event, &[("TOLLGATE_AUTHORIZER_CACHE", "route")]).await;
    assert_eq!(ok(&out)["context"], token_context());
    let Decision::Allow(grant) = &out.decision else {
        panic!("allowed: {:?}", out.decision)
    };
    assert_eq!(grant.usage.endpoint, "");
}

// WebSocket $connect

#[tokio::test]
async fn websocket_connect_allowed_with_query_token() {
    let _logs = Capture::start();
    let out = run(websocket_connect_event(json!({"token": valid()})), &[]).await;
    assert_eq!(
        &ok(&out),
        &stage_allow_policy("123456", access_context("$connect"))
    );
}

#[tokio::test]
async fn websocket_connect_unauthorized_is_the_unauthorized_error() {
    let _logs = Capture::start();
    let out = run(websocket_connect_event(json!({"token": expired()})), &[]).await;
    assert_eq!(failure(&out), unauthorized_error());
}

#[tokio::test]
async fn websocket_connect_denied_gets_a_deny_policy() {
    let _logs = Capture::start();
    let out = run(websocket_connect_event(json!({"token": no_scope()})), &[]).await;
    assert_eq!(
        &ok(&out),
        &deny_policy(
            "123456",
            &format!("{ARN_PREFIX}*"),
            denied(access_context("$connect"))
        )
    );
}

// Algorithms and token sources

#[tokio::test]
async fn es256_and_eddsa_tokens_are_allowed() {
    let _logs = Capture::start();
    for alg in [Algorithm::ES256, Algorithm::EdDSA] {
        let token = sign(alg, &access_claims());
        let out = run(
            rest_request_event(auth(&token), json!({}), "GET", "/x"),
            &[],
        )
        .await;
        assert!(
            matches!(out.decision, Decision::Allow(_)),
            "{alg:?}: {:?}",
            out.decision
        );
    }
}

#[tokio::test]
async fn id_token_context_uses_cognito_username_and_aud_as_client() {
    let _logs = Capture::start();
    let token = sign(Algorithm::RS256, &id_claims());
    let out = run(
        rest_request_event(auth(&token), json!({}), "GET", "/x"),
        &[("REQUIRED_SCOPES", "")],
    )
    .await;
    assert_eq!(
        ok(&out)["context"],
        json!({"userId": "789012", "clientId": AUDIENCE, "username": "bob", "tenantId": "", "plan": "default", "scopes": "", "groups": "plan-free"})
    );
}

#[tokio::test]
async fn configured_cookie_source_is_read() {
    let _logs = Capture::start();
    let mut event = http_v2_event(json!({}), "GET", "/x");
    event["cookies"] = json!(["theme=dark", format!("access_token={}", valid())]);
    let out = run(event, &[("TOKEN_SOURCE", "cookie:access_token")]).await;
    assert_eq!(ok(&out)["isAuthorized"], true);
}

#[tokio::test]
async fn required_group_missing_is_denied() {
    let _logs = Capture::start();
    let out = run(
        rest_request_event(auth(&valid()), json!({}), "GET", "/x"),
        &[("REQUIRED_SCOPES", ""), ("REQUIRED_GROUPS", "admins")],
    )
    .await;
    assert_eq!(out.decision.reason_code(), "route_not_permitted");
    assert_eq!(ok(&out)["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

// The zero-copy view of events

#[test]
fn every_fixture_event_is_read_by_the_zero_copy_view_as_the_typed_parse_reads_it() {
    let mut read = 0;
    for entry in std::fs::read_dir(repo_path("events")).expect("events/") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if !name.ends_with(".json") || name == "jwks.json" {
            continue;
        }
        let event = std::fs::read(&path).expect("fixture");
        let viewed = tollgate::event::view(&event)
            .unwrap_or_else(|| panic!("{name}: the view leaves it to the typed parse"));
        assert_eq!(
            viewed.map(|r| r.canonical()),
            tollgate::event::parse_typed(&event).map(|r| r.canonical()),
            "{name}"
        );
        read += 1;
    }
    assert!(read >= 15, "only {read} fixtures");
}

#[test]
fn events_with_several_headers_query_parameters_and_cookies_read_alike_both_ways() {
    let token = valid();
    let bearer = format!("Bearer {token}");
    for event in [
        rest_request_event(
            json!({"Authorization": bearer, "Cookie": "a=1; b=2", "X-Custom": "caf\u{e9}"}),
            json!({"q": "1", "token": token}),
            "GET",
            "/api/user/profile",
        ),
        http_v1_event(
            json!({"Authorization": bearer, "cookie": "a=1"}),
            "POST",
            "/api/user/update",
        ),
        http_v2_event(
            json!({"authorization": bearer, "x-escaped": "a\"b\\c"}),
            "GET",
            "/api/product/search",
        ),
        websocket_connect_event(json!({"token": token, "other": "x"})),
    ] {
        let bytes = event.to_string().into_bytes();
        let viewed = tollgate::event::view(&bytes).expect("the view reads it");
        let typed = tollgate::event::parse_typed(&bytes);
        assert_eq!(
            viewed.map(|r| r.canonical()),
            typed.map(|r| r.canonical()),
            "{event}"
        );
    }
}
