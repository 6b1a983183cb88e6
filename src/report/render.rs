//! The report as text: a Markdown-style table, CSV, or one JSON document, each with the
//! totals. Values from the log never escape their cell: the table escapes control characters,
//! CSV quotes, and JSON is written by the crate's JSON writer.

use super::Report;
use crate::json::Object;
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

/// One JSON document on one line: `rows`, `total` and `lines`, written from the typed rows
/// straight to text (no tree of JSON values in memory).
pub(super) fn json(report: &Report) -> String {
    let (calls, cost) = report.totals();
    let mut out = Vec::new();
    let mut doc = Object::open(&mut out);
    let rows = doc.key("rows");
    rows.push(b'[');
    for (i, r) in report.rows.iter().enumerate() {
        if i > 0 {
            rows.push(b',');
        }
        Object::open(rows)
            .string("userId", &r.user_id)
            .string("endpoint", &r.endpoint)
            .string("date", &r.date)
            .number("calls", r.calls)
            .number("costMicros", r.cost_micros)
            .string("cost", &format_micros(r.cost_micros))
            .close();
    }
    rows.push(b']');
    Object::open(doc.key("total"))
        .number("calls", calls)
        .number("costMicros", cost)
        .string("cost", &format_micros(cost))
        .close();
    let l = &report.lines;
    Object::open(doc.key("lines"))
        .number("read", l.read)
        .number("billed", l.billed)
        .number("notBilled", l.not_billed)
        .number("malformed", l.malformed)
        .number("outsideDates", l.outside_dates)
        .number("unpriced", l.unpriced)
        .close();
    doc.close();
    out.push(b'\n');
    // The writer writes `str` values and ASCII structure only: the text is UTF-8.
    String::from_utf8(out).unwrap_or_default()
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
    fn csv_quotes_fields_with_commas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("plain"), "plain");
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
