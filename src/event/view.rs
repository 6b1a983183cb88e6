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
    ApiGatewayCustomAuthorizerRequestTypeRequestIdentityClientCert, ApiGatewayRequestAuthorizer,
    ApiGatewayV2httpRequestContextAuthentication,
};
use aws_lambda_events::http::Method;
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::{AuthRequest, EventShape, Fields, Pairs, ProbeContext, normalise, shape_of};
use crate::errors::Rejection;

/// Header values beyond which the view leaves the event to the typed parse (`http`'s
/// `HeaderMap` has a hard limit of its own).
const MAX_HEADER_VALUES: usize = 1024;

/// Every top-level member of the four `aws_lambda_events` authorizer request types (and of the
/// shape probe), read in one borrowed pass in the forms API Gateway sends (any other form fails
/// the pass, and the event is left to the typed parse). `None`: absent; `Some(None)`: `null`
/// (some members take it, some refuse it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopLevel<'a> {
    #[serde(rename = "type", borrow, default, deserialize_with = "nullable")]
    kind: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    version: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    method_arn: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    route_arn: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    authorization_token: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    identity_source: Member<Values<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    resource: Member<Text<'a>>,
    // Read for its form (and so that a duplicate is caught), as its type does; never used.
    #[allow(dead_code)]
    #[serde(borrow, default, deserialize_with = "nullable")]
    path: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    http_method: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    headers: Member<Entries<'a, Values<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    multi_value_headers: Member<Entries<'a, Values<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    query_string_parameters: Member<Entries<'a, Values<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    multi_value_query_string_parameters: Member<Entries<'a, Values<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    path_parameters: Member<Entries<'a, Text<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    stage_variables: Member<Entries<'a, Text<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    request_context: Member<ObjectOnly<ContextView<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    route_key: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    raw_path: Member<Text<'a>>,
    // Read for its form, as its type does; never used.
    #[allow(dead_code)]
    #[serde(borrow, default, deserialize_with = "nullable")]
    raw_query_string: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    cookies: Member<Vec<Text<'a>>>,
}

/// A member: absent (`None`), `null` (`Some(None)`) or a value.
type Member<T> = Option<Option<T>>;

/// A member that is present, `null` included.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Member<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A member that is present, `null` included, as raw JSON.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Every member of the three `aws_lambda_events` request-context types
/// (`ApiGatewayCustomAuthorizerRequestTypeRequestContext`,
/// `ApiGatewayV2CustomAuthorizerV1RequestTypeRequestContext`, `ApiGatewayV2httpRequestContext`)
/// and of the shape probe's, in one borrowed pass. The sub-objects tollgate never reads and API
/// Gateway does not send to an authorizer (`authorizer`, `authentication`, a client certificate)
/// are kept raw, and checked with their `aws_lambda_events` types when present.
// Most members are read for their form only (the type they mirror refuses other forms).
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContextView<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    event_type: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    route_key: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    path: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    account_id: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    resource_id: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    stage: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    request_id: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    identity: Member<ObjectOnly<IdentityView<'a>>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    resource_path: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    http_method: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    api_id: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    authorizer: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    domain_name: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    domain_prefix: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    time: Member<Text<'a>>,
    #[serde(default, deserialize_with = "nullable")]
    time_epoch: Member<i64>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    http: Member<ObjectOnly<HttpView<'a>>>,
    #[serde(borrow, default, deserialize_with = "present")]
    authentication: Option<&'a RawValue>,
}

/// `ApiGatewayCustomAuthorizerRequestTypeRequestIdentity`'s members.
// Most members are read for their form only (the type they mirror refuses other forms).
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityView<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    api_key_id: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    api_key: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    source_ip: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "present")]
    client_cert: Option<&'a RawValue>,
}

/// `ApiGatewayV2httpRequestContextHttpDescription`'s members.
// Most members are read for their form only (the type they mirror refuses other forms).
#[allow(dead_code)]
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct HttpView<'a> {
    #[serde(borrow, default, deserialize_with = "nullable")]
    method: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    path: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    protocol: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    source_ip: Member<Text<'a>>,
    #[serde(borrow, default, deserialize_with = "nullable")]
    user_agent: Member<Text<'a>>,
}

/// A struct read only from a JSON object (a derived struct would also read an array, member
/// by member, in an order the view does not share with the types it mirrors).
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = T;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<T, M::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData))
            .map(ObjectOnly)
    }
}

/// A member that the shape's type reads with an `aws_lambda_events` type of its own:
/// checked with that type when present (`null` included, as `Option` reads it).
fn checked_with<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<()> {
    match raw {
        None => Some(()),
        Some(raw) => parse_raw::<Option<T>>(raw).map(drop),
    }
}

/// The members every shape's context reads alike; `None` where the shape's type refuses them.
fn identity_checked(identity: &Member<ObjectOnly<IdentityView<'_>>>) -> Option<()> {
    match identity {
        Some(Some(ObjectOnly(identity))) => checked_with::<
            ApiGatewayCustomAuthorizerRequestTypeRequestIdentityClientCert,
        >(identity.client_cert),
        _ => Some(()),
    }
}

/// A JSON string, borrowed unless it holds an escape.
#[derive(Clone, Deserialize)]
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

/// An `Option<String>` member with `#[serde(default)]`: absent or `null` is `None`.
fn text(member: Member<Text<'_>>) -> Option<Cow<'_, str>> {
    member.flatten().map(|Text(t)| t)
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
    // No branch per byte: the compiler vectorises it.
    value
        .bytes()
        .fold(true, |ok, b| ok & (((b >= 32) & (b != 127)) | (b == b'\t')))
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
fn headers<'a>(member: Member<Entries<'a, Values<'a>>>, rules: HeaderRules) -> Option<Pairs<'a>> {
    let entries = match member {
        None => return Some(Vec::new()),
        Some(None) => return (rules == HeaderRules::NullIsEmpty).then(Vec::new),
        Some(Some(Entries(entries))) => entries,
    };
    let mut pairs = Vec::with_capacity(entries.len());
    for (i, (name, _)) in entries.iter().enumerate() {
        if !is_header_name(name)
            || entries[..i]
                .iter()
                .any(|(seen, _)| seen.eq_ignore_ascii_case(name))
        {
            return None;
        }
    }
    for (name, values) in entries {
        match values {
            Values::One(value) => pairs.push((name, value)),
            Values::Many(values) => pairs.extend(values.into_iter().map(|v| (name.clone(), v))),
        }
    }
    (pairs.len() <= MAX_HEADER_VALUES && pairs.iter().all(|(_, v)| is_header_value(v)))
        .then_some(pairs)
}

/// A REST query member (`query_map`'s `QueryMap`: `null` is empty, values a string or a list
/// of strings) as pairs, and whether it names any parameter.
fn query_map<'a>(member: Member<Entries<'a, Values<'a>>>) -> Option<(bool, Pairs<'a>)> {
    let Some(Some(Entries(entries))) = member else {
        return Some((false, Vec::new()));
    };
    let any = !entries.is_empty();
    if repeats(&entries) {
        return None;
    }
    let mut pairs = Vec::with_capacity(entries.len());
    for (name, values) in entries {
        match values {
            Values::One(value) => pairs.push((name, value)),
            // An empty list: the typed path's business (it counts the name, with no value).
            Values::Many(values) if values.is_empty() => return None,
            Values::Many(values) => pairs.extend(values.into_iter().map(|v| (name.clone(), v))),
        }
    }
    Some((any, pairs))
}

/// Whether a name comes twice (a map would keep the last value; left to the typed parse).
fn repeats<V>(entries: &[(Cow<'_, str>, V)]) -> bool {
    entries
        .iter()
        .enumerate()
        .any(|(i, (name, _))| entries[..i].iter().any(|(seen, _)| seen == name))
}

/// A `HashMap<String, String>` member read with `null` as empty, as pairs.
fn string_map<'a>(member: Member<Entries<'a, Values<'a>>>) -> Option<Pairs<'a>> {
    let Some(Some(Entries(entries))) = member else {
        return Some(Vec::new());
    };
    if repeats(&entries) {
        return None;
    }
    entries
        .into_iter()
        .map(|(name, values)| match values {
            Values::One(value) => Some((name, value)),
            Values::Many(_) => None,
        })
        .collect()
}

/// A `HashMap<String, String>` member read with `null` as empty, checked and dropped.
fn checked_map(member: &Member<Entries<'_, Text<'_>>>) -> Option<()> {
    match member {
        Some(Some(Entries(entries))) if repeats(entries) => None,
        _ => Some(()),
    }
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
    // Checked as UTF-8 once, as a whole, so that its strings are not checked one by one (an
    // event that is not UTF-8 is left to the typed parse).
    let utf8 = std::str::from_utf8(event).ok()?;
    let top: TopLevel = serde_json::from_str(utf8).ok()?;
    let context = match top.request_context {
        Some(Some(ObjectOnly(context))) => Some(context),
        None | Some(None) => None,
    };
    // The shape probe's reading of `requestContext` (with `type` and `version`).
    let probe_context = context.as_ref().map(|c| ProbeContext {
        event_type: c.event_type.clone().flatten().map(|Text(t)| t),
        route_key: c.route_key.clone().flatten().map(|Text(t)| t),
    });
    let kind = text(top.kind);
    let version = text(top.version);
    let shape = match shape_of(kind.as_deref(), version.as_deref(), probe_context.as_ref()) {
        Ok(shape) => shape,
        Err(rejection) => return Some(Err(rejection)),
    };
    let fields = match shape {
        EventShape::RestToken => Fields {
            arn: text(top.method_arn),
            authorization_token: text(top.authorization_token),
            ..Fields::default()
        },
        EventShape::RestRequest | EventShape::WebSocketConnect => {
            // `ApiGatewayCustomAuthorizerRequestTypeRequestContext`: required.
            let context = context?;
            identity_checked(&context.identity)?;
            // `Option<Method>` in the context as at the top.
            let context_method = match text(context.http_method) {
                Some(m) => Some(method(m)?),
                None => None,
            };
            let http_method = match text(top.http_method) {
                Some(m) => Some(method(m)?),
                None => context_method,
            };
            checked_map(&top.path_parameters)?;
            checked_map(&top.stage_variables)?;
            let (multi_query_keys, multi_query) =
                query_map(top.multi_value_query_string_parameters)?;
            Fields {
                arn: text(top.method_arn),
                http_method,
                resource: text(top.resource).or(text(context.resource_path)),
                request_id: text(context.request_id),
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
        EventShape::HttpV1 => {
            // `ApiGatewayV2CustomAuthorizerV1RequestTypeRequestContext`: required, with a
            // required `identity` and a required, valid `httpMethod`.
            let context = context?;
            let Some(Some(_)) = context.identity else {
                return None;
            };
            identity_checked(&context.identity)?;
            method(text(context.http_method)?)?;
            // Required, and not `null`.
            let Some(Some(Text(http_method))) = top.http_method else {
                return None;
            };
            checked_map(&top.path_parameters)?;
            checked_map(&top.stage_variables)?;
            // Payload 1.0 joins the identity-source values with commas into one string.
            let identity_source = match top.identity_source {
                None | Some(None) => None,
                Some(Some(Values::One(joined))) => Some(match joined {
                    Cow::Borrowed(joined) => {
                        joined.split(',').map(|v| Cow::Borrowed(v.trim())).collect()
                    }
                    Cow::Owned(joined) => joined
                        .split(',')
                        .map(|v| Cow::Owned(v.trim().to_string()))
                        .collect(),
                }),
                Some(Some(Values::Many(_))) => return None,
            };
            Fields {
                arn: text(top.method_arn),
                http_method: Some(method(http_method)?),
                resource: text(top.resource).or(text(context.resource_path)),
                identity_source,
                request_id: text(context.request_id),
                headers: headers(top.headers, HeaderRules::ObjectOnly)?,
                query: string_map(top.query_string_parameters)?,
                ..Fields::default()
            }
        }
        EventShape::HttpV2 => {
            // `ApiGatewayV2httpRequestContext`: required, with a required `http` that has a
            // required, valid `method`; `timeEpoch` an `i64` (not `null`).
            let context = context?;
            let Some(Some(ObjectOnly(http))) = context.http else {
                return None;
            };
            let http_method = method(text(http.method)?)?;
            if let Some(None) = context.time_epoch {
                return None;
            }
            checked_with::<ApiGatewayRequestAuthorizer>(context.authorizer)?;
            checked_with::<ApiGatewayV2httpRequestContextAuthentication>(context.authentication)?;
            checked_map(&top.path_parameters)?;
            checked_map(&top.stage_variables)?;
            let cookies = match top.cookies {
                None => Vec::new(),
                // `Vec<String>` refuses `null`.
                Some(None) => return None,
                Some(Some(cookies)) => cookies.into_iter().map(|Text(c)| c).collect(),
            };
            let identity_source = match top.identity_source {
                None | Some(None) => None,
                Some(Some(Values::Many(values))) => Some(values),
                Some(Some(Values::One(_))) => return None,
            };
            Fields {
                arn: text(top.route_arn),
                http_method: Some(http_method),
                route_key: text(top.route_key).or(text(context.route_key)),
                path: text(top.raw_path).or(text(http.path)),
                identity_source,
                request_id: text(context.request_id),
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
