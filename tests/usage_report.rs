//! `tollgate usage-report` through the real binary: the seed table of DESIGN.md exactly, in all
//! three formats, and the billing rules on a messy log.

mod common;

use std::process::{Command, Output, Stdio};

use common::repo_path;
use serde_json::{Value, json};

fn report(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("usage-report")
        .args(args)
        .current_dir(repo_path(""))
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("run tollgate usage-report")
}

fn stdout(out: &Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).expect("utf-8")
}

const SEED_TABLE: &str = "\
| User ID | API Endpoint        | Date       | Calls | Cost  |
|---------|---------------------|------------|-------|-------|
| 123456  | /api/user/profile   | 2022-01-15 | 1     | $0.10 |
| 123456  | /api/user/update    | 2022-01-16 | 1     | $0.05 |
| 789012  | /api/product/search | 2022-01-16 | 1     | $0.07 |
| Total   |                     |            | 3     | $0.22 |
";

#[test]
fn seed_access_log_gives_the_seed_table() {
    assert_eq!(
        stdout(&report(&["events/access-logs/seed.jsonl"])),
        SEED_TABLE
    );
}

#[test]
fn seed_access_log_as_csv() {
    assert_eq!(
        stdout(&report(&[
            "--format",
            "csv",
            "events/access-logs/seed.jsonl"
        ])),
        "User ID,API Endpoint,Date,Calls,Cost\n\
         123456,/api/user/profile,2022-01-15,1,0.10\n\
         123456,/api/user/update,2022-01-16,1,0.05\n\
         789012,/api/product/search,2022-01-16,1,0.07\n\
         Total,,,3,0.22\n"
    );
}

#[test]
fn seed_access_log_as_json() {
    let doc: Value = serde_json::from_str(&stdout(&report(&[
        "--format",
        "json",
        "events/access-logs/seed.jsonl",
    ])))
    .expect("json");
    assert_eq!(
        doc,
        json!({
            "rows": [
                {"userId": "123456", "endpoint": "/api/user/profile", "date": "2022-01-15", "calls": 1, "costMicros": 100000, "cost": "0.10"},
                {"userId": "123456", "endpoint": "/api/user/update", "date": "2022-01-16", "calls": 1, "costMicros": 50000, "cost": "0.05"},
                {"userId": "789012", "endpoint": "/api/product/search", "date": "2022-01-16", "calls": 1, "costMicros": 70000, "cost": "0.07"}
            ],
            "total": {"calls": 3, "costMicros": 220000, "cost": "0.22"},
            "lines": {"read": 3, "billed": 3, "notBilled": 0, "malformed": 0, "outsideDates": 0, "unpriced": 0}
        })
    );
}

#[test]
fn report_reads_stdin_when_given_dash() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["usage-report", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let seed = std::fs::read(repo_path("events/access-logs/seed.jsonl")).expect("seed");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &seed).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(stdout(&out), SEED_TABLE);
}

#[test]
fn messy_log_bills_only_2xx_prices_missing_costs_and_reports_malformed_lines() {
    let out = report(&[
        "--pricing",
        "events/tollgate.dev.toml",
        "events/access-logs/mixed.jsonl",
    ]);
    assert_eq!(
        stdout(&out),
        "\
| User ID | API Endpoint        | Date       | Calls | Cost  |
|---------|---------------------|------------|-------|-------|
| 123456  | /api/user/profile   | 2022-01-15 | 2     | $0.20 |
| 123456  | /api/user/profile   | 2022-01-17 | 1     | $0.10 |
| 123456  | /unpriced           | 2022-01-17 | 1     | $0.00 |
| 789012  | /api/product/search | 2022-01-16 | 1     | $0.05 |
| Total   |                     |            | 5     | $0.35 |
"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "10 lines: 5 billed calls, 2 not 2xx (not billed), 0 outside the dates, 3 malformed, 1 without a price\n\
         malformed: events/access-logs/mixed.jsonl:5: not JSON: expected ident at line 1 column 2\n\
         malformed: events/access-logs/mixed.jsonl:8: a 2xx call with no userId (is the authorizer context in the access-log format?)\n\
         malformed: events/access-logs/mixed.jsonl:11: not a JSON object\n"
    );
}

#[test]
fn line_without_cost_and_without_pricing_is_counted_unpriced() {
    let out = report(&["--format", "json", "events/access-logs/mixed.jsonl"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        doc["lines"]["unpriced"], 2,
        "the TOKEN-authorizer line and /unpriced"
    );
    assert_eq!(doc["total"]["costMicros"], 300000);
}

#[test]
fn date_range_keeps_only_those_days() {
    let out = report(&[
        "--pricing",
        "events/tollgate.dev.toml",
        "--from",
        "2022-01-16",
        "--to",
        "2022-01-16",
        "--format",
        "csv",
        "events/access-logs/mixed.jsonl",
    ]);
    assert_eq!(
        stdout(&out),
        "User ID,API Endpoint,Date,Calls,Cost\n789012,/api/product/search,2022-01-16,1,0.05\nTotal,,,1,0.05\n"
    );
}

#[test]
fn several_files_are_added_up() {
    let out = report(&[
        "--format",
        "csv",
        "events/access-logs/seed.jsonl",
        "events/access-logs/seed.jsonl",
    ]);
    assert!(stdout(&out).ends_with("Total,,,6,0.44\n"));
}

#[test]
fn bad_options_are_usage_errors() {
    for (args, message) in [
        (
            vec!["--format", "xml"],
            "tollgate: --format \"xml\" is not table, csv or json",
        ),
        (
            vec!["--from", "2022-02-30"],
            "tollgate: \"2022-02-30\" is not a date like 2022-01-15",
        ),
        (
            vec!["--from", "2022-02-02", "--to", "2022-02-01"],
            "tollgate: --from is after --to",
        ),
        (vec!["--pricing"], "tollgate: --pricing needs a value"),
        (vec!["--bogus"], "tollgate: unknown option --bogus"),
        (
            vec!["no-such-file.jsonl"],
            "tollgate: cannot read no-such-file.jsonl: No such file or directory (os error 2)",
        ),
    ] {
        let out = report(&args);
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).starts_with(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// An access-log line as the SAM template's REST API format writes it.
fn rest_line(id: &str, method: &str, resource: &str, ctx: &Value) -> String {
    let field = |key: &str| match ctx.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "-".to_string(),
    };
    json!({
        "requestId": id, "requestTimeEpoch": "1642240800000", "httpMethod": method,
        "path": format!("/prod{resource}"), "resourcePath": resource, "routeKey": "-",
        "status": "200", "userId": field("userId"), "plan": field("plan"),
        "endpoint": field("endpoint"), "costMicros": field("costMicros")
    })
    .to_string()
}

fn dev_pricing() -> tollgate::report::Options {
    let pricing = tollgate::config::file::pricing(&repo_path("events/tollgate.dev.toml"))
        .expect("the development pricing");
    tollgate::report::Options {
        pricing: Some(pricing),
        ..Default::default()
    }
}

fn aggregate(lines: &[String]) -> tollgate::report::Report {
    tollgate::report::aggregate(
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| ("log", i + 1, l.as_str())),
        &dev_pricing(),
    )
}

#[test]
fn calls_to_different_methods_on_one_path_are_never_merged() {
    let lines: Vec<String> = [("GET", "100000"), ("POST", "50000")]
        .iter()
        .map(|(method, cost)| {
            json!({"requestTimeEpoch": "1642240800000", "httpMethod": method, "resourcePath": "/x",
                   "status": "200", "userId": "u", "endpoint": format!("{method} /x"), "costMicros": cost})
            .to_string()
        })
        .collect();
    let report = aggregate(&lines);
    let rows: Vec<(&str, u64)> = report
        .rows
        .iter()
        .map(|r| (r.endpoint.as_str(), r.cost_micros))
        .collect();
    assert_eq!(rows, vec![("GET /x", 100_000), ("POST /x", 50_000)]);
}

#[test]
fn a_cost_logged_for_another_route_is_repriced_at_the_calls_own_route() {
    // A context cached under a token-only key by an older authorizer: the search route's
    // endpoint and price came along to the profile call.
    let cached = json!({"userId": "123456", "plan": "free", "endpoint": "GET /api/product/search", "costMicros": 70000});
    let report = aggregate(&[
        rest_line("1", "GET", "/api/product/search", &cached),
        rest_line("2", "GET", "/api/user/profile", &cached),
    ]);
    assert_eq!(
        report.totals(),
        (2, 170_000),
        "$0.07 + $0.10, not 2 x $0.07"
    );
}

/// The whole loop under a token-keyed cache: the authorizer answers the first call, API
/// Gateway reuses that answer (policy and context) for the next routes, and the access log
/// it writes bills every call at its own route's price.
#[tokio::test]
async fn every_call_under_a_token_keyed_cache_is_billed_at_its_own_route() {
    use tollgate::handler::Authorizer;
    let file = repo_path("events/tollgate.dev.toml");
    let config = common::config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
    ]);
    let authorizer = Authorizer::new(&config).expect("authorizer");
    authorizer.prefetch().await;
    let token = common::sign(
        jsonwebtoken::Algorithm::RS256,
        &common::with(
            common::access_claims(),
            json!({"scope": "api/read", "cognito:groups": []}),
        ),
    );
    let header = json!({"Authorization": format!("Bearer {token}")});
    let first = common::rest_request_event(header, json!({}), "GET", "/api/product/search");
    let out = authorizer.handle(first.to_string().as_bytes(), None).await;
    let cached = out.response.expect("an answer")["context"].clone();
    assert!(
        cached.get("costMicros").is_none(),
        "no per-route price in a token-keyed context"
    );
    let report = aggregate(&[
        rest_line("1", "GET", "/api/product/search", &cached),
        rest_line("2", "GET", "/api/user/profile", &cached),
    ]);
    assert_eq!(report.totals(), (2, 170_000));
    assert_eq!(report.lines.unpriced, 0);
}
