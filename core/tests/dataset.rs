//! Dataset building end to end: sources and formats, conflict rule, PII, duplicates, split,
//! determinism, atomic writing, and the validator on crafted bad files and on our output.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;
use tuneloop::dataset::dedup::{find_duplicates, normalize, DedupConfig};
use tuneloop::dataset::validate::ValidateFormat;
use tuneloop::dataset::{build, validate_jsonl, DatasetConfig, DatasetFormat, ValidationOptions};
use tuneloop::demo::{generate, DemoOptions};
use tuneloop::jobs::build_from_store;
use tuneloop::model::{
    parse_timestamp, Category, Feedback, FeedbackKind, Message, ResponseRecord, Role, Timestamp,
};
use tuneloop::store::{FeedbackStoreExt, MemoryStore};
use tuneloop::Error;

fn t(day: u32) -> Timestamp {
    parse_timestamp(&format!("2026-09-{day:02}T10:00:00Z")).unwrap()
}

fn resp(id: &str, query: &str, answer: &str, day: u32) -> ResponseRecord {
    ResponseRecord::new(id, "bot", query, answer, t(day))
}

fn thumbs(id: &str, r: &str, up: bool, day: u32) -> Feedback {
    Feedback::new(id, r, FeedbackKind::Thumbs { up }, t(day))
}

fn fix(id: &str, r: &str, correction: &str, day: u32) -> Feedback {
    Feedback::new(
        id,
        r,
        FeedbackKind::Full {
            rating: 1,
            categories: vec![Category::new("factual_error").unwrap()],
            correction: Some(correction.to_string()),
        },
        t(day),
    )
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The top-level keys of a JSON object line, in written order.
fn keys_in_order(raw: &str) -> Vec<String> {
    struct Keys(Vec<String>);
    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut m: A,
                ) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, _)) = m.next_entry::<String, serde::de::IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_str::<Keys>(raw).unwrap().0
}

fn raw_lines(bytes: &[u8]) -> Vec<&str> {
    std::str::from_utf8(bytes).unwrap().lines().collect()
}

fn cfg(format: DatasetFormat) -> DatasetConfig {
    DatasetConfig {
        format,
        min_examples: 1,
        validation_fraction: 0.0,
        ..Default::default()
    }
}

/// A small history exercising every source.
fn small() -> (Vec<ResponseRecord>, Vec<Feedback>) {
    let mut r = resp("r1", "Refund window?", "90 days.", 1);
    r.conversation = vec![Message {
        role: Role::User,
        content: "Hi, I bought boots.".into(),
    }];
    let responses = vec![
        r,
        resp("r2", "Opening hours?", "9 to 5 on weekdays.", 2),
        resp("r3", "Do you ship abroad?", "Yes, to 40 countries.", 3),
        resp("r4", "do you ship  ABROAD?", "No.", 4),
        resp("r5", "Is the tent waterproof?", "Maybe.", 5),
    ];
    let feedback = vec![
        fix("f1", "r1", "60 days.", 2),
        fix("f1b", "r1", "30 days from delivery.", 3),
        thumbs("f2", "r2", true, 3),
        thumbs("f3", "r3", true, 4),
        thumbs("f4", "r4", false, 5),
        thumbs("f5", "r5", true, 6),
        thumbs("f6", "r5", false, 6),
    ];
    (responses, feedback)
}

#[test]
fn each_format_has_its_documented_shape() {
    let (rs, fb) = small();
    let mut c = cfg(DatasetFormat::OpenaiChat);
    c.system_prompt = Some("You are Acme's assistant.".into());
    let ds = build(&rs, &fb, "bot", &c).unwrap();
    let all = lines(ds.train_jsonl());
    // r1 correction, r2 and r3 positives; r4 negative without correction; r5 conflicting.
    assert_eq!(all.len(), 3);
    let r1 = all
        .iter()
        .find(|l| l["messages"][1]["content"] == "Hi, I bought boots.")
        .expect("the correction example keeps the prior turn");
    let msgs = r1["messages"].as_array().unwrap();
    assert_eq!(msgs[0]["role"], "system");
    assert_eq!(msgs[0]["content"], "You are Acme's assistant.");
    assert_eq!(msgs[2]["content"], "Refund window?");
    assert_eq!(msgs[3]["role"], "assistant");
    assert_eq!(
        msgs[3]["content"], "30 days from delivery.",
        "newest correction wins"
    );
    let m = ds.manifest();
    assert_eq!(m.dropped.get("conflicting_feedback"), Some(&1));
    assert_eq!(m.dropped.get("negative_without_correction"), Some(&1));
    assert_eq!(m.sources.get("correction"), Some(&1));
    assert_eq!(m.sources.get("positive"), Some(&2));

    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlSft)).unwrap();
    for l in raw_lines(ds.train_jsonl()) {
        assert_eq!(keys_in_order(l), ["messages"]);
    }

    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::OpenaiDpo)).unwrap();
    let all = lines(ds.train_jsonl());
    assert_eq!(all.len(), 2, "a correction pair and a same-query pair");
    for l in raw_lines(ds.train_jsonl()) {
        assert_eq!(
            keys_in_order(l),
            ["input", "preferred_output", "non_preferred_output"]
        );
    }
    let pair = all
        .iter()
        .find(|l| l["preferred_output"][0]["content"] == "Yes, to 40 countries.")
        .expect("positive preferred over negative for the same normalised query");
    assert_eq!(pair["non_preferred_output"][0]["content"], "No.");
    assert_eq!(ds.manifest().sources.get("preference_pair"), Some(&1));

    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlDpo)).unwrap();
    for l in raw_lines(ds.train_jsonl()) {
        assert_eq!(keys_in_order(l), ["prompt", "chosen", "rejected"]);
    }

    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlKto)).unwrap();
    let all = lines(ds.train_jsonl());
    assert_eq!(all.len(), 3, "r2, r3 up, r4 down; r5 ties");
    let labels: BTreeSet<bool> = all.iter().map(|l| l["label"].as_bool().unwrap()).collect();
    assert_eq!(labels, BTreeSet::from([false, true]));
    for l in raw_lines(ds.train_jsonl()) {
        assert_eq!(keys_in_order(l), ["prompt", "completion", "label"]);
    }
    assert_eq!(
        ds.manifest().dropped.get("no_thumbs"),
        Some(&1),
        "r1 has no thumbs"
    );
}

#[test]
fn lineage_points_at_every_line() {
    let (rs, fb) = small();
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::OpenaiDpo)).unwrap();
    let lineage = lines(ds.lineage_jsonl());
    assert_eq!(lineage.len(), lines(ds.train_jsonl()).len());
    let pair = lineage
        .iter()
        .find(|l| l["source"] == "preference_pair")
        .unwrap();
    assert_eq!(pair["response_ids"], serde_json::json!(["r3", "r4"]));
    assert_eq!(pair["feedback_ids"], serde_json::json!(["f3", "f4"]));
    assert_eq!(pair["file"], "train.jsonl");
    let m = ds.manifest();
    assert_eq!(m.files["train.jsonl"].lines, m.counts.train);
}

const ANSWERS: [(&str, &str); 6] = [
    ("How do I reset the router?", "Unplug the router, wait thirty seconds, plug it back in, then hold the reset button for ten seconds until the light blinks orange and finally green."),
    ("How do I return boots?", "Pack the boots in their original box, print the prepaid label from your order page, attach it to the parcel and drop it at any post office within thirty days of delivery."),
    ("Can I change my delivery address?", "Yes, as long as the order has not shipped: open the order, choose edit address, enter the new one and confirm; after shipping, contact the carrier with your tracking number."),
    ("How do I cancel my membership?", "Go to account settings, select membership, press cancel and confirm by email; the plan stays active until the end of the current billing period and is not renewed."),
    ("Which sizes does the rain jacket come in?", "The Summit rain jacket is made in sizes XS to XXL for both the regular and the tall fit, and the size chart on the product page lists chest and sleeve lengths in centimetres."),
    ("Do gift cards expire?", "Gift cards never expire and can be used online or in any store, several times until the balance is spent, but they cannot be exchanged for cash or refunded."),
];

#[test]
fn exact_and_near_duplicates_collapse_keeping_the_best() {
    let mut rs = Vec::new();
    let mut fb = Vec::new();
    for (i, (q, a)) in ANSWERS.iter().enumerate() {
        let id = format!("u{i}");
        rs.push(resp(&id, q, a, 1));
        fb.push(thumbs(&format!("fu{i}"), &id, true, 2));
    }
    // u1 is rated lower than its near copy below.
    fb.push(Feedback::new(
        "fu1s",
        "u1",
        FeedbackKind::Stars { rating: 4 },
        t(2),
    ));
    // Exact copy of u0 (case and spacing differ), newer, rated the same: the newer is kept.
    let (q0, a0) = ANSWERS[0];
    rs.push(resp(
        "x0",
        &q0.to_lowercase(),
        &a0.replace(' ', "  ").to_uppercase(),
        9,
    ));
    fb.push(thumbs("fx0", "x0", true, 10));
    // Near copy of u1 (one word changed), as old as u1 but rated higher: it is kept.
    let (q1, a1) = ANSWERS[1];
    rs.push(resp(
        "n1",
        q1,
        &a1.replace("of delivery.", "of arrival."),
        1,
    ));
    fb.push(thumbs("fn1a", "n1", true, 4));
    fb.push(Feedback::new(
        "fn1b",
        "n1",
        FeedbackKind::Stars { rating: 5 },
        t(4),
    ));
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::OpenaiChat)).unwrap();
    let m = ds.manifest();
    assert_eq!(m.dropped.get("duplicate_exact"), Some(&1), "{m:?}");
    assert_eq!(m.dropped.get("duplicate_near"), Some(&1), "{m:?}");
    assert_eq!(m.counts.train, 6);
    let lineage = lines(ds.lineage_jsonl());
    let ids: HashSet<&str> = lineage
        .iter()
        .map(|l| l["response_ids"][0].as_str().unwrap())
        .collect();
    assert!(
        ids.contains("x0"),
        "the most recent of an exact group is kept"
    );
    assert!(!ids.contains("u0"));
    assert!(
        ids.contains("n1") && !ids.contains("u1"),
        "the best rated is kept"
    );
}

fn demo() -> (Vec<ResponseRecord>, Vec<Feedback>) {
    let w = generate(&DemoOptions::default());
    (w.batch.responses, w.batch.feedback)
}

fn demo_cfg(format: DatasetFormat) -> DatasetConfig {
    DatasetConfig {
        format,
        validation_fraction: 0.2,
        system_prompt: Some("You are Acme Outdoor's support assistant.".into()),
        ..Default::default()
    }
}

fn user_text(line: &Value) -> String {
    let msgs = line["messages"]
        .as_array()
        .or_else(|| line["input"]["messages"].as_array())
        .or_else(|| line["prompt"].as_array())
        .unwrap();
    let user = msgs.iter().rev().find(|m| m["role"] == "user").unwrap();
    normalize(user["content"].as_str().unwrap())
}

/// Every message text of a written line, in order, one per line.
fn contents(line: &Value) -> String {
    let mut out = Vec::new();
    for key in ["messages", "prompt", "chosen", "rejected", "completion"] {
        if let Some(list) = line[key].as_array() {
            out.extend(
                list.iter()
                    .map(|m| m["content"].as_str().unwrap().to_string()),
            );
        }
    }
    if let Some(list) = line["input"]["messages"].as_array() {
        out.extend(
            list.iter()
                .map(|m| m["content"].as_str().unwrap().to_string()),
        );
    }
    for key in ["preferred_output", "non_preferred_output"] {
        if let Some(list) = line[key].as_array() {
            out.extend(
                list.iter()
                    .map(|m| m["content"].as_str().unwrap().to_string()),
            );
        }
    }
    out.join("\n")
}

#[test]
fn no_example_is_in_both_train_and_validation() {
    let (rs, fb) = demo();
    for format in [DatasetFormat::OpenaiChat, DatasetFormat::OpenaiDpo] {
        let ds = build(&rs, &fb, "support-bot-v1", &demo_cfg(format)).unwrap();
        let train = lines(ds.train_jsonl());
        let val = lines(ds.validation_jsonl());
        assert!(
            !train.is_empty() && !val.is_empty(),
            "{:?}",
            ds.manifest().counts
        );
        let train_queries: HashSet<String> = train.iter().map(user_text).collect();
        for v in &val {
            assert!(!train_queries.contains(&user_text(v)), "query leaked: {v}");
        }
        // No exact or near duplicate across the boundary either, by the builder's measure
        // (its dedup config over the example's texts in order).
        let texts: Vec<String> = train.iter().chain(&val).map(contents).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let dups = find_duplicates(&refs, &DedupConfig::default());
        for (i, d) in dups.iter().enumerate() {
            if let Some(d) = d {
                let cross = (i < train.len()) != (d.index < train.len());
                assert!(
                    !cross,
                    "{} duplicates {} across the split",
                    texts[i], texts[d.index]
                );
            }
        }
    }
}

#[test]
fn output_is_byte_identical_across_runs_and_entry_points() {
    let (rs, fb) = demo();
    let c = demo_cfg(DatasetFormat::OpenaiChat);
    let a = build(&rs, &fb, "support-bot-v2", &c).unwrap();
    let b = build(&rs, &fb, "support-bot-v2", &c).unwrap();
    let store = MemoryStore::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        store
            .record(&tuneloop::store::RecordBatch {
                responses: rs.clone(),
                feedback: fb.clone(),
            })
            .await
            .unwrap();
        build_from_store(&store, "support-bot-v2", &c)
            .await
            .unwrap()
    });
    for other in [&b, &s] {
        assert_eq!(a.train_jsonl(), other.train_jsonl());
        assert_eq!(a.validation_jsonl(), other.validation_jsonl());
        assert_eq!(a.lineage_jsonl(), other.lineage_jsonl());
        assert_eq!(a.manifest_json(), other.manifest_json());
    }
    let base = tempfile::tempdir().unwrap();
    a.write_to(&base.path().join("one"), false).unwrap();
    s.write_to(&base.path().join("two"), false).unwrap();
    for f in [
        "train.jsonl",
        "validation.jsonl",
        "lineage.jsonl",
        "manifest.json",
    ] {
        let x = std::fs::read(base.path().join("one").join(f)).unwrap();
        let y = std::fs::read(base.path().join("two").join(f)).unwrap();
        assert_eq!(x, y, "{f}");
    }
    let mut other_seed = c.clone();
    other_seed.seed = 7;
    let d = build(&rs, &fb, "support-bot-v2", &other_seed).unwrap();
    assert_ne!(
        a.validation_jsonl(),
        d.validation_jsonl(),
        "the seed moves the split"
    );
}

/// The personal data the demo plants (comments and corrections).
const PLANTED: &[&str] = &[
    "maria.gonzalez@example.com",
    "j.smith@example.org",
    "555-0134",
    "415",
    "4111 1111 1111 1111",
    "020 7946 0958",
    "800 555 0199",
    "800 555 0100",
];

#[test]
fn no_planted_pii_survives_in_any_output_file() {
    let (mut rs, fb) = demo();
    // Plant PII in the queries, prior turns and answers too: every written field is redacted.
    for (i, r) in rs.iter_mut().enumerate().filter(|(i, _)| i % 5 == 0) {
        r.query = format!("{} My email is maria.gonzalez@example.com", r.query);
        r.conversation.push(Message {
            role: Role::User,
            content: format!("call me on +1 (415) 555-0134 (ticket {i})"),
        });
        r.response = format!("{} We charged 4111 1111 1111 1111.", r.response);
    }
    let base = tempfile::tempdir().unwrap();
    for model in ["support-bot-v1", "support-bot-v2", "code-assistant-v1"] {
        for format in DatasetFormat::ALL {
            let mut c = demo_cfg(format);
            c.system_prompt = Some("Escalate to j.smith@example.org when unsure.".into());
            c.min_examples = 1;
            let ds = match build(&rs, &fb, model, &c) {
                Ok(ds) => ds,
                Err(Error::InvalidInput { field, .. }) if field == "min_examples" => continue,
                Err(e) => panic!("{model} {format:?}: {e}"),
            };
            let dir = base.path().join(format!("{model}-{}", format.as_str()));
            ds.write_to(&dir, false).unwrap();
            let mut redactions = 0;
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in PLANTED {
                    if *needle == "415" {
                        continue; // too short to grep for alone; covered by 555-0134
                    }
                    assert!(!text.contains(needle), "{needle} in {}", path.display());
                }
                redactions += ds.manifest().redactions.total();
            }
            assert!(redactions > 0, "{model} {format:?} redacted nothing");
        }
    }
}

#[test]
fn the_demo_gives_a_useful_sft_dataset_that_the_validator_passes() {
    let (rs, fb) = demo();
    for (format, vf) in [
        (DatasetFormat::OpenaiChat, ValidateFormat::OpenaiChat),
        (DatasetFormat::OpenaiDpo, ValidateFormat::OpenaiDpo),
    ] {
        let ds = build(&rs, &fb, "support-bot-v2", &demo_cfg(format)).unwrap();
        let m = ds.manifest();
        assert!(m.counts.train >= 10, "{format:?}: {:?}", m.counts);
        for bytes in [ds.train_jsonl(), ds.validation_jsonl()] {
            let r = validate_jsonl(bytes, &ValidationOptions::new(vf)).unwrap();
            assert!(r.is_valid(), "{format:?}: {r:?}");
            assert_eq!(r.warnings.get("missing_system_message"), None);
        }
        let r = validate_jsonl(ds.train_jsonl(), &ValidationOptions::new(vf)).unwrap();
        assert_eq!(r.tokens.total, m.tokens.train.total, "same token counts");
        assert_eq!(r.billing_tokens, m.billing_tokens);
        assert_eq!(r.estimated_epochs, m.estimated_epochs);
    }
}

#[test]
fn validate_flags_each_error_key_on_crafted_files() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/vectors/validate"
    ));
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        let (format, key) = name.split_once("__").unwrap();
        let vf = match format {
            "openai-chat" => ValidateFormat::OpenaiChat,
            "openai-dpo" => ValidateFormat::OpenaiDpo,
            other => panic!("{other}"),
        };
        let file = std::io::BufReader::new(std::fs::File::open(&path).unwrap());
        let r = validate_jsonl(file, &ValidationOptions::new(vf)).unwrap();
        if key == "valid" {
            assert!(r.is_valid(), "{name}: {r:?}");
        } else {
            assert!(!r.is_valid(), "{name}");
            assert!(r.errors.contains_key(key), "{name}: {:?}", r.errors);
            seen.insert(key.to_string());
        }
    }
    for key in [
        "data_type",
        "missing_messages_list",
        "message_missing_key",
        "message_unrecognized_key",
        "unrecognized_role",
        "missing_content",
        "example_missing_assistant_message",
        "json_parse",
        "identical_outputs",
        "output_not_one_assistant_message",
    ] {
        assert!(seen.contains(key), "no crafted file for {key}");
    }
}

#[test]
fn too_few_examples_and_unknown_models_are_clear_errors() {
    let (rs, fb) = small();
    let c = DatasetConfig::default(); // min_examples 10
    match build(&rs, &fb, "bot", &c) {
        Err(Error::InvalidInput { field, reason }) => {
            assert_eq!(field, "min_examples");
            assert!(reason.contains("found 3"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let store = MemoryStore::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        store
            .record(&tuneloop::store::RecordBatch {
                responses: rs.clone(),
                feedback: fb.clone(),
            })
            .await
            .unwrap();
        match build_from_store(&store, "nope", &c).await {
            Err(Error::NotFound { kind, id }) => assert_eq!((kind, id.as_str()), ("model", "nope")),
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn too_long_examples_are_dropped() {
    let (rs, fb) = small();
    let mut c = cfg(DatasetFormat::OpenaiChat);
    c.max_tokens = 25;
    let ds = build(&rs, &fb, "bot", &c).unwrap();
    let m = ds.manifest();
    assert!(
        m.dropped.get("too_long").copied().unwrap_or(0) >= 1,
        "{m:?}"
    );
    assert!(m.tokens.train.max <= 25);
}

#[test]
fn output_does_not_depend_on_the_thread_count() {
    let (rs, fb) = demo();
    let c = demo_cfg(DatasetFormat::OpenaiDpo);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| build(&rs, &fb, "support-bot-v1", &c).unwrap())
    };
    let (one, four) = (run(1), run(4));
    assert_eq!(one.train_jsonl(), four.train_jsonl());
    assert_eq!(one.validation_jsonl(), four.validation_jsonl());
    assert_eq!(one.manifest_json(), four.manifest_json());
}
