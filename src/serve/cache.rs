//! API Gateway's authorizer result cache: an answer is reused, whatever the route, for every
//! request whose identity-source values are the same, until its TTL runs out.
//!
//! Only answers are cached (a policy, or a simple response, Allow or Deny alike); a failed
//! invocation (401 or 500) is not. The cache is bounded: past its capacity the oldest entry
//! goes. Keys are SHA-256 digests of the identity-source values, so an entry's size does not
//! grow with what a caller puts in a header.

use std::sync::Arc;
use std::time::Duration;

use crate::bounded_cache::BoundedCache;
use crate::clock::Clock;

use super::verdict::Answer;

/// Entries kept at most (a 32-byte key and an answer of at most a few KB each).
pub const CAPACITY: usize = 4_096;

/// A cache key: the SHA-256 digest of the identity-source values, each source's values counted
/// and each value length-prefixed, so that no two different lists of values share a key (two
/// headers `A` and `B` are not one header `A,B`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of these values: one list per identity source, in order.
    pub fn of(sources: &[Vec<String>]) -> Self {
        let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let count = |n: usize| (n as u64).to_be_bytes();
        context.update(&count(sources.len()));
        for values in sources {
            context.update(&count(values.len()));
            for value in values {
                context.update(&count(value.len()));
                context.update(value.as_bytes());
            }
        }
        let mut key = [0; 32];
        key.copy_from_slice(context.finish().as_ref());
        CacheKey(key)
    }
}

/// The cache of authorizer answers, keyed by identity-source values.
#[derive(Debug)]
pub struct AuthorizerCache(BoundedCache<CacheKey, Arc<Answer>>);

impl AuthorizerCache {
    /// A cache whose answers live `ttl` (zero: nothing is cached).
    pub fn new(ttl: Duration, clock: Clock) -> Self {
        AuthorizerCache(BoundedCache::with_ttl(CAPACITY, ttl, clock))
    }

    /// The answer cached under `key`, if it is still within its TTL.
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Answer>> {
        self.0.get(key)
    }

    /// Caches an answer under `key` for the TTL.
    pub fn put(&self, key: CacheKey, answer: Arc<Answer>) {
        self.0.insert(key, answer);
    }

    /// How many answers are held (expired ones included until they make room).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no answer is held.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(values: &[&str]) -> CacheKey {
        CacheKey::of(
            &values
                .iter()
                .map(|v| vec![v.to_string()])
                .collect::<Vec<_>>(),
        )
    }

    fn answer() -> Arc<Answer> {
        Arc::new(Answer::Simple {
            authorized: true,
            context: serde_json::Map::new(),
        })
    }

    #[test]
    fn an_answer_is_served_within_its_ttl_and_not_after() {
        let clock = Clock::default();
        let cache = AuthorizerCache::new(Duration::from_secs(300), clock.clone());
        cache.put(key(&["t"]), answer());
        clock.advance(Duration::from_secs(299));
        assert!(cache.get(&key(&["t"])).is_some());
        clock.advance(Duration::from_secs(1));
        assert!(cache.get(&key(&["t"])).is_none());
    }

    #[test]
    fn ttl_zero_caches_nothing() {
        let cache = AuthorizerCache::new(Duration::ZERO, Clock::default());
        cache.put(key(&["t"]), answer());
        assert!(cache.get(&key(&["t"])).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn keys_differing_in_any_value_are_different_entries() {
        let cache = AuthorizerCache::new(Duration::from_secs(60), Clock::default());
        cache.put(key(&["t", "GET"]), answer());
        assert!(cache.get(&key(&["t", "POST"])).is_none());
        assert!(cache.get(&key(&["tGET"])).is_none());
        assert!(cache.get(&key(&["t", "GET"])).is_some());
    }

    #[test]
    fn repeated_values_and_one_joined_value_are_different_keys() {
        let two = CacheKey::of(&[vec!["Bearer T".into(), String::new()]]);
        let one = CacheKey::of(&[vec!["Bearer T,".into()]]);
        assert_ne!(two, one);
        let split = CacheKey::of(&[vec!["a".into()], vec!["b".into()]]);
        let merged = CacheKey::of(&[vec!["a".into(), "b".into()]]);
        assert_ne!(split, merged);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_capacity() {
        let cache = AuthorizerCache::new(Duration::from_secs(60), Clock::default());
        for i in 0..CAPACITY + 5 {
            cache.put(key(&[&i.to_string()]), answer());
        }
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get(&key(&["0"])).is_none(), "the oldest made room");
        assert!(cache.get(&key(&[&(CAPACITY + 4).to_string()])).is_some());
    }
}
