//! Presentation shared by several commands: a dataset's summary, a decision, a job,
//! suggestions. Pure formatting of the facade's results.

use crate::output::thousands;
use tuneloop::model::Suggestion;
use tuneloop::service::Decision;
use tuneloop::service::{FineTuneJob, Manifest};

/// A few lines that say what a dataset holds.
pub fn summary(m: &Manifest) -> String {
    let t = &m.tokens;
    [
        format!(
            "  format {}, model {}, encoding {}, seed {}",
            m.config.format.as_str(),
            m.model,
            m.encoding.as_str(),
            m.seed
        ),
        format!(
            "  examples: {} train, {} validation (from {} responses, {} candidates)",
            thousands(m.counts.train),
            thousands(m.counts.validation),
            thousands(m.counts.responses),
            thousands(m.counts.candidates)
        ),
        format!("  sources: {}", pairs(&m.sources)),
        format!("  dropped: {}", pairs(&m.dropped)),
        format!("  redactions: {}", pairs(&m.redactions.0)),
        format!(
            "  tokens per example (train): min {}, median {}, max {}; total {} train, {} validation",
            t.train.min,
            t.train.median,
            t.train.max,
            thousands(t.train.total),
            thousands(t.validation.total)
        ),
        format!(
            "  estimate: {} epochs x {} billing tokens = {} trained tokens",
            m.estimated_epochs,
            thousands(m.billing_tokens),
            thousands(m.estimated_trained_tokens)
        ),
    ]
    .join("\n")
}

fn pairs(map: &std::collections::BTreeMap<String, u64>) -> String {
    if map.is_empty() {
        return "none".to_string();
    }
    map.iter()
        .map(|(k, n)| format!("{k} {}", thousands(*n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line per check: `✓ name  observed (required ...)  detail`.
pub fn print_decision(d: &Decision) {
    let verdict = if d.fine_tune {
        if d.forced {
            "fine-tune: YES (forced)"
        } else {
            "fine-tune: YES"
        }
    } else {
        "fine-tune: no"
    };
    outln!("{verdict}");
    for c in &d.checks {
        let mark = if c.passed {
            "✓"
        } else if d.forced && c.name.overridable() {
            "!"
        } else {
            "✗"
        };
        outln!("{mark} {:<24} {}", c.name.as_str(), c.detail);
    }
}

/// A job in a few lines.
pub fn print_job(j: &FineTuneJob) {
    let d = &j.details;
    outln!(
        "job {}  {}  ({} → {})",
        j.id,
        j.status,
        j.model_id,
        d.base_model
    );
    outln!(
        "  dataset      {} train + {} validation examples ({}), {} billing tokens × {} epochs",
        d.dataset.train_examples,
        d.dataset.validation_examples,
        d.dataset.format.as_str(),
        thousands(d.dataset.billing_tokens),
        d.dataset.epochs
    );
    let charged = match d.actual_cost {
        Some(c) => format!("charged {}", thousands(c)),
        None if d.hold_id.is_some() => "on hold".to_string(),
        None => "nothing reserved".to_string(),
    };
    outln!(
        "  credits      estimated {} at {}/1M tokens on {}; {charged}",
        thousands(d.estimated_cost),
        d.price_per_million,
        d.account
    );
    if let Some(p) = &d.provider_job_id {
        outln!(
            "  provider     {} job {p}{}",
            d.provider.as_deref().unwrap_or("?"),
            d.trained_tokens
                .map(|t| format!(", {} trained tokens", thousands(t)))
                .unwrap_or_default()
        );
    }
    if let Some(m) = &d.fine_tuned_model {
        outln!("  model        {m}");
    }
    if let Some(e) = &d.error {
        outln!("  error        {}: {}", e.code, e.message);
    }
    if let Some(e) = &d.last_error {
        outln!("  last error   {e}");
    }
}

/// Prints up to `limit` suggestions, readable.
pub fn print_suggestions(suggestions: &[Suggestion], limit: usize) {
    if suggestions.is_empty() {
        outln!("No suggestions: no rule matched the feedback in range.");
        return;
    }
    for (i, s) in suggestions.iter().take(limit).enumerate() {
        if i > 0 {
            outln!();
        }
        outln!(
            "{}. [{:.1}] {} ({}{})",
            i + 1,
            s.priority,
            s.title,
            s.category,
            s.pattern_id
                .as_deref()
                .map(|p| format!(", {p}"))
                .unwrap_or_default()
        );
        outln!("   {}", s.action);
        outln!("   Why: {}", s.rationale);
        outln!("   id {}", s.id);
    }
}
