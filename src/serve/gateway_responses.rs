//! The answers API Gateway gives itself, without the integration: its default gateway
//! responses, per API kind.
//!
//! REST APIs (AWS's gateway response types, with their default status codes and bodies):
//! `UNAUTHORIZED` 401 `{"message":"Unauthorized"}`; `ACCESS_DENIED` 403, for a policy's
//! explicit Deny `{"Message":"User is not authorized to access this resource with an explicit
//! deny"}` and for an ARN no Allow covers `{"Message":"User is not authorized to access this
//! resource"}`; `AUTHORIZER_FAILURE` / `AUTHORIZER_CONFIGURATION_ERROR` 500 `{"message": null}`;
//! `MISSING_AUTHENTICATION_TOKEN` 403 `{"message":"Missing Authentication Token"}` for a path
//! and method no resource takes; `REQUEST_TOO_LARGE` 413; `INTEGRATION_FAILURE` 504 and
//! `INTEGRATION_TIMEOUT` 504. Each carries `x-amzn-ErrorType`.
//!
//! HTTP APIs: 401 `{"message":"Unauthorized"}`, 403 `{"message":"Forbidden"}`, 500
//! `{"message":"Internal Server Error"}`, 404 `{"message":"Not Found"}`, 413
//! `{"message":"Request Entity Too Large"}`, and for an integration that fails 500 (503
//! `{"message":"Service Unavailable"}` when it times out).
//!
//! A request body that does not arrive within the read timeout is answered 408
//! `{"message":"Request Timeout"}` on both: `serve`'s own choice, to bound slow uploads.

use super::Api;

/// Why API Gateway answered by itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// An identity source is missing or empty (the authorizer was not invoked), or the
    /// authorizer failed with `Unauthorized`.
    Unauthorized,
    /// The policy has a Deny covering the request (HTTP simple `false` too).
    ExplicitDeny,
    /// No Allow covers the request.
    ImplicitDeny,
    /// The authorizer failed otherwise, or its output was invalid.
    AuthorizerFailure,
    /// No route takes the request.
    NoRoute,
    /// The request body is over the limit.
    TooLarge,
    /// The request body did not arrive within the read timeout.
    BodyTimeout,
    /// The upstream could not be reached or answered badly.
    IntegrationFailure,
    /// The upstream did not answer in time.
    IntegrationTimeout,
}

/// A gateway response: status, body, and the error type REST APIs name in a header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: &'static str,
    /// `x-amzn-ErrorType` (REST only).
    pub error_type: Option<&'static str>,
}

impl Refusal {
    /// API Gateway's default answer for this refusal on an API of kind `api`.
    pub fn answer(self, api: Api) -> GatewayAnswer {
        let (status, body, error_type) = match (api, self) {
            (Api::Rest, Refusal::Unauthorized) => (
                401,
                r#"{"message":"Unauthorized"}"#,
                "UnauthorizedException",
            ),
            (Api::Rest, Refusal::ExplicitDeny) => (
                403,
                r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#,
                "AccessDeniedException",
            ),
            (Api::Rest, Refusal::ImplicitDeny) => (
                403,
                r#"{"Message":"User is not authorized to access this resource"}"#,
                "AccessDeniedException",
            ),
            (Api::Rest, Refusal::AuthorizerFailure) => (
                500,
                r#"{"message":null}"#,
                "AuthorizerConfigurationException",
            ),
            (Api::Rest, Refusal::NoRoute) => (
                403,
                r#"{"message":"Missing Authentication Token"}"#,
                "MissingAuthenticationTokenException",
            ),
            (Api::Rest, Refusal::TooLarge) => (
                413,
                r#"{"message":"Request Too Long"}"#,
                "RequestTooLargeException",
            ),
            (_, Refusal::BodyTimeout) => return plain(408, r#"{"message":"Request Timeout"}"#),
            (Api::Rest, Refusal::IntegrationFailure) => (
                504,
                r#"{"message":"Internal server error"}"#,
                "InternalServerErrorException",
            ),
            (Api::Rest, Refusal::IntegrationTimeout) => (
                504,
                r#"{"message":"Endpoint request timed out"}"#,
                "InternalServerErrorException",
            ),
            (Api::Http, Refusal::Unauthorized) => {
                return plain(401, r#"{"message":"Unauthorized"}"#);
            }
            (Api::Http, Refusal::ExplicitDeny | Refusal::ImplicitDeny) => {
                return plain(403, r#"{"message":"Forbidden"}"#);
            }
            (Api::Http, Refusal::AuthorizerFailure | Refusal::IntegrationFailure) => {
                return plain(500, r#"{"message":"Internal Server Error"}"#);
            }
            (Api::Http, Refusal::NoRoute) => return plain(404, r#"{"message":"Not Found"}"#),
            (Api::Http, Refusal::TooLarge) => {
                return plain(413, r#"{"message":"Request Entity Too Large"}"#);
            }
            (Api::Http, Refusal::IntegrationTimeout) => {
                return plain(503, r#"{"message":"Service Unavailable"}"#);
            }
        };
        GatewayAnswer {
            status,
            body,
            error_type: Some(error_type),
        }
    }
}

fn plain(status: u16, body: &'static str) -> GatewayAnswer {
    GatewayAnswer {
        status,
        body,
        error_type: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Refusal; 9] = [
        Refusal::BodyTimeout,
        Refusal::Unauthorized,
        Refusal::ExplicitDeny,
        Refusal::ImplicitDeny,
        Refusal::AuthorizerFailure,
        Refusal::NoRoute,
        Refusal::TooLarge,
        Refusal::IntegrationFailure,
        Refusal::IntegrationTimeout,
    ];

    #[test]
    fn every_body_is_json() {
        for api in [Api::Rest, Api::Http] {
            for refusal in ALL {
                let body = refusal.answer(api).body;
                assert!(
                    serde_json::from_str::<serde_json::Value>(body).is_ok(),
                    "{refusal:?} on {api:?}: {body}"
                );
            }
        }
    }

    #[test]
    fn rest_names_the_error_type_and_http_does_not() {
        for refusal in ALL.into_iter().filter(|r| *r != Refusal::BodyTimeout) {
            assert!(refusal.answer(Api::Rest).error_type.is_some());
            assert!(refusal.answer(Api::Http).error_type.is_none());
        }
    }

    #[test]
    fn a_rest_path_no_resource_takes_is_a_403_missing_token() {
        let answer = Refusal::NoRoute.answer(Api::Rest);
        assert_eq!(answer.status, 403);
        assert!(answer.body.contains("Missing Authentication Token"));
        assert_eq!(Refusal::NoRoute.answer(Api::Http).status, 404);
    }
}
