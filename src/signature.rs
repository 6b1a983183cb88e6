//! Signature checks against keys parsed once, when the JWKS (or the secret) is loaded.
//!
//! The RSA modulus, the EC point or the Ed25519 key is turned into an aws-lc-rs
//! [`ParsedPublicKey`] for every algorithm the key may verify, so a request only pays for the
//! signature arithmetic itself: no per-request key parsing, no Montgomery set-up. HMAC secrets
//! become aws-lc-rs HMAC keys, compared in constant time.

use std::fmt;

use aws_lc_rs::error::KeyRejected;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    self, EcdsaVerificationAlgorithm, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents,
};
use jsonwebtoken::Algorithm;

/// Asymmetric algorithms accepted by default: RSA (PKCS#1 and PSS), ECDSA and EdDSA.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The HMAC algorithms, usable only with a configured shared secret.
pub const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// The longest signature any accepted algorithm makes: RSA with an 8192-bit modulus.
pub const MAX_SIGNATURE_BYTES: usize = 1024;

/// A key ready to check signatures, for each algorithm it admits.
#[derive(Clone)]
pub enum SignatureKey {
    /// A public key from the JWKS, parsed once per admitted algorithm.
    Public(Vec<(Algorithm, ParsedPublicKey)>),
    /// The configured shared secret, one HMAC key per HS* algorithm.
    Secret(Vec<(Algorithm, hmac::Key)>),
}

impl fmt::Debug for SignatureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, algs): (&str, Vec<Algorithm>) = match self {
            SignatureKey::Public(keys) => ("Public", keys.iter().map(|(a, _)| *a).collect()),
            SignatureKey::Secret(keys) => ("Secret", keys.iter().map(|(a, _)| *a).collect()),
        };
        // Never the key material.
        f.debug_tuple(kind).field(&algs).finish()
    }
}

/// Why a public key cannot be made ready to verify.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum KeyError {
    /// aws-lc refused the RSA modulus and exponent.
    RsaRejected(KeyRejected),
    /// An EC key was asked for an algorithm that is not ECDSA.
    NotEcdsa(Algorithm),
    /// An EC coordinate is not the curve's width, in bytes.
    EcWidth(usize),
    /// aws-lc refused the EC point (not on the curve, say).
    EcRejected(KeyRejected),
    /// An Ed25519 key is not 32 bytes.
    Ed25519Length,
    /// aws-lc refused the Ed25519 key.
    Ed25519Rejected(KeyRejected),
    /// None of the algorithms asked for can use the key.
    NoAlgorithm,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::RsaRejected(e) => write!(f, "RSA key rejected: {e}"),
            KeyError::NotEcdsa(alg) => write!(f, "{alg:?} is not ECDSA"),
            KeyError::EcWidth(width) => write!(f, "EC coordinates must be {width} bytes each"),
            KeyError::EcRejected(e) => write!(f, "EC key rejected: {e}"),
            KeyError::Ed25519Length => f.write_str("an Ed25519 key is 32 bytes"),
            KeyError::Ed25519Rejected(e) => write!(f, "Ed25519 key rejected: {e}"),
            KeyError::NoAlgorithm => f.write_str("the key admits none of its algorithms"),
        }
    }
}

impl std::error::Error for KeyError {}

fn rsa_parameters(alg: Algorithm) -> Option<&'static RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn ecdsa_algorithm(alg: Algorithm) -> Option<&'static EcdsaVerificationAlgorithm> {
    match alg {
        // JWS carries ECDSA signatures as fixed-width r || s (RFC 7518 §3.4).
        Algorithm::ES256 => Some(&signature::ECDSA_P256_SHA256_FIXED),
        Algorithm::ES384 => Some(&signature::ECDSA_P384_SHA384_FIXED),
        _ => None,
    }
}

impl SignatureKey {
    /// An RSA public key from its big-endian modulus and exponent, for each of `algs`
    /// (RS* and PS* only).
    pub fn rsa(n: &[u8], e: &[u8], algs: &[Algorithm]) -> Result<Self, KeyError> {
        let components = RsaPublicKeyComponents { n, e };
        let keys = algs
            .iter()
            .filter_map(|alg| rsa_parameters(*alg).map(|params| (*alg, params)))
            .map(|(alg, params)| {
                components
                    .to_parsed_public_key(params)
                    .map(|key| (alg, key))
                    .map_err(KeyError::RsaRejected)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::public(keys)
    }

    /// An EC public key from its affine coordinates, for ES256 (P-256) or ES384 (P-384).
    pub fn ec(x: &[u8], y: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        let algorithm = ecdsa_algorithm(alg).ok_or(KeyError::NotEcdsa(alg))?;
        let width = if alg == Algorithm::ES256 { 32 } else { 48 };
        if x.len() != width || y.len() != width {
            return Err(KeyError::EcWidth(width));
        }
        // SEC 1 uncompressed point: 0x04 || x || y. aws-lc checks that it is on the curve.
        let mut point = Vec::with_capacity(1 + 2 * width);
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        let key = ParsedPublicKey::new(algorithm, point).map_err(KeyError::EcRejected)?;
        Self::public(vec![(alg, key)])
    }

    /// An Ed25519 public key from its 32 raw bytes, for EdDSA.
    pub fn ed25519(x: &[u8]) -> Result<Self, KeyError> {
        if x.len() != 32 {
            return Err(KeyError::Ed25519Length);
        }
        let key =
            ParsedPublicKey::new(&signature::ED25519, x).map_err(KeyError::Ed25519Rejected)?;
        Self::public(vec![(Algorithm::EdDSA, key)])
    }

    /// The shared secret as HMAC keys for HS256, HS384 and HS512.
    pub fn secret(secret: &[u8]) -> Self {
        SignatureKey::Secret(vec![
            (Algorithm::HS256, hmac::Key::new(hmac::HMAC_SHA256, secret)),
            (Algorithm::HS384, hmac::Key::new(hmac::HMAC_SHA384, secret)),
            (Algorithm::HS512, hmac::Key::new(hmac::HMAC_SHA512, secret)),
        ])
    }

    fn public(keys: Vec<(Algorithm, ParsedPublicKey)>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoAlgorithm);
        }
        Ok(SignatureKey::Public(keys))
    }

    /// Whether this key can check signatures made with `alg`.
    pub fn admits(&self, alg: Algorithm) -> bool {
        match self {
            SignatureKey::Public(keys) => keys.iter().any(|(a, _)| *a == alg),
            SignatureKey::Secret(keys) => keys.iter().any(|(a, _)| *a == alg),
        }
    }

    /// Whether `signature` is a valid `alg` signature of `message` under this key. An
    /// algorithm the key does not admit never verifies.
    pub fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        match self {
            SignatureKey::Public(keys) => keys
                .iter()
                .find(|(a, _)| *a == alg)
                .is_some_and(|(_, key)| key.verify_sig(message, signature).is_ok()),
            SignatureKey::Secret(keys) => keys
                .iter()
                .find(|(a, _)| *a == alg)
                .is_some_and(|(_, key)| hmac::verify(key, message, signature).is_ok()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    };

    fn p256() -> (EcdsaKeyPair, SignatureKey) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref().to_vec();
        let key = SignatureKey::ec(&point[1..33], &point[33..], Algorithm::ES256).unwrap();
        (pair, key)
    }

    #[test]
    fn an_es256_signature_made_by_the_key_verifies() {
        let (pair, key) = p256();
        let sig = pair.sign(&SystemRandom::new(), b"input").unwrap();
        assert!(key.verifies(Algorithm::ES256, b"input", sig.as_ref()));
        assert!(!key.verifies(Algorithm::ES256, b"other", sig.as_ref()));
    }

    #[test]
    fn an_all_zero_ecdsa_signature_never_verifies() {
        let (_, key) = p256();
        assert!(!key.verifies(Algorithm::ES256, b"input", &[0u8; 64]));
    }

    #[test]
    fn a_key_never_verifies_an_algorithm_it_does_not_admit() {
        let (pair, key) = p256();
        let sig = pair.sign(&SystemRandom::new(), b"input").unwrap();
        assert!(!key.admits(Algorithm::ES384));
        assert!(!key.verifies(Algorithm::ES384, b"input", sig.as_ref()));
    }

    #[test]
    fn an_ec_point_off_the_curve_is_rejected_at_load() {
        let err = SignatureKey::ec(&[1u8; 32], &[2u8; 32], Algorithm::ES256)
            .unwrap_err()
            .to_string();
        assert!(err.contains("EC key rejected"), "{err}");
    }

    #[test]
    fn ec_coordinates_of_the_wrong_width_are_rejected_at_load() {
        let err = SignatureKey::ec(&[1u8; 31], &[2u8; 32], Algorithm::ES256)
            .unwrap_err()
            .to_string();
        assert!(err.contains("32 bytes"), "{err}");
    }

    #[test]
    fn an_ed25519_signature_made_by_the_key_verifies_and_a_short_key_is_rejected() {
        let rng = SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let key = SignatureKey::ed25519(pair.public_key().as_ref()).unwrap();
        let sig = pair.sign(b"input");
        assert!(key.verifies(Algorithm::EdDSA, b"input", sig.as_ref()));
        assert!(SignatureKey::ed25519(&[0u8; 31]).is_err());
    }

    #[test]
    fn an_rsa_modulus_that_is_not_a_key_is_rejected_at_load() {
        assert!(SignatureKey::rsa(&[], &[1, 0, 1], &[Algorithm::RS256]).is_err());
    }

    #[test]
    fn an_hmac_tag_verifies_only_under_its_own_algorithm() {
        let key = SignatureKey::secret(b"0123456789abcdef0123456789abcdef");
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, b"0123456789abcdef0123456789abcdef"),
            b"input",
        );
        assert!(key.verifies(Algorithm::HS256, b"input", tag.as_ref()));
        assert!(!key.verifies(Algorithm::HS384, b"input", tag.as_ref()));
        assert!(!key.verifies(Algorithm::HS256, b"input!", tag.as_ref()));
    }

    #[test]
    fn debug_output_names_the_algorithms_and_never_the_key() {
        let key = SignatureKey::secret(b"a-secret-that-must-not-be-printed-anywhere");
        let shown = format!("{key:?}");
        assert!(shown.contains("HS256"), "{shown}");
        assert!(!shown.contains("a-secret"), "{shown}");
    }
}
