//! Token ids and counts equal Python tiktoken's on the committed corpus
//! (tests/vectors/tokens.json, written by tests/vectors/gen_tokens.py), and tiktoken-rs's (the
//! Rust port of tiktoken's encoder) on generated and long texts.

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

/// Short texts from atoms rich in what the split patterns and the ASCII fast path treat
/// specially: case runs, contractions, digit groups, whitespace runs before words and
/// punctuation, controls, and non-ASCII letters, marks, digits and spaces.
fn generated_texts(seed: u64, n: usize) -> Vec<String> {
    use rand::{Rng, SeedableRng};
    const ATOMS: &[&str] = &[
        "a",
        "Z",
        "hello",
        " world",
        "World",
        "HTTP",
        "camelCase",
        "iPhone",
        "7",
        "2026",
        "1234567",
        " ",
        "   ",
        "\t",
        "\n",
        "\r\n",
        " \n ",
        "\x0b",
        "\x0c",
        "'",
        "'s",
        "'T",
        "'re",
        "'VE",
        "'ll",
        "'d",
        "'M",
        "'x",
        ".",
        "...",
        "/",
        "//",
        "https://x.io/a?b=1",
        "-",
        "!?",
        "\"",
        "(",
        ")",
        "_",
        "\x00",
        "\x1f",
        "\x7f",
        "~",
        "@",
        "#",
        "<|endoftext|>",
        "é",
        "É",
        "naïve",
        "Straße",
        "ǅ",
        "ʰ",
        "e\u{301}",
        "\u{a0}",
        "\u{2003}",
        "\u{85}",
        "\u{3000}",
        "日本語",
        "한국어",
        "🙂",
        "👍🏽",
        "٣",
        "Ⅻ",
        "½",
        "—",
        "«",
        "»",
        "ſ",
        "K",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let len = rng.random_range(1..16);
            (0..len)
                .map(|_| ATOMS[rng.random_range(0..ATOMS.len())])
                .collect()
        })
        .collect()
}

#[test]
fn ids_and_counts_equal_tiktoken_rs_on_a_generated_corpus() {
    let texts = generated_texts(16, 4_000);
    assert!(texts.iter().any(|t| t.is_ascii()) && texts.iter().any(|t| !t.is_ascii()));
    for (enc, reference) in [
        (
            TokenEncoding::O200kBase,
            tiktoken_rs::o200k_base_singleton(),
        ),
        (
            TokenEncoding::Cl100kBase,
            tiktoken_rs::cl100k_base_singleton(),
        ),
    ] {
        for text in &texts {
            let want = reference.encode_ordinary(text);
            assert_eq!(encode(enc, text), want, "{} on {text:?}", enc.as_str());
            assert_eq!(
                count_text(enc, text),
                want.len() as u64,
                "{} on {text:?}",
                enc.as_str()
            );
        }
    }
}

#[test]
fn long_texts_with_repeated_runs_equal_tiktoken_rs() {
    // Long runs are where a splitter's backtracking or a piece's merges go wrong.
    let texts = [
        "a".repeat(5_000),
        " ".repeat(3_000) + "x",
        "\n \n".repeat(1_000),
        "9".repeat(1_001),
        "!@#".repeat(700) + "word",
        "Ab".repeat(2_000),
        "é".repeat(2_000),
    ];
    for (enc, reference) in [
        (
            TokenEncoding::O200kBase,
            tiktoken_rs::o200k_base_singleton(),
        ),
        (
            TokenEncoding::Cl100kBase,
            tiktoken_rs::cl100k_base_singleton(),
        ),
    ] {
        for text in &texts {
            let want = reference.encode_ordinary(text);
            assert_eq!(encode(enc, text), want, "{} on {text:.40?}", enc.as_str());
            assert_eq!(count_text(enc, text), want.len() as u64);
        }
    }
}
