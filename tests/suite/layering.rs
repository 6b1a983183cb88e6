//! The arrows of the house: configuration sits at the edge, so no step of the request's flow
//! imports `config`, and the modules form no import cycle. Rooms (a module that is a directory)
//! are read file by file, each without its tests; the JWKS room also keeps its own arrows: it
//! imports no later step, only its cache drives the gate and the fetcher, and its files form
//! no cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules that may import `config`: the front ends, the wiring, and `config` itself.
const MAY_IMPORT_CONFIG: [&str; 5] = ["config", "handler", "lambda", "cli", "main"];

/// Modules that the JWKS room (`src/jwks/`) must not import: it hands keys to verification
/// and knows nothing of the steps after it, nor of the configuration.
const JWKS_ROOM_MAY_NOT_IMPORT: [&str; 6] =
    ["verify", "handler", "config", "access", "decision", "serve"];

/// A source file's non-test code, without comment lines.
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The names in `known` that `code` reaches through `prefix` (`crate::NAME`, `super::NAME`).
fn named(code: &str, prefix: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let mut deps = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        let dep: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if known.contains(&dep) {
            deps.insert(dep);
        }
    }
    deps
}

/// The modules of `src/`: each a file, or a directory whose files are read together.
fn modules() -> BTreeMap<String, Vec<std::path::PathBuf>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let files = std::fs::read_dir(&path)
                .unwrap()
                .map(|file| file.unwrap().path())
                .filter(|file| file.extension().is_some_and(|ext| ext == "rs"))
                .collect();
            modules.insert(name, files);
        } else if name != "lib" {
            modules.insert(name, vec![path]);
        }
    }
    modules
}

/// Each module of `src/` and the crate modules its non-test code names (`crate::NAME`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    modules
        .iter()
        .map(|(name, files)| {
            let mut deps = BTreeSet::new();
            for file in files {
                deps.extend(named(&code_of(file), "crate::", &known));
            }
            deps.remove(name);
            (name.clone(), deps)
        })
        .collect()
}

/// Each file of a room (`src/NAME/`) and what its non-test code names: the crate's modules
/// (`crate::NAME`) and the room's own files (`super::NAME`).
fn room_imports(room: &str) -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let files = &modules[room];
    let siblings: BTreeSet<String> = files
        .iter()
        .map(|f| f.file_stem().unwrap().to_string_lossy().to_string())
        .filter(|name| name != "mod")
        .collect();
    files
        .iter()
        .map(|file| {
            let name = file.file_stem().unwrap().to_string_lossy().to_string();
            let code = code_of(file);
            let mut deps = named(&code, "crate::", &known);
            deps.extend(named(&code, "super::", &siblings));
            if name == "mod" {
                deps.extend(
                    siblings
                        .iter()
                        .filter(|s| code.contains(&format!("mod {s};")))
                        .cloned(),
                );
            }
            deps.remove(&name);
            (name, deps)
        })
        .collect()
}

/// Whatever of `graph` lies on an import cycle or above one (empty when there is none).
fn on_a_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    // Kahn's algorithm: whatever cannot be peeled off leaf-first lies on a cycle or above one.
    let mut remaining = graph.clone();
    loop {
        let leaves: Vec<String> = remaining
            .iter()
            .filter(|(_, deps)| deps.iter().all(|d| !remaining.contains_key(d)))
            .map(|(name, _)| name.clone())
            .collect();
        if leaves.is_empty() {
            break;
        }
        for leaf in leaves {
            remaining.remove(&leaf);
        }
    }
    remaining.into_keys().collect()
}

#[test]
fn no_step_imports_config() {
    let offenders: Vec<String> = imports()
        .into_iter()
        .filter(|(name, deps)| {
            deps.contains("config") && !MAY_IMPORT_CONFIG.contains(&name.as_str())
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "steps importing config: {offenders:?}"
    );
}

/// Modules that may import `report`: the usage report is a command of the command line, never
/// part of the authorizer's path.
const MAY_IMPORT_REPORT: [&str; 2] = ["cli", "main"];

#[test]
fn only_the_command_line_imports_the_report() {
    let offenders: Vec<String> = imports()
        .into_iter()
        .filter(|(name, deps)| {
            deps.contains("report") && !MAY_IMPORT_REPORT.contains(&name.as_str())
        })
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "modules importing report: {offenders:?}"
    );
}

#[test]
fn modules_form_no_import_cycle() {
    let remaining = on_a_cycle(&imports());
    assert!(
        remaining.is_empty(),
        "modules on an import cycle, or importing one: {remaining:?}"
    );
}

#[test]
fn the_jwks_room_imports_no_later_step_and_no_configuration() {
    let room = room_imports("jwks");
    assert!(
        ["mod", "key_set", "seed", "fetch", "gate", "cache"]
            .iter()
            .all(|file| room.contains_key(*file)),
        "the room's files: {:?}",
        room.keys().collect::<Vec<_>>()
    );
    let offenders: Vec<(String, String)> = room
        .iter()
        .flat_map(|(file, deps)| {
            deps.iter()
                .filter(|dep| JWKS_ROOM_MAY_NOT_IMPORT.contains(&dep.as_str()))
                .map(move |dep| (file.clone(), dep.clone()))
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "jwks files importing later steps: {offenders:?}"
    );
}

#[test]
fn only_the_jwks_cache_uses_the_gate_and_the_fetcher_and_the_room_has_no_cycle() {
    let room = room_imports("jwks");
    for inner in ["gate", "fetch"] {
        let users: Vec<&String> = room
            .iter()
            .filter(|(file, deps)| *file != "mod" && deps.contains(inner))
            .map(|(file, _)| file)
            .collect();
        let allowed: &[&str] = if inner == "fetch" {
            &["cache", "gate"]
        } else {
            &["cache"]
        };
        assert!(
            users.iter().all(|user| allowed.contains(&user.as_str())),
            "{inner} used by {users:?}"
        );
    }
    // `mod` declares every file and re-exports their types: the files among themselves.
    let mut inside = room.clone();
    inside.remove("mod");
    let remaining = on_a_cycle(&inside);
    assert!(
        remaining.is_empty(),
        "jwks files on an import cycle: {remaining:?}"
    );
}

/// Modules that may import `serve`: the local API Gateway is started by the command line only;
/// no step of the Lambda flow depends on it (and the Lambda binary leaves it out).
const MAY_IMPORT_SERVE: [&str; 1] = ["cli"];

#[test]
fn only_the_command_line_imports_serve() {
    let offenders: Vec<String> = imports()
        .into_iter()
        .filter(|(name, deps)| deps.contains("serve") && !MAY_IMPORT_SERVE.contains(&name.as_str()))
        .map(|(name, _)| name)
        .collect();
    assert!(
        offenders.is_empty(),
        "modules importing serve: {offenders:?}"
    );
}

#[test]
fn the_iam_evaluator_depends_on_nothing_but_the_glob() {
    // Both the access step and `tollgate serve` evaluate policies with `iam`: it must stay a
    // leaf of theirs, never reach back into either side.
    let graph = imports();
    let deps = graph.get("iam").cloned().unwrap_or_default();
    assert!(deps.iter().all(|d| d == "routes"), "iam imports {deps:?}");
}

#[test]
fn the_route_table_depends_on_nothing_but_the_route_patterns() {
    // `serve` routes requests by it and the exactness prover decides declared tables by it:
    // one routing for both, which neither side may bend.
    let graph = imports();
    assert!(
        graph.contains_key("route_table"),
        "the graph reads route_table"
    );
    let deps = graph.get("route_table").cloned().unwrap_or_default();
    assert!(
        deps.iter().all(|d| d == "routes"),
        "route_table imports {deps:?}"
    );
}

#[test]
fn the_prover_knows_only_patterns_and_routing_not_the_steps_that_use_it() {
    let graph = imports();
    assert!(
        graph.contains_key("exactness"),
        "the graph reads the exactness room"
    );
    let deps = graph.get("exactness").cloned().unwrap_or_default();
    assert!(
        deps.iter().all(|d| d == "routes" || d == "route_table"),
        "exactness imports {deps:?}"
    );
}

#[test]
fn the_bounded_cache_depends_on_nothing_but_the_clock() {
    // Serve's result cache, the verified tokens and the access memos share it: it knows
    // nothing of what they keep.
    let graph = imports();
    let deps = graph.get("bounded_cache").cloned().unwrap_or_default();
    assert!(
        deps.iter().all(|d| d == "clock"),
        "bounded_cache imports {deps:?}"
    );
}

#[test]
fn the_lambda_path_reaches_neither_the_command_line_nor_serve_nor_the_report() {
    // The deployed binary is `lambda::main` alone: whatever `lambda` reaches, directly or
    // through other modules, is what a cold start carries.
    let graph = imports();
    let mut reached = BTreeSet::new();
    let mut next = vec!["lambda".to_string()];
    while let Some(module) = next.pop() {
        for dep in graph.get(&module).cloned().unwrap_or_default() {
            if reached.insert(dep.clone()) {
                next.push(dep);
            }
        }
    }
    let front_ends: Vec<&String> = reached
        .iter()
        .filter(|m| ["cli", "serve", "report"].contains(&m.as_str()))
        .collect();
    assert!(
        front_ends.is_empty(),
        "the Lambda path reaches {front_ends:?}"
    );
    assert!(
        reached.contains("handler"),
        "the Lambda path lost the handler"
    );
}

#[test]
fn the_aws_room_knows_only_the_http_client_and_the_http_client_knows_nothing() {
    // DynamoDB is reached through tollgate's one reqwest client; neither knows who calls them.
    let graph = imports();
    assert!(graph.contains_key("aws"), "the graph reads the aws room");
    let deps = graph.get("aws").cloned().unwrap_or_default();
    assert!(deps.iter().all(|d| d == "http"), "aws imports {deps:?}");
    let deps = graph.get("http").cloned().unwrap_or_default();
    assert!(deps.is_empty(), "http imports {deps:?}");
}

#[test]
fn the_revocation_room_knows_no_configuration_and_no_later_step() {
    // It refuses verified tokens: it may know the table, the clock, the reasons and the log
    // lines, not how it is configured nor what happens to the token next.
    let graph = imports();
    assert!(
        graph.contains_key("revocation"),
        "the graph reads the revocation room"
    );
    let deps = graph.get("revocation").cloned().unwrap_or_default();
    let allowed = ["aws", "clock", "errors", "log", "metrics"];
    assert!(
        deps.iter().all(|d| allowed.contains(&d.as_str())),
        "revocation imports {deps:?}"
    );
}
