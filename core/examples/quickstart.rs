//! Embedding tuneloop in a Rust service: record a response and its feedback in an embedded
//! SQLite file, then read quality metrics and the problematic responses.
//!
//! Run: `cargo run -p tuneloop --example quickstart`

use tuneloop::model::{
    parse_timestamp, Category, Feedback, FeedbackKind, MetricsQuery, ProblematicQuery,
    ResponseRecord,
};
use tuneloop::store::{open, FeedbackStoreExt, OpenOptions, RecordBatch};

#[tokio::main]
async fn main() -> Result<(), tuneloop::Error> {
    let dir = std::env::temp_dir().join("tuneloop-quickstart");
    std::fs::create_dir_all(&dir).map_err(|source| tuneloop::Error::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let url = format!("sqlite://{}", dir.join("feedback.db").display());
    let store = open(&url, &OpenOptions::default()).await?;

    let at =
        parse_timestamp("2026-09-01T10:00:00Z").map_err(|r| tuneloop::Error::invalid("at", r))?;
    let response = ResponseRecord::new(
        "r1",
        "support-bot-v2",
        "What is your refund policy?",
        "Refunds are possible within 90 days.",
        at,
    );
    let mut review = Feedback::new(
        "",
        "r1",
        FeedbackKind::Full {
            rating: 1,
            categories: vec![Category::new("hallucination")
                .map_err(|r| tuneloop::Error::invalid("category", r))?],
            correction: Some("The refund window is 30 days.".into()),
        },
        at,
    );
    review.comment = Some("made up".into());
    let summary = store
        .record(&RecordBatch {
            responses: vec![response],
            feedback: vec![review],
        })
        .await?;
    println!("recorded: {summary:?} (running twice changes nothing)");

    let report = store.metrics(&MetricsQuery::default()).await?;
    for m in &report.models {
        println!(
            "{}: {} responses, {} feedback, positive rate {:?}",
            m.model_id, m.figures.responses, m.figures.feedback, m.figures.positive_rate
        );
    }
    for p in store.problematic(&ProblematicQuery::default()).await? {
        println!(
            "problematic: {} {:?} {:?}",
            p.response_id, p.categories, p.comments
        );
    }
    Ok(())
}
