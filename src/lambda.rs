//! Lambda mode: build the authorizer once at init, then serve invocations through
//! `lambda_runtime` with a `service_fn` around [`Authorizer::handle`].

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

use crate::config::Config;
use crate::handler::Authorizer;
use crate::response::{LambdaFailure, Response};

/// Serves the Lambda runtime API until the environment shuts down. A configuration error
/// stops init (Lambda then reports an init failure and API Gateway answers 500).
pub async fn serve() -> Result<(), String> {
    let config = Config::from_env().map_err(|e| format!("configuration error: {e}"))?;
    let authorizer =
        Arc::new(Authorizer::new(&config).map_err(|e| format!("configuration error: {e}"))?);
    authorizer.prefetch().await;
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
    .map_err(|e| format!("lambda runtime error: {e}"))
}
