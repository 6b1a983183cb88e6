//! Every rejection reason, each with the exact response API Gateway gets and the reason code.

use crate::common;

use std::time::{SystemTime, UNIX_EPOCH};
use tollgate::log::Capture;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tollgate::decision::Decision;
use tollgate::handler::{Authorizer, Outcome};

/// Runs one REST REQUEST event; checks that its decision line names the same decision and
/// reason, and quotes nothing of the token.
async fn run_with(authorization: &str, overrides: &[(&str, &str)]) -> Outcome {
    let authorizer = Authorizer::new(&config_with(overrides)).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    let event = rest_request_event(
        json!({ "Authorization": authorization }),
        json!({}),
        "GET",
        "/api/user/profile",
    );
    let logs = Capture::start();
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_decision_logged(&logs, &out, authorization);
    out
}

/// Asserts the token is rejected as 401 with this reason, and the response is the
/// `Unauthorized` Lambda error.
async fn assert_rejected(token: &str, reason: &str) {
    assert_rejected_with(&format!("Bearer {token}"), reason, &[]).await;
}

async fn assert_rejected_with(authorization: &str, reason: &str, overrides: &[(&str, &str)]) {
    let out = run_with(authorization, overrides).await;
    assert!(
        matches!(out.decision, Decision::Unauthorized(_)),
        "{reason}: got {:?}",
        out.decision
    );
    assert_eq!(out.decision.reason_code(), reason, "{:?}", out.decision);
    let response = serde_json::to_value(out.response.expect_err("Lambda error")).expect("json");
    assert_eq!(response, unauthorized_error());
}

async fn assert_allowed(token: &str, overrides: &[(&str, &str)]) {
    let out = run_with(&format!("Bearer {token}"), overrides).await;
    assert!(
        matches!(out.decision, Decision::Allow(_)),
        "expected allow, got {:?}",
        out.decision
    );
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

fn rsa_header() -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID})
}

fn rs256_with_header(header: Value) -> String {
    sign_raw(
        &header,
        &access_claims(),
        Algorithm::RS256,
        &signing_key(Algorithm::RS256),
    )
}

/// A token whose payload is arbitrary bytes, validly signed by the development RSA key.
fn rs256_with_payload_bytes(payload: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        b64(rsa_header().to_string().as_bytes()),
        b64(payload)
    );
    let sig = jsonwebtoken::crypto::sign(
        input.as_bytes(),
        &signing_key(Algorithm::RS256),
        Algorithm::RS256,
    )
    .expect("sign");
    format!("{input}.{sig}")
}

fn rs256(claims: Value) -> String {
    sign(Algorithm::RS256, &claims)
}

// Token presence and shape

#[tokio::test]
async fn no_token_is_no_token() {
    let _logs = Capture::start();
    let authorizer = Authorizer::new(&config_with(&[])).expect("authorizer");
    let event = rest_request_event(json!({"Accept": "*/*"}), json!({}), "GET", "/x");
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(out.decision.reason_code(), "no_token");
    assert_eq!(
        serde_json::to_value(out.response.expect_err("error")).expect("json"),
        unauthorized_error()
    );
}

#[tokio::test]
async fn basic_scheme_is_bad_scheme() {
    let _logs = Capture::start();
    assert_rejected_with("Basic YWxpY2U6c2VjcmV0", "bad_scheme", &[]).await;
}

#[tokio::test]
async fn bearer_with_no_token_is_bad_scheme() {
    let _logs = Capture::start();
    assert_rejected_with("Bearer ", "bad_scheme", &[]).await;
}

#[tokio::test]
async fn two_tokens_in_one_header_is_multiple_tokens() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    assert_rejected_with(&format!("Bearer {t}, Bearer {t}"), "multiple_tokens", &[]).await;
}

#[tokio::test]
async fn oversized_token_is_token_too_large() {
    let _logs = Capture::start();
    let big = rs256(with(access_claims(), json!({"padding": "x".repeat(9000)})));
    assert_rejected(&big, "token_too_large").await;
}

#[tokio::test]
async fn token_cap_is_configurable() {
    let _logs = Capture::start();
    let big = rs256(with(access_claims(), json!({"padding": "x".repeat(9000)})));
    assert_allowed(&big, &[("JWT_MAX_TOKEN_BYTES", "16384")]).await;
}

#[tokio::test]
async fn two_segments_is_malformed_token() {
    let _logs = Capture::start();
    assert_rejected("eyJhbGciOiJSUzI1NiJ9.e30", "malformed_token").await;
}

#[tokio::test]
async fn four_segments_is_malformed_token() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    assert_rejected(
        &format!("{t}.{}", t.rsplit('.').next().unwrap_or_default()),
        "malformed_token",
    )
    .await;
}

#[tokio::test]
async fn empty_segments_are_malformed_header() {
    let _logs = Capture::start();
    // `..` splits into three empty segments; the empty header is not a JSON object.
    assert_rejected("..", "malformed_header").await;
}

#[tokio::test]
async fn five_segment_jwe_is_malformed_token() {
    let _logs = Capture::start();
    assert_rejected(
        "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d",
        "malformed_token",
    )
    .await;
}

#[tokio::test]
async fn padded_base64_is_malformed_token() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    let (header, rest) = t.split_once('.').expect("dot");
    assert_rejected(&format!("{header}=.{rest}"), "malformed_token").await;
}

#[tokio::test]
async fn standard_base64_alphabet_is_malformed_token() {
    let _logs = Capture::start();
    let t = rs256(access_claims()).replace('-', "+").replace('_', "/");
    let t = if t.contains('+') || t.contains('/') {
        t
    } else {
        format!("{t}+")
    };
    assert_rejected(&t, "malformed_token").await;
}

#[tokio::test]
async fn non_json_header_is_malformed_header() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    let rest = t.split_once('.').expect("dot").1;
    assert_rejected(&format!("{}.{rest}", b64(b"not json")), "malformed_header").await;
}

#[tokio::test]
async fn array_header_is_malformed_header() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    let rest = t.split_once('.').expect("dot").1;
    assert_rejected(
        &format!("{}.{rest}", b64(b"[\"RS256\"]")),
        "malformed_header",
    )
    .await;
}

#[tokio::test]
async fn header_without_alg_is_malformed_header() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256_with_header(json!({"kid": RSA_KID})),
        "malformed_header",
    )
    .await;
}

#[tokio::test]
async fn non_json_payload_is_malformed_claims() {
    let _logs = Capture::start();
    assert_rejected(&rs256_with_payload_bytes(b"hello"), "malformed_claims").await;
}

#[tokio::test]
async fn array_payload_is_malformed_claims() {
    let _logs = Capture::start();
    assert_rejected(&rs256_with_payload_bytes(b"[1,2]"), "malformed_claims").await;
}

#[tokio::test]
async fn duplicate_exp_is_malformed_claims() {
    let _logs = Capture::start();
    let payload =
        format!(r#"{{"sub":"1","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":1,"exp":{FAR_FUTURE}}}"#);
    assert_rejected(
        &rs256_with_payload_bytes(payload.as_bytes()),
        "malformed_claims",
    )
    .await;
}

#[tokio::test]
async fn string_exp_is_malformed_claims() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(
            access_claims(),
            json!({"exp": FAR_FUTURE.to_string()}),
        )),
        "malformed_claims",
    )
    .await;
}

#[tokio::test]
async fn out_of_range_exp_is_malformed_claims() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"exp": 1e300}))),
        "malformed_claims",
    )
    .await;
    assert_rejected(
        &rs256(with(access_claims(), json!({"exp": -1}))),
        "malformed_claims",
    )
    .await;
}

#[tokio::test]
async fn non_string_aud_is_malformed_claims() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"aud": 42}))),
        "malformed_claims",
    )
    .await;
}

// Algorithms and keys

#[tokio::test]
async fn alg_none_in_any_case_is_alg_not_allowed() {
    let _logs = Capture::start();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let payload = b64(access_claims().to_string().as_bytes());
        assert_rejected(&format!("{header}.{payload}."), "alg_not_allowed").await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_alg_not_allowed() {
    let _logs = Capture::start();
    // Algorithm confusion: the attacker uses the public key as an HMAC secret.
    let public_pem = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(repo_path("events/dev-keys/DEV-ONLY-rsa-private.pem"))
        .output()
        .map(|o| o.stdout)
        .unwrap_or_else(|_| b"-----BEGIN PUBLIC KEY-----".to_vec());
    let header = json!({"alg": "HS256", "typ": "JWT", "kid": RSA_KID});
    let token = sign_raw(
        &header,
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(&public_pem),
    );
    assert_rejected(&token, "alg_not_allowed").await;
}

#[tokio::test]
async fn hs256_with_the_configured_secret_is_allowed() {
    let _logs = Capture::start();
    let secret = "a-development-secret-of-32-bytes!";
    let token = sign_raw(
        &json!({"alg": "HS256"}),
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(secret.as_bytes()),
    );
    assert_allowed(&token, &[("JWT_HMAC_SECRET", secret)]).await;
}

#[tokio::test]
async fn hs256_with_another_secret_is_bad_signature() {
    let _logs = Capture::start();
    let token = sign_raw(
        &json!({"alg": "HS256"}),
        &access_claims(),
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-another-secret-xx"),
    );
    assert_rejected_with(
        &format!("Bearer {token}"),
        "bad_signature",
        &[("JWT_HMAC_SECRET", "a-development-secret-of-32-bytes!")],
    )
    .await;
}

/// An internal issuer that signs HS256 with a shared secret, and the development issuer (an
/// OIDC issuer with RSA keys from its JWKS); `admins` may delete users.
const INTERNAL_ISSUER: &str = "https://internal.tollgate.invalid";
const INTERNAL_SECRET: &str = "internal-secret-of-at-least-32-bytes";

fn two_issuer_authorizer() -> Authorizer {
    let dir = std::env::temp_dir().join(format!("tollgate-hmac-scope-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("tollgate.toml");
    let text = format!(
        r#"
[[issuers]]
issuer = "{INTERNAL_ISSUER}"
audiences = ["internal-client"]
hmac_secret = "{INTERNAL_SECRET}"

[[issuers]]
issuer = "{ISSUER}"
audiences = ["{AUDIENCE}"]
jwks_file = "{jwks}"

[[routes]]
route = "DELETE /api/user/{{id}}"
groups = ["admins"]
"#,
        jwks = repo_path("events/jwks.json").display()
    );
    std::fs::write(&file, text).expect("write config");
    let config = config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("JWT_ISSUER", ""),
        ("JWT_AUDIENCE", ""),
        ("JWKS_URI", ""),
        ("REQUIRED_SCOPES", ""),
    ]);
    Authorizer::new(&config).expect("authorizer")
}

fn hs256_admin_token(iss: &str, aud: &str) -> String {
    sign_raw(
        &json!({"alg": "HS256", "typ": "JWT"}),
        &json!({"iss": iss, "aud": aud, "sub": "anyone", "cognito:groups": ["admins"], "exp": FAR_FUTURE}),
        Algorithm::HS256,
        &EncodingKey::from_secret(INTERNAL_SECRET.as_bytes()),
    )
}

async fn delete_user(authorizer: &Authorizer, token: &str) -> Outcome {
    let event = rest_request_event(
        json!({"Authorization": format!("Bearer {token}")}),
        json!({}),
        "DELETE",
        "/api/user/42",
    );
    authorizer.handle(event.to_string().as_bytes(), None).await
}

#[tokio::test]
async fn hs256_token_claiming_another_issuer_is_alg_not_allowed() {
    let _logs = Capture::start();
    let authorizer = two_issuer_authorizer();
    let out = delete_user(&authorizer, &hs256_admin_token(ISSUER, AUDIENCE)).await;
    assert_eq!(
        (out.decision.label(), out.decision.reason_code()),
        ("unauthorized", "alg_not_allowed")
    );
}

#[tokio::test]
async fn hs256_token_of_the_issuer_owning_the_secret_is_allowed() {
    let _logs = Capture::start();
    let authorizer = two_issuer_authorizer();
    let out = delete_user(
        &authorizer,
        &hs256_admin_token(INTERNAL_ISSUER, "internal-client"),
    )
    .await;
    assert_eq!(out.decision.reason_code(), "ok");
}

#[tokio::test]
async fn alg_outside_the_configured_list_is_alg_not_allowed() {
    let _logs = Capture::start();
    let token = sign(Algorithm::ES256, &access_claims());
    assert_rejected_with(
        &format!("Bearer {token}"),
        "alg_not_allowed",
        &[("JWT_ALGORITHMS", "RS256")],
    )
    .await;
}

#[tokio::test]
async fn es256_header_on_the_rsa_key_is_alg_key_mismatch() {
    let _logs = Capture::start();
    let header = json!({"alg": "ES256", "kid": RSA_KID});
    let token = sign_raw(
        &header,
        &access_claims(),
        Algorithm::ES256,
        &signing_key(Algorithm::ES256),
    );
    assert_rejected(&token, "alg_key_mismatch").await;
}

#[tokio::test]
async fn ps256_on_a_key_whose_own_alg_is_rs256_is_alg_key_mismatch() {
    let _logs = Capture::start();
    let header = json!({"alg": "PS256", "kid": RSA_KID});
    let token = sign_raw(
        &header,
        &access_claims(),
        Algorithm::PS256,
        &signing_key(Algorithm::PS256),
    );
    assert_rejected(&token, "alg_key_mismatch").await;
}

#[tokio::test]
async fn crit_header_is_crit_header() {
    let _logs = Capture::start();
    let mut header = rsa_header();
    header["crit"] = json!(["exp"]);
    assert_rejected(&rs256_with_header(header), "crit_header").await;
}

#[tokio::test]
async fn key_source_headers_are_untrusted_key_header() {
    let _logs = Capture::start();
    for (name, value) in [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        ("x5c", json!(["MIIB"])),
    ] {
        let mut header = rsa_header();
        header[name] = value;
        assert_rejected(&rs256_with_header(header), "untrusted_key_header").await;
    }
}

#[tokio::test]
async fn nested_jwt_is_nested_jwt() {
    let _logs = Capture::start();
    let mut header = rsa_header();
    header["cty"] = json!("JWT");
    assert_rejected(&rs256_with_header(header), "nested_jwt").await;
}

#[tokio::test]
async fn missing_kid_is_missing_kid() {
    let _logs = Capture::start();
    assert_rejected(&rs256_with_header(json!({"alg": "RS256"})), "missing_kid").await;
}

#[tokio::test]
async fn unknown_kid_is_unknown_kid() {
    let _logs = Capture::start();
    for kid in [
        "rotated-away",
        "../../etc/passwd",
        "' OR 1=1 --",
        &"k".repeat(4000),
    ] {
        assert_rejected(
            &rs256_with_header(json!({"alg": "RS256", "kid": kid})),
            "unknown_kid",
        )
        .await;
    }
}

#[tokio::test]
async fn signature_by_another_key_is_bad_signature() {
    let _logs = Capture::start();
    assert_rejected(
        &sign_raw(
            &rsa_header(),
            &access_claims(),
            Algorithm::RS256,
            &untrusted_rsa_key(),
        ),
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn tampered_payload_is_bad_signature() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let forged = b64(with(access_claims(), json!({"sub": "admin"}))
        .to_string()
        .as_bytes());
    assert_rejected(
        &format!("{}.{forged}.{}", parts[0], parts[2]),
        "bad_signature",
    )
    .await;
}

#[tokio::test]
async fn es256_signature_of_zeros_is_bad_signature() {
    let _logs = Capture::start();
    // CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    let t = sign(Algorithm::ES256, &access_claims());
    let input = t.rsplit_once('.').expect("dot").0;
    assert_rejected(&format!("{input}.{}", b64(&[0u8; 64])), "bad_signature").await;
}

#[tokio::test]
async fn empty_signature_is_bad_signature() {
    let _logs = Capture::start();
    let t = rs256(access_claims());
    let input = t.rsplit_once('.').expect("dot").0;
    assert_rejected(&format!("{input}."), "bad_signature").await;
}

// Claims

#[tokio::test]
async fn missing_exp_is_missing_claim() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"exp": null}))),
        "missing_claim",
    )
    .await;
}

#[tokio::test]
async fn missing_iss_is_missing_claim() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"iss": null}))),
        "missing_claim",
    )
    .await;
}

#[tokio::test]
async fn missing_sub_is_missing_claim() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"sub": null}))),
        "missing_claim",
    )
    .await;
}

#[tokio::test]
async fn past_exp_is_expired() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(
            access_claims(),
            json!({"exp": now() - 60, "iat": now() - 3600}),
        )),
        "expired",
    )
    .await;
}

#[tokio::test]
async fn exp_within_leeway_is_allowed() {
    let _logs = Capture::start();
    assert_allowed(
        &rs256(with(
            access_claims(),
            json!({"exp": now() - 2, "iat": now() - 3600}),
        )),
        &[],
    )
    .await;
}

#[tokio::test]
async fn leeway_is_configurable() {
    let _logs = Capture::start();
    let token = rs256(with(
        access_claims(),
        json!({"exp": now() - 60, "iat": now() - 3600}),
    ));
    assert_allowed(&token, &[("JWT_LEEWAY_SECONDS", "120")]).await;
}

#[tokio::test]
async fn nbf_and_iat_of_the_wrong_type_are_malformed_claims() {
    let _logs = Capture::start();
    for changes in [
        json!({"nbf": "yesterday"}),
        json!({"iat": "now"}),
        json!({"nbf": [1]}),
        json!({"iat": {"at": 1}}),
        json!({"iat": true}),
    ] {
        assert_rejected(&rs256(with(access_claims(), changes)), "malformed_claims").await;
    }
}

#[tokio::test]
async fn negative_and_far_future_dates_are_malformed_claims() {
    let _logs = Capture::start();
    for changes in [
        json!({"nbf": -1}),
        json!({"iat": -100}),
        json!({"exp": 1e300}),
    ] {
        assert_rejected(&rs256(with(access_claims(), changes)), "malformed_claims").await;
    }
}

#[tokio::test]
async fn token_in_another_header_is_no_token() {
    let _logs = Capture::start();
    let authorizer = Authorizer::new(&config_with(&[])).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    let token = rs256(access_claims());
    let event = rest_request_event(
        json!({"X-Token": format!("Bearer {token}"), "Authentication": format!("Bearer {token}")}),
        json!({}),
        "GET",
        "/api/user/profile",
    );
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(out.decision.reason_code(), "no_token");
}

#[tokio::test]
async fn future_nbf_is_not_yet_valid() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"nbf": now() + 3600}))),
        "not_yet_valid",
    )
    .await;
}

#[tokio::test]
async fn future_iat_is_issued_in_future() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"iat": now() + 3600}))),
        "issued_in_future",
    )
    .await;
}

#[tokio::test]
async fn issuer_with_trailing_slash_is_wrong_issuer() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"iss": format!("{ISSUER}/")}))),
        "wrong_issuer",
    )
    .await;
}

#[tokio::test]
async fn issuer_in_other_case_is_wrong_issuer() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"iss": ISSUER.to_uppercase()}))),
        "wrong_issuer",
    )
    .await;
}

#[tokio::test]
async fn aud_array_without_a_match_is_wrong_audience() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(id_claims(), json!({"aud": ["a", "b"]}))),
        "wrong_audience",
    )
    .await;
}

#[tokio::test]
async fn aud_array_with_a_match_is_allowed() {
    let _logs = Capture::start();
    let token = rs256(with(id_claims(), json!({"aud": ["a", AUDIENCE]})));
    assert_allowed(&token, &[("REQUIRED_SCOPES", "")]).await;
}

#[tokio::test]
async fn wrong_client_id_is_wrong_audience() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"client_id": "other"}))),
        "wrong_audience",
    )
    .await;
}

#[tokio::test]
async fn no_aud_and_no_client_id_is_wrong_audience() {
    let _logs = Capture::start();
    assert_rejected(
        &rs256(with(access_claims(), json!({"client_id": null}))),
        "wrong_audience",
    )
    .await;
}

#[tokio::test]
async fn id_token_where_access_is_required_is_wrong_token_use() {
    let _logs = Capture::start();
    let token = rs256(id_claims());
    assert_rejected_with(
        &format!("Bearer {token}"),
        "wrong_token_use",
        &[("JWT_TOKEN_USE", "access")],
    )
    .await;
}

#[tokio::test]
async fn access_token_where_access_is_required_is_allowed() {
    let _logs = Capture::start();
    assert_allowed(&rs256(access_claims()), &[("JWT_TOKEN_USE", "access")]).await;
}

// Scopes (RFC 6749 section 3.3: scope tokens are separated by %x20 only)

/// The decision for a valid token carrying `changes`, where `admin` is the required scope.
async fn decide_requiring_admin(changes: Value) -> Outcome {
    let token = rs256(with(access_claims(), changes));
    run_with(&format!("Bearer {token}"), &[("REQUIRED_SCOPES", "admin")]).await
}

#[tokio::test]
async fn scope_joined_by_other_whitespace_grants_neither_scope() {
    let _logs = Capture::start();
    for separator in ["\u{a0}", "\t", "\n", "\u{2003}", "\u{3000}"] {
        let out =
            decide_requiring_admin(json!({"scope": format!("profile{separator}admin")})).await;
        assert_eq!(
            (out.decision.label(), out.decision.reason_code()),
            ("deny", "route_not_permitted"),
            "separator {separator:?}"
        );
    }
}

#[tokio::test]
async fn scp_entry_joined_by_other_whitespace_grants_neither_scope() {
    let _logs = Capture::start();
    let out = decide_requiring_admin(json!({"scope": null, "scp": ["profile\u{a0}admin"]})).await;
    assert_eq!(out.decision.reason_code(), "route_not_permitted");
}

#[tokio::test]
async fn space_separated_scopes_are_each_granted() {
    let _logs = Capture::start();
    let out = decide_requiring_admin(json!({"scope": "profile  admin"})).await;
    assert_eq!(out.decision.reason_code(), "ok");
}

#[tokio::test]
async fn scope_tokens_outside_the_rfc_grammar_are_left_out_of_the_context() {
    let _logs = Capture::start();
    let out = decide_requiring_admin(json!({"scope": "admin profile\u{a0}admin api/\"x\""})).await;
    let Decision::Allow(grant) = &out.decision else {
        panic!("expected allow, got {:?}", out.decision);
    };
    assert_eq!(grant.context.scopes, "admin");
}

// Cannot decide

#[tokio::test]
async fn token_event_without_method_arn_is_a_500_error() {
    let _logs = Capture::start();
    let authorizer = Authorizer::new(&config_with(&[])).expect("authorizer");
    let event = json!({"type": "TOKEN", "authorizationToken": "Bearer x.y.z"});
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(out.decision.reason_code(), "malformed_event");
    let response = serde_json::to_value(out.response.expect_err("error")).expect("json");
    assert_eq!(
        response,
        json!({"errorType": "TollgateError", "errorMessage": "tollgate cannot decide: malformed_event"})
    );
}

#[tokio::test]
async fn a_claim_of_the_wrong_type_is_never_quoted_in_the_log() {
    // Found by the adversarial review: serde's message quoted the caller's string value.
    let logs = tollgate::log::Capture::start();
    let token = sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"exp": "CALLER-MARKER-exp"})),
    );
    let config = config_with(&[("REQUIRED_SCOPES", "")]);
    let authorizer = tollgate::handler::Authorizer::new(&config).expect("authorizer");
    authorizer.prefetch().await.unwrap();
    let event = rest_token_event(&format!("Bearer {token}"), "GET", "/x");
    let out = authorizer.handle(event.to_string().as_bytes(), None).await;
    assert_eq!(out.decision.reason_code(), "malformed_claims");
    assert!(!logs.text().contains("CALLER-MARKER"), "{}", logs.text());
}
