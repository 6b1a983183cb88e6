//! The revocation list in memory: entries indexed by what they name, bounded, with expired
//! entries ignored and pruned. A merge is all or nothing: past the bound nothing is added and
//! the caller is told, so no entry is ever dropped in silence.

use std::collections::{HashMap, HashSet};
use std::fmt;

use super::{Entry, Kind, TokenFacts};
use crate::errors::{Reason, Rejection};

/// A merge would hold more entries than the bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverBound {
    /// Entries the list would hold.
    pub wanted: usize,
    /// The bound.
    pub max: usize,
}

impl fmt::Display for OverBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the revocation list would hold {} live entries, over its bound of {} \
             (TOLLGATE_REVOCATION_MAX_ENTRIES)",
            self.wanted, self.max
        )
    }
}

impl std::error::Error for OverBound {}

/// An entry as held under its value: its scope and life.
#[derive(Clone, Debug)]
struct Held {
    /// The table key, so an entry read twice is held once.
    key: String,
    issuer: Option<String>,
    issued_before: Option<u64>,
    expires_at: u64,
}

/// The live revocations, by kind and value.
#[derive(Debug, Default)]
pub struct RevocationList {
    /// One map per kind (in [`Kind::ALL`]'s order), so a lookup borrows the token's `&str`.
    by_value: [HashMap<String, Vec<Held>>; 4],
    keys: HashSet<String>,
    max: usize,
}

impl RevocationList {
    /// An empty list holding at most `max` entries.
    pub fn new(max: usize) -> Self {
        RevocationList {
            by_value: Default::default(),
            keys: HashSet::new(),
            max,
        }
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Adds `entries` (each with its table key), dropping the ones expired at `now` (Unix
    /// seconds) and pruning those held that have expired. Past the bound nothing changes but
    /// the pruning. Returns how many were new.
    pub fn merge(&mut self, entries: &[(String, Entry)], now: u64) -> Result<usize, OverBound> {
        self.prune(now);
        let mut fresh: HashSet<&str> = HashSet::new();
        for (key, entry) in entries {
            if entry.live(now) && !self.keys.contains(key) {
                fresh.insert(key);
            }
        }
        let wanted = self.keys.len() + fresh.len();
        if wanted > self.max {
            return Err(OverBound {
                wanted,
                max: self.max,
            });
        }
        let mut added = 0;
        for (key, entry) in entries {
            if !fresh.remove(key.as_str()) {
                continue;
            }
            added += 1;
            self.keys.insert(key.clone());
            self.by_value[slot(entry.kind)]
                .entry(entry.value.clone())
                .or_default()
                .push(Held {
                    key: key.clone(),
                    issuer: entry.issuer.clone(),
                    issued_before: entry.issued_before,
                    expires_at: entry.expires_at,
                });
        }
        Ok(added)
    }

    /// Drops entries expired at `now`.
    pub fn prune(&mut self, now: u64) {
        let keys = &mut self.keys;
        for map in &mut self.by_value {
            map.retain(|_, held| {
                held.retain(|h| {
                    let live = h.expires_at > now;
                    if !live {
                        keys.remove(&h.key);
                    }
                    live
                });
                !held.is_empty()
            });
        }
    }

    /// Whether a verified token is refused at `now` (Unix seconds): a key entry gives
    /// `key_revoked`, any other `token_revoked`. Details name the kind, never the value.
    pub fn check(&self, token: &TokenFacts<'_>, now: u64) -> Result<(), Rejection> {
        let applies = |kind: Kind, value: Option<&str>, cut_off: bool| {
            let Some(value) = value else { return false };
            self.by_value[slot(kind)].get(value).is_some_and(|held| {
                held.iter().any(|h| {
                    h.expires_at > now
                        && h.issuer.as_deref().is_none_or(|i| i == token.issuer)
                        && (!cut_off || refused_by_cut_off(h.issued_before, token.iat))
                })
            })
        };
        if applies(Kind::Key, token.kid, false) {
            return Err(Rejection::new(
                Reason::KeyRevoked,
                "the token was signed with a key that is revoked",
            ));
        }
        for (kind, value, what) in [
            (Kind::Jti, token.jti, "its jti is revoked"),
            (
                Kind::OriginJti,
                token.origin_jti,
                "its origin_jti is revoked",
            ),
            (
                Kind::Subject,
                Some(token.sub),
                "its sub is revoked for tokens issued before the revocation",
            ),
        ] {
            if applies(kind, value, kind == Kind::Subject) {
                return Err(Rejection::new(
                    Reason::TokenRevoked,
                    format!("the token is revoked: {what}"),
                ));
            }
        }
        Ok(())
    }
}

/// The index of a kind's map.
fn slot(kind: Kind) -> usize {
    match kind {
        Kind::Jti => 0,
        Kind::OriginJti => 1,
        Kind::Subject => 2,
        Kind::Key => 3,
    }
}

/// A user entry refuses tokens issued before its cut-off, and tokens that do not say when
/// they were issued.
fn refused_by_cut_off(issued_before: Option<u64>, iat: Option<f64>) -> bool {
    match (issued_before, iat) {
        (None, _) | (_, None) => true,
        (Some(cut_off), Some(iat)) => iat < cut_off as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: Kind, value: &str) -> Entry {
        Entry {
            kind,
            value: value.into(),
            issuer: None,
            issued_before: None,
            revoked_at_ms: 1,
            expires_at: 2_000,
        }
    }

    fn token<'a>() -> TokenFacts<'a> {
        TokenFacts {
            issuer: "https://idp",
            sub: "alice",
            jti: Some("j1"),
            origin_jti: Some("o1"),
            iat: Some(1_000.0),
            kid: Some("k1"),
        }
    }

    fn list(entries: Vec<Entry>) -> RevocationList {
        let mut list = RevocationList::new(10);
        let keyed: Vec<_> = entries
            .into_iter()
            .enumerate()
            .map(|(i, e)| (format!("k{i}"), e))
            .collect();
        list.merge(&keyed, 1_000).unwrap();
        list
    }

    fn reason(list: &RevocationList, t: &TokenFacts<'_>) -> Option<Reason> {
        list.check(t, 1_000).err().map(|r| r.reason)
    }

    #[test]
    fn each_kind_refuses_the_token_it_names() {
        for (kind, value, want) in [
            (Kind::Jti, "j1", Reason::TokenRevoked),
            (Kind::OriginJti, "o1", Reason::TokenRevoked),
            (Kind::Subject, "alice", Reason::TokenRevoked),
            (Kind::Key, "k1", Reason::KeyRevoked),
        ] {
            assert_eq!(
                reason(&list(vec![entry(kind, value)]), &token()),
                Some(want),
                "{kind}"
            );
        }
    }

    #[test]
    fn a_value_of_one_kind_does_not_revoke_another_kind() {
        // A `sub` equal to someone's `jti` text revokes nothing of that token's jti.
        let l = list(vec![entry(Kind::Subject, "j1"), entry(Kind::Jti, "alice")]);
        assert_eq!(reason(&l, &token()), None);
    }

    #[test]
    fn a_user_cut_off_refuses_older_tokens_and_passes_newer_ones() {
        let mut e = entry(Kind::Subject, "alice");
        e.issued_before = Some(1_000);
        let l = list(vec![e]);
        let older = TokenFacts {
            iat: Some(999.5),
            ..token()
        };
        let newer = TokenFacts {
            iat: Some(1_000.0),
            ..token()
        };
        let undated = TokenFacts {
            iat: None,
            ..token()
        };
        assert_eq!(reason(&l, &older), Some(Reason::TokenRevoked));
        assert_eq!(reason(&l, &newer), None);
        assert_eq!(reason(&l, &undated), Some(Reason::TokenRevoked));
    }

    #[test]
    fn an_issuer_scoped_entry_applies_to_its_issuer_only() {
        let mut e = entry(Kind::Key, "k1");
        e.issuer = Some("https://other".into());
        let l = list(vec![e]);
        assert_eq!(reason(&l, &token()), None);
        let theirs = TokenFacts {
            issuer: "https://other",
            ..token()
        };
        assert_eq!(reason(&l, &theirs), Some(Reason::KeyRevoked));
    }

    #[test]
    fn expired_entries_are_ignored_and_pruned() {
        let mut e = entry(Kind::Jti, "j1");
        e.expires_at = 1_500;
        let mut l = list(vec![e]);
        assert_eq!(reason(&l, &token()), Some(Reason::TokenRevoked));
        assert_eq!(l.check(&token(), 1_500).err().map(|r| r.reason), None);
        l.prune(1_500);
        assert!(l.is_empty());
    }

    #[test]
    fn an_entry_read_twice_is_held_once() {
        let mut l = RevocationList::new(1);
        let keyed = vec![("a".to_string(), entry(Kind::Jti, "j1"))];
        assert_eq!(l.merge(&keyed, 1_000), Ok(1));
        assert_eq!(l.merge(&keyed, 1_000), Ok(0));
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn past_the_bound_nothing_is_added() {
        let mut l = RevocationList::new(2);
        let first = vec![("a".to_string(), entry(Kind::Jti, "j1"))];
        l.merge(&first, 1_000).unwrap();
        let more: Vec<_> = ["b", "c"]
            .iter()
            .map(|k| (k.to_string(), entry(Kind::Jti, k)))
            .collect();
        assert_eq!(l.merge(&more, 1_000), Err(OverBound { wanted: 3, max: 2 }));
        assert_eq!(l.len(), 1, "all or nothing");
    }

    #[test]
    fn details_never_quote_the_value() {
        let l = list(vec![entry(Kind::Jti, "j1")]);
        let r = l.check(&token(), 1_000).unwrap_err();
        assert!(!r.detail.contains("j1"), "{}", r.detail);
    }
}
