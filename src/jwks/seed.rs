//! Keys available without any network fetch: a JWKS file or a document given inline.
//!
//! A seed is a cold start with no network (and, with no remote, the only source of keys).

use std::fmt;
use std::path::PathBuf;

use super::key_set::{KeySet, KeySetError};

/// Keys available without any network fetch.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Seed {
    /// A JWKS file (read at init).
    File(PathBuf),
    /// A JWKS document given inline.
    Inline(String),
}

/// Why a seed gives no key set.
#[derive(Debug)]
pub enum SeedError {
    /// The source has neither a seed nor a remote.
    NoSource,
    /// The inline document is not a usable JWKS.
    Inline(KeySetError),
    /// The file cannot be read.
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What reading it said.
        error: std::io::Error,
    },
    /// The file is larger than the policy's largest document.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The largest document accepted, in bytes.
        max_bytes: usize,
    },
    /// The file is not a usable JWKS.
    Document {
        /// The file.
        path: PathBuf,
        /// What is wrong with its document.
        problem: KeySetError,
    },
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeedError::NoSource => f.write_str("no JWKS source"),
            SeedError::Inline(problem) => write!(f, "inline JWKS: {problem}"),
            SeedError::Unreadable { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            SeedError::TooLarge { path, max_bytes } => {
                write!(f, "{} is larger than {max_bytes} bytes", path.display())
            }
            SeedError::Document { path, problem } => write!(f, "{}: {problem}", path.display()),
        }
    }
}

impl std::error::Error for SeedError {}

impl Seed {
    /// Reads the seed's keys. A small local file read once at init: blocking is cheaper here
    /// than a hop to a blocking thread.
    pub(super) fn load(&self, max_bytes: usize) -> Result<KeySet, SeedError> {
        match self {
            Seed::Inline(json) => KeySet::parse(json.as_bytes()).map_err(SeedError::Inline),
            Seed::File(path) => {
                let bytes = std::fs::read(path).map_err(|error| SeedError::Unreadable {
                    path: path.clone(),
                    error,
                })?;
                if bytes.len() > max_bytes {
                    return Err(SeedError::TooLarge {
                        path: path.clone(),
                        max_bytes,
                    });
                }
                KeySet::parse(&bytes).map_err(|problem| SeedError::Document {
                    path: path.clone(),
                    problem,
                })
            }
        }
    }
}
