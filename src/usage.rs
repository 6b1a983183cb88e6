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
/// under route scope. Written with its keys in alphabetical order ([`Context::to_json`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Context {
    /// `userId`: the caller (`sub`).
    pub user_id: String,
    /// `clientId`: the app client.
    pub client_id: String,
    /// `username`: `cognito:username`, else `username`.
    pub username: String,
    /// `tenantId`: from the configured tenant claim.
    pub tenant_id: String,
    /// `plan`: the caller's plan.
    pub plan: String,
    /// `scopes`: the token's scopes, space-separated.
    pub scopes: String,
    /// `groups`: the token's groups, space-separated.
    pub groups: String,
    /// `endpoint` and `costMicros`, only when the answer serves this route alone.
    pub per_route: Option<(String, u64)>,
}

impl Context {
    /// Writes the context as a JSON object, its keys in alphabetical order.
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        let mut ctx = json::Object::open(out);
        ctx.string("clientId", &self.client_id);
        if let Some((endpoint, cost_micros)) = &self.per_route {
            ctx.number("costMicros", *cost_micros)
                .string("endpoint", endpoint);
        }
        ctx.string("groups", &self.groups)
            .string("plan", &self.plan)
            .string("scopes", &self.scopes)
            .string("tenantId", &self.tenant_id)
            .string("userId", &self.user_id)
            .string("username", &self.username);
        ctx.close();
    }

    /// The context as JSON text.
    ///
    /// ```
    /// use tollgate::usage::Context;
    /// let ctx = Context { user_id: "123456".into(), per_route: Some(("GET /a".into(), 7)), ..Default::default() };
    /// assert_eq!(
    ///     ctx.to_json(),
    ///     r#"{"clientId":"","costMicros":7,"endpoint":"GET /a","groups":"","plan":"","scopes":"","tenantId":"","userId":"123456","username":""}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_json(&mut out);
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
/// let claims = VerifiedClaims { sub: "123456".into(), ..Default::default() };
/// let usage = Usage { user_id: "123456".into(), endpoint: "GET /api/user/profile".into(), cost_micros: 100_000, ..Default::default() };
/// let ctx = context(&claims, &usage, true);
/// assert_eq!(ctx.user_id, "123456");
/// assert_eq!(ctx.per_route, Some(("GET /api/user/profile".to_string(), 100_000)));
/// assert_eq!(ctx.groups, "");
/// assert_eq!(context(&claims, &usage, false).per_route, None);
/// ```
pub fn context(claims: &VerifiedClaims, usage: &Usage, per_route: bool) -> Context {
    Context {
        user_id: usage.user_id.clone(),
        client_id: usage.client_id.clone(),
        username: claims.username.clone().unwrap_or_default(),
        tenant_id: usage.tenant_id.clone(),
        plan: usage.plan.clone(),
        scopes: claims.scopes.join(" "),
        groups: claims.groups.join(" "),
        per_route: per_route.then(|| (usage.endpoint.clone(), usage.cost_micros)),
    }
}
