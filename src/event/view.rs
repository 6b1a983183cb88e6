//! A zero-copy view of an authorizer event: one borrowed pass over the event's members, then
//! the fields tollgate reads, borrowed from the event's bytes.
//!
//! [`view`] answers only when it can vouch that the typed parse ([`super::parse_typed`], with
//! the `aws_lambda_events` types) gives the same request or the same refusal. On anything
//! unusual (a duplicate member, a member of a type API Gateway never sends, an array where an
//! object belongs, a header named twice, a value the `http` types refuse) it answers `None`,
//! and [`super::parse`] falls back to the typed parse, which then decides and words the error.
//! Each member of the shape's `aws_lambda_events` type is checked with the same rules as that
//! type's own deserialiser (the members tollgate does not read are checked and dropped); the
//! `requestContext` is parsed with the `aws_lambda_events` type itself, from the borrowed raw
//! JSON. The `event_view` fuzz target holds [`super::parse`] to [`super::parse_typed`] for any
//! bytes.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequestContext,
    ApiGatewayV2CustomAuthorizerV1RequestTypeRequestContext, ApiGatewayV2httpRequestContext,
};
use aws_lambda_events::http::Method;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{AuthRequest, Fields, Pairs, ProbeContext, Shape, normalise, shape_of};
use crate::errors::Rejection;

/// Header values beyond which the view leaves the event to the typed parse (`http`'s
/// `HeaderMap` has a hard limit of its own).
const MAX_HEADER_VALUES: usize = 1024;

/// Every top-level member of the four `aws_lambda_events` authorizer request types (and of the
/// shape probe), as borrowed raw JSON. `null` is kept as a raw `null`: some members take it,
/// some refuse it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopLevel<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "present")]
    kind: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    version: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method_arn: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    route_arn: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    authorization_token: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    identity_source: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    resource: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    path: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    http_method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    headers: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    multi_value_headers: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    query_string_parameters: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    multi_value_query_string_parameters: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    path_parameters: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    stage_variables: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    request_context: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    route_key: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    raw_path: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    raw_query_string: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    cookies: Option<&'a RawValue>,
}

/// A member that is present, `null` included.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A JSON string, borrowed unless it holds an escape.
#[derive(Deserialize)]
#[serde(transparent)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

/// A header or query value: one string, or a list of strings.
enum Values<'a> {
    One(Cow<'a, str>),
    Many(Vec<Cow<'a, str>>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Values<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ValuesVisitor<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for ValuesVisitor<'a> {
            type Value = Values<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Values<'a>, E> {
                Ok(Values::One(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Values<'a>, E> {
                Ok(Values::One(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Values<'a>, E> {
                Ok(Values::One(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Values<'a>, A::Error> {
                let mut values = Vec::new();
                while let Some(Text(value)) = seq.next_element::<Text<'a>>()? {
                    values.push(value);
                }
                Ok(Values::Many(values))
            }
        }
        d.deserialize_any(ValuesVisitor(PhantomData))
    }
}

/// A JSON object's members in order, duplicates kept (the caller decides about them).
struct Entries<'a, V>(Vec<(Cow<'a, str>, V)>);

impl<'de: 'a, 'a, V: Deserialize<'de>> Deserialize<'de> for Entries<'a, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<'a, V>(PhantomData<(&'a (), V)>);
        impl<'de: 'a, 'a, V: Deserialize<'de>> Visitor<'de> for EntriesVisitor<'a, V> {
            type Value = Entries<'a, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Entries<'a, V>, M::Error> {
                let mut entries = Vec::new();
                while let Some((Text(key), value)) = map.next_entry::<Text<'a>, V>()? {
                    entries.push((key, value));
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(EntriesVisitor(PhantomData))
    }
}

/// Parses a member's raw JSON as `T`; `None` if it does not parse.
fn parse_raw<'a, T: Deserialize<'a>>(raw: &'a RawValue) -> Option<T> {
    serde_json::from_str(raw.get()).ok()
}

/// An `Option<String>` member with `#[serde(default)]`: absent or `null` is `None`. The outer
/// `None`: not a string.
fn text<'a>(raw: Option<&'a RawValue>) -> Option<Option<Cow<'a, str>>> {
    match raw {
        None => Some(None),
        Some(raw) => parse_raw::<Option<Text<'a>>>(raw).map(|t| t.map(|Text(t)| t)),
    }
}

/// An HTTP method as `aws_lambda_events` reads it: empty is `GET`, anything else must be a
/// method token (and `Method`'s text is then exactly the text it was read from).
fn method(text: Cow<'_, str>) -> Option<Cow<'_, str>> {
    if text.is_empty() {
        return Some(Cow::Borrowed("GET"));
    }
    Method::from_bytes(text.as_bytes()).ok()?;
    Some(text)
}

/// Whether `name` is a header name `http` accepts (`HeaderName::from_bytes`: 1 to 65,535
/// token characters, any case).
fn is_header_name(name: &str) -> bool {
    (1..=65_535).contains(&name.len())
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// Whether `value` is a header value `http` accepts (`HeaderValue::from_bytes`).
fn is_header_value(value: &str) -> bool {
    value.bytes().all(|b| (b >= 32 && b != 127) || b == b'\t')
}

/// How a headers member is read: `aws_lambda_events`' own `deserialize_headers` (REST and
/// WebSocket: `null` is no headers) or `http_serde::header_map` (HTTP APIs: `null` is refused).
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderRules {
    NullIsEmpty,
    ObjectOnly,
}

/// A headers member as (name, value) pairs; `None` where the view does not vouch for it (a
/// name repeated in any case, whose values the two readers merge in their own ways, included).
fn headers(raw: Option<&RawValue>, rules: HeaderRules) -> Option<Pairs<'_>> {
    let Some(raw) = raw else {
        return Some(Vec::new());
    };
    let Some(entries) = parse_raw::<Option<Entries<Values>>>(raw)? else {
        return (rules == HeaderRules::NullIsEmpty).then(Vec::new);
    };
    let mut pairs = Vec::new();
    for (i, (name, values)) in entries.0.iter().enumerate() {
        if !is_header_name(name)
            || entries.0[..i]
                .iter()
                .any(|(seen, _)| seen.eq_ignore_ascii_case(name))
        {
            return None;
        }
        match values {
            Values::One(value) => pairs.push((name.clone(), value.clone())),
            Values::Many(values) => pairs.extend(values.iter().map(|v| (name.clone(), v.clone()))),
        }
    }
    (pairs.len() <= MAX_HEADER_VALUES && pairs.iter().all(|(_, v)| is_header_value(v)))
        .then_some(pairs)
}

/// A REST query member (`query_map`'s `QueryMap`: `null` is empty, values a string or a list
/// of strings) as pairs, and whether it names any parameter.
fn query_map(raw: Option<&RawValue>) -> Option<(bool, Pairs<'_>)> {
    let Some(raw) = raw else {
        return Some((false, Vec::new()));
    };
    let Some(entries) = parse_raw::<Option<Entries<Values>>>(raw)? else {
        return Some((false, Vec::new()));
    };
    let mut pairs = Vec::new();
    for (i, (name, values)) in entries.0.iter().enumerate() {
        if entries.0[..i].iter().any(|(seen, _)| seen == name) {
            return None;
        }
        match values {
            Values::One(value) => pairs.push((name.clone(), value.clone())),
            // An empty list: the typed path's business (it counts the name, with no value).
            Values::Many(values) if values.is_empty() => return None,
            Values::Many(values) => pairs.extend(values.iter().map(|v| (name.clone(), v.clone()))),
        }
    }
    Some((!entries.0.is_empty(), pairs))
}

/// A `HashMap<String, String>` member read with `null` as empty, as pairs (a repeated name,
/// which the map would keep the last of, is left to the typed parse).
fn string_map(raw: Option<&RawValue>) -> Option<Pairs<'_>> {
    let Some(raw) = raw else {
        return Some(Vec::new());
    };
    let Some(Entries(entries)) = parse_raw::<Option<Entries<Text>>>(raw)? else {
        return Some(Vec::new());
    };
    for (i, (name, _)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(seen, _)| seen == name) {
            return None;
        }
    }
    Some(entries.into_iter().map(|(k, Text(v))| (k, v)).collect())
}

/// A required member parsed with its `aws_lambda_events` type.
fn required<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    parse_raw(raw?)
}

/// The event's request, or its refusal, when the view can vouch that the typed parse gives the
/// same; `None` otherwise.
///
/// ```
/// let event = br#"{"type":"TOKEN","authorizationToken":"Bearer x","methodArn":"arn:aws:execute-api:us-east-1:1:a/s/GET/x"}"#;
/// let viewed = tollgate::event::view(event).unwrap().unwrap();
/// assert_eq!(viewed.endpoint, "GET /x");
/// assert_eq!(Ok(viewed), tollgate::event::parse_typed(event));
/// // A member API Gateway never sends in that form: left to the typed parse.
/// assert!(tollgate::event::view(br#"{"type":"TOKEN","version":7}"#).is_none());
/// ```
pub fn view(event: &[u8]) -> Option<Result<AuthRequest<'_>, Rejection>> {
    // A derived struct also reads a JSON array, member by member: not the view's business.
    if event.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    let top: TopLevel = serde_json::from_slice(event).ok()?;
    // The shape probe's reading of `type`, `version` and `requestContext`.
    let kind = text(top.kind)?;
    let version = text(top.version)?;
    let probe_context = match top.request_context {
        None => None,
        Some(raw) => parse_raw::<Option<ProbeContext>>(raw)?,
    };
    let shape = match shape_of(kind.as_deref(), version.as_deref(), probe_context.as_ref()) {
        Ok(shape) => shape,
        Err(rejection) => return Some(Err(rejection)),
    };
    let fields = match shape {
        Shape::RestToken => Fields {
            arn: text(top.method_arn)?,
            authorization_token: text(top.authorization_token)?,
            ..Fields::default()
        },
        Shape::RestRequest | Shape::WebSocketConnect => {
            let context: ApiGatewayCustomAuthorizerRequestTypeRequestContext =
                required(top.request_context)?;
            let http_method = match text(top.http_method)? {
                Some(m) => Some(method(m)?),
                None => context.http_method.map(|m| Cow::Owned(m.to_string())),
            };
            text(top.path)?;
            string_map(top.path_parameters)?;
            string_map(top.stage_variables)?;
            let (multi_query_keys, multi_query) =
                query_map(top.multi_value_query_string_parameters)?;
            Fields {
                arn: text(top.method_arn)?,
                http_method,
                resource: text(top.resource)?.or(context.resource_path.map(Cow::Owned)),
                request_id: context.request_id.map(Cow::Owned),
                headers: headers(top.headers, HeaderRules::NullIsEmpty)?,
                multi_value_headers: Some(headers(
                    top.multi_value_headers,
                    HeaderRules::NullIsEmpty,
                )?),
                query: query_map(top.query_string_parameters)?.1,
                multi_value_query: multi_query_keys.then_some(multi_query),
                ..Fields::default()
            }
        }
        Shape::HttpV1 => {
            let context: ApiGatewayV2CustomAuthorizerV1RequestTypeRequestContext =
                required(top.request_context)?;
            let Text(http_method) = required(top.http_method)?;
            // Checked, not read: payload 1.0's token is in the headers.
            text(top.authorization_token)?;
            text(top.path)?;
            string_map(top.path_parameters)?;
            string_map(top.stage_variables)?;
            Fields {
                arn: text(top.method_arn)?,
                http_method: Some(method(http_method)?),
                resource: text(top.resource)?.or(context.resource_path.map(Cow::Owned)),
                identity_source: text(top.identity_source)?.map(|joined| {
                    // Payload 1.0 joins the identity-source values with commas.
                    match joined {
                        Cow::Borrowed(joined) => {
                            joined.split(',').map(|v| Cow::Borrowed(v.trim())).collect()
                        }
                        Cow::Owned(joined) => joined
                            .split(',')
                            .map(|v| Cow::Owned(v.trim().to_string()))
                            .collect(),
                    }
                }),
                request_id: context.request_id.map(Cow::Owned),
                headers: headers(top.headers, HeaderRules::ObjectOnly)?,
                query: string_map(top.query_string_parameters)?,
                ..Fields::default()
            }
        }
        Shape::HttpV2 => {
            let context: ApiGatewayV2httpRequestContext = required(top.request_context)?;
            text(top.raw_query_string)?;
            string_map(top.path_parameters)?;
            string_map(top.stage_variables)?;
            let cookies = match top.cookies {
                None => Vec::new(),
                Some(raw) => parse_raw::<Vec<Text>>(raw)?
                    .into_iter()
                    .map(|Text(c)| c)
                    .collect(),
            };
            let identity_source = match top.identity_source {
                None => None,
                Some(raw) => parse_raw::<Option<Vec<Text>>>(raw)?
                    .map(|values| values.into_iter().map(|Text(v)| v).collect()),
            };
            Fields {
                arn: text(top.route_arn)?,
                http_method: Some(Cow::Owned(context.http.method.to_string())),
                route_key: text(top.route_key)?.or(context.route_key.map(Cow::Owned)),
                path: text(top.raw_path)?.or(context.http.path.map(Cow::Owned)),
                identity_source,
                request_id: context.request_id.map(Cow::Owned),
                headers: headers(top.headers, HeaderRules::ObjectOnly)?,
                query: string_map(top.query_string_parameters)?,
                cookies,
                ..Fields::default()
            }
        }
    };
    Some(normalise(shape, fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lambda_events::http::{HeaderName, HeaderValue};

    #[test]
    fn header_name_rule_is_http_s() {
        for b in 0..=255u8 {
            let name = [b];
            let Ok(name) = std::str::from_utf8(&name) else {
                continue;
            };
            assert_eq!(
                is_header_name(name),
                HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "byte {b:#04x}"
            );
        }
        assert!(!is_header_name(""));
    }

    #[test]
    fn header_value_rule_is_http_s() {
        for b in 0..=127u8 {
            let value = [b'a', b];
            let Ok(value) = std::str::from_utf8(&value) else {
                continue;
            };
            assert_eq!(
                is_header_value(value),
                HeaderValue::from_bytes(value.as_bytes()).is_ok(),
                "byte {b:#04x}"
            );
        }
        assert!(is_header_value("caf\u{e9}"));
    }

    #[test]
    fn header_named_twice_in_two_cases_is_left_to_the_typed_parse() {
        let event = br#"{"type":"REQUEST","methodArn":"arn:aws:execute-api:us-east-1:1:a/s/GET/x","requestContext":{},"headers":{"Authorization":"Bearer a","authorization":"Bearer b"}}"#;
        assert!(view(event).is_none());
    }

    #[test]
    fn array_event_is_left_to_the_typed_parse() {
        assert!(
            view(br#"["TOKEN","Bearer x","arn:aws:execute-api:us-east-1:1:a/s/GET/x"]"#).is_none()
        );
    }
}
