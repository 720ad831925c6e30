//! Row decoding for every table, once for both dialects: both store times as microseconds
//! and JSON as text; the one difference (feedback categories as a JSON array or a text
//! array) goes through [`SqlDb::categories`].

use super::{corrupt, get, SqlDb};
use crate::error::{Error, Result};
use crate::model::time::from_micros;
use crate::model::{
    Category, Comparison, Feedback, FeedbackKind, Message, ResponseRecord, Variant, Winner,
};
use crate::store::{JobEventRecord, JobFile, JobRecord, Lease, RunRecord, StoredComparison};
use sqlx::QueryBuilder;

/// Columns of a response row; decode with [`response`].
pub(crate) const RESPONSE_SELECT: &str = "SELECT r.seq, r.id, m.model_id, r.query, r.response, \
     r.conversation, r.metadata, r.created_at \
     FROM responses r JOIN models m ON m.key = r.model_key";

/// The columns [`feedback`] decodes, for a feedback row `f` and its response `r`.
macro_rules! feedback_columns {
    () => {
        "SELECT f.seq, f.id, r.id AS response_id, f.variant, f.thumbs_up, f.rating, \
         f.categories, f.comment, f.correction, f.user_id, f.created_at, f.response_seq "
    };
}

/// Columns of a feedback row; decode with [`feedback`].
pub(crate) const FEEDBACK_SELECT: &str = concat!(
    feedback_columns!(),
    "FROM feedback f JOIN responses r ON r.seq = f.response_seq"
);

/// [`FEEDBACK_SELECT`] for feedback picked by its response (`WHERE r.…` follows), joined
/// the way the dialect's indexes reach a response's feedback
/// ([`SqlDb::FEEDBACK_OF_RESPONSE`]).
pub(crate) fn feedback_by_response_select<'a, DB: SqlDb>() -> QueryBuilder<'a, DB> {
    let mut qb = QueryBuilder::new(concat!(
        feedback_columns!(),
        "FROM responses r JOIN feedback f ON "
    ));
    qb.push(DB::FEEDBACK_OF_RESPONSE);
    qb
}

/// Columns of a comparison row; decode with [`comparison`].
pub(crate) const COMPARISON_SELECT: &str = "SELECT seq, id, response_a, response_b, model_a, \
     model_b, winner, user_id, comment, created_at FROM comparisons";

/// Columns of a run row; decode with [`run`].
pub(crate) const RUN_SELECT: &str =
    "SELECT id, kind, created_at, params, result FROM analysis_runs";

/// Columns of a job row; decode with [`job`].
pub(crate) const JOB_SELECT: &str =
    "SELECT id, model_id, status, version, created_at, updated_at, data FROM jobs";

/// Columns of a lease row; decode with [`lease`].
pub(crate) const LEASE_COLUMNS: &str = "name, holder, acquired_at, expires_at";

/// Storage code of a variant.
pub(crate) fn variant_code(v: Variant) -> i16 {
    match v {
        Variant::Thumbs => 0,
        Variant::Stars => 1,
        Variant::Full => 2,
    }
}

/// Sizes, versions and sequence numbers are never negative; a negative value can only come
/// from a hand-edited row and reads as 0.
pub(crate) fn unsigned(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// JSON text of a value bound into a text column.
pub(crate) fn json_text(field: &str, v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::invalid(field, e.to_string()))
}

fn json_value(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("stored {what}"), e))
}

/// A stored conversation (NULL: none).
pub(crate) fn conversation(id: &str, text: Option<&str>) -> Result<Vec<Message>> {
    match text {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| corrupt(format!("stored conversation of response `{id}`"), e)),
        None => Ok(Vec::new()),
    }
}

/// A row of [`RESPONSE_SELECT`] as its seq and record.
pub(crate) fn response<DB: SqlDb>(row: &DB::Row) -> Result<(i64, ResponseRecord)> {
    let id: String = get::<DB, _>(row, "id")?;
    let conversation_text: Option<String> = get::<DB, _>(row, "conversation")?;
    let metadata: Option<String> = get::<DB, _>(row, "metadata")?;
    let conversation = conversation(&id, conversation_text.as_deref())?;
    let metadata = match metadata {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| corrupt(format!("stored metadata of response `{id}`"), e))?,
        None => serde_json::Map::new(),
    };
    Ok((
        get::<DB, _>(row, "seq")?,
        ResponseRecord {
            model_id: get::<DB, _>(row, "model_id")?,
            query: get::<DB, _>(row, "query")?,
            response: get::<DB, _>(row, "response")?,
            conversation,
            metadata,
            created_at: from_micros(get::<DB, _>(row, "created_at")?),
            id,
        },
    ))
}

/// A row of [`FEEDBACK_SELECT`] as its seq and record.
pub(crate) fn feedback<DB: SqlDb>(row: &DB::Row) -> Result<(i64, Feedback)> {
    let id: String = get::<DB, _>(row, "id")?;
    let bad = |what: &str| Error::Storage {
        message: format!("stored feedback `{id}` has an invalid {what}"),
        retryable: false,
        source: None,
    };
    let variant: i16 = get::<DB, _>(row, "variant")?;
    let rating: Option<i16> = get::<DB, _>(row, "rating")?;
    let rating = || {
        rating
            .and_then(|r| u8::try_from(r).ok())
            .ok_or_else(|| bad("rating"))
    };
    let kind = match variant {
        0 => {
            let up: Option<bool> = get::<DB, _>(row, "thumbs_up")?;
            FeedbackKind::Thumbs {
                up: up.ok_or_else(|| bad("thumbs_up"))?,
            }
        }
        1 => FeedbackKind::Stars { rating: rating()? },
        2 => {
            let categories = DB::categories(row)?
                .unwrap_or_default()
                .iter()
                .map(|c| Category::new(c.as_str()))
                .collect::<std::result::Result<Vec<Category>, String>>()
                .map_err(|_| bad("category"))?;
            FeedbackKind::Full {
                rating: rating()?,
                categories,
                correction: get::<DB, _>(row, "correction")?,
            }
        }
        _ => return Err(bad("variant")),
    };
    Ok((
        get::<DB, _>(row, "seq")?,
        Feedback {
            response_id: get::<DB, _>(row, "response_id")?,
            kind,
            comment: get::<DB, _>(row, "comment")?,
            user_id: get::<DB, _>(row, "user_id")?,
            created_at: from_micros(get::<DB, _>(row, "created_at")?),
            id,
        },
    ))
}

/// A row of [`COMPARISON_SELECT`] as its seq and record.
pub(crate) fn comparison<DB: SqlDb>(row: &DB::Row) -> Result<(i64, StoredComparison)> {
    let id: String = get::<DB, _>(row, "id")?;
    let winner: String = get::<DB, _>(row, "winner")?;
    let winner = Winner::parse(&winner).ok_or_else(|| {
        corrupt(
            format!("stored winner `{winner}` of comparison `{id}`"),
            std::io::Error::other("not a, b or tie"),
        )
    })?;
    let comparison = Comparison {
        response_a: get::<DB, _>(row, "response_a")?,
        response_b: get::<DB, _>(row, "response_b")?,
        winner,
        user_id: get::<DB, _>(row, "user_id")?,
        comment: get::<DB, _>(row, "comment")?,
        created_at: from_micros(get::<DB, _>(row, "created_at")?),
        id,
    };
    Ok((
        get::<DB, _>(row, "seq")?,
        StoredComparison {
            comparison,
            model_a: get::<DB, _>(row, "model_a")?,
            model_b: get::<DB, _>(row, "model_b")?,
        },
    ))
}

/// A row of [`RUN_SELECT`].
pub(crate) fn run<DB: SqlDb>(row: &DB::Row) -> Result<RunRecord> {
    let id: String = get::<DB, _>(row, "id")?;
    let params: String = get::<DB, _>(row, "params")?;
    let result: String = get::<DB, _>(row, "result")?;
    Ok(RunRecord {
        kind: get::<DB, _>(row, "kind")?,
        created_at: from_micros(get::<DB, _>(row, "created_at")?),
        params: json_value(&format!("params of run `{id}`"), &params)?,
        result: json_value(&format!("result of run `{id}`"), &result)?,
        id,
    })
}

/// A row of [`JOB_SELECT`].
pub(crate) fn job<DB: SqlDb>(row: &DB::Row) -> Result<JobRecord> {
    let id: String = get::<DB, _>(row, "id")?;
    let data: String = get::<DB, _>(row, "data")?;
    Ok(JobRecord {
        model_id: get::<DB, _>(row, "model_id")?,
        status: get::<DB, _>(row, "status")?,
        version: unsigned(get::<DB, _>(row, "version")?),
        created_at: from_micros(get::<DB, _>(row, "created_at")?),
        updated_at: from_micros(get::<DB, _>(row, "updated_at")?),
        data: json_value(&format!("data of job `{id}`"), &data)?,
        id,
    })
}

/// A `job_files` row (`name, sha256, bytes, content`).
pub(crate) fn job_file<DB: SqlDb>(row: &DB::Row) -> Result<JobFile> {
    Ok(JobFile {
        name: get::<DB, _>(row, "name")?,
        sha256: get::<DB, _>(row, "sha256")?,
        bytes: unsigned(get::<DB, _>(row, "bytes")?),
        content: get::<DB, _>(row, "content")?,
    })
}

/// A `job_events` row.
pub(crate) fn job_event<DB: SqlDb>(row: &DB::Row) -> Result<JobEventRecord> {
    Ok(JobEventRecord {
        seq: unsigned(get::<DB, _>(row, "seq")?),
        id: get::<DB, _>(row, "id")?,
        source: get::<DB, _>(row, "source")?,
        level: get::<DB, _>(row, "level")?,
        message: get::<DB, _>(row, "message")?,
        created_at: from_micros(get::<DB, _>(row, "created_at")?),
    })
}

/// A row of [`LEASE_COLUMNS`].
pub(crate) fn lease<DB: SqlDb>(row: &DB::Row) -> Result<Lease> {
    Ok(Lease {
        name: get::<DB, _>(row, "name")?,
        holder: get::<DB, _>(row, "holder")?,
        acquired_at: from_micros(get::<DB, _>(row, "acquired_at")?),
        expires_at: from_micros(get::<DB, _>(row, "expires_at")?),
    })
}
