//! Metrics and problematic responses, aggregated inside PostgreSQL.
//!
//! Metrics group feedback by (model, response day, polarity, rating) in SQL (a hash
//! aggregate over the `feedback_metrics` index's columns), and the few resulting groups are folded into days or weeks here with
//! [`bucket_start_micros`]. The counts then go through the shared [`assemble_report`], so
//! the figures are exactly those of the in-memory store.

use super::db_err;
use super::read::{decode_feedback, decode_response, FEEDBACK_SELECT, RESPONSE_SELECT};
use crate::analysis::problematic::{figures_of, summarize, top, RankFigures};
use crate::error::Result;
use crate::model::time::to_micros;
use crate::model::{
    Feedback, MetricsQuery, MetricsReport, ProblematicQuery, ProblematicResponse, ResponseRecord,
};
use crate::store::day_tallies::DayTallies;
use sqlx::{PgPool, Postgres, QueryBuilder};
use std::collections::HashMap;

const DAY_MICROS: i64 = 86_400_000_000;

/// Appends the model and time-range conditions on `(model_col, day_col, time_col)`. The day
/// bounds are implied by the exact bounds; they let PostgreSQL narrow the index range.
fn push_range(
    qb: &mut QueryBuilder<'_, Postgres>,
    model_key: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
    cols: (&str, &str, &str),
) {
    let (model_col, day_col, time_col) = cols;
    qb.push(" WHERE 1 = 1");
    if let Some(k) = model_key {
        qb.push(format!(" AND {model_col} = ")).push_bind(k);
    }
    if let Some(s) = since {
        qb.push(format!(" AND {day_col} >= "))
            .push_bind(s.div_euclid(DAY_MICROS))
            .push(format!(" AND {time_col} >= "))
            .push_bind(s);
    }
    if let Some(u) = until {
        qb.push(format!(" AND {day_col} <= "))
            .push_bind(u.saturating_sub(1).div_euclid(DAY_MICROS))
            .push(format!(" AND {time_col} < "))
            .push_bind(u);
    }
}

pub(super) async fn metrics(pool: &PgPool, query: &MetricsQuery) -> Result<MetricsReport> {
    let models: Vec<(i64, String)> = sqlx::query_as("SELECT key, model_id FROM models")
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("reading models", e))?;
    let names: HashMap<i64, String> = models.into_iter().collect();
    let model_key = match &query.model {
        Some(m) => match names.iter().find(|(_, name)| *name == m) {
            Some((&k, _)) => Some(k),
            None => return Ok(MetricsReport::default()),
        },
        None => None,
    };
    let since = query.since.as_ref().map(to_micros);
    let until = query.until.as_ref().map(to_micros);
    if let (Some(s), Some(u)) = (since, until) {
        if s >= u {
            return Ok(MetricsReport::default());
        }
    }

    let mut days = DayTallies::default();

    let mut qb = QueryBuilder::new("SELECT model_key, day, COUNT(*) FROM responses");
    push_range(
        &mut qb,
        model_key,
        since,
        until,
        ("model_key", "day", "created_at"),
    );
    qb.push(" GROUP BY model_key, day");
    let rows: Vec<(i64, i64, i64)> = qb
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("counting responses", e))?;
    for (model, day, n) in rows {
        days.add_responses(model, day, n);
    }

    let mut qb = QueryBuilder::new(
        "SELECT model_key, response_day, polarity, rating, COUNT(*) FROM feedback",
    );
    push_range(
        &mut qb,
        model_key,
        since,
        until,
        ("model_key", "response_day", "response_created_at"),
    );
    qb.push(" GROUP BY model_key, response_day, polarity, rating");
    let rows: Vec<(i64, i64, i16, Option<i16>, i64)> = qb
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("aggregating feedback", e))?;
    for (model, day, polarity, rating, n) in rows {
        days.add_feedback(model, day, i64::from(polarity), rating.map(i64::from), n);
    }

    let mut qb = QueryBuilder::new(
        "SELECT model_key, response_day, c, COUNT(*) \
         FROM feedback CROSS JOIN LATERAL unnest(categories) AS c",
    );
    push_range(
        &mut qb,
        model_key,
        since,
        until,
        ("model_key", "response_day", "response_created_at"),
    );
    qb.push(" AND categories IS NOT NULL GROUP BY model_key, response_day, c");
    let rows: Vec<(i64, i64, String, i64)> = qb
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("counting categories", e))?;
    for (model, day, category, n) in rows {
        days.add_category(model, day, category, n);
    }

    Ok(days.into_report(&names, query.bucket))
}

pub(super) async fn problematic(
    pool: &PgPool,
    query: &ProblematicQuery,
) -> Result<Vec<ProblematicResponse>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let model_key: Option<i64> = match &query.model {
        Some(m) => {
            let k: Option<i64> = sqlx::query_scalar("SELECT key FROM models WHERE model_id = $1")
                .bind(m)
                .fetch_optional(pool)
                .await
                .map_err(|e| db_err("reading models", e))?;
            match k {
                Some(k) => Some(k),
                None => return Ok(Vec::new()),
            }
        }
        None => None,
    };
    // Every response with a negative item is a candidate with its figures; the shared
    // `top` ranks them and applies the limit (ranking by rate cannot be cut short in SQL by
    // a count order). Scores are sums of quarters divided by a count, so SQL's AVG equals
    // the f64 mean computed by `summarize`.
    let mut qb = QueryBuilder::new(
        "SELECT g.response_seq, g.negative, g.n, g.score, r.created_at, r.id FROM \
         (SELECT response_seq, COUNT(*) FILTER (WHERE polarity = -1) AS negative, \
         COUNT(*) AS n, AVG(score)::float8 AS score FROM feedback",
    );
    push_range(
        &mut qb,
        model_key,
        query.since.as_ref().map(to_micros),
        query.until.as_ref().map(to_micros),
        ("model_key", "response_day", "response_created_at"),
    );
    qb.push(
        " GROUP BY response_seq HAVING COUNT(*) FILTER (WHERE polarity = -1) > 0) g \
         JOIN responses r ON r.seq = g.response_seq",
    );
    let candidates: Vec<Candidate> = qb
        .build_query_as()
        .fetch_all(pool)
        .await
        .map_err(|e| db_err("ranking problematic responses", e))?;
    let seqs: Vec<i64> = top(candidates, figures, query.rank_by, query.limit)
        .into_iter()
        .map(|c| c.0)
        .collect();
    if seqs.is_empty() {
        return Ok(Vec::new());
    }

    let mut responses: HashMap<i64, ResponseRecord> = HashMap::with_capacity(seqs.len());
    let mut feedback: HashMap<i64, Vec<Feedback>> = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(10_000) {
        let mut qb = QueryBuilder::new(RESPONSE_SELECT);
        qb.push(" WHERE r.seq = ANY(")
            .push_bind(chunk.to_vec())
            .push(")");
        for row in qb
            .build()
            .fetch_all(pool)
            .await
            .map_err(|e| db_err("reading problematic responses", e))?
        {
            let (seq, r) = decode_response(&row)?;
            responses.insert(seq, r);
        }

        let mut qb = QueryBuilder::new(FEEDBACK_SELECT);
        qb.push(" WHERE f.response_seq = ANY(")
            .push_bind(chunk.to_vec())
            .push(") ORDER BY f.seq");
        for row in qb
            .build()
            .fetch_all(pool)
            .await
            .map_err(|e| db_err("reading feedback of problematic responses", e))?
        {
            let response_seq: i64 = sqlx::Row::try_get(&row, "response_seq")
                .map_err(|e| db_err("reading feedback", e))?;
            let (_, f) = decode_feedback(&row)?;
            feedback.entry(response_seq).or_default().push(f);
        }
    }

    let out: Vec<ProblematicResponse> = seqs
        .iter()
        .filter_map(|seq| {
            let r = responses.get(seq)?;
            let items: Vec<&Feedback> = feedback.get(seq)?.iter().collect();
            summarize(r, &items)
        })
        .collect();
    Ok(top(out, figures_of, query.rank_by, query.limit))
}

/// A problematic candidate: response seq, negative items, all items, mean score, creation
/// time (microseconds), response id.
type Candidate = (i64, i64, i64, f64, i64, String);

/// The ranking figures of a candidate.
fn figures(c: &Candidate) -> RankFigures<'_> {
    RankFigures {
        negative: u64::try_from(c.1).unwrap_or(0),
        feedback: u64::try_from(c.2).unwrap_or(0),
        score: c.3,
        created_at: c.4,
        response_id: &c.5,
    }
}
