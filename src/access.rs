//! Which routes a verified token may call, and which route rule this request matched.
//!
//! The answer is a set of `execute-api` resources, because API Gateway caches the policy per
//! identity and reuses it for every route that identity calls: the Allow must cover exactly
//! what this token may call on this API and stage, never only the triggering route and never
//! another API or stage. With no rules that is the whole stage. With rules, each permitted
//! rule becomes an Allow resource and each forbidden rule that an Allow would cover becomes a
//! Deny resource (an explicit Deny wins in IAM). IAM's `*` also spans `/`, so a `{param}`
//! would cover deeper paths too: those are denied as well, except under a permitted rule that
//! lives deeper (`/users/{id}` and `/users/{id}/photos`), where a path with no rule at all
//! stays covered by the cached policy. Every policy is checked against sample requests of every
//! rule before it is used; a policy that would disagree with the rules, or that is too large,
//! is replaced by one naming only the requested route, which can be wrong only in the safe
//! direction (a 403 under caching).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::errors::{Reason, Rejection};
use crate::event::MethodArn;
use crate::log;
use crate::routes::{RoutePattern, iam_glob_matches};
use crate::verify::VerifiedClaims;

/// Most resources in one policy; API Gateway caps the authorizer response's size.
pub const MAX_POLICY_RESOURCES: usize = 40;

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

/// The outcome for one request: the rule it matched, whether it is permitted, and the policy
/// resources for the whole stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The most specific rule matching the request, if any.
    pub rule: Option<usize>,
    /// `Ok` if the token may call the requested route, else why not.
    pub permitted: Result<(), Rejection>,
    /// Resources to Allow.
    pub allow: Vec<String>,
    /// Resources to Deny.
    pub deny: Vec<String>,
}

/// Resource suffixes (after `API/STAGE/`) of a policy, for one set of permitted rules.
type PolicyShape = Option<Arc<(Vec<String>, Vec<String>)>>;

/// The route rules, built once from the configuration.
///
/// ```
/// use tollgate::{access::AccessRules, event::MethodArn, verify::VerifiedClaims};
/// let rules = AccessRules::new(vec!["api/read".into()], vec![], vec![]);
/// let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:api/prod/GET/x").unwrap();
/// let reader = VerifiedClaims { scopes: vec!["api/read".into()], ..Default::default() };
/// assert_eq!(rules.evaluate(&reader, &arn).allow, vec!["arn:aws:execute-api:us-east-1:1:api/prod/*"]);
/// assert!(rules.evaluate(&VerifiedClaims::default(), &arn).permitted.is_err());
/// ```
#[derive(Debug, Default)]
pub struct AccessRules {
    required_scopes: Vec<String>,
    required_groups: Vec<String>,
    /// Sorted from most to least specific.
    rules: Vec<RouteRule>,
    catch_all: bool,
    policies: Mutex<HashMap<Vec<bool>, PolicyShape>>,
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
        let catch_all = rules.iter().any(|r| {
            r.pattern.as_str() == "ANY /*"
                || (r.pattern.as_str().starts_with("ANY /{") && r.pattern.as_str().ends_with("+}"))
        });
        AccessRules {
            required_scopes,
            required_groups,
            rules,
            catch_all,
            policies: Mutex::new(HashMap::new()),
        }
    }

    /// The rule at an index of a [`Verdict`].
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

    /// Decides the request and builds the policy resources for this token on this stage.
    pub fn evaluate(&self, claims: &VerifiedClaims, arn: &MethodArn) -> Verdict {
        let stage_wide = self.stage_wide(claims);
        if self.rules.is_empty() {
            return match stage_wide {
                Ok(()) => Verdict {
                    rule: None,
                    permitted: Ok(()),
                    allow: vec![arn.stage_wildcard()],
                    deny: vec![],
                },
                Err(why) => Verdict {
                    rule: None,
                    permitted: Err(why),
                    allow: vec![],
                    deny: vec![arn.raw.clone()],
                },
            };
        }
        let mask: Vec<bool> = self
            .rules
            .iter()
            .map(|r| stage_wide.is_ok() && r.admits(claims))
            .collect();
        let rule = self
            .rules
            .iter()
            .position(|r| r.pattern.matches(&arn.method, &arn.resource));
        let permitted = match (rule, &stage_wide) {
            (_, Err(why)) => Err(why.clone()),
            (None, _) => Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!("no route rule matches {} /{}", arn.method, arn.resource),
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
        let prefix = arn.stage_prefix();
        let (mut allow, mut deny) = match self.policy_for(mask) {
            Some(shape) => (
                shape.0.iter().map(|s| format!("{prefix}{s}")).collect(),
                shape.1.iter().map(|s| format!("{prefix}{s}")).collect(),
            ),
            None if permitted.is_ok() => (vec![arn.raw.clone()], vec![]),
            None => (vec![], vec![]),
        };
        if permitted.is_err() && !deny.contains(&arn.raw) {
            deny.push(arn.raw.clone());
        }
        allow.dedup();
        Verdict {
            rule,
            permitted,
            allow,
            deny,
        }
    }

    fn policy_for(&self, mask: Vec<bool>) -> PolicyShape {
        let mut memo = self.policies.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(shape) = memo.get(&mask) {
            return shape.clone();
        }
        let shape = self.build_policy(&mask);
        if memo.len() >= 1024 {
            memo.clear();
        }
        memo.insert(mask, shape.clone());
        shape
    }

    fn build_policy(&self, mask: &[bool]) -> PolicyShape {
        let (permitted, forbidden): (Vec<_>, Vec<_>) =
            self.rules.iter().zip(mask).partition(|(_, ok)| **ok);
        let allow: Vec<String> = permitted
            .iter()
            .map(|(r, _)| r.pattern.resource())
            .collect();
        let deny_covered = |allow: &[String]| -> Vec<String> {
            forbidden
                .iter()
                .filter(|(r, _)| {
                    r.pattern
                        .samples()
                        .iter()
                        .any(|(m, p)| allow.iter().any(|a| iam_glob_matches(a, &sample(m, p))))
                })
                .map(|(r, _)| r.pattern.resource())
                .collect()
        };
        let mut deny = deny_covered(&allow);
        // A `{param}` becomes `*`, which IAM also lets span `/`: deny the deeper paths, unless
        // a permitted rule lives there (then they stay allowed; see the module comment).
        let permitted_samples: Vec<String> = permitted
            .iter()
            .flat_map(|(r, _)| r.pattern.samples())
            .map(|(m, p)| sample(&m, &p))
            .collect();
        for deeper in permitted
            .iter()
            .flat_map(|(r, _)| r.pattern.deeper_resources())
        {
            if !deny.contains(&deeper)
                && !permitted_samples
                    .iter()
                    .any(|s| iam_glob_matches(&deeper, s))
            {
                deny.push(deeper);
            }
        }
        if allow.len() + deny.len() <= MAX_POLICY_RESOURCES && self.agrees(mask, &allow, &deny) {
            return Some(Arc::new((allow, deny)));
        }
        // Too large or not expressible rule by rule: with a catch-all rule, every route has a
        // rule, so the whole stage minus the forbidden rules is exact (and checked again).
        if self.catch_all && !permitted.is_empty() {
            let allow = vec!["*".to_string()];
            let deny = deny_covered(&allow);
            if deny.len() < MAX_POLICY_RESOURCES && self.agrees(mask, &allow, &deny) {
                return Some(Arc::new((allow, deny)));
            }
        }
        log::warn(
            "policy_narrowed",
            "the route rules cannot be expressed as one cacheable policy for this token; only the requested route is named",
        );
        None
    }

    /// Whether IAM evaluation of the policy gives the rules' answer on every rule's samples.
    fn agrees(&self, mask: &[bool], allow: &[String], deny: &[String]) -> bool {
        self.rules
            .iter()
            .flat_map(|r| r.pattern.samples())
            .all(|(method, path)| {
                let expected = self
                    .rules
                    .iter()
                    .position(|r| r.pattern.matches(&method, &path))
                    .is_some_and(|i| mask[i]);
                let resource = sample(&method, &path);
                let denied = deny.iter().any(|d| iam_glob_matches(d, &resource));
                let allowed = allow.iter().any(|a| iam_glob_matches(a, &resource));
                expected == (allowed && !denied)
            })
    }
}

/// The resource suffix of a sample request, as it appears in a method ARN.
fn sample(method: &str, path: &str) -> String {
    if method.starts_with('$') && path.is_empty() {
        method.to_string()
    } else {
        format!("{method}/{path}")
    }
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

    const P: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

    #[test]
    fn no_rules_permit_the_whole_stage_only() {
        let v = AccessRules::default().evaluate(&VerifiedClaims::default(), &arn("GET/pets"));
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
        let v = rules.evaluate(&claims(&["read"]), &arn("GET/pets/7"));
        assert!(v.permitted.is_ok());
        assert_eq!(
            v.allow,
            vec![format!("{P}GET/pets/*"), format!("{P}GET/pets")]
        );
        // No Allow covers DELETE, so it needs no Deny; GET/pets/* must not reach deeper paths.
        assert_eq!(v.deny, vec![format!("{P}GET/pets/*/*")]);
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
        let v = rules.evaluate(&claims(&[]), &arn("GET/docs/intro"));
        assert_eq!(v.allow, vec![format!("{P}GET/docs/*")]);
        assert_eq!(v.deny, vec![format!("{P}GET/docs/internal")]);
    }

    #[test]
    fn allowed_rule_nested_under_a_forbidden_one_is_allowed_alone() {
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /a/{id}", &["admin"]),
                rule("GET /a/{id}/public", &[]),
            ],
        );
        let v = rules.evaluate(&claims(&[]), &arn("GET/a/1/public"));
        assert!(v.permitted.is_ok());
        assert_eq!(v.allow, vec![format!("{P}GET/a/*/public")]);
        // The Allow does not cover GET /a/{id}, so that needs no Deny; only the deeper paths do.
        assert_eq!(v.deny, vec![format!("{P}GET/a/*/*/public")]);
    }

    #[test]
    fn policy_that_iam_would_read_differently_narrows_to_the_route() {
        // Deny GET/a/*/secret (for the forbidden rule) would also match GET/a/1/x/secret,
        // which is permitted: no glob policy is exact, so only the requested route is named.
        let rules = AccessRules::new(
            vec![],
            vec![],
            vec![
                rule("GET /a/{id}", &[]),
                rule("GET /a/{id}/secret", &["admin"]),
                rule("GET /a/{id}/x/secret", &[]),
            ],
        );
        let v = rules.evaluate(&claims(&[]), &arn("GET/a/1/x/secret"));
        assert!(v.permitted.is_ok());
        assert_eq!(v.allow, vec![format!("{P}GET/a/1/x/secret")]);
        assert!(v.deny.is_empty());
    }

    #[test]
    fn route_without_a_rule_is_denied() {
        let rules = AccessRules::new(vec![], vec![], vec![rule("GET /pets", &[])]);
        let v = rules.evaluate(&claims(&[]), &arn("GET/owners"));
        assert_eq!(v.permitted.unwrap_err().reason, Reason::RouteNotPermitted);
        assert_eq!(v.allow, vec![format!("{P}GET/pets")]);
        assert_eq!(v.deny, vec![format!("{P}GET/owners")]);
    }

    #[test]
    fn too_many_rules_with_a_catch_all_collapse_to_the_stage_minus_forbidden() {
        let mut list: Vec<RouteRule> = (0..50).map(|i| rule(&format!("GET /r{i}"), &[])).collect();
        list.push(rule("GET /secret", &["admin"]));
        list.push(rule("ANY /*", &[]));
        let v = AccessRules::new(vec![], vec![], list).evaluate(&claims(&[]), &arn("GET/r1"));
        assert_eq!(v.allow, vec![format!("{P}*")]);
        assert_eq!(v.deny, vec![format!("{P}GET/secret")]);
    }
}
