//! `tuneloop metrics`.

use super::{print_json, Ctx};
use crate::args::MetricsArgs;
use crate::output::{bucket_table, metrics_table, omitted_note};
use crate::CliResult;
use tuneloop::model::{Bucket, MetricsQuery};

pub async fn run(ctx: &Ctx, a: MetricsArgs) -> CliResult {
    let query = MetricsQuery {
        model: a.range.model,
        since: a.range.since,
        until: a.range.until,
        bucket: a.bucket.map(Into::into),
    };
    let report = ctx
        .open()
        .await?
        .metrics(&query)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
        return print_json(&report);
    }
    if report.models.is_empty() {
        outln!("No responses in range.");
        return Ok(());
    }
    outln!("{}", metrics_table(&report));
    if let Some(bucket) = query.bucket {
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
