//! Lookups, listings, stats, analysis runs and jobs.

use super::{corrupt, db_err};
use crate::error::{Error, Result};
use crate::model::time::{from_micros, to_micros};
use crate::model::{Category, Feedback, FeedbackKind, Message, ResponseRecord, Variant};
use crate::store::{
    FeedbackFilter, JobFilter, JobRecord, Page, PageRequest, ResponseFilter, RunRecord, StoreStats,
};
use sqlx::postgres::PgRow;
use sqlx::{Executor, PgPool, Postgres, QueryBuilder, Row};

/// Columns of a response row; decode with [`decode_response`].
pub(super) const RESPONSE_SELECT: &str = "SELECT r.seq, r.id, m.model_id, r.query, r.response, \
     r.conversation, r.metadata, r.created_at \
     FROM responses r JOIN models m ON m.key = r.model_key";

/// Columns of a feedback row; decode with [`decode_feedback`].
pub(super) const FEEDBACK_SELECT: &str = "SELECT f.seq, f.id, r.id AS response_id, f.variant, \
     f.thumbs_up, f.rating, f.categories, f.comment, f.correction, f.user_id, f.created_at, \
     f.response_seq \
     FROM feedback f JOIN responses r ON r.seq = f.response_seq";

/// Storage code of a variant.
pub(super) fn variant_code(v: Variant) -> i16 {
    match v {
        Variant::Thumbs => 0,
        Variant::Stars => 1,
        Variant::Full => 2,
    }
}

fn get<'r, T>(row: &'r PgRow, col: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
{
    row.try_get(col)
        .map_err(|e| db_err(&format!("reading column `{col}`"), e))
}

/// Decodes a row of [`RESPONSE_SELECT`] into its seq and record.
pub(super) fn decode_response(row: &PgRow) -> Result<(i64, ResponseRecord)> {
    let id: String = get(row, "id")?;
    let conversation: Option<&str> = get(row, "conversation")?;
    let metadata: Option<&str> = get(row, "metadata")?;
    let conversation: Vec<Message> = match conversation {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| corrupt(format!("stored conversation of response `{id}`"), e))?,
        None => Vec::new(),
    };
    let metadata = match metadata {
        Some(text) => serde_json::from_str(text)
            .map_err(|e| corrupt(format!("stored metadata of response `{id}`"), e))?,
        None => serde_json::Map::new(),
    };
    Ok((
        get(row, "seq")?,
        ResponseRecord {
            model_id: get(row, "model_id")?,
            query: get(row, "query")?,
            response: get(row, "response")?,
            conversation,
            metadata,
            created_at: from_micros(get(row, "created_at")?),
            id,
        },
    ))
}

/// Decodes a row of [`FEEDBACK_SELECT`] into its seq and record.
pub(super) fn decode_feedback(row: &PgRow) -> Result<(i64, Feedback)> {
    let id: String = get(row, "id")?;
    let bad = |what: &str| Error::Storage {
        message: format!("stored feedback `{id}` has an invalid {what}"),
        retryable: false,
        source: None,
    };
    let variant: i16 = get(row, "variant")?;
    let rating: Option<i16> = get(row, "rating")?;
    let rating = || {
        rating
            .and_then(|r| u8::try_from(r).ok())
            .ok_or_else(|| bad("rating"))
    };
    let kind = match variant {
        0 => {
            let up: Option<bool> = get(row, "thumbs_up")?;
            FeedbackKind::Thumbs {
                up: up.ok_or_else(|| bad("thumbs_up"))?,
            }
        }
        1 => FeedbackKind::Stars { rating: rating()? },
        2 => {
            let categories: Option<Vec<String>> = get(row, "categories")?;
            let categories = categories
                .unwrap_or_default()
                .iter()
                .map(|c| Category::new(c.as_str()))
                .collect::<std::result::Result<Vec<Category>, String>>()
                .map_err(|_| bad("category"))?;
            FeedbackKind::Full {
                rating: rating()?,
                categories,
                correction: get(row, "correction")?,
            }
        }
        _ => return Err(bad("variant")),
    };
    Ok((
        get(row, "seq")?,
        Feedback {
            response_id: get(row, "response_id")?,
            kind,
            comment: get(row, "comment")?,
            user_id: get(row, "user_id")?,
            created_at: from_micros(get(row, "created_at")?),
            id,
        },
    ))
}

/// One response by id, through any executor (the pool or an open transaction).
pub(super) async fn fetch_response<'c, E>(e: E, id: &str) -> Result<Option<ResponseRecord>>
where
    E: Executor<'c, Database = Postgres>,
{
    let sql = format!("{RESPONSE_SELECT} WHERE r.id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(e)
        .await
        .map_err(|e| db_err("reading a response", e))?;
    row.map(|r| decode_response(&r).map(|(_, rec)| rec))
        .transpose()
}

/// One feedback item by id, through any executor.
pub(super) async fn fetch_feedback<'c, E>(e: E, id: &str) -> Result<Option<Feedback>>
where
    E: Executor<'c, Database = Postgres>,
{
    let sql = format!("{FEEDBACK_SELECT} WHERE f.id = $1");
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(e)
        .await
        .map_err(|e| db_err("reading a feedback item", e))?;
    row.map(|r| decode_feedback(&r).map(|(_, rec)| rec))
        .transpose()
}

/// The cursor is the `seq` of the last item returned.
pub(super) fn parse_cursor(after: &Option<String>) -> Result<i64> {
    match after {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| Error::invalid("after", format!("`{c}` is not a cursor from this store"))),
    }
}

/// Runs a listing built with one row more than the limit, to know whether a next page exists.
pub(super) async fn page_query<T>(
    pool: &PgPool,
    mut qb: QueryBuilder<'_, Postgres>,
    limit: usize,
    what: &str,
    decode: fn(&PgRow) -> Result<(i64, T)>,
) -> Result<Page<T>> {
    let limit = limit.max(1);
    qb.push(" LIMIT ")
        .push_bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
    let rows = qb
        .build()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err(&format!("listing {what}"), e))?;
    let mut items = Vec::with_capacity(rows.len().min(limit));
    let mut last = None;
    for row in rows.iter().take(limit) {
        let (seq, item) = decode(row)?;
        last = Some(seq);
        items.push(item);
    }
    let next = if rows.len() > limit {
        last.map(|s| s.to_string())
    } else {
        None
    };
    Ok(Page { items, next })
}

pub(super) async fn list_responses(
    pool: &PgPool,
    filter: &ResponseFilter,
    page: &PageRequest,
) -> Result<Page<ResponseRecord>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = QueryBuilder::new(RESPONSE_SELECT);
    qb.push(" WHERE r.seq > ").push_bind(after);
    if let Some(m) = &filter.model {
        qb.push(" AND m.model_id = ").push_bind(m.clone());
    }
    if let Some(s) = &filter.since {
        qb.push(" AND r.created_at >= ").push_bind(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND r.created_at < ").push_bind(to_micros(u));
    }
    qb.push(" ORDER BY r.seq");
    page_query(pool, qb, page.limit, "responses", decode_response).await
}

pub(super) async fn list_feedback(
    pool: &PgPool,
    filter: &FeedbackFilter,
    page: &PageRequest,
) -> Result<Page<Feedback>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = QueryBuilder::new(FEEDBACK_SELECT);
    qb.push(" WHERE f.seq > ").push_bind(after);
    if let Some(m) = &filter.model {
        qb.push(" AND f.model_key = (SELECT key FROM models WHERE model_id = ")
            .push_bind(m.clone())
            .push(")");
    }
    if let Some(r) = &filter.response_id {
        qb.push(" AND f.response_seq = (SELECT seq FROM responses WHERE id = ")
            .push_bind(r.clone())
            .push(")");
    }
    if let Some(s) = &filter.since {
        qb.push(" AND f.created_at >= ").push_bind(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND f.created_at < ").push_bind(to_micros(u));
    }
    if let Some(p) = filter.polarity {
        qb.push(" AND f.polarity = ").push_bind(i64::from(p.code()));
    }
    if let Some(v) = filter.variant {
        qb.push(" AND f.variant = ").push_bind(variant_code(v));
    }
    if let Some(c) = &filter.category {
        // Categories are `[a-z0-9_]+` stored as a JSON array of strings, so the quoted
        // name matches exactly one element and nothing else.
        qb.push(" AND ")
            .push_bind(c.as_str().to_string())
            .push(" = ANY(f.categories)");
    }
    qb.push(" ORDER BY f.seq");
    page_query(pool, qb, page.limit, "feedback", decode_feedback).await
}

pub(super) async fn stats(pool: &PgPool) -> Result<StoreStats> {
    let (responses, feedback): (i64, i64) =
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM responses), (SELECT COUNT(*) FROM feedback)")
            .fetch_one(pool)
            .await
            .map_err(|e| db_err("counting items", e))?;
    // A model key may exist without responses (its only response was rejected as a conflict
    // after the key was made); list the models that have data.
    let mut models: Vec<String> = sqlx::query_scalar(
        "SELECT model_id FROM models AS m \
         WHERE EXISTS (SELECT 1 FROM responses AS r WHERE r.model_key = m.key)",
    )
    .fetch_all(pool)
    .await
    .map_err(|e| db_err("listing models", e))?;
    models.sort();
    Ok(StoreStats {
        responses: u64::try_from(responses).unwrap_or(0),
        feedback: u64::try_from(feedback).unwrap_or(0),
        models,
    })
}

fn json_text(field: &str, v: &serde_json::Value) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::invalid(field, e.to_string()))
}

fn json_value(what: &str, text: &str) -> Result<serde_json::Value> {
    serde_json::from_str(text).map_err(|e| corrupt(format!("stored {what}"), e))
}

fn decode_run(row: &PgRow) -> Result<RunRecord> {
    let id: String = get(row, "id")?;
    Ok(RunRecord {
        kind: get(row, "kind")?,
        created_at: from_micros(get(row, "created_at")?),
        params: json_value(&format!("params of run `{id}`"), get(row, "params")?)?,
        result: json_value(&format!("result of run `{id}`"), get(row, "result")?)?,
        id,
    })
}

pub(super) async fn save_run(pool: &PgPool, run: &RunRecord) -> Result<()> {
    let done = sqlx::query(
        "INSERT INTO analysis_runs (id, kind, created_at, params, result) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT(id) DO NOTHING",
    )
    .bind(&run.id)
    .bind(&run.kind)
    .bind(to_micros(&run.created_at))
    .bind(json_text("params", &run.params)?)
    .bind(json_text("result", &run.result)?)
    .execute(pool)
    .await
    .map_err(|e| db_err("saving a run", e))?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    // Compare with what a round trip through the table gives (microsecond timestamps).
    let mut normalised = run.clone();
    normalised.created_at = from_micros(to_micros(&run.created_at));
    match get_run(pool, &run.id).await? {
        Some(existing) if existing == normalised => Ok(()),
        _ => Err(Error::Conflict {
            kind: "run",
            id: run.id.clone(),
            reason: "a run with this id is already stored with other content".into(),
        }),
    }
}

pub(super) async fn get_run(pool: &PgPool, id: &str) -> Result<Option<RunRecord>> {
    sqlx::query("SELECT id, kind, created_at, params, result FROM analysis_runs WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| db_err("reading a run", e))?
        .map(|r| decode_run(&r))
        .transpose()
}

pub(super) async fn list_runs(
    pool: &PgPool,
    kind: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>> {
    let mut qb =
        QueryBuilder::new("SELECT id, kind, created_at, params, result FROM analysis_runs");
    if let Some(k) = kind {
        qb.push(" WHERE kind = ").push_bind(k);
    }
    qb.push(" ORDER BY created_at DESC, id DESC");
    if limit > 0 {
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(limit).unwrap_or(i64::MAX));
    }
    qb.build()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("listing runs", e))?
        .iter()
        .map(decode_run)
        .collect()
}

const JOB_SELECT: &str =
    "SELECT id, model_id, status, version, created_at, updated_at, data FROM jobs";

fn decode_job(row: &PgRow) -> Result<JobRecord> {
    let id: String = get(row, "id")?;
    let version: i64 = get(row, "version")?;
    Ok(JobRecord {
        model_id: get(row, "model_id")?,
        status: get(row, "status")?,
        version: u64::try_from(version).unwrap_or(0),
        created_at: from_micros(get(row, "created_at")?),
        updated_at: from_micros(get(row, "updated_at")?),
        data: json_value(&format!("data of job `{id}`"), get(row, "data")?)?,
        id,
    })
}

pub(super) async fn put_job(
    pool: &PgPool,
    job: &JobRecord,
    expected_version: Option<u64>,
) -> Result<u64> {
    let data = json_text("data", &job.data)?;
    let Some(expected) = expected_version else {
        let done = sqlx::query(
            "INSERT INTO jobs (id, model_id, status, version, created_at, updated_at, data) \
             VALUES ($1, $2, $3, 1, $4, $5, $6) ON CONFLICT(id) DO NOTHING",
        )
        .bind(&job.id)
        .bind(&job.model_id)
        .bind(&job.status)
        .bind(to_micros(&job.created_at))
        .bind(to_micros(&job.updated_at))
        .bind(&data)
        .execute(pool)
        .await
        .map_err(|e| db_err("creating a job", e))?;
        if done.rows_affected() == 1 {
            return Ok(1);
        }
        return Err(Error::Conflict {
            kind: "job",
            id: job.id.clone(),
            reason: "a job with this id already exists".into(),
        });
    };
    let expected_i =
        i64::try_from(expected).map_err(|_| Error::invalid("expected_version", "out of range"))?;
    // Compare-and-set in one statement: only the holder of the current version wins.
    let done = sqlx::query(
        "UPDATE jobs SET model_id = $1, status = $2, version = version + 1, created_at = $3, \
         updated_at = $4, data = $5 WHERE id = $6 AND version = $7",
    )
    .bind(&job.model_id)
    .bind(&job.status)
    .bind(to_micros(&job.created_at))
    .bind(to_micros(&job.updated_at))
    .bind(&data)
    .bind(&job.id)
    .bind(expected_i)
    .execute(pool)
    .await
    .map_err(|e| db_err("updating a job", e))?;
    if done.rows_affected() == 1 {
        return Ok(expected + 1);
    }
    let found: Option<i64> = sqlx::query_scalar("SELECT version FROM jobs WHERE id = $1")
        .bind(&job.id)
        .fetch_optional(pool)
        .await
        .map_err(|e| db_err("reading a job", e))?;
    match found {
        None => Err(Error::NotFound {
            kind: "job",
            id: job.id.clone(),
        }),
        Some(found) => Err(Error::Conflict {
            kind: "job",
            id: job.id.clone(),
            reason: format!("expected version {expected}, found {found}"),
        }),
    }
}

pub(super) async fn get_job(pool: &PgPool, id: &str) -> Result<Option<JobRecord>> {
    let sql = format!("{JOB_SELECT} WHERE id = $1");
    sqlx::query(&sql)
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| db_err("reading a job", e))?
        .map(|r| decode_job(&r))
        .transpose()
}

pub(super) async fn list_jobs(pool: &PgPool, filter: &JobFilter) -> Result<Vec<JobRecord>> {
    let mut qb = QueryBuilder::new(JOB_SELECT);
    qb.push(" WHERE 1 = 1");
    if let Some(m) = &filter.model_id {
        qb.push(" AND model_id = ").push_bind(m.clone());
    }
    if let Some(s) = &filter.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    qb.push(" ORDER BY created_at DESC, id DESC");
    if filter.limit > 0 {
        qb.push(" LIMIT ")
            .push_bind(i64::try_from(filter.limit).unwrap_or(i64::MAX));
    }
    qb.build()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("listing jobs", e))?
        .iter()
        .map(decode_job)
        .collect()
}
