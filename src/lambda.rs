//! Lambda mode: build the authorizer once at init, then serve invocations through
//! `lambda_runtime` with a `service_fn` around [`Authorizer::handle`].
//!
//! The deployed `bootstrap` is the `tollgate-lambda` binary (`src/bin/tollgate-lambda.rs`),
//! whose `main` is [`main`] alone, so the command line, `serve`'s HTTP server and the report
//! never reach a cold start. `tollgate` with `AWS_LAMBDA_RUNTIME_API` set and no arguments
//! runs the same [`main`].

use std::process::ExitCode;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::config::{Config, ConfigError};
use crate::handler::Authorizer;
use crate::response::{LambdaFailure, Response};
use crate::revocation::InitError;

/// Why Lambda mode stopped.
#[derive(Debug)]
pub enum LambdaError {
    /// The configuration is invalid: init fails, and API Gateway answers 500.
    Config(ConfigError),
    /// The revocation list cannot be held within its bound: init fails.
    Revocations(InitError),
    /// The runtime API client failed.
    Runtime(lambda_runtime::Error),
}

impl std::fmt::Display for LambdaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LambdaError::Config(e) => write!(f, "configuration error: {e}"),
            LambdaError::Revocations(e) => write!(f, "revocation list: {e}"),
            LambdaError::Runtime(e) => write!(f, "lambda runtime error: {e}"),
        }
    }
}

impl std::error::Error for LambdaError {}

/// Exit status for a configuration that stops init: the command line's status for bad usage or
/// configuration (BSD `EX_USAGE`), which `cli::EXIT_USAGE` is.
pub const EXIT_CONFIGURATION: u8 = 64;

/// Runs `work` to its exit status on the single-threaded tokio runtime both binaries use (a
/// Lambda sandbox serves one invocation at a time; the command line needs no more). Exit
/// status `3` when the runtime cannot start.
pub fn run_to_exit(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => {
            eprintln!("tollgate: cannot start the async runtime: {e}");
            ExitCode::from(3)
        }
    }
}

/// The Lambda function from start to shutdown: a runtime, init, then invocations. Exit
/// status `64` for a configuration error, `3` when the runtime cannot start.
pub fn main() -> ExitCode {
    run_to_exit(async {
        match serve().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("tollgate: {e}");
                ExitCode::from(EXIT_CONFIGURATION)
            }
        }
    })
}

/// Serves the Lambda runtime API until the environment shuts down. A configuration error
/// stops init (Lambda then reports an init failure and API Gateway answers 500).
pub async fn serve() -> Result<(), LambdaError> {
    let config = Config::from_env().map_err(LambdaError::Config)?;
    let authorizer = Arc::new(Authorizer::new(&config).map_err(LambdaError::Config)?);
    authorizer
        .prefetch()
        .await
        .map_err(LambdaError::Revocations)?;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let authorizer = Arc::clone(&authorizer);
        async move {
            let outcome = authorizer
                .handle(
                    event.payload.get().as_bytes(),
                    Some(event.context.request_id.as_str()),
                )
                .await;
            outcome.response.and_then(Response::into_raw) as Result<Box<RawValue>, LambdaFailure>
        }
    }))
    .await
    .map_err(LambdaError::Runtime)
}
