//! Start-up fails on bad configuration, with a message naming the setting and the problem.

mod common;

use std::collections::HashMap;
use std::process::Command;

use common::*;
use tollgate::config::Config;

fn error_for(overrides: &[(&str, &str)]) -> String {
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
    Config::from_lookup(|name| vars.get(name).cloned())
        .expect_err("configuration must be refused")
        .to_string()
}

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
fn missing_jwks_uri_is_refused() {
    assert_eq!(
        error_for(&[("JWKS_URI", "")]),
        "JWKS_URI: not set; OIDC discovery is not supported yet, so give the issuer's JWKS (https://, http:// or file://)"
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
        "JWT_ALGORITHMS: HS256 needs a shared secret in JWT_HMAC_SECRET"
    );
}

#[test]
fn short_hmac_secret_is_refused() {
    assert_eq!(
        error_for(&[("JWT_HMAC_SECRET", "short")]),
        "JWT_HMAC_SECRET: must be at least 32 bytes long"
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
fn config_file_is_refused_until_supported() {
    assert_eq!(
        error_for(&[("TOLLGATE_CONFIG", "tollgate.toml")]),
        "TOLLGATE_CONFIG: configuration files are not supported by this version of tollgate; unset it and configure with environment variables"
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
