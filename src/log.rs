//! Structured log lines: one JSON object per line on stderr, which Lambda ships to CloudWatch.
//!
//! Callers pass only what is safe to log: reason codes, details written by tollgate, claim
//! values such as `sub`, URLs through [`redact_url`], and never a token, a signature, a secret
//! or anything else the caller sent.

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

/// A URL as it may be logged or shown in an error: userinfo, query and fragment, which can
/// carry credentials (`https://reader:secret@idp/keys?api_key=...`), become `***`. Everything
/// before the last `@` ahead of the query counts as userinfo, so a malformed URL cannot leak a
/// password either.
///
/// ```
/// use tollgate::log::redact_url;
/// assert_eq!(
///     redact_url("https://reader:secret@idp.example/keys?api_key=k#frag"),
///     "https://***@idp.example/keys?***#***"
/// );
/// assert_eq!(redact_url("https://idp.example/keys"), "https://idp.example/keys");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let (rest, fragment) = match rest.find('#') {
        Some(at) => (&rest[..at], true),
        None => (rest, false),
    };
    let (rest, query) = match rest.find('?') {
        Some(at) => (&rest[..at], true),
        None => (rest, false),
    };
    let mut shown = String::from(scheme);
    match rest.rfind('@') {
        Some(at) => {
            shown.push_str("***");
            shown.push_str(&rest[at..]);
        }
        None => shown.push_str(rest),
    }
    if query {
        shown.push_str("?***");
    }
    if fragment {
        shown.push_str("#***");
    }
    shown
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_without_credentials_is_shown_as_is() {
        assert_eq!(
            redact_url("http://127.0.0.1:8080/jwks.json"),
            "http://127.0.0.1:8080/jwks.json"
        );
    }

    #[test]
    fn userinfo_query_and_fragment_are_redacted() {
        for (url, shown) in [
            ("https://u:p@idp/keys", "https://***@idp/keys"),
            ("https://idp/keys?api_key=k", "https://idp/keys?***"),
            ("https://idp/keys#access_token=t", "https://idp/keys#***"),
            ("https://u:p/w@idp/keys", "https://***@idp/keys"),
            ("reader:secret@idp/keys", "***@idp/keys"),
            ("gopher://u:p@keys?x=1", "gopher://***@keys?***"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
