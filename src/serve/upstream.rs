//! The integration behind the gateway: an HTTP upstream reached with reqwest, or the built-in
//! echo backend that answers like the template's demo function.
//!
//! An allowed request goes on with its method, path, query, headers and body, plus the
//! authorizer's context as `x-authorizer-<key in lower case>` headers. Headers of those names
//! that the client sent are dropped first, so a caller cannot pose as another user to the
//! upstream; hop-by-hop headers and `Host` are not passed on either. The upstream's status,
//! headers and body come back as they are, its body bounded like a request's.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::percent_decode_str;
use serde_json::{Map, Value, json};

use super::Api;

/// Prefix of the headers that carry the authorizer context to the upstream.
pub const CONTEXT_HEADER_PREFIX: &str = "x-authorizer-";

/// Headers that belong to one connection and are never forwarded (RFC 9110, 7.6.1).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
];

/// Where allowed requests go.
#[derive(Debug)]
pub enum Upstream {
    /// The built-in echo backend.
    Echo,
    /// An HTTP server.
    Proxy {
        /// Its base URL; the request's path is appended.
        base: reqwest::Url,
        /// The client (one per server, connections reused).
        client: reqwest::Client,
    },
}

/// Why the upstream cannot be called.
#[derive(Debug)]
pub enum UpstreamError {
    /// Its URL's scheme is neither `http` nor `https`.
    NotHttp {
        /// The scheme.
        scheme: String,
    },
    /// The HTTP client could not be built.
    Client(reqwest::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::NotHttp { scheme } => write!(
                f,
                "--upstream must be an http:// or https:// URL, not {scheme}:"
            ),
            UpstreamError::Client(e) => write!(f, "cannot build the upstream client: {e}"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::NotHttp { .. } => None,
            UpstreamError::Client(e) => Some(e),
        }
    }
}

/// One allowed request, as the integration gets it.
#[derive(Debug)]
pub struct Forward<'a> {
    /// The method.
    pub method: &'a str,
    /// The URL path as received.
    pub path: &'a str,
    /// The raw query string.
    pub query: Option<&'a str>,
    /// The client's headers.
    pub headers: &'a HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The authorizer's context.
    pub context: &'a Map<String, Value>,
    /// The route, as the echo backend names it (`GET /api/user/profile`).
    pub route: &'a str,
    /// The client's address, appended to `X-Forwarded-For`.
    pub source_ip: &'a str,
}

/// What the integration answered.
#[derive(Debug)]
pub enum Reply {
    /// A response to pass back.
    Response {
        /// Its status.
        status: u16,
        /// Its headers (hop-by-hop ones removed).
        headers: HeaderMap,
        /// Its body.
        body: Bytes,
    },
    /// The upstream could not be reached, or its answer was unreadable or too large.
    Failed,
    /// The upstream did not answer within the integration timeout.
    TimedOut,
}

impl Upstream {
    /// An upstream at `base`, or the echo backend. REST integrations time out after 29
    /// seconds, HTTP API ones after 30, as API Gateway's do.
    pub fn new(base: Option<reqwest::Url>, api: Api) -> Result<Self, UpstreamError> {
        let Some(base) = base else {
            return Ok(Upstream::Echo);
        };
        if !matches!(base.scheme(), "http" | "https") {
            return Err(UpstreamError::NotHttp {
                scheme: base.scheme().to_string(),
            });
        }
        let timeout = match api {
            Api::Rest => Duration::from_secs(29),
            Api::Http => Duration::from_secs(30),
        };
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(UpstreamError::Client)?;
        Ok(Upstream::Proxy { base, client })
    }

    /// Sends the request on and reads the answer (at most `max_body_bytes` of body).
    pub async fn send(&self, forward: Forward<'_>, max_body_bytes: usize) -> Reply {
        match self {
            Upstream::Echo => echo(&forward),
            Upstream::Proxy { base, client } => proxy(base, client, forward, max_body_bytes).await,
        }
    }
}

/// The headers sent to the upstream: the client's, minus hop-by-hop and spoofed context
/// headers, plus the context.
pub fn upstream_headers(
    client: &HeaderMap,
    context: &Map<String, Value>,
    source_ip: &str,
) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in client {
        let lower = name.as_str();
        // CGI, WSGI and FastCGI servers read `x_authorizer_userid` (or `x.authorizer~userid`)
        // as `x-authorizer-userid`: any character but a letter or digit counts as a dash.
        let dashed: String = lower
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        if HOP_BY_HOP.contains(&lower)
            || lower == "content-length"
            || lower == "x-forwarded-for"
            || dashed.starts_with(CONTEXT_HEADER_PREFIX)
        {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    // API Gateway appends the client's address to X-Forwarded-For.
    let forwarded: Vec<&str> = client
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .chain(std::iter::once(source_ip))
        .collect();
    if let Ok(value) = HeaderValue::from_str(&forwarded.join(", ")) {
        headers.insert("x-forwarded-for", value);
    }
    for (key, value) in context {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let name = format!("{CONTEXT_HEADER_PREFIX}{}", key.to_ascii_lowercase());
        // A key or value a header cannot hold (a control character in a claim) is left out.
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(text.as_bytes()),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

fn echo(forward: &Forward<'_>) -> Reply {
    let field = |name: &str| forward.context.get(name).cloned().unwrap_or(Value::Null);
    let body = json!({
        "route": forward.route,
        "userId": field("userId"),
        "plan": field("plan"),
        "endpoint": field("endpoint"),
        "costMicros": field("costMicros"),
        "authorizer": forward.context,
    });
    let mut headers = HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Reply::Response {
        status: 200,
        headers,
        body: Bytes::from(body.to_string()),
    }
}

async fn proxy(
    base: &reqwest::Url,
    client: &reqwest::Client,
    forward: Forward<'_>,
    max_body_bytes: usize,
) -> Reply {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        forward.path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.set_query(forward.query);
    // The URL library resolves dot segments; routing refuses them, and this makes sure no
    // other path than the one authorized is ever called.
    // Compared decoded (a malformed escape kept as it is), byte for byte.
    if !percent_decode_str(url.path()).eq(percent_decode_str(&joined)) {
        return Reply::Failed;
    }
    let Ok(method) = reqwest::Method::from_bytes(forward.method.as_bytes()) else {
        return Reply::Failed;
    };
    let request = client
        .request(method, url)
        .headers(upstream_headers(
            forward.headers,
            forward.context,
            forward.source_ip,
        ))
        .body(forward.body);
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) if e.is_timeout() => return Reply::TimedOut,
        Err(_) => return Reply::Failed,
    };
    let status = response.status().as_u16();
    let mut headers = HeaderMap::new();
    for (name, value) in response.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) && name != http::header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() <= max_body_bytes => {
                body.extend_from_slice(&chunk);
            }
            Ok(Some(_)) | Err(_) => return Reply::Failed,
            Ok(None) => break,
        }
    }
    Reply::Response {
        status,
        headers,
        body: Bytes::from(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_sent_context_header_never_reaches_the_upstream() {
        let mut client = HeaderMap::new();
        client.insert("x-authorizer-userid", HeaderValue::from_static("admin"));
        client.insert("X-Authorizer-Plan", HeaderValue::from_static("gold"));
        client.insert("accept", HeaderValue::from_static("*/*"));
        let mut context = Map::new();
        context.insert("userId".into(), json!("123456"));
        let headers = upstream_headers(&client, &context, "127.0.0.1");
        assert_eq!(headers.get("x-authorizer-userid").unwrap(), "123456");
        assert!(headers.get("x-authorizer-plan").is_none());
        assert_eq!(headers.get("accept").unwrap(), "*/*");
    }

    #[test]
    fn a_context_header_spelled_with_other_separators_never_reaches_the_upstream() {
        let mut client = HeaderMap::new();
        client.insert("x_authorizer_userid", HeaderValue::from_static("999999"));
        client.insert("X_Authorizer-Costmicros", HeaderValue::from_static("0"));
        client.insert("x-authorizer.plan", HeaderValue::from_static("gold"));
        client.insert("x~authorizer+tenantid", HeaderValue::from_static("t"));
        let headers = upstream_headers(&client, &Map::new(), "127.0.0.1");
        assert!(
            headers.keys().all(|k| !k.as_str().contains("authorizer")),
            "{headers:?}"
        );
    }

    #[test]
    fn the_client_address_is_appended_to_x_forwarded_for() {
        let mut client = HeaderMap::new();
        client.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        let headers = upstream_headers(&client, &Map::new(), "127.0.0.1");
        assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    }

    #[test]
    fn percent_decoding_reads_escapes_and_leaves_the_rest() {
        // The upstream path check relies on the decoder keeping a malformed escape as it is.
        let decoded: Vec<u8> = percent_decode_str("/a%2Fb%zz%4").collect();
        assert_eq!(decoded, b"/a/b%zz%4");
    }

    #[test]
    fn numbers_and_booleans_become_their_json_text() {
        let mut context = Map::new();
        context.insert("costMicros".into(), json!(100000));
        context.insert("admin".into(), json!(false));
        let headers = upstream_headers(&HeaderMap::new(), &context, "127.0.0.1");
        assert_eq!(headers.get("x-authorizer-costmicros").unwrap(), "100000");
        assert_eq!(headers.get("x-authorizer-admin").unwrap(), "false");
    }

    #[test]
    fn hop_by_hop_headers_and_host_are_not_forwarded() {
        let mut client = HeaderMap::new();
        client.insert("connection", HeaderValue::from_static("close"));
        client.insert("host", HeaderValue::from_static("127.0.0.1:3000"));
        client.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        let headers = upstream_headers(&client, &Map::new(), "127.0.0.1");
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
    }

    #[test]
    fn a_context_value_with_a_control_character_is_left_out() {
        let mut context = Map::new();
        context.insert("username".into(), json!("a\nb"));
        let headers = upstream_headers(&HeaderMap::new(), &context, "127.0.0.1");
        assert!(headers.get("x-authorizer-username").is_none());
    }
}
