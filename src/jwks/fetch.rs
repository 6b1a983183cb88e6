//! OIDC discovery and the JWKS fetch over HTTP, with bounded timeouts and size.
//!
//! Every error names a URL without its userinfo and query (which may carry credentials), and
//! reqwest's errors are stripped of the URL they carry.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::Deserialize;

use super::CachePolicy;
use super::key_set::{KeySet, KeySetError};
use crate::http::{self, BodyError, error_chain};
use crate::log;

/// Where an issuer's keys are fetched from over the network.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Remote {
    /// A JWKS URL (`http://` or `https://`).
    Url(String),
    /// OIDC discovery: `{issuer}/.well-known/openid-configuration` names the JWKS.
    Discovery,
}

pub use crate::http::ClientError;

/// Builds the HTTP client used for discovery and JWKS fetches, with the policy's timeouts.
pub fn http_client(policy: &CachePolicy) -> Result<reqwest::Client, ClientError> {
    http::client(policy.connect_timeout, policy.timeout)
}

/// Why a fetch gave no key set. Every `url` is shown redacted ([`log::redact_url`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// No HTTP client was built (no issuer was configured with a remote source).
    NoClient,
    /// The request could not be made or answered (the cause chain, `(timed out)` when so).
    Unreachable {
        /// The URL requested.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The server answered with a status other than success.
    Status {
        /// The URL requested.
        url: String,
        /// The status it answered.
        status: reqwest::StatusCode,
    },
    /// The body is (or would become) larger than the policy's largest document.
    TooLarge {
        /// The URL requested.
        url: String,
        /// The largest document accepted, in bytes.
        max_bytes: usize,
    },
    /// The body could not be read to its end.
    Unreadable {
        /// The URL requested.
        url: String,
        /// What went wrong.
        cause: String,
    },
    /// The discovery document is not one (serde's reason).
    NotDiscoveryDocument {
        /// The discovery URL.
        url: String,
        /// What is wrong with it.
        cause: String,
    },
    /// The discovery document names another issuer than the configured one.
    IssuerMismatch {
        /// The discovery URL.
        url: String,
        /// The document's issuer, redacted.
        found: String,
        /// The configured issuer, redacted.
        expected: String,
    },
    /// The discovery document's `jwks_uri` is not `https` (nor `http` for an `http` issuer).
    InsecureJwksUri {
        /// The discovery URL.
        url: String,
        /// The `jwks_uri` it names, redacted.
        jwks_uri: String,
    },
    /// The JWKS document holds no usable key set.
    Document {
        /// The JWKS URL.
        url: String,
        /// What is wrong with its document.
        problem: KeySetError,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoClient => f.write_str("no HTTP client: this JWKS has no remote source"),
            FetchError::Unreachable { url, cause } => write!(f, "cannot fetch {url}: {cause}"),
            FetchError::Status { url, status } => write!(f, "{url} answered HTTP {status}"),
            FetchError::TooLarge { url, max_bytes } => {
                write!(f, "{url} is larger than {max_bytes} bytes")
            }
            FetchError::Unreadable { url, cause } => write!(f, "cannot read {url}: {cause}"),
            FetchError::NotDiscoveryDocument { url, cause } => {
                write!(f, "{url}: not an OIDC discovery document: {cause}")
            }
            FetchError::IssuerMismatch {
                url,
                found,
                expected,
            } => write!(
                f,
                "{url}: the document's issuer {found:?} is not {expected:?}"
            ),
            FetchError::InsecureJwksUri { url, jwks_uri } => {
                write!(f, "{url}: jwks_uri {jwks_uri:?} is not an https URL")
            }
            FetchError::Document { url, problem } => write!(f, "{url}: {problem}"),
        }
    }
}

impl std::error::Error for FetchError {}

/// A JWKS document as fetched: its keys, and the `Cache-Control` it came with.
pub(super) struct Fetched {
    /// The document's usable keys.
    pub(super) keys: KeySet,
    /// The response's `Cache-Control`, when it had a readable one.
    pub(super) cache_control: Option<String>,
}

/// Fetches one issuer's JWKS from its remote source, discovering the JWKS URL once.
pub(super) struct Fetcher {
    issuer: String,
    remote: Remote,
    /// `None` when no issuer has a remote source: fetches then fail with [`FetchError::NoClient`].
    client: Option<reqwest::Client>,
    max_bytes: usize,
    discovered_url: Mutex<Option<String>>,
    fetches: AtomicUsize,
}

impl Fetcher {
    /// A fetcher for `issuer`'s keys at `remote`.
    pub(super) fn new(
        issuer: &str,
        remote: Remote,
        client: Option<reqwest::Client>,
        max_bytes: usize,
    ) -> Self {
        Fetcher {
            issuer: issuer.to_string(),
            remote,
            client,
            max_bytes,
            discovered_url: Mutex::new(None),
            fetches: AtomicUsize::new(0),
        }
    }

    /// How many JWKS documents have been requested so far (discovery documents not counted).
    pub(super) fn fetch_count(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    /// Fetches the JWKS document and parses its keys.
    pub(super) async fn fetch(&self) -> Result<Fetched, FetchError> {
        let url = self.jwks_url().await?;
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let (body, cache_control) = fetch_url(self.client()?, &url, self.max_bytes).await?;
        let keys = KeySet::parse(&body).map_err(|problem| FetchError::Document {
            url: log::redact_url(&url),
            problem,
        })?;
        Ok(Fetched {
            keys,
            cache_control,
        })
    }

    fn client(&self) -> Result<&reqwest::Client, FetchError> {
        self.client.as_ref().ok_or(FetchError::NoClient)
    }

    async fn jwks_url(&self) -> Result<String, FetchError> {
        match &self.remote {
            Remote::Url(url) => Ok(url.clone()),
            Remote::Discovery => {
                if let Some(url) = self
                    .discovered_url
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone()
                {
                    return Ok(url);
                }
                let url = discover(self.client()?, &self.issuer, self.max_bytes).await?;
                *self
                    .discovered_url
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(url.clone());
                Ok(url)
            }
        }
    }
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// OIDC discovery: the document's `issuer` must be exactly the configured one.
async fn discover(
    client: &reqwest::Client,
    issuer: &str,
    max_bytes: usize,
) -> Result<String, FetchError> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let (body, _) = fetch_url(client, &url, max_bytes).await?;
    let doc: DiscoveryDocument =
        serde_json::from_slice(&body).map_err(|e| FetchError::NotDiscoveryDocument {
            url: log::redact_url(&url),
            cause: e.to_string(),
        })?;
    if doc.issuer != issuer {
        return Err(FetchError::IssuerMismatch {
            url: log::redact_url(&url),
            found: log::redact_url(&doc.issuer),
            expected: log::redact_url(issuer),
        });
    }
    let allowed = doc.jwks_uri.starts_with("https://")
        || (issuer.starts_with("http://") && doc.jwks_uri.starts_with("http://"));
    if !allowed {
        return Err(FetchError::InsecureJwksUri {
            url: log::redact_url(&url),
            jwks_uri: log::redact_url(&doc.jwks_uri),
        });
    }
    Ok(doc.jwks_uri)
}

/// GETs `url`: its body (at most `max_bytes`) and its `Cache-Control`.
async fn fetch_url(
    client: &reqwest::Client,
    url: &str,
    max_bytes: usize,
) -> Result<(Vec<u8>, Option<String>), FetchError> {
    let shown = || log::redact_url(url);
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| FetchError::Unreachable {
            url: shown(),
            cause: error_chain(e),
        })?;
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: shown(),
            status: response.status(),
        });
    }
    let cache_control = response
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = http::read_body(response, max_bytes)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => FetchError::TooLarge {
                url: shown(),
                max_bytes,
            },
            BodyError::Unreadable(cause) => FetchError::Unreadable {
                url: shown(),
                cause,
            },
        })?;
    Ok((body, cache_control))
}
