//! The local command line: run one event through the same handler Lambda uses.
//!
//! `tollgate invoke EVENT.json` (or `-` for stdin) prints the exact response JSON, or for a
//! failed invocation the error object the Lambda runtime would report, and exits with the
//! decision: 0 allowed, 1 denied (403), 2 unauthorized (401), 3 error (500), 64 bad usage or
//! configuration.

use std::io::Read;
use std::process::ExitCode;

use std::path::Path;

use crate::config::Config;
use crate::handler::Authorizer;
use crate::report::{self, Date, Format, Options};

/// Exit status for bad usage or configuration (BSD `EX_USAGE`).
pub const EXIT_USAGE: u8 = 64;

const USAGE: &str = "\
tollgate: AWS Lambda custom authorizer for API Gateway

usage:
  tollgate invoke EVENT.json     run one authorizer event locally ('-' reads stdin)
  tollgate usage-report [FILES... | -] [--pricing CONFIG] [--format table|csv|json]
                        [--from YYYY-MM-DD] [--to YYYY-MM-DD]
                                 cost per user, endpoint and date from API Gateway access
                                 logs (JSON lines; stdin when no file is given)
  tollgate --version

With AWS_LAMBDA_RUNTIME_API set and no arguments, tollgate serves the Lambda runtime.
Configuration comes from the environment: JWT_ISSUER, JWT_AUDIENCE, JWKS_URI (see README).
Exit status of invoke: 0 allow, 1 deny (403), 2 unauthorized (401), 3 error (500),
64 bad usage or configuration.
";

/// Runs the CLI with the arguments after the program name.
pub async fn run(args: Vec<String>) -> ExitCode {
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["invoke", path] => invoke(path).await,
        ["usage-report", ref rest @ ..] => usage_report(rest),
        ["--version"] | ["version"] => {
            println!("tollgate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        ["--help"] | ["-h"] | ["help"] => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage_error("expected `invoke EVENT.json` or `usage-report [FILES...]`"),
    }
}

fn usage_error(problem: &str) -> ExitCode {
    eprintln!("tollgate: {problem}\n\n{USAGE}");
    ExitCode::from(EXIT_USAGE)
}

async fn invoke(path: &str) -> ExitCode {
    let event = match read_event(path) {
        Ok(bytes) => bytes,
        Err(e) => return usage_error(&e),
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tollgate: configuration error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let authorizer = match Authorizer::new(&config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tollgate: configuration error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    authorizer.prefetch().await;
    let outcome = authorizer.handle(&event, None).await;
    let printed = match &outcome.response {
        Ok(value) => serde_json::to_string_pretty(value),
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

fn read_event(path: &str) -> Result<Vec<u8>, String> {
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

fn usage_report(args: &[&str]) -> ExitCode {
    let mut files: Vec<&str> = Vec::new();
    let mut options = Options::default();
    let mut format = Format::Table;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |flag: &str| {
            args.next()
                .copied()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let step: Result<(), String> = match *arg {
            "--format" => value("--format")
                .and_then(Format::parse)
                .map(|f| format = f),
            "--from" => value("--from")
                .and_then(Date::parse)
                .map(|d| options.from = Some(d)),
            "--to" => value("--to")
                .and_then(Date::parse)
                .map(|d| options.to = Some(d)),
            "--pricing" => value("--pricing").and_then(|path| {
                crate::config::file::pricing(Path::new(path))
                    .map(|pricing| options.pricing = Some(pricing))
                    .map_err(|e| e.to_string())
            }),
            flag if flag.starts_with("--") => Err(format!("unknown option {flag}")),
            file => {
                files.push(file);
                Ok(())
            }
        };
        if let Err(problem) = step {
            return usage_error(&problem);
        }
    }
    if options
        .from
        .zip(options.to)
        .is_some_and(|(from, to)| from > to)
    {
        return usage_error("--from is after --to");
    }
    if files.is_empty() {
        files.push("-");
    }
    // Every file is opened first, so that a missing one is a usage error before any output;
    // then each is read line by line (gzip or plain), never whole.
    let mut inputs: Vec<(String, Box<dyn std::io::Read>)> = Vec::new();
    for file in files {
        if file == "-" {
            inputs.push(("stdin".to_string(), Box::new(std::io::stdin().lock())));
            continue;
        }
        match std::fs::File::open(file) {
            Ok(handle) => inputs.push((file.to_string(), Box::new(handle))),
            Err(e) => return usage_error(&format!("cannot read {file}: {e}")),
        }
    }
    let mut aggregator = report::Aggregator::new(&options);
    for (source, input) in inputs {
        aggregator.read(&source, input);
    }
    let report = aggregator.finish();
    print!("{}", report.render(format));
    eprint!("{}", report.summary());
    ExitCode::SUCCESS
}
