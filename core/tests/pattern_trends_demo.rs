//! Per-pattern trends on the demo world follow the planted category trends.
//!
//! Patterns group failures by what they have in common (query, response, comments), with the
//! category as soft evidence only, so the demo's planted v2 hallucination (three different
//! invented policies: a 90-day refund with a bonus, refundable gift cards, a lifetime
//! guarantee) comes back as three patterns, each a third of the size. A third of the
//! members gives Mann-Kendall less power over 26 weeks, so the test asks that the planted
//! rise shows in at least one of them and that none of them falls.

use tuneloop::analysis::patterns::{find_patterns, PatternOptions};
use tuneloop::analysis::weekly::pattern_trends;
use tuneloop::model::{ErrorPattern, TrendDirection, TrendQuery};

fn patterns_for(model: &str) -> Vec<ErrorPattern> {
    let world = tuneloop::demo::generate(&Default::default());
    let b = &world.batch;
    let responses: Vec<_> = b
        .responses
        .iter()
        .filter(|r| r.model_id == model)
        .cloned()
        .collect();
    let mut patterns = find_patterns(&responses, &b.feedback, &PatternOptions::default());
    let query = TrendQuery {
        model: Some(model.into()),
        ..Default::default()
    };
    pattern_trends(&mut patterns, &responses, &b.feedback, &query);
    patterns
}

/// The direction of the largest pattern of `category` (patterns come sorted by size).
fn direction_of(model: &str, category: &str) -> TrendDirection {
    let patterns = patterns_for(model);
    for p in &patterns {
        eprintln!(
            "  {model} {:>4} {} {:.2} {} {:?}",
            p.size,
            p.category,
            p.category_share,
            p.label,
            p.trend.as_ref().map(|t| t.direction)
        );
    }
    let p = patterns
        .iter()
        .find(|p| p.category == category)
        .unwrap_or_else(|| panic!("no {category} pattern for {model}"));
    let Some(t) = &p.trend else {
        panic!("{model} {}: no trend", p.id);
    };
    eprintln!("{model} {} {}: {t:?}", p.id, p.label);
    t.direction
}

#[test]
fn v2_hallucination_patterns_rise() {
    let patterns = patterns_for("support-bot-v2");
    let directions: Vec<TrendDirection> = patterns
        .iter()
        .filter(|p| p.category == "hallucination")
        .filter_map(|p| p.trend.as_ref().map(|t| t.direction))
        .collect();
    eprintln!("v2 hallucination patterns: {directions:?}");
    assert!(
        directions.contains(&TrendDirection::Rising),
        "{directions:?}"
    );
    assert!(
        !directions.contains(&TrendDirection::Falling),
        "{directions:?}"
    );
}

#[test]
fn v1_outdated_pattern_is_falling() {
    assert_eq!(
        direction_of("support-bot-v1", "outdated"),
        TrendDirection::Falling
    );
}
