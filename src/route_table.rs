//! API Gateway's routing over a table of routes: which route a request reaches, if any.
//!
//! A REST API picks the most specific resource whose path matches (a literal beats
//! `{param}`, which beats `{proxy+}`), then the method on it: the exact one, else `ANY`. A
//! request that no resource and method take is answered by API Gateway itself (403 `Missing
//! Authentication Token`). An HTTP API picks the most specific route whose method and path
//! match (an exact method beats `ANY` on the same path); none goes to the `$default` route if
//! there is one, else API Gateway answers 404. Either way a request with no route never reaches
//! the authorizer or its cache.
//!
//! One table serves two readers: `serve`, which routes real requests by it, and the exactness
//! prover, which decides policies over the requests it routes (when the route rules are
//! declared to be the whole table). The prover walks the same [`RouteTable::resources`] and
//! [`RouteTable::rest_rule`] this module routes by, and a test holds the two to the same answers.

use crate::routes::{HTTP_METHODS, RoutePattern};

/// Which API Gateway routes requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Routing {
    /// A REST API: the resource first, then its method.
    Rest,
    /// An HTTP API: the route by method and path together, then `$default`.
    Http,
}

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routed {
    /// To this route (its index in the patterns the table was built from).
    Route(usize),
    /// A path with an empty segment (`/a//b`, a trailing `/`): tollgate takes it for no route
    /// and refuses it, whatever API Gateway does with it.
    Refused,
    /// Nowhere: API Gateway answers the request itself, before any authorizer.
    NotRouted,
}

/// A REST resource: a path, and the routes on it by method.
#[derive(Clone, Debug)]
pub struct Resource {
    /// The path for any method (`ANY /pets/{id}`).
    pub path: RoutePattern,
    /// The resource template as API Gateway names it (`/pets/{id}`).
    pub template: String,
    /// Per method of [`HTTP_METHODS`], the route that answers it: the exact method, else `ANY`.
    pub by_method: [Option<usize>; 7],
}

/// The routes of one API, ready to route requests.
///
/// ```
/// use tollgate::route_table::{RouteTable, Routed, Routing};
/// use tollgate::routes::RoutePattern;
/// let routes: Vec<RoutePattern> = ["GET /pets/{id}", "POST /pets/new"]
///     .iter().map(|r| RoutePattern::parse(r).unwrap()).collect();
/// let rest = RouteTable::new(Routing::Rest, &routes);
/// assert_eq!(rest.route("GET", "pets/7"), Routed::Route(0));
/// // The resource /pets/new has no GET: REST does not fall back to /pets/{id}.
/// assert_eq!(rest.route("GET", "pets/new"), Routed::NotRouted);
/// let http = RouteTable::new(Routing::Http, &routes);
/// assert_eq!(http.route("GET", "pets/new"), Routed::Route(0));
/// ```
#[derive(Clone, Debug)]
pub struct RouteTable {
    routing: Routing,
    patterns: Vec<RoutePattern>,
    /// Path routes' indices, most specific first.
    by_specificity: Vec<usize>,
    /// REST resources, most specific first.
    resources: Vec<Resource>,
    /// An HTTP API's `$default` route.
    default: Option<usize>,
}

impl RouteTable {
    /// The table of `patterns` (route keys such as `$connect` are matched by name; `$default`
    /// is an HTTP API's catch-all).
    pub fn new(routing: Routing, patterns: &[RoutePattern]) -> Self {
        let mut by_specificity: Vec<usize> = (0..patterns.len())
            .filter(|i| !patterns[*i].is_route_key())
            .collect();
        by_specificity.sort_by(|a, b| patterns[*a].specificity(&patterns[*b]));
        let templates: Vec<String> = patterns
            .iter()
            .map(RoutePattern::resource_template)
            .collect();
        let mut resources: Vec<Resource> = Vec::new();
        for &i in &by_specificity {
            let template = &templates[i];
            if resources.iter().any(|r| r.template == *template) {
                continue;
            }
            let on_resource = |method: &str| {
                by_specificity
                    .iter()
                    .copied()
                    .find(|r| patterns[*r].method() == method && templates[*r] == *template)
            };
            let mut by_method = [None; 7];
            for (m, method) in HTTP_METHODS.iter().enumerate() {
                by_method[m] = on_resource(method).or_else(|| on_resource("ANY"));
            }
            resources.push(Resource {
                path: patterns[i].for_any_method(),
                template: template.clone(),
                by_method,
            });
        }
        resources.sort_by(|a, b| a.path.specificity(&b.path));
        let default = (routing == Routing::Http)
            .then(|| {
                patterns
                    .iter()
                    .position(|p| p.is_route_key() && p.method() == "$default")
            })
            .flatten();
        RouteTable {
            routing,
            patterns: patterns.to_vec(),
            by_specificity,
            resources,
            default,
        }
    }

    /// Which API routes by this table.
    pub fn routing(&self) -> Routing {
        self.routing
    }

    /// Routes a request: `method` as invoked (or a WebSocket route key), `path` the method
    /// ARN's resource part (no leading `/`; the root is empty).
    pub fn route(&self, method: &str, path: &str) -> Routed {
        if method.starts_with('$') {
            return match self
                .patterns
                .iter()
                .position(|p| p.is_route_key() && p.method() == method)
            {
                Some(i) if Some(i) != self.default => Routed::Route(i),
                _ => Routed::NotRouted,
            };
        }
        if !path.is_empty() && path.split('/').any(str::is_empty) {
            return Routed::Refused;
        }
        let chosen = match self.routing {
            Routing::Rest => self
                .resources
                .iter()
                .find(|r| r.path.matches(method, path))
                .and_then(|r| {
                    let m = HTTP_METHODS.iter().position(|known| *known == method)?;
                    r.by_method[m]
                }),
            Routing::Http => self
                .by_specificity
                .iter()
                .copied()
                .find(|i| self.patterns[*i].matches(method, path))
                .or(self.default),
        };
        chosen.map_or(Routed::NotRouted, Routed::Route)
    }

    /// The REST resources, most specific first.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// An HTTP API's `$default` route, if the table has one.
    pub fn default_route(&self) -> Option<usize> {
        self.default
    }

    /// The patterns the table was built from, in their own order.
    pub fn patterns(&self) -> &[RoutePattern] {
        &self.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routing: Routing, routes: &[&str]) -> RouteTable {
        let patterns: Vec<RoutePattern> = routes
            .iter()
            .map(|r| RoutePattern::parse(r).unwrap())
            .collect();
        RouteTable::new(routing, &patterns)
    }

    #[test]
    fn rest_picks_the_literal_resource_over_a_parameter() {
        let t = table(Routing::Rest, &["GET /a/{id}", "GET /a/b"]);
        assert_eq!(t.route("GET", "a/b"), Routed::Route(1));
        assert_eq!(t.route("GET", "a/c"), Routed::Route(0));
    }

    #[test]
    fn rest_exact_method_beats_any_on_one_resource() {
        let t = table(Routing::Rest, &["ANY /a", "GET /a"]);
        assert_eq!(t.route("GET", "a"), Routed::Route(1));
        assert_eq!(t.route("DELETE", "a"), Routed::Route(0));
    }

    #[test]
    fn rest_greedy_resource_takes_deeper_paths_but_not_its_own_root() {
        let t = table(Routing::Rest, &["GET /f/{proxy+}", "GET /f/x/y"]);
        assert_eq!(t.route("GET", "f/x/y"), Routed::Route(1));
        assert_eq!(t.route("GET", "f/x/z/w"), Routed::Route(0));
        assert_eq!(t.route("GET", "f"), Routed::NotRouted);
    }

    #[test]
    fn http_without_a_match_goes_to_default_or_nowhere() {
        let with = table(Routing::Http, &["GET /a", "$default"]);
        assert_eq!(with.route("POST", "a"), Routed::Route(1));
        let without = table(Routing::Http, &["GET /a"]);
        assert_eq!(without.route("POST", "a"), Routed::NotRouted);
    }

    #[test]
    fn a_path_with_an_empty_segment_is_refused_not_routed() {
        let t = table(Routing::Http, &["GET /a/{id}", "$default"]);
        assert_eq!(t.route("GET", "a/"), Routed::Refused);
        assert_eq!(t.route("GET", "a//b"), Routed::Refused);
    }

    #[test]
    fn route_keys_are_routed_by_name_and_default_is_not_a_websocket_key_over_http() {
        let t = table(Routing::Rest, &["$connect", "$default"]);
        assert_eq!(t.route("$connect", ""), Routed::Route(0));
        assert_eq!(t.route("$default", ""), Routed::Route(1));
        let h = table(Routing::Http, &["$connect", "$default"]);
        assert_eq!(h.route("$default", ""), Routed::NotRouted);
    }
}
