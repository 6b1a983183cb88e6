//! The emulated API Gateway: one request in, one answer out, without a socket.
//!
//! In API Gateway's order: a body over the limit is refused; the request is routed (no route:
//! `Missing Authentication Token` or `Not Found`); the identity sources are read (one missing
//! or empty: 401, the authorizer is not invoked); the cached answer for their values is used
//! if within the TTL, else the authorizer is invoked with the event API Gateway would build and
//! its answer cached; the answer is evaluated on the request's ARN (an explicit Deny wins); an
//! allowed request goes to the integration. Every answer carries
//! `x-tollgate-authorizer-cache: hit` (the authorizer's answer came from the cache) or `miss`,
//! and every request gets one access-log line.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use http_body_util::Full;
use serde_json::Value;

use crate::clock::Clock;
use crate::cors::CorsSettings;
use crate::handler::Authorizer;

use super::access_log::{AccessLog, Format};
use super::cache::{AuthorizerCache, CacheKey};
use super::cors;
use super::events::{self, EventInput};
use super::gateway_responses::Refusal;
use super::identity::IdentitySource;
use super::routing::{RouteTable, Routed};
use super::settings::check_settings;
use super::upstream::{Forward, Reply, Upstream};
use super::verdict::{self, Answer};
use super::{Api, AuthorizerKind, ServeError, Settings};
use crate::iam::Evaluation;

/// The header that says whether the authorizer's answer came from the cache.
pub const CACHE_HEADER: &str = "x-tollgate-authorizer-cache";

/// One request as the gateway sees it.
#[derive(Debug)]
pub struct GatewayRequest {
    /// The method, upper case.
    pub method: String,
    /// The URL path (`/api/user/profile`).
    pub path: String,
    /// The raw query string.
    pub query: Option<String>,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, or why it could not be read.
    pub body: Result<Bytes, BodyProblem>,
    /// The client's address.
    pub source_ip: String,
    /// `HTTP/1.1` and the like.
    pub protocol: String,
}

/// Why a request's body was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyProblem {
    /// Over the size limit.
    TooLarge,
    /// Not sent within the read timeout.
    TimedOut,
}

/// The gateway's answer.
#[derive(Debug)]
pub struct GatewayResponse {
    /// The status.
    pub status: u16,
    /// The headers (the cache header included).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl GatewayResponse {
    /// The answer as a hyper response.
    pub fn into_http(self) -> http::Response<Full<Bytes>> {
        let mut response = http::Response::new(Full::new(self.body));
        *response.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
        *response.headers_mut() = self.headers;
        response
    }
}

/// What one request leaves for its access-log line.
#[derive(Debug, Default)]
struct Trace {
    routed: Option<Routed>,
    answer: Option<Arc<Answer>>,
    authorizer_latency_ms: Option<u128>,
    authorizer_error: Option<String>,
    cache_hit: bool,
    answered_by: AnsweredBy,
}

/// Who gave the answer, which decides its CORS headers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum AnsweredBy {
    /// A gateway response (a refusal).
    #[default]
    Gateway,
    /// The CORS preflight (REST: the mock `OPTIONS` method; HTTP: the gateway itself).
    Preflight,
    /// The integration.
    Integration,
}

/// The emulated API Gateway for one API.
pub struct Gateway {
    api: Api,
    authorizer_kind: AuthorizerKind,
    identity_sources: Vec<IdentitySource>,
    stage: String,
    simple_responses: bool,
    max_body_bytes: usize,
    cors: CorsSettings,
    echo_backend: bool,
    routes: RouteTable,
    cache: AuthorizerCache,
    authorizer: Arc<Authorizer>,
    upstream: Upstream,
    access_log: AccessLog,
    format: Format,
    requests: AtomicU64,
    invocations: AtomicUsize,
}

impl Gateway {
    /// The gateway for `settings`, with the real clock.
    pub fn new(settings: Settings, authorizer: Arc<Authorizer>) -> Result<Self, ServeError> {
        Self::with_clock(settings, authorizer, Clock::default())
    }

    /// The gateway with a clock tests can move (share it with the authorizer's).
    pub fn with_clock(
        settings: Settings,
        authorizer: Arc<Authorizer>,
        clock: Clock,
    ) -> Result<Self, ServeError> {
        check_settings(&settings)?;
        Ok(Gateway {
            api: settings.api,
            authorizer_kind: settings.authorizer,
            routes: RouteTable::new(settings.api, &settings.routes),
            cache: AuthorizerCache::new(settings.cache_ttl, clock),
            echo_backend: settings.upstream.is_none(),
            upstream: Upstream::new(settings.upstream, settings.api)?,
            access_log: AccessLog::open(&settings.access_log)?,
            format: Format::for_api(settings.api),
            identity_sources: settings.identity_sources,
            stage: settings.stage,
            simple_responses: settings.simple_responses,
            max_body_bytes: settings.max_body_bytes,
            cors: settings.cors,
            authorizer,
            requests: AtomicU64::new(0),
            invocations: AtomicUsize::new(0),
        })
    }

    /// The routes served, for the start-up banner.
    pub fn route_keys(&self) -> Vec<String> {
        self.routes.describe()
    }

    /// How many times the authorizer has been invoked (cache misses that reached it).
    pub fn invocations(&self) -> usize {
        self.invocations.load(Ordering::Relaxed)
    }

    /// Answers one request, and writes its access-log line.
    pub async fn handle(&self, request: GatewayRequest) -> GatewayResponse {
        let epoch_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let request_id = self.next_request_id(epoch_ms);
        let mut trace = Trace::default();
        let mut response = match self
            .process(&request, &request_id, epoch_ms, &mut trace)
            .await
        {
            Ok(response) => response,
            Err(refusal) => self.refused(refusal),
        };
        let id_header = match self.api {
            Api::Rest => "x-amzn-requestid",
            Api::Http => "apigw-requestid",
        };
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            response.headers.insert(id_header, id);
        }
        response.headers.insert(
            CACHE_HEADER,
            HeaderValue::from_static(if trace.cache_hit { "hit" } else { "miss" }),
        );
        let origin = cors::origin(&request.headers);
        match (trace.answered_by, self.api) {
            (AnsweredBy::Preflight, _) => {}
            (AnsweredBy::Integration, Api::Http) => {
                cors::drop_integration_headers(&mut response.headers);
                cors::add_answer_headers(&self.cors, origin, &mut response.headers);
            }
            // A REST proxy integration sets its own; the echo backend does as the demo does.
            (AnsweredBy::Integration, Api::Rest) if !self.echo_backend => {}
            (AnsweredBy::Integration | AnsweredBy::Gateway, _) => {
                cors::add_answer_headers(&self.cors, origin, &mut response.headers);
            }
        }
        self.log(&request, &request_id, epoch_ms, &trace, response.status);
        response
    }

    async fn process(
        &self,
        request: &GatewayRequest,
        request_id: &str,
        epoch_ms: i64,
        trace: &mut Trace,
    ) -> Result<GatewayResponse, Refusal> {
        let body = request.body.clone().map_err(|problem| match problem {
            BodyProblem::TooLarge => Refusal::TooLarge,
            BodyProblem::TimedOut => Refusal::BodyTimeout,
        })?;
        if let Some(preflight) = self.preflight(request, trace) {
            return Ok(preflight);
        }
        let routed = self
            .routes
            .route(&request.method, &request.path)
            .ok_or(Refusal::NoRoute)?;
        trace.routed = Some(routed.clone());
        let arn = events::request_arn(&self.stage, &request.method, &request.path);
        let values = self
            .identity_values(request, &routed)
            .ok_or(Refusal::Unauthorized)?;
        let key = CacheKey::of(&values);
        // As the event shows them: a repeated value joined by commas.
        let shown: Vec<String> = values.iter().map(|v| v.join(",")).collect();
        let answer = match self.cache.get(&key) {
            Some(answer) => {
                trace.cache_hit = true;
                answer
            }
            None => {
                let input = EventInput {
                    method: &request.method,
                    path: &request.path,
                    query: request.query.as_deref(),
                    headers: &request.headers,
                    routed: &routed,
                    stage: &self.stage,
                    arn: &arn,
                    request_id,
                    epoch_ms,
                    source_ip: &request.source_ip,
                    protocol: &request.protocol,
                };
                let answer = Arc::new(self.invoke(&input, &shown, trace).await?);
                self.cache.put(key, Arc::clone(&answer));
                answer
            }
        };
        trace.answer = Some(Arc::clone(&answer));
        match answer.evaluate(&arn) {
            Evaluation::Allow => {}
            Evaluation::ExplicitDeny => return Err(Refusal::ExplicitDeny),
            Evaluation::ImplicitDeny => return Err(Refusal::ImplicitDeny),
        }
        let route = match self.api {
            Api::Rest => format!("{} {}", request.method, routed.resource_path),
            Api::Http => routed.route_key.clone(),
        };
        let forward = Forward {
            method: &request.method,
            path: &request.path,
            query: request.query.as_deref(),
            headers: &request.headers,
            body,
            context: answer.context(),
            route: &route,
            source_ip: &request.source_ip,
        };
        trace.answered_by = AnsweredBy::Integration;
        match self.upstream.send(forward, self.max_body_bytes).await {
            Reply::Response {
                status,
                headers,
                body,
            } => Ok(GatewayResponse {
                status,
                headers,
                body,
            }),
            Reply::Failed => {
                trace.answered_by = AnsweredBy::Gateway;
                Err(Refusal::IntegrationFailure)
            }
            Reply::TimedOut => {
                trace.answered_by = AnsweredBy::Gateway;
                Err(Refusal::IntegrationTimeout)
            }
        }
    }

    /// The CORS preflight's answer, if the request is one that API Gateway answers without
    /// the authorizer: on an HTTP API, `OPTIONS` with `Origin` and
    /// `Access-Control-Request-Method` on any path (204); on a REST API, `OPTIONS` on a
    /// resource, which SAM's mock method answers (200 `{}`).
    fn preflight(&self, request: &GatewayRequest, trace: &mut Trace) -> Option<GatewayResponse> {
        let origin = cors::origin(&request.headers);
        let mut headers = HeaderMap::new();
        let (status, body) = match self.api {
            Api::Http if cors::is_http_preflight(&request.method, &request.headers) => {
                let methods = cors::http_methods();
                cors::add_preflight_headers(&self.cors, origin, &methods, &mut headers);
                (204, Bytes::new())
            }
            Api::Rest if request.method == "OPTIONS" => {
                let (routed, methods) = self.routes.preflight(&request.path)?;
                trace.routed = Some(routed);
                headers.insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                cors::add_preflight_headers(&self.cors, origin, &methods, &mut headers);
                (200, Bytes::from_static(b"{}\n"))
            }
            _ => return None,
        };
        trace.answered_by = AnsweredBy::Preflight;
        Some(GatewayResponse {
            status,
            headers,
            body,
        })
    }

    /// Every identity source's values, in order (all values of a repeated header or
    /// parameter, so a request adding a second value never shares the key of one without);
    /// `None` if one is missing or empty.
    fn identity_values(
        &self,
        request: &GatewayRequest,
        routed: &Routed,
    ) -> Option<Vec<Vec<String>>> {
        self.identity_sources
            .iter()
            .map(|source| {
                let values: Vec<String> = match source {
                    IdentitySource::Header(name) => request
                        .headers
                        .get_all(name.as_str())
                        .iter()
                        .map(|v| std::str::from_utf8(v.as_bytes()).map(str::to_string))
                        .collect::<Result<_, _>>()
                        .ok()?,
                    IdentitySource::Query(name) => events::query_pairs(request.query.as_deref())
                        .into_iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v)
                        .collect(),
                    IdentitySource::HttpMethod => vec![request.method.clone()],
                    IdentitySource::ResourcePath => vec![routed.resource_path.clone()],
                    IdentitySource::RouteKey => vec![routed.route_key.clone()],
                };
                (!values.join(",").trim().is_empty()).then_some(values)
            })
            .collect()
    }

    /// Builds the event, invokes the authorizer, and reads its output as API Gateway does.
    async fn invoke(
        &self,
        input: &EventInput<'_>,
        identity_values: &[String],
        trace: &mut Trace,
    ) -> Result<Answer, Refusal> {
        let event = match (self.api, self.authorizer_kind) {
            (Api::Rest, AuthorizerKind::Token) => {
                let token = identity_values
                    .first()
                    .map(String::as_str)
                    .unwrap_or_default();
                events::rest_token(token, input.arn)
            }
            (Api::Rest, AuthorizerKind::Request) => events::rest_request(input),
            (Api::Http, _) => events::http_v2(input, identity_values),
        };
        let event = event.map_err(|problem| {
            trace.authorizer_error = Some(problem.to_string());
            Refusal::AuthorizerFailure
        })?;
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let outcome = self.authorizer.handle(&event, Some(input.request_id)).await;
        trace.authorizer_latency_ms = Some(started.elapsed().as_millis());
        let output = match outcome.response {
            // The JSON text Lambda would hand API Gateway.
            Ok(response) => response.into_string().into_bytes(),
            Err(failure) => {
                let unauthorized = failure.error_message == "Unauthorized";
                trace.authorizer_error = Some(failure.error_message);
                return Err(if unauthorized {
                    Refusal::Unauthorized
                } else {
                    Refusal::AuthorizerFailure
                });
            }
        };
        let simple = self.api == Api::Http && self.simple_responses;
        verdict::read_answer(&output, simple).map_err(|problem| {
            let problem = problem.to_string();
            crate::log::warn("serve_invalid_authorizer_answer", &problem);
            trace.authorizer_error = Some(problem);
            Refusal::AuthorizerFailure
        })
    }

    fn refused(&self, refusal: Refusal) -> GatewayResponse {
        let answer = refusal.answer(self.api);
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(error_type) = answer.error_type {
            headers.insert("x-amzn-errortype", HeaderValue::from_static(error_type));
        }
        // The template's UNAUTHORIZED gateway response (HTTP APIs have none to customise).
        if self.api == Api::Rest && refusal == Refusal::Unauthorized {
            cors::add_challenge(&mut headers);
        }
        GatewayResponse {
            status: answer.status,
            headers,
            body: Bytes::from_static(answer.body.as_bytes()),
        }
    }

    fn log(
        &self,
        request: &GatewayRequest,
        request_id: &str,
        epoch_ms: i64,
        trace: &Trace,
        status: u16,
    ) {
        let context = trace.answer.as_deref().map(Answer::context);
        let line = self.format.render(|name| match name {
            "requestId" | "extendedRequestId" => Some(request_id.to_string()),
            "requestTimeEpoch" => Some(epoch_ms.to_string()),
            "requestTime" => Some(crate::clock::format_request_time(epoch_ms)),
            "httpMethod" => Some(request.method.clone()),
            "path" => Some(match self.api {
                Api::Http if self.stage == "$default" => request.path.clone(),
                _ if request.path.starts_with('/') => format!("/{}{}", self.stage, request.path),
                _ => format!("/{}/{}", self.stage, request.path),
            }),
            "resourcePath" => trace.routed.as_ref().map(|r| r.resource_path.clone()),
            "routeKey" => trace.routed.as_ref().map(|r| r.route_key.clone()),
            "status" => Some(status.to_string()),
            "stage" => Some(self.stage.clone()),
            "protocol" => Some(request.protocol.clone()),
            "identity.sourceIp" => Some(request.source_ip.clone()),
            "authorizer.latency" => trace.authorizer_latency_ms.map(|ms| ms.to_string()),
            "authorizer.error" => trace.authorizer_error.clone(),
            "authorizer.principalId" => trace
                .answer
                .as_deref()
                .and_then(Answer::principal)
                .map(str::to_string),
            other => other
                .strip_prefix("authorizer.")
                .and_then(|key| context?.get(key))
                .map(|value| match value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                }),
        });
        self.access_log.write(&line);
    }

    /// A request id shaped like API Gateway's (a UUID), unique within this process.
    fn next_request_id(&self, epoch_ms: i64) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        let mut x = (epoch_ms as u64) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = || {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            x.wrapping_mul(0x2545_F491_4F6C_DD1D)
        };
        let (a, b) = (next(), next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            0x8000 | (b >> 48) & 0x3fff,
            (b & 0xffff_ffff_ffff) ^ n
        )
    }
}
