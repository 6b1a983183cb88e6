//! `tollgate usage-report` through the real binary: the seed table of the README's "Cost
//! report" exactly, in all three formats, and the billing rules on a messy log.

use crate::common;

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
fn token_keyed_seed_log_priced_by_the_shipped_file_gives_the_seed_table() {
    // The seed calls as the template's token-keyed REST and HTTP API log them: no cost in the
    // context, every call priced at its route from config/tollgate.toml.
    assert_eq!(
        stdout(&report(&[
            "--pricing",
            "config/tollgate.toml",
            "events/access-logs/token-keyed.jsonl"
        ])),
        SEED_TABLE
    );
}

#[test]
fn token_keyed_seed_log_without_pricing_is_all_unpriced() {
    let out = report(&["--format", "json", "events/access-logs/token-keyed.jsonl"]);
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        (&doc["lines"]["unpriced"], &doc["total"]["costMicros"]),
        (&json!(3), &json!(0))
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
        "10 lines: 5 billed calls, 2 not billed (not 2xx, or a CORS preflight), 0 outside the dates, 3 malformed, 1 without a price\n\
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
fn bad_options_are_usage_errors_naming_the_option() {
    for (args, message) in [
        (
            vec!["--format", "xml"],
            "error: invalid value 'xml' for '--format <FORMAT>'",
        ),
        (
            vec!["--from", "2022-02-30"],
            "error: invalid value '2022-02-30' for '--from <YYYY-MM-DD>': \"2022-02-30\" is not a date like 2022-01-15",
        ),
        (
            vec!["--from", "2022-02-02", "--to", "2022-02-01"],
            "tollgate: --from 2022-02-02 is after --to 2022-02-01",
        ),
        (
            vec!["--pricing"],
            "error: a value is required for '--pricing <CONFIG.toml>' but none was supplied",
        ),
        (
            vec!["--bogus"],
            "error: unexpected argument '--bogus' found",
        ),
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
    let _logs = tollgate::log::Capture::start();
    let file = repo_path("events/tollgate.dev.toml");
    let config = common::config_with(&[
        ("TOLLGATE_CONFIG", &file.display().to_string()),
        ("REQUIRED_SCOPES", ""),
    ]);
    let authorizer = Authorizer::new(&config).expect("authorizer");
    authorizer.prefetch().await.unwrap();
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
    let cached = out.response.expect("an answer").to_value()["context"].clone();
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

/// Runs `tollgate usage-report --format json -` on `input`.
fn report_stdin(input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["usage-report", "--format", "json", "-"])
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), input).expect("write");
    child.wait_with_output().expect("wait")
}

/// A billable line for `user` at 2022-01-15 costing `micros`.
fn billable(user: &str, endpoint: &str, micros: &str) -> String {
    json!({"requestTimeEpoch": "1642240800000", "status": "200", "userId": user, "endpoint": endpoint, "costMicros": micros}).to_string()
}

#[test]
fn request_time_with_a_multibyte_zone_is_malformed_and_the_rest_billed() {
    let bad = json!({"requestTime": "15/Jan/2022:10:00:00 +0\u{e9}0", "status": "200", "userId": "1", "endpoint": "GET /x", "costMicros": "1"});
    let input = format!("{bad}\n{}\n", billable("2", "GET /y", "5"));
    let out = report_stdin(input.as_bytes());
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(
        (
            doc["lines"]["malformed"].clone(),
            doc["lines"]["billed"].clone()
        ),
        (json!(1), json!(1))
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("malformed: stdin:1: "),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn request_time_with_an_out_of_range_hour_is_malformed() {
    let bad = json!({"requestTime": "15/Jan/2022:9999999999999999:00:00 +0000", "status": "200", "userId": "1", "endpoint": "GET /x"});
    let out = report_stdin(format!("{bad}\n").as_bytes());
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["lines"]["malformed"], 1);
}

#[test]
fn cost_that_would_overflow_a_rows_sum_is_malformed_and_listed() {
    let max = i64::MAX.to_string();
    let input = format!(
        "{}\n{}\n{}\n{}\n",
        billable("1", "GET /x", &max),
        billable("1", "GET /x", &max),
        billable("1", "GET /x", &max),
        billable("1", "GET /x", "1")
    );
    let out = report_stdin(input.as_bytes());
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["lines"]["malformed"], 1);
    assert_eq!(doc["total"]["calls"], 3);
    assert_eq!(doc["total"]["costMicros"], json!(u64::MAX));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("malformed: stdin:3: costMicros"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn costs_that_would_overflow_the_total_are_malformed() {
    let max = i64::MAX.to_string();
    let input = format!(
        "{}\n{}\n{}\n",
        billable("1", "GET /x", &max),
        billable("2", "GET /y", &max),
        billable("3", "GET /z", &max)
    );
    let out = report_stdin(input.as_bytes());
    let doc: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(doc["lines"]["malformed"], 1, "the third line");
    assert_eq!(doc["total"]["costMicros"], json!(2 * (i64::MAX as u64)));
}

// A seeded property test: adversarial access-log lines never stop the report, every line is
// accounted for exactly once, and valid lines among them are still billed.

/// SplitMix64: a small seeded generator, so every run checks the same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Text that has broken parsers: multi-byte and combining characters where ASCII digits are
/// expected, extreme numbers, malformed dates and zones, quotes, controls.
const HOSTILE: &[&str] = &[
    "",
    "\n",
    "a\r\n| Total |",
    "-",
    "\u{e9}",
    "0\u{e9}0",
    "+0\u{e9}0",
    "-\u{e9}\u{e9}",
    "\u{1f600}",
    "\u{0}",
    "\u{7f}",
    "\\",
    "\"",
    " ",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999999",
    "1e308",
    "-1",
    "0",
    "200",
    "2\u{0662}0",
    "15/Jan/2022:10:00:00 +0000",
    "15/Jan/2022:10:00:00 +0\u{e9}0",
    "15/Jan/2022:10:00:00 +\u{e9}00",
    "15/Jan/2022:10:00:00 \u{2212}0200",
    "31/Feb/2022:10:00:00 +0000",
    "15/Jan/2022:99:99:99 +9999",
    "15/Jan/2022:9999999999999999999:00:00 +0000",
    "15/Jan/-999:10:00:00 +0000",
    "15/Ja\u{301}n/2022:10:00:00 +0000",
    "15/Jan/2022:10:00:00",
    "//::",
    "1642240800000",
    "GET /api/user/profile",
    "GET",
    "/api/user/\u{e9}",
    "DELETE /api/user/{id}",
    "GET /api/product/search?x=*",
    "pro",
];

const FIELDS: [&str; 11] = [
    "status",
    "requestTimeEpoch",
    "requestTime",
    "userId",
    "principalId",
    "endpoint",
    "httpMethod",
    "path",
    "resourcePath",
    "plan",
    "costMicros",
];

fn hostile_value(rng: &mut Rng) -> Value {
    match rng.below(8) {
        0 => json!(rng.next() as i64),
        1 => json!(*rng.pick(&[i64::MAX, i64::MIN, 0, -1, 200, 1_642_240_800_000])),
        2 => json!(rng.next() as f64 / 3.0),
        3 => Value::Null,
        4 => json!([rng.pick(HOSTILE)]),
        5 => json!({"a": rng.pick(HOSTILE)}),
        _ => {
            let pieces = 1 + rng.below(3);
            json!((0..pieces).map(|_| *rng.pick(HOSTILE)).collect::<String>())
        }
    }
}

fn plausible_value(rng: &mut Rng, field: &str) -> Value {
    match field {
        "status" => json!(rng.pick(&["200", "204", "403", "500"])),
        "requestTimeEpoch" => {
            json!((1_642_200_000_000 + rng.below(400_000_000) as u64).to_string())
        }
        "requestTime" => json!(format!("1{}/Jan/2022:10:00:00 +0000", rng.below(9))),
        "costMicros" => json!(rng.pick(&["0", "100000", "-", "9223372036854775807"])),
        "userId" | "principalId" => json!(rng.pick(&["123456", "789012", "-"])),
        "plan" => json!(rng.pick(&["free", "pro", "-"])),
        "httpMethod" => json!(rng.pick(&["GET", "POST", "DELETE"])),
        _ => json!(rng.pick(&["GET /api/user/profile", "/api/product/search", "-"])),
    }
}

fn adversarial_line(rng: &mut Rng) -> String {
    let mut record = serde_json::Map::new();
    for field in FIELDS {
        if rng.chance(80) {
            let value = if rng.chance(50) {
                plausible_value(rng, field)
            } else {
                hostile_value(rng)
            };
            record.insert(field.to_string(), value);
        }
    }
    let line = Value::Object(record).to_string();
    match rng.below(10) {
        // Cut at a random character boundary.
        0 => line
            .chars()
            .take(rng.below(line.chars().count() + 1))
            .collect(),
        // Raw hostile text around or instead of JSON.
        1 => format!("{}{line}{}", rng.pick(HOSTILE), rng.pick(HOSTILE)),
        2 => rng.pick(HOSTILE).to_string(),
        _ => line,
    }
}

const MARKER: &str = r#"{"requestTimeEpoch":"1642240800000","status":"200","userId":"marker","endpoint":"GET /marker","costMicros":"0"}"#;

fn check_report(text: &str, options: &tollgate::report::Options) {
    use tollgate::report::{Format, aggregate};
    let lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| ("generated", i + 1, line));
    let report = aggregate(lines, options);
    let l = &report.lines;
    let non_blank = text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    assert_eq!(l.read, non_blank, "every non-blank line is read");
    assert_eq!(
        l.read,
        l.billed + l.not_billed + l.malformed + l.outside_dates,
        "every line is counted once: {l:?}"
    );
    assert_eq!(
        report.problems.len() as u64,
        l.malformed,
        "each malformed line listed"
    );
    assert!(l.unpriced <= l.billed);
    let calls: u64 = report.rows.iter().map(|r| r.calls).sum();
    assert_eq!(calls, l.billed, "rows add up to the billed calls");
    let cost: u128 = report.rows.iter().map(|r| u128::from(r.cost_micros)).sum();
    assert!(cost <= u128::from(u64::MAX), "the total fits");
    assert_eq!(report.totals(), (calls, cost as u64));
    let markers = text.lines().filter(|line| *line == MARKER).count() as u64;
    let marker_row = report.rows.iter().find(|r| r.user_id == "marker");
    assert_eq!(
        marker_row.map_or(0, |r| r.calls),
        markers,
        "the valid lines among them are billed"
    );
    assert_eq!(
        report.render(Format::Table).lines().count(),
        report.rows.len() + 3
    );
    let csv = report.render(Format::Csv);
    assert!(csv.starts_with("User ID,API Endpoint,Date,Calls,Cost\n"));
    assert!(csv.ends_with(&format!(
        "\nTotal,,,{calls},{}\n",
        tollgate::pricing::format_micros(cost as u64)
    )));
    let doc: Value = serde_json::from_str(&report.render(Format::Json)).expect("json report");
    assert_eq!(doc["total"]["calls"], json!(l.billed));
    assert_eq!(
        report.summary().lines().count() as u64,
        1 + l.malformed,
        "the summary and one line per malformed line"
    );
}

#[test]
fn adversarial_lines_never_stop_the_report_and_every_line_is_counted() {
    let pricing =
        tollgate::config::file::pricing(&repo_path("events/tollgate.dev.toml")).expect("pricing");
    let option_sets = [
        tollgate::report::Options::default(),
        tollgate::report::Options {
            from: tollgate::report::Date::parse("2022-01-01").ok(),
            to: tollgate::report::Date::parse("2022-01-20").ok(),
            pricing: Some(pricing),
        },
    ];
    let mut rng = Rng(0x7011_6a7e);
    for round in 0..40 {
        let mut text = String::new();
        for i in 0..500 {
            text.push_str(&if i % 10 == 0 {
                MARKER.to_string()
            } else {
                adversarial_line(&mut rng)
            });
            text.push('\n');
        }
        check_report(&text, &option_sets[round % option_sets.len()]);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

#[test]
fn gzip_logs_are_read_as_they_are_even_in_several_members() {
    let seed = std::fs::read(repo_path("events/access-logs/seed.jsonl")).expect("seed");
    // CloudWatch exports write gzip files; concatenated members are one stream.
    let (first, rest) = seed.split_at(seed.len() / 2);
    let mut compressed = gzip(first);
    compressed.extend(gzip(rest));
    let dir = std::env::temp_dir().join(format!("tollgate-gz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("seed.jsonl.gz");
    std::fs::write(&file, &compressed).expect("write");
    let out = report(&[file.to_str().expect("utf-8 path")]);
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(stdout(&out), SEED_TABLE);
}

#[test]
fn a_broken_gzip_stream_is_counted_and_the_lines_before_it_billed() {
    let seed = std::fs::read(repo_path("events/access-logs/seed.jsonl")).expect("seed");
    let mut compressed = gzip(&seed);
    let cut = compressed.len() - 12;
    compressed.truncate(cut);
    let options = tollgate::report::Options::default();
    let mut aggregator = tollgate::report::Aggregator::new(&options);
    aggregator.read("cut.gz", compressed.as_slice());
    let report = aggregator.finish();
    assert_eq!(report.lines.malformed, 1, "{:?}", report.problems);
    assert!(report.problems[0].2.starts_with("unreadable: "));
    assert_eq!(
        report.lines.billed + report.lines.malformed,
        report.lines.read + 1
    );
}

#[test]
fn malformed_lines_are_listed_in_input_order_across_sources() {
    let options = tollgate::report::Options::default();
    let mut aggregator = tollgate::report::Aggregator::new(&options);
    aggregator.read("a.log", b"x\ny\n".as_slice());
    aggregator.read("b.log", b"z\n".as_slice());
    let report = aggregator.finish();
    let listed: Vec<(&str, usize)> = report
        .problems
        .iter()
        .map(|(source, line, _)| (source.as_str(), *line))
        .collect();
    assert_eq!(listed, [("a.log", 1), ("a.log", 2), ("b.log", 1)]);
}

#[test]
fn costs_that_would_overflow_the_total_are_malformed_however_long_the_log() {
    let max = i64::MAX.to_string();
    // Blank lines between the calls: more than a mebibyte of log apart.
    let gap = "\n".repeat(1_200_000);
    let input = format!(
        "{}\n{gap}{}\n{gap}{}\n",
        billable("1", "GET /x", &max),
        billable("2", "GET /y", &max),
        billable("3", "GET /z", &max)
    );
    let options = tollgate::report::Options::default();
    let mut aggregator = tollgate::report::Aggregator::new(&options);
    aggregator.read("long.log", input.as_bytes());
    let report = aggregator.finish();
    assert_eq!(report.lines.malformed, 1, "the third line");
    assert_eq!(report.problems[0].1, 2_400_003);
    assert_eq!(report.totals(), (2, 2 * (i64::MAX as u64)));
}

#[test]
fn costs_that_would_overflow_the_total_are_malformed_across_sources() {
    // The baseline checked each file's sum on its own and saturated their sum: two files whose
    // costs fit each on its own billed all three calls at u64::MAX. The total is the report's.
    let max = i64::MAX.to_string();
    let options = tollgate::report::Options::default();
    let mut aggregator = tollgate::report::Aggregator::new(&options);
    let first = format!(
        "{}\n{}\n",
        billable("1", "GET /x", &max),
        billable("2", "GET /y", &max)
    );
    aggregator.read("a.log", first.as_bytes());
    aggregator.read(
        "b.log",
        format!("{}\n", billable("3", "GET /z", &max)).as_bytes(),
    );
    let report = aggregator.finish();
    assert_eq!(report.lines.malformed, 1, "{:?}", report.problems);
    assert_eq!(
        (report.problems[0].0.as_str(), report.problems[0].1),
        ("b.log", 1)
    );
    assert_eq!(report.totals(), (2, 2 * (i64::MAX as u64)));
}

// Token-keyed logs: under the template's token-keyed cache the authorizer's context carries
// no `endpoint` and no `costMicros`, so API Gateway writes `-` (or nothing) for them, and each
// call is billed at the route API Gateway logged, for its plan, from the configuration.

/// An ordinary shop's prices: path parameters, a literal beside a parameter, `ANY` beside a
/// method, a greedy route beside a deeper literal, HTTP API `$default`, WebSocket `$connect`,
/// and plans with their own prices (the default plan among them).
const SHOP_PRICING: &str = r#"
[plans]
names = ["free", "pro", "team"]
default = "free"

[[routes]]
route = "GET /products"
price = "0.001"

[[routes]]
route = "GET /products/{id}"
price = "0.002"
prices = { pro = "0.0015" }

[[routes]]
route = "GET /products/featured"
price = "0.0005"

[[routes]]
route = "GET /products/{id}/reviews"
price = "0.003"

[[routes]]
route = "ANY /cart"
price = "0.01"
prices = { free = "0.02" }

[[routes]]
route = "GET /cart"
price = "0.005"

[[routes]]
route = "ANY /files/*"
price = "0.04"

[[routes]]
route = "GET /files/public/readme"
price = "0"

[[routes]]
route = "$default"
price = "0.000007"

[[routes]]
route = "$connect"
price = "0.000001"
"#;

/// A configuration file with `text`, in a directory of its own under the system's temp dir.
fn pricing_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "tollgate-usage-report-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("tollgate.toml");
    std::fs::write(&path, text).expect("write the pricing file");
    path
}

fn shop_options() -> tollgate::report::Options {
    let pricing = tollgate::config::file::pricing(&pricing_file("shop", SHOP_PRICING))
        .expect("the shop's pricing");
    tollgate::report::Options {
        pricing: Some(pricing),
        ..Default::default()
    }
}

/// A REST access-log line as the template's format writes it under a token-keyed cache: the
/// method called, the resource API Gateway routed it to, and `cost` for the missing context
/// fields (`-`, or an empty string).
fn token_keyed_rest_line(method: &str, resource: &str, plan: &str, cost: &str) -> String {
    json!({
        "requestId": "r", "requestTimeEpoch": "1642240800000", "httpMethod": method,
        "path": format!("/prod{}", resource.replace("{id}", "42").replace("{proxy+}", "a/b/c")),
        "resourcePath": resource, "routeKey": "-", "status": "200", "userId": "u",
        "clientId": "c", "plan": plan, "tenantId": "-", "endpoint": cost, "costMicros": cost,
    })
    .to_string()
}

/// An HTTP API (or WebSocket) access-log line as the template's format writes it under a
/// token-keyed cache: the route key API Gateway routed the call to.
fn token_keyed_route_key_line(method: &str, route_key: &str, plan: &str) -> String {
    json!({
        "requestId": "r", "requestTimeEpoch": "1642240800000", "httpMethod": method,
        "path": "/orders", "resourcePath": "-", "routeKey": route_key, "status": "200",
        "userId": "u", "clientId": "c", "plan": plan, "tenantId": "-", "endpoint": "-",
        "costMicros": "-",
    })
    .to_string()
}

/// The cost of each line billed alone.
fn costs(lines: &[String]) -> Vec<u64> {
    let options = shop_options();
    lines
        .iter()
        .map(|line| {
            let report = tollgate::report::aggregate([("log", 1, line.as_str())], &options);
            assert_eq!(
                (report.lines.billed, report.lines.unpriced),
                (1, 0),
                "{line}"
            );
            report.totals().1
        })
        .collect()
}

#[test]
fn token_keyed_rest_lines_are_billed_at_their_resource_and_method() {
    let lines: Vec<String> = [
        ("GET", "/products", "-"),
        ("GET", "/products/{id}", "-"),
        ("GET", "/products/featured", ""),
        ("GET", "/products/{id}/reviews", ""),
    ]
    .iter()
    .map(|(m, r, cost)| token_keyed_rest_line(m, r, "team", cost))
    .collect();
    assert_eq!(costs(&lines), [1_000, 2_000, 500, 3_000]);
}

#[test]
fn an_any_route_logged_with_the_method_called_is_billed_at_the_any_rules_price() {
    // REST logs `$context.httpMethod`, the method called, not the resource's ANY; a GET has
    // a method of its own beside the ANY.
    let lines: Vec<String> = ["POST", "DELETE", "PATCH", "GET"]
        .iter()
        .map(|m| token_keyed_rest_line(m, "/cart", "team", "-"))
        .collect();
    assert_eq!(costs(&lines), [10_000, 10_000, 10_000, 5_000]);
}

#[test]
fn a_greedy_resource_logged_as_proxy_plus_is_billed_at_the_greedy_rules_price() {
    let lines = [
        token_keyed_rest_line("GET", "/files/{proxy+}", "team", "-"),
        token_keyed_rest_line("PUT", "/files/{proxy+}", "team", "-"),
        token_keyed_rest_line("GET", "/files/public/readme", "team", "-"),
    ];
    assert_eq!(costs(&lines), [40_000, 40_000, 0]);
}

#[test]
fn http_api_and_websocket_route_keys_are_billed_at_their_rules_price() {
    let lines = [
        token_keyed_route_key_line("GET", "GET /products/{id}", "team"),
        token_keyed_route_key_line("POST", "ANY /cart", "team"),
        token_keyed_route_key_line("GET", "GET /cart", "team"),
        token_keyed_route_key_line("GET", "ANY /files/{proxy+}", "team"),
        token_keyed_route_key_line("GET", "$default", "team"),
        token_keyed_route_key_line("-", "$connect", "team"),
    ];
    assert_eq!(costs(&lines), [2_000, 10_000, 5_000, 40_000, 7, 1]);
}

#[test]
fn plans_with_their_own_price_pay_it_and_unknown_or_missing_plans_pay_the_default_plans() {
    let product = |plan: &str| token_keyed_rest_line("GET", "/products/{id}", plan, "-");
    let cart = |plan: &str| token_keyed_rest_line("POST", "/cart", plan, "-");
    assert_eq!(
        costs(&[
            product("pro"),
            product("free"),
            product("gold"),
            product("-")
        ]),
        [1_500, 2_000, 2_000, 2_000]
    );
    // The default plan "free" has its own price on the cart: an unknown or missing plan pays
    // it, a known plan without one ("team") the route's price.
    assert_eq!(
        costs(&[
            cart("free"),
            cart("team"),
            cart("gold"),
            cart("-"),
            cart("")
        ]),
        [20_000, 10_000, 20_000, 20_000, 20_000]
    );
}

/// `tollgate prices` through the real binary.
fn prices(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .arg("prices")
        .args(args)
        .current_dir(repo_path(""))
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .expect("run tollgate prices")
}

#[test]
fn the_price_table_lists_every_route_api_gateway_logs_per_plan() {
    let path = pricing_file("export", SHOP_PRICING);
    let out = prices(&["--pricing".as_ref(), path.as_os_str()]);
    let text = stdout(&out);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], "route,plan,price_micros");
    for row in [
        "GET /products/{id},pro,1500",
        "GET /products/{id},*,2000",
        "ANY /cart,free,20000",
        "ANY /cart,team,10000",
        "ANY /cart,*,20000",
        "POST /cart,*,20000",
        "GET /cart,*,5000",
        "ANY /files/{proxy+},*,40000",
        "HEAD /files/{proxy+},*,40000",
        "GET /files/public/readme,*,0",
        "$default,*,7",
        "$connect,*,1",
    ] {
        assert!(rows.contains(&row), "{row} missing from\n{text}");
    }
    let get_cart: Vec<&&str> = rows
        .iter()
        .filter(|r| r.starts_with("GET /cart,"))
        .collect();
    assert_eq!(
        get_cart,
        [&"GET /cart,*,5000"],
        "the GET rule's, not the ANY's"
    );
}

#[test]
fn every_price_the_table_lists_is_what_usage_report_bills() {
    let path = pricing_file("agree", SHOP_PRICING);
    let text = stdout(&prices(&["--pricing".as_ref(), path.as_os_str()]));
    let options = shop_options();
    let mut checked = 0;
    for row in text.lines().skip(1) {
        let (route, rest) = row.rsplit_once(',').map_or((row, ""), |(a, b)| (a, b));
        let (route, plan) = route.rsplit_once(',').expect("route,plan,price");
        let price: u64 = rest.parse().expect("micros");
        // `*` is every other plan: an unknown one and none at all.
        let plans: Vec<&str> = if plan == "*" {
            vec!["gold", "-"]
        } else {
            vec![plan]
        };
        for plan in plans {
            let line = match route.split_once(' ') {
                Some((method, resource)) if method != "ANY" => {
                    token_keyed_rest_line(method, resource, plan, "-")
                }
                _ => token_keyed_route_key_line("GET", route, plan),
            };
            let report = tollgate::report::aggregate([("log", 1, line.as_str())], &options);
            assert_eq!(report.totals(), (1, price), "{row} for plan {plan}");
            checked += 1;
        }
    }
    assert!(checked > 30, "{checked} rows checked");
}

#[test]
fn a_price_table_that_cannot_be_written_is_a_usage_error_naming_the_file() {
    let path = pricing_file(
        "star-plan",
        "[plans]\nnames = [\"free\", \"*\"]\ndefault = \"free\"\n",
    );
    let out = prices(&["--pricing".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!("tollgate: --pricing {}: ", path.display()))
            && stderr.contains("named \"*\""),
        "{stderr}"
    );
    let missing = prices(&["--pricing".as_ref(), "no-such.toml".as_ref()]);
    assert_eq!(missing.status.code(), Some(64));
    assert!(
        String::from_utf8_lossy(&missing.stderr)
            .starts_with("tollgate: --pricing no-such.toml: cannot read")
    );
}
