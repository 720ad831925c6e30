//! Comparisons (pairwise feedback): written inside the store's write transaction, read
//! with the models of both responses copied into the row.

use super::read::{page_query, parse_cursor};
use super::{corrupt, db_err};
use crate::error::Result;
use crate::model::time::{from_micros, to_micros};
use crate::model::{Comparison, Limits, Message, Winner};
use crate::store::comparison_rules::{self, ResponseFacts};
use crate::store::{ComparisonFilter, ItemOutcome, Page, PageRequest, Rejection, StoredComparison};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use std::collections::HashMap;

const SELECT: &str = "SELECT seq, id, response_a, response_b, model_a, model_b, winner, \
     user_id, comment, created_at FROM comparisons";

/// Ids per `IN (...)` lookup.
const LOOKUP_IDS: usize = 900;

fn decode(row: &SqliteRow) -> Result<(i64, StoredComparison)> {
    let get_err = |col: &str, e: sqlx::Error| db_err(&format!("reading column `{col}`"), e);
    let id: String = row.try_get("id").map_err(|e| get_err("id", e))?;
    let winner: String = row.try_get("winner").map_err(|e| get_err("winner", e))?;
    let winner = Winner::parse(&winner).ok_or_else(|| {
        corrupt(
            format!("stored winner `{winner}` of comparison `{id}`"),
            std::io::Error::other("not a, b or tie"),
        )
    })?;
    let created: i64 = row
        .try_get("created_at")
        .map_err(|e| get_err("created_at", e))?;
    let comparison = Comparison {
        response_a: row
            .try_get("response_a")
            .map_err(|e| get_err("response_a", e))?,
        response_b: row
            .try_get("response_b")
            .map_err(|e| get_err("response_b", e))?,
        winner,
        user_id: row.try_get("user_id").map_err(|e| get_err("user_id", e))?,
        comment: row.try_get("comment").map_err(|e| get_err("comment", e))?,
        created_at: from_micros(created),
        id,
    };
    Ok((
        row.try_get("seq").map_err(|e| get_err("seq", e))?,
        StoredComparison {
            comparison,
            model_a: row.try_get("model_a").map_err(|e| get_err("model_a", e))?,
            model_b: row.try_get("model_b").map_err(|e| get_err("model_b", e))?,
        },
    ))
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<Comparison>> {
    let row = sqlx::query(&format!("{SELECT} WHERE id = ?"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(|e| db_err("reading a comparison", e))?;
    row.map(|r| decode(&r).map(|(_, c)| c.comparison))
        .transpose()
}

pub(super) async fn list(
    pool: &SqlitePool,
    filter: &ComparisonFilter,
    page: &PageRequest,
) -> Result<Page<StoredComparison>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = QueryBuilder::new(SELECT);
    qb.push(" WHERE seq > ").push_bind(after);
    if let Some(m) = &filter.model {
        qb.push(" AND (model_a = ")
            .push_bind(m.clone())
            .push(" OR model_b = ")
            .push_bind(m.clone())
            .push(")");
    }
    if let Some(s) = &filter.since {
        qb.push(" AND created_at >= ").push_bind(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND created_at < ").push_bind(to_micros(u));
    }
    qb.push(" ORDER BY seq");
    page_query(pool, qb, page.limit, "comparisons", decode).await
}

/// The facts of the responses among `ids` that exist (this transaction's writes included).
async fn facts(
    conn: &mut SqliteConnection,
    ids: &[&str],
) -> Result<HashMap<String, ResponseFacts>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(LOOKUP_IDS) {
        let mut qb: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
            "SELECT r.id, m.model_id, r.query, r.conversation FROM responses r \
             JOIN models m ON m.key = r.model_key WHERE r.id IN (",
        );
        let mut sep = qb.separated(",");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        let rows = qb
            .build()
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| db_err("looking up compared responses", e))?;
        for row in rows {
            let id: String = row.try_get(0).map_err(|e| db_err("reading an id", e))?;
            let model: String = row.try_get(1).map_err(|e| db_err("reading a model", e))?;
            let query: String = row.try_get(2).map_err(|e| db_err("reading a query", e))?;
            let conversation: Option<String> = row
                .try_get(3)
                .map_err(|e| db_err("reading a conversation", e))?;
            let conversation: Vec<Message> = match conversation {
                Some(text) => serde_json::from_str(&text)
                    .map_err(|e| corrupt(format!("stored conversation of response `{id}`"), e))?,
                None => Vec::new(),
            };
            out.insert(id, ResponseFacts::from_parts(model, &query, conversation));
        }
    }
    Ok(out)
}

/// Writes comparisons on the transaction's connection (see
/// [`crate::store::WriteTx::write_comparisons`]).
pub(super) async fn write(
    conn: &mut SqliteConnection,
    limits: &Limits,
    items: &[Comparison],
) -> Result<Vec<ItemOutcome>> {
    let mut ids: Vec<&str> = items
        .iter()
        .flat_map(|c| [c.response_a.as_str(), c.response_b.as_str()])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let facts = facts(conn, &ids).await?;
    let mut out = Vec::with_capacity(items.len());
    for c in items {
        let checked = comparison_rules::check(
            c,
            limits,
            facts.get(&c.response_a),
            facts.get(&c.response_b),
        );
        let (model_a, model_b) = match checked {
            Ok(models) => models,
            Err(rej) => {
                out.push(ItemOutcome::Rejected(rej));
                continue;
            }
        };
        let hash = c.content_hash();
        let done = sqlx::query(
            "INSERT INTO comparisons (id, response_a, response_b, model_a, model_b, winner, \
             user_id, comment, created_at, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT(id) DO NOTHING",
        )
        .bind(c.id.as_str())
        .bind(c.response_a.as_str())
        .bind(c.response_b.as_str())
        .bind(model_a)
        .bind(model_b)
        .bind(c.winner.as_str())
        .bind(c.user_id.as_deref())
        .bind(c.comment.as_deref())
        .bind(to_micros(&c.created_at))
        .bind(hash.to_vec())
        .execute(&mut *conn)
        .await
        .map_err(|e| db_err("storing a comparison", e))?;
        if done.rows_affected() == 1 {
            out.push(ItemOutcome::Inserted);
            continue;
        }
        let stored: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT content_hash FROM comparisons WHERE id = ?")
                .bind(c.id.as_str())
                .fetch_optional(&mut *conn)
                .await
                .map_err(|e| db_err("looking up a comparison", e))?;
        if stored.as_deref() == Some(hash.as_slice()) {
            out.push(ItemOutcome::Unchanged);
            continue;
        }
        let row = sqlx::query(&format!("{SELECT} WHERE id = ?"))
            .bind(c.id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| db_err("reading a comparison", e))?;
        let reason = match row {
            Some(row) => decode(&row)?.1.comparison.conflict_with(c),
            None => "a comparison with this id is already stored with other content".into(),
        };
        out.push(ItemOutcome::Rejected(Rejection::Conflict { reason }));
    }
    Ok(out)
}
