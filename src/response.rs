//! Encodes a [`Decision`] in the response format of the event's shape.
//!
//! REST, WebSocket and HTTP APIs with IAM-policy responses get a policy document (Allow or
//! Deny) with the principal and context; HTTP API payload 2.0 with simple responses gets
//! `isAuthorized`. A 401 is the Lambda error whose message is exactly `Unauthorized` (API
//! Gateway matches that string); a 500 is any other Lambda error. The response types are the
//! `aws_lambda_events` ones.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerResponse,
    ApiGatewayV2CustomAuthorizerIamPolicyResponse, ApiGatewayV2CustomAuthorizerSimpleResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::decision::{Decision, Grant};
use crate::event::Shape;

/// The error object the Lambda runtime reports for a failed invocation.
///
/// ```
/// let e = tollgate::response::LambdaFailure::unauthorized();
/// assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"errorType":"Unauthorized","errorMessage":"Unauthorized"}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaFailure {
    /// The error type reported to Lambda.
    pub error_type: String,
    /// The error message; API Gateway answers 401 only when it is exactly `Unauthorized`.
    pub error_message: String,
}

impl LambdaFailure {
    /// The error API Gateway turns into 401 Unauthorized.
    pub fn unauthorized() -> Self {
        LambdaFailure {
            error_type: "Unauthorized".into(),
            error_message: "Unauthorized".into(),
        }
    }

    /// Any other error: API Gateway answers 500 and does not cache it.
    pub fn cannot_decide(reason_code: &str) -> Self {
        LambdaFailure {
            error_type: "TollgateError".into(),
            error_message: format!("tollgate cannot decide: {reason_code}"),
        }
    }
}

impl From<LambdaFailure> for Diagnostic {
    fn from(failure: LambdaFailure) -> Self {
        Diagnostic {
            error_type: failure.error_type,
            error_message: failure.error_message,
        }
    }
}

/// How an HTTP API payload 2.0 authorizer expects its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpApiResponse {
    /// `EnableSimpleResponses: true`: `{"isAuthorized": ..., "context": ...}`.
    Simple,
    /// An IAM policy, as for payload 1.0.
    IamPolicy,
}

/// Encodes the decision for the event's shape. `shape` is `None` when the event was not
/// recognised, which can only be an error.
pub fn encode(
    decision: &Decision,
    shape: Option<Shape>,
    http_v2: HttpApiResponse,
) -> Result<Value, LambdaFailure> {
    let Some(shape) = shape else {
        return Err(LambdaFailure::cannot_decide(decision.reason_code()));
    };
    let simple = shape == Shape::HttpV2 && http_v2 == HttpApiResponse::Simple;
    match decision {
        Decision::Error(r) => Err(LambdaFailure::cannot_decide(r.reason.code())),
        Decision::Unauthorized(_) if simple => Ok(simple_response(false, Map::new())),
        Decision::Unauthorized(_) => Err(LambdaFailure::unauthorized()),
        Decision::Allow(grant) | Decision::Deny(grant, _) if simple => Ok(simple_response(
            matches!(decision, Decision::Allow(_)),
            grant.context.clone(),
        )),
        Decision::Allow(grant) | Decision::Deny(grant, _) => Ok(policy_response(shape, grant)),
    }
}

fn simple_response(is_authorized: bool, context: Map<String, Value>) -> Value {
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::<Map<String, Value>>::default();
    response.is_authorized = is_authorized;
    response.context = context;
    to_value(&response)
}

fn statement(effect: IamPolicyEffect, resources: &[String]) -> IamPolicyStatement {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_string()];
    statement.effect = effect;
    statement.resource = resources.to_vec();
    statement
}

fn policy_response(shape: Shape, grant: &Grant) -> Value {
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_string());
    if !grant.allow.is_empty() {
        policy
            .statement
            .push(statement(IamPolicyEffect::Allow, &grant.allow));
    }
    if !grant.deny.is_empty() {
        policy
            .statement
            .push(statement(IamPolicyEffect::Deny, &grant.deny));
    }
    match shape {
        Shape::HttpV1 | Shape::HttpV2 => {
            let mut response =
                ApiGatewayV2CustomAuthorizerIamPolicyResponse::<Map<String, Value>>::default();
            response.principal_id = Some(grant.principal_id.clone());
            response.policy_document = policy;
            response.context = grant.context.clone();
            to_value(&response)
        }
        Shape::RestToken | Shape::RestRequest | Shape::WebSocketConnect => {
            let mut response = ApiGatewayCustomAuthorizerResponse::<Map<String, Value>>::default();
            response.principal_id = Some(grant.principal_id.clone());
            response.policy_document = policy;
            response.context = grant.context.clone();
            response.usage_identifier_key = grant.usage_key.clone();
            let mut value = to_value(&response);
            // The type always writes `usageIdentifierKey`; a null key is noise for API Gateway,
            // so it is only sent when there is one.
            if let Value::Object(map) = &mut value
                && map.get("usageIdentifierKey").is_some_and(Value::is_null)
            {
                map.remove("usageIdentifierKey");
            }
            value
        }
    }
}

fn to_value(response: &impl Serialize) -> Value {
    // These types hold only strings, booleans and string maps, which always serialise.
    serde_json::to_value(response).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{Reason, Rejection};
    use serde_json::json;

    fn grant() -> Grant {
        let mut context = Map::new();
        context.insert("userId".into(), json!("u1"));
        Grant {
            principal_id: "u1".into(),
            allow: vec!["arn:aws:execute-api:us-east-1:1:a/s/*".into()],
            deny: vec![],
            context,
            usage_key: None,
            usage: Default::default(),
        }
    }

    #[test]
    fn rest_allow_is_a_policy_without_null_usage_key() {
        let v = encode(
            &Decision::Allow(grant()),
            Some(Shape::RestRequest),
            HttpApiResponse::Simple,
        )
        .unwrap();
        assert_eq!(
            v,
            json!({
                "principalId": "u1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:aws:execute-api:us-east-1:1:a/s/*"]}
                ]},
                "context": {"userId": "u1"}
            })
        );
    }

    #[test]
    fn http_v2_simple_unauthorized_is_not_an_error() {
        let d = Decision::Unauthorized(Rejection::new(Reason::Expired, "x"));
        let v = encode(&d, Some(Shape::HttpV2), HttpApiResponse::Simple).unwrap();
        assert_eq!(v, json!({"isAuthorized": false, "context": {}}));
    }

    #[test]
    fn http_v2_policy_mode_unauthorized_is_the_unauthorized_error() {
        let d = Decision::Unauthorized(Rejection::new(Reason::Expired, "x"));
        let e = encode(&d, Some(Shape::HttpV2), HttpApiResponse::IamPolicy).unwrap_err();
        assert_eq!(e, LambdaFailure::unauthorized());
    }

    #[test]
    fn error_is_never_a_policy_even_for_simple_responses() {
        let d = Decision::Error(Rejection::new(Reason::JwksUnavailable, "down"));
        let e = encode(&d, Some(Shape::HttpV2), HttpApiResponse::Simple).unwrap_err();
        assert_eq!(e.error_message, "tollgate cannot decide: jwks_unavailable");
    }
}
