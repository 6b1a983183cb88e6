//! Every fixture in `events/` through the real `tollgate invoke` binary, with the development
//! configuration from `events/dev.env`: exact response JSON, exit status and logged reason.

use crate::common;

use std::process::{Command, Output};

use common::*;
use serde_json::{Value, json};

fn dev_env_file() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_path("events/dev.env")).expect("events/dev.env");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn invoke(fixture: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", &format!("events/{fixture}")])
        .current_dir(repo_path(""))
        .env_clear()
        .envs(dev_env_file())
        .output()
        .expect("run tollgate")
}

struct Expect {
    fixture: &'static str,
    exit: i32,
    reason: &'static str,
    response: Value,
}

fn expectations() -> Vec<Expect> {
    // events/dev.env keeps the default token scope: no per-route context, and a Deny for the
    // whole stage rather than the request's own ARN.
    let stage = format!("{ARN_PREFIX}*");
    let denied_context = || {
        let mut ctx = token_context();
        ctx["scopes"] = json!("profile");
        ctx
    };
    vec![
        Expect {
            fixture: "rest-token.allow.json",
            exit: 0,
            reason: "ok",
            response: stage_allow_policy("123456", token_context()),
        },
        Expect {
            fixture: "rest-token.expired.json",
            exit: 2,
            reason: "expired",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "rest-token.alg-none.json",
            exit: 2,
            reason: "alg_not_allowed",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "rest-token.bad-scheme.json",
            exit: 2,
            reason: "bad_scheme",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "rest-request.allow.json",
            exit: 0,
            reason: "ok",
            response: stage_allow_policy("123456", token_context()),
        },
        Expect {
            fixture: "rest-request.wrong-audience.json",
            exit: 2,
            reason: "wrong_audience",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "rest-request.no-token.json",
            exit: 2,
            reason: "no_token",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "rest-request.denied.json",
            exit: 1,
            reason: "route_not_permitted",
            response: deny_policy("123456", &stage, denied_context()),
        },
        Expect {
            fixture: "http-v1.allow.json",
            exit: 0,
            reason: "ok",
            response: stage_allow_policy("123456", token_context()),
        },
        Expect {
            fixture: "http-v1.unknown-kid.json",
            exit: 2,
            reason: "unknown_kid",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "http-v2.allow.json",
            exit: 0,
            reason: "ok",
            response: json!({"isAuthorized": true, "context": token_context()}),
        },
        Expect {
            fixture: "http-v2.bad-signature.json",
            exit: 2,
            reason: "bad_signature",
            response: json!({"isAuthorized": false, "context": {}}),
        },
        Expect {
            fixture: "http-v2.denied.json",
            exit: 1,
            reason: "route_not_permitted",
            response: json!({"isAuthorized": false, "context": denied_context()}),
        },
        Expect {
            fixture: "websocket-connect.allow.json",
            exit: 0,
            reason: "ok",
            response: stage_allow_policy("123456", access_context("$connect")),
        },
        Expect {
            fixture: "websocket-connect.no-token.json",
            exit: 2,
            reason: "no_token",
            response: unauthorized_error(),
        },
        Expect {
            fixture: "unknown-shape.json",
            exit: 3,
            reason: "unknown_event",
            response: json!({"errorType": "TollgateError", "errorMessage": "tollgate cannot decide: unknown_event"}),
        },
    ]
}

#[test]
fn every_fixture_gives_its_exact_response_exit_status_and_reason() {
    for expect in expectations() {
        let out = invoke(expect.fixture);
        let stdout: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{}: stdout is not JSON: {e}", expect.fixture));
        assert_eq!(stdout, expect.response, "{}: response", expect.fixture);
        assert_eq!(
            out.status.code(),
            Some(expect.exit),
            "{}: exit status",
            expect.fixture
        );
        let log: Value = serde_json::from_slice(&out.stderr)
            .unwrap_or_else(|e| panic!("{}: stderr is not one JSON line: {e}", expect.fixture));
        assert_eq!(
            log["reason"], expect.reason,
            "{}: logged reason",
            expect.fixture
        );
    }
}

#[test]
fn every_event_fixture_has_an_expectation() {
    let expected: Vec<&str> = expectations().iter().map(|e| e.fixture).collect();
    for entry in std::fs::read_dir(repo_path("events")).expect("events/") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .to_string();
        if name.ends_with(".json") && name != "jwks.json" {
            assert!(
                expected.contains(&name.as_str()),
                "events/{name} has no expectation in tests/suite/fixtures.rs"
            );
        }
    }
}

#[test]
fn invoke_reads_the_event_from_stdin() {
    let event = std::fs::read(repo_path("events/rest-token.allow.json")).expect("fixture");
    let out = invoke_stdin(&event, &[]);
    assert_eq!(out.status.code(), Some(0));
    let stdout: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(stdout, stage_allow_policy("123456", token_context()));
}

#[test]
fn invoke_of_a_missing_file_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "events/no-such-event.json"])
        .current_dir(repo_path(""))
        .env_clear()
        .envs(dev_env_file())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("tollgate: cannot read events/no-such-event.json: "),
        "{stderr}"
    );
}

/// Every segment (8 characters or more) of every compact JWS in `text`: the header, payload
/// and signature pieces that must never reach a log.
fn token_segments(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .filter(|piece| piece.matches('.').count() >= 2)
        .flat_map(|token| token.split('.'))
        .filter(|segment| segment.len() >= 8)
        .collect()
}

#[test]
fn logs_of_all_fixtures_never_contain_a_token_or_signature() {
    for expect in expectations() {
        let out = invoke(expect.fixture);
        let event = std::fs::read_to_string(repo_path(&format!("events/{}", expect.fixture)))
            .expect("fixture");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Every segment of every token in the fixture must be absent from the log.
        for segment in token_segments(&event) {
            assert!(
                !stderr.contains(segment),
                "{}: log contains token material",
                expect.fixture
            );
        }
    }
}

#[test]
fn decision_log_line_carries_the_usage_record_and_emf_metrics() {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "events/rest-token.allow.json"])
        .current_dir(repo_path(""))
        .env_clear()
        .envs(dev_env_file())
        .env("TOLLGATE_CONFIG", "events/tollgate.dev.toml")
        .output()
        .expect("run tollgate");
    assert_eq!(out.status.code(), Some(0));
    let log = decision_line(&out.stderr);
    assert_eq!(
        log["usage"],
        json!({"userId": "123456", "clientId": AUDIENCE, "tenantId": "", "plan": "pro", "endpoint": "GET /api/user/profile", "costMicros": 100000})
    );
    let directive = &log["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(directive["Namespace"], "tollgate");
    assert_eq!(
        directive["Dimensions"],
        json!([["decision"], ["decision", "reason"], ["shape"]])
    );
    assert_eq!(
        directive["Metrics"],
        json!([{"Name": "decisions", "Unit": "Count"}, {"Name": "latencyUs", "Unit": "Microseconds"}])
    );
    assert!(
        log["_aws"]["Timestamp"]
            .as_u64()
            .is_some_and(|t| t > 1_700_000_000_000)
    );
    // Every dimension and metric the directive names is a top-level key of the line.
    for key in ["decision", "reason", "shape", "decisions", "latencyUs"] {
        assert!(log.get(key).is_some(), "EMF key {key} missing");
    }
    assert_eq!(
        (log["decision"].clone(), log["decisions"].clone()),
        (json!("allow"), json!(1))
    );
}

/// The decision line among the JSON lines tollgate wrote to stderr.
fn decision_line(stderr: &[u8]) -> Value {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["event"] == "decision")
        .expect("a decision line")
}

/// The `config_warning` lines tollgate wrote to stderr for `invoke` with this file.
fn config_warnings(file: &str) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-claim-warning-{}-{}",
        std::process::id(),
        file.len()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tollgate.toml");
    std::fs::write(&path, file).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "events/rest-token.allow.json"])
        .current_dir(repo_path(""))
        .env_clear()
        .envs(dev_env_file())
        .env("TOLLGATE_CONFIG", &path)
        .output()
        .expect("run tollgate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["event"] == "config_warning")
        .map(|line| line["detail"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn cognito_custom_attribute_choosing_plan_tenant_or_key_is_warned_about_at_init() {
    let warnings = config_warnings(
        "[plans]\nclaim = \"custom:plan\"\n\
         [context]\ntenant_claim = \"custom:tenant\"\nusage_key_claim = \"custom:api_key\"\n",
    );
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    for (setting, claim) in [
        ("[plans] claim", "custom:plan"),
        ("[context] tenant_claim", "custom:tenant"),
        ("[context] usage_key_claim", "custom:api_key"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.starts_with(&format!("{setting} is {claim:?}: "))
                    && w.contains("writable")),
            "{setting}: {warnings:?}"
        );
    }
}

#[test]
fn claims_that_are_not_custom_attributes_are_not_warned_about() {
    let warnings =
        config_warnings("[plans]\nclaim = \"plan\"\n[context]\ntenant_claim = \"tenant_id\"\n");
    assert_eq!(warnings, Vec::<String>::new());
}

/// Runs `tollgate invoke -` on an event with the development configuration plus `extra`.
fn invoke_stdin(event: &[u8], extra: &[(&str, &str)]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["invoke", "-"])
        .current_dir(repo_path(""))
        .env_clear()
        .envs(dev_env_file())
        .envs(extra.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(event)
        .expect("write event");
    child.wait_with_output().expect("run tollgate")
}

/// Events whose `Authorization` or `Cookie` header holds a valid token followed by a control
/// byte that `http::HeaderValue` refuses, so the event itself cannot be parsed: (name, shape
/// name, event).
fn unparseable_header_events() -> Vec<(String, &'static str, Vec<u8>)> {
    let token = sign(jsonwebtoken::Algorithm::RS256, &access_claims());
    let mut events = Vec::new();
    for (byte, name) in [('\u{7f}', "DEL"), ('\u{1}', "SOH"), ('\u{0}', "NUL")] {
        let bearer = format!("Bearer {token}{byte}");
        let cookie = format!("session=1; token={token}{byte}");
        let mut websocket = websocket_connect_event(json!({}));
        websocket["headers"]["Authorization"] = json!(bearer);
        websocket["multiValueHeaders"]["Authorization"] = json!([bearer]);
        for (shape, what, event) in [
            (
                "rest_request",
                "Authorization",
                rest_request_event(json!({"Authorization": bearer}), json!({}), "GET", "/x"),
            ),
            (
                "rest_request",
                "Cookie",
                rest_request_event(json!({"Cookie": cookie}), json!({}), "GET", "/x"),
            ),
            (
                "http_v1",
                "Authorization",
                http_v1_event(json!({"Authorization": bearer}), "GET", "/x"),
            ),
            (
                "http_v2",
                "authorization",
                http_v2_event(json!({"authorization": bearer}), "GET", "/x"),
            ),
            (
                "http_v2",
                "cookie",
                http_v2_event(json!({"cookie": cookie}), "GET", "/x"),
            ),
            ("websocket_connect", "Authorization", websocket.clone()),
        ] {
            events.push((
                format!("{shape} with {name} in {what}"),
                shape,
                event.to_string().into_bytes(),
            ));
        }
    }
    events
}

#[test]
fn unparseable_header_is_logged_by_field_and_kind_only() {
    for (name, shape, event) in unparseable_header_events() {
        let out = invoke_stdin(&event, &[]);
        assert_eq!(out.status.code(), Some(3), "{name}");
        let log: Value = serde_json::from_slice(&out.stderr).expect("one JSON line");
        assert_eq!(log["reason"], "malformed_event", "{name}");
        assert_eq!(
            log["detail"],
            json!(format!("{shape} event: field `headers`: invalid value")),
            "{name}"
        );
    }
}

#[test]
fn logs_never_contain_the_hmac_secret_a_token_or_a_signature() {
    let secret = "DEV-ONLY-hmac-secret-that-must-never-be-logged-0123456789";
    let extra = [
        ("JWT_HMAC_SECRET", secret),
        ("JWT_ALGORITHMS", "RS256,ES256,EdDSA,HS256"),
    ];
    let hs256 = |key: &[u8], claims: Value| {
        sign_raw(
            &json!({"alg": "HS256", "typ": "JWT"}),
            &claims,
            jsonwebtoken::Algorithm::HS256,
            &jsonwebtoken::EncodingKey::from_secret(key),
        )
    };
    let mut events: Vec<(String, Vec<u8>)> = expectations()
        .iter()
        .map(|e| {
            let path = repo_path(&format!("events/{}", e.fixture));
            (e.fixture.to_string(), std::fs::read(path).expect("fixture"))
        })
        .collect();
    for (name, token) in [
        ("hs256 allowed", hs256(secret.as_bytes(), access_claims())),
        (
            "hs256 wrong secret",
            hs256(b"another-secret-0123456789abcdef-xyz", access_claims()),
        ),
        (
            "hs256 expired",
            hs256(secret.as_bytes(), with(access_claims(), json!({"exp": 1}))),
        ),
    ] {
        let event = rest_token_event(&format!("Bearer {token}"), "GET", "/api/user/profile");
        events.push((name.to_string(), event.to_string().into_bytes()));
    }
    events.extend(
        unparseable_header_events()
            .into_iter()
            .map(|(name, _, event)| (name, event)),
    );
    let mut decisions = 0;
    for (name, event) in &events {
        let out = invoke_stdin(event, &extra);
        let logs = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        decisions += logs.matches("\"event\":\"decision\"").count();
        for text in [&logs, &stdout] {
            assert!(!text.contains(secret), "{name}: the secret was written out");
            assert!(
                !text.contains(&b64(secret.as_bytes())),
                "{name}: the secret was written out (base64url)"
            );
        }
        for segment in token_segments(&String::from_utf8_lossy(event)) {
            assert!(
                !logs.contains(segment),
                "{name}: log contains token material"
            );
        }
    }
    assert_eq!(decisions, events.len(), "one decision line per event");
}

#[test]
fn jwks_url_credentials_never_reach_the_logs() {
    use common::http::{Reply, Server};
    const SECRETS: [&str; 3] = ["reader", "s3cr3t-password", "TOPSECRETKEY"];
    let keys_path = "/keys?api_key=TOPSECRETKEY";
    let event = rest_token_event(
        &format!(
            "Bearer {}",
            sign(jsonwebtoken::Algorithm::RS256, &access_claims())
        ),
        "GET",
        "/api/user/profile",
    )
    .to_string();
    let with_credentials = |server: &Server| {
        server
            .url(keys_path)
            .replacen("://", "://reader:s3cr3t-password@", 1)
    };
    let mut cases: Vec<(&str, Server, String)> = Vec::new();
    for (name, reply) in [
        ("an HTTP error", Reply::status(503)),
        ("a body that is no JWKS", Reply::json("<html>")),
        ("an oversized body", Reply::json("x".repeat(300 * 1024))),
    ] {
        let server = Server::with(keys_path, reply);
        let url = with_credentials(&server);
        cases.push((name, server, url));
    }
    let refused = Server::start();
    let url = with_credentials(&refused);
    drop(refused);
    cases.push(("a refused connection", Server::start(), url));
    for (name, _server, url) in &cases {
        let out = invoke_stdin(event.as_bytes(), &[("JWKS_URI", url.as_str())]);
        let logs = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{name}: {logs}");
        assert!(
            logs.contains("\"event\":\"jwks_fetch\"") && logs.contains("://***@127.0.0.1:"),
            "{name}: the fetch is logged with the URL redacted: {logs}"
        );
        for secret in SECRETS {
            assert!(!logs.contains(secret), "{name}: {secret} in {logs}");
        }
    }
}

#[test]
fn discovered_jwks_url_credentials_never_reach_the_logs() {
    use common::http::{Reply, Server};
    let server = Server::start();
    let issuer = server.base();
    let jwks_uri =
        server
            .url("/keys?api_key=TOPSECRETKEY")
            .replacen("://", "://reader:s3cr3t-password@", 1);
    server.set(
        "/.well-known/openid-configuration",
        Reply::json(json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string()),
    );
    let token = sign(
        jsonwebtoken::Algorithm::RS256,
        &with(access_claims(), json!({"iss": issuer})),
    );
    let event = rest_token_event(&format!("Bearer {token}"), "GET", "/api/user/profile");
    let out = invoke_stdin(
        event.to_string().as_bytes(),
        &[("JWT_ISSUER", issuer.as_str()), ("JWKS_URI", "")],
    );
    let logs = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{logs}");
    assert_eq!(server.hits("/keys?api_key=TOPSECRETKEY"), 1, "{logs}");
    for secret in ["reader", "s3cr3t-password", "TOPSECRETKEY"] {
        assert!(!logs.contains(secret), "{secret} in {logs}");
    }
}

#[test]
fn token_header_and_claim_values_never_reach_the_logs() {
    let marker = "CALLER-SENT-MARKER";
    let rsa = jsonwebtoken::Algorithm::RS256;
    let key = signing_key(rsa);
    let unsigned = |header: Value| {
        format!(
            "{}.{}.AAAA",
            b64(header.to_string().as_bytes()),
            b64(access_claims().to_string().as_bytes())
        )
    };
    let tokens = [
        (
            "unknown kid",
            sign_raw(
                &json!({"alg": "RS256", "kid": marker}),
                &access_claims(),
                rsa,
                &key,
            ),
        ),
        (
            "unknown issuer",
            sign(
                rsa,
                &with(access_claims(), json!({"iss": format!("https://{marker}")})),
            ),
        ),
        (
            "unknown alg",
            unsigned(json!({"alg": marker, "kid": RSA_KID})),
        ),
        (
            "wrong token_use",
            sign(rsa, &with(access_claims(), json!({"token_use": marker}))),
        ),
    ];
    for (name, token) in tokens {
        let event = rest_token_event(&format!("Bearer {token}"), "GET", "/api/user/profile");
        let out = invoke_stdin(event.to_string().as_bytes(), &[("JWT_TOKEN_USE", "access")]);
        let logs = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {logs}");
        assert!(!logs.contains(marker), "{name}: {logs}");
    }
}

/// `cargo run --example make_fixtures` would write what is on disk (up to ES256 signatures
/// that still verify), and nothing else: the fixtures cannot drift from their generator.
#[test]
fn fixtures_on_disk_are_what_make_fixtures_writes() {
    let generated = common::fixtures::all();
    for (name, value) in &generated {
        let text = std::fs::read_to_string(repo_path(&format!("events/{name}")))
            .unwrap_or_else(|e| panic!("events/{name}: {e}"));
        let on_disk: Value = serde_json::from_str(&text).expect("fixture JSON");
        assert!(
            common::fixtures::equivalent(&on_disk, value),
            "events/{name} differs from what make_fixtures writes: run it"
        );
    }
    let env = std::fs::read_to_string(repo_path("events/dev.env")).expect("events/dev.env");
    assert_eq!(env, common::fixtures::dev_env_text());
    let mut on_disk: Vec<String> = std::fs::read_dir(repo_path("events"))
        .expect("events/")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json"))
        .collect();
    on_disk.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(on_disk, names, "a fixture make_fixtures no longer writes");
}

#[test]
fn a_resigned_es256_token_is_equivalent_and_a_changed_one_is_not() {
    use common::fixtures::equivalent;
    use jsonwebtoken::Algorithm;
    let bearer = |token: &str| format!("Bearer {token}");
    let claims = access_claims();
    let first = json!({"Authorization": bearer(&sign(Algorithm::ES256, &claims))});
    let second = json!({"Authorization": bearer(&sign(Algorithm::ES256, &claims))});
    assert_ne!(first, second, "ES256 signatures are randomized");
    assert!(equivalent(&first, &second));
    let other = json!({"Authorization": bearer(&sign(Algorithm::ES256, &with(claims, json!({"sub": "x"}))))});
    assert!(!equivalent(&first, &other), "another payload");
    let forged = {
        let token = first["Authorization"].as_str().unwrap_or_default();
        let (input, _) = token.rsplit_once('.').unwrap_or_default();
        json!({"Authorization": format!("{input}.{}", b64(&[0u8; 64]))})
    };
    assert!(
        !equivalent(&forged, &second),
        "an old signature that does not verify"
    );
}
