//! Policy resources and route rules as the prover reads them: each a small automaton over a
//! request's segments. Resources are parsed back from the exact strings put into a policy, so
//! what is proven is what is sent; only the forms tollgate emits are read, so that no resource
//! escapes the proof.

use crate::routes::{HTTP_METHODS, RoutePattern, Segment};

/// Longest pattern the prover accepts, in segments (its states are bit sets in a `u64`).
pub const MAX_SEGMENTS: usize = 60;

/// One segment-level step of a pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Atom {
    /// Exactly this segment (the empty text is the empty segment).
    Lit(String),
    /// One non-empty segment (a rule's `{param}`).
    One,
    /// One or more segments of any content (a resource's `*`, a rule's `{param+}`).
    Plus,
}

/// A pattern over one method's words.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) enum Matcher {
    /// A method and the atoms of its path.
    Path { method: String, atoms: Vec<Atom> },
    /// A WebSocket route key such as `$connect` (no path).
    RouteKey(String),
    /// Every word of the stage (the resource `*`).
    Everything,
}

impl Matcher {
    pub(super) fn method(&self) -> Option<&str> {
        match self {
            Matcher::Path { method, .. } => Some(method),
            _ => None,
        }
    }
}

/// The rule patterns' matchers, one per method a rule covers.
pub(super) fn rule_matchers(rule: &RoutePattern) -> Vec<Matcher> {
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
pub struct Resource(pub(super) Matcher);

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

/// The resource suffix text of a matcher (`One` is written `*`, as IAM has nothing narrower).
pub(super) fn render(m: &Matcher) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_forms_tollgate_emits_are_read() {
        assert!(parse_resource("*").is_ok());
        assert!(parse_resource("$connect").is_ok());
        assert!(parse_resource("GET/pets/*").is_ok());
        let problem = |text: &str| parse_resource(text).map(|_| ()).unwrap_err().problem;
        assert_eq!(problem("GET/pe?s"), Unprovable::QuestionMark);
        assert_eq!(problem("GET/pe*"), Unprovable::StarInsideSegment);
        assert_eq!(problem("*/pets"), Unprovable::NoLiteralMethod);
        assert_eq!(problem("pets"), Unprovable::NoMethodAndPath);
        let long = format!("GET/{}", vec!["a"; MAX_SEGMENTS + 1].join("/"));
        assert_eq!(problem(&long), Unprovable::TooManySegments);
    }

    #[test]
    fn a_rule_renders_as_one_resource_per_method_with_parameters_as_stars() {
        let rule = RoutePattern::parse("ANY /pets/{id}/{rest+}").unwrap();
        let rendered: Vec<String> = rule_matchers(&rule).iter().map(render).collect();
        assert_eq!(rendered.len(), HTTP_METHODS.len());
        assert!(rendered.contains(&"DELETE/pets/*/*".to_string()));
        // What is rendered parses back to the same automaton.
        for text in &rendered {
            assert_eq!(render(&parse_resource(text).unwrap().0), *text);
        }
    }
}
