//! Fuzzes the token parser and verifier: any bytes as a compact JWS, checked against the
//! development JWKS and an HMAC secret. Besides "never panic", the oracle is a second opinion:
//! whatever tollgate accepts, jsonwebtoken must find correctly signed by the same key (the
//! fuzzer can splice a valid token back together from the seeds, but never forge one).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollgate::config::Config;
use tollgate::jwks::KeySet;
use tollgate::verify::{TrustedIssuer, Verifier};

const SECRET: &str = "DEV-ONLY-fuzzing-secret-0123456789abcdef";
const JWKS: &[u8] = include_bytes!("../../events/jwks.json");

struct Setup {
    verifier: Verifier,
    issuer: TrustedIssuer,
    keys: KeySet,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let config = Config::from_lookup(|name| {
        Some(
            match name {
                "JWT_ISSUER" => "https://dev-only.tollgate.invalid",
                "JWT_AUDIENCE" => "tollgate-dev-client",
                "JWT_ALGORITHMS" => "RS256,RS384,PS256,ES256,ES384,EdDSA,HS256,HS512",
                "JWT_HMAC_SECRET" => SECRET,
                _ => return None,
            }
            .to_string(),
        )
    })
    .expect("fuzz configuration");
    let keys = KeySet::parse(JWKS).expect("development JWKS");
    Setup {
        verifier: Verifier::new(&config.verifier_settings()),
        issuer: TrustedIssuer::new(config.issuers[0].policy()),
        keys,
    }
});

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let token = String::from_utf8_lossy(data);
    let verdict = setup
        .verifier
        .verify(&token, &setup.issuer, &setup.keys, 1_800_000_000);
    if verdict.is_ok() {
        assert!(
            signed_correctly(&token),
            "tollgate accepted a token jsonwebtoken finds forged: {verdict:?}"
        );
    }
});

/// jsonwebtoken's independent check of the signature with the key the header names.
fn signed_correctly(token: &str) -> bool {
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{DecodingKey, crypto};
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return false;
    };
    let key = match header.kid {
        None => DecodingKey::from_secret(SECRET.as_bytes()),
        Some(kid) => {
            let Ok(set) = serde_json::from_slice::<JwkSet>(JWKS) else {
                return false;
            };
            let Some(jwk) = set.find(&kid) else {
                return false;
            };
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                return false;
            };
            key
        }
    };
    let Some((message, signature)) = token.rsplit_once('.') else {
        return false;
    };
    crypto::verify(signature, message.as_bytes(), &key, header.alg).unwrap_or(false)
}
