//! Faults the ledger must survive (issue 6): a crash between steps, modelled with the
//! `FaultyLedger` test double over real SQLite ledgers, and concurrent callers racing for one
//! account from two separate opens of one database file. After each: credits exact, nothing
//! lost, nothing charged twice.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tuneloop::credits::{hold_id, CreditLedger, HoldStatus};
use tuneloop::store::{OpenOptions, SqliteStore};
use tuneloop::testing::{figures, FaultPoint, FaultyLedger, LedgerOp};
use tuneloop::Error;

fn fresh_url() -> String {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("credits_faults");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    });
    let path = dir.join(format!("f-{}.sqlite", N.fetch_add(1, Ordering::Relaxed)));
    format!("sqlite://{}", path.display())
}

async fn open(url: &str) -> (SqliteStore, Arc<dyn CreditLedger>) {
    let store = SqliteStore::open(url, &OpenOptions::default())
        .await
        .unwrap();
    let ledger: Arc<dyn CreditLedger> = Arc::new(store.ledger());
    (store, ledger)
}

fn injected<T: std::fmt::Debug>(r: tuneloop::Result<T>) {
    match r {
        Err(e @ Error::Transport { .. }) => assert!(e.is_retryable()),
        other => panic!("expected the injected fault, got {other:?}"),
    }
}

/// The reserve is applied but its answer is lost (the process dies before creating the job);
/// a re-run with the same key, even after reopening the database, finds the same hold and
/// holds the credits once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_reserve_then_rerun() {
    let url = fresh_url();
    let (store, ledger) = open(&url).await;
    ledger.grant("acme", 100, "g1").await.unwrap();
    let faulty = FaultyLedger::new(ledger.clone());
    faulty.fail_next(LedgerOp::Reserve, FaultPoint::After);
    injected(faulty.reserve("acme", 40, "job-1/reserve").await);
    assert_eq!(faulty.injected(), 1);
    store.close().await;

    // "Restart": a new process opens the same file.
    let (_store, ledger) = open(&url).await;
    let found = ledger
        .find_hold_by_key("acme", "job-1/reserve")
        .await
        .unwrap()
        .expect("the hold survived the crash");
    assert_eq!(found.id, hold_id("acme", "job-1/reserve"));
    let again = ledger.reserve("acme", 40, "job-1/reserve").await.unwrap();
    assert_eq!(again, found);
    assert_eq!(figures(&*ledger, "acme").await, (100, 40, 0, 60));
    ledger.commit(&found.id, 35, "job-1/commit").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 35, 65));
}

/// A reserve that never reached the ledger leaves nothing behind; the retry holds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_reserve_then_retry() {
    let (_store, ledger) = open(&fresh_url()).await;
    ledger.grant("acme", 100, "g1").await.unwrap();
    let faulty = FaultyLedger::new(ledger.clone());
    faulty.fail_next(LedgerOp::Reserve, FaultPoint::Before);
    injected(faulty.reserve("acme", 40, "r").await);
    assert_eq!(ledger.find_hold_by_key("acme", "r").await.unwrap(), None);
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 0, 100));
    faulty.reserve("acme", 40, "r").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (100, 40, 0, 60));
}

/// A commit or release whose answer is lost is retried with its key: posted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_commit_and_release_answers_are_retried() {
    let (_store, ledger) = open(&fresh_url()).await;
    let faulty = FaultyLedger::new(ledger.clone());
    faulty.fail_next(LedgerOp::Grant, FaultPoint::After);
    injected(faulty.grant("acme", 100, "g1").await);
    faulty.grant("acme", 100, "g1").await.unwrap();
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 0, 100));

    let a = faulty.reserve("acme", 30, "ra").await.unwrap();
    faulty.fail_next(LedgerOp::Commit, FaultPoint::After);
    injected(faulty.commit(&a.id, 45, "ca").await);
    let done = faulty.commit(&a.id, 45, "ca").await.unwrap();
    assert_eq!(
        (done.status, done.posted),
        (HoldStatus::Committed, Some(45))
    );

    let b = faulty.reserve("acme", 20, "rb").await.unwrap();
    faulty.fail_next(LedgerOp::Release, FaultPoint::After);
    injected(faulty.release(&b.id, "xb").await);
    assert_eq!(
        faulty.release(&b.id, "xb").await.unwrap().status,
        HoldStatus::Released
    );
    assert_eq!(figures(&*ledger, "acme").await, (100, 0, 45, 55));
    assert_eq!(faulty.injected(), 3);
}

/// Two opens of one database file (as two processes would have) race to reserve for the
/// same model run and for different runs: the account never goes below zero and each
/// key holds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_opens_of_one_file_race() {
    let url = fresh_url();
    let (_s1, l1) = open(&url).await;
    let (_s2, l2) = open(&url).await;
    l1.grant("acme", 100, "g1").await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..30 {
        let l = if i % 2 == 0 { l1.clone() } else { l2.clone() };
        // Pairs of callers share a key: the same fine-tune started twice.
        tasks.push(tokio::spawn(async move {
            l.reserve("acme", 15, &format!("job-{}", i / 2)).await
        }));
    }
    let mut held = std::collections::BTreeSet::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(h) => {
                held.insert(h.id);
            }
            Err(Error::InsufficientCredits { .. }) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    // 100 / 15 = 6 holds fit; duplicates of one key count once.
    assert_eq!(held.len(), 6);
    assert_eq!(figures(&*l2, "acme").await, (100, 90, 0, 10));
}
