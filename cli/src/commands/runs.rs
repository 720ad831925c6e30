//! `tuneloop runs`: saved analysis runs.

use super::{day, open_store, print_json};
use crate::{CliError, CliResult};
use serde::Serialize;
use std::collections::HashSet;
use tuneloop::model::{format_timestamp, ErrorPattern};
use tuneloop::store::RunRecord;

pub async fn list(db: &str, json: bool, limit: usize) -> CliResult {
    let store = open_store(db).await?;
    let runs = store.list_runs(None, limit).await?;
    if json {
        let rows: Vec<_> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id,
                    "kind": r.kind,
                    "created_at": format_timestamp(&r.created_at),
                    "params": r.params,
                })
            })
            .collect();
        return print_json(&serde_json::json!({ "runs": rows }));
    }
    if runs.is_empty() {
        outln!("No saved runs; `tuneloop analyze --save` saves one.");
        return Ok(());
    }
    for r in &runs {
        let count = |k: &str| r.result[k].as_array().map_or(0, Vec::len);
        outln!(
            "{}  {}  {}  model {}  {} patterns, {} suggestions",
            r.id,
            r.kind,
            format_timestamp(&r.created_at),
            r.params["model"].as_str().unwrap_or("(all)"),
            count("patterns"),
            count("suggestions")
        );
    }
    Ok(())
}

pub async fn show(db: &str, id: &str) -> CliResult {
    let store = open_store(db).await?;
    let run = get(store.as_ref(), id).await?;
    print_json(&run)
}

async fn get(store: &dyn tuneloop::store::FeedbackStore, id: &str) -> CliResult<RunRecord> {
    store
        .get_run(id)
        .await?
        .ok_or_else(|| CliError::usage(format!("no saved run `{id}`; see `tuneloop runs list`")))
}

fn patterns(run: &RunRecord) -> CliResult<Vec<ErrorPattern>> {
    serde_json::from_value(run.result["patterns"].clone())
        .map_err(|e| CliError::failure(format!("run {} has no readable patterns: {e}", run.id)))
}

/// One pattern in a diff.
#[derive(Debug, Serialize)]
struct DiffEntry {
    /// The pattern's id in run B (in run A for resolved patterns).
    id: String,
    /// Its id in run A, for patterns matched in both runs.
    previous_id: Option<String>,
    label: String,
    category: String,
    size_before: usize,
    size_after: usize,
}

/// The result of `runs diff A B`.
#[derive(Debug, Default, Serialize)]
struct RunDiff {
    from: String,
    to: String,
    new: Vec<DiffEntry>,
    grown: Vec<DiffEntry>,
    shrunk: Vec<DiffEntry>,
    unchanged: Vec<DiffEntry>,
    resolved: Vec<DiffEntry>,
}

/// Shared members over the members of the smaller pattern.
fn overlap(a: &ErrorPattern, b: &ErrorPattern) -> f64 {
    let set: HashSet<&str> = a.response_ids.iter().map(String::as_str).collect();
    let shared = b
        .response_ids
        .iter()
        .filter(|id| set.contains(id.as_str()))
        .count();
    let smaller = a.response_ids.len().min(b.response_ids.len());
    if smaller == 0 {
        0.0
    } else {
        shared as f64 / smaller as f64
    }
}

/// Matches the patterns of B to those of A: by id, then by the largest member overlap of
/// at least 50 % among A's patterns not matched yet.
fn diff_patterns(from: &str, to: &str, a: &[ErrorPattern], b: &[ErrorPattern]) -> RunDiff {
    let mut d = RunDiff {
        from: from.into(),
        to: to.into(),
        ..Default::default()
    };
    let mut used = vec![false; a.len()];
    let mut matched: Vec<Option<usize>> = vec![None; b.len()];
    for (j, q) in b.iter().enumerate() {
        if let Some(i) = a.iter().position(|p| p.id == q.id) {
            used[i] = true;
            matched[j] = Some(i);
        }
    }
    for (j, q) in b.iter().enumerate() {
        if matched[j].is_some() {
            continue;
        }
        let best = a
            .iter()
            .enumerate()
            .filter(|(i, _)| !used[*i])
            .map(|(i, p)| (i, overlap(p, q)))
            .filter(|(_, o)| *o >= 0.5)
            .max_by(|x, y| x.1.total_cmp(&y.1).then_with(|| y.0.cmp(&x.0)));
        if let Some((i, _)) = best {
            used[i] = true;
            matched[j] = Some(i);
        }
    }
    for (j, q) in b.iter().enumerate() {
        let entry = |prev: Option<&ErrorPattern>| DiffEntry {
            id: q.id.clone(),
            previous_id: prev.map(|p| p.id.clone()),
            label: q.label.clone(),
            category: q.category.clone(),
            size_before: prev.map_or(0, |p| p.size),
            size_after: q.size,
        };
        match matched[j].map(|i| &a[i]) {
            None => d.new.push(entry(None)),
            Some(p) if q.size > p.size => d.grown.push(entry(Some(p))),
            Some(p) if q.size < p.size => d.shrunk.push(entry(Some(p))),
            Some(p) => d.unchanged.push(entry(Some(p))),
        }
    }
    for (i, p) in a.iter().enumerate() {
        if !used[i] {
            d.resolved.push(DiffEntry {
                id: p.id.clone(),
                previous_id: None,
                label: p.label.clone(),
                category: p.category.clone(),
                size_before: p.size,
                size_after: 0,
            });
        }
    }
    d
}

pub async fn diff(db: &str, json: bool, a: &str, b: &str) -> CliResult {
    let store = open_store(db).await?;
    let ra = get(store.as_ref(), a).await?;
    let rb = get(store.as_ref(), b).await?;
    let d = diff_patterns(a, b, &patterns(&ra)?, &patterns(&rb)?);
    if json {
        return print_json(&d);
    }
    outln!(
        "From {a} ({}) to {b} ({}):",
        day(&ra.created_at),
        day(&rb.created_at)
    );
    let sections = [
        ("New", &d.new),
        ("Grown", &d.grown),
        ("Shrunk", &d.shrunk),
        ("Resolved", &d.resolved),
    ];
    for (name, entries) in sections {
        outln!("{name}: {}", entries.len());
        for e in entries {
            outln!(
                "  {}  {}  {} -> {}",
                e.id,
                e.label,
                e.size_before,
                e.size_after
            );
        }
    }
    outln!("Unchanged: {}", d.unchanged.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, members: &[&str]) -> ErrorPattern {
        let t = tuneloop::model::parse_timestamp("2026-09-01T00:00:00Z").unwrap();
        ErrorPattern {
            id: id.into(),
            label: id.into(),
            category: "other".into(),
            size: members.len(),
            share: 0.1,
            response_ids: members.iter().map(|s| s.to_string()).collect(),
            models: vec![],
            top_terms: vec![],
            examples: vec![],
            first_seen: t,
            last_seen: t,
            trend: None,
        }
    }

    #[test]
    fn diff_matches_by_id_then_overlap() {
        let a = vec![
            p("p-1", &["a", "b"]),
            p("p-2", &["c", "d", "e", "f"]),
            p("p-3", &["g"]),
        ];
        let b = vec![
            p("p-1", &["a", "b", "x"]),
            p("p-9", &["c", "d", "y"]),
            p("p-8", &["z"]),
        ];
        let d = diff_patterns("A", "B", &a, &b);
        assert_eq!(d.grown.len(), 1);
        assert_eq!(d.grown[0].id, "p-1");
        assert_eq!(d.shrunk.len(), 1);
        assert_eq!(d.shrunk[0].previous_id.as_deref(), Some("p-2"));
        assert_eq!(d.new.len(), 1);
        assert_eq!(d.new[0].id, "p-8");
        assert_eq!(d.resolved.len(), 1);
        assert_eq!(d.resolved[0].id, "p-3");
    }
}
