//! The local command line, on clap: run one event through the same handler Lambda uses, turn
//! access logs into the cost table, and export the price table the at-scale SQL joins.
//!
//! `tollgate invoke EVENT.json` (or `-` for stdin) prints the exact response JSON, or for a
//! failed invocation the error object the Lambda runtime would report, and exits with the
//! decision: 0 allowed, 1 denied (403), 2 unauthorized (401), 3 error (500), 64 bad usage or
//! configuration. Every subcommand answers `--help`; a usage error names the argument at fault
//! and exits 64 (never clap's own 2, which is `invoke`'s 401).
//!
//! Each subcommand is one variant of [`Command`] with its own argument struct and function, so
//! a new one (`serve`) is a variant, a struct and a function.

use std::fmt;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser, Subcommand};

mod revoke;

pub use revoke::{ListFormat, RevocationsArgs, RevokeArgs};

use crate::access::RouteTableSetting;
use crate::config::Config;
use crate::handler::Authorizer;
use crate::report::{self, Date, Format, Options};
use crate::serve::{self, Api, AuthorizerKind, IdentitySource, IdentitySourceError, Server};

/// Exit status for bad usage or configuration (BSD `EX_USAGE`), the same as Lambda mode's for a
/// configuration that stops init.
pub const EXIT_USAGE: u8 = crate::lambda::EXIT_CONFIGURATION;

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
    /// The price of every route API Gateway logs, per plan, as CSV (route,plan,price_micros):
    /// the table the README's Athena SQL joins to bill calls logged without a cost.
    #[command(after_help = PRICES_HELP)]
    Prices(PricesArgs),
    /// API Gateway on your laptop: real HTTP in, the authorizer event, its cache, IAM
    /// evaluation, the upstream call and an access log, on this same authorizer.
    #[command(after_help = SERVE_HELP)]
    Serve(ServeArgs),
    /// Revoke a token (--jti), a Cognito token family (--origin-jti), a user's tokens issued
    /// before now (--sub) or a signing key (--kid --issuer), until the entry expires.
    #[command(after_help = REVOKE_HELP)]
    Revoke(RevokeArgs),
    /// List the live entries of the revocation table.
    Revocations(RevocationsArgs),
}

const REVOKE_HELP: &str = "\
The entry goes to the DynamoDB table TOLLGATE_REVOCATION_TABLE (or --table), with AWS
credentials and region from the environment (AWS_ACCESS_KEY_ID, AWS_REGION, ...) or the
shared files' profile (AWS_PROFILE). Every authorizer refuses the token within its refresh
interval (TOLLGATE_REVOCATION_REFRESH_SECONDS, 5 s by default) plus API Gateway's authorizer
cache TTL. Exit status: 0 stored, 3 DynamoDB refused or could not be reached, 64 bad usage.";

const SERVE_HELP: &str = "\
Every answer carries x-tollgate-authorizer-cache: hit or miss. Allowed requests reach the
upstream with the authorizer context as x-authorizer-<key> headers; without --upstream a
built-in echo backend answers 200 with the route and the context. Ctrl-C stops the server
after the requests in flight.

Configuration comes from the environment, as in Lambda (JWT_ISSUER, JWT_AUDIENCE, JWKS_URI,
TOLLGATE_CONFIG, ...). The development configuration:
  env $(grep -v '^#' events/dev.env) TOLLGATE_CONFIG=events/tollgate.dev.toml tollgate serve

Exit status: 0 after Ctrl-C, 64 bad usage or configuration (a port already taken included).";

const PRICES_HELP: &str = "\
One row per route as API Gateway logs it (REST: the method called and the resource path;
HTTP API and WebSocket: the route key; an ANY rule as ANY and as each method) and per plan
with a price of its own there; the plan * is every other plan (and calls logged with none).
Prices are those usage-report --pricing gives, in micros.

Exit status: 0, 64 bad usage or configuration.";

/// Arguments of `tollgate prices`.
#[derive(Debug, Args)]
pub struct PricesArgs {
    /// The tollgate configuration file whose route prices and plans to export.
    #[arg(long, value_name = "CONFIG.toml")]
    pub pricing: PathBuf,
}

/// Arguments of `tollgate serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, value_name = "ADDR:PORT", default_value = serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// Base URL of the backend allowed requests go to (default: the built-in echo backend).
    #[arg(long, value_name = "URL", value_parser = parse_upstream)]
    pub upstream: Option<reqwest::Url>,
    /// The kind of API.
    #[arg(long, value_enum, default_value_t = Api::Rest)]
    pub api: Api,
    /// The kind of Lambda authorizer (HTTP APIs: request, payload 2.0).
    #[arg(long, value_enum, default_value_t = AuthorizerKind::Request)]
    pub authorizer: AuthorizerKind,
    /// An identity source, repeatable, in the API's notation (REST:
    /// method.request.header.NAME, method.request.querystring.NAME, context.httpMethod,
    /// context.resourcePath; HTTP: $request.header.NAME, $request.querystring.NAME,
    /// $context.httpMethod, $context.routeKey). Default: the template's (the Authorization
    /// header and, for REQUEST authorizers, the route).
    #[arg(long = "identity-source", value_name = "SOURCE")]
    pub identity_sources: Vec<String>,
    /// Seconds an authorizer answer is cached (0 disables the cache; at most 3600).
    #[arg(long, value_name = "SECONDS", default_value_t = serve::DEFAULT_CACHE_TTL_SECONDS,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub cache_ttl: u64,
    /// The access-log file (appended to), in the template's format for the API.
    #[arg(long, value_name = "FILE", default_value = serve::DEFAULT_ACCESS_LOG)]
    pub access_log: PathBuf,
    /// The stage name (default: prod for REST, $default for HTTP).
    #[arg(long, value_name = "NAME")]
    pub stage: Option<String>,
    /// Largest request body accepted, in bytes (API Gateway's limit is 10 MB).
    #[arg(long, value_name = "BYTES", default_value_t = serve::DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// An origin browsers may call from (scheme://host[:port], or `*`), repeatable; REST APIs
    /// allow one. Default: TOLLGATE_CORS_ALLOW_ORIGINS, the file's [cors] allow_origins, else
    /// the template's CorsAllowOrigin (http://localhost:8080).
    #[arg(long = "cors-allow-origin", value_name = "ORIGIN", value_parser = parse_cors_origin)]
    pub cors_allow_origins: Vec<String>,
}

fn parse_cors_origin(text: &str) -> Result<String, crate::cors::OriginError> {
    crate::cors::parse_origin(text)
}

/// Why `--upstream` was refused.
#[derive(Debug)]
pub enum UpstreamArgError {
    /// Not a URL at all.
    NotUrl(<reqwest::Url as std::str::FromStr>::Err),
    /// Neither `http://` nor `https://`.
    NotHttp,
    /// A query or a fragment, where a base URL is expected.
    NotBase,
}

impl fmt::Display for UpstreamArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UpstreamArgError::NotUrl(e) => write!(f, "not a URL: {e}"),
            UpstreamArgError::NotHttp => {
                f.write_str("the upstream must be an http:// or https:// URL")
            }
            UpstreamArgError::NotBase => {
                f.write_str("the upstream is a base URL: no query or fragment")
            }
        }
    }
}

impl std::error::Error for UpstreamArgError {}

fn parse_upstream(text: &str) -> Result<reqwest::Url, UpstreamArgError> {
    let url = reqwest::Url::parse(text).map_err(UpstreamArgError::NotUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UpstreamArgError::NotHttp);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(UpstreamArgError::NotBase);
    }
    Ok(url)
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
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Only calls on or after this UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = Date::parse)]
    pub from: Option<Date>,
    /// Only calls on or before this UTC date.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = Date::parse)]
    pub to: Option<Date>,
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
        Command::Prices(args) => prices(&args),
        Command::Serve(args) => serve_command(args).await,
        Command::Revoke(args) => revoke::revoke(&args).await,
        Command::Revocations(args) => revoke::revocations(&args).await,
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

/// Writes a command's output to standard output (`print!` would panic where this does not).
/// A reader that has gone (`tollgate invoke ... | head`) ends the output, not the command:
/// its status stays what the command decided. Any other write error is said on stderr and is
/// status 3.
fn print_out(text: &str) -> Result<(), ExitCode> {
    write_output(&mut std::io::stdout().lock(), "output", text)
}

/// Writes a command's summary to standard error, as [`print_out`] writes its output.
fn print_err(text: &str) -> Result<(), ExitCode> {
    write_output(&mut std::io::stderr().lock(), "summary", text)
}

fn write_output(stream: &mut impl Write, what: &str, text: &str) -> Result<(), ExitCode> {
    match stream
        .write_all(text.as_bytes())
        .and_then(|()| stream.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => {
            eprintln!("tollgate: cannot write the {what}: {e}");
            Err(ExitCode::from(3))
        }
    }
}

async fn invoke(args: &InvokeArgs) -> ExitCode {
    let event = match read_event(&args.event) {
        Ok(bytes) => bytes,
        Err(problem) => return usage_error(&problem.to_string()),
    };
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    let authorizer = match Authorizer::new(&config) {
        Ok(a) => a,
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    if let Err(e) = authorizer.prefetch().await {
        return usage_error(&format!("revocation list: {e}"));
    }
    let outcome = authorizer.handle(&event, None).await;
    let printed = match &outcome.response {
        Ok(response) => serde_json::to_string_pretty(&response.to_value()),
        Err(failure) => serde_json::to_string_pretty(failure),
    };
    let text = match printed {
        Ok(text) => text,
        Err(e) => {
            eprintln!("tollgate: cannot print the response: {e}");
            return ExitCode::from(3);
        }
    };
    match print_out(&format!("{text}\n")) {
        Ok(()) => ExitCode::from(outcome.decision.exit_code()),
        Err(code) => code,
    }
}

/// Why `invoke`'s event could not be used: a usage error (exit 64).
#[derive(Debug)]
pub enum EventInputError {
    /// Standard input could not be read.
    Stdin(std::io::Error),
    /// The file could not be read.
    File {
        /// The path as given.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing but blanks.
    Empty {
        /// The input, as shown (`stdin` or the path).
        name: String,
    },
    /// Not one JSON value.
    NotJson {
        /// The input, as shown (`stdin` or the path).
        name: String,
        /// Why.
        source: serde_json::Error,
    },
}

impl fmt::Display for EventInputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventInputError::Stdin(e) => write!(f, "cannot read stdin: {e}"),
            EventInputError::File { path, source } => write!(f, "cannot read {path}: {source}"),
            EventInputError::Empty { name } => {
                write!(f, "{name} is empty: expected one authorizer event (JSON)")
            }
            EventInputError::NotJson { name, source } => write!(f, "{name} is not JSON: {source}"),
        }
    }
}

impl std::error::Error for EventInputError {}

/// Reads the event and checks that it is one JSON value: an empty or non-JSON input is the
/// caller's mistake (a usage error, in words), not an event for the handler to refuse.
fn read_event(path: &str) -> Result<Vec<u8>, EventInputError> {
    let bytes = read_input(path)?;
    let name = shown(path);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(EventInputError::Empty { name });
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
        .map_err(|source| EventInputError::NotJson { name, source })?;
    Ok(bytes)
}

fn read_input(path: &str) -> Result<Vec<u8>, EventInputError> {
    if path == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(EventInputError::Stdin)?;
        Ok(bytes)
    } else {
        std::fs::read(path).map_err(|source| EventInputError::File {
            path: path.to_string(),
            source,
        })
    }
}

fn shown(path: &str) -> String {
    if path == "-" {
        "stdin".to_string()
    } else {
        path.to_string()
    }
}

/// A `--identity-source` that is not one in the API's notation.
#[derive(Debug)]
pub struct IdentitySourceArgError(pub IdentitySourceError);

impl fmt::Display for IdentitySourceArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "--identity-source {}", self.0)
    }
}

impl std::error::Error for IdentitySourceArgError {}

/// The serve settings from the flags and the authorizer's configuration.
pub fn serve_settings(
    args: ServeArgs,
    config: &Config,
) -> Result<serve::Settings, IdentitySourceArgError> {
    let (api, authorizer) = (args.api, args.authorizer);
    let identity_sources = if args.identity_sources.is_empty() {
        IdentitySource::template_defaults(api, authorizer)
    } else {
        args.identity_sources
            .iter()
            .map(|s| IdentitySource::parse(s, api).map_err(IdentitySourceArgError))
            .collect::<Result<_, _>>()?
    };
    Ok(serve::Settings {
        listen: args.listen,
        upstream: args.upstream,
        api,
        authorizer,
        identity_sources,
        cache_ttl: std::time::Duration::from_secs(args.cache_ttl),
        access_log: args.access_log,
        stage: args
            .stage
            .unwrap_or_else(|| api.default_stage().to_string()),
        routes: config.routes.iter().map(|r| r.pattern.clone()).collect(),
        max_body_bytes: args.max_body_bytes,
        simple_responses: config.http_api_simple_responses,
        cors: if args.cors_allow_origins.is_empty() {
            config.cors.clone()
        } else {
            // Each was checked by its parser, so none is refused here.
            crate::cors::CorsSettings::new(&args.cors_allow_origins)
                .unwrap_or_else(|_| config.cors.clone())
        },
    })
}

async fn serve_command(args: ServeArgs) -> ExitCode {
    let mut config = match Config::from_env() {
        Ok(config) => config,
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    let settings = match serve_settings(args, &config) {
        Ok(settings) => settings,
        Err(problem) => return usage_error(&problem.to_string()),
    };
    // tollgate must know how the cache is keyed: an undeclared scope follows the emulated
    // identity sources, as the template declares it; a declared one must be safe under them.
    match config.authorizer_cache {
        Some(declared) => {
            if let Err(problem) = serve::settings::check_declared_scope(declared, &settings) {
                return usage_error(&problem.to_string());
            }
        }
        None => config.authorizer_cache = Some(serve::settings::cache_scope_of(&settings)),
    }
    if let Err(problem) =
        serve::settings::check_token_sources(config.token_sources.as_deref(), &settings)
    {
        return usage_error(&problem.to_string());
    }
    // serve's routes are the rules: its route table is declared by construction, so a
    // token-keyed cache gets one exact policy per caller, as the template's API does.
    if !config.routes.is_empty() {
        config.route_table = RouteTableSetting::Declared;
        if let Err(e) = config.check_route_table() {
            return usage_error(&format!("configuration error: {e}"));
        }
    }
    let scope = config.cache_scope();
    let authorizer = match Authorizer::new(&config) {
        Ok(a) => std::sync::Arc::new(a),
        Err(e) => return usage_error(&format!("configuration error: {e}")),
    };
    if let Err(e) = authorizer.prefetch().await {
        return usage_error(&format!("revocation list: {e}"));
    }
    let banner = serve::banner(
        &settings,
        scope,
        authorizer.revocations().map(|r| r.settings().refresh),
    );
    let server = match Server::bind(settings, authorizer).await {
        Ok(server) => server,
        Err(e) => return usage_error(&e.to_string()),
    };
    let address = match server.local_addr() {
        Ok(address) => address,
        Err(e) => return usage_error(&e.to_string()),
    };
    eprintln!("tollgate serve: listening on http://{address}\n{banner}");
    for route in server.gateway().route_keys() {
        eprintln!("  route {route}");
    }
    match server.run(serve::shutdown_signal()).await {
        Ok(()) => {
            eprintln!("tollgate serve: stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tollgate serve: {e}");
            ExitCode::from(3)
        }
    }
}

fn prices(args: &PricesArgs) -> ExitCode {
    let pricing = match crate::config::file::pricing(&args.pricing) {
        Ok(pricing) => pricing,
        // The problem starts with the file's name, as usage-report's does.
        Err(e) => return usage_error(&format!("--pricing {}", e.problem)),
    };
    match report::price_rows(&pricing) {
        Ok(rows) => match print_out(&report::prices_csv(&rows)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Err(e) => usage_error(&format!("--pricing {}: {e}", args.pricing.display())),
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
    match print_out(&report.render(args.format)).and_then(|()| print_err(&report.summary())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, ValueEnum};

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
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value())
            .map(|v| v.get_name().to_string())
            .collect();
        assert_eq!(names, ["table", "csv", "json"]);
    }
}
