//! `tuneloop metrics`.

use super::{check_range, open_store, print_json};
use crate::args::MetricsArgs;
use crate::output::{bucket_table, metrics_table, omitted_note};
use crate::CliResult;
use tuneloop::model::{Bucket, MetricsQuery};

pub async fn run(db: &str, json: bool, a: MetricsArgs) -> CliResult {
    check_range(&a.range)?;
    let bucket: Option<Bucket> = a.bucket.map(Into::into);
    let query = MetricsQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        bucket,
    };
    let store = open_store(db).await?;
    let report = store.metrics(&query).await?;
    if json {
        return print_json(&report);
    }
    if report.models.is_empty() {
        outln!("No responses in range.");
        return Ok(());
    }
    outln!("{}", metrics_table(&report));
    if let Some(bucket) = bucket {
        for m in &report.models {
            if let Some(table) = bucket_table(m, bucket) {
                outln!("\n{}", m.model_id);
                outln!("{table}");
            }
            let cap = match bucket {
                Bucket::Day => "3,660 days",
                Bucket::Week => "520 weeks",
            };
            if let Some(note) = omitted_note(m.omitted_from_buckets, "series", cap) {
                outln!("{note}");
            }
        }
    }
    Ok(())
}
