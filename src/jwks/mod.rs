//! The issuer's signing keys: loaded from the JWKS, indexed by `kid`, ready to verify.
//!
//! Keys come only from the configured JWKS (never from a token's `jku`, `x5u`, `jwk` or `x5c`).
//! The room is split the way Envoy's jwt_authn splits it, with aws-jwt-verify's penalty box:
//!
//! - `key_set`: one JWKS document into usable keys. Each key is checked once, at load: keys
//!   meant for encryption, symmetric keys, unsupported curves, RSA keys under 2048 bits and
//!   duplicate `kid`s are skipped with a log line, never a panic.
//! - `seed`: keys available without network (a file or an inline document).
//! - `fetch`: OIDC discovery and the HTTP fetch, with bounded timeouts and size.
//! - `gate`: the one place that decides whether a fetch may start now (the cool-down after a
//!   refetch that still lacked an unknown `kid`, the pause after a failed fetch).
//! - `cache`: [`KeyCache`], one issuer's keys over time: seed or fetch at init, TTL from
//!   `Cache-Control`, an immediate refetch on an unknown `kid`, stale keys through outages,
//!   one shared fetch for concurrent misses.

mod cache;
mod fetch;
mod gate;
mod key_set;
mod seed;

use std::time::Duration;

pub use cache::{KeyCache, ttl_from};
pub use fetch::{ClientError, FetchError, Remote, http_client};
pub use key_set::{KeySet, KeySetError, KeyType, MIN_RSA_MODULUS_BYTES, VerificationKey};
pub use seed::{Seed, SeedError};

/// Where an issuer's keys come from: a seed (no network), a remote source, or both (cold start
/// from the seed, refresh from the remote in the background).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JwksSource {
    /// Keys loaded at init without network.
    pub seed: Option<Seed>,
    /// Keys fetched, cached and refreshed.
    pub remote: Option<Remote>,
}

/// How JWKS documents are fetched and cached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    /// TTL when the response has no usable `Cache-Control: max-age`.
    pub default_ttl: Duration,
    /// Shortest TTL, whatever `Cache-Control` says (also for `no-cache`/`no-store`).
    pub min_ttl: Duration,
    /// Longest TTL, whatever `Cache-Control` says.
    pub max_ttl: Duration,
    /// After a refetch for an unknown `kid` that still lacks it, no token with an unknown `kid`
    /// triggers a new fetch for this long (aws-jwt-verify's penalty box). Other fetches (at
    /// init, on TTL expiry, or a refetch that found its `kid`) start no cool-down.
    pub refetch_cooldown: Duration,
    /// After a failed fetch, no new fetch for this long (requests fail or use stale keys).
    pub retry_after_failure: Duration,
    /// How long past their TTL the last good keys are served while refreshes fail.
    pub max_stale: Duration,
    /// Time allowed to connect to the JWKS host.
    pub connect_timeout: Duration,
    /// Time allowed for a whole fetch.
    pub timeout: Duration,
    /// Largest document accepted, in bytes.
    pub max_bytes: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            default_ttl: Duration::from_secs(3600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
            refetch_cooldown: Duration::from_secs(10),
            retry_after_failure: Duration::from_secs(1),
            max_stale: Duration::from_secs(6 * 3600),
            connect_timeout: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
            max_bytes: 256 * 1024,
        }
    }
}
