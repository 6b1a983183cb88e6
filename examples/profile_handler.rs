//! Runs the warm handler on one event shape many times, for an instruction profile:
//!
//! ```sh
//! cargo build --profile profiling --example profile_handler
//! valgrind --tool=callgrind target/profiling/examples/profile_handler http_v2 fresh 200
//! ```
//!
//! SHAPE is one of the handler bench's (`rest_token`, `rest_request`, `http_v1`, `http_v2`,
//! `websocket_connect`), then `fresh` (the memory of verified tokens off: every call verifies
//! the signature) or `repeat` (on: after the first call the token is remembered), then the
//! number of calls (divide callgrind's counts by it). The token is the handler bench's RS256
//! access token; log lines go to stderr.

#[path = "../tests/suite/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::process::ExitCode;

use common::*;
use jsonwebtoken::Algorithm;
use tollgate::handler::Authorizer;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(shape), Some(mode), Some(Ok(calls))) = (
        args.first(),
        args.get(1),
        args.get(2).map(|n| n.parse::<usize>()),
    ) else {
        eprintln!("usage: profile_handler SHAPE fresh|repeat CALLS");
        return ExitCode::from(64);
    };
    let token = sign(Algorithm::RS256, &access_claims());
    let Some((_, event)) = shape_events(&token)
        .into_iter()
        .find(|(name, _)| name == shape)
    else {
        eprintln!("unknown shape {shape}");
        return ExitCode::from(64);
    };
    let remember = if mode == "repeat" { "1024" } else { "0" };
    let config = config_with(&[
        ("REQUIRED_SCOPES", ""),
        ("TOLLGATE_VERIFIED_TOKENS", remember),
    ]);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::from(1);
    };
    let Ok(authorizer) = runtime.block_on(async {
        let authorizer = Authorizer::new(&config)?;
        authorizer.prefetch().await.unwrap();
        Ok::<_, tollgate::config::ConfigError>(authorizer)
    }) else {
        return ExitCode::from(1);
    };
    // One call outside the count: it fills the memory of verified tokens for `repeat`.
    let _ = ready(authorizer.handle(&event, None));
    let mut bytes = 0;
    for _ in 0..calls {
        let outcome = ready(authorizer.handle(std::hint::black_box(&event), None));
        bytes += outcome.response.map(|r| r.as_str().len()).unwrap_or(0);
    }
    println!("{calls} calls, {bytes} response bytes");
    ExitCode::SUCCESS
}
