//! Structured log lines: one JSON object per line on stderr, which Lambda ships to CloudWatch.
//!
//! Callers pass only what is safe to log: reason codes, details written by tollgate, claim
//! values such as `sub`, URLs through [`redact_url`], and never a token, a signature, a secret
//! or anything else the caller sent.
//!
//! Tests keep these lines out of their output, and read them, with a [`Capture`].

use std::cell::RefCell;
use std::io::Write;
use std::marker::PhantomData;

use crate::json;
use crate::metrics::Metadata;

/// What a [`ReadRecord`] read: each source fixes the line's event, the member that names it,
/// its EMF count and the metadata that declares that count, so they cannot be mismatched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// An issuer's JWKS: `jwks_fetch`, `issuer`, `jwksFetches`.
    Jwks,
    /// The revocation table: `revocation_refresh`, `table`, `revocationRefreshes`.
    RevocationTable,
}

impl Source {
    fn event(self) -> &'static str {
        match self {
            Source::Jwks => "jwks_fetch",
            Source::RevocationTable => "revocation_refresh",
        }
    }

    fn member(self) -> &'static str {
        match self {
            Source::Jwks => "issuer",
            Source::RevocationTable => "table",
        }
    }

    fn count(self) -> &'static str {
        match self {
            Source::Jwks => "jwksFetches",
            Source::RevocationTable => "revocationRefreshes",
        }
    }

    fn metrics(self) -> Metadata {
        match self {
            Source::Jwks => Metadata::jwks_fetch(),
            Source::RevocationTable => Metadata::revocation_refresh(),
        }
    }
}

/// One line per read of a source tollgate depends on (a JWKS fetch, a read of the revocation
/// table), with the EMF count of such reads by result. Its members are written in this order:
/// `_aws`, `level` (`info` for `ok`, else `warn`), `event`, `result`, the source's name
/// (`issuer`, `table`), `detail`, the figures, and the count (always 1).
#[derive(Debug)]
pub struct ReadRecord<'a> {
    /// What was read; it sets the event, the name's member and the EMF count.
    pub source: Source,
    /// The issuer or the table, as configured (an issuer through [`redact_url`]).
    pub name: &'a str,
    /// `ok`, or what went wrong in a word (`error`, `over_bound`).
    pub result: &'static str,
    /// What was read, or what went wrong.
    pub detail: &'a str,
    /// Figures after the detail, in order, e.g. `("entries", 12)`.
    pub figures: &'a [(&'static str, u64)],
}

impl ReadRecord<'_> {
    /// Writes the line's JSON object (without the newline).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut line = json::Object::open(out);
        self.source.metrics().write_json(line.key("_aws"));
        let level = if self.result == "ok" { "info" } else { "warn" };
        line.string("level", level)
            .string("event", self.source.event())
            .string("result", self.result)
            .string(self.source.member(), self.name)
            .string("detail", self.detail);
        for &(name, value) in self.figures {
            line.number(name, value);
        }
        line.number(self.source.count(), 1);
        line.close();
    }
}

/// Writes a source read line (a JWKS fetch, a revocation table read).
pub fn read(record: &ReadRecord<'_>) {
    let mut line = Vec::with_capacity(320);
    record.write_json(&mut line);
    line.push(b'\n');
    write_bytes(&line);
}

/// Writes a decision line: `write` puts one JSON object (a
/// [`crate::decision::DecisionRecord`]'s `write_json`) into the buffer it is given.
pub fn decision(write: impl FnOnce(&mut Vec<u8>)) {
    // One allocation, sized for a decision line.
    let mut line = Vec::with_capacity(640);
    write(&mut line);
    line.push(b'\n');
    write_bytes(&line);
}

/// Writes a warning line, e.g. a JWKS key that was skipped or a fetch that failed.
pub fn warn(event: &str, detail: &str) {
    let mut line = Vec::with_capacity(64 + event.len() + detail.len());
    json::Object::open(&mut line)
        .string("level", "warn")
        .string("event", event)
        .string("detail", detail)
        .close();
    line.push(b'\n');
    write_bytes(&line);
}

/// A URL as it may be logged or shown in an error: userinfo, query and fragment, which can
/// carry credentials (`https://reader:secret@idp/keys?api_key=...`), become `***`. Everything
/// before the last `@` ahead of the query counts as userinfo, so a malformed URL cannot leak a
/// password either.
///
/// ```
/// use tollgate::log::redact_url;
/// assert_eq!(
///     redact_url("https://reader:secret@idp.example/keys?api_key=k#frag"),
///     "https://***@idp.example/keys?***#***"
/// );
/// assert_eq!(redact_url("https://idp.example/keys"), "https://idp.example/keys");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(at) => url.split_at(at + 3),
        None => ("", url),
    };
    let (rest, fragment) = match rest.find('#') {
        Some(at) => (&rest[..at], true),
        None => (rest, false),
    };
    let (rest, query) = match rest.find('?') {
        Some(at) => (&rest[..at], true),
        None => (rest, false),
    };
    let mut shown = String::from(scheme);
    match rest.rfind('@') {
        Some(at) => {
            shown.push_str("***");
            shown.push_str(&rest[at..]);
        }
        None => shown.push_str(rest),
    }
    if query {
        shown.push_str("?***");
    }
    if fragment {
        shown.push_str("#***");
    }
    shown
}

thread_local! {
    /// The lines a [`Capture`] holds on this thread; `None` (no capture) means stderr.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes one whole line: into this thread's [`Capture`] if there is one, else to stderr.
fn write_bytes(line: &[u8]) {
    // One thread-local look-up; without a capture (always, outside tests) the line goes to
    // stderr. `try_with` and `try_borrow_mut`: logging never panics, even while a thread ends.
    let captured = CAPTURED
        .try_with(|captured| match captured.try_borrow_mut() {
            Ok(mut captured) => match captured.as_mut() {
                Some(buffer) => {
                    buffer.extend_from_slice(line);
                    true
                }
                None => false,
            },
            Err(_) => false,
        })
        .unwrap_or(false);
    if !captured {
        // A log line that cannot be written must not fail the request.
        let _ = std::io::stderr().lock().write_all(line);
    }
}

/// Captures the log lines written on this thread, instead of writing them to stderr, until it
/// is dropped. Tests use it to keep their output quiet and to assert on what tollgate logs.
///
/// A `#[tokio::test]` runs on one thread, so a capture started at its top holds every line of
/// the test, from tasks it spawns too. Captures nest: an inner one hands its lines on to the
/// outer one when dropped.
///
/// ```
/// use tollgate::log::{self, Capture};
/// let logs = Capture::start();
/// log::warn("jwks_key_skipped", "key 0: unsupported kty");
/// assert_eq!(logs.events(), ["jwks_key_skipped"]);
/// assert_eq!(logs.lines()[0]["detail"], "key 0: unsupported kty");
/// ```
pub struct Capture {
    outer: Option<Vec<u8>>,
    // The lines live in this thread's storage: a capture must not move to another thread.
    _this_thread: PhantomData<*const ()>,
}

impl Capture {
    /// Starts capturing this thread's log lines.
    pub fn start() -> Self {
        let outer = CAPTURED.with(|captured| captured.replace(Some(Vec::new())));
        Capture {
            outer,
            _this_thread: PhantomData,
        }
    }

    /// Everything captured so far, one JSON object per line.
    pub fn text(&self) -> String {
        CAPTURED.with(|captured| {
            String::from_utf8_lossy(captured.borrow().as_deref().unwrap_or_default()).into_owned()
        })
    }

    /// Every captured line, parsed (a line that is not JSON, which tollgate never writes,
    /// comes back as a JSON string).
    pub fn lines(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|_| serde_json::Value::String(line.to_string()))
            })
            .collect()
    }

    /// The `event` of every captured line, in order (`decision`, `jwks_fetch`, ...).
    pub fn events(&self) -> Vec<String> {
        self.lines()
            .iter()
            .map(|line| line["event"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// The captured lines whose `event` is `event`.
    pub fn of(&self, event: &str) -> Vec<serde_json::Value> {
        self.lines()
            .into_iter()
            .filter(|line| line["event"] == event)
            .collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        let outer = self.outer.take();
        let _ = CAPTURED.try_with(|captured| {
            let mine = captured.replace(outer);
            if let (Some(mine), Some(outer)) = (mine, captured.borrow_mut().as_mut()) {
                outer.extend_from_slice(&mine);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_warning_line_is_one_json_object_whatever_its_detail_holds() {
        let logs = Capture::start();
        let detail = "quote \" backslash \\ newline \n nul \u{0} tab \t é";
        warn("odd", detail);
        let text = logs.text();
        assert_eq!(text.lines().count(), 1);
        let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"level": "warn", "event": "odd", "detail": detail})
        );
    }

    #[test]
    fn captured_lines_do_not_reach_stderr_and_can_be_read() {
        let logs = Capture::start();
        warn("first", "one");
        warn("second", "two");
        assert_eq!(logs.events(), ["first", "second"]);
        assert_eq!(logs.of("second")[0]["level"], "warn");
    }

    #[test]
    fn nested_capture_hands_its_lines_to_the_outer_one() {
        let outer = Capture::start();
        warn("before", "");
        {
            let inner = Capture::start();
            warn("inside", "");
            assert_eq!(inner.events(), ["inside"]);
        }
        warn("after", "");
        assert_eq!(outer.events(), ["before", "inside", "after"]);
    }

    #[test]
    fn a_capture_sees_only_its_own_thread() {
        let logs = Capture::start();
        let other = std::thread::spawn(|| {
            let theirs = Capture::start();
            warn("other_thread", "");
            theirs.events()
        });
        let theirs = other.join().unwrap_or_default();
        warn("this_thread", "");
        assert_eq!(theirs, ["other_thread"]);
        assert_eq!(logs.events(), ["this_thread"]);
    }

    #[test]
    fn a_fetch_line_has_its_members_in_order_and_escaped() {
        let mut line = Vec::new();
        ReadRecord {
            source: Source::Jwks,
            name: "https://idp",
            result: "error",
            detail: "a \"b\"",
            figures: &[],
        }
        .write_json(&mut line);
        let text = String::from_utf8(line).unwrap();
        assert!(text.starts_with(r#"{"_aws":{"Timestamp":"#), "{text}");
        assert!(
            text.ends_with(r#"]},"level":"warn","event":"jwks_fetch","result":"error","issuer":"https://idp","detail":"a \"b\"","jwksFetches":1}"#),
            "{text}"
        );
    }

    #[test]
    fn a_refresh_line_is_info_when_ok_and_has_its_figures_before_the_count() {
        let mut line = Vec::new();
        ReadRecord {
            source: Source::RevocationTable,
            name: "revocations",
            result: "ok",
            detail: "2 new entries",
            figures: &[("entries", 7)],
        }
        .write_json(&mut line);
        let text = String::from_utf8(line).unwrap();
        assert!(
            text.ends_with(r#"]},"level":"info","event":"revocation_refresh","result":"ok","table":"revocations","detail":"2 new entries","entries":7,"revocationRefreshes":1}"#),
            "{text}"
        );
    }

    #[test]
    fn url_without_credentials_is_shown_as_is() {
        assert_eq!(
            redact_url("http://127.0.0.1:8080/jwks.json"),
            "http://127.0.0.1:8080/jwks.json"
        );
    }

    #[test]
    fn userinfo_query_and_fragment_are_redacted() {
        for (url, shown) in [
            ("https://u:p@idp/keys", "https://***@idp/keys"),
            ("https://idp/keys?api_key=k", "https://idp/keys?***"),
            ("https://idp/keys#access_token=t", "https://idp/keys#***"),
            ("https://u:p/w@idp/keys", "https://***@idp/keys"),
            ("reader:secret@idp/keys", "***@idp/keys"),
            ("gopher://u:p@keys?x=1", "gopher://***@keys?***"),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }
}
