//! Identity sources: what API Gateway requires before it runs a Lambda authorizer, and what
//! its cache key is made of.
//!
//! A request missing any of them (absent or empty) is answered 401 without invoking the
//! authorizer. Their values, in order, are the cache key; for an HTTP API they are also the
//! event's `identitySource`.

use super::Api;

/// One identity source, in the notation of the API kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdentitySource {
    /// A request header (REST `method.request.header.NAME`, HTTP `$request.header.NAME`);
    /// names are matched case-insensitively.
    Header(String),
    /// A query-string parameter (REST `method.request.querystring.NAME`, HTTP
    /// `$request.querystring.NAME`).
    Query(String),
    /// The request's method (REST `context.httpMethod`, HTTP `$context.httpMethod`).
    HttpMethod,
    /// The REST resource the request was routed to (`context.resourcePath`).
    ResourcePath,
    /// The HTTP API route key (`$context.routeKey`).
    RouteKey,
}

impl IdentitySource {
    /// Parses one identity source as the template writes it for `api`.
    ///
    /// ```
    /// use tollgate::serve::{Api, IdentitySource};
    /// assert_eq!(
    ///     IdentitySource::parse("method.request.header.Authorization", Api::Rest),
    ///     Ok(IdentitySource::Header("Authorization".into()))
    /// );
    /// assert_eq!(IdentitySource::parse("$context.routeKey", Api::Http), Ok(IdentitySource::RouteKey));
    /// assert!(IdentitySource::parse("$context.routeKey", Api::Rest).is_err());
    /// ```
    pub fn parse(text: &str, api: Api) -> Result<Self, IdentitySourceError> {
        let named = |prefix: &str, make: fn(String) -> IdentitySource| {
            text.strip_prefix(prefix)
                .filter(|name| !name.is_empty() && name.bytes().all(is_token_char))
                .map(|name| make(name.to_string()))
        };
        let parsed = match api {
            Api::Rest => named("method.request.header.", IdentitySource::Header)
                .or_else(|| named("method.request.querystring.", IdentitySource::Query))
                .or(match text {
                    "context.httpMethod" => Some(IdentitySource::HttpMethod),
                    "context.resourcePath" => Some(IdentitySource::ResourcePath),
                    _ => None,
                }),
            Api::Http => named("$request.header.", IdentitySource::Header)
                .or_else(|| named("$request.querystring.", IdentitySource::Query))
                .or(match text {
                    "$context.httpMethod" => Some(IdentitySource::HttpMethod),
                    "$context.routeKey" => Some(IdentitySource::RouteKey),
                    _ => None,
                }),
        };
        parsed.ok_or_else(|| IdentitySourceError {
            text: text.to_string(),
            api,
        })
    }

    /// The template's identity sources for an API and authorizer kind: the `Authorization`
    /// header alone, so that a caller costs one invocation per TTL (the route table is
    /// declared, so one exact policy serves every route of the caller).
    pub fn template_defaults(_api: Api, _authorizer: super::AuthorizerKind) -> Vec<Self> {
        vec![IdentitySource::Header("Authorization".into())]
    }

    /// Whether a set of identity sources keys the cache on the route, so that a cached
    /// answer only ever serves the route it was given for.
    pub fn route_in_key(sources: &[Self], api: Api) -> bool {
        match api {
            Api::Rest => {
                sources.contains(&IdentitySource::HttpMethod)
                    && sources.contains(&IdentitySource::ResourcePath)
            }
            Api::Http => sources.contains(&IdentitySource::RouteKey),
        }
    }

    /// The source as the template writes it for `api`.
    pub fn notation(&self, api: Api) -> String {
        match (self, api) {
            (IdentitySource::Header(n), Api::Rest) => format!("method.request.header.{n}"),
            (IdentitySource::Query(n), Api::Rest) => format!("method.request.querystring.{n}"),
            (IdentitySource::HttpMethod, Api::Rest) => "context.httpMethod".into(),
            (IdentitySource::ResourcePath, _) => "context.resourcePath".into(),
            (IdentitySource::Header(n), Api::Http) => format!("$request.header.{n}"),
            (IdentitySource::Query(n), Api::Http) => format!("$request.querystring.{n}"),
            (IdentitySource::HttpMethod, Api::Http) => "$context.httpMethod".into(),
            (IdentitySource::RouteKey, _) => "$context.routeKey".into(),
        }
    }
}

/// A text that is not an identity source in the API's notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentitySourceError {
    /// The text as given.
    pub text: String,
    /// The API kind whose notation it was read in.
    pub api: Api,
}

impl std::fmt::Display for IdentitySourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = &self.text;
        match self.api {
            Api::Rest => write!(
                f,
                "{text:?} is not a REST identity source: use method.request.header.NAME, method.request.querystring.NAME, context.httpMethod or context.resourcePath"
            ),
            Api::Http => write!(
                f,
                "{text:?} is not an HTTP API identity source: use $request.header.NAME, $request.querystring.NAME, $context.httpMethod or $context.routeKey"
            ),
        }
    }
}

impl std::error::Error for IdentitySourceError {}

/// RFC 9110 token characters: what a header or parameter name may hold here.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::serve::AuthorizerKind;

    #[test]
    fn template_sources_key_on_the_token_alone() {
        for api in [Api::Rest, Api::Http] {
            let sources = IdentitySource::template_defaults(api, AuthorizerKind::Request);
            assert_eq!(sources, [IdentitySource::Header("Authorization".into())]);
            assert!(!IdentitySource::route_in_key(&sources, api));
        }
    }

    #[test]
    fn the_method_and_resource_path_key_a_rest_cache_on_the_route() {
        let sources = vec![
            IdentitySource::Header("Authorization".into()),
            IdentitySource::HttpMethod,
            IdentitySource::ResourcePath,
        ];
        assert!(IdentitySource::route_in_key(&sources, Api::Rest));
    }

    #[test]
    fn a_header_alone_does_not_key_on_the_route() {
        let sources = vec![IdentitySource::Header("Authorization".into())];
        assert!(!IdentitySource::route_in_key(&sources, Api::Rest));
        assert!(!IdentitySource::route_in_key(&sources, Api::Http));
    }

    #[test]
    fn method_without_resource_path_does_not_key_on_the_route() {
        let sources = vec![IdentitySource::HttpMethod];
        assert!(!IdentitySource::route_in_key(&sources, Api::Rest));
    }

    #[test]
    fn notation_round_trips_for_both_apis() {
        for api in [Api::Rest, Api::Http] {
            for authorizer in [AuthorizerKind::Token, AuthorizerKind::Request] {
                let mut sources = IdentitySource::template_defaults(api, authorizer);
                sources.extend(match api {
                    Api::Rest => vec![IdentitySource::HttpMethod, IdentitySource::ResourcePath],
                    Api::Http => vec![IdentitySource::RouteKey],
                });
                for source in sources {
                    assert_eq!(
                        IdentitySource::parse(&source.notation(api), api),
                        Ok(source)
                    );
                }
            }
        }
    }

    #[test]
    fn an_empty_or_spaced_header_name_is_refused() {
        assert!(IdentitySource::parse("method.request.header.", Api::Rest).is_err());
        assert!(IdentitySource::parse("$request.header.a b", Api::Http).is_err());
    }
}
