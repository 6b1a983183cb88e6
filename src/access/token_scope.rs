//! The answer under a token-keyed cache, where one policy serves every later request of the
//! token: the stage-wide policy when one is exact, else the widest policies proven never to
//! over-allow, in order, down to refusing to answer (500, never cached).

use std::collections::HashSet;
use std::sync::Arc;

use crate::event::MethodArn;
use crate::exactness::{Budget, Domain, Policy, Prover, Resource, RuleSet};
use crate::routes::iam_glob_matches;

use super::proven::{Goal, Memo, ProvenPolicy, memoised, parsed, prove};
use super::{AccessRules, Answer, Fit, MAX_POLICY_RESOURCES};

/// How many times the widest fallback policy may drop Allow resources before giving up.
const MAX_WIDENING_ROUNDS: usize = 8;

/// A token's permitted rules, over a domain: what a stage-wide policy is built for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct StageKey {
    domain: Domain,
    permitted: RuleSet,
}

/// What a widest fallback policy must keep.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Keep {
    /// The called rule and method stay allowed.
    Route { rule: usize, method: String },
    /// The request in hand is refused: these of the token's Allow resources (by position)
    /// cover it and are left out.
    Refusal { covering: Vec<bool> },
}

/// What a widest fallback policy is built for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct WidestKey {
    stage: StageKey,
    keep: Keep,
}

/// What a last-resort policy for one request is built for: its rule and method, and which
/// candidates it must spare (those that match it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RequestKey {
    stage: StageKey,
    rule: usize,
    method: String,
    spared: Vec<bool>,
}

/// The token-scope proofs, memoised.
#[derive(Debug, Default)]
pub(super) struct Memos {
    stage: Memo<StageKey>,
    widest: Memo<WidestKey>,
    request: Memo<RequestKey>,
    universal: Memo<StageKey, bool>,
}

impl AccessRules {
    /// Under a token-keyed cache: the stage policy if it is exact; for a permitted request, the
    /// widest safe policy that keeps the called route, then the route's own, then one that only
    /// spares the request in hand, else no answer; for a refusal, the widest safe policy that
    /// does not allow the request.
    pub(super) fn token_scope_answer(
        &self,
        prover: &Prover,
        domain: Domain,
        permitted: &RuleSet,
        rule: Option<usize>,
        is_permitted: bool,
        arn: &MethodArn,
    ) -> Answer {
        let stage_key = StageKey {
            domain,
            permitted: permitted.clone(),
        };
        let stage = self.stage_policy(prover, &stage_key);
        if stage.exact {
            return Answer {
                policy: Some(stage),
                fit: Fit::Exact,
            };
        }
        let method = arn.method();
        match rule.filter(|_| is_permitted) {
            Some(i) => {
                let own = self.resources_for(prover, i, method);
                let key = WidestKey {
                    stage: stage_key.clone(),
                    keep: Keep::Route {
                        rule: i,
                        method: method.to_string(),
                    },
                };
                let mut route = self.widest_policy(prover, permitted, key, Some(i), &own, || {
                    self.permitted_resources(prover, permitted, &own)
                });
                if !route.safe {
                    route = self.route_policy(prover, domain, permitted, i, method);
                }
                if !route.safe {
                    route = self.request_policy(prover, &stage_key, i, arn);
                }
                if route.safe {
                    Answer {
                        policy: Some(route),
                        fit: Fit::Narrowed,
                    }
                } else {
                    Answer {
                        policy: None,
                        fit: Fit::NoSafePolicy,
                    }
                }
            }
            None => {
                // A refusal: the widest safe policy that does not allow the request in hand.
                let suffix = arn
                    .raw()
                    .strip_prefix(arn.stage_prefix())
                    .unwrap_or_default();
                let all = self.permitted_resources(prover, permitted, &[]);
                let covering: Vec<bool> = all.iter().map(|r| iam_glob_matches(r, suffix)).collect();
                let key = WidestKey {
                    stage: stage_key,
                    keep: Keep::Refusal {
                        covering: covering.clone(),
                    },
                };
                let refusal = self.widest_policy(prover, permitted, key, None, &[], || {
                    all.into_iter()
                        .zip(&covering)
                        .filter(|(_, covers)| !**covers)
                        .map(|(r, _)| r)
                        .collect()
                });
                Answer {
                    policy: refusal.safe.then_some(refusal),
                    fit: Fit::Exact,
                }
            }
        }
    }

    /// The stage-wide policy for a set of permitted rules, memoised.
    fn stage_policy(&self, prover: &Prover, key: &StageKey) -> Arc<ProvenPolicy> {
        let permitted = &key.permitted;
        memoised(&self.memos.stage, key.clone(), |budget| {
            let methods: usize = permitted
                .iter()
                .map(|i| self.rules[i].pattern.methods().len().max(1))
                .sum();
            if methods > MAX_POLICY_RESOURCES {
                // Too large to send whatever the proof says.
                return ProvenPolicy::not_exact();
            }
            let allow = self.permitted_resources(prover, permitted, &[]);
            let goal = Goal {
                permitted,
                kept: Some(permitted),
                spared: &[],
            };
            prove(prover, &self.candidates, &goal, allow, budget)
        })
    }

    /// The widest safe policy that keeps `own` allowed (the called route's resources for an
    /// Allow; nothing for a refusal). It starts from `start` (the token's whole Allow, less what
    /// covers a refused request in hand) and drops every Allow resource that the prover finds
    /// covering an over-allowed request (never one of `own`), a bounded number of times, so that
    /// other routes are refused only where IAM cannot tell them apart from forbidden ones.
    fn widest_policy(
        &self,
        prover: &Prover,
        permitted: &RuleSet,
        key: WidestKey,
        own_rule: Option<usize>,
        own: &[String],
        start: impl FnOnce() -> Vec<String>,
    ) -> Arc<ProvenPolicy> {
        memoised(&self.memos.widest, key, |budget| {
            // First keep every permitted request out of the Denies; if that cannot be made
            // safe, keep only the called route's own (other routes may then be refused).
            let own_only = match own_rule.filter(|i| permitted.contains(*i)) {
                Some(i) => RuleSet::only(self.rules.len(), i),
                None => RuleSet::empty(),
            };
            // A policy over the size limit is of no use: start from the called route and at
            // most half the budget of others, and halve again while the result is too large.
            let mut start = start();
            let mut allowance = MAX_POLICY_RESOURCES / 2;
            let trim = |start: &mut Vec<String>, allowance: usize| {
                let mut left = allowance;
                start.retain(|a| {
                    if own.contains(a) {
                        return true;
                    }
                    let keep = left > 0;
                    left = left.saturating_sub(1);
                    keep
                });
            };
            trim(&mut start, allowance);
            loop {
                let mut shape = self.narrow_until_safe(
                    prover,
                    permitted,
                    permitted,
                    own,
                    start.clone(),
                    budget,
                );
                if !shape.safe {
                    shape = self.narrow_until_safe(
                        prover,
                        &own_only,
                        permitted,
                        own,
                        start.clone(),
                        budget,
                    );
                }
                // Too large a policy: keep the called route and half of the others, again.
                let others = start.iter().filter(|a| !own.contains(a)).count();
                if !shape.safe
                    || shape.allow.len() + shape.deny.len() <= MAX_POLICY_RESOURCES
                    || others == 0
                {
                    return shape;
                }
                allowance = allowance.min(others) / 2;
                trim(&mut start, allowance);
            }
        })
    }

    /// Builds a policy from `allow` and drops the Allow resources that cover an over-allowed
    /// request (never one of `own`) until it is safe, a bounded number of times.
    fn narrow_until_safe(
        &self,
        prover: &Prover,
        kept: &RuleSet,
        permitted: &RuleSet,
        own: &[String],
        mut allow: Vec<String>,
        budget: &mut Budget,
    ) -> ProvenPolicy {
        let goal = Goal {
            permitted,
            kept: Some(kept),
            spared: &[],
        };
        for _ in 0..MAX_WIDENING_ROUNDS {
            let shape = prove(prover, &self.candidates, &goal, allow.clone(), budget);
            if shape.safe {
                return shape;
            }
            let resources = |list: &[String]| -> Vec<Resource> { parsed(list).unwrap_or_default() };
            let (parsed_allow, parsed_deny) = (resources(&shape.allow), resources(&shape.deny));
            let policy = Policy {
                allow: &parsed_allow,
                deny: &parsed_deny,
            };
            let implicated = prover.over_allowing(permitted, policy, budget);
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
        prove(prover, &self.candidates, &goal, allow, budget)
    }

    /// Every Allow resource of the token's permitted rules, `first` first.
    fn permitted_resources(
        &self,
        prover: &Prover,
        permitted: &RuleSet,
        first: &[String],
    ) -> Vec<String> {
        let mut all: Vec<String> = first.to_vec();
        let mut seen: HashSet<String> = all.iter().cloned().collect();
        for i in permitted.iter() {
            for resource in prover.rule_resources(i) {
                if seen.insert(resource.clone()) {
                    all.push(resource.clone());
                }
            }
        }
        all
    }

    /// The last resort for a request whose route has no policy that is both safe and whole:
    /// Denies may then refuse other requests of the same route (an over-deny), as long as they
    /// spare the request in hand. The choice of Denies depends on which candidates match the
    /// request; their text never comes from it.
    fn request_policy(
        &self,
        prover: &Prover,
        stage: &StageKey,
        rule: usize,
        arn: &MethodArn,
    ) -> Arc<ProvenPolicy> {
        let suffix = arn
            .raw()
            .strip_prefix(arn.stage_prefix())
            .unwrap_or_default();
        let spared = self.candidates.matching(suffix);
        let key = RequestKey {
            stage: stage.clone(),
            rule,
            method: arn.method().to_string(),
            spared: spared.clone(),
        };
        memoised(&self.memos.request, key, |budget| {
            let goal = Goal {
                permitted: &stage.permitted,
                kept: None,
                spared: &spared,
            };
            let allow = self.resources_for(prover, rule, arn.method());
            prove(prover, &self.candidates, &goal, allow, budget)
        })
    }

    /// Whether the token may call every request of the domain (a cached `true` is then right),
    /// memoised and within a budget.
    pub(super) fn universal(&self, prover: &Prover, domain: Domain, permitted: &RuleSet) -> bool {
        let key = StageKey {
            domain,
            permitted: permitted.clone(),
        };
        self.memos.universal.get_or_build(key, |budget| {
            let everything = [Resource::everything()];
            let policy = Policy {
                allow: &everything,
                deny: &[],
            };
            prover
                .disagreement(permitted, policy, true, budget)
                .is_none()
        })
    }
}
