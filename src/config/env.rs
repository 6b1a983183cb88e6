//! The environment-variable half of the configuration, for deployments that need no file.

use std::time::Duration;

use crate::access::{CacheScope, UnknownSetting};
use crate::revocation::RevocationSettings;

use super::{
    Bounds, Config, ConfigError, IssuerConfig, JwksSource, LEEWAY_SECONDS, MAX_TOKEN_BYTES, Remote,
    SettingRef, check_issuer, hmac_secret, parse_algorithm_name, parse_jwks_uri,
    parse_token_source, parse_token_use, split_list,
};

/// Applies the environment variables on top of `config` (file values, or defaults).
/// `get` returns non-blank values; `lookup` returns values as they are (for the secret).
/// Returns whether `JWT_ALGORITHMS` was set.
pub(crate) fn apply(
    get: &impl Fn(&str) -> Option<String>,
    lookup: &impl Fn(&str) -> Option<String>,
    config: &mut Config,
) -> Result<bool, ConfigError> {
    apply_issuers(get, config)?;

    if let Some(v) = get("JWT_LEEWAY_SECONDS") {
        config.leeway_seconds = parse_bounded("JWT_LEEWAY_SECONDS", &v, LEEWAY_SECONDS)?;
    }
    if let Some(v) = get("JWT_MAX_TOKEN_BYTES") {
        config.max_token_bytes =
            parse_bounded("JWT_MAX_TOKEN_BYTES", &v, MAX_TOKEN_BYTES)? as usize;
    }
    if let Some(secret) = lookup("JWT_HMAC_SECRET") {
        let secret =
            hmac_secret(secret).map_err(|e| ConfigError::new("JWT_HMAC_SECRET", e.to_string()))?;
        // A secret belongs to one issuer: the variable only when there is just one.
        match config.issuers.as_mut_slice() {
            [only] if only.hmac_secret.is_some() => {
                return Err(ConfigError::new(
                    "JWT_HMAC_SECRET",
                    "is set, and so is hmac_secret on the [[issuers]] entry in TOLLGATE_CONFIG; \
                     give the secret once",
                ));
            }
            [only] => only.hmac_secret = Some(secret),
            several => {
                return Err(ConfigError::new(
                    "JWT_HMAC_SECRET",
                    format!(
                        "applies only when exactly one issuer is configured ({} are); give the \
                         issuer that signs with a shared secret its own hmac_secret on its \
                         [[issuers]] entry in TOLLGATE_CONFIG",
                        several.len()
                    ),
                ));
            }
        }
    }
    let algorithms_set = match get("JWT_ALGORITHMS") {
        Some(v) => {
            config.algorithms = split_list("JWT_ALGORITHMS", &v)?
                .iter()
                .map(|name| parse_algorithm_name("JWT_ALGORITHMS", name))
                .collect::<Result<_, _>>()?;
            true
        }
        None => false,
    };
    if let Some(v) = get("TOKEN_SOURCE") {
        config.token_sources = Some(
            split_list("TOKEN_SOURCE", &v)?
                .iter()
                .map(|s| parse_token_source("TOKEN_SOURCE", s))
                .collect::<Result<_, _>>()?,
        );
    }
    if let Some(v) = get("HTTP_API_SIMPLE_RESPONSES") {
        config.http_api_simple_responses = parse_bool("HTTP_API_SIMPLE_RESPONSES", &v)?;
    }
    apply_revocation(get, config)?;
    if let Some(v) = get("TOLLGATE_VERIFIED_TOKENS") {
        config.verified_tokens =
            parse_bounded("TOLLGATE_VERIFIED_TOKENS", &v, 0..=100_000)? as usize;
    }
    if let Some(v) = get("TOLLGATE_CORS_ALLOW_ORIGINS") {
        config.cors =
            crate::cors::CorsSettings::new(split_list("TOLLGATE_CORS_ALLOW_ORIGINS", &v)?)
                .map_err(|p| ConfigError::new("TOLLGATE_CORS_ALLOW_ORIGINS", p.to_string()))?;
    }
    if let Some(v) = get("TOLLGATE_AUTHORIZER_CACHE") {
        config.authorizer_cache = Some(
            v.parse::<CacheScope>()
                .map_err(|p| ConfigError::new("TOLLGATE_AUTHORIZER_CACHE", p.to_string()))?,
        );
    }
    if let Some(v) = get("TOLLGATE_ROUTE_TABLE") {
        config.route_table = v
            .parse()
            .map_err(|p: UnknownSetting| ConfigError::new("TOLLGATE_ROUTE_TABLE", p.to_string()))?;
    }
    if let Some(v) = get("REQUIRED_SCOPES") {
        config.required_scopes = split_list("REQUIRED_SCOPES", &v)?;
    }
    if let Some(v) = get("REQUIRED_GROUPS") {
        config.required_groups = split_list("REQUIRED_GROUPS", &v)?;
    }
    Ok(algorithms_set)
}

/// `JWT_ISSUER` (with `JWT_AUDIENCE`, `JWKS_URI`, `JWT_TOKEN_USE`) defines the issuers when the
/// file does not; setting both is refused rather than merged.
fn apply_issuers(
    get: &impl Fn(&str) -> Option<String>,
    config: &mut Config,
) -> Result<(), ConfigError> {
    let Some(issuers) = get("JWT_ISSUER") else {
        if config.issuers.is_empty() {
            return Err(ConfigError::new("JWT_ISSUER", "not set (required)"));
        }
        for name in ["JWT_AUDIENCE", "JWKS_URI", "JWT_TOKEN_USE"] {
            if get(name).is_some() {
                return Err(ConfigError::new(
                    config_setting(name),
                    "only applies with JWT_ISSUER; set it per issuer in TOLLGATE_CONFIG instead",
                ));
            }
        }
        return Ok(());
    };
    if !config.issuers.is_empty() {
        return Err(ConfigError::new(
            "JWT_ISSUER",
            "set together with [[issuers]] in TOLLGATE_CONFIG; define the issuers in one place",
        ));
    }
    let audiences = match get("JWT_AUDIENCE") {
        Some(v) => split_list("JWT_AUDIENCE", &v)?,
        None => return Err(ConfigError::new("JWT_AUDIENCE", "not set (required)")),
    };
    let jwks = match get("JWKS_URI") {
        Some(uri) => parse_jwks_uri("JWKS_URI", uri.trim())?,
        None => JwksSource {
            seed: None,
            remote: Some(Remote::Discovery),
        },
    };
    let jwks_setting = SettingRef {
        setting: if get("JWKS_URI").is_some() {
            "JWKS_URI"
        } else {
            "JWT_ISSUER"
        },
        location: None,
    };
    let token_use = get("JWT_TOKEN_USE")
        .map(|v| parse_token_use("JWT_TOKEN_USE", &v))
        .transpose()?;
    for issuer in split_list("JWT_ISSUER", &issuers)? {
        check_issuer("JWT_ISSUER", &issuer)?;
        config.issuers.push(IssuerConfig {
            issuer,
            audiences: audiences.clone(),
            jwks: jwks.clone(),
            jwks_setting: jwks_setting.clone(),
            token_use,
            hmac_secret: None,
        });
    }
    Ok(())
}

fn config_setting(name: &str) -> &'static str {
    match name {
        "JWT_AUDIENCE" => "JWT_AUDIENCE",
        "JWKS_URI" => "JWKS_URI",
        _ => "JWT_TOKEN_USE",
    }
}

/// `TOLLGATE_REVOCATION_TABLE` turns the revocation list on; its tuning variables without it
/// are an error (a setting that does nothing is a mistake someone believes in).
fn apply_revocation(
    get: &impl Fn(&str) -> Option<String>,
    config: &mut Config,
) -> Result<(), ConfigError> {
    const TUNING: [&str; 3] = [
        "TOLLGATE_REVOCATION_REFRESH_SECONDS",
        "TOLLGATE_REVOCATION_MAX_STALE_SECONDS",
        "TOLLGATE_REVOCATION_MAX_ENTRIES",
    ];
    let Some(table) = get("TOLLGATE_REVOCATION_TABLE") else {
        if let Some(setting) = TUNING.into_iter().find(|s| get(s).is_some()) {
            return Err(ConfigError::new(
                setting,
                "is set, but TOLLGATE_REVOCATION_TABLE is not: revocation is off",
            ));
        }
        return Ok(());
    };
    let table = table.trim();
    if !crate::revocation::table::valid_table_name(table) {
        return Err(ConfigError::new(
            "TOLLGATE_REVOCATION_TABLE",
            "is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .)",
        ));
    }
    let mut settings = RevocationSettings::for_table(table);
    if let Some(v) = get(TUNING[0]) {
        settings.refresh = Duration::from_secs(parse_bounded(TUNING[0], &v, 1..=300)?);
    }
    if let Some(v) = get(TUNING[1]) {
        settings.max_stale = Duration::from_secs(parse_bounded(TUNING[1], &v, 1..=86_400)?);
    }
    if let Some(v) = get(TUNING[2]) {
        settings.max_entries = parse_bounded(TUNING[2], &v, 1..=10_000_000)? as usize;
    }
    if settings.max_stale < settings.refresh {
        return Err(ConfigError::new(
            TUNING[1],
            format!(
                "is shorter than the refresh interval ({} s): the list would go stale between reads",
                settings.refresh.as_secs()
            ),
        ));
    }
    config.revocation = Some(settings);
    Ok(())
}

fn parse_bounded(setting: &'static str, value: &str, bounds: Bounds) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if bounds.contains(&n) => Ok(n),
        _ => Err(ConfigError::new(
            setting,
            format!(
                "{value:?} is not a whole number from {} to {}",
                bounds.start(),
                bounds.end()
            ),
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
