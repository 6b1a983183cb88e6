//! Which routes a verified token may call.
//!
//! The answer is a set of `execute-api` resources, because API Gateway caches the policy per
//! identity and reuses it for every route that identity calls: the Allow must cover exactly
//! what this token may call on this API and stage, never only the triggering route and never
//! another API or stage. With no rules configured that is the whole stage. `REQUIRED_SCOPES`
//! and `REQUIRED_GROUPS` are stage-wide requirements; a token that meets neither gets a Deny.

use crate::config::Config;
use crate::errors::{Reason, Rejection};
use crate::event::MethodArn;
use crate::verify::VerifiedClaims;

/// The route rules, built once from the configuration.
///
/// ```
/// use tollgate::{access::AccessRules, event::MethodArn, verify::VerifiedClaims};
/// let rules = AccessRules::new(vec!["api/read".into()], vec![]);
/// let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:1:api/prod/GET/x").unwrap();
/// let reader = VerifiedClaims { scopes: vec!["api/read".into()], ..Default::default() };
/// assert_eq!(rules.permitted(&reader, &arn).unwrap(), vec!["arn:aws:execute-api:us-east-1:1:api/prod/*"]);
/// assert!(rules.permitted(&VerifiedClaims::default(), &arn).is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct AccessRules {
    required_scopes: Vec<String>,
    required_groups: Vec<String>,
}

impl AccessRules {
    /// Rules requiring at least one of `required_scopes` (if any) and at least one of
    /// `required_groups` (if any).
    pub fn new(required_scopes: Vec<String>, required_groups: Vec<String>) -> Self {
        AccessRules {
            required_scopes,
            required_groups,
        }
    }

    /// The rules a configuration describes.
    pub fn from_config(config: &Config) -> Self {
        Self::new(
            config.required_scopes.clone(),
            config.required_groups.clone(),
        )
    }

    /// The resources this token may call on the stage of `arn`, or why it may call none.
    pub fn permitted(
        &self,
        claims: &VerifiedClaims,
        arn: &MethodArn,
    ) -> Result<Vec<String>, Rejection> {
        if !self.required_scopes.is_empty()
            && !claims
                .scopes
                .iter()
                .any(|s| self.required_scopes.contains(s))
        {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token has none of the required scopes {:?}",
                    self.required_scopes
                ),
            ));
        }
        if !self.required_groups.is_empty()
            && !claims
                .groups
                .iter()
                .any(|g| self.required_groups.contains(g))
        {
            return Err(Rejection::new(
                Reason::RouteNotPermitted,
                format!(
                    "token is in none of the required groups {:?}",
                    self.required_groups
                ),
            ));
        }
        Ok(vec![arn.stage_wildcard()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arn() -> MethodArn {
        MethodArn::parse("arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets").unwrap()
    }

    #[test]
    fn no_rules_permit_the_whole_stage_only() {
        let resources = AccessRules::default()
            .permitted(&VerifiedClaims::default(), &arn())
            .unwrap();
        assert_eq!(
            resources,
            vec!["arn:aws:execute-api:us-east-1:123456789012:api1/prod/*"]
        );
    }

    #[test]
    fn one_of_the_required_groups_is_enough() {
        let rules = AccessRules::new(vec![], vec!["admins".into(), "staff".into()]);
        let claims = VerifiedClaims {
            groups: vec!["staff".into()],
            ..Default::default()
        };
        assert!(rules.permitted(&claims, &arn()).is_ok());
    }

    #[test]
    fn scope_and_group_requirements_both_apply() {
        let rules = AccessRules::new(vec!["read".into()], vec!["staff".into()]);
        let claims = VerifiedClaims {
            scopes: vec!["read".into()],
            ..Default::default()
        };
        assert_eq!(
            rules.permitted(&claims, &arn()).unwrap_err().reason,
            Reason::RouteNotPermitted
        );
    }
}
