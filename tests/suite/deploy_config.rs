//! The configuration a fresh `sam deploy` ships (`config/tollgate.toml`, at /opt/tollgate.toml
//! through the template's layer), with the template's settings: the demo API's routes are
//! allowed on every API, and the seed calls of the README's cost table, priced by the
//! authorizer and logged in the REST access-log format, give that table.

use crate::common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::handler::{Authorizer, Outcome};
use tollgate::log::Capture;

/// The authorizer as the template configures it: its layer's file, route-scoped cache, simple
/// responses for the HTTP API (with the development issuer and keys in place of a real one).
fn deployed() -> Authorizer {
    let file = repo_path("config/tollgate.toml");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
        ("TOLLGATE_AUTHORIZER_CACHE", "route"),
        ("HTTP_API_SIMPLE_RESPONSES", "true"),
    ]);
    Authorizer::new(&config).expect("config/tollgate.toml is a valid configuration")
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
        let line = json!({
            "requestId": format!("seed-{sub}-{epoch_ms}"), "requestTimeEpoch": epoch_ms.to_string(),
            "httpMethod": method, "path": resource, "resourcePath": resource, "routeKey": "-",
            "status": "200", "userId": context["userId"], "clientId": context["clientId"],
            "plan": context["plan"], "tenantId": "-", "endpoint": context["endpoint"],
            "costMicros": context["costMicros"].to_string(),
        });
        access_log.push_str(&line.to_string());
        access_log.push('\n');
    }
    assert_eq!(logs.of("decision").len(), 3);

    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["usage-report", "-"])
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
async fn every_demo_route_is_allowed_on_every_api_with_its_price() {
    let _logs = Capture::start();
    let authorizer = deployed();
    for (method, resource, cost) in [
        ("GET", "/api/user/profile", 100_000),
        ("POST", "/api/user/update", 50_000),
        ("GET", "/api/product/search", 70_000),
    ] {
        let rest = rest_call(&authorizer, "123456", method, resource).await;
        let rest = rest.response.expect("REST: an Allow policy").to_value();
        assert_eq!(
            rest["context"]["costMicros"], cost,
            "REST {method} {resource}"
        );
        assert_eq!(rest["context"]["endpoint"], format!("{method} {resource}"));

        // The HTTP API keys its cache on the route key (the template's identity sources).
        let mut http = http_v2_event(
            json!({"authorization": format!("Bearer {}", token_of("123456"))}),
            method,
            resource,
        );
        http["identitySource"] = json!([
            format!("Bearer {}", token_of("123456")),
            format!("{method} {resource}")
        ]);
        let http = authorizer
            .handle(http.to_string().as_bytes(), None)
            .await
            .response
            .expect("HTTP API: a simple response")
            .to_value();
        assert_eq!(
            (&http["isAuthorized"], &http["context"]["costMicros"]),
            (&json!(true), &json!(cost)),
            "HTTP API {method} {resource}: {http}"
        );
    }
    let ws = websocket_connect_event(json!({"token": token_of("123456")}));
    let ws = authorizer.handle(ws.to_string().as_bytes(), None).await;
    assert_eq!(ws.decision.label(), "allow", "$connect: {:?}", ws.decision);
}

#[tokio::test]
async fn a_route_the_demo_api_does_not_have_is_refused() {
    let _logs = Capture::start();
    let authorizer = deployed();
    let out = rest_call(&authorizer, "123456", "DELETE", "/api/user/profile").await;
    assert_eq!(
        (out.decision.label(), out.decision.reason_code()),
        ("deny", "route_not_permitted")
    );
    let policy: &Value =
        &out.response.as_ref().expect("a Deny policy").to_value()["policyDocument"];
    assert_eq!(policy["Statement"][0]["Effect"], "Deny", "{policy}");
}
