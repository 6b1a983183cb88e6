//! Start-up configuration, read once and validated before the first request.
//!
//! Simple deployments use environment variables only ([`env`]); richer ones (several issuers,
//! inline or file JWKS, cache tuning) add a TOML file named by `TOLLGATE_CONFIG` ([`file`]).
//! Environment variables override the file's scalar settings; issuers come from one place or
//! the other, never both. Every setting is checked at init: a bad value stops start-up with a
//! [`ConfigError`] that names the setting and says what is wrong.
//!
//! Configuration sits at the edge: each step of the flow owns the types of its own settings
//! (the JWKS source and cache policy in [`crate::jwks`], the verification rules in
//! [`crate::verify`], route rules in [`crate::access`], plans in [`crate::pricing`], token
//! sources in [`crate::token`]). This module is the only one that knows variable names and file
//! keys; it builds those types, and no step imports it.

pub mod env;
pub mod file;

use std::fmt;
use std::path::PathBuf;

use jsonwebtoken::Algorithm;

use crate::access::{CacheScope, RouteRule, RouteTableSetting};
use crate::aws::AwsSettings;
use crate::cors::CorsSettings;
use crate::log::redact_url;
use crate::pricing::Plans;
use crate::revocation::RevocationSettings;
use crate::token::TokenSource;
use crate::verify::{IssuerPolicy, VerifierSettings};

pub use crate::jwks::{CachePolicy, JwksSource, Remote, Seed};
pub use crate::verify::{DEFAULT_ALGORITHMS, HMAC_ALGORITHMS, Secret, TokenUse};

/// Default clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;
/// Largest leeway accepted; more would keep expired tokens alive for minutes.
pub const MAX_LEEWAY_SECONDS: u64 = 300;
/// Default cap on a token's length in bytes (Cognito tokens with many groups stay well below).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Shortest HMAC secret accepted (the HS256 key should be at least as long as the hash).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// The range of a whole-number setting, written once for the file's key and the environment
/// variable that set it.
pub(crate) type Bounds = std::ops::RangeInclusive<u64>;
/// `leeway_seconds` / `JWT_LEEWAY_SECONDS`.
pub(crate) const LEEWAY_SECONDS: Bounds = 0..=MAX_LEEWAY_SECONDS;
/// `max_token_bytes` / `JWT_MAX_TOKEN_BYTES`.
pub(crate) const MAX_TOKEN_BYTES: Bounds = 256..=65_536;

/// An HMAC secret shorter than [`MIN_HMAC_SECRET_BYTES`]; the message follows the setting's
/// name (`hmac_secret`, `JWT_HMAC_SECRET: `).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShortSecret;

impl fmt::Display for ShortSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "must be at least {MIN_HMAC_SECRET_BYTES} bytes long")
    }
}

/// The one check of an HMAC secret's length, for the file's `hmac_secret` and
/// `JWT_HMAC_SECRET` alike.
pub(crate) fn hmac_secret(secret: String) -> Result<Secret, ShortSecret> {
    if secret.len() < MIN_HMAC_SECRET_BYTES {
        Err(ShortSecret)
    } else {
        Ok(Secret::new(secret.into_bytes()))
    }
}

/// A start-up failure: which setting, and what is wrong with it.
///
/// ```
/// let err = tollgate::config::Config::from_lookup(|_| None).unwrap_err();
/// assert_eq!(err.setting, "JWT_ISSUER");
/// assert!(err.to_string().starts_with("JWT_ISSUER: "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault (`TOLLGATE_CONFIG` for anything in the file).
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            setting,
            problem: problem.into(),
        }
    }

    /// The same error with `prefix` (where in the file, say) before its problem.
    pub(crate) fn prefixed(self, prefix: impl fmt::Display) -> Self {
        ConfigError {
            setting: self.setting,
            problem: format!("{prefix}{}", self.problem),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Which setting gave a value, so that a problem found after parsing (a JWKS file that cannot
/// be read at start-up, say) can be reported against it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SettingRef {
    /// The environment variable (`TOLLGATE_CONFIG` for anything in the file).
    pub setting: &'static str,
    /// Where in the file, for a file setting: `/etc/tollgate.toml: issuers[0].jwks_file`.
    pub location: Option<String>,
}

impl SettingRef {
    /// The start-up error for a problem with this setting.
    ///
    /// ```
    /// use tollgate::config::SettingRef;
    /// let at = SettingRef { setting: "TOLLGATE_CONFIG", location: Some("t.toml: issuers[0].jwks_file".into()) };
    /// assert_eq!(at.error("unreadable").to_string(), "TOLLGATE_CONFIG: t.toml: issuers[0].jwks_file: unreadable");
    /// ```
    pub fn error(&self, problem: impl fmt::Display) -> ConfigError {
        ConfigError::new(
            self.setting,
            match &self.location {
                Some(location) => format!("{location}: {problem}"),
                None => problem.to_string(),
            },
        )
    }
}

/// One trusted issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuerConfig {
    /// The exact `iss` value.
    pub issuer: String,
    /// Accepted audiences, matched against `aud` or Cognito's `client_id`.
    pub audiences: Vec<String>,
    /// Where its keys come from.
    pub jwks: JwksSource,
    /// The setting that gave `jwks` (`JWKS_URI`, or an `[[issuers]]` entry's key).
    pub jwks_setting: SettingRef,
    /// Required Cognito `token_use`; unchecked when `None`.
    pub token_use: Option<TokenUse>,
    /// Shared secret for this issuer's HS256/384/512 tokens (`hmac_secret` on its
    /// `[[issuers]]` entry, or `JWT_HMAC_SECRET` when it is the only issuer). An HS token is
    /// checked against its own issuer's secret only.
    pub hmac_secret: Option<Secret>,
}

impl IssuerConfig {
    /// The rules [`crate::verify`] checks a token of this issuer against.
    pub fn policy(&self) -> IssuerPolicy {
        IssuerPolicy {
            issuer: self.issuer.clone(),
            audiences: self.audiences.clone(),
            token_use: self.token_use,
            hmac_secret: self.hmac_secret.clone(),
        }
    }
}

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The trusted issuers; tokens are routed to one by their `iss`.
    pub issuers: Vec<IssuerConfig>,
    /// Clock-skew allowance in seconds (default 5, at most 300).
    pub leeway_seconds: u64,
    /// Longest token accepted, in bytes (default 8192).
    pub max_token_bytes: usize,
    /// Algorithms accepted in the header (default: every asymmetric one).
    pub algorithms: Vec<Algorithm>,
    /// Where to look for the token; `None` means the per-shape default.
    pub token_sources: Option<Vec<TokenSource>>,
    /// Whether HTTP API payload 2.0 events get simple responses (default `true`; must match
    /// the authorizer's `EnableSimpleResponses`).
    pub http_api_simple_responses: bool,
    /// Scopes of which a token needs at least one to call any route.
    pub required_scopes: Vec<String>,
    /// Groups of which a token needs at least one to call any route.
    pub required_groups: Vec<String>,
    /// JWKS fetching and caching.
    pub jwks_cache: CachePolicy,
    /// Route rules: which scopes/groups may call which routes, and their prices. Empty: every
    /// route of the stage is permitted (subject to the required scopes and groups) at no cost.
    pub routes: Vec<RouteRule>,
    /// The plans and how a caller's plan is found.
    pub plans: Plans,
    /// The claim whose value becomes `tenantId` in the context.
    pub tenant_claim: Option<String>,
    /// The claim whose value becomes `usageIdentifierKey` (REST APIs), before the plan's key.
    pub usage_key_claim: Option<String>,
    /// How API Gateway's authorizer cache keys the answers (`TOLLGATE_AUTHORIZER_CACHE`:
    /// `token`, `route` or `off`), where the event does not tell; `None` when neither the
    /// environment nor the file declares it ([`Config::cache_scope`] is then `token`, and
    /// `tollgate serve` fills it from its own cache key).
    pub authorizer_cache: Option<CacheScope>,
    /// Whether the route rules are the API's whole route table (`TOLLGATE_ROUTE_TABLE`,
    /// `route_table`: `declared` or `undeclared`, the default).
    pub route_table: RouteTableSetting,
    /// How many verified tokens to remember (`TOLLGATE_VERIFIED_TOKENS`; 0 turns it off).
    pub verified_tokens: usize,
    /// The origins browsers may call the API from (`TOLLGATE_CORS_ALLOW_ORIGINS`, the file's
    /// `[cors] allow_origins`; default the template's `CorsAllowOrigin`). Only `tollgate
    /// serve` uses them: in AWS, API Gateway answers for CORS, from the template.
    pub cors: CorsSettings,
    /// The revocation list (`TOLLGATE_REVOCATION_TABLE` and its tuning); `None`: off.
    pub revocation: Option<RevocationSettings>,
    /// Where and as whom DynamoDB is called: read from the standard AWS chain only when
    /// revocation is on.
    pub aws: Option<AwsSettings>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            issuers: Vec::new(),
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            algorithms: DEFAULT_ALGORITHMS.to_vec(),
            token_sources: None,
            http_api_simple_responses: true,
            required_scopes: Vec::new(),
            required_groups: Vec::new(),
            jwks_cache: CachePolicy::default(),
            routes: Vec::new(),
            plans: Plans::default(),
            tenant_claim: None,
            usage_key_claim: None,
            authorizer_cache: None,
            route_table: RouteTableSetting::Undeclared,
            verified_tokens: crate::verified_tokens::DEFAULT_CAPACITY,
            cors: CorsSettings::default(),
            revocation: None,
            aws: None,
        }
    }
}

impl Config {
    /// How the answers are cached: the declared scope, else `token` (always correct).
    pub fn cache_scope(&self) -> CacheScope {
        self.authorizer_cache.unwrap_or_default()
    }

    /// The settings [`crate::verify::Verifier`] is built from.
    pub fn verifier_settings(&self) -> VerifierSettings {
        VerifierSettings {
            algorithms: self.algorithms.clone(),
            leeway_seconds: self.leeway_seconds,
            max_token_bytes: self.max_token_bytes,
            extra_claims: self.extra_claims(),
        }
    }

    /// The claims besides the registered ones that verification must read: plan, tenant and
    /// usage-key claims.
    pub fn extra_claims(&self) -> Vec<String> {
        let mut names: Vec<String> = [&self.plans.claim, &self.tenant_claim, &self.usage_key_claim]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        names.dedup();
        names
    }

    /// Warnings about valid but risky settings, for the log at init. A claim that chooses the
    /// plan, the tenant or the usage-plan key must be one the caller cannot write, or callers
    /// pick their own plan and API key; Cognito custom attributes (`custom:...`) are writable
    /// by the user through the app client unless its write attributes leave them out.
    ///
    /// ```
    /// let mut config = tollgate::config::Config::default();
    /// config.tenant_claim = Some("custom:tenant".into());
    /// assert!(config.warnings()[0].starts_with("[context] tenant_claim is \"custom:tenant\": "));
    /// ```
    pub fn warnings(&self) -> Vec<String> {
        [
            ("[plans] claim", &self.plans.claim, "their own plan"),
            (
                "[context] tenant_claim",
                &self.tenant_claim,
                "their own tenantId",
            ),
            (
                "[context] usage_key_claim",
                &self.usage_key_claim,
                "their own usage-plan API key",
            ),
        ]
        .into_iter()
        .filter_map(|(setting, claim, what)| {
            let claim = claim.as_deref()?;
            claim.starts_with("custom:").then(|| {
                format!(
                    "{setting} is {claim:?}: Cognito custom attributes are writable by the user \
                     unless the app client's write attributes leave them out; make sure no \
                     caller can write it, or callers choose {what}"
                )
            })
        })
        .collect()
    }

    /// A declared route table must be one API Gateway could have: some routes, and no two paths
    /// that would be one REST resource written two ways (`/pets/{id}` and `/pets/{petId}`).
    pub fn check_route_table(&self) -> Result<(), ConfigError> {
        if self.route_table != RouteTableSetting::Declared {
            return Ok(());
        }
        let setting = "TOLLGATE_ROUTE_TABLE";
        if self.routes.is_empty() {
            return Err(ConfigError::new(
                setting,
                "is `declared`, but there are no [[routes]] in TOLLGATE_CONFIG: list every route of the API",
            ));
        }
        for (i, a) in self.routes.iter().enumerate() {
            for b in &self.routes[..i] {
                let (pa, pb) = (a.pattern.for_any_method(), b.pattern.for_any_method());
                if !a.pattern.is_route_key()
                    && pa.same_shape(&pb)
                    && a.pattern.resource_template() != b.pattern.resource_template()
                {
                    return Err(ConfigError::new(
                        setting,
                        format!(
                            "is `declared`, but routes {:?} and {:?} name one path two ways; API Gateway has one resource per path, so write them alike",
                            b.pattern.as_str(),
                            a.pattern.as_str()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Reads and validates the configuration from the process environment (and the file
    /// named by `TOLLGATE_CONFIG`, if set).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and validates the configuration from any variable lookup (tests use a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Config::default();
        let mut algorithms_set = false;
        if let Some(path) = get("TOLLGATE_CONFIG") {
            algorithms_set |= file::apply(PathBuf::from(path.trim()), &mut config)?;
        }
        algorithms_set |= env::apply(&get, &lookup, &mut config)?;
        if config.issuers.is_empty() {
            return Err(ConfigError::new("JWT_ISSUER", "not set (required)"));
        }
        let any_secret = config.issuers.iter().any(|i| i.hmac_secret.is_some());
        if let Some(alg) = config
            .algorithms
            .iter()
            .find(|a| HMAC_ALGORITHMS.contains(a))
            && !any_secret
        {
            return Err(ConfigError::new(
                if algorithms_set {
                    "JWT_ALGORITHMS"
                } else {
                    "JWT_HMAC_SECRET"
                },
                format!(
                    "{alg:?} needs a shared secret in JWT_HMAC_SECRET or an issuer's hmac_secret"
                ),
            ));
        }
        if any_secret && !algorithms_set {
            config.algorithms.extend(HMAC_ALGORITHMS);
        }
        config.check_route_table()?;
        if config.revocation.is_some() {
            config.aws = Some(
                AwsSettings::from_lookup(&lookup)
                    .map_err(|e| ConfigError::new(e.setting(), e.to_string()))?,
            );
        }
        Ok(config)
    }
}

/// Splits a comma-separated list, refusing empty entries and whitespace inside entries.
pub(crate) fn split_list(setting: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(|item| list_item(setting, item))
        .collect()
}

pub(crate) fn list_item(setting: &'static str, item: &str) -> Result<String, ConfigError> {
    let item = item.trim();
    if item.is_empty() {
        return Err(ConfigError::new(
            setting,
            "has an empty entry in its comma-separated list",
        ));
    }
    if item.chars().any(char::is_whitespace) {
        return Err(ConfigError::new(
            setting,
            format!("entry {item:?} contains whitespace"),
        ));
    }
    Ok(item.to_string())
}

pub(crate) fn check_issuer(setting: &'static str, issuer: &str) -> Result<(), ConfigError> {
    if issuer.starts_with("https://") || issuer.starts_with("http://") {
        Ok(())
    } else {
        Err(ConfigError::new(
            setting,
            format!(
                "{:?} is not an http(s) URL; use the exact `iss` of the tokens",
                redact_url(issuer)
            ),
        ))
    }
}

/// Reads a `JWKS_URI`-style value: `file://` is a seed, `http(s)://` a remote.
pub(crate) fn parse_jwks_uri(setting: &'static str, uri: &str) -> Result<JwksSource, ConfigError> {
    if let Some(path) = uri.strip_prefix("file://") {
        if path.is_empty() {
            return Err(ConfigError::new(setting, "file:// URI has no path"));
        }
        return Ok(JwksSource {
            seed: Some(Seed::File(PathBuf::from(path))),
            remote: None,
        });
    }
    Ok(JwksSource {
        seed: None,
        remote: Some(Remote::Url(parse_http_url(setting, uri)?)),
    })
}

pub(crate) fn parse_http_url(setting: &'static str, uri: &str) -> Result<String, ConfigError> {
    match uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
    {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(uri.to_string()),
        Some(_) => Err(ConfigError::new(
            setting,
            format!("{:?} has no host", redact_url(uri)),
        )),
        None => Err(ConfigError::new(
            setting,
            format!(
                "{:?} is not an https://, http:// or file:// URI",
                redact_url(uri)
            ),
        )),
    }
}

pub(crate) fn parse_algorithm_name(
    setting: &'static str,
    name: &str,
) -> Result<Algorithm, ConfigError> {
    name.parse::<Algorithm>().map_err(|_| {
        ConfigError::new(
            setting,
            format!("{name:?} is not a supported JWS algorithm (`none` never is)"),
        )
    })
}

pub(crate) fn parse_token_source(
    setting: &'static str,
    spec: &str,
) -> Result<TokenSource, ConfigError> {
    TokenSource::parse(spec.trim()).map_err(|p| ConfigError::new(setting, p.to_string()))
}

pub(crate) fn parse_token_use(setting: &'static str, value: &str) -> Result<TokenUse, ConfigError> {
    value
        .parse::<TokenUse>()
        .map_err(|p| ConfigError::new(setting, p.to_string()))
}

pub(crate) fn check_range(
    setting: &'static str,
    what: &str,
    value: u64,
    bounds: Bounds,
) -> Result<u64, ConfigError> {
    if bounds.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            setting,
            format!(
                "{what}{value} is not a whole number from {} to {}",
                bounds.start(),
                bounds.end()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    const BASE: [(&str, &str); 2] = [
        ("JWT_ISSUER", "https://issuer.example.com"),
        ("JWT_AUDIENCE", "client-1"),
    ];

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        config(&pairs)
    }

    #[test]
    fn minimal_configuration_gets_secure_defaults_and_discovery() {
        let c = with(&[]).unwrap();
        assert_eq!(c.algorithms, DEFAULT_ALGORITHMS.to_vec());
        assert_eq!(c.leeway_seconds, 5);
        assert_eq!(c.max_token_bytes, 8192);
        assert!(c.issuers[0].hmac_secret.is_none());
        assert!(c.http_api_simple_responses);
        assert_eq!(
            c.issuers[0].jwks,
            JwksSource {
                seed: None,
                remote: Some(Remote::Discovery)
            }
        );
        assert_eq!(c.issuers[0].token_use, None);
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let c = with(&[("JWT_AUDIENCE", " a , b ")]).unwrap();
        assert_eq!(c.issuers[0].audiences, vec!["a", "b"]);
    }

    #[test]
    fn several_env_issuers_share_audiences_and_jwks_uri() {
        let c = with(&[("JWT_ISSUER", "https://a.example,https://b.example")]).unwrap();
        assert_eq!(c.issuers.len(), 2);
        assert_eq!(c.issuers[1].audiences, vec!["client-1"]);
    }

    #[test]
    fn relative_file_uri_is_a_seed_with_a_relative_path() {
        let c = with(&[("JWKS_URI", "file://events/jwks.json")]).unwrap();
        assert_eq!(
            c.issuers[0].jwks.seed,
            Some(Seed::File(PathBuf::from("events/jwks.json")))
        );
        assert_eq!(c.issuers[0].jwks.remote, None);
    }

    #[test]
    fn hmac_secret_enables_hs_algorithms_and_is_redacted() {
        let c = with(&[("JWT_HMAC_SECRET", "0123456789abcdef0123456789abcdef")]).unwrap();
        assert!(c.algorithms.contains(&Algorithm::HS256));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }
}
