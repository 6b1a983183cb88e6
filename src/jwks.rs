//! The issuer's signing keys: loaded from the JWKS, indexed by `kid`, ready to verify.
//!
//! Keys come only from the configured JWKS (never from a token's `jku`, `x5u`, `jwk` or `x5c`).
//! Each key is checked once, at load: keys meant for encryption, symmetric keys, unsupported
//! curves, RSA keys under 2048 bits and duplicate `kid`s are skipped with a log line, never a
//! panic. The document is fetched with bounded timeouts and a size cap.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use crate::config::JwksLocation;
use crate::errors::{Reason, Rejection};
use crate::log;

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 256 * 1024;
/// Time allowed to open a connection to the JWKS host.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for the whole JWKS request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Shortest RSA modulus accepted, in bytes (2048 bits).
pub const MIN_RSA_MODULUS_BYTES: usize = 256;

/// Which algorithms a key's type admits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// RSA: RS256/384/512 and PS256/384/512.
    Rsa,
    /// ECDSA on P-256: ES256.
    EcP256,
    /// ECDSA on P-384: ES384.
    EcP384,
    /// Ed25519: EdDSA.
    Ed25519,
}

impl KeyType {
    /// Whether a token signed with `alg` can be verified by a key of this type.
    pub fn fits(self, alg: Algorithm) -> bool {
        use Algorithm::*;
        match self {
            KeyType::Rsa => matches!(alg, RS256 | RS384 | RS512 | PS256 | PS384 | PS512),
            KeyType::EcP256 => alg == ES256,
            KeyType::EcP384 => alg == ES384,
            KeyType::Ed25519 => alg == EdDSA,
        }
    }
}

/// One usable public key from the JWKS.
#[derive(Clone)]
pub struct VerificationKey {
    /// The key's type, which bounds the algorithms it can verify.
    pub key_type: KeyType,
    /// The key's own `alg`, when the JWKS states one; the token's must then be the same.
    pub alg: Option<Algorithm>,
    /// The parsed key.
    pub key: DecodingKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("key_type", &self.key_type)
            .field("alg", &self.alg)
            .finish()
    }
}

/// The usable keys of one JWKS document, by `kid`.
///
/// ```
/// let jwks = br#"{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}"#;
/// // A symmetric key is never usable from a JWKS, so this set has no keys.
/// assert!(tollgate::jwks::KeySet::parse(jwks).is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct KeySet {
    keys: HashMap<String, VerificationKey>,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document, skipping (and logging) every key that cannot be used.
    /// A document with no usable key is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let doc: Document = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a JWKS document (an object with a `keys` array): {e}"))?;
        let mut keys = HashMap::new();
        for (index, value) in doc.keys.into_iter().enumerate() {
            match usable_key(value) {
                Ok((kid, key)) => match keys.entry(kid) {
                    Entry::Occupied(taken) => log::warn(
                        "jwks_key_skipped",
                        &format!(
                            "key {index}: duplicate kid {:?}; the first one is kept",
                            taken.key()
                        ),
                    ),
                    Entry::Vacant(slot) => {
                        slot.insert(key);
                    }
                },
                Err(why) => log::warn("jwks_key_skipped", &format!("key {index}: {why}")),
            }
        }
        if keys.is_empty() {
            return Err("the JWKS has no usable signing key".to_string());
        }
        Ok(KeySet { keys })
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerificationKey> {
        self.keys.get(kid)
    }

    /// How many usable keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

fn usable_key(value: serde_json::Value) -> Result<(String, VerificationKey), String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a valid JWK: {e}"))?;
    let kid = jwk.common.key_id.clone().ok_or("no kid")?;
    if let Some(usage) = &jwk.common.public_key_use
        && *usage != PublicKeyUse::Signature
    {
        return Err(format!("kid {kid:?}: `use` is not `sig`"));
    }
    let key_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = URL_SAFE_NO_PAD
                .decode(rsa.n.as_bytes())
                .map_err(|_| format!("kid {kid:?}: RSA modulus is not base64url"))?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(format!("kid {kid:?}: RSA key is shorter than 2048 bits"));
            }
            KeyType::Rsa
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyType::EcP256,
            EllipticCurve::P384 => KeyType::EcP384,
            _ => return Err(format!("kid {kid:?}: unsupported EC curve")),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            KeyType::Ed25519
        }
        AlgorithmParameters::OctetKeyPair(_) => {
            return Err(format!("kid {kid:?}: unsupported OKP curve"));
        }
        AlgorithmParameters::OctetKey(_) => {
            return Err(format!(
                "kid {kid:?}: symmetric keys are never taken from a JWKS"
            ));
        }
        _ => return Err(format!("kid {kid:?}: unsupported kty")),
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => {
            let alg = signature_algorithm(ka)
                .ok_or_else(|| format!("kid {kid:?}: `alg` is not a signature algorithm"))?;
            if !key_type.fits(alg) {
                return Err(format!(
                    "kid {kid:?}: `alg` {alg:?} does not fit the key type"
                ));
            }
            Some(alg)
        }
    };
    let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("kid {kid:?}: unusable key: {e}"))?;
    Ok((kid, VerificationKey { key_type, alg, key }))
}

fn signature_algorithm(ka: KeyAlgorithm) -> Option<Algorithm> {
    Some(match ka {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

/// The issuer's keys as held by a running authorizer: fetched at init, fetched again only
/// while no good set has been obtained.
pub struct Jwks {
    location: JwksLocation,
    client: reqwest::Client,
    current: RwLock<Option<Arc<KeySet>>>,
}

impl Jwks {
    /// A key holder for this location; nothing is fetched until [`Jwks::refresh`] or
    /// [`Jwks::keys`].
    pub fn new(location: JwksLocation) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Jwks {
            location,
            client,
            current: RwLock::new(None),
        })
    }

    /// Fetches the document and replaces the held keys with it.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, String> {
        let bytes = match &self.location {
            JwksLocation::File(path) => {
                let bytes = tokio::fs::read(path)
                    .await
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                if bytes.len() > MAX_JWKS_BYTES {
                    return Err(format!(
                        "{} is larger than {MAX_JWKS_BYTES} bytes",
                        path.display()
                    ));
                }
                bytes
            }
            JwksLocation::Url(url) => fetch_url(&self.client, url).await?,
        };
        let set = Arc::new(KeySet::parse(&bytes)?);
        if let Ok(mut current) = self.current.write() {
            *current = Some(Arc::clone(&set));
        }
        Ok(set)
    }

    /// The held keys, fetching them first if none are held. Failing to obtain any key is the
    /// 500-type `jwks_unavailable`, never a denial.
    pub async fn keys(&self) -> Result<Arc<KeySet>, Rejection> {
        let held = self.current.read().ok().and_then(|c| c.clone());
        match held {
            Some(set) => Ok(set),
            None => self.refresh().await.map_err(|e| {
                log::warn("jwks_fetch_failed", &e);
                Rejection::new(Reason::JwksUnavailable, e)
            }),
        }
    }
}

async fn fetch_url(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("cannot fetch {url}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{url} answered HTTP {}", response.status()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
    {
        return Err(format!("{url} is larger than {MAX_JWKS_BYTES} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("{url} is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_KEY: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

    #[test]
    fn ed25519_key_is_usable_for_eddsa_only() {
        let set = KeySet::parse(format!(r#"{{"keys":[{ED_KEY}]}}"#).as_bytes()).unwrap();
        let key = set.get("ed").unwrap();
        assert!(key.key_type.fits(Algorithm::EdDSA));
        assert!(!key.key_type.fits(Algorithm::RS256));
    }

    #[test]
    fn unusable_keys_are_skipped_not_fatal() {
        let doc = format!(
            r#"{{"keys":[{{"kty":"oct","kid":"s","k":"AAAA"}},{{"kty":"XYZ","kid":"x"}},{{"kid":"nokty"}},{ED_KEY}]}}"#
        );
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("s").is_none());
    }

    #[test]
    fn encryption_key_is_skipped() {
        let doc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::parse(doc.as_bytes()).is_err());
    }

    #[test]
    fn key_alg_that_contradicts_its_type_is_skipped() {
        let doc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::parse(doc.as_bytes()).is_err());
    }

    #[test]
    fn short_rsa_key_is_skipped() {
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 128]);
        let doc = format!(r#"{{"keys":[{{"kty":"RSA","kid":"r","n":"{n}","e":"AQAB"}}]}}"#);
        assert!(KeySet::parse(doc.as_bytes()).is_err());
    }

    #[test]
    fn non_jwks_document_is_an_error() {
        assert!(KeySet::parse(b"<html>").is_err());
        assert!(KeySet::parse(br#"{"keys":{}}"#).is_err());
    }
}
