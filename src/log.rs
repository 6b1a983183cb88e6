//! Structured log lines: one JSON object per line on stderr, which Lambda ships to CloudWatch.
//!
//! Callers pass only what is safe to log: reason codes, details written by tollgate, claim
//! values such as `sub`, and never a token, a signature or a secret.

use std::io::Write;

use serde::Serialize;

/// One line per authorization decision.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord<'a> {
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
    /// Time spent deciding, in microseconds.
    pub latency_us: u64,
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
