//! Revocation: tokens, token families, users and signing keys refused before their `exp`.
//!
//! A JWT stays valid until it expires; a logout, a disabled account, a revoked Cognito refresh
//! token or a leaked key need a list that every verification consults. The list lives in a
//! DynamoDB table ([`table`]), is held in memory with a bound ([`list`]), and is kept current
//! by reading only what changed, at most once per refresh interval ([`cache`]): never a
//! network call per request. When the table cannot be read for longer than the maximum
//! staleness, tollgate answers 500 (`revocations_unavailable`), as it does without keys.

pub mod cache;
pub mod list;
pub mod table;

use std::fmt;
use std::time::Duration;

pub use cache::{InitError, RevocationCache};
pub use list::{OverBound, RevocationList};
pub use table::{Table, TableError};

/// What an entry names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One token, by its `jti`.
    Jti,
    /// Every token issued from one Cognito refresh token, by their shared `origin_jti`.
    OriginJti,
    /// A user's tokens issued before a cut-off, by `sub`.
    Subject,
    /// Every token an issuer signed with one key, by `kid`.
    Key,
}

impl Kind {
    /// Every kind, in the order the command line lists them.
    pub const ALL: [Kind; 4] = [Kind::Jti, Kind::OriginJti, Kind::Subject, Kind::Key];

    /// The code stored in the table's `kind` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Kind::Jti => "jti",
            Kind::OriginJti => "origin_jti",
            Kind::Subject => "sub",
            Kind::Key => "kid",
        }
    }

    /// The kind of a stored code.
    pub fn from_code(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One revocation, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// What it names.
    pub kind: Kind,
    /// The `jti`, `origin_jti`, `sub` or `kid` it names.
    pub value: String,
    /// The issuer it applies to; `None` applies to every issuer (never for a key).
    pub issuer: Option<String>,
    /// For a user: tokens with `iat` before this (Unix seconds) are refused, and so are
    /// tokens without `iat`. Later tokens pass.
    pub issued_before: Option<u64>,
    /// When it was written (Unix milliseconds): its place in the table's read order.
    pub revoked_at_ms: u64,
    /// When it stops mattering (Unix seconds): no token it refuses is valid after this, and
    /// DynamoDB's TTL deletes it.
    pub expires_at: u64,
}

impl Entry {
    /// Whether the entry still applies at `now` (Unix seconds).
    pub fn live(&self, now: u64) -> bool {
        self.expires_at > now
    }
}

/// What the list is checked against: a verified token's identifiers.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenFacts<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub sub: &'a str,
    /// `jti`, when it has one.
    pub jti: Option<&'a str>,
    /// `origin_jti`, when it has one.
    pub origin_jti: Option<&'a str>,
    /// `iat`, when it has one.
    pub iat: Option<f64>,
    /// The `kid` of the key its signature was checked with (none for a shared secret).
    pub kid: Option<&'a str>,
}

/// How the revocation list is read and held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationSettings {
    /// The DynamoDB table.
    pub table: String,
    /// At most one read per this interval.
    pub refresh: Duration,
    /// How long the last list is served while the table cannot be read.
    pub max_stale: Duration,
    /// The most entries held; more is an error, never a silent drop.
    pub max_entries: usize,
    /// Each read's timeout (every page of it).
    pub timeout: Duration,
}

impl RevocationSettings {
    /// Default refresh interval.
    pub const DEFAULT_REFRESH: Duration = Duration::from_secs(5);
    /// Default maximum staleness.
    pub const DEFAULT_MAX_STALE: Duration = Duration::from_secs(300);
    /// Default bound on entries held.
    pub const DEFAULT_MAX_ENTRIES: usize = 100_000;

    /// The defaults, for `table`.
    pub fn for_table(table: &str) -> Self {
        RevocationSettings {
            table: table.to_string(),
            refresh: Self::DEFAULT_REFRESH,
            max_stale: Self::DEFAULT_MAX_STALE,
            max_entries: Self::DEFAULT_MAX_ENTRIES,
            timeout: Duration::from_secs(2),
        }
    }
}
