//! Structured log lines: one JSON object per line on stderr, which Lambda ships to CloudWatch.
//!
//! Callers pass only what is safe to log: reason codes, details written by tollgate, claim
//! values such as `sub`, and never a token, a signature or a secret.

use std::io::Write;

use serde::Serialize;

use crate::metrics::Metadata;
use crate::usage::Usage;

/// One line per authorization decision: the decision, its usage record, and (in Embedded
/// Metric Format) the decision count and latency.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord<'a> {
    /// The EMF metadata that turns `decisions` and `latencyUs` into CloudWatch metrics.
    #[serde(rename = "_aws")]
    pub metrics: Metadata,
    /// Always `"decision"`, so log queries can select these lines.
    pub event: &'static str,
    /// The Lambda or API Gateway request id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
    /// `allow`, `deny`, `unauthorized` or `error`.
    pub decision: &'static str,
    /// `ok` for an Allow, otherwise the reason code.
    pub reason: &'static str,
    /// What was wrong, for a rejection.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'a str>,
    /// The event shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shape: Option<&'static str>,
    /// The verified `sub`, once the token has been verified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<&'a str>,
    /// The endpoint label (`GET /api/user/profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<&'a str>,
    /// What the call is attributed to, for a verified caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<&'a Usage>,
    /// Always 1: the EMF count of decisions.
    pub decisions: u32,
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
}

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

/// Writes a decision line.
pub fn decision(record: &DecisionRecord<'_>) {
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
