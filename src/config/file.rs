//! The TOML configuration file named by `TOLLGATE_CONFIG`: several issuers, inline or file
//! JWKS, cache tuning. Unknown keys are refused, so a typo fails start-up instead of being
//! silently ignored. Relative paths are relative to the file's directory.
//!
//! ```toml
//! leeway_seconds = 5
//!
//! [jwks]
//! refetch_cooldown_seconds = 10
//!
//! [[issuers]]
//! issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
//! audiences = ["7abc1example"]
//! token_use = "access"
//! jwks_uri = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
//! jwks_file = "jwks-snapshot.json"   # cold start from this file, refresh from jwks_uri
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::access::RouteRule;
use crate::pricing::{Plans, parse_price};
use crate::routes::RoutePattern;

use super::{
    CachePolicy, Config, ConfigError, IssuerConfig, JwksSource, LEEWAY_SECONDS, MAX_TOKEN_BYTES,
    Remote, Seed, SettingRef, check_issuer, check_range, hmac_secret, list_item,
    parse_algorithm_name, parse_jwks_uri, parse_token_source, parse_token_use,
};

const SETTING: &str = "TOLLGATE_CONFIG";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    leeway_seconds: Option<u64>,
    max_token_bytes: Option<u64>,
    algorithms: Option<Vec<String>>,
    token_sources: Option<Vec<String>>,
    http_api_simple_responses: Option<bool>,
    authorizer_cache: Option<String>,
    route_table: Option<String>,
    required_scopes: Option<Vec<String>>,
    required_groups: Option<Vec<String>>,
    jwks: Option<FileCache>,
    #[serde(default)]
    issuers: Vec<FileIssuer>,
    plans: Option<FilePlans>,
    context: Option<FileContext>,
    #[serde(default)]
    routes: Vec<FileRoute>,
    cors: Option<FileCors>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCors {
    allow_origins: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FilePlans {
    names: Option<Vec<String>>,
    default: Option<String>,
    claim: Option<String>,
    group_prefix: Option<String>,
    #[serde(default)]
    usage_keys: HashMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileContext {
    tenant_claim: Option<String>,
    usage_key_claim: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    route: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    price: Option<toml::Value>,
    #[serde(default)]
    prices: HashMap<String, toml::Value>,
    #[serde(default)]
    closed: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileIssuer {
    issuer: String,
    audiences: Vec<String>,
    jwks_uri: Option<String>,
    jwks_file: Option<String>,
    jwks_inline: Option<String>,
    token_use: Option<String>,
    hmac_secret: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCache {
    default_ttl_seconds: Option<u64>,
    min_ttl_seconds: Option<u64>,
    max_ttl_seconds: Option<u64>,
    refetch_cooldown_seconds: Option<u64>,
    retry_after_failure_seconds: Option<u64>,
    max_stale_seconds: Option<u64>,
    connect_timeout_ms: Option<u64>,
    timeout_ms: Option<u64>,
    max_bytes: Option<u64>,
}

fn error(path: &Path, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::new(SETTING, format!("{}: {problem}", path.display()))
}

fn read(path: &Path) -> Result<FileConfig, ConfigError> {
    let text =
        std::fs::read_to_string(path).map_err(|e| error(path, format!("cannot read: {e}")))?;
    toml::from_str(&text).map_err(|e| error(path, e.message()))
}

/// Reads only the route rules and plans of a configuration file (for `tollgate usage-report
/// --pricing`); issuers and the rest are not needed there.
pub fn pricing(path: &Path) -> Result<(Vec<RouteRule>, Plans), ConfigError> {
    let file = read(path)?;
    let plans = plans(file.plans).map_err(|p| error(path, format!("[plans] {}", p.problem)))?;
    let routes = routes(file.routes, &plans).map_err(|p| error(path, p.problem))?;
    Ok((routes, plans))
}

/// Reads the file and applies it to `config`. Returns whether it set `algorithms`.
pub(crate) fn apply(path: PathBuf, config: &mut Config) -> Result<bool, ConfigError> {
    let file = read(&path)?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let in_file = |problem: ConfigError| error(&path, problem.problem);

    if let Some(v) = file.leeway_seconds {
        config.leeway_seconds =
            check_range(SETTING, "leeway_seconds = ", v, LEEWAY_SECONDS).map_err(in_file)?;
    }
    if let Some(v) = file.max_token_bytes {
        config.max_token_bytes = check_range(SETTING, "max_token_bytes = ", v, MAX_TOKEN_BYTES)
            .map_err(in_file)? as usize;
    }
    let algorithms_set = file.algorithms.is_some();
    if let Some(names) = file.algorithms {
        config.algorithms = names
            .iter()
            .map(|n| parse_algorithm_name(SETTING, n).map_err(in_file))
            .collect::<Result<_, _>>()?;
    }
    if let Some(sources) = file.token_sources {
        config.token_sources = Some(
            sources
                .iter()
                .map(|s| parse_token_source(SETTING, s).map_err(in_file))
                .collect::<Result<_, _>>()?,
        );
    }
    if let Some(v) = file.http_api_simple_responses {
        config.http_api_simple_responses = v;
    }
    if let Some(v) = file.authorizer_cache {
        config.authorizer_cache = Some(
            v.parse()
                .map_err(|p| error(&path, format!("authorizer_cache: {p}")))?,
        );
    }
    if let Some(v) = file.route_table {
        config.route_table = v
            .parse()
            .map_err(|p| error(&path, format!("route_table: {p}")))?;
    }
    if let Some(v) = file.required_scopes {
        config.required_scopes = v
            .iter()
            .map(|s| list_item(SETTING, s).map_err(in_file))
            .collect::<Result<_, _>>()?;
    }
    if let Some(v) = file.required_groups {
        config.required_groups = v
            .iter()
            .map(|s| list_item(SETTING, s).map_err(in_file))
            .collect::<Result<_, _>>()?;
    }
    if let Some(cache) = file.jwks {
        config.jwks_cache =
            cache_policy(cache).map_err(|p| error(&path, format!("[jwks] {}", p.problem)))?;
    }
    config.plans = plans(file.plans).map_err(|p| error(&path, format!("[plans] {}", p.problem)))?;
    config.routes = routes(file.routes, &config.plans).map_err(|p| error(&path, p.problem))?;
    if let Some(cors) = file.cors {
        config.cors = crate::cors::CorsSettings::new(&cors.allow_origins)
            .map_err(|p| error(&path, format!("[cors] allow_origins {p}")))?;
    }
    if let Some(context) = file.context {
        config.tenant_claim = context.tenant_claim;
        config.usage_key_claim = context.usage_key_claim;
    }
    for (index, issuer) in file.issuers.into_iter().enumerate() {
        let parsed = issuer_config(
            issuer,
            &base,
            &format!("{}: issuers[{index}]", path.display()),
        )
        .map_err(|p| error(&path, format!("issuers[{index}]: {}", p.problem)))?;
        if config.issuers.iter().any(|i| i.issuer == parsed.issuer) {
            return Err(error(
                &path,
                format!(
                    "issuers[{index}]: issuer {:?} is listed twice",
                    crate::log::redact_url(&parsed.issuer)
                ),
            ));
        }
        config.issuers.push(parsed);
    }
    Ok(algorithms_set)
}

/// One `[[issuers]]` entry; `at` names it (`FILE: issuers[N]`) for start-up errors about its
/// JWKS.
fn issuer_config(issuer: FileIssuer, base: &Path, at: &str) -> Result<IssuerConfig, ConfigError> {
    let jwks_key = match (&issuer.jwks_file, &issuer.jwks_inline, &issuer.jwks_uri) {
        (Some(_), _, _) => "jwks_file",
        (None, Some(_), _) => "jwks_inline",
        (None, None, Some(_)) => "jwks_uri",
        (None, None, None) => "issuer",
    };
    let jwks_setting = SettingRef {
        setting: SETTING,
        location: Some(format!("{at}.{jwks_key}")),
    };
    check_issuer(SETTING, &issuer.issuer)?;
    if issuer.audiences.is_empty() {
        return Err(ConfigError::new(
            SETTING,
            "audiences is empty; list the accepted client ids",
        ));
    }
    let audiences = issuer
        .audiences
        .iter()
        .map(|a| list_item(SETTING, a))
        .collect::<Result<_, _>>()?;
    let seed = match (issuer.jwks_file, issuer.jwks_inline) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                SETTING,
                "jwks_file and jwks_inline are both set; give one",
            ));
        }
        (Some(file), None) => Some(Seed::File(base.join(file))),
        (None, Some(inline)) => Some(Seed::Inline(inline)),
        (None, None) => None,
    };
    let jwks = match (issuer.jwks_uri, seed) {
        (Some(uri), seed) => {
            let from_uri =
                parse_jwks_uri(SETTING, uri.trim()).map_err(|e| e.prefixed("jwks_uri: "))?;
            match (from_uri.seed, seed) {
                (Some(_), Some(_)) => {
                    return Err(ConfigError::new(
                        SETTING,
                        "jwks_uri is a file:// URI and a jwks_file or jwks_inline is also set",
                    ));
                }
                (Some(Seed::File(p)), None) => JwksSource {
                    seed: Some(Seed::File(base.join(p))),
                    remote: None,
                },
                (uri_seed, seed) => JwksSource {
                    seed: seed.or(uri_seed),
                    remote: from_uri.remote,
                },
            }
        }
        (None, Some(seed)) => JwksSource {
            seed: Some(seed),
            remote: None,
        },
        (None, None) => JwksSource {
            seed: None,
            remote: Some(Remote::Discovery),
        },
    };
    let token_use = issuer
        .token_use
        .map(|t| parse_token_use(SETTING, &t).map_err(|e| e.prefixed("token_use: ")))
        .transpose()?;
    let hmac_secret = match issuer.hmac_secret {
        Some(secret) => Some(
            hmac_secret(secret)
                .map_err(|e| ConfigError::new(SETTING, format!("hmac_secret {e}")))?,
        ),
        None => None,
    };
    Ok(IssuerConfig {
        issuer: issuer.issuer,
        audiences,
        jwks,
        jwks_setting,
        token_use,
        hmac_secret,
    })
}

fn cache_policy(file: FileCache) -> Result<CachePolicy, ConfigError> {
    let d = CachePolicy::default();
    let secs = |v: Option<u64>,
                name: &str,
                default: Duration,
                min: u64,
                max: u64|
     -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) => {
                check_range(SETTING, &format!("{name} = "), v, min..=max).map(Duration::from_secs)
            }
        }
    };
    let millis = |v: Option<u64>, name: &str, default: Duration| -> Result<Duration, ConfigError> {
        match v {
            None => Ok(default),
            Some(v) => check_range(SETTING, &format!("{name} = "), v, 1..=30_000)
                .map(Duration::from_millis),
        }
    };
    let policy = CachePolicy {
        default_ttl: secs(
            file.default_ttl_seconds,
            "default_ttl_seconds",
            d.default_ttl,
            1,
            7 * 86_400,
        )?,
        min_ttl: secs(
            file.min_ttl_seconds,
            "min_ttl_seconds",
            d.min_ttl,
            1,
            7 * 86_400,
        )?,
        max_ttl: secs(
            file.max_ttl_seconds,
            "max_ttl_seconds",
            d.max_ttl,
            1,
            7 * 86_400,
        )?,
        refetch_cooldown: secs(
            file.refetch_cooldown_seconds,
            "refetch_cooldown_seconds",
            d.refetch_cooldown,
            1,
            3600,
        )?,
        retry_after_failure: secs(
            file.retry_after_failure_seconds,
            "retry_after_failure_seconds",
            d.retry_after_failure,
            0,
            300,
        )?,
        max_stale: secs(
            file.max_stale_seconds,
            "max_stale_seconds",
            d.max_stale,
            0,
            7 * 86_400,
        )?,
        connect_timeout: millis(
            file.connect_timeout_ms,
            "connect_timeout_ms",
            d.connect_timeout,
        )?,
        timeout: millis(file.timeout_ms, "timeout_ms", d.timeout)?,
        max_bytes: match file.max_bytes {
            None => d.max_bytes,
            Some(v) => check_range(SETTING, "max_bytes = ", v, 1024..=4 * 1024 * 1024)? as usize,
        },
    };
    if !(policy.min_ttl <= policy.default_ttl && policy.default_ttl <= policy.max_ttl) {
        return Err(ConfigError::new(
            SETTING,
            "min_ttl_seconds <= default_ttl_seconds <= max_ttl_seconds does not hold",
        ));
    }
    if policy.connect_timeout > policy.timeout {
        return Err(ConfigError::new(
            SETTING,
            "connect_timeout_ms is longer than timeout_ms",
        ));
    }
    Ok(policy)
}

fn plans(file: Option<FilePlans>) -> Result<Plans, ConfigError> {
    let Some(file) = file else {
        return Ok(Plans::default());
    };
    let default = file.default.unwrap_or_else(|| Plans::default().default);
    let names = file.names.unwrap_or_else(|| vec![default.clone()]);
    for name in &names {
        list_item(SETTING, name).map_err(|e| e.prefixed("names: "))?;
    }
    if names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n))
    {
        return Err(ConfigError::new(SETTING, "names lists a plan twice"));
    }
    if !names.contains(&default) {
        return Err(ConfigError::new(
            SETTING,
            format!("default plan {default:?} is not in names {names:?}"),
        ));
    }
    for plan in file.usage_keys.keys() {
        if !names.contains(plan) {
            return Err(ConfigError::new(
                SETTING,
                format!("usage_keys: plan {plan:?} is not in names {names:?}"),
            ));
        }
    }
    Ok(Plans {
        names,
        default,
        claim: file.claim,
        group_prefix: file.group_prefix,
        usage_keys: file.usage_keys,
    })
}

fn price(value: &toml::Value) -> Result<u64, ConfigError> {
    let problem = |p: String| ConfigError::new(SETTING, p);
    match value {
        toml::Value::String(text) => parse_price(text).map_err(|e| problem(e.to_string())),
        toml::Value::Integer(n) if *n < 0 => Err(problem(format!("{n} is negative"))),
        toml::Value::Integer(n) => parse_price(&n.to_string()).map_err(|e| problem(e.to_string())),
        toml::Value::Float(f) if *f < 0.0 => Err(problem(format!("{f} is negative"))),
        toml::Value::Float(f) if f.is_finite() => {
            parse_price(&format!("{f:.6}")).map_err(|e| problem(e.to_string()))
        }
        other => Err(problem(format!("{other} is not an amount like \"0.10\""))),
    }
}

fn routes(file: Vec<FileRoute>, plans: &Plans) -> Result<Vec<RouteRule>, ConfigError> {
    let mut rules: Vec<RouteRule> = Vec::new();
    for (index, route) in file.into_iter().enumerate() {
        let at = |p: String| ConfigError::new(SETTING, format!("routes[{index}]: {p}"));
        let pattern = RoutePattern::parse(&route.route).map_err(|e| at(e.to_string()))?;
        if let Some(earlier) = rules.iter().position(|r| r.pattern.same_shape(&pattern)) {
            return Err(at(format!(
                "{:?} matches the same requests as routes[{earlier}] {:?}; no rule would win",
                pattern.as_str(),
                rules[earlier].pattern.as_str()
            )));
        }
        if route.closed && !(route.scopes.is_empty() && route.groups.is_empty()) {
            return Err(at(
                "closed = true means no caller may call it; it takes no scopes or groups".into(),
            ));
        }
        for item in route.scopes.iter().chain(&route.groups) {
            list_item(SETTING, item).map_err(|e| at(format!("scopes/groups: {}", e.problem)))?;
        }
        let base = match &route.price {
            Some(v) => price(v).map_err(|p| at(format!("price: {}", p.problem)))?,
            None => 0,
        };
        let mut plan_prices = HashMap::new();
        for (plan, value) in &route.prices {
            if !plans.names.contains(plan) {
                return Err(at(format!(
                    "prices: plan {plan:?} is not in [plans] names {:?}",
                    plans.names
                )));
            }
            plan_prices.insert(
                plan.clone(),
                price(value).map_err(|p| at(format!("prices.{plan}: {}", p.problem)))?,
            );
        }
        rules.push(RouteRule {
            closed: route.closed,
            pattern,
            scopes: route.scopes,
            groups: route.groups,
            price_micros: base,
            plan_prices,
        });
    }
    Ok(rules)
}
