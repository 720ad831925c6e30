//! Metrics and problematic responses, aggregated inside the database.
//!
//! Whole days of a metrics range come from the daily aggregates (see [`super::aggregates`]),
//! a partial first or last day from the raw rows of that day, and everything from the raw
//! rows when the database is not migrated to this build's schema. The raw queries group
//! feedback by (model, response day, polarity, rating), the columns of the
//! `feedback_metrics` index (SQLite streams the aggregation off it without a sort;
//! PostgreSQL hash-aggregates), and the few resulting groups are folded into days or weeks
//! by the shared [`DayTallies`], whose report comes from the same `assemble_report` the
//! in-memory store uses, so the figures are exactly those of the in-memory store.

use super::rows::{self, RESPONSE_SELECT};
use super::{fetch_all, fetch_optional, get, Ex, PushArg, SqlDb};
use crate::analysis::problematic::{figures_of, summarize, top, RankFigures};
use crate::error::{Error, Result};
use crate::model::time::to_micros;
use crate::model::{
    Bucket, Feedback, MetricsQuery, MetricsReport, ProblematicQuery, ProblematicResponse,
    ResponseRecord,
};
use crate::store::day_tallies::{split_by_days, DayCounts, DayRows, DayTallies};
use sqlx::{Pool, QueryBuilder};
use std::collections::HashMap;

const DAY_MICROS: i64 = 86_400_000_000;

/// Appends the model and time-range conditions on `(model_col, day_col, time_col)`. The day
/// bounds are implied by the exact bounds; they let the database narrow the index range.
fn push_range<DB: SqlDb>(
    qb: &mut QueryBuilder<'_, DB>,
    model_key: Option<i64>,
    since: Option<i64>,
    until: Option<i64>,
    cols: (&str, &str, &str),
) {
    let (model_col, day_col, time_col) = cols;
    qb.push(" WHERE 1 = 1");
    if let Some(k) = model_key {
        qb.push(format!(" AND {model_col} = ")).arg(k);
    }
    if let Some(s) = since {
        qb.push(format!(" AND {day_col} >= "))
            .arg(s.div_euclid(DAY_MICROS))
            .push(format!(" AND {time_col} >= "))
            .arg(s);
    }
    if let Some(u) = until {
        qb.push(format!(" AND {day_col} <= "))
            .arg(u.saturating_sub(1).div_euclid(DAY_MICROS))
            .push(format!(" AND {time_col} < "))
            .arg(u);
    }
}

/// [`push_range`] over the models of `models` (all when empty). Naming every model lets
/// the database seek the (model, day) indexes per model for a short range instead of
/// scanning them whole, which it would do without a condition on their first column.
fn push_models<DB: SqlDb>(
    qb: &mut QueryBuilder<'_, DB>,
    models: &[i64],
    since: Option<i64>,
    until: Option<i64>,
    cols: (&str, &str, &str),
) {
    match models {
        [one] => push_range(qb, Some(*one), since, until, cols),
        _ => {
            push_range(qb, None, since, until, cols);
            if !models.is_empty() {
                qb.push(format!(" AND {}", cols.0));
                DB::push_in_i64(qb, models);
            }
        }
    }
}

const FEEDBACK_RANGE: (&str, &str, &str) = ("model_key", "response_day", "response_created_at");

pub(crate) async fn metrics<DB: SqlDb>(
    pool: &Pool<DB>,
    query: &MetricsQuery,
    aggregates: bool,
) -> Result<MetricsReport> {
    let mut qb = QueryBuilder::new("SELECT key, model_id FROM models");
    let mut names: HashMap<i64, String> = HashMap::new();
    for row in fetch_all(pool, &mut qb, "reading models").await? {
        names.insert(get::<DB, _>(&row, "key")?, get::<DB, _>(&row, "model_id")?);
    }
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

    // The models the raw queries name: the one asked for, else every model when a short
    // range is read (partial days; as many models as one lookup takes), else none (all).
    let models: Vec<i64> = match model_key {
        Some(k) => vec![k],
        None if aggregates && names.len() <= DB::LOOKUP_IDS => names.keys().copied().collect(),
        None => Vec::new(),
    };
    let mut days = DayTallies::default();
    if !aggregates {
        raw_into(pool.into(), &mut days, &models, since, until).await?;
        return Ok(days.into_report(&names, query.bucket));
    }
    // Whole days come from the daily aggregates; a partial first or last day (a bound
    // that is not midnight UTC) from the raw rows of that day only. The reads are
    // independent, so they run at once on the pool's connections (the server works on
    // them in parallel) and are added up afterwards; like the sequential reads they
    // replace, each sees what was committed when it started.
    let split = split_by_days(since, until);
    let whole = async {
        let mut rows = DayRows::default();
        if let Some(whole) = split.whole {
            aggregates_into(pool, &mut rows, model_key, whole, query.bucket).await?;
        }
        Ok::<_, Error>(rows)
    };
    let edges = split.rows.iter().map(|&(from, to)| {
        let models = &models;
        async move {
            let mut rows = DayRows::default();
            raw_into(pool.into(), &mut rows, models, Some(from), Some(to)).await?;
            Ok::<_, Error>(rows)
        }
    });
    let (whole, edges) =
        futures::future::try_join(whole, futures::future::try_join_all(edges)).await?;
    whole.add_to(&mut days);
    for rows in edges {
        rows.add_to(&mut days);
    }
    Ok(days.into_report(&names, query.bucket))
}

/// Adds the whole days in `[from, to)` (days since the epoch; open where `None`) from the
/// daily aggregates. The rows are summed in the database to the granularity the report
/// needs (one group per model without buckets, per Monday for weekly buckets), which
/// [`DayTallies`] then treats as days: they fold into the same totals and buckets, and the
/// few rows keep the transfer cheap.
async fn aggregates_into<DB: SqlDb>(
    pool: &Pool<DB>,
    days: &mut impl DayCounts,
    model_key: Option<i64>,
    (from, to): (Option<i64>, Option<i64>),
    bucket: Option<Bucket>,
) -> Result<()> {
    // Day 0 (1970-01-01) was a Thursday: the Monday of a day is 3 days before it, modulo
    // the week; `% 7` truncates in both dialects, hence the `+ 7) % 7` for days before 1970.
    let group = match bucket {
        None => "CAST(0 AS BIGINT)",
        Some(Bucket::Day) => "day",
        Some(Bucket::Week) => "day - ((day + 3) % 7 + 7) % 7",
    };
    let range = |qb: &mut QueryBuilder<'_, DB>| {
        qb.push(" WHERE 1 = 1");
        if let Some(k) = model_key {
            qb.push(" AND model_key = ").arg(k);
        }
        if let Some(d) = from {
            qb.push(" AND day >= ").arg(d);
        }
        if let Some(d) = to {
            qb.push(" AND day < ").arg(d);
        }
    };
    let mut qb = QueryBuilder::new(format!(
        "SELECT model_key, {group} AS g, CAST(SUM(n) AS BIGINT) AS n FROM agg_responses"
    ));
    range(&mut qb);
    qb.push(" GROUP BY model_key, g");
    for row in fetch_all(pool, &mut qb, "reading response aggregates").await? {
        days.add_responses(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "g")?,
            get::<DB, _>(&row, "n")?,
        );
    }
    let mut qb = QueryBuilder::new(format!(
        "SELECT model_key, {group} AS g, polarity, rating, CAST(SUM(n) AS BIGINT) AS n \
         FROM agg_feedback"
    ));
    range(&mut qb);
    qb.push(" GROUP BY model_key, g, polarity, rating");
    for row in fetch_all(pool, &mut qb, "reading feedback aggregates").await? {
        let rating: i64 = get::<DB, _>(&row, "rating")?;
        days.add_feedback(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "g")?,
            get::<DB, _>(&row, "polarity")?,
            (rating != 0).then_some(rating),
            get::<DB, _>(&row, "n")?,
        );
    }
    let mut qb = QueryBuilder::new(format!(
        "SELECT model_key, {group} AS g, category, CAST(SUM(n) AS BIGINT) AS n \
         FROM agg_categories"
    ));
    range(&mut qb);
    qb.push(" GROUP BY model_key, g, category");
    for row in fetch_all(pool, &mut qb, "reading category aggregates").await? {
        days.add_category(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "g")?,
            get::<DB, _>(&row, "category")?,
            get::<DB, _>(&row, "n")?,
        );
    }
    Ok(())
}

/// Adds the responses in `[since, until)` and their feedback from the raw rows (every day
/// of every model when `models` is empty and there are no bounds: the aggregates' recount).
pub(crate) async fn raw_into<DB: SqlDb>(
    mut ex: Ex<'_, DB>,
    days: &mut impl DayCounts,
    models: &[i64],
    since: Option<i64>,
    until: Option<i64>,
) -> Result<()> {
    let mut qb = QueryBuilder::new("SELECT model_key, day, COUNT(*) AS n FROM responses");
    push_models(
        &mut qb,
        models,
        since,
        until,
        ("model_key", "day", "created_at"),
    );
    qb.push(" GROUP BY model_key, day");
    for row in fetch_all(ex.reborrow(), &mut qb, "counting responses").await? {
        days.add_responses(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "day")?,
            get::<DB, _>(&row, "n")?,
        );
    }

    let mut qb = QueryBuilder::new(
        "SELECT model_key, response_day, polarity, rating, COUNT(*) AS n FROM feedback",
    );
    push_models(&mut qb, models, since, until, FEEDBACK_RANGE);
    qb.push(" GROUP BY model_key, response_day, polarity, rating");
    for row in fetch_all(ex.reborrow(), &mut qb, "aggregating feedback").await? {
        let polarity: i16 = get::<DB, _>(&row, "polarity")?;
        let rating: Option<i16> = get::<DB, _>(&row, "rating")?;
        days.add_feedback(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "response_day")?,
            i64::from(polarity),
            rating.map(i64::from),
            get::<DB, _>(&row, "n")?,
        );
    }

    let (select, group) = DB::CATEGORY_COUNT;
    let mut qb = QueryBuilder::new(select);
    push_models(&mut qb, models, since, until, FEEDBACK_RANGE);
    qb.push(" AND categories IS NOT NULL GROUP BY model_key, response_day, ")
        .push(group);
    for row in fetch_all(ex.reborrow(), &mut qb, "counting categories").await? {
        let model: i64 = get::<DB, _>(&row, "model_key")?;
        let day: i64 = get::<DB, _>(&row, "response_day")?;
        let n: i64 = get::<DB, _>(&row, "n")?;
        for category in DB::counted_categories(&row)? {
            days.add_category(model, day, category, n);
        }
    }

    Ok(())
}

pub(crate) async fn problematic<DB: SqlDb>(
    pool: &Pool<DB>,
    query: &ProblematicQuery,
) -> Result<Vec<ProblematicResponse>> {
    if query.limit == 0 {
        return Ok(Vec::new());
    }
    let model_key: Option<i64> = match &query.model {
        Some(m) => {
            let mut qb = QueryBuilder::new("SELECT key FROM models WHERE model_id = ");
            qb.arg(m.as_str());
            match fetch_optional(pool, &mut qb, "reading models").await? {
                Some(row) => Some(get::<DB, _>(&row, "key")?),
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
         COUNT(*) AS n, CAST(AVG(score) AS DOUBLE PRECISION) AS score FROM feedback",
    );
    push_range(
        &mut qb,
        model_key,
        query.since.as_ref().map(to_micros),
        query.until.as_ref().map(to_micros),
        FEEDBACK_RANGE,
    );
    qb.push(
        " GROUP BY response_seq HAVING COUNT(*) FILTER (WHERE polarity = -1) > 0) g \
         JOIN responses r ON r.seq = g.response_seq",
    );
    let candidates = fetch_all(pool, &mut qb, "ranking problematic responses")
        .await?
        .iter()
        .map(|row| {
            Ok((
                get::<DB, _>(row, "response_seq")?,
                get::<DB, _>(row, "negative")?,
                get::<DB, _>(row, "n")?,
                get::<DB, _>(row, "score")?,
                get::<DB, _>(row, "created_at")?,
                get::<DB, _>(row, "id")?,
            ))
        })
        .collect::<Result<Vec<Candidate>>>()?;
    let seqs: Vec<i64> = top(candidates, figures, query.rank_by, query.limit)
        .into_iter()
        .map(|c| c.0)
        .collect();
    if seqs.is_empty() {
        return Ok(Vec::new());
    }

    let mut responses: HashMap<i64, ResponseRecord> = HashMap::with_capacity(seqs.len());
    let mut feedback: HashMap<i64, Vec<Feedback>> = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(DB::LOOKUP_IDS) {
        let mut qb = QueryBuilder::new(RESPONSE_SELECT);
        qb.push(" WHERE r.seq");
        DB::push_in_i64(&mut qb, chunk);
        for row in fetch_all(pool, &mut qb, "reading problematic responses").await? {
            let (seq, r) = rows::response::<DB>(&row)?;
            responses.insert(seq, r);
        }

        let mut qb = rows::feedback_by_response_select::<DB>();
        qb.push(" WHERE r.seq");
        DB::push_in_i64(&mut qb, chunk);
        qb.push(" ORDER BY f.seq");
        for row in fetch_all(pool, &mut qb, "reading feedback of problematic responses").await? {
            let response_seq: i64 = get::<DB, _>(&row, "response_seq")?;
            let (_, f) = rows::feedback::<DB>(&row)?;
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
