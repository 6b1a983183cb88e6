//! The Deny resources a policy may draw on: rendered from the rule patterns alone (never from
//! a request), each a shape that refuses what IAM's `*` over-covers.

use std::collections::HashSet;

use crate::routes::RoutePattern;

use super::resource::{Atom, MAX_SEGMENTS, Matcher, render, rule_matchers};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parameter_is_widened_to_several_segments_and_to_the_empty_one() {
        let rules = [RoutePattern::parse("GET /a/{id}/b").unwrap()];
        let candidates = deny_candidates(&rules);
        for expected in [
            "GET/a/*/b",
            "GET/a/*/*/b",
            "GET/a//b",
            "GET//*",
            "GET/*/",
            "GET/",
        ] {
            assert!(candidates.contains(&expected.to_string()), "{expected}");
        }
    }

    #[test]
    fn candidates_are_never_repeated() {
        let rules = [
            RoutePattern::parse("GET /a/{id}").unwrap(),
            RoutePattern::parse("GET /a/{name}").unwrap(),
        ];
        let candidates = deny_candidates(&rules);
        let unique: HashSet<&String> = candidates.iter().collect();
        assert_eq!(unique.len(), candidates.len());
    }
}
