//! Route rules and cost attribution with the development rules in `events/tollgate.dev.toml`:
//! Allow policies list exactly the permitted routes, a cached policy gives the right answer
//! for every other route, forbidden routes are 403, and costs follow the caller's plan.

mod common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::decision::Decision;
use tollgate::handler::{Authorizer, Outcome};
use tollgate::routes::iam_glob_matches;

async fn authorizer() -> Authorizer {
    let file = repo_path("events/tollgate.dev.toml");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
    ]);
    let authorizer = Authorizer::new(&config).expect("authorizer");
    authorizer.prefetch().await;
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

fn ok(outcome: &Outcome) -> &Value {
    outcome.response.as_ref().expect("a policy response")
}

/// API Gateway's evaluation of a (cached) policy for a method ARN: an explicit Deny wins,
/// then an Allow, else an implicit deny.
fn cached_policy_allows(policy: &Value, arn: &str) -> bool {
    let statements = policy["policyDocument"]["Statement"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let matches = |effect: &str| {
        statements
            .iter()
            .filter(|s| s["Effect"] == effect)
            .any(|s| {
                s["Resource"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|r| iam_glob_matches(r.as_str().unwrap_or(""), arn))
            })
    };
    !matches("Deny") && matches("Allow")
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
    let authorizer = authorizer().await;
    let out = call(
        &authorizer,
        &token("api/read", &["plan-pro"]),
        "GET",
        "/api/user/profile",
    )
    .await;
    assert_eq!(
        ok(&out),
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
                "scopes": "api/read", "groups": "plan-pro", "endpoint": "GET /api/user/profile", "costMicros": 100000
            },
            "usageIdentifierKey": "DEV-ONLY-usage-key-pro"
        })
    );
}

#[tokio::test]
async fn cached_policy_gives_the_fresh_answer_for_every_route() {
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
    let policy = ok(&out);
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        policy["policyDocument"]["Statement"][1],
        json!({"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": [arn("POST", "/api/user/update")]})
    );
    assert_eq!(
        policy["context"]["costMicros"], 0,
        "a denied call costs nothing"
    );
    assert_eq!(policy["context"]["endpoint"], "POST /api/user/update");
}

#[tokio::test]
async fn group_rule_admits_members_only() {
    let authorizer = authorizer().await;
    let member = call(
        &authorizer,
        &token("", &["admins"]),
        "DELETE",
        "/api/user/42",
    )
    .await;
    assert!(matches!(member.decision, Decision::Allow(_)));
    assert_eq!(ok(&member)["context"]["endpoint"], "DELETE /api/user/{id}");
    assert_eq!(ok(&member)["context"]["costMicros"], 500000);
    let other = call(
        &authorizer,
        &token("api/read", &[]),
        "DELETE",
        "/api/user/42",
    )
    .await;
    assert_eq!(other.decision.status(), 403);
}

#[tokio::test]
async fn route_without_a_rule_is_a_403() {
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
        Some("no route rule matches GET /api/admin")
    );
}

#[tokio::test]
async fn cost_follows_the_plan() {
    let authorizer = authorizer().await;
    let free = call(&authorizer, &token("", &[]), "GET", "/api/product/search").await;
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
    let pro = call(
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
    let authorizer = authorizer().await;
    let event = http_v2_event(
        json!({"authorization": format!("Bearer {}", token("api/read", &["plan-pro"]))}),
        "GET",
        "/api/user/profile",
    );
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    let response = ok(&out);
    assert_eq!(response["isAuthorized"], true);
    assert_eq!(response["context"]["costMicros"], 100000);
    assert!(response.get("usageIdentifierKey").is_none());
}

#[tokio::test]
async fn websocket_connect_is_priced_by_its_route() {
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
