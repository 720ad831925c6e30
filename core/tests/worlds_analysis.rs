//! The analysis on generated worlds (see `worlds/mod.rs`), not on the demo world: pattern
//! recovery (adjusted Rand index over the planted negatives), trend directions, and trends and
//! suggestions on thumbs-only feedback, over several seeds at three noise levels.

mod worlds;

use std::collections::HashMap;
use tuneloop::analysis::ari::adjusted_rand_index;
use tuneloop::analysis::pipeline::{analyze, Analysis, AnalysisOptions};
use worlds::{generate, median, Level, World, WorldOptions, PATTERNS};

const SEEDS: [u64; 5] = [1, 2, 3, 4, 5];

/// ARI of the found patterns against the planted ones, over the planted negatives.
fn planted_ari(world: &World, analysis: &Analysis) -> f64 {
    let mut found: HashMap<&str, &str> = HashMap::new();
    for p in &analysis.patterns {
        for id in &p.response_ids {
            found.insert(id.as_str(), p.id.as_str());
        }
    }
    let (mut truth, mut labels) = (Vec::new(), Vec::new());
    for p in &world.planted {
        for id in &p.response_ids {
            truth.push(p.name);
            labels.push(found.get(id.as_str()).copied().unwrap_or("(none)"));
        }
    }
    adjusted_rand_index(&truth, &labels)
}

/// For each planted pattern: (planted direction, direction of the found pattern holding most
/// of its members).
fn trend_checks(world: &World, analysis: &Analysis) -> Vec<(&'static str, bool)> {
    let mut of: HashMap<&str, usize> = HashMap::new();
    for (i, p) in analysis.patterns.iter().enumerate() {
        for id in &p.response_ids {
            of.insert(id.as_str(), i);
        }
    }
    world
        .planted
        .iter()
        .map(|p| {
            let mut votes: HashMap<usize, usize> = HashMap::new();
            for id in &p.response_ids {
                if let Some(&i) = of.get(id.as_str()) {
                    *votes.entry(i).or_default() += 1;
                }
            }
            let best = votes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(&i, _)| i);
            let got = best
                .and_then(|i| analysis.patterns[i].trend.as_ref())
                .map(|t| t.direction.as_str());
            (p.name, got == Some(p.trend.as_str()))
        })
        .collect()
}

#[test]
fn worlds_patterns_and_trends_are_recovered_at_every_noise_level() {
    assert!(PATTERNS.len() >= 5);
    let mut report = Vec::new();
    for level in Level::ALL {
        let mut aris = Vec::new();
        let (mut trends_ok, mut trends_all) = (0, 0);
        for seed in SEEDS {
            let world = generate(&WorldOptions::new(seed, level));
            let analysis = analyze(
                &world.responses,
                &world.feedback,
                &AnalysisOptions::default(),
            );
            assert!(analysis.patterns.iter().all(|p| p.trend.is_some()));
            aris.push(planted_ari(&world, &analysis));
            for (name, ok) in trend_checks(&world, &analysis) {
                if !ok {
                    eprintln!("  {} seed {seed}: trend of {name} missed", level.as_str());
                }
                trends_all += 1;
                trends_ok += usize::from(ok);
            }
        }
        let m = median(&aris);
        let share = trends_ok as f64 / trends_all as f64;
        eprintln!(
            "worlds {}: median ARI {m:.3} (seeds {:?}), trends right {trends_ok}/{trends_all}",
            level.as_str(),
            aris.iter().map(|a| format!("{a:.3}")).collect::<Vec<_>>()
        );
        report.push((level, m, share));
    }
    for (level, m, share) in report {
        assert!(m >= 0.9, "{}: median ARI {m:.3} < 0.9", level.as_str());
        // Tolerance: Mann-Kendall on 12 weekly rates misses a planted trend now and then.
        assert!(
            share >= 0.8,
            "{}: {:.0}% of planted trends right (< 80%)",
            level.as_str(),
            share * 100.0
        );
    }
}

#[test]
fn thumbs_only_worlds_get_trends_and_suggestions() {
    for seed in [11, 12, 13] {
        let mut options = WorldOptions::new(seed, Level::Medium);
        options.all_thumbs = true;
        let world = generate(&options);
        assert!(world.feedback.iter().all(|f| f.categories().is_empty()));
        let analysis = analyze(
            &world.responses,
            &world.feedback,
            &AnalysisOptions::default(),
        );
        assert!(analysis.patterns.len() >= 5, "{}", analysis.patterns.len());
        assert!(analysis.patterns.iter().all(|p| p.trend.is_some()));
        assert!(
            !analysis.suggestions.is_empty(),
            "seed {seed}: no suggestion on thumbs-only feedback"
        );
        let ari = planted_ari(&world, &analysis);
        eprintln!(
            "thumbs-only world seed {seed}: ARI {ari:.3}, {} patterns, {} suggestions",
            analysis.patterns.len(),
            analysis.suggestions.len()
        );
    }
}

/// DPO integrity on the same worlds: every preference pair joins two answers to the same
/// conversation context (prior turns and query), although the worlds are full of different
/// chats ending in the same filler ("yes", "ok") with opposite votes.
#[test]
fn worlds_dpo_pairs_join_only_answers_to_the_same_context() {
    use tuneloop::dataset::build::build;
    use tuneloop::dataset::config::{DatasetConfig, DatasetFormat};
    use tuneloop::dataset::manifest::LineageEntry;
    use tuneloop::model::Polarity;

    let mut pairs = 0;
    for level in Level::ALL {
        // Three of the five seeds keep the file's run time modest in debug builds.
        for seed in &SEEDS[..3] {
            let seed = *seed;
            let world = generate(&WorldOptions::new(seed, level));
            let by_id: HashMap<&str, &tuneloop::model::ResponseRecord> =
                world.responses.iter().map(|r| (r.id.as_str(), r)).collect();
            // The trap is there: one model, one filler query, two contexts, opposite votes.
            let mut votes: HashMap<(&str, &str), Vec<(String, Polarity)>> = HashMap::new();
            for f in &world.feedback {
                let r = by_id[f.response_id.as_str()];
                if !r.conversation.is_empty() {
                    votes
                        .entry((r.model_id.as_str(), r.query.as_str()))
                        .or_default()
                        .push((r.context_key(), f.polarity()));
                }
            }
            assert!(votes.values().any(|v| {
                v.iter().any(|(a, p)| {
                    *p == Polarity::Positive
                        && v.iter().any(|(b, q)| *q == Polarity::Negative && a != b)
                })
            }));
            for model in &world.models {
                let config = DatasetConfig {
                    format: DatasetFormat::OpenaiDpo,
                    min_examples: 1,
                    ..DatasetConfig::default()
                };
                let dataset = build(&world.responses, &world.feedback, model, &config)
                    .expect("dataset builds");
                let lineage = String::from_utf8_lossy(dataset.lineage_jsonl()).to_string();
                for line in lineage.lines() {
                    let e: LineageEntry = serde_json::from_str(line).expect("lineage line");
                    let keys: Vec<String> = e
                        .response_ids
                        .iter()
                        .map(|id| by_id[id.as_str()].context_key())
                        .collect();
                    assert!(
                        keys.windows(2).all(|w| w[0] == w[1]),
                        "{} {model} seed {seed}: pair {:?} joins different contexts",
                        level.as_str(),
                        e.response_ids
                    );
                    pairs += usize::from(e.source == "preference_pair");
                }
            }
        }
    }
    eprintln!("worlds: {pairs} preference pairs checked, all within one context");
    assert!(pairs > 0);
}
