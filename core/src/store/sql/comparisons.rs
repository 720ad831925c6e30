//! Comparisons (pairwise feedback): written inside the store's write transaction, read
//! with the models of both responses copied into the row.

use super::read::{page_query, parse_cursor};
use super::rows::{self, COMPARISON_SELECT};
use super::{execute, fetch_all, fetch_optional, get, Ex, PushArg, SqlDb};
use crate::error::Result;
use crate::model::time::to_micros;
use crate::model::{Comparison, Limits};
use crate::store::comparison_rules::{self, ResponseFacts};
use crate::store::{ComparisonFilter, ItemOutcome, Page, PageRequest, Rejection, StoredComparison};
use sqlx::{Pool, QueryBuilder};
use std::collections::HashMap;

pub(crate) async fn get_comparison<DB: SqlDb>(
    pool: &Pool<DB>,
    id: &str,
) -> Result<Option<Comparison>> {
    let mut qb = QueryBuilder::<DB>::new(COMPARISON_SELECT);
    qb.push(" WHERE id = ").arg(id);
    fetch_optional(pool, &mut qb, "reading a comparison")
        .await?
        .map(|r| rows::comparison::<DB>(&r).map(|(_, c)| c.comparison))
        .transpose()
}

pub(crate) async fn list<DB: SqlDb>(
    pool: &Pool<DB>,
    filter: &ComparisonFilter,
    page: &PageRequest,
) -> Result<Page<StoredComparison>> {
    let after = parse_cursor(&page.after)?;
    let mut qb = QueryBuilder::<DB>::new(COMPARISON_SELECT);
    qb.push(" WHERE seq > ").arg(after);
    if let Some(m) = &filter.model {
        qb.push(" AND (model_a = ")
            .arg(m.as_str())
            .push(" OR model_b = ")
            .arg(m.as_str())
            .push(")");
    }
    if let Some(s) = &filter.since {
        qb.push(" AND created_at >= ").arg(to_micros(s));
    }
    if let Some(u) = &filter.until {
        qb.push(" AND created_at < ").arg(to_micros(u));
    }
    qb.push(" ORDER BY seq");
    page_query(pool, qb, page.limit, "comparisons", rows::comparison::<DB>).await
}

/// The facts of the responses among `ids` that exist (this transaction's writes included).
async fn facts<DB: SqlDb>(
    conn: &mut DB::Connection,
    ids: &[&str],
) -> Result<HashMap<String, ResponseFacts>> {
    let mut out = HashMap::new();
    for chunk in ids.chunks(DB::LOOKUP_IDS) {
        let mut qb = QueryBuilder::<DB>::new(
            "SELECT r.id, m.model_id, r.query, r.conversation FROM responses r \
             JOIN models m ON m.key = r.model_key WHERE r.id",
        );
        DB::push_in_str(&mut qb, chunk);
        let rows = fetch_all(
            Ex::Conn(&mut *conn),
            &mut qb,
            "looking up compared responses",
        )
        .await?;
        for row in rows {
            let id: String = get::<DB, _>(&row, "id")?;
            let model: String = get::<DB, _>(&row, "model_id")?;
            let query: String = get::<DB, _>(&row, "query")?;
            let conversation: Option<String> = get::<DB, _>(&row, "conversation")?;
            let conversation = rows::conversation(&id, conversation.as_deref())?;
            out.insert(id, ResponseFacts::from_parts(model, &query, conversation));
        }
    }
    Ok(out)
}

/// Writes comparisons on the transaction's connection (see
/// [`crate::store::WriteTx::write_comparisons`]).
pub(crate) async fn write<DB: SqlDb>(
    conn: &mut DB::Connection,
    limits: &Limits,
    items: &[Comparison],
) -> Result<Vec<ItemOutcome>> {
    let mut ids: Vec<&str> = items
        .iter()
        .flat_map(|c| [c.response_a.as_str(), c.response_b.as_str()])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let facts = facts::<DB>(conn, &ids).await?;
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
        let mut qb = QueryBuilder::<DB>::new(
            "INSERT INTO comparisons (id, response_a, response_b, model_a, model_b, winner, \
             user_id, comment, created_at, content_hash) VALUES (",
        );
        qb.args([c.id.as_str(), c.response_a.as_str(), c.response_b.as_str()])
            .push(", ")
            .args([model_a, model_b])
            .push(", ")
            .arg(c.winner.as_str())
            .push(", ")
            .args([c.user_id.as_deref(), c.comment.as_deref()])
            .push(", ")
            .arg(to_micros(&c.created_at))
            .push(", ")
            .arg(hash.to_vec())
            .push(") ON CONFLICT (id) DO NOTHING");
        if execute(Ex::Conn(&mut *conn), &mut qb, "storing a comparison").await? == 1 {
            out.push(ItemOutcome::Inserted);
            continue;
        }
        let mut qb = QueryBuilder::<DB>::new("SELECT content_hash FROM comparisons WHERE id = ");
        qb.arg(c.id.as_str());
        let stored = fetch_optional(Ex::Conn(&mut *conn), &mut qb, "looking up a comparison")
            .await?
            .map(|row| get::<DB, Vec<u8>>(&row, "content_hash"))
            .transpose()?;
        if stored.as_deref() == Some(hash.as_slice()) {
            out.push(ItemOutcome::Unchanged);
            continue;
        }
        let mut qb = QueryBuilder::<DB>::new(COMPARISON_SELECT);
        qb.push(" WHERE id = ").arg(c.id.as_str());
        let row = fetch_optional(Ex::Conn(&mut *conn), &mut qb, "reading a comparison").await?;
        let reason = match row {
            Some(row) => rows::comparison::<DB>(&row)?.1.comparison.conflict_with(c),
            None => "a comparison with this id is already stored with other content".into(),
        };
        out.push(ItemOutcome::Rejected(Rejection::Conflict { reason }));
    }
    Ok(out)
}
