//! IAM's evaluation of an authorizer policy on one request, written once.
//!
//! API Gateway evaluates the policy a Lambda authorizer returns (and reuses from its cache)
//! the way IAM does: a request is allowed when some Allow statement covers
//! `execute-api:Invoke` on its ARN and no Deny statement does. Every statement counts, in any
//! order, and an explicit Deny wins. In a resource, `*` matches any run of characters (`/`
//! included) and `?` any one ([`iam_glob_matches`]); action names are case-insensitive.
//! Statement elements an authorizer policy never needs (`NotAction`, `NotResource`,
//! `Condition`) are not evaluated: such an Allow allows nothing and such a Deny denies
//! everything it might, so an answer tollgate cannot read exactly fails closed.
//!
//! Both sides of the cache rule use this one evaluator: [`crate::access`] (and the prover's
//! callers) to check the policies tollgate sends, and `tollgate serve` to answer as API
//! Gateway would with the policy it got, so the two can never disagree.

use std::ops::Deref;

use crate::routes::iam_glob_matches;

/// The only action an API Gateway authorizer policy is about.
pub const INVOKE: &str = "execute-api:Invoke";

/// A statement's `Effect`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// `Allow`.
    Allow,
    /// `Deny`.
    Deny,
}

/// One policy statement: owned lists when read from an answer (the default), borrowed ones
/// when built from tollgate's own Allow and Deny resources.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement<A = Vec<String>, R = Vec<String>> {
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// Action patterns (`execute-api:Invoke`, `execute-api:*`, `*`).
    pub actions: A,
    /// Resource patterns (ARNs with `*` and `?`).
    pub resources: R,
    /// Whether the statement has `NotAction`, `NotResource` or `Condition`.
    pub restricted: bool,
}

/// IAM's verdict on one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Evaluation {
    /// Some Allow covers it and no Deny does (or a simple `true`).
    Allow,
    /// A Deny statement covers it.
    ExplicitDeny,
    /// No statement covers it (or a simple `false`).
    ImplicitDeny,
}

impl<A, R, SA, SR> Statement<A, R>
where
    A: Deref<Target = [SA]>,
    R: Deref<Target = [SR]>,
    SA: AsRef<str>,
    SR: AsRef<str>,
{
    /// Whether the statement names `execute-api:Invoke` on `arn` (its restrictions aside).
    fn covers(&self, arn: &str) -> bool {
        self.actions.iter().any(|a| action_matches(a.as_ref()))
            && self
                .resources
                .iter()
                .any(|r| iam_glob_matches(r.as_ref(), arn))
    }
}

/// Evaluates a policy's statements for a request to `arn`, in one pass: a covering Deny (or a
/// restricted one) ends it; otherwise some unrestricted covering Allow allows.
pub fn evaluate<A, R, SA, SR>(statements: &[Statement<A, R>], arn: &str) -> Evaluation
where
    A: Deref<Target = [SA]>,
    R: Deref<Target = [SR]>,
    SA: AsRef<str>,
    SR: AsRef<str>,
{
    let mut allowed = false;
    for statement in statements {
        match statement.effect {
            Effect::Deny if statement.restricted || statement.covers(arn) => {
                return Evaluation::ExplicitDeny;
            }
            Effect::Deny => {}
            Effect::Allow => {
                allowed = allowed || (!statement.restricted && statement.covers(arn));
            }
        }
    }
    if allowed {
        Evaluation::Allow
    } else {
        Evaluation::ImplicitDeny
    }
}

/// The statements of the policy tollgate answers with: `execute-api:Invoke` allowed on
/// `allow` and denied on `deny` (an empty list's statement is left out of the answer, which
/// IAM reads the same).
pub fn authorizer_statements<'a>(
    allow: &'a [String],
    deny: &'a [String],
) -> [Statement<&'static [&'static str], &'a [String]>; 2] {
    const ACTIONS: &[&str] = &[INVOKE];
    [(Effect::Allow, allow), (Effect::Deny, deny)].map(|(effect, resources)| Statement {
        effect,
        actions: ACTIONS,
        resources,
        restricted: false,
    })
}

/// Whether the policy tollgate answers with (Allow `allow`, Deny `deny`) allows a request to
/// `arn`.
///
/// ```
/// use tollgate::iam::policy_allows;
/// let allow = vec!["arn:aws:execute-api:us-east-1:1:api/prod/GET/*".to_string()];
/// let deny = vec!["arn:aws:execute-api:us-east-1:1:api/prod/GET/admin".to_string()];
/// assert!(policy_allows(&allow, &deny, "arn:aws:execute-api:us-east-1:1:api/prod/GET/pets"));
/// assert!(!policy_allows(&allow, &deny, "arn:aws:execute-api:us-east-1:1:api/prod/GET/admin"));
/// ```
pub fn policy_allows(allow: &[String], deny: &[String], arn: &str) -> bool {
    evaluate(&authorizer_statements(allow, deny), arn) == Evaluation::Allow
}

/// IAM action names are case-insensitive.
fn action_matches(pattern: &str) -> bool {
    iam_glob_matches(&pattern.to_ascii_lowercase(), "execute-api:invoke")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/1";

    fn statement(effect: Effect, actions: &[&str], resources: &[&str]) -> Statement {
        Statement {
            effect,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources: resources.iter().map(|r| r.to_string()).collect(),
            restricted: false,
        }
    }

    #[test]
    fn a_deny_after_the_allow_still_wins() {
        let policy = [
            statement(Effect::Allow, &[INVOKE], &["*"]),
            statement(Effect::Deny, &[INVOKE], &[ARN]),
        ];
        assert_eq!(evaluate(&policy, ARN), Evaluation::ExplicitDeny);
    }

    #[test]
    fn a_deny_for_another_action_denies_nothing() {
        let policy = [
            statement(Effect::Allow, &[INVOKE], &["*"]),
            statement(Effect::Deny, &["execute-api:ManageConnections"], &["*"]),
        ];
        assert_eq!(evaluate(&policy, ARN), Evaluation::Allow);
    }

    #[test]
    fn action_names_are_case_insensitive_and_globbed() {
        for action in [
            "EXECUTE-API:invoke",
            "execute-api:*",
            "*",
            "execute-api:Inv?ke",
        ] {
            let policy = [statement(Effect::Allow, &[action], &[ARN])];
            assert_eq!(evaluate(&policy, ARN), Evaluation::Allow, "{action}");
        }
    }

    #[test]
    fn no_statements_are_an_implicit_deny() {
        assert_eq!(
            evaluate::<Vec<String>, Vec<String>, _, _>(&[], ARN),
            Evaluation::ImplicitDeny
        );
    }

    #[test]
    fn tollgate_policies_are_read_as_any_allow_and_no_deny() {
        let allow = vec!["arn:x/prod/GET/*".to_string()];
        let deny = vec!["arn:x/prod/GET/a/*/b".to_string()];
        assert!(policy_allows(&allow, &deny, "arn:x/prod/GET/a/1"));
        assert!(!policy_allows(&allow, &deny, "arn:x/prod/GET/a/1/2/b"));
        assert!(!policy_allows(&[], &[], "arn:x/prod/GET/a/1"));
    }
}
