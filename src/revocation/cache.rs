//! The revocation list kept current: read whole at init, then only what was written since
//! the last read, at most once per refresh interval, on the request path (concurrent requests
//! share one read). While reads fail the last list is served up to the maximum staleness;
//! past it, and before any read has succeeded, the answer is `revocations_unavailable` (500,
//! never cached by API Gateway). Every read logs one `revocation_refresh` line with the EMF
//! count `revocationRefreshes` by result (`ok`, `error`, `over_bound`).

use std::fmt;
use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use super::list::{OverBound, RevocationList};
use super::table::{self, Table, TableError};
use super::{RevocationSettings, TokenFacts};
use crate::clock::Clock;
use crate::errors::{Reason, Rejection};
use crate::log::{self, ReadRecord, Source};

/// How far before the previous read's start each read begins: entries written by a writer
/// whose clock runs behind (or whose write landed while the read was under way) are still
/// read. Entries read twice are held once.
pub const OVERLAP: Duration = Duration::from_secs(60);

/// How many page timeouts one whole read may take.
const READ_PAGES_IN_TIME: u32 = 5;

/// The list could not be loaded at init within its bound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitError(pub String);

impl fmt::Display for InitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InitError {}

/// Where the reads stand.
#[derive(Debug, Default)]
struct Progress {
    /// When the last read was tried (successful or not).
    last_attempt: Option<Instant>,
    /// When the last successful read started.
    last_success: Option<Instant>,
    /// The wall-clock start (Unix ms) of the last successful read.
    read_from_ms: Option<u64>,
    /// Reads made, successful or not.
    reads: usize,
    /// The last read found entries the list cannot take (more than the bound, or an item that
    /// is not an entry): a revocation among them may be one the list lacks, so every token
    /// gets a 500 until a read succeeds again. The reason, for the 500's detail.
    unusable: Option<String>,
}

/// Why one read did not update the list.
enum ReadFailure {
    Table(TableError),
    OverBound(OverBound),
}

/// The revocation list, read from its table.
pub struct RevocationCache {
    table: Table,
    settings: RevocationSettings,
    clock: Clock,
    list: RwLock<RevocationList>,
    progress: tokio::sync::Mutex<Progress>,
}

impl RevocationCache {
    /// A cache of `table`'s list; nothing is read until [`RevocationCache::init`] or the first
    /// check.
    pub fn new(table: Table, settings: RevocationSettings, clock: Clock) -> Self {
        RevocationCache {
            list: RwLock::new(RevocationList::new(settings.max_entries)),
            table,
            settings,
            clock,
            progress: tokio::sync::Mutex::new(Progress::default()),
        }
    }

    /// The settings it reads with.
    pub fn settings(&self) -> &RevocationSettings {
        &self.settings
    }

    /// The first read. Over the bound is an [`InitError`] (a list that cannot be held must
    /// stop the function, not be cut); an unreachable table is logged, and requests retry and
    /// fail closed.
    pub async fn init(&self) -> Result<(), InitError> {
        let mut progress = self.progress.lock().await;
        match self.read(&mut progress).await {
            Err(ReadFailure::OverBound(over)) => Err(InitError(over.to_string())),
            Err(ReadFailure::Table(e @ TableError::TooMany { .. })) => {
                Err(InitError(e.to_string()))
            }
            _ => Ok(()),
        }
    }

    /// How many reads were made (for tests and benches).
    pub async fn reads(&self) -> usize {
        self.progress.lock().await.reads
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a verified token is refused: reads the table first when the refresh interval
    /// has passed, then checks the list, unless it is staler than the maximum.
    pub async fn check(&self, token: &TokenFacts<'_>) -> Result<(), Rejection> {
        let (fresh_enough, ever_read) = {
            let mut progress = self.progress.lock().await;
            let now = self.clock.now();
            let due = progress
                .last_attempt
                .is_none_or(|at| now.duration_since(at) >= self.settings.refresh);
            if due {
                // Failures are logged in `read` and show below as staleness.
                let _ = self.read(&mut progress).await;
            }
            if let Some(reason) = &progress.unusable {
                return Err(Rejection::new(
                    Reason::RevocationsUnavailable,
                    format!("the revocation table cannot be held: {reason}"),
                ));
            }
            (
                progress.last_success.is_some_and(|at| {
                    self.clock.now().duration_since(at) <= self.settings.max_stale
                }),
                progress.last_success.is_some(),
            )
        };
        if !fresh_enough {
            return Err(Rejection::new(
                Reason::RevocationsUnavailable,
                if ever_read {
                    format!(
                        "the revocation list has not been read for longer than its maximum \
                         staleness of {} s",
                        self.settings.max_stale.as_secs()
                    )
                } else {
                    "the revocation list has not been read since start-up".to_string()
                },
            ));
        }
        self.list
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .check(token, self.clock.unix_seconds())
    }

    /// One read: what was written since the last successful read's start, less the overlap
    /// (everything, the first time), merged into the list.
    async fn read(&self, progress: &mut Progress) -> Result<(), ReadFailure> {
        let started = self.clock.now();
        let started_ms = self.clock.unix_millis();
        progress.last_attempt = Some(started);
        progress.reads += 1;
        let after = match progress.read_from_ms {
            None => "0".to_string(),
            Some(ms) => table::cursor(ms.saturating_sub(OVERLAP.as_millis() as u64)),
        };
        let now_s = self.clock.unix_seconds();
        // Every page has its own timeout; the whole read has one too.
        let whole_read = self.settings.timeout * READ_PAGES_IN_TIME;
        let read = tokio::time::timeout(
            whole_read,
            self.table.read(&after, now_s, self.settings.max_entries),
        )
        .await
        .unwrap_or(Err(TableError::BadAnswer(format!(
            "the read did not end within {} s",
            whole_read.as_secs()
        ))));
        let outcome = match read {
            Ok(entries) => self
                .list
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .merge(&entries, now_s)
                .map_err(ReadFailure::OverBound),
            Err(TableError::TooMany { max }) => Err(ReadFailure::OverBound(OverBound {
                wanted: max + 1,
                max,
            })),
            Err(e) => Err(ReadFailure::Table(e)),
        };
        // `unusable` is cleared only by a read that succeeds: an outage after it changes
        // nothing.
        let (result, detail) = match &outcome {
            Ok(added) => {
                progress.last_success = Some(started);
                progress.read_from_ms = Some(started_ms);
                progress.unusable = None;
                ("ok", format!("{added} new entries"))
            }
            Err(ReadFailure::OverBound(over)) => {
                progress.unusable = Some(over.to_string());
                ("over_bound", over.to_string())
            }
            Err(ReadFailure::Table(e)) => {
                if matches!(e, TableError::BadItem { .. }) {
                    progress.unusable = Some(e.to_string());
                }
                ("error", e.to_string())
            }
        };
        let held = self.len();
        log::read(&ReadRecord {
            source: Source::RevocationTable,
            name: self.table.name(),
            result,
            detail: &detail,
            figures: &[("entries", held as u64)],
        });
        outcome.map(|_| ())
    }
}
