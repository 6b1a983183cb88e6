//! The README's `serve` quick start, run as written: the `serve` line starts the real binary
//! (on a free port rather than 3000, and with its access log in a scratch directory), each
//! `curl` line runs in `bash` and must answer the status its comment names, the
//! `usage-report` line must print the bill its comment names, and Ctrl-C (SIGINT) must stop the
//! server with exit status 0.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::repo_path;

/// The README's shell blocks, as lists of lines.
fn shell_blocks() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(repo_path("README.md")).expect("README.md");
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in readme.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None if line == "```sh" => current = Some(Vec::new()),
                None => {}
            }
            continue;
        }
        if let Some(block) = current.as_mut() {
            block.push(line.to_string());
        }
    }
    blocks
}

/// `env $(grep -v '^#' events/dev.env) NAME=value ... cargo run --quiet -- ARGS`: the
/// environment and the arguments.
fn parse_serve_line(line: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (before, args) = line
        .split_once("cargo run --quiet -- ")
        .expect("a cargo run line");
    let mut env: Vec<(String, String)> = Vec::new();
    if before.contains("events/dev.env") {
        let text = std::fs::read_to_string(repo_path("events/dev.env")).unwrap();
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some((k, v)) = l.split_once('=') {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    for word in before.split_whitespace() {
        if let Some((k, v)) = word.split_once('=')
            && k.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        {
            env.push((k.to_string(), v.to_string()));
        }
    }
    (env, args.split_whitespace().map(str::to_string).collect())
}

struct Serving {
    child: Child,
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_readme_serve_quick_start_works_as_written() {
    let blocks = shell_blocks();
    let serve_line = blocks
        .iter()
        .flatten()
        .find(|l| l.contains("cargo run --quiet -- serve"))
        .expect("the README starts serve")
        .clone();
    let calls = blocks
        .iter()
        .find(|b| b.iter().any(|l| l.contains("curl")))
        .expect("the README's curl block")
        .clone();
    let scratch = std::env::temp_dir().join(format!("tollgate-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let log = scratch.join("tollgate-access.jsonl");
    let _ = std::fs::remove_file(&log);

    let (env, mut args) = parse_serve_line(&serve_line);
    args.extend(["--listen".into(), "127.0.0.1:0".into()]);
    args.extend(["--access-log".into(), log.display().to_string()]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(&args)
        .current_dir(repo_path(""))
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tollgate serve");
    let stderr = child.stderr.take().unwrap();
    let mut serving = Serving { child };
    let mut lines = BufReader::new(stderr).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("serve stopped before listening")
            .unwrap();
        if let Some(rest) = line.strip_prefix("tollgate serve: listening on http://") {
            break rest.trim().to_string();
        }
    };
    // Keep reading stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});

    let mut shell_prefix = String::new();
    let mut curls = 0;
    for line in &calls {
        let line = line.replace("127.0.0.1:3000", &address);
        if line.starts_with("TOKEN=") {
            shell_prefix = format!("{line}; ");
            continue;
        }
        let expected: Option<&str> = line.split_once("# ").map(|(_, c)| c.trim());
        if line.contains("curl ") {
            let out = Command::new("bash")
                .arg("-c")
                .arg(format!("{shell_prefix}{line}"))
                .current_dir(repo_path(""))
                .output()
                .expect("bash");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let status = text
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            let expected = expected.expect("each curl line names its status");
            assert!(expected.starts_with(&status), "{line}\n{text}");
            if expected.contains("cache: hit") {
                assert!(
                    text.contains("x-tollgate-authorizer-cache: hit"),
                    "{line}\n{text}"
                );
            }
            curls += 1;
        } else if line.contains("-- usage-report") {
            let command = line
                .split(" #")
                .next()
                .unwrap_or_default()
                .replace("tollgate-access.jsonl", &log.display().to_string());
            let (_, report_args) = parse_serve_line(&command);
            let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
                .args(&report_args)
                .current_dir(repo_path(""))
                .env_clear()
                .output()
                .expect("usage-report");
            let table = String::from_utf8_lossy(&out.stdout).into_owned();
            assert_eq!(out.status.code(), Some(0));
            let bill = expected.and_then(|e| e.split_whitespace().find(|w| w.starts_with('$')));
            let bill = bill.expect("the usage-report line names the bill");
            assert!(
                table.lines().any(|l| l.contains("123456")
                    && l.contains("/api/user/profile")
                    && l.contains(bill)),
                "{table}"
            );
        }
    }
    assert!(curls >= 4, "only {curls} curl lines");

    let pid = serving.child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success());
    let status = serving.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "Ctrl-C stops serve cleanly");
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn the_development_token_file_holds_the_development_access_token() {
    let text = std::fs::read_to_string(repo_path("events/dev-token.txt")).unwrap();
    assert_eq!(text, common::fixtures::dev_token_text());
}
