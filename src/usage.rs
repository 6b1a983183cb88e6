//! Cost attribution: who called which endpoint, on which plan, at what cost.
//!
//! One [`Usage`] per decision feeds both the authorizer context (which API Gateway puts in
//! the access log as `$context.authorizer.*`) and the usage record in tollgate's own log line.
//! API Gateway accepts only strings, numbers and booleans as context values; every per-token key
//! is always present (empty when unknown). The per-route keys (`endpoint`, `costMicros`) are
//! present only when the answer cannot be cached for another route; the access log then shows
//! `-` for them, and `usage-report` prices the call from its own route.

use crate::json;
use crate::verify::VerifiedClaims;

/// What one call is attributed to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// The caller (`sub`).
    pub user_id: String,
    /// The app client.
    pub client_id: String,
    /// The tenant, from the configured tenant claim.
    pub tenant_id: String,
    /// The caller's plan.
    pub plan: String,
    /// The route as API Gateway names it (`GET /api/user/{id}`, an HTTP API route key), else
    /// the matched rule's pattern (never the caller's concrete path), else empty.
    pub endpoint: String,
    /// The price of this call for the plan, in millionths of the currency unit.
    pub cost_micros: u64,
}

impl Usage {
    /// Writes the usage record as a JSON object (`userId`, `clientId`, `tenantId`, `plan`,
    /// `endpoint`, `costMicros`).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let mut record = json::Object::open(out);
        record
            .string("userId", &self.user_id)
            .string("clientId", &self.client_id)
            .string("tenantId", &self.tenant_id)
            .string("plan", &self.plan)
            .string("endpoint", &self.endpoint)
            .number("costMicros", self.cost_micros);
        record.close();
    }
}

/// The authorizer context API Gateway receives with an Allow or Deny: strings and numbers
/// only, every per-token key always present (empty when unknown), and the per-route keys only
/// under route scope. It is written from the call's [`Usage`] (`userId`, `clientId`,
/// `tenantId`, `plan`, `endpoint`, `costMicros`) and what the token adds here, with its keys in
/// alphabetical order ([`Context::to_json`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `username`: `cognito:username`, else `username`.
    pub username: String,
    /// `scopes`: the token's scopes, space-separated.
    pub scopes: String,
    /// `groups`: the token's groups, space-separated.
    pub groups: String,
    /// Whether the answer serves this route alone: only then does the context carry
    /// `endpoint` and `costMicros`.
    pub per_route: bool,
}

impl Context {
    /// Writes the context of the call `usage` as a JSON object, its keys in alphabetical order.
    pub(crate) fn write_json(&self, usage: &Usage, out: &mut Vec<u8>) {
        let mut ctx = json::Object::open(out);
        ctx.string("clientId", &usage.client_id);
        if self.per_route {
            ctx.number("costMicros", usage.cost_micros)
                .string("endpoint", &usage.endpoint);
        }
        ctx.string("groups", &self.groups)
            .string("plan", &usage.plan)
            .string("scopes", &self.scopes)
            .string("tenantId", &usage.tenant_id)
            .string("userId", &usage.user_id)
            .string("username", &self.username);
        ctx.close();
    }

    /// The context of the call `usage` as JSON text.
    ///
    /// ```
    /// use tollgate::usage::{Context, Usage};
    /// let usage = Usage { user_id: "123456".into(), endpoint: "GET /a".into(), cost_micros: 7, ..Default::default() };
    /// let ctx = Context { per_route: true, ..Default::default() };
    /// assert_eq!(
    ///     ctx.to_json(&usage),
    ///     r#"{"clientId":"","costMicros":7,"endpoint":"GET /a","groups":"","plan":"","scopes":"","tenantId":"","userId":"123456","username":""}"#
    /// );
    /// ```
    pub fn to_json(&self, usage: &Usage) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_json(usage, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The authorizer context for a verified caller. `per_route` says whether the answer can only
/// be reused for this route (route scope, or no cache): only then does it carry `endpoint` and
/// `costMicros`, since a context cached under a token-only key would bill every later route at
/// this one's price.
///
/// ```
/// use tollgate::{usage::{context, Usage}, verify::VerifiedClaims};
/// let claims = VerifiedClaims { sub: "123456".into(), scopes: vec!["a".into(), "b".into()], ..Default::default() };
/// let usage = Usage { user_id: "123456".into(), endpoint: "GET /api/user/profile".into(), cost_micros: 100_000, ..Default::default() };
/// let ctx = context(&claims, true);
/// assert_eq!(ctx.scopes, "a b");
/// assert!(ctx.to_json(&usage).contains(r#""costMicros":100000,"endpoint":"GET /api/user/profile""#));
/// assert_eq!(ctx.groups, "");
/// assert!(!context(&claims, false).to_json(&usage).contains("costMicros"));
/// ```
pub fn context(claims: &VerifiedClaims, per_route: bool) -> Context {
    Context {
        username: claims.username.clone().unwrap_or_default(),
        scopes: claims.scopes.join(" "),
        groups: claims.groups.join(" "),
        per_route,
    }
}
