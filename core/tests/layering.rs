//! The layering of docs/architecture.md, checked against the source: dependencies point
//! inward. Pure modules (`model`, `analysis`, `dataset`, `policy`) reach no store, ledger,
//! MCP client, job machinery, I/O format or facade; the fronts (`http`, the CLI) reach the
//! library only through the facade (`service`) and the plain types (`model`), and never
//! the store behind the handle.
//!
//! Doc comments, comments and `#[cfg(test)]` modules are not code paths and are skipped.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)
            .expect("readable source dir")
            .flatten()
        {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The lines of `file` that are code: comments dropped, and everything from a
/// `#[cfg(test)]` item on (test modules sit at the end of a file in this crate).
fn code_lines(file: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(file).expect("readable source");
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        let code = match t.find("//") {
            Some(at) if !t[..at].contains('"') => &t[..at],
            _ => t,
        };
        out.push((i + 1, code.to_string()));
    }
    out
}

/// Every place in `dir` where code names one of `forbidden` (as `<root>::<name>`).
fn offences(dir: &Path, root: &str, forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(dir) {
        for (n, line) in code_lines(&file) {
            for name in forbidden {
                let path = format!("{root}::{name}");
                let hit = line.match_indices(&path).any(|(at, _)| {
                    let next = line[at + path.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                // `use crate::{a, b}` groups name modules without the prefix.
                let grouped = line.contains(&format!("{root}::{{"))
                    && line
                        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                        .any(|w| w == *name);
                if hit || grouped {
                    found.push(format!("{}:{n}: {}", file.display(), line.trim()));
                }
            }
        }
    }
    found
}

/// Every place in `dir` where code uses one of the external crates `crates`.
fn crate_uses(dir: &Path, crates: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for file in rust_files(dir) {
        for (n, line) in code_lines(&file) {
            let words: Vec<&str> = line
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .collect();
            if words
                .iter()
                .any(|w| crates.iter().any(|c| w.starts_with(&format!("{c}::"))))
            {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    found
}

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

const BELOW_PURE: [&str; 12] = [
    "store", "credits", "mcp", "jobs", "io", "service", "http", "sources", "schedule", "demo",
    "runtime", "config",
];

#[test]
fn pure_modules_reach_nothing_with_effects() {
    let mut found = Vec::new();
    for module in ["model", "analysis", "dataset", "policy"] {
        found.extend(offences(&core_src().join(module), "crate", &BELOW_PURE));
        found.extend(crate_uses(
            &core_src().join(module),
            &["sqlx", "reqwest", "rmcp", "axum", "tokio"],
        ));
    }
    assert!(
        found.is_empty(),
        "pure modules reach outward:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_model_is_innermost() {
    let found = offences(
        &core_src().join("model"),
        "crate",
        &["analysis", "dataset", "policy"],
    );
    assert!(
        found.is_empty(),
        "model imports outward:\n{}",
        found.join("\n")
    );
}

const UNDER_THE_FACADE: [&str; 11] = [
    "store", "credits", "mcp", "jobs", "io", "analysis", "dataset", "policy", "schedule",
    "sources", "runtime",
];

/// What a front in `dir` (naming the library as `root`) reaches under the facade: imports
/// of the layers beneath it, and calls of the handle's `store()`.
fn front_offences(dir: &Path, root: &str) -> Vec<String> {
    let mut found = offences(dir, root, &UNDER_THE_FACADE);
    for file in rust_files(dir) {
        for (n, line) in code_lines(&file) {
            if line.contains(".store()") {
                found.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_http_front_goes_through_the_facade() {
    let found = front_offences(&core_src().join("http"), "crate");
    assert!(
        found.is_empty(),
        "the HTTP front reaches under the facade:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_cli_goes_through_the_facade() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../cli/src");
    let found = front_offences(&dir, "tuneloop");
    assert!(
        found.is_empty(),
        "the CLI reaches under the facade:\n{}",
        found.join("\n")
    );
}

/// The checker itself finds what it must: a forbidden path, a grouped import, and not a
/// longer name that merely starts the same.
#[test]
fn the_checker_catches_offences() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("a.rs"),
        "use crate::store::Thing;\nuse crate::{model, jobs};\nuse crate::storefront::X;\n\
         // use crate::mcp::Y;\n#[cfg(test)]\nmod tests { use crate::io::Z; }\n",
    )
    .expect("writes");
    let found = offences(dir.path(), "crate", &["store", "jobs", "mcp", "io"]);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].ends_with("use crate::store::Thing;"));
    assert!(found[1].ends_with("use crate::{model, jobs};"));
    std::fs::write(
        dir.path().join("b.rs"),
        "let pool = sqlx::SqlitePool::connect(url);\nlet x = my_sqlx::f();\n",
    )
    .expect("writes");
    let uses = crate_uses(dir.path(), &["sqlx"]);
    assert_eq!(uses.len(), 1, "{uses:#?}");
}
