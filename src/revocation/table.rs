//! The revocation table's items, and the two requests made of it: a `Query` of what was
//! written after a cursor, and a conditional `PutItem`.
//!
//! Every item sits in one partition (`pk = "revocations"`) under a sort key that starts with
//! its write time in milliseconds (`sk = "1733140000123#9f3c…"`), so "what changed since"
//! is one key range. `expires_at` (Unix seconds) is the table's TTL attribute. An item tollgate
//! cannot read fails the whole read: skipping it could let a revoked token through.

use std::fmt;

use serde_json::{Value, json};

use super::{Entry, Kind};
use crate::aws::{DynamoDb, DynamoError};

/// The one partition every entry is written to (the function's IAM policy is limited to it).
pub const PARTITION: &str = "revocations";

/// Why the table gave no entries, or took none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TableError {
    /// The call failed.
    Call(DynamoError),
    /// An item is not an entry (its sort key, and what is wrong with it).
    BadItem {
        /// The item's `sk`, when it has one.
        key: String,
        /// What is wrong.
        problem: String,
    },
    /// The answer is not DynamoDB's JSON.
    BadAnswer(String),
    /// The read found more entries than the list may hold.
    TooMany {
        /// The bound.
        max: usize,
    },
    /// An entry to write is not valid (e.g. a key without an issuer).
    BadEntry(String),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Call(e) => e.fmt(f),
            TableError::BadItem { key, problem } => {
                write!(f, "item {key:?} is not a revocation entry: {problem}")
            }
            TableError::BadAnswer(cause) => write!(f, "DynamoDB's answer is not JSON: {cause}"),
            TableError::TooMany { max } => write!(
                f,
                "the table holds more than {max} live entries (TOLLGATE_REVOCATION_MAX_ENTRIES)"
            ),
            TableError::BadEntry(problem) => f.write_str(problem),
        }
    }
}

impl std::error::Error for TableError {}

impl From<DynamoError> for TableError {
    fn from(e: DynamoError) -> Self {
        TableError::Call(e)
    }
}

/// The revocation table.
#[derive(Clone, Debug)]
pub struct Table {
    db: DynamoDb,
    name: String,
}

/// The sort key that reads start after: every entry written at `ms` or later is after it.
pub fn cursor(ms: u64) -> String {
    format!("{ms:013}")
}

impl Table {
    /// The table `name`, through `db`.
    pub fn new(db: DynamoDb, name: &str) -> Self {
        Table {
            db,
            name: name.to_string(),
        }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every entry written after `cursor` (a [`cursor`] or a sort key) and live at `now` (Unix
    /// seconds), with its sort key, read consistently, page by page. More than `max` is
    /// [`TableError::TooMany`].
    pub async fn read(
        &self,
        after: &str,
        now: u64,
        max: usize,
    ) -> Result<Vec<(String, Entry)>, TableError> {
        let mut entries = Vec::new();
        let mut start: Option<Value> = None;
        let mut previous: Option<Value> = None;
        loop {
            let mut request = json!({
                "TableName": self.name,
                "ConsistentRead": true,
                "KeyConditionExpression": "#pk = :pk AND #sk > :after",
                "FilterExpression": "attribute_not_exists(#expires) OR NOT attribute_type(#expires, :number) OR #expires > :now",
                "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk", "#expires": "expires_at"},
                "ExpressionAttributeValues": {
                    ":pk": {"S": PARTITION},
                    ":after": {"S": after},
                    ":now": {"N": now.to_string()},
                    ":number": {"S": "N"},
                },
            });
            if let Some(key) = start.take() {
                request["ExclusiveStartKey"] = key;
            }
            let answer = self
                .db
                .call("Query", request.to_string().into_bytes())
                .await?;
            let mut answer: Value = serde_json::from_slice(&answer)
                .map_err(|e| TableError::BadAnswer(e.to_string()))?;
            let Some(items) = answer.get("Items").and_then(Value::as_array) else {
                return Err(TableError::BadAnswer("no Items".into()));
            };
            if entries.len() + items.len() > max {
                return Err(TableError::TooMany { max });
            }
            for item in items {
                entries.push(decode(item)?);
            }
            match answer.get_mut("LastEvaluatedKey") {
                Some(key) if !key.is_null() => {
                    if previous.as_ref() == Some(key) {
                        return Err(TableError::BadAnswer(
                            "the same LastEvaluatedKey twice: the read would not end".into(),
                        ));
                    }
                    previous = Some(key.clone());
                    start = Some(key.take());
                }
                _ => return Ok(entries),
            }
        }
    }

    /// Writes `entry` under a new sort key, which it returns; never overwrites an item.
    pub async fn put(&self, entry: &Entry) -> Result<String, TableError> {
        check_entry(entry)?;
        let key = format!("{}#{}", cursor(entry.revoked_at_ms), random_hex()?);
        let mut item = json!({
            "pk": {"S": PARTITION},
            "sk": {"S": key},
            "kind": {"S": entry.kind.code()},
            "value": {"S": entry.value},
            "revoked_at": {"N": entry.revoked_at_ms.to_string()},
            "expires_at": {"N": entry.expires_at.to_string()},
        });
        if let Some(issuer) = &entry.issuer {
            item["issuer"] = json!({"S": issuer});
        }
        if let Some(cut_off) = entry.issued_before {
            item["issued_before"] = json!({"N": cut_off.to_string()});
        }
        let request = json!({
            "TableName": self.name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#sk)",
            "ExpressionAttributeNames": {"#sk": "sk"},
        });
        self.db
            .call("PutItem", request.to_string().into_bytes())
            .await?;
        Ok(key)
    }
}

/// Whether `name` is a DynamoDB table name: 3 to 255 of `A-Z a-z 0-9 _ - .`.
pub fn valid_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// What a valid entry needs: a value; an issuer for a key (a `kid` is only unique within
/// its issuer's JWKS); an expiry after its write.
pub fn check_entry(entry: &Entry) -> Result<(), TableError> {
    if entry.value.is_empty() {
        return Err(TableError::BadEntry(format!(
            "a {} revocation needs a value",
            entry.kind
        )));
    }
    if entry.value.trim() != entry.value
        || entry.value.chars().any(char::is_control)
        || entry
            .issuer
            .as_ref()
            .is_some_and(|i| i.trim() != i || i.chars().any(char::is_control))
    {
        return Err(TableError::BadEntry(
            "the value and the issuer must have no surrounding whitespace and no control \
             characters (no token's claim would match them)"
                .into(),
        ));
    }
    if entry.value.len() > 1024 || entry.issuer.as_ref().is_some_and(|i| i.len() > 2048) {
        return Err(TableError::BadEntry(
            "the value is longer than 1024 bytes, or the issuer than 2048".into(),
        ));
    }
    if entry.kind == Kind::Key && entry.issuer.is_none() {
        return Err(TableError::BadEntry(
            "a key revocation needs its issuer: a kid is unique only within one issuer's JWKS"
                .into(),
        ));
    }
    if entry.expires_at.saturating_mul(1000) <= entry.revoked_at_ms {
        return Err(TableError::BadEntry(
            "the entry would expire before it is written".into(),
        ));
    }
    Ok(())
}

/// 16 hex digits from the system's random source: two writers in one millisecond never
/// share a key.
fn random_hex() -> Result<String, TableError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes)
        .map_err(|_| TableError::BadEntry("no random bytes for the entry's key".into()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// One item as an entry. A missing issuer on a key, or a missing cut-off on a user, never
/// reads as a narrower entry: the first is refused, the second refuses every token of that
/// user issued before the write.
fn decode(item: &Value) -> Result<(String, Entry), TableError> {
    let text = |name: &str| {
        item.get(name)
            .and_then(|v| v.get("S"))
            .and_then(Value::as_str)
    };
    let number = |name: &str| -> Result<Option<u64>, String> {
        match item.get(name) {
            None => Ok(None),
            Some(v) => v
                .get("N")
                .and_then(Value::as_str)
                .and_then(|n| n.parse::<u64>().ok())
                .map(Some)
                .ok_or_else(|| format!("{name} is not a whole number")),
        }
    };
    let key = text("sk").unwrap_or_default().to_string();
    let bad = |problem: String| TableError::BadItem {
        key: key.clone(),
        problem,
    };
    // Exactly 13 digits: a key in seconds (10) would sort before every cursor and never be
    // read by a running authorizer.
    let revoked_at_ms = match key.split_once('#') {
        Some((ms, _)) if ms.len() == 13 && ms.bytes().all(|b| b.is_ascii_digit()) => ms
            .parse::<u64>()
            .map_err(|_| bad("sk is not <milliseconds>#<id>".into()))?,
        _ => return Err(bad("sk is not <13-digit milliseconds>#<id>".into())),
    };
    let kind_code = text("kind").ok_or_else(|| bad("no kind".into()))?;
    let kind = Kind::from_code(kind_code)
        .ok_or_else(|| bad("kind is not jti, origin_jti, sub or kid".into()))?;
    let value = text("value")
        .ok_or_else(|| bad("no value".into()))?
        .to_string();
    let expires_at = number("expires_at")
        .map_err(bad)?
        .ok_or_else(|| bad("no expires_at".into()))?;
    let issued_before = match (kind, number("issued_before").map_err(bad)?) {
        (Kind::Subject, None) => Some(revoked_at_ms.div_ceil(1000)),
        (_, cut_off) => cut_off,
    };
    let entry = Entry {
        kind,
        value,
        issuer: text("issuer").map(str::to_string),
        issued_before,
        revoked_at_ms,
        expires_at,
    };
    if kind == Kind::Key && entry.issuer.is_none() {
        return Err(bad("a kid entry has no issuer".into()));
    }
    Ok((key, entry))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(extra: Value) -> Value {
        let mut item = json!({
            "pk": {"S": "revocations"},
            "sk": {"S": "1700000000123#00ff"},
            "kind": {"S": "jti"},
            "value": {"S": "j1"},
            "expires_at": {"N": "1700003600"},
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                item.as_object_mut().unwrap().remove(k);
            } else {
                item[k] = v.clone();
            }
        }
        item
    }

    #[test]
    fn an_item_reads_as_its_entry() {
        let (key, e) = decode(&item(json!({}))).unwrap();
        assert_eq!(key, "1700000000123#00ff");
        assert_eq!(e.kind, Kind::Jti);
        assert_eq!(e.revoked_at_ms, 1_700_000_000_123);
        assert_eq!(e.expires_at, 1_700_003_600);
    }

    #[test]
    fn a_user_entry_without_a_cut_off_refuses_tokens_issued_before_its_write() {
        let (_, e) = decode(&item(json!({"kind": {"S": "sub"}}))).unwrap();
        assert_eq!(e.issued_before, Some(1_700_000_001));
    }

    #[test]
    fn an_item_that_is_not_an_entry_fails_the_read() {
        for broken in [
            json!({"kind": {"S": "email"}}),
            json!({"kind": null}),
            json!({"value": null}),
            json!({"expires_at": null}),
            json!({"expires_at": {"N": "soon"}}),
            json!({"sk": {"S": "nodigits"}}),
            json!({"sk": {"S": "1700000000#00ff"}}),
            json!({"kind": {"S": "kid"}}),
        ] {
            assert!(
                matches!(
                    decode(&item(broken.clone())),
                    Err(TableError::BadItem { .. })
                ),
                "{broken}"
            );
        }
    }

    #[test]
    fn cursors_sort_before_every_key_written_at_or_after_them() {
        assert!(format!("{}#0", cursor(5)) > cursor(5));
        assert!(cursor(4) < cursor(5));
        assert_eq!(cursor(1_700_000_000_000).len(), 13);
    }

    #[test]
    fn a_key_entry_needs_its_issuer() {
        let e = Entry {
            kind: Kind::Key,
            value: "k".into(),
            issuer: None,
            issued_before: None,
            revoked_at_ms: 1_000,
            expires_at: 10,
        };
        assert!(matches!(check_entry(&e), Err(TableError::BadEntry(_))));
    }
}
