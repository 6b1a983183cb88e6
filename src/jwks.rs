//! The issuer's signing keys: loaded from the JWKS, indexed by `kid`, ready to verify.
//!
//! Keys come only from the configured JWKS (never from a token's `jku`, `x5u`, `jwk` or `x5c`).
//! Each key is checked once, at load: keys meant for encryption, symmetric keys, unsupported
//! curves, RSA keys under 2048 bits and duplicate `kid`s are skipped with a log line, never a
//! panic. [`KeyCache`] holds one issuer's keys over time: seed or fetch at init, TTL from
//! `Cache-Control`, an immediate refetch on an unknown `kid` (rate-limited only once a refetch
//! has come back without it), stale keys through outages, bounded timeouts and size.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use serde::Deserialize;

use crate::clock::Clock;
use crate::errors::{Reason, Rejection};
use crate::log;
use crate::metrics::Metadata;
use crate::signature::{DEFAULT_ALGORITHMS, SignatureKey};

/// Where an issuer's keys are fetched from over the network.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Remote {
    /// A JWKS URL (`http://` or `https://`).
    Url(String),
    /// OIDC discovery: `{issuer}/.well-known/openid-configuration` names the JWKS.
    Discovery,
}

/// Keys available without any network fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seed {
    /// A JWKS file (read at init).
    File(PathBuf),
    /// A JWKS document given inline.
    Inline(String),
}

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
    /// The key, parsed for every algorithm it admits.
    pub key: SignatureKey,
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
        AlgorithmParameters::RSA(_) => KeyType::Rsa,
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
    let bytes = |field: &str, b64: &str| {
        URL_SAFE_NO_PAD
            .decode(b64.as_bytes())
            .map_err(|_| format!("kid {kid:?}: `{field}` is not base64url"))
    };
    // Parse once, for every algorithm the key may verify (only its own `alg` when stated).
    let key = match &jwk.algorithm {
        AlgorithmParameters::RSA(rsa) => {
            let n = bytes("n", &rsa.n)?;
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if significant < MIN_RSA_MODULUS_BYTES {
                return Err(format!("kid {kid:?}: RSA key is shorter than 2048 bits"));
            }
            let algs: Vec<Algorithm> = match alg {
                Some(alg) => vec![alg],
                // Without its own `alg`, an RSA key admits every RSA algorithm.
                None => DEFAULT_ALGORITHMS
                    .into_iter()
                    .filter(|a| KeyType::Rsa.fits(*a))
                    .collect(),
            };
            SignatureKey::rsa(&n, &bytes("e", &rsa.e)?, &algs)
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
        _ => return Err(format!("kid {kid:?}: unsupported kty")),
    }
    .map_err(|e| format!("kid {kid:?}: unusable key: {e}"))?;
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

/// One issuer's keys as held by a running authorizer.
///
/// Loaded at init (from the seed, else fetched), cached with a TTL from `Cache-Control`
/// (clamped), refetched at once when a token names an unknown `kid`; only a refetch that still
/// lacks the `kid` starts a cool-down, during which unknown `kid`s trigger no fetch. Concurrent
/// refetches share one fetch. When a refresh fails, the last good keys keep being
/// served up to the maximum staleness; with no usable keys the answer is `jwks_unavailable`.
pub struct KeyCache {
    issuer: String,
    /// The issuer as logs show it ([`log::redact_url`]).
    shown_issuer: String,
    seed: Option<Seed>,
    remote: Option<Remote>,
    policy: CachePolicy,
    /// `None` when the keys come only from a seed: no HTTP client is built then.
    client: Option<reqwest::Client>,
    clock: Clock,
    state: Mutex<CacheState>,
    fetch_lock: tokio::sync::Mutex<()>,
    discovered_url: Mutex<Option<String>>,
    fetches: AtomicUsize,
}

#[derive(Clone, Default)]
struct CacheState {
    keys: Option<Arc<KeySet>>,
    /// `None`: the keys never expire (a seed with no remote to refresh from).
    fresh_until: Option<Instant>,
    stale_until: Option<Instant>,
    last_attempt: Option<Instant>,
    last_error: Option<String>,
    /// Set by a refetch that came back without the unknown `kid` it was made for: until then,
    /// unknown `kid`s are refused without a fetch.
    kid_cooldown_until: Option<Instant>,
    generation: u64,
}

/// Builds the HTTP client used for discovery and JWKS fetches, with the policy's timeouts.
pub fn http_client(policy: &CachePolicy) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// The token's `kid` is caller input: the detail says what happened, never which kid.
fn unknown_kid(why: &str) -> Rejection {
    Rejection::new(
        Reason::UnknownKid,
        format!("no key with the token's kid in the JWKS ({why})"),
    )
}

fn unavailable(detail: impl Into<String>) -> Rejection {
    Rejection::new(Reason::JwksUnavailable, detail)
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
            issuer: issuer.to_string(),
            shown_issuer: log::redact_url(issuer),
            seed: source.seed.clone(),
            remote: source.remote.clone(),
            policy,
            client,
            clock,
            state: Mutex::new(CacheState::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
            discovered_url: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        }
    }

    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many JWKS documents have been requested over the network so far.
    pub fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Loads the keys at init: the seed without any network (then refreshes from the remote
    /// in the background), or else a fetch from the remote. Failures are logged, not fatal:
    /// requests retry, and fail closed with a 500 while no keys are held.
    pub async fn init(self: &Arc<Self>) {
        if self.remote.is_none() && self.state().keys.is_some() {
            return; // Loaded by `load_static`.
        }
        if let Some(seed) = &self.seed {
            match load_seed(seed, self.policy.max_bytes) {
                Ok(set) => {
                    let now = self.clock.now();
                    let mut st = self.state();
                    st.keys = Some(Arc::new(set));
                    if self.remote.is_some() {
                        st.fresh_until = Some(now + self.policy.default_ttl);
                        st.stale_until =
                            Some(now + self.policy.default_ttl + self.policy.max_stale);
                    }
                    let generation = st.generation;
                    drop(st);
                    if self.remote.is_some() {
                        let cache = Arc::clone(self);
                        tokio::spawn(async move {
                            let _ = cache.refresh(generation).await;
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
        if self.remote.is_some() {
            let generation = self.state().generation;
            let _ = self.refresh(generation).await;
        }
    }

    /// Loads the keys of a JWKS that has no remote source (a file or inline seed only), at
    /// once and without network. With no remote to fall back on, a seed that cannot be read or
    /// holds no usable key would fail every request, so the caller stops start-up on the error.
    pub fn load_static(&self) -> Result<(), String> {
        if self.remote.is_some() {
            return Ok(());
        }
        let seed = self.seed.as_ref().ok_or("no JWKS source")?;
        let set = load_seed(seed, self.policy.max_bytes)?;
        self.state().keys = Some(Arc::new(set));
        Ok(())
    }

    /// The key set holding `kid`, refetching within the rules above when it is missing.
    pub async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, Rejection> {
        let now = self.clock.now();
        let snapshot = self.state().clone();
        let fresh = snapshot.fresh_until.is_none_or(|until| now < until);
        if let (Some(keys), true) = (&snapshot.keys, fresh) {
            if keys.get(kid).is_some() {
                return Ok(Arc::clone(keys));
            }
            if self.remote.is_none() {
                return Err(unknown_kid("the JWKS is static"));
            }
            if snapshot.kid_cooldown_until.is_some_and(|until| now < until) {
                return Err(unknown_kid("refetch cool-down active, not refetched"));
            }
            if snapshot.last_error.is_some()
                && snapshot
                    .last_attempt
                    .is_some_and(|at| now < at + self.policy.retry_after_failure)
            {
                return Err(unknown_kid(
                    "the last fetch failed, not refetched before the retry pause",
                ));
            }
            return match self.refresh(snapshot.generation).await {
                Ok(keys) if keys.get(kid).is_some() => Ok(keys),
                Ok(_) => {
                    self.start_kid_cooldown();
                    Err(unknown_kid("after a refetch"))
                }
                Err(e) => Err(unknown_kid(&format!("refetch failed: {e}"))),
            };
        }
        if self.remote.is_none() {
            return Err(unavailable(format!(
                "issuer {}: no keys could be loaded",
                self.shown_issuer
            )));
        }
        let backing_off = snapshot.last_error.is_some()
            && snapshot
                .last_attempt
                .is_some_and(|at| now < at + self.policy.retry_after_failure);
        let refreshed = match (&snapshot.last_error, backing_off) {
            (Some(e), true) => Err(format!("{e} (retrying after a pause)")),
            _ => self.refresh(snapshot.generation).await,
        };
        let fetched = refreshed.is_ok();
        let keys = match refreshed {
            Ok(keys) => keys,
            Err(e) => match &snapshot.keys {
                Some(old) if snapshot.stale_until.is_some_and(|until| now < until) => {
                    log::warn(
                        "jwks_serving_stale",
                        &format!("issuer {}: refresh failed: {e}", self.shown_issuer),
                    );
                    Arc::clone(old)
                }
                _ => return Err(unavailable(format!("issuer {}: {e}", self.shown_issuer))),
            },
        };
        if keys.get(kid).is_some() {
            Ok(keys)
        } else {
            if fetched {
                self.start_kid_cooldown();
            }
            Err(unknown_kid("after a refresh"))
        }
    }

    /// A fetch made for an unknown `kid` came back without it: refuse unknown `kid`s without
    /// fetching for the cool-down.
    fn start_kid_cooldown(&self) {
        let until = self.clock.now() + self.policy.refetch_cooldown;
        self.state().kid_cooldown_until = Some(until);
    }

    /// Fetches once for everyone: callers that queued behind a fetch which completed while they
    /// waited take its result instead of fetching again.
    async fn refresh(&self, seen_generation: u64) -> Result<Arc<KeySet>, String> {
        let _single_flight = self.fetch_lock.lock().await;
        {
            let st = self.state();
            if st.generation != seen_generation {
                return match (&st.last_error, &st.keys) {
                    (Some(e), _) => Err(e.clone()),
                    (None, Some(keys)) => Ok(Arc::clone(keys)),
                    (None, None) => Err("no keys".to_string()),
                };
            }
        }
        let started = self.clock.now();
        let result = self.fetch_remote().await;
        let mut st = self.state();
        st.generation += 1;
        st.last_attempt = Some(started);
        match result {
            Ok((set, ttl)) => {
                let set = Arc::new(set);
                let detail = format!("{} usable keys, cached for {} s", set.len(), ttl.as_secs());
                self.log_fetch("ok", &detail);
                st.keys = Some(Arc::clone(&set));
                st.fresh_until = Some(started + ttl);
                st.stale_until = Some(started + ttl + self.policy.max_stale);
                st.last_error = None;
                Ok(set)
            }
            Err(e) => {
                self.log_fetch("error", &e);
                st.last_error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn log_fetch(&self, result: &'static str, detail: &str) {
        log::fetch(&log::FetchRecord {
            metrics: Metadata::jwks_fetch(),
            level: if result == "ok" { "info" } else { "warn" },
            event: "jwks_fetch",
            result,
            issuer: &self.shown_issuer,
            detail,
            jwks_fetches: 1,
        });
    }

    async fn fetch_remote(&self) -> Result<(KeySet, Duration), String> {
        let url = self.jwks_url().await?;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let (body, cache_control) = fetch_url(self.client()?, &url, self.policy.max_bytes).await?;
        let set = KeySet::parse(&body).map_err(|e| format!("{}: {e}", log::redact_url(&url)))?;
        Ok((set, ttl_from(cache_control.as_deref(), &self.policy)))
    }

    fn client(&self) -> Result<&reqwest::Client, String> {
        self.client
            .as_ref()
            .ok_or_else(|| "no HTTP client: this JWKS has no remote source".to_string())
    }

    async fn jwks_url(&self) -> Result<String, String> {
        match &self.remote {
            Some(Remote::Url(url)) => Ok(url.clone()),
            None => Err("no remote JWKS".to_string()),
            Some(Remote::Discovery) => {
                if let Some(url) = self
                    .discovered_url
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                {
                    return Ok(url);
                }
                let url = discover(self.client()?, &self.issuer, self.policy.max_bytes).await?;
                *self
                    .discovered_url
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(url.clone());
                Ok(url)
            }
        }
    }
}

/// Reads a seed. A small local file read once at init: blocking is cheaper here than a hop to
/// a blocking thread.
fn load_seed(seed: &Seed, max_bytes: usize) -> Result<KeySet, String> {
    match seed {
        Seed::Inline(json) => {
            KeySet::parse(json.as_bytes()).map_err(|e| format!("inline JWKS: {e}"))
        }
        Seed::File(path) => {
            let bytes =
                std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if bytes.len() > max_bytes {
                return Err(format!(
                    "{} is larger than {max_bytes} bytes",
                    path.display()
                ));
            }
            KeySet::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// OIDC discovery: the document's `issuer` must be exactly the configured one.
async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    max_bytes: usize,
) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let shown = log::redact_url(&url);
    let (body, _) = fetch_url(client, &url, max_bytes).await?;
    let doc: DiscoveryDocument = serde_json::from_slice(&body)
        .map_err(|e| format!("{shown}: not an OIDC discovery document: {e}"))?;
    if doc.issuer != issuer {
        return Err(format!(
            "{shown}: the document's issuer {:?} is not {:?}",
            log::redact_url(&doc.issuer),
            log::redact_url(issuer)
        ));
    }
    let allowed = doc.jwks_uri.starts_with("https://")
        || (issuer.starts_with("http://") && doc.jwks_uri.starts_with("http://"));
    if !allowed {
        return Err(format!(
            "{shown}: jwks_uri {:?} is not an https URL",
            log::redact_url(&doc.jwks_uri)
        ));
    }
    Ok(doc.jwks_uri)
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

async fn fetch_url(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<String>), String> {
    // Errors name the URL without its userinfo and query (which may carry credentials), and
    // reqwest's errors are stripped of the URL they carry.
    let shown = log::redact_url(url);
    let mut response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("cannot fetch {shown}: {}", error_chain(e)))?;
    if !response.status().is_success() {
        return Err(format!("{shown} answered HTTP {}", response.status()));
    }
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(format!("{shown} is larger than {max_bytes} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read {shown}: {}", error_chain(e)))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(format!("{shown} is larger than {max_bytes} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, cache_control))
}

fn error_chain(e: reqwest::Error) -> String {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out {
        text.push_str(" (timed out)");
    }
    text
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
