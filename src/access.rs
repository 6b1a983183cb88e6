//! Which routes a verified token may call, and the policy that says so under API Gateway's
//! authorizer cache.
//!
//! API Gateway caches an answer under a cache key and applies it to every later request with
//! the same key, whatever its route. The rule this module keeps, without exception: a cached
//! answer never allows what a fresh decision would not. How it keeps it depends on the
//! [`CacheScope`]:
//!
//! - *Route scope* (the route is part of the key) and *off*: the answer covers the called
//!   route only: its rule's resources, one per method (`ANY` spelled out), with the Denies that
//!   keep IAM's `*` from reaching deeper or sibling routes.
//! - *Token scope* (the key is the token): the policy must be exact for the whole stage. The
//!   Allow lists every permitted rule; Denies are chosen from candidates (forbidden rules,
//!   parameters widened to several segments or to the empty segment, empty-segment paths) and
//!   the result is proven exact by [`crate::exactness`]. Where no policy is exact (or it would
//!   be too large), the answer falls back to the route-scope answer for the called route,
//!   proven never to over-allow: an over-deny under the cache, which the decision log reports.
//!
//! Route identity comes from API Gateway's own routing whenever the event carries it; only
//! `TOKEN` events (and HTTP API `$default` routes) fall back to the concrete path. Nothing the
//! caller sent is ever copied into a resource: resources are built from rule patterns and the
//! API's own account, region, API id and stage.

use std::collections::HashMap;
use std::sync::Arc;

use crate::bounded_cache::BoundedCache;
use crate::errors::{Reason, Rejection};
use crate::event::{MethodArn, RoutedTo};
use crate::exactness::{self, Prover, Resource, deny_candidates};
use crate::iam::policy_allows;
use crate::routes::{RoutePattern, iam_glob_matches};
use crate::verify::VerifiedClaims;

/// Most resources in one policy: API Gateway's authorizer cache stores the whole answer, and a
/// WebSocket API refuses answers over 8 KB.
pub const MAX_POLICY_RESOURCES: usize = 100;

/// Memoised answers kept at most, per kind (the oldest makes room).
const MAX_MEMOISED: usize = 1024;

/// How many times the widest fallback policy may drop Allow resources before giving up.
const MAX_WIDENING_ROUNDS: usize = 8;

/// One route rule: who may call it and what a call costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRule {
    /// The route it applies to.
    pub pattern: RoutePattern,
    /// Scopes of which the token needs at least one (none: no scope needed).
    pub scopes: Vec<String>,
    /// Groups of which the token needs at least one (none: no group needed).
    pub groups: Vec<String>,
    /// Price per call in micros, for plans without their own price.
    pub price_micros: u64,
    /// Price per call in micros, by plan.
    pub plan_prices: HashMap<String, u64>,
}

impl RouteRule {
    /// The price of one call for a plan.
    pub fn price_for(&self, plan: &str) -> u64 {
        self.plan_prices
            .get(plan)
            .copied()
            .unwrap_or(self.price_micros)
    }

    fn admits(&self, claims: &VerifiedClaims) -> bool {
        any_of(&self.scopes, &claims.scopes) && any_of(&self.groups, &claims.groups)
    }
}

fn any_of(required: &[String], held: &[String]) -> bool {
    required.is_empty() || held.iter().any(|h| required.contains(h))
}

/// How API Gateway's authorizer cache keys this authorizer's answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheScope {
    /// The key is the token alone (TOKEN authorizers; REQUEST authorizers keyed on a header).
    /// Always correct, merely larger policies: the default.
    #[default]
    Token,
    /// The route is part of the key (REST: `context.httpMethod` and `context.resourcePath`
    /// among the identity sources; HTTP APIs: `$context.routeKey`; WebSocket `$connect`).
    Route,
    /// API Gateway's cache is disabled: every answer is used once.
    Off,
}

impl CacheScope {
    /// The setting's spelling: `token`, `route` or `off`.
    pub fn name(self) -> &'static str {
        match self {
            CacheScope::Token => "token",
            CacheScope::Route => "route",
            CacheScope::Off => "off",
        }
    }

    /// Whether the context may carry per-route fields (`endpoint`, `costMicros`): only when a
    /// cached context can never be reused for another route.
    pub fn per_route_context(self) -> bool {
        self != CacheScope::Token
    }
}

/// A cache scope spelled neither `token`, `route` nor `off` (the setting's own value, quoted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCacheScope(pub String);

impl std::fmt::Display for UnknownCacheScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not `token`, `route` or `off`", self.0)
    }
}

impl std::error::Error for UnknownCacheScope {}

impl std::str::FromStr for CacheScope {
    type Err = UnknownCacheScope;

    fn from_str(text: &str) -> Result<Self, UnknownCacheScope> {
        match text.trim() {
            "token" => Ok(CacheScope::Token),
            "route" => Ok(CacheScope::Route),
            "off" => Ok(CacheScope::Off),
            other => Err(UnknownCacheScope(other.to_string())),
        }
    }
}

/// The request as the access step sees it.
#[derive(Clone, Copy, Debug)]
pub struct RouteRequest<'a> {
    /// The method or route ARN: the API's own prefix, and the concrete request for `TOKEN`
    /// events.
    pub arn: &'a MethodArn,
    /// The route from API Gateway's routing, when the event carries it.
    pub routed_to: Option<&'a RoutedTo>,
    /// How the answer will be cached.
    pub scope: CacheScope,
}

/// The outcome for one request: the rule it matched, whether it is permitted, and the policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessOutcome {
    /// The most specific rule covering the request, if any.
    pub rule: Option<usize>,
    /// `Ok` if the token may call the requested route, else why not.
    pub permitted: Result<(), Rejection>,
    /// Resources to Allow (full ARNs).
    pub allow: Vec<String>,
    /// Resources to Deny (full ARNs).
    pub deny: Vec<String>,
    /// Whether an HTTP API simple response of `true` would be right for every request that can
    /// reuse it from the cache.
    pub simple_true_ok: bool,
    /// Why the answer is narrower than the token's rights (logged), if it is.
    pub narrowed: Option<&'static str>,
    /// The request is permitted, but no policy that allows it is safe under the cache: the
    /// answer must be an error (500, which API Gateway never caches), not a cached Deny.
    pub no_safe_policy: bool,
}

/// A proven policy shape: resource suffixes (after `API/STAGE/`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct ProvenPolicy {
    allow: Vec<String>,
    deny: Vec<String>,
    /// No request is allowed that the rules refuse under the mask it was built for.
    safe: bool,
    /// And no request is refused that the rules permit.
    exact: bool,
    /// A request (resource suffix) the policy allows and the rules refuse, when not `safe`.
    over_allowed: Option<String>,
}

impl ProvenPolicy {
    /// No policy: allows nothing (so it is safe), and is not the exact answer.
    fn not_exact() -> Self {
        ProvenPolicy {
            allow: vec![],
            deny: vec![],
            safe: true,
            exact: false,
            over_allowed: None,
        }
    }
}

/// Proven policies by the permitted set (and rule) they were built for.
#[derive(Debug)]
struct Memo<K, V = Arc<ProvenPolicy>>(BoundedCache<K, V>);

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(BoundedCache::new(MAX_MEMOISED))
    }
}

/// What a widest fallback policy is for: the permitted set, and either the called rule and
/// method (an Allow) or which of the token's Allow resources cover the refused request.
type WidestKey = (Vec<bool>, Result<(usize, String), Vec<bool>>);

/// The route rules, built once from the configuration.
///
/// ```
/// use tollgate::{access::{AccessRules, CacheScope, RouteRequest}, event::MethodArn, verify::VerifiedClaims};
/// let rules = AccessRules::new(vec!["api/read".into()], vec![], vec![]);
/// let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:api/prod/GET/x").unwrap();
/// let request = RouteRequest { arn: &arn, routed_to: None, scope: CacheScope::Token };
/// let reader = VerifiedClaims { scopes: vec!["api/read".into()], ..Default::default() };
/// assert_eq!(rules.evaluate(&reader, &request).allow, vec!["arn:aws:execute-api:us-east-1:1:api/prod/*"]);
/// assert!(rules.evaluate(&VerifiedClaims::default(), &request).permitted.is_err());
/// ```
#[derive(Debug, Default)]
pub struct AccessRules {
    required_scopes: Vec<String>,
    required_groups: Vec<String>,
    /// Sorted from most to least specific.
    rules: Vec<RouteRule>,
    prover: Option<Prover>,
    candidates: Vec<String>,
    parsed_candidates: Vec<Resource>,
    stage_policies: Memo<Vec<bool>>,
    /// By permitted set, rule, method and the candidates a request spares (none for the
    /// route's own policy).
    route_policies: Memo<(Vec<bool>, usize, String, Vec<bool>)>,
    /// By permitted set and what the policy must keep or refuse.
    widest_policies: Memo<WidestKey>,
    universal: Memo<Vec<bool>, bool>,
}

impl AccessRules {
    /// Rules with stage-wide requirements (at least one of `required_scopes`, if any, and at
    /// least one of `required_groups`, if any) and per-route rules.
    pub fn new(
        required_scopes: Vec<String>,
        required_groups: Vec<String>,
        mut rules: Vec<RouteRule>,
    ) -> Self {
        rules.sort_by(|a, b| a.pattern.specificity(&b.pattern));
        let patterns: Vec<RoutePattern> = rules.iter().map(|r| r.pattern.clone()).collect();
        let candidates = deny_candidates(&patterns);
        // Every candidate is rendered by tollgate from rule patterns, which refuse IAM
        // wildcards; one that does not parse is dropped, never sent unproven.
        let (candidates, parsed_candidates): (Vec<String>, Vec<Resource>) = candidates
            .into_iter()
            .filter_map(|c| Resource::parse(&c).ok().map(|r| (c, r)))
            .unzip();
        AccessRules {
            required_scopes,
            required_groups,
            prover: (!rules.is_empty()).then(|| Prover::new(&patterns)),
            rules,
            candidates,
            parsed_candidates,
            ..AccessRules::default()
        }
    }

    /// The rule at an index of an [`AccessOutcome`].
    pub fn rule(&self, index: usize) -> Option<&RouteRule> {
        self.rules.get(index)
    }

    fn stage_wide(&self, claims: &VerifiedClaims) -> Result<(), Rejection> {
        if !any_of(&self.required_scopes, &claims.scopes) {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token has none of the required scopes {:?}",
                    self.required_scopes
                ),
            ));
        }
        if !any_of(&self.required_groups, &claims.groups) {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token is in none of the required groups {:?}",
                    self.required_groups
                ),
            ));
        }
        Ok(())
    }

    /// The most specific rule for the request: by API Gateway's route when the event names
    /// it, else by the concrete method and path.
    ///
    /// Under a token-keyed cache the decision goes by the concrete path even when the event
    /// names a route: a cached policy is applied to later requests by their ARN, whatever
    /// resource API Gateway routes them to (resources without a rule included), so the fresh
    /// decision must be the one the policy is proven against.
    fn find_rule(&self, request: &RouteRequest<'_>) -> Result<Option<usize>, Rejection> {
        let routed_to = match request.scope {
            CacheScope::Token => None,
            CacheScope::Route | CacheScope::Off => request.routed_to,
        };
        match routed_to {
            Some(route) => {
                let text = if route.template.starts_with('$') {
                    route.template.clone()
                } else {
                    format!("{} {}", route.method, route.template)
                };
                let template = RoutePattern::parse(&text).map_err(|_| {
                    Rejection::new(
                        Reason::RouteNotPermitted,
                        "the event's route is not a resource template tollgate can read",
                    )
                })?;
                Ok(self
                    .rules
                    .iter()
                    .position(|r| r.pattern.covers_route(&route.method, &template)))
            }
            None => Ok(self.rules.iter().position(|r| {
                r.pattern
                    .matches(request.arn.method(), request.arn.resource())
            })),
        }
    }

    /// Decides the request and builds the policy for it under its cache scope.
    pub fn evaluate(&self, claims: &VerifiedClaims, request: &RouteRequest<'_>) -> AccessOutcome {
        let arn = request.arn;
        let stage_wide = self.stage_wide(claims);
        let Some(prover) = &self.prover else {
            // No rules: the whole stage, for every token that meets the stage-wide needs.
            let everything = vec![arn.stage_wildcard()];
            return match stage_wide {
                Ok(()) => AccessOutcome {
                    rule: None,
                    permitted: Ok(()),
                    allow: everything,
                    deny: vec![],
                    simple_true_ok: true,
                    narrowed: None,
                    no_safe_policy: false,
                },
                Err(why) => AccessOutcome {
                    rule: None,
                    permitted: Err(why),
                    allow: vec![],
                    deny: everything,
                    simple_true_ok: false,
                    narrowed: None,
                    no_safe_policy: false,
                },
            };
        };
        let mask: Vec<bool> = self
            .rules
            .iter()
            .map(|r| stage_wide.is_ok() && r.admits(claims))
            .collect();
        let (rule, permitted) = match self.find_rule(request) {
            Err(why) => (None, Err(why)),
            Ok(rule) => {
                let permitted = match (rule, &stage_wide) {
                    (_, Err(why)) => Err(why.clone()),
                    (None, _) => Err(Rejection::new(
                        Reason::RouteNotPermitted,
                        "no route rule covers the requested route",
                    )),
                    (Some(i), _) if mask[i] => Ok(()),
                    (Some(i), _) => Err(Rejection::new(
                        Reason::RouteNotPermitted,
                        format!(
                            "token lacks the scopes or groups that {} requires",
                            self.rules[i].pattern
                        ),
                    )),
                };
                (rule, permitted)
            }
        };
        let prefix = arn.stage_prefix();
        let full = |suffixes: &[String]| -> Vec<String> {
            suffixes.iter().map(|s| format!("{prefix}{s}")).collect()
        };
        let deny_everything = || (vec![], vec![arn.stage_wildcard()]);
        let mut narrowed = None;
        let mut no_safe_policy = false;
        let (allow, deny) = match (request.scope, &permitted, rule) {
            (CacheScope::Token, _, _) => {
                let stage = self.stage_policy(prover, &mask);
                if stage.exact {
                    (full(&stage.allow), full(&stage.deny))
                } else if let (Ok(()), Some(i)) = (&permitted, rule) {
                    let own = self.resources_for(i, arn.method());
                    let key = (mask.clone(), Ok((i, arn.method().to_string())));
                    let mut route = self.widest_policy(prover, &mask, key, Some(i), &own, || {
                        self.permitted_resources(&mask, &own)
                    });
                    if !route.safe {
                        route = self.route_policy(prover, &mask, i, arn.method());
                    }
                    if !route.safe {
                        route = self.request_policy(prover, &mask, i, arn);
                    }
                    if route.safe {
                        narrowed = Some(
                            "no single policy is exact for this token's routes; the answer allows the called route and only the routes IAM can tell apart from forbidden ones (an over-deny under a token-keyed cache)",
                        );
                        (full(&route.allow), full(&route.deny))
                    } else {
                        no_safe_policy = true;
                        narrowed = Some(
                            "no policy that allows the called route is safe under a token-keyed cache: not answered (500, never cached); declare route scope (TOLLGATE_AUTHORIZER_CACHE=route with the route among the identity sources)",
                        );
                        deny_everything()
                    }
                } else {
                    // A refusal: the widest safe policy that does not allow the request in hand.
                    let suffix = arn.raw().strip_prefix(prefix).unwrap_or_default();
                    let all = self.permitted_resources(&mask, &[]);
                    let covering: Vec<bool> =
                        all.iter().map(|r| iam_glob_matches(r, suffix)).collect();
                    let key = (mask.clone(), Err(covering.clone()));
                    let refusal = self.widest_policy(prover, &mask, key, None, &[], || {
                        all.into_iter()
                            .zip(&covering)
                            .filter(|(_, covers)| !**covers)
                            .map(|(r, _)| r)
                            .collect()
                    });
                    if refusal.safe {
                        (full(&refusal.allow), full(&refusal.deny))
                    } else {
                        deny_everything()
                    }
                }
            }
            (CacheScope::Route | CacheScope::Off, Ok(()), Some(i)) => {
                let route = self.route_policy(prover, &mask, i, arn.method());
                (full(&route.allow), full(&route.deny))
            }
            (CacheScope::Route | CacheScope::Off, _, _) => deny_everything(),
        };
        // The answer must also hold for the request in hand: a refused request is never
        // allowed by its own policy, whatever the routing model says.
        let (allow, deny) = if permitted.is_err() && policy_allows(&allow, &deny, arn.raw()) {
            deny_everything()
        } else {
            (allow, deny)
        };
        let simple_true_ok = permitted.is_ok()
            && match request.scope {
                CacheScope::Token => self.universal(prover, &mask),
                CacheScope::Route | CacheScope::Off => true,
            };
        AccessOutcome {
            rule,
            permitted,
            allow,
            deny,
            simple_true_ok,
            narrowed,
            no_safe_policy,
        }
    }

    /// The stage-wide policy for a set of permitted rules, memoised.
    fn stage_policy(&self, prover: &Prover, mask: &[bool]) -> Arc<ProvenPolicy> {
        memoised(&self.stage_policies, mask.to_vec(), || {
            let methods: usize = (0..self.rules.len())
                .filter(|i| mask[*i])
                .map(|i| self.rules[i].pattern.methods().len().max(1))
                .sum();
            if methods > MAX_POLICY_RESOURCES {
                // Too large to send whatever the proof says.
                return ProvenPolicy::not_exact();
            }
            let allow = self.permitted_resources(mask, &[]);
            self.build(prover, Some(mask), mask, allow, &[])
        })
    }

    /// The policy for one permitted rule and the called method, memoised: the rule's resource,
    /// and the Denies that refuse what it over-covers without refusing any request of the rule.
    fn route_policy(
        &self,
        prover: &Prover,
        mask: &[bool],
        rule: usize,
        method: &str,
    ) -> Arc<ProvenPolicy> {
        memoised(
            &self.route_policies,
            (mask.to_vec(), rule, method.to_string(), Vec::new()),
            || {
                let only: Vec<bool> = (0..self.rules.len()).map(|i| i == rule).collect();
                let allow = self.resources_for(rule, method);
                self.build(prover, Some(&only), mask, allow, &[])
            },
        )
    }

    /// Under a token-keyed cache with no exact stage policy: the widest safe policy that keeps
    /// `own` allowed (the called route's resource for an Allow; nothing for a refusal). It
    /// starts from `start` (the token's whole Allow, less what covers a refused request in
    /// hand) and drops every Allow resource that the prover finds covering an over-allowed
    /// request (never one of `own`), a bounded number of times, so that other routes are
    /// refused only where IAM cannot tell them apart from forbidden ones. Memoised by `key`.
    fn widest_policy(
        &self,
        prover: &Prover,
        mask: &[bool],
        key: WidestKey,
        own_rule: Option<usize>,
        own: &[String],
        start: impl FnOnce() -> Vec<String>,
    ) -> Arc<ProvenPolicy> {
        memoised(&self.widest_policies, key, || {
            let start = start();
            // First keep every permitted request out of the Denies; if that cannot be made safe,
            // keep only the called route's own (other routes may then be refused by a Deny).
            let own_only: Vec<bool> = (0..self.rules.len())
                .map(|i| mask[i] && own_rule == Some(i))
                .collect();
            // A policy over the size limit is of no use: start from the called route and at most
            // half the budget of others, and halve again while the result is too large.
            let mut start = start;
            let mut budget = MAX_POLICY_RESOURCES / 2;
            let trim = |start: &mut Vec<String>, budget: usize| {
                let mut left = budget;
                start.retain(|a| {
                    if own.contains(a) {
                        return true;
                    }
                    let keep = left > 0;
                    left = left.saturating_sub(1);
                    keep
                });
            };
            trim(&mut start, budget);
            loop {
                let mut shape = self.narrow_until_safe(prover, mask, mask, own, start.clone());
                if !shape.safe {
                    shape = self.narrow_until_safe(prover, &own_only, mask, own, start.clone());
                }
                // Too large a policy: keep the called route and half of the others, again.
                let others = start.iter().filter(|a| !own.contains(a)).count();
                if !shape.safe
                    || shape.allow.len() + shape.deny.len() <= MAX_POLICY_RESOURCES
                    || others == 0
                {
                    return shape;
                }
                budget = budget.min(others) / 2;
                trim(&mut start, budget);
            }
        })
    }

    /// Builds a policy from `allow` and drops the Allow resources that cover an over-allowed
    /// request (never one of `own`) until it is safe, a bounded number of times.
    fn narrow_until_safe(
        &self,
        prover: &Prover,
        kept: &[bool],
        mask: &[bool],
        own: &[String],
        mut allow: Vec<String>,
    ) -> ProvenPolicy {
        for _ in 0..MAX_WIDENING_ROUNDS {
            let shape = self.build(prover, Some(kept), mask, allow.clone(), &[]);
            if shape.safe {
                return shape;
            }
            let parse = |list: &[String]| -> Vec<Resource> {
                list.iter()
                    .filter_map(|r| Resource::parse(r).ok())
                    .collect()
            };
            let implicated = prover.over_allowing(mask, &parse(&shape.allow), &parse(&shape.deny));
            let before = allow.len();
            let mut index = 0;
            allow.retain(|a| {
                let keep = own.contains(a) || !implicated.get(index).copied().unwrap_or(true);
                index += 1;
                keep
            });
            if allow.len() == before {
                return shape;
            }
        }
        self.build(prover, Some(kept), mask, allow, &[])
    }

    /// Every Allow resource of the token's permitted rules, `first` first.
    fn permitted_resources(&self, mask: &[bool], first: &[String]) -> Vec<String> {
        let mut all: Vec<String> = first.to_vec();
        let mut seen: std::collections::HashSet<String> = all.iter().cloned().collect();
        for i in (0..self.rules.len()).filter(|i| mask[*i]) {
            for resource in Prover::resources(&self.rules[i].pattern) {
                if seen.insert(resource.clone()) {
                    all.push(resource);
                }
            }
        }
        all
    }

    /// The last resort under a token-keyed cache, for a request whose route has no policy that
    /// is both safe and whole: Denies may then refuse other requests of the same route (an
    /// over-deny), as long as they spare the request in hand. The choice of Denies depends on
    /// which candidates match the request; their text never comes from it.
    fn request_policy(
        &self,
        prover: &Prover,
        mask: &[bool],
        rule: usize,
        arn: &MethodArn,
    ) -> Arc<ProvenPolicy> {
        let suffix = arn
            .raw()
            .strip_prefix(arn.stage_prefix())
            .unwrap_or_default();
        let spares: Vec<bool> = self
            .candidates
            .iter()
            .map(|c| iam_glob_matches(c, suffix))
            .collect();
        memoised(
            &self.route_policies,
            (
                mask.to_vec(),
                rule,
                arn.method().to_string(),
                spares.clone(),
            ),
            || {
                let allow = self.resources_for(rule, arn.method());
                self.build(prover, None, mask, allow, &spares)
            },
        )
    }

    /// A rule's resources for one method (`ANY` stands for each method separately).
    fn resources_for(&self, rule: usize, method: &str) -> Vec<String> {
        let pattern = &self.rules[rule].pattern;
        Prover::resources(pattern)
            .into_iter()
            .filter(|r| pattern.is_route_key() || r.split('/').next() == Some(method))
            .collect()
    }

    /// Whether the token may call every request of the stage (a cached `true` is then right).
    fn universal(&self, prover: &Prover, mask: &[bool]) -> bool {
        if let Some(known) = self.universal.0.get(mask) {
            return known;
        }
        let everything = [Resource::everything()];
        let answer = prover.disagreement(mask, &everything, &[], true).is_none();
        self.universal.0.insert(mask.to_vec(), answer);
        answer
    }

    /// Allows `allow`, adds every candidate Deny that refuses something the Allow covers and
    /// the token may not call (`mask`), nothing that must stay allowed (`kept`, when given) and
    /// none of `spared`, and proves the result against `mask`: `safe` when it never allows what
    /// the token may not call, `exact` when it also allows all the token may.
    fn build(
        &self,
        prover: &Prover,
        kept: Option<&[bool]>,
        mask: &[bool],
        allow: Vec<String>,
        spared: &[bool],
    ) -> ProvenPolicy {
        if allow.is_empty() {
            let exact = prover.disagreement(mask, &[], &[], false).is_none();
            return ProvenPolicy {
                allow,
                deny: vec![],
                safe: true,
                exact,
                over_allowed: None,
            };
        }
        let parsed_allow: Vec<Resource> = allow
            .iter()
            .filter_map(|a| Resource::parse(a).ok())
            .collect();
        if parsed_allow.len() != allow.len() {
            return ProvenPolicy::not_exact();
        }
        let nothing_kept = vec![false; mask.len()];
        let report = prover.judge_candidates(
            kept.unwrap_or(&nothing_kept),
            mask,
            &parsed_allow,
            &self.parsed_candidates,
        );
        let chosen: Vec<usize> = (0..self.candidates.len())
            .filter(|c| report.useful[*c] && !report.harmful[*c])
            .filter(|c| !spared.get(*c).copied().unwrap_or(false))
            .collect();
        let deny: Vec<String> = chosen.iter().map(|c| self.candidates[*c].clone()).collect();
        let parsed_deny: Vec<Resource> = chosen
            .iter()
            .map(|c| self.parsed_candidates[*c].clone())
            .collect();
        let found = prover.disagreement(mask, &parsed_allow, &parsed_deny, false);
        let over_allowed = match &found {
            None => None,
            Some(d) if d.policy_allows => Some(d.request.clone()),
            Some(_) => prover
                .disagreement(mask, &parsed_allow, &parsed_deny, true)
                .map(|d| d.request),
        };
        let exact = found.is_none() && allow.len() + deny.len() <= MAX_POLICY_RESOURCES;
        ProvenPolicy {
            allow,
            deny,
            safe: over_allowed.is_none(),
            exact,
            over_allowed,
        }
    }
}

fn memoised<K: std::hash::Hash + Eq + Clone>(
    memo: &Memo<K>,
    key: K,
    build: impl FnOnce() -> ProvenPolicy,
) -> Arc<ProvenPolicy> {
    if let Some(shape) = memo.0.get(&key) {
        return shape;
    }
    // Built outside the lock: a slow proof must not hold up requests for other tokens; and
    // within a budget of states, so no rule set or request makes one decision slow.
    let shape = Arc::new(exactness::with_budget(exactness::BUILD_BUDGET, build));
    memo.0.insert(key, shape.clone());
    shape
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn(method_and_path: &str) -> MethodArn {
        MethodArn::parse(&format!(
            "arn:aws:execute-api:us-east-1:123456789012:api1/prod/{method_and_path}"
        ))
        .unwrap()
    }

    fn rule(route: &str, scopes: &[&str]) -> RouteRule {
        RouteRule {
            pattern: RoutePattern::parse(route).unwrap(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            groups: vec![],
            price_micros: 0,
            plan_prices: HashMap::new(),
        }
    }

    fn claims(scopes: &[&str]) -> VerifiedClaims {
        VerifiedClaims {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn token(arn: &MethodArn) -> RouteRequest<'_> {
        RouteRequest {
            arn,
            routed_to: None,
            scope: CacheScope::Token,
        }
    }

    const P: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

    #[test]
    fn no_rules_permit_the_whole_stage_only() {
        let a = arn("GET/pets");
        let v = AccessRules::default().evaluate(&VerifiedClaims::default(), &token(&a));
        assert_eq!(v.allow, vec![format!("{P}*")]);
        assert!(v.permitted.is_ok());
    }

    #[test]
    fn allow_lists_exactly_the_permitted_rules() {
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /pets", &["read"]),
                rule("GET /pets/{id}", &["read"]),
                rule("DELETE /pets/{id}", &["admin"]),
            ],
        );
        let a = arn("GET/pets/7");
        let v = rules.evaluate(&claims(&["read"]), &token(&a));
        assert!(v.permitted.is_ok());
        assert_eq!(v.narrowed, None);
        assert_eq!(
            v.allow,
            vec![format!("{P}GET/pets/*"), format!("{P}GET/pets")]
        );
        // No Allow covers DELETE, so it needs no Deny; GET/pets/* must not reach deeper
        // paths, nor paths with an empty segment.
        assert!(v.deny.contains(&format!("{P}GET/pets/*/*")));
        assert!(v.deny.contains(&format!("{P}GET/pets/")));
        assert!(!v.deny.iter().any(|d| d.contains("DELETE")));
    }

    #[test]
    fn any_is_spelled_out_as_the_methods_never_a_star() {
        let rules = AccessRules::new(vec![], vec![], vec![rule("ANY /status", &[])]);
        let a = arn("GET/status");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.allow.len(), 7);
        assert!(v.allow.iter().all(|r| !r.ends_with("*/status")));
        assert!(v.allow.contains(&format!("{P}DELETE/status")));
    }

    #[test]
    fn forbidden_rule_under_an_allowed_wildcard_is_denied_explicitly() {
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /docs/{page+}", &[]),
                rule("GET /docs/internal", &["staff"]),
            ],
        );
        let a = arn("GET/docs/intro");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.allow, vec![format!("{P}GET/docs/*")]);
        assert!(v.deny.contains(&format!("{P}GET/docs/internal")));
    }

    #[test]
    fn policy_that_iam_would_read_differently_falls_back_to_the_route() {
        // Deny GET/a/*/secret (for the forbidden rule) would also match GET/a/1/x/secret,
        // which is permitted: no stage-wide policy is exact, so only the called route is
        // allowed, from its rule's pattern (never from the request).
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /a/{id}", &[]),
                rule("GET /a/{id}/secret", &["admin"]),
                rule("GET /a/{id}/x/secret", &[]),
            ],
        );
        let a = arn("GET/a/1/x/secret");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert!(v.permitted.is_ok());
        assert!(v.narrowed.is_some());
        assert_eq!(v.allow, vec![format!("{P}GET/a/*/x/secret")]);
        assert!(policy_allows(&v.allow, &v.deny, a.raw()));
    }

    #[test]
    fn route_without_a_rule_is_denied_without_naming_the_request() {
        let rules = AccessRules::new(vec![], vec![], vec![rule("GET /pets", &[])]);
        let a = arn("GET/owners");
        let v = rules.evaluate(&claims(&[]), &token(&a));
        assert_eq!(v.permitted.unwrap_err().reason, Reason::RouteNotPermitted);
        assert_eq!(v.allow, vec![format!("{P}GET/pets")]);
        assert!(!v.deny.iter().chain(&v.allow).any(|r| r.contains("owners")));
        assert!(!policy_allows(&v.allow, &v.deny, a.raw()));
    }

    #[test]
    fn cache_scope_names_parse_and_anything_else_is_refused() {
        assert_eq!("route".parse::<CacheScope>(), Ok(CacheScope::Route));
        assert_eq!(" off ".parse::<CacheScope>(), Ok(CacheScope::Off));
        assert!(
            "Token"
                .parse::<CacheScope>()
                .unwrap_err()
                .to_string()
                .contains("is not")
        );
    }
}
