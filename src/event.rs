//! Recognises which API Gateway authorizer event arrived and normalises it.
//!
//! API Gateway sends five different shapes to a Lambda authorizer. This module tells them apart
//! by their discriminating fields (never by guessing), parses each with its `aws_lambda_events`
//! type, and hands the rest of tollgate one [`AuthRequest`]: where the token may be, which
//! method or route ARN is being called, and the endpoint label used for cost attribution.
//! Anything it does not recognise is an error (500), never a guess.

use crate::route_table::Routing;
use std::borrow::Cow;
use std::fmt;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequest, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayV2CustomAuthorizerV1Request, ApiGatewayV2CustomAuthorizerV2Request,
};
use aws_lambda_events::http::HeaderMap;
use aws_lambda_events::query_map::QueryMap;
use serde::Deserialize;

use crate::errors::{Reason, Rejection};

mod view;

/// The authorizer event shapes API Gateway can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventShape {
    /// REST API `TOKEN` authorizer: only the token and the method ARN.
    RestToken,
    /// REST API `REQUEST` authorizer.
    RestRequest,
    /// HTTP API Lambda authorizer, payload format 1.0 (answers with an IAM policy).
    HttpV1,
    /// HTTP API Lambda authorizer, payload format 2.0 (simple response or IAM policy).
    HttpV2,
    /// WebSocket API `$connect` `REQUEST` authorizer.
    WebSocketConnect,
}

impl EventShape {
    /// Which kind of API sends this shape, and so routes its requests.
    pub fn routing(self) -> Routing {
        match self {
            EventShape::HttpV1 | EventShape::HttpV2 => Routing::Http,
            EventShape::RestToken | EventShape::RestRequest | EventShape::WebSocketConnect => {
                Routing::Rest
            }
        }
    }

    /// A stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            EventShape::RestToken => "rest_token",
            EventShape::RestRequest => "rest_request",
            EventShape::HttpV1 => "http_v1",
            EventShape::HttpV2 => "http_v2",
            EventShape::WebSocketConnect => "websocket_connect",
        }
    }
}

/// Why a method ARN was refused. The ARN holds the caller's path, so no variant quotes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArnError {
    /// Not `arn:PARTITION:execute-api:REGION:ACCOUNT:PATH`.
    NotExecuteApi,
    /// An empty partition, region or account.
    NoPartitionRegionOrAccount,
    /// An empty API id, stage or method.
    NoApiStageOrMethod,
    /// An IAM wildcard before the resource path, which would widen every policy built on it.
    WildcardOutsidePath,
}

impl fmt::Display for ArnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ArnError::NotExecuteApi => "method ARN is not an execute-api ARN",
            ArnError::NoPartitionRegionOrAccount => {
                "method ARN lacks a partition, region or account"
            }
            ArnError::NoApiStageOrMethod => "method ARN lacks an API id, stage or method",
            ArnError::WildcardOutsidePath => {
                "method ARN has a `*` or `?` outside its resource path"
            }
        })
    }
}

impl std::error::Error for ArnError {}

/// An `execute-api` method or route ARN, split into its parts (kept as one string, with the
/// place of each part).
///
/// ```
/// use tollgate::event::MethodArn;
/// let arn = MethodArn::parse("arn:aws:execute-api:us-east-1:123456789012:abc123/prod/GET/api/user/profile").unwrap();
/// assert_eq!(arn.api_id(), "abc123");
/// assert_eq!(arn.stage(), "prod");
/// assert_eq!(arn.method(), "GET");
/// assert_eq!(arn.resource(), "api/user/profile");
/// assert_eq!(arn.stage_prefix(), "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/");
/// assert_eq!(arn.stage_wildcard(), "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/*");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodArn {
    raw: String,
    /// Where each part lies in `raw`: partition, region, account, API id, stage, method,
    /// resource.
    parts: [(usize, usize); 7],
}

impl MethodArn {
    /// Parses an ARN of the form
    /// `arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/METHOD[/RESOURCE]`.
    pub fn parse(raw: &str) -> Result<Self, ArnError> {
        // The ARN holds the request's path, which the caller chose: it is never quoted.
        let mut fields = raw.splitn(6, ':');
        let (
            Some("arn"),
            Some(partition),
            Some("execute-api"),
            Some(region),
            Some(account),
            Some(path),
        ) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        )
        else {
            return Err(ArnError::NotExecuteApi);
        };
        let mut parts = path.splitn(4, '/');
        let api_id = parts.next().unwrap_or_default();
        let stage = parts.next().unwrap_or_default();
        let method = parts.next().unwrap_or_default();
        let resource = parts.next().unwrap_or_default();
        if partition.is_empty() || region.is_empty() || account.is_empty() {
            return Err(ArnError::NoPartitionRegionOrAccount);
        }
        if api_id.is_empty() || stage.is_empty() || method.is_empty() {
            return Err(ArnError::NoApiStageOrMethod);
        }
        // These become the literal prefix of every policy resource: an IAM wildcard in them
        // would widen the policy to other APIs or stages (a lone `*` stage, as a console test
        // invocation sends, would also reach every deeper path).
        if [partition, region, account, api_id, stage, method]
            .iter()
            .any(|f| f.contains(['*', '?']))
        {
            return Err(ArnError::WildcardOutsidePath);
        }
        // Every part is a slice of `raw` (an absent resource is the empty end of it).
        let place = |part: &str| {
            if part.is_empty() {
                return (raw.len(), raw.len());
            }
            let start = part.as_ptr() as usize - raw.as_ptr() as usize;
            (start, start + part.len())
        };
        Ok(MethodArn {
            raw: raw.to_string(),
            parts: [
                place(partition),
                place(region),
                place(account),
                place(api_id),
                place(stage),
                place(method),
                place(resource),
            ],
        })
    }

    fn part(&self, index: usize) -> &str {
        let (start, end) = self.parts[index];
        self.raw.get(start..end).unwrap_or_default()
    }

    /// The whole ARN as API Gateway sent it.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// `aws`, `aws-cn` or `aws-us-gov`.
    pub fn partition(&self) -> &str {
        self.part(0)
    }

    /// The API's region.
    pub fn region(&self) -> &str {
        self.part(1)
    }

    /// The API owner's account id.
    pub fn account(&self) -> &str {
        self.part(2)
    }

    /// The API id.
    pub fn api_id(&self) -> &str {
        self.part(3)
    }

    /// The stage name.
    pub fn stage(&self) -> &str {
        self.part(4)
    }

    /// The HTTP method, or the WebSocket route key (`$connect`).
    pub fn method(&self) -> &str {
        self.part(5)
    }

    /// The resource path without its leading slash (empty for the root and for WebSocket).
    pub fn resource(&self) -> &str {
        self.part(6)
    }

    /// The ARN prefix `arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/` for this stage:
    /// the ARN itself up to the `/` after the stage.
    pub fn stage_prefix(&self) -> &str {
        let (_, stage_end) = self.parts[4];
        self.raw.get(..stage_end + 1).unwrap_or_default()
    }

    /// A resource covering every method and route of this API's stage, and nothing else.
    pub fn stage_wildcard(&self) -> String {
        let prefix = self.stage_prefix();
        let mut wildcard = String::with_capacity(prefix.len() + 1);
        wildcard.push_str(prefix);
        wildcard.push('*');
        wildcard
    }
}

/// Everything in the event from which a token may be taken, borrowed from the event's bytes
/// wherever no JSON escape had to be undone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// A `TOKEN` event's `authorizationToken`.
    pub authorization_token: Option<Cow<'a, str>>,
    /// Request headers as (name, value); names compare case-insensitively, and every value of
    /// a repeated header is kept, in order.
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Query string parameters; all values of a repeated parameter are kept.
    pub query: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Cookies as `name=value` pairs.
    pub cookies: Vec<Cow<'a, str>>,
}

impl<'a> Credentials<'a> {
    /// The values of the header `name` (case-insensitive), in order.
    pub fn header<'s, 'n>(
        &'s self,
        name: &'n str,
    ) -> impl Iterator<Item = &'s str> + use<'s, 'n, 'a> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }
}

/// The route API Gateway routed a request to, as the event names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedTo {
    /// The request's HTTP method (for an `ANY` route, the method actually called), or the
    /// WebSocket route key.
    pub method: String,
    /// The resource template (`/pets/{id}`) or HTTP API route path, or the WebSocket route key.
    pub template: String,
}

/// One authorizer invocation, whatever its shape, borrowing from the event's bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthRequest<'a> {
    /// Which shape the event had.
    pub shape: EventShape,
    /// The method (REST, WebSocket, HTTP 1.0) or route (HTTP 2.0) ARN being called.
    pub arn: MethodArn,
    /// The endpoint label for cost attribution: API Gateway's own name of the route
    /// (`GET /api/user/{id}`, an HTTP API route key, `$connect`), else the ARN's method and path.
    pub endpoint: String,
    /// The route from API Gateway's routing, when the event carries it (all but `TOKEN` events
    /// and HTTP API `$default` routes).
    pub routed_to: Option<RoutedTo>,
    /// The identity-source values API Gateway sent (HTTP APIs), which make up the cache key.
    pub identity_source: Option<Vec<Cow<'a, str>>>,
    /// API Gateway's request id, when the shape carries one.
    pub request_id: Option<Cow<'a, str>>,
    /// Where the token may be.
    pub credentials: Credentials<'a>,
}

impl AuthRequest<'_> {
    /// The form in which two readings of one event compare equal: header names lower-cased
    /// (they compare case-insensitively), headers and query parameters sorted (a token is
    /// found, or found twice, whatever their order; a map in the event has no order).
    pub fn canonical(mut self) -> Self {
        for (name, _) in &mut self.credentials.headers {
            if name.bytes().any(|b| b.is_ascii_uppercase()) {
                *name = Cow::Owned(name.to_ascii_lowercase());
            }
        }
        self.credentials.headers.sort();
        self.credentials.query.sort();
        self
    }
}

/// Just enough of any event to tell the shapes apart.
#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    version: Option<Cow<'a, str>>,
    #[serde(rename = "requestContext", borrow, default)]
    request_context: Option<ProbeContext<'a>>,
}

#[derive(Deserialize)]
struct ProbeContext<'a> {
    #[serde(rename = "eventType", borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(rename = "routeKey", borrow, default)]
    route_key: Option<Cow<'a, str>>,
}

/// Top-level fields of the authorizer event types: the only field names a detail may show.
const EVENT_FIELDS: [&str; 22] = [
    "type",
    "version",
    "methodArn",
    "routeArn",
    "authorizationToken",
    "identitySource",
    "resource",
    "path",
    "httpMethod",
    "headers",
    "multiValueHeaders",
    "queryStringParameters",
    "multiValueQueryStringParameters",
    "pathParameters",
    "stageVariables",
    "requestContext",
    "routeKey",
    "rawPath",
    "rawQueryString",
    "cookies",
    "eventType",
    "connectionId",
];

/// Parses `event` as `T`. On failure the detail says which top-level field is wrong and what
/// kind of problem it has, and never quotes a value: serde's own message quotes the whole
/// offending value, which may be a header holding the token. The second, path-tracking parse
/// runs only on this error path.
fn typed<'a, T: Deserialize<'a>>(
    event: &'a [u8],
    what: &str,
    reason: Reason,
) -> Result<T, Rejection> {
    serde_json::from_slice(event).map_err(|first| {
        let mut deserializer = serde_json::Deserializer::from_slice(event);
        let described = match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
            Err(e) => {
                let field = match e.path().iter().next() {
                    Some(serde_path_to_error::Segment::Map { key }) => {
                        EVENT_FIELDS.iter().find(|f| **f == key.as_str())
                    }
                    _ => None,
                };
                match field {
                    Some(field) => format!("field `{field}`: {}", problem_kind(e.inner())),
                    None => problem_kind(e.inner()),
                }
            }
            Ok(_) => problem_kind(&first),
        };
        Rejection::new(reason, format!("{what}: {described}"))
    })
}

/// The kind of a JSON or data error, without the value it may quote.
fn problem_kind(error: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match error.classify() {
        Category::Syntax => return "not valid JSON".to_string(),
        Category::Eof => return "truncated JSON".to_string(),
        Category::Io => return "unreadable".to_string(),
        Category::Data => {}
    }
    // serde's messages start with a fixed phrase; only that phrase (and a field name it
    // names, which comes from the type, not the input) is kept.
    let message = error.to_string();
    for (prefix, kind) in [
        ("invalid type", "wrong JSON type"),
        ("invalid value", "invalid value"),
        // http-serde's message for a header map (HTTP API 1.0).
        ("failed to parse header", "invalid value"),
        ("invalid length", "wrong number of items"),
        ("unknown variant", "unknown variant"),
    ] {
        if message.starts_with(prefix) {
            return kind.to_string();
        }
    }
    for prefix in ["missing field `", "duplicate field `"] {
        if let Some(name) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name)
            .filter(|name| name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return format!("{}`{name}`", prefix.trim_end_matches('`'));
        }
    }
    "invalid content".to_string()
}

/// A discriminating value as a detail may show it: one of the values API Gateway sends, else
/// a placeholder (the value itself is never quoted).
fn known_or_other<'a>(value: Option<&'a str>, known: &[&'static str]) -> &'a str {
    match value {
        None => "missing",
        Some(v) if known.contains(&v) => v,
        Some(_) => "another value",
    }
}

/// Recognises the event's shape from its discriminating fields.
pub fn detect(event: &[u8]) -> Result<EventShape, Rejection> {
    let probe: Probe = typed(
        event,
        "event is not an authorizer event",
        Reason::UnknownEvent,
    )?;
    shape_of(
        probe.kind.as_deref(),
        probe.version.as_deref(),
        probe.request_context.as_ref(),
    )
}

/// The shape that an event's `type`, `version` and `requestContext` (`eventType`, `routeKey`)
/// name.
fn shape_of(
    kind: Option<&str>,
    version: Option<&str>,
    context: Option<&ProbeContext<'_>>,
) -> Result<EventShape, Rejection> {
    let event_type = context.and_then(|c| c.event_type.as_deref());
    let route_key = context.and_then(|c| c.route_key.as_deref());
    match (kind, version) {
        (Some("TOKEN"), _) => Ok(EventShape::RestToken),
        (Some("REQUEST"), Some("2.0")) => Ok(EventShape::HttpV2),
        (Some("REQUEST"), Some("1.0")) => Ok(EventShape::HttpV1),
        (Some("REQUEST"), _) if event_type == Some("CONNECT") || route_key == Some("$connect") => {
            Ok(EventShape::WebSocketConnect)
        }
        (Some("REQUEST"), _) if event_type.is_some() => Err(Rejection::new(
            Reason::UnknownEvent,
            format!(
                "WebSocket event type {} is not an authorizer event",
                known_or_other(event_type, &["MESSAGE", "DISCONNECT"])
            ),
        )),
        (Some("REQUEST"), _) if context.is_some() => Ok(EventShape::RestRequest),
        (kind, version) => Err(Rejection::new(
            Reason::UnknownEvent,
            format!(
                "not an API Gateway authorizer event (type {}, version {})",
                known_or_other(kind, &["TOKEN", "REQUEST"]),
                known_or_other(version, &["1.0", "2.0"])
            ),
        )),
    }
}

/// Recognises and normalises an authorizer event: through the zero-copy [`view`] when it can
/// vouch for the result, else through [`parse_typed`]. Either way the result is the one
/// [`parse_typed`] gives, in [`AuthRequest::canonical`] form (the `event_view` fuzz target
/// holds the two together).
pub fn parse(event: &[u8]) -> Result<AuthRequest<'_>, Rejection> {
    match view::view(event) {
        Some(decided) => decided,
        None => parse_typed(event),
    }
}

pub use view::view;

/// Recognises and normalises an authorizer event with the `aws_lambda_events` types (the
/// reference for every event shape).
pub fn parse_typed(event: &[u8]) -> Result<AuthRequest<'_>, Rejection> {
    let shape = detect(event)?;
    let what = format!("{} event", shape.name());
    let what = what.as_str();
    let fields = match shape {
        EventShape::RestToken => {
            let ev: ApiGatewayCustomAuthorizerRequest = typed(event, what, Reason::MalformedEvent)?;
            Fields {
                arn: ev.method_arn.map(Cow::Owned),
                authorization_token: ev.authorization_token.map(Cow::Owned),
                ..Fields::default()
            }
        }
        EventShape::RestRequest | EventShape::WebSocketConnect => {
            let ev: ApiGatewayCustomAuthorizerRequestTypeRequest =
                typed(event, what, Reason::MalformedEvent)?;
            let context = ev.request_context;
            let (multi_query_keys, multi_query) =
                query_map_pairs(&ev.multi_value_query_string_parameters);
            Fields {
                arn: ev.method_arn.map(Cow::Owned),
                http_method: ev
                    .http_method
                    .or(context.http_method)
                    .map(|m| Cow::Owned(m.to_string())),
                resource: ev.resource.or(context.resource_path).map(Cow::Owned),
                request_id: context.request_id.map(Cow::Owned),
                headers: header_pairs(ev.headers),
                multi_value_headers: Some(header_pairs(ev.multi_value_headers)),
                query: query_map_pairs(&ev.query_string_parameters).1,
                multi_value_query: multi_query_keys.then_some(multi_query),
                ..Fields::default()
            }
        }
        EventShape::HttpV1 => {
            let ev: ApiGatewayV2CustomAuthorizerV1Request =
                typed(event, what, Reason::MalformedEvent)?;
            Fields {
                arn: ev.method_arn.map(Cow::Owned),
                http_method: Some(Cow::Owned(ev.http_method.to_string())),
                resource: ev
                    .resource
                    .or(ev.request_context.resource_path)
                    .map(Cow::Owned),
                identity_source: ev.identity_source.map(|joined| {
                    // Payload 1.0 joins the identity-source values with commas.
                    joined
                        .split(',')
                        .map(|v| Cow::Owned(v.trim().to_string()))
                        .collect()
                }),
                request_id: ev.request_context.request_id.map(Cow::Owned),
                headers: header_pairs(ev.headers),
                query: string_map_pairs(ev.query_string_parameters),
                ..Fields::default()
            }
        }
        EventShape::HttpV2 => {
            let ev: ApiGatewayV2CustomAuthorizerV2Request =
                typed(event, what, Reason::MalformedEvent)?;
            let context = ev.request_context;
            Fields {
                arn: ev.route_arn.map(Cow::Owned),
                http_method: Some(Cow::Owned(context.http.method.to_string())),
                route_key: ev.route_key.or(context.route_key).map(Cow::Owned),
                path: ev.raw_path.or(context.http.path).map(Cow::Owned),
                identity_source: ev
                    .identity_source
                    .map(|values| values.into_iter().map(Cow::Owned).collect()),
                request_id: context.request_id.map(Cow::Owned),
                headers: header_pairs(ev.headers),
                query: string_map_pairs(ev.query_string_parameters),
                cookies: ev.cookies.into_iter().map(Cow::Owned).collect(),
                ..Fields::default()
            }
        }
    };
    normalise(shape, fields)
}

/// The fields of an event that tollgate reads, as the event has them (before any choice
/// between a field and its fallback), from the typed parse or from the [`view`].
#[derive(Default)]
struct Fields<'a> {
    /// `methodArn`, or `routeArn` for HTTP API payload 2.0.
    arn: Option<Cow<'a, str>>,
    /// A `TOKEN` event's `authorizationToken`.
    authorization_token: Option<Cow<'a, str>>,
    /// The request's method (REST: the event's, else its context's; HTTP APIs: the method
    /// called).
    http_method: Option<Cow<'a, str>>,
    /// The resource template (REST, HTTP 1.0: `resource`, else the context's `resourcePath`).
    resource: Option<Cow<'a, str>>,
    /// HTTP 2.0: `routeKey`, else the context's.
    route_key: Option<Cow<'a, str>>,
    /// HTTP 2.0: `rawPath`, else the context's `http.path`.
    path: Option<Cow<'a, str>>,
    /// HTTP APIs: the identity-source values.
    identity_source: Option<Vec<Cow<'a, str>>>,
    /// The context's `requestId`.
    request_id: Option<Cow<'a, str>>,
    /// `headers`.
    headers: Pairs<'a>,
    /// REST and WebSocket: `multiValueHeaders`, which win when they hold a value.
    multi_value_headers: Option<Pairs<'a>>,
    /// `queryStringParameters`.
    query: Pairs<'a>,
    /// REST and WebSocket: `multiValueQueryStringParameters` when it has a parameter (which
    /// then wins, even with no value).
    multi_value_query: Option<Pairs<'a>>,
    /// HTTP 2.0: `cookies`.
    cookies: Vec<Cow<'a, str>>,
}

/// (name, value) pairs, as headers and query parameters are kept.
type Pairs<'a> = Vec<(Cow<'a, str>, Cow<'a, str>)>;

/// Turns an event's fields into the one request type, by shape.
fn normalise(shape: EventShape, fields: Fields<'_>) -> Result<AuthRequest<'_>, Rejection> {
    let arn = required_arn(shape, fields.arn.as_deref())?;
    let (routed_to, endpoint) = match shape {
        EventShape::RestToken => (None, format!("{} /{}", arn.method(), arn.resource())),
        EventShape::WebSocketConnect => (
            Some(RoutedTo {
                method: arn.method().to_string(),
                template: arn.method().to_string(),
            }),
            arn.method().to_string(),
        ),
        EventShape::RestRequest | EventShape::HttpV1 => {
            match (&fields.http_method, &fields.resource) {
                (Some(method), Some(resource)) => (
                    Some(RoutedTo {
                        method: method.to_string(),
                        template: resource.to_string(),
                    }),
                    format!("{method} {resource}"),
                ),
                _ => (None, format!("{} /{}", arn.method(), arn.resource())),
            }
        }
        EventShape::HttpV2 => {
            let method = fields.http_method.as_deref().unwrap_or_default();
            let route_key = fields.route_key.as_deref().filter(|key| *key != "$default");
            // `ANY /pets/{id}`: the route's method is the one actually called.
            let routed_to = route_key
                .and_then(|key| key.split_once(' '))
                .map(|(_, path)| RoutedTo {
                    method: method.to_string(),
                    template: path.to_string(),
                });
            let endpoint = match route_key {
                Some(key) => key.to_string(),
                None => format!("{method} {}", fields.path.as_deref().unwrap_or("/")),
            };
            (routed_to, endpoint)
        }
    };
    let headers = match fields.multi_value_headers {
        Some(multi) if !multi.is_empty() => multi,
        _ => fields.headers,
    };
    let query = fields.multi_value_query.unwrap_or(fields.query);
    let cookies = if fields.cookies.is_empty() {
        cookies_from_headers(&headers)
    } else {
        fields.cookies
    };
    Ok(AuthRequest {
        shape,
        arn,
        endpoint,
        routed_to,
        identity_source: fields.identity_source,
        request_id: fields.request_id,
        credentials: Credentials {
            authorization_token: fields.authorization_token,
            headers,
            query,
            cookies,
        },
    })
}

/// A typed parse's headers as (name, value) pairs, in the map's order. A value that is not
/// UTF-8 (possible only from a byte-array header) keeps its place, with its bad bytes replaced:
/// it is not visible ASCII either way, so it reads as no token and no cookie.
fn header_pairs(headers: HeaderMap) -> Pairs<'static> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                Cow::Owned(name.as_str().to_string()),
                Cow::Owned(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect()
}

/// A typed parse's query map as (name, value) pairs, and whether it has any parameter (a
/// parameter with an empty list of values counts, though it gives no pair). `QueryMap`'s own
/// iterator cannot be used: it indexes past the end of an empty list of values.
fn query_map_pairs(query: &QueryMap) -> (bool, Pairs<'static>) {
    // `QueryMap` serialises as its map of names to lists of values.
    let Ok(serde_json::Value::Object(map)) = serde_json::to_value(query) else {
        return (false, Vec::new());
    };
    let pairs = map
        .iter()
        .flat_map(|(name, values)| {
            values
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str())
                .map(|v| (Cow::Owned(name.clone()), Cow::Owned(v.to_string())))
        })
        .collect();
    (!map.is_empty(), pairs)
}

fn string_map_pairs(map: std::collections::HashMap<String, String>) -> Pairs<'static> {
    map.into_iter()
        .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
        .collect()
}

fn required_arn(shape: EventShape, arn: Option<&str>) -> Result<MethodArn, Rejection> {
    let field = if shape == EventShape::HttpV2 {
        "routeArn"
    } else {
        "methodArn"
    };
    let raw = arn.ok_or_else(|| {
        Rejection::new(
            Reason::MalformedEvent,
            format!("{} event has no {field}", shape.name()),
        )
    })?;
    MethodArn::parse(raw).map_err(|e| Rejection::new(Reason::MalformedEvent, e.to_string()))
}

/// Whether a header value is visible ASCII (or tab): the only values that are read as text
/// (`http`'s `HeaderValue::to_str`).
pub fn is_visible_ascii(value: &str) -> bool {
    // No branch per byte: the compiler vectorises it (header values hold whole tokens).
    value.bytes().fold(true, |ok, b| {
        ok & ((b == b'\t') | (b.wrapping_sub(32) < 95))
    })
}

/// The `name=value` pairs of the `Cookie` headers whose value is visible ASCII.
fn cookies_from_headers<'a>(headers: &[(Cow<'a, str>, Cow<'a, str>)]) -> Vec<Cow<'a, str>> {
    let mut cookies = Vec::new();
    for (name, value) in headers {
        if !name.eq_ignore_ascii_case("cookie") || !is_visible_ascii(value) {
            continue;
        }
        match value {
            Cow::Borrowed(value) => cookies.extend(cookie_pairs(value).map(Cow::Borrowed)),
            Cow::Owned(value) => {
                cookies.extend(cookie_pairs(value).map(|c| Cow::Owned(c.to_string())))
            }
        }
    }
    cookies
}

/// The `name=value` pairs of one `Cookie` header value: split at `;`, trimmed, empty pieces
/// left out (`a=1; b=2` is `a=1`, `b=2`).
pub fn cookie_pairs(value: &str) -> impl Iterator<Item = &str> {
    value.split(';').map(str::trim).filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_event_is_rest_token() {
        let ev = br#"{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:aws:execute-api:us-west-2:123456789012:ymy8tbxw7b/prod/GET/"}"#;
        let req = parse(ev).unwrap();
        assert_eq!(req.shape, EventShape::RestToken);
        assert_eq!(req.endpoint, "GET /");
        assert_eq!(
            req.credentials.authorization_token.as_deref(),
            Some("Bearer x")
        );
    }

    #[test]
    fn version_2_request_is_http_v2() {
        let ev = br#"{"version":"2.0","type":"REQUEST","routeArn":"arn:aws:execute-api:us-east-1:1:a/s/GET/x","routeKey":"GET /x","requestContext":{"http":{"method":"GET"}}}"#;
        assert_eq!(detect(ev).unwrap(), EventShape::HttpV2);
    }

    #[test]
    fn connect_event_type_is_websocket() {
        let ev = br#"{"type":"REQUEST","methodArn":"arn:aws:execute-api:eu-west-1:1:a/test/$connect","requestContext":{"eventType":"CONNECT","routeKey":"$connect"}}"#;
        let req = parse(ev).unwrap();
        assert_eq!(req.shape, EventShape::WebSocketConnect);
        assert_eq!(req.endpoint, "$connect");
    }

    #[test]
    fn proxy_integration_event_is_unknown() {
        let ev = br#"{"resource":"/","httpMethod":"GET","requestContext":{}}"#;
        assert_eq!(detect(ev).unwrap_err().reason, Reason::UnknownEvent);
    }

    #[test]
    fn websocket_message_event_is_unknown() {
        let ev =
            br#"{"type":"REQUEST","requestContext":{"eventType":"MESSAGE","routeKey":"send"}}"#;
        assert_eq!(detect(ev).unwrap_err().reason, Reason::UnknownEvent);
    }

    #[test]
    fn token_event_without_method_arn_is_malformed() {
        let ev = br#"{"type":"TOKEN","authorizationToken":"Bearer x"}"#;
        assert_eq!(parse(ev).unwrap_err().reason, Reason::MalformedEvent);
    }

    #[test]
    fn arn_of_another_service_is_rejected() {
        assert!(MethodArn::parse("arn:aws:lambda:us-east-1:1:function:f").is_err());
        assert!(MethodArn::parse("arn:aws:execute-api:us-east-1:1:api").is_err());
    }

    #[test]
    fn websocket_arn_has_route_key_as_method() {
        let arn = MethodArn::parse("arn:aws:execute-api:eu-west-1:1:a/test/$connect").unwrap();
        assert_eq!((arn.method(), arn.resource()), ("$connect", ""));
    }

    #[test]
    fn unknown_type_is_not_quoted() {
        let err = detect(br#"{"type":"Bearer secret-token","version":"9"}"#).unwrap_err();
        assert_eq!(
            err.detail,
            "not an API Gateway authorizer event (type another value, version another value)"
        );
    }

    #[test]
    fn discriminating_field_of_the_wrong_type_is_named_not_quoted() {
        let err = detect(br#"{"type":"REQUEST","requestContext":"secret-token"}"#).unwrap_err();
        assert_eq!(
            err.detail,
            "event is not an authorizer event: field `requestContext`: wrong JSON type"
        );
    }

    #[test]
    fn malformed_method_arn_is_not_quoted() {
        let ev =
            br#"{"type":"TOKEN","authorizationToken":"x","methodArn":"arn:aws:s3:::secret-path"}"#;
        let err = parse(ev).unwrap_err();
        assert_eq!(err.reason, Reason::MalformedEvent);
        assert!(!err.detail.contains("secret-path"), "{}", err.detail);
    }

    #[test]
    fn visible_ascii_is_what_http_reads_as_text() {
        use aws_lambda_events::http::HeaderValue;
        for b in 0..=127u8 {
            let value = format!("a{}", char::from(b));
            let as_text = HeaderValue::from_str(&value).is_ok_and(|v| v.to_str().is_ok());
            assert_eq!(is_visible_ascii(&value), as_text, "byte {b:#04x}");
        }
        assert!(!is_visible_ascii("caf\u{e9}"));
    }

    #[test]
    fn cookie_header_is_split_into_pairs() {
        let headers = [(Cow::Borrowed("Cookie"), Cow::Borrowed("a=1; token=abc"))];
        assert_eq!(cookies_from_headers(&headers), vec!["a=1", "token=abc"]);
    }
}
