//! How API Gateway's authorizer cache keys an answer, and whether the rules are the API's whole
//! route table: the two facts about the cache that decide what a policy must cover.

/// How API Gateway's authorizer cache keys this authorizer's answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CacheScope {
    /// The key is the token alone (TOKEN authorizers; REQUEST authorizers keyed on a header).
    /// Always correct, merely larger policies: the default.
    #[default]
    Token,
    /// The route is part of the key (REST: `context.httpMethod` and `context.resourcePath`
    /// among the identity sources; HTTP APIs: `$context.routeKey`; WebSocket `$connect`).
    Route,
    /// API Gateway's cache is disabled: every answer is used once.
    Off,
}

impl CacheScope {
    /// The setting's spelling: `token`, `route` or `off`.
    pub fn name(self) -> &'static str {
        match self {
            CacheScope::Token => "token",
            CacheScope::Route => "route",
            CacheScope::Off => "off",
        }
    }

    /// Whether the context may carry per-route fields (`endpoint`, `costMicros`): only when a
    /// cached context can never be reused for another route.
    pub fn per_route_context(self) -> bool {
        self != CacheScope::Token
    }
}

/// A setting spelled none of the ways it may be (the setting's own value, quoted, and the
/// spellings it may take).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownSetting {
    /// The value as given.
    pub value: String,
    /// What it may be.
    pub expected: &'static str,
}

impl std::fmt::Display for UnknownSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} is not {}", self.value, self.expected)
    }
}

impl std::error::Error for UnknownSetting {}

impl std::str::FromStr for CacheScope {
    type Err = UnknownSetting;

    fn from_str(text: &str) -> Result<Self, UnknownSetting> {
        match text.trim() {
            "token" => Ok(CacheScope::Token),
            "route" => Ok(CacheScope::Route),
            "off" => Ok(CacheScope::Off),
            other => Err(UnknownSetting {
                value: other.to_string(),
                expected: "`token`, `route` or `off`",
            }),
        }
    }
}

/// Whether the route rules are the whole route table of every API method that uses this
/// authorizer (`TOLLGATE_ROUTE_TABLE`, `route_table`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RouteTableSetting {
    /// Nothing is known of the API's routes: a policy must be exact over every string a path
    /// could be. The default.
    #[default]
    Undeclared,
    /// The rules are the API's routes, every one of them (a route no caller may call is a rule
    /// with `closed = true`): a policy must be exact over the requests API Gateway routes.
    Declared,
}

impl RouteTableSetting {
    /// The setting's spelling: `undeclared` or `declared`.
    pub fn name(self) -> &'static str {
        match self {
            RouteTableSetting::Undeclared => "undeclared",
            RouteTableSetting::Declared => "declared",
        }
    }
}

impl std::str::FromStr for RouteTableSetting {
    type Err = UnknownSetting;

    fn from_str(text: &str) -> Result<Self, UnknownSetting> {
        match text.trim() {
            "undeclared" => Ok(RouteTableSetting::Undeclared),
            "declared" => Ok(RouteTableSetting::Declared),
            other => Err(UnknownSetting {
                value: other.to_string(),
                expected: "`declared` or `undeclared`",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_scope_names_parse_and_anything_else_is_refused() {
        assert_eq!("route".parse::<CacheScope>(), Ok(CacheScope::Route));
        assert_eq!(" off ".parse::<CacheScope>(), Ok(CacheScope::Off));
        assert!(
            "Token"
                .parse::<CacheScope>()
                .unwrap_err()
                .to_string()
                .contains("is not `token`")
        );
    }

    #[test]
    fn route_table_names_parse_and_anything_else_is_refused() {
        assert_eq!(
            "declared".parse::<RouteTableSetting>(),
            Ok(RouteTableSetting::Declared)
        );
        assert_eq!(RouteTableSetting::default().name(), "undeclared");
        let error = "yes".parse::<RouteTableSetting>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "\"yes\" is not `declared` or `undeclared`"
        );
    }
}
