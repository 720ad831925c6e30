//! SQLite's side of the shared SQL code: categories as a JSON array of names, `IN (...)`
//! lookups within SQLite's bound-parameter limit.

use super::db_err;
use crate::error::{Error, Result};
use crate::model::Category;
use crate::store::sql::{corrupt, get, impl_plumbing, PushArg, SqlDb};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Sqlite};

impl_plumbing!(Sqlite);

impl SqlDb for Sqlite {
    const LOOKUP_IDS: usize = 900;
    const TEXT_HOLDS_NUL: bool = true;
    // BEGIN IMMEDIATE already holds the database's write lock.
    const REBUILD_LOCK: &'static str = "";
    // `feedback_response`; SQLite (without ANALYZE statistics) would take a longer prefix
    // of the metrics index over it and scan a whole model-day per response.
    const FEEDBACK_OF_RESPONSE: &'static str = "f.response_seq = r.seq";
    // The categories index holds (model, day, categories): counting per distinct JSON
    // array streams off it, and the few arrays are split here.
    const CATEGORY_COUNT: (&'static str, &'static str) = (
        "SELECT model_key, response_day, categories AS cats, COUNT(*) AS n \
         FROM feedback INDEXED BY feedback_categories",
        "categories",
    );

    fn db_err(action: &str, e: sqlx::Error) -> Error {
        db_err(action, e)
    }

    fn push_in_i64(qb: &mut QueryBuilder<'_, Self>, values: &[i64]) {
        qb.push(" IN (").args(values.iter().copied()).push(")");
    }

    fn push_in_str<'a>(qb: &mut QueryBuilder<'a, Self>, values: &[&'a str]) {
        qb.push(" IN (").args(values.iter().copied()).push(")");
    }

    fn push_has_category(qb: &mut QueryBuilder<'_, Self>, c: &Category) {
        // Categories are `[a-z0-9_]+` stored as a JSON array of strings, so the quoted
        // name matches exactly one element and nothing else.
        qb.push(" AND instr(f.categories, ")
            .arg(format!("\"{}\"", c.as_str()))
            .push(") > 0");
    }

    fn categories(row: &SqliteRow) -> Result<Option<Vec<String>>> {
        json_names(get::<Sqlite, Option<String>>(row, "categories")?)
    }

    fn counted_categories(row: &SqliteRow) -> Result<Vec<String>> {
        Ok(json_names(get::<Sqlite, Option<String>>(row, "cats")?)?.unwrap_or_default())
    }
}

fn json_names(text: Option<String>) -> Result<Option<Vec<String>>> {
    text.map(|t| serde_json::from_str(&t).map_err(|e| corrupt("stored categories", e)))
        .transpose()
}
