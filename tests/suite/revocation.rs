//! Revocation end to end, against a real DynamoDB API (moto's server on 127.0.0.1) and through
//! `tollgate serve` over real HTTP: entries written by `tollgate revoke`, read by the
//! authorizer at most once per refresh interval. These need moto (scripts/setup), so they are
//! `#[ignore]`d in plain `cargo test`; scripts/test runs them with `--ignored`.

use crate::common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use tollgate::clock::format_rfc3339;
use tollgate::config::Config;
use tollgate::log::Capture;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Settings};

use crate::moto::Moto;
use crate::serving::Serving;
use common::{ISSUER, access_claims, config_with, repo_path, sign, with};

const NEEDS_MOTO: &str = "needs moto_server (scripts/setup); scripts/test runs it";

static NEXT_TABLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The development configuration with revocation on, read from `table` on `moto` every
/// `refresh` seconds and served stale for at most `max_stale`.
fn config(moto: &Moto, table: &str, refresh: u64, max_stale: u64) -> Config {
    let file = repo_path("events/tollgate.dev.toml");
    let (refresh, max_stale) = (refresh.to_string(), max_stale.to_string());
    let mut vars: Vec<(String, String)> = moto.env();
    vars.extend(
        [
            ("TOLLGATE_CONFIG", file.to_str().unwrap()),
            ("TOLLGATE_REVOCATION_TABLE", table),
            ("TOLLGATE_REVOCATION_REFRESH_SECONDS", &refresh),
            ("TOLLGATE_REVOCATION_MAX_STALE_SECONDS", &max_stale),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    config_with(&pairs)
}

/// moto with a fresh table.
async fn table() -> (Moto, String) {
    let moto = Moto::start().await;
    let n = NEXT_TABLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("revocations-{}-{n}", std::process::id());
    moto.create_table(&name).await;
    (moto, name)
}

/// `tollgate serve` (REST API, REQUEST authorizer keyed on the token, as the template) with
/// API Gateway's cache TTL `cache_ttl`, its keys and revocation list loaded as at init.
async fn start(config: Config, cache_ttl: u64) -> Serving {
    let n = NEXT_TABLE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: None,
        api: Api::Rest,
        authorizer: AuthorizerKind::Request,
        identity_sources: IdentitySource::template_defaults(Api::Rest, AuthorizerKind::Request),
        cache_ttl: Duration::from_secs(cache_ttl),
        access_log: std::env::temp_dir().join(format!(
            "tollgate-revocation-{}-{n}.jsonl",
            std::process::id()
        )),
        stage: Api::Rest.default_stage().to_string(),
        routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
        max_body_bytes: 1024,
        simple_responses: true,
        cors: tollgate::cors::CorsSettings::default(),
    };
    let serve = Serving::start(settings, config).await;
    serve.authorizer.prefetch().await.unwrap();
    serve
}

/// The call these tests make on a server.
trait Calls {
    /// `GET /api/user/profile` with the token: the status and the
    /// `x-tollgate-authorizer-cache` header.
    async fn get(&self, token: &str) -> (u16, String);

    /// The status of that call alone.
    async fn status(&self, token: &str) -> u16 {
        self.get(token).await.0
    }
}

impl Calls for Serving {
    async fn get(&self, token: &str) -> (u16, String) {
        let response = reqwest::Client::new()
            .get(format!("{}/api/user/profile", self.base))
            .header("Authorization", format!("Bearer {token}"))
            .send()
            .await
            .unwrap();
        let cache = response
            .headers()
            .get("x-tollgate-authorizer-cache")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (response.status().as_u16(), cache)
    }
}

/// A fresh RS256 access token with `changes` to the development claims.
fn token(changes: Value) -> String {
    sign(
        Algorithm::RS256,
        &with(access_claims(), with(json!({"iat": now() - 60}), changes)),
    )
}

/// The reasons of the decision lines captured so far.
fn reasons(logs: &Capture) -> Vec<String> {
    logs.of("decision")
        .iter()
        .map(|l| l["reason"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// One refresh interval of these tests, and a little more.
async fn one_interval() {
    tokio::time::sleep(Duration::from_millis(1_150)).await;
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_revoked_jti_is_refused_on_the_next_uncached_request_within_one_refresh_interval() {
    let _ = NEEDS_MOTO;
    let logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let revoked = token(json!({"jti": "jti-revoked"}));
    let other = token(json!({"jti": "jti-other"}));
    assert_eq!(serve.status(&revoked).await, 200);
    moto.revoke(&table, &["--jti", "jti-revoked", "--expires-in", "1h"]);
    one_interval().await;
    assert_eq!(serve.status(&revoked).await, 401);
    assert_eq!(serve.status(&other).await, 200, "another jti still passes");
    assert!(reasons(&logs).contains(&"token_revoked".to_string()));
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn under_the_authorizer_cache_a_revoked_token_is_refused_within_refresh_plus_ttl() {
    let _logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 30).await;
    let t = token(json!({"jti": "cached"}));
    assert_eq!(serve.get(&t).await, (200, "miss".to_string()));
    moto.revoke(&table, &["--jti", "cached", "--expires-in", "1h"]);
    one_interval().await;
    // API Gateway's cache answers until its TTL: the README's bound, refresh + TTL.
    assert_eq!(serve.get(&t).await, (200, "hit".to_string()));
    serve.clock.advance(Duration::from_secs(30));
    assert_eq!(serve.get(&t).await, (401, "miss".to_string()));
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_user_revoked_by_sub_loses_older_tokens_and_keeps_tokens_issued_after() {
    let logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let older = token(json!({"jti": "before"}));
    moto.revoke(&table, &["--sub", "123456", "--expires-in", "1h"]);
    // The cut-off is the revocation's second, rounded up; a token issued after it passes.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let newer = token(json!({"jti": "after", "iat": now() + 1}));
    let someone_else = token(json!({"jti": "other-user", "sub": "999"}));
    assert_eq!(serve.status(&older).await, 401);
    assert_eq!(serve.status(&newer).await, 200);
    assert_eq!(serve.status(&someone_else).await, 200);
    assert_eq!(reasons(&logs)[0], "token_revoked");
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_killed_key_is_refused_while_the_jwks_still_serves_it() {
    let logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let rsa = token(json!({"jti": "rsa"}));
    let ec = sign(
        Algorithm::ES256,
        &with(access_claims(), json!({"jti": "ec", "iat": now() - 60})),
    );
    assert_eq!(serve.status(&rsa).await, 200);
    moto.revoke(
        &table,
        &[
            "--kid",
            common::RSA_KID,
            "--issuer",
            ISSUER,
            "--expires-in",
            "1h",
        ],
    );
    one_interval().await;
    assert_eq!(serve.status(&rsa).await, 401);
    assert_eq!(
        serve.status(&ec).await,
        200,
        "the issuer's other key still signs"
    );
    assert!(reasons(&logs).contains(&"key_revoked".to_string()));
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_token_family_revoked_by_origin_jti_is_refused_and_a_new_family_passes() {
    let _logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let first = token(json!({"jti": "a1", "origin_jti": "family-1"}));
    let refreshed = token(json!({"jti": "a2", "origin_jti": "family-1"}));
    let new_login = token(json!({"jti": "b1", "origin_jti": "family-2"}));
    moto.revoke(&table, &["--origin-jti", "family-1", "--expires-in", "1h"]);
    one_interval().await;
    assert_eq!(serve.status(&first).await, 401);
    assert_eq!(serve.status(&refreshed).await, 401);
    assert_eq!(serve.status(&new_login).await, 200);
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_remembered_token_is_refused_as_soon_as_its_revocation_arrives() {
    let _logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let t = token(json!({"jti": "remembered"}));
    assert_eq!(serve.status(&t).await, 200);
    assert_eq!(serve.status(&t).await, 200);
    assert_eq!(
        serve.authorizer.full_verifications(),
        1,
        "the second was remembered"
    );
    moto.revoke(&table, &["--jti", "remembered", "--expires-in", "1h"]);
    one_interval().await;
    assert_eq!(serve.status(&t).await, 401);
    assert_eq!(
        serve.authorizer.full_verifications(),
        1,
        "refused on the remembered path, not by a fresh verification"
    );
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn entries_past_their_expiry_are_ignored() {
    let _logs = Capture::start();
    let (moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 60), 0).await;
    let t = token(json!({"jti": "short-lived"}));
    let expires = format_rfc3339((now() + 10) as i64);
    moto.revoke(&table, &["--jti", "short-lived", "--expires-at", &expires]);
    one_interval().await;
    assert_eq!(serve.status(&t).await, 401);
    // Past its expiry the entry no longer counts (DynamoDB's TTL deletes it later).
    serve.clock.advance(Duration::from_secs(11));
    assert_eq!(serve.status(&t).await, 200);
    assert_eq!(
        serve.authorizer.revocations().unwrap().len(),
        0,
        "and is pruned"
    );
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn an_unreachable_table_keeps_the_last_list_until_the_maximum_staleness_then_answers_500() {
    let logs = Capture::start();
    let (mut moto, table) = table().await;
    let serve = start(config(&moto, &table, 1, 10), 0).await;
    let revoked = token(json!({"jti": "gone"}));
    let good = token(json!({"jti": "fine"}));
    moto.revoke(&table, &["--jti", "gone", "--expires-in", "1h"]);
    one_interval().await;
    assert_eq!(serve.status(&revoked).await, 401);
    moto.stop();
    serve.clock.advance(Duration::from_secs(5));
    // Stale but within the bound: the last list still refuses and allows.
    assert_eq!(serve.status(&revoked).await, 401);
    assert_eq!(serve.status(&good).await, 200);
    serve.clock.advance(Duration::from_secs(6));
    assert_eq!(serve.status(&good).await, 500);
    assert_eq!(serve.status(&revoked).await, 500);
    assert!(reasons(&logs).contains(&"revocations_unavailable".to_string()));
    let failed: Vec<Value> = logs
        .of("revocation_refresh")
        .into_iter()
        .filter(|l| l["result"] == "error")
        .collect();
    assert!(!failed.is_empty(), "failed reads are logged");
    assert_eq!(failed[0]["revocationRefreshes"], 1);
    assert_eq!(
        failed[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "revocationRefreshes"
    );
}

#[tokio::test]
#[ignore = "needs moto_server (scripts/setup); scripts/test runs it"]
async fn a_table_never_read_refuses_every_token_with_500() {
    let logs = Capture::start();
    let (mut moto, table) = table().await;
    let config = config(&moto, &table, 1, 60);
    moto.stop();
    let serve = start(config, 0).await;
    assert_eq!(serve.status(&token(json!({"jti": "x"}))).await, 500);
    assert_eq!(reasons(&logs), ["revocations_unavailable"]);
}
