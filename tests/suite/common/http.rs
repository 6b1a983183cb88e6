//! A real HTTP/1.1 server on 127.0.0.1 for JWKS tests. Each path's response (status, body,
//! headers, delay) can be changed while it runs; requests are counted per path (the request
//! target: path and query). Every connection is served on its own, so slow responses do not
//! block others. It stops when dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use super::server::Listening;

/// What the server answers on one path.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub delay: Duration,
}

impl Reply {
    pub fn json(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            body: body.into(),
            headers: vec![],
            delay: Duration::ZERO,
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            body: b"{}".to_vec(),
            headers: vec![],
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn delayed(mut self, delay: Duration) -> Reply {
        self.delay = delay;
        self
    }
}

#[derive(Default)]
struct Routes {
    replies: HashMap<String, Reply>,
    hits: HashMap<String, usize>,
}

pub struct Server {
    routes: Arc<Mutex<Routes>>,
    listening: Listening,
}

impl Server {
    /// Starts a server with no routes (every path answers 404).
    pub fn start() -> Server {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let shared = Arc::clone(&routes);
        let listening = Listening::start(move |request| {
            let routes = Arc::clone(&shared);
            let path = request.uri().to_string();
            async move {
                let reply = {
                    let mut routes = routes.lock().expect("routes");
                    *routes.hits.entry(path.clone()).or_default() += 1;
                    routes
                        .replies
                        .get(&path)
                        .cloned()
                        .unwrap_or_else(|| Reply::status(404))
                };
                tokio::time::sleep(reply.delay).await;
                let mut response = Response::builder()
                    .status(reply.status)
                    .header("connection", "close");
                // JSON unless the reply names its own type (a page, say).
                if !reply
                    .headers
                    .iter()
                    .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                {
                    response = response.header("content-type", "application/json");
                }
                for (name, value) in &reply.headers {
                    response = response.header(name, value);
                }
                response
                    .body(Full::new(Bytes::from(reply.body)))
                    .expect("a valid reply")
            }
        });
        Server { routes, listening }
    }

    /// Starts a server answering `reply` on `path`.
    pub fn with(path: &str, reply: Reply) -> Server {
        let server = Server::start();
        server.set(path, reply);
        server
    }

    /// Sets (or replaces) the reply on `path`.
    pub fn set(&self, path: &str, reply: Reply) {
        self.routes
            .lock()
            .expect("routes")
            .replies
            .insert(path.to_string(), reply);
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://{}", self.listening.addr())
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    /// How many requests `path` received.
    pub fn hits(&self, path: &str) -> usize {
        self.routes
            .lock()
            .expect("routes")
            .hits
            .get(path)
            .copied()
            .unwrap_or(0)
    }
}
