//! The trends planted in the demo world are found by the weekly trend analysis.

use tuneloop::analysis::weekly::category_trends;
use tuneloop::model::{TrendDirection, TrendQuery};

#[test]
fn planted_trends_are_found() {
    let world = tuneloop::demo::generate(&Default::default());
    let b = &world.batch;
    let expected = [
        ("support-bot-v2", "hallucination", TrendDirection::Rising),
        ("support-bot-v2", "too_verbose", TrendDirection::Rising),
        ("support-bot-v1", "outdated", TrendDirection::Falling),
        ("code-assistant-v1", "code_error", TrendDirection::Stable),
    ];
    for (model, category, direction) in expected {
        let planted = world
            .planted
            .iter()
            .find(|p| p.category == category)
            .unwrap();
        assert_eq!(planted.model_id, model);
        let query = TrendQuery {
            model: Some(model.into()),
            ..Default::default()
        };
        let report = category_trends(&b.responses, &b.feedback, &query);
        let t = report
            .trends
            .iter()
            .find(|t| t.category == category)
            .unwrap_or_else(|| panic!("{model} {category} missing"));
        assert_eq!(t.direction, direction, "{model} {category}: {t:?}");
        assert_eq!(t.weekly.len(), 12);
        assert!(!t.emerging, "{model} {category}");
        match direction {
            TrendDirection::Rising => assert!(t.slope > 0.0),
            TrendDirection::Falling => assert!(t.slope < 0.0),
            TrendDirection::Stable => assert!(t.p_value >= 0.05),
        }
    }
}

#[test]
fn report_is_sorted_significant_first() {
    let world = tuneloop::demo::generate(&Default::default());
    let b = &world.batch;
    let report = category_trends(&b.responses, &b.feedback, &TrendQuery::default());
    assert!(!report.trends.is_empty());
    let sig: Vec<bool> = report.trends.iter().map(|t| t.p_value < 0.05).collect();
    assert!(sig.windows(2).all(|w| w[0] >= w[1]), "{sig:?}");
    let json = serde_json::to_value(&report).unwrap();
    let first = &json["trends"][0];
    for key in [
        "category",
        "direction",
        "slope",
        "p_value",
        "weekly",
        "emerging",
        "change_point",
    ] {
        assert!(first.get(key).is_some(), "{key}");
    }
    assert!(first["weekly"][0]["week"].as_str().unwrap().contains("-W"));
}
