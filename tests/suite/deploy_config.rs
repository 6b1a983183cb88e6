//! The configuration a fresh `sam deploy` ships (`config/tollgate.toml`, at /opt/tollgate.toml
//! through the template's layer), with the template's settings (caches keyed on the token, the
//! declared route table, IAM policies for the HTTP API): the demo API's routes are allowed on
//! every API by one cached answer per caller, and the seed calls of the README's cost table,
//! logged in the REST access-log format with no cost in their context, give that table when
//! `usage-report` prices them from the same file.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::handler::{Authorizer, Outcome};
use tollgate::log::Capture;

/// The authorizer as the template configures it (scripts/template-test.py holds the template
/// to these settings): its layer's file, a token-keyed cache over a declared route table, IAM
/// policies for the HTTP API (with the development issuer and keys in place of a real one).
fn deployed() -> Authorizer {
    let file = repo_path("config/tollgate.toml");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
        ("TOLLGATE_AUTHORIZER_CACHE", "token"),
        ("TOLLGATE_ROUTE_TABLE", "declared"),
        ("HTTP_API_SIMPLE_RESPONSES", "false"),
    ]);
    Authorizer::new(&config).expect("config/tollgate.toml is a valid configuration")
}

/// The demo API's routes (config/tollgate.toml's, the template's) and their shipped prices.
const DEMO_ROUTES: [(&str, &str, u64); 3] = [
    ("GET", "/api/user/profile", 100_000),
    ("POST", "/api/user/update", 50_000),
    ("GET", "/api/product/search", 70_000),
];

/// Whether an answer's policy allows `METHOD/path` of the stage.
fn policy_allows_route(answer: &Value, method_and_path: &str) -> bool {
    let resources = |effect: &str| -> Vec<String> {
        answer["policyDocument"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["Effect"] == effect)
            .flat_map(|s| s["Resource"].as_array().cloned().unwrap_or_default())
            .filter_map(|r| r.as_str().map(str::to_string))
            .collect()
    };
    tollgate::iam::policy_allows(
        &resources("Allow"),
        &resources("Deny"),
        &format!("{ARN_PREFIX}{method_and_path}"),
    )
}

/// An access-log line as the template's REST format writes it for a call whose answer carried
/// `context` (API Gateway writes `-` for a context field that is not there).
fn rest_access_line(
    id: &str,
    epoch_ms: u64,
    method: &str,
    resource: &str,
    context: &Value,
) -> String {
    let field = |key: &str| match &context[key] {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "-".to_string(),
    };
    json!({
        "requestId": id, "requestTimeEpoch": epoch_ms.to_string(),
        "httpMethod": method, "path": format!("/prod{resource}"), "resourcePath": resource, "routeKey": "-",
        "status": "200", "userId": field("userId"), "clientId": field("clientId"),
        "plan": field("plan"), "tenantId": field("tenantId"), "endpoint": field("endpoint"),
        "costMicros": field("costMicros"),
    })
    .to_string()
}

fn token_of(sub: &str) -> String {
    sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"sub": sub, "cognito:groups": []})),
    )
}

async fn rest_call(authorizer: &Authorizer, sub: &str, method: &str, resource: &str) -> Outcome {
    let header = json!({"Authorization": format!("Bearer {}", token_of(sub))});
    let event = rest_request_event(header, json!({}), method, resource);
    authorizer.handle(event.to_string().as_bytes(), None).await
}

const SEED_TABLE: &str = "\
| User ID | API Endpoint        | Date       | Calls | Cost  |
|---------|---------------------|------------|-------|-------|
| 123456  | /api/user/profile   | 2022-01-15 | 1     | $0.10 |
| 123456  | /api/user/update    | 2022-01-16 | 1     | $0.05 |
| 789012  | /api/product/search | 2022-01-16 | 1     | $0.07 |
| Total   |                     |            | 3     | $0.22 |
";

#[tokio::test]
async fn seed_calls_through_the_deployed_configuration_give_the_seed_cost_table() {
    let logs = Capture::start();
    let authorizer = deployed();
    let mut access_log = String::new();
    for (sub, method, resource, epoch_ms) in [
        ("123456", "GET", "/api/user/profile", 1_642_240_800_000u64),
        ("123456", "POST", "/api/user/update", 1_642_323_600_000),
        ("789012", "GET", "/api/product/search", 1_642_327_200_000),
    ] {
        let out = rest_call(&authorizer, sub, method, resource).await;
        assert_eq!(
            out.decision.label(),
            "allow",
            "{method} {resource}: {:?}",
            out.decision
        );
        let context = &out.response.as_ref().expect("an Allow policy").to_value()["context"];
        // What API Gateway's access log records from the context, in the template's format.
        let id = format!("seed-{sub}-{epoch_ms}");
        access_log.push_str(&rest_access_line(&id, epoch_ms, method, resource, context));
        access_log.push('\n');
    }
    assert_eq!(logs.of("decision").len(), 3);
    assert_eq!(
        access_log.matches("\"costMicros\":\"-\"").count(),
        3,
        "a token-keyed context carries no cost: {access_log}"
    );

    let pricing = repo_path("config/tollgate.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("usage-report")
        .arg("--pricing")
        .arg(&pricing)
        .arg("-")
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate usage-report");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(access_log.as_bytes())
        .expect("write the access log");
    let out = child.wait_with_output().expect("run tollgate usage-report");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), SEED_TABLE);
}

#[tokio::test]
async fn one_cached_answer_per_caller_allows_every_demo_route_on_every_api() {
    let _logs = Capture::start();
    let authorizer = deployed();
    for (first_method, first_resource, _) in DEMO_ROUTES {
        // REST: the answer to the first call is cached under the token and serves the rest.
        let rest = rest_call(&authorizer, "123456", first_method, first_resource).await;
        let rest = rest.response.expect("REST: an Allow policy").to_value();
        // The HTTP API keys its cache on the Authorization header alone (the template's
        // identity source) and gets an IAM policy, not a simple response.
        let http = http_v2_event(
            json!({"authorization": format!("Bearer {}", token_of("123456"))}),
            first_method,
            first_resource,
        );
        let http = authorizer
            .handle(http.to_string().as_bytes(), None)
            .await
            .response
            .expect("HTTP API: an Allow policy")
            .to_value();
        assert!(http.get("isAuthorized").is_none(), "{http}");
        for (api, answer) in [("REST", &rest), ("HTTP API", &http)] {
            for key in ["costMicros", "endpoint"] {
                assert!(
                    answer["context"].get(key).is_none(),
                    "{api}: a token-keyed context has no {key}: {answer}"
                );
            }
            for (method, resource, _) in DEMO_ROUTES {
                assert!(
                    policy_allows_route(answer, &format!("{method}{resource}")),
                    "{api}: the answer for {first_method} {first_resource} must allow {method} {resource}: {answer}"
                );
            }
        }
    }
    let ws = websocket_connect_event(json!({"token": token_of("123456")}));
    let ws = authorizer.handle(ws.to_string().as_bytes(), None).await;
    assert_eq!(ws.decision.label(), "allow", "$connect: {:?}", ws.decision);
}

#[tokio::test]
async fn every_demo_call_under_one_cached_answer_is_billed_at_its_own_routes_price() {
    let _logs = Capture::start();
    let authorizer = deployed();
    let (first_method, first_resource, _) = DEMO_ROUTES[0];
    let first = rest_call(&authorizer, "123456", first_method, first_resource).await;
    let cached = first.response.expect("an Allow policy").to_value()["context"].clone();
    let lines: Vec<String> = DEMO_ROUTES
        .iter()
        .enumerate()
        .map(|(i, (method, resource, _))| {
            rest_access_line(
                &format!("r-{i}"),
                1_642_240_800_000,
                method,
                resource,
                &cached,
            )
        })
        .collect();
    let pricing = tollgate::config::file::pricing(&repo_path("config/tollgate.toml"))
        .expect("config/tollgate.toml prices");
    let options = tollgate::report::Options {
        pricing: Some(pricing),
        ..Default::default()
    };
    let report = tollgate::report::aggregate(
        lines.iter().map(|l| ("access.log", 1, l.as_str())),
        &options,
    );
    let costs: Vec<(String, u64)> = report
        .rows
        .iter()
        .map(|r| (r.endpoint.clone(), r.cost_micros))
        .collect();
    let mut expected: Vec<(String, u64)> = DEMO_ROUTES
        .iter()
        .map(|(_, resource, price)| (resource.to_string(), *price))
        .collect();
    expected.sort();
    assert_eq!(costs, expected);
    assert_eq!(report.lines.unpriced, 0);
}

#[tokio::test]
async fn a_route_the_demo_api_does_not_have_is_a_500_under_the_declared_table() {
    // API Gateway never routes DELETE /api/user/profile (the template has no such method), so
    // an event for it means the declared table is wrong: an error, never cached, rather than a
    // policy proven over the wrong routes.
    let _logs = Capture::start();
    let authorizer = deployed();
    let out = rest_call(&authorizer, "123456", "DELETE", "/api/user/profile").await;
    assert_eq!(
        (out.decision.label(), out.decision.reason_code()),
        ("error", "route_not_in_table")
    );
    assert!(
        out.response.is_err(),
        "no policy for a route outside the table"
    );
}
