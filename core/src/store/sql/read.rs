//! Lookups, listings, stats, analysis runs and jobs.

use super::rows::{
    self, json_text, variant_code, FEEDBACK_SELECT, JOB_SELECT, RESPONSE_SELECT, RUN_SELECT,
};
use super::{execute, fetch_all, fetch_optional, get, limit_arg, Ex, PushArg, SqlDb};
use crate::error::{Error, Result};
use crate::model::time::{from_micros, to_micros};
use crate::model::{Feedback, ResponseRecord};
use crate::store::{
    FeedbackFilter, JobFilter, JobRecord, Page, PageRequest, ResponseFilter, RunRecord, StoreStats,
};
use sqlx::{Pool, QueryBuilder};

/// One response by id, on the pool or an open transaction's connection.
pub(crate) async fn response<DB: SqlDb>(
    ex: Ex<'_, DB>,
    id: &str,
) -> Result<Option<ResponseRecord>> {
    let mut qb = QueryBuilder::new(RESPONSE_SELECT);
    qb.push(" WHERE r.id = ").arg(id);
    fetch_optional(ex, &mut qb, "reading a response")
        .await?
        .map(|r| rows::response::<DB>(&r).map(|(_, rec)| rec))
        .transpose()
}

/// One feedback item by id, on the pool or an open transaction's connection.
pub(crate) async fn feedback<DB: SqlDb>(ex: Ex<'_, DB>, id: &str) -> Result<Option<Feedback>> {
    let mut qb = QueryBuilder::new(FEEDBACK_SELECT);
    qb.push(" WHERE f.id = ").arg(id);
    fetch_optional(ex, &mut qb, "reading a feedback item")
        .await?
        .map(|r| rows::feedback::<DB>(&r).map(|(_, rec)| rec))
        .transpose()
}

/// The cursor is the `seq` of the last item returned.
pub(crate) fn parse_cursor(after: &Option<String>) -> Result<i64> {
    match after {
        None => Ok(0),
        Some(c) => c
            .parse::<i64>()
            .map_err(|_| Error::invalid("after", format!("`{c}` is not a cursor from this store"))),
    }
}

/// Runs a listing built with one row more than the limit, to know whether a next page exists.
pub(crate) async fn page_query<DB: SqlDb, T>(
    pool: &Pool<DB>,
    mut qb: QueryBuilder<'_, DB>,
    limit: usize,
    what: &str,
    decode: fn(&DB::Row) -> Result<(i64, T)>,
) -> Result<Page<T>> {
    let limit = limit.max(1);
    qb.push(" LIMIT ").arg(limit_arg(limit.saturating_add(1)));
    let rows = fetch_all(pool, &mut qb, &format!("listing {what}")).await?;
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

pub(crate) async fn list_responses<DB: SqlDb>(
    pool: &Pool<DB>,
    filter: &ResponseFilter,
    page: &PageRequest,
) -> Result<Page<ResponseRecord>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = QueryBuilder::new(RESPONSE_SELECT);
    qb.push(" WHERE r.seq > ").arg(after);
    if let Some(m) = &filter.model {
        qb.push(" AND m.model_id = ").arg(m.as_str());
    }
    if let Some(s) = &filter.since {
        qb.push(" AND r.created_at >= ").arg(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND r.created_at < ").arg(to_micros(u));
    }
    qb.push(" ORDER BY r.seq");
    page_query(pool, qb, page.limit, "responses", rows::response::<DB>).await
}

pub(crate) async fn list_feedback<DB: SqlDb>(
    pool: &Pool<DB>,
    filter: &FeedbackFilter,
    page: &PageRequest,
) -> Result<Page<Feedback>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = match filter.response_id {
        Some(_) => rows::feedback_by_response_select::<DB>(),
        None => QueryBuilder::new(FEEDBACK_SELECT),
    };
    qb.push(" WHERE f.seq > ").arg(after);
    if let Some(m) = &filter.model {
        qb.push(" AND f.model_key = (SELECT key FROM models WHERE model_id = ")
            .arg(m.as_str())
            .push(")");
    }
    if let Some(r) = &filter.response_id {
        qb.push(" AND r.id = ").arg(r.as_str());
    }
    if let Some(s) = &filter.since {
        qb.push(" AND f.created_at >= ").arg(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND f.created_at < ").arg(to_micros(u));
    }
    if let Some(p) = filter.polarity {
        qb.push(" AND f.polarity = ").arg(i64::from(p.code()));
    }
    if let Some(v) = filter.variant {
        qb.push(" AND f.variant = ").arg(i64::from(variant_code(v)));
    }
    if let Some(c) = &filter.category {
        DB::push_has_category(&mut qb, c);
    }
    qb.push(" ORDER BY f.seq");
    page_query(pool, qb, page.limit, "feedback", rows::feedback::<DB>).await
}

pub(crate) async fn stats<DB: SqlDb>(pool: &Pool<DB>) -> Result<StoreStats> {
    let mut qb = QueryBuilder::new(
        "SELECT (SELECT COUNT(*) FROM responses) AS responses, \
         (SELECT COUNT(*) FROM feedback) AS feedback",
    );
    let counts = fetch_all(pool, &mut qb, "counting items").await?;
    let (responses, feedback): (i64, i64) = match counts.first() {
        Some(row) => (
            get::<DB, _>(row, "responses")?,
            get::<DB, _>(row, "feedback")?,
        ),
        None => (0, 0),
    };
    // A model key may exist without responses (its only response was rejected as a conflict
    // after the key was made); list the models that have data.
    let mut qb = QueryBuilder::new(
        "SELECT model_id FROM models AS m \
         WHERE EXISTS (SELECT 1 FROM responses AS r WHERE r.model_key = m.key)",
    );
    let mut models = fetch_all(pool, &mut qb, "listing models")
        .await?
        .iter()
        .map(|row| get::<DB, String>(row, "model_id"))
        .collect::<Result<Vec<String>>>()?;
    models.sort();
    Ok(StoreStats {
        responses: u64::try_from(responses).unwrap_or(0),
        feedback: u64::try_from(feedback).unwrap_or(0),
        models,
    })
}

/// One statement: `INSERT .. ON CONFLICT DO NOTHING`, then a comparison with the stored run.
pub(crate) async fn save_run<DB: SqlDb>(pool: &Pool<DB>, run: &RunRecord) -> Result<()> {
    let mut qb = QueryBuilder::new(
        "INSERT INTO analysis_runs (id, kind, created_at, params, result) VALUES (",
    );
    qb.args([run.id.as_str(), run.kind.as_str()])
        .push(", ")
        .arg(to_micros(&run.created_at))
        .push(", ")
        .args([
            json_text("params", &run.params)?,
            json_text("result", &run.result)?,
        ])
        .push(") ON CONFLICT (id) DO NOTHING");
    if execute(pool, &mut qb, "saving a run").await? == 1 {
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

pub(crate) async fn get_run<DB: SqlDb>(pool: &Pool<DB>, id: &str) -> Result<Option<RunRecord>> {
    let mut qb = QueryBuilder::new(RUN_SELECT);
    qb.push(" WHERE id = ").arg(id);
    fetch_optional(pool, &mut qb, "reading a run")
        .await?
        .map(|r| rows::run::<DB>(&r))
        .transpose()
}

pub(crate) async fn list_runs<DB: SqlDb>(
    pool: &Pool<DB>,
    kind: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRecord>> {
    let mut qb = QueryBuilder::new(RUN_SELECT);
    if let Some(k) = kind {
        qb.push(" WHERE kind = ").arg(k);
    }
    qb.push(" ORDER BY created_at DESC, id DESC");
    if limit > 0 {
        qb.push(" LIMIT ").arg(limit_arg(limit));
    }
    fetch_all(pool, &mut qb, "listing runs")
        .await?
        .iter()
        .map(rows::run::<DB>)
        .collect()
}

pub(crate) async fn put_job<DB: SqlDb>(
    pool: &Pool<DB>,
    job: &JobRecord,
    expected_version: Option<u64>,
) -> Result<u64> {
    let data = json_text("data", &job.data)?;
    let Some(expected) = expected_version else {
        let mut qb = QueryBuilder::new(
            "INSERT INTO jobs (id, model_id, status, version, created_at, updated_at, data) \
             VALUES (",
        );
        qb.args([job.id.as_str(), job.model_id.as_str(), job.status.as_str()])
            .push(", 1, ")
            .args([to_micros(&job.created_at), to_micros(&job.updated_at)])
            .push(", ")
            .arg(data.as_str())
            .push(") ON CONFLICT (id) DO NOTHING");
        if execute(pool, &mut qb, "creating a job").await? == 1 {
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
    let mut qb = QueryBuilder::new("UPDATE jobs SET model_id = ");
    qb.arg(job.model_id.as_str())
        .push(", status = ")
        .arg(job.status.as_str())
        .push(", version = version + 1, created_at = ")
        .arg(to_micros(&job.created_at))
        .push(", updated_at = ")
        .arg(to_micros(&job.updated_at))
        .push(", data = ")
        .arg(data.as_str())
        .push(" WHERE id = ")
        .arg(job.id.as_str())
        .push(" AND version = ")
        .arg(expected_i);
    if execute(pool, &mut qb, "updating a job").await? == 1 {
        return Ok(expected + 1);
    }
    let mut qb = QueryBuilder::new("SELECT version FROM jobs WHERE id = ");
    qb.arg(job.id.as_str());
    let found = fetch_optional(pool, &mut qb, "reading a job").await?;
    match found {
        None => Err(Error::NotFound {
            kind: "job",
            id: job.id.clone(),
        }),
        Some(row) => {
            let found: i64 = get::<DB, _>(&row, "version")?;
            Err(Error::Conflict {
                kind: "job",
                id: job.id.clone(),
                reason: format!("expected version {expected}, found {found}"),
            })
        }
    }
}

pub(crate) async fn get_job<DB: SqlDb>(pool: &Pool<DB>, id: &str) -> Result<Option<JobRecord>> {
    let mut qb = QueryBuilder::new(JOB_SELECT);
    qb.push(" WHERE id = ").arg(id);
    fetch_optional(pool, &mut qb, "reading a job")
        .await?
        .map(|r| rows::job::<DB>(&r))
        .transpose()
}

pub(crate) async fn list_jobs<DB: SqlDb>(
    pool: &Pool<DB>,
    filter: &JobFilter,
) -> Result<Vec<JobRecord>> {
    let mut qb = QueryBuilder::new(JOB_SELECT);
    qb.push(" WHERE 1 = 1");
    if let Some(m) = &filter.model_id {
        qb.push(" AND model_id = ").arg(m.as_str());
    }
    if let Some(s) = &filter.status {
        qb.push(" AND status = ").arg(s.as_str());
    }
    qb.push(" ORDER BY created_at DESC, id DESC");
    if filter.limit > 0 {
        qb.push(" LIMIT ").arg(limit_arg(filter.limit));
    }
    fetch_all(pool, &mut qb, "listing jobs")
        .await?
        .iter()
        .map(rows::job::<DB>)
        .collect()
}
