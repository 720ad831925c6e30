//! `tuneloop rank`.

use super::{print_json, Ctx};
use crate::args::RankArgs;
use crate::output::{new_table, thousands};
use crate::CliResult;
use tuneloop::service::{ModelRanking, RankOptions};

pub async fn run(ctx: &Ctx, a: RankArgs) -> CliResult {
    let options = RankOptions {
        models: a.models,
        since: a.since,
        until: a.until,
        regularization: a.regularization,
    };
    let ranking = ctx
        .open()
        .await?
        .rank(&options)
        .await
        .map_err(super::flag_hint)?;
    if ctx.json {
        return print_json(&ranking);
    }
    if ranking.models.is_empty() {
        outln!("No comparisons between two different models in range.");
        return Ok(());
    }
    outln!("{}", table(&ranking));
    outln!(
        "{} comparisons, {} of them ties (half a win each); {} between two answers of the same \
         model skipped.",
        thousands(ranking.comparisons_used),
        thousands(ranking.ties),
        thousands(ranking.skipped_same_model)
    );
    outln!(
        "Score = Bradley–Terry log-strength (mean 0; P(A beats B) = 1 / (1 + e^(B − A))), \
         penalised fit α = {}, 95% interval from the Hessian.",
        ranking.regularization
    );
    if !ranking.connected {
        outln!(
            "Note: some models were never compared, directly or through others; their relative \
             scores rest on the penalty alone."
        );
    }
    Ok(())
}

fn table(r: &ModelRanking) -> String {
    let mut table = new_table(
        &["Rank", "Model", "Score", "95% CI", "Wins", "Losses", "Ties"],
        &[0, 2, 4, 5, 6],
    );
    for m in &r.models {
        table.add_row(vec![
            m.rank.to_string(),
            m.model.clone(),
            format!("{:+.3}", m.score),
            format!("[{:+.3}, {:+.3}]", m.ci_low, m.ci_high),
            thousands(m.wins),
            thousands(m.losses),
            thousands(m.ties),
        ]);
    }
    table.to_string()
}
