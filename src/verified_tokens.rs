//! Tokens verified before, so that a token seen again skips the signature check.
//!
//! API Gateway sends the same token again for every route it has not cached yet, and for
//! every request when its cache is off. Like Envoy's `jwt_authn` `jwt_cache_config`, tollgate
//! keeps a bounded set of verified tokens, keyed by the exact token text. A remembered token is
//! still checked on every use: its `exp`, `nbf` and `iat` against the clock, and the key set it
//! was verified with against its issuer's current one: when the issuer's keys change (a key
//! rotated out of the JWKS), its tokens are verified afresh, and a token whose key is gone is
//! refused at once. Only verified tokens are remembered; a refusal is never cached. The oldest
//! entry makes room for a new one.
//!
//! Tokens are found by a keyed hash of their length and last bytes (the signature's, which no
//! two tokens share), then compared whole: a look-up does not hash the whole token, and since
//! only verified tokens get in, no caller can crowd a hash bucket.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

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
#[derive(Debug, Default)]
pub struct VerifiedTokens {
    capacity: usize,
    /// The key of the tokens' hash, random per process.
    keys: RandomState,
    inner: Mutex<Inner>,
}

/// How many trailing bytes of a token its hash covers (an RS256 signature has 342).
const HASHED_TAIL: usize = 32;

#[derive(Debug, Default)]
struct Inner {
    /// By the tokens' hash: the tokens with that hash (in practice one) and what each was
    /// verified with.
    entries: HashMap<u64, Bucket, BuildHasherDefault<AlreadyHashed>>,
    /// How many tokens `entries` holds.
    len: usize,
    /// Tokens in the order they were remembered, oldest first.
    order: VecDeque<Box<str>>,
}

/// The tokens that share one hash, each with what it was verified with.
type Bucket = Vec<(Box<str>, Remembered)>;

/// The hasher of a map whose keys are hashes already (keyed SipHash values).
#[derive(Default)]
struct AlreadyHashed(u64);

impl Hasher for AlreadyHashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

impl VerifiedTokens {
    /// A set that remembers at most `capacity` tokens (0: none).
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity,
            keys: RandomState::new(),
            inner: Mutex::default(),
        }
    }

    /// The token's hash: its length and its last bytes, under the process's random key.
    fn hash(&self, token: &str) -> u64 {
        let mut hasher = self.keys.build_hasher();
        hasher.write_usize(token.len());
        hasher.write(&token.as_bytes()[token.len().saturating_sub(HASHED_TAIL)..]);
        hasher.finish()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `token` (these exact bytes) was verified with, if it is remembered.
    pub fn recall(&self, token: &str) -> Option<Remembered> {
        if self.capacity == 0 {
            return None;
        }
        let hash = self.hash(token);
        self.lock()
            .entries
            .get(&hash)?
            .iter()
            .find(|(known, _)| &**known == token)
            .map(|(_, remembered)| remembered.clone())
    }

    /// Remembers a verified token, making room by forgetting the oldest.
    pub fn remember(&self, token: &str, remembered: Remembered) {
        if self.capacity == 0 {
            return;
        }
        let hash = self.hash(token);
        let mut inner = self.lock();
        if let Some(slot) = inner
            .entries
            .get_mut(&hash)
            .and_then(|bucket| bucket.iter_mut().find(|(known, _)| &**known == token))
        {
            slot.1 = remembered;
            return;
        }
        while inner.len >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            let oldest_hash = self.hash(&oldest);
            inner.remove(oldest_hash, &oldest);
        }
        inner.order.push_back(token.into());
        inner
            .entries
            .entry(hash)
            .or_default()
            .push((token.into(), remembered));
        inner.len += 1;
    }

    /// Forgets a token (its keys changed, or it expired).
    pub fn forget(&self, token: &str) {
        let hash = self.hash(token);
        let mut inner = self.lock();
        if inner.remove(hash, token) {
            inner.order.retain(|t| &**t != token);
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().len
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Inner {
    /// Removes `token` (whose hash is `hash`); whether it was there.
    fn remove(&mut self, hash: u64, token: &str) -> bool {
        let Some(bucket) = self.entries.get_mut(&hash) else {
            return false;
        };
        let Some(at) = bucket.iter().position(|(known, _)| &**known == token) else {
            return false;
        };
        bucket.swap_remove(at);
        if bucket.is_empty() {
            self.entries.remove(&hash);
        }
        self.len -= 1;
        true
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
