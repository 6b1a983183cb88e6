//! The whole warm handler, event JSON in to response JSON out, for every event shape and for
//! RS256, ES256 and EdDSA, next to the raw aws-lc-rs signature check of the same signing input
//! (key parsed once), measured in the same run. Prints the handler/raw ratios at the end.
//!
//! `cargo bench --bench handler` (add `-- --quick` for one short pass).

#[path = "../tests/suite/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::Algorithm;
use serde_json::Value;
use tollgate::handler::Authorizer;

/// An authorizer; `remember` is how many verified tokens it keeps (0: every token is checked
/// in full, as a token never seen before is).
fn authorizer(remember: &str) -> Authorizer {
    let config = config_with(&[
        ("REQUIRED_SCOPES", ""),
        ("TOLLGATE_VERIFIED_TOKENS", remember),
    ]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let authorizer = Authorizer::new(&config).expect("authorizer");
        authorizer.prefetch().await.unwrap();
        authorizer
    })
}

/// The raw check: aws-lc-rs verifying the token's signature with a key parsed beforehand.
fn raw_verifier(alg: Algorithm, token: &str) -> (ParsedPublicKey, Vec<u8>, Vec<u8>) {
    let jwks = dev_jwks();
    let jwk = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|k| k["kid"] == kid_for(alg))
        .expect("jwk")
        .clone();
    let b64 = |v: &Value| {
        URL_SAFE_NO_PAD
            .decode(v.as_str().expect("string"))
            .expect("base64")
    };
    let parsed = match alg {
        Algorithm::RS256 => {
            let (n, e) = (b64(&jwk["n"]), b64(&jwk["e"]));
            RsaPublicKeyComponents { n: &n, e: &e }
                .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                .expect("rsa key")
        }
        Algorithm::ES256 => {
            let mut point = vec![4u8];
            point.extend(b64(&jwk["x"]));
            point.extend(b64(&jwk["y"]));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).expect("ec key")
        }
        Algorithm::EdDSA => {
            ParsedPublicKey::new(&signature::ED25519, b64(&jwk["x"])).expect("ed25519 key")
        }
        other => panic!("no raw verifier for {other:?}"),
    };
    let (input, sig) = token.rsplit_once('.').expect("token");
    (
        parsed,
        input.as_bytes().to_vec(),
        URL_SAFE_NO_PAD.decode(sig).expect("signature"),
    )
}

/// Per-call time of `a` and of `b`, measured interleaved in one run: rounds of a batch of
/// each, alternating, keeping the median per-call time of each. Noise from a shared machine
/// then hits both sides alike, so their ratio is steadier than two separate measurements.
fn interleaved<A: FnMut(), B: FnMut()>(
    mut a: A,
    mut b: B,
    rounds: usize,
    batch: usize,
) -> (f64, f64) {
    let time = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        for _ in 0..batch {
            f();
        }
        started.elapsed().as_secs_f64() * 1e9 / batch as f64
    };
    let (mut ta, mut tb) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    for _ in 0..rounds {
        ta.push(time(&mut a));
        tb.push(time(&mut b));
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(&mut ta), median(&mut tb))
}

/// The handler, event bytes in, response JSON text out (the error object for a Lambda error).
fn handle_to_json(authorizer: &Authorizer, event: &[u8]) -> String {
    let outcome = ready(authorizer.handle(std::hint::black_box(event), None));
    match outcome.response {
        Ok(response) => response.into_string(),
        Err(failure) => serde_json::to_string(&failure).expect("json"),
    }
}

fn bench(c: &mut Criterion) {
    let quick = std::env::args().any(|a| a == "--quick");
    let fresh = authorizer("0");
    let remembering = authorizer("1024");
    let mut ratios = Vec::new();
    for alg in [Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA] {
        let token = sign(alg, &access_claims());
        let alg_name = format!("{alg:?}");
        let (key, input, sig) = raw_verifier(alg, &token);
        assert!(key.verify_sig(&input, &sig).is_ok());
        let raw = || {
            let _ = std::hint::black_box(key.verify_sig(std::hint::black_box(&input), &sig));
        };
        c.bench_function(&format!("raw_verify/{alg_name}"), |b| b.iter(raw));
        for (shape, event) in shape_events(&token) {
            // A token never seen before (the memory of verified tokens is off), then the same
            // token again, as API Gateway sends it for every route it has not cached yet.
            for (authorizer, label) in [
                (&fresh, shape.to_string()),
                (&remembering, format!("{shape} repeat")),
            ] {
                let outcome = ready(authorizer.handle(&event, None));
                assert!(
                    matches!(outcome.decision, tollgate::decision::Decision::Allow(_)),
                    "{label}: {:?}",
                    outcome.decision
                );
                c.bench_function(
                    &format!("handler/{alg_name}/{}", label.replace(' ', "/")),
                    |b| b.iter(|| handle_to_json(authorizer, &event)),
                );
                let (rounds, batch) = if quick { (3, 20) } else { (41, 400) };
                let (raw_ns, handler_ns) = interleaved(
                    raw,
                    || drop(handle_to_json(authorizer, &event)),
                    rounds,
                    batch,
                );
                ratios.push((alg_name.clone(), label, raw_ns, handler_ns));
            }
        }
    }
    println!("\nhandler vs raw verify, interleaved in one run (median of rounds):");
    println!(
        "{:<7} {:<25} {:>12} {:>12} {:>8}",
        "alg", "shape", "raw", "handler", "ratio"
    );
    for (alg, shape, raw_ns, handler_ns) in ratios {
        println!(
            "{alg:<7} {shape:<25} {:>9.2} µs {:>9.2} µs {:>7.3}x",
            raw_ns / 1e3,
            handler_ns / 1e3,
            handler_ns / raw_ns
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
