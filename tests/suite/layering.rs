//! The arrows of the house: configuration sits at the edge, so no step of the request's flow
//! imports `config`, and the modules form no import cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Modules that may import `config`: the front ends, the wiring, and `config` itself.
const MAY_IMPORT_CONFIG: [&str; 5] = ["config", "handler", "lambda", "cli", "main"];

/// Each module of `src/` and the crate modules its non-test code names (`crate::NAME`).
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut texts: BTreeMap<String, String> = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if path.is_dir() {
            let mut text = String::new();
            for file in std::fs::read_dir(&path).unwrap() {
                text += &std::fs::read_to_string(file.unwrap().path()).unwrap();
            }
            texts.insert(name, text);
        } else if name != "lib" {
            texts.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    texts
        .iter()
        .map(|(name, text)| {
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            let mut deps = BTreeSet::new();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let dep: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if modules.contains(&dep) && &dep != name {
                        deps.insert(dep);
                    }
                }
            }
            (name.clone(), deps)
        })
        .collect()
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

#[test]
fn modules_form_no_import_cycle() {
    let graph = imports();
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
    assert!(
        remaining.is_empty(),
        "modules on an import cycle, or importing one: {:?}",
        remaining.keys().collect::<Vec<_>>()
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
