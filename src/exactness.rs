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
//! more segments. Each is thus a small automaton over segments, and a segment matters only
//! through which literal it equals, if any, and whether it is empty. [`Prover`] explores the
//! product of all those automata breadth first, one symbol class per step (each literal some
//! live automaton is waiting for, the empty segment, and any other value), until no new state
//! appears. The state space is finite, so the search ends, and every word of the language lands
//! in a state that was visited: a property that holds in every visited state holds for every
//! request. When it does not hold, the search returns the shortest concrete request that breaks
//! it.
//!
//! Fresh decisions are modelled as tollgate makes them for a concrete path: the most specific
//! matching rule decides; a path with an empty segment (`/a//b`, `/a/`) matches no rule; methods
//! are API Gateway's seven. Resource texts are parsed back from the exact strings put into the
//! policy, so what is proven is what is sent.

use std::collections::{HashSet, VecDeque};

use crate::routes::{RoutePattern, Segment};

pub use crate::routes::HTTP_METHODS;

/// Longest pattern the prover accepts, in segments (its states are bit sets in a `u64`).
pub const MAX_SEGMENTS: usize = 60;

/// One segment-level step of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Atom {
    /// Exactly this segment (the empty text is the empty segment).
    Lit(String),
    /// One non-empty segment (a rule's `{param}`).
    One,
    /// One or more segments of any content (a resource's `*`, a rule's `{param+}`).
    Plus,
}

/// A pattern over one method's words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Matcher {
    /// A method and the atoms of its path.
    Path { method: String, atoms: Vec<Atom> },
    /// A WebSocket route key such as `$connect` (no path).
    RouteKey(String),
    /// Every word of the stage (the resource `*`).
    Everything,
}

impl Matcher {
    fn method(&self) -> Option<&str> {
        match self {
            Matcher::Path { method, .. } => Some(method),
            _ => None,
        }
    }
}

/// The rule patterns' matchers, one per method a rule covers.
fn rule_matchers(rule: &RoutePattern) -> Vec<Matcher> {
    if rule.is_route_key() {
        return vec![Matcher::RouteKey(rule.method().to_string())];
    }
    let atoms: Vec<Atom> = rule
        .segments()
        .iter()
        .map(|s| match s {
            Segment::Literal(text) => Atom::Lit(text.clone()),
            Segment::Param(_) => Atom::One,
            Segment::Greedy(_) => Atom::Plus,
        })
        .collect();
    rule.methods()
        .into_iter()
        .map(|method| Matcher::Path {
            method: method.to_string(),
            atoms: atoms.clone(),
        })
        .collect()
}

/// A policy resource the prover does not read: the resource (tollgate's own text, rendered
/// from rule patterns) and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceError {
    /// The resource suffix refused.
    pub resource: String,
    /// Why.
    pub problem: Unprovable,
}

/// Why a resource is outside the forms the prover reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unprovable {
    /// It holds IAM's `?` wildcard.
    QuestionMark,
    /// It is neither `*`, a route key nor `METHOD/PATH`.
    NoMethodAndPath,
    /// Its method is not a literal one.
    NoLiteralMethod,
    /// A `*` sits inside a segment.
    StarInsideSegment,
    /// It has more segments than the prover explores.
    TooManySegments,
}

impl ResourceError {
    fn new(resource: &str, problem: Unprovable) -> Self {
        ResourceError {
            resource: resource.to_string(),
            problem,
        }
    }
}

impl std::fmt::Display for ResourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let resource = &self.resource;
        match self.problem {
            Unprovable::QuestionMark => {
                write!(f, "resource {resource:?} contains IAM's `?` wildcard")
            }
            Unprovable::NoMethodAndPath => write!(
                f,
                "resource {resource:?} is neither `*`, a route key nor METHOD/PATH"
            ),
            Unprovable::NoLiteralMethod => {
                write!(
                    f,
                    "resource {resource:?} does not start with a literal method"
                )
            }
            Unprovable::StarInsideSegment => {
                write!(f, "resource {resource:?} has a `*` inside a segment")
            }
            Unprovable::TooManySegments => write!(
                f,
                "resource {resource:?} has more than {MAX_SEGMENTS} segments"
            ),
        }
    }
}

impl std::error::Error for ResourceError {}

/// Parses a resource suffix (the text after `arn:...:API/STAGE/`) exactly as IAM reads it.
/// Only the forms tollgate emits are accepted: `*`, a route key, or a literal method followed
/// by segments that are literals or a lone `*`. Anything else (a `?`, a `*` inside a segment or
/// in the method) is refused, so that no resource escapes the proof.
pub fn parse_resource(suffix: &str) -> Result<Resource, ResourceError> {
    if suffix == "*" {
        return Ok(Resource(Matcher::Everything));
    }
    if suffix.contains('?') {
        return Err(ResourceError::new(suffix, Unprovable::QuestionMark));
    }
    let Some((method, path)) = suffix.split_once('/') else {
        if suffix.starts_with('$') && !suffix.contains('*') {
            return Ok(Resource(Matcher::RouteKey(suffix.to_string())));
        }
        return Err(ResourceError::new(suffix, Unprovable::NoMethodAndPath));
    };
    if !HTTP_METHODS.contains(&method) {
        return Err(ResourceError::new(suffix, Unprovable::NoLiteralMethod));
    }
    let mut atoms = Vec::new();
    for segment in path.split('/') {
        if segment == "*" {
            atoms.push(Atom::Plus);
        } else if segment.contains('*') {
            return Err(ResourceError::new(suffix, Unprovable::StarInsideSegment));
        } else {
            atoms.push(Atom::Lit(segment.to_string()));
        }
    }
    if atoms.len() > MAX_SEGMENTS {
        return Err(ResourceError::new(suffix, Unprovable::TooManySegments));
    }
    Ok(Resource(Matcher::Path {
        method: method.to_string(),
        atoms,
    }))
}

/// A parsed policy resource, ready for the prover.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Resource(Matcher);

impl Resource {
    /// Parses a resource suffix; see [`parse_resource`].
    pub fn parse(suffix: &str) -> Result<Self, ResourceError> {
        parse_resource(suffix)
    }

    /// The resource `*`: every request of the stage.
    pub fn everything() -> Self {
        Resource(Matcher::Everything)
    }
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

/// The route rules of a stage, most specific first, ready to be compared with policies.
#[derive(Clone, Debug)]
pub struct Prover {
    /// Per rule, its matchers.
    rules: Vec<Vec<Matcher>>,
    /// Route keys of WebSocket rules.
    route_keys: Vec<String>,
    has_root_rule: Vec<bool>,
}

/// A pattern in the product, with its role.
struct Slot<'a> {
    atoms: &'a [Atom],
    role: Role,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Rule(usize),
    Allow,
    Deny,
    Candidate(usize),
}

/// A segment class: one literal, the empty segment, or a value equal to no live literal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Sym<'a> {
    Lit(&'a str),
    Empty,
    Other,
}

fn atom_accepts(atom: &Atom, sym: Sym<'_>) -> bool {
    match (atom, sym) {
        (Atom::Lit(text), Sym::Lit(s)) => text == s,
        (Atom::Lit(text), Sym::Empty) => text.is_empty(),
        (Atom::Lit(_), Sym::Other) => false,
        (Atom::One, sym) => sym != Sym::Empty,
        (Atom::Plus, _) => true,
    }
}

fn step(atoms: &[Atom], bits: u64, sym: Sym<'_>) -> u64 {
    let mut next = 0;
    let mut rest = bits;
    while rest != 0 {
        let i = rest.trailing_zeros() as usize;
        rest &= rest - 1;
        if i < atoms.len() && atom_accepts(&atoms[i], sym) {
            next |= 1 << (i + 1);
        }
        if i > 0 && atoms[i - 1] == Atom::Plus {
            next |= 1 << i;
        }
    }
    next
}

/// Most product states one exploration visits: past it the proof gives up, and the policy
/// counts as unproven (never sent as exact or safe). Bounds the time a hostile rule set, or a
/// request that needs a new proof, can take.
pub const MAX_STATES: usize = 20_000;

/// Most work (automaton steps: a state's live automata, summed over the states visited) all
/// explorations of one policy build may do together (see [`with_budget`]): a fraction of a
/// second on a slow machine.
pub const BUILD_BUDGET: usize = 500_000;

thread_local! {
    /// States this thread may still visit before explorations give up (`usize::MAX`: no
    /// build is being budgeted).
    static BUDGET: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// Runs `build` with at most `states` units of work for all its explorations together, so
/// that no rule set and no request can make one decision take long: what the budget does not
/// cover is unproven, and unproven policies are never sent as exact or safe.
pub fn with_budget<T>(states: usize, build: impl FnOnce() -> T) -> T {
    let outer = BUDGET.with(|b| b.replace(states));
    let result = build();
    BUDGET.with(|b| b.set(outer));
    result
}

fn spend(steps: usize) -> bool {
    BUDGET.with(|b| match b.get() {
        usize::MAX => true,
        left if left >= steps => {
            b.set(left - steps);
            true
        }
        _ => {
            b.set(0);
            false
        }
    })
}

/// How an exploration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Explored {
    /// Every reachable state was visited.
    Everything,
    /// The visitor had what it wanted.
    Stopped,
    /// [`MAX_STATES`] were visited first.
    OverBudget,
}

/// The verdicts in one product state.
struct Verdicts {
    /// The rule a fresh decision picks for the word (the most specific match), if any.
    route: Option<usize>,
    allowed: bool,
    denied: bool,
}

impl Verdicts {
    fn fresh(&self, permitted: &[bool]) -> bool {
        self.route
            .is_some_and(|i| permitted.get(i).copied().unwrap_or(false))
    }
}

impl Prover {
    /// A prover for rules sorted from most to least specific (as [`crate::access`] keeps them).
    pub fn new(rules: &[RoutePattern]) -> Self {
        Prover {
            rules: rules.iter().map(rule_matchers).collect(),
            route_keys: rules
                .iter()
                .filter(|r| r.is_route_key())
                .map(|r| r.method().to_string())
                .collect(),
            has_root_rule: rules
                .iter()
                .map(|r| !r.is_route_key() && r.segments().is_empty())
                .collect(),
        }
    }

    /// The resource suffixes that cover a rule: one per method it stands for.
    pub fn resources(rule: &RoutePattern) -> Vec<String> {
        rule_matchers(rule).iter().map(render).collect()
    }

    /// The first request, shortest first, on which the policy `allow` minus `deny` and the
    /// fresh decision under `permitted` (one flag per rule) disagree; `None` proves they agree
    /// on every request of the stage. With `only_over_allow`, disagreements where the policy
    /// refuses a permitted request are ignored.
    pub fn disagreement(
        &self,
        permitted: &[bool],
        allow: &[Resource],
        deny: &[Resource],
        only_over_allow: bool,
    ) -> Option<Disagreement> {
        let mut found = None;
        let explored = self.explore(allow, deny, &[], |word, v, _| {
            let policy = v.allowed && !v.denied;
            let fresh = v.fresh(permitted);
            if policy != fresh && (policy || !only_over_allow) {
                found = Some(Disagreement {
                    request: word.to_string(),
                    policy_allows: policy,
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

    /// For each Allow resource, whether it covers a request that the policy (`allow` minus
    /// `deny`) allows and the rules under `permitted` refuse: the resources to drop to make the
    /// policy safe.
    pub fn over_allowing(
        &self,
        permitted: &[bool],
        allow: &[Resource],
        deny: &[Resource],
    ) -> Vec<bool> {
        let mut implicated = vec![false; allow.len()];
        let explored = self.explore(allow, deny, allow, |_, v, accepted| {
            if v.allowed && !v.denied && !v.fresh(permitted) {
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
        kept: &[bool],
        refused_unless: &[bool],
        allow: &[Resource],
        candidates: &[Resource],
    ) -> CandidateReport {
        let mut report = CandidateReport {
            useful: vec![false; candidates.len()],
            harmful: vec![false; candidates.len()],
        };
        let explored = self.explore(allow, &[], candidates, |_, v, accepted| {
            if v.allowed {
                let harm = v.fresh(kept);
                let use_ = !v.fresh(refused_unless);
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

    /// Visits every reachable product state in which some Allow resource is still live (a
    /// request no Allow covers can never be over-allowed, and every permitted request is
    /// covered by the Allow of its own rule), calling `visit` with a shortest word reaching it,
    /// its verdicts and the candidates it accepts. `visit` returns `false` to stop.
    fn explore(
        &self,
        allow: &[Resource],
        deny: &[Resource],
        candidates: &[Resource],
        mut visit: impl FnMut(&str, &Verdicts, &[usize]) -> bool,
    ) -> Explored {
        let everything_allowed = allow.iter().any(|m| m.0 == Matcher::Everything);
        let everything_denied = deny.iter().any(|m| m.0 == Matcher::Everything);
        // WebSocket route keys: words without a path.
        let mut keys: Vec<&str> = self.route_keys.iter().map(String::as_str).collect();
        for m in allow.iter().chain(deny).chain(candidates) {
            if let Matcher::RouteKey(k) = &m.0 {
                keys.push(k);
            }
        }
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            let hit = |m: &Resource| {
                m.0 == Matcher::Everything || m.0 == Matcher::RouteKey(key.to_string())
            };
            let route = self
                .rules
                .iter()
                .position(|ms| ms.iter().any(|m| *m == Matcher::RouteKey(key.to_string())));
            let v = Verdicts {
                route,
                allowed: allow.iter().any(hit),
                denied: deny.iter().any(hit),
            };
            let accepted: Vec<usize> = (0..candidates.len())
                .filter(|c| hit(&candidates[*c]))
                .collect();
            if !visit(key, &v, &accepted) {
                return Explored::Stopped;
            }
        }
        for method in HTTP_METHODS {
            let mut slots: Vec<Slot<'_>> = Vec::new();
            for (i, matchers) in self.rules.iter().enumerate() {
                for m in matchers {
                    if let Matcher::Path { method: rm, atoms } = m
                        && rm == method
                    {
                        slots.push(Slot {
                            atoms,
                            role: Role::Rule(i),
                        });
                    }
                }
            }
            for (list, kind) in [
                (allow, Role::Allow),
                (deny, Role::Deny),
                (candidates, Role::Candidate(0)),
            ] {
                for (index, m) in list.iter().enumerate() {
                    if let Matcher::Path { method: rm, atoms } = &m.0
                        && rm == method
                    {
                        let role = match kind {
                            Role::Candidate(_) => Role::Candidate(index),
                            other => other,
                        };
                        slots.push(Slot { atoms, role });
                    }
                }
            }
            let everything_candidates: Vec<usize> = (0..candidates.len())
                .filter(|c| candidates[*c].0 == Matcher::Everything)
                .collect();
            match self.explore_method(
                method,
                &slots,
                everything_allowed,
                everything_denied,
                &everything_candidates,
                &mut visit,
            ) {
                Explored::Everything => {}
                stopped => return stopped,
            }
        }
        Explored::Everything
    }

    #[allow(clippy::too_many_arguments)]
    fn explore_method(
        &self,
        method: &str,
        slots: &[Slot<'_>],
        everything_allowed: bool,
        everything_denied: bool,
        everything_candidates: &[usize],
        visit: &mut impl FnMut(&str, &Verdicts, &[usize]) -> bool,
    ) -> Explored {
        /// The live slots (index, state bits; a slot whose bits are all clear is dead for good
        /// and left out), whether the word is exactly the root, and whether it has an empty
        /// segment.
        type State = (Vec<(u32, u64)>, bool, bool);
        let start: State = (
            (0..slots.len()).map(|i| (i as u32, 1u64)).collect(),
            false,
            false,
        );
        let mut seen: HashSet<State> = HashSet::new();
        let mut queue: VecDeque<(State, String, usize)> = VecDeque::new();
        // Every word has at least one segment: the first step is taken from the start state.
        queue.push_back((start, String::new(), 0));
        let mut accepted: Vec<usize> = Vec::new();
        while let Some(((live, _, empty), word, len)) = queue.pop_front() {
            let allow_live = everything_allowed
                || live
                    .iter()
                    .any(|(i, _)| slots[*i as usize].role == Role::Allow);
            if !allow_live {
                continue;
            }
            let mut symbols: Vec<Sym<'_>> = vec![Sym::Empty, Sym::Other];
            let mut literals: HashSet<&str> = HashSet::new();
            for (i, b) in &live {
                let slot = &slots[*i as usize];
                let mut rest = *b;
                while rest != 0 {
                    let at = rest.trailing_zeros() as usize;
                    rest &= rest - 1;
                    if let Some(Atom::Lit(text)) = slot.atoms.get(at)
                        && !text.is_empty()
                        && literals.insert(text)
                    {
                        symbols.push(Sym::Lit(text));
                    }
                }
            }
            for sym in symbols {
                let next_live: Vec<(u32, u64)> = live
                    .iter()
                    .filter_map(|(i, b)| {
                        let next = step(slots[*i as usize].atoms, *b, sym);
                        (next != 0).then_some((*i, next))
                    })
                    .collect();
                let next_root = len == 0 && sym == Sym::Empty;
                let next_empty = empty || sym == Sym::Empty;
                let state: State = (next_live, next_root, next_empty);
                if seen.contains(&state) {
                    continue;
                }
                let segment = match sym {
                    Sym::Lit(text) => text.to_string(),
                    Sym::Empty => String::new(),
                    Sym::Other => other_value(&literals),
                };
                let next_word = if len == 0 {
                    format!("{method}/{segment}")
                } else {
                    format!("{word}/{segment}")
                };
                // The verdicts of the word that reaches this state.
                let mut fresh_rule = None;
                let mut allowed = everything_allowed;
                let mut denied = everything_denied;
                accepted.clear();
                accepted.extend_from_slice(everything_candidates);
                for (i, b) in &state.0 {
                    let slot = &slots[*i as usize];
                    if b & (1 << slot.atoms.len()) == 0 {
                        continue;
                    }
                    match slot.role {
                        Role::Rule(r) => {
                            if fresh_rule.is_none_or(|f| r < f) {
                                fresh_rule = Some(r);
                            }
                        }
                        Role::Allow => allowed = true,
                        Role::Deny => denied = true,
                        Role::Candidate(c) => accepted.push(c),
                    }
                }
                let route = if state.1 {
                    // The root: zero segments for the rules; the first root rule decides.
                    self.rules.iter().enumerate().position(|(i, ms)| {
                        self.has_root_rule[i] && ms.iter().any(|m| m.method() == Some(method))
                    })
                } else if state.2 {
                    None
                } else {
                    fresh_rule
                };
                let v = Verdicts {
                    route,
                    allowed,
                    denied,
                };
                if !visit(&next_word, &v, &accepted) {
                    return Explored::Stopped;
                }
                if seen.len() >= MAX_STATES || !spend(state.0.len() + 1) {
                    return Explored::OverBudget;
                }
                seen.insert(state.clone());
                queue.push_back((state, next_word, len + 1));
            }
        }
        Explored::Everything
    }
}

/// A segment value equal to none of `literals`.
fn other_value(literals: &HashSet<&str>) -> String {
    (0..)
        .map(|n| format!("x{n}"))
        .find(|v| !literals.contains(v.as_str()))
        .unwrap_or_default()
}

/// The resource suffix text of a matcher (`One` is written `*`, as IAM has nothing narrower).
fn render(m: &Matcher) -> String {
    match m {
        Matcher::Everything => "*".to_string(),
        Matcher::RouteKey(key) => key.clone(),
        Matcher::Path { method, atoms } => {
            let path: Vec<&str> = atoms
                .iter()
                .map(|a| match a {
                    Atom::Lit(text) => text.as_str(),
                    Atom::One | Atom::Plus => "*",
                })
                .collect();
            format!("{method}/{}", path.join("/"))
        }
    }
}

/// Deny candidates that may make the Allow of `rules` exact: each rule's own resources, each
/// with one `{param}` widened to two or more segments, the empty segment in each `{param}`, and
/// per method the requests with an empty segment (`M//*`, `M/*//*`, `M/*/`) and the root.
pub fn deny_candidates(rules: &[RoutePattern]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut methods: HashSet<String> = HashSet::new();
    for rule in rules {
        for m in rule_matchers(rule) {
            out.push(render(&m));
            if let Matcher::Path { method, atoms } = &m {
                methods.insert(method.clone());
                for (i, atom) in atoms.iter().enumerate() {
                    if *atom != Atom::One {
                        continue;
                    }
                    for replacement in
                        [vec![Atom::Plus, Atom::Plus], vec![Atom::Lit(String::new())]]
                    {
                        let mut wider = atoms[..i].to_vec();
                        wider.extend(replacement);
                        wider.extend_from_slice(&atoms[i + 1..]);
                        if wider.len() <= MAX_SEGMENTS {
                            out.push(render(&Matcher::Path {
                                method: method.clone(),
                                atoms: wider,
                            }));
                        }
                    }
                }
            }
        }
    }
    let mut methods: Vec<String> = methods.into_iter().collect();
    methods.sort();
    for m in methods {
        out.extend([
            format!("{m}//*"),
            format!("{m}/*//*"),
            format!("{m}/*/"),
            format!("{m}/"),
        ]);
    }
    let mut seen = HashSet::new();
    out.retain(|r| seen.insert(r.clone()));
    out
}
