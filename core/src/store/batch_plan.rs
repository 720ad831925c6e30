//! The backend-independent half of a SQL write: which items of a batch go to the database,
//! and how the outcome of an `INSERT … ON CONFLICT DO NOTHING` becomes each item's
//! [`ItemOutcome`], with the same answers as [`super::MemoryStore`].

use super::memory::{feedback_diff, response_diff};
use super::{ItemOutcome, Rejection};
use crate::error::{Error, Result};
use crate::model::{Feedback, ResponseRecord};
use std::collections::HashMap;

/// What judging needs to know about an item kind.
pub(crate) trait Judged {
    /// Content hash (see [`ResponseRecord::content_hash`]).
    fn hash(&self) -> [u8; 32];
    /// Names what differs between a stored item and a new one with the same id.
    fn diff(stored: &Self, new: &Self) -> String;
    /// Its id.
    fn id(&self) -> &str;
}

impl Judged for ResponseRecord {
    fn hash(&self) -> [u8; 32] {
        self.content_hash()
    }
    fn diff(stored: &Self, new: &Self) -> String {
        response_diff(stored, new)
    }
    fn id(&self) -> &str {
        &self.id
    }
}

impl Judged for Feedback {
    fn hash(&self) -> [u8; 32] {
        self.content_hash()
    }
    fn diff(stored: &Self, new: &Self) -> String {
        feedback_diff(stored, new)
    }
    fn id(&self) -> &str {
        &self.id
    }
}

/// What an `INSERT ... ON CONFLICT DO NOTHING` did with one candidate row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Inserted,
    Unchanged,
    Conflict,
}

/// The items of a batch that go to the database: the first occurrence of each id among the
/// items not already decided; later occurrences are judged against their first.
pub(crate) struct Plan<'a> {
    /// Item indices, in input order.
    pub(crate) candidates: Vec<usize>,
    /// `(item index, position in candidates of its first occurrence)`.
    pub(crate) duplicates: Vec<(usize, usize)>,
    _ids: std::marker::PhantomData<&'a str>,
}

impl<'a> Plan<'a> {
    /// Plans the items whose `outcomes` are still undecided.
    pub(crate) fn new(
        ids: impl Iterator<Item = &'a str>,
        outcomes: &[Option<ItemOutcome>],
    ) -> Self {
        let mut first: HashMap<&str, usize> = HashMap::with_capacity(outcomes.len());
        let mut candidates = Vec::new();
        let mut duplicates = Vec::new();
        for (i, id) in ids.enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            match first.get(id) {
                Some(&k) => duplicates.push((i, k)),
                None => {
                    first.insert(id, candidates.len());
                    candidates.push(i);
                }
            }
        }
        Plan {
            candidates,
            duplicates,
            _ids: std::marker::PhantomData,
        }
    }
}

/// Ids whose stored version [`judge`] needs: candidates that conflicted (to name what
/// differs) and duplicates of them (compared with what is stored). Rare: only conflicts.
pub(crate) fn conflicted_ids<T: Judged>(
    items: &[T],
    plan: &Plan<'_>,
    results: &[Settled],
) -> Vec<String> {
    let mut ids: Vec<String> = plan
        .candidates
        .iter()
        .zip(results)
        .filter(|(_, r)| **r == Settled::Conflict)
        .map(|(&i, _)| items[i].id().to_string())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Turns settled candidates and their in-batch duplicates into outcomes: a duplicate is
/// compared with what its id holds by then (the first occurrence, or the stored item when
/// the first was rejected). `stored` holds the items [`conflicted_ids`] named.
pub(crate) fn judge<T: Judged>(
    items: &[T],
    plan: &Plan<'_>,
    results: &[Settled],
    hashes: &[[u8; 32]],
    stored: &HashMap<String, T>,
    outcomes: &mut [Option<ItemOutcome>],
) {
    for (k, &i) in plan.candidates.iter().enumerate() {
        outcomes[i] = Some(match results[k] {
            Settled::Inserted => ItemOutcome::Inserted,
            Settled::Unchanged => ItemOutcome::Unchanged,
            Settled::Conflict => {
                let item = &items[i];
                let reason = match stored.get(item.id()) {
                    Some(existing) => T::diff(existing, item),
                    None => T::diff(item, item),
                };
                ItemOutcome::Rejected(Rejection::Conflict { reason })
            }
        });
    }
    for &(i, k) in &plan.duplicates {
        let item = &items[i];
        let hash = item.hash();
        outcomes[i] = Some(match (results[k], hash == hashes[k]) {
            (Settled::Conflict, _) => match stored.get(item.id()) {
                Some(existing) if existing.hash() == hash => ItemOutcome::Unchanged,
                Some(existing) => ItemOutcome::Rejected(Rejection::Conflict {
                    reason: T::diff(existing, item),
                }),
                None => ItemOutcome::Unchanged,
            },
            (_, true) => ItemOutcome::Unchanged,
            (_, false) => ItemOutcome::Rejected(Rejection::Conflict {
                reason: T::diff(&items[plan.candidates[k]], item),
            }),
        });
    }
}

/// JSON text of `value`, or NULL when `empty`.
pub(crate) fn json_or_null<T: serde::Serialize + ?Sized>(
    value: &T,
    empty: bool,
) -> Result<Option<String>> {
    if empty {
        return Ok(None);
    }
    serde_json::to_string(value)
        .map(Some)
        .map_err(|e| Error::invalid("json", e.to_string()))
}
