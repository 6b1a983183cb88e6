//! The command line as people use it: every subcommand answers `--help`, and a mistake is a
//! usage error (exit 64) that says in words what is wrong and names the argument at fault.

use crate::common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;
use common::repo_path;
use tollgate::cli::Cli;

/// Runs `tollgate ARGS` in the repository with `stdin` as its input and an empty environment.
fn tollgate(args: &[&str], stdin: &[u8]) -> Output {
    tollgate_with(args, stdin, Vec::new())
}

/// Runs `tollgate ARGS` with `stdin` as its input and only `env` in its environment.
fn tollgate_with(args: &[&str], stdin: &[u8], env: Vec<(&str, String)>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(repo_path(""))
        .env_clear()
        .envs(env)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate");
    if let Some(mut input) = child.stdin.take() {
        // A command that exits before reading its input closes the pipe: not a failure here.
        let _ = input.write_all(stdin);
    }
    child.wait_with_output().expect("run tollgate")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every subcommand the CLI defines, `serve` and later ones included as they come.
fn subcommands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn tollgate_help_lists_every_subcommand_and_the_exit_statuses() {
    let out = tollgate(&["--help"], b"");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let help = stdout(&out);
    assert!(
        help.starts_with("tollgate: an AWS Lambda custom authorizer"),
        "{help}"
    );
    for sub in subcommands() {
        assert!(
            help.contains(&format!("  {sub} ")),
            "{sub} missing from:\n{help}"
        );
    }
    assert!(help.contains("64  bad usage or configuration"), "{help}");
    assert_eq!(stderr(&out), "");
}

#[test]
fn every_subcommand_answers_help_without_reading_its_input() {
    let names = subcommands();
    assert!(names.contains(&"invoke".to_string()) && names.contains(&"usage-report".to_string()));
    for sub in names {
        for help in [
            vec![sub.as_str(), "--help"],
            vec![sub.as_str(), "-h"],
            vec!["help", sub.as_str()],
        ] {
            let out = tollgate(&help, b"not read");
            assert_eq!(out.status.code(), Some(0), "{help:?}: {}", stderr(&out));
            assert!(
                stdout(&out).contains(&format!("Usage: tollgate {sub}")),
                "{help:?}: {}",
                stdout(&out)
            );
        }
    }
}

#[test]
fn invoke_help_names_the_exit_statuses_and_the_configuration() {
    let help = stdout(&tollgate(&["invoke", "--help"], b""));
    for needle in [
        "2   unauthorized (401)",
        "JWT_ISSUER",
        "events/dev.env",
        "`-` reads it from stdin",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

#[test]
fn version_is_the_crate_version() {
    let out = tollgate(&["--version"], b"");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout(&out),
        format!("tollgate {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn no_arguments_outside_lambda_is_a_usage_error_with_the_usage() {
    let out = tollgate(&[], b"");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("Usage: tollgate <COMMAND>"),
        "{}",
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");
}

#[test]
fn unknown_subcommand_is_a_usage_error_naming_it() {
    let out = tollgate(&["frobnicate"], b"");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).starts_with("error: unrecognized subcommand 'frobnicate'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invoke_without_an_event_is_a_usage_error_naming_the_argument() {
    let out = tollgate(&["invoke"], b"");
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("<EVENT.json>"), "{}", stderr(&out));
}

#[test]
fn invoke_of_a_file_that_is_not_json_is_a_usage_error_in_words() {
    let out = tollgate(&["invoke", "README.md"], b"");
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        stderr(&out),
        "tollgate: README.md is not JSON: expected value at line 1 column 1\n"
    );
    assert_eq!(stdout(&out), "", "no response for a non-event");
}

#[test]
fn invoke_of_empty_stdin_is_a_usage_error_in_words() {
    for input in [&b""[..], b"  \n\t"] {
        let out = tollgate(&["invoke", "-"], input);
        assert_eq!(out.status.code(), Some(64));
        assert_eq!(
            stderr(&out),
            "tollgate: stdin is empty: expected one authorizer event (JSON)\n"
        );
    }
}

#[test]
fn invoke_of_truncated_json_says_where_it_stops() {
    let out = tollgate(&["invoke", "-"], br#"{"type": "TOKEN", "#);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).starts_with("tollgate: stdin is not JSON: EOF while parsing"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invoke_of_json_that_is_no_authorizer_event_is_still_a_500() {
    // Valid JSON is the handler's to judge: an unknown shape is an Error decision (exit 3).
    for event in [&b"[]"[..], b"42", br#"{"hello": "world"}"#] {
        let out = tollgate_with(&["invoke", "-"], event, common::dev_env());
        assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
        assert!(
            stderr(&out).contains(r#""reason":"unknown_event""#),
            "{}",
            stderr(&out)
        );
    }
}

/// Runs `tollgate ARGS` with only `env`, its standard output a pipe whose reader has already
/// gone (what `tollgate ... | head` becomes once `head` has read enough).
fn tollgate_into_a_closed_pipe(args: &[&str], env: Vec<(&str, String)>) -> Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .current_dir(repo_path(""))
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("run tollgate")
}

#[test]
fn invoke_into_a_closed_pipe_ends_quietly_with_the_decisions_status() {
    let out = tollgate_into_a_closed_pipe(
        &["invoke", "events/rest-token.allow.json"],
        common::dev_env(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(r#""decision":"allow""#),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_report_into_a_closed_pipe_ends_quietly_and_still_gives_its_summary() {
    let out = tollgate_into_a_closed_pipe(
        &["usage-report", "events/access-logs/seed.jsonl"],
        Vec::new(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert!(!stderr(&out).is_empty(), "the summary goes to stderr");
}

#[test]
fn missing_pricing_file_names_the_flag() {
    let out = tollgate(
        &[
            "usage-report",
            "--pricing",
            "nope.toml",
            "events/access-logs/seed.jsonl",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).starts_with("tollgate: --pricing nope.toml: cannot read: "),
        "{}",
        stderr(&out)
    );
    assert!(
        !stderr(&out).contains("TOLLGATE_CONFIG"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn invalid_pricing_file_names_the_flag_and_the_problem() {
    let out = tollgate(
        &[
            "usage-report",
            "--pricing",
            "events/dev.env",
            "events/access-logs/seed.jsonl",
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).starts_with("tollgate: --pricing events/dev.env: "),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unknown_format_is_a_usage_error_listing_the_formats() {
    let out = tollgate(&["usage-report", "--format", "xml"], b"");
    assert_eq!(out.status.code(), Some(64));
    let err = stderr(&out);
    assert!(
        err.contains("invalid value 'xml' for '--format <FORMAT>'"),
        "{err}"
    );
    assert!(err.contains("[possible values: table, csv, json]"), "{err}");
}

#[test]
fn bad_dates_name_their_flag() {
    let out = tollgate(&["usage-report", "--from", "2022-13-01"], b"");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("invalid value '2022-13-01' for '--from <YYYY-MM-DD>'"),
        "{}",
        stderr(&out)
    );
    let out = tollgate(
        &["usage-report", "--from", "2022-02-01", "--to", "2022-01-01"],
        b"",
    );
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        stderr(&out),
        "tollgate: --from 2022-02-01 is after --to 2022-01-01\n"
    );
}

#[test]
fn unreadable_access_log_is_a_usage_error_naming_the_file() {
    let out = tollgate(&["usage-report", "events/access-logs/nope.jsonl"], b"");
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).starts_with("tollgate: cannot read events/access-logs/nope.jsonl: "),
        "{}",
        stderr(&out)
    );
}

/// Every `cargo run --quiet -- ...` line of the README's shell examples runs as written and
/// succeeds (with `events/dev.env` where the line sources it); a line reading a file that an
/// earlier line of its block writes (`> access.jsonl`, from AWS) is left out, and so is the
/// `serve` quick start (a server, and the log it writes), which `tests/suite/serve_quickstart.rs`
/// runs as written.
#[test]
fn readme_examples_run_as_written() {
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README.md");
    let mut in_sh = false;
    let mut written: Vec<String> = Vec::new();
    let mut ran = 0;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_sh = line == "```sh";
            written.clear();
            continue;
        }
        if !in_sh {
            continue;
        }
        if let Some((_, file)) = line.rsplit_once("> ") {
            written.push(file.trim().to_string());
        }
        let Some((before, command)) = line.split_once("cargo run --quiet -- ") else {
            continue;
        };
        let command = command.split(" #").next().unwrap_or_default();
        let args: Vec<&str> = command.split_whitespace().collect();
        if args.iter().any(|a| written.iter().any(|w| w == a))
            || args.first() == Some(&"serve")
            || args.contains(&"tollgate-access.jsonl")
        {
            continue;
        }
        let env = if before.contains("events/dev.env") {
            common::dev_env()
        } else {
            Vec::new()
        };
        let out = tollgate_with(&args, b"", env);
        assert_eq!(
            out.status.code(),
            Some(0),
            "README: {line}\n{}",
            stderr(&out)
        );
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} README examples found");
}

#[test]
fn cargo_run_is_the_command_line_although_the_package_has_two_binaries() {
    // The README's commands are `cargo run --quiet -- ...`: with `tollgate-lambda` beside
    // `tollgate`, cargo refuses to guess unless the manifest names the default.
    let manifest = std::fs::read_to_string(repo_path("Cargo.toml")).unwrap();
    let manifest: toml::Table = manifest.parse().unwrap();
    assert_eq!(
        manifest["package"]["default-run"].as_str(),
        Some("tollgate")
    );
}

#[test]
fn serve_refuses_a_route_table_api_gateway_could_not_have() {
    // serve declares its routes to be the whole table: a path written two ways is two REST
    // resources to nobody, and stops it before it listens.
    let dir = std::env::temp_dir().join(format!("tollgate-cli-table-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let file = dir.join("tollgate.toml");
    std::fs::write(
        &file,
        "[[routes]]\nroute = \"GET /pets/{id}\"\n[[routes]]\nroute = \"DELETE /pets/{petId}\"\n",
    )
    .expect("the file");
    let mut env = common::dev_env();
    env.push(("TOLLGATE_CONFIG", file.display().to_string()));
    let out = tollgate_with(&["serve", "--listen", "127.0.0.1:0"], b"", env);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("name one path two ways"),
        "{}",
        stderr(&out)
    );
}
