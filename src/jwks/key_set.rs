//! One JWKS document into the keys tollgate can verify with, by `kid`.
//!
//! Each key is checked once, here: a key that cannot be used is skipped with a log line saying
//! why, never a panic, and never fatal to the other keys of its document.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily};
use serde::Deserialize;

use crate::log;
use crate::signature::{KeyError, SignatureKey};

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
        match self {
            KeyType::Rsa => alg.family() == AlgorithmFamily::Rsa,
            // jsonwebtoken's `Ec` family holds both ES256 and ES384; a key verifies only the
            // one of its own curve.
            KeyType::EcP256 => alg == Algorithm::ES256,
            KeyType::EcP384 => alg == Algorithm::ES384,
            KeyType::Ed25519 => alg.family() == AlgorithmFamily::Ed,
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
    /// The key, parsed for every algorithm it admits.
    pub key: SignatureKey,
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// Why a document gives no key set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySetError {
    /// Not a JSON object with a `keys` array (serde's reason).
    NotJwks(String),
    /// Every key of the document was skipped.
    NoUsableKey,
}

impl fmt::Display for KeySetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySetError::NotJwks(e) => write!(
                f,
                "not a JWKS document (an object with a `keys` array): {e}"
            ),
            KeySetError::NoUsableKey => f.write_str("the JWKS has no usable signing key"),
        }
    }
}

impl std::error::Error for KeySetError {}

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// Parses a JWKS document, skipping (and logging) every key that cannot be used.
    /// A document with no usable key is an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, KeySetError> {
        let doc: Document =
            serde_json::from_slice(bytes).map_err(|e| KeySetError::NotJwks(e.to_string()))?;
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
            return Err(KeySetError::NoUsableKey);
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

/// Why one key of a document is skipped (the log line's detail).
#[derive(Debug)]
enum SkippedKey {
    /// Not a JWK jsonwebtoken can read.
    NotJwk(String),
    /// A JWK without a `kid`, which no token could name.
    NoKid,
    /// A JWK with a `kid` that cannot verify tokens.
    Unusable { kid: String, why: Unusable },
}

/// What is wrong with a key that has a `kid`.
#[derive(Debug)]
enum Unusable {
    NotForSignatures,
    UnsupportedEcCurve,
    UnsupportedOkpCurve,
    Symmetric,
    UnsupportedKty,
    NotASignatureAlgorithm,
    AlgDoesNotFit(Algorithm),
    NotBase64Url(&'static str),
    ShortRsa,
    Rejected(KeyError),
}

impl fmt::Display for SkippedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkippedKey::NotJwk(e) => write!(f, "not a valid JWK: {e}"),
            SkippedKey::NoKid => f.write_str("no kid"),
            SkippedKey::Unusable { kid, why } => write!(f, "kid {kid:?}: {why}"),
        }
    }
}

impl fmt::Display for Unusable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unusable::NotForSignatures => f.write_str("`use` is not `sig`"),
            Unusable::UnsupportedEcCurve => f.write_str("unsupported EC curve"),
            Unusable::UnsupportedOkpCurve => f.write_str("unsupported OKP curve"),
            Unusable::Symmetric => f.write_str("symmetric keys are never taken from a JWKS"),
            Unusable::UnsupportedKty => f.write_str("unsupported kty"),
            Unusable::NotASignatureAlgorithm => f.write_str("`alg` is not a signature algorithm"),
            Unusable::AlgDoesNotFit(alg) => write!(f, "`alg` {alg:?} does not fit the key type"),
            Unusable::NotBase64Url(field) => write!(f, "`{field}` is not base64url"),
            Unusable::ShortRsa => f.write_str("RSA key is shorter than 2048 bits"),
            Unusable::Rejected(e) => write!(f, "unusable key: {e}"),
        }
    }
}

fn usable_key(value: serde_json::Value) -> Result<(String, VerificationKey), SkippedKey> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| SkippedKey::NotJwk(e.to_string()))?;
    let kid = jwk.common.key_id.clone().ok_or(SkippedKey::NoKid)?;
    match checked_key(&jwk) {
        Ok(key) => Ok((kid, key)),
        Err(why) => Err(SkippedKey::Unusable { kid, why }),
    }
}

/// A key's own `alg` as a JWS signature algorithm: jsonwebtoken's conversion, less the HMAC
/// algorithms (which it converts too, and which a JWKS key must never be used for).
fn signature_algorithm(ka: KeyAlgorithm) -> Option<Algorithm> {
    Algorithm::try_from(ka)
        .ok()
        .filter(|alg| alg.family() != AlgorithmFamily::Hmac)
}

fn checked_key(jwk: &Jwk) -> Result<VerificationKey, Unusable> {
    if let Some(usage) = &jwk.common.public_key_use
        && *usage != PublicKeyUse::Signature
    {
        return Err(Unusable::NotForSignatures);
    }
    let key_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => KeyType::Rsa,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyType::EcP256,
            EllipticCurve::P384 => KeyType::EcP384,
            _ => return Err(Unusable::UnsupportedEcCurve),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            KeyType::Ed25519
        }
        AlgorithmParameters::OctetKeyPair(_) => return Err(Unusable::UnsupportedOkpCurve),
        AlgorithmParameters::OctetKey(_) => return Err(Unusable::Symmetric),
        _ => return Err(Unusable::UnsupportedKty),
    };
    let alg = match jwk.common.key_algorithm {
        None => None,
        Some(ka) => {
            let alg = signature_algorithm(ka).ok_or(Unusable::NotASignatureAlgorithm)?;
            if !key_type.fits(alg) {
                return Err(Unusable::AlgDoesNotFit(alg));
            }
            Some(alg)
        }
    };
    let bytes = |field: &'static str, b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64.as_bytes())
            .map_err(|_| Unusable::NotBase64Url(field))
    };
    // Parse once, for every algorithm the key may verify (only its own `alg` when stated).
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = bytes("n", &rsa.n)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(Unusable::ShortRsa);
            }
            let own;
            let algs: &[Algorithm] = match alg {
                Some(alg) => {
                    own = [alg];
                    &own
                }
                // Without its own `alg`, an RSA key admits every RSA algorithm.
                None => AlgorithmFamily::Rsa.algorithms(),
            };
            SignatureKey::rsa(&n, &bytes("e", &rsa.e)?, algs)
        }
        AlgorithmParameters::EllipticCurve(ec) => {
            let alg = if key_type == KeyType::EcP256 {
                Algorithm::ES256
            } else {
                Algorithm::ES384
            };
            SignatureKey::ec(&bytes("x", &ec.x)?, &bytes("y", &ec.y)?, alg)
        }
        AlgorithmParameters::OctetKeyPair(okp) => SignatureKey::ed25519(&bytes("x", &okp.x)?),
        _ => return Err(Unusable::UnsupportedKty),
    }
    .map_err(Unusable::Rejected)?;
    Ok(VerificationKey { key_type, alg, key })
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
        let logs = log::Capture::start();
        let doc = format!(
            r#"{{"keys":[{{"kty":"oct","kid":"s","k":"AAAA"}},{{"kty":"XYZ","kid":"x"}},{{"kid":"nokty"}},{ED_KEY}]}}"#
        );
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.get("s").is_none());
        let skipped: Vec<_> = logs
            .of("jwks_key_skipped")
            .iter()
            .map(|line| line["detail"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(
            skipped,
            [
                "key 0: kid \"s\": symmetric keys are never taken from a JWKS",
                "key 1: kid \"x\": unsupported kty",
                "key 2: kid \"nokty\": unsupported kty",
            ]
        );
        assert!(logs.lines().iter().all(|line| line["level"] == "warn"));
    }

    #[test]
    fn encryption_key_is_skipped() {
        let logs = log::Capture::start();
        let doc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::parse(doc.as_bytes()).is_err());
        assert_eq!(logs.events(), ["jwks_key_skipped"]);
    }

    #[test]
    fn key_alg_that_contradicts_its_type_is_skipped() {
        let logs = log::Capture::start();
        let doc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::parse(doc.as_bytes()).is_err());
        assert_eq!(logs.events(), ["jwks_key_skipped"]);
    }

    #[test]
    fn key_with_an_hmac_alg_is_skipped_as_not_a_signature_algorithm() {
        let logs = log::Capture::start();
        let doc = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","alg":"HS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        assert!(KeySet::parse(doc.as_bytes()).is_err());
        let skipped = logs.of("jwks_key_skipped");
        assert_eq!(
            skipped[0]["detail"],
            "key 0: kid \"e\": `alg` is not a signature algorithm"
        );
    }

    #[test]
    fn rsa_key_without_its_own_alg_admits_every_rsa_algorithm_and_nothing_else() {
        let n = URL_SAFE_NO_PAD.encode({
            let mut n = [0xc5u8; 256];
            n[255] = 0x01;
            n
        });
        let doc = format!(r#"{{"keys":[{{"kty":"RSA","kid":"r","n":"{n}","e":"AQAB"}}]}}"#);
        let set = KeySet::parse(doc.as_bytes()).unwrap();
        let key = &set.get("r").unwrap().key;
        for alg in AlgorithmFamily::Rsa.algorithms() {
            assert!(key.admits(*alg), "{alg:?}");
        }
        assert!(!key.admits(Algorithm::ES256));
        assert!(!key.admits(Algorithm::HS256));
    }

    #[test]
    fn short_rsa_key_is_skipped() {
        let logs = log::Capture::start();
        let n = URL_SAFE_NO_PAD.encode([0xc5u8; 128]);
        let doc = format!(r#"{{"keys":[{{"kty":"RSA","kid":"r","n":"{n}","e":"AQAB"}}]}}"#);
        assert!(KeySet::parse(doc.as_bytes()).is_err());
        assert_eq!(logs.events(), ["jwks_key_skipped"]);
    }

    #[test]
    fn non_jwks_document_is_an_error() {
        assert!(KeySet::parse(b"<html>").is_err());
        assert!(KeySet::parse(br#"{"keys":{}}"#).is_err());
    }
}
