//! A real HTTP/1.1 upstream on 127.0.0.1 for `tollgate serve` tests: it records every request
//! that reaches it (method, target, headers, body) and answers 200 with a small JSON body and
//! an `x-upstream` header, after a delay if asked. Every connection is served on its own and
//! closed after its response; it stops when dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;

use super::server::Listening;

/// One request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names in lower case; the values of one name in the order sent (hyper's
    /// `HeaderMap` order across names).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    /// The value of a header (first of that name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Upstream {
    received: Arc<Mutex<Vec<Received>>>,
    listening: Listening,
}

impl Upstream {
    pub fn start() -> Upstream {
        Self::start_slow(Duration::ZERO)
    }

    /// An upstream that records each request at once and answers it after `delay`.
    pub fn start_slow(delay: Duration) -> Upstream {
        let received = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&received);
        let listening = Listening::start(move |request| {
            let received = Arc::clone(&shared);
            async move {
                let (head, body) = request.into_parts();
                let body = match body.collect().await {
                    Ok(collected) => collected.to_bytes().to_vec(),
                    Err(_) => Vec::new(),
                };
                let headers = head
                    .headers
                    .iter()
                    .map(|(name, value)| {
                        let value = String::from_utf8_lossy(value.as_bytes());
                        (name.as_str().to_string(), value.trim().to_string())
                    })
                    .collect();
                received.lock().unwrap().push(Received {
                    method: head.method.to_string(),
                    target: head.uri.to_string(),
                    headers,
                    body,
                });
                tokio::time::sleep(delay).await;
                Response::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .header("x-upstream", "yes")
                    .header("connection", "close")
                    .body(Full::new(Bytes::from_static(br#"{"from":"upstream"}"#)))
                    .expect("a valid reply")
            }
        });
        Upstream {
            received,
            listening,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.listening.addr())
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
