//! One IAM evaluator for the prover's side and the emulator's: seeded properties over
//! generated policies and requests (adversarial ones included: `*` and `?` in requests,
//! empty segments, other case, other actions, restricted statements) showing that
//! `tollgate::iam::policy_allows` (what the cache rule is proven with) and `tollgate serve`'s
//! reading of the same answer (what API Gateway would do) agree, and that both agree with an
//! independent reading of IAM's rules written here.

use serde_json::{Value, json};
use tollgate::decision::{Decision, Grant};
use tollgate::errors::{Reason, Rejection};
use tollgate::event::EventShape;
use tollgate::iam::{Evaluation, policy_allows};
use tollgate::response::{HttpApiResponse, encode};
use tollgate::serve::verdict::read_answer;

use crate::common::generate::Rng;

const PREFIX: &str = "arn:aws:execute-api:us-east-1:123456789012:api1/prod/";

/// Resource and request segments: literals, IAM's wildcards, the empty segment, other case.
const PIECES: [&str; 12] = [
    "GET", "POST", "a", "A", "b", "42", "*", "?", "", "a*", "?b", "é",
];

/// Action patterns, those that name `execute-api:Invoke` and those that do not.
const ACTIONS: [&str; 9] = [
    "execute-api:Invoke",
    "EXECUTE-API:INVOKE",
    "execute-api:*",
    "*",
    "execute-api:Inv?ke",
    "execute-api:ManageConnections",
    "s3:*",
    "execute-api:Invoke*",
    "execute-api:Invoke?",
];

fn path(rng: &mut Rng) -> String {
    let segments = 1 + rng.below(4);
    (0..segments)
        .map(|_| *rng.pick(&PIECES))
        .collect::<Vec<_>>()
        .join("/")
}

fn resource(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "*".to_string(),
        1 => format!("{PREFIX}*"),
        2 => format!(
            "arn:aws:execute-api:us-east-1:123456789012:other/prod/{}",
            path(rng)
        ),
        _ => format!("{PREFIX}{}", path(rng)),
    }
}

fn resources(rng: &mut Rng, most: usize) -> Vec<String> {
    (0..rng.below(most + 1)).map(|_| resource(rng)).collect()
}

/// IAM's glob, read independently of `tollgate::routes::iam_glob_matches`: `*` any run of
/// characters, `?` any one, everything else itself.
fn glob(pattern: &[char], text: &[char]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some(('*', rest)) => (0..=text.len()).any(|skip| glob(rest, &text[skip..])),
        Some((p, rest)) => text
            .split_first()
            .is_some_and(|(t, more)| (*p == '?' || p == t) && glob(rest, more)),
    }
}

fn glob_str(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob(&p, &t)
}

/// IAM's rules as the README states them, over a policy document as JSON.
fn oracle(statements: &[Value], arn: &str) -> Evaluation {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => vec![],
        }
    };
    let restricted = |s: &Value| {
        ["NotAction", "NotResource", "Condition"]
            .iter()
            .any(|k| s.get(k).is_some())
    };
    let covers = |s: &Value| {
        list(&s["Action"])
            .iter()
            .any(|a| glob_str(&a.to_ascii_lowercase(), "execute-api:invoke"))
            && list(&s["Resource"]).iter().any(|r| glob_str(r, arn))
    };
    if statements
        .iter()
        .any(|s| s["Effect"] == "Deny" && (restricted(s) || covers(s)))
    {
        Evaluation::ExplicitDeny
    } else if statements
        .iter()
        .any(|s| s["Effect"] == "Allow" && !restricted(s) && covers(s))
    {
        Evaluation::Allow
    } else {
        Evaluation::ImplicitDeny
    }
}

fn grant(allow: Vec<String>, deny: Vec<String>) -> Grant {
    Grant {
        principal_id: "u1".into(),
        allow,
        deny,
        context: Default::default(),
        usage_key: None,
        usage: Default::default(),
    }
}

#[test]
fn tollgate_policies_mean_the_same_to_the_prover_to_serve_and_to_iam() {
    let mut rng = Rng(0x1a2b_3c4d_5e6f_7081);
    let (mut allowed, mut refused) = (0, 0);
    for round in 0..3_000 {
        let allow = resources(&mut rng, 4);
        let deny = resources(&mut rng, 3);
        let arn = format!("{PREFIX}{}", path(&mut rng));
        let proven = policy_allows(&allow, &deny, &arn);

        let decision = if rng.chance(50) {
            Decision::Allow(grant(allow.clone(), deny.clone()))
        } else {
            Decision::Deny(
                grant(allow.clone(), deny.clone()),
                Rejection::new(Reason::RouteNotPermitted, "generated"),
            )
        };
        let shape = *rng.pick(&[
            EventShape::RestRequest,
            EventShape::RestToken,
            EventShape::HttpV1,
            EventShape::WebSocketConnect,
        ]);
        let response =
            encode(&decision, Some(shape), HttpApiResponse::IamPolicy).expect("a policy answer");
        let served = read_answer(response.as_bytes(), false)
            .expect("tollgate's answer reads as API Gateway reads it")
            .evaluate(&arn);
        assert_eq!(
            proven,
            served == Evaluation::Allow,
            "round {round}: allow {allow:?} deny {deny:?} on {arn}"
        );

        let document = response.to_value();
        let statements = document["policyDocument"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            served,
            oracle(&statements, &arn),
            "round {round}: allow {allow:?} deny {deny:?} on {arn}"
        );
        if proven {
            allowed += 1;
        } else {
            refused += 1;
        }
    }
    assert!(
        allowed > 300 && refused > 300,
        "{allowed} allowed, {refused} refused"
    );
}

fn statement(rng: &mut Rng) -> Value {
    let one_or_list = |rng: &mut Rng, values: Vec<String>| -> Value {
        if values.len() == 1 && rng.chance(50) {
            Value::String(values[0].clone())
        } else {
            json!(values)
        }
    };
    let actions: Vec<String> = (0..1 + rng.below(2))
        .map(|_| rng.pick(&ACTIONS).to_string())
        .collect();
    let resources: Vec<String> = (0..1 + rng.below(3)).map(|_| resource(rng)).collect();
    let mut s = json!({
        "Effect": if rng.chance(60) { "Allow" } else { "Deny" },
        "Action": one_or_list(rng, actions),
        "Resource": one_or_list(rng, resources),
    });
    match rng.below(20) {
        0 => s["Condition"] = json!({"Bool": {"aws:SecureTransport": "true"}}),
        1 => {
            let actions = s["Action"].take();
            s.as_object_mut().map(|o| o.remove("Action"));
            s["NotAction"] = actions;
        }
        2 => s["NotResource"] = json!("*"),
        _ => {}
    }
    s
}

#[test]
fn every_statement_counts_and_a_deny_wins_in_any_order() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut seen = [0usize; 3];
    for round in 0..3_000 {
        let mut statements: Vec<Value> =
            (0..1 + rng.below(5)).map(|_| statement(&mut rng)).collect();
        let arn = format!("{PREFIX}{}", path(&mut rng));
        let expected = oracle(&statements, &arn);
        for order in 0..2 {
            let output = json!({
                "principalId": "u1",
                "policyDocument": {"Version": "2012-10-17", "Statement": statements},
            });
            let served = read_answer(output.to_string().as_bytes(), false)
                .expect("a valid policy answer")
                .evaluate(&arn);
            assert_eq!(
                served, expected,
                "round {round} (order {order}): {statements:?} on {arn}"
            );
            statements.reverse();
        }
        seen[match expected {
            Evaluation::Allow => 0,
            Evaluation::ExplicitDeny => 1,
            Evaluation::ImplicitDeny => 2,
        }] += 1;
    }
    assert!(seen.iter().all(|n| *n > 200), "{seen:?}");
}
