//! `tollgate serve` in-process, for the suite's tests over real HTTP: bound to a free port of
//! 127.0.0.1 on the test's own runtime, with one clock shared by the authorizer and the
//! gateway's cache (a test moves it forward to cross a TTL), stopped when dropped, its access
//! log removed.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::clock::Clock;
use tollgate::config::Config;
use tollgate::handler::Authorizer;
use tollgate::serve::settings::cache_scope_of;
use tollgate::serve::{Gateway, ServeError, Server, Settings};

/// A server running on this test's runtime until dropped or [`Serving::stop`]ped.
pub struct Serving {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The gateway: its invocation count and cache.
    pub gateway: Arc<Gateway>,
    /// The authorizer behind it.
    pub authorizer: Arc<Authorizer>,
    /// The clock of both.
    pub clock: Clock,
    /// The access log the settings named.
    pub access_log: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    done: Option<JoinHandle<Result<(), ServeError>>>,
}

impl Serving {
    /// Serves `config` under `settings` as `tollgate serve` does: the authorizer's cache scope
    /// is the one the settings' identity sources give.
    pub async fn start(settings: Settings, config: Config) -> Serving {
        Self::start_with(settings, config, |server| server).await
    }

    /// Like [`Serving::start`], with the server adjusted before it runs (a shorter body read
    /// timeout, say).
    pub async fn start_with(
        settings: Settings,
        mut config: Config,
        adjust: impl FnOnce(Server) -> Server,
    ) -> Serving {
        config.authorizer_cache = Some(cache_scope_of(&settings));
        let clock = Clock::default();
        let authorizer = Arc::new(Authorizer::with_clock(&config, clock.clone()).unwrap());
        let access_log = settings.access_log.clone();
        let server = Server::bind_with_clock(settings, authorizer.clone(), clock.clone())
            .await
            .unwrap();
        let server = adjust(server);
        let base = format!("http://{}", server.local_addr().unwrap());
        let gateway = server.gateway();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        Serving {
            base,
            gateway,
            authorizer,
            clock,
            access_log,
            stop: Some(stop),
            done: Some(done),
        }
    }

    /// Stops the server and waits until it has ended, which it must do without an error.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
    }

    /// Every line of the access log so far, parsed.
    pub fn access_log_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.access_log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_file(&self.access_log);
    }
}
