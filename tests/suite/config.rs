//! Start-up fails on bad configuration, with a message naming the setting and the problem.

use crate::common;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use tollgate::config::{Config, ConfigError, JwksSource, Remote, Seed, TokenUse};
use tollgate::handler::Authorizer;

/// The development environment with overrides (an empty value removes the variable), plus an
/// optional configuration file written to a fresh temporary directory.
fn config_from(overrides: &[(&str, &str)], file: Option<&str>) -> Result<Config, ConfigError> {
    let mut vars: HashMap<String, String> = dev_env()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for (k, v) in overrides {
        if v.is_empty() {
            vars.remove(*k);
        } else {
            vars.insert(k.to_string(), v.to_string());
        }
    }
    if let Some(text) = file {
        let path = temp_dir().join("tollgate.toml");
        std::fs::write(&path, text).expect("write config file");
        vars.insert("TOLLGATE_CONFIG".into(), path.display().to_string());
    }
    Config::from_lookup(|name| vars.get(name).cloned())
}

fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tollgate-config-test-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn error_for(overrides: &[(&str, &str)]) -> String {
    config_from(overrides, None)
        .expect_err("configuration must be refused")
        .to_string()
}

/// The error for a configuration file, with the file's path replaced by `FILE`.
fn file_error(overrides: &[(&str, &str)], file: &str) -> String {
    let err = config_from(overrides, Some(file))
        .expect_err("configuration must be refused")
        .to_string();
    let start = err.find('/').unwrap_or(0);
    let end = err
        .find("tollgate.toml")
        .map(|i| i + "tollgate.toml".len())
        .unwrap_or(0);
    format!("{}FILE{}", &err[..start], &err[end..])
}

const ISSUERS_ONLY_IN_FILE: [(&str, &str); 3] =
    [("JWT_ISSUER", ""), ("JWT_AUDIENCE", ""), ("JWKS_URI", "")];

#[test]
fn missing_issuer_is_refused() {
    assert_eq!(
        error_for(&[("JWT_ISSUER", "")]),
        "JWT_ISSUER: not set (required)"
    );
}

#[test]
fn issuer_that_is_not_a_url_is_refused() {
    assert_eq!(
        error_for(&[("JWT_ISSUER", "us-east-1_AbCdEf")]),
        "JWT_ISSUER: \"us-east-1_AbCdEf\" is not an http(s) URL; use the exact `iss` of the tokens"
    );
}

#[test]
fn empty_list_entry_is_refused() {
    assert_eq!(
        error_for(&[("JWT_ISSUER", "https://a.example,,https://b.example")]),
        "JWT_ISSUER: has an empty entry in its comma-separated list"
    );
}

#[test]
fn missing_audience_is_refused() {
    assert_eq!(
        error_for(&[("JWT_AUDIENCE", "")]),
        "JWT_AUDIENCE: not set (required)"
    );
}

#[test]
fn missing_jwks_uri_means_oidc_discovery() {
    let config = config_from(&[("JWKS_URI", "")], None).expect("valid");
    assert_eq!(
        config.issuers[0].jwks,
        JwksSource {
            seed: None,
            remote: Some(Remote::Discovery)
        }
    );
}

#[test]
fn jwks_uri_with_another_scheme_is_refused() {
    assert_eq!(
        error_for(&[("JWKS_URI", "ftp://keys.example/jwks.json")]),
        "JWKS_URI: \"ftp://keys.example/jwks.json\" is not an https://, http:// or file:// URI"
    );
}

#[test]
fn jwks_uri_without_host_is_refused() {
    assert_eq!(
        error_for(&[("JWKS_URI", "https:///jwks.json")]),
        "JWKS_URI: \"https:///jwks.json\" has no host"
    );
}

#[test]
fn jwks_uri_credentials_are_redacted_in_the_error() {
    assert_eq!(
        error_for(&[(
            "JWKS_URI",
            "ftp://reader:secret@keys.example/jwks?api_key=k"
        )]),
        "JWKS_URI: \"ftp://***@keys.example/jwks?***\" is not an https://, http:// or file:// URI"
    );
}

#[test]
fn leeway_out_of_range_is_refused() {
    assert_eq!(
        error_for(&[("JWT_LEEWAY_SECONDS", "3600")]),
        "JWT_LEEWAY_SECONDS: \"3600\" is not a whole number from 0 to 300"
    );
}

#[test]
fn negative_leeway_is_refused() {
    assert_eq!(
        error_for(&[("JWT_LEEWAY_SECONDS", "-5")]),
        "JWT_LEEWAY_SECONDS: \"-5\" is not a whole number from 0 to 300"
    );
}

#[test]
fn token_cap_out_of_range_is_refused() {
    assert_eq!(
        error_for(&[("JWT_MAX_TOKEN_BYTES", "10")]),
        "JWT_MAX_TOKEN_BYTES: \"10\" is not a whole number from 256 to 65536"
    );
}

#[test]
fn unknown_token_use_is_refused() {
    assert_eq!(
        error_for(&[("JWT_TOKEN_USE", "refresh")]),
        "JWT_TOKEN_USE: \"refresh\" is not `id` or `access`"
    );
}

#[test]
fn alg_none_is_refused_in_the_allow_list() {
    assert_eq!(
        error_for(&[("JWT_ALGORITHMS", "RS256,none")]),
        "JWT_ALGORITHMS: \"none\" is not a supported JWS algorithm (`none` never is)"
    );
}

#[test]
fn hs256_without_a_secret_is_refused() {
    assert_eq!(
        error_for(&[("JWT_ALGORITHMS", "HS256")]),
        "JWT_ALGORITHMS: HS256 needs a shared secret in JWT_HMAC_SECRET or an issuer's hmac_secret"
    );
}

#[test]
fn short_hmac_secret_is_refused() {
    assert_eq!(
        error_for(&[("JWT_HMAC_SECRET", "short")]),
        "JWT_HMAC_SECRET: must be at least 32 bytes long"
    );
}

const SECRET_32: &str = "a-development-secret-of-32-bytes!";

#[test]
fn hmac_secret_variable_with_several_issuers_is_refused() {
    assert_eq!(
        error_for(&[
            ("JWT_ISSUER", "https://a.example,https://b.example"),
            ("JWT_HMAC_SECRET", SECRET_32),
        ]),
        "JWT_HMAC_SECRET: applies only when exactly one issuer is configured (2 are); \
         give the issuer that signs with a shared secret its own hmac_secret on its \
         [[issuers]] entry in TOLLGATE_CONFIG"
    );
}

#[test]
fn hmac_secret_variable_with_several_file_issuers_is_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n\
                [[issuers]]\nissuer = \"https://b.example\"\naudiences = [\"y\"]\n";
    let mut overrides = ISSUERS_ONLY_IN_FILE.to_vec();
    overrides.push(("JWT_HMAC_SECRET", SECRET_32));
    let err = config_from(&overrides, Some(file)).expect_err("refused");
    assert_eq!(err.setting, "JWT_HMAC_SECRET");
    assert!(
        err.problem.contains("hmac_secret on its [[issuers]] entry"),
        "{err}"
    );
}

#[test]
fn issuers_hmac_secret_belongs_to_that_issuer_alone() {
    let file = format!(
        "[[issuers]]\nissuer = \"https://internal.example\"\naudiences = [\"x\"]\n\
         hmac_secret = \"{SECRET_32}\"\n\
         [[issuers]]\nissuer = \"https://b.example\"\naudiences = [\"y\"]\n"
    );
    let config = config_from(&ISSUERS_ONLY_IN_FILE, Some(&file)).expect("valid");
    assert!(config.issuers[0].hmac_secret.is_some());
    assert!(config.issuers[1].hmac_secret.is_none());
    assert!(config.algorithms.contains(&jsonwebtoken::Algorithm::HS256));
}

#[test]
fn hmac_secret_in_both_the_variable_and_the_file_is_refused() {
    let file = format!(
        "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\nhmac_secret = \"{SECRET_32}\"\n"
    );
    let mut overrides = ISSUERS_ONLY_IN_FILE.to_vec();
    overrides.push(("JWT_HMAC_SECRET", SECRET_32));
    let err = config_from(&overrides, Some(&file)).expect_err("refused");
    assert_eq!(err.setting, "JWT_HMAC_SECRET");
    assert!(err.problem.contains("hmac_secret"), "{err}");
}

#[test]
fn short_issuer_hmac_secret_is_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\nhmac_secret = \"short\"\n";
    assert_eq!(
        file_error(&ISSUERS_ONLY_IN_FILE, file),
        "TOLLGATE_CONFIG: FILE: issuers[0]: hmac_secret must be at least 32 bytes long"
    );
}

#[test]
fn bad_token_source_is_refused() {
    assert_eq!(
        error_for(&[("TOKEN_SOURCE", "body:token")]),
        "TOKEN_SOURCE: \"body\" is not header, query or cookie"
    );
}

#[test]
fn bad_simple_responses_flag_is_refused() {
    assert_eq!(
        error_for(&[("HTTP_API_SIMPLE_RESPONSES", "maybe")]),
        "HTTP_API_SIMPLE_RESPONSES: \"maybe\" is not true or false"
    );
}

#[test]
fn required_scope_list_with_whitespace_is_refused() {
    assert_eq!(
        error_for(&[("REQUIRED_SCOPES", "api/read, api write")]),
        "REQUIRED_SCOPES: entry \"api write\" contains whitespace"
    );
}

#[test]
fn cli_exits_64_and_names_the_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "events/rest-token.allow.json"])
        .current_dir(repo_path(""))
        .env_clear()
        .env("JWT_ISSUER", ISSUER)
        .env("JWKS_URI", "file://events/jwks.json")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tollgate: configuration error: JWT_AUDIENCE: not set (required)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn lambda_mode_stops_init_on_bad_configuration() {
    // The runtime API address is never contacted: init fails first.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWKS_URI", "gopher://keys")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "tollgate: configuration error: JWKS_URI: \"gopher://keys\" is not an https://, http:// or file:// URI\n"
    );
}

// A local JWKS with no remote to fall back on must load at start-up

#[test]
fn unreadable_jwks_file_is_refused_at_start_up() {
    let config = config_from(&[("JWKS_URI", "file:///nonexistent/jwks.json")], None)
        .expect("the setting itself is well-formed");
    let err = Authorizer::new(&config).err().expect("start-up must fail");
    assert_eq!(err.setting, "JWKS_URI");
    assert!(
        err.problem
            .starts_with("cannot read /nonexistent/jwks.json: "),
        "{err}"
    );
}

#[test]
fn jwks_file_or_inline_without_a_usable_key_is_refused_at_start_up() {
    let logs = tollgate::log::Capture::start();
    let dir = temp_dir();
    std::fs::write(dir.join("empty.json"), r#"{"keys":[]}"#).expect("write");
    for (setting, value) in [
        (
            "jwks_file",
            format!("{:?}", dir.join("empty.json").display().to_string()),
        ),
        (
            "jwks_inline",
            "'{\"keys\":[{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"c2VjcmV0\"}]}'".to_string(),
        ),
    ] {
        let file = format!(
            "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n{setting} = {value}\n"
        );
        let config = config_from(&ISSUERS_ONLY_IN_FILE, Some(&file)).expect("well-formed file");
        let err = Authorizer::new(&config).err().expect("start-up must fail");
        assert_eq!(err.setting, "TOLLGATE_CONFIG", "{setting}");
        assert!(
            err.problem
                .contains(&format!("tollgate.toml: issuers[0].{setting}: ")),
            "{err}"
        );
        assert!(err.problem.contains("no usable signing key"), "{err}");
    }
    // The inline JWKS's symmetric key was skipped with a log line saying why.
    assert_eq!(logs.events(), ["jwks_key_skipped"], "{}", logs.text());
}

#[test]
fn cli_exits_64_when_the_jwks_file_cannot_be_read() {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "events/rest-token.allow.json"])
        .current_dir(repo_path(""))
        .env_clear()
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWKS_URI", "file://no-such-dir/jwks.json")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "tollgate: configuration error: JWKS_URI: cannot read no-such-dir/jwks.json: "
        ),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn lambda_mode_stops_init_when_the_jwks_file_cannot_be_read() {
    // The runtime API address is never contacted: init fails first.
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("JWT_ISSUER", ISSUER)
        .env("JWT_AUDIENCE", AUDIENCE)
        .env("JWKS_URI", "file:///nonexistent/jwks.json")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "tollgate: configuration error: JWKS_URI: cannot read /nonexistent/jwks.json: "
        ),
        "{stderr}"
    );
}

// The TOML file named by TOLLGATE_CONFIG

#[test]
fn file_with_two_issuers_routes_each_to_its_own_jwks() {
    let config = config_from(
        &ISSUERS_ONLY_IN_FILE,
        Some(
            r#"
leeway_seconds = 30

[jwks]
refetch_cooldown_seconds = 20
max_stale_seconds = 600

[[issuers]]
issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123"
audiences = ["client-a", "client-b"]
token_use = "access"
jwks_uri = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
jwks_file = "snapshot.json"

[[issuers]]
issuer = "https://login.example.com/"
audiences = ["api://orders"]
"#,
        ),
    )
    .expect("valid file");
    assert_eq!(config.leeway_seconds, 30);
    assert_eq!(config.jwks_cache.refetch_cooldown, Duration::from_secs(20));
    assert_eq!(config.jwks_cache.max_stale, Duration::from_secs(600));
    let first = &config.issuers[0];
    assert_eq!(first.audiences, vec!["client-a", "client-b"]);
    assert_eq!(first.token_use, Some(TokenUse::Access));
    assert_eq!(
        first.jwks.remote,
        Some(Remote::Url(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbCdEf123/.well-known/jwks.json"
                .into()
        ))
    );
    match &first.jwks.seed {
        Some(Seed::File(path)) => assert!(
            path.is_absolute() && path.ends_with("snapshot.json"),
            "{path:?}"
        ),
        other => panic!("expected a file seed, got {other:?}"),
    }
    assert_eq!(
        config.issuers[1].jwks,
        JwksSource {
            seed: None,
            remote: Some(Remote::Discovery)
        }
    );
}

#[test]
fn environment_overrides_the_files_scalar_settings() {
    let file =
        "leeway_seconds = 30\n[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n";
    let config = config_from(
        &[
            ("JWT_ISSUER", ""),
            ("JWT_AUDIENCE", ""),
            ("JWKS_URI", ""),
            ("JWT_LEEWAY_SECONDS", "7"),
        ],
        Some(file),
    )
    .expect("valid");
    assert_eq!(config.leeway_seconds, 7);
}

#[test]
fn file_without_issuers_takes_them_from_the_environment() {
    let config = config_from(&[], Some("leeway_seconds = 10\n")).expect("valid");
    assert_eq!(config.issuers[0].issuer, ISSUER);
    assert_eq!(config.leeway_seconds, 10);
}

#[test]
fn issuers_in_both_file_and_environment_are_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n";
    assert_eq!(
        config_from(&[], Some(file))
            .expect_err("refused")
            .to_string(),
        "JWT_ISSUER: set together with [[issuers]] in TOLLGATE_CONFIG; define the issuers in one place"
    );
}

#[test]
fn audience_variable_without_env_issuer_is_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n";
    assert_eq!(
        config_from(&[("JWT_ISSUER", ""), ("JWKS_URI", "")], Some(file))
            .expect_err("refused")
            .to_string(),
        "JWT_AUDIENCE: only applies with JWT_ISSUER; set it per issuer in TOLLGATE_CONFIG instead"
    );
}

#[test]
fn missing_file_is_refused() {
    let err = config_from(&[("TOLLGATE_CONFIG", "/nonexistent/tollgate.toml")], None)
        .expect_err("refused");
    assert_eq!(
        err.to_string(),
        "TOLLGATE_CONFIG: /nonexistent/tollgate.toml: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn unknown_key_in_file_is_refused() {
    assert_eq!(
        file_error(&[], "leway_seconds = 5\n"),
        "TOLLGATE_CONFIG: FILE: unknown field `leway_seconds`, expected one of `leeway_seconds`, `max_token_bytes`, `algorithms`, `token_sources`, `http_api_simple_responses`, `authorizer_cache`, `route_table`, `required_scopes`, `required_groups`, `jwks`, `issuers`, `plans`, `context`, `routes`, `cors`"
    );
}

#[test]
fn malformed_toml_is_refused() {
    assert!(file_error(&[], "leeway_seconds = = 5\n").starts_with("TOLLGATE_CONFIG: FILE: "));
}

#[test]
fn issuer_with_empty_audiences_is_refused() {
    assert_eq!(
        file_error(
            &ISSUERS_ONLY_IN_FILE,
            "[[issuers]]\nissuer = \"https://a.example\"\naudiences = []\n"
        ),
        "TOLLGATE_CONFIG: FILE: issuers[0]: audiences is empty; list the accepted client ids"
    );
}

#[test]
fn issuer_with_file_and_inline_jwks_is_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\njwks_file = \"a.json\"\njwks_inline = \"{}\"\n";
    assert_eq!(
        file_error(&ISSUERS_ONLY_IN_FILE, file),
        "TOLLGATE_CONFIG: FILE: issuers[0]: jwks_file and jwks_inline are both set; give one"
    );
}

#[test]
fn duplicate_issuer_is_refused() {
    let one = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\n";
    assert_eq!(
        file_error(&ISSUERS_ONLY_IN_FILE, &format!("{one}{one}")),
        "TOLLGATE_CONFIG: FILE: issuers[1]: issuer \"https://a.example\" is listed twice"
    );
}

#[test]
fn issuer_jwks_uri_with_bad_scheme_is_refused() {
    let file = "[[issuers]]\nissuer = \"https://a.example\"\naudiences = [\"x\"]\njwks_uri = \"ftp://a\"\n";
    assert_eq!(
        file_error(&ISSUERS_ONLY_IN_FILE, file),
        "TOLLGATE_CONFIG: FILE: issuers[0]: jwks_uri: \"ftp://a\" is not an https://, http:// or file:// URI"
    );
}

#[test]
fn inconsistent_ttl_bounds_are_refused() {
    assert_eq!(
        file_error(
            &[],
            "[jwks]\nmin_ttl_seconds = 600\ndefault_ttl_seconds = 60\n"
        ),
        "TOLLGATE_CONFIG: FILE: [jwks] min_ttl_seconds <= default_ttl_seconds <= max_ttl_seconds does not hold"
    );
}

#[test]
fn out_of_range_cooldown_is_refused() {
    assert_eq!(
        file_error(&[], "[jwks]\nrefetch_cooldown_seconds = 0\n"),
        "TOLLGATE_CONFIG: FILE: [jwks] refetch_cooldown_seconds = 0 is not a whole number from 1 to 3600"
    );
}

#[test]
fn out_of_range_leeway_in_file_is_refused() {
    assert_eq!(
        file_error(&[], "leeway_seconds = 900\n"),
        "TOLLGATE_CONFIG: FILE: leeway_seconds = 900 is not a whole number from 0 to 300"
    );
}

// Route rules, plans and prices

fn routes_error(file: &str) -> String {
    file_error(&[], file)
}

#[test]
fn bad_route_pattern_is_refused() {
    assert_eq!(
        routes_error("[[routes]]\nroute = \"GET api/x\"\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: route \"GET api/x\": the path must start with `/`"
    );
}

#[test]
fn greedy_segment_in_the_middle_is_refused() {
    assert_eq!(
        routes_error("[[routes]]\nroute = \"GET /files/{path+}/meta\"\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: route \"GET /files/{path+}/meta\": `{path+}` may only be the last segment"
    );
}

#[test]
fn unknown_method_is_refused() {
    assert_eq!(
        routes_error("[[routes]]\nroute = \"FETCH /x\"\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: route \"FETCH /x\": \"FETCH\" is not one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, ANY"
    );
}

#[test]
fn overlapping_routes_with_no_winner_are_refused() {
    assert_eq!(
        routes_error(
            "[[routes]]\nroute = \"GET /users/{id}\"\n[[routes]]\nroute = \"get /users/{userId}\"\n"
        ),
        "TOLLGATE_CONFIG: FILE: routes[1]: \"GET /users/{userId}\" matches the same requests as routes[0] \"GET /users/{id}\"; no rule would win"
    );
}

#[test]
fn negative_price_is_refused() {
    assert_eq!(
        routes_error("[[routes]]\nroute = \"GET /x\"\nprice = \"-0.10\"\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: price: -0.10 is negative"
    );
    assert_eq!(
        routes_error("[[routes]]\nroute = \"GET /x\"\nprice = -0.1\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: price: -0.1 is negative"
    );
}

#[test]
fn price_finer_than_a_millionth_is_refused() {
    assert_eq!(
        routes_error("[[routes]]\nroute = \"GET /x\"\nprice = \"0.0000001\"\n"),
        "TOLLGATE_CONFIG: FILE: routes[0]: price: 0.0000001 has more than 6 decimals (the unit is a millionth)"
    );
}

#[test]
fn price_for_an_unknown_plan_is_refused() {
    assert_eq!(
        routes_error(
            "[plans]\nnames = [\"free\", \"pro\"]\ndefault = \"free\"\n[[routes]]\nroute = \"GET /x\"\nprices = { gold = \"1\" }\n"
        ),
        "TOLLGATE_CONFIG: FILE: routes[0]: prices: plan \"gold\" is not in [plans] names [\"free\", \"pro\"]"
    );
}

#[test]
fn default_plan_outside_the_names_is_refused() {
    assert_eq!(
        routes_error("[plans]\nnames = [\"free\"]\ndefault = \"basic\"\n"),
        "TOLLGATE_CONFIG: FILE: [plans] default plan \"basic\" is not in names [\"free\"]"
    );
}

#[test]
fn usage_key_for_an_unknown_plan_is_refused() {
    assert_eq!(
        routes_error(
            "[plans]\nnames = [\"free\"]\ndefault = \"free\"\nusage_keys = { pro = \"k\" }\n"
        ),
        "TOLLGATE_CONFIG: FILE: [plans] usage_keys: plan \"pro\" is not in names [\"free\"]"
    );
}

#[test]
fn development_rules_file_is_valid() {
    let path = repo_path("events/tollgate.dev.toml");
    let config =
        config_from(&[("TOLLGATE_CONFIG", &path.display().to_string())], None).expect("valid");
    assert_eq!(config.routes.len(), 5);
    assert_eq!(config.plans.default, "free");
    assert_eq!(config.tenant_claim.as_deref(), Some("custom:tenant"));
}

#[test]
fn the_route_table_is_undeclared_unless_the_environment_or_the_file_declares_it() {
    use tollgate::access::RouteTableSetting;
    let routes = "[[routes]]\nroute = \"GET /a\"\n";
    let plain = config_from(&[], Some(routes)).expect("valid");
    assert_eq!(plain.route_table, RouteTableSetting::Undeclared);
    let by_env = config_from(&[("TOLLGATE_ROUTE_TABLE", "declared")], Some(routes)).expect("valid");
    assert_eq!(by_env.route_table, RouteTableSetting::Declared);
    let by_file =
        config_from(&[], Some(&format!("route_table = \"declared\"\n{routes}"))).expect("valid");
    assert_eq!(by_file.route_table, RouteTableSetting::Declared);
}

#[test]
fn a_route_table_spelled_otherwise_is_refused() {
    assert_eq!(
        error_for(&[("TOLLGATE_ROUTE_TABLE", "yes")]),
        "TOLLGATE_ROUTE_TABLE: \"yes\" is not `declared` or `undeclared`"
    );
    assert!(file_error(&[], "route_table = \"whole\"\n").contains("route_table: \"whole\" is not"));
}

#[test]
fn a_declared_route_table_without_routes_is_refused() {
    assert!(
        error_for(&[("TOLLGATE_ROUTE_TABLE", "declared")])
            .starts_with("TOLLGATE_ROUTE_TABLE: is `declared`, but there are no [[routes]]")
    );
}

#[test]
fn a_declared_route_table_naming_one_path_two_ways_is_refused() {
    let file =
        "[[routes]]\nroute = \"GET /pets/{id}\"\n[[routes]]\nroute = \"POST /pets/{petId}\"\n";
    let error = file_error(&[("TOLLGATE_ROUTE_TABLE", "declared")], file);
    assert!(error.contains("name one path two ways"), "{error}");
    // Undeclared, the two are just two rules.
    assert!(config_from(&[], Some(file)).is_ok());
}

#[test]
fn a_closed_route_with_scopes_is_refused() {
    let file = "[[routes]]\nroute = \"POST /reindex\"\nclosed = true\nscopes = [\"admin\"]\n";
    let error = file_error(&[], file);
    assert!(
        error.contains("routes[0]: closed = true means no caller may call it"),
        "{error}"
    );
}

#[test]
fn a_closed_route_is_read_as_one_no_caller_may_call() {
    let file = "[[routes]]\nroute = \"POST /reindex\"\nclosed = true\n";
    let config = config_from(&[], Some(file)).expect("valid");
    assert!(config.routes[0].closed);
}

#[test]
fn cors_origins_come_from_the_environment_over_the_file() {
    let file = "[cors]\nallow_origins = [\"https://file.example\"]\n";
    let from_file = config_from(&[], Some(file)).unwrap();
    assert_eq!(from_file.cors.origins(), ["https://file.example"]);
    let from_env = config_from(
        &[(
            "TOLLGATE_CORS_ALLOW_ORIGINS",
            "https://a.example, http://localhost:5173",
        )],
        Some(file),
    )
    .unwrap();
    assert_eq!(
        from_env.cors.origins(),
        ["https://a.example", "http://localhost:5173"]
    );
    assert_eq!(
        config_from(&[], None).unwrap().cors.origins(),
        [tollgate::cors::DEFAULT_ALLOW_ORIGIN]
    );
}

#[test]
fn a_cors_origin_with_a_path_is_refused_naming_the_setting() {
    let err = config_from(
        &[("TOLLGATE_CORS_ALLOW_ORIGINS", "http://localhost:8080/")],
        None,
    )
    .unwrap_err();
    assert_eq!(err.setting, "TOLLGATE_CORS_ALLOW_ORIGINS");
    assert!(err.problem.contains("is not an origin"), "{err}");
    let err = config_from(&[], Some("[cors]\nallow_origins = []\n")).unwrap_err();
    assert!(err.problem.contains("[cors] allow_origins"), "{err}");
}
