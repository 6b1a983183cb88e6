//! The JWKS lifecycle against a real HTTP server on 127.0.0.1: fetch once, TTL from
//! Cache-Control, rotation with one refetch (even right after a fetch), the cool-down after a
//! refetch that lacks the kid, shared concurrent fetches, outages with a warm and a cold cache,
//! garbage, slowness, discovery, seeds, several issuers.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::log::Capture;

use common::http::{Reply, Server};
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::clock::Clock;
use tollgate::config::{Config, JwksSource, Remote, Seed};
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;

const JWKS: &str = "/jwks.json";

/// The development JWKS restricted to some key ids.
fn jwks_with(kids: &[&str]) -> String {
    let mut doc = dev_jwks();
    if let Some(keys) = doc["keys"].as_array_mut() {
        keys.retain(|k| kids.contains(&k["kid"].as_str().unwrap_or_default()));
    }
    doc.to_string()
}

fn config(server: &Server) -> Config {
    config_with(&[("JWKS_URI", &server.url(JWKS)), ("REQUIRED_SCOPES", "")])
}

fn event_for(token: &str) -> Vec<u8> {
    rest_request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
        "GET",
        "/x",
    )
    .to_string()
    .into_bytes()
}

fn signed(alg: Algorithm) -> Vec<u8> {
    event_for(&sign(alg, &access_claims()))
}

async fn decide(authorizer: &Authorizer, event: &[u8]) -> Decision {
    authorizer.handle(event, None).await.decision
}

async fn started(config: &Config, clock: &Clock) -> Authorizer {
    let authorizer = Authorizer::with_clock(config, clock.clone()).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    authorizer
}

fn is_allow(d: &Decision) -> bool {
    matches!(d, Decision::Allow(_))
}

#[tokio::test]
async fn many_warm_invocations_fetch_the_jwks_exactly_once() {
    let logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA]
        .iter()
        .cycle()
        .take(300)
    {
        assert!(is_allow(&decide(&authorizer, &signed(*alg)).await));
    }
    assert_eq!(server.hits(JWKS), 1);
    assert_eq!(authorizer.jwks_fetches(), 1);
    // The log says the same: one successful fetch, then one decision line per invocation.
    let fetches = logs.of("jwks_fetch");
    assert_eq!(fetches.len(), 1, "{}", logs.text());
    assert_eq!(
        (&fetches[0]["result"], &fetches[0]["jwksFetches"]),
        (&json!("ok"), &json!(1))
    );
    assert_eq!(logs.of("decision").len(), 300);
}

#[tokio::test]
async fn rotated_key_is_accepted_after_exactly_one_refetch() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    assert_eq!(server.hits(JWKS), 1);

    // The issuer rotates in a new (EC) key; the cool-down since the init fetch has passed.
    server.set(JWKS, Reply::json(jwks_with(&[RSA_KID, EC_KID])));
    clock.advance(Duration::from_secs(11));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    assert_eq!(server.hits(JWKS), 2);
    // Both keys now verify with no further fetch.
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 2);
}

#[tokio::test]
async fn rotated_key_right_after_init_is_accepted_with_exactly_one_refetch() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    assert_eq!(server.hits(JWKS), 1);
    // The issuer rotates in a new (EC) key while the init fetch is seconds old.
    server.set(JWKS, Reply::json(jwks_with(&[RSA_KID, EC_KID])));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    assert_eq!(server.hits(JWKS), 2);
}

#[tokio::test]
async fn rotated_key_right_after_a_ttl_refresh_is_accepted_with_one_refetch() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(jwks_with(&[RSA_KID])).header("Cache-Control", "max-age=60"),
    );
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    clock.advance(Duration::from_secs(61));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 2, "the TTL refresh");
    server.set(JWKS, Reply::json(jwks_with(&[RSA_KID, EC_KID])));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    assert_eq!(server.hits(JWKS), 3);
}

#[tokio::test]
async fn refetch_that_finds_the_kid_starts_no_cooldown() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    server.set(JWKS, Reply::json(jwks_with(&[RSA_KID, EC_KID])));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    // A second rotation right after that refetch is picked up on its first token too.
    server.set(JWKS, Reply::json(dev_jwks().to_string()));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::EdDSA)).await
    ));
    assert_eq!(server.hits(JWKS), 3);
}

fn unknown_kid_event(kid: &str) -> Vec<u8> {
    let header = json!({"alg": "RS256", "kid": kid});
    let token = sign_raw(
        &header,
        &access_claims(),
        Algorithm::RS256,
        &signing_key(Algorithm::RS256),
    );
    event_for(&token)
}

#[tokio::test]
async fn unknown_kids_refetch_at_most_once_per_cooldown() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    // The first unknown kid refetches at once; the refetch lacks it too: cool-down.
    let out = authorizer.handle(&unknown_kid_event("a"), None).await;
    assert_eq!(out.decision.reason_code(), "unknown_kid");
    assert_eq!(server.hits(JWKS), 2);
    // A burst of unknown kids inside the cool-down: no fetch.
    for kid in ["a", "b", "c", "d"] {
        assert_eq!(
            decide(&authorizer, &unknown_kid_event(kid))
                .await
                .reason_code(),
            "unknown_kid"
        );
    }
    assert_eq!(server.hits(JWKS), 2);
    // After it: one more refetch, which starts the next cool-down.
    clock.advance(Duration::from_secs(11));
    for kid in ["e", "f"] {
        assert_eq!(
            decide(&authorizer, &unknown_kid_event(kid))
                .await
                .reason_code(),
            "unknown_kid"
        );
    }
    assert_eq!(server.hits(JWKS), 3);
}

#[tokio::test]
async fn kid_misses_while_the_jwks_is_down_wait_for_the_retry_pause() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    server.set(JWKS, Reply::status(503));
    for _ in 0..3 {
        assert_eq!(
            decide(&authorizer, &unknown_kid_event("new"))
                .await
                .reason_code(),
            "unknown_kid"
        );
    }
    assert_eq!(server.hits(JWKS), 2, "one failed refetch, then a pause");
    clock.advance(Duration::from_secs(2));
    server.set(JWKS, Reply::json(jwks_with(&[RSA_KID, EC_KID])));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));
    assert_eq!(server.hits(JWKS), 3);
}

#[tokio::test]
async fn concurrent_kid_misses_share_one_fetch() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let clock = Clock::default();
    let authorizer = Arc::new(started(&config(&server), &clock).await);
    server.set(
        JWKS,
        Reply::json(dev_jwks().to_string()).delayed(Duration::from_millis(300)),
    );
    clock.advance(Duration::from_secs(11));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let authorizer = Arc::clone(&authorizer);
        tasks.spawn(async move {
            authorizer
                .handle(&signed(Algorithm::EdDSA), None)
                .await
                .decision
        });
    }
    while let Some(decision) = tasks.join_next().await {
        assert!(is_allow(&decision.expect("task")));
    }
    assert_eq!(
        server.hits(JWKS),
        2,
        "one init fetch and one shared refetch"
    );
}

#[tokio::test]
async fn cache_control_max_age_sets_the_ttl() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(dev_jwks().to_string()).header("Cache-Control", "public, max-age=600"),
    );
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    clock.advance(Duration::from_secs(590));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 1, "still fresh before max-age");
    clock.advance(Duration::from_secs(20));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 2, "refreshed after max-age");
}

#[tokio::test]
async fn tiny_max_age_is_clamped_to_the_minimum_ttl() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(dev_jwks().to_string()).header("Cache-Control", "max-age=1"),
    );
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    clock.advance(Duration::from_secs(30));
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 1, "min_ttl (60 s) holds");
}

#[tokio::test]
async fn server_down_with_a_warm_cache_still_verifies_until_max_staleness() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(dev_jwks().to_string()).header("Cache-Control", "max-age=300"),
    );
    let mut config = config(&server);
    config.jwks_cache.max_stale = Duration::from_secs(3600);
    let clock = Clock::default();
    let authorizer = started(&config, &clock).await;
    drop(server);

    clock.advance(Duration::from_secs(400)); // past the TTL: refresh fails, stale keys serve
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    clock.advance(Duration::from_secs(2)); // past the retry pause: another failed refresh
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::ES256)).await
    ));

    clock.advance(Duration::from_secs(3600)); // past TTL + max staleness: fail closed
    let out = authorizer.handle(&signed(Algorithm::RS256), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
    assert_eq!(out.decision.status(), 500);
    assert_eq!(
        serde_json::to_value(out.response.expect_err("a Lambda error")).expect("json"),
        json!({"errorType": "TollgateError", "errorMessage": "tollgate cannot decide: jwks_unavailable"})
    );
}

#[tokio::test]
async fn server_down_with_a_cold_cache_is_a_500_error_never_a_deny() {
    let logs = Capture::start();
    let server = Server::with(JWKS, Reply::status(503));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    for _ in 0..5 {
        let out = authorizer.handle(&signed(Algorithm::RS256), None).await;
        assert!(
            matches!(out.decision, Decision::Error(_)),
            "{:?}",
            out.decision
        );
        assert_eq!(out.decision.reason_code(), "jwks_unavailable");
    }
    assert_eq!(
        server.hits(JWKS),
        1,
        "failed fetches are retried after a pause, not per request"
    );
    clock.advance(Duration::from_secs(2));
    server.set(JWKS, Reply::json(dev_jwks().to_string()));
    assert!(
        is_allow(&decide(&authorizer, &signed(Algorithm::RS256)).await),
        "recovers once the server is back"
    );
    assert_eq!(server.hits(JWKS), 2);
    // What the template's alarms count: a failed fetch is an EMF `jwksFetches` line with
    // result `error`, and each refusal is a decision line with decision `error`.
    let results: Vec<&str> = logs
        .of("jwks_fetch")
        .iter()
        .map(|line| line["result"].as_str().unwrap_or_default())
        .map(|result| if result == "ok" { "ok" } else { "error" })
        .collect();
    assert_eq!(results, ["error", "ok"], "{}", logs.text());
    let failed = &logs.of("jwks_fetch")[0];
    assert_eq!(failed["jwksFetches"], 1);
    assert_eq!(
        failed["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        json!([["result"]])
    );
    let errors = logs
        .of("decision")
        .into_iter()
        .filter(|line| line["decision"] == "error" && line["reason"] == "jwks_unavailable")
        .count();
    assert_eq!(errors, 5);
}

#[tokio::test]
async fn garbage_jwks_is_a_500_error() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json("<html>not a jwks</html>"));
    let authorizer = started(&config(&server), &Clock::default()).await;
    assert_eq!(
        decide(&authorizer, &signed(Algorithm::RS256))
            .await
            .reason_code(),
        "jwks_unavailable"
    );
}

#[tokio::test]
async fn jwks_without_a_usable_key_is_a_500_error() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(r#"{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}"#),
    );
    let authorizer = started(&config(&server), &Clock::default()).await;
    assert_eq!(
        decide(&authorizer, &signed(Algorithm::RS256))
            .await
            .reason_code(),
        "jwks_unavailable"
    );
}

#[tokio::test]
async fn unusable_keys_are_skipped_and_the_rest_still_verify() {
    let logs = Capture::start();
    let mut doc = dev_jwks();
    if let Some(keys) = doc["keys"].as_array_mut() {
        keys.insert(0, json!({"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}));
        keys.insert(
            0,
            json!({"kty": "EC", "crv": "P-521", "kid": "p521", "x": "AA", "y": "AA"}),
        );
        keys.insert(
            0,
            json!({"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}),
        );
        keys.insert(0, json!("not even an object"));
    }
    let server = Server::with(JWKS, Reply::json(doc.to_string()));
    let authorizer = started(&config(&server), &Clock::default()).await;
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::EdDSA)).await
    ));
    assert_eq!(logs.of("jwks_key_skipped").len(), 4, "{}", logs.text());
}

#[tokio::test]
async fn oversized_jwks_is_a_500_error() {
    let _logs = Capture::start();
    let mut doc = dev_jwks();
    doc["padding"] = json!("x".repeat(300 * 1024));
    let server = Server::with(JWKS, Reply::json(doc.to_string()));
    let authorizer = started(&config(&server), &Clock::default()).await;
    assert_eq!(
        decide(&authorizer, &signed(Algorithm::RS256))
            .await
            .reason_code(),
        "jwks_unavailable"
    );
}

#[tokio::test]
async fn slow_server_past_the_timeout_is_a_500_error() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(dev_jwks().to_string()).delayed(Duration::from_secs(3)),
    );
    let mut config = config(&server);
    config.jwks_cache.timeout = Duration::from_millis(300);
    config.jwks_cache.connect_timeout = Duration::from_millis(300);
    let started_at = Instant::now();
    let authorizer = started(&config, &Clock::default()).await;
    let out = authorizer.handle(&signed(Algorithm::RS256), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
    let detail = &out.decision.rejection().expect("rejection").detail;
    assert!(detail.contains("timed out"), "{detail}");
    assert!(
        started_at.elapsed() < Duration::from_secs(2),
        "the timeout bounds the wait"
    );
}

#[tokio::test]
async fn oidc_discovery_finds_the_jwks() {
    let _logs = Capture::start();
    let server = Server::start();
    let issuer = server.base();
    server.set(
        "/.well-known/openid-configuration",
        Reply::json(json!({"issuer": issuer, "jwks_uri": server.url(JWKS)}).to_string()),
    );
    server.set(JWKS, Reply::json(dev_jwks().to_string()));
    let config = config_with(&[
        ("JWT_ISSUER", &issuer),
        ("JWKS_URI", ""),
        ("REQUIRED_SCOPES", ""),
    ]);
    assert_eq!(config.issuers[0].jwks.remote, Some(Remote::Discovery));
    let authorizer = started(&config, &Clock::default()).await;
    let token = sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"iss": issuer})),
    );
    for _ in 0..10 {
        assert!(is_allow(&decide(&authorizer, &event_for(&token)).await));
    }
    assert_eq!(server.hits("/.well-known/openid-configuration"), 1);
    assert_eq!(server.hits(JWKS), 1);
}

#[tokio::test]
async fn discovery_document_for_another_issuer_is_a_500_error() {
    let _logs = Capture::start();
    let server = Server::start();
    let issuer = server.base();
    server.set(
        "/.well-known/openid-configuration",
        Reply::json(
            json!({"issuer": "https://evil.example", "jwks_uri": server.url(JWKS)}).to_string(),
        ),
    );
    server.set(JWKS, Reply::json(dev_jwks().to_string()));
    let config = config_with(&[
        ("JWT_ISSUER", &issuer),
        ("JWKS_URI", ""),
        ("REQUIRED_SCOPES", ""),
    ]);
    let authorizer = started(&config, &Clock::default()).await;
    let token = sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"iss": issuer})),
    );
    let out = authorizer.handle(&event_for(&token), None).await;
    assert_eq!(out.decision.reason_code(), "jwks_unavailable");
    assert_eq!(
        server.hits(JWKS),
        0,
        "a JWKS named by a mismatched document is never fetched"
    );
}

#[tokio::test]
async fn inline_seed_verifies_at_cold_start_without_waiting_for_the_network() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(dev_jwks().to_string()).delayed(Duration::from_secs(2)),
    );
    let mut config = config(&server);
    config.issuers[0].jwks = JwksSource {
        seed: Some(Seed::Inline(dev_jwks().to_string())),
        remote: Some(Remote::Url(server.url(JWKS))),
    };
    let started_at = Instant::now();
    let authorizer = started(&config, &Clock::default()).await;
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert!(
        started_at.elapsed() < Duration::from_secs(1),
        "no request waited on the 2 s fetch"
    );
}

#[tokio::test]
async fn unreadable_seed_with_a_remote_falls_back_to_a_fetch() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let mut config = config(&server);
    config.issuers[0].jwks = JwksSource {
        seed: Some(Seed::File("/nonexistent/jwks.json".into())),
        remote: Some(Remote::Url(server.url(JWKS))),
    };
    let authorizer = started(&config, &Clock::default()).await;
    assert!(is_allow(
        &decide(&authorizer, &signed(Algorithm::RS256)).await
    ));
    assert_eq!(server.hits(JWKS), 1);
}

#[tokio::test]
async fn seed_is_refreshed_from_the_remote_in_the_background() {
    let _logs = Capture::start();
    // The seed only has the RSA key; the remote also has the EC key.
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let mut config = config(&server);
    config.issuers[0].jwks = JwksSource {
        seed: Some(Seed::Inline(jwks_with(&[RSA_KID]))),
        remote: Some(Remote::Url(server.url(JWKS))),
    };
    let authorizer = started(&config, &Clock::default()).await;
    for _ in 0..50 {
        if server.hits(JWKS) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(server.hits(JWKS), 1, "one background refresh");
    assert!(
        is_allow(&decide(&authorizer, &signed(Algorithm::ES256)).await),
        "the refreshed key verifies"
    );
    assert_eq!(server.hits(JWKS), 1);
}

#[tokio::test]
async fn tokens_are_routed_to_their_issuers_keys() {
    let _logs = Capture::start();
    let server_a = Server::with(JWKS, Reply::json(jwks_with(&[RSA_KID])));
    let server_b = Server::with(JWKS, Reply::json(jwks_with(&[EC_KID])));
    let mut config = config(&server_a);
    let mut second = config.issuers[0].clone();
    second.issuer = "https://second.tollgate.invalid".into();
    second.audiences = vec!["second-client".into()];
    second.jwks = JwksSource {
        seed: None,
        remote: Some(Remote::Url(server_b.url(JWKS))),
    };
    config.issuers.push(second);
    let authorizer = started(&config, &Clock::default()).await;

    let b_claims = with(
        access_claims(),
        json!({"iss": "https://second.tollgate.invalid", "client_id": "second-client"}),
    );
    assert!(
        is_allow(&decide(&authorizer, &signed(Algorithm::RS256)).await),
        "issuer A, A's key"
    );
    assert!(
        is_allow(&decide(&authorizer, &event_for(&sign(Algorithm::ES256, &b_claims))).await),
        "issuer B, B's key"
    );
    // Issuer B's token signed with issuer A's key: A's key is not in B's JWKS.
    let crossed = decide(&authorizer, &event_for(&sign(Algorithm::RS256, &b_claims))).await;
    assert_eq!(crossed.reason_code(), "unknown_kid");
    // Issuer B's audience is not issuer A's.
    let wrong_aud = with(access_claims(), json!({"client_id": "second-client"}));
    assert_eq!(
        decide(&authorizer, &event_for(&sign(Algorithm::RS256, &wrong_aud)))
            .await
            .reason_code(),
        "wrong_audience"
    );
    // The crossed token's unknown kid refetched B's JWKS once, never A's.
    assert_eq!((server_a.hits(JWKS), server_b.hits(JWKS)), (1, 2));
}

#[tokio::test]
async fn unknown_issuer_is_rejected_before_any_key_is_touched() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::status(503));
    let clock = Clock::default();
    let authorizer = started(&config(&server), &clock).await;
    clock.advance(Duration::from_secs(60));
    let claims: Value = with(access_claims(), json!({"iss": "https://attacker.example"}));
    let out = authorizer
        .handle(&event_for(&sign(Algorithm::RS256, &claims)), None)
        .await;
    assert_eq!(out.decision.reason_code(), "wrong_issuer");
    assert_eq!(server.hits(JWKS), 1, "only the init fetch");
}
