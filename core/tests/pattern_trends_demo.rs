//! Per-pattern trends on the demo world follow the planted category trends.

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
fn v2_hallucination_pattern_is_rising() {
    assert_eq!(
        direction_of("support-bot-v2", "hallucination"),
        TrendDirection::Rising
    );
}

#[test]
fn v1_outdated_pattern_is_falling() {
    assert_eq!(
        direction_of("support-bot-v1", "outdated"),
        TrendDirection::Falling
    );
}
