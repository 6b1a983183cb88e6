//! One bounded cache for every remembered thing: API Gateway's emulated result cache, the
//! verified tokens and the access step's proven policies.
//!
//! A cache holds at most its capacity; past it, the entry remembered longest ago makes room
//! (an entry stored again counts from its new storing). With a TTL an entry is served only
//! while younger than it (expired entries still count until they make room). A capacity or TTL
//! of zero caches nothing. It is safe to share between threads; values are handed out as
//! clones (an `Arc`, or a small struct of them), so a look-up holds the lock only to find it.
//!
//! Look-ups take any borrowed form of the key ([`Borrow`]), so a key whose `Hash` covers only
//! part of it (the verified tokens') is found without building one.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::clock::Clock;

/// A bounded, thread-safe map from `K` to `V`, oldest-first eviction, optional TTL.
///
/// ```
/// use tollgate::bounded_cache::BoundedCache;
/// let cache = BoundedCache::new(2);
/// cache.insert("a", 1);
/// cache.insert("b", 2);
/// cache.insert("c", 3);
/// assert_eq!(cache.get("a"), None, "the oldest made room");
/// assert_eq!(cache.get("c"), Some(3));
/// assert_eq!(cache.len(), 2);
/// ```
pub struct BoundedCache<K, V> {
    capacity: usize,
    ttl: Option<(Duration, Clock)>,
    slots: Mutex<Slots<K, V>>,
}

struct Slots<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Keys in the order they were stored, oldest first, with the storing they record: a slot
    /// whose storing is not its entry's any more (stored again, or removed) is stale.
    order: VecDeque<(u64, K)>,
    /// The next storing's number.
    next: u64,
}

struct Entry<V> {
    storing: u64,
    /// When it was stored, for a cache with a TTL.
    stored_at: Option<Instant>,
    value: V,
}

impl<K, V> fmt::Debug for BoundedCache<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedCache")
            .field("capacity", &self.capacity)
            .field("ttl", &self.ttl.as_ref().map(|(ttl, _)| ttl))
            .field("len", &self.lock().entries.len())
            .finish()
    }
}

impl<K, V> BoundedCache<K, V> {
    fn lock(&self) -> MutexGuard<'_, Slots<K, V>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<K: Hash + Eq + Clone, V: Clone> BoundedCache<K, V> {
    /// A cache of at most `capacity` entries, kept until they make room.
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            capacity,
            ttl: None,
            slots: Mutex::new(Slots {
                entries: HashMap::new(),
                order: VecDeque::new(),
                next: 0,
            }),
        }
    }

    /// A cache of at most `capacity` entries, each served for `ttl` after it was stored, by
    /// `clock`.
    pub fn with_ttl(capacity: usize, ttl: Duration, clock: Clock) -> Self {
        BoundedCache {
            ttl: Some((ttl, clock)),
            ..Self::new(if ttl.is_zero() { 0 } else { capacity })
        }
    }

    /// The value stored under `key`, if it is there (and, with a TTL, not expired).
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if self.capacity == 0 {
            return None;
        }
        let now = self.ttl.as_ref().map(|(_, clock)| clock.now());
        let slots = self.lock();
        let entry = slots.entries.get(key)?;
        match (&self.ttl, now, entry.stored_at) {
            (Some((ttl, _)), Some(now), Some(stored))
                if now.saturating_duration_since(stored) >= *ttl =>
            {
                None
            }
            _ => Some(entry.value.clone()),
        }
    }

    /// Stores `value` under `key` (replacing what was there, which then counts as stored
    /// now), making room by dropping the entry stored longest ago.
    pub fn insert(&self, key: K, value: V) {
        if self.capacity == 0 {
            return;
        }
        let stored_at = self.ttl.as_ref().map(|(_, clock)| clock.now());
        let mut slots = self.lock();
        let Slots {
            entries,
            order,
            next,
        } = &mut *slots;
        let storing = *next;
        *next += 1;
        if !entries.contains_key(&key) {
            while entries.len() >= self.capacity {
                let Some((recorded, oldest)) = order.pop_front() else {
                    break;
                };
                if entries.get(&oldest).is_some_and(|e| e.storing == recorded) {
                    entries.remove(&oldest);
                }
            }
        }
        // Keys stored again or removed leave stale slots behind: compact before the queue
        // grows past twice the capacity.
        if order.len() >= 2 * self.capacity {
            order.retain(|(recorded, k)| entries.get(k).is_some_and(|e| e.storing == *recorded));
        }
        order.push_back((storing, key.clone()));
        entries.insert(
            key,
            Entry {
                storing,
                stored_at,
                value,
            },
        );
    }

    /// Removes the entry under `key`; whether there was one.
    pub fn remove<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.lock().entries.remove(key).is_some()
    }

    /// How many entries are held (expired ones included until they make room).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_stored_again_counts_from_its_new_storing() {
        let cache = BoundedCache::new(2);
        cache.insert("a", 1);
        cache.insert("b", 2);
        cache.insert("a", 3);
        cache.insert("c", 4);
        assert_eq!(cache.get("b"), None, "b was stored longest ago");
        assert_eq!(cache.get("a"), Some(3));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn removed_and_restored_keys_never_grow_the_queue_past_twice_the_capacity() {
        let cache = BoundedCache::new(4);
        for i in 0..1_000 {
            cache.insert(i % 3, i);
            if i % 7 == 0 {
                cache.remove(&(i % 3));
            }
            assert!(cache.lock().order.len() <= 8);
        }
        assert!(cache.len() <= 3);
    }

    #[test]
    fn an_entry_expires_at_its_ttl() {
        let clock = Clock::default();
        let cache = BoundedCache::with_ttl(4, Duration::from_secs(10), clock.clone());
        cache.insert("a", 1);
        clock.advance(Duration::from_secs(9));
        assert_eq!(cache.get("a"), Some(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(cache.get("a"), None);
        assert_eq!(cache.len(), 1, "held until it makes room");
    }

    #[test]
    fn zero_capacity_or_ttl_caches_nothing() {
        let none = BoundedCache::new(0);
        none.insert("a", 1);
        assert!(none.is_empty());
        let instant = BoundedCache::with_ttl(4, Duration::ZERO, Clock::default());
        instant.insert("a", 1);
        assert_eq!(instant.get("a"), None);
        assert!(instant.is_empty());
    }
}
