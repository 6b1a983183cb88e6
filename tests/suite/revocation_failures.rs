//! Regression tests from the adversarial review of revocation, each named after the behaviour
//! it holds: a table whose content cannot be held refuses at once, bad answers of every kind
//! fail closed, a read that would never end ends, and nothing of the token reaches a log line.
//! The ones against moto are `#[ignore]`d without it (scripts/test runs them); the others run
//! against a local HTTP server that answers like a broken DynamoDB.

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::clock::Clock;
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;
use tollgate::log::Capture;

use crate::moto::Moto;
use common::http::{Reply, Server};
use common::{access_claims, config_with, rest_token_event, sign, with};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn token(changes: Value) -> String {
    sign(
        Algorithm::RS256,
        &with(access_claims(), with(json!({"iat": now() - 60}), changes)),
    )
}

/// The development configuration with revocation on (refresh 1 s, stale for 60 s), with the
/// AWS environment `env` and the extra settings `extra`.
fn authorizer(env: Vec<(String, String)>, table: &str, extra: &[(&str, &str)]) -> Authorizer {
    let mut vars = env;
    vars.push(("TOLLGATE_REVOCATION_TABLE".into(), table.into()));
    vars.push(("TOLLGATE_REVOCATION_REFRESH_SECONDS".into(), "1".into()));
    vars.push(("TOLLGATE_REVOCATION_MAX_STALE_SECONDS".into(), "60".into()));
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Authorizer::with_clock(&config_with(&pairs), Clock::default()).unwrap()
}

/// The AWS environment for a fake DynamoDB at `base`.
fn fake_aws(base: String) -> Vec<(String, String)> {
    crate::moto::AWS_ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("AWS_ENDPOINT_URL_DYNAMODB".to_string(), base)])
        .collect()
}

async fn decide(a: &Authorizer, token: &str) -> String {
    let event = rest_token_event(&format!("Bearer {token}"), "GET", "/api/user/profile");
    match a
        .handle(&serde_json::to_vec(&event).unwrap(), None)
        .await
        .decision
    {
        Decision::Allow(_) => "allow".into(),
        Decision::Deny(_, r) => format!("deny:{}", r.reason.code()),
        Decision::Unauthorized(r) => format!("401:{}", r.reason.code()),
        Decision::Error(r) => format!("500:{}", r.reason.code()),
    }
}

async fn put_raw(moto: &Moto, table: &str, item: Value) {
    moto.client()
        .call(
            "PutItem",
            json!({"TableName": table, "Item": item})
                .to_string()
                .into_bytes(),
        )
        .await
        .expect("PutItem");
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_read_over_the_bound_refuses_every_token_at_once() {
    let _logs = Capture::start();
    let moto = Moto::start().await;
    moto.create_table("bound").await;
    moto.revoke("bound", &["--jti", "first", "--expires-in", "1h"]);
    let a = authorizer(
        moto.env(),
        "bound",
        &[("TOLLGATE_REVOCATION_MAX_ENTRIES", "1")],
    );
    a.prefetch().await.unwrap();
    let second = token(json!({"jti": "second"}));
    assert_eq!(decide(&a, &second).await, "allow");
    moto.revoke("bound", &["--jti", "second", "--expires-in", "1h"]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The read found a revocation the list cannot hold: no token passes on the old list.
    assert_eq!(decide(&a, &second).await, "500:revocations_unavailable");
    assert_eq!(
        decide(&a, &token(json!({"jti": "third"}))).await,
        "500:revocations_unavailable"
    );
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn an_item_without_a_numeric_expires_at_fails_the_read_and_refuses_at_once() {
    let _logs = Capture::start();
    for (n, expires) in [None, Some(json!({"S": "4102444800"}))]
        .into_iter()
        .enumerate()
    {
        let moto = Moto::start().await;
        let table = format!("noexp-{n}");
        moto.create_table(&table).await;
        let a = authorizer(moto.env(), &table, &[]);
        a.prefetch().await.unwrap();
        let t = token(json!({"jti": "forever"}));
        assert_eq!(decide(&a, &t).await, "allow");
        let ms = now() * 1000;
        let mut item = json!({
            "pk": {"S": "revocations"},
            "sk": {"S": format!("{ms:013}#0000000000000000")},
            "kind": {"S": "jti"},
            "value": {"S": "forever"},
        });
        if let Some(expires) = &expires {
            item["expires_at"] = expires.clone();
        }
        put_raw(&moto, &table, item).await;
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        assert_eq!(
            decide(&a, &t).await,
            "500:revocations_unavailable",
            "expires_at {expires:?}"
        );
    }
}

#[tokio::test]
async fn a_query_whose_pages_never_end_is_refused_not_followed() {
    let _logs = Capture::start();
    let server = Server::with(
        "/",
        Reply::json(
            json!({"Items": [], "Count": 0,
                   "LastEvaluatedKey": {"pk": {"S": "revocations"}, "sk": {"S": "1"}}})
            .to_string(),
        ),
    );
    let a = authorizer(fake_aws(server.base()), "loop", &[]);
    let out = tokio::time::timeout(
        Duration::from_secs(15),
        decide(&a, &token(json!({"jti": "x"}))),
    )
    .await;
    assert_eq!(out.as_deref(), Ok("500:revocations_unavailable"));
    assert!(server.hits("/") <= 3, "{} pages", server.hits("/"));
}

#[tokio::test]
async fn every_kind_of_bad_answer_fails_closed() {
    let _logs = Capture::start();
    let huge = format!("{{\"Items\": [], \"pad\": \"{}\"}}", "a".repeat(5 << 20));
    let cases: Vec<(&str, Reply)> = vec![
        ("500", Reply::status(500)),
        (
            "throttled",
            Reply::json(
                br#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#.to_vec(),
            ),
        ),
        ("html", Reply::json(b"<html>".to_vec())),
        ("no items", Reply::json(b"{}".to_vec())),
        ("items not array", Reply::json(br#"{"Items": {}}"#.to_vec())),
        ("huge", Reply::json(huge.into_bytes())),
        (
            "slow",
            Reply::json(br#"{"Items": []}"#.to_vec()).delayed(Duration::from_secs(4)),
        ),
        (
            "bad item",
            Reply::json(br#"{"Items": [{"sk": {"S": "1#a"}, "kind": {"S": "jti"}, "value": {"N": "1"}, "expires_at": {"N": "99999999999"}}]}"#.to_vec()),
        ),
        (
            "expiry past u64",
            Reply::json(br#"{"Items": [{"sk": {"S": "1700000000000#a"}, "kind": {"S": "jti"}, "value": {"S": "v"}, "expires_at": {"N": "999999999999999999999999999"}}]}"#.to_vec()),
        ),
        (
            "key in seconds",
            Reply::json(br#"{"Items": [{"sk": {"S": "1700000000#a"}, "kind": {"S": "jti"}, "value": {"S": "v"}, "expires_at": {"N": "4102444800"}}]}"#.to_vec()),
        ),
    ];
    for (name, reply) in cases {
        let server = Server::with("/", reply);
        let a = authorizer(fake_aws(server.base()), "bad", &[]);
        a.prefetch().await.unwrap();
        let d = decide(&a, &token(json!({"jti": "x"}))).await;
        assert_eq!(d, "500:revocations_unavailable", "{name}");
    }
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn no_log_line_carries_a_claim_value_or_a_secret() {
    let logs = Capture::start();
    let moto = Moto::start().await;
    moto.create_table("leaks").await;
    let a = authorizer(moto.env(), "leaks", &[]);
    a.prefetch().await.unwrap();
    let t = token(
        json!({"jti": "jti-VALUE-7f3", "origin_jti": "origin-VALUE-9c1", "sub": "sub-VALUE-2b8"}),
    );
    assert_eq!(decide(&a, &t).await, "allow");
    moto.revoke("leaks", &["--jti", "jti-VALUE-7f3", "--expires-in", "1h"]);
    moto.revoke("leaks", &["--sub", "sub-VALUE-2b8", "--expires-in", "1h"]);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(decide(&a, &t).await, "401:token_revoked");
    let text = logs.text();
    for secret in [t.as_str(), "jti-VALUE-7f3", "origin-VALUE-9c1", "testing"] {
        assert!(!text.contains(secret), "{secret:?} in the log");
    }
    assert!(text.contains("revocation_refresh"), "the reads are logged");
}
