//! Writes `events/`: the development JWKS, the development configuration and one fixture per
//! event shape and failure case, all signed with the DEVELOPMENT keys in `events/dev-keys/`.
//!
//! Run from the repository root: `cargo run --example make_fixtures`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

fn write(name: &str, value: &Value) {
    let path = repo_path(&format!("events/{name}"));
    let text = serde_json::to_string_pretty(value).expect("json") + "\n";
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    println!("wrote {}", path.display());
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn main() {
    write("jwks.json", &dev_jwks());
    let env: String = dev_env()
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect();
    let env = format!(
        "# DEVELOPMENT configuration for the fixtures in events/ (keys in events/dev-keys/ are public).\n{env}"
    );
    std::fs::write(repo_path("events/dev.env"), env).expect("write dev.env");

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
    write(
        "rest-token.allow.json",
        &rest_token_event(&bearer(&access_rs), "GET", profile),
    );
    write(
        "rest-token.expired.json",
        &rest_token_event(&bearer(&expired), "GET", profile),
    );
    write(
        "rest-token.alg-none.json",
        &rest_token_event(&bearer(&alg_none), "GET", profile),
    );
    write(
        "rest-token.bad-scheme.json",
        &rest_token_event(&format!("Basic {}", b64(b"alice:secret")), "GET", profile),
    );

    write(
        "rest-request.allow.json",
        &rest_request_event(
            json!({"Authorization": bearer(&access_es)}),
            json!({}),
            "GET",
            profile,
        ),
    );
    write(
        "rest-request.wrong-audience.json",
        &rest_request_event(
            json!({"Authorization": bearer(&wrong_audience)}),
            json!({}),
            "GET",
            profile,
        ),
    );
    write(
        "rest-request.no-token.json",
        &rest_request_event(json!({"Accept": "*/*"}), json!({}), "GET", profile),
    );
    write(
        "rest-request.denied.json",
        &rest_request_event(
            json!({"Authorization": bearer(&no_read_scope)}),
            json!({}),
            "POST",
            "/api/user/update",
        ),
    );

    write(
        "http-v1.allow.json",
        &http_v1_event(json!({"Authorization": bearer(&access_rs)}), "GET", profile),
    );
    write(
        "http-v1.unknown-kid.json",
        &http_v1_event(
            json!({"Authorization": bearer(&unknown_kid)}),
            "GET",
            profile,
        ),
    );

    let search = "/api/product/search";
    write(
        "http-v2.allow.json",
        &http_v2_event(json!({"authorization": bearer(&access_ed)}), "GET", search),
    );
    write(
        "http-v2.bad-signature.json",
        &http_v2_event(json!({"authorization": bearer(&forged)}), "GET", search),
    );
    write(
        "http-v2.denied.json",
        &http_v2_event(
            json!({"authorization": bearer(&no_read_scope)}),
            "GET",
            search,
        ),
    );

    write(
        "websocket-connect.allow.json",
        &websocket_connect_event(json!({"token": access_rs})),
    );
    write(
        "websocket-connect.no-token.json",
        &websocket_connect_event(json!({})),
    );

    // Not an authorizer event at all: a proxy integration request.
    write(
        "unknown-shape.json",
        &json!({"resource": "/api/user/profile", "path": "/api/user/profile", "httpMethod": "GET",
                "headers": {"Authorization": bearer(&access_rs)}, "requestContext": {"stage": "prod"}, "body": null}),
    );
}
