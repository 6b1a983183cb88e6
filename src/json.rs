//! JSON text written straight to bytes, for the response, the log lines and their metrics, the
//! usage report and serve's access log: the structure and the member names are literals, and
//! every string value is escaped by serde_json (the same escaping as any serde_json output), so
//! no tree of values and no per-member serde machinery sits on the hot path.

/// A JSON object being written: `{`, then members separated by commas, then `}`.
pub(crate) struct Object<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> Object<'w> {
    /// Opens an object at the end of `out`.
    pub(crate) fn open(out: &'w mut Vec<u8>) -> Self {
        out.push(b'{');
        Object { out, first: true }
    }

    /// Writes the member name (a literal that needs no escaping) and returns the output for
    /// its value.
    pub(crate) fn key(&mut self, name: &'static str) -> &mut Vec<u8> {
        debug_assert!(!name.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20));
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string member.
    pub(crate) fn string(&mut self, name: &'static str, value: &str) -> &mut Self {
        string(self.key(name), value);
        self
    }

    /// A string member, when there is a value.
    pub(crate) fn some_string(&mut self, name: &'static str, value: Option<&str>) -> &mut Self {
        if let Some(value) = value {
            self.string(name, value);
        }
        self
    }

    /// An unsigned number member.
    pub(crate) fn number(&mut self, name: &'static str, value: u64) -> &mut Self {
        number(self.key(name), value);
        self
    }

    /// A member whose value is JSON text written beforehand (by this module).
    pub(crate) fn raw(&mut self, name: &'static str, value: &str) -> &mut Self {
        self.key(name).extend_from_slice(value.as_bytes());
        self
    }

    /// Closes the object.
    pub(crate) fn close(&mut self) {
        self.out.push(b'}');
    }
}

/// A JSON array being written: `[`, then items separated by commas, then `]`.
pub(crate) struct Array<'w> {
    out: &'w mut Vec<u8>,
    first: bool,
}

impl<'w> Array<'w> {
    /// Opens an array at the end of `out`.
    pub(crate) fn open(out: &'w mut Vec<u8>) -> Self {
        out.push(b'[');
        Array { out, first: true }
    }

    /// Returns the output for the next item's value.
    pub(crate) fn item(&mut self) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out
    }

    /// Closes the array.
    pub(crate) fn close(&mut self) {
        self.out.push(b']');
    }
}

/// Writes `value` as a JSON string, escaped as serde_json escapes it.
pub(crate) fn string(out: &mut Vec<u8>, value: &str) {
    // What serde_json escapes: control characters, `"` and `\`. Without any (checked with no
    // branch per byte), the text goes out as it is, which is what serde_json would write.
    let plain = value
        .bytes()
        .fold(true, |ok, b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    } else {
        // Writing to a Vec cannot fail, and a str always serialises.
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

/// Writes `value` as it stands inside a JSON string, without the quotes: escaped as
/// [`string`] escapes it.
pub(crate) fn string_contents(out: &mut Vec<u8>, value: &str) {
    let start = out.len();
    string(out, value);
    // `string` wrote `"` first and last.
    out.pop();
    out.remove(start);
}

/// Writes an array of strings.
pub(crate) fn strings(out: &mut Vec<u8>, values: &[impl AsRef<str>]) {
    let mut array = Array::open(out);
    for value in values {
        string(array.item(), value.as_ref());
    }
    array.close();
}

/// Writes an unsigned number.
pub(crate) fn number(out: &mut Vec<u8>, value: u64) {
    let _ = serde_json::to_writer(&mut *out, &value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        for value in [
            "",
            "plain /api/user/{id}",
            "caf\u{e9} \u{7f}",
            "a\"b",
            "a\\b",
            "\u{1f}",
            "\t",
        ] {
            let mut out = Vec::new();
            string(&mut out, value);
            assert_eq!(out, serde_json::to_vec(value).unwrap(), "{value:?}");
        }
    }

    #[test]
    fn string_contents_are_the_string_without_its_quotes() {
        for value in ["", "plain", "a\"b\\c\n\u{0}", "caf\u{e9}"] {
            let mut out = b"x".to_vec();
            string_contents(&mut out, value);
            let quoted = serde_json::to_string(value).unwrap();
            assert_eq!(out, format!("x{}", &quoted[1..quoted.len() - 1]).as_bytes());
        }
    }

    #[test]
    fn arrays_of_objects_and_arrays_are_valid_json() {
        let mut out = Vec::new();
        let mut array = Array::open(&mut out);
        strings(array.item(), &["a", "b"]);
        Object::open(array.item()).number("n", 1).close();
        array.close();
        assert_eq!(out, br#"[["a","b"],{"n":1}]"#);
    }

    #[test]
    fn objects_are_valid_json_with_escaped_values() {
        let mut out = Vec::new();
        let mut object = Object::open(&mut out);
        object
            .string("a", "quote \" backslash \\ newline \n nul \u{0}")
            .some_string("absent", None)
            .number("n", u64::MAX);
        strings(object.key("list"), &["x".to_string(), "\u{e9}".to_string()]);
        object.close();
        let parsed: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"a": "quote \" backslash \\ newline \n nul \u{0}", "n": u64::MAX, "list": ["x", "\u{e9}"]})
        );
    }
}
