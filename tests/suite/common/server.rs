//! The small HTTP/1.1 server core under the test servers (`http`, `upstream`): hyper on
//! 127.0.0.1, on a thread of its own with its own runtime, so that both `#[test]` and
//! `#[tokio::test]` tests can use it. Every connection is its own task (a slow answer blocks no
//! other) and is closed after one response. It stops listening when dropped.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::sync::oneshot;

/// A running server: every request is answered by the handler it was started with.
pub struct Listening {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Listening {
    /// Starts a server on a free port of 127.0.0.1 that answers every request with `handle`.
    pub fn start<F, Fut>(handle: F) -> Listening
    where
        F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("addr");
        let (stop, mut stopped) = oneshot::channel::<()>();
        let handle = Arc::new(handle);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let stream = tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                    };
                    let handle = Arc::clone(&handle);
                    tokio::spawn(async move {
                        let service = service_fn(move |request| {
                            let handle = Arc::clone(&handle);
                            async move { Ok::<_, Infallible>((*handle)(request).await) }
                        });
                        let _ = http1::Builder::new()
                            .keep_alive(false)
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            // Dropping the runtime here ends the connections still open.
        });
        Listening {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
