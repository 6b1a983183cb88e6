//! Cost attribution: who called which endpoint, on which plan, at what cost.
//!
//! One [`Usage`] per decision feeds both the authorizer context (which API Gateway puts in
//! the access log as `$context.authorizer.*`) and the usage record in tollgate's own log line.
//! API Gateway accepts only strings, numbers and booleans as context values; every per-token key
//! is always present (empty when unknown). The per-route keys (`endpoint`, `costMicros`) are
//! present only when the answer cannot be cached for another route; the access log then shows
//! `-` for them, and `usage-report` prices the call from its own route.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::verify::VerifiedClaims;

/// What one call is attributed to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
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
/// assert_eq!(ctx["userId"], "123456");
/// assert_eq!(ctx["endpoint"], "GET /api/user/profile");
/// assert_eq!(ctx["costMicros"], 100_000);
/// assert_eq!(ctx["groups"], "");
/// assert!(!context(&claims, &usage, false).contains_key("costMicros"));
/// ```
pub fn context(claims: &VerifiedClaims, usage: &Usage, per_route: bool) -> Map<String, Value> {
    let mut ctx = Map::new();
    let mut put = |key: &str, value: Value| {
        ctx.insert(key.to_string(), value);
    };
    put("userId", Value::from(usage.user_id.as_str()));
    put("clientId", Value::from(usage.client_id.as_str()));
    put(
        "username",
        Value::from(claims.username.as_deref().unwrap_or_default()),
    );
    put("tenantId", Value::from(usage.tenant_id.as_str()));
    put("plan", Value::from(usage.plan.as_str()));
    put("scopes", Value::from(claims.scopes.join(" ")));
    put("groups", Value::from(claims.groups.join(" ")));
    if per_route {
        put("endpoint", Value::from(usage.endpoint.as_str()));
        put("costMicros", Value::from(usage.cost_micros));
    }
    ctx
}
