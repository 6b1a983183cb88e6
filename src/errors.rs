//! Why a request was not allowed, as one reason code per failure.
//!
//! Modelled on aws-jwt-verify's one-error-type-per-reason: every rejection carries a stable,
//! machine-readable [`Reason`] (logged and counted) and a human-readable detail (logged, never
//! returned to the caller). Neither ever contains a token, a signature or a secret.

use std::fmt;

/// What a failure means for the caller, following API Gateway's contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The caller is not authenticated: API Gateway answers 401 (or `isAuthorized: false`).
    Unauthorized,
    /// The caller is authenticated but may not call this route: API Gateway answers 403.
    Forbidden,
    /// tollgate cannot decide: API Gateway answers 500 and does not cache the result.
    Error,
}

/// A stable reason code for every way a request can fail.
///
/// ```
/// use tollgate::errors::{Class, Reason};
/// assert_eq!(Reason::Expired.code(), "expired");
/// assert_eq!(Reason::Expired.class(), Class::Unauthorized);
/// assert_eq!(Reason::JwksUnavailable.class(), Class::Error);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// No token in any configured token source.
    NoToken,
    /// The Authorization value does not use the `Bearer` scheme, or the scheme has no token.
    BadScheme,
    /// More than one token was presented (two headers, or two sources at once).
    MultipleTokens,
    /// The token is longer than the configured cap.
    TokenTooLarge,
    /// The token is not three base64url segments of a compact JWS.
    MalformedToken,
    /// The JOSE header is not a JSON object of the expected shape.
    MalformedHeader,
    /// The payload is not a JSON object, or a registered claim has the wrong type or range.
    MalformedClaims,
    /// The header's `alg` is not on the allow-list (`none`, HS* without a secret, unknown).
    AlgNotAllowed,
    /// The header's `alg` does not fit the key's type or the key's own `alg`.
    AlgKeyMismatch,
    /// The header carries `crit`, whose extensions tollgate does not implement.
    CritHeader,
    /// The header names a key source (`jku`, `x5u`, `jwk`, `x5c`); keys come only from the JWKS.
    UntrustedKeyHeader,
    /// The header says the payload is itself a JWT (`cty: JWT`); nested tokens are not accepted.
    NestedJwt,
    /// The header has no `kid`, so no key can be chosen.
    MissingKid,
    /// No key in the issuer's JWKS has the token's `kid`.
    UnknownKid,
    /// The signature does not verify with the selected key.
    BadSignature,
    /// A claim that tollgate requires (`exp`, `iss`, `sub`) is absent.
    MissingClaim,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// `iss` is not exactly one of the configured issuers.
    WrongIssuer,
    /// Neither `aud` nor Cognito's `client_id` is one of the configured audiences.
    WrongAudience,
    /// Cognito's `token_use` is not the configured one.
    WrongTokenUse,
    /// The token is valid, but its scopes or groups do not permit this route.
    RouteNotPermitted,
    /// The token may call this route, but an HTTP API simple response of `true` cached under a
    /// token-only key would open routes it may not call (add `$context.routeKey` to the
    /// identity sources, or disable the cache and declare `TOLLGATE_AUTHORIZER_CACHE=off`).
    CacheScopeTooWide,
    /// The token may call this route, but no IAM policy that allows it is safe under a
    /// token-keyed cache for these rules; tollgate answers 500 (never cached) rather than
    /// cache a refusal of every route.
    NoSafePolicy,
    /// The route table is declared (`TOLLGATE_ROUTE_TABLE=declared`), but API Gateway routed
    /// the request where the table has no route: the declaration is wrong, and tollgate answers
    /// 500 (never cached) rather than cache a policy proven over the wrong routes.
    RouteNotInTable,
    /// The event is not one of the API Gateway authorizer shapes tollgate knows.
    UnknownEvent,
    /// The event has a known shape but lacks a field tollgate needs (e.g. the method ARN).
    MalformedEvent,
    /// No signing keys could be obtained for the issuer.
    JwksUnavailable,
    /// The token is on the revocation list (by `jti`, `origin_jti`, or its `sub` before a
    /// cut-off).
    TokenRevoked,
    /// The token was signed with a key that is on the revocation list.
    KeyRevoked,
    /// The revocation list could not be read for longer than its maximum staleness.
    RevocationsUnavailable,
}

impl Reason {
    /// The stable code used in logs, metrics and the CLI's output.
    pub fn code(self) -> &'static str {
        match self {
            Reason::NoToken => "no_token",
            Reason::BadScheme => "bad_scheme",
            Reason::MultipleTokens => "multiple_tokens",
            Reason::TokenTooLarge => "token_too_large",
            Reason::MalformedToken => "malformed_token",
            Reason::MalformedHeader => "malformed_header",
            Reason::MalformedClaims => "malformed_claims",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::AlgKeyMismatch => "alg_key_mismatch",
            Reason::CritHeader => "crit_header",
            Reason::UntrustedKeyHeader => "untrusted_key_header",
            Reason::NestedJwt => "nested_jwt",
            Reason::MissingKid => "missing_kid",
            Reason::UnknownKid => "unknown_kid",
            Reason::BadSignature => "bad_signature",
            Reason::MissingClaim => "missing_claim",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::IssuedInFuture => "issued_in_future",
            Reason::WrongIssuer => "wrong_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::WrongTokenUse => "wrong_token_use",
            Reason::RouteNotPermitted => "route_not_permitted",
            Reason::CacheScopeTooWide => "cache_scope_too_wide",
            Reason::NoSafePolicy => "no_safe_policy",
            Reason::RouteNotInTable => "route_not_in_table",
            Reason::UnknownEvent => "unknown_event",
            Reason::MalformedEvent => "malformed_event",
            Reason::JwksUnavailable => "jwks_unavailable",
            Reason::TokenRevoked => "token_revoked",
            Reason::KeyRevoked => "key_revoked",
            Reason::RevocationsUnavailable => "revocations_unavailable",
        }
    }

    /// Whether this reason means 401, 403 or 500.
    pub fn class(self) -> Class {
        match self {
            Reason::RouteNotPermitted | Reason::CacheScopeTooWide => Class::Forbidden,
            Reason::UnknownEvent
            | Reason::MalformedEvent
            | Reason::JwksUnavailable
            | Reason::RevocationsUnavailable
            | Reason::NoSafePolicy
            | Reason::RouteNotInTable => Class::Error,
            _ => Class::Unauthorized,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A failure: its reason code and a detail for the log line.
///
/// The detail says what was wrong ("exp 1700000000 is before now 1800000000 - 5 s leeway") and
/// never includes the token or any part of its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The reason code.
    pub reason: Reason,
    /// What exactly was wrong, for operators.
    pub detail: String,
}

impl Rejection {
    /// A rejection with a reason and a detail.
    pub fn new(reason: Reason, detail: impl Into<String>) -> Self {
        Rejection {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.code(), self.detail)
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_route_not_permitted_is_forbidden() {
        assert_eq!(Reason::RouteNotPermitted.class(), Class::Forbidden);
        assert_eq!(Reason::BadSignature.class(), Class::Unauthorized);
    }

    #[test]
    fn outages_and_bad_events_are_errors_not_denials() {
        for reason in [
            Reason::JwksUnavailable,
            Reason::UnknownEvent,
            Reason::MalformedEvent,
        ] {
            assert_eq!(reason.class(), Class::Error, "{reason}");
        }
    }

    #[test]
    fn rejection_display_has_code_and_detail() {
        let r = Rejection::new(Reason::WrongIssuer, "iss \"x\" is not configured");
        assert_eq!(r.to_string(), "wrong_issuer: iss \"x\" is not configured");
    }
}
