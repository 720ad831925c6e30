//! Token counts equal Python tiktoken's on the committed corpus (tests/vectors/tokens.json,
//! written by tests/vectors/gen_tokens.py).

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use tuneloop::dataset::tokens::{count_parts, count_text, encode};
use tuneloop::dataset::TokenEncoding;

fn vectors() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/vectors/tokens.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

const ENCODINGS: [TokenEncoding; 2] = [TokenEncoding::O200kBase, TokenEncoding::Cl100kBase];

#[test]
fn token_ids_and_counts_equal_tiktoken() {
    let v = vectors();
    let texts = v["texts"].as_array().unwrap();
    assert!(texts.len() >= 20);
    for t in texts {
        let text = t["text"].as_str().unwrap();
        for enc in ENCODINGS {
            let want = &t[enc.as_str()];
            let ids: Vec<u32> = want["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(encode(enc, text), ids, "{} on {text:?}", enc.as_str());
            assert_eq!(
                count_text(enc, text),
                want["count"].as_u64().unwrap(),
                "{} on {text:?}",
                enc.as_str()
            );
        }
    }
}

#[test]
fn cookbook_message_counts_equal_the_python_ones() {
    let v = vectors();
    for ex in v["messages"].as_array().unwrap() {
        let msgs = ex["messages"].as_array().unwrap();
        let parts: Vec<(&str, &str, Option<&str>)> = msgs
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap(),
                    m["content"].as_str().unwrap(),
                    m.get("name").and_then(Value::as_str),
                )
            })
            .collect();
        for enc in ENCODINGS {
            assert_eq!(
                count_parts(enc, parts.clone()),
                ex[enc.as_str()].as_u64().unwrap(),
                "{} on {msgs:?}",
                enc.as_str()
            );
        }
    }
}
