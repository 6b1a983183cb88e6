//! CORS as the template configures it on each kind of API, for `serve`.
//!
//! REST API (SAM `Cors` with `AddDefaultAuthorizerToCorsPreflight: false`, and the gateway
//! responses in `GatewayResponses`): every resource gets an `OPTIONS` method with a mock
//! integration and no authorizer, answering 200 `{}` with the allowed origin, the resource's
//! methods, the allowed headers and the max age; every gateway response (401, 403, 404-like
//! `Missing Authentication Token`, 413, 500, 504) carries the origin and exposes
//! `WWW-Authenticate`, and the 401 carries `WWW-Authenticate: Bearer realm="tollgate"`. The
//! integration's own answers pass as they are (a Lambda proxy backend sets its own CORS
//! headers, as the template's demo backend does; the built-in echo backend plays it).
//!
//! HTTP API (`CorsConfiguration`): a preflight (`OPTIONS` with `Origin` and
//! `Access-Control-Request-Method`) is answered 204 by the gateway for any path, before routing
//! and without the authorizer; every other answer, the integration's and the gateway's own
//! (401, 403, 404, 413, 500, 503), gets the configured headers, and the integration's own CORS
//! headers are dropped. HTTP APIs have no gateway responses to customise, so their 401 has no
//! `WWW-Authenticate`.
//!
//! Both: the headers go only to an allowed origin, the origin echoed with `Vary: Origin` (or
//! `*`), and none to an origin that is not allowed. (The deployed REST API sends its one static
//! origin to every caller; a browser blocks a page of another origin either way.)

use http::{HeaderMap, HeaderValue, header};

use crate::cors::{
    ALLOW_HEADERS, CorsSettings, EXPOSE_HEADERS, HTTP_ALLOW_METHODS, MAX_AGE_SECONDS,
    WWW_AUTHENTICATE,
};

/// The request's `Origin`, if it has exactly one readable value.
pub fn origin(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::ORIGIN).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value.to_str().ok(),
        _ => None,
    }
}

/// Whether an HTTP API request is a CORS preflight: `OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`.
pub fn is_http_preflight(method: &str, headers: &HeaderMap) -> bool {
    method == "OPTIONS"
        && headers.contains_key(header::ORIGIN)
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Sets the headers of an actual (non-preflight) answer to an allowed origin: the origin,
/// `Vary: Origin` when it is echoed, and the exposed headers.
pub fn add_answer_headers(cors: &CorsSettings, origin: Option<&str>, headers: &mut HeaderMap) {
    let Some(allowed) = cors.allow(origin) else {
        return;
    };
    let Ok(value) = HeaderValue::from_str(allowed) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if allowed != "*" {
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSE_HEADERS[0]),
    );
}

/// Sets a preflight answer's headers for an allowed origin: the answer headers, the allowed
/// methods (`methods`, comma-separated), the allowed headers and the max age.
pub fn add_preflight_headers(
    cors: &CorsSettings,
    origin: Option<&str>,
    methods: &str,
    headers: &mut HeaderMap,
) {
    if cors.allow(origin).is_none() {
        return;
    }
    add_answer_headers(cors, origin, headers);
    headers.remove(header::ACCESS_CONTROL_EXPOSE_HEADERS);
    if let Ok(methods) = HeaderValue::from_str(methods) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    }
    if let Ok(allowed) = HeaderValue::from_str(&ALLOW_HEADERS.join(",")) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, allowed);
    }
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(MAX_AGE_SECONDS),
    );
}

/// The HTTP API's configured methods, as its preflight names them.
pub fn http_methods() -> String {
    HTTP_ALLOW_METHODS.join(",")
}

/// Drops an integration's own CORS headers (an HTTP API with a CORS configuration ignores
/// them).
pub fn drop_integration_headers(headers: &mut HeaderMap) {
    let names: Vec<header::HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

/// Sets the REST 401's `WWW-Authenticate` challenge.
pub fn add_challenge(headers: &mut HeaderMap) {
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(WWW_AUTHENTICATE),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        headers
    }

    #[test]
    fn an_allowed_origin_is_echoed_with_vary_and_the_exposed_challenge() {
        let cors = CorsSettings::default();
        let mut headers = HeaderMap::new();
        add_answer_headers(&cors, Some("http://localhost:8080"), &mut headers);
        assert_eq!(
            headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "http://localhost:8080"
        );
        assert_eq!(headers[header::VARY], "Origin");
        assert_eq!(
            headers[header::ACCESS_CONTROL_EXPOSE_HEADERS],
            "WWW-Authenticate"
        );
    }

    #[test]
    fn an_origin_not_allowed_gets_no_cors_header() {
        let cors = CorsSettings::default();
        let mut headers = HeaderMap::new();
        add_preflight_headers(&cors, Some("http://evil.example"), "GET", &mut headers);
        add_answer_headers(&cors, Some("http://evil.example"), &mut headers);
        assert!(headers.is_empty(), "{headers:?}");
    }

    #[test]
    fn a_star_is_not_varied_on() {
        let cors = CorsSettings::new(["*"]).unwrap();
        let mut headers = HeaderMap::new();
        add_answer_headers(&cors, Some("http://a.example"), &mut headers);
        assert_eq!(headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(!headers.contains_key(header::VARY));
    }

    #[test]
    fn two_origin_headers_are_no_origin() {
        let mut headers = with_origin("http://localhost:8080");
        headers.append(header::ORIGIN, HeaderValue::from_static("http://b.example"));
        assert_eq!(origin(&headers), None);
        assert_eq!(
            origin(&with_origin("http://localhost:8080")),
            Some("http://localhost:8080")
        );
    }

    #[test]
    fn only_options_with_origin_and_request_method_is_an_http_preflight() {
        let mut headers = with_origin("http://localhost:8080");
        assert!(!is_http_preflight("OPTIONS", &headers));
        headers.insert(
            header::ACCESS_CONTROL_REQUEST_METHOD,
            HeaderValue::from_static("POST"),
        );
        assert!(is_http_preflight("OPTIONS", &headers));
        assert!(!is_http_preflight("POST", &headers));
    }
}
