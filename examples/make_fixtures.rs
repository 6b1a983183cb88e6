//! Writes `events/`: the development JWKS, the development configuration and one fixture per
//! event shape and failure case, all signed with the DEVELOPMENT keys in `events/dev-keys/`
//! (`tests/suite/common/fixtures.rs` says what each holds).
//!
//! Run from the repository root: `cargo run --example make_fixtures`. A fixture whose content
//! is unchanged is left as it is, and so is one that differs only by a randomized ES256
//! signature that still verifies: a run that changes nothing leaves `git status` clean.

#[path = "../tests/suite/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::ExitCode;

use common::fixtures;
use serde_json::Value;

/// Writes `text` to `path` unless it is already there; says which.
fn write_text(path: &Path, text: &str, unchanged: impl Fn(&str) -> bool) -> Result<(), String> {
    if let Ok(existing) = std::fs::read_to_string(path)
        && (existing == text || unchanged(&existing))
    {
        println!("unchanged {}", path.display());
        return Ok(());
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

fn write_all() -> Result<(), String> {
    let env_path = common::repo_path("events/dev.env");
    write_text(&env_path, &fixtures::dev_env_text(), |_| false)?;
    let token_path = common::repo_path("events/dev-token.txt");
    write_text(&token_path, &fixtures::dev_token_text(), |_| false)?;
    for (name, value) in fixtures::all() {
        let path = common::repo_path(&format!("events/{name}"));
        let text = serde_json::to_string_pretty(&value)
            .map_err(|e| format!("{name}: cannot encode: {e}"))?
            + "\n";
        write_text(&path, &text, |existing| {
            serde_json::from_str::<Value>(existing)
                .is_ok_and(|old| fixtures::equivalent(&old, &value))
        })?;
    }
    Ok(())
}

fn main() -> ExitCode {
    match write_all() {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("make_fixtures: {problem}");
            ExitCode::FAILURE
        }
    }
}
