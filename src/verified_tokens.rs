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

use std::collections::{HashMap, VecDeque};
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
    pub keys: Option<(String, Arc<KeySet>)>,
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
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Box<str>, Remembered>,
    /// Tokens in the order they were remembered, oldest first.
    order: VecDeque<Box<str>>,
}

impl VerifiedTokens {
    /// A set that remembers at most `capacity` tokens (0: none).
    pub fn new(capacity: usize) -> Self {
        VerifiedTokens {
            capacity,
            inner: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What `token` (these exact bytes) was verified with, if it is remembered.
    pub fn recall(&self, token: &str) -> Option<Remembered> {
        if self.capacity == 0 {
            return None;
        }
        self.lock().entries.get(token).cloned()
    }

    /// Remembers a verified token, making room by forgetting the oldest.
    pub fn remember(&self, token: &str, remembered: Remembered) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.lock();
        if inner.entries.contains_key(token) {
            inner.entries.insert(token.into(), remembered);
            return;
        }
        while inner.entries.len() >= self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
        inner.order.push_back(token.into());
        inner.entries.insert(token.into(), remembered);
    }

    /// Forgets a token (its keys changed, or it expired).
    pub fn forget(&self, token: &str) {
        let mut inner = self.lock();
        if inner.entries.remove(token).is_some() {
            inner.order.retain(|t| &**t != token);
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
