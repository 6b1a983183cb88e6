//! API Gateway's routing, for an API whose routes are the route rules.
//!
//! A REST API first picks the most specific resource whose path matches (a literal beats
//! `{param}`, which beats `{proxy+}`), then the method on it (the exact one, else `ANY`); a
//! request no resource and method take is `Missing Authentication Token`. An HTTP API picks the
//! most specific route whose method and path match; none is `Not Found`. With no rules at all,
//! a REST API has `ANY /` and `ANY /{proxy+}` and an HTTP API only its `$default` route.
//!
//! The choice itself is [`crate::route_table`]'s, the routing the authorizer's prover decides
//! declared route tables by; this module adds what only a server needs: which paths are plain
//! enough to route at all, the names API Gateway gives a route, and the path parameters.

use percent_encoding::percent_decode_str;

use crate::route_table::{Routed as TableRouted, Routing};
use crate::routes::{RoutePattern, Segment};

use super::Api;

/// Where a request was routed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// HTTP API `routeKey` (`GET /pets/{id}`, `ANY /x`, `$default`); for REST the same form,
    /// with the method the resource answered with.
    pub route_key: String,
    /// REST `resourcePath` (`/pets/{id}`); for `$default`, the request's path.
    pub resource_path: String,
    /// The path parameters (`id` = `42`; a greedy one holds the rest of the path).
    pub path_parameters: Vec<(String, String)>,
}

/// The API's routes: the authorizer's own [`crate::route_table`] (the one routing both serve
/// and the exactness prover go by), with the names API Gateway gives what it routes.
#[derive(Clone, Debug)]
pub struct RouteTable {
    table: crate::route_table::RouteTable,
    /// Per pattern of the table, its resource template (`*` written as `{proxy+}`).
    templates: Vec<String>,
}

impl RouteTable {
    /// The routes of an API whose route rules are `patterns` (WebSocket route keys are not
    /// routes of a REST or HTTP API; an HTTP API's `$default` is). With no routes at all, a
    /// REST API has `ANY /` and `ANY /{proxy+}` and an HTTP API only its `$default` route.
    pub fn new(api: Api, patterns: &[RoutePattern]) -> Self {
        let routing = match api {
            Api::Rest => Routing::Rest,
            Api::Http => Routing::Http,
        };
        let mut patterns: Vec<RoutePattern> = patterns
            .iter()
            .filter(|p| !p.is_route_key() || (api == Api::Http && p.method() == "$default"))
            .cloned()
            .collect();
        if patterns.is_empty() {
            let catch_all: &[&str] = match api {
                Api::Rest => &["ANY /", "ANY /{proxy+}"],
                Api::Http => &["$default"],
            };
            patterns.extend(catch_all.iter().filter_map(|t| RoutePattern::parse(t).ok()));
        }
        RouteTable {
            templates: patterns
                .iter()
                .map(RoutePattern::resource_template)
                .collect(),
            table: crate::route_table::RouteTable::new(routing, &patterns),
        }
    }

    /// The route keys, for the start-up banner.
    pub fn describe(&self) -> Vec<String> {
        self.table
            .patterns()
            .iter()
            .zip(&self.templates)
            .map(|(p, template)| match p.is_route_key() {
                true => p.method().to_string(),
                false => format!("{} {template}", p.method()),
            })
            .collect()
    }

    /// Routes a request; `path` is the URL path as received (`/api/user/profile`). A path
    /// that is not [plain](is_plain_path) is routed nowhere; one with an empty segment reaches
    /// an HTTP API's `$default` route, if any, and no other.
    pub fn route(&self, method: &str, path: &str) -> Option<Routed> {
        if !is_plain_path(path) {
            return None;
        }
        let bare = path.strip_prefix('/').unwrap_or(path);
        let chosen = match self.table.route(method, bare) {
            TableRouted::Route(i) => i,
            TableRouted::Refused => self.table.default_route()?,
            TableRouted::NotRouted => return None,
        };
        let pattern = self.table.patterns().get(chosen)?;
        if pattern.is_route_key() {
            return Some(Routed {
                route_key: pattern.method().to_string(),
                resource_path: path.to_string(),
                path_parameters: vec![],
            });
        }
        let template = self.templates.get(chosen)?;
        Some(Routed {
            route_key: format!("{} {template}", pattern.method()),
            resource_path: template.clone(),
            path_parameters: parameters(pattern, bare),
        })
    }

    /// REST: the resource `path` is routed to, with the `Access-Control-Allow-Methods` of the
    /// CORS preflight method SAM adds to it (its methods and `OPTIONS`, sorted; every method
    /// for `ANY`); `None` when no resource takes the path, or when the resource has an
    /// `OPTIONS` method of its own (SAM then adds none).
    pub fn preflight(&self, path: &str) -> Option<(Routed, String)> {
        if !is_plain_path(path) {
            return None;
        }
        let bare = path.strip_prefix('/').unwrap_or(path);
        if !bare.is_empty() && bare.split('/').any(str::is_empty) {
            return None;
        }
        let resource = self
            .table
            .resources()
            .iter()
            .find(|r| r.path.matches("OPTIONS", bare))?;
        let mut methods: Vec<&str> = vec!["OPTIONS"];
        let on_resource = self
            .table
            .patterns()
            .iter()
            .filter(|p| !p.is_route_key() && p.resource_template() == resource.template);
        for pattern in on_resource {
            match pattern.method() {
                "OPTIONS" => return None,
                "ANY" => methods.extend(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]),
                method => methods.push(method),
            }
        }
        methods.sort_unstable();
        methods.dedup();
        let routed = Routed {
            route_key: format!("OPTIONS {}", resource.template),
            resource_path: resource.template.clone(),
            path_parameters: parameters(&resource.path, bare),
        };
        Some((routed, methods.join(",")))
    }
}

/// Whether a path means the same to every reader, so that what is routed and authorized is
/// what the upstream serves. A plain path starts with `/`, is printable ASCII, has no `\\`,
/// and escapes (`%XX`) only characters that must be escaped: never a letter, digit, `-`, `.`,
/// `_` or `~` (`/api/%61dmin` is `/api/admin` to most servers, not to routing), nor `%`, `/`,
/// `\\`, a control or a non-ASCII byte (double decoding, encoded separators, NUL, overlong
/// UTF-8). No segment may be `.` or `..`, also before a `;` parameter or with blanks around it
/// (`..;`, `.. `), which some servers resolve. Anything else is routed nowhere: a refusal,
/// never a guess.
pub fn is_plain_path(path: &str) -> bool {
    if !path.starts_with('/') || path.contains('\\') {
        return false;
    }
    let Some(decoded) = strictly_decoded(path) else {
        return false;
    };
    decoded.split('/').all(|segment| {
        let core = segment
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_matches(|c: char| c.is_ascii_whitespace());
        core != "." && core != ".."
    })
}

/// The path with its escapes decoded, or `None` if it holds a byte or an escape a reader could
/// take two ways (see [`is_plain_path`]).
fn strictly_decoded(path: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !path.bytes().all(|byte| (0x21..0x7f).contains(&byte)) {
        return None;
    }
    // Every `%` must start an escape of a character that needs one (the text is ASCII here,
    // so each three-byte window is whole).
    for (at, _) in path.match_indices('%') {
        let mut escape = percent_decode_str(path.get(at..at + 3)?);
        match (escape.next(), escape.next()) {
            (Some(decoded), None) if !is_ambiguous_escape(decoded) => {}
            _ => return None,
        }
    }
    // Decoded, the path is printable ASCII: UTF-8 always.
    percent_decode_str(path).decode_utf8().ok()
}

/// Whether an escaped byte is one that servers may read differently: an unreserved character
/// (letter, digit, `-`, `.`, `_`, `~`), `%`, `/`, `\\`, a control or a non-ASCII byte.
fn is_ambiguous_escape(decoded: u8) -> bool {
    decoded.is_ascii_alphanumeric()
        || b"-._~%/\\".contains(&decoded)
        || !(0x20..0x7f).contains(&decoded)
}

/// The path parameters of a routed request: each `{param}` takes its segment, a greedy one
/// the rest of the path.
fn parameters(pattern: &RoutePattern, bare: &str) -> Vec<(String, String)> {
    let parts: Vec<&str> = if bare.is_empty() {
        vec![]
    } else {
        bare.split('/').collect()
    };
    pattern
        .segments()
        .iter()
        .enumerate()
        .filter_map(|(i, segment)| {
            let value = match segment {
                Segment::Literal(_) => return None,
                Segment::Param(_) => parts.get(i).map(|s| s.to_string()),
                Segment::Greedy(_) => parts.get(i..).map(|rest| rest.join("/")),
            };
            Some((segment.parameter()?.to_string(), value.unwrap_or_default()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(api: Api, rules: &[&str]) -> RouteTable {
        let patterns: Vec<RoutePattern> = rules
            .iter()
            .map(|r| RoutePattern::parse(r).unwrap())
            .collect();
        RouteTable::new(api, &patterns)
    }

    #[test]
    fn rest_picks_the_literal_resource_over_a_parameter() {
        let t = table(Api::Rest, &["GET /pets/{id}", "GET /pets/dog"]);
        assert_eq!(
            t.route("GET", "/pets/dog").unwrap().resource_path,
            "/pets/dog"
        );
        let routed = t.route("GET", "/pets/7").unwrap();
        assert_eq!(routed.resource_path, "/pets/{id}");
        assert_eq!(
            routed.path_parameters,
            [("id".to_string(), "7".to_string())]
        );
    }

    #[test]
    fn rest_resource_without_the_method_is_not_routed_even_if_a_wider_one_has_it() {
        let t = table(Api::Rest, &["GET /pets/{id}", "POST /{proxy+}"]);
        assert_eq!(t.route("POST", "/pets/7"), None);
        assert_eq!(
            t.route("POST", "/toys/7").unwrap().resource_path,
            "/{proxy+}"
        );
    }

    #[test]
    fn rest_resources_written_differently_stay_apart_even_when_their_parameters_share_a_name() {
        // `{a++}` and `{a+}` name the same parameter, but not the same resource: as in the
        // baseline, a POST on the resource of the GET route is not routed.
        let t = table(Api::Rest, &["GET /x/{a++}", "POST /x/{a+}"]);
        assert_eq!(t.route("POST", "/x/foo"), None);
        let routed = t.route("GET", "/x/foo/bar").unwrap();
        assert_eq!(routed.route_key, "GET /x/{a++}");
        assert_eq!(
            routed.path_parameters,
            [("a".to_string(), "foo/bar".to_string())]
        );
        let http = table(Api::Http, &["GET /x/{a++}"]);
        assert_eq!(
            http.route("GET", "/x/foo").unwrap().route_key,
            "GET /x/{a++}"
        );
    }

    #[test]
    fn rest_any_method_answers_every_method_with_its_name() {
        let t = table(Api::Rest, &["ANY /admin/*"]);
        let routed = t.route("DELETE", "/admin/users/9").unwrap();
        assert_eq!(routed.route_key, "ANY /admin/{proxy+}");
        assert_eq!(
            routed.path_parameters,
            [("proxy".to_string(), "users/9".to_string())]
        );
    }

    #[test]
    fn http_picks_the_exact_method_over_any_on_the_same_path() {
        let t = table(Api::Http, &["ANY /x", "GET /x"]);
        assert_eq!(t.route("GET", "/x").unwrap().route_key, "GET /x");
        assert_eq!(t.route("PUT", "/x").unwrap().route_key, "ANY /x");
    }

    #[test]
    fn http_with_no_route_for_the_path_is_not_found() {
        let t = table(Api::Http, &["GET /x"]);
        assert_eq!(t.route("GET", "/y"), None);
        assert_eq!(t.route("POST", "/x"), None);
    }

    #[test]
    fn no_rules_means_every_path() {
        let rest = table(Api::Rest, &[]);
        assert_eq!(rest.route("GET", "/").unwrap().resource_path, "/");
        assert_eq!(
            rest.route("PATCH", "/a/b").unwrap().resource_path,
            "/{proxy+}"
        );
        let http = table(Api::Http, &[]);
        assert_eq!(http.route("GET", "/a/b").unwrap().route_key, "$default");
    }

    #[test]
    fn a_trailing_slash_or_empty_segment_is_not_routed() {
        let t = table(Api::Rest, &["GET /api/user/profile"]);
        assert_eq!(t.route("GET", "/api/user/profile/"), None);
        assert_eq!(t.route("GET", "/api//user/profile"), None);
    }

    #[test]
    fn dot_segments_and_encoded_separators_are_not_routed() {
        let t = table(Api::Rest, &["GET /api/public/*"]);
        assert!(t.route("GET", "/api/public/x").is_some());
        for path in [
            "/api/public/../admin",
            "/api/public/%2e%2e/admin",
            "/api/public/.%2E/admin",
            "/api/public/./x",
            "/api/public/x%2Fy",
            "/api/public/x%5cy",
            "/api/public/..\\admin",
            "*",
            "/api/public/%61dmin",
            "/api/public/admi%6E",
            "/api/public/..;/admin",
            "/api/public/%2e%2e;x/admin",
            "/api/public/..%3b/admin",
            "/api/public/..%20/admin",
            "/api/public/..%00",
            "/api/public/%c0%ae%c0%ae/admin",
            "/api/public/%252e%252e/admin",
            "/api/public/%u002e%u002e/admin",
            "/api/public/%ef%bc%8e%ef%bc%8e/admin",
            "/api/public/%7e",
            "/api/public/%4",
        ] {
            assert_eq!(t.route("GET", path), None, "{path}");
        }
    }

    #[test]
    fn escapes_of_characters_that_need_them_are_routed() {
        let t = table(Api::Rest, &["GET /api/public/*"]);
        for path in [
            "/api/public/a%20b",
            "/api/public/q%3Fx",
            "/api/public/%23",
            "/api/public/a;b",
        ] {
            assert!(t.route("GET", path).is_some(), "{path}");
        }
    }

    #[test]
    fn a_declared_default_route_takes_what_no_other_route_does_on_an_http_api() {
        let t = table(Api::Http, &["GET /x", "$default"]);
        assert_eq!(t.route("GET", "/x").unwrap().route_key, "GET /x");
        let other = t.route("POST", "/x/y").unwrap();
        assert_eq!(
            (other.route_key.as_str(), other.resource_path.as_str()),
            ("$default", "/x/y")
        );
        assert_eq!(t.route("GET", "/x/").unwrap().route_key, "$default");
        let rest = table(Api::Rest, &["GET /x", "$default"]);
        assert_eq!(rest.route("POST", "/y"), None);
    }

    #[test]
    fn websocket_route_keys_are_not_http_routes() {
        let t = table(Api::Http, &["$connect", "GET /x"]);
        assert_eq!(t.describe(), ["GET /x"]);
        assert_eq!(t.route("GET", "/y"), None);
    }
}
