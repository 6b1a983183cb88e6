//! Start-up configuration, read once and validated before the first request.
//!
//! Every setting is checked at init: a missing or malformed value stops start-up with a
//! [`ConfigError`] that names the setting and says what is wrong, so a bad deployment fails
//! loudly at cold start instead of rejecting (or, worse, accepting) requests later.

use std::fmt;
use std::path::PathBuf;

use jsonwebtoken::Algorithm;

use crate::token::TokenSource;

/// Asymmetric algorithms accepted by default: RSA (PKCS#1 and PSS), ECDSA and EdDSA.
pub const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

const HMAC_ALGORITHMS: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// Default clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: u64 = 5;
/// Largest leeway accepted; more would keep expired tokens alive for minutes.
pub const MAX_LEEWAY_SECONDS: u64 = 300;
/// Default cap on a token's length in bytes (Cognito tokens with many groups stay well below).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Shortest HMAC secret accepted (the HS256 key should be at least as long as the hash).
pub const MIN_HMAC_SECRET_BYTES: usize = 32;

/// A start-up failure: which setting, and what is wrong with it.
///
/// ```
/// let err = tollgate::config::Config::from_lookup(|_| None).unwrap_err();
/// assert_eq!(err.setting, "JWT_ISSUER");
/// assert!(err.to_string().starts_with("JWT_ISSUER: "));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The environment variable at fault.
    pub setting: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    fn new(setting: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            setting,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Where the issuer's JWKS comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksLocation {
    /// A local file (`file:///abs/path` or `file://relative/path`).
    File(PathBuf),
    /// An `http://` or `https://` URL, fetched with a bounded timeout and size.
    Url(String),
}

/// Which Cognito token type is accepted when `JWT_TOKEN_USE` is set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenUse {
    /// Cognito ID tokens (`token_use: id`, audience in `aud`).
    Id,
    /// Cognito access tokens (`token_use: access`, audience in `client_id`).
    Access,
}

impl TokenUse {
    /// The claim value this token use stands for.
    pub fn as_claim(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// The secret's bytes, for building the verification key.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The whole validated configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Accepted `iss` values, matched exactly (`JWT_ISSUER`, comma-separated).
    pub issuers: Vec<String>,
    /// Accepted audiences, matched against `aud` or Cognito's `client_id` (`JWT_AUDIENCE`).
    pub audiences: Vec<String>,
    /// Where the signing keys come from (`JWKS_URI`).
    pub jwks: JwksLocation,
    /// Clock-skew allowance in seconds (`JWT_LEEWAY_SECONDS`, default 5, at most 300).
    pub leeway_seconds: u64,
    /// Required Cognito `token_use` (`JWT_TOKEN_USE`: `id` or `access`); unchecked when unset.
    pub token_use: Option<TokenUse>,
    /// Longest token accepted, in bytes (`JWT_MAX_TOKEN_BYTES`, default 8192).
    pub max_token_bytes: usize,
    /// Algorithms accepted in the header (`JWT_ALGORITHMS`; default: every asymmetric one).
    pub algorithms: Vec<Algorithm>,
    /// Shared secret for HS256/384/512 (`JWT_HMAC_SECRET`); HS* is refused without it.
    pub hmac_secret: Option<Secret>,
    /// Where to look for the token (`TOKEN_SOURCE`); `None` means the per-shape default.
    pub token_sources: Option<Vec<TokenSource>>,
    /// Whether HTTP API payload 2.0 events get simple responses (`HTTP_API_SIMPLE_RESPONSES`,
    /// default `true`; must match the authorizer's `EnableSimpleResponses`).
    pub http_api_simple_responses: bool,
    /// Scopes of which a token needs at least one to call any route (`REQUIRED_SCOPES`).
    pub required_scopes: Vec<String>,
    /// Groups of which a token needs at least one to call any route (`REQUIRED_GROUPS`).
    pub required_groups: Vec<String>,
}

impl Config {
    /// Reads and validates the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads and validates the configuration from any variable lookup (tests use a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        if get("TOLLGATE_CONFIG").is_some() {
            return Err(ConfigError::new(
                "TOLLGATE_CONFIG",
                "configuration files are not supported by this version of tollgate; \
                 unset it and configure with environment variables",
            ));
        }

        let issuers = required_list(&get, "JWT_ISSUER")?;
        for issuer in &issuers {
            if !(issuer.starts_with("https://") || issuer.starts_with("http://")) {
                return Err(ConfigError::new(
                    "JWT_ISSUER",
                    format!("{issuer:?} is not an http(s) URL; use the exact `iss` of the tokens"),
                ));
            }
        }
        let audiences = required_list(&get, "JWT_AUDIENCE")?;
        let jwks = match get("JWKS_URI") {
            Some(uri) => parse_jwks_location(uri.trim())?,
            None => {
                return Err(ConfigError::new(
                    "JWKS_URI",
                    "not set; OIDC discovery is not supported yet, so give the issuer's JWKS \
                     (https://, http:// or file://)",
                ));
            }
        };

        let leeway_seconds = match get("JWT_LEEWAY_SECONDS") {
            Some(v) => parse_bounded("JWT_LEEWAY_SECONDS", &v, 0, MAX_LEEWAY_SECONDS)?,
            None => DEFAULT_LEEWAY_SECONDS,
        };
        let max_token_bytes = match get("JWT_MAX_TOKEN_BYTES") {
            Some(v) => parse_bounded("JWT_MAX_TOKEN_BYTES", &v, 256, 65_536)? as usize,
            None => DEFAULT_MAX_TOKEN_BYTES,
        };
        let token_use = match get("JWT_TOKEN_USE").as_deref().map(str::trim) {
            None => None,
            Some("id") => Some(TokenUse::Id),
            Some("access") => Some(TokenUse::Access),
            Some(other) => {
                return Err(ConfigError::new(
                    "JWT_TOKEN_USE",
                    format!("{other:?} is not `id` or `access`"),
                ));
            }
        };

        let hmac_secret = match lookup("JWT_HMAC_SECRET") {
            None => None,
            Some(s) if s.len() < MIN_HMAC_SECRET_BYTES => {
                return Err(ConfigError::new(
                    "JWT_HMAC_SECRET",
                    format!("must be at least {MIN_HMAC_SECRET_BYTES} bytes long"),
                ));
            }
            Some(s) => Some(Secret(s.into_bytes())),
        };
        let algorithms = match get("JWT_ALGORITHMS") {
            Some(v) => parse_algorithms(&v, hmac_secret.is_some())?,
            None => {
                let mut algs = DEFAULT_ALGORITHMS.to_vec();
                if hmac_secret.is_some() {
                    algs.extend(HMAC_ALGORITHMS);
                }
                algs
            }
        };

        let token_sources = match get("TOKEN_SOURCE") {
            Some(v) => Some(parse_token_sources(&v)?),
            None => None,
        };
        let http_api_simple_responses = match get("HTTP_API_SIMPLE_RESPONSES").as_deref() {
            None => true,
            Some(v) => parse_bool("HTTP_API_SIMPLE_RESPONSES", v)?,
        };

        Ok(Config {
            issuers,
            audiences,
            jwks,
            leeway_seconds,
            token_use,
            max_token_bytes,
            algorithms,
            hmac_secret,
            token_sources,
            http_api_simple_responses,
            required_scopes: optional_list(&get, "REQUIRED_SCOPES")?,
            required_groups: optional_list(&get, "REQUIRED_GROUPS")?,
        })
    }
}

fn split_list(setting: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    let mut items = Vec::new();
    for item in value.split(',').map(str::trim) {
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
        items.push(item.to_string());
    }
    Ok(items)
}

fn required_list(
    get: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
) -> Result<Vec<String>, ConfigError> {
    match get(setting) {
        Some(v) => split_list(setting, &v),
        None => Err(ConfigError::new(setting, "not set (required)")),
    }
}

fn optional_list(
    get: &impl Fn(&str) -> Option<String>,
    setting: &'static str,
) -> Result<Vec<String>, ConfigError> {
    get(setting).map_or(Ok(Vec::new()), |v| split_list(setting, &v))
}

fn parse_bounded(
    setting: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            setting,
            format!("{value:?} is not a whole number from {min} to {max}"),
        )),
    }
}

fn parse_bool(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(ConfigError::new(
            setting,
            format!("{value:?} is not true or false"),
        )),
    }
}

fn parse_jwks_location(uri: &str) -> Result<JwksLocation, ConfigError> {
    if let Some(path) = uri.strip_prefix("file://") {
        if path.is_empty() {
            return Err(ConfigError::new("JWKS_URI", "file:// URI has no path"));
        }
        return Ok(JwksLocation::File(PathBuf::from(path)));
    }
    if let Some(rest) = uri
        .strip_prefix("https://")
        .or_else(|| uri.strip_prefix("http://"))
    {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(ConfigError::new("JWKS_URI", format!("{uri:?} has no host")));
        }
        return Ok(JwksLocation::Url(uri.to_string()));
    }
    Err(ConfigError::new(
        "JWKS_URI",
        format!("{uri:?} is not an https://, http:// or file:// URI"),
    ))
}

fn parse_algorithms(value: &str, have_secret: bool) -> Result<Vec<Algorithm>, ConfigError> {
    let mut algs = Vec::new();
    for name in split_list("JWT_ALGORITHMS", value)? {
        let alg = match name.as_str() {
            "RS256" => Algorithm::RS256,
            "RS384" => Algorithm::RS384,
            "RS512" => Algorithm::RS512,
            "PS256" => Algorithm::PS256,
            "PS384" => Algorithm::PS384,
            "PS512" => Algorithm::PS512,
            "ES256" => Algorithm::ES256,
            "ES384" => Algorithm::ES384,
            "EdDSA" => Algorithm::EdDSA,
            "HS256" | "HS384" | "HS512" if !have_secret => {
                return Err(ConfigError::new(
                    "JWT_ALGORITHMS",
                    format!("{name} needs a shared secret in JWT_HMAC_SECRET"),
                ));
            }
            "HS256" => Algorithm::HS256,
            "HS384" => Algorithm::HS384,
            "HS512" => Algorithm::HS512,
            _ => {
                return Err(ConfigError::new(
                    "JWT_ALGORITHMS",
                    format!("{name:?} is not a supported JWS algorithm (`none` never is)"),
                ));
            }
        };
        algs.push(alg);
    }
    Ok(algs)
}

fn parse_token_sources(value: &str) -> Result<Vec<TokenSource>, ConfigError> {
    split_list("TOKEN_SOURCE", value)?
        .iter()
        .map(|item| TokenSource::parse(item).map_err(|p| ConfigError::new("TOKEN_SOURCE", p)))
        .collect()
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

    const BASE: [(&str, &str); 3] = [
        ("JWT_ISSUER", "https://issuer.example.com"),
        ("JWT_AUDIENCE", "client-1"),
        ("JWKS_URI", "file:///tmp/jwks.json"),
    ];

    fn with(extra: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut pairs = BASE.to_vec();
        pairs.extend_from_slice(extra);
        config(&pairs)
    }

    #[test]
    fn minimal_configuration_gets_secure_defaults() {
        let c = with(&[]).unwrap();
        assert_eq!(c.algorithms, DEFAULT_ALGORITHMS.to_vec());
        assert_eq!(c.leeway_seconds, 5);
        assert_eq!(c.max_token_bytes, 8192);
        assert_eq!(c.token_use, None);
        assert!(c.hmac_secret.is_none());
        assert!(c.http_api_simple_responses);
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let c = with(&[("JWT_AUDIENCE", " a , b ")]).unwrap();
        assert_eq!(c.audiences, vec!["a", "b"]);
    }

    #[test]
    fn relative_file_uri_is_a_relative_path() {
        let c = with(&[("JWKS_URI", "file://events/jwks.json")]).unwrap();
        assert_eq!(
            c.jwks,
            JwksLocation::File(PathBuf::from("events/jwks.json"))
        );
    }

    #[test]
    fn hmac_secret_enables_hs_algorithms_and_is_redacted() {
        let c = with(&[("JWT_HMAC_SECRET", "0123456789abcdef0123456789abcdef")]).unwrap();
        assert!(c.algorithms.contains(&Algorithm::HS256));
        assert!(!format!("{c:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn config_file_is_refused_rather_than_ignored() {
        let err = with(&[("TOLLGATE_CONFIG", "/var/task/tollgate.toml")]).unwrap_err();
        assert_eq!(err.setting, "TOLLGATE_CONFIG");
    }
}
