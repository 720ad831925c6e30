//! Preference pairs join only answers to the same conversation context (prior turns and
//! query), never answers to different conversations that merely end in the same query.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use proptest::prelude::*;
use serde_json::Value;
use tuneloop::dataset::dedup::normalize;
use tuneloop::dataset::{build, DatasetConfig, DatasetFormat};
use tuneloop::model::{
    parse_timestamp, Category, Feedback, FeedbackKind, Message, ResponseRecord, Role, Timestamp,
};

fn t(day: u32) -> Timestamp {
    parse_timestamp(&format!("2026-09-{day:02}T10:00:00Z")).unwrap()
}

fn turn(role: Role, content: &str) -> Message {
    Message {
        role,
        content: content.to_string(),
    }
}

fn resp(id: &str, prior: &[Message], query: &str, answer: &str) -> ResponseRecord {
    let mut r = ResponseRecord::new(id, "bot", query, answer, t(1));
    r.conversation = prior.to_vec();
    r
}

fn thumbs(id: &str, r: &str, up: bool) -> Feedback {
    Feedback::new(id, r, FeedbackKind::Thumbs { up }, t(2))
}

fn cfg(format: DatasetFormat) -> DatasetConfig {
    DatasetConfig {
        format,
        min_examples: 1,
        validation_fraction: 0.0,
        ..Default::default()
    }
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// An unrelated correction pair, so a build with no preference pair still has an example.
fn anchor() -> (ResponseRecord, Feedback) {
    let r = ResponseRecord::new("anchor", "bot", "Opening hours?", "Always open.", t(1));
    let f = Feedback::new(
        "fa",
        "anchor",
        FeedbackKind::Full {
            rating: 1,
            categories: vec![Category::new("factual_error").unwrap()],
            correction: Some("9 to 5 on weekdays.".into()),
        },
        t(2),
    );
    (r, f)
}

fn refund() -> Vec<Message> {
    vec![
        turn(Role::User, "Can I get a refund for my boots?"),
        turn(Role::Assistant, "Yes, shall I start the refund?"),
    ]
}

fn cancel() -> Vec<Message> {
    vec![
        turn(Role::User, "Please cancel my membership."),
        turn(Role::Assistant, "Do you want me to cancel it now?"),
    ]
}

#[test]
fn same_last_query_in_different_conversations_makes_no_pair() {
    let (ar, af) = anchor();
    let rs = vec![
        ar,
        resp("r1", &refund(), "yes", "Refund started; it takes 5 days."),
        resp("r2", &cancel(), "yes", "Your order has shipped."),
    ];
    let fb = vec![af, thumbs("f1", "r1", true), thumbs("f2", "r2", false)];
    for format in [DatasetFormat::OpenaiDpo, DatasetFormat::TrlDpo] {
        let ds = build(&rs, &fb, "bot", &cfg(format)).unwrap();
        let m = ds.manifest();
        assert_eq!(m.sources.get("preference_pair"), None, "{m:?}");
        assert_eq!(m.dropped.get("unpaired"), Some(&2), "{m:?}");
        assert_eq!(m.counts.train, 1, "only the anchor's correction pair");
    }
}

#[test]
fn same_context_makes_a_pair_whose_prompt_is_that_context() {
    let (ar, af) = anchor();
    // Case and spacing differ: still the same context.
    let mut other = refund();
    other[0].content = "can I get a  REFUND for my boots?".into();
    let rs = vec![
        ar,
        resp("r1", &refund(), "yes", "Refund started; it takes 5 days."),
        resp("r2", &other, " Yes ", "Your order has shipped."),
    ];
    let fb = vec![af, thumbs("f1", "r1", true), thumbs("f2", "r2", false)];
    let ds = build(&rs, &fb, "bot", &cfg(DatasetFormat::TrlDpo)).unwrap();
    assert_eq!(ds.manifest().sources.get("preference_pair"), Some(&1));
    let pair = lines(ds.train_jsonl())
        .into_iter()
        .find(|l| l["chosen"][0]["content"] == "Refund started; it takes 5 days.")
        .unwrap();
    assert_eq!(pair["rejected"][0]["content"], "Your order has shipped.");
    let prompt: Vec<(String, String)> = pair["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                m["content"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = refund()
        .iter()
        .map(|m| (m.role.as_str().to_string(), m.content.clone()))
        .chain([("user".to_string(), "yes".to_string())])
        .collect();
    assert_eq!(
        prompt, expected,
        "the prompt is the prior turns and the query"
    );
}

/// The folded (role, text) turns of a written prompt, system turns left out.
fn prompt_context(prompt: &Value) -> Vec<(String, String)> {
    prompt
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] != "system")
        .map(|m| {
            (
                m["role"].as_str().unwrap().to_string(),
                normalize(m["content"].as_str().unwrap()),
            )
        })
        .collect()
}

/// The folded turns of a response's context: prior turns then the query.
fn record_context(r: &ResponseRecord) -> Vec<(String, String)> {
    r.conversation
        .iter()
        .map(|m| (m.role.as_str().to_string(), normalize(&m.content)))
        .chain([("user".to_string(), normalize(&r.query))])
        .collect()
}

const QUERIES: [&str; 3] = ["yes", "go on", "thanks"];
const OPENERS: [&str; 4] = [
    "Can I get a refund?",
    "Cancel my membership.",
    "Where is my parcel?",
    "Is the tent waterproof?",
];

/// A response drawn from a few short contexts: no prior turn or one of a few openers, then
/// a filler query, each with random case and spacing.
fn arb_response() -> impl Strategy<Value = (Option<usize>, usize, bool, bool, u8)> {
    (
        proptest::option::of(0..OPENERS.len()),
        0..QUERIES.len(),
        any::<bool>(),
        any::<bool>(),
        0u8..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_pair_ever_joins_different_contexts(
        items in proptest::collection::vec(arb_response(), 2..40),
    ) {
        let mut rs = Vec::new();
        let mut fb = Vec::new();
        let (ar, af) = anchor();
        rs.push(ar);
        fb.push(af);
        for (i, (opener, q, upper, up, answer)) in items.iter().enumerate() {
            let fold = |s: &str| if *upper { s.to_uppercase() } else { s.to_string() };
            let prior: Vec<Message> = opener
                .map(|o| vec![turn(Role::User, &fold(OPENERS[o])), turn(Role::Assistant, "Sure.")])
                .unwrap_or_default();
            let id = format!("r{i:03}");
            let text = format!("Answer {answer} number {i}.");
            rs.push(resp(&id, &prior, &fold(QUERIES[*q]), &text));
            fb.push(thumbs(&format!("f{i:03}"), &id, *up));
        }
        let by_id: HashMap<&str, &ResponseRecord> =
            rs.iter().map(|r| (r.id.as_str(), r)).collect();
        for format in [DatasetFormat::OpenaiDpo, DatasetFormat::TrlDpo] {
            // Near-duplicate removal off, so every context with both sides keeps its pair.
            let mut c = cfg(format);
            c.dedup.near = false;
            let ds = build(&rs, &fb, "bot", &c).unwrap();
            let lineage = lines(ds.lineage_jsonl());
            let mut pairs = 0;
            for entry in &lineage {
                if entry["source"] != "preference_pair" {
                    continue;
                }
                pairs += 1;
                let ids: Vec<&str> = entry["response_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap())
                    .collect();
                prop_assert_eq!(ids.len(), 2);
                let (a, b) = (by_id[ids[0]], by_id[ids[1]]);
                prop_assert_eq!(a.context_key(), b.context_key());
                let file = if entry["file"] == "train.jsonl" {
                    ds.train_jsonl()
                } else {
                    ds.validation_jsonl()
                };
                let line = &lines(file)[entry["line"].as_u64().unwrap() as usize - 1];
                let prompt = match format {
                    DatasetFormat::OpenaiDpo => &line["input"]["messages"],
                    _ => &line["prompt"],
                };
                prop_assert_eq!(prompt_context(prompt), record_context(a));
                prop_assert_eq!(prompt_context(prompt), record_context(b));
            }
            // Every context with both a positive and a negative answer yields a pair (all
            // answers differ).
            let mut sides: HashMap<String, (bool, bool)> = HashMap::new();
            for (i, (_, _, _, up, _)) in items.iter().enumerate() {
                let e = sides.entry(rs[i + 1].context_key()).or_default();
                if *up { e.0 = true } else { e.1 = true }
            }
            let paired_contexts = sides.values().filter(|(p, n)| *p && *n).count();
            prop_assert!(pairs >= paired_contexts, "{} pairs for {} contexts", pairs, paired_contexts);
        }
    }
}
