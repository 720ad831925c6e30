//! PostgreSQL's side of the shared SQL code: categories as a text array, lookups as
//! `= ANY(array)` (one statement however many ids), and text that cannot hold NUL.

use super::db_err;
use crate::error::{Error, Result};
use crate::model::Category;
use crate::store::sql::{get, impl_plumbing, PushArg, SqlDb};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder};

impl_plumbing!(Postgres);

impl SqlDb for Postgres {
    const LOOKUP_IDS: usize = 10_000;
    const TEXT_HOLDS_NUL: bool = false;
    // SHARE blocks inserts (and other rebuilds) until commit; readers go on.
    const REBUILD_LOCK: &'static str = "LOCK TABLE responses, feedback IN SHARE MODE";
    const CATEGORY_COUNT: (&'static str, &'static str) = (
        "SELECT model_key, response_day, c AS cats, COUNT(*) AS n \
         FROM feedback CROSS JOIN LATERAL unnest(categories) AS c",
        "c",
    );

    // No index on `response_seq` alone (schema 6): the response's model, day and time,
    // copied into its feedback rows, lead to its rows in the metrics index.
    const FEEDBACK_OF_RESPONSE: &'static str = "f.model_key = r.model_key \
         AND f.response_day = r.day AND f.response_created_at = r.created_at \
         AND f.response_seq = r.seq";

    fn db_err(action: &str, e: sqlx::Error) -> Error {
        db_err(action, e)
    }

    fn push_in_i64(qb: &mut QueryBuilder<'_, Self>, values: &[i64]) {
        qb.push(" = ANY(").push_bind(values.to_vec()).push(")");
    }

    fn push_in_str<'a>(qb: &mut QueryBuilder<'a, Self>, values: &[&'a str]) {
        qb.push(" = ANY(").push_bind(values.to_vec()).push(")");
    }

    fn push_has_category(qb: &mut QueryBuilder<'_, Self>, c: &Category) {
        qb.push(" AND ")
            .arg(c.as_str().to_string())
            .push(" = ANY(f.categories)");
    }

    fn categories(row: &PgRow) -> Result<Option<Vec<String>>> {
        sqlx::Row::try_get(row, "categories").map_err(|e| db_err("reading column `categories`", e))
    }

    fn counted_categories(row: &PgRow) -> Result<Vec<String>> {
        Ok(vec![get::<Postgres, String>(row, "cats")?])
    }
}
