//! The authorizer itself: state built once at init, and one plain async function per event.
//!
//! [`Authorizer::handle`] runs the flow of docs/ARCHITECTURE.md in order (event, token, jwks, verify,
//! access, decision, response/usage) and logs one line per decision. Lambda mode and the local
//! `tollgate invoke` both call it, and so do the tests.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use crate::access::{AccessRules, CacheScope, Fit, RouteRequest};
use crate::aws::DynamoDb;
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::decision::{Decision, DecisionRecord, Grant};
use crate::errors::{Reason, Rejection};
use crate::event::{self, AuthRequest, EventShape};
use crate::jwks::{self, JwksSource, KeyCache, KeySet, Remote};
use crate::log;
use crate::metrics::Metadata;
use crate::pricing::Plans;
use crate::response::{self, HttpApiResponse, LambdaFailure, Response};
use crate::revocation::{InitError, RevocationCache, Table, TokenFacts};
use crate::token::{self, TokenSource};
use crate::usage::{self, Usage};
use crate::verified_tokens::{Remembered, VerifiedTokens};
use crate::verify::{TrustedIssuer, VerifiedClaims, Verifier};

/// Everything an invocation needs, built once per Lambda execution environment.
pub struct Authorizer {
    verifier: Verifier,
    issuers: HashMap<String, Issuer>,
    caches: Vec<Arc<KeyCache>>,
    clock: Clock,
    access: AccessRules,
    plans: Plans,
    tenant_claim: Option<String>,
    usage_key_claim: Option<String>,
    token_sources: Option<Vec<TokenSource>>,
    /// Where the token is looked for without `TOKEN_SOURCE`: for most shapes, and for WebSocket
    /// `$connect`.
    default_sources: [Vec<TokenSource>; 2],
    http_v2: HttpApiResponse,
    cache_scope: CacheScope,
    verified: VerifiedTokens,
    revocations: Option<RevocationCache>,
    full_verifications: std::sync::atomic::AtomicUsize,
}

/// A trusted issuer: its rules and secret, and its keys (caches are shared by issuers with one
/// JWKS).
struct Issuer {
    trusted: TrustedIssuer,
    keys: Arc<KeyCache>,
}

/// The result of one invocation: the decision, and the response as Lambda would return it.
#[derive(Debug)]
pub struct Outcome {
    /// What was decided.
    pub decision: Decision,
    /// The response JSON, or the error the runtime reports.
    pub response: Result<Response, LambdaFailure>,
}

impl Authorizer {
    /// Builds the authorizer from validated configuration. Nothing is fetched yet; a local JWKS
    /// with no remote (`file://`, `jwks_file`, `jwks_inline`) is loaded now, and one that cannot
    /// be read or holds no usable key is a [`ConfigError`] naming its setting.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        Self::with_clock(config, Clock::default())
    }

    /// Like [`Authorizer::new`], with a clock that tests can move forward.
    pub fn with_clock(config: &Config, clock: Clock) -> Result<Self, ConfigError> {
        for warning in config.warnings() {
            log::warn("config_warning", &warning);
        }
        // Building the client loads the system's CA certificates: skip it when every JWKS is
        // a local seed (a file or inline), as in `tollgate invoke` with the fixtures.
        let remote_jwks = config.issuers.iter().any(|i| i.jwks.remote.is_some());
        let client = if remote_jwks || config.revocation.is_some() {
            Some(
                jwks::http_client(&config.jwks_cache).map_err(|problem| ConfigError {
                    setting: if remote_jwks {
                        "JWKS_URI"
                    } else {
                        "TOLLGATE_REVOCATION_TABLE"
                    },
                    problem: problem.to_string(),
                })?,
            )
        } else {
            None
        };
        let revocations = match (&config.revocation, &config.aws, &client) {
            (Some(settings), Some(aws), Some(http)) => {
                let db = DynamoDb::new(http.clone(), aws.clone(), settings.timeout);
                Some(RevocationCache::new(
                    Table::new(db, &settings.table),
                    settings.clone(),
                    clock.clone(),
                ))
            }
            (Some(_), _, _) => {
                return Err(ConfigError {
                    setting: "AWS_REGION",
                    problem: "revocation is on, but no AWS settings were read".into(),
                });
            }
            _ => None,
        };
        let mut shared: HashMap<(JwksSource, Option<String>), Arc<KeyCache>> = HashMap::new();
        let mut issuers = HashMap::new();
        for issuer in &config.issuers {
            // One cache per JWKS; discovery is per issuer by nature.
            let discovery_issuer =
                (issuer.jwks.remote == Some(Remote::Discovery)).then(|| issuer.issuer.clone());
            let cache = match shared.entry((issuer.jwks.clone(), discovery_issuer)) {
                Entry::Occupied(cache) => Arc::clone(cache.get()),
                Entry::Vacant(slot) => {
                    let cache = KeyCache::new(
                        &issuer.issuer,
                        &issuer.jwks,
                        config.jwks_cache.clone(),
                        client.clone(),
                        clock.clone(),
                    );
                    // A local JWKS with no remote must load now: it is a configuration error.
                    cache.load_static().map_err(|problem| {
                        issuer.jwks_setting.error(format!(
                            "{problem} (a local JWKS with no remote to fall back on must hold a usable key at start-up)"
                        ))
                    })?;
                    Arc::clone(slot.insert(Arc::new(cache)))
                }
            };
            issuers.insert(
                issuer.issuer.clone(),
                Issuer {
                    trusted: TrustedIssuer::new(issuer.policy()),
                    keys: cache,
                },
            );
        }
        Ok(Authorizer {
            verifier: Verifier::new(&config.verifier_settings()),
            issuers,
            caches: shared.into_values().collect(),
            clock,
            access: AccessRules::with_table(
                config.required_scopes.clone(),
                config.required_groups.clone(),
                config.routes.clone(),
                config.route_table,
            ),
            plans: config.plans.clone(),
            tenant_claim: config.tenant_claim.clone(),
            usage_key_claim: config.usage_key_claim.clone(),
            token_sources: config.token_sources.clone(),
            default_sources: [
                token::default_sources(EventShape::RestRequest),
                token::default_sources(EventShape::WebSocketConnect),
            ],
            http_v2: if config.http_api_simple_responses {
                HttpApiResponse::Simple
            } else {
                HttpApiResponse::IamPolicy
            },
            cache_scope: config.cache_scope(),
            verified: VerifiedTokens::new(config.verified_tokens),
            revocations,
            full_verifications: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Loads every issuer's keys and the revocation list ahead of the first request (Lambda
    /// init is the cheapest place), all at once: a cold start waits for the slowest source,
    /// not for their sum (so their log lines come in no fixed order). Failures to reach a
    /// server are logged and not fatal: requests then retry, and fail closed (500). A
    /// revocation list over its bound is the error: it cannot be held, and cutting it would
    /// let revoked tokens through. An unreadable item is not: every token then gets a 500
    /// until a read succeeds.
    pub async fn prefetch(&self) -> Result<(), InitError> {
        let keys = futures_util::future::join_all(self.caches.iter().map(|cache| cache.init()));
        let revocations = async {
            match &self.revocations {
                Some(revocations) => revocations.init().await,
                None => Ok(()),
            }
        };
        let (_, revocations) = tokio::join!(keys, revocations);
        revocations
    }

    /// The revocation list, when revocation is on.
    pub fn revocations(&self) -> Option<&RevocationCache> {
        self.revocations.as_ref()
    }

    /// How many tokens went through the whole check (signature included) rather than being
    /// recognised as verified before.
    pub fn full_verifications(&self) -> usize {
        self.full_verifications
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many JWKS documents have been fetched over the network, over all issuers.
    pub fn jwks_fetches(&self) -> usize {
        self.caches.iter().map(|c| c.fetch_count()).sum()
    }

    /// Decides one event (raw JSON) and encodes the response; logs the decision.
    pub async fn handle(&self, event: &[u8], request_id: Option<&str>) -> Outcome {
        let started = Instant::now();
        let (request, decision) = match event::parse(event) {
            Ok(request) => {
                let decision = self.decide(&request).await;
                (Some(request), decision)
            }
            Err(rejection) => (None, Decision::from_rejection(rejection)),
        };
        let response = response::encode(&decision, request.as_ref().map(|r| r.shape), self.http_v2);
        let record = DecisionRecord {
            metrics: Metadata::decision(),
            event: "decision",
            request_id: request_id.or(request.as_ref().and_then(|r| r.request_id.as_deref())),
            decision: decision.label(),
            reason: decision.reason_code(),
            detail: decision.rejection().map(|r| r.detail.as_str()),
            shape: request.as_ref().map(|r| r.shape.name()),
            principal: match &decision {
                Decision::Allow(g) | Decision::Deny(g, _) => Some(g.principal_id.as_str()),
                _ => None,
            },
            // API Gateway's name of the route or the matched rule, never a concrete path.
            route: match &decision {
                Decision::Allow(g) | Decision::Deny(g, _) if !g.usage.endpoint.is_empty() => {
                    Some(g.usage.endpoint.as_str())
                }
                _ => request
                    .as_ref()
                    .filter(|r| r.routed_to.is_some())
                    .map(|r| r.endpoint.as_str()),
            },
            usage: match &decision {
                Decision::Allow(g) | Decision::Deny(g, _) => Some(&g.usage),
                _ => None,
            },
            decisions: 1,
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        };
        log::decision(|line| record.write_json(line));
        Outcome { decision, response }
    }

    async fn decide(&self, request: &AuthRequest<'_>) -> Decision {
        match self.authorize(request).await {
            Ok(decision) => decision,
            Err(rejection) => Decision::from_rejection(rejection),
        }
    }

    async fn authorize(&self, request: &AuthRequest<'_>) -> Result<Decision, Rejection> {
        let sources = match (&self.token_sources, request.shape) {
            (Some(sources), _) => sources.as_slice(),
            (None, EventShape::WebSocketConnect) => self.default_sources[1].as_slice(),
            (None, _) => self.default_sources[0].as_slice(),
        };
        let token = token::extract(request.shape, &request.credentials, sources)?;
        let (claims, kid) = self.verify(token).await?;
        let claims: &VerifiedClaims = &claims;
        // Every verification, a remembered token's too, is checked against the list.
        if let Some(revocations) = &self.revocations {
            revocations
                .check(&TokenFacts {
                    issuer: &claims.iss,
                    sub: &claims.sub,
                    jti: claims.jti.as_deref(),
                    origin_jti: claims.origin_jti.as_deref(),
                    iat: claims.validity.iat,
                    kid: kid.as_deref(),
                })
                .await?;
        }
        let scope = self.cache_scope(request);
        let outcome = self.access.evaluate(
            claims,
            &RouteRequest {
                arn: &request.arn,
                routed_to: request.routed_to.as_ref(),
                scope,
                routing: request.shape.routing(),
            },
        );
        let note = outcome.fit.note().unwrap_or_default();
        match outcome.fit {
            Fit::Exact => {}
            Fit::Narrowed => log::warn("policy_narrowed", note),
            Fit::NoSafePolicy => {
                log::warn("policy_narrowed", note);
                return Err(Rejection::new(
                    Reason::NoSafePolicy,
                    "no IAM policy that allows this route is safe under a token-keyed cache",
                ));
            }
            Fit::NotInTable => {
                log::warn("route_not_in_table", note);
                return Err(outcome.permitted.err().unwrap_or_else(|| {
                    Rejection::new(
                        Reason::RouteNotInTable,
                        "the route is not in the declared route table",
                    )
                }));
            }
        }
        let rule = outcome.rule.and_then(|i| self.access.rule(i));
        let plan = self.plans.plan_for(claims).to_string();
        let usage = Usage {
            user_id: claims.sub.clone(),
            client_id: claims.client_id.clone().unwrap_or_default(),
            tenant_id: self
                .tenant_claim
                .as_deref()
                .and_then(|c| claims.extra(c))
                .unwrap_or_default()
                .to_string(),
            // API Gateway's own name of the route; for a TOKEN event, the matched rule's
            // pattern, never the caller's concrete path.
            endpoint: if request.routed_to.is_some() {
                request.endpoint.clone()
            } else {
                rule.map(|r| r.pattern.as_str().to_string())
                    .unwrap_or_default()
            },
            cost_micros: match (&outcome.permitted, rule) {
                (Ok(()), Some(rule)) => rule.price_for(&plan),
                _ => 0,
            },
            plan,
        };
        // Usage plans (API keys) exist only for REST APIs.
        let usage_key = matches!(
            request.shape,
            EventShape::RestToken | EventShape::RestRequest
        )
        .then(|| {
            self.usage_key_claim
                .as_deref()
                .and_then(|c| claims.extra(c))
                .or_else(|| self.plans.usage_keys.get(&usage.plan).map(String::as_str))
                .map(str::to_string)
        })
        .flatten();
        let grant = Grant {
            principal_id: claims.sub.clone(),
            allow: outcome.allow,
            deny: outcome.deny,
            context: usage::context(claims, scope.per_route_context()),
            usage_key,
            usage,
        };
        let simple = request.shape == EventShape::HttpV2 && self.http_v2 == HttpApiResponse::Simple;
        Ok(match outcome.permitted {
            // A simple response has no policy: a cached `true` under a token-only key would
            // open every route, so it is given only to a token that may call them all.
            Ok(()) if simple && !outcome.simple_true_ok => Decision::Deny(
                grant,
                Rejection::new(
                    Reason::CacheScopeTooWide,
                    "this token may not call every route, and a simple response cached under a token-only key would open them all: add $context.routeKey to the identity sources, or disable the authorizer cache and declare TOLLGATE_AUTHORIZER_CACHE=off",
                ),
            ),
            Ok(()) => Decision::Allow(grant),
            Err(rejection) => Decision::Deny(grant, rejection),
        })
    }

    /// How API Gateway caches this answer: read from the event where it tells, else from the
    /// configuration. TOKEN events are keyed on the token; a WebSocket `$connect` answer only
    /// ever serves `$connect`. An HTTP API event shows its identity-source values: route scope
    /// holds only if it is declared, the route key is among them and names one method (the
    /// event can show the route key missing, not prove it there: a header value may equal it,
    /// so the declaration must match the authorizer's identity sources). `off` is a promise
    /// that the cache is disabled, which no event can show.
    fn cache_scope(&self, request: &AuthRequest<'_>) -> CacheScope {
        match request.shape {
            EventShape::RestToken => CacheScope::Token,
            EventShape::WebSocketConnect => CacheScope::Route,
            EventShape::RestRequest => self.cache_scope,
            EventShape::HttpV1 | EventShape::HttpV2 => {
                // An `ANY` route key is the same for every method: the key does not hold the
                // method the decision depends on.
                let any_method = request.endpoint.starts_with("ANY ");
                let route_in_key = request.routed_to.is_some()
                    && !any_method
                    && request
                        .identity_source
                        .as_ref()
                        .is_some_and(|values| values.iter().any(|v| *v == request.endpoint));
                match self.cache_scope {
                    CacheScope::Route if route_in_key => CacheScope::Route,
                    CacheScope::Off => CacheScope::Off,
                    _ => CacheScope::Token,
                }
            }
        }
    }

    /// Parses the token, routes it to its issuer by `iss` before any key is touched, gets the
    /// key (fetching within the cache's rules), then checks signature and claims.
    /// Returns the claims and the `kid` of the key that checked the signature (none for a
    /// shared secret).
    async fn verify(
        &self,
        token: &str,
    ) -> Result<(Arc<VerifiedClaims>, Option<Arc<str>>), Rejection> {
        if let Some(known) = self.verified.recall(token) {
            match self.still_valid(token, &known).await {
                Some(Ok(())) => {
                    let kid = known.keys.as_ref().map(|(kid, _)| Arc::clone(kid));
                    return Ok((known.claims, kid));
                }
                Some(Err(rejection)) => return Err(rejection),
                // Its issuer's keys changed: verified afresh below.
                None => self.verified.forget(token),
            }
        }
        let (claims, keys) = self.verify_afresh(token).await?;
        let claims = Arc::new(claims);
        let kid = keys.as_ref().map(|(kid, _)| Arc::clone(kid));
        self.verified.remember(
            token,
            Remembered {
                claims: claims.clone(),
                keys,
            },
        );
        Ok((claims, kid))
    }

    /// Whether a remembered token still holds: `Some(Ok)` if its validity window holds now and
    /// its issuer still has the very key set it was verified with; `Some(Err)` if it has
    /// expired (or its keys cannot be had); `None` if its issuer's keys changed.
    async fn still_valid(&self, token: &str, known: &Remembered) -> Option<Result<(), Rejection>> {
        if let Err(rejection) = self
            .verifier
            .check_validity(&known.claims.validity, self.clock.unix_seconds())
        {
            self.verified.forget(token);
            return Some(Err(rejection));
        }
        let Some((kid, verified_with)) = &known.keys else {
            return Some(Ok(()));
        };
        let issuer = self.issuers.get(&known.claims.iss)?;
        match issuer.keys.keys_for(kid).await {
            Ok(current) if Arc::ptr_eq(&current, verified_with) => Some(Ok(())),
            Ok(_) => None,
            // No keys now (or the kid is gone): decide as for a token never seen.
            Err(_) => None,
        }
    }

    /// The full check: parse, key, signature, claims. Returns the claims and the key set the
    /// signature was checked with.
    async fn verify_afresh(
        &self,
        token: &str,
    ) -> Result<(VerifiedClaims, Option<(Arc<str>, Arc<KeySet>)>), Rejection> {
        self.full_verifications
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let unverified = self.verifier.parse(token)?;
        let iss = unverified.issuer()?;
        // The unverified `iss` is caller input: never quoted.
        let issuer = self.issuers.get(iss).ok_or_else(|| {
            Rejection::new(
                Reason::WrongIssuer,
                "the token's iss is not a configured issuer",
            )
        })?;
        let keys = if unverified.is_hmac() {
            None
        } else {
            let kid = unverified.kid()?;
            Some((Arc::from(kid), issuer.keys.keys_for(kid).await?))
        };
        let key = self.verifier.select_key(
            &unverified,
            &issuer.trusted,
            keys.as_ref().map(|(_, set)| &**set),
        )?;
        self.verifier.check_signature(&unverified, key)?;
        let claims = self.verifier.check_claims(
            unverified,
            issuer.trusted.policy(),
            self.clock.unix_seconds(),
        )?;
        Ok((claims, keys))
    }
}
