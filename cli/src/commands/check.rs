//! `tuneloop migrate` and `tuneloop check db`.

use super::{open_store, open_with, print_json};
use crate::{CliError, CliResult};
use tuneloop::store::{HealthReport, OpenOptions};

fn version(v: Option<i64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_else(|| "none".into())
}

pub async fn migrate(db: &str, json: bool) -> CliResult {
    let store = open_store(db).await?;
    let health = store.health().await?;
    if json {
        print_json(&health)?;
    } else if health.supported_version.is_none() {
        outln!(
            "{db}: the {} backend has no schema to migrate",
            health.backend
        );
    } else {
        outln!(
            "{db}: schema version {} (current)",
            version(health.schema_version)
        );
    }
    if !health.ok() {
        return Err(CliError::failure(format!(
            "{db} is not usable after migrating: {}",
            problems(&health).join("; ")
        )));
    }
    Ok(())
}

fn problems(h: &HealthReport) -> Vec<String> {
    let mut out = Vec::new();
    match (h.schema_version, h.supported_version) {
        (None, Some(s)) => out.push(format!(
            "no schema version (expected {s}); run `tuneloop migrate`"
        )),
        (Some(f), Some(s)) if f < s => out.push(format!(
            "schema version {f} is older than {s}; run `tuneloop migrate`"
        )),
        (Some(f), Some(s)) if f > s => out.push(format!(
            "schema version {f} is newer than this tuneloop supports ({s}); upgrade tuneloop"
        )),
        _ => {}
    }
    for t in &h.missing_tables {
        out.push(format!("missing table {t}"));
    }
    if let Some(n) = h.orphaned_feedback.filter(|n| *n > 0) {
        out.push(format!("{n} feedback items reference a missing response"));
    }
    out
}

pub async fn check_db(db: &str, json: bool) -> CliResult {
    let options = OpenOptions {
        create_if_missing: false,
        migrate: false,
        ..Default::default()
    };
    let store = match open_with(db, &options).await {
        Ok(s) => s,
        Err(e) => {
            if !json {
                outln!("✗ connect         {db}");
            }
            return Err(CliError::failure(format!(
                "database check failed: {}",
                e.message
            )));
        }
    };
    let health = store.health().await?;
    if json {
        print_json(&health)?;
    } else {
        outln!("✓ connect         {db} ({})", health.backend);
        let version_ok = health.schema_version == health.supported_version;
        match health.supported_version {
            None => outln!("✓ schema version  not applicable"),
            Some(s) => outln!(
                "{} schema version  {} (this tuneloop: {s})",
                if version_ok { "✓" } else { "✗" },
                version(health.schema_version)
            ),
        }
        if health.missing_tables.is_empty() {
            outln!("✓ tables          all present");
        }
        for t in &health.missing_tables {
            outln!("✗ missing table   {t}");
        }
        for t in &health.extra_tables {
            outln!("! extra table     {t} (not used by tuneloop; left alone)");
        }
        match health.orphaned_feedback {
            Some(0) => outln!("✓ references      every feedback item has its response"),
            Some(n) => outln!("✗ references      {n} feedback items reference a missing response"),
            None => {}
        }
    }
    if health.ok() {
        Ok(())
    } else {
        Err(CliError::failure(format!(
            "database check failed: {}",
            problems(&health).join("; ")
        )))
    }
}
