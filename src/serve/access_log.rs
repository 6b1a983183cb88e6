//! Access-log lines in the SAM template's format, so `tollgate usage-report` reads them as it
//! reads CloudWatch's.
//!
//! The formats below are the template's `AccessLogSetting` / `AccessLogSettings` strings, kept
//! identical by a test. A format is API Gateway's: literal text with `$context.NAME`
//! variables; a variable with no value is written `-`, as API Gateway writes it. Values are
//! JSON-escaped where they are written, so nothing a caller sent (a path, a header) can break
//! a line or add a field.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::Api;

/// The REST API's access-log format in `template.yaml`.
pub const REST_FORMAT: &str = r#"{"requestId":"$context.requestId","requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","path":"$context.path","resourcePath":"$context.resourcePath","routeKey":"-","status":"$context.status","userId":"$context.authorizer.userId","clientId":"$context.authorizer.clientId","plan":"$context.authorizer.plan","tenantId":"$context.authorizer.tenantId","endpoint":"$context.authorizer.endpoint","costMicros":"$context.authorizer.costMicros","apiKeyId":"$context.identity.apiKeyId","authorizerLatency":"$context.authorizer.latency","authorizerError":"$context.authorizer.error"}"#;

/// The HTTP API's access-log format in `template.yaml`.
pub const HTTP_FORMAT: &str = r#"{"requestId":"$context.requestId","requestTimeEpoch":"$context.requestTimeEpoch","httpMethod":"$context.httpMethod","path":"$context.path","resourcePath":"-","routeKey":"$context.routeKey","status":"$context.status","userId":"$context.authorizer.userId","clientId":"$context.authorizer.clientId","plan":"$context.authorizer.plan","tenantId":"$context.authorizer.tenantId","endpoint":"$context.authorizer.endpoint","costMicros":"$context.authorizer.costMicros","authorizerError":"$context.authorizer.error"}"#;

/// One piece of a parsed format.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// A variable, named without `$context.` (`requestId`, `authorizer.userId`).
    Variable(String),
}

/// A parsed access-log format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Format {
    pieces: Vec<Piece>,
}

impl Format {
    /// The template's format for an API kind.
    pub fn for_api(api: Api) -> Self {
        Self::parse(match api {
            Api::Rest => REST_FORMAT,
            Api::Http => HTTP_FORMAT,
        })
    }

    /// Parses a format: `$context.` followed by letters, digits, `.` and `_` is a variable.
    pub fn parse(text: &str) -> Self {
        const MARK: &str = "$context.";
        let mut pieces = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(MARK) {
            if at > 0 {
                pieces.push(Piece::Text(rest[..at].to_string()));
            }
            let after = &rest[at + MARK.len()..];
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_'))
                .unwrap_or(after.len());
            let name = after[..len].trim_end_matches('.');
            pieces.push(Piece::Variable(name.to_string()));
            rest = &after[name.len()..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_string()));
        }
        Format { pieces }
    }

    /// The variables the format uses, in order.
    pub fn variables(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Variable(name) => Some(name.as_str()),
                Piece::Text(_) => None,
            })
            .collect()
    }

    /// Writes one line: each variable's value JSON-escaped, `-` where it has none.
    pub fn render(&self, value_of: impl Fn(&str) -> Option<String>) -> String {
        let mut line = Vec::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => line.extend_from_slice(text.as_bytes()),
                Piece::Variable(name) => match value_of(name).filter(|v| !v.is_empty()) {
                    Some(value) => crate::json::string_contents(&mut line, &value),
                    None => line.push(b'-'),
                },
            }
        }
        // Text and escaped `&str`s only: UTF-8 always.
        String::from_utf8(line).unwrap_or_default()
    }
}

/// The access log could not be opened.
#[derive(Debug)]
pub struct AccessLogError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

impl std::fmt::Display for AccessLogError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "cannot open the access log {}: {}",
            self.path.display(),
            self.source
        )
    }
}

impl std::error::Error for AccessLogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// The access-log file: lines appended whole, one write each.
#[derive(Debug)]
pub struct AccessLog {
    file: Mutex<File>,
}

impl AccessLog {
    /// Opens (or creates) the file for appending.
    pub fn open(path: &Path) -> Result<Self, AccessLogError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| AccessLogError {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(AccessLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one line. A line that cannot be written is reported on stderr once per failure
    /// and does not fail the request, as API Gateway's logging does not.
    pub fn write(&self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(e) = file.write_all(&bytes) {
            crate::log::warn("access_log_unwritable", &format!("{}", e.kind()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_without_a_value_is_a_dash() {
        let format =
            Format::parse(r#"{"a":"$context.requestId","b":"$context.authorizer.userId"}"#);
        let line = format.render(|name| (name == "requestId").then(|| "r1".to_string()));
        assert_eq!(line, r#"{"a":"r1","b":"-"}"#);
    }

    #[test]
    fn a_value_cannot_break_out_of_its_string() {
        let format = Format::parse(r#"{"path":"$context.path"}"#);
        let line = format.render(|_| Some("/x\",\"status\":\"200\n".to_string()));
        let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(parsed.as_object().unwrap().len(), 1);
        assert!(!line.contains('\n'));
    }

    #[test]
    fn both_template_formats_are_json_when_rendered() {
        for api in [Api::Rest, Api::Http] {
            let line = Format::for_api(api).render(|_| None);
            assert!(
                serde_json::from_str::<serde_json::Value>(&line).is_ok(),
                "{line}"
            );
        }
    }

    #[test]
    fn the_rest_format_names_the_authorizer_context_fields() {
        let format = Format::for_api(Api::Rest);
        let variables = format.variables();
        for name in [
            "authorizer.userId",
            "authorizer.costMicros",
            "resourcePath",
            "status",
        ] {
            assert!(variables.contains(&name), "{name}");
        }
    }
}
