//! `tollgate serve`: API Gateway on your laptop, on the same handler Lambda runs.
//!
//! Local tools for Lambda authorizers grant on the first Allow they see and cache nothing, so
//! what they show is not what API Gateway does. This module plays API Gateway for one REST or
//! HTTP API whose routes are the route rules: it builds the authorizer event API Gateway would
//! build ([`events`]), skips the authorizer when an identity source is missing, caches the
//! answer under the authorizer's identity sources for the TTL ([`cache`]), evaluates the policy
//! on the request's ARN as IAM does ([`verdict`]), answers refusals with API Gateway's status
//! codes and bodies ([`gateway_responses`]), passes allowed requests to the upstream with the
//! context as `x-authorizer-*` headers ([`upstream`]), and writes one access-log line per
//! request in the SAM template's format ([`access_log`]), which `tollgate usage-report` reads.
//!
//! [`gateway::Gateway`] is the whole emulation, callable without a socket; [`Server`] puts it
//! behind hyper on 127.0.0.1 with bounded bodies and graceful shutdown.

pub mod access_log;
pub mod cache;
pub mod cors;
pub mod events;
pub mod gateway;
pub mod gateway_responses;
pub mod identity;
pub mod routing;
pub mod settings;
pub mod upstream;
pub mod verdict;

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::handler::Authorizer;

pub use access_log::AccessLogError;
pub use gateway::{BodyProblem, Gateway, GatewayRequest, GatewayResponse};
pub use identity::{IdentitySource, IdentitySourceError};
pub use settings::{Api, AuthorizerKind, Settings, SettingsError};
pub use upstream::UpstreamError;

/// The default address: local only, as `sam local start-api` uses.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";
/// The template's authorizer cache TTL (`AuthorizerCacheTtl`).
pub const DEFAULT_CACHE_TTL_SECONDS: u64 = 60;
/// API Gateway's payload limit: 10 MB, for requests and for the upstream's answers.
pub const DEFAULT_MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// The default access-log file, in the working directory.
pub const DEFAULT_ACCESS_LOG: &str = "tollgate-access.jsonl";
/// How long a graceful shutdown waits for requests in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's body.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Request bodies held in memory at once, over all connections, in KiB: a request reserves
/// its declared length (or the limit, if it declares none) before its body is read, and waits
/// while others hold the budget, so slow or many uploads cannot grow memory without bound.
const BUFFERED_BODY_KIB: usize = 64 * 1024;

/// Why `serve` could not start or stopped.
#[derive(Debug)]
pub enum ServeError {
    /// Settings API Gateway would refuse, or that cannot work.
    Settings(SettingsError),
    /// The upstream cannot be called.
    Upstream(UpstreamError),
    /// The access log cannot be opened.
    AccessLog(AccessLogError),
    /// The listening socket cannot be bound.
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The bound socket's address cannot be read.
    LocalAddr(std::io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Settings(e) => e.fmt(f),
            ServeError::Upstream(e) => e.fmt(f),
            ServeError::AccessLog(e) => e.fmt(f),
            ServeError::Bind { addr, source } => match source.kind() {
                std::io::ErrorKind::AddrInUse => write!(
                    f,
                    "cannot listen on {addr}: the port is already in use (another `tollgate serve`, or another server?); pick a free one with --listen {}:PORT",
                    addr.ip()
                ),
                std::io::ErrorKind::PermissionDenied => write!(
                    f,
                    "cannot listen on {addr}: permission denied (ports below 1024 need privileges); pick another with --listen {}:PORT",
                    addr.ip()
                ),
                _ => write!(f, "cannot listen on {addr}: {source}"),
            },
            ServeError::LocalAddr(e) => write!(f, "cannot read the listening address: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Settings(e) => Some(e),
            ServeError::Upstream(e) => Some(e),
            ServeError::AccessLog(e) => Some(e),
            ServeError::Bind { source, .. } | ServeError::LocalAddr(source) => Some(source),
        }
    }
}

impl From<SettingsError> for ServeError {
    fn from(e: SettingsError) -> Self {
        ServeError::Settings(e)
    }
}

impl From<UpstreamError> for ServeError {
    fn from(e: UpstreamError) -> Self {
        ServeError::Upstream(e)
    }
}

impl From<AccessLogError> for ServeError {
    fn from(e: AccessLogError) -> Self {
        ServeError::AccessLog(e)
    }
}

/// A bound server: the gateway behind a listening socket, not yet accepting.
pub struct Server {
    listener: TcpListener,
    gateway: Arc<Gateway>,
    bodies: Arc<BodyLimits>,
}

/// The limits on reading request bodies, shared by all connections.
#[derive(Debug)]
struct BodyLimits {
    max_bytes: usize,
    read_timeout: Duration,
    budget: Arc<tokio::sync::Semaphore>,
}

impl Server {
    /// Binds the listening socket and opens the access log. A port already taken is an error
    /// that says so and how to pick another.
    pub async fn bind(settings: Settings, authorizer: Arc<Authorizer>) -> Result<Self, ServeError> {
        Self::bind_with_clock(settings, authorizer, crate::clock::Clock::default()).await
    }

    /// Like [`Server::bind`], with a clock that tests can move forward to cross the cache TTL
    /// (share it with the authorizer's).
    pub async fn bind_with_clock(
        settings: Settings,
        authorizer: Arc<Authorizer>,
        clock: crate::clock::Clock,
    ) -> Result<Self, ServeError> {
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| ServeError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let max_body_bytes = settings.max_body_bytes;
        let gateway = Gateway::with_clock(settings, authorizer, clock)?;
        Ok(Server {
            listener,
            gateway: Arc::new(gateway),
            bodies: Arc::new(BodyLimits {
                max_bytes: max_body_bytes,
                read_timeout: BODY_READ_TIMEOUT,
                budget: Arc::new(tokio::sync::Semaphore::new(BUFFERED_BODY_KIB)),
            }),
        })
    }

    /// The same server with another body read timeout (tests use a short one).
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        if let Some(bodies) = Arc::get_mut(&mut self.bodies) {
            bodies.read_timeout = timeout;
        }
        self
    }

    /// The address actually bound (port 0 picks a free one).
    pub fn local_addr(&self) -> Result<SocketAddr, ServeError> {
        self.listener.local_addr().map_err(ServeError::LocalAddr)
    }

    /// The emulated gateway (its cache and counters), for tests and benchmarks.
    pub fn gateway(&self) -> Arc<Gateway> {
        Arc::clone(&self.gateway)
    }

    /// Serves until `shutdown` completes, then stops accepting and lets requests in flight
    /// finish (for at most ten seconds).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), ServeError> {
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        // A failed accept (e.g. out of file descriptors) drops that connection
                        // only; a short pause keeps it from spinning.
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                    let gateway = Arc::clone(&self.gateway);
                    let bodies = Arc::clone(&self.bodies);
                    let service = service_fn(move |request: Request<Incoming>| {
                        let (gateway, bodies) = (Arc::clone(&gateway), Arc::clone(&bodies));
                        async move {
                            Ok::<_, Infallible>(answer(&gateway, request, peer, &bodies).await)
                        }
                    });
                    let connection = http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(Duration::from_secs(30))
                        .serve_connection(TokioIo::new(stream), service);
                    let connection = graceful.watch(connection);
                    tokio::spawn(async move {
                        // A client that goes away mid-request is its own business.
                        let _ = connection.await;
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        tokio::select! {
            () = graceful.shutdown() => Ok(()),
            () = tokio::time::sleep(SHUTDOWN_GRACE) => Ok(()),
        }
    }
}

/// What the server emulates, in a few lines for the terminal.
///
/// With revocation on (`revocation_refresh` is its refresh interval), it states the bound on
/// how long a revoked token can still be let through: the refresh interval plus the TTL.
pub fn banner(
    settings: &Settings,
    scope: crate::access::CacheScope,
    revocation_refresh: Option<Duration>,
) -> String {
    let api = match settings.api {
        Api::Rest => "REST API",
        Api::Http => "HTTP API (payload 2.0)",
    };
    let authorizer = match settings.authorizer {
        AuthorizerKind::Token => "TOKEN",
        AuthorizerKind::Request => "REQUEST",
    };
    let sources: Vec<String> = settings
        .identity_sources
        .iter()
        .map(|s| s.notation(settings.api))
        .collect();
    let upstream = settings
        .upstream
        .as_ref()
        .map_or("the built-in echo backend".to_string(), |u| u.to_string());
    format!(
        "  {api}, stage {}, {authorizer} authorizer on {}\n  authorizer cache: TTL {} s, tollgate told `{}`\n  upstream: {upstream}\n  access log: {}\n  browsers (CORS) from: {}",
        settings.stage,
        if sources.is_empty() {
            "no identity sources".to_string()
        } else {
            sources.join(", ")
        },
        settings.cache_ttl.as_secs(),
        scope.name(),
        settings.access_log.display(),
        settings.cors.origins().join(", ")
    ) + &match revocation_refresh {
        Some(refresh) => format!(
            "\n  revocation: read every {} s; a revoked token is refused within {} s (refresh + cache TTL)",
            refresh.as_secs(),
            refresh.as_secs() + settings.cache_ttl.as_secs()
        ),
        None => "\n  revocation: off (TOLLGATE_REVOCATION_TABLE is not set)".to_string(),
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = interrupt => {}
            () = terminate => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Reads one request (body bounded in size, time and shared memory), runs it through the
/// gateway, and writes the answer.
async fn answer(
    gateway: &Gateway,
    request: Request<Incoming>,
    peer: SocketAddr,
    limits: &BodyLimits,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // What hyper knows of the body's length: exactly its Content-Length, zero for a request
    // without a body, unbounded for a chunked one.
    let hint = hyper::body::Body::size_hint(&body);
    // Room in the shared budget, held until the answer is written (the body lives that long).
    let mut reserved: Option<tokio::sync::OwnedSemaphorePermit> = None;
    let body = match hint.lower() {
        declared if declared > limits.max_bytes as u64 => Err(BodyProblem::TooLarge),
        _ => {
            // The length the body declares (zero for a request without one), else the limit.
            let expected = hint.upper().map_or(limits.max_bytes, |n| {
                n.min(limits.max_bytes as u64) as usize
            });
            // Waiting for room counts against the read timeout, and a request without a body
            // never waits: uploads that stall cannot hold up other requests for long.
            let read = async {
                if expected > 0 {
                    let kib = expected.div_ceil(1024).min(BUFFERED_BODY_KIB) as u32;
                    reserved = Arc::clone(&limits.budget)
                        .acquire_many_owned(kib)
                        .await
                        .ok();
                }
                Limited::new(body, limits.max_bytes).collect().await
            };
            match tokio::time::timeout(limits.read_timeout, read).await {
                Ok(Ok(collected)) => Ok(collected.to_bytes()),
                Ok(Err(_)) => Err(BodyProblem::TooLarge),
                Err(_) => Err(BodyProblem::TimedOut),
            }
        }
    };
    let gateway_request = GatewayRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
        source_ip: peer.ip().to_string(),
        protocol: format!("{:?}", parts.version),
    };
    let answer = gateway.handle(gateway_request).await.into_http();
    drop(reserved);
    answer
}
