//! The facade's analysis operations on a generated world: analyze (with and without saving),
//! suggest with custom rule tables, saved runs (list, get, diff), and bad input naming its
//! field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use tuneloop::demo::{generate, DemoOptions};
use tuneloop::service::{AnalyzeOptions, LexiconFile, RuleTables, RulesFile, RunRecord, RunsQuery};
use tuneloop::{Error, Options, Tuneloop};

const V1: &str = "support-bot-v1";
const V2: &str = "support-bot-v2";

/// A memory store holding the demo's 12 weeks (smaller than the CLI demo's, same shape).
async fn world() -> Tuneloop {
    let options = DemoOptions {
        responses_per_week: 40,
        ..Default::default()
    };
    let world = generate(&options);
    let tl = Tuneloop::open(Options::memory()).await.unwrap();
    tl.record(&world.batch).await.unwrap();
    tl
}

fn for_model(model: &str) -> AnalyzeOptions {
    AnalyzeOptions {
        model: Some(model.into()),
        ..Default::default()
    }
}

fn field_of(e: Error) -> String {
    match e {
        Error::InvalidInput { field, .. } => field,
        other => panic!("expected invalid input, got {other:?}"),
    }
}

#[tokio::test]
async fn analyze_finds_patterns_and_saves_only_when_asked() {
    let tl = world().await;
    let options = for_model(V2);
    let unsaved = tl.analyze(&options).await.unwrap();
    assert!(!unsaved.patterns.is_empty());
    assert!(!unsaved.trends.is_empty());
    assert!(unsaved.patterns.iter().all(|p| p.models == [V2]));
    assert_eq!(unsaved.run_id, None);
    let json = serde_json::to_value(&unsaved).unwrap();
    assert!(json.get("run_id").is_none(), "{json}");
    assert!(json.get("omitted_responses").is_none(), "absent when 0");
    assert!(tl
        .runs(&RunsQuery::default())
        .await
        .unwrap()
        .runs
        .is_empty());

    let saved = tl
        .analyze(&AnalyzeOptions {
            save: true,
            ..options.clone()
        })
        .await
        .unwrap();
    let id = saved.run_id.clone().expect("a run id");
    let shape = regex::Regex::new(r"^r-\d{8}-\d{6}-\d{3}$").unwrap();
    assert!(shape.is_match(&id), "{id}");
    // The analysis is deterministic: saving changes nothing but the id.
    assert_eq!(saved.patterns, unsaved.patterns);
    assert_eq!(saved.trends, unsaved.trends);

    let run = tl.run(&id).await.unwrap();
    assert_eq!(run.kind, "analysis");
    assert_eq!(
        run.params,
        serde_json::json!({"model": V2, "since": null, "until": null})
    );
    assert_eq!(
        run.result["patterns"],
        serde_json::to_value(&saved.patterns).unwrap()
    );
    let suggested = tl.suggest(&options).await.unwrap();
    assert_eq!(
        run.result["suggestions"],
        serde_json::to_value(&suggested.suggestions).unwrap()
    );

    let list = tl.runs(&RunsQuery::default()).await.unwrap();
    assert_eq!(list.runs.len(), 1);
    let row = &list.runs[0];
    assert_eq!(
        (row.id.as_str(), row.kind.as_str()),
        (id.as_str(), "analysis")
    );
    assert_eq!(row.patterns, Some(saved.patterns.len() as u64));
    assert_eq!(row.suggestions, Some(suggested.suggestions.len() as u64));
    assert_eq!(row.created_at, run.created_at);
    let json = serde_json::to_value(&list).unwrap();
    for key in [
        "id",
        "kind",
        "created_at",
        "params",
        "patterns",
        "suggestions",
    ] {
        assert!(json["runs"][0].get(key).is_some(), "{key}: {json}");
    }
}

#[tokio::test]
async fn runs_are_listed_newest_first_filtered_and_compared() {
    let tl = world().await;
    let save = |model: &'static str| {
        let tl = tl.clone();
        async move {
            let options = AnalyzeOptions {
                save: true,
                ..for_model(model)
            };
            let id = tl.analyze(&options).await.unwrap().run_id.unwrap();
            // Ids are to the millisecond: the next save must not share one.
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
            id
        }
    };
    let a = save(V1).await;
    let b = save(V2).await;
    // A run of another kind, whose result holds no pattern list.
    let other = RunRecord {
        id: "weekly-x".into(),
        kind: "weekly".into(),
        created_at: tuneloop::model::parse_timestamp("2026-01-01T00:00:00Z").unwrap(),
        params: serde_json::json!({}),
        result: serde_json::json!({"patterns": 3}),
    };
    tl.store().save_run(&other).await.unwrap();

    let ids = |q: RunsQuery| {
        let tl = tl.clone();
        async move {
            let list = tl.runs(&q).await.unwrap();
            list.runs.into_iter().map(|r| r.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(RunsQuery::default()).await,
        [b.as_str(), a.as_str(), "weekly-x"]
    );
    let analyses = RunsQuery {
        kind: Some("analysis".into()),
        limit: 1,
    };
    assert_eq!(ids(analyses).await, [b.as_str()]);
    let weekly = tl
        .runs(&RunsQuery {
            kind: Some("weekly".into()),
            limit: 0,
        })
        .await
        .unwrap();
    assert_eq!(weekly.runs.len(), 1);
    assert_eq!(
        (weekly.runs[0].patterns, weekly.runs[0].suggestions),
        (None, None)
    );

    // A run against itself: every pattern unchanged.
    let same = tl.diff_runs(&a, &a).await.unwrap();
    assert!(!same.patterns.unchanged.is_empty());
    let p = &same.patterns;
    assert!(p.new.is_empty() && p.grown.is_empty() && p.shrunk.is_empty());
    assert!(p.resolved.is_empty());
    // Different models share no responses: everything is resolved or new.
    let d = tl.diff_runs(&a, &b).await.unwrap();
    assert_eq!((d.from.as_str(), d.to.as_str()), (a.as_str(), b.as_str()));
    assert!(d.from_created_at < d.to_created_at);
    assert!(!d.patterns.new.is_empty() && !d.patterns.resolved.is_empty());
    assert!(d.patterns.unchanged.is_empty());
    let json = serde_json::to_value(&d).unwrap();
    for key in [
        "from",
        "to",
        "new",
        "grown",
        "shrunk",
        "unchanged",
        "resolved",
    ] {
        assert!(json.get(key).is_some(), "{key}: {json}");
    }
    assert!(json["new"][0]["previous_id"].is_null());

    // Unknown ids and runs without patterns.
    match tl.run("r-missing").await {
        Err(Error::NotFound { kind: "run", id }) => assert_eq!(id, "r-missing"),
        other => panic!("{other:?}"),
    }
    match tl.diff_runs(&a, "r-missing").await {
        Err(Error::NotFound { kind: "run", id }) => assert_eq!(id, "r-missing"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        field_of(tl.diff_runs(&a, "weekly-x").await.unwrap_err()),
        "to"
    );
}

#[tokio::test]
async fn suggest_takes_rule_tables_as_data() {
    let tl = world().await;
    let default = tl.suggest(&for_model(V2)).await.unwrap();
    assert_eq!(default.suggestions[0].category, "hallucination");

    // The default tables passed back as data: the same suggestions and patterns.
    let RuleTables { lexicon, rules } = Tuneloop::default_rule_tables();
    let explicit = AnalyzeOptions {
        lexicon: Some(lexicon),
        rules: Some(rules),
        ..for_model(V2)
    };
    assert_eq!(tl.suggest(&explicit).await.unwrap(), default);
    assert_eq!(
        tl.analyze(&explicit).await.unwrap(),
        tl.analyze(&for_model(V2)).await.unwrap()
    );

    // Only a custom rule.
    let rules: RulesFile = serde_json::from_value(serde_json::json!({
        "extends_default": false,
        "rules": [{"category": "hallucination", "when": {"min_size": 10},
                   "title": "Escalate invented answers to the docs team",
                   "action": "Send the pattern's examples to the docs team weekly.",
                   "base_priority": 3}]
    }))
    .unwrap();
    let custom = tl
        .suggest(&AnalyzeOptions {
            rules: Some(rules),
            ..for_model(V2)
        })
        .await
        .unwrap();
    assert!(!custom.suggestions.is_empty());
    assert!(custom
        .suggestions
        .iter()
        .all(|s| s.title == "Escalate invented answers to the docs team"));

    // A lexicon naming a complaint the built-in one does not know: a custom category.
    let lexicon = LexiconFile::from_json(
        r#"{"extends_default": false, "rules": [{"category": "off_topic",
            "any_of": ["not what i asked", "didn't answer", "something else"]}]}"#,
    )
    .unwrap();
    let with_lexicon = tl
        .analyze(&AnalyzeOptions {
            lexicon: Some(lexicon),
            ..Default::default()
        })
        .await
        .unwrap();
    // The demo's "not what I asked" comments are scattered over background patterns, so
    // off_topic reaches no majority (a pattern's category needs half of its members); the
    // lexicon still shows in the category shares of the patterns it touches.
    let without = tl.analyze(&AnalyzeOptions::default()).await.unwrap();
    assert!(without.patterns.iter().all(|p| p.category != "off_topic"));
    let shares = |a: &tuneloop::service::AnalyzeResult| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = a
            .patterns
            .iter()
            .map(|p| (p.category.clone(), format!("{:.4}", p.category_share)))
            .collect();
        v.sort();
        v
    };
    assert_ne!(shares(&with_lexicon), shares(&without));
}

#[tokio::test]
async fn bad_options_name_their_field_and_read_nothing() {
    let tl = world().await;
    let rules = RulesFile::from_json(
        r#"{"rules": [{"category": "hallucination", "title": "t", "action": "a",
            "base_priority": -3}]}"#,
    )
    .unwrap();
    let bad_rules = AnalyzeOptions {
        rules: Some(rules),
        ..Default::default()
    };
    assert_eq!(
        field_of(bad_rules.validate().unwrap_err()),
        "rules.rules[0].base_priority"
    );
    assert_eq!(
        field_of(tl.suggest(&bad_rules).await.unwrap_err()),
        "rules.rules[0].base_priority"
    );
    let lexicon =
        LexiconFile::from_json(r#"{"rules": [{"category": "Billing", "any_of": ["x"]}]}"#).unwrap();
    let bad_lexicon = AnalyzeOptions {
        lexicon: Some(lexicon),
        save: true,
        ..Default::default()
    };
    assert_eq!(
        field_of(tl.analyze(&bad_lexicon).await.unwrap_err()),
        "lexicon.rules[0].category"
    );
    // Nothing was saved by the refused call.
    assert!(tl
        .runs(&RunsQuery::default())
        .await
        .unwrap()
        .runs
        .is_empty());

    // Shape errors in a table's text name the path within it.
    let e =
        LexiconFile::from_json(r#"{"rules": [{"category": "b", "any_of": ["x"], "wieght": 1}]}"#)
            .unwrap_err();
    assert!(field_of(e).starts_with("rules[0]"));

    let t = |s: &str| tuneloop::model::parse_timestamp(s).unwrap();
    let backwards = AnalyzeOptions {
        since: Some(t("2026-10-01T00:00:00Z")),
        until: Some(t("2026-09-01T00:00:00Z")),
        ..Default::default()
    };
    assert_eq!(field_of(tl.analyze(&backwards).await.unwrap_err()), "since");
    let save = AnalyzeOptions {
        save: true,
        ..Default::default()
    };
    assert_eq!(field_of(tl.suggest(&save).await.unwrap_err()), "save");
}

#[test]
fn options_are_serde_data() {
    let options: AnalyzeOptions = serde_json::from_value(serde_json::json!({
        "model": V2,
        "since": "2026-09-01T00:00:00Z",
        "rules": {"rules": [{"category": "*", "title": "t", "action": "a", "base_priority": 1}]},
        "save": true
    }))
    .unwrap();
    assert_eq!(options.model.as_deref(), Some(V2));
    assert!(options.rules.as_ref().unwrap().extends_default);
    assert!(options.save && options.lexicon.is_none() && options.until.is_none());
    let back: AnalyzeOptions =
        serde_json::from_str(&serde_json::to_string(&options).unwrap()).unwrap();
    assert_eq!(back, options);
    assert_eq!(
        serde_json::to_string(&AnalyzeOptions::default()).unwrap(),
        "{}"
    );
    assert!(serde_json::from_str::<AnalyzeOptions>(r#"{"modle": "x"}"#).is_err());
    assert!(serde_json::from_str::<RunsQuery>(r#"{"limit": 5, "knid": "x"}"#).is_err());
    assert_eq!(
        serde_json::from_str::<RunsQuery>("{}").unwrap(),
        RunsQuery::default()
    );
}
