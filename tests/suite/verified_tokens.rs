//! Tokens verified before: a repeat skips the signature check, but never the clock, the key
//! set or the exact bytes (against a real JWKS server on 127.0.0.1 and a clock the tests move).

use crate::common;

use std::time::Duration;

use common::http::{Reply, Server};
use common::*;
use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::clock::Clock;
use tollgate::config::Config;
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;
use tollgate::log::Capture;

const JWKS: &str = "/jwks.json";

fn jwks_with(kids: &[&str]) -> String {
    let mut doc = dev_jwks();
    if let Some(keys) = doc["keys"].as_array_mut() {
        keys.retain(|k| kids.contains(&k["kid"].as_str().unwrap_or_default()));
    }
    doc.to_string()
}

fn config(server: &Server, extra: &[(&str, &str)]) -> Config {
    let url = server.url(JWKS);
    let mut pairs: Vec<(&str, &str)> = vec![("JWKS_URI", url.as_str()), ("REQUIRED_SCOPES", "")];
    pairs.extend_from_slice(extra);
    config_with(&pairs)
}

async fn started(config: &Config, clock: &Clock) -> Authorizer {
    let authorizer = Authorizer::with_clock(config, clock.clone()).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    authorizer
}

async fn decide(authorizer: &Authorizer, token: &str) -> Decision {
    let event = rest_request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
        "GET",
        "/x",
    );
    authorizer
        .handle(event.to_string().as_bytes(), None)
        .await
        .decision
}

fn token_expiring_at(exp: u64) -> String {
    sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"iat": exp - 600, "exp": exp})),
    )
}

#[tokio::test]
async fn a_repeat_token_skips_the_signature_check() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(&config(&server, &[]), &clock).await;
    let token = sign(Algorithm::RS256, &access_claims());
    for _ in 0..5 {
        assert!(matches!(
            decide(&authorizer, &token).await,
            Decision::Allow(_)
        ));
    }
    assert_eq!(authorizer.full_verifications(), 1);
}

#[tokio::test]
async fn a_remembered_token_expires_at_the_second() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(&config(&server, &[("JWT_LEEWAY_SECONDS", "0")]), &clock).await;
    let exp = clock.unix_seconds() + 10;
    let token = token_expiring_at(exp);
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    clock.advance(Duration::from_secs(exp - clock.unix_seconds() - 1));
    assert!(
        matches!(decide(&authorizer, &token).await, Decision::Allow(_)),
        "one second before exp"
    );
    clock.advance(Duration::from_secs(1));
    let at_exp = decide(&authorizer, &token).await;
    assert_eq!(at_exp.reason_code(), "expired", "at exp: {at_exp:?}");
    assert_eq!(
        authorizer.full_verifications(),
        1,
        "decided from the memory both times"
    );
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_its_remembered_tokens_at_once() {
    let _logs = Capture::start();
    let server = Server::with(
        JWKS,
        Reply::json(jwks_with(&[
            kid_for(Algorithm::RS256),
            kid_for(Algorithm::ES256),
        ])),
    );
    let clock = Clock::default();
    let authorizer = started(&config(&server, &[]), &clock).await;
    let token = sign(Algorithm::RS256, &access_claims());
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    // The RSA key is rotated out; once tollgate's copy of the JWKS is refreshed, the token
    // that was verified with it is refused, memory or not.
    server.set(JWKS, Reply::json(jwks_with(&[kid_for(Algorithm::ES256)])));
    clock.advance(Duration::from_secs(3 * 3600));
    let after = decide(&authorizer, &token).await;
    assert_eq!(after.reason_code(), "unknown_kid", "{after:?}");
}

#[tokio::test]
async fn a_refreshed_but_unchanged_key_set_is_verified_afresh_once() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(&config(&server, &[]), &clock).await;
    let token = sign(Algorithm::RS256, &access_claims());
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    clock.advance(Duration::from_secs(3 * 3600));
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    assert_eq!(authorizer.full_verifications(), 2);
}

#[tokio::test]
async fn the_memory_holds_at_most_its_size() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(
        &config(&server, &[("TOLLGATE_VERIFIED_TOKENS", "2")]),
        &clock,
    )
    .await;
    let tokens: Vec<String> = ["a", "b", "c"]
        .iter()
        .map(|sub| {
            sign(
                Algorithm::RS256,
                &with(access_claims(), json!({"sub": sub})),
            )
        })
        .collect();
    for token in &tokens {
        assert!(matches!(
            decide(&authorizer, token).await,
            Decision::Allow(_)
        ));
    }
    assert_eq!(authorizer.full_verifications(), 3);
    // "c" and "b" are remembered; "a" made room and is verified again.
    assert!(matches!(
        decide(&authorizer, &tokens[2]).await,
        Decision::Allow(_)
    ));
    assert_eq!(authorizer.full_verifications(), 3);
    assert!(matches!(
        decide(&authorizer, &tokens[0]).await,
        Decision::Allow(_)
    ));
    assert_eq!(authorizer.full_verifications(), 4);
}

#[tokio::test]
async fn a_token_differing_in_one_byte_is_verified_afresh() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(&config(&server, &[]), &clock).await;
    let token = sign(Algorithm::RS256, &access_claims());
    assert!(matches!(
        decide(&authorizer, &token).await,
        Decision::Allow(_)
    ));
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(bytes).expect("ascii");
    let decision = decide(&authorizer, &altered).await;
    assert_eq!(decision.reason_code(), "bad_signature", "{decision:?}");
    assert_eq!(authorizer.full_verifications(), 2);
}

#[tokio::test]
async fn a_memory_of_size_zero_verifies_every_time() {
    let _logs = Capture::start();
    let server = Server::with(JWKS, Reply::json(dev_jwks().to_string()));
    let clock = Clock::default();
    let authorizer = started(
        &config(&server, &[("TOLLGATE_VERIFIED_TOKENS", "0")]),
        &clock,
    )
    .await;
    let token = sign(Algorithm::RS256, &access_claims());
    for _ in 0..3 {
        assert!(matches!(
            decide(&authorizer, &token).await,
            Decision::Allow(_)
        ));
    }
    assert_eq!(authorizer.full_verifications(), 3);
}
