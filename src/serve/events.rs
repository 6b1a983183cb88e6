//! The authorizer event API Gateway builds for a request, per API and authorizer kind.
//!
//! The shapes are the `aws_lambda_events` types (the crate's reference for API Gateway's
//! events), filled as API Gateway fills them: a REST `TOKEN` event holds the token header's
//! value and the method ARN; a REST `REQUEST` event the resource, path, method, headers and
//! query (single and multi-valued), path parameters and request context; an HTTP API payload
//! 2.0 event the route ARN and key, the identity-source values, raw path and query, cookies,
//! headers (lower-case names, repeated values joined by commas) and the `http` request
//! context. A few context fields the types leave out (request time, protocol, domain) are
//! added to the JSON.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequestContext,
    ApiGatewayCustomAuthorizerRequestTypeRequestIdentity, ApiGatewayV2CustomAuthorizerV2Request,
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::routing::Routed;
use crate::clock::format_request_time;

/// The emulated API's identity: what goes into ARNs and request contexts.
pub const ACCOUNT: &str = "123456789012";
/// The emulated region.
pub const REGION: &str = "us-east-1";
/// The emulated API id (ten characters, as API Gateway's).
pub const API_ID: &str = "tollgatelc";

/// Why an authorizer event could not be built.
#[derive(Debug)]
pub enum EventError {
    /// The request's method is not an HTTP method.
    InvalidMethod,
    /// The event could not be encoded as JSON.
    Encode {
        /// Which event (`TOKEN`, `REQUEST`, `2.0`).
        event: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::InvalidMethod => {
                f.write_str("the request method is not a valid HTTP method")
            }
            EventError::Encode { event, source } => {
                write!(f, "cannot encode the {event} event: {source}")
            }
        }
    }
}

impl std::error::Error for EventError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EventError::InvalidMethod => None,
            EventError::Encode { source, .. } => Some(source),
        }
    }
}

/// An encoding failure of the event named `event`.
fn encode_error(event: &'static str) -> impl FnOnce(serde_json::Error) -> EventError {
    move |source| EventError::Encode { event, source }
}

/// One request as the event builders need it.
#[derive(Debug)]
pub struct EventInput<'a> {
    /// The method (upper case).
    pub method: &'a str,
    /// The URL path as received (`/api/user/profile`).
    pub path: &'a str,
    /// The raw query string, if any.
    pub query: Option<&'a str>,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// Where the request was routed.
    pub routed: &'a Routed,
    /// The stage name.
    pub stage: &'a str,
    /// The method ARN (REST) or route ARN (HTTP).
    pub arn: &'a str,
    /// API Gateway's request id.
    pub request_id: &'a str,
    /// The request time, milliseconds since the Unix epoch.
    pub epoch_ms: i64,
    /// The client's address.
    pub source_ip: &'a str,
    /// `HTTP/1.1` and the like.
    pub protocol: &'a str,
}

/// The ARN of a request: `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`.
pub fn request_arn(stage: &str, method: &str, path: &str) -> String {
    let bare = path.strip_prefix('/').unwrap_or(path);
    format!("arn:aws:execute-api:{REGION}:{ACCOUNT}:{API_ID}/{stage}/{method}/{bare}")
}

/// A REST `TOKEN` event.
pub fn rest_token(token: &str, arn: &str) -> Result<Vec<u8>, EventError> {
    let mut event = ApiGatewayCustomAuthorizerRequest::default();
    event.type_ = Some("TOKEN".into());
    event.authorization_token = Some(token.to_string());
    event.method_arn = Some(arn.to_string());
    serde_json::to_vec(&event).map_err(encode_error("TOKEN"))
}

/// A REST `REQUEST` event.
pub fn rest_request(input: &EventInput<'_>) -> Result<Vec<u8>, EventError> {
    let method =
        Method::from_bytes(input.method.as_bytes()).map_err(|_| EventError::InvalidMethod)?;
    let headers = utf8_headers(input.headers, false);
    let query = query_pairs(input.query);
    let mut multi: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in &query {
        multi.entry(k.clone()).or_default().push(v.clone());
    }
    // REST's single-valued maps keep the last value of a repeated name (written below: the
    // type's query map serialises every value as a list).
    let single: serde_json::Map<String, Value> = multi
        .iter()
        .filter_map(|(k, v)| v.last().map(|last| (k.clone(), json!(last))))
        .collect();
    let mut identity = ApiGatewayCustomAuthorizerRequestTypeRequestIdentity::default();
    identity.source_ip = Some(input.source_ip.to_string());
    let mut context = ApiGatewayCustomAuthorizerRequestTypeRequestContext::default();
    context.path = Some(format!("/{}{}", input.stage, input.path));
    context.account_id = Some(ACCOUNT.into());
    context.resource_id = Some(resource_id(&input.routed.resource_path));
    context.stage = Some(input.stage.to_string());
    context.request_id = Some(input.request_id.to_string());
    context.identity = Some(identity);
    context.resource_path = Some(input.routed.resource_path.clone());
    context.http_method = Some(method.clone());
    context.apiid = Some(API_ID.into());
    let mut event = ApiGatewayCustomAuthorizerRequestTypeRequest::default();
    event.type_ = Some("REQUEST".into());
    event.method_arn = Some(input.arn.to_string());
    event.resource = Some(input.routed.resource_path.clone());
    event.path = Some(input.path.to_string());
    event.http_method = Some(method);
    event.headers = last_values(&headers);
    event.multi_value_headers = headers;
    event.multi_value_query_string_parameters = multi.into();
    event.path_parameters = input.routed.path_parameters.iter().cloned().collect();
    event.request_context = context;
    let mut value = serde_json::to_value(&event).map_err(encode_error("REQUEST"))?;
    if let Some(object) = value.as_object_mut() {
        object.insert("queryStringParameters".into(), Value::Object(single));
    }
    if let Some(context) = value
        .get_mut("requestContext")
        .and_then(Value::as_object_mut)
    {
        context.insert("protocol".into(), json!(input.protocol));
        context.insert(
            "requestTime".into(),
            json!(format_request_time(input.epoch_ms)),
        );
        context.insert("requestTimeEpoch".into(), json!(input.epoch_ms));
        context.insert("domainName".into(), json!(domain()));
        context.insert("domainPrefix".into(), json!(API_ID));
        context.insert("extendedRequestId".into(), json!(input.request_id));
        if let Some(identity) = context.get_mut("identity").and_then(Value::as_object_mut) {
            let agent = header_text(input.headers, "user-agent");
            identity.insert("userAgent".into(), json!(agent));
        }
    }
    serde_json::to_vec(&value).map_err(encode_error("REQUEST"))
}

/// An HTTP API payload 2.0 event.
pub fn http_v2(input: &EventInput<'_>, identity_values: &[String]) -> Result<Vec<u8>, EventError> {
    let method =
        Method::from_bytes(input.method.as_bytes()).map_err(|_| EventError::InvalidMethod)?;
    let raw_path = if input.stage == "$default" {
        input.path.to_string()
    } else {
        format!("/{}{}", input.stage, input.path)
    };
    let mut query: HashMap<String, String> = HashMap::new();
    for (k, v) in query_pairs(input.query) {
        query
            .entry(k)
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&v);
            })
            .or_insert(v);
    }
    let mut http = ApiGatewayV2httpRequestContextHttpDescription::default();
    http.method = method;
    http.path = Some(raw_path.clone());
    http.protocol = Some(input.protocol.to_string());
    http.source_ip = Some(input.source_ip.to_string());
    http.user_agent = Some(header_text(input.headers, "user-agent"));
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(input.routed.route_key.clone());
    context.account_id = Some(ACCOUNT.into());
    context.stage = Some(input.stage.to_string());
    context.request_id = Some(input.request_id.to_string());
    context.apiid = Some(API_ID.into());
    context.domain_name = Some(domain());
    context.domain_prefix = Some(API_ID.into());
    context.time = Some(format_request_time(input.epoch_ms));
    context.time_epoch = input.epoch_ms;
    context.http = http;
    let mut event = ApiGatewayV2CustomAuthorizerV2Request::default();
    event.version = Some("2.0".into());
    event.type_ = Some("REQUEST".into());
    event.route_arn = Some(input.arn.to_string());
    event.identity_source = Some(identity_values.to_vec());
    event.route_key = Some(input.routed.route_key.clone());
    event.raw_path = Some(raw_path);
    event.raw_query_string = Some(input.query.unwrap_or_default().to_string());
    event.cookies = cookies(input.headers);
    event.headers = utf8_headers(input.headers, true);
    event.query_string_parameters = query;
    event.request_context = context;
    event.path_parameters = input.routed.path_parameters.iter().cloned().collect();
    serde_json::to_vec(&event).map_err(encode_error("2.0"))
}

/// The request's query parameters, decoded (`%XX` and `+` for a blank, as
/// `application/x-www-form-urlencoded`), in order.
pub fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return vec![];
    };
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Headers whose values are UTF-8 (the event is JSON); for payload 2.0, repeated values are
/// joined by commas and the cookies left to `cookies`.
fn utf8_headers(headers: &HeaderMap, joined: bool) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in headers.keys() {
        if joined && name == http::header::COOKIE {
            continue;
        }
        let values: Vec<&str> = headers
            .get_all(name)
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .collect();
        if joined {
            if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
                out.insert(name.clone(), value);
            }
        } else {
            for value in values {
                if let Ok(value) = HeaderValue::from_str(value) {
                    out.append(name.clone(), value);
                }
            }
        }
    }
    out
}

fn last_values(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in headers.keys() {
        if let Some(last) = headers.get_all(name).iter().next_back() {
            out.insert(name.clone(), last.clone());
        }
    }
    out
}

fn cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(crate::event::cookie_pairs)
        .map(str::to_string)
        .collect()
}

fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

fn domain() -> String {
    format!("{API_ID}.execute-api.{REGION}.amazonaws.com")
}

/// A stable six-character resource id per resource path, as REST resource ids look.
fn resource_id(resource_path: &str) -> String {
    let mut hash: u32 = 2_166_136_261;
    for b in resource_path.bytes() {
        hash = (hash ^ u32::from(b)).wrapping_mul(16_777_619);
    }
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    (0..6)
        .map(|i| alphabet[((hash >> (i * 5)) % 36) as usize] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{self, EventShape};

    fn routed(key: &str, resource: &str) -> Routed {
        Routed {
            route_key: key.into(),
            resource_path: resource.into(),
            path_parameters: vec![("id".into(), "42".into())],
        }
    }

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("authorization", HeaderValue::from_static("Bearer abc"));
        h.append("x-many", HeaderValue::from_static("1"));
        h.append("x-many", HeaderValue::from_static("2"));
        h.insert("cookie", HeaderValue::from_static("a=1; b=2"));
        h
    }

    fn input<'a>(
        headers: &'a HeaderMap,
        routed: &'a Routed,
        stage: &'a str,
        arn: &'a str,
    ) -> EventInput<'a> {
        EventInput {
            method: "GET",
            path: "/pets/42",
            query: Some("q=1&q=2&x=a%20b"),
            headers,
            routed,
            stage,
            arn,
            request_id: "r-1",
            epoch_ms: 1_642_327_200_000,
            source_ip: "127.0.0.1",
            protocol: "HTTP/1.1",
        }
    }

    #[test]
    fn the_rest_request_event_is_recognised_and_routed_as_api_gateway_routed_it() {
        let (h, r) = (headers(), routed("GET /pets/{id}", "/pets/{id}"));
        let arn = request_arn("prod", "GET", "/pets/42");
        let bytes = rest_request(&input(&h, &r, "prod", &arn)).unwrap();
        let parsed = event::parse(&bytes).unwrap();
        assert_eq!(parsed.shape, EventShape::RestRequest);
        assert_eq!(parsed.endpoint, "GET /pets/{id}");
        assert_eq!(parsed.arn.resource(), "pets/42");
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["queryStringParameters"]["q"], "2");
        assert_eq!(
            value["multiValueQueryStringParameters"]["q"],
            json!(["1", "2"])
        );
        assert_eq!(value["queryStringParameters"]["x"], "a b");
        assert_eq!(value["multiValueHeaders"]["x-many"], json!(["1", "2"]));
        assert_eq!(value["pathParameters"]["id"], "42");
        assert_eq!(value["requestContext"]["path"], "/prod/pets/42");
        assert_eq!(
            value["requestContext"]["requestTime"],
            "16/Jan/2022:10:00:00 +0000"
        );
    }

    #[test]
    fn the_http_v2_event_is_recognised_with_its_identity_source() {
        let (h, r) = (headers(), routed("GET /pets/{id}", "/pets/{id}"));
        let arn = request_arn("$default", "GET", "/pets/42");
        let values = vec!["Bearer abc".to_string(), "GET /pets/{id}".to_string()];
        let bytes = http_v2(&input(&h, &r, "$default", &arn), &values).unwrap();
        let parsed = event::parse(&bytes).unwrap();
        assert_eq!(parsed.shape, EventShape::HttpV2);
        let seen: Option<Vec<String>> = parsed
            .identity_source
            .map(|v| v.iter().map(|s| s.to_string()).collect());
        assert_eq!(seen, Some(values));
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["headers"]["x-many"], "1,2");
        assert_eq!(value["cookies"], json!(["a=1", "b=2"]));
        assert!(value["headers"].get("cookie").is_none());
        assert_eq!(value["queryStringParameters"]["q"], "1,2");
        assert_eq!(value["rawPath"], "/pets/42");
    }

    #[test]
    fn the_token_event_carries_the_header_value_and_the_arn() {
        let arn = request_arn("prod", "DELETE", "/");
        let bytes = rest_token("Bearer abc", &arn).unwrap();
        let parsed = event::parse(&bytes).unwrap();
        assert_eq!(parsed.shape, EventShape::RestToken);
        assert_eq!(parsed.arn.method(), "DELETE");
        assert_eq!(parsed.arn.resource(), "");
    }

    #[test]
    fn query_pairs_are_form_decoded_in_order() {
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            query_pairs(Some("a+b=c%2Bd&flag&=x&q=1&q=2")),
            [
                pair("a b", "c+d"),
                pair("flag", ""),
                pair("", "x"),
                pair("q", "1"),
                pair("q", "2")
            ]
        );
        assert!(query_pairs(Some("")).is_empty());
        assert!(query_pairs(None).is_empty());
    }
}
