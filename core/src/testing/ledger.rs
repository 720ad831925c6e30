//! The ledger conformance suite: the behaviour every [`CreditLedger`] must show (memory,
//! SQLite, PostgreSQL, and a host's own).
//!
//! ```text
//! async fn fresh() -> std::sync::Arc<dyn tuneloop::credits::CreditLedger> { /* empty ledger */ }
//! tuneloop::ledger_conformance_tests!(fresh);
//! ```
//! expands to one `#[tokio::test]` per case; `ledger_conformance_tests!(optional factory)`
//! takes a factory returning `Option<(Arc<dyn CreditLedger>, guard)>` like
//! [`crate::store_conformance_tests!`].

use crate::credits::{hold_id, CreditLedger, Hold, HoldStatus, MAX_AMOUNT, MAX_NAME_BYTES};
use crate::error::Error;
use std::sync::Arc;

/// Generates one `#[tokio::test]` per ledger conformance case for a ledger factory: an
/// `async fn()` (path) returning a fresh, empty `Arc<dyn CreditLedger>`, or with
/// `optional`, `Option<(Arc<dyn CreditLedger>, guard)>` (`None` skips the case).
#[macro_export]
macro_rules! ledger_conformance_tests {
    (optional $factory:path) => {
        $crate::__ledger_conformance_list!(optional $factory);
    };
    ($factory:path) => {
        $crate::__ledger_conformance_list!(plain $factory);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __ledger_conformance_list {
    ($mode:ident $factory:path) => {
        $crate::__store_conformance_cases!(
            $mode $factory;
            ledger_grant_and_balance,
            ledger_grant_is_idempotent,
            ledger_reserve_commit,
            ledger_reserve_release,
            ledger_reserve_is_idempotent,
            ledger_resolution_is_idempotent_and_final,
            ledger_keys_are_per_account_and_per_operation,
            ledger_overdraft_refused,
            ledger_commit_above_hold,
            ledger_zero_round_trip,
            ledger_unknown_account_and_hold,
            ledger_invalid_input,
            ledger_concurrent_reserves,
            ledger_concurrent_commit_and_release,
            ledger_concurrent_repeats
        );
    };
}

type Ledger = Arc<dyn CreditLedger>;

/// `(granted, pending, posted, available)` of an account.
pub async fn figures(ledger: &dyn CreditLedger, account: &str) -> (u64, u64, u64, u64) {
    let b = ledger.balance(account).await.unwrap();
    assert_eq!(b.account, account);
    assert_eq!(
        b.available + b.posted + b.pending,
        b.granted,
        "available = granted − posted − pending: {b:?}"
    );
    (b.granted, b.pending, b.posted, b.available)
}

fn assert_conflict<T: std::fmt::Debug>(r: crate::Result<T>, what: &str) {
    match r {
        Err(Error::Conflict { .. }) => {}
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

fn assert_not_found<T: std::fmt::Debug>(r: crate::Result<T>, what: &str) {
    match r {
        Err(Error::NotFound { .. }) => {}
        other => panic!("{what}: expected not found, got {other:?}"),
    }
}

fn assert_invalid<T: std::fmt::Debug>(r: crate::Result<T>, field: &str) {
    match r {
        Err(Error::InvalidInput { field: f, .. }) if f == field => {}
        other => panic!("expected invalid {field}, got {other:?}"),
    }
}

pub async fn ledger_grant_and_balance(ledger: Ledger) {
    assert_not_found(ledger.balance("acme").await, "balance before any grant");
    let b = ledger.grant("acme", 100, "g1").await.unwrap();
    assert_eq!(
        (
            b.account.as_str(),
            b.granted,
            b.pending,
            b.posted,
            b.available
        ),
        ("acme", 100, 0, 0, 100)
    );
    ledger.grant("acme", 50, "g2").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (150, 0, 0, 150));
    // A zero grant opens an account with nothing in it.
    ledger.grant("empty", 0, "open").await.unwrap();
    assert_eq!(figures(&*ledger, "empty").await, (0, 0, 0, 0));
}

pub async fn ledger_grant_is_idempotent(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    ledger.reserve("acme", 30, "r1").await.unwrap();
    // The repeat answers with the current balance and adds nothing.
    let again = ledger.grant("acme", 100, "g1").await.unwrap();
    assert_eq!(
        (again.granted, again.pending, again.available),
        (100, 30, 70)
    );
    assert_conflict(
        ledger.grant("acme", 101, "g1").await,
        "same grant key, other amount",
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 30, 0, 70));
}

fn check_hold(h: &Hold, account: &str, amount: u64, key: &str, status: HoldStatus) {
    assert_eq!(h.id, hold_id(account, key));
    assert_eq!(
        (
            h.account.as_str(),
            h.amount,
            h.reserve_key.as_str(),
            h.status
        ),
        (account, amount, key, status)
    );
}

pub async fn ledger_reserve_commit(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let hold = ledger.reserve("acme", 40, "job-1/reserve").await.unwrap();
    check_hold(&hold, "acme", 40, "job-1/reserve", HoldStatus::Pending);
    assert_eq!((hold.posted, hold.resolved_at), (None, None));
    assert_eq!(ledger.get_hold(&hold.id).await.unwrap(), Some(hold.clone()));
    assert_eq!(
        ledger
            .find_hold_by_key("acme", "job-1/reserve")
            .await
            .unwrap(),
        Some(hold.clone())
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 40, 0, 60));

    let done = ledger.commit(&hold.id, 25, "job-1/commit").await.unwrap();
    check_hold(&done, "acme", 40, "job-1/reserve", HoldStatus::Committed);
    assert_eq!(done.posted, Some(25));
    assert!(done.resolved_at.is_some_and(|t| t >= hold.created_at));
    assert_eq!(done.created_at, hold.created_at);
    assert_eq!(ledger.get_hold(&hold.id).await.unwrap(), Some(done));
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 25, 75));
}

pub async fn ledger_reserve_release(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let hold = ledger.reserve("acme", 70, "r1").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (100, 70, 0, 30));
    let void = ledger.release(&hold.id, "x1").await.unwrap();
    check_hold(&void, "acme", 70, "r1", HoldStatus::Released);
    assert_eq!(void.posted, None);
    assert!(void.resolved_at.is_some());
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 0, 100));
    assert_eq!(ledger.get_hold(&hold.id).await.unwrap(), Some(void));
}

pub async fn ledger_reserve_is_idempotent(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let first = ledger.reserve("acme", 40, "r1").await.unwrap();
    let again = ledger.reserve("acme", 40, "r1").await.unwrap();
    assert_eq!(first, again);
    assert_eq!(figures(&*ledger, "acme").await, (100, 40, 0, 60));
    assert_conflict(
        ledger.reserve("acme", 41, "r1").await,
        "same reserve key, other amount",
    );
    // After the hold is resolved, the repeat still answers with the hold, as it is now.
    ledger.commit(&first.id, 10, "c1").await.unwrap();
    let later = ledger.reserve("acme", 40, "r1").await.unwrap();
    assert_eq!(
        (later.id.as_str(), later.status, later.posted),
        (first.id.as_str(), HoldStatus::Committed, Some(10))
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 10, 90));
}

pub async fn ledger_resolution_is_idempotent_and_final(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let a = ledger.reserve("acme", 40, "ra").await.unwrap();
    let committed = ledger.commit(&a.id, 30, "ca").await.unwrap();
    assert_eq!(ledger.commit(&a.id, 30, "ca").await.unwrap(), committed);
    assert_conflict(
        ledger.commit(&a.id, 31, "ca").await,
        "same key, other actual",
    );
    assert_conflict(ledger.commit(&a.id, 30, "ca2").await, "second commit");
    assert_conflict(ledger.release(&a.id, "xa").await, "release after commit");
    assert_conflict(
        ledger.release(&a.id, "ca").await,
        "commit key reused to release",
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 30, 70));

    let b = ledger.reserve("acme", 20, "rb").await.unwrap();
    let released = ledger.release(&b.id, "xb").await.unwrap();
    assert_eq!(ledger.release(&b.id, "xb").await.unwrap(), released);
    assert_conflict(ledger.release(&b.id, "xb2").await, "second release");
    assert_conflict(ledger.commit(&b.id, 5, "cb").await, "commit after release");
    assert_conflict(
        ledger.commit(&b.id, 5, "xb").await,
        "release key reused to commit",
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 30, 70));
    assert_eq!(
        ledger.get_hold(&b.id).await.unwrap().map(|h| h.status),
        Some(HoldStatus::Released)
    );
}

pub async fn ledger_keys_are_per_account_and_per_operation(ledger: Ledger) {
    ledger.grant("a", 100, "k").await.unwrap();
    // The same key on another account is another operation.
    ledger.grant("b", 100, "k").await.unwrap();
    assert_conflict(
        ledger.reserve("a", 10, "k").await,
        "grant key reused to reserve",
    );
    let h = ledger.reserve("a", 10, "r").await.unwrap();
    let hb = ledger.reserve("b", 10, "r").await.unwrap();
    assert_ne!(h.id, hb.id);
    assert_conflict(
        ledger.grant("a", 10, "r").await,
        "reserve key reused to grant",
    );
    assert_conflict(
        ledger.commit(&h.id, 10, "r").await,
        "reserve key reused to commit",
    );
    assert_conflict(
        ledger.commit(&h.id, 10, "k").await,
        "grant key reused to commit",
    );
    // A commit key used on one hold cannot commit another hold of the same account.
    let h2 = ledger.reserve("a", 10, "r2").await.unwrap();
    ledger.commit(&h.id, 10, "c").await.unwrap();
    assert_conflict(
        ledger.commit(&h2.id, 10, "c").await,
        "commit key reused on another hold",
    );
    assert_eq!(figures(&*ledger, "a").await, (100, 10, 10, 80));
    assert_eq!(figures(&*ledger, "b").await, (100, 10, 0, 90));
}

pub async fn ledger_overdraft_refused(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    ledger.reserve("acme", 60, "r1").await.unwrap();
    match ledger.reserve("acme", 41, "r2").await {
        Err(Error::InsufficientCredits {
            account,
            required,
            available,
        }) => assert_eq!((account.as_str(), required, available), ("acme", 41, 40)),
        other => panic!("expected insufficient credits, got {other:?}"),
    }
    assert_eq!(figures(&*ledger, "acme").await, (100, 60, 0, 40));
    assert_eq!(ledger.find_hold_by_key("acme", "r2").await.unwrap(), None);
    // A refused call records nothing: the same key works once credits are there.
    ledger.grant("acme", 1, "g2").await.unwrap();
    let h = ledger.reserve("acme", 41, "r2").await.unwrap();
    assert_eq!(h.amount, 41);
    assert_eq!(figures(&*ledger, "acme").await, (101, 101, 0, 0));
}

pub async fn ledger_commit_above_hold(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let h = ledger.reserve("acme", 30, "r1").await.unwrap();
    ledger.reserve("acme", 50, "r2").await.unwrap();
    // Available is 20: an excess of 21 is refused and the hold stays pending.
    match ledger.commit(&h.id, 51, "c1").await {
        Err(Error::InsufficientCredits {
            required,
            available,
            ..
        }) => assert_eq!((required, available), (21, 20)),
        other => panic!("expected insufficient credits, got {other:?}"),
    }
    assert_eq!(
        ledger.get_hold(&h.id).await.unwrap().map(|h| h.status),
        Some(HoldStatus::Pending)
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 80, 0, 20));
    let done = ledger.commit(&h.id, 50, "c1").await.unwrap();
    assert_eq!(done.posted, Some(50));
    assert_eq!(figures(&*ledger, "acme").await, (100, 50, 50, 0));
}

pub async fn ledger_zero_round_trip(ledger: Ledger) {
    ledger.grant("acme", 5, "g1").await.unwrap();
    let h = ledger.reserve("acme", 0, "probe-r").await.unwrap();
    assert_eq!((h.amount, h.status), (0, HoldStatus::Pending));
    ledger.release(&h.id, "probe-x").await.unwrap();
    let c = ledger.reserve("acme", 0, "probe-r2").await.unwrap();
    ledger.commit(&c.id, 0, "probe-c").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (5, 0, 0, 5));
    // Zero works on an empty account too.
    ledger.grant("empty", 0, "open").await.unwrap();
    let z = ledger.reserve("empty", 0, "z").await.unwrap();
    ledger.release(&z.id, "zx").await.unwrap();
    assert_eq!(figures(&*ledger, "empty").await, (0, 0, 0, 0));
}

pub async fn ledger_unknown_account_and_hold(ledger: Ledger) {
    assert_not_found(
        ledger.reserve("ghost", 0, "r").await,
        "reserve, unknown account",
    );
    assert_not_found(ledger.balance("ghost").await, "balance, unknown account");
    let id = hold_id("ghost", "r");
    assert_not_found(ledger.commit(&id, 0, "c").await, "commit, unknown hold");
    assert_not_found(ledger.release(&id, "x").await, "release, unknown hold");
    assert_eq!(ledger.get_hold(&id).await.unwrap(), None);
    assert_eq!(ledger.find_hold_by_key("ghost", "r").await.unwrap(), None);
    // A refused reserve does not create the account.
    assert_not_found(
        ledger.balance("ghost").await,
        "balance after refused reserve",
    );
}

pub async fn ledger_invalid_input(ledger: Ledger) {
    let long = "k".repeat(MAX_NAME_BYTES + 1);
    assert_invalid(ledger.grant("", 1, "k").await, "account");
    assert_invalid(ledger.grant(&long, 1, "k").await, "account");
    assert_invalid(ledger.grant("a", 1, "").await, "key");
    assert_invalid(ledger.grant("a", 1, &long).await, "key");
    assert_invalid(ledger.grant("a", MAX_AMOUNT + 1, "k").await, "amount");
    assert_invalid(ledger.reserve("a", u64::MAX, "k").await, "amount");
    assert_invalid(ledger.commit("", 1, "k").await, "hold_id");
    assert_invalid(ledger.commit("h", u64::MAX, "k").await, "actual");
    assert_invalid(ledger.release("h", "").await, "key");
    assert_invalid(ledger.balance("").await, "account");
    assert_not_found(ledger.balance("a").await, "nothing was created");
    // Totals past the largest amount are refused, not wrapped.
    ledger.grant("a", MAX_AMOUNT, "g1").await.unwrap();
    assert_invalid(ledger.grant("a", 1, "g2").await, "amount");
    assert_eq!(figures(&*ledger, "a").await, (MAX_AMOUNT, 0, 0, MAX_AMOUNT));
    // The longest allowed names work.
    let longest = "n".repeat(MAX_NAME_BYTES);
    ledger.grant(&longest, 1, &longest).await.unwrap();
}

pub async fn ledger_concurrent_reserves(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.reserve("acme", 10, &format!("r{i}")).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(h) => {
                assert_eq!(h.amount, 10);
                ok += 1;
            }
            Err(Error::InsufficientCredits { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 10, "exactly 10 reserves of 10 fit in 100");
    assert_eq!(figures(&*ledger, "acme").await, (100, 100, 0, 0));
}

pub async fn ledger_concurrent_commit_and_release(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    let mut committed = 0;
    for i in 0..8 {
        let h = ledger.reserve("acme", 10, &format!("r{i}")).await.unwrap();
        let (l1, l2) = (ledger.clone(), ledger.clone());
        let (id1, id2) = (h.id.clone(), h.id.clone());
        let c = tokio::spawn(async move { l1.commit(&id1, 7, &format!("c{i}")).await });
        let x = tokio::spawn(async move { l2.release(&id2, &format!("x{i}")).await });
        let (c, x) = (c.await.unwrap(), x.await.unwrap());
        match (&c, &x) {
            (Ok(h), Err(Error::Conflict { .. })) => {
                assert_eq!(h.status, HoldStatus::Committed);
                committed += 1;
            }
            (Err(Error::Conflict { .. }), Ok(h)) => assert_eq!(h.status, HoldStatus::Released),
            _ => panic!("exactly one of commit and release must win: {c:?} / {x:?}"),
        }
    }
    let (granted, pending, posted, available) = figures(&*ledger, "acme").await;
    assert_eq!((granted, pending, posted), (100, 0, 7 * committed));
    assert_eq!(available, 100 - 7 * committed);
}

pub async fn ledger_concurrent_repeats(ledger: Ledger) {
    ledger.grant("acme", 100, "g1").await.unwrap();
    // The same reserve retried at once from many places holds credits once.
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let ledger = ledger.clone();
            tokio::spawn(async move { ledger.reserve("acme", 30, "job-1").await })
        })
        .collect();
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap().unwrap().id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(figures(&*ledger, "acme").await, (100, 30, 0, 70));
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let ledger = ledger.clone();
            let id = ids[0].clone();
            tokio::spawn(async move { ledger.commit(&id, 20, "job-1/commit").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().posted, Some(20));
    }
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 20, 80));
}
