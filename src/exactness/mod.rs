//! Decides, over the pattern languages, whether an IAM policy allows exactly what the route
//! rules allow: the proof behind "a cached policy never allows what a fresh decision would not".
//!
//! API Gateway evaluates a cached policy against every later request with the same cache key.
//! IAM matches a resource as a glob (`*` any run of characters, `/` included), so sampling one
//! request per rule misses overlaps. This module decides instead. Every request to a stage is a
//! word: its method and the path's segments (the text after `METHOD/`, split on `/`; the root
//! is one empty segment), or a WebSocket route key. The route rules and the policy resources
//! tollgate emits are both segment-aligned: a rule is a sequence of literal segments, `{param}`
//! (one non-empty segment) and a last `{param+}` (one or more); a resource is a sequence of
//! literal segments and `*`, which, standing between two `/`, matches a whole run of one or
//! more segments. Each is thus a small automaton over segments (`resource.rs`), and a segment
//! matters only through which literal it equals, if any, and whether it is empty. The
//! search (`search.rs`) explores the product of all those automata breadth first, one symbol class per
//! step (each literal some live automaton is waiting for, the empty segment, and any other
//! value), until no new state appears. The state space is finite, so the search ends, and
//! every word of the language lands in a state that was visited: a property that holds in every
//! visited state holds for every request. When it does not hold, the search returns the
//! shortest concrete request that breaks it.
//!
//! Which words count is the prover's [`Domain`]:
//!
//! - *every request*: each word a path could be, decided as tollgate decides a concrete path
//!   (the most specific matching rule; a path with an empty segment matches none);
//! - *the requests API Gateway routes*, when the rules are declared to be the API's whole route
//!   table: a word API Gateway would answer itself (`Missing Authentication Token`, `Not
//!   Found`) never reaches a cached policy, so it is left out, and the others are decided by
//!   the route API Gateway picks ([`crate::route_table`]: REST's resource then method, an HTTP
//!   API's route then `$default`). A path with an empty segment still counts, and is refused.
//!
//! Every exploration spends from an explicit [`Budget`]: past it a policy is unproven, and
//! unproven policies are never sent as exact or safe.

mod budget;
mod candidates;
mod resource;
mod rule_set;
mod search;

pub use budget::{BUILD_BUDGET, Budget, MAX_STATES};
pub use candidates::deny_candidates;
pub use resource::{MAX_SEGMENTS, Resource, ResourceError, Unprovable, parse_resource};
pub use rule_set::RuleSet;

pub use crate::routes::HTTP_METHODS;

use crate::route_table::{RouteTable, Routing};
use crate::routes::RoutePattern;

use resource::{Atom, Matcher, render, rule_matchers};
use search::{Explored, Fresh, Verdicts};

/// Which requests a policy must be exact over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Domain {
    /// Every request a path could be.
    EveryRequest,
    /// The requests API Gateway routes to a route of the table, by its own routing.
    RoutedBy(Routing),
}

/// A request on which a policy and the fresh decision disagree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disagreement {
    /// The resource suffix of the request (`GET/admin/users`), as it appears in a method ARN.
    pub request: String,
    /// `true`: the policy allows what the rules refuse (an over-allow); `false`: the reverse.
    pub policy_allows: bool,
}

/// What the prover found out about a set of candidate Deny resources.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CandidateReport {
    /// Candidates that match some request the Allow resources cover and the rules refuse.
    pub useful: Vec<bool>,
    /// Candidates that match some request the Allow resources cover and the rules permit.
    pub harmful: Vec<bool>,
}

/// A policy as the prover reads it: Allow resources, less Deny resources.
#[derive(Clone, Copy, Debug)]
pub struct Policy<'a> {
    /// The Allow statement's resources.
    pub allow: &'a [Resource],
    /// The Deny statement's resources (an explicit Deny wins).
    pub deny: &'a [Resource],
}

/// A REST resource as the search walks it: its path's atoms and its route per method.
#[derive(Clone, Debug)]
struct RestResource {
    atoms: Vec<Atom>,
    /// Per method of [`HTTP_METHODS`], the rule that answers it.
    by_method: [Option<usize>; 7],
}

/// How a word's fresh decision is found.
#[derive(Clone, Debug)]
enum Routes {
    /// Every word counts; the most specific matching rule decides.
    Every,
    /// REST routing: the most specific resource (most specific first), then its method.
    Rest {
        resources: Vec<RestResource>,
        /// The resource `/`, if the table has one.
        root: Option<usize>,
    },
    /// HTTP API routing: the most specific rule, then `$default`.
    Http { default: Option<usize> },
}

/// The route rules of a stage, most specific first, ready to be compared with policies.
#[derive(Clone, Debug)]
pub struct Prover {
    /// Per rule, its matchers.
    rules: Vec<Vec<Matcher>>,
    /// Per rule, the resource suffixes that cover it.
    resources: Vec<Vec<String>>,
    /// Route keys that are words of their own (WebSocket routes).
    route_keys: Vec<String>,
    /// Per rule, whether it is a path rule for the root `/`.
    root_rules: Vec<bool>,
    routes: Routes,
}

impl Prover {
    /// A prover over every request, for rules sorted from most to least specific (as
    /// [`crate::access`] keeps them).
    pub fn new(rules: &[RoutePattern]) -> Self {
        Prover::build(rules, Routes::Every)
    }

    /// A prover over the requests API Gateway routes by `table`, whose patterns are the rules
    /// (sorted from most to least specific).
    pub fn routed(table: &RouteTable) -> Self {
        let rules = table.patterns();
        let routes = match table.routing() {
            Routing::Rest => {
                let resources: Vec<RestResource> = table
                    .resources()
                    .iter()
                    .map(|r| RestResource {
                        atoms: atoms(&r.path),
                        by_method: r.by_method,
                    })
                    .collect();
                let root = resources.iter().position(|r| r.atoms.is_empty());
                Routes::Rest { resources, root }
            }
            Routing::Http => Routes::Http {
                default: table.default_route(),
            },
        };
        Prover::build(rules, routes)
    }

    fn build(rules: &[RoutePattern], routes: Routes) -> Self {
        let default = match &routes {
            Routes::Http { default } => *default,
            _ => None,
        };
        Prover {
            rules: rules.iter().map(rule_matchers).collect(),
            resources: rules
                .iter()
                .enumerate()
                .map(|(i, rule)| match default {
                    // The catch-all's requests are any path: only `*` covers them.
                    Some(d) if d == i => vec!["*".to_string()],
                    _ => Prover::resources(rule),
                })
                .collect(),
            route_keys: rules
                .iter()
                .enumerate()
                .filter(|(i, r)| r.is_route_key() && default != Some(*i))
                .map(|(_, r)| r.method().to_string())
                .collect(),
            root_rules: rules
                .iter()
                .map(|r| !r.is_route_key() && r.segments().is_empty())
                .collect(),
            routes,
        }
    }

    /// The resource suffixes that cover a rule: one per method it stands for.
    pub fn resources(rule: &RoutePattern) -> Vec<String> {
        rule_matchers(rule).iter().map(render).collect()
    }

    /// The resource suffixes that cover rule `index` in this prover's domain (an HTTP API's
    /// `$default` route is covered by `*` alone).
    pub fn rule_resources(&self, index: usize) -> &[String] {
        self.resources.get(index).map_or(&[], Vec::as_slice)
    }

    /// The first request, shortest first, on which `policy` and the fresh decision under
    /// `permitted` disagree; `None` proves they agree on every request of the domain. With
    /// `only_over_allow`, disagreements where the policy refuses a permitted request are
    /// ignored. A proof the budget does not cover is taken as the worst: an over-allow.
    pub fn disagreement(
        &self,
        permitted: &RuleSet,
        policy: Policy<'_>,
        only_over_allow: bool,
        budget: &mut Budget,
    ) -> Option<Disagreement> {
        let mut found = None;
        let explored = self.explore(policy, &[], budget, |word, v, _| {
            let allows = v.allowed && !v.denied;
            let fresh = v.permits(permitted);
            if v.counts() && allows != fresh && (allows || !only_over_allow) {
                found = Some(Disagreement {
                    request: word.to_string(),
                    policy_allows: allows,
                });
                return false;
            }
            true
        });
        if explored == Explored::OverBudget {
            // Not proven: taken as the worst, an over-allow (the empty request names none).
            return Some(Disagreement {
                request: String::new(),
                policy_allows: true,
            });
        }
        found
    }

    /// For each Allow resource, whether it covers a request that `policy` allows and the rules
    /// under `permitted` refuse: the resources to drop to make the policy safe.
    pub fn over_allowing(
        &self,
        permitted: &RuleSet,
        policy: Policy<'_>,
        budget: &mut Budget,
    ) -> Vec<bool> {
        let mut implicated = vec![false; policy.allow.len()];
        let explored = self.explore(policy, policy.allow, budget, |_, v, accepted| {
            if v.counts() && v.allowed && !v.denied && !v.permits(permitted) {
                for &a in accepted {
                    implicated[a] = true;
                }
            }
            true
        });
        if explored == Explored::OverBudget {
            implicated.fill(true);
        }
        implicated
    }

    /// For each candidate Deny resource, whether it would refuse a request that `allow` covers
    /// and the rules refuse under `refused_unless` (useful), and whether it would refuse one
    /// that `allow` covers and the rules permit under `kept` (harmful). For a stage-wide policy
    /// the two are the token's permitted rules; for one route's policy, `kept` is that route
    /// alone, so that other permitted routes may be refused (an over-deny) but never its own.
    pub fn judge_candidates(
        &self,
        kept: &RuleSet,
        refused_unless: &RuleSet,
        allow: &[Resource],
        candidates: &[Resource],
        budget: &mut Budget,
    ) -> CandidateReport {
        let mut report = CandidateReport {
            useful: vec![false; candidates.len()],
            harmful: vec![false; candidates.len()],
        };
        let policy = Policy { allow, deny: &[] };
        let explored = self.explore(policy, candidates, budget, |_, v, accepted| {
            if v.counts() && v.allowed {
                let harm = v.permits(kept);
                let use_ = !v.permits(refused_unless);
                for &c in accepted {
                    report.harmful[c] |= harm;
                    report.useful[c] |= use_;
                }
            }
            true
        });
        if explored == Explored::OverBudget {
            // Unproven candidates are never chosen.
            report.harmful.fill(true);
        }
        report
    }

    /// The fresh decision for a route-key word.
    fn route_key_fresh(&self, key: &str) -> Fresh {
        let rule = self
            .rules
            .iter()
            .position(|ms| ms.iter().any(|m| *m == Matcher::RouteKey(key.to_string())));
        match (rule, &self.routes) {
            (Some(i), _) if self.route_keys.iter().any(|k| k == key) => Fresh::Route(i),
            (_, Routes::Every) => Fresh::Refused,
            _ => Fresh::NotRouted,
        }
    }

    /// The fresh decision for a path word of `method` (an index into [`HTTP_METHODS`]), from
    /// what the search knows at its end: whether it is the root, whether it has an empty
    /// segment, the most specific rule and REST resource that accept it.
    fn path_fresh(
        &self,
        method: usize,
        at_root: bool,
        has_empty_segment: bool,
        best_rule: Option<usize>,
        best_resource: Option<usize>,
    ) -> Fresh {
        let name = HTTP_METHODS[method];
        let root_rule = || {
            (0..self.rules.len()).find(|i| {
                self.root_rules[*i] && self.rules[*i].iter().any(|m| m.method() == Some(name))
            })
        };
        let routed = |rule: Option<usize>| rule.map_or(Fresh::NotRouted, Fresh::Route);
        match &self.routes {
            Routes::Every if at_root => root_rule().map_or(Fresh::Refused, Fresh::Route),
            _ if at_root => match &self.routes {
                Routes::Rest { resources, root } => {
                    routed(root.and_then(|r| resources[r].by_method[method]))
                }
                Routes::Http { default } => routed(root_rule().or(*default)),
                Routes::Every => Fresh::Refused,
            },
            _ if has_empty_segment => Fresh::Refused,
            Routes::Every => best_rule.map_or(Fresh::Refused, Fresh::Route),
            Routes::Rest { resources, .. } => {
                routed(best_resource.and_then(|r| resources[r].by_method[method]))
            }
            Routes::Http { default } => routed(best_rule.or(*default)),
        }
    }
}

/// A pattern's path as atoms (a rule's `{param}` is one non-empty segment).
fn atoms(pattern: &RoutePattern) -> Vec<Atom> {
    match rule_matchers(pattern).into_iter().next() {
        Some(Matcher::Path { atoms, .. }) => atoms,
        _ => Vec::new(),
    }
}

impl Verdicts {
    /// Whether the word counts: API Gateway routes it (or every word counts).
    fn counts(&self) -> bool {
        self.fresh != Fresh::NotRouted
    }

    /// Whether a fresh decision permits the word to a token that may call `permitted`.
    fn permits(&self, permitted: &RuleSet) -> bool {
        matches!(self.fresh, Fresh::Route(i) if permitted.contains(i))
    }
}
