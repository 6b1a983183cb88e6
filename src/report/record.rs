//! One access-log line read into a call: the dozen members the report uses are picked out of
//! the line's JSON object as it is parsed (every other member is skipped unread, and text is
//! borrowed from the line where it holds no escape), then read as the report reads them:
//! whether the call is billed, its UTC date, its caller, the route API Gateway routed it to and
//! the cost logged for it.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::clock::{Date, parse_request_time};

/// What a line says, once read.
pub(super) enum Reading<'a> {
    /// A call that was not 2xx, or a CORS preflight.
    NotBilled,
    /// A 2xx call outside `--from`/`--to`.
    OutsideDates,
    /// A 2xx call to bill.
    Call(Call<'a>),
}

/// A 2xx call within the dates, borrowed from its line where it can be.
pub(super) struct Call<'a> {
    /// The caller (`userId`, else `principalId`).
    pub(super) user: Cow<'a, str>,
    /// The route API Gateway routed the call to (see [`read`]).
    pub(super) route: Cow<'a, str>,
    /// The UTC date of the call.
    pub(super) date: Date,
    /// The logged plan, if any.
    pub(super) plan: Option<Cow<'a, str>>,
    /// The logged `costMicros`, when it was logged for this very route: a context cached under
    /// a token-only key carries another route's endpoint and price, which is not this call's.
    pub(super) own_cost: Option<u64>,
}

/// Why a line cannot be billed: listed with the line in the report's summary.
#[derive(Debug)]
pub(super) enum LineError {
    /// The line is not JSON at all.
    NotJson(serde_json::Error),
    /// The line is JSON, but not an object.
    NotAnObject,
    /// No `status` member.
    NoStatus,
    /// A numeric member holds a number that is not a whole `i64`.
    NotWholeNumber {
        /// The member.
        key: &'static str,
        /// Its value.
        number: serde_json::Number,
    },
    /// A numeric member holds text that is not a whole `i64`.
    TextNotWholeNumber {
        /// The member.
        key: &'static str,
        /// Its value.
        text: String,
    },
    /// A numeric member holds a boolean, an array or an object.
    NotANumber {
        /// The member.
        key: &'static str,
        /// What it holds instead.
        kind: &'static str,
    },
    /// Neither `requestTimeEpoch` nor a readable `requestTime`.
    NoTime,
    /// A 2xx call with no caller.
    NoUser,
    /// Nothing tells the call's route.
    NoRoute,
    /// `costMicros` below zero.
    NegativeCost,
    /// A cost that would take the report's total past `u64`.
    CostOverflow(u64),
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NotJson(e) => write!(f, "not JSON: {e}"),
            LineError::NotAnObject => f.write_str("not a JSON object"),
            LineError::NoStatus => f.write_str("no status"),
            LineError::NotWholeNumber { key, number } => {
                write!(f, "{key} {number} is not a whole number")
            }
            LineError::TextNotWholeNumber { key, text } => {
                write!(f, "{key} {text:?} is not a whole number")
            }
            LineError::NotANumber { key, kind } => write!(f, "{key} is {kind}, not a number"),
            LineError::NoTime => f.write_str("no requestTimeEpoch or readable requestTime"),
            LineError::NoUser => f.write_str(
                "a 2xx call with no userId (is the authorizer context in the access-log format?)",
            ),
            LineError::NoRoute => {
                f.write_str("no routeKey, resourcePath, endpoint, or httpMethod and path")
            }
            LineError::NegativeCost => f.write_str("costMicros is negative"),
            LineError::CostOverflow(micros) => write!(
                f,
                "costMicros {micros} would overflow the report's total cost"
            ),
        }
    }
}

/// Reads one non-blank line. A call's route is the one API Gateway routed it to: REST
/// `resourcePath` with the method, HTTP API and WebSocket `routeKey`; never `$context.path`,
/// which carries the stage. Only a line with neither falls back to its logged endpoint, or its
/// method and path.
pub(super) fn read<'a>(
    line: &'a str,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Reading<'a>, LineError> {
    let record: Record<'_> = match line.trim_start().as_bytes().first() {
        Some(b'{') => serde_json::from_str(line).map_err(LineError::NotJson)?,
        _ => {
            return Err(match serde_json::from_str::<de::IgnoredAny>(line) {
                Ok(_) => LineError::NotAnObject,
                Err(e) => LineError::NotJson(e),
            });
        }
    };
    let status = record.number("status").ok_or(LineError::NoStatus)??;
    if !(200..300).contains(&status) {
        return Ok(Reading::NotBilled);
    }
    let millis = match record.number("requestTimeEpoch") {
        Some(ms) => ms?,
        None => record
            .text("requestTime")
            .and_then(parse_request_time)
            .ok_or(LineError::NoTime)?,
    };
    let date = Date::from_epoch_millis(millis);
    if from.is_some_and(|from| date < from) || to.is_some_and(|to| date > to) {
        return Ok(Reading::OutsideDates);
    }
    let method = record.text("httpMethod");
    let user = match (
        record
            .line_text("userId")
            .or_else(|| record.line_text("principalId")),
        method,
    ) {
        (Some(user), _) => user,
        // A CORS preflight, answered by API Gateway without the authorizer: no caller, no cost.
        (None, Some("OPTIONS")) => return Ok(Reading::NotBilled),
        (None, _) => return Err(LineError::NoUser),
    };
    let logged = record.text("endpoint");
    let own_route: Option<Cow<'a, str>> = match (
        record.line_text("routeKey"),
        method,
        record.text("resourcePath"),
    ) {
        (Some(key), _, _) => Some(key),
        (None, Some(m), Some(resource)) => Some(Cow::Owned(format!("{m} {resource}"))),
        _ => None,
    };
    let has_own_route = own_route.is_some();
    let route: Cow<'a, str> = match (own_route, logged, method, record.text("path")) {
        (Some(route), _, _, _) => route,
        (None, Some(_), _, _) => record.line_text("endpoint").unwrap_or_default(),
        (None, None, Some(m), Some(p)) => Cow::Owned(format!("{m} {p}")),
        _ => return Err(LineError::NoRoute),
    };
    let logged_cost = match record.number("costMicros") {
        Some(micros) => Some(u64::try_from(micros?).map_err(|_| LineError::NegativeCost)?),
        None => None,
    };
    let own_cost = logged_cost.filter(|_| logged == Some(route.as_ref()) || !has_own_route);
    Ok(Reading::Call(Call {
        user,
        date,
        plan: record.line_text("plan"),
        own_cost,
        route,
    }))
}

/// One access-log field as the report sees it: text, a number, or something else.
#[derive(Debug)]
enum Field<'a> {
    Text(Cow<'a, str>),
    Number(serde_json::Number),
    /// `null`, a boolean, an array or an object (named for the error message).
    Other(&'static str),
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Field<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Field<'a>, E> {
                Ok(Field::Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Field<'a>, E> {
                Ok(Field::Number(v.into()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Field<'a>, E> {
                Ok(serde_json::Number::from_f64(v).map_or(Field::Other("number"), Field::Number))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Field<'a>, E> {
                Ok(Field::Other("boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Field<'a>, E> {
                Ok(Field::Other("null"))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Field<'a>, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Field::Other("array"))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Field<'a>, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Field::Other("object"))
            }
        }
        d.deserialize_any(Visit(std::marker::PhantomData))
    }
}

/// The fields of an access-log line the report reads; every other field is skipped unread.
#[derive(Debug, Default)]
struct Record<'a> {
    fields: [Option<Field<'a>>; RECORD_KEYS.len()],
}

/// A member name, borrowed from the line unless it holds an escape.
#[derive(Deserialize)]
#[serde(transparent)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// The keys [`Record`] keeps, in the order of its fields.
const RECORD_KEYS: [&str; 12] = [
    "status",
    "requestTimeEpoch",
    "requestTime",
    "userId",
    "principalId",
    "httpMethod",
    "endpoint",
    "routeKey",
    "resourcePath",
    "path",
    "plan",
    "costMicros",
];

/// The place of `key` in [`RECORD_KEYS`] (one match, not a comparison with each key).
fn record_index(key: &str) -> Option<usize> {
    let i = match key {
        "status" => 0,
        "requestTimeEpoch" => 1,
        "requestTime" => 2,
        "userId" => 3,
        "principalId" => 4,
        "httpMethod" => 5,
        "endpoint" => 6,
        "routeKey" => 7,
        "resourcePath" => 8,
        "path" => 9,
        "plan" => 10,
        "costMicros" => 11,
        _ => return None,
    };
    debug_assert_eq!(RECORD_KEYS[i], key);
    Some(i)
}

impl<'de: 'a, 'a> Deserialize<'de> for Record<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for Visit<'a> {
            type Value = Record<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Record<'a>, A::Error> {
                let mut record = Record::default();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    match record_index(&key) {
                        // A repeated key: the last one counts, as in a JSON object read whole.
                        Some(i) => record.fields[i] = Some(map.next_value()?),
                        None => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(record)
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

impl<'a> Record<'a> {
    fn get(&self, key: &str) -> Option<&Field<'a>> {
        let i = record_index(key)?;
        self.fields[i].as_ref()
    }

    /// A text field, unless it is empty or `-` (API Gateway's value for a missing variable).
    fn text(&self, key: &str) -> Option<&str> {
        match self.get(key)? {
            Field::Text(s) if !s.is_empty() && s != "-" => Some(s),
            _ => None,
        }
    }

    /// A text field as [`Record::text`] reads it, borrowed from the line itself where it can be.
    fn line_text(&self, key: &str) -> Option<Cow<'a, str>> {
        match self.get(key)? {
            Field::Text(s) if !s.is_empty() && s != "-" => Some(s.clone()),
            _ => None,
        }
    }

    /// A whole-number field, from a JSON number or from text; empty, `-` and `null` are absent.
    fn number(&self, key: &'static str) -> Option<Result<i64, LineError>> {
        match self.get(key)? {
            Field::Number(n) => Some(n.as_i64().ok_or_else(|| LineError::NotWholeNumber {
                key,
                number: n.clone(),
            })),
            Field::Text(s) if s.is_empty() || s == "-" => None,
            Field::Text(s) => {
                Some(
                    s.trim()
                        .parse::<i64>()
                        .map_err(|_| LineError::TextNotWholeNumber {
                            key,
                            text: s.to_string(),
                        }),
                )
            }
            Field::Other("null") => None,
            Field::Other(kind) => Some(Err(LineError::NotANumber { key, kind })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_key_has_its_own_place() {
        for (i, key) in RECORD_KEYS.iter().enumerate() {
            assert_eq!(record_index(key), Some(i), "{key}");
        }
        assert_eq!(record_index("userid"), None);
    }

    #[test]
    fn a_preflight_line_without_a_caller_is_not_billed() {
        let line = r#"{"requestTimeEpoch":"1767225600000","httpMethod":"OPTIONS","resourcePath":"/api/user/profile","status":"200","userId":"-","costMicros":"-"}"#;
        assert!(matches!(read(line, None, None), Ok(Reading::NotBilled)));
        let get = line.replace("OPTIONS", "GET");
        assert!(matches!(read(&get, None, None), Err(LineError::NoUser)));
    }
}
