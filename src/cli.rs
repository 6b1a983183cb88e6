//! The local command line, on clap: run one event through the same handler Lambda uses, and
//! turn access logs into the cost table.
//!
//! `tollgate invoke EVENT.json` (or `-` for stdin) prints the exact response JSON, or for a
//! failed invocation the error object the Lambda runtime would report, and exits with the
//! decision: 0 allowed, 1 denied (403), 2 unauthorized (401), 3 error (500), 64 bad usage or
//! configuration. Every subcommand answers `--help`; a usage error names the argument at fault
//! and exits 64 (never clap's own 2, which is `invoke`'s 401).
//!
//! Each subcommand is one variant of [`Command`] with its own argument struct and function, so
//! a new one (`serve`) is a variant, a struct and a function.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::handler::Authorizer;
use crate::report::{self, Date, Format, Options};

/// Exit status for bad usage or configuration (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

const EXIT_STATUS: &str = "\
Exit status:
  0   allowed
  1   denied (403)
  2   unauthorized (401)
  3   error (500: tollgate cannot decide, or not an authorizer event)
  64  bad usage or configuration (an unreadable or non-JSON EVENT, a bad setting)";

const CONFIGURATION: &str = "\
Configuration comes from the environment, as in Lambda: JWT_ISSUER, JWT_AUDIENCE, JWKS_URI,
TOLLGATE_CONFIG (a TOML file with route rules, prices and plans) and the rest in the README.
The fixtures' development configuration: env $(grep -v '^#' events/dev.env) tollgate invoke ...";

/// tollgate: an AWS Lambda custom authorizer for API Gateway.
///
/// Verifies JWTs, answers with an IAM policy or an HTTP API simple response, and
/// attributes each call's cost. With AWS_LAMBDA_RUNTIME_API set and no arguments (as in
/// Lambda) it serves the Lambda runtime; otherwise it is this command line.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, verbatim_doc_comment, after_help = EXIT_STATUS)]
#[command(arg_required_else_help = true, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one authorizer event through the handler and print the response API Gateway gets.
    #[command(after_help = format!("{EXIT_STATUS}\n\n{CONFIGURATION}"))]
    Invoke(InvokeArgs),
    /// Cost per user, endpoint and date from API Gateway access logs (JSON lines).
    UsageReport(UsageReportArgs),
}

/// Arguments of `tollgate invoke`.
#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// The event, as API Gateway sends it (JSON); `-` reads it from stdin.
    #[arg(value_name = "EVENT.json")]
    pub event: String,
}

/// Arguments of `tollgate usage-report`.
#[derive(Debug, Args)]
pub struct UsageReportArgs {
    /// Access-log files (one JSON object per line); `-` or none reads stdin.
    #[arg(value_name = "FILES")]
    pub files: Vec<String>,
    /// A tollgate configuration file: its route prices and plans price the calls logged
    /// without a cost of their own route
    #[arg(long, value_name = "CONFIG.toml")]
    pub pricing: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// Only calls on or after this UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = Date::parse)]
    pub from: Option<Date>,
    /// Only calls on or before this UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = Date::parse)]
    pub to: Option<Date>,
}

/// `usage-report --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A Markdown table, as in the README.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON document: rows, total and line counts.
    Json,
}

impl From<OutputFormat> for Format {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
        }
    }
}

/// Runs the CLI with the arguments after the program name.
pub async fn run(args: Vec<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(std::iter::once("tollgate".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    match cli.command {
        Command::Invoke(args) => invoke(&args).await,
        Command::UsageReport(args) => usage_report(&args),
    }
}

/// `--help` and `--version` exit 0 on stdout; every other parse error is a usage error (64)
/// on stderr, in clap's words, which name the argument at fault.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
        _ => ExitCode::from(EXIT_USAGE),
    }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("tollgate: {problem}");
    ExitCode::from(EXIT_USAGE)
}

async fn invoke(args: &InvokeArgs) -> ExitCode {
    let event = match read_event(&args.event) {
        Ok(bytes) => bytes,
        Err(problem) => return usage_error(&problem),
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    let authorizer = match Authorizer::new(&config) {
        Ok(a) => a,
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    authorizer.prefetch().await;
    let outcome = authorizer.handle(&event, None).await;
    let printed = match &outcome.response {
        Ok(response) => serde_json::to_string_pretty(&response.to_value()),
        Err(failure) => serde_json::to_string_pretty(failure),
    };
    match printed {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("tollgate: cannot print the response: {e}");
            return ExitCode::from(3);
        }
    }
    ExitCode::from(outcome.decision.exit_code())
}

/// Reads the event and checks that it is one JSON value: an empty or non-JSON input is the
/// caller's mistake (a usage error, in words), not an event for the handler to refuse.
fn read_event(path: &str) -> Result<Vec<u8>, String> {
    let bytes = read_input(path)?;
    let name = shown(path);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(format!(
            "{name} is empty: expected one authorizer event (JSON)"
        ));
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map_err(|e| format!("{name} is not JSON: {e}"))?;
    Ok(bytes)
}

fn read_input(path: &str) -> Result<Vec<u8>, String> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
    }
}

fn shown(path: &str) -> String {
    if path == "-" {
        "stdin".to_string()
    } else {
        path.to_string()
    }
}

fn usage_report(args: &UsageReportArgs) -> ExitCode {
    let mut options = Options {
        from: args.from,
        to: args.to,
        ..Options::default()
    };
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from > to
    {
        return usage_error(&format!("--from {from} is after --to {to}"));
    }
    if let Some(path) = &args.pricing {
        match crate::config::file::pricing(path) {
            Ok(pricing) => options.pricing = Some(pricing),
            // The problem starts with the file's name: `--pricing nope.toml: cannot read: ...`.
            Err(e) => return usage_error(&format!("--pricing {}", e.problem)),
        }
    }
    let files: Vec<&str> = if args.files.is_empty() {
        vec!["-"]
    } else {
        args.files.iter().map(String::as_str).collect()
    };
    // Every file is opened first, so that a missing one is a usage error before any output;
    // then each is read line by line (gzip or plain), never whole.
    let mut inputs: Vec<(String, Box<dyn std::io::Read>)> = Vec::new();
    for file in files {
        if file == "-" {
            inputs.push((shown(file), Box::new(std::io::stdin().lock())));
            continue;
        }
        match std::fs::File::open(file) {
            Ok(handle) => inputs.push((shown(file), Box::new(handle))),
            Err(e) => return usage_error(&format!("cannot read {file}: {e}")),
        }
    }
    let mut aggregator = report::Aggregator::new(&options);
    for (source, input) in inputs {
        aggregator.read(&source, input);
    }
    let report = aggregator.finish();
    print!("{}", report.render(args.format.into()));
    eprint!("{}", report.summary());
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn every_subcommand_has_help() {
        for sub in Cli::command().get_subcommands() {
            assert!(sub.get_about().is_some(), "{} has no help", sub.get_name());
        }
    }

    #[test]
    fn format_names_are_table_csv_and_json() {
        let names: Vec<String> = OutputFormat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(names, ["table", "csv", "json"]);
    }
}
