//! Route patterns: what a route rule matches, how specific it is, and its policy resource.
//!
//! A route is a method and a path pattern (`GET /api/user/{id}`, `ANY /admin/*`), an HTTP API
//! route key in the same form, or a WebSocket route (`$connect`). Path segments are literals,
//! `{param}` (one segment), or, last only, `{param+}` or `*` (one or more segments). When
//! several patterns match a request the most specific wins, decided left to right: a literal
//! beats a parameter, which beats a greedy segment; then the longer pattern; then an exact
//! method beats `ANY`. Two patterns with the same shape have no winner and are refused.

use std::cmp::Ordering;
use std::fmt;

/// Methods a route may name; `ANY` matches every method.
pub const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// The methods API Gateway invokes an authorizer with; `ANY` stands for all of them.
pub const HTTP_METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// Most segments a route pattern may have (policies are proven over them; see
/// [`crate::exactness`]).
pub const MAX_ROUTE_SEGMENTS: usize = 32;

/// One path segment of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Matches exactly this text.
    Literal(String),
    /// `{name}`: any one segment; holds the parameter's name.
    Param(String),
    /// `{name+}` or `*`: one or more segments (last only); holds the parameter's name (`*` is
    /// API Gateway's `{proxy+}`, named `proxy`).
    Greedy(String),
}

impl Segment {
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 3,
            Segment::Param(_) => 2,
            Segment::Greedy(_) => 1,
        }
    }

    /// Whether two segments match the same path segments (parameter names aside).
    fn same_shape(&self, other: &Self) -> bool {
        match (self, other) {
            (Segment::Literal(a), Segment::Literal(b)) => a == b,
            (Segment::Param(_), Segment::Param(_)) | (Segment::Greedy(_), Segment::Greedy(_)) => {
                true
            }
            _ => false,
        }
    }

    /// The parameter's name, for a `{param}` or greedy segment.
    pub fn parameter(&self) -> Option<&str> {
        match self {
            Segment::Literal(_) => None,
            Segment::Param(name) | Segment::Greedy(name) => Some(name),
        }
    }
}

/// Why a route pattern was refused; each message names the route as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// Neither `METHOD /path` nor a WebSocket route key.
    NotARoute {
        /// The route as written.
        route: String,
    },
    /// The method is not one of [`METHODS`].
    UnknownMethod {
        /// The route as written.
        route: String,
        /// The method, upper-cased.
        method: String,
    },
    /// The path does not start with `/`.
    RelativePath {
        /// The route as written.
        route: String,
    },
    /// `//` or a trailing `/`.
    EmptySegment {
        /// The route as written.
        route: String,
    },
    /// A greedy segment before the last.
    GreedyNotLast {
        /// The route as written.
        route: String,
        /// The segment.
        segment: String,
    },
    /// A segment with `{`, `}` or `*` that is not a parameter.
    MalformedSegment {
        /// The route as written.
        route: String,
        /// The segment.
        segment: String,
    },
    /// A segment with `?`, `$`, `#` or a control character.
    ForbiddenCharacter {
        /// The route as written.
        route: String,
        /// The segment.
        segment: String,
    },
    /// More than [`MAX_ROUTE_SEGMENTS`] segments.
    TooManySegments {
        /// The route as written.
        route: String,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotARoute { route } => write!(
                f,
                "route {route:?} is not `METHOD /path` (e.g. `GET /api/user/{{id}}`) or `$connect`"
            ),
            RouteError::UnknownMethod { route, method } => write!(
                f,
                "route {route:?}: {method:?} is not one of {}",
                METHODS.join(", ")
            ),
            RouteError::RelativePath { route } => {
                write!(f, "route {route:?}: the path must start with `/`")
            }
            RouteError::EmptySegment { route } => write!(f, "route {route:?}: empty path segment"),
            RouteError::GreedyNotLast { route, segment } => write!(
                f,
                "route {route:?}: `{segment}` may only be the last segment"
            ),
            RouteError::MalformedSegment { route, segment } => write!(
                f,
                "route {route:?}: segment {segment:?} is neither a literal, `{{param}}`, `{{param+}}` nor `*`"
            ),
            RouteError::ForbiddenCharacter { route, segment } => write!(
                f,
                "route {route:?}: segment {segment:?} contains `?`, `$`, `#` or a control character"
            ),
            RouteError::TooManySegments { route } => write!(
                f,
                "route {route:?} has more than {MAX_ROUTE_SEGMENTS} segments"
            ),
        }
    }
}

impl std::error::Error for RouteError {}

/// A parsed route pattern.
///
/// ```
/// use tollgate::routes::RoutePattern;
/// let p = RoutePattern::parse("GET /api/user/{id}").unwrap();
/// assert!(p.matches("GET", "api/user/42"));
/// assert!(!p.matches("POST", "api/user/42"));
/// assert!(!p.matches("GET", "api/user/42/photos"));
/// assert!(!p.matches("GET", "api/user/42/"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RoutePattern {
    text: String,
    method: String,
    segments: Vec<Segment>,
    /// A WebSocket route key such as `$connect`: matched as the ARN's method, with no path.
    websocket: bool,
}

impl RoutePattern {
    /// Parses `METHOD /path` or a WebSocket route key (`$connect`, `$default`, ...).
    pub fn parse(text: &str) -> Result<Self, RouteError> {
        let text = text.trim();
        if text.starts_with('$') && !text.contains(char::is_whitespace) {
            return Ok(RoutePattern {
                text: text.to_string(),
                method: text.to_string(),
                segments: vec![],
                websocket: true,
            });
        }
        let route = || text.to_string();
        let (method, path) = text
            .split_once(' ')
            .ok_or_else(|| RouteError::NotARoute { route: route() })?;
        let method = method.trim().to_ascii_uppercase();
        if !METHODS.contains(&method.as_str()) {
            return Err(RouteError::UnknownMethod {
                route: route(),
                method,
            });
        }
        let path = path.trim();
        if !path.starts_with('/') {
            return Err(RouteError::RelativePath { route: route() });
        }
        let mut segments = Vec::new();
        let mut parts = path[1..].split('/').peekable();
        let mut first = true;
        while let Some(part) = parts.next() {
            let is_last = parts.peek().is_none();
            if part.is_empty() {
                if first && is_last {
                    break; // the root, "/"
                }
                return Err(RouteError::EmptySegment { route: route() });
            }
            first = false;
            let segment = if part == "*" || (part.starts_with('{') && part.ends_with("+}")) {
                if !is_last {
                    return Err(RouteError::GreedyNotLast {
                        route: route(),
                        segment: part.to_string(),
                    });
                }
                let name = match part {
                    "*" => "proxy",
                    _ => part[1..part.len() - 1].trim_end_matches('+'),
                };
                Segment::Greedy(name.to_string())
            } else if part.starts_with('{') && part.ends_with('}') && part.len() > 2 {
                Segment::Param(part[1..part.len() - 1].to_string())
            } else if part.contains(['{', '}', '*']) {
                return Err(RouteError::MalformedSegment {
                    route: route(),
                    segment: part.to_string(),
                });
            } else if part.contains(['?', '$', '#']) || part.chars().any(char::is_control) {
                // `?` is IAM's one-character wildcard and `$` starts a policy variable; neither
                // may reach a policy resource, and neither can be part of a routed path.
                return Err(RouteError::ForbiddenCharacter {
                    route: route(),
                    segment: part.to_string(),
                });
            } else {
                Segment::Literal(part.to_string())
            };
            segments.push(segment);
        }
        if segments.len() > MAX_ROUTE_SEGMENTS {
            return Err(RouteError::TooManySegments { route: route() });
        }
        Ok(RoutePattern {
            text: format!("{method} {path}"),
            method,
            segments,
            websocket: false,
        })
    }

    /// The route as written (method upper-cased), e.g. `GET /api/user/{id}`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The method (upper case, `ANY` included), or the WebSocket route key.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The methods this pattern covers: `ANY` spelled out as [`HTTP_METHODS`], none for a
    /// WebSocket route key.
    pub fn methods(&self) -> Vec<&str> {
        if self.websocket {
            vec![]
        } else if self.method == "ANY" {
            HTTP_METHODS.to_vec()
        } else {
            vec![self.method.as_str()]
        }
    }

    /// The path's segments (empty for the root and for a route key).
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Whether this is a WebSocket route key such as `$connect`.
    pub fn is_route_key(&self) -> bool {
        self.websocket
    }

    /// Whether this pattern matches a concrete request with `method` and `path` (the method
    /// ARN's resource part, without a leading slash). A path with an empty segment (`a//b`,
    /// a trailing `/`) matches no pattern: API Gateway never routes one to a resource by that
    /// name, and reading it loosely would let `/admin/` fall to a catch-all rule.
    pub fn matches(&self, method: &str, path: &str) -> bool {
        if self.websocket {
            return method == self.method;
        }
        if self.method != "ANY" && self.method != method {
            return false;
        }
        let parts: Vec<&str> = if path.is_empty() {
            vec![]
        } else {
            path.split('/').collect()
        };
        if parts.iter().any(|p| p.is_empty()) {
            return false;
        }
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Greedy(_) => return i < parts.len(),
                Segment::Param(_) if i < parts.len() => i += 1,
                Segment::Literal(text) if i < parts.len() && parts[i] == text => i += 1,
                _ => return false,
            }
        }
        i == parts.len()
    }

    /// Whether this pattern matches every request of a route as API Gateway names it: a
    /// method and a resource template (`/pets/{id}`, `/files/{path+}`) from the event. A
    /// template's `{param}` is matched only by a `{param}` or a greedy segment here, and its
    /// `{param+}` only by a greedy segment, so that the rule found holds for all of the route's
    /// requests, whatever their concrete path.
    pub fn covers_route(&self, method: &str, template: &RoutePattern) -> bool {
        if self.websocket || template.websocket {
            return self.websocket && template.websocket && self.method == template.method;
        }
        if self.method != "ANY" && self.method != method {
            return false;
        }
        let parts = &template.segments;
        let mut i = 0;
        for segment in &self.segments {
            match (segment, parts.get(i)) {
                (Segment::Greedy(_), Some(_)) => return true,
                (Segment::Param(_), Some(Segment::Literal(_) | Segment::Param(_))) => i += 1,
                (Segment::Literal(a), Some(Segment::Literal(b))) if a == b => i += 1,
                _ => return false,
            }
        }
        i == parts.len()
    }

    /// Orders patterns from most to least specific (see the module comment).
    pub fn specificity(&self, other: &Self) -> Ordering {
        for (a, b) in self.segments.iter().zip(&other.segments) {
            match b.rank().cmp(&a.rank()) {
                Ordering::Equal => continue,
                unequal => return unequal,
            }
        }
        other
            .segments
            .len()
            .cmp(&self.segments.len())
            .then_with(|| (self.method == "ANY").cmp(&(other.method == "ANY")))
    }

    /// Whether two patterns match exactly the same requests (same method and shape), so that
    /// neither could win over the other.
    pub fn same_shape(&self, other: &Self) -> bool {
        self.websocket == other.websocket
            && self.method == other.method
            && self.segments.len() == other.segments.len()
            && self
                .segments
                .iter()
                .zip(&other.segments)
                .all(|(a, b)| a.same_shape(b))
    }

    /// The same path for any method (`ANY /pets/{id}` for `GET /pets/{id}`): a REST resource,
    /// which is found before its method. A route key stays itself.
    pub fn for_any_method(&self) -> RoutePattern {
        if self.websocket {
            return self.clone();
        }
        let path = self.text.split_once(' ').map_or("/", |(_, path)| path);
        RoutePattern {
            text: format!("ANY {path}"),
            method: "ANY".to_string(),
            segments: self.segments.clone(),
            websocket: false,
        }
    }

    /// The path as API Gateway names the resource: each segment as the route writes it
    /// (`{param}`, `{param+}`), `*` as `{proxy+}` (`/files/{proxy+}`); `/` for the root and for
    /// a route key. Written from the route's own text, not from the parsed segments: a greedy
    /// segment's name drops its trailing `+`s (`{a++}` is named `a`), and its template must
    /// still be `{a++}`, or two routes written differently would name one REST resource.
    pub fn resource_template(&self) -> String {
        let path = self.text.split_once(' ').map_or("/", |(_, path)| path);
        let mut template = String::new();
        for segment in path.split('/').filter(|segment| !segment.is_empty()) {
            template.push('/');
            template.push_str(if segment == "*" { "{proxy+}" } else { segment });
        }
        if template.is_empty() {
            template.push('/');
        }
        template
    }
}

impl fmt::Display for RoutePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// IAM's resource matching as API Gateway applies it to a cached policy: `*` matches any run
/// of characters (including `/`), `?` any one character, everything else itself.
pub fn iam_glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        // A `*` in the pattern is always the wildcard, even against a literal `*` in the text.
        if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> RoutePattern {
        RoutePattern::parse(text).unwrap()
    }

    #[test]
    fn literal_beats_parameter_beats_greedy() {
        let mut patterns = [p("GET /a/*"), p("GET /a/{id}"), p("GET /a/b")];
        patterns.sort_by(|x, y| x.specificity(y));
        let order: Vec<&str> = patterns.iter().map(RoutePattern::as_str).collect();
        assert_eq!(order, vec!["GET /a/b", "GET /a/{id}", "GET /a/*"]);
    }

    #[test]
    fn exact_method_beats_any() {
        assert_eq!(p("GET /a").specificity(&p("ANY /a")), Ordering::Less);
    }

    #[test]
    fn greedy_needs_at_least_one_segment() {
        assert!(p("GET /files/{path+}").matches("GET", "files/a/b"));
        assert!(!p("GET /files/{path+}").matches("GET", "files"));
    }

    #[test]
    fn root_matches_only_the_root() {
        assert!(p("GET /").matches("GET", ""));
        assert!(!p("GET /").matches("GET", "x"));
    }

    #[test]
    fn websocket_route_matches_the_route_key() {
        assert!(p("$connect").matches("$connect", ""));
        assert!(p("$connect").is_route_key());
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(
            RoutePattern::parse("FETCH /x")
                .unwrap_err()
                .to_string()
                .contains("\"FETCH\" is not one of")
        );
        assert!(
            RoutePattern::parse("GET x")
                .unwrap_err()
                .to_string()
                .contains("must start with `/`")
        );
        assert!(
            RoutePattern::parse("GET /a/*/b")
                .unwrap_err()
                .to_string()
                .contains("may only be the last segment")
        );
        assert!(
            RoutePattern::parse("GET /a//b")
                .unwrap_err()
                .to_string()
                .contains("empty path segment")
        );
        assert!(
            RoutePattern::parse("GET /a{b}")
                .unwrap_err()
                .to_string()
                .contains("is neither a literal")
        );
    }

    #[test]
    fn parameters_keep_their_names_and_star_is_named_proxy() {
        let names = |text: &str| -> Vec<Option<String>> {
            p(text)
                .segments()
                .iter()
                .map(|s| s.parameter().map(str::to_string))
                .collect()
        };
        assert_eq!(
            names("GET /pets/{id}/files/{path+}"),
            [None, Some("id".into()), None, Some("path".into())]
        );
        assert_eq!(names("ANY /admin/*"), [None, Some("proxy".into())]);
    }

    #[test]
    fn the_resource_template_writes_star_as_proxy() {
        assert_eq!(p("ANY /admin/*").resource_template(), "/admin/{proxy+}");
        assert_eq!(
            p("GET /pets/{id}/files/{path+}").resource_template(),
            "/pets/{id}/files/{path+}"
        );
        assert_eq!(p("GET /").resource_template(), "/");
    }

    #[test]
    fn the_resource_template_keeps_a_greedy_segment_as_written() {
        // `{a++}` is named `a`, but its resource is `/x/{a++}`, not `/x/{a+}`.
        let pattern = p("GET /x/{a++}");
        assert_eq!(pattern.segments()[1].parameter(), Some("a"));
        assert_eq!(pattern.resource_template(), "/x/{a++}");
        assert_ne!(
            pattern.resource_template(),
            p("POST /x/{a+}").resource_template()
        );
        assert_eq!(p("$connect").resource_template(), "/");
    }

    #[test]
    fn the_any_method_pattern_has_the_same_path() {
        let any = p("GET /pets/{id}").for_any_method();
        assert_eq!(any.as_str(), "ANY /pets/{id}");
        assert!(any.matches("DELETE", "pets/7"));
        assert!(any.same_shape(&p("ANY /pets/{x}")));
    }

    #[test]
    fn same_shape_ignores_parameter_names() {
        assert!(p("GET /a/{x}").same_shape(&p("GET /a/{y}")));
        assert!(!p("GET /a/{x}").same_shape(&p("POST /a/{y}")));
    }

    #[test]
    fn iam_star_spans_slashes() {
        assert!(iam_glob_matches(
            "arn:x/prod/GET/a/*",
            "arn:x/prod/GET/a/1/2"
        ));
        assert!(!iam_glob_matches(
            "arn:x/prod/GET/a/*",
            "arn:x/prod/POST/a/1"
        ));
        assert!(iam_glob_matches("arn:x/prod/*", "arn:x/prod/$connect"));
    }

    #[test]
    fn iam_star_is_a_wildcard_even_against_a_literal_star_in_the_request() {
        // Found by the cache property test: the matcher took the pattern's `*` as a literal
        // when the request's path had a `*` there, and so missed a Deny.
        assert!(iam_glob_matches("p/GET//*", "p/GET//*/*/?"));
        assert!(iam_glob_matches("p/GET/*/x", "p/GET/*/y/x"));
        assert!(!iam_glob_matches("p/GET/*/x", "p/GET/*/y"));
    }
}
