//! The answer that covers one route: the called rule's resources for the called method, with
//! the Denies that keep IAM's `*` from reaching deeper or sibling routes. It is the whole answer
//! under route scope (the route is in the cache key) and a fallback under token scope.

use std::sync::Arc;

use crate::exactness::{Budget, Domain, Prover, RuleSet};

use super::proven::{Goal, Memo, ProvenPolicy, memoised, prove};
use super::{AccessRules, Answer, Fit};

/// What a route's policy is built for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct RouteKey {
    domain: Domain,
    permitted: RuleSet,
    rule: usize,
    method: String,
}

/// Route policies, memoised.
#[derive(Debug, Default)]
pub(super) struct RouteMemo(Memo<RouteKey>);

impl AccessRules {
    /// Under route scope (or off): the called route's policy.
    pub(super) fn route_scope_answer(
        &self,
        prover: &Prover,
        permitted: &RuleSet,
        rule: usize,
        method: &str,
    ) -> Answer {
        Answer {
            policy: Some(self.route_policy(prover, Domain::EveryRequest, permitted, rule, method)),
            fit: Fit::Exact,
        }
    }

    /// The policy for one permitted rule and the called method, memoised: the rule's resources,
    /// and the Denies that refuse what they over-cover without refusing any request of the rule.
    pub(super) fn route_policy(
        &self,
        prover: &Prover,
        domain: Domain,
        permitted: &RuleSet,
        rule: usize,
        method: &str,
    ) -> Arc<ProvenPolicy> {
        let key = RouteKey {
            domain,
            permitted: permitted.clone(),
            rule,
            method: method.to_string(),
        };
        memoised(&self.route_memo.0, key, |budget: &mut Budget| {
            let only = RuleSet::only(self.rules.len(), rule);
            let goal = Goal {
                permitted,
                kept: Some(&only),
                spared: &[],
            };
            let allow = self.resources_for(prover, rule, method);
            prove(prover, &self.candidates, &goal, allow, budget)
        })
    }

    /// A rule's resources for one method (`ANY` stands for each method separately).
    pub(super) fn resources_for(&self, prover: &Prover, rule: usize, method: &str) -> Vec<String> {
        let pattern = &self.rules[rule].pattern;
        prover
            .rule_resources(rule)
            .iter()
            .filter(|r| pattern.is_route_key() || r.split('/').next() == Some(method))
            .cloned()
            .collect()
    }
}
