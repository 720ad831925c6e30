//! Fuzzing the JSONL line parser and the import (issue 11), with proptest.
//!
//! Inputs: arbitrary bytes and strings, soups of JSON tokens, and structured lines (valid
//! records with random field values: random unicode, control characters, ids around the size
//! limit, numbers at the edges, huge, negative and fractional ratings, odd timestamps, nested
//! junk metadata) then mutated (fields dropped, repeated or added, text deleted, inserted or
//! replaced, the line cut short).
//!
//! Properties:
//! - no input panics the parser or the import;
//! - a rejected line carries its line number, a reason and a plain field path (never `?`);
//! - an accepted line, imported into a `MemoryStore` and exported, comes back as lines that
//!   parse to the identical records, and the export is stable: importing it elsewhere and
//!   exporting again gives the same bytes;
//! - the import of many lines: with `keep_going`, every non-blank line is either imported
//!   (all its records stored) or rejected (in the reject file once, with line number, reason
//!   and the input), and the report's counts agree; without it, everything or nothing is
//!   written.
//!
//! By default each property runs a few hundred cases (seconds in a debug build). For a long
//! run set `TUNELOOP_FUZZ_CASES` (cases per property), in release:
//!
//! ```text
//! TUNELOOP_FUZZ_CASES=100000 cargo test -p tuneloop --release --test fuzz_import
//! ```

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use tuneloop::io::{export_jsonl, import_jsonl, parse_line, ImportOptions, ParsedLine};
use tuneloop::model::{Feedback, Limits, ResponseRecord, CANONICAL_CATEGORIES};
use tuneloop::store::{FeedbackStore, MemoryStore, ResponseFilter};
use tuneloop::{Error, LineError};

/// Cases per property: `TUNELOOP_FUZZ_CASES` when set, else `default`.
fn config(default: u32) -> Config {
    let cases = std::env::var("TUNELOOP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

// ---------------------------------------------------------------------------------------
// Generators. Values are JSON text, not serde_json values, so that numbers serde_json would
// never write (`1e999`, `-0`, 30 digits) and repeated keys reach the parser.

fn enc(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// Strings users might send, and the awkward ones.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "[a-z0-9]{1,8}",
        2 => any::<String>(),
        2 => "\\PC{0,24}",
        1 => Just(String::new()),
        1 => "[ \\t\\n\\r\\x00\\x1f\\x7f\\x{85}\\x{a0}\\x{2028}\\x{feff}\"\\\\/]{1,4}",
        1 => "[a-z]{254,258}",
        1 => "[é日🦀]{60,90}",
        1 => Just("fb_0123456789abcdef01234567".to_string()),
    ]
    .boxed()
}

/// Ids: mostly from a small pool, so lines collide (same id, same or other content).
fn id(prefix: &'static str, pool: usize) -> BoxedStrategy<String> {
    prop_oneof![
        8 => (0..pool).prop_map(move |i| format!("{prefix}{i}")),
        2 => text(),
    ]
    .boxed()
}

fn timestamp() -> BoxedStrategy<String> {
    // Stored times must fall in 2000..2100 (docs/formats.md): mostly inside, some outside.
    let year = prop_oneof![6 => 2000u32..2100, 1 => 0u32..10_000];
    let valid = (
        year,
        1u32..=12,
        1u32..=31,
        0u32..24,
        0u32..60,
        0u32..=60,
        prop_oneof![Just(String::new()), "\\.[0-9]{1,12}",],
        prop_oneof![
            Just("Z".to_string()),
            Just("z".to_string()),
            (0u32..24, 0u32..60, any::<bool>())
                .prop_map(|(h, m, neg)| format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' })),
        ],
    )
        .prop_map(|(y, mo, d, h, mi, s, frac, off)| {
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}{off}")
        });
    prop_oneof![
        6 => Just("2026-09-01T10:00:00Z".to_string()),
        6 => valid,
        2 => (1995u32..2100, 1u32..=12, 1u32..=28).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
        1 => prop::sample::select(vec![
            "0000-01-01T00:00:00Z",
            "0000-01-01T00:30:00+01:00",
            "1999-12-31T23:59:59.999999Z",
            "2000-01-01T00:00:00Z",
            "2000-01-01T00:30:00+01:00",
            "2099-12-31T23:59:59.999999Z",
            "2100-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "9999-12-31T23:30:00-01:00",
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5+00:00",
            "1969-12-31T23:59:59.9999999Z",
            "2026-09-01t10:00:00Z",
            "2026-09-01 10:00:00Z",
            " 2026-09-01 ",
            "2026-02-30",
            "+2026-09-01",
            "yesterday",
            "",
        ]).prop_map(str::to_string),
    ].boxed()
}

/// Numbers as JSON text, valid or not.
fn number() -> BoxedStrategy<String> {
    prop_oneof![
        3 => any::<i64>().prop_map(|n| n.to_string()),
        2 => any::<u64>().prop_map(|n| n.to_string()),
        3 => any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(|n| n.to_string()),
        3 => (
            any::<bool>(),
            "[0-9]{1,25}",
            prop::option::of("[0-9]{1,25}"),
            prop::option::of(-330i32..330)
        )
            .prop_map(|(neg, int, frac, exp)| {
                let mut s = String::new();
                if neg {
                    s.push('-');
                }
                s.push_str(&int);
                if let Some(f) = frac {
                    s.push('.');
                    s.push_str(&f);
                }
                if let Some(e) = exp {
                    s.push_str(&format!("e{e}"));
                }
                s
            }),
        2 => prop::sample::select(vec![
            "0", "-0", "0.0", "-0.0", "1e308", "1.7976931348623157e308", "5e-324",
            "2.2250738585072014e-308", "2.2250738585072011e-308", "1e400", "-1e400", "1e-400",
            "0.1", "0.30000000000000004", "9007199254740993", "-9223372036854775808",
            "-9223372036854775809", "18446744073709551615", "18446744073709551616",
            "123456789012345678901234567890", "1E2", "1.0", "5.0", "4.9999999999999999999",
            "01", "-", ".5", "+1", "NaN", "Infinity", "1e", "0x10",
        ])
        .prop_map(str::to_string),
    ]
    .boxed()
}

fn rating() -> BoxedStrategy<String> {
    prop_oneof![
        10 => (1..=5i64).prop_map(|r| r.to_string()),
        1 => (-10..=10i64).prop_map(|r| r.to_string()),
        2 => number(),
        1 => prop::sample::select(vec!["\"3\"", "true", "null", "[3]", "{\"r\":3}"])
            .prop_map(str::to_string),
    ]
    .boxed()
}

fn category() -> BoxedStrategy<String> {
    prop_oneof![
        6 => prop::sample::select(CANONICAL_CATEGORIES.to_vec()).prop_map(str::to_string),
        2 => "[a-z0-9_]{1,12}",
        1 => prop::sample::select(vec![
            "Hallucination", " tone ", "TONE", "bad cat", "", "é", "a-b",
            "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm",
        ])
        .prop_map(str::to_string),
        1 => text(),
    ]
    .boxed()
}

/// Any JSON value, nested: metadata and junk.
fn json_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("false".to_string()),
        number(),
        text().prop_map(|s| enc(&s)),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((text(), inner), 0..6).prop_map(|v| {
                let members: Vec<String> =
                    v.iter().map(|(k, v)| format!("{}:{v}", enc(k))).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
    .boxed()
}

type Members = Vec<(String, String)>;

fn object(members: &Members) -> String {
    let parts: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", enc(k)))
        .collect();
    format!("{{{}}}", parts.join(","))
}

/// A feedback item's fields, consistent with its variant most of the time.
fn feedback_members(embedded: bool) -> BoxedStrategy<Members> {
    (
        0..5u8,
        any::<bool>(),
        rating(),
        prop::option::of(prop::collection::vec(category(), 0..4)),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(id("u", 3)),
        prop::option::of(id("f", 6)),
        prop::option::of(timestamp()),
        id("r", 7),
    )
        .prop_map(
            move |(variant, up, rating, cats, comment, correction, user, fid, at, rid)| {
                let mut m: Members = Vec::new();
                if !embedded {
                    m.push(("type".into(), enc("feedback")));
                    m.push(("response_id".into(), enc(&rid)));
                }
                if let Some(fid) = fid {
                    m.push(("id".into(), enc(&fid)));
                }
                let name = ["thumbs", "stars", "full", "full", "Stars"][usize::from(variant)];
                m.push(("variant".into(), enc(name)));
                match variant {
                    0 => m.push(("thumbs_up".into(), up.to_string())),
                    1 | 4 => m.push(("rating".into(), rating)),
                    _ => {
                        m.push(("rating".into(), rating));
                        if let Some(cats) = cats {
                            let cats: Vec<String> = cats.iter().map(|c| enc(c)).collect();
                            m.push(("categories".into(), format!("[{}]", cats.join(","))));
                        }
                        if let Some(c) = correction {
                            m.push(("correction".into(), enc(&c)));
                        }
                    }
                }
                if let Some(c) = comment {
                    m.push(("comment".into(), enc(&c)));
                }
                if let Some(u) = user {
                    m.push(("user_id".into(), enc(&u)));
                }
                match at {
                    Some(at) => m.push(("created_at".into(), enc(&at))),
                    None if !embedded => {
                        m.push(("created_at".into(), enc("2026-09-01T10:05:00Z")));
                    }
                    None => {}
                }
                m
            },
        )
        .boxed()
}

fn response_members() -> BoxedStrategy<Members> {
    let turn = (
        prop::sample::select(vec!["system", "user", "assistant", "tool", "bot"]),
        text(),
    )
        .prop_map(|(role, content)| {
            format!("{{\"role\":{},\"content\":{}}}", enc(role), enc(&content))
        });
    (
        id("r", 5),
        prop_oneof![3 => Just("m".to_string()), 1 => text()],
        prop_oneof![3 => "[a-z ?]{1,12}", 1 => text()],
        text(),
        timestamp(),
        prop::option::of(prop::collection::vec(turn, 0..3)),
        prop::option::of(prop::collection::vec((text(), json_value()), 0..4)),
        prop::option::of(prop::collection::vec(feedback_members(true), 0..3)),
        any::<bool>(),
    )
        .prop_map(
            |(rid, model, query, answer, at, turns, meta, feedback, single)| {
                let mut m: Members = vec![
                    ("type".into(), enc("response")),
                    ("id".into(), enc(&rid)),
                    ("model_id".into(), enc(&model)),
                    ("query".into(), enc(&query)),
                    ("response".into(), enc(&answer)),
                    ("created_at".into(), enc(&at)),
                ];
                if let Some(turns) = turns {
                    m.push(("conversation".into(), format!("[{}]", turns.join(","))));
                }
                if let Some(meta) = meta {
                    let members: Vec<String> = meta
                        .iter()
                        .map(|(k, v)| format!("{}:{v}", enc(k)))
                        .collect();
                    m.push(("metadata".into(), format!("{{{}}}", members.join(","))));
                }
                if let Some(items) = feedback {
                    let objects: Vec<String> = items.iter().map(object).collect();
                    let value = match objects.as_slice() {
                        [one] if single => one.clone(),
                        _ => format!("[{}]", objects.join(",")),
                    };
                    m.push(("feedback".into(), value));
                }
                m
            },
        )
        .boxed()
}

const FIELD_NAMES: &[&str] = &[
    "type",
    "id",
    "model_id",
    "query",
    "response",
    "created_at",
    "conversation",
    "metadata",
    "feedback",
    "response_id",
    "variant",
    "thumbs_up",
    "rating",
    "categories",
    "comment",
    "correction",
    "user_id",
    "thumbsup",
];

/// A change to a line's fields.
#[derive(Debug, Clone)]
enum FieldEdit {
    Drop(prop::sample::Index),
    Add(String, String),
    Swap(prop::sample::Index, prop::sample::Index),
}

fn field_edit() -> BoxedStrategy<FieldEdit> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(FieldEdit::Drop),
        (
            prop_oneof![
                4 => prop::sample::select(FIELD_NAMES.to_vec()).prop_map(str::to_string),
                1 => text(),
            ],
            prop_oneof![
                json_value(),
                text().prop_map(|s| enc(&s)),
                rating(),
                timestamp().prop_map(|s| enc(&s))
            ]
        )
            .prop_map(|(k, v)| FieldEdit::Add(k, v)),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(a, b)| FieldEdit::Swap(a, b)),
    ]
    .boxed()
}

/// A change to a line's text.
#[derive(Debug, Clone)]
enum TextEdit {
    Delete(prop::sample::Index, usize),
    Insert(prop::sample::Index, String),
    Replace(prop::sample::Index, char),
    Cut(prop::sample::Index),
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "\\u",
    "\\ud800",
    "null",
    "true",
    "1",
    "-",
    "e",
    ".",
    " ",
    "\"type\"",
    "\"feedback\"",
    "{\"a\":[",
    "\u{0}",
    "\u{feff}",
    "é",
    "🦀",
];

fn text_edit() -> BoxedStrategy<TextEdit> {
    prop_oneof![
        (any::<prop::sample::Index>(), 1usize..8).prop_map(|(i, n)| TextEdit::Delete(i, n)),
        (
            any::<prop::sample::Index>(),
            prop_oneof![
                prop::sample::select(TOKENS.to_vec()).prop_map(str::to_string),
                "\\PC{1,4}",
                json_value(),
            ]
        )
            .prop_map(|(i, s)| TextEdit::Insert(i, s)),
        (any::<prop::sample::Index>(), any::<char>()).prop_map(|(i, c)| TextEdit::Replace(i, c)),
        any::<prop::sample::Index>().prop_map(TextEdit::Cut),
    ]
    .boxed()
}

fn apply_field_edits(mut m: Members, edits: &[FieldEdit]) -> Members {
    for edit in edits {
        match edit {
            FieldEdit::Drop(i) if !m.is_empty() => {
                m.remove(i.index(m.len()));
            }
            FieldEdit::Add(k, v) => m.push((k.clone(), v.clone())),
            FieldEdit::Swap(a, b) if !m.is_empty() => {
                let (a, b) = (a.index(m.len()), b.index(m.len()));
                m.swap(a, b);
            }
            _ => {}
        }
    }
    m
}

fn apply_text_edits(line: String, edits: &[TextEdit]) -> String {
    let mut chars: Vec<char> = line.chars().collect();
    for edit in edits {
        let at = |i: &prop::sample::Index, len: usize| i.index(len + 1);
        match edit {
            TextEdit::Delete(i, n) => {
                let start = at(i, chars.len()).min(chars.len());
                let end = (start + n).min(chars.len());
                chars.drain(start..end);
            }
            TextEdit::Insert(i, s) => {
                let pos = at(i, chars.len());
                chars.splice(pos..pos, s.chars());
            }
            TextEdit::Replace(i, c) if !chars.is_empty() => {
                let pos = i.index(chars.len());
                chars[pos] = *c;
            }
            TextEdit::Cut(i) => chars.truncate(at(i, chars.len())),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

/// A structured line, then mutated: about half of the lines are left as generated.
fn structured_line() -> BoxedStrategy<String> {
    let members = prop_oneof![response_members(), feedback_members(false)];
    (
        members,
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(field_edit(), 1..3),
        ],
        prop_oneof![
            3 => Just(Vec::new()),
            1 => prop::collection::vec(text_edit(), 1..3),
        ],
    )
        .prop_map(|(m, field_edits, text_edits)| {
            apply_text_edits(object(&apply_field_edits(m, &field_edits)), &text_edits)
        })
        .boxed()
}

/// Lines with no structure at all.
fn unstructured_line() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..200)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        prop::collection::vec(prop::sample::select(TOKENS.to_vec()), 0..40)
            .prop_map(|t| t.concat()),
        json_value(),
    ]
    .boxed()
}

fn any_line() -> BoxedStrategy<String> {
    prop_oneof![4 => structured_line(), 1 => unstructured_line()].boxed()
}

// ---------------------------------------------------------------------------------------
// Checks.

/// Whether a field path has a `?` standing for a key not read yet (a key that really is
/// `?` is shown quoted: `metadata["?"]`).
fn has_placeholder(field: &str) -> bool {
    static QUOTED: OnceLock<regex::Regex> = OnceLock::new();
    let quoted =
        QUOTED.get_or_init(|| regex::Regex::new(r#"\["(?:[^"\\]|\\.)*"\]"#).expect("valid"));
    quoted.replace_all(field, "").contains('?')
}

/// What a rejection must carry, whatever the input.
fn check_rejection(e: &LineError, line: usize) -> Result<(), TestCaseError> {
    prop_assert_eq!(e.line, line, "{}", e);
    prop_assert!(!e.reason.trim().is_empty(), "{}", e);
    prop_assert!(e.reason.chars().count() <= 400, "{}", e);
    if let Some(field) = &e.field {
        prop_assert!(!field.is_empty() && !has_placeholder(field), "{}", e);
        prop_assert!(field.chars().count() <= 80, "{}", e);
    }
    Ok(())
}

fn records(parsed: ParsedLine) -> (Vec<ResponseRecord>, Vec<Feedback>) {
    match parsed {
        ParsedLine::Response(r, f) => (vec![r], f),
        ParsedLine::Feedback(f) => (Vec::new(), vec![f]),
        ParsedLine::Comparison(_) => (Vec::new(), Vec::new()),
    }
}

/// Parses an export: every line must be valid.
fn parse_export(text: &str) -> Result<(Vec<ResponseRecord>, Vec<Feedback>), TestCaseError> {
    let (mut responses, mut feedback) = (Vec::new(), Vec::new());
    for (i, line) in text.lines().enumerate() {
        match parse_line(line, i + 1, &Limits::default()) {
            Ok(p) => {
                let (r, f) = records(p);
                responses.extend(r);
                feedback.extend(f);
            }
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "export line invalid: {e}\n{line}"
                )))
            }
        }
    }
    Ok((responses, feedback))
}

async fn export(store: &dyn FeedbackStore) -> Result<String, TestCaseError> {
    let mut out = Vec::new();
    export_jsonl(store, &mut out, &ResponseFilter::default())
        .await
        .map_err(|e| TestCaseError::fail(format!("export failed: {e}")))?;
    String::from_utf8(out).map_err(|e| TestCaseError::fail(format!("export not UTF-8: {e}")))
}

async fn import_text(
    store: &dyn FeedbackStore,
    text: &str,
    keep_going: bool,
    batch_size: usize,
) -> (Result<tuneloop::io::ImportReport, Error>, Vec<u8>) {
    let options = ImportOptions {
        keep_going,
        batch_size,
        ..ImportOptions::default()
    };
    let mut rejects: Vec<u8> = Vec::new();
    let result = if keep_going {
        import_jsonl(
            store,
            Cursor::new(text.as_bytes()),
            &options,
            Some(&mut rejects),
            &|_| {},
        )
        .await
    } else {
        import_jsonl(store, Cursor::new(text.as_bytes()), &options, None, &|_| {}).await
    };
    (result, rejects)
}

/// Feedback keyed by id; `None` when one id carries two different contents (the store
/// rightly refuses the second).
fn by_id(feedback: &[Feedback]) -> Option<BTreeMap<String, Feedback>> {
    let mut out: BTreeMap<String, Feedback> = BTreeMap::new();
    for f in feedback {
        if let Some(seen) = out.get(&f.id) {
            if seen != f {
                return None;
            }
        }
        out.insert(f.id.clone(), f.clone());
    }
    Some(out)
}

/// One line: parse; if accepted, store, export, re-parse, and check the export is stable.
async fn check_line(text: &str) -> Result<(), TestCaseError> {
    let parsed = match parse_line(text, 3, &Limits::default()) {
        Err(e) => return check_rejection(&e, 3),
        Ok(p) => p,
    };
    // Parsing is a function of the text.
    let again = parse_line(text, 3, &Limits::default());
    prop_assert_eq!(again.as_ref(), Ok(&parsed));
    let (responses, feedback) = records(parsed);
    let mut input = String::new();
    if responses.is_empty() {
        // A feedback line needs its response.
        let rid = &feedback[0].response_id;
        input.push_str(&format!(
            "{{\"type\":\"response\",\"id\":{},\"model_id\":\"stub\",\"query\":\"q\",\"response\":\"a\",\"created_at\":\"2026-01-01T00:00:00Z\"}}\n",
            enc(rid)
        ));
    }
    input.push_str(text);
    input.push('\n');
    let store = MemoryStore::new();
    let (result, _) = import_text(&store, &input, false, 1000).await;
    let Some(expected_feedback) = by_id(&feedback) else {
        prop_assert!(
            matches!(result, Err(Error::InvalidImport { .. })),
            "one id, two contents, imported: {:?}",
            result
        );
        return Ok(());
    };
    if let Err(e) = result {
        return Err(TestCaseError::fail(format!(
            "parsed but not imported: {e}\n{text}"
        )));
    }
    let first = export(&store).await?;
    let (exported_responses, exported_feedback) = parse_export(&first)?;
    // A feedback line's stub response is not the line's.
    if !responses.is_empty() {
        prop_assert_eq!(&exported_responses, &responses, "{}", first);
    }
    let exported_feedback = by_id(&exported_feedback)
        .ok_or_else(|| TestCaseError::fail(format!("an id exported twice:\n{first}")))?;
    prop_assert_eq!(&exported_feedback, &expected_feedback, "{}", first);
    let other = MemoryStore::new();
    let (result, _) = import_text(&other, &first, false, 1000).await;
    if let Err(e) = result {
        return Err(TestCaseError::fail(format!(
            "export not importable: {e}\n{first}"
        )));
    }
    let second = export(&other).await?;
    prop_assert_eq!(
        &second,
        &first,
        "export → import → export changed the bytes"
    );
    Ok(())
}

#[test]
fn arbitrary_lines_never_panic_and_accepted_lines_round_trip() {
    let rt = runtime();
    let (lines, accepted) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let config = config(1000);
    let cases = config.cases;
    TestRunner::new(config)
        .run(&any_line(), |line| {
            lines.fetch_add(1, Ordering::Relaxed);
            if parse_line(&line, 1, &Limits::default()).is_ok() {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
            rt.block_on(check_line(&line))
        })
        .expect("property holds");
    // The round trip is only tested on accepted lines: the generators must keep making them.
    let (lines, accepted) = (lines.into_inner(), accepted.into_inner());
    eprintln!("{accepted} of {lines} lines accepted");
    if cases >= 200 {
        assert!(
            accepted * 5 >= lines,
            "only {accepted} of {lines} lines accepted"
        );
    }
}

#[test]
fn arbitrary_bytes_never_panic_the_import() {
    let rt = runtime();
    let lines = prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..6);
    TestRunner::new(config(300))
        .run(&lines, |lines| {
            let mut bytes = Vec::new();
            for l in &lines {
                bytes.extend_from_slice(l);
                bytes.push(b'\n');
            }
            rt.block_on(async {
                let store = MemoryStore::new();
                let options = ImportOptions {
                    keep_going: true,
                    ..ImportOptions::default()
                };
                let mut rejects: Vec<u8> = Vec::new();
                let _ = import_jsonl(
                    &store,
                    Cursor::new(&bytes),
                    &options,
                    Some(&mut rejects),
                    &|_| {},
                )
                .await;
                for line in String::from_utf8_lossy(&rejects).lines() {
                    let rec: serde_json::Value = serde_json::from_str(line)
                        .map_err(|e| TestCaseError::fail(format!("reject line: {e}")))?;
                    prop_assert!(rec["line"].as_u64().is_some_and(|n| n >= 1), "{}", rec);
                    prop_assert!(rec["reason"].as_str().is_some_and(|r| !r.is_empty()));
                }
                Ok(())
            })
        })
        .expect("property holds");
}

/// A file: structured lines (ids from small pools, so responses repeat and conflict and
/// feedback points at missing responses), junk and blank lines.
fn file_lines() -> BoxedStrategy<Vec<String>> {
    let line = prop_oneof![
        6 => structured_line(),
        1 => unstructured_line(),
        1 => prop::sample::select(vec!["", "  ", "\t"]).prop_map(str::to_string),
    ];
    prop::collection::vec(line, 0..24)
        // The reader splits at `\n` and drops a `\r` before it: neither belongs inside a line.
        .prop_map(|lines| {
            lines
                .into_iter()
                .map(|l| l.replace(['\n', '\r'], " "))
                .collect()
        })
        .boxed()
}

/// The records of the lines that parse (line number → records).
fn parsed_lines(lines: &[String]) -> BTreeMap<usize, (Vec<ResponseRecord>, Vec<Feedback>)> {
    lines
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            parse_line(l, i + 1, &Limits::default())
                .ok()
                .map(|p| (i + 1, records(p)))
        })
        .collect()
}

fn non_blank(lines: &[String]) -> BTreeSet<usize> {
    lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, _)| i + 1)
        .collect()
}

/// Whether the store holds every record of a line with the line's content.
fn stored(
    line: &(Vec<ResponseRecord>, Vec<Feedback>),
    responses: &BTreeMap<String, ResponseRecord>,
    feedback: &BTreeMap<String, Feedback>,
) -> bool {
    line.0.iter().all(|r| responses.get(&r.id) == Some(r))
        && line.1.iter().all(|f| feedback.get(&f.id) == Some(f))
}

async fn store_contents(
    store: &dyn FeedbackStore,
) -> Result<(BTreeMap<String, ResponseRecord>, BTreeMap<String, Feedback>), TestCaseError> {
    let (r, f) = parse_export(&export(store).await?)?;
    Ok((
        r.into_iter().map(|r| (r.id.clone(), r)).collect(),
        f.into_iter().map(|f| (f.id.clone(), f)).collect(),
    ))
}

/// `whole_lines`: also require that a rejected line stores nothing of its own.
async fn check_file(
    lines: &[String],
    batch_size: usize,
    whole_lines: bool,
) -> Result<(), TestCaseError> {
    let text = lines.join("\n");
    // The importer skips a byte order mark at the very start of the input.
    let mut effective = lines.to_vec();
    if let Some(first) = effective.first_mut() {
        if let Some(rest) = first.strip_prefix('\u{feff}') {
            *first = rest.to_string();
        }
    }
    let lines = &effective[..];
    let parsed = parsed_lines(lines);
    let non_blank = non_blank(lines);

    // Atomic: all or nothing.
    let store = MemoryStore::new();
    let (result, _) = import_text(&store, &text, false, batch_size).await;
    let (responses, feedback) = store_contents(&store).await?;
    match result {
        Ok(report) => {
            prop_assert_eq!(report.lines as usize, non_blank.len());
            prop_assert_eq!(report.rejected, 0);
            prop_assert_eq!(
                parsed.len(),
                non_blank.len(),
                "an invalid line was accepted"
            );
            for (n, records) in &parsed {
                prop_assert!(
                    stored(records, &responses, &feedback),
                    "line {} not stored",
                    n
                );
            }
        }
        Err(e) => {
            prop_assert!(
                responses.is_empty() && feedback.is_empty(),
                "rejected import wrote: {}",
                e
            );
            if let Error::InvalidImport { errors, total } = &e {
                prop_assert!(*total >= errors.len() && !errors.is_empty());
                for err in errors {
                    prop_assert!(non_blank.contains(&err.line), "{}", err);
                    check_rejection(err, err.line)?;
                }
            } else {
                prop_assert!(non_blank.is_empty(), "unexpected error: {}", e);
            }
        }
    }

    // Keep going: each non-blank line imported or rejected, once.
    let store = MemoryStore::new();
    let (result, rejects) = import_text(&store, &text, true, batch_size).await;
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            prop_assert!(non_blank.is_empty(), "keep-going import failed: {}", e);
            return Ok(());
        }
    };
    let (responses, feedback) = store_contents(&store).await?;
    let mut rejected: BTreeSet<usize> = BTreeSet::new();
    let rejects = String::from_utf8(rejects)
        .map_err(|e| TestCaseError::fail(format!("reject file not UTF-8: {e}")))?;
    for rec in rejects.lines() {
        let rec: serde_json::Value = serde_json::from_str(rec)
            .map_err(|e| TestCaseError::fail(format!("reject line not JSON: {e}")))?;
        let n = rec["line"].as_u64().unwrap_or(0) as usize;
        prop_assert!(non_blank.contains(&n), "reject names line {}", n);
        prop_assert!(rec["reason"].as_str().is_some_and(|r| !r.trim().is_empty()));
        prop_assert_eq!(rec["input"].as_str(), Some(lines[n - 1].as_str()));
        prop_assert!(
            !rec["field"].as_str().is_some_and(has_placeholder),
            "{}",
            rec
        );
        rejected.insert(n);
    }
    prop_assert_eq!(report.lines as usize, non_blank.len());
    prop_assert_eq!(
        report.rejected as usize,
        rejected.len(),
        "rejected count vs distinct rejected lines:\n{}",
        rejects
    );
    for n in &non_blank {
        match parsed.get(n) {
            None => prop_assert!(rejected.contains(n), "invalid line {} not rejected", n),
            Some(records) if !rejected.contains(n) => prop_assert!(
                stored(records, &responses, &feedback),
                "line {} neither rejected nor stored",
                n
            ),
            Some(_) => {}
        }
    }
    if !whole_lines {
        return Ok(());
    }
    // A rejected line leaves nothing of its own behind (records also on an imported line
    // aside).
    let kept: BTreeSet<(bool, &str)> = parsed
        .iter()
        .filter(|(n, _)| !rejected.contains(n))
        .flat_map(|(_, (r, f))| {
            r.iter()
                .map(|r| (true, r.id.as_str()))
                .chain(f.iter().map(|f| (false, f.id.as_str())))
        })
        .collect();
    for (n, (r, f)) in parsed.iter().filter(|(n, _)| rejected.contains(n)) {
        for r in r.iter().filter(|r| !kept.contains(&(true, r.id.as_str()))) {
            prop_assert!(
                !responses.contains_key(&r.id),
                "line {} was rejected, yet its response {} was stored",
                n,
                r.id
            );
        }
        for f in f.iter().filter(|f| !kept.contains(&(false, f.id.as_str()))) {
            prop_assert!(
                feedback.get(&f.id) != Some(f),
                "line {} was rejected, yet its feedback {} was stored",
                n,
                f.id
            );
        }
    }
    Ok(())
}

#[test]
fn the_import_accounts_for_every_line_and_atomic_imports_all_or_nothing() {
    let rt = runtime();
    TestRunner::new(config(200))
        .run(&(file_lines(), 1usize..6), |(lines, batch)| {
            rt.block_on(check_file(&lines, batch, false))
        })
        .expect("property holds");
}

/// Two bad embedded feedback items are two errors but one rejected line.
#[test]
fn a_line_with_two_bad_items_is_one_rejected_line() {
    let lines: Vec<String> = [
        r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","feedback":[{"id":"f1","variant":"thumbs","thumbs_up":true},{"id":"f2","variant":"thumbs","thumbs_up":true}]}"#,
        r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","feedback":[{"id":"f1","variant":"thumbs","thumbs_up":false},{"id":"f2","variant":"thumbs","thumbs_up":false}]}"#,
    ]
    .map(str::to_string)
    .to_vec();
    runtime()
        .block_on(check_file(&lines, 1000, false))
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Found by the fuzz: with `keep_going`, a response line whose embedded feedback was
/// rejected (here `f2`, already stored for another response) still stored its response,
/// while the whole line went to the reject file. The importer now judges embedded feedback
/// before writing, so a rejected line stores nothing.
#[test]
fn a_rejected_line_stores_nothing() {
    let rt = runtime();
    let lines: Vec<String> = [
        r#"{"type":"response","id":"r2","model_id":"m","query":"?","response":"a","created_at":"2026-09-01T10:00:00Z","feedback":[{"id":"f2","variant":"thumbs","thumbs_up":false}]}"#,
        r#"{"type":"response","id":"r0","model_id":"m","query":"?","response":"a","created_at":"2026-09-01T10:00:00Z","feedback":[{"id":"f2","variant":"thumbs","thumbs_up":false}]}"#,
    ]
    .map(str::to_string)
    .to_vec();
    rt.block_on(check_file(&lines, 1000, true))
        .unwrap_or_else(|e| panic!("{e}"));
    TestRunner::new(config(200))
        .run(&(file_lines(), 1usize..6), |(lines, batch)| {
            rt.block_on(check_file(&lines, batch, true))
        })
        .expect("property holds");
}

/// Lines the fuzz found, each once a bug: they must keep passing `check_line`.
#[test]
fn lines_the_fuzz_found() {
    let rt = runtime();
    let long_key = format!(
        r#"{{"type":"response","id":"r0","model_id":"m","query":"?","response":"0","created_at":"2026-09-01T10:00:00Z","metadata":{{"a":{{"{}":{{"0ᎠA?𝒮A  ":{{"fb_0123456789abcdef01234567":01}}}}}}}}}}"#,
        "a".repeat(255)
    );
    for line in [
        // An offset carried year 0000 into year -1 (and 9999 into 10000): accepted, then
        // exported as a timestamp nothing reads back.
        r#"{"type":"response","id":"r0","model_id":"m","query":"?","response":"0","created_at":"0000-01-01T00:30:00+01:00"}"#,
        r#"{"type":"feedback","response_id":"r0","variant":"thumbs","thumbs_up":true,"created_at":"9999-12-31T23:30:00-01:00"}"#,
        // serde_json's default float parsing is off by an ulp now and then: the export of
        // a metadata number read back as a different number.
        r#"{"type":"response","id":"r0","model_id":"m","query":"a","response":"a","created_at":"2026-09-01T10:00:00Z","metadata":{"0":[4.842579007936949e+41]}}"#,
        r#"{"type":"response","id":"r0","model_id":"m","query":"a","response":"a","created_at":"2026-09-01T10:00:00Z","metadata":{"a":{"a":[6.297381315233226e-202]}}}"#,
        // The long path was cut in the middle of a quoted key, leaving the key's own `?`
        // outside quotes, where it reads as "unknown field".
        long_key.as_str(),
    ] {
        rt.block_on(check_line(line))
            .unwrap_or_else(|e| panic!("{e}\n{line}"));
    }
}
