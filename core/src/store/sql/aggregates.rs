//! Daily aggregates: counts per (model, response day) kept in `agg_responses`,
//! `agg_feedback` and `agg_categories` by the write transaction, so metrics over whole days
//! read a few rows per day however much feedback there is.
//!
//! The same [`Counts`] serves three purposes: the deltas of one write (only rows actually
//! inserted), the recount from the raw rows (the GROUP BY queries metrics used before the
//! aggregates), and the stored aggregates read back; `check db` compares the last two and
//! [`rebuild`] replaces the stored ones with the recount.

use super::{execute, fetch_all, fetch_optional, get, Ex, PushArg, SqlDb};
use crate::error::Result;
use crate::model::{Feedback, Polarity};
use crate::store::day_tallies::DayCounts;
use crate::store::{AggregateRebuild, DailyTrendCounts};
use sqlx::QueryBuilder;
use std::collections::BTreeMap;

/// The aggregate tables.
pub(crate) const TABLES: [&str; 4] = [
    "agg_responses",
    "agg_feedback",
    "agg_categories",
    "agg_negatives",
];

/// Rows per upsert statement (5 arguments each, well within both dialects' limits).
const UPSERT_ROWS: usize = 500;

/// Counts per (model key, day): responses; feedback per polarity and rating (0 = none);
/// feedback per category (one per category per item). Sorted, so concurrent writers upsert
/// in one key order and cannot deadlock.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    responses: BTreeMap<(i64, i64), i64>,
    feedback: BTreeMap<(i64, i64, i64, i64), i64>,
    categories: BTreeMap<(i64, i64, String), i64>,
    /// Negative items per category, each category once per item (the trend series).
    negatives: BTreeMap<(i64, i64, String), i64>,
}

impl DayCounts for Counts {
    fn add_responses(&mut self, model: i64, day: i64, n: i64) {
        *self.responses.entry((model, day)).or_default() += n;
    }

    fn add_feedback(&mut self, model: i64, day: i64, polarity: i64, rating: Option<i64>, n: i64) {
        *self
            .feedback
            .entry((model, day, polarity, rating.unwrap_or(0)))
            .or_default() += n;
    }

    fn add_category(&mut self, model: i64, day: i64, category: String, n: i64) {
        *self.categories.entry((model, day, category)).or_default() += n;
    }
}

impl Counts {
    /// One stored feedback item on a response of `model` made on `day`.
    pub(crate) fn add_item(&mut self, model: i64, day: i64, f: &Feedback) {
        self.add_feedback(
            model,
            day,
            i64::from(f.polarity().code()),
            f.rating().map(i64::from),
            1,
        );
        for c in f.categories() {
            self.add_category(model, day, c.as_str().to_string(), 1);
        }
        if f.polarity() == Polarity::Negative {
            let mut names: Vec<&str> = f.categories().iter().map(|c| c.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            for c in names {
                self.add_negatives(model, day, c.to_string(), 1);
            }
        }
    }

    /// `n` negative items naming `category` on responses of `model` made on `day`.
    pub(crate) fn add_negatives(&mut self, model: i64, day: i64, category: String, n: i64) {
        *self.negatives.entry((model, day, category)).or_default() += n;
    }

    /// Whether there is nothing to count.
    pub(crate) fn is_empty(&self) -> bool {
        self.responses.is_empty()
            && self.feedback.is_empty()
            && self.categories.is_empty()
            && self.negatives.is_empty()
    }

    /// Aggregate rows these counts make.
    pub(crate) fn rows(&self) -> u64 {
        (self.responses.len() + self.feedback.len() + self.categories.len() + self.negatives.len())
            as u64
    }

    /// Aggregate rows that differ between `self` and `other` (a row missing on one side
    /// counts as zero there).
    pub(crate) fn mismatches(&self, other: &Counts) -> u64 {
        fn diff<K: Ord>(a: &BTreeMap<K, i64>, b: &BTreeMap<K, i64>) -> u64 {
            let one_way = |x: &BTreeMap<K, i64>, y: &BTreeMap<K, i64>| {
                x.iter()
                    .filter(|(k, &n)| n != y.get(*k).copied().unwrap_or(0))
                    .count() as u64
            };
            // A key on both sides with different counts is seen twice; count it once.
            let both = a
                .iter()
                .filter(|(k, &n)| b.get(*k).is_some_and(|&m| m != n))
                .count() as u64;
            one_way(a, b) + one_way(b, a) - both
        }
        diff(&self.responses, &other.responses)
            + diff(&self.feedback, &other.feedback)
            + diff(&self.categories, &other.categories)
            + diff(&self.negatives, &other.negatives)
    }
}

/// [`Counts`] as one array per column of each aggregate table, rows in key order: what a
/// backend binds to a statement of constant text (see the PostgreSQL writer).
#[cfg(feature = "postgres")]
#[derive(Debug, Default)]
pub(crate) struct CountColumns<'a> {
    /// `agg_responses`: model key, day, count.
    pub(crate) responses: [Vec<i64>; 3],
    /// `agg_feedback`: model key, day, polarity, rating (0 = none), count.
    pub(crate) feedback: [Vec<i64>; 5],
    /// `agg_categories`: model key, day, count; and the categories.
    pub(crate) categories: ([Vec<i64>; 3], Vec<&'a str>),
    /// `agg_negatives`, as `categories`.
    pub(crate) negatives: ([Vec<i64>; 3], Vec<&'a str>),
}

#[cfg(feature = "postgres")]
impl Counts {
    /// These counts column by column.
    pub(crate) fn columns(&self) -> CountColumns<'_> {
        fn push<const N: usize>(cols: &mut [Vec<i64>; N], row: [i64; N]) {
            for (col, v) in cols.iter_mut().zip(row) {
                col.push(v);
            }
        }
        fn named(rows: &BTreeMap<(i64, i64, String), i64>) -> ([Vec<i64>; 3], Vec<&str>) {
            let mut cols: [Vec<i64>; 3] = Default::default();
            let mut names = Vec::with_capacity(rows.len());
            for ((m, d, c), n) in rows {
                push(&mut cols, [*m, *d, *n]);
                names.push(c.as_str());
            }
            (cols, names)
        }
        let mut out = CountColumns::default();
        for ((m, d), n) in &self.responses {
            push(&mut out.responses, [*m, *d, *n]);
        }
        for ((m, d, p, r), n) in &self.feedback {
            push(&mut out.feedback, [*m, *d, *p, *r, *n]);
        }
        out.categories = named(&self.categories);
        out.negatives = named(&self.negatives);
        out
    }
}

/// Adds `counts` to the stored aggregates (`INSERT ... ON CONFLICT DO UPDATE`, which both
/// dialects understand).
pub(crate) async fn add<DB: SqlDb>(conn: &mut DB::Connection, counts: &Counts) -> Result<()> {
    let responses: Vec<_> = counts.responses.iter().collect();
    for chunk in responses.chunks(UPSERT_ROWS) {
        let mut qb =
            QueryBuilder::<DB>::new("INSERT INTO agg_responses (model_key, day, n) VALUES ");
        for (i, ((m, d), n)) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push("(").args([*m, *d, **n]).push(")");
        }
        qb.push(" ON CONFLICT (model_key, day) DO UPDATE SET n = agg_responses.n + excluded.n");
        execute(
            Ex::Conn(&mut *conn),
            &mut qb,
            "updating response aggregates",
        )
        .await?;
    }
    let feedback: Vec<_> = counts.feedback.iter().collect();
    for chunk in feedback.chunks(UPSERT_ROWS) {
        let mut qb = QueryBuilder::<DB>::new(
            "INSERT INTO agg_feedback (model_key, day, polarity, rating, n) VALUES ",
        );
        for (i, ((m, d, p, r), n)) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push("(").args([*m, *d, *p, *r, **n]).push(")");
        }
        qb.push(
            " ON CONFLICT (model_key, day, polarity, rating) \
             DO UPDATE SET n = agg_feedback.n + excluded.n",
        );
        execute(
            Ex::Conn(&mut *conn),
            &mut qb,
            "updating feedback aggregates",
        )
        .await?;
    }
    for (table, rows) in [
        ("agg_categories", &counts.categories),
        ("agg_negatives", &counts.negatives),
    ] {
        let rows: Vec<_> = rows.iter().collect();
        for chunk in rows.chunks(UPSERT_ROWS) {
            let mut qb = QueryBuilder::<DB>::new(format!(
                "INSERT INTO {table} (model_key, day, category, n) VALUES "
            ));
            for (i, ((m, d, c), n)) in chunk.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push("(")
                    .arg(*m)
                    .push(", ")
                    .arg(*d)
                    .push(", ")
                    .arg(c.clone())
                    .push(", ")
                    .arg(**n)
                    .push(")");
            }
            qb.push(format!(
                " ON CONFLICT (model_key, day, category) DO UPDATE SET n = {table}.n + excluded.n"
            ));
            execute(
                Ex::Conn(&mut *conn),
                &mut qb,
                "updating category aggregates",
            )
            .await?;
        }
    }
    Ok(())
}

/// The counts recomputed from the raw rows: the rows metrics read for partial days, over
/// every day, plus the negatives per category.
pub(crate) async fn recount<'e, DB: SqlDb>(ex: &mut Ex<'e, DB>) -> Result<Counts> {
    let mut counts = Counts::default();
    super::metrics::raw_into(ex.reborrow(), &mut counts, &[], None, None).await?;
    // Grouped by the whole list, so a category named twice by one item counts once.
    let mut qb = QueryBuilder::new(
        "SELECT model_key, response_day, categories, COUNT(*) AS n FROM feedback \
         WHERE categories IS NOT NULL AND polarity = -1 \
         GROUP BY model_key, response_day, categories",
    );
    for row in fetch_all(ex.reborrow(), &mut qb, "counting negatives").await? {
        let model: i64 = get::<DB, _>(&row, "model_key")?;
        let day: i64 = get::<DB, _>(&row, "response_day")?;
        let n: i64 = get::<DB, _>(&row, "n")?;
        let mut names = DB::categories(&row)?.unwrap_or_default();
        names.sort_unstable();
        names.dedup();
        for category in names {
            counts.add_negatives(model, day, category, n);
        }
    }
    Ok(counts)
}

/// The stored aggregates.
pub(crate) async fn stored<'e, DB: SqlDb>(ex: &mut Ex<'e, DB>) -> Result<Counts> {
    let mut counts = Counts::default();
    let mut qb = QueryBuilder::new("SELECT model_key, day, n FROM agg_responses");
    for row in fetch_all(ex.reborrow(), &mut qb, "reading response aggregates").await? {
        counts.add_responses(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "day")?,
            get::<DB, _>(&row, "n")?,
        );
    }
    let mut qb = QueryBuilder::new("SELECT model_key, day, polarity, rating, n FROM agg_feedback");
    for row in fetch_all(ex.reborrow(), &mut qb, "reading feedback aggregates").await? {
        counts.add_feedback(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "day")?,
            get::<DB, _>(&row, "polarity")?,
            Some(get::<DB, _>(&row, "rating")?),
            get::<DB, _>(&row, "n")?,
        );
    }
    let mut qb = QueryBuilder::new("SELECT model_key, day, category, n FROM agg_categories");
    for row in fetch_all(ex.reborrow(), &mut qb, "reading category aggregates").await? {
        counts.add_category(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "day")?,
            get::<DB, _>(&row, "category")?,
            get::<DB, _>(&row, "n")?,
        );
    }
    let mut qb = QueryBuilder::new("SELECT model_key, day, category, n FROM agg_negatives");
    for row in fetch_all(ex.reborrow(), &mut qb, "reading negative aggregates").await? {
        counts.add_negatives(
            get::<DB, _>(&row, "model_key")?,
            get::<DB, _>(&row, "day")?,
            get::<DB, _>(&row, "category")?,
            get::<DB, _>(&row, "n")?,
        );
    }
    Ok(counts)
}

/// Aggregate rows that disagree with the raw rows.
pub(crate) async fn mismatches<DB: SqlDb>(pool: &sqlx::Pool<DB>) -> Result<u64> {
    let mut ex = Ex::Pool(pool);
    let raw = recount(&mut ex).await?;
    let agg = stored(&mut ex).await?;
    Ok(raw.mismatches(&agg))
}

/// Replaces the stored aggregates with the recount from the raw rows, inside the caller's
/// write transaction (which keeps other writers out meanwhile).
pub(crate) async fn rebuild<DB: SqlDb>(conn: &mut DB::Connection) -> Result<AggregateRebuild> {
    if !DB::REBUILD_LOCK.is_empty() {
        let mut qb = QueryBuilder::<DB>::new(DB::REBUILD_LOCK);
        execute(
            Ex::Conn(&mut *conn),
            &mut qb,
            "locking rows for the rebuild",
        )
        .await?;
    }
    let mut ex = Ex::<DB>::Conn(&mut *conn);
    let raw = recount(&mut ex).await?;
    let before = stored(&mut ex).await?;
    for table in TABLES {
        let mut qb = QueryBuilder::<DB>::new(format!("DELETE FROM {table}"));
        execute(Ex::Conn(&mut *conn), &mut qb, "clearing aggregates").await?;
    }
    add::<DB>(conn, &raw).await?;
    Ok(AggregateRebuild {
        mismatched: raw.mismatches(&before),
        rows: raw.rows(),
    })
}

/// Responses per day and negatives per category and day over `[from_day, to_day)`, summed
/// over the models `model` selects.
pub(crate) async fn trend_counts<DB: SqlDb>(
    pool: &sqlx::Pool<DB>,
    model: Option<&str>,
    from_day: Option<i64>,
    to_day: Option<i64>,
) -> Result<DailyTrendCounts> {
    let mut out = DailyTrendCounts::default();
    let model_key: Option<i64> = match model {
        Some(m) => {
            let mut qb = QueryBuilder::new("SELECT key FROM models WHERE model_id = ");
            qb.arg(m);
            match fetch_optional(pool, &mut qb, "reading models").await? {
                Some(row) => Some(get::<DB, _>(&row, "key")?),
                None => return Ok(out),
            }
        }
        None => None,
    };
    let range = |qb: &mut QueryBuilder<'_, DB>| {
        qb.push(" WHERE 1 = 1");
        if let Some(k) = model_key {
            qb.push(" AND model_key = ").arg(k);
        }
        if let Some(d) = from_day {
            qb.push(" AND day >= ").arg(d);
        }
        if let Some(d) = to_day {
            qb.push(" AND day < ").arg(d);
        }
    };
    let mut qb = QueryBuilder::new("SELECT day, CAST(SUM(n) AS BIGINT) AS n FROM agg_responses");
    range(&mut qb);
    qb.push(" GROUP BY day");
    for row in fetch_all(pool, &mut qb, "reading response aggregates").await? {
        let n: i64 = get::<DB, _>(&row, "n")?;
        out.responses
            .insert(get::<DB, _>(&row, "day")?, u64::try_from(n).unwrap_or(0));
    }
    let mut qb =
        QueryBuilder::new("SELECT category, day, CAST(SUM(n) AS BIGINT) AS n FROM agg_negatives");
    range(&mut qb);
    qb.push(" GROUP BY category, day");
    for row in fetch_all(pool, &mut qb, "reading negative aggregates").await? {
        let n: i64 = get::<DB, _>(&row, "n")?;
        out.negatives
            .entry(get::<DB, _>(&row, "category")?)
            .or_default()
            .insert(get::<DB, _>(&row, "day")?, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}
