//! Finds the caller's token in the request.
//!
//! By default the token is the `Authorization` header's `Bearer` credential (scheme matched
//! case-insensitively, surrounding whitespace tolerated); a WebSocket `$connect` also looks in
//! the `token` query parameter, because browsers cannot set headers on a WebSocket handshake.
//! `TOKEN_SOURCE` can name other headers, query parameters or cookies. Exactly one token must
//! be present: none is `no_token`, two are `multiple_tokens`, never a pick.

use aws_lambda_events::http::HeaderName;
use aws_lambda_events::http::header::AUTHORIZATION;

use crate::errors::{Reason, Rejection};
use crate::event::{Credentials, EventShape, is_visible_ascii};
use crate::verify::is_compact_jws_text;

/// One place a token may be carried.
///
/// ```
/// use tollgate::token::TokenSource;
/// assert!(TokenSource::parse("header:X-Api-Token").is_ok());
/// assert!(TokenSource::parse("query:token").is_ok());
/// assert!(TokenSource::parse("cookie:id_token").is_ok());
/// assert!(TokenSource::parse("body:token").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A request header (name case-insensitive). `Authorization` requires the `Bearer` scheme;
    /// other headers take the bare token or `Bearer <token>`.
    Header(HeaderName),
    /// A query string parameter (name case-sensitive), holding the bare token.
    Query(String),
    /// A cookie (name case-sensitive), holding the bare token.
    Cookie(String),
}

impl TokenSource {
    /// Parses `header:NAME`, `query:NAME` or `cookie:NAME`.
    pub fn parse(spec: &str) -> Result<Self, TokenSourceError> {
        let (kind, name) = spec
            .split_once(':')
            .ok_or_else(|| TokenSourceError::NotKindAndName(spec.to_string()))?;
        if name.is_empty() {
            return Err(TokenSourceError::NoName(spec.to_string()));
        }
        match kind {
            "header" => HeaderName::from_bytes(name.as_bytes())
                .map(TokenSource::Header)
                .map_err(|_| TokenSourceError::BadHeaderName(name.to_string())),
            "query" => Ok(TokenSource::Query(name.to_string())),
            "cookie" => Ok(TokenSource::Cookie(name.to_string())),
            _ => Err(TokenSourceError::UnknownKind(kind.to_string())),
        }
    }
}

/// Why a configured token source cannot be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSourceError {
    /// The whole specification has no `:` between a kind and a name.
    NotKindAndName(String),
    /// The whole specification has a kind and nothing after its `:`.
    NoName(String),
    /// The name is not a valid HTTP header name.
    BadHeaderName(String),
    /// The kind is not `header`, `query` or `cookie`.
    UnknownKind(String),
}

impl std::fmt::Display for TokenSourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSourceError::NotKindAndName(spec) => {
                write!(f, "{spec:?} is not header:NAME, query:NAME or cookie:NAME")
            }
            TokenSourceError::NoName(spec) => write!(f, "{spec:?} has no name"),
            TokenSourceError::BadHeaderName(name) => {
                write!(f, "{name:?} is not a valid header name")
            }
            TokenSourceError::UnknownKind(kind) => {
                write!(f, "{kind:?} is not header, query or cookie")
            }
        }
    }
}

impl std::error::Error for TokenSourceError {}

/// The sources used when `TOKEN_SOURCE` is not set, for a given event shape.
pub fn default_sources(shape: EventShape) -> Vec<TokenSource> {
    let mut sources = vec![TokenSource::Header(AUTHORIZATION)];
    if shape == EventShape::WebSocketConnect {
        sources.push(TokenSource::Query("token".to_string()));
    }
    sources
}

/// Takes the single token from the request.
///
/// A `TOKEN` event's `authorizationToken` is read like an `Authorization` header. For the
/// other shapes each source is searched; every value found counts, so a repeated header or a
/// token in two sources is rejected as `multiple_tokens`.
pub fn extract<'a>(
    shape: EventShape,
    credentials: &'a Credentials<'_>,
    sources: &[TokenSource],
) -> Result<&'a str, Rejection> {
    if shape == EventShape::RestToken {
        return match credentials.authorization_token.as_deref() {
            Some(value) if !value.trim().is_empty() => bearer(value),
            _ => Err(Rejection::new(
                Reason::NoToken,
                "authorizationToken is empty",
            )),
        };
    }

    let mut found: Option<&'a str> = None;
    let mut keep = |token: &'a str, origin: &dyn Fn() -> String| -> Result<(), Rejection> {
        match found {
            None => {
                found = Some(token);
                Ok(())
            }
            Some(_) => Err(Rejection::new(
                Reason::MultipleTokens,
                format!("more than one token presented ({})", origin()),
            )),
        }
    };
    for source in sources {
        match source {
            TokenSource::Header(name) => {
                for value in credentials.header(name.as_str()) {
                    if !is_visible_ascii(value) {
                        return Err(Rejection::new(
                            Reason::MalformedToken,
                            format!("header {name} is not ASCII"),
                        ));
                    }
                    if value.trim().is_empty() {
                        continue;
                    }
                    let token = if *name == AUTHORIZATION {
                        bearer(value)?
                    } else {
                        bare(value)?
                    };
                    keep(token, &|| format!("header {name}"))?;
                }
            }
            TokenSource::Query(name) => {
                for (_, value) in credentials
                    .query
                    .iter()
                    .filter(|(k, v)| k == name && !v.is_empty())
                {
                    keep(bare(value)?, &|| format!("query parameter {name}"))?;
                }
            }
            TokenSource::Cookie(name) => {
                for cookie in &credentials.cookies {
                    if let Some((cname, value)) = cookie.split_once('=')
                        && cname.trim() == name
                        && !value.trim().is_empty()
                    {
                        keep(bare(value)?, &|| format!("cookie {name}"))?;
                    }
                }
            }
        }
    }
    found.ok_or_else(|| {
        let names: Vec<String> = sources.iter().map(describe).collect();
        Rejection::new(Reason::NoToken, format!("no token in {}", names.join(", ")))
    })
}

fn describe(source: &TokenSource) -> String {
    match source {
        TokenSource::Header(name) => format!("header {name}"),
        TokenSource::Query(name) => format!("query parameter {name}"),
        TokenSource::Cookie(name) => format!("cookie {name}"),
    }
}

/// Reads `Bearer <token>`: the scheme case-insensitive, whitespace around both tolerated.
fn bearer(value: &str) -> Result<&str, Rejection> {
    let value = value.trim();
    let (scheme, rest) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(Rejection::new(
            Reason::BadScheme,
            "Authorization does not use the Bearer scheme",
        ));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(Rejection::new(
            Reason::BadScheme,
            "Bearer scheme with no token",
        ));
    }
    single(token)
}

/// Reads a bare token, also accepting the `Bearer` prefix.
fn bare(value: &str) -> Result<&str, Rejection> {
    // The usual bare token, in one pass: no whitespace, no scheme, nothing but token text.
    if is_compact_jws_text(value) {
        return Ok(value);
    }
    let value = value.trim();
    match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("bearer") => bearer(value),
        _ => single(value),
    }
}

/// Refuses values that hold more than one credential (`a, b` is how API Gateway joins
/// repeated headers in HTTP API events).
fn single(token: &str) -> Result<&str, Rejection> {
    // The usual token, in one pass: nothing but base64url characters and dots.
    if is_compact_jws_text(token) {
        return Ok(token);
    }
    if token.contains(',') {
        return Err(Rejection::new(
            Reason::MultipleTokens,
            "comma-separated list of credentials",
        ));
    }
    if token.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Rejection::new(
            Reason::MalformedToken,
            "token contains whitespace",
        ));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header<'a>(name: &'static str, values: &[&'a str]) -> Credentials<'a> {
        let mut c = Credentials::default();
        for v in values {
            c.headers.push((name.into(), (*v).into()));
        }
        c
    }

    fn auth(values: &[&str]) -> Result<String, Reason> {
        let c = with_header("authorization", values);
        extract(
            EventShape::RestRequest,
            &c,
            &default_sources(EventShape::RestRequest),
        )
        .map(str::to_string)
        .map_err(|r| r.reason)
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_whitespace_tolerant() {
        assert_eq!(auth(&["  bEaReR   a.b.c  "]).unwrap(), "a.b.c");
    }

    #[test]
    fn other_scheme_is_bad_scheme() {
        assert_eq!(
            auth(&["Basic dXNlcjpwYXNz"]).unwrap_err(),
            Reason::BadScheme
        );
    }

    #[test]
    fn bare_token_in_authorization_is_bad_scheme() {
        assert_eq!(auth(&["a.b.c"]).unwrap_err(), Reason::BadScheme);
    }

    #[test]
    fn bearer_without_token_is_bad_scheme() {
        assert_eq!(auth(&["Bearer   "]).unwrap_err(), Reason::BadScheme);
    }

    #[test]
    fn two_authorization_headers_are_multiple_tokens() {
        assert_eq!(
            auth(&["Bearer a.b.c", "Bearer d.e.f"]).unwrap_err(),
            Reason::MultipleTokens
        );
    }

    #[test]
    fn comma_joined_headers_are_multiple_tokens() {
        assert_eq!(
            auth(&["Bearer a.b.c, Bearer d.e.f"]).unwrap_err(),
            Reason::MultipleTokens
        );
    }

    #[test]
    fn two_tokens_after_one_scheme_is_malformed() {
        assert_eq!(
            auth(&["Bearer a.b.c d.e.f"]).unwrap_err(),
            Reason::MalformedToken
        );
    }

    #[test]
    fn missing_header_is_no_token() {
        assert_eq!(auth(&[]).unwrap_err(), Reason::NoToken);
    }

    #[test]
    fn token_in_wrong_header_is_no_token() {
        let c = with_header("x-token", &["Bearer a.b.c"]);
        let err = extract(
            EventShape::RestRequest,
            &c,
            &default_sources(EventShape::RestRequest),
        )
        .unwrap_err();
        assert_eq!(err.reason, Reason::NoToken);
    }

    #[test]
    fn websocket_reads_token_query_parameter() {
        let c = Credentials {
            query: vec![("token".into(), "a.b.c".into())],
            ..Default::default()
        };
        let sources = default_sources(EventShape::WebSocketConnect);
        assert_eq!(
            extract(EventShape::WebSocketConnect, &c, &sources).unwrap(),
            "a.b.c"
        );
    }

    #[test]
    fn token_in_header_and_query_is_multiple_tokens() {
        let mut c = with_header("authorization", &["Bearer a.b.c"]);
        c.query.push(("token".into(), "a.b.c".into()));
        let sources = default_sources(EventShape::WebSocketConnect);
        let err = extract(EventShape::WebSocketConnect, &c, &sources).unwrap_err();
        assert_eq!(err.reason, Reason::MultipleTokens);
    }

    #[test]
    fn cookie_source_reads_named_cookie() {
        let c = Credentials {
            cookies: vec!["a=1".into(), "jwt=x.y.z".into()],
            ..Default::default()
        };
        let sources = [TokenSource::parse("cookie:jwt").unwrap()];
        assert_eq!(extract(EventShape::HttpV2, &c, &sources).unwrap(), "x.y.z");
    }

    #[test]
    fn custom_header_accepts_bare_token() {
        let c = with_header("x-api-token", &["x.y.z"]);
        let sources = [TokenSource::parse("header:X-Api-Token").unwrap()];
        assert_eq!(extract(EventShape::HttpV1, &c, &sources).unwrap(), "x.y.z");
    }

    #[test]
    fn token_event_requires_bearer_scheme() {
        let c = Credentials {
            authorization_token: Some("x.y.z".into()),
            ..Default::default()
        };
        let err = extract(EventShape::RestToken, &c, &[]).unwrap_err();
        assert_eq!(err.reason, Reason::BadScheme);
    }

    #[test]
    fn empty_token_event_is_no_token() {
        let c = Credentials {
            authorization_token: Some(" ".into()),
            ..Default::default()
        };
        assert_eq!(
            extract(EventShape::RestToken, &c, &[]).unwrap_err().reason,
            Reason::NoToken
        );
    }
}
