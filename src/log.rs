//! Structured log lines: one JSON object per line on stderr, which Lambda ships to CloudWatch.
//!
//! Callers pass only what is safe to log: reason codes, details written by tollgate, claim
//! values such as `sub`, and never a token, a signature or a secret.

use std::io::Write;

use serde::Serialize;

use crate::metrics::Metadata;

/// One line per JWKS fetch, with the EMF fetch count.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchRecord<'a> {
    /// The EMF metadata that turns `jwksFetches` into a CloudWatch metric.
    #[serde(rename = "_aws")]
    pub metrics: Metadata,
    /// `info` or `warn`.
    pub level: &'static str,
    /// Always `"jwks_fetch"`.
    pub event: &'static str,
    /// `ok` or `error`.
    pub result: &'static str,
    /// The issuer whose keys were fetched.
    pub issuer: &'a str,
    /// What was fetched, or what went wrong.
    pub detail: &'a str,
    /// Always 1: the EMF count of fetches.
    pub jwks_fetches: u32,
}

/// Writes a JWKS fetch line.
pub fn fetch(record: &FetchRecord<'_>) {
    write_line(record);
}

/// Writes a decision line (a [`crate::decision::DecisionRecord`]).
pub fn decision(record: &impl Serialize) {
    write_line(record);
}

#[derive(Serialize)]
struct Line<'a> {
    level: &'static str,
    event: &'a str,
    detail: &'a str,
}

/// Writes an informational line, e.g. a JWKS fetch.
pub fn info(event: &str, detail: &str) {
    write_line(&Line {
        level: "info",
        event,
        detail,
    });
}

/// Writes a warning line, e.g. a JWKS key that was skipped or a fetch that failed.
pub fn warn(event: &str, detail: &str) {
    write_line(&Line {
        level: "warn",
        event,
        detail,
    });
}

fn write_line(value: &impl Serialize) {
    let mut line = match serde_json::to_vec(value) {
        Ok(line) => line,
        Err(_) => return,
    };
    line.push(b'\n');
    // A log line that cannot be written must not fail the request.
    let _ = std::io::stderr().lock().write_all(&line);
}
