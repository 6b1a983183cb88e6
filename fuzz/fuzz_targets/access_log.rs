//! Fuzzes `tollgate usage-report` on access-log lines: any bytes, read the way the CLI reads a
//! file (lossy UTF-8, split into lines), aggregated with and without pricing and a date range.
//! The oracle: never a panic, and the counts add up: every non-blank line is read once and is
//! billed, not billed, outside the dates or malformed (and then listed); the rows add up to the
//! billed calls; the total cost fits; the table has one line per row (no value can start a row
//! of its own) and every format renders.
#![no_main]

use std::path::Path;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tollgate::pricing::format_micros;
use tollgate::report::{Date, Format, Options, aggregate};

static OPTIONS: LazyLock<[Options; 2]> = LazyLock::new(|| {
    let pricing = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/tollgate.dev.toml");
    [
        Options::default(),
        Options {
            from: Date::parse("2022-01-01").ok(),
            to: Date::parse("2022-01-31").ok(),
            pricing: Some(tollgate::config::file::pricing(&pricing).expect("pricing")),
        },
    ]
});

fuzz_target!(|data: &[u8]| {
    let Some((choice, bytes)) = data.split_first() else {
        return;
    };
    let options = &OPTIONS[usize::from(choice & 1)];
    let text = String::from_utf8_lossy(bytes);
    let report = aggregate(
        text.lines()
            .enumerate()
            .map(|(i, line)| ("fuzz", i + 1, line)),
        options,
    );
    let l = &report.lines;
    let non_blank = text.lines().filter(|line| !line.trim().is_empty()).count() as u64;
    assert_eq!(l.read, non_blank, "every non-blank line is read");
    assert_eq!(
        l.read,
        l.billed + l.not_billed + l.malformed + l.outside_dates,
        "every line is counted once: {l:?}"
    );
    assert_eq!(report.problems.len() as u64, l.malformed);
    assert!(l.unpriced <= l.billed);
    let calls: u64 = report.rows.iter().map(|r| r.calls).sum();
    assert_eq!(calls, l.billed, "rows add up to the billed calls");
    let cost: u128 = report.rows.iter().map(|r| u128::from(r.cost_micros)).sum();
    let cost = u64::try_from(cost).expect("the total cost fits in u64");
    assert_eq!(report.totals(), (calls, cost));
    assert_eq!(
        report.render(Format::Table).lines().count(),
        report.rows.len() + 3
    );
    let csv = report.render(Format::Csv);
    assert!(csv.starts_with("User ID,API Endpoint,Date,Calls,Cost\n"));
    assert!(csv.ends_with(&format!("\nTotal,,,{calls},{}\n", format_micros(cost))));
    assert!(report.render(Format::Json).starts_with('{'));
    assert_eq!(report.summary().lines().count() as u64, 1 + l.malformed);
});
