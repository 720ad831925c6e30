//! `tuneloop runs`: saved analysis runs.

use super::{day, print_json, Ctx};
use crate::{CliError, CliResult};
use tuneloop::model::format_timestamp;
use tuneloop::service::RunsQuery;

pub async fn list(ctx: &Ctx, kind: Option<String>, limit: Option<usize>) -> CliResult {
    let defaults = RunsQuery::default();
    let query = RunsQuery {
        kind,
        limit: limit.unwrap_or(defaults.limit),
    };
    let list = ctx
        .open()
        .await?
        .runs(&query)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
        return print_json(&list);
    }
    if list.runs.is_empty() {
        outln!("No saved runs; `tuneloop analyze --save` saves one.");
        return Ok(());
    }
    for r in &list.runs {
        let counts = [(r.patterns, "patterns"), (r.suggestions, "suggestions")]
            .iter()
            .filter_map(|(n, what)| n.map(|n| format!("{n} {what}")))
            .collect::<Vec<_>>()
            .join(", ");
        outln!(
            "{}  {}  {}  model {}  {counts}",
            r.id,
            r.kind,
            format_timestamp(&r.created_at),
            r.params["model"].as_str().unwrap_or("(all)"),
        );
    }
    Ok(())
}

pub async fn show(ctx: &Ctx, id: &str) -> CliResult {
    let run = ctx.open().await?.run(id).await.map_err(run_hint)?;
    print_json(&run)
}

pub async fn diff(ctx: &Ctx, a: &str, b: &str) -> CliResult {
    let d = ctx.open().await?.diff_runs(a, b).await.map_err(run_hint)?;
    if ctx.json {
        return print_json(&d);
    }
    outln!(
        "From {} ({}) to {} ({}):",
        d.from,
        day(&d.from_created_at),
        d.to,
        day(&d.to_created_at)
    );
    let p = &d.patterns;
    let sections = [
        ("New", &p.new),
        ("Grown", &p.grown),
        ("Shrunk", &p.shrunk),
        ("Resolved", &p.resolved),
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
    outln!("Unchanged: {}", p.unchanged.len());
    Ok(())
}

/// An unknown run id said as where to find the known ones (exit 2).
fn run_hint(e: tuneloop::Error) -> CliError {
    match e {
        tuneloop::Error::NotFound { kind: "run", id } => {
            CliError::usage(format!("no saved run `{id}`; see `tuneloop runs list`"))
                .coded("not_found")
        }
        other => super::flag_hint(other),
    }
}
