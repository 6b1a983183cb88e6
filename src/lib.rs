//! tollgate: an AWS Lambda custom authorizer for Amazon API Gateway.
//!
//! It verifies the caller's JWT against the issuer's JWKS, answers with an IAM policy (or an
//! HTTP API simple response), and hands API Gateway a context that attributes each call's cost.
//! One module per step of the flow: [`event`], [`token`], [`jwks`], [`verify`], [`access`],
//! [`decision`], [`response`] and [`usage`]; [`handler`] runs them in order.

#![deny(missing_docs)]

pub mod access;
pub mod aws;
pub mod bounded_cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod cors;
pub mod decision;
pub mod errors;
pub mod event;
pub mod exactness;
pub mod handler;
pub mod http;
pub mod iam;
mod json;
pub mod jwks;
pub mod lambda;
pub mod log;
pub mod metrics;
pub mod pricing;
pub mod report;
pub mod response;
pub mod revocation;
pub mod route_table;
pub mod routes;
pub mod serve;
pub mod signature;
pub mod token;
pub mod usage;
pub mod verified_tokens;
pub mod verify;
