//! The report as text: a Markdown-style table, CSV, or one JSON document, each with the
//! totals. Values from the log never escape their cell: the table escapes control characters,
//! CSV quotes, and JSON is written by the crate's JSON writer.

use super::{PriceRow, Report};
use crate::pricing::format_micros;

/// A Markdown-style table with a header, a rule, a row per row and a total.
pub(super) fn table(report: &Report) -> String {
    let (calls, cost) = report.totals();
    let mut rows: Vec<[String; 5]> = vec![[
        "User ID".into(),
        "API Endpoint".into(),
        "Date".into(),
        "Calls".into(),
        "Cost".into(),
    ]];
    for r in &report.rows {
        rows.push([
            table_cell(&r.user_id),
            table_cell(&r.endpoint),
            r.date.clone(),
            r.calls.to_string(),
            format!("${}", format_micros(r.cost_micros)),
        ]);
    }
    rows.push([
        "Total".into(),
        String::new(),
        String::new(),
        calls.to_string(),
        format!("${}", format_micros(cost)),
    ]);
    let widths: Vec<usize> = (0..5)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String; 5]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!(" {cell:<w$} "))
            .collect();
        format!("|{}|\n", padded.join("|"))
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    let mut out = line(&rows[0]);
    out.push_str(&format!("|{}|\n", rule.join("|")));
    for r in &rows[1..] {
        out.push_str(&line(r));
    }
    out
}

/// Comma-separated values with a header row and a total row.
pub(super) fn csv(report: &Report) -> String {
    let (calls, cost) = report.totals();
    let mut out = String::from("User ID,API Endpoint,Date,Calls,Cost\n");
    for r in &report.rows {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            csv_field(&r.user_id),
            csv_field(&r.endpoint),
            r.date,
            r.calls,
            format_micros(r.cost_micros)
        ));
    }
    out.push_str(&format!("Total,,,{calls},{}\n", format_micros(cost)));
    out
}

/// The price table: a header, then `route,plan,price_micros` per row (micros, not a decimal
/// amount: the SQL adds them up as integers).
pub(super) fn prices_csv(rows: &[PriceRow]) -> String {
    let mut out = String::from("route,plan,price_micros\n");
    for r in rows {
        out.push_str(&format!(
            "{},{},{}\n",
            csv_field(&r.route),
            csv_field(&r.plan),
            r.price_micros
        ));
    }
    out
}

/// One JSON document: `rows`, `total` and `lines`, written from the typed rows straight to
/// text (no tree of JSON values in memory), laid out as the report has always printed it
/// (serde_json's pretty form: two-space indents, `"name": value`, `[]` for no rows), with a
/// newline after it.
pub(super) fn json(report: &Report) -> String {
    let (calls, cost) = report.totals();
    let mut out = Vec::new();
    out.extend_from_slice(b"{\n  \"rows\": [");
    for (i, r) in report.rows.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        pretty_object(
            &mut out,
            2,
            &[
                ("userId", Member::Text(&r.user_id)),
                ("endpoint", Member::Text(&r.endpoint)),
                ("date", Member::Text(&r.date)),
                ("calls", Member::Number(r.calls)),
                ("costMicros", Member::Number(r.cost_micros)),
                ("cost", Member::Text(&format_micros(r.cost_micros))),
            ],
        );
    }
    if !report.rows.is_empty() {
        out.extend_from_slice(b"\n  ");
    }
    out.extend_from_slice(b"],\n  \"total\": ");
    pretty_object(
        &mut out,
        1,
        &[
            ("calls", Member::Number(calls)),
            ("costMicros", Member::Number(cost)),
            ("cost", Member::Text(&format_micros(cost))),
        ],
    );
    let l = &report.lines;
    out.extend_from_slice(b",\n  \"lines\": ");
    pretty_object(
        &mut out,
        1,
        &[
            ("read", Member::Number(l.read)),
            ("billed", Member::Number(l.billed)),
            ("notBilled", Member::Number(l.not_billed)),
            ("malformed", Member::Number(l.malformed)),
            ("outsideDates", Member::Number(l.outside_dates)),
            ("unpriced", Member::Number(l.unpriced)),
        ],
    );
    out.extend_from_slice(b"\n}\n");
    // The writer writes `str` values and ASCII structure only: the text is UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// A member's value in the JSON report.
enum Member<'a> {
    Text(&'a str),
    Number(u64),
}

/// An object of members at `depth` (its opening brace already indented by the caller, its
/// members one level deeper), in serde_json's pretty layout.
fn pretty_object(out: &mut Vec<u8>, depth: usize, members: &[(&str, Member<'_>)]) {
    let indent = |out: &mut Vec<u8>, depth: usize| out.extend(std::iter::repeat_n(b' ', 2 * depth));
    if depth > 1 {
        indent(out, depth);
    }
    out.push(b'{');
    for (i, (name, value)) in members.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        indent(out, depth + 1);
        crate::json::string(out, name);
        out.extend_from_slice(b": ");
        match value {
            Member::Text(text) => crate::json::string(out, text),
            Member::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        }
    }
    out.push(b'\n');
    indent(out, depth);
    out.push(b'}');
}

/// A table cell with control characters escaped, so that a value from the log (a user id with
/// a newline, say) can never start a row of its own.
fn table_cell(field: &str) -> String {
    if field.chars().any(char::is_control) {
        field
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        field.to_string()
    }
}

/// A CSV field, quoted (with its quotes doubled) when it holds a comma, a quote or a newline.
fn csv_field(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_escape_control_characters() {
        assert_eq!(table_cell("a\n| Total |\r"), "a\\n| Total |\\r");
        assert_eq!(table_cell("caf\u{e9}"), "caf\u{e9}");
    }

    #[test]
    fn price_table_csv_has_a_header_and_quotes_a_route_with_a_comma() {
        let row = |route: &str| PriceRow {
            route: route.into(),
            plan: "*".into(),
            price_micros: 70_000,
        };
        assert_eq!(
            prices_csv(&[row("GET /a"), row("GET /a,b")]),
            "route,plan,price_micros\nGET /a,*,70000\n\"GET /a,b\",*,70000\n"
        );
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
    }

    #[test]
    fn json_is_laid_out_as_serde_json_pretty_prints_it() {
        // The baseline printed `serde_json::to_string_pretty` of the same document, and a
        // newline; the writer must give the same bytes, rows or none.
        let row = |user: &str| super::super::Row {
            user_id: user.into(),
            endpoint: "/x".into(),
            date: "2022-01-15".into(),
            calls: 2,
            cost_micros: 200_000,
        };
        for rows in [vec![], vec![row("u\"1\n\u{e9}")], vec![row("a"), row("b")]] {
            let report = Report {
                rows,
                ..Report::default()
            };
            assert_eq!(json(&report), pretty_in_order(&report));
        }
    }

    /// The document as the baseline wrote it: typed structs through `to_string_pretty`.
    fn pretty_in_order(report: &Report) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct JsonRow<'a> {
            user_id: &'a str,
            endpoint: &'a str,
            date: &'a str,
            calls: u64,
            cost_micros: u64,
            cost: String,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Total {
            calls: u64,
            cost_micros: u64,
            cost: String,
        }
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Lines {
            read: u64,
            billed: u64,
            not_billed: u64,
            malformed: u64,
            outside_dates: u64,
            unpriced: u64,
        }
        #[derive(serde::Serialize)]
        struct Doc<'a> {
            rows: Vec<JsonRow<'a>>,
            total: Total,
            lines: Lines,
        }
        let (calls, cost) = report.totals();
        let l = &report.lines;
        let doc = Doc {
            rows: report
                .rows
                .iter()
                .map(|r| JsonRow {
                    user_id: &r.user_id,
                    endpoint: &r.endpoint,
                    date: &r.date,
                    calls: r.calls,
                    cost_micros: r.cost_micros,
                    cost: format_micros(r.cost_micros),
                })
                .collect(),
            total: Total {
                calls,
                cost_micros: cost,
                cost: format_micros(cost),
            },
            lines: Lines {
                read: l.read,
                billed: l.billed,
                not_billed: l.not_billed,
                malformed: l.malformed,
                outside_dates: l.outside_dates,
                unpriced: l.unpriced,
            },
        };
        serde_json::to_string_pretty(&doc).unwrap() + "\n"
    }

    #[test]
    fn json_is_one_document_with_rows_total_and_lines() {
        let report = Report {
            rows: vec![super::super::Row {
                user_id: "u\"1".into(),
                endpoint: "/x".into(),
                date: "2022-01-15".into(),
                calls: 2,
                cost_micros: 200_000,
            }],
            ..Report::default()
        };
        let doc: serde_json::Value = serde_json::from_str(&json(&report)).unwrap();
        assert_eq!(
            doc,
            serde_json::json!({
                "rows": [{"userId": "u\"1", "endpoint": "/x", "date": "2022-01-15", "calls": 2, "costMicros": 200_000, "cost": "0.20"}],
                "total": {"calls": 2, "costMicros": 200_000, "cost": "0.20"},
                "lines": {"read": 0, "billed": 0, "notBilled": 0, "malformed": 0, "outsideDates": 0, "unpriced": 0}
            })
        );
    }
}
