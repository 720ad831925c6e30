//! DPO pairs from comparisons, read from a store through the facade: the winner chosen,
//! the loser rejected, across models, only for answers to the same conversation context.

use tuneloop::dataset::DatasetFormat;
use tuneloop::model::{parse_timestamp, Comparison, Message, ResponseRecord, Role, Winner};
use tuneloop::service::DatasetRequest;
use tuneloop::store::RecordBatch;
use tuneloop::{Options, Tuneloop};

fn resp(id: &str, model: &str, prior: Option<&str>, query: &str, answer: &str) -> ResponseRecord {
    let mut r = ResponseRecord::new(
        id,
        model,
        query,
        answer,
        parse_timestamp("2026-09-01T10:00:00Z").expect("valid"),
    );
    if let Some(p) = prior {
        r.conversation.push(Message {
            role: Role::User,
            content: p.into(),
        });
    }
    r
}

#[tokio::test]
async fn comparison_pairs_reach_the_dataset_with_their_lineage() {
    let tl = Tuneloop::open(Options::memory()).await.expect("opens");
    let mut responses = Vec::new();
    let mut comparisons = Vec::new();
    for i in 0..6 {
        let prior = format!("order #{i} arrived broken");
        let q = "What can I do?";
        let mine = resp(
            &format!("bot-{i}"),
            "bot",
            Some(&prior),
            q,
            &format!("We will replace order #{i} for free."),
        );
        let rival = resp(
            &format!("rival-{i}"),
            "rival",
            Some(&prior),
            q,
            &format!("Order #{i}: contact the courier."),
        );
        // Same last query after another conversation: must never pair with the above.
        let stray = resp(
            &format!("stray-{i}"),
            "rival",
            Some("hello"),
            q,
            &format!("Stray answer {i}."),
        );
        let winner = if i % 3 == 0 {
            Winner::Tie
        } else if i % 2 == 0 {
            Winner::A
        } else {
            Winner::B
        };
        comparisons.push(Comparison::new(
            format!("cmp-{i}"),
            mine.id.clone(),
            rival.id.clone(),
            winner,
            parse_timestamp("2026-09-02T10:00:00Z").expect("valid"),
        ));
        responses.extend([mine, rival, stray]);
    }
    tl.record(&RecordBatch {
        responses,
        feedback: vec![],
    })
    .await
    .expect("records");
    tl.record_comparisons(&comparisons)
        .await
        .expect("records comparisons");
    // A comparison across contexts is refused by the store, naming the field.
    let across = Comparison::new(
        "across",
        "bot-1",
        "stray-1",
        Winner::A,
        parse_timestamp("2026-09-02T10:00:00Z").expect("valid"),
    );
    let e = tl.record_comparisons(&[across]).await.expect_err("refused");
    assert!(e.to_string().contains("context"), "{e}");

    let built = tl
        .build_dataset(&DatasetRequest {
            format: Some(DatasetFormat::TrlDpo),
            min_examples: Some(1),
            validation_fraction: Some(0.0),
            ..DatasetRequest::new("bot")
        })
        .await
        .expect("builds");
    let m = &built.manifest;
    // 6 comparisons: 2 ties, 4 with a winner.
    assert_eq!(
        m.sources.get("comparison_pair"),
        Some(&4),
        "{:?}",
        m.sources
    );
    assert_eq!(m.dropped.get("comparison_tie"), Some(&2), "{:?}", m.dropped);
    let by_id: std::collections::HashMap<&str, &Comparison> =
        comparisons.iter().map(|c| (c.id.as_str(), c)).collect();
    for (line, lineage) in built.train_jsonl.lines().zip(built.lineage_jsonl.lines()) {
        let ex: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let lin: serde_json::Value = serde_json::from_str(lineage).expect("JSON");
        assert_eq!(lin["source"], "comparison_pair");
        let c = by_id[lin["feedback_ids"][0].as_str().expect("id")];
        let i = &c.id["cmp-".len()..];
        let (chosen, rejected) = (ex["chosen"].to_string(), ex["rejected"].to_string());
        // The pair's prompt, chosen and rejected answers all belong to conversation i.
        assert!(
            ex["prompt"]
                .to_string()
                .contains(&format!("order #{i} arrived")),
            "{ex}"
        );
        assert!(
            chosen.contains(&format!("#{i}")) && rejected.contains(&format!("#{i}")),
            "{ex}"
        );
        let want_chosen = if c.winner == Winner::A {
            "replace"
        } else {
            "courier"
        };
        assert!(chosen.contains(want_chosen), "{ex}");
        assert!(
            !chosen.contains("Stray") && !rejected.contains("Stray"),
            "{ex}"
        );
    }
    tl.close().await.expect("closes");
}
