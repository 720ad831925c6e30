//! What a user reads when a line is rejected: the line, the field as a dotted path, a reason in
//! terms of the format's fields and JSON types. Never an internal type name, never `?` for a
//! field, never a path hundreds of characters long (operator report, issue 11).

use regex::Regex;
use serde_json::{json, Value};
use std::sync::OnceLock;
use tuneloop::io::parse_line;
use tuneloop::model::Limits;
use tuneloop::LineError;

const RESPONSE: &str = r#"{"type":"response","id":"r1","model_id":"m","query":"Qué pasó? 🦀","response":"a","created_at":"2026-09-01T10:00:00Z","conversation":[{"role":"user","content":"hi"}],"metadata":{"k":"v","n":-12.5e3,"t":true,"z":null,"list":[1,{"x":"y"}]},"feedback":{"variant":"full","rating":2,"categories":["tone"],"comment":"c","correction":"x"}}"#;
const FEEDBACK: &str = r#"{"type":"feedback","id":"f1","response_id":"r1","variant":"full","rating":2,"categories":["tone"],"comment":"ça","correction":"c2","user_id":"u","created_at":"2026-09-01"}"#;

/// The parser's internal types and the model types it fills: none may reach a message.
const INTERNAL_NAMES: &[&str] = &[
    "RawLine",
    "RawFeedback",
    "OneOrMany",
    "Json",
    "JsonVisitor",
    "Fields",
    "Message",
    "Role",
    "Variant",
    "FeedbackWire",
    "ResponseRecord",
    "FeedbackKind",
    "Category",
    "Timestamp",
    "DateTime",
    "String",
    "Option",
    "Vec",
    "Box",
    "Map",
];

fn parse_err(text: &str) -> LineError {
    parse_line(text, 7, &Limits::default()).expect_err("should be rejected")
}

struct Patterns {
    internal: Regex,
    rust_words: Regex,
    backticked_type: Regex,
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        internal: Regex::new(&format!(r"\b({})\b", INTERNAL_NAMES.join("|"))).expect("valid"),
        rust_words: Regex::new(
            r"\b(struct|enum|untagged|i8|i16|i32|i64|i128|u8|u16|u32|u64|u128|f32|f64|usize|isize|ident)\b",
        )
        .expect("valid"),
        backticked_type: Regex::new(r"`[A-Z][A-Za-z0-9_]*`").expect("valid"),
    })
}

/// Every property a rejection message must have, whatever the line.
fn assert_plain(e: &LineError, input: &str) {
    let p = patterns();
    let msg = e.to_string();
    let ctx = format!(
        "{msg}\n  input: {}",
        input.chars().take(200).collect::<String>()
    );
    assert_eq!(e.line, 7, "{ctx}");
    assert!(!e.reason.trim().is_empty(), "{ctx}");
    assert!(!p.internal.is_match(&msg), "an internal type: {ctx}");
    assert!(!p.rust_words.is_match(&msg), "a Rust word: {ctx}");
    assert!(!p.backticked_type.is_match(&msg), "a Rust ident: {ctx}");
    if let Some(field) = &e.field {
        assert!(!field.is_empty(), "{ctx}");
        assert!(!field.contains('?'), "`?` as a field: {ctx}");
        assert!(field.chars().count() <= 80, "long path: {ctx}");
    }
    assert!(msg.chars().count() <= 400, "long message: {ctx}");
}

/// Values of every JSON type, for "wrong type" lines.
fn junk() -> Vec<Value> {
    vec![
        json!(5),
        json!(-1),
        json!(2.5),
        json!(1e300),
        json!(u64::MAX),
        json!(true),
        json!("x"),
        json!(""),
        json!([]),
        json!([1, "a"]),
        json!([{}]),
        json!({}),
        json!({"a": 1}),
        json!({"variant": "thumbs"}),
    ]
}

fn object(text: &str) -> serde_json::Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => m,
        other => panic!("fixture is an object: {other:?}"),
    }
}

/// Bad lines of every kind: each field (top level, in embedded feedback, in a conversation
/// turn) with values of every JSON type, a missing or unknown `type`, unknown variants and
/// roles, unknown and repeated fields, lines that are not objects, broken JSON.
fn corpus() -> Vec<String> {
    let mut lines = Vec::new();
    for base in [RESPONSE, FEEDBACK] {
        let base = object(base);
        let keys: Vec<String> = base.keys().cloned().collect();
        for key in &keys {
            for value in junk() {
                let mut m = base.clone();
                m.insert(key.clone(), value);
                lines.push(Value::Object(m).to_string());
            }
            let mut m = base.clone();
            m.remove(key);
            lines.push(Value::Object(m).to_string());
        }
        for (key, value) in [
            ("type", json!("vote")),
            ("type", json!("Response")),
            ("variant", json!("emoji")),
            ("thumbsup", json!(true)),
            ("ratng", json!(3)),
            ("model", json!("m")),
            ("", json!(1)),
            ("a\nb", json!(1)),
        ] {
            let mut m = base.clone();
            m.insert(key.into(), value);
            lines.push(Value::Object(m).to_string());
        }
    }
    let response = object(RESPONSE);
    for key in [
        "type",
        "id",
        "response_id",
        "variant",
        "thumbs_up",
        "rating",
        "categories",
        "comment",
        "correction",
        "user_id",
        "created_at",
        "model_id",
    ] {
        for value in junk() {
            for many in [false, true] {
                let mut fb = object(r#"{"variant":"full","rating":2,"categories":["tone"]}"#);
                fb.insert(key.into(), value.clone());
                let fb = Value::Object(fb);
                let mut m = response.clone();
                let embedded = if many {
                    json!([{"variant": "thumbs", "thumbs_up": true}, fb])
                } else {
                    fb
                };
                m.insert("feedback".into(), embedded);
                lines.push(Value::Object(m).to_string());
            }
        }
    }
    for key in ["role", "content", "name"] {
        for value in junk() {
            let mut turn = object(r#"{"role":"user","content":"hi"}"#);
            turn.insert(key.into(), value);
            let mut m = response.clone();
            m.insert("conversation".into(), json!([turn]));
            lines.push(Value::Object(m).to_string());
        }
    }
    for value in [json!([5]), json!(["x"]), json!([[]]), json!([null])] {
        for key in ["feedback", "conversation"] {
            let mut m = response.clone();
            m.insert(key.into(), value.clone());
            lines.push(Value::Object(m).to_string());
        }
    }
    let repeated = RESPONSE.replacen(r#""id":"r1","#, r#""id":"r1","id":"r2","#, 1);
    lines.push(repeated);
    for text in [
        "[1,2]",
        "\"response\"",
        "5",
        "null",
        "true",
        "{}",
        "{\"type\":null}",
        "{not json",
        "{\"a\":tru}",
        "{\"a\":1}{\"b\":2}",
        "{\"a\":1} x",
        "{\"a\" 1}",
        "{'a':1}",
        "{a:1}",
        "{\"a\":1,}",
        "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}",
        "{\"a\":1e999}",
        "{\"a\":01}",
        "{\"a\":\"tab\there\"}",
        "\u{feff}{\"type\":\"feedback\"}",
    ] {
        lines.push(text.to_string());
    }
    lines
}

#[test]
fn no_message_names_an_internal_type_or_an_unknown_field() {
    let mut rejected = 0;
    for line in corpus() {
        if let Err(e) = parse_line(&line, 7, &Limits::default()) {
            assert_plain(&e, &line);
            rejected += 1;
        }
    }
    // The corpus is meant to be rejected almost entirely; a few junk values happen to be
    // valid (`"comment": ""`, `"metadata": {}`).
    assert!(rejected > 400, "only {rejected} rejected");
}

#[test]
fn a_truncated_line_says_so_whereever_it_is_cut() {
    for good in [RESPONSE, FEEDBACK] {
        parse_line(good, 7, &Limits::default()).expect("the fixture is valid");
        for (cut, _) in good.char_indices().skip(1) {
            let text = &good[..cut];
            let e = parse_err(text);
            assert_plain(&e, text);
            assert_eq!(
                e.reason,
                "not valid JSON: the line ends in the middle of a JSON value (truncated?)",
                "cut at {cut}: {text}"
            );
        }
    }
}

#[test]
fn deep_nesting_gives_a_short_message_and_no_stack_overflow() {
    let depth = 10_000;
    let cases = [
        "[".repeat(depth),
        format!("{}{}", "[".repeat(depth), "]".repeat(depth)),
        "{\"a\":".repeat(depth),
        format!(
            r#"{{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","metadata":{{"a":{}}}}}"#,
            "[".repeat(depth)
        ),
        format!(
            r#"{{"type":"response","feedback":[{}]}}"#,
            "{\"comment\":[".repeat(depth)
        ),
    ];
    for text in &cases {
        let e = parse_err(text);
        assert_plain(&e, text);
        assert!(e.reason.contains("nested more than 127 levels deep"), "{e}");
        assert!(e.to_string().chars().count() <= 200, "{e}");
    }
    // 127 levels, the line's own object included, are fine.
    let nested = |levels: usize| {
        format!(
            r#"{{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","metadata":{{"a":{}{}}}}}"#,
            "[".repeat(levels - 2),
            "]".repeat(levels - 2)
        )
    };
    parse_line(&nested(127), 7, &Limits::default()).expect("127 levels");
    let e = parse_err(&nested(128));
    assert!(e.reason.contains("nested more than 127 levels deep"), "{e}");
    // The deep metadata case keeps where it was and what it was reading.
    let e = parse_err(&cases[3]);
    let field = e.field.as_deref().unwrap_or_default();
    assert!(field.starts_with("metadata.a[0]"), "{e}");
    assert!(field.contains('…') && field.ends_with("[0]"), "{e}");
}

#[test]
fn messages_name_the_dotted_field_and_the_reason() {
    let with = |key: &str, value: Value| {
        let mut m = object(FEEDBACK);
        m.insert(key.into(), value);
        parse_err(&Value::Object(m).to_string())
    };
    let e = with("rating", json!("5"));
    assert_eq!(e.field.as_deref(), Some("rating"), "{e}");
    assert_eq!(
        e.reason,
        "must be a whole number from 1 to 5, not the string \"5\""
    );
    let e = with("rating", json!(4.5));
    assert!(
        e.reason.contains("whole number") && e.reason.contains("4.5"),
        "{e}"
    );
    let e = with("rating", json!(u64::MAX));
    assert!(e.reason.contains("out of range"), "{e}");
    let e = with("rating", json!(-3));
    assert!(e.reason.contains("-3 is out of range"), "{e}");
    let e = with("categories", json!("tone"));
    assert_eq!(e.field.as_deref(), Some("categories"), "{e}");
    assert!(e.reason.contains("an array of strings"), "{e}");
    let e = with("categories", json!(["tone", 3]));
    assert_eq!(e.field.as_deref(), Some("categories[1]"), "{e}");
    let e = with("thumbsup", json!(true));
    assert_eq!(e.field, None, "{e}");
    assert!(
        e.reason.contains("unknown field `thumbsup`") && e.reason.contains("`thumbs_up`"),
        "{e}"
    );
    let e = with("variant", json!("emoji"));
    assert_eq!(e.field.as_deref(), Some("variant"), "{e}");
    assert!(e.reason.contains("\"emoji\" is not one of"), "{e}");

    let mut m = object(RESPONSE);
    m.insert(
        "feedback".into(),
        json!({"variant": "stars", "rating": [5]}),
    );
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("feedback.rating"), "{e}");
    assert!(e.reason.contains("not an array"), "{e}");
    m.insert(
        "feedback".into(),
        json!([{"variant": "thumbs", "thumbs_up": true}, {"variant": "thumbs", "thumbs_up": 1}]),
    );
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("feedback[1].thumbs_up"), "{e}");
    m.insert("feedback".into(), json!("good"));
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("feedback"), "{e}");
    assert!(e.reason.contains("an object or an array of objects"), "{e}");
    m.insert(
        "feedback".into(),
        json!({"variant": "full", "model_id": "m"}),
    );
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("feedback"), "{e}");
    assert!(e.reason.contains("unknown field `model_id`"), "{e}");
    m.remove("feedback");
    m.insert(
        "conversation".into(),
        json!([{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]),
    );
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("conversation[1].role"), "{e}");
    assert!(e.reason.contains("\"bot\" is not one of"), "{e}");
    m.insert("conversation".into(), json!({"role": "user"}));
    let e = parse_err(&Value::Object(m.clone()).to_string());
    assert_eq!(e.field.as_deref(), Some("conversation"), "{e}");
    m.insert("conversation".into(), json!([]));
    m.insert("metadata".into(), json!("k=v"));
    let e = parse_err(&Value::Object(m).to_string());
    assert_eq!(e.field.as_deref(), Some("metadata"), "{e}");
    assert_eq!(e.reason, "must be an object, not the string \"k=v\"");

    let e = parse_err(&RESPONSE.replacen(r#""id":"r1","#, r#""id":"r1","id":"r2","#, 1));
    assert_eq!(e.field.as_deref(), Some("id"), "{e}");
    assert!(e.reason.contains("twice"), "{e}");
    let e = parse_err("[1,2]");
    assert_eq!(e.field, None, "{e}");
    assert!(
        e.reason.contains("JSON object") && e.reason.contains("array"),
        "{e}"
    );
    let e = parse_err(r#"{"type":"feedback","rating":1}{"x":1}"#);
    assert!(e.reason.starts_with("not valid JSON"), "{e}");
}

#[test]
fn quoted_values_are_short_and_escaped() {
    let long = "v".repeat(10_000);
    let e = parse_err(&format!(r#"{{"type":"{long}\n"}}"#));
    assert!(e.to_string().chars().count() < 200, "{e}");
    assert!(!e.reason.contains('\n'), "{e}");
    let e = parse_err(&format!(r#"{{"type":"feedback","{long}":1}}"#));
    assert!(e.to_string().chars().count() < 200, "{e}");
}

#[test]
fn a_broken_but_complete_line_is_not_called_truncated() {
    for (text, column) in [
        (r#"{"type":tru}"#, 12),
        (r#"{"type":"feedback","rating":1.}"#, 31),
        (r#"{"type":"feedback",}"#, 20),
        (r#"{"type":"\u12"}"#, 15),
        (r#"{"type" "feedback"}"#, 9),
    ] {
        let e = parse_err(text);
        assert_plain(&e, text);
        assert!(e.reason.starts_with("not valid JSON: "), "{e}");
        assert!(!e.reason.contains("truncated"), "{e}");
        assert!(e.reason.ends_with(&format!("(column {column})")), "{e}");
    }
}

#[test]
fn a_short_unknown_key_gets_no_far_fetched_suggestion() {
    let e = parse_err(r#"{"type":"feedback","x":1}"#);
    assert!(!e.reason.contains("did you mean"), "{e}");
    let e = parse_err(r#"{"type":"feedback","userid":"u"}"#);
    assert!(e.reason.contains("did you mean `user_id`?"), "{e}");
}
