//! tollgate's integration tests, one binary with a module per area: each module was once a
//! test binary of its own, and every one of them linked the whole crate. One binary links it
//! once (`cargo test --test suite`; a module alone: `cargo test --test suite serve::`).

mod common;
mod moto;
mod serving;

mod browser;
mod cache_property;
mod cache_scenarios;
mod cli;
mod config;
mod declared_table;
mod deploy_config;
mod differential;
mod fixtures;
mod jwks_cache;
mod layering;
mod policy_evaluation;
mod rejections;
mod revocation;
mod revocation_failures;
mod revocation_property;
mod routes_costs;
mod serve;
mod serve_cors;
mod serve_property;
mod serve_quickstart;
mod shapes;
mod usage_report;
mod verified_tokens;
