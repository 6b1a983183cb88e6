//! The one HTTP client tollgate builds (reqwest over rustls), and what every caller of it
//! needs: a body read with a size bound, and reqwest's errors without the URL they carry.
//!
//! The JWKS fetcher and the DynamoDB client share one client per execution environment, so
//! the CA store is loaded once at init.

use std::fmt;
use std::time::Duration;

/// The HTTP client could not be built.
#[derive(Debug)]
pub struct ClientError(reqwest::Error);

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot build the HTTP client: {}", self.0)
    }
}

impl std::error::Error for ClientError {}

/// Builds the client, with a connect timeout and a timeout for each whole request.
pub fn client(connect: Duration, timeout: Duration) -> Result<reqwest::Client, ClientError> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .timeout(timeout)
        .build()
        .map_err(ClientError)
}

/// Why a response body was not read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// The body is (or would become) larger than the bound.
    TooLarge,
    /// The body could not be read to its end (the cause chain).
    Unreadable(String),
}

/// Reads a response's body, refusing one over `max_bytes` before or while it is read.
pub async fn read_body(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|n| n > max_bytes as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| BodyError::Unreadable(error_chain(e)))?
    {
        if body.len() + chunk.len() > max_bytes {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's error and its causes, without the URL, and `(timed out)` when it timed out.
pub fn error_chain(e: reqwest::Error) -> String {
    let timed_out = e.is_timeout();
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out {
        text.push_str(" (timed out)");
    }
    text
}
