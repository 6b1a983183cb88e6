//! The context handed to API Gateway with every decision, for cost attribution.
//!
//! API Gateway accepts only strings, numbers and booleans as context values; every value here
//! is a string, and every key is always present (empty when unknown) so access-log formats and
//! mapping templates never see a missing field.

use serde_json::{Map, Value};

use crate::verify::VerifiedClaims;

/// The authorizer context for a verified caller on an endpoint.
///
/// ```
/// use tollgate::{usage::context, verify::VerifiedClaims};
/// let claims = VerifiedClaims { sub: "123456".into(), ..Default::default() };
/// let ctx = context(&claims, "GET /api/user/profile");
/// assert_eq!(ctx["userId"], "123456");
/// assert_eq!(ctx["endpoint"], "GET /api/user/profile");
/// assert_eq!(ctx["groups"], "");
/// ```
pub fn context(claims: &VerifiedClaims, endpoint: &str) -> Map<String, Value> {
    let mut ctx = Map::new();
    let mut put = |key: &str, value: String| {
        ctx.insert(key.to_string(), Value::String(value));
    };
    put("userId", claims.sub.clone());
    put("clientId", claims.client_id.clone().unwrap_or_default());
    put("username", claims.username.clone().unwrap_or_default());
    put("scopes", claims.scopes.join(" "));
    put("groups", claims.groups.join(" "));
    put("endpoint", endpoint.to_string());
    ctx
}
