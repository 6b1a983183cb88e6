//! The authorizer itself: state built once at init, and one plain async function per event.
//!
//! [`Authorizer::handle`] runs the flow of DESIGN.md in order (event, token, jwks, verify,
//! access, decision, response/usage) and logs one line per decision. Lambda mode and the local
//! `tollgate invoke` both call it, and so do the tests.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::access::AccessRules;
use crate::config::{Config, ConfigError};
use crate::decision::{Decision, Grant};
use crate::errors::Rejection;
use crate::event::{self, AuthRequest};
use crate::jwks::Jwks;
use crate::log::{self, DecisionRecord};
use crate::response::{self, HttpApiResponse, LambdaFailure};
use crate::token::{self, TokenSource};
use crate::usage;
use crate::verify::Verifier;

/// Everything an invocation needs, built once per Lambda execution environment.
pub struct Authorizer {
    verifier: Verifier,
    jwks: Jwks,
    access: AccessRules,
    token_sources: Option<Vec<TokenSource>>,
    http_v2: HttpApiResponse,
}

/// The result of one invocation: the decision, and the response as Lambda would return it.
#[derive(Debug)]
pub struct Outcome {
    /// What was decided.
    pub decision: Decision,
    /// The response JSON, or the error the runtime reports.
    pub response: Result<Value, LambdaFailure>,
}

impl Authorizer {
    /// Builds the authorizer from validated configuration. Nothing is fetched yet.
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let jwks = Jwks::new(config.jwks.clone()).map_err(|problem| ConfigError {
            setting: "JWKS_URI",
            problem,
        })?;
        Ok(Authorizer {
            verifier: Verifier::new(config),
            jwks,
            access: AccessRules::from_config(config),
            token_sources: config.token_sources.clone(),
            http_v2: if config.http_api_simple_responses {
                HttpApiResponse::Simple
            } else {
                HttpApiResponse::IamPolicy
            },
        })
    }

    /// Fetches the JWKS ahead of the first request (Lambda init is the cheapest place). A
    /// failure is logged and not fatal: requests then try again, and fail closed with a 500.
    pub async fn prefetch(&self) {
        if let Err(e) = self.jwks.refresh().await {
            log::warn("jwks_prefetch_failed", &e);
        }
    }

    /// Decides one event (raw JSON) and encodes the response; logs the decision.
    pub async fn handle(&self, event: &[u8], request_id: Option<&str>) -> Outcome {
        let started = Instant::now();
        let (request, decision) = match event::parse(event) {
            Ok(request) => {
                let decision = self.decide(&request).await;
                (Some(request), decision)
            }
            Err(rejection) => (None, Decision::from_rejection(rejection)),
        };
        let response = response::encode(&decision, request.as_ref().map(|r| r.shape), self.http_v2);
        log::decision(&DecisionRecord {
            event: "decision",
            request_id: request_id.or(request.as_ref().and_then(|r| r.request_id.as_deref())),
            decision: decision.label(),
            reason: decision.reason_code(),
            detail: decision.rejection().map(|r| r.detail.as_str()),
            shape: request.as_ref().map(|r| r.shape.name()),
            principal: match &decision {
                Decision::Allow(g) | Decision::Deny(g, _) => Some(g.principal_id.as_str()),
                _ => None,
            },
            route: request.as_ref().map(|r| r.endpoint.as_str()),
            latency_us: u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        });
        Outcome { decision, response }
    }

    async fn decide(&self, request: &AuthRequest) -> Decision {
        match self.authorize(request).await {
            Ok(decision) => decision,
            Err(rejection) => Decision::from_rejection(rejection),
        }
    }

    async fn authorize(&self, request: &AuthRequest) -> Result<Decision, Rejection> {
        let defaults;
        let sources = match &self.token_sources {
            Some(sources) => sources.as_slice(),
            None => {
                defaults = token::default_sources(request.shape);
                defaults.as_slice()
            }
        };
        let token = token::extract(request.shape, &request.credentials, sources)?;
        let keys = self.jwks.keys().await?;
        let claims = self.verifier.verify(token, &keys, now_seconds())?;
        let context = usage::context(&claims, &request.endpoint);
        Ok(match self.access.permitted(&claims, &request.arn) {
            Ok(allow) => Decision::Allow(Grant {
                principal_id: claims.sub,
                allow,
                deny: vec![],
                context,
            }),
            Err(rejection) => Decision::Deny(
                Grant {
                    principal_id: claims.sub,
                    allow: vec![],
                    deny: vec![request.arn.raw.clone()],
                    context,
                },
                rejection,
            ),
        })
    }
}

fn now_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
