//! What `serve` is told to emulate, and the start-up checks on it: the API and authorizer
//! kinds, the identity sources, the cache TTL and the rest of [`Settings`], refused when API
//! Gateway would refuse them or when they could not work; and how the authorizer cache is
//! keyed under them, which tollgate must be told.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::access::CacheScope;
use crate::cors::CorsSettings;
use crate::routes::RoutePattern;
use crate::token::TokenSource;

use super::identity::IdentitySource;

/// Which kind of API is emulated (`serve --api`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Api {
    /// A REST API (stage `prod` by default, as in the template).
    #[value(help = "A REST API")]
    Rest,
    /// An HTTP API with a payload 2.0 Lambda authorizer (stage `$default`).
    #[value(help = "An HTTP API")]
    Http,
}

impl Api {
    /// The stage a new API of this kind is served under when none is named.
    pub fn default_stage(self) -> &'static str {
        match self {
            Api::Rest => "prod",
            Api::Http => "$default",
        }
    }
}

/// Which kind of Lambda authorizer is emulated (`serve --authorizer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthorizerKind {
    /// A REST `TOKEN` authorizer (REST APIs only).
    #[value(help = "A REST TOKEN authorizer")]
    Token,
    /// A `REQUEST` authorizer (REST), or the HTTP API's Lambda authorizer.
    #[value(help = "A REQUEST authorizer")]
    Request,
}

/// Everything `serve` needs besides the authorizer; built by the CLI from flags.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Where allowed requests go (`http://host:port[/base]`); `None` is the built-in echo
    /// backend.
    pub upstream: Option<reqwest::Url>,
    /// The API kind.
    pub api: Api,
    /// The authorizer kind.
    pub authorizer: AuthorizerKind,
    /// The identity sources: the cache key, and what must be present for the authorizer to run.
    pub identity_sources: Vec<IdentitySource>,
    /// How long an answer is cached; zero disables the cache.
    pub cache_ttl: Duration,
    /// The access-log file (appended to).
    pub access_log: PathBuf,
    /// The stage name.
    pub stage: String,
    /// The API's routes: the route rules' patterns (WebSocket route keys are left out). Empty
    /// means every path (REST: `/` and `/{proxy+}` for any method; HTTP: `$default`).
    pub routes: Vec<RoutePattern>,
    /// Largest request body accepted, and largest upstream answer passed on.
    pub max_body_bytes: usize,
    /// Whether HTTP API authorizers answer with simple responses (`EnableSimpleResponses`).
    pub simple_responses: bool,
    /// The origins browsers may call from (the template's `CorsAllowOrigin`).
    pub cors: CorsSettings,
}

/// Settings `serve` refuses to start with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// An HTTP API with a TOKEN authorizer.
    TokenAuthorizerOnHttpApi,
    /// A TOKEN authorizer whose identity sources are not exactly one header.
    TokenAuthorizerNeedsOneHeader,
    /// A cached REQUEST authorizer without identity sources.
    CacheWithoutIdentitySources,
    /// A stage name with `/`, `*` or `?`, or none.
    BadStage,
    /// A REST API with more than one allowed origin.
    SeveralOriginsOnRestApi,
    /// `TOLLGATE_AUTHORIZER_CACHE=route`, but the route is not in the cache key.
    RouteScopeWithoutRoute {
        /// The identity sources, in the API's notation.
        sources: String,
        /// The API kind (it says what to add).
        api: Api,
    },
    /// `TOLLGATE_AUTHORIZER_CACHE=off`, but answers are cached.
    OffScopeWithCache,
    /// A place the token may come from that is not in the cache key.
    TokenSourceNotKeyed {
        /// The token source, in words.
        source: String,
        /// The identity sources, in the API's notation.
        sources: String,
    },
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::TokenAuthorizerOnHttpApi => f.write_str(
                "an HTTP API has no TOKEN authorizers: use --authorizer request (payload 2.0)",
            ),
            SettingsError::TokenAuthorizerNeedsOneHeader => f.write_str(
                "a TOKEN authorizer has exactly one identity source, a header (method.request.header.NAME)",
            ),
            SettingsError::CacheWithoutIdentitySources => f.write_str(
                "a REQUEST authorizer with caching needs identity sources (they are the cache key): name them with --identity-source, or set --cache-ttl 0",
            ),
            SettingsError::BadStage => {
                f.write_str("--stage must be a stage name (no `/`, `*` or `?`)")
            }
            SettingsError::SeveralOriginsOnRestApi => f.write_str(
                "a REST API's CORS headers are static (SAM's Cors and gateway responses): it allows one origin, or `*`. Give one --cors-allow-origin, or use --api http (its CorsConfiguration lists several)",
            ),
            SettingsError::RouteScopeWithoutRoute { sources, api } => write!(
                f,
                "TOLLGATE_AUTHORIZER_CACHE=route, but these identity sources ({sources}) do not key the cache on the route: a cached answer would serve other routes. Add {} to --identity-source, or declare token",
                match api {
                    Api::Rest => "context.httpMethod and context.resourcePath",
                    Api::Http => "$context.routeKey",
                }
            ),
            SettingsError::OffScopeWithCache => f.write_str(
                "TOLLGATE_AUTHORIZER_CACHE=off, but --cache-ttl is not 0: answers would be cached. Use --cache-ttl 0, or declare token or route",
            ),
            SettingsError::TokenSourceNotKeyed { source, sources } => write!(
                f,
                "the token may come from {source} (TOKEN_SOURCE), which is not among the identity sources ({sources}): the cache key would not hold the token. Add it with --identity-source, or set --cache-ttl 0"
            ),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Refuses settings API Gateway would refuse, or that cannot work.
pub fn check_settings(settings: &Settings) -> Result<(), SettingsError> {
    let one_header = matches!(
        settings.identity_sources.as_slice(),
        [IdentitySource::Header(_)]
    );
    match (settings.api, settings.authorizer) {
        (Api::Http, AuthorizerKind::Token) => {
            return Err(SettingsError::TokenAuthorizerOnHttpApi);
        }
        (Api::Rest, AuthorizerKind::Token) if !one_header => {
            return Err(SettingsError::TokenAuthorizerNeedsOneHeader);
        }
        _ => {}
    }
    if settings.identity_sources.is_empty() && !settings.cache_ttl.is_zero() {
        return Err(SettingsError::CacheWithoutIdentitySources);
    }
    if settings.stage.is_empty() || settings.stage.contains(['/', '*', '?']) {
        return Err(SettingsError::BadStage);
    }
    if settings.api == Api::Rest && settings.cors.origins().len() > 1 {
        return Err(SettingsError::SeveralOriginsOnRestApi);
    }
    Ok(())
}

/// How API Gateway's cache keys answers under these settings, as tollgate must be told:
/// `off` with a zero TTL; `route` when the identity sources hold the route (REST: method and
/// resource path; HTTP: route key) and the authorizer is a REQUEST one; else `token`.
pub fn cache_scope_of(settings: &Settings) -> CacheScope {
    if settings.cache_ttl.is_zero() {
        CacheScope::Off
    } else if settings.authorizer == AuthorizerKind::Request
        && IdentitySource::route_in_key(&settings.identity_sources, settings.api)
    {
        CacheScope::Route
    } else {
        CacheScope::Token
    }
}

/// Whether a declared cache scope is safe under these settings: `token` always is; `route`
/// needs the route in the cache key; `off` needs the cache off. With a zero TTL nothing is
/// cached and any declaration holds.
pub fn check_declared_scope(
    declared: CacheScope,
    settings: &Settings,
) -> Result<(), SettingsError> {
    let actual = cache_scope_of(settings);
    match (declared, actual) {
        (_, CacheScope::Off) | (CacheScope::Token, _) => Ok(()),
        (CacheScope::Route, CacheScope::Route) => Ok(()),
        (CacheScope::Route, _) => Err(SettingsError::RouteScopeWithoutRoute {
            sources: notations(settings),
            api: settings.api,
        }),
        (CacheScope::Off, _) => Err(SettingsError::OffScopeWithCache),
    }
}

/// Whether the identity sources hold every place the token may come from (the configured
/// token sources, else the `Authorization` header). The cache key must include the token: a
/// token read from a place outside the key would let a request without it, or with another,
/// reuse the answer given for it. With a zero TTL, or a TOKEN authorizer (whose event holds
/// only its identity header), nothing else is read.
pub fn check_token_sources(
    token_sources: Option<&[TokenSource]>,
    settings: &Settings,
) -> Result<(), SettingsError> {
    if settings.cache_ttl.is_zero() || settings.authorizer == AuthorizerKind::Token {
        return Ok(());
    }
    let default = [TokenSource::Header(http::header::AUTHORIZATION)];
    let keyed = |source: &TokenSource| {
        settings
            .identity_sources
            .iter()
            .any(|id| match (source, id) {
                (TokenSource::Header(name), IdentitySource::Header(n)) => {
                    n.eq_ignore_ascii_case(name.as_str())
                }
                (TokenSource::Query(name), IdentitySource::Query(n)) => n == name,
                (TokenSource::Cookie(_), IdentitySource::Header(n)) => {
                    n.eq_ignore_ascii_case("cookie")
                }
                _ => false,
            })
    };
    match token_sources
        .unwrap_or(&default)
        .iter()
        .find(|source| !keyed(source))
    {
        None => Ok(()),
        Some(source) => Err(SettingsError::TokenSourceNotKeyed {
            source: describe(source),
            sources: notations(settings),
        }),
    }
}

fn describe(source: &TokenSource) -> String {
    match source {
        TokenSource::Header(name) => format!("the {name} header"),
        TokenSource::Query(name) => format!("the query parameter {name}"),
        TokenSource::Cookie(name) => format!("the cookie {name} (the Cookie header)"),
    }
}

fn notations(settings: &Settings) -> String {
    settings
        .identity_sources
        .iter()
        .map(|s| s.notation(settings.api))
        .collect::<Vec<_>>()
        .join(", ")
}
