//! Suggestions on the demo world point at the planted problems.

use tuneloop::analysis::patterns::{find_patterns, PatternOptions};
use tuneloop::analysis::suggest::{corrections_by_category, default_rules, suggest};
use tuneloop::analysis::weekly::category_trends;
use tuneloop::model::{Suggestion, TrendQuery};

fn suggestions_for(model: &str) -> Vec<Suggestion> {
    let world = tuneloop::demo::generate(&Default::default());
    let b = &world.batch;
    let responses: Vec<_> = b
        .responses
        .iter()
        .filter(|r| r.model_id == model)
        .cloned()
        .collect();
    let patterns = find_patterns(&responses, &b.feedback, &PatternOptions::default());
    let query = TrendQuery {
        model: Some(model.into()),
        ..Default::default()
    };
    let trends = category_trends(&b.responses, &b.feedback, &query);
    let corrections = corrections_by_category(&responses, &b.feedback);
    suggest(&patterns, &trends.trends, &corrections, &default_rules())
}

#[test]
fn support_bot_v2_top_suggestion_is_grounding() {
    let s = suggestions_for("support-bot-v2");
    for x in &s {
        eprintln!("{} {} {} {}", x.priority, x.category, x.title, x.rationale);
    }
    let top = &s[0];
    assert_eq!(top.category, "hallucination", "{s:#?}");
    assert!(top.action.contains("retrieval grounding"), "{top:?}");
    assert!(top.pattern_id.is_some());
    let p: Vec<f64> = s.iter().map(|x| x.priority).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]), "{p:?}");
}

#[test]
fn support_bot_v1_outdated_gets_knowledge_refresh() {
    let s = suggestions_for("support-bot-v1");
    for x in &s {
        eprintln!("{} {} {} {}", x.priority, x.category, x.title, x.rationale);
    }
    // The category rule adds its specific action...
    assert!(
        s.iter()
            .any(|x| x.category == "outdated" && x.action.contains("Refresh the retrieval corpus")),
        "{s:#?}"
    );
    // ...next to the per-pattern suggestions of the outdated patterns, which carry many
    // corrections on v1.
    assert!(
        s.iter().any(|x| x.category == "outdated"
            && x.pattern_id.is_some()
            && x.title
                .starts_with("Fine-tune on the corrections of pattern")),
        "{s:#?}"
    );
}
