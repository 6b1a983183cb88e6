//! Route rules and cost attribution with the development rules in `events/tollgate.dev.toml`:
//! Allow policies list exactly the permitted routes, a cached policy gives the right answer
//! for every other route, forbidden routes are 403, and costs follow the caller's plan where
//! the answer is cached per route (and nowhere else).

use crate::common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::decision::Decision;
use tollgate::handler::{Authorizer, Outcome};
use tollgate::iam::Evaluation;
use tollgate::log::Capture;
use tollgate::serve::verdict::read_answer;

async fn authorizer() -> Authorizer {
    authorizer_cached_by("token").await
}

async fn authorizer_cached_by(scope: &str) -> Authorizer {
    let file = repo_path("events/tollgate.dev.toml");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
        ("TOLLGATE_AUTHORIZER_CACHE", scope),
    ]);
    let authorizer = Authorizer::new(&config).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    authorizer
}

fn token(scope: &str, groups: &[&str]) -> String {
    sign(
        Algorithm::RS256,
        &with(
            access_claims(),
            json!({"scope": scope, "cognito:groups": groups, "custom:tenant": "acme"}),
        ),
    )
}

async fn call(authorizer: &Authorizer, token: &str, method: &str, path: &str) -> Outcome {
    let event = rest_token_event(&format!("Bearer {token}"), method, path);
    authorizer.handle(event.to_string().as_bytes(), None).await
}

/// A REST API REQUEST event for a resource template, as API Gateway routed it.
async fn call_routed(
    authorizer: &Authorizer,
    token: &str,
    method: &str,
    resource: &str,
) -> Outcome {
    let event = rest_request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
        method,
        resource,
    );
    authorizer.handle(event.to_string().as_bytes(), None).await
}

fn ok(outcome: &Outcome) -> Value {
    outcome
        .response
        .as_ref()
        .expect("a policy response")
        .to_value()
}

/// API Gateway's evaluation of a (cached) policy for a method ARN: an explicit Deny wins,
/// then an Allow, else an implicit deny (read and evaluated as `tollgate serve` does).
fn cached_policy_allows(policy: &Value, arn: &str) -> bool {
    read_answer(policy.to_string().as_bytes(), false)
        .expect("tollgate's answer reads as API Gateway reads it")
        .evaluate(arn)
        == Evaluation::Allow
}

const ROUTES: [(&str, &str); 9] = [
    ("GET", "/api/user/profile"),
    ("POST", "/api/user/update"),
    ("GET", "/api/product/search"),
    ("DELETE", "/api/user/42"),
    ("DELETE", "/api/user/42/photos"),
    ("GET", "/api/user/42"),
    ("GET", "/api/admin"),
    ("PUT", "/api/user/profile"),
    ("$connect", ""),
];

fn arn(method: &str, path: &str) -> String {
    format!("{ARN_PREFIX}{method}{path}")
}

#[tokio::test]
async fn allow_policy_lists_exactly_the_permitted_routes() {
    let _logs = Capture::start();
    let authorizer = authorizer().await;
    let out = call(
        &authorizer,
        &token("api/read", &["plan-pro"]),
        "GET",
        "/api/user/profile",
    )
    .await;
    assert_eq!(
        &ok(&out),
        &json!({
            "principalId": "123456",
            "policyDocument": {"Version": "2012-10-17", "Statement": [{
                "Action": ["execute-api:Invoke"],
                "Effect": "Allow",
                "Resource": [
                    arn("GET", "/api/user/profile"),
                    arn("GET", "/api/product/search"),
                    format!("{ARN_PREFIX}$connect"),
                ]
            }]},
            "context": {
                "userId": "123456", "clientId": AUDIENCE, "username": "alice", "tenantId": "acme", "plan": "pro",
                "scopes": "api/read", "groups": "plan-pro"
            },
            "usageIdentifierKey": "DEV-ONLY-usage-key-pro"
        })
    );
}

#[tokio::test]
async fn cached_policy_gives_the_fresh_answer_for_every_route() {
    let _logs = Capture::start();
    let authorizer = authorizer().await;
    for (scope, groups) in [
        ("api/read", vec![]),
        ("api/read api/write", vec!["plan-pro"]),
        ("", vec!["admins"]),
        ("api/write", vec!["admins", "plan-pro"]),
    ] {
        let token = token(scope, &groups);
        // The policy API Gateway caches after the first call (on the search route)...
        let first = call(&authorizer, &token, "GET", "/api/product/search").await;
        let cached = ok(&first).clone();
        // ...must answer every later route as tollgate would.
        for (method, path) in ROUTES {
            let fresh = call(&authorizer, &token, method, path).await;
            let fresh_allows = matches!(fresh.decision, Decision::Allow(_));
            assert_eq!(
                cached_policy_allows(&cached, &arn(method, path)),
                fresh_allows,
                "scope {scope:?} groups {groups:?}: cached policy disagrees on {method} {path}"
            );
        }
    }
}

#[tokio::test]
async fn route_the_token_may_not_call_is_a_403_deny() {
    let _logs = Capture::start();
    let authorizer = authorizer().await;
    let out = call(
        &authorizer,
        &token("api/read", &[]),
        "POST",
        "/api/user/update",
    )
    .await;
    assert_eq!(out.decision.status(), 403);
    assert_eq!(out.decision.reason_code(), "route_not_permitted");
    let policy = &ok(&out);
    // The token's exact stage policy: what it may call, which excludes this route.
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert!(!cached_policy_allows(
        policy,
        &arn("POST", "/api/user/update")
    ));
    assert!(cached_policy_allows(
        policy,
        &arn("GET", "/api/user/profile")
    ));
}

#[tokio::test]
async fn denied_call_under_route_scope_costs_nothing_and_names_its_route() {
    let _logs = Capture::start();
    let authorizer = authorizer_cached_by("route").await;
    let out = call_routed(
        &authorizer,
        &token("api/read", &[]),
        "POST",
        "/api/user/update",
    )
    .await;
    assert_eq!(out.decision.status(), 403);
    let policy = &ok(&out);
    assert_eq!(
        policy["context"]["costMicros"], 0,
        "a denied call costs nothing"
    );
    assert_eq!(policy["context"]["endpoint"], "POST /api/user/update");
}

#[tokio::test]
async fn group_rule_admits_members_only() {
    let _logs = Capture::start();
    let authorizer = authorizer_cached_by("route").await;
    let member = call_routed(
        &authorizer,
        &token("", &["admins"]),
        "DELETE",
        "/api/user/{id}",
    )
    .await;
    assert!(matches!(member.decision, Decision::Allow(_)));
    assert_eq!(ok(&member)["context"]["endpoint"], "DELETE /api/user/{id}");
    assert_eq!(ok(&member)["context"]["costMicros"], 500000);
    let other = call_routed(
        &authorizer,
        &token("api/read", &[]),
        "DELETE",
        "/api/user/{id}",
    )
    .await;
    assert_eq!(other.decision.status(), 403);
}

#[tokio::test]
async fn route_without_a_rule_is_a_403_that_never_quotes_the_path() {
    let _logs = Capture::start();
    let authorizer = authorizer().await;
    let out = call(
        &authorizer,
        &token("api/read api/write", &["admins"]),
        "GET",
        "/api/admin",
    )
    .await;
    assert_eq!(out.decision.status(), 403);
    assert_eq!(
        out.decision.rejection().map(|r| r.detail.as_str()),
        Some("no route rule covers the requested route")
    );
}

#[tokio::test]
async fn cost_follows_the_plan() {
    let _logs = Capture::start();
    let authorizer = authorizer_cached_by("route").await;
    let free = call_routed(&authorizer, &token("", &[]), "GET", "/api/product/search").await;
    assert_eq!(
        (
            ok(&free)["context"]["plan"].clone(),
            ok(&free)["context"]["costMicros"].clone()
        ),
        (json!("free"), json!(70000))
    );
    assert!(
        ok(&free).get("usageIdentifierKey").is_none(),
        "the free plan has no usage key"
    );
    let pro = call_routed(
        &authorizer,
        &token("", &["plan-pro"]),
        "GET",
        "/api/product/search",
    )
    .await;
    assert_eq!(
        (
            ok(&pro)["context"]["plan"].clone(),
            ok(&pro)["context"]["costMicros"].clone()
        ),
        (json!("pro"), json!(50000))
    );
}

#[tokio::test]
async fn http_api_simple_response_carries_the_cost_but_no_usage_key() {
    let _logs = Capture::start();
    let authorizer = authorizer_cached_by("route").await;
    let mut event = http_v2_event(
        json!({"authorization": format!("Bearer {}", token("api/read", &["plan-pro"]))}),
        "GET",
        "/api/user/profile",
    );
    // The route key is among the identity sources, as the SAM template wires it.
    event["identitySource"]
        .as_array_mut()
        .expect("identity sources")
        .push(json!("GET /api/user/profile"));
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    let response = &ok(&out);
    assert_eq!(response["isAuthorized"], true);
    assert_eq!(response["context"]["costMicros"], 100000);
    assert!(response.get("usageIdentifierKey").is_none());
}

#[tokio::test]
async fn http_api_simple_response_under_a_token_key_is_true_only_for_a_token_that_may_call_every_route()
 {
    let _logs = Capture::start();
    // The route key is not among the identity sources: a cached `true` would open every
    // route, so a token that may call only some of them gets `false`, and says why.
    let authorizer = authorizer_cached_by("route").await;
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", token("api/read", &["plan-pro"]))}),
        "GET",
        "/api/user/profile",
    );
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(ok(&out)["isAuthorized"], false);
    assert_eq!(out.decision.reason_code(), "cache_scope_too_wide");
    assert!(ok(&out)["context"].get("costMicros").is_none());
}

#[tokio::test]
async fn http_api_simple_response_with_the_cache_declared_off_answers_per_request() {
    let _logs = Capture::start();
    let authorizer = authorizer_cached_by("off").await;
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", token("api/read", &["plan-pro"]))}),
        "GET",
        "/api/user/profile",
    );
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(ok(&out)["isAuthorized"], true);
    assert_eq!(ok(&out)["context"]["costMicros"], 100000);
}

#[tokio::test]
async fn websocket_connect_is_priced_by_its_route() {
    let _logs = Capture::start();
    let authorizer = authorizer().await;
    let out = authorizer
        .handle(
            websocket_connect_event(json!({"token": token("", &[])}))
                .to_string()
                .as_bytes(),
            None,
        )
        .await;
    assert_eq!(ok(&out)["context"]["endpoint"], "$connect");
    assert_eq!(ok(&out)["context"]["costMicros"], 10000);
}

#[tokio::test]
async fn an_any_route_key_does_not_make_a_route_scope_for_simple_responses() {
    // Found by the adversarial review: the cache key `ANY /api/{proxy+}` is the same for GET
    // and DELETE, so a `true` for GET would open DELETE to a read-only token.
    let _logs = tollgate::log::Capture::start();
    let authorizer = authorizer_cached_by("route").await;
    let mut event = http_v2_event(
        json!({"authorization": format!("Bearer {}", token("api/read", &[]))}),
        "GET",
        "/api/user/profile",
    );
    event["routeKey"] = json!("ANY /api/{proxy+}");
    event["requestContext"]["routeKey"] = json!("ANY /api/{proxy+}");
    event["identitySource"]
        .as_array_mut()
        .expect("identity sources")
        .push(json!("ANY /api/{proxy+}"));
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(ok(&out)["isAuthorized"], false);
    assert_eq!(out.decision.reason_code(), "cache_scope_too_wide");
}
