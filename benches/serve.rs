//! Requests per second of `tollgate serve`, on authorizer-cache hits and on misses, in one run.
//!
//! The server runs as the binary runs it (one current-thread tokio runtime, on its own thread)
//! with the development configuration and the built-in echo backend; a client on another
//! thread keeps 16 keep-alive connections busy for a fixed time per case:
//!
//! - `hit`: one token, one route, TTL 300 s: every request after the first is answered from
//!   the authorizer cache.
//! - `miss, token seen before`: TTL 0, one token: every request invokes the authorizer, which
//!   recognises the token it verified before.
//! - `miss, new token`: TTL 0, a different token each request (signed beforehand): every
//!   request runs the whole RS256 verification (4,000 tokens in turn, more than the
//!   verified-token cache holds).
//!
//! `cargo bench --bench serve` (3 s per case); `-- --quick` (0.5 s per case) keeps it from
//! rotting in CI. Read the ratios: the machine is shared.

#[path = "../tests/suite/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::Algorithm;
use serde_json::json;
use tollgate::handler::Authorizer;
use tollgate::serve::settings::cache_scope_of;
use tollgate::serve::{Api, AuthorizerKind, IdentitySource, Server, Settings};

const CONNECTIONS: usize = 16;

struct Case {
    label: &'static str,
    ttl: u64,
    tokens: Vec<String>,
}

fn settings(ttl: u64, log: &std::path::Path, config: &tollgate::config::Config) -> Settings {
    Settings {
        listen: "127.0.0.1:0".parse().unwrap(),
        upstream: None,
        api: Api::Rest,
        authorizer: AuthorizerKind::Request,
        identity_sources: IdentitySource::template_defaults(Api::Rest, AuthorizerKind::Request),
        cache_ttl: Duration::from_secs(ttl),
        access_log: log.to_path_buf(),
        stage: "prod".into(),
        routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
        max_body_bytes: 1 << 20,
        simple_responses: true,
        cors: tollgate::cors::CorsSettings::default(),
    }
}

/// Runs one case; returns requests per second and the count of non-200 answers.
fn run(case: &Case, seconds: f64) -> (f64, usize) {
    let file = common::repo_path("events/tollgate.dev.toml");
    let mut config = common::config_with(&[("TOLLGATE_CONFIG", file.to_str().unwrap())]);
    let log =
        std::env::temp_dir().join(format!("tollgate-serve-bench-{}.jsonl", std::process::id()));
    let settings = settings(case.ttl, &log, &config);
    config.authorizer_cache = Some(cache_scope_of(&settings));
    let (address_tx, address_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            // The decision lines go to a capture that is dropped: stderr stays readable.
            let _quiet = tollgate::log::Capture::start();
            let authorizer = Arc::new(Authorizer::new(&config).unwrap());
            let server = Server::bind(settings, authorizer).await.unwrap();
            address_tx.send(server.local_addr().unwrap()).unwrap();
            server
                .run(async {
                    let _ = stop_rx.await;
                })
                .await
                .unwrap();
        });
    });
    let address = address_rx.recv().unwrap();
    let url = format!("http://{address}/api/user/profile");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let next_token = Arc::new(AtomicUsize::new(0));
    let elapsed = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(CONNECTIONS)
            .build()
            .unwrap();
        // Warm up: the first request fills the cache in the `hit` case.
        let _ = client
            .get(&url)
            .header("Authorization", &case.tokens[0])
            .send()
            .await;
        let started = Instant::now();
        let deadline = started + Duration::from_secs_f64(seconds);
        let mut workers = Vec::new();
        for _ in 0..CONNECTIONS {
            let (client, url, done, refused, next) = (
                client.clone(),
                url.clone(),
                done.clone(),
                refused.clone(),
                next_token.clone(),
            );
            let tokens = case.tokens.clone();
            workers.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let token = &tokens[next.fetch_add(1, Ordering::Relaxed) % tokens.len()];
                    match client.get(&url).header("Authorization", token).send().await {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.bytes().await;
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for worker in workers {
            let _ = worker.await;
        }
        started.elapsed()
    });
    let _ = stop_tx.send(());
    let _ = server.join();
    let _ = std::fs::remove_file(&log);
    let requests = done.load(Ordering::Relaxed);
    (
        requests as f64 / elapsed.as_secs_f64(),
        refused.load(Ordering::Relaxed),
    )
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let seconds = if quick { 0.5 } else { 3.0 };
    let one = format!(
        "Bearer {}",
        common::sign(Algorithm::RS256, &common::access_claims())
    );
    // More distinct tokens than the verified-token cache holds (1,024, oldest out first), so a
    // token coming round again has always been forgotten.
    let count = if quick { 2_000 } else { 4_000 };
    let fresh: Vec<String> = (0..count)
        .map(|i| {
            let claims = common::with(
                common::access_claims(),
                json!({"jti": format!("bench-{i}")}),
            );
            format!("Bearer {}", common::sign(Algorithm::RS256, &claims))
        })
        .collect();
    let cases = [
        Case {
            label: "hit",
            ttl: 300,
            tokens: vec![one.clone()],
        },
        Case {
            label: "miss, token seen before",
            ttl: 0,
            tokens: vec![one],
        },
        Case {
            label: "miss, new token",
            ttl: 0,
            tokens: fresh,
        },
    ];
    println!(
        "serve, REST REQUEST authorizer, echo backend, {CONNECTIONS} connections, {seconds} s per case"
    );
    println!("| case | requests/s | relative to hit | non-200 |");
    println!("|---|---:|---:|---:|");
    let mut base = None;
    for case in &cases {
        let (rps, refused) = run(case, seconds);
        let base = *base.get_or_insert(rps);
        println!(
            "| {} | {:.0} | {:.2}x | {} |",
            case.label,
            rps,
            rps / base,
            refused
        );
        assert_eq!(refused, 0, "{}: every request must be allowed", case.label);
    }
}
