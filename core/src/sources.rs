//! Reading records out of a store into the pure modules: a model's records into the dataset
//! builder, a range's records into the analysis. The facade, the job manager and the weekly
//! job read through here; the pure modules never see a store.
//!
//! # Memory
//! [`build_from_store`] pages through the store: it holds the model's feedback (grouped by
//! response) and the responses that have some; responses without feedback are counted and
//! dropped as they stream past. Memory is therefore proportional to the feedback, not to the
//! response history, plus the rendered files.

use crate::analysis::pipeline::{analyze as analyze_records, Analysis, AnalysisOptions};
use crate::dataset::{Builder, Dataset, DatasetConfig, ExampleKind};
use crate::model::{Comparison, Feedback, ResponseRecord};
use crate::store::{
    ComparisonFilter, FeedbackFilter, FeedbackStore, FeedbackStoreExt, PageRequest, ResponseFilter,
};
use crate::{Error, Result};
use std::collections::HashMap;

const PAGE: usize = 1_000;

/// Builds a dataset for `model_id` from a store, page by page (see the module docs for the
/// memory bound). Invalid settings are [`Error::InvalidInput`] before anything is read; an
/// unknown model is [`Error::NotFound`] (kind `model`); too few examples is an
/// `InvalidInput` on `min_examples`.
///
/// The examples are made and finished (redaction, deduplication, token counts, split,
/// rendering) on a blocking thread: that is CPU work that must not stall an async runtime.
/// The result is the one [`crate::dataset::build()`] gives on the same records.
pub async fn build_from_store(
    store: &dyn FeedbackStore,
    model_id: &str,
    config: &DatasetConfig,
) -> Result<Dataset> {
    // Checks the settings and the model id (and compiles the redactor) before the store is
    // paged through.
    let mut builder = Builder::new(model_id, config)?;
    let any = store
        .list_responses(
            &ResponseFilter {
                model: Some(model_id.to_string()),
                ..Default::default()
            },
            &PageRequest::first(1),
        )
        .await?;
    if any.items.is_empty() {
        return Err(Error::NotFound {
            kind: "model",
            id: model_id.to_string(),
        });
    }

    let mut by_response: HashMap<String, Vec<Feedback>> = HashMap::new();
    let filter = FeedbackFilter {
        model: Some(model_id.to_string()),
        ..Default::default()
    };
    let mut page = PageRequest::first(PAGE);
    loop {
        let p = store.list_feedback(&filter, &page).await?;
        for f in p.items {
            by_response
                .entry(f.response_id.clone())
                .or_default()
                .push(f);
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }

    // Responses with feedback are kept, in store order, for the blocking part; the others
    // only count (`no_feedback`), which is cheap and order-free, so they go in right away.
    let mut kept: Vec<(ResponseRecord, Vec<Feedback>)> = Vec::new();
    let filter = ResponseFilter {
        model: Some(model_id.to_string()),
        since: config.since,
        until: config.until,
    };
    let mut page = PageRequest::first(PAGE);
    loop {
        let p = store.list_responses(&filter, &page).await?;
        for r in p.items {
            match by_response.remove(&r.id) {
                Some(fb) => kept.push((r, fb)),
                None => builder.add(&r, &[]),
            }
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    drop(by_response);
    let compared = comparisons_for(store, model_id, config).await?;
    crate::runtime::blocking("the dataset build", move || {
        for (r, fb) in &kept {
            builder.add(r, fb);
        }
        for (c, a, b) in &compared {
            builder.add_comparison(c, a, b);
        }
        builder.finish()
    })
    .await?
}

/// The comparisons a preference dataset for `model_id` may use (see
/// `dataset::build::comparisons`), each with its two responses; none for other formats,
/// with `sources.dpo_comparisons` off, or on a store that keeps no comparisons.
async fn comparisons_for(
    store: &dyn FeedbackStore,
    model_id: &str,
    config: &DatasetConfig,
) -> Result<Vec<(Comparison, ResponseRecord, ResponseRecord)>> {
    if config.format.kind() != ExampleKind::Preference || !config.sources.dpo_comparisons {
        return Ok(Vec::new());
    }
    let filter = ComparisonFilter {
        model: Some(model_id.to_string()),
        since: config.since,
        until: config.until,
    };
    let stored = match store.all_comparisons(&filter).await {
        Ok(list) => list,
        Err(Error::Unsupported { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut responses: HashMap<String, ResponseRecord> = HashMap::new();
    let mut out = Vec::with_capacity(stored.len());
    for s in stored {
        let c = s.comparison;
        for id in [&c.response_a, &c.response_b] {
            if !responses.contains_key(id.as_str()) {
                if let Some(r) = store.get_response(id).await? {
                    responses.insert(id.clone(), r);
                }
            }
        }
        if let (Some(a), Some(b)) = (responses.get(&c.response_a), responses.get(&c.response_b)) {
            let (a, b) = (a.clone(), b.clone());
            out.push((c, a, b));
        }
    }
    Ok(out)
}

/// The whole analysis (patterns, trends, suggestions) of a store's responses in the
/// options' range and the feedback on them; the CPU-heavy part runs on a blocking thread.
/// The weekly job runs it too.
pub async fn analyze_store(
    store: &dyn FeedbackStore,
    options: &AnalysisOptions,
) -> Result<Analysis> {
    crate::model::time::check_range(options.since, options.until)?;
    let responses = store
        .all_responses(&ResponseFilter {
            model: options.model.clone(),
            since: options.since,
            until: options.until,
        })
        .await?;
    let feedback = store
        .all_feedback(&FeedbackFilter {
            model: options.model.clone(),
            ..Default::default()
        })
        .await?;
    let options = options.clone();
    crate::runtime::blocking("the analysis", move || {
        analyze_records(&responses, &feedback, &options)
    })
    .await
}
