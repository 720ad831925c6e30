//! Conformance cases for comparisons (pairwise feedback): every backend stores, judges and
//! lists them the same way.

use super::Store;
use crate::model::*;
use crate::store::*;

fn ts(s: &str) -> Timestamp {
    parse_timestamp(s).unwrap()
}

/// A response to the shared question `q`, with an optional prior user turn.
fn answer(id: &str, model: &str, q: &str, prior: Option<&str>) -> ResponseRecord {
    let mut r = ResponseRecord::new(
        id,
        model,
        q,
        format!("answer {id}"),
        ts("2026-09-01T10:00:00Z"),
    );
    if let Some(p) = prior {
        r.conversation.push(Message {
            role: Role::User,
            content: p.into(),
        });
    }
    r
}

fn cmp(id: &str, a: &str, b: &str, winner: Winner, at: &str) -> Comparison {
    Comparison::new(id, a, b, winner, ts(at))
}

async fn seed(store: &Store) {
    store
        .record(&RecordBatch {
            responses: vec![
                answer("r1", "m1", "Refund policy?", None),
                answer("r2", "m2", "  refund POLICY? ", None),
                answer("r3", "m3", "Refund policy?", None),
                answer("r4", "m2", "Refund policy?", Some("I bought shoes")),
            ],
            feedback: vec![],
        })
        .await
        .unwrap();
}

fn rejected_field(o: &ItemOutcome) -> Option<String> {
    match o {
        ItemOutcome::Rejected(r) => r.field().map(str::to_string),
        _ => None,
    }
}

pub async fn comparisons_round_trip_and_idempotent(store: Store) {
    seed(&store).await;
    let mut c1 = cmp("c1", "r1", "r2", Winner::A, "2026-09-02T10:00:00Z");
    c1.user_id = Some("u9".into());
    c1.comment = Some("b rambles".into());
    let c2 = cmp("", "r3", "r2", Winner::Tie, "2026-09-03T10:00:00Z");
    let first = store
        .record_comparisons(&[c1.clone(), c2.clone()])
        .await
        .unwrap();
    assert_eq!(first.comparisons_inserted, 2);
    assert_eq!(store.get_comparison("c1").await.unwrap(), Some(c1.clone()));
    assert_eq!(
        store.get_comparison(&c2.id).await.unwrap(),
        Some(c2.clone())
    );
    assert_eq!(store.get_comparison("nope").await.unwrap(), None);
    let again = store
        .record_comparisons(&[c1.clone(), c2.clone()])
        .await
        .unwrap();
    assert_eq!(
        (again.comparisons_inserted, again.comparisons_unchanged),
        (0, 2)
    );
    // The same id with other content is a conflict naming the field; the original stays.
    let changed = cmp("c1", "r1", "r2", Winner::B, "2026-09-02T10:00:00Z");
    let err = store.record_comparisons(&[changed]).await.unwrap_err();
    assert!(
        matches!(err, crate::Error::Conflict { ref reason, .. } if reason.contains("winner")),
        "{err}"
    );
    assert_eq!(store.get_comparison("c1").await.unwrap(), Some(c1.clone()));
    let all = store
        .all_comparisons(&ComparisonFilter::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].comparison, c1);
    assert_eq!(
        (all[0].model_a.as_str(), all[0].model_b.as_str()),
        ("m1", "m2")
    );
    assert_eq!(
        (all[1].model_a.as_str(), all[1].model_b.as_str()),
        ("m3", "m2")
    );
}

pub async fn comparisons_reference_checks(store: Store) {
    seed(&store).await;
    let mut tx = store.begin_write().await.unwrap();
    // A response written earlier in the same transaction may be compared.
    tx.write(&RecordBatch {
        responses: vec![answer("r5", "m4", "refund policy?", None)],
        feedback: vec![],
    })
    .await
    .unwrap();
    let o = tx
        .write_comparisons(&[
            cmp("ok", "r5", "r1", Winner::B, "2026-09-02T10:00:00Z"),
            cmp("ghost-a", "ghost", "r1", Winner::A, "2026-09-02T10:00:00Z"),
            cmp("ghost-b", "r1", "ghost", Winner::A, "2026-09-02T10:00:00Z"),
            // Same last query, different prior turns: different contexts.
            cmp("ctx", "r2", "r4", Winner::A, "2026-09-02T10:00:00Z"),
            cmp("self", "r1", "r1", Winner::A, "2026-09-02T10:00:00Z"),
            cmp("old", "r1", "r2", Winner::A, "1999-12-31T23:59:59Z"),
            // Duplicate within the batch: judged against the first.
            cmp("ok", "r5", "r1", Winner::B, "2026-09-02T10:00:00Z"),
            cmp("ok", "r5", "r1", Winner::A, "2026-09-02T10:00:00Z"),
        ])
        .await
        .unwrap();
    assert_eq!(o[0], ItemOutcome::Inserted);
    assert_eq!(rejected_field(&o[1]).as_deref(), Some("response_a"));
    assert_eq!(rejected_field(&o[2]).as_deref(), Some("response_b"));
    assert_eq!(rejected_field(&o[3]).as_deref(), Some("response_b"));
    match &o[3] {
        ItemOutcome::Rejected(r) => assert!(r.reason().contains("context"), "{}", r.reason()),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(rejected_field(&o[4]).as_deref(), Some("response_b"));
    assert_eq!(rejected_field(&o[5]).as_deref(), Some("created_at"));
    assert_eq!(o[6], ItemOutcome::Unchanged);
    assert!(
        matches!(o[7], ItemOutcome::Rejected(Rejection::Conflict { .. })),
        "{:?}",
        o[7]
    );
    // Nothing is visible before commit.
    assert_eq!(store.get_comparison("ok").await.unwrap(), None);
    let summary = tx.commit().await.unwrap();
    assert_eq!(summary.comparisons_inserted, 1);
    assert_eq!(summary.comparisons_unchanged, 1);
    assert!(store.get_comparison("ok").await.unwrap().is_some());
    assert_eq!(store.get_comparison("ctx").await.unwrap(), None);
    // A rolled-back transaction leaves nothing.
    let mut tx = store.begin_write().await.unwrap();
    tx.write_comparisons(&[cmp("gone", "r1", "r3", Winner::A, "2026-09-02T10:00:00Z")])
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.get_comparison("gone").await.unwrap(), None);
}

pub async fn comparisons_filter_and_paging(store: Store) {
    seed(&store).await;
    let items: Vec<Comparison> = (0..25)
        .map(|i| {
            let (a, b) = match i % 3 {
                0 => ("r1", "r2"),
                1 => ("r2", "r3"),
                _ => ("r3", "r1"),
            };
            cmp(
                &format!("c{i:02}"),
                a,
                b,
                Winner::A,
                &format!("2026-09-{:02}T10:00:00Z", i + 1),
            )
        })
        .collect();
    store.record_comparisons(&items).await.unwrap();
    // Paging returns everything once, in insertion order.
    let mut page = PageRequest::first(4);
    let mut seen = Vec::new();
    loop {
        let p = store
            .list_comparisons(&ComparisonFilter::default(), &page)
            .await
            .unwrap();
        assert!(p.items.len() <= 4);
        seen.extend(p.items.into_iter().map(|c| c.comparison.id));
        match p.next {
            Some(n) => page.after = Some(n),
            None => break,
        }
    }
    let want: Vec<String> = items.iter().map(|c| c.id.clone()).collect();
    assert_eq!(seen, want);
    let filter = ComparisonFilter {
        model: Some("m1".into()),
        since: Some(ts("2026-09-05")),
        until: Some(ts("2026-09-20")),
    };
    let got: Vec<String> = store
        .all_comparisons(&filter)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.comparison.id)
        .collect();
    let stored: Vec<StoredComparison> = store
        .all_comparisons(&ComparisonFilter::default())
        .await
        .unwrap();
    let expect: Vec<String> = stored
        .iter()
        .filter(|c| filter.matches(c))
        .map(|c| c.comparison.id.clone())
        .collect();
    assert_eq!(got, expect);
    // Days 5..19 hold 15 comparisons; a third of them do not involve m1.
    assert_eq!(got.len(), 10, "{got:?}");
}
