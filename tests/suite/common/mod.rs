//! Shared test support: the DEVELOPMENT keys in `events/dev-keys/` (public, never to be trusted
//! anywhere), token signing, event builders and the development configuration.
//!
//! `examples/make_fixtures.rs` uses the same code to write `events/`.
#![allow(dead_code)]

pub mod fixtures;
pub mod generate;
pub mod http;
pub mod server;
pub mod upstream;

use std::collections::HashMap;
use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

/// The development issuer (`.invalid` so it can never resolve to a real one).
pub const ISSUER: &str = "https://dev-only.tollgate.invalid";
/// The development app client id.
pub const AUDIENCE: &str = "tollgate-dev-client";
/// Development key ids.
pub const RSA_KID: &str = "DEV-ONLY-rsa-1";
pub const EC_KID: &str = "DEV-ONLY-ec-p256-1";
pub const ED_KID: &str = "DEV-ONLY-ed25519-1";
/// 2100-01-01T00:00:00Z: far enough that fixtures do not rot.
pub const FAR_FUTURE: u64 = 4_102_444_800;
/// 2026-01-01T00:00:00Z.
pub const ISSUED_AT: u64 = 1_767_225_600;
/// The API every fixture calls.
pub const ARN_PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/prod/";
/// The scope the development configuration requires (`REQUIRED_SCOPES`).
pub const REQUIRED_SCOPE: &str = "api/read";

/// Path of a file in the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn pem(name: &str) -> Vec<u8> {
    std::fs::read(repo_path(&format!("events/dev-keys/{name}"))).expect("development key file")
}

/// The development signing key for an algorithm's family.
pub fn signing_key(alg: Algorithm) -> EncodingKey {
    match alg {
        Algorithm::RS256
        | Algorithm::RS384
        | Algorithm::RS512
        | Algorithm::PS256
        | Algorithm::PS384
        | Algorithm::PS512 => {
            EncodingKey::from_rsa_pem(&pem("DEV-ONLY-rsa-private.pem")).expect("rsa pem")
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(&pem("DEV-ONLY-ec-p256-private.pem")).expect("ec pem")
        }
        Algorithm::EdDSA => {
            EncodingKey::from_ed_pem(&pem("DEV-ONLY-ed25519-private.pem")).expect("ed pem")
        }
        other => panic!("no development key for {other:?}"),
    }
}

/// An RSA key that is not in the JWKS, to forge signatures.
pub fn untrusted_rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(&pem("DEV-ONLY-rsa-untrusted-private.pem")).expect("rsa pem")
}

/// The kid of the development key for an algorithm.
pub fn kid_for(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::ES256 => EC_KID,
        Algorithm::EdDSA => ED_KID,
        _ => RSA_KID,
    }
}

/// The development JWKS (public halves of the three development keys).
pub fn dev_jwks() -> Value {
    let mut keys = Vec::new();
    for (alg, kid, key_alg) in [
        (Algorithm::RS256, RSA_KID, KeyAlgorithm::RS256),
        (Algorithm::ES256, EC_KID, KeyAlgorithm::ES256),
        (Algorithm::EdDSA, ED_KID, KeyAlgorithm::EdDSA),
    ] {
        let mut jwk = Jwk::from_encoding_key(&signing_key(alg), alg).expect("jwk");
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(key_alg);
        keys.push(jwk);
    }
    serde_json::to_value(JwkSet { keys }).expect("jwks json")
}

/// Claims of a valid Cognito-style access token for user 123456 on the development issuer.
pub fn access_claims() -> Value {
    json!({
        "sub": "123456",
        "iss": ISSUER,
        "client_id": AUDIENCE,
        "token_use": "access",
        "scope": "api/read api/write",
        "username": "alice",
        "cognito:groups": ["plan-pro"],
        "iat": ISSUED_AT,
        "exp": FAR_FUTURE,
    })
}

/// Claims of a valid Cognito-style ID token for user 789012.
pub fn id_claims() -> Value {
    json!({
        "sub": "789012",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "token_use": "id",
        "cognito:username": "bob",
        "cognito:groups": ["plan-free"],
        "iat": ISSUED_AT,
        "exp": FAR_FUTURE,
    })
}

/// `claims` with some fields replaced (a `null` removes the field).
pub fn with(mut claims: Value, changes: Value) -> Value {
    let (Some(target), Some(changes)) = (claims.as_object_mut(), changes.as_object()) else {
        panic!("with() takes objects");
    };
    for (k, v) in changes {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
    claims
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs any header and claims (both given as JSON) with `key` as `alg`.
pub fn sign_raw(header: &Value, claims: &Value, alg: Algorithm, key: &EncodingKey) -> String {
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let signature = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{signature}")
}

/// A token signed by the development key for `alg`, with that key's kid.
pub fn sign(alg: Algorithm, claims: &Value) -> String {
    let header = json!({"alg": format!("{alg:?}"), "typ": "JWT", "kid": kid_for(alg)});
    sign_raw(&header, claims, alg, &signing_key(alg))
}

/// The development configuration, as environment variables.
pub fn dev_env() -> Vec<(&'static str, String)> {
    vec![
        ("JWT_ISSUER", ISSUER.to_string()),
        ("JWT_AUDIENCE", AUDIENCE.to_string()),
        ("JWKS_URI", "file://events/jwks.json".to_string()),
        ("REQUIRED_SCOPES", REQUIRED_SCOPE.to_string()),
    ]
}

/// The development configuration with an absolute JWKS path and some variables overridden
/// (an empty value removes the variable).
pub fn config_with(overrides: &[(&str, &str)]) -> tollgate::config::Config {
    let mut vars: HashMap<String, String> = dev_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    vars.insert(
        "JWKS_URI".into(),
        format!("file://{}", repo_path("events/jwks.json").display()),
    );
    for (k, v) in overrides {
        if v.is_empty() {
            vars.remove(*k);
        } else {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    tollgate::config::Config::from_lookup(|name| vars.get(name).cloned())
        .expect("valid test configuration")
}

/// A REST API TOKEN event.
pub fn rest_token_event(authorization: &str, method: &str, path: &str) -> Value {
    json!({
        "type": "TOKEN",
        "authorizationToken": authorization,
        "methodArn": format!("{ARN_PREFIX}{method}{path}"),
    })
}

/// A REST API REQUEST event (after AWS's sample), with the given headers and query.
pub fn rest_request_event(headers: Value, query: Value, method: &str, resource: &str) -> Value {
    let multi_headers: serde_json::Map<String, Value> = headers
        .as_object()
        .map(|h| h.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    let multi_query: serde_json::Map<String, Value> = query
        .as_object()
        .map(|q| q.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    json!({
        "type": "REQUEST",
        "methodArn": format!("{ARN_PREFIX}{method}{resource}"),
        "resource": resource,
        "path": resource,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": format!("/prod{resource}"),
            "accountId": "123456789012",
            "resourceId": "05c7jb",
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "resourcePath": resource,
            "httpMethod": method,
            "apiId": "a1b2c3d4e5"
        }
    })
}

/// An HTTP API payload 1.0 authorizer event.
pub fn http_v1_event(headers: Value, method: &str, path: &str) -> Value {
    json!({
        "version": "1.0",
        "type": "REQUEST",
        "methodArn": format!("{ARN_PREFIX}{method}{path}"),
        "identitySource": headers.get("Authorization").cloned().unwrap_or(Value::Null),
        "authorizationToken": headers.get("Authorization").cloned().unwrap_or(Value::Null),
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "queryStringParameters": {},
        "pathParameters": {},
        "stageVariables": {},
        "requestContext": {
            "path": format!("/prod{path}"),
            "accountId": "123456789012",
            "resourceId": "05c7jb",
            "stage": "prod",
            "requestId": "d1b2e3f4-1111-2222-3333-444455556666",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "resourcePath": path,
            "httpMethod": method,
            "apiId": "a1b2c3d4e5",
            "routeKey": format!("{method} {path}")
        }
    })
}

/// An HTTP API payload 2.0 authorizer event.
pub fn http_v2_event(headers: Value, method: &str, path: &str) -> Value {
    let identity: Vec<Value> = headers.get("authorization").cloned().into_iter().collect();
    json!({
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": format!("{ARN_PREFIX}{method}{path}"),
        "identitySource": identity,
        "routeKey": format!("{method} {path}"),
        "rawPath": format!("/prod{path}"),
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "a1b2c3d4e5",
            "http": {"method": method, "path": format!("/prod{path}"), "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "requestId": "Jj3bFhNkIAMEVxw=",
            "routeKey": format!("{method} {path}"),
            "stage": "prod",
            "time": "16/Jan/2022:10:00:00 +0000",
            "timeEpoch": 1642327200000u64
        },
        "pathParameters": {},
        "stageVariables": {}
    })
}

/// A WebSocket API `$connect` authorizer event, token (if any) in the query string.
pub fn websocket_connect_event(query: Value) -> Value {
    let multi_query: serde_json::Map<String, Value> = query
        .as_object()
        .map(|q| q.iter().map(|(k, v)| (k.clone(), json!([v]))).collect())
        .unwrap_or_default();
    json!({
        "type": "REQUEST",
        "methodArn": format!("{ARN_PREFIX}$connect"),
        "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"], "Sec-WebSocket-Version": ["13"]},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "ABCD1234=",
            "requestTime": "16/Jan/2022:10:00:00 +0000",
            "messageDirection": "IN",
            "stage": "prod",
            "connectedAt": 1642327200000u64,
            "requestTimeEpoch": 1642327200000u64,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "wscat"},
            "requestId": "ABCD1234=",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "connectionId": "L0SM9cOFvHcCIhw=",
            "apiId": "a1b2c3d4e5"
        }
    })
}

/// The Allow policy response tollgate gives for the whole development stage.
pub fn stage_allow_policy(principal: &str, context: Value) -> Value {
    json!({
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": [format!("{ARN_PREFIX}*")]}
        ]},
        "context": context
    })
}

/// The Deny policy response for one resource (tollgate denies the whole stage, never a
/// request's own ARN).
pub fn deny_policy(principal: &str, method_arn: &str, context: Value) -> Value {
    json!({
        "principalId": principal,
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": ["execute-api:Invoke"], "Effect": "Deny", "Resource": [method_arn]}
        ]},
        "context": context
    })
}

/// The context of the development access token (user 123456) on an endpoint.
pub fn access_context(endpoint: &str) -> Value {
    json!({
        "userId": "123456",
        "clientId": AUDIENCE,
        "username": "alice",
        "tenantId": "",
        "plan": "default",
        "scopes": "api/read api/write",
        "groups": "plan-pro",
        "endpoint": endpoint,
        "costMicros": 0
    })
}

/// The context of the development access token under a token-keyed cache (the default): no
/// per-route `endpoint` or `costMicros`, which a cached context would carry to other routes.
pub fn token_context() -> Value {
    let mut ctx = access_context("");
    if let Some(map) = ctx.as_object_mut() {
        map.remove("endpoint");
        map.remove("costMicros");
    }
    ctx
}

/// Checks the one decision line the handler logged for `outcome` (among `logs`): it names the
/// outcome's decision and reason, and holds no part of `token`.
pub fn assert_decision_logged(
    logs: &tollgate::log::Capture,
    outcome: &tollgate::handler::Outcome,
    token: &str,
) {
    let lines = logs.of("decision");
    assert_eq!(
        lines.len(),
        1,
        "one decision line per event: {}",
        logs.text()
    );
    assert_eq!(
        lines[0]["decision"],
        outcome.decision.label(),
        "{}",
        logs.text()
    );
    assert_eq!(
        lines[0]["reason"],
        outcome.decision.reason_code(),
        "{}",
        logs.text()
    );
    let text = logs.text();
    for segment in token.split(['.', ' ']).filter(|s| s.len() >= 8) {
        assert!(
            !text.contains(segment),
            "the log holds token material: {text}"
        );
    }
}

/// Every JWT-looking value in an event (a header, a query parameter, a cookie), space-joined.
pub fn tokens_in(event: &Value) -> String {
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::String(s) => found.extend(
                s.split([' ', '=', ';', ','])
                    .filter(|piece| piece.starts_with("eyJ") && piece.matches('.').count() == 2)
                    .map(str::to_string),
            ),
            Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            Value::Object(map) => map.values().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    walk(event, &mut found);
    found.join(" ")
}

/// The error object for a 401.
pub fn unauthorized_error() -> Value {
    json!({"errorType": "Unauthorized", "errorMessage": "Unauthorized"})
}

/// Runs a future that completes without waiting (the warm handler never waits): for the
/// handler bench and `examples/profile_handler.rs`, which time it without a runtime.
pub fn ready<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// One event per shape, carrying `token` where that shape carries it, calling
/// `GET /api/user/profile` (`$connect` for WebSocket): what the handler bench and
/// `examples/profile_handler.rs` run.
pub fn shape_events(token: &str) -> Vec<(&'static str, Vec<u8>)> {
    let bearer = format!("Bearer {token}");
    let path = "/api/user/profile";
    vec![
        ("rest_token", rest_token_event(&bearer, "GET", path)),
        (
            "rest_request",
            rest_request_event(json!({"Authorization": bearer}), json!({}), "GET", path),
        ),
        (
            "http_v1",
            http_v1_event(json!({"Authorization": bearer}), "GET", path),
        ),
        (
            "http_v2",
            http_v2_event(json!({"authorization": bearer}), "GET", path),
        ),
        (
            "websocket_connect",
            websocket_connect_event(json!({"token": token})),
        ),
    ]
    .into_iter()
    .map(|(name, event)| (name, event.to_string().into_bytes()))
    .collect()
}
