//! Fuzzes the whole handler from raw event bytes: shape detection, the `aws_lambda_events`
//! parse, token extraction, verification, route rules and the response. The oracle: never a
//! panic, and the response fits the decision: an Allow or Deny is a JSON object (policy or
//! simple response), a 401 is the `Unauthorized` error unless the shape answers with a simple
//! response, and a 500 is always an error. (Whether an Allow was deserved is the token target's
//! question: the fuzzer can splice a valid token back together from the seeds.)
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollgate::config::Config;
use tollgate::decision::Decision;
use tollgate::handler::Authorizer;

struct Setup {
    runtime: tokio::runtime::Runtime,
    authorizer: Authorizer,
}

static SETUP: LazyLock<Setup> = LazyLock::new(|| {
    let config = Config::from_lookup(|name| match name {
        "JWT_ISSUER" => Some("https://dev-only.tollgate.invalid".to_string()),
        "JWT_AUDIENCE" => Some("tollgate-dev-client".to_string()),
        "JWKS_URI" => Some(format!(
            "file://{}/../events/jwks.json",
            env!("CARGO_MANIFEST_DIR")
        )),
        _ => None,
    })
    .expect("fuzz configuration");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let authorizer = runtime.block_on(async {
        let authorizer = Authorizer::new(&config).expect("authorizer");
        authorizer.prefetch().await;
        authorizer
    });
    Setup {
        runtime,
        authorizer,
    }
});

fuzz_target!(|data: &[u8]| {
    let setup = &*SETUP;
    let outcome = setup.runtime.block_on(setup.authorizer.handle(data, None));
    match (&outcome.decision, &outcome.response) {
        (Decision::Allow(_) | Decision::Deny(..), Ok(response)) => {
            let value = response.to_value();
            assert!(value.is_object(), "response is not a JSON object: {value}")
        }
        (Decision::Unauthorized(_), Ok(response)) => {
            let value = response.to_value();
            assert_eq!(value["isAuthorized"], false, "a 401 answered {value}")
        }
        (Decision::Error(_), Ok(response)) => panic!("a 500 answered {}", response.as_str()),
        (Decision::Allow(_) | Decision::Deny(..), Err(failure)) => {
            panic!("an allow or deny answered with an error: {failure:?}")
        }
        (_, Err(_)) => {}
    }
});
