//! `serve` called from a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/setup`) opens the README's page, `examples/browser/index.html`, served from one
//! port of 127.0.0.1, which calls `serve` on another with `fetch`, and the test reads what the
//! page saw from the DOM Chromium dumps. For each API kind: the development token's 200 with
//! its context, a 401 the script can read (with `WWW-Authenticate` where the API gives it), a
//! 403 it can read, a `POST` with a JSON body whose preflight succeeds without invoking the
//! authorizer, and a page of an origin that is not allowed, which the browser blocks.
//!
//! Ignored by a plain `cargo test` (it needs Chromium); `scripts/test` runs it as a stage with
//! `TOLLGATE_REQUIRE_CHROMIUM=1`, where a missing Chromium fails (so it does wherever `CI` is
//! set). Elsewhere a missing Chromium
//! skips the test with a notice on the terminal.

use crate::common;
use crate::serving::Serving;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tollgate::config::Config;
use tollgate::cors::CorsSettings;
use tollgate::log::Capture;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Settings};

use common::http::{Reply, Server as Static};
use common::{config_with, repo_path};

const PAGE: &str = "/examples/browser/index.html";

/// The Chromium binary: `$CHROMIUM`, else `chromium` or `chromium-browser` on the `PATH`.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| ["chromium", "chromium-browser"].map(|name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Chromium, or `None` after saying loudly that the test is skipped (a failure where
/// `TOLLGATE_REQUIRE_CHROMIUM` is set, as `scripts/test` sets it, or `CI`).
fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("TOLLGATE_REQUIRE_CHROMIUM").is_none()
                && std::env::var_os("CI").is_none(),
            "the browser test needs Chromium: run scripts/setup (it installs Debian's chromium), or name the binary in CHROMIUM"
        );
        // Past the test harness's capture, so that a skip is never silent.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED the browser test: no chromium on the PATH (scripts/setup installs it) ***\n"
        );
    }
    found
}

/// A static server with the page and the development token, as `python3 -m http.server`
/// serves them from the repository.
fn page_server() -> Static {
    let page = std::fs::read(repo_path("examples/browser/index.html")).unwrap();
    let token = std::fs::read(repo_path("events/dev-token.txt")).unwrap();
    let server = Static::with(
        PAGE,
        Reply::json(page).header("content-type", "text/html; charset=utf-8"),
    );
    server.set(
        "/events/dev-token.txt",
        Reply::json(token).header("content-type", "text/plain"),
    );
    server
}

/// `serve` for `api` with the development configuration, allowing `origin`.
async fn start_serve(api: Api, origin: &str) -> Serving {
    let config: Config = config_with(&[(
        "TOLLGATE_CONFIG",
        repo_path("events/tollgate.dev.toml").to_str().unwrap(),
    )]);
    let access_log = std::env::temp_dir().join(format!(
        "tollgate-browser-test-{}-{api:?}.jsonl",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&access_log);
    let settings = Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: None,
        api,
        authorizer: AuthorizerKind::Request,
        identity_sources: IdentitySource::template_defaults(api, AuthorizerKind::Request),
        cache_ttl: Duration::from_secs(300),
        access_log,
        stage: api.default_stage().to_string(),
        routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
        max_body_bytes: 1024 * 1024,
        // As the template's HTTP API: IAM policies, not simple responses.
        simple_responses: false,
        cors: CorsSettings::new([origin]).unwrap(),
    };
    let mut config = config;
    config.http_api_simple_responses = false;
    // serve's routes are the rules: its route table is declared, as `tollgate serve` does.
    config.route_table = tollgate::access::RouteTableSetting::Declared;
    Serving::start(settings, config).await
}

/// Opens `url` in headless Chromium and returns what the page wrote into `#results`.
async fn page_results(chromium: &std::path::Path, url: &str) -> Vec<Value> {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!(
        "tollgate-browser-profile-{}-{n}",
        std::process::id()
    ));
    let mut command = std::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-extensions",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--mute-audio",
            // Virtual time waits for the page's fetches before the DOM is dumped.
            "--virtual-time-budget=20000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url);
    // On the blocking pool: serve answers on this test's runtime meanwhile.
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("chromium finishes within a minute")
    .expect("the blocking task")
    .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("data-done=\"true\""),
        "the page did not finish: {dom}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let start = dom.find("<pre id=\"results\">").expect("#results") + "<pre id=\"results\">".len();
    let end = start + dom[start..].find("</pre>").expect("end of #results");
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    serde_json::from_str::<Vec<Value>>(&text).expect("the results are JSON")
}

/// The whole scenario for one API kind.
async fn a_page_of_another_origin_reads_every_outcome(api: Api) {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let _logs = Capture::start();
    let page = page_server();
    let origin = page.base();
    let serve = start_serve(api, &origin).await;
    let base = &serve.base;

    let results = page_results(&chromium, &format!("{}{PAGE}#api={base}", page.base())).await;
    let [profile, no_token, forbidden, update] = results.as_slice() else {
        panic!("four calls: {results:?}");
    };
    // The development token: 200, and the context is readable.
    assert_eq!(profile["status"], 200, "{profile}");
    assert_eq!(profile["body"]["userId"], "123456", "{profile}");
    assert_eq!(profile["body"]["plan"], "pro", "{profile}");
    // No token: a 401 the script reads; the REST gateway response carries the challenge.
    assert_eq!(no_token["status"], 401, "{no_token}");
    assert_eq!(no_token["body"]["message"], "Unauthorized", "{no_token}");
    match api {
        Api::Rest => assert_eq!(
            no_token["wwwAuthenticate"], "Bearer realm=\"tollgate\"",
            "{no_token}"
        ),
        // HTTP APIs have no gateway responses to add it to.
        Api::Http => assert_eq!(no_token["wwwAuthenticate"], Value::Null, "{no_token}"),
    }
    // A route the token may not call: a 403 the script reads, after a preflight for DELETE.
    assert_eq!(forbidden["status"], 403, "{forbidden}");
    // A POST with a JSON body: preflighted, then allowed.
    assert_eq!(update["status"], 200, "{update}");
    assert_eq!(update["body"]["route"], "POST /api/user/update", "{update}");

    // The authorizer ran once, for the one token (the cache keys on it, as the template's
    // does), and never for a preflight; every preflight was logged without a caller or a cost.
    assert_eq!(serve.gateway.invocations(), 1);
    let lines = serve.access_log_lines();
    let preflights: Vec<&Value> = lines
        .iter()
        .filter(|l| l["httpMethod"] == "OPTIONS")
        .collect();
    assert_eq!(preflights.len(), 3, "{lines:?}");
    for line in &preflights {
        assert!(
            matches!(line["status"].as_str(), Some("200" | "204")),
            "{line}"
        );
        assert_eq!(line["userId"], "-", "{line}");
        assert_eq!(line["costMicros"], "-", "{line}");
    }

    // A page of an origin that is not allowed: the browser blocks every call (each needs a
    // preflight, which gets no CORS headers), and nothing reaches the authorizer.
    let other = page_server();
    let blocked = page_results(&chromium, &format!("{}{PAGE}#api={base}", other.base())).await;
    assert_eq!(blocked.len(), 4);
    for result in &blocked {
        assert!(
            result["error"]
                .as_str()
                .is_some_and(|e| e.contains("Failed to fetch")),
            "{result}"
        );
        assert_eq!(result["status"], Value::Null, "{result}");
    }
    assert_eq!(serve.gateway.invocations(), 1);
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/test runs it (cargo test --test suite browser:: -- --ignored)"]
async fn a_rest_api_is_usable_from_a_page_of_another_origin() {
    a_page_of_another_origin_reads_every_outcome(Api::Rest).await;
}

#[tokio::test]
#[ignore = "needs Chromium: scripts/test runs it (cargo test --test suite browser:: -- --ignored)"]
async fn an_http_api_is_usable_from_a_page_of_another_origin() {
    a_page_of_another_origin_reads_every_outcome(Api::Http).await;
}
