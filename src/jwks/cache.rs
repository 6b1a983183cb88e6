//! One issuer's keys over time, as held by a running authorizer.
//!
//! The cache holds the keys and when they expire; whether a fetch may start is the gate's
//! call, and the fetch itself is the fetcher's.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::fetch::{FetchError, Fetcher};
use super::gate::{Gate, Pause};
use super::key_set::KeySet;
use super::seed::{Seed, SeedError};
use super::{CachePolicy, JwksSource};
use crate::clock::Clock;
use crate::errors::{Reason, Rejection};
use crate::log;

/// One issuer's keys as held by a running authorizer.
///
/// Loaded at init (from the seed, else fetched), cached with a TTL from `Cache-Control`
/// (clamped), refetched at once when a token names an unknown `kid`; only a refetch that still
/// lacks the `kid` starts a cool-down, during which unknown `kid`s trigger no fetch. Concurrent
/// refetches share one fetch. When a refresh fails, the last good keys keep being
/// served up to the maximum staleness; with no usable keys the answer is `jwks_unavailable`.
pub struct KeyCache {
    /// The issuer as logs show it ([`log::redact_url`]).
    shown_issuer: String,
    seed: Option<Seed>,
    /// `None` when the keys come only from a seed.
    fetcher: Option<Fetcher>,
    policy: CachePolicy,
    clock: Clock,
    state: Mutex<CacheState>,
    fetch_lock: tokio::sync::Mutex<()>,
}

struct CacheState {
    keys: Option<Arc<KeySet>>,
    /// `None`: the keys never expire (a seed with no remote to refresh from).
    expiry: Option<Expiry>,
    gate: Gate,
    /// How many fetches have completed: a caller that queued behind one takes its result.
    generation: u64,
}

/// When keys loaded at one instant stop being fresh, and stop being served at all.
#[derive(Clone, Copy, Debug)]
struct Expiry {
    fresh_until: Instant,
    stale_until: Instant,
}

impl Expiry {
    /// Keys loaded at `loaded_at` with this TTL: fresh for the TTL, then served through
    /// failing refreshes for `max_stale` more.
    fn new(loaded_at: Instant, ttl: Duration, max_stale: Duration) -> Self {
        let fresh_until = loaded_at + ttl;
        Expiry {
            fresh_until,
            stale_until: fresh_until + max_stale,
        }
    }
}

/// Why no key with the token's `kid` is given (the detail never names the kid: it is caller
/// input).
enum KidMiss {
    /// The JWKS has no remote to refetch from.
    Static,
    /// A refetch is not allowed yet.
    Paused(Pause),
    /// The keys are fresh, and a refetch for the kid came back without it.
    AfterRefetch,
    /// The keys are fresh, and the refetch for the kid failed.
    RefetchFailed(FetchError),
    /// The keys had expired; the refreshed (or stale) keys lack the kid.
    AfterRefresh,
}

impl fmt::Display for KidMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KidMiss::Static => f.write_str("the JWKS is static"),
            KidMiss::Paused(pause) => pause.fmt(f),
            KidMiss::AfterRefetch => f.write_str("after a refetch"),
            KidMiss::RefetchFailed(e) => write!(f, "refetch failed: {e}"),
            KidMiss::AfterRefresh => f.write_str("after a refresh"),
        }
    }
}

impl From<KidMiss> for Rejection {
    fn from(miss: KidMiss) -> Self {
        Rejection::new(
            Reason::UnknownKid,
            format!("no key with the token's kid in the JWKS ({miss})"),
        )
    }
}

/// What a look-up that missed does next, as decided under the lock.
enum Lookup {
    /// Fresh keys lack the kid, and the gate lets it refetch.
    KidMiss { generation: u64 },
    /// No keys, or expired ones: refresh (unless the retry pause runs), else serve the keys
    /// still within their maximum staleness.
    Expired {
        generation: u64,
        stale: Option<Arc<KeySet>>,
        paused: Option<FetchError>,
    },
}

/// Why expired keys were not refreshed.
enum RefreshError {
    /// The last fetch failed and its retry pause still runs: not tried again.
    Paused(FetchError),
    /// The refresh failed.
    Failed(FetchError),
}

impl fmt::Display for RefreshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RefreshError::Paused(e) => write!(f, "{e} (retrying after a pause)"),
            RefreshError::Failed(e) => e.fmt(f),
        }
    }
}

/// The TTL for a response: `max-age` from `Cache-Control` (`no-cache`/`no-store` count as 0),
/// else the default, clamped to the policy's bounds.
pub fn ttl_from(cache_control: Option<&str>, policy: &CachePolicy) -> Duration {
    let mut ttl = None;
    for directive in cache_control.unwrap_or_default().split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-cache" || lower == "no-store" {
            ttl = Some(Duration::ZERO);
            break;
        }
        if let Some(secs) = lower
            .strip_prefix("max-age=")
            .and_then(|v| v.trim_matches('"').parse::<u64>().ok())
        {
            ttl = Some(Duration::from_secs(secs));
        }
    }
    ttl.unwrap_or(policy.default_ttl)
        .clamp(policy.min_ttl, policy.max_ttl)
}

impl KeyCache {
    /// A cache for `issuer`'s keys from `source`. Nothing is loaded until [`KeyCache::init`].
    pub fn new(
        issuer: &str,
        source: &JwksSource,
        policy: CachePolicy,
        client: Option<reqwest::Client>,
        clock: Clock,
    ) -> Self {
        KeyCache {
            shown_issuer: log::redact_url(issuer),
            seed: source.seed.clone(),
            fetcher: source
                .remote
                .clone()
                .map(|remote| Fetcher::new(issuer, remote, client, policy.max_bytes)),
            state: Mutex::new(CacheState {
                keys: None,
                expiry: None,
                gate: Gate::new(policy.refetch_cooldown, policy.retry_after_failure),
                generation: 0,
            }),
            policy,
            clock,
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many JWKS documents have been requested over the network so far.
    pub fn fetch_count(&self) -> usize {
        self.fetcher.as_ref().map_or(0, Fetcher::fetch_count)
    }

    /// Loads the keys at init: the seed without any network (then refreshes from the remote
    /// in the background), or else a fetch from the remote. Failures are logged, not fatal:
    /// requests retry, and fail closed with a 500 while no keys are held.
    pub async fn init(self: &Arc<Self>) {
        if self.fetcher.is_none() && self.state().keys.is_some() {
            return; // Loaded by `load_static`.
        }
        if let Some(seed) = &self.seed {
            match seed.load(self.policy.max_bytes) {
                Ok(set) => {
                    let now = self.clock.now();
                    let mut st = self.state();
                    st.keys = Some(Arc::new(set));
                    if self.fetcher.is_some() {
                        st.expiry = Some(Expiry::new(
                            now,
                            self.policy.default_ttl,
                            self.policy.max_stale,
                        ));
                    }
                    let generation = st.generation;
                    drop(st);
                    if self.fetcher.is_some() {
                        let cache = Arc::clone(self);
                        tokio::spawn(async move {
                            if let Some(fetcher) = &cache.fetcher {
                                let _ = cache.refresh(fetcher, generation).await;
                            }
                        });
                    }
                    return;
                }
                Err(e) => log::warn(
                    "jwks_seed_failed",
                    &format!("issuer {}: {e}", self.shown_issuer),
                ),
            }
        }
        if let Some(fetcher) = &self.fetcher {
            let generation = self.state().generation;
            let _ = self.refresh(fetcher, generation).await;
        }
    }

    /// Loads the keys of a JWKS that has no remote source (a file or inline seed only), at
    /// once and without network. With no remote to fall back on, a seed that cannot be read or
    /// holds no usable key would fail every request, so the caller stops start-up on the error.
    pub fn load_static(&self) -> Result<(), SeedError> {
        if self.fetcher.is_some() {
            return Ok(());
        }
        let seed = self.seed.as_ref().ok_or(SeedError::NoSource)?;
        let set = seed.load(self.policy.max_bytes)?;
        self.state().keys = Some(Arc::new(set));
        Ok(())
    }

    /// The key set holding `kid`, refetching within the rules above when it is missing.
    pub async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, Rejection> {
        let now = self.clock.now();
        // Decided under the lock, which is released before any fetch.
        let (fetcher, lookup) = {
            let st = self.state();
            let fresh = st.expiry.is_none_or(|expiry| now < expiry.fresh_until);
            let fresh_keys_lack_kid = match &st.keys {
                Some(keys) if fresh => {
                    if keys.get(kid).is_some() {
                        return Ok(Arc::clone(keys));
                    }
                    true
                }
                _ => false,
            };
            let Some(fetcher) = &self.fetcher else {
                return Err(if fresh_keys_lack_kid {
                    KidMiss::Static.into()
                } else {
                    Rejection::new(
                        Reason::JwksUnavailable,
                        format!("issuer {}: no keys could be loaded", self.shown_issuer),
                    )
                });
            };
            let lookup = if fresh_keys_lack_kid {
                st.gate.admit_kid_miss(now).map_err(KidMiss::Paused)?;
                Lookup::KidMiss {
                    generation: st.generation,
                }
            } else {
                Lookup::Expired {
                    generation: st.generation,
                    stale: st
                        .keys
                        .as_ref()
                        .filter(|_| st.expiry.is_some_and(|expiry| now < expiry.stale_until))
                        .map(Arc::clone),
                    paused: st.gate.backing_off(now).cloned(),
                }
            };
            (fetcher, lookup)
        };
        match lookup {
            Lookup::KidMiss { generation } => match self.refresh(fetcher, generation).await {
                Ok(keys) if keys.get(kid).is_some() => Ok(keys),
                Ok(_) => {
                    self.kid_still_missing();
                    Err(KidMiss::AfterRefetch.into())
                }
                Err(e) => Err(KidMiss::RefetchFailed(e).into()),
            },
            Lookup::Expired {
                generation,
                stale,
                paused,
            } => {
                let refreshed = match paused {
                    Some(e) => Err(RefreshError::Paused(e)),
                    None => self
                        .refresh(fetcher, generation)
                        .await
                        .map_err(RefreshError::Failed),
                };
                let fetched = refreshed.is_ok();
                let keys = match (refreshed, stale) {
                    (Ok(keys), _) => keys,
                    (Err(e), Some(stale)) => {
                        log::warn(
                            "jwks_serving_stale",
                            &format!("issuer {}: refresh failed: {e}", self.shown_issuer),
                        );
                        stale
                    }
                    (Err(e), None) => {
                        return Err(Rejection::new(
                            Reason::JwksUnavailable,
                            format!("issuer {}: {e}", self.shown_issuer),
                        ));
                    }
                };
                if keys.get(kid).is_some() {
                    Ok(keys)
                } else {
                    if fetched {
                        self.kid_still_missing();
                    }
                    Err(KidMiss::AfterRefresh.into())
                }
            }
        }
    }

    /// A fetch made for an unknown `kid` came back without it: the gate's cool-down starts.
    fn kid_still_missing(&self) {
        let now = self.clock.now();
        self.state().gate.kid_still_missing(now);
    }

    /// Fetches once for everyone: callers that queued behind a fetch which completed while they
    /// waited take its result instead of fetching again.
    async fn refresh(
        &self,
        fetcher: &Fetcher,
        seen_generation: u64,
    ) -> Result<Arc<KeySet>, FetchError> {
        let _single_flight = self.fetch_lock.lock().await;
        {
            let st = self.state();
            if st.generation != seen_generation {
                // A completed fetch either failed (its error is kept until a success) or
                // stored its keys.
                if let Some(e) = st.gate.last_error() {
                    return Err(e.clone());
                }
                if let Some(keys) = &st.keys {
                    return Ok(Arc::clone(keys));
                }
            }
        }
        let started = self.clock.now();
        let result = fetcher.fetch().await;
        let mut st = self.state();
        st.generation += 1;
        match result {
            Ok(fetched) => {
                let ttl = ttl_from(fetched.cache_control.as_deref(), &self.policy);
                let set = Arc::new(fetched.keys);
                let detail = format!("{} usable keys, cached for {} s", set.len(), ttl.as_secs());
                self.log_fetch("ok", &detail);
                st.keys = Some(Arc::clone(&set));
                st.expiry = Some(Expiry::new(started, ttl, self.policy.max_stale));
                st.gate.fetch_succeeded();
                Ok(set)
            }
            Err(e) => {
                self.log_fetch("error", &e.to_string());
                st.gate.fetch_failed(started, e.clone());
                Err(e)
            }
        }
    }

    fn log_fetch(&self, result: &'static str, detail: &str) {
        log::read(&log::ReadRecord {
            source: log::Source::Jwks,
            name: &self.shown_issuer,
            result,
            detail,
            figures: &[],
        });
    }
}
