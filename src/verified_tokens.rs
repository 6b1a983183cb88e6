//! Tokens verified before, so that a token seen again skips the signature check.
//!
//! API Gateway sends the same token again for every route it has not cached yet, and for
//! every request when its cache is off. Like Envoy's `jwt_authn` `jwt_cache_config`, tollgate
//! keeps a bounded set of verified tokens, keyed by the exact token text. A remembered token is
//! still checked on every use: its `exp`, `nbf` and `iat` against the clock, and the key set it
//! was verified with against its issuer's current one: when the issuer's keys change (a key
//! rotated out of the JWKS), its tokens are verified afresh, and a token whose key is gone is
//! refused at once. Only verified tokens are remembered; a refusal is never cached. The oldest
//! entry (a token remembered again counts from then) makes room for a new one
//! ([`crate::bounded_cache`]).
//!
//! Tokens are found by a keyed hash of their length and last bytes (the signature's, which no
//! two tokens share), then compared whole: a look-up does not hash the whole token, and since
//! only verified tokens get in, no caller can crowd a hash bucket.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::bounded_cache::BoundedCache;
use crate::jwks::KeySet;
use crate::verify::VerifiedClaims;

/// Tokens remembered at most by default.
pub const DEFAULT_CAPACITY: usize = 1024;

/// What a remembered token was verified with.
#[derive(Clone, Debug)]
pub struct Remembered {
    /// The token's verified claims (their validity window included).
    pub claims: Arc<VerifiedClaims>,
    /// The `kid` and key set the signature was checked against; `None` for a shared secret,
    /// which does not change while tollgate runs.
    pub keys: Option<(Arc<str>, Arc<KeySet>)>,
}

/// A bounded set of verified tokens.
///
/// ```
/// use std::sync::Arc;
/// use tollgate::verified_tokens::{Remembered, VerifiedTokens};
/// use tollgate::verify::VerifiedClaims;
/// let tokens = VerifiedTokens::new(1);
/// let claims = Arc::new(VerifiedClaims { sub: "u".into(), ..Default::default() });
/// tokens.remember("a.b.c", Remembered { claims: claims.clone(), keys: None });
/// assert!(tokens.recall("a.b.c").is_some());
/// assert!(tokens.recall("a.b.d").is_none());
/// tokens.remember("x.y.z", Remembered { claims, keys: None });
/// assert!(tokens.recall("a.b.c").is_none(), "the oldest made room");
/// ```
#[derive(Debug)]
pub struct VerifiedTokens(BoundedCache<TokenKey, Remembered>);

impl Default for VerifiedTokens {
    fn default() -> Self {
        VerifiedTokens::new(0)
    }
}

/// How many trailing bytes of a token its hash covers (an RS256 signature has 342).
const HASHED_TAIL: usize = 32;

/// A remembered token's text: hashed (under the cache's per-process random key) by its length
/// and last bytes, compared whole.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TokenKey(Box<str>);

/// A token's text however it is held, so that a look-up by `&str` needs no [`TokenKey`].
trait TokenText {
    fn text(&self) -> &str;
}

impl TokenText for TokenKey {
    fn text(&self) -> &str {
        &self.0
    }
}

impl TokenText for &str {
    fn text(&self) -> &str {
        self
    }
}

impl Hash for dyn TokenText + '_ {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        let token = self.text();
        hasher.write_usize(token.len());
        hasher.write(&token.as_bytes()[token.len().saturating_sub(HASHED_TAIL)..]);
    }
}

impl PartialEq for dyn TokenText + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.text() == other.text()
    }
}

impl Eq for dyn TokenText + '_ {}

impl Hash for TokenKey {
    fn hash<H: Hasher>(&self, hasher: &mut H) {
        (self as &dyn TokenText).hash(hasher);
    }
}

impl<'a> Borrow<dyn TokenText + 'a> for TokenKey {
    fn borrow(&self) -> &(dyn TokenText + 'a) {
        self
    }
}

impl VerifiedTokens {
    /// A set that remembers at most `capacity` tokens (0: none).
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens(BoundedCache::new(capacity))
    }

    /// What `token` (these exact bytes) was verified with, if it is remembered.
    pub fn recall(&self, token: &str) -> Option<Remembered> {
        self.0.get(&token as &dyn TokenText)
    }

    /// Remembers a verified token, making room by forgetting the oldest.
    pub fn remember(&self, token: &str, remembered: Remembered) {
        self.0.insert(TokenKey(token.into()), remembered);
    }

    /// Forgets a token (its keys changed, or it expired).
    pub fn forget(&self, token: &str) {
        self.0.remove(&token as &dyn TokenText);
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remembered(sub: &str) -> Remembered {
        Remembered {
            claims: Arc::new(VerifiedClaims {
                sub: sub.into(),
                ..Default::default()
            }),
            keys: None,
        }
    }

    #[test]
    fn tokens_sharing_length_and_tail_are_told_apart() {
        let tail = "s".repeat(HASHED_TAIL);
        let (a, b) = (format!("a.x.{tail}"), format!("b.x.{tail}"));
        let tokens = VerifiedTokens::new(4);
        tokens.remember(&a, remembered("a"));
        tokens.remember(&b, remembered("b"));
        assert_eq!(tokens.len(), 2);
        assert_eq!(
            tokens.recall(&a).map(|r| r.claims.sub.clone()).as_deref(),
            Some("a")
        );
        assert_eq!(
            tokens.recall(&b).map(|r| r.claims.sub.clone()).as_deref(),
            Some("b")
        );
        tokens.forget(&a);
        assert!(tokens.recall(&a).is_none());
        assert!(tokens.recall(&b).is_some());
        assert_eq!(tokens.len(), 1);
    }

    #[test]
    fn remembering_a_token_again_replaces_it_without_growing() {
        let tokens = VerifiedTokens::new(2);
        tokens.remember("a.b.c", remembered("first"));
        tokens.remember("a.b.c", remembered("second"));
        assert_eq!(tokens.len(), 1);
        assert_eq!(
            tokens
                .recall("a.b.c")
                .map(|r| r.claims.sub.clone())
                .as_deref(),
            Some("second")
        );
    }
}
