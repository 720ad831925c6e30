//! The manifest says what the files hold: every count is recomputed from the written train,
//! validation and lineage files. Deduplication never removes an example as a duplicate of
//! one with the opposite label (KTO) or the opposite preference (DPO).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::Value;
use tuneloop::dataset::redact::{RedactionConfig, Redactor};
use tuneloop::dataset::tokens::{billing_tokens, count_parts, estimated_epochs, TokenStats};
use tuneloop::dataset::{build, Dataset, DatasetConfig, DatasetFormat, ExampleKind, FileInfo};
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::model::{parse_timestamp, Feedback, FeedbackKind, Message, ResponseRecord, Role};

fn t(day: u32) -> tuneloop::model::Timestamp {
    parse_timestamp(&format!("2026-09-{day:02}T10:00:00Z")).unwrap()
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The (role, content) messages of a JSON message list.
fn msgs(v: &Value) -> Vec<(&str, &str)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| (m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect()
}

/// The message lists a line is made of (prompt, then each completion), and its token count
/// by the cookbook: prompt with the longer completion for preference lines.
fn parts(format: DatasetFormat, line: &Value) -> (Vec<Vec<(&str, &str)>>, u64) {
    let enc = DatasetConfig::default().encoding;
    let count = |m: &[(&str, &str)]| count_parts(enc, m.iter().map(|(r, c)| (*r, *c, None)));
    match format.kind() {
        ExampleKind::Sft => {
            let m = msgs(&line["messages"]);
            let n = count(&m);
            (vec![m], n)
        }
        ExampleKind::Preference => {
            let (p, c, r) = match format {
                DatasetFormat::OpenaiDpo => (
                    msgs(&line["input"]["messages"]),
                    msgs(&line["preferred_output"]),
                    msgs(&line["non_preferred_output"]),
                ),
                _ => (
                    msgs(&line["prompt"]),
                    msgs(&line["chosen"]),
                    msgs(&line["rejected"]),
                ),
            };
            let with = |a: &[(&str, &str)]| count(&[p.clone(), a.to_vec()].concat());
            let n = with(&c).max(with(&r));
            (vec![p, c, r], n)
        }
        ExampleKind::Kto => {
            let (p, c) = (msgs(&line["prompt"]), msgs(&line["completion"]));
            let n = count(&[p.clone(), c.clone()].concat());
            (vec![p, c], n)
        }
    }
}

/// Recomputes every count of the manifest that the files determine and compares.
/// Returns (lines written, redactions written).
fn recount(ds: &Dataset, format: DatasetFormat) -> (u64, u64) {
    let m = ds.manifest();
    let kinds: Vec<String> = Redactor::new(&RedactionConfig::default())
        .unwrap()
        .kinds()
        .to_vec();
    let train = lines(ds.train_jsonl());
    let val = lines(ds.validation_jsonl());
    let lineage = lines(ds.lineage_jsonl());
    assert_eq!(m.counts.train, train.len() as u64);
    assert_eq!(m.counts.validation, val.len() as u64);
    assert_eq!(m.files["train.jsonl"], FileInfo::of(ds.train_jsonl()));
    assert_eq!(
        m.files["validation.jsonl"],
        FileInfo::of(ds.validation_jsonl())
    );
    assert_eq!(m.files["lineage.jsonl"], FileInfo::of(ds.lineage_jsonl()));
    assert_eq!(lineage.len(), train.len() + val.len());

    let mut sources: BTreeMap<String, u64> = BTreeMap::new();
    for (file, n) in [
        ("train.jsonl", train.len()),
        ("validation.jsonl", val.len()),
    ] {
        let numbers: Vec<u64> = lineage
            .iter()
            .filter(|l| l["file"] == file)
            .map(|l| l["line"].as_u64().unwrap())
            .collect();
        assert_eq!(numbers, (1..=n as u64).collect::<Vec<_>>(), "{file}");
    }
    for l in &lineage {
        *sources
            .entry(l["source"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert_eq!(m.sources, sources);

    let mut redactions: BTreeMap<String, u64> = BTreeMap::new();
    let mut tokens = |list: &[Value]| -> Vec<u64> {
        list.iter()
            .map(|line| {
                let (texts, n) = parts(format, line);
                for (_, content) in texts.iter().flatten() {
                    for kind in &kinds {
                        let c = content.matches(&format!("[{kind}]")).count() as u64;
                        if c > 0 {
                            *redactions.entry(kind.clone()).or_insert(0) += c;
                        }
                    }
                }
                n
            })
            .collect()
    };
    let train_tokens = tokens(&train);
    let val_tokens = tokens(&val);
    assert_eq!(m.tokens.train, TokenStats::of(&train_tokens));
    assert_eq!(m.tokens.validation, TokenStats::of(&val_tokens));
    assert_eq!(m.redactions.0, redactions, "redactions as written");
    let billing = billing_tokens(&train_tokens, m.config.max_tokens);
    assert_eq!(m.billing_tokens, billing);
    assert_eq!(m.estimated_epochs, estimated_epochs(train.len() as u64));
    assert_eq!(m.estimated_trained_tokens, billing * m.estimated_epochs);

    // Every candidate example is written or dropped for an example-level reason.
    let example_drops: u64 = ["too_long", "duplicate_exact", "duplicate_near"]
        .iter()
        .map(|k| m.dropped.get(*k).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        m.counts.candidates,
        m.counts.train + m.counts.validation + example_drops
    );
    (m.counts.train + m.counts.validation, m.redactions.total())
}

/// The demo world with PII planted in queries, prior turns and answers.
fn planted() -> (Vec<ResponseRecord>, Vec<Feedback>) {
    let w = generate(&DemoOptions::default());
    let (mut rs, fb) = (w.batch.responses, w.batch.feedback);
    for (i, r) in rs.iter_mut().enumerate().filter(|(i, _)| i % 7 == 0) {
        r.conversation.push(Message {
            role: Role::User,
            content: format!("I am maria.gonzalez@example.com, ticket {i}"),
        });
        r.response = format!("{} Call +44 20 7946 0958.", r.response);
    }
    (rs, fb)
}

#[test]
fn every_manifest_count_matches_the_files_for_every_format() {
    let (rs, fb) = planted();
    let mut seen = 0;
    for format in DatasetFormat::ALL {
        for model in ["support-bot-v1", "support-bot-v2"] {
            let c = DatasetConfig {
                format,
                validation_fraction: 0.2,
                min_examples: 1,
                system_prompt: Some("Escalate to j.smith@example.org when unsure.".into()),
                ..Default::default()
            };
            let ds = build(&rs, &fb, model, &c).unwrap();
            let (written, redactions) = recount(&ds, format);
            assert!(written > 0 && redactions > 0, "{format:?} {model}");
            seen += 1;
        }
    }
    assert_eq!(seen, 2 * DatasetFormat::ALL.len());
}

fn resp(id: &str, prior: &[Message], query: &str, answer: &str, day: u32) -> ResponseRecord {
    let mut r = ResponseRecord::new(id, "bot", query, answer, t(day));
    r.conversation = prior.to_vec();
    r
}

fn thumbs(id: &str, r: &str, up: bool) -> Feedback {
    Feedback::new(id, r, FeedbackKind::Thumbs { up }, t(20))
}

fn cfg(format: DatasetFormat) -> DatasetConfig {
    DatasetConfig {
        format,
        min_examples: 1,
        validation_fraction: 0.0,
        ..Default::default()
    }
}

#[test]
fn a_shared_prompt_is_counted_once_per_written_pair() {
    let prior = [Message {
        role: Role::User,
        content: "I am jane.doe@example.com and my boots leak.".into(),
    }];
    let rs = vec![
        resp("r1", &prior, "What now?", "Send them back for a refund.", 1),
        resp("r2", &prior, "What now?", "Nothing can be done.", 2),
    ];
    let fb = vec![thumbs("f1", "r1", true), thumbs("f2", "r2", false)];
    for format in [DatasetFormat::OpenaiDpo, DatasetFormat::TrlDpo] {
        let ds = build(&rs, &fb, "bot", &cfg(format)).unwrap();
        assert_eq!(ds.manifest().counts.train, 1);
        assert_eq!(ds.manifest().redactions.0.get("EMAIL"), Some(&1));
        recount(&ds, format);
    }
}

/// Long enough (about 150 words) that a one-word edit keeps the shingle Jaccard
/// similarity near 0.95, where LSH misses a pair with probability well under 1 %.
const ROUTER: &str = "Unplug the router, wait thirty seconds, plug it back in, then hold the \
    reset button for ten seconds until the light blinks orange. If the light stays red, check \
    that the cable is firmly in the wall socket and try once more; the light turns green \
    when the router is online again. Your devices reconnect on their own within a minute or \
    two, although some older laptops need you to pick the network by name and type the \
    password printed on the sticker under the router. Should the connection still drop every \
    few minutes, move the router away from microwaves, cordless phones and thick walls, keep \
    it off the floor, and make sure the antennas point upwards. The app on your phone shows \
    the signal strength in every room, so you can find the best spot before you settle on \
    one. When none of this helps, write down the colour of each light and the time it \
    changed, then call our support line: the engineer uses these notes to decide whether to \
    send a replacement or to book a visit, which saves you a second call and a long wait.";

#[test]
fn kto_never_drops_an_answer_as_a_copy_of_one_with_the_other_label() {
    let q = "How do I reset the router?";
    let near = ROUTER.replace("stays red", "stays pink");
    let rs = vec![
        resp("good", &[], q, ROUTER, 1),
        // One word changed, rated down: a near copy by text, but the opposite label.
        resp("bad", &[], q, &near, 2),
        // A near copy rated up as well: a real duplicate of `good`.
        resp(
            "good2",
            &[],
            q,
            &ROUTER.replace("ten seconds", "10 seconds"),
            1,
        ),
    ];
    let fb = vec![
        thumbs("f1", "good", true),
        Feedback::new("f1s", "good", FeedbackKind::Stars { rating: 5 }, t(20)),
        thumbs("f2", "bad", false),
        thumbs("f3", "good2", true),
    ];
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlKto)).unwrap();
    let m = ds.manifest();
    let labels: Vec<(String, bool)> = lines(ds.lineage_jsonl())
        .iter()
        .zip(lines(ds.train_jsonl()))
        .map(|(l, line)| {
            (
                l["response_ids"][0].as_str().unwrap().to_string(),
                line["label"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(m.counts.train, 2, "{labels:?} {m:?}");
    assert!(labels.contains(&("good".into(), true)), "{labels:?}");
    assert!(labels.contains(&("bad".into(), false)), "{labels:?}");
    assert_eq!(
        m.dropped.get("duplicate_near"),
        Some(&1),
        "good2 joins good"
    );
    recount(&ds, DatasetFormat::TrlKto);
}

const BOOTS: &str = "Pack the boots in their original box, print the prepaid label from your \
    order page, attach it to the parcel and drop it at any post office within thirty days. \
    The refund reaches your card five to seven working days after the warehouse scans the \
    parcel; you get an email at each step, and the order page shows where the parcel is. \
    Boots that were worn outdoors cannot be returned, but the two-year warranty covers \
    seams that split and soles that come loose, whatever the weather they met. For a \
    warranty claim, send two photos of the fault and the order number from the confirmation \
    email, and we answer within two working days with a repair, a new pair or a refund. \
    Exchanges for another size are free: choose the new size on the return form and we ship \
    it as soon as the first pair is on its way back, so you are never without boots.";

#[test]
fn dpo_never_drops_a_pair_as_a_copy_of_the_reversed_pair() {
    let q = "Which answer is right?";
    let (a, b) = (ROUTER, BOOTS);
    let a2 = ROUTER.replace("stays red", "stays pink");
    let b2 = BOOTS;
    // Pairs within one context: (a over b) and (b2 over a2), the reverse preference of
    // near copies; newest positive goes with the oldest negative.
    let rs = vec![
        resp("a", &[], q, a, 9),
        resp("b", &[], q, b, 1),
        resp("b2", &[], q, b2, 5),
        resp("a2", &[], q, &a2, 6),
    ];
    let fb = vec![
        thumbs("fa", "a", true),
        thumbs("fb", "b", false),
        thumbs("fb2", "b2", true),
        thumbs("fa2", "a2", false),
    ];
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlDpo)).unwrap();
    let m = ds.manifest();
    let pairs: Vec<Vec<String>> = lines(ds.lineage_jsonl())
        .iter()
        .map(|l| serde_json::from_value(l["response_ids"].clone()).unwrap())
        .collect();
    assert!(pairs.contains(&vec!["a".into(), "b".into()]), "{pairs:?}");
    assert!(pairs.contains(&vec!["b2".into(), "a2".into()]), "{pairs:?}");
    assert_eq!(m.counts.train, 2, "{m:?}");
    assert_eq!(m.dropped.get("duplicate_near"), None);
    recount(&ds, DatasetFormat::TrlDpo);

    // The same preference twice (near copies on both sides) is still one example.
    let rs = vec![
        resp("a", &[], q, a, 9),
        resp("b", &[], q, b, 1),
        resp("a2", &[], q, &a2, 6),
        resp("b2", &[], q, b2, 5),
    ];
    let fb = vec![
        thumbs("fa", "a", true),
        thumbs("fb", "b", false),
        thumbs("fa2", "a2", true),
        thumbs("fb2", "b2", false),
    ];
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlDpo)).unwrap();
    assert_eq!(ds.manifest().counts.train, 1, "{:?}", ds.manifest());
    assert_eq!(ds.manifest().dropped.get("duplicate_near"), Some(&1));
}

#[test]
fn short_corrections_one_word_apart_collapse() {
    let q = "How do I reset the app?";
    let rs = vec![
        resp("r1", &[], q, "Reinstall it.", 1),
        resp("r2", &[], q, "Buy a new phone.", 2),
        resp("r3", &[], q, "No idea.", 3),
    ];
    let fix = |id: &str, r: &str, text: &str| {
        Feedback::new(
            id,
            r,
            FeedbackKind::Full {
                rating: 1,
                categories: vec![],
                correction: Some(text.into()),
            },
            t(20),
        )
    };
    let fb = vec![
        fix("f1", "r1", "Please open Settings and choose Reset."),
        fix("f2", "r2", "Kindly open Settings and choose Reset."),
        fix(
            "f3",
            "r3",
            "Open Settings, then Help, and choose Contact us.",
        ),
    ];
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::OpenaiChat)).unwrap();
    let m = ds.manifest();
    assert_eq!(m.counts.train, 2, "{m:?}");
    assert_eq!(m.dropped.get("duplicate_near"), Some(&1));
    recount(&ds, DatasetFormat::OpenaiChat);
}
