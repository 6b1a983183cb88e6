//! The fixtures in `events/`, as `examples/make_fixtures.rs` writes them and
//! `tests/suite/fixtures.rs` checks them: the development JWKS, the development configuration and
//! one event per shape and failure case, signed with the DEVELOPMENT keys.
//!
//! ES256 signatures are randomized, so two runs never sign alike: [`equivalent`] tells a
//! fixture on disk that only differs by a still-valid signature from a changed one.

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Value, json};

use super::*;

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

/// `events/dev.env`.
pub fn dev_env_text() -> String {
    let env: String = dev_env()
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    format!(
        "# DEVELOPMENT configuration for the fixtures in events/ (keys in events/dev-keys/ are public).\n{env}"
    )
}

/// `events/dev-token.txt`: the development access token (user 123456, scopes `api/read` and
/// `api/write`, plan `pro`), for `curl` against `tollgate serve`. RS256 signatures are
/// deterministic, so the file never changes.
pub fn dev_token_text() -> String {
    sign(Algorithm::RS256, &access_claims()) + "\n"
}

/// Every JSON file of `events/` (name, content), the JWKS first.
pub fn all() -> Vec<(&'static str, Value)> {
    let mut fixtures = vec![("jwks.json", dev_jwks())];
    let mut add = |name: &'static str, value: &Value| fixtures.push((name, value.clone()));
    let access_rs = sign(Algorithm::RS256, &access_claims());
    let access_es = sign(Algorithm::ES256, &access_claims());
    let access_ed = sign(Algorithm::EdDSA, &access_claims());
    let no_read_scope = sign(
        Algorithm::RS256,
        &with(access_claims(), json!({"scope": "profile"})),
    );
    let expired = sign(
        Algorithm::RS256,
        &with(
            access_claims(),
            json!({"iat": 1_600_000_000u64, "exp": 1_600_003_600u64}),
        ),
    );
    let wrong_audience = sign(
        Algorithm::ES256,
        &with(access_claims(), json!({"client_id": "some-other-client"})),
    );
    let forged = {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": RSA_KID});
        sign_raw(
            &header,
            &access_claims(),
            Algorithm::RS256,
            &untrusted_rsa_key(),
        )
    };
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(access_claims().to_string().as_bytes())
    );
    let unknown_kid = {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": "rotated-away"});
        sign_raw(
            &header,
            &access_claims(),
            Algorithm::RS256,
            &signing_key(Algorithm::RS256),
        )
    };

    let profile = "/api/user/profile";
    add(
        "rest-token.allow.json",
        &rest_token_event(&bearer(&access_rs), "GET", profile),
    );
    add(
        "rest-token.expired.json",
        &rest_token_event(&bearer(&expired), "GET", profile),
    );
    add(
        "rest-token.alg-none.json",
        &rest_token_event(&bearer(&alg_none), "GET", profile),
    );
    add(
        "rest-token.bad-scheme.json",
        &rest_token_event(&format!("Basic {}", b64(b"alice:secret")), "GET", profile),
    );

    add(
        "rest-request.allow.json",
        &rest_request_event(
            json!({"Authorization": bearer(&access_es)}),
            json!({}),
            "GET",
            profile,
        ),
    );
    add(
        "rest-request.wrong-audience.json",
        &rest_request_event(
            json!({"Authorization": bearer(&wrong_audience)}),
            json!({}),
            "GET",
            profile,
        ),
    );
    add(
        "rest-request.no-token.json",
        &rest_request_event(json!({"Accept": "*/*"}), json!({}), "GET", profile),
    );
    add(
        "rest-request.denied.json",
        &rest_request_event(
            json!({"Authorization": bearer(&no_read_scope)}),
            json!({}),
            "POST",
            "/api/user/update",
        ),
    );

    add(
        "http-v1.allow.json",
        &http_v1_event(json!({"Authorization": bearer(&access_rs)}), "GET", profile),
    );
    add(
        "http-v1.unknown-kid.json",
        &http_v1_event(
            json!({"Authorization": bearer(&unknown_kid)}),
            "GET",
            profile,
        ),
    );

    let search = "/api/product/search";
    add(
        "http-v2.allow.json",
        &http_v2_event(json!({"authorization": bearer(&access_ed)}), "GET", search),
    );
    add(
        "http-v2.bad-signature.json",
        &http_v2_event(json!({"authorization": bearer(&forged)}), "GET", search),
    );
    add(
        "http-v2.denied.json",
        &http_v2_event(
            json!({"authorization": bearer(&no_read_scope)}),
            "GET",
            search,
        ),
    );

    add(
        "websocket-connect.allow.json",
        &websocket_connect_event(json!({"token": access_rs})),
    );
    add(
        "websocket-connect.no-token.json",
        &websocket_connect_event(json!({})),
    );

    // Not an authorizer event at all: a proxy integration request.
    add(
        "unknown-shape.json",
        &json!({"resource": "/api/user/profile", "path": "/api/user/profile", "httpMethod": "GET",
                "headers": {"Authorization": bearer(&access_rs)}, "requestContext": {"stage": "prod"}, "body": null}),
    );
    fixtures
}

/// Whether `old` (a fixture on disk) is `new` (as generated now) up to the signatures of its
/// tokens: a token may differ only in its signature, and only if the old signature still
/// verifies, under the development key its header names, for the very same header and
/// payload. Then keeping the old file changes nothing a test can see.
pub fn equivalent(old: &Value, new: &Value) -> bool {
    match (old, new) {
        (Value::String(a), Value::String(b)) => a == b || same_token_resigned(a, b),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| equivalent(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| equivalent(v, w)))
        }
        _ => old == new,
    }
}

/// `old` and `new` are the same text around one compact JWS (a bare token, or after a
/// scheme such as `Bearer `), with the same header and payload, and `old`'s signature is valid.
fn same_token_resigned(old: &str, new: &str) -> bool {
    let split = |s: &str| -> Option<(String, String, String)> {
        let (prefix, token) = s.rsplit_once(' ').unwrap_or(("", s));
        let (input, signature) = token.rsplit_once('.')?;
        Some((prefix.to_string(), input.to_string(), signature.to_string()))
    };
    match (split(old), split(new)) {
        (Some((old_prefix, old_input, old_sig)), Some((new_prefix, new_input, _))) => {
            old_prefix == new_prefix
                && old_input == new_input
                && input_has_two_segments(&old_input)
                && signature_verifies(&old_input, &old_sig)
        }
        _ => false,
    }
}

fn input_has_two_segments(input: &str) -> bool {
    input.split('.').count() == 2
}

/// Whether `signature` is a valid signature of `input` (`header.payload`) by the development
/// key the header's `kid` names, with the header's `alg`.
fn signature_verifies(input: &str, signature: &str) -> bool {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let Some(header) = input
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
    else {
        return false;
    };
    let (Some(kid), Some(alg)) = (
        header["kid"].as_str(),
        header["alg"]
            .as_str()
            .and_then(|a| a.parse::<Algorithm>().ok()),
    ) else {
        return false;
    };
    let jwks = dev_jwks();
    let Some(jwk) = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .and_then(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
    else {
        return false;
    };
    let Ok(key) = DecodingKey::from_jwk(&jwk) else {
        return false;
    };
    jsonwebtoken::crypto::verify(signature, input.as_bytes(), &key, alg).unwrap_or(false)
}
