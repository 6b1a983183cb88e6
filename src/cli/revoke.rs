//! `tollgate revoke` and `tollgate revocations`: write an entry to the revocation table, and
//! list the live ones. AWS credentials and region come from the standard chain (the
//! environment, then the shared files' profile); the table from `--table` or
//! `TOLLGATE_REVOCATION_TABLE`.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{print_out, usage_error};
use crate::aws::{AwsSettings, DynamoDb};
use crate::clock::{Clock, format_rfc3339, parse_rfc3339};
use crate::http;
use crate::json;
use crate::revocation::{Entry, Kind, Table, table};

/// The longest an entry may live: a token valid for longer than a year is not one to revoke
/// by list.
const MAX_LIFETIME_SECONDS: u64 = 366 * 86_400;

/// The most entries `tollgate revocations` reads.
const MAX_LISTED: usize = 10_000_000;

/// Arguments of `tollgate revoke`: exactly one of what to revoke, and when the entry expires.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(false))]
#[command(group = clap::ArgGroup::new("expiry").required(true).multiple(false))]
pub struct RevokeArgs {
    /// One token, by its `jti`.
    #[arg(long, group = "what", value_name = "JTI")]
    pub jti: Option<String>,
    /// Every token issued from one Cognito refresh token, by their `origin_jti`.
    #[arg(long, group = "what", value_name = "ORIGIN_JTI")]
    pub origin_jti: Option<String>,
    /// A user's tokens issued before --issued-before (default: now), by `sub`.
    #[arg(long, group = "what", value_name = "SUB")]
    pub sub: Option<String>,
    /// Every token signed with one key, by `kid` (needs --issuer).
    #[arg(long, group = "what", value_name = "KID", requires = "issuer")]
    pub kid: Option<String>,
    /// The issuer the entry applies to (exact `iss`); without it, every issuer.
    #[arg(long, value_name = "ISS")]
    pub issuer: Option<String>,
    /// With --sub: refuse tokens issued before this RFC 3339 time (default: now, rounded up
    /// to the second).
    #[arg(long, value_name = "TIME", requires = "sub", value_parser = parse_time)]
    pub issued_before: Option<u64>,
    /// The entry expires this long from now (`90s`, `15m`, `12h`, `30d`): when no token it
    /// refuses is still valid (the tokens' lifetime, e.g. Cognito's access token validity).
    #[arg(long, group = "expiry", value_name = "DURATION", value_parser = parse_duration)]
    pub expires_in: Option<Duration>,
    /// The entry expires at this RFC 3339 time (e.g. the revoked token's `exp`).
    #[arg(long, group = "expiry", value_name = "TIME", value_parser = parse_time)]
    pub expires_at: Option<u64>,
    /// The revocation table (default: TOLLGATE_REVOCATION_TABLE).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
}

/// How `tollgate revocations` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// One JSON object per entry, one per line.
    Json,
}

/// Arguments of `tollgate revocations`.
#[derive(Debug, Args)]
pub struct RevocationsArgs {
    /// The revocation table (default: TOLLGATE_REVOCATION_TABLE).
    #[arg(long, value_name = "TABLE")]
    pub table: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
}

/// `90s`, `15m`, `12h`, `30d` (a whole number and a unit).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("not a duration like 90s, 15m, 12h or 30d".into()),
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n.saturating_mul(unit_seconds))),
        _ => Err("not a duration like 90s, 15m, 12h or 30d".into()),
    }
}

/// An RFC 3339 time, as Unix seconds.
fn parse_time(text: &str) -> Result<u64, String> {
    parse_rfc3339(text)
        .and_then(|t| u64::try_from(t).ok())
        .ok_or_else(|| "not an RFC 3339 time like 2026-12-02T17:00:00Z".into())
}

/// The table and a client for it, from the flags and the environment.
fn open_table(table: Option<&str>) -> Result<Table, String> {
    let name = table
        .map(str::to_string)
        .or_else(|| std::env::var("TOLLGATE_REVOCATION_TABLE").ok())
        .filter(|t| !t.trim().is_empty())
        .ok_or("no table: give --table or set TOLLGATE_REVOCATION_TABLE")?;
    if !table::valid_table_name(name.trim()) {
        return Err(
            "the table is not a DynamoDB table name (3 to 255 of A-Z a-z 0-9 _ - .)".into(),
        );
    }
    let aws = AwsSettings::from_lookup(&|name: &str| std::env::var(name).ok())
        .map_err(|e| format!("{}: {e}", e.setting()))?;
    let client =
        http::client(Duration::from_secs(5), Duration::from_secs(30)).map_err(|e| e.to_string())?;
    Ok(Table::new(
        DynamoDb::new(client, aws, Duration::from_secs(30)),
        name.trim(),
    ))
}

/// `tollgate revoke`: writes one entry; exit 0 when it is stored.
pub async fn revoke(args: &RevokeArgs) -> ExitCode {
    let clock = Clock::default();
    let now_ms = clock.unix_millis();
    let now = now_ms / 1000;
    let (kind, value) = match (&args.jti, &args.origin_jti, &args.sub, &args.kid) {
        (Some(v), ..) => (Kind::Jti, v),
        (_, Some(v), ..) => (Kind::OriginJti, v),
        (_, _, Some(v), _) => (Kind::Subject, v),
        (.., Some(v)) => (Kind::Key, v),
        // clap requires one of the group.
        _ => return usage_error("give one of --jti, --origin-jti, --sub, --kid"),
    };
    if args.issued_before.is_some() && kind != Kind::Subject {
        return usage_error("--issued-before applies only to --sub");
    }
    let expires_at = match (args.expires_in, args.expires_at) {
        (Some(d), _) => now.saturating_add(d.as_secs()),
        (_, Some(at)) => at,
        _ => return usage_error("give --expires-in or --expires-at"),
    };
    if expires_at <= now {
        return usage_error("--expires-at is in the past: no token it could refuse is valid");
    }
    if expires_at - now > MAX_LIFETIME_SECONDS {
        return usage_error("the entry would live longer than 366 days");
    }
    if let Some(issuer) = &args.issuer
        && !(issuer.starts_with("https://") || issuer.starts_with("http://"))
    {
        return usage_error("--issuer is not an http(s) URL: give the tokens' exact iss");
    }
    let entry = Entry {
        kind,
        value: value.clone(),
        issuer: args.issuer.clone(),
        issued_before: (kind == Kind::Subject)
            .then(|| args.issued_before.unwrap_or(now_ms.div_ceil(1000))),
        revoked_at_ms: now_ms,
        expires_at,
    };
    if let Err(problem) = table::check_entry(&entry) {
        return usage_error(&problem.to_string());
    }
    let table = match open_table(args.table.as_deref()) {
        Ok(table) => table,
        Err(problem) => return usage_error(&problem),
    };
    match table.put(&entry).await {
        Ok(key) => {
            let line = format!(
                "revoked {kind} in {} (entry {key}, expires {})\n",
                table.name(),
                format_rfc3339(expires_at as i64)
            );
            match print_out(&line) {
                Ok(()) => ExitCode::SUCCESS,
                Err(code) => code,
            }
        }
        Err(e) => {
            eprintln!("tollgate: cannot revoke: {e}");
            ExitCode::from(3)
        }
    }
}

/// `tollgate revocations`: every live entry, oldest first.
pub async fn revocations(args: &RevocationsArgs) -> ExitCode {
    let table = match open_table(args.table.as_deref()) {
        Ok(table) => table,
        Err(problem) => return usage_error(&problem),
    };
    let now = Clock::default().unix_seconds();
    let entries = match table.read("0", now, MAX_LISTED).await {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("tollgate: cannot list revocations: {e}");
            return ExitCode::from(3);
        }
    };
    let mut out = String::new();
    match args.format {
        ListFormat::Json => {
            for (key, e) in &entries {
                let mut line = Vec::new();
                let mut object = json::Object::open(&mut line);
                object
                    .string("key", key)
                    .string("kind", e.kind.code())
                    .string("value", &e.value);
                if let Some(issuer) = &e.issuer {
                    object.string("issuer", issuer);
                }
                if let Some(cut_off) = e.issued_before {
                    object.string("issued_before", &format_rfc3339(cut_off as i64));
                }
                object
                    .string(
                        "revoked_at",
                        &format_rfc3339((e.revoked_at_ms / 1000) as i64),
                    )
                    .string("expires_at", &format_rfc3339(e.expires_at as i64));
                object.close();
                out.push_str(&String::from_utf8_lossy(&line));
                out.push('\n');
            }
        }
        ListFormat::Table => {
            let rows: Vec<[String; 6]> = entries
                .iter()
                .map(|(_, e)| {
                    [
                        format_rfc3339((e.revoked_at_ms / 1000) as i64),
                        e.kind.code().to_string(),
                        e.value.clone(),
                        e.issuer.clone().unwrap_or_else(|| "*".into()),
                        e.issued_before
                            .map(|t| format_rfc3339(t as i64))
                            .unwrap_or_else(|| "-".into()),
                        format_rfc3339(e.expires_at as i64),
                    ]
                })
                .collect();
            let header = [
                "revoked_at",
                "kind",
                "value",
                "issuer",
                "issued_before",
                "expires_at",
            ]
            .map(String::from);
            let mut widths = header.clone().map(|h| h.len());
            for row in &rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(shown(cell).chars().count());
                }
            }
            for row in std::iter::once(&header).chain(&rows) {
                let cells: Vec<String> = row
                    .iter()
                    .zip(widths)
                    .map(|(cell, w)| format!("{:<w$}", shown(cell)))
                    .collect();
                out.push_str(cells.join("  ").trim_end());
                out.push('\n');
            }
            out.push_str(&format!("{} live entries\n", rows.len()));
        }
    }
    match print_out(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

/// A table cell as printed: control characters (a terminal's escapes) shown as U+FFFD.
fn shown(cell: &str) -> String {
    cell.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_a_unit() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(2_592_000)));
        for bad in ["", "10", "0s", "h", "1.5h", "-1h", "1w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?}");
        }
    }
}
