//! Policies with their proof: an Allow list, the candidate Denies that make it right, and what
//! the prover found (safe, exact, or the request it over-allows). Proofs are memoised by what
//! they were built for, each within its own [`Budget`].

use std::hash::Hash;
use std::sync::Arc;

use crate::bounded_cache::BoundedCache;
use crate::exactness::{Budget, Policy, Prover, Resource, RuleSet, deny_candidates};
use crate::routes::{RoutePattern, iam_glob_matches};

use super::MAX_POLICY_RESOURCES;

/// Memoised answers kept at most, per kind (the oldest makes room).
const MAX_MEMOISED: usize = 1024;

/// A proven policy shape: resource suffixes (after `API/STAGE/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ProvenPolicy {
    pub(super) allow: Vec<String>,
    pub(super) deny: Vec<String>,
    /// No request is allowed that the rules refuse under the permitted set it was built for.
    pub(super) safe: bool,
    /// And no request is refused that the rules permit.
    pub(super) exact: bool,
}

impl ProvenPolicy {
    /// No policy: allows nothing (so it is safe), and is not the exact answer.
    pub(super) fn not_exact() -> Self {
        ProvenPolicy {
            allow: vec![],
            deny: vec![],
            safe: true,
            exact: false,
        }
    }
}

/// Proven answers by what they were built for.
#[derive(Debug)]
pub(super) struct Memo<K, V = Arc<ProvenPolicy>>(BoundedCache<K, V>);

impl<K: Hash + Eq + Clone, V: Clone> Default for Memo<K, V> {
    fn default() -> Self {
        Memo(BoundedCache::new(MAX_MEMOISED))
    }
}

impl<K: Hash + Eq + Clone, V: Clone> Memo<K, V> {
    /// The answer for `key`, built (outside any lock, within a budget of its own: a slow proof
    /// must not hold up requests for other tokens, and no rule set or request may make one
    /// decision slow) the first time it is asked for.
    pub(super) fn get_or_build(&self, key: K, build: impl FnOnce(&mut Budget) -> V) -> V {
        if let Some(known) = self.0.get(&key) {
            return known;
        }
        let value = build(&mut Budget::per_build());
        self.0.insert(key, value.clone());
        value
    }
}

/// Proves a policy and memoises it.
pub(super) fn memoised<K: Hash + Eq + Clone>(
    memo: &Memo<K>,
    key: K,
    build: impl FnOnce(&mut Budget) -> ProvenPolicy,
) -> Arc<ProvenPolicy> {
    memo.get_or_build(key, |budget| Arc::new(build(budget)))
}

/// The Deny resources a policy may draw on, rendered from the rule patterns and parsed back as
/// the prover reads them.
#[derive(Debug, Default)]
pub(super) struct DenyCandidates {
    texts: Vec<String>,
    parsed: Vec<Resource>,
}

impl DenyCandidates {
    pub(super) fn new(patterns: &[RoutePattern]) -> Self {
        // Every candidate is rendered by tollgate from rule patterns, which refuse IAM
        // wildcards; one that does not parse is dropped, never sent unproven.
        let (texts, parsed) = deny_candidates(patterns)
            .into_iter()
            .filter_map(|c| Resource::parse(&c).ok().map(|r| (c, r)))
            .unzip();
        DenyCandidates { texts, parsed }
    }

    /// For each candidate, whether it matches a request (resource suffix) in hand: what a
    /// policy for that request must spare.
    pub(super) fn matching(&self, suffix: &str) -> Vec<bool> {
        self.texts
            .iter()
            .map(|c| iam_glob_matches(c, suffix))
            .collect()
    }
}

/// Parses resource suffixes tollgate rendered; `None` if one does not parse (never proven).
pub(super) fn parsed(list: &[String]) -> Option<Vec<Resource>> {
    list.iter().map(|r| Resource::parse(r).ok()).collect()
}

/// What a policy build must respect.
pub(super) struct Goal<'a> {
    /// The rules the token may call: the policy must never allow another's request.
    pub(super) permitted: &'a RuleSet,
    /// The rules whose requests no Deny may refuse (`None`: none need be kept, the Denies may
    /// refuse what they like as long as `spared` is spared).
    pub(super) kept: Option<&'a RuleSet>,
    /// Candidates that must not be chosen (they match the request in hand).
    pub(super) spared: &'a [bool],
}

/// Allows `allow`, adds every candidate Deny that refuses something the Allow covers and the
/// token may not call, nothing that must stay allowed and none that must be spared, and proves
/// the result: `safe` when it never allows what the token may not call, `exact` when it also
/// allows all the token may (and fits in a policy).
pub(super) fn prove(
    prover: &Prover,
    candidates: &DenyCandidates,
    goal: &Goal<'_>,
    allow: Vec<String>,
    budget: &mut Budget,
) -> ProvenPolicy {
    if allow.is_empty() {
        let nothing = Policy {
            allow: &[],
            deny: &[],
        };
        let exact = prover
            .disagreement(goal.permitted, nothing, false, budget)
            .is_none();
        return ProvenPolicy {
            allow,
            deny: vec![],
            safe: true,
            exact,
        };
    }
    let Some(parsed_allow) = parsed(&allow) else {
        return ProvenPolicy::not_exact();
    };
    let nothing_kept = RuleSet::empty();
    let report = prover.judge_candidates(
        goal.kept.unwrap_or(&nothing_kept),
        goal.permitted,
        &parsed_allow,
        &candidates.parsed,
        budget,
    );
    let chosen: Vec<usize> = (0..candidates.texts.len())
        .filter(|c| report.useful[*c] && !report.harmful[*c])
        .filter(|c| !goal.spared.get(*c).copied().unwrap_or(false))
        .collect();
    let deny: Vec<String> = chosen
        .iter()
        .map(|c| candidates.texts[*c].clone())
        .collect();
    let parsed_deny: Vec<Resource> = chosen
        .iter()
        .map(|c| candidates.parsed[*c].clone())
        .collect();
    let policy = Policy {
        allow: &parsed_allow,
        deny: &parsed_deny,
    };
    let found = prover.disagreement(goal.permitted, policy, false, budget);
    let over_allows = match &found {
        None => false,
        Some(d) if d.policy_allows => true,
        Some(_) => prover
            .disagreement(goal.permitted, policy, true, budget)
            .is_some(),
    };
    let exact = found.is_none() && allow.len() + deny.len() <= MAX_POLICY_RESOURCES;
    ProvenPolicy {
        allow,
        deny,
        safe: !over_allows,
        exact,
    }
}
