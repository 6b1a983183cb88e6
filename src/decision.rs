//! The four outcomes of an authorization, independent of how they are encoded.
//!
//! Allow and Deny carry a [`Grant`] (principal, resources, context). Unauthorized and Error
//! carry the [`Rejection`] that caused them. Never Allow by default; never Deny for an outage
//! (API Gateway caches a Deny, but not an error).

use crate::errors::{Class, Rejection};
use crate::json;
use crate::metrics::Metadata;
use crate::usage::{Context, Usage};

/// What a verified caller gets: its principal, the resources it may call, and the context.
#[derive(Clone, Debug, PartialEq)]
pub struct Grant {
    /// The `principalId` (the token's `sub`).
    pub principal_id: String,
    /// Resources to Allow: everything this token may call on this API and stage.
    pub allow: Vec<String>,
    /// Resources to Deny explicitly (the denied route of a Deny).
    pub deny: Vec<String>,
    /// What the authorizer context adds to the usage record (written with it).
    pub context: Context,
    /// The `usageIdentifierKey` for REST API usage plans, when one applies.
    pub usage_key: Option<String>,
    /// What the call is attributed to (also logged).
    pub usage: Usage,
}

/// The outcome of one authorization.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// Valid and permitted: an Allow policy (or `isAuthorized: true`).
    Allow(Grant),
    /// Valid but not permitted on this route: a Deny policy, API Gateway answers 403.
    Deny(Grant, Rejection),
    /// Not authenticated: the `Unauthorized` error, API Gateway answers 401.
    Unauthorized(Rejection),
    /// tollgate cannot decide: any other error, API Gateway answers 500 and caches nothing.
    Error(Rejection),
}

impl Decision {
    /// The decision for a rejection, by its reason's class. A forbidden reason without a grant
    /// cannot become a Deny policy, so it is reported as unauthorized; nothing becomes Allow.
    pub fn from_rejection(rejection: Rejection) -> Self {
        match rejection.reason.class() {
            Class::Error => Decision::Error(rejection),
            Class::Unauthorized | Class::Forbidden => Decision::Unauthorized(rejection),
        }
    }

    /// `allow`, `deny`, `unauthorized` or `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::Allow(_) => "allow",
            Decision::Deny(..) => "deny",
            Decision::Unauthorized(_) => "unauthorized",
            Decision::Error(_) => "error",
        }
    }

    /// `ok` for an Allow, otherwise the reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Decision::Allow(_) => "ok",
            Decision::Deny(_, r) | Decision::Unauthorized(r) | Decision::Error(r) => {
                r.reason.code()
            }
        }
    }

    /// The rejection behind a non-Allow decision.
    pub fn rejection(&self) -> Option<&Rejection> {
        match self {
            Decision::Allow(_) => None,
            Decision::Deny(_, r) | Decision::Unauthorized(r) | Decision::Error(r) => Some(r),
        }
    }

    /// The HTTP status API Gateway answers with: 200, 403, 401 or 500.
    pub fn status(&self) -> u16 {
        match self {
            Decision::Allow(_) => 200,
            Decision::Deny(..) => 403,
            Decision::Unauthorized(_) => 401,
            Decision::Error(_) => 500,
        }
    }

    /// The local CLI's exit status: 0 allowed, 1 denied, 2 unauthorized, 3 error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Decision::Allow(_) => 0,
            Decision::Deny(..) => 1,
            Decision::Unauthorized(_) => 2,
            Decision::Error(_) => 3,
        }
    }
}

/// One line per authorization decision: the decision, its usage record, and (in Embedded
/// Metric Format) the decision count and latency. Written by [`DecisionRecord::write_json`]
/// with the members in the order below, the optional ones only when present.
#[derive(Debug)]
pub struct DecisionRecord<'a> {
    /// The EMF metadata that turns `decisions` and `latencyUs` into CloudWatch metrics (`_aws`).
    pub metrics: Metadata,
    /// Always `"decision"`, so log queries can select these lines.
    pub event: &'static str,
    /// The Lambda or API Gateway request id, when known.
    pub request_id: Option<&'a str>,
    /// `allow`, `deny`, `unauthorized` or `error`.
    pub decision: &'static str,
    /// `ok` for an Allow, otherwise the reason code.
    pub reason: &'static str,
    /// What was wrong, for a rejection.
    pub detail: Option<&'a str>,
    /// The event shape.
    pub shape: Option<&'static str>,
    /// The verified `sub`, once the token has been verified.
    pub principal: Option<&'a str>,
    /// The endpoint label (`GET /api/user/profile`).
    pub route: Option<&'a str>,
    /// What the call is attributed to, for a verified caller.
    pub usage: Option<&'a Usage>,
    /// Always 1: the EMF count of decisions.
    pub decisions: u32,
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
}

impl DecisionRecord<'_> {
    /// Writes the line's JSON object (without the newline).
    ///
    /// ```
    /// use tollgate::{decision::DecisionRecord, metrics::Metadata};
    /// let record = DecisionRecord {
    ///     metrics: Metadata::decision(), event: "decision", request_id: Some("r-1"),
    ///     decision: "unauthorized", reason: "expired", detail: Some("exp is \"old\""),
    ///     shape: None, principal: None, route: None, usage: None, decisions: 1, latency_us: 7,
    /// };
    /// let mut line = Vec::new();
    /// record.write_json(&mut line);
    /// let v: serde_json::Value = serde_json::from_slice(&line).unwrap();
    /// assert_eq!(v["detail"], "exp is \"old\"");
    /// assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Namespace"], "tollgate");
    /// assert!(v.get("shape").is_none());
    /// ```
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut line = json::Object::open(out);
        self.metrics.write_json(line.key("_aws"));
        line.string("event", self.event)
            .some_string("requestId", self.request_id)
            .string("decision", self.decision)
            .string("reason", self.reason)
            .some_string("detail", self.detail)
            .some_string("shape", self.shape)
            .some_string("principal", self.principal)
            .some_string("route", self.route);
        if let Some(usage) = self.usage {
            usage.write_json(line.key("usage"));
        }
        line.number("decisions", u64::from(self.decisions))
            .number("latencyUs", self.latency_us);
        line.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::errors::Reason;

    #[test]
    fn outage_becomes_error_not_deny() {
        let d = Decision::from_rejection(Rejection::new(Reason::JwksUnavailable, "down"));
        assert_eq!((d.label(), d.status(), d.exit_code()), ("error", 500, 3));
    }

    #[test]
    fn bad_token_becomes_unauthorized() {
        let d = Decision::from_rejection(Rejection::new(Reason::Expired, "old"));
        assert_eq!(
            (d.label(), d.status(), d.exit_code()),
            ("unauthorized", 401, 2)
        );
        assert_eq!(d.reason_code(), "expired");
    }
}
