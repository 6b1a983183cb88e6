//! Encodes a [`Decision`] in the response format of the event's shape.
//!
//! REST, WebSocket and HTTP APIs with IAM-policy responses get a policy document (Allow or
//! Deny) with the principal and context; HTTP API payload 2.0 with simple responses gets
//! `isAuthorized`. A 401 is the Lambda error whose message is exactly `Unauthorized` (API
//! Gateway matches that string); a 500 is any other Lambda error. The responses are written
//! straight to JSON text in the shapes of the `aws_lambda_events` response types (the same
//! member names and nesting; the tests parse them back into those types), never through a
//! `serde_json::Value`.

use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::decision::{Decision, Grant};
use crate::event::EventShape;
use crate::json;

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

/// A response's JSON text, written once, straight from the decision (no tree of values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response(String);

impl Response {
    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The JSON text, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The JSON text's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The response as a JSON value, for tools and tests (the hot path never builds one).
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(&self.0).unwrap_or(serde_json::Value::Null)
    }

    /// The JSON text as a raw JSON value, which serialises as it is (Lambda mode hands it to
    /// the runtime this way). The text is checked once more on the way.
    pub fn into_raw(self) -> Result<Box<RawValue>, LambdaFailure> {
        RawValue::from_string(self.0).map_err(|_| LambdaFailure::cannot_decide("response_encoding"))
    }
}

/// Encodes the decision for the event's shape. `shape` is `None` when the event was not
/// recognised, which can only be an error.
pub fn encode(
    decision: &Decision,
    shape: Option<EventShape>,
    http_v2: HttpApiResponse,
) -> Result<Response, LambdaFailure> {
    let Some(shape) = shape else {
        return Err(LambdaFailure::cannot_decide(decision.reason_code()));
    };
    let simple = shape == EventShape::HttpV2 && http_v2 == HttpApiResponse::Simple;
    let mut out = Vec::with_capacity(512);
    match decision {
        Decision::Error(r) => return Err(LambdaFailure::cannot_decide(r.reason.code())),
        Decision::Unauthorized(_) if simple => write_simple(&mut out, false, None),
        Decision::Unauthorized(_) => return Err(LambdaFailure::unauthorized()),
        Decision::Allow(grant) | Decision::Deny(grant, _) if simple => write_simple(
            &mut out,
            matches!(decision, Decision::Allow(_)),
            Some(grant),
        ),
        Decision::Allow(grant) | Decision::Deny(grant, _) => {
            // Usage plans (and so the key) exist only for REST APIs.
            let usage_key = match shape {
                EventShape::RestToken | EventShape::RestRequest | EventShape::WebSocketConnect => {
                    grant.usage_key.as_deref()
                }
                EventShape::HttpV1 | EventShape::HttpV2 => None,
            };
            write_policy(&mut out, grant, usage_key)
        }
    }
    // The writer escapes every string it is given, so the text is UTF-8 JSON; were it not,
    // the answer is an error, never a guess.
    String::from_utf8(out)
        .map(Response)
        .map_err(|_| LambdaFailure::cannot_decide("response_encoding"))
}

/// `aws_lambda_events`' `ApiGatewayV2CustomAuthorizerSimpleResponse`:
/// `{"isAuthorized":...,"context":{...}}` (an empty context for a refusal without a grant).
fn write_simple(out: &mut Vec<u8>, is_authorized: bool, grant: Option<&Grant>) {
    out.extend_from_slice(if is_authorized {
        br#"{"isAuthorized":true,"context":"#
    } else {
        br#"{"isAuthorized":false,"context":"#
    });
    match grant {
        Some(grant) => grant.context.write_json(&grant.usage, out),
        None => out.extend_from_slice(b"{}"),
    }
    out.push(b'}');
}

/// `aws_lambda_events`' `ApiGatewayCustomAuthorizerResponse` (REST, WebSocket; a null
/// `usageIdentifierKey` is noise for API Gateway, so it is only sent when there is one) and
/// `ApiGatewayV2CustomAuthorizerIamPolicyResponse` (HTTP APIs): `principalId`, the
/// `policyDocument` (an Allow statement for the grant's allowed resources and a Deny statement
/// for its denied ones, each only when not empty), `context`.
fn write_policy(out: &mut Vec<u8>, grant: &Grant, usage_key: Option<&str>) {
    let mut response = json::Object::open(out);
    response.string("principalId", &grant.principal_id);
    let document = response.key("policyDocument");
    document.extend_from_slice(br#"{"Version":"2012-10-17","Statement":["#);
    let statements = [("Allow", &grant.allow), ("Deny", &grant.deny)];
    for (i, (effect, resources)) in statements
        .into_iter()
        .filter(|(_, r)| !r.is_empty())
        .enumerate()
    {
        if i > 0 {
            document.push(b',');
        }
        document.extend_from_slice(br#"{"Action":["execute-api:Invoke"],"Effect":""#);
        document.extend_from_slice(effect.as_bytes());
        document.extend_from_slice(br#"","Resource":"#);
        json::strings(document, resources);
        document.push(b'}');
    }
    document.extend_from_slice(b"]}");
    grant
        .context
        .write_json(&grant.usage, response.key("context"));
    response.some_string("usageIdentifierKey", usage_key);
    response.close();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::{Reason, Rejection};
    use serde_json::json;

    fn grant() -> Grant {
        Grant {
            principal_id: "u1".into(),
            allow: vec!["arn:aws:execute-api:us-east-1:1:a/s/*".into()],
            deny: vec![],
            context: Default::default(),
            usage_key: None,
            usage: crate::usage::Usage {
                user_id: "u1".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn rest_allow_is_a_policy_without_null_usage_key() {
        let v = encode(
            &Decision::Allow(grant()),
            Some(EventShape::RestRequest),
            HttpApiResponse::Simple,
        )
        .unwrap();
        assert_eq!(
            v.to_value(),
            json!({
                "principalId": "u1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:aws:execute-api:us-east-1:1:a/s/*"]}
                ]},
                "context": {"clientId": "", "groups": "", "plan": "", "scopes": "", "tenantId": "", "userId": "u1", "username": ""}
            })
        );
    }

    #[test]
    fn responses_read_back_as_the_aws_lambda_events_types() {
        use aws_lambda_events::apigw::{
            ApiGatewayCustomAuthorizerResponse, ApiGatewayV2CustomAuthorizerIamPolicyResponse,
            ApiGatewayV2CustomAuthorizerSimpleResponse,
        };
        use aws_lambda_events::iam::IamPolicyEffect;
        let mut g = grant();
        g.deny = vec!["arn:aws:execute-api:us-east-1:1:a/s/DELETE/x\"y".into()];
        g.usage_key = Some("key-1".into());
        g.context.per_route = true;
        g.usage.endpoint = "GET /x".into();
        g.usage.cost_micros = 5;
        let decision = Decision::Deny(g, Rejection::new(Reason::RouteNotPermitted, "x"));

        let rest = encode(
            &decision,
            Some(EventShape::RestRequest),
            HttpApiResponse::Simple,
        )
        .unwrap();
        let typed: ApiGatewayCustomAuthorizerResponse =
            serde_json::from_str(rest.as_str()).unwrap();
        assert_eq!(typed.principal_id.as_deref(), Some("u1"));
        assert_eq!(typed.usage_identifier_key.as_deref(), Some("key-1"));
        let statements = &typed.policy_document.statement;
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[1].effect, IamPolicyEffect::Deny);
        assert_eq!(statements[1].action, ["execute-api:Invoke"]);
        assert_eq!(
            statements[1].resource,
            ["arn:aws:execute-api:us-east-1:1:a/s/DELETE/x\"y"]
        );
        assert_eq!(typed.context["costMicros"], 5);
        assert_eq!(typed.context["endpoint"], "GET /x");

        let http = encode(&decision, Some(EventShape::HttpV1), HttpApiResponse::Simple).unwrap();
        let typed: ApiGatewayV2CustomAuthorizerIamPolicyResponse =
            serde_json::from_str(http.as_str()).unwrap();
        assert_eq!(
            typed.policy_document.statement[0].effect,
            IamPolicyEffect::Allow
        );
        assert!(!http.as_str().contains("usageIdentifierKey"));

        let simple = encode(&decision, Some(EventShape::HttpV2), HttpApiResponse::Simple).unwrap();
        let typed: ApiGatewayV2CustomAuthorizerSimpleResponse =
            serde_json::from_str(simple.as_str()).unwrap();
        assert!(!typed.is_authorized);
        assert_eq!(typed.context["userId"], "u1");
    }

    #[test]
    fn http_v2_simple_unauthorized_is_not_an_error() {
        let d = Decision::Unauthorized(Rejection::new(Reason::Expired, "x"));
        let v = encode(&d, Some(EventShape::HttpV2), HttpApiResponse::Simple).unwrap();
        assert_eq!(v.as_str(), r#"{"isAuthorized":false,"context":{}}"#);
    }

    #[test]
    fn http_v2_policy_mode_unauthorized_is_the_unauthorized_error() {
        let d = Decision::Unauthorized(Rejection::new(Reason::Expired, "x"));
        let e = encode(&d, Some(EventShape::HttpV2), HttpApiResponse::IamPolicy).unwrap_err();
        assert_eq!(e, LambdaFailure::unauthorized());
    }

    #[test]
    fn error_is_never_a_policy_even_for_simple_responses() {
        let d = Decision::Error(Rejection::new(Reason::JwksUnavailable, "down"));
        let e = encode(&d, Some(EventShape::HttpV2), HttpApiResponse::Simple).unwrap_err();
        assert_eq!(e.error_message, "tollgate cannot decide: jwks_unavailable");
    }
}
