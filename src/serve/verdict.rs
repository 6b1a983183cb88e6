//! What API Gateway makes of a Lambda authorizer's output.
//!
//! The output is read as API Gateway reads it, strictly: a simple response needs a boolean
//! `isAuthorized`; a policy answer needs a `principalId` and a `policyDocument` whose
//! statements have an `Effect` of `Allow` or `Deny`, and `Action` and `Resource` as a string or
//! a list; context values must be strings, numbers or booleans. Anything else is an invalid
//! answer (a 500). The policy is evaluated by [`crate::iam`], the evaluator tollgate's own
//! policies are checked with: statement elements IAM has but an authorizer policy never needs
//! (`NotAction`, `NotResource`, `Condition`) are read to refuse there.

use std::fmt;

use serde_json::{Map, Value};

use crate::iam::{self, Effect, Evaluation, Statement};

/// An authorizer's answer, as API Gateway keeps it in its cache.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    /// An HTTP API simple response.
    Simple {
        /// `isAuthorized`.
        authorized: bool,
        /// The context handed to the integration.
        context: Map<String, Value>,
    },
    /// A policy answer (REST, WebSocket, HTTP API with IAM-policy responses).
    Policy {
        /// `principalId`.
        principal_id: String,
        /// The policy's statements.
        statements: Vec<Statement>,
        /// The context handed to the integration.
        context: Map<String, Value>,
    },
}

impl Answer {
    /// The context handed on to the integration and the access log.
    pub fn context(&self) -> &Map<String, Value> {
        match self {
            Answer::Simple { context, .. } | Answer::Policy { context, .. } => context,
        }
    }

    /// The principal (`$context.authorizer.principalId`), for policy answers.
    pub fn principal(&self) -> Option<&str> {
        match self {
            Answer::Policy { principal_id, .. } => Some(principal_id),
            Answer::Simple { .. } => None,
        }
    }

    /// Evaluates the answer for a request to `arn`.
    pub fn evaluate(&self, arn: &str) -> Evaluation {
        match self {
            Answer::Simple { authorized, .. } => {
                if *authorized {
                    Evaluation::Allow
                } else {
                    Evaluation::ImplicitDeny
                }
            }
            Answer::Policy { statements, .. } => iam::evaluate(statements, arn),
        }
    }
}

/// Why an authorizer's output is not an answer API Gateway accepts (a 500). The messages are
/// tollgate's own words; the output's values are never quoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InvalidAnswer {
    /// The output is not JSON.
    NotJson,
    /// The output is JSON but not an object.
    NotAnObject,
    /// A context value (named by its key) is an object, a list or null.
    ContextValue(String),
    /// `context` is not an object.
    ContextNotAnObject,
    /// A simple response without a boolean `isAuthorized`.
    NoIsAuthorized,
    /// A policy answer without a string `principalId`.
    NoPrincipalId,
    /// A policy answer without a `policyDocument` object.
    NoPolicyDocument,
    /// A `policyDocument` without a `Statement`.
    NoStatement,
    /// A `Statement` that is not an object.
    StatementNotAnObject,
    /// A `Statement`'s `Effect` is neither `Allow` nor `Deny`.
    BadEffect,
    /// A `Statement`'s `Action` or `Resource` list holds a non-string.
    NonString(&'static str),
    /// A `Statement` has no `Action` or `Resource`.
    Missing(&'static str),
}

impl fmt::Display for InvalidAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidAnswer::NotJson => f.write_str("the authorizer's output is not JSON"),
            InvalidAnswer::NotAnObject => {
                f.write_str("the authorizer's output is not a JSON object")
            }
            // Context keys are tollgate's own names, never caller input.
            InvalidAnswer::ContextValue(key) => {
                write!(
                    f,
                    "context value {key:?} is not a string, number or boolean"
                )
            }
            InvalidAnswer::ContextNotAnObject => f.write_str("context is not an object"),
            InvalidAnswer::NoIsAuthorized => {
                f.write_str("a simple response needs a boolean isAuthorized")
            }
            InvalidAnswer::NoPrincipalId => {
                f.write_str("a policy answer needs a string principalId")
            }
            InvalidAnswer::NoPolicyDocument => {
                f.write_str("a policy answer needs a policyDocument object")
            }
            InvalidAnswer::NoStatement => f.write_str("the policyDocument has no Statement"),
            InvalidAnswer::StatementNotAnObject => f.write_str("a Statement is not an object"),
            InvalidAnswer::BadEffect => {
                f.write_str("a Statement's Effect is neither Allow nor Deny")
            }
            InvalidAnswer::NonString(name) => write!(f, "a Statement's {name} holds a non-string"),
            InvalidAnswer::Missing(name) => write!(f, "a Statement has no {name}"),
        }
    }
}

impl std::error::Error for InvalidAnswer {}

/// Reads a Lambda authorizer's output (the JSON it returned) as API Gateway does: a simple
/// response when `simple`, else a policy answer. The error says what is invalid, in words of
/// tollgate's own (the output's values are never quoted).
pub fn read_answer(output: &[u8], simple: bool) -> Result<Answer, InvalidAnswer> {
    let value: Value = serde_json::from_slice(output).map_err(|_| InvalidAnswer::NotJson)?;
    let Value::Object(object) = value else {
        return Err(InvalidAnswer::NotAnObject);
    };
    let context = match object.get("context") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => {
            if let Some(key) = map
                .iter()
                .find(|(_, v)| !(v.is_string() || v.is_number() || v.is_boolean()))
                .map(|(k, _)| k)
            {
                return Err(InvalidAnswer::ContextValue(key.clone()));
            }
            map.clone()
        }
        Some(_) => return Err(InvalidAnswer::ContextNotAnObject),
    };
    if simple {
        return match object.get("isAuthorized") {
            Some(Value::Bool(authorized)) => Ok(Answer::Simple {
                authorized: *authorized,
                context,
            }),
            _ => Err(InvalidAnswer::NoIsAuthorized),
        };
    }
    let principal_id = match object.get("principalId") {
        Some(Value::String(p)) => p.clone(),
        _ => return Err(InvalidAnswer::NoPrincipalId),
    };
    let document = object
        .get("policyDocument")
        .and_then(Value::as_object)
        .ok_or(InvalidAnswer::NoPolicyDocument)?;
    let statements = match document.get("Statement") {
        Some(Value::Array(items)) => items.iter().map(statement).collect::<Result<_, _>>()?,
        Some(one @ Value::Object(_)) => vec![statement(one)?],
        _ => return Err(InvalidAnswer::NoStatement),
    };
    Ok(Answer::Policy {
        principal_id,
        statements,
        context,
    })
}

fn statement(value: &Value) -> Result<Statement, InvalidAnswer> {
    let object = value
        .as_object()
        .ok_or(InvalidAnswer::StatementNotAnObject)?;
    let effect = match object.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(InvalidAnswer::BadEffect),
    };
    let restricted = ["NotAction", "NotResource", "Condition"]
        .iter()
        .any(|k| object.contains_key(*k));
    let list = |name: &'static str| -> Result<Vec<String>, InvalidAnswer> {
        match object.get(name) {
            None if restricted => Ok(vec![]),
            Some(Value::String(s)) => Ok(vec![s.clone()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .ok_or(InvalidAnswer::NonString(name))
                })
                .collect(),
            _ => Err(InvalidAnswer::Missing(name)),
        }
    };
    Ok(Statement {
        effect,
        actions: list("Action")?,
        resources: list("Resource")?,
        restricted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/1";

    fn policy(statements: Value) -> Answer {
        read_answer(
            json!({"principalId": "u", "policyDocument": {"Version": "2012-10-17", "Statement": statements}})
                .to_string()
                .as_bytes(),
            false,
        )
        .unwrap()
    }

    #[test]
    fn an_explicit_deny_wins_over_an_allow() {
        let answer = policy(json!([
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/prod/*"},
            {"Effect": "Deny", "Action": ["execute-api:Invoke"], "Resource": [ARN]}
        ]));
        assert_eq!(answer.evaluate(ARN), Evaluation::ExplicitDeny);
    }

    #[test]
    fn an_arn_no_allow_covers_is_an_implicit_deny() {
        let answer = policy(json!([
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/toys/*"}
        ]));
        assert_eq!(answer.evaluate(ARN), Evaluation::ImplicitDeny);
    }

    #[test]
    fn every_statement_counts_not_only_the_first() {
        let answer = policy(json!([
            {"Effect": "Allow", "Action": "execute-api:Invoke", "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/toys"},
            {"Effect": "Allow", "Action": "execute-api:*", "Resource": "arn:aws:execute-api:us-east-1:123456789012:api1/prod/GET/pets/?"}
        ]));
        assert_eq!(answer.evaluate(ARN), Evaluation::Allow);
    }

    #[test]
    fn an_allow_for_another_action_allows_nothing() {
        let answer = policy(json!([
            {"Effect": "Allow", "Action": "execute-api:ManageConnections", "Resource": "*"}
        ]));
        assert_eq!(answer.evaluate(ARN), Evaluation::ImplicitDeny);
    }

    #[test]
    fn a_conditional_allow_allows_nothing_and_a_conditional_deny_denies() {
        let allow = policy(json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"Bool": {"x": "true"}}}
        ]));
        assert_eq!(allow.evaluate(ARN), Evaluation::ImplicitDeny);
        let deny = policy(json!([
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}
        ]));
        assert_eq!(deny.evaluate(ARN), Evaluation::ExplicitDeny);
    }

    #[test]
    fn a_policy_without_principal_is_invalid() {
        let output = json!({"policyDocument": {"Statement": []}}).to_string();
        assert!(read_answer(output.as_bytes(), false).is_err());
    }

    #[test]
    fn a_context_holding_an_object_is_invalid() {
        let output = json!({"isAuthorized": true, "context": {"a": {"b": 1}}}).to_string();
        assert!(read_answer(output.as_bytes(), true).is_err());
    }

    #[test]
    fn a_simple_response_without_a_boolean_is_invalid() {
        let output = json!({"isAuthorized": "true"}).to_string();
        assert!(read_answer(output.as_bytes(), true).is_err());
    }

    #[test]
    fn a_lowercase_effect_is_invalid() {
        let output = json!({"principalId": "u", "policyDocument": {"Statement": [
            {"Effect": "allow", "Action": "*", "Resource": "*"}
        ]}})
        .to_string();
        assert!(read_answer(output.as_bytes(), false).is_err());
    }
}
