//! Parsing and validating one import line into model values.
//!
//! A line is read in two steps: into a plain JSON tree, where only JSON syntax can fail, and
//! then field by field. Every message is written here, in the format's own terms (dotted field
//! paths, JSON types): serde's derived messages would name our internal types, and its path
//! tracker would name a field it had not reached yet `?`.

use crate::error::{Error, LineError};
use crate::model::{
    parse_timestamp, Category, Comparison, Feedback, Limits, Message, ResponseRecord, Role,
    Timestamp, Variant, Winner,
};
use chrono::Datelike;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The records one valid line holds.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    /// A response, with any feedback embedded under `"feedback"`.
    Response(ResponseRecord, Vec<Feedback>),
    /// A feedback item.
    Feedback(Feedback),
    /// A pairwise judgment between two responses.
    Comparison(Comparison),
}

/// Field paths in messages are cut in the middle beyond this many characters: a path into
/// deeply nested metadata can otherwise run to hundreds of `[0]`s.
const MAX_PATH_CHARS: usize = 80;
/// User values quoted in messages are cut beyond this many characters.
const MAX_QUOTED_CHARS: usize = 60;

const LINE_FIELDS: &[&str] = &[
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
    "response_a",
    "response_b",
    "winner",
];

const EMBEDDED_FIELDS: &[&str] = &[
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
];

const MESSAGE_FIELDS: &[&str] = &["role", "content"];

/// A JSON value as read, before any field is interpreted. Objects keep their members in input
/// order, repeats included, so a repeated field is reported instead of silently overwritten.
enum Json {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Num(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Num(v.into()))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Json, E> {
        // serde_json never hands over a non-finite float; the check keeps that an error,
        // not a panic, should it ever change.
        serde_json::Number::from_f64(v)
            .map(Json::Num)
            .ok_or_else(|| E::custom("number out of range"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Arr(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value()?;
            members.push((key, value));
        }
        Ok(Json::Obj(members))
    }
}

impl Json {
    /// What the value is, for "must be X, not Y" messages.
    fn describe(&self) -> String {
        match self {
            Json::Null => "null".into(),
            Json::Bool(b) => b.to_string(),
            Json::Num(n) => format!("the number {}", cut(&n.to_string(), MAX_QUOTED_CHARS)),
            Json::Str(s) => format!("the string {}", quote(s)),
            Json::Arr(_) => "an array".into(),
            Json::Obj(_) => "an object".into(),
        }
    }

    /// Free-form metadata as serde_json keeps it (a repeated key: the last one wins).
    fn into_value(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(b),
            Json::Num(n) => Value::Number(n),
            Json::Str(s) => Value::String(s),
            Json::Arr(items) => Value::Array(items.into_iter().map(Json::into_value).collect()),
            Json::Obj(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            ),
        }
    }
}

/// `text` cut to at most `max` characters, with `…` where it was cut.
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text.to_string(),
        Some((end, _)) => format!("{}…", &text[..end]),
    }
}

/// A user's string as a JSON literal, cut to [`MAX_QUOTED_CHARS`] characters of the escaped
/// text: control characters could otherwise grow it sixfold.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    let mut used = 0;
    for c in text.chars() {
        let piece = match c {
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            '\n' => "\\n".to_string(),
            '\r' => "\\r".to_string(),
            '\t' => "\\t".to_string(),
            c if c.is_control() => format!("\\u{:04x}", u32::from(c)),
            c => c.to_string(),
        };
        used += piece.chars().count();
        if used > MAX_QUOTED_CHARS {
            out.push('…');
            break;
        }
        out.push_str(&piece);
    }
    out.push('"');
    out
}

/// Joins path segments, leaving out middle ones beyond [`MAX_PATH_CHARS`]: the start says
/// where in the line, the end what was being read. Segments stay whole, so a quoted key is
/// never cut open.
fn elide_middle(segments: &[String]) -> String {
    let len = |s: &[String]| s.iter().map(|x| x.chars().count()).sum::<usize>();
    if len(segments) <= MAX_PATH_CHARS {
        return segments.concat();
    }
    // The end first: one segment at least, up to half the room.
    let mut tail = segments.len() - 1;
    while tail > 1 && len(&segments[tail - 1..]) < MAX_PATH_CHARS / 2 {
        tail -= 1;
    }
    let room = MAX_PATH_CHARS.saturating_sub(len(&segments[tail..]) + 1);
    let mut head = 0;
    while head < tail && len(&segments[..=head]) <= room {
        head += 1;
    }
    format!(
        "{}…{}",
        segments[..head].concat(),
        segments[tail..].concat()
    )
}

/// Whether a key can appear bare in a dotted path.
fn is_plain_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_QUOTED_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A key as a message shows it: bare in backticks when plain, else as a JSON string.
fn show_key(key: &str) -> String {
    if is_plain_key(key) {
        format!("`{key}`")
    } else {
        quote(key)
    }
}

fn line_err(line: usize, field: impl Into<String>, reason: impl Into<String>) -> LineError {
    let field: String = field.into();
    LineError {
        line,
        field: (!field.is_empty()).then_some(field),
        reason: reason.into(),
    }
}

fn from_error(line: usize, prefix: &str, e: Error) -> LineError {
    match e {
        Error::InvalidInput { field, reason } => line_err(line, join(prefix, &field), reason),
        other => line_err(line, prefix, other.to_string()),
    }
}

fn join(prefix: &str, field: &str) -> String {
    match (prefix.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{field}"),
    }
}

/// Parses and validates one line (1-based `line` for messages). Blank lines are the
/// caller's business.
pub fn parse_line(text: &str, line: usize, limits: &Limits) -> Result<ParsedLine, LineError> {
    let members = match read_json(text, line)? {
        Json::Obj(members) => members,
        other => {
            return Err(line_err(
                line,
                "",
                format!(
                    "must be a JSON object with a \"type\" field, not {}",
                    other.describe()
                ),
            ))
        }
    };
    let raw = RawLine::from_members(members, line)?;
    match raw.kind.as_deref() {
        Some("response") => parse_response(raw, line, limits),
        Some("feedback") => parse_feedback_line(raw, line, limits),
        Some("comparison") => parse_comparison_line(raw, line, limits),
        Some(other) => Err(line_err(
            line,
            "type",
            format!(
                "{} is not a record type; expected \"response\", \"feedback\" or \"comparison\"",
                quote(other)
            ),
        )),
        None => Err(line_err(
            line,
            "type",
            "missing; every line needs \"type\": \"response\", \"feedback\" or \"comparison\"",
        )),
    }
}

const TRUNCATED: &str = "not valid JSON: the line ends in the middle of a JSON value (truncated?)";

/// Reads the line as one JSON value. Only JSON syntax fails here; the field is the deepest
/// one the reader had entered, when there is one.
fn read_json(text: &str, line: usize) -> Result<Json, LineError> {
    if text.trim().is_empty() {
        return Err(line_err(line, "", "empty line; expected a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value: Json = match serde_path_to_error::deserialize(&mut de) {
        Ok(value) => value,
        Err(e) => {
            let field = path_of(e.path());
            let reason = syntax_reason(e.inner());
            return Err(line_err(line, field, reason));
        }
    };
    de.end()
        .map_err(|e| line_err(line, "", syntax_reason(&e)))?;
    Ok(value)
}

/// The path the JSON reader had reached, without the `?` it puts for a key it had not read
/// yet, cut to [`MAX_PATH_CHARS`].
fn path_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut segments: Vec<String> = Vec::new();
    for segment in path {
        segments.push(match segment {
            Segment::Seq { index } => format!("[{index}]"),
            Segment::Map { key } if is_plain_key(key) && segments.is_empty() => key.clone(),
            Segment::Map { key } if is_plain_key(key) => format!(".{key}"),
            Segment::Map { key } => format!("[{}]", quote(key)),
            Segment::Enum { .. } | Segment::Unknown => break,
        });
    }
    elide_middle(&segments)
}

/// serde_json's syntax message in plain words, with the column (the line number is the
/// import's, not serde_json's "line 1").
fn syntax_reason(e: &serde_json::Error) -> String {
    if e.is_eof() {
        return TRUNCATED.to_string();
    }
    let message = e.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => &message[..i],
        None => message.as_str(),
    };
    let plain = match message {
        "recursion limit exceeded" => "arrays and objects are nested more than 127 levels deep",
        "expected ident" => "expected true, false or null",
        "expected value" => "expected a JSON value",
        "trailing characters" => "more text after the end of the JSON object",
        "key must be a string" => "object keys must be strings in double quotes",
        other => other,
    };
    format!("not valid JSON: {plain} (column {})", e.column())
}

/// An object's members, checked against the fields it may have.
struct Fields {
    line: usize,
    path: String,
    members: Vec<(&'static str, Json)>,
}

impl Fields {
    /// Rejects unknown and repeated fields.
    fn new(
        line: usize,
        path: &str,
        members: Vec<(String, Json)>,
        allowed: &'static [&'static str],
    ) -> Result<Self, LineError> {
        let mut known: Vec<(&'static str, Json)> = Vec::with_capacity(members.len());
        for (key, value) in members {
            let Some(name) = allowed.iter().copied().find(|a| *a == key) else {
                return Err(line_err(line, path, unknown_field(&key, allowed)));
            };
            if known.iter().any(|(n, _)| *n == name) {
                return Err(line_err(
                    line,
                    join(path, name),
                    "appears twice; give each field once",
                ));
            }
            known.push((name, value));
        }
        Ok(Fields {
            line,
            path: path.to_string(),
            members: known,
        })
    }

    fn path(&self, name: &str) -> String {
        join(&self.path, name)
    }

    /// The field's value; `null` counts as absent, as it always has.
    fn take(&mut self, name: &str) -> Option<Json> {
        let i = self.members.iter().position(|(n, _)| *n == name)?;
        match self.members.swap_remove(i).1 {
            Json::Null => None,
            value => Some(value),
        }
    }

    fn wrong_type(&self, name: &str, expected: &str, got: &Json) -> LineError {
        line_err(
            self.line,
            self.path(name),
            format!("must be {expected}, not {}", got.describe()),
        )
    }

    fn string(&mut self, name: &str) -> Result<Option<String>, LineError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Str(s)) => Ok(Some(s)),
            Some(other) => Err(self.wrong_type(name, "a string", &other)),
        }
    }

    fn boolean(&mut self, name: &str) -> Result<Option<bool>, LineError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(self.wrong_type(name, "true or false", &other)),
        }
    }

    /// A rating as written; the range is checked with the variant, which knows the message.
    fn rating(&mut self, name: &str) -> Result<Option<i64>, LineError> {
        let value = match self.take(name) {
            None => return Ok(None),
            Some(value) => value,
        };
        if let Json::Num(n) = &value {
            if let Some(r) = n.as_i64() {
                return Ok(Some(r));
            }
            if n.is_u64() {
                return Err(line_err(
                    self.line,
                    self.path(name),
                    format!("{n} is out of range; ratings are 1 to 5"),
                ));
            }
        }
        Err(self.wrong_type(name, "a whole number from 1 to 5", &value))
    }

    fn strings(&mut self, name: &str) -> Result<Option<Vec<String>>, LineError> {
        let items = match self.take(name) {
            None => return Ok(None),
            Some(Json::Arr(items)) => items,
            Some(other) => return Err(self.wrong_type(name, "an array of strings", &other)),
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            match item {
                Json::Str(s) => out.push(s),
                other => {
                    return Err(self.wrong_type(&format!("{name}[{i}]"), "a string", &other));
                }
            }
        }
        Ok(Some(out))
    }

    fn object(
        &mut self,
        name: &str,
    ) -> Result<Option<serde_json::Map<String, serde_json::Value>>, LineError> {
        match self.take(name) {
            None => Ok(None),
            Some(Json::Obj(members)) => Ok(Some(
                members
                    .into_iter()
                    .map(|(k, v)| (k, v.into_value()))
                    .collect(),
            )),
            Some(other) => Err(self.wrong_type(name, "an object", &other)),
        }
    }

    fn conversation(&mut self, name: &str) -> Result<Option<Vec<Message>>, LineError> {
        let items = match self.take(name) {
            None => return Ok(None),
            Some(Json::Arr(items)) => items,
            Some(other) => {
                return Err(self.wrong_type(
                    name,
                    "an array of {\"role\", \"content\"} objects",
                    &other,
                ))
            }
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let turn = format!("{name}[{i}]");
            let members = match item {
                Json::Obj(members) => members,
                other => {
                    return Err(self.wrong_type(
                        &turn,
                        "an object with \"role\" and \"content\"",
                        &other,
                    ))
                }
            };
            let mut f = Fields::new(self.line, &self.path(&turn), members, MESSAGE_FIELDS)?;
            const ROLES: &str = "\"system\", \"user\", \"assistant\" or \"tool\"";
            let role_text = f
                .string("role")?
                .ok_or_else(|| line_err(self.line, f.path("role"), format!("required: {ROLES}")))?;
            let role = parse_role(&role_text).ok_or_else(|| {
                line_err(
                    self.line,
                    f.path("role"),
                    format!("{} is not one of {ROLES}", quote(&role_text)),
                )
            })?;
            let content = f
                .string("content")?
                .ok_or_else(|| line_err(self.line, f.path("content"), "required (a string)"))?;
            out.push(Message { role, content });
        }
        Ok(Some(out))
    }

    /// Embedded feedback: one object or an array of them. Paths follow the import's
    /// convention: `feedback` for a single item, `feedback[i]` for several.
    fn feedback(&mut self, name: &str) -> Result<Option<Vec<RawFeedback>>, LineError> {
        let items = match self.take(name) {
            None => return Ok(None),
            Some(obj @ Json::Obj(_)) => vec![obj],
            Some(Json::Arr(items)) => items,
            Some(other) => {
                return Err(self.wrong_type(name, "an object or an array of objects", &other))
            }
        };
        let many = items.len() > 1;
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            let item_name = if many {
                format!("{name}[{i}]")
            } else {
                name.to_string()
            };
            match item {
                Json::Obj(members) => {
                    let f =
                        Fields::new(self.line, &self.path(&item_name), members, EMBEDDED_FIELDS)?;
                    out.push(RawFeedback::from_fields(f)?);
                }
                other => return Err(self.wrong_type(&item_name, "an object", &other)),
            }
        }
        Ok(Some(out))
    }
}

fn parse_role(text: &str) -> Option<Role> {
    match text {
        "system" => Some(Role::System),
        "user" => Some(Role::User),
        "assistant" => Some(Role::Assistant),
        "tool" => Some(Role::Tool),
        _ => None,
    }
}

/// "unknown field", with the likely intended one when a known field is close.
fn unknown_field(key: &str, allowed: &[&str]) -> String {
    let near = allowed
        .iter()
        .copied()
        .filter(|a| a.len().abs_diff(key.len()) <= 2)
        .map(|a| (edit_distance(&key.to_ascii_lowercase(), a), a))
        // Close enough to be a typo, not so close that any short key "means" `id`.
        .filter(|(d, _)| *d <= 2 && d * 3 <= key.len())
        .min_by_key(|(d, _)| *d);
    match near {
        Some((_, a)) => format!("unknown field {}; did you mean `{a}`?", show_key(key)),
        None => format!(
            "unknown field {}; the fields are listed in docs/formats.md",
            show_key(key)
        ),
    }
}

/// Levenshtein distance over bytes: only ever between a key and a short ASCII field name.
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A line's fields, typed but not yet checked against its `type`.
struct RawLine {
    kind: Option<String>,
    id: Option<String>,
    model_id: Option<String>,
    query: Option<String>,
    response: Option<String>,
    created_at: Option<String>,
    conversation: Option<Vec<Message>>,
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
    feedback: Option<Vec<RawFeedback>>,
    response_id: Option<String>,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
    response_a: Option<String>,
    response_b: Option<String>,
    winner: Option<String>,
}

impl RawLine {
    fn from_members(members: Vec<(String, Json)>, line: usize) -> Result<Self, LineError> {
        let mut f = Fields::new(line, "", members, LINE_FIELDS)?;
        Ok(RawLine {
            kind: f.string("type")?,
            id: f.string("id")?,
            model_id: f.string("model_id")?,
            query: f.string("query")?,
            response: f.string("response")?,
            created_at: f.string("created_at")?,
            conversation: f.conversation("conversation")?,
            metadata: f.object("metadata")?,
            feedback: f.feedback("feedback")?,
            response_id: f.string("response_id")?,
            variant: f.string("variant")?,
            thumbs_up: f.boolean("thumbs_up")?,
            rating: f.rating("rating")?,
            categories: f.strings("categories")?,
            comment: f.string("comment")?,
            correction: f.string("correction")?,
            user_id: f.string("user_id")?,
            response_a: f.string("response_a")?,
            response_b: f.string("response_b")?,
            winner: f.string("winner")?,
        })
    }
}

/// One embedded feedback item's fields.
struct RawFeedback {
    kind: Option<String>,
    id: Option<String>,
    response_id: Option<String>,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
    created_at: Option<String>,
}

impl RawFeedback {
    fn from_fields(mut f: Fields) -> Result<Self, LineError> {
        Ok(RawFeedback {
            kind: f.string("type")?,
            id: f.string("id")?,
            response_id: f.string("response_id")?,
            variant: f.string("variant")?,
            thumbs_up: f.boolean("thumbs_up")?,
            rating: f.rating("rating")?,
            categories: f.strings("categories")?,
            comment: f.string("comment")?,
            correction: f.string("correction")?,
            user_id: f.string("user_id")?,
            created_at: f.string("created_at")?,
        })
    }
}

fn required<T>(value: Option<T>, line: usize, field: &str, kind: &str) -> Result<T, LineError> {
    value.ok_or_else(|| line_err(line, field, format!("required on a {kind} line")))
}

/// The first field present that does not belong on this kind of line.
fn reject_misplaced(line: usize, fields: &[(&str, bool)], reason: &str) -> Result<(), LineError> {
    match fields.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(line_err(line, *field, reason)),
        None => Ok(()),
    }
}

/// A timestamp export can write back: an offset can carry `0000-01-01` into year -1 or
/// `9999-12-31` into year 10000, which RFC 3339's four-digit years cannot express in UTC.
fn timestamp(text: &str) -> Result<Timestamp, String> {
    let t = parse_timestamp(text)?;
    if (0..=9999).contains(&t.year()) {
        Ok(t)
    } else {
        Err(format!(
            "{} falls outside the years 0000 to 9999 once converted to UTC",
            quote(text.trim())
        ))
    }
}

fn required_time(value: Option<String>, line: usize, kind: &str) -> Result<Timestamp, LineError> {
    let text = required(value, line, "created_at", kind)?;
    timestamp(&text).map_err(|r| line_err(line, "created_at", r))
}

fn parse_response(raw: RawLine, line: usize, limits: &Limits) -> Result<ParsedLine, LineError> {
    let misplaced = [
        ("response_id", raw.response_id.is_some()),
        ("variant", raw.variant.is_some()),
        ("thumbs_up", raw.thumbs_up.is_some()),
        ("rating", raw.rating.is_some()),
        ("categories", raw.categories.is_some()),
        ("comment", raw.comment.is_some()),
        ("correction", raw.correction.is_some()),
        ("user_id", raw.user_id.is_some()),
    ];
    reject_misplaced(
        line,
        &misplaced,
        "belongs to feedback, not to a response; put feedback under \"feedback\" or on its own line",
    )?;
    reject_comparison_fields(&raw, line)?;
    let created_at = required_time(raw.created_at, line, "response")?;
    let record = ResponseRecord {
        id: required(raw.id, line, "id", "response")?,
        model_id: required(raw.model_id, line, "model_id", "response")?,
        query: required(raw.query, line, "query", "response")?,
        response: required(raw.response, line, "response", "response")?,
        conversation: raw.conversation.unwrap_or_default(),
        metadata: raw.metadata.unwrap_or_default(),
        created_at,
    };
    record
        .validate(limits)
        .map_err(|e| from_error(line, "", e))?;
    let raw_feedback = raw.feedback.unwrap_or_default();
    let many = raw_feedback.len() > 1;
    let mut feedback = Vec::with_capacity(raw_feedback.len());
    for (i, f) in raw_feedback.into_iter().enumerate() {
        let prefix = if many {
            format!("feedback[{i}]")
        } else {
            "feedback".to_string()
        };
        if let Some(k) = f.kind.as_deref() {
            if k != "feedback" {
                return Err(line_err(
                    line,
                    join(&prefix, "type"),
                    format!(
                        "{} inside \"feedback\"; only \"feedback\" is allowed",
                        quote(k)
                    ),
                ));
            }
        }
        if let Some(rid) = &f.response_id {
            if rid != &record.id {
                return Err(line_err(
                    line,
                    join(&prefix, "response_id"),
                    format!(
                        "{} differs from the enclosing response id {}",
                        quote(rid),
                        quote(&record.id)
                    ),
                ));
            }
        }
        let created = match f.created_at {
            Some(t) => timestamp(&t).map_err(|r| line_err(line, join(&prefix, "created_at"), r))?,
            None => record.created_at,
        };
        let fb = build_feedback(
            &prefix,
            line,
            limits,
            FeedbackFields {
                id: f.id,
                response_id: record.id.clone(),
                variant: f.variant,
                thumbs_up: f.thumbs_up,
                rating: f.rating,
                categories: f.categories,
                comment: f.comment,
                correction: f.correction,
                user_id: f.user_id,
                created_at: created,
            },
        )?;
        feedback.push(fb);
    }
    Ok(ParsedLine::Response(record, feedback))
}

fn parse_feedback_line(
    raw: RawLine,
    line: usize,
    limits: &Limits,
) -> Result<ParsedLine, LineError> {
    reject_misplaced(
        line,
        &response_fields(&raw),
        "belongs to a response, not to feedback",
    )?;
    reject_comparison_fields(&raw, line)?;
    let created_at = required_time(raw.created_at, line, "feedback")?;
    let fb = build_feedback(
        "",
        line,
        limits,
        FeedbackFields {
            id: raw.id,
            response_id: required(raw.response_id, line, "response_id", "feedback")?,
            variant: raw.variant,
            thumbs_up: raw.thumbs_up,
            rating: raw.rating,
            categories: raw.categories,
            comment: raw.comment,
            correction: raw.correction,
            user_id: raw.user_id,
            created_at,
        },
    )?;
    Ok(ParsedLine::Feedback(fb))
}

/// The fields only a response line has, and whether `raw` carries each.
fn response_fields(raw: &RawLine) -> [(&'static str, bool); 6] {
    [
        ("model_id", raw.model_id.is_some()),
        ("query", raw.query.is_some()),
        ("response", raw.response.is_some()),
        ("conversation", raw.conversation.is_some()),
        ("metadata", raw.metadata.is_some()),
        ("feedback", raw.feedback.is_some()),
    ]
}

/// Fields of a comparison line found on another kind of line.
fn reject_comparison_fields(raw: &RawLine, line: usize) -> Result<(), LineError> {
    let misplaced = [
        ("response_a", raw.response_a.is_some()),
        ("response_b", raw.response_b.is_some()),
        ("winner", raw.winner.is_some()),
    ];
    reject_misplaced(
        line,
        &misplaced,
        "belongs to a comparison (\"type\": \"comparison\"), not to this line",
    )
}

fn parse_comparison_line(
    raw: RawLine,
    line: usize,
    limits: &Limits,
) -> Result<ParsedLine, LineError> {
    let mut misplaced = response_fields(&raw).to_vec();
    misplaced.extend([
        ("response_id", raw.response_id.is_some()),
        ("variant", raw.variant.is_some()),
        ("thumbs_up", raw.thumbs_up.is_some()),
        ("rating", raw.rating.is_some()),
        ("categories", raw.categories.is_some()),
        ("correction", raw.correction.is_some()),
    ]);
    reject_misplaced(
        line,
        &misplaced,
        "does not belong to a comparison, which names two responses (response_a, response_b) and a winner",
    )?;
    let response_a = required(raw.response_a, line, "response_a", "comparison")?;
    let response_b = required(raw.response_b, line, "response_b", "comparison")?;
    let winner_text = required(raw.winner, line, "winner", "comparison")?;
    let winner = Winner::parse(&winner_text).ok_or_else(|| {
        line_err(
            line,
            "winner",
            format!(
                "{} is not one of \"a\", \"b\", \"tie\"",
                quote(&winner_text)
            ),
        )
    })?;
    let created_at = required_time(raw.created_at, line, "comparison")?;
    let mut c = Comparison {
        id: raw.id.unwrap_or_default(),
        response_a,
        response_b,
        winner,
        user_id: raw.user_id,
        comment: raw.comment,
        created_at,
    };
    if c.id.is_empty() {
        c.id = c.derived_id();
    }
    c.validate(limits).map_err(|e| from_error(line, "", e))?;
    Ok(ParsedLine::Comparison(c))
}

struct FeedbackFields {
    id: Option<String>,
    response_id: String,
    variant: Option<String>,
    thumbs_up: Option<bool>,
    rating: Option<i64>,
    categories: Option<Vec<String>>,
    comment: Option<String>,
    correction: Option<String>,
    user_id: Option<String>,
    created_at: Timestamp,
}

fn build_feedback(
    prefix: &str,
    line: usize,
    limits: &Limits,
    f: FeedbackFields,
) -> Result<Feedback, LineError> {
    let variant_text = f.variant.ok_or_else(|| {
        line_err(
            line,
            join(prefix, "variant"),
            "required: \"thumbs\", \"stars\" or \"full\"",
        )
    })?;
    let variant = Variant::parse(&variant_text).ok_or_else(|| {
        line_err(
            line,
            join(prefix, "variant"),
            format!(
                "{} is not one of \"thumbs\", \"stars\", \"full\"",
                quote(&variant_text)
            ),
        )
    })?;
    let raw_categories = f.categories.unwrap_or_default();
    if raw_categories.len() > limits.max_categories {
        return Err(line_err(
            line,
            join(prefix, "categories"),
            format!(
                "{} categories; the limit is {}",
                raw_categories.len(),
                limits.max_categories
            ),
        ));
    }
    let mut categories = Vec::with_capacity(raw_categories.len());
    for (i, c) in raw_categories.iter().enumerate() {
        let cat = Category::new(c)
            .map_err(|r| line_err(line, join(prefix, &format!("categories[{i}]")), r))?;
        categories.push(cat);
    }
    let kind =
        crate::model::feedback_kind(variant, f.thumbs_up, f.rating, categories, f.correction)
            .map_err(|e| from_error(line, prefix, e))?;
    let mut fb = Feedback {
        id: f.id.unwrap_or_default(),
        response_id: f.response_id,
        kind,
        comment: f.comment,
        user_id: f.user_id,
        created_at: f.created_at,
    };
    if fb.id.is_empty() {
        fb.id = fb.derived_id();
    }
    fb.validate(limits)
        .map_err(|e| from_error(line, prefix, e))?;
    Ok(fb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> LineError {
        parse_line(text, 7, &Limits::default()).expect_err("should be rejected")
    }

    #[test]
    fn good_lines() {
        let r = parse_line(
            r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01T10:00:00Z","feedback":{"variant":"thumbs","thumbs_up":false}}"#,
            1,
            &Limits::default(),
        )
        .expect("valid");
        let ParsedLine::Response(resp, fb) = r else {
            panic!("expected a response")
        };
        assert_eq!(resp.id, "r1");
        assert_eq!(fb.len(), 1);
        assert_eq!(fb[0].response_id, "r1");
        assert_eq!(fb[0].created_at, resp.created_at);
    }

    #[test]
    fn bad_lines_name_field_and_reason() {
        let e = err("{not json");
        assert!(e.reason.starts_with("not valid JSON"), "{e}");
        assert_eq!(e.line, 7);
        let e = err(r#"{"type":"vote"}"#);
        assert_eq!(e.field.as_deref(), Some("type"));
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":7,"created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("rating"));
        assert!(e.reason.contains("out of range"), "{e}");
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"thumbs","created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("thumbs_up"));
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":"5","created_at":"2026-09-01"}"#,
        );
        assert_eq!(e.field.as_deref(), Some("rating"), "{e}");
        let e = err(
            r#"{"type":"feedback","response_id":"r1","variant":"stars","rating":5,"created_at":"2026-09-01","thumbsup":true}"#,
        );
        assert!(e.reason.contains("unknown field `thumbsup`"), "{e}");
        let e = err(
            r#"{"type":"response","id":"r1","model_id":"m","query":"q","response":"a","created_at":"2026-09-01","feedback":[{"variant":"thumbs","thumbs_up":true},{"variant":"full","rating":1,"categories":["Bad Cat"]}]}"#,
        );
        assert_eq!(e.field.as_deref(), Some("feedback[1].categories[0]"), "{e}");
    }

    #[test]
    fn oversized_fields_are_rejected() {
        let big = "x".repeat((1 << 20) + 1);
        let line = format!(
            r#"{{"type":"response","id":"r1","model_id":"m","query":"q","response":"{big}","created_at":"2026-09-01"}}"#
        );
        let e = err(&line);
        assert_eq!(e.field.as_deref(), Some("response"));
        assert!(e.reason.contains("limit"), "{e}");
    }
}
