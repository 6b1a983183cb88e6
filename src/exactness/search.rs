//! The product search: every automaton of a rule set, a policy and its candidate Denies run
//! side by side over one method's words, breadth first, one symbol class per step, until no new
//! state appears. Each visited state is handed to a visitor with a shortest word reaching it
//! and that word's verdicts.

use std::collections::{HashSet, VecDeque};

use super::budget::{Budget, MAX_STATES};
use super::resource::{Atom, Matcher, Resource};
use super::{HTTP_METHODS, Policy, Prover, Routes};

/// A word's fresh decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fresh {
    /// Decided by this rule.
    Route(usize),
    /// Refused: no rule takes it (or a path with an empty segment).
    Refused,
    /// Outside the domain: API Gateway answers it itself, and no policy is ever applied to it.
    NotRouted,
}

/// The verdicts on one word.
pub(super) struct Verdicts {
    /// What a fresh decision does with it.
    pub(super) fresh: Fresh,
    /// Whether some Allow resource covers it.
    pub(super) allowed: bool,
    /// Whether some Deny resource covers it.
    pub(super) denied: bool,
}

/// How an exploration ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Explored {
    /// Every reachable state was visited.
    Everything,
    /// The visitor had what it wanted.
    Stopped,
    /// [`MAX_STATES`] states, or the budget, were spent first.
    OverBudget,
}

/// What an automaton in the product stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Rule(usize),
    /// A REST resource (any method), by its index, most specific first.
    Resource(usize),
    Allow,
    Deny,
    Candidate(usize),
}

/// An automaton in the product: a pattern's atoms and its role.
struct Slot<'a> {
    atoms: &'a [Atom],
    role: Role,
}

/// One state of the product.
#[derive(Clone, PartialEq, Eq, Hash)]
struct State {
    /// The live slots: index and state bits (a slot whose bits are all clear is dead for good
    /// and left out).
    live: Vec<(u32, u64)>,
    /// The word is exactly the root (one empty segment).
    at_root: bool,
    /// The word has an empty segment.
    has_empty_segment: bool,
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

/// The whole-stage resources (`*`) of a list, by index.
fn everything_in(list: &[Resource]) -> Vec<usize> {
    (0..list.len())
        .filter(|i| list[*i].0 == Matcher::Everything)
        .collect()
}

impl Prover {
    /// Visits every reachable product state in which some Allow resource is still live (a
    /// request no Allow covers can never be over-allowed, and every permitted request is
    /// covered by the Allow of its own rule), calling `visit` with a shortest word reaching it,
    /// its verdicts and the candidates it accepts. `visit` returns `false` to stop.
    pub(super) fn explore(
        &self,
        policy: Policy<'_>,
        candidates: &[Resource],
        budget: &mut Budget,
        mut visit: impl FnMut(&str, &Verdicts, &[usize]) -> bool,
    ) -> Explored {
        let everything_allowed = !everything_in(policy.allow).is_empty();
        let everything_denied = !everything_in(policy.deny).is_empty();
        // WebSocket route keys: words without a path.
        let mut keys: Vec<&str> = self.route_keys.iter().map(String::as_str).collect();
        for m in policy.allow.iter().chain(policy.deny).chain(candidates) {
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
            let v = Verdicts {
                fresh: self.route_key_fresh(key),
                allowed: policy.allow.iter().any(hit),
                denied: policy.deny.iter().any(hit),
            };
            let accepted: Vec<usize> = (0..candidates.len())
                .filter(|c| hit(&candidates[*c]))
                .collect();
            if !visit(key, &v, &accepted) {
                return Explored::Stopped;
            }
        }
        let everything_candidates = everything_in(candidates);
        for method in 0..HTTP_METHODS.len() {
            let slots = self.slots(method, policy, candidates);
            let ends = Ends {
                everything_allowed,
                everything_denied,
                everything_candidates: &everything_candidates,
            };
            match self.explore_method(method, &slots, &ends, budget, &mut visit) {
                Explored::Everything => {}
                stopped => return stopped,
            }
        }
        Explored::Everything
    }

    /// The automata of one method's words: its rules, the REST resources, the policy's
    /// resources and the candidates.
    fn slots<'a>(
        &'a self,
        method: usize,
        policy: Policy<'a>,
        candidates: &'a [Resource],
    ) -> Vec<Slot<'a>> {
        let name = HTTP_METHODS[method];
        let mut slots: Vec<Slot<'a>> = Vec::new();
        let on_method = |m: &'a Matcher| match m {
            Matcher::Path { method, atoms } if method == name => Some(atoms.as_slice()),
            _ => None,
        };
        for (i, matchers) in self.rules.iter().enumerate() {
            for atoms in matchers.iter().filter_map(on_method) {
                slots.push(Slot {
                    atoms,
                    role: Role::Rule(i),
                });
            }
        }
        if let Routes::Rest { resources, .. } = &self.routes {
            for (k, resource) in resources.iter().enumerate() {
                slots.push(Slot {
                    atoms: &resource.atoms,
                    role: Role::Resource(k),
                });
            }
        }
        for (list, role) in [(policy.allow, Role::Allow), (policy.deny, Role::Deny)] {
            for atoms in list.iter().filter_map(|r| on_method(&r.0)) {
                slots.push(Slot { atoms, role });
            }
        }
        for (c, candidate) in candidates.iter().enumerate() {
            if let Some(atoms) = on_method(&candidate.0) {
                slots.push(Slot {
                    atoms,
                    role: Role::Candidate(c),
                });
            }
        }
        slots
    }

    fn explore_method(
        &self,
        method: usize,
        slots: &[Slot<'_>],
        ends: &Ends<'_>,
        budget: &mut Budget,
        visit: &mut impl FnMut(&str, &Verdicts, &[usize]) -> bool,
    ) -> Explored {
        let start = State {
            live: (0..slots.len()).map(|i| (i as u32, 1u64)).collect(),
            at_root: false,
            has_empty_segment: false,
        };
        let mut seen: HashSet<State> = HashSet::new();
        let mut queue: VecDeque<(State, String, usize)> = VecDeque::new();
        // Every word has at least one segment: the first step is taken from the start state.
        queue.push_back((start, String::new(), 0));
        let mut accepted: Vec<usize> = Vec::new();
        while let Some((state, word, len)) = queue.pop_front() {
            let allow_live = ends.everything_allowed
                || state
                    .live
                    .iter()
                    .any(|(i, _)| slots[*i as usize].role == Role::Allow);
            if !allow_live {
                continue;
            }
            let mut symbols: Vec<Sym<'_>> = vec![Sym::Empty, Sym::Other];
            let mut literals: HashSet<&str> = HashSet::new();
            for (i, b) in &state.live {
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
                let next = State {
                    live: state
                        .live
                        .iter()
                        .filter_map(|(i, b)| {
                            let next = step(slots[*i as usize].atoms, *b, sym);
                            (next != 0).then_some((*i, next))
                        })
                        .collect(),
                    at_root: len == 0 && sym == Sym::Empty,
                    has_empty_segment: state.has_empty_segment || sym == Sym::Empty,
                };
                if seen.contains(&next) {
                    continue;
                }
                let segment = match sym {
                    Sym::Lit(text) => text.to_string(),
                    Sym::Empty => String::new(),
                    Sym::Other => other_value(&literals),
                };
                let next_word = if len == 0 {
                    format!("{}/{segment}", HTTP_METHODS[method])
                } else {
                    format!("{word}/{segment}")
                };
                let v = self.verdicts(method, slots, &next, ends, &mut accepted);
                if !visit(&next_word, &v, &accepted) {
                    return Explored::Stopped;
                }
                if seen.len() >= MAX_STATES || !budget.spend(next.live.len() + 1) {
                    return Explored::OverBudget;
                }
                seen.insert(next.clone());
                queue.push_back((next, next_word, len + 1));
            }
        }
        Explored::Everything
    }

    /// The verdicts on the word that reaches `state`, and (into `accepted`) the candidates
    /// that match it.
    fn verdicts(
        &self,
        method: usize,
        slots: &[Slot<'_>],
        state: &State,
        ends: &Ends<'_>,
        accepted: &mut Vec<usize>,
    ) -> Verdicts {
        let mut best_rule: Option<usize> = None;
        let mut best_resource: Option<usize> = None;
        let mut allowed = ends.everything_allowed;
        let mut denied = ends.everything_denied;
        accepted.clear();
        accepted.extend_from_slice(ends.everything_candidates);
        for (i, b) in &state.live {
            let slot = &slots[*i as usize];
            if b & (1 << slot.atoms.len()) == 0 {
                continue;
            }
            match slot.role {
                Role::Rule(r) => best_rule = Some(best_rule.map_or(r, |f| f.min(r))),
                Role::Resource(k) => best_resource = Some(best_resource.map_or(k, |f| f.min(k))),
                Role::Allow => allowed = true,
                Role::Deny => denied = true,
                Role::Candidate(c) => accepted.push(c),
            }
        }
        Verdicts {
            fresh: self.path_fresh(
                method,
                state.at_root,
                state.has_empty_segment,
                best_rule,
                best_resource,
            ),
            allowed,
            denied,
        }
    }
}

/// What holds at the end of every word of a method: the whole-stage resources.
struct Ends<'a> {
    everything_allowed: bool,
    everything_denied: bool,
    everything_candidates: &'a [usize],
}

/// A segment value equal to none of `literals`.
fn other_value(literals: &HashSet<&str>) -> String {
    (0..)
        .map(|n| format!("x{n}"))
        .find(|v| !literals.contains(v.as_str()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_takes_one_non_empty_segment_and_a_star_one_or_more() {
        let one = [Atom::Lit("a".into()), Atom::One];
        let after_a = step(&one, 1, Sym::Lit("a"));
        assert_eq!(after_a, 0b10);
        assert_eq!(step(&one, after_a, Sym::Empty), 0);
        assert_eq!(step(&one, after_a, Sym::Other), 0b100);
        let plus = [Atom::Plus];
        let first = step(&plus, 1, Sym::Empty);
        assert_eq!(first, 0b10);
        // Accepting after one segment, and still after more.
        assert_eq!(step(&plus, first, Sym::Other) & 0b10, 0b10);
    }

    #[test]
    fn another_value_is_none_of_the_live_literals() {
        let literals: HashSet<&str> = ["x0", "x1", "a"].into_iter().collect();
        assert_eq!(other_value(&literals), "x2");
    }
}
