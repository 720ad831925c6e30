//! Model-based property test of the credit ledgers: random sequences of operations (with
//! repeated keys, conflicting reuse, commits above the hold, resolutions of resolved holds,
//! unknown accounts and holds) run on a ledger and on a small reference model written
//! straight from the rules in `docs/credits.md`. After every step the two must give the same
//! answer and the ledger must keep its invariants:
//! - `available = granted − posted − pending`, never negative (u64 figures that add up);
//! - `pending` = the sum of the pending holds, `posted` = the sum of what committed holds
//!   posted (nothing charged twice or lost);
//! - a hold, once committed or released, never changes again (resolved at most once).
//!
//! Runs on memory and SQLite (a temp file per case), and on PostgreSQL (fewer cases) when
//! `TUNELOOP_TEST_POSTGRES_URL` is set.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use tuneloop::credits::{hold_id, CreditLedger, HoldStatus, MemoryLedger};
use tuneloop::store::{OpenOptions, SqliteStore};

const ACCOUNTS: [&str; 3] = ["a", "b", "c"];
const KEYS: usize = 6;

fn key(k: usize) -> String {
    format!("k{k}")
}

#[derive(Debug, Clone)]
enum Op {
    Grant {
        a: usize,
        amount: u64,
        k: usize,
    },
    Reserve {
        a: usize,
        amount: u64,
        k: usize,
    },
    /// Commits the hold reserved on account `a` with key `hk`.
    Commit {
        a: usize,
        hk: usize,
        actual: u64,
        k: usize,
    },
    Release {
        a: usize,
        hk: usize,
        k: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let a = 0..ACCOUNTS.len();
    let k = 0..KEYS;
    prop_oneof![
        2 => (a.clone(), 0u64..60, k.clone()).prop_map(|(a, amount, k)| Op::Grant { a, amount, k }),
        4 => (a.clone(), 0u64..60, k.clone()).prop_map(|(a, amount, k)| Op::Reserve { a, amount, k }),
        3 => (a.clone(), k.clone(), 0u64..80, k.clone())
            .prop_map(|(a, hk, actual, k)| Op::Commit { a, hk, actual, k }),
        2 => (a, k.clone(), k).prop_map(|(a, hk, k)| Op::Release { a, hk, k }),
    ]
}

/// What an operation answered, comparable between the ledger and the model.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    Balance {
        granted: u64,
        pending: u64,
        posted: u64,
        available: u64,
    },
    Hold {
        id: String,
        amount: u64,
        posted: Option<u64>,
        status: HoldStatus,
    },
    Error(&'static str),
}

#[derive(Debug, Default, Clone, Copy)]
struct Acct {
    granted: u64,
    pending: u64,
    posted: u64,
}

impl Acct {
    fn available(&self) -> u64 {
        self.granted - self.posted - self.pending
    }
}

#[derive(Debug, Clone)]
struct MHold {
    account: String,
    amount: u64,
    posted: Option<u64>,
    status: HoldStatus,
}

#[derive(Debug, Clone, PartialEq)]
struct Used {
    op: &'static str,
    hold: Option<String>,
    amount: Option<u64>,
}

/// The reference model: plain maps, the rules spelled out one by one.
#[derive(Debug, Default)]
struct Model {
    accounts: BTreeMap<String, Acct>,
    holds: BTreeMap<String, MHold>,
    keys: BTreeMap<(String, String), Used>,
}

impl Model {
    fn balance(&self, account: &str) -> Answer {
        let a = self.accounts[account];
        Answer::Balance {
            granted: a.granted,
            pending: a.pending,
            posted: a.posted,
            available: a.available(),
        }
    }

    fn hold(&self, id: &str) -> Answer {
        let h = &self.holds[id];
        Answer::Hold {
            id: id.to_string(),
            amount: h.amount,
            posted: h.posted,
            status: h.status,
        }
    }

    /// `Some(answer)` when the key was used: the repeat's answer or a conflict.
    fn judge(&self, account: &str, k: &str, wanted: &Used, answer: Answer) -> Option<Answer> {
        let used = self.keys.get(&(account.to_string(), k.to_string()))?;
        let same = used.op == wanted.op
            && used.hold == wanted.hold
            && (wanted.amount.is_none() || used.amount == wanted.amount);
        Some(if same {
            answer
        } else {
            Answer::Error("conflict")
        })
    }

    fn apply(&mut self, op: &Op) -> Answer {
        match *op {
            Op::Grant { a, amount, k } => {
                let (acct, k) = (ACCOUNTS[a].to_string(), key(k));
                self.accounts.entry(acct.clone()).or_default();
                let wanted = Used {
                    op: "grant",
                    hold: None,
                    amount: Some(amount),
                };
                if let Some(ans) = self.judge(&acct, &k, &wanted, self.balance(&acct)) {
                    return ans;
                }
                self.accounts.get_mut(&acct).unwrap().granted += amount;
                self.keys.insert((acct.clone(), k), wanted);
                self.balance(&acct)
            }
            Op::Reserve { a, amount, k } => {
                let (acct, k) = (ACCOUNTS[a].to_string(), key(k));
                let Some(figures) = self.accounts.get(&acct).copied() else {
                    return Answer::Error("not_found");
                };
                let id = hold_id(&acct, &k);
                let wanted = Used {
                    op: "reserve",
                    hold: Some(id.clone()),
                    amount: Some(amount),
                };
                if self.keys.contains_key(&(acct.clone(), k.clone())) {
                    let current = self.holds.get(&id).map(|_| self.hold(&id));
                    return self
                        .judge(
                            &acct,
                            &k,
                            &wanted,
                            current.unwrap_or(Answer::Error("conflict")),
                        )
                        .unwrap();
                }
                if amount > figures.available() {
                    return Answer::Error("insufficient_credits");
                }
                self.accounts.get_mut(&acct).unwrap().pending += amount;
                self.holds.insert(
                    id.clone(),
                    MHold {
                        account: acct.clone(),
                        amount,
                        posted: None,
                        status: HoldStatus::Pending,
                    },
                );
                self.keys.insert((acct, k), wanted);
                self.hold(&id)
            }
            Op::Commit { a, hk, actual, k } => self.resolve(a, hk, Some(actual), k),
            Op::Release { a, hk, k } => self.resolve(a, hk, None, k),
        }
    }

    fn resolve(&mut self, a: usize, hk: usize, actual: Option<u64>, k: usize) -> Answer {
        let id = hold_id(ACCOUNTS[a], &key(hk));
        let Some(hold) = self.holds.get(&id).cloned() else {
            return Answer::Error("not_found");
        };
        let (acct, k) = (hold.account.clone(), key(k));
        let wanted = Used {
            op: if actual.is_some() {
                "commit"
            } else {
                "release"
            },
            hold: Some(id.clone()),
            amount: actual,
        };
        if let Some(ans) = self.judge(&acct, &k, &wanted, self.hold(&id)) {
            return ans;
        }
        if hold.status != HoldStatus::Pending {
            return Answer::Error("conflict");
        }
        let figures = self.accounts[&acct];
        if let Some(actual) = actual {
            if actual > hold.amount && actual - hold.amount > figures.available() {
                return Answer::Error("insufficient_credits");
            }
        }
        let f = self.accounts.get_mut(&acct).unwrap();
        f.pending -= hold.amount;
        f.posted += actual.unwrap_or(0);
        let h = self.holds.get_mut(&id).unwrap();
        h.status = if actual.is_some() {
            HoldStatus::Committed
        } else {
            HoldStatus::Released
        };
        h.posted = actual;
        // The journal keeps the released amount for a release; the model only needs to know
        // the key is taken.
        self.keys.insert((acct, k), wanted);
        self.hold(&id)
    }
}

async fn run_on_ledger(ledger: &dyn CreditLedger, op: &Op) -> Answer {
    let hold = |r: tuneloop::Result<tuneloop::credits::Hold>| match r {
        Ok(h) => Answer::Hold {
            id: h.id,
            amount: h.amount,
            posted: h.posted,
            status: h.status,
        },
        Err(e) => Answer::Error(e.code()),
    };
    match *op {
        Op::Grant { a, amount, k } => match ledger.grant(ACCOUNTS[a], amount, &key(k)).await {
            Ok(b) => Answer::Balance {
                granted: b.granted,
                pending: b.pending,
                posted: b.posted,
                available: b.available,
            },
            Err(e) => Answer::Error(e.code()),
        },
        Op::Reserve { a, amount, k } => hold(ledger.reserve(ACCOUNTS[a], amount, &key(k)).await),
        Op::Commit { a, hk, actual, k } => {
            let id = hold_id(ACCOUNTS[a], &key(hk));
            hold(ledger.commit(&id, actual, &key(k)).await)
        }
        Op::Release { a, hk, k } => {
            let id = hold_id(ACCOUNTS[a], &key(hk));
            hold(ledger.release(&id, &key(k)).await)
        }
    }
}

/// Runs `ops` on `ledger` and the model, checking answers and invariants after each step.
async fn check(ledger: &dyn CreditLedger, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model = Model::default();
    // Final states seen so far: a resolved hold must never change again.
    let mut resolved: BTreeMap<String, (HoldStatus, Option<u64>)> = BTreeMap::new();
    for (step, op) in ops.iter().enumerate() {
        let expected = model.apply(op);
        let got = run_on_ledger(ledger, op).await;
        prop_assert_eq!(&got, &expected, "step {} {:?}", step, op);
        for acct in ACCOUNTS {
            let Some(m) = model.accounts.get(acct) else {
                let missing = ledger.balance(acct).await;
                prop_assert!(
                    matches!(missing, Err(tuneloop::Error::NotFound { .. })),
                    "account {} should not exist: {:?}",
                    acct,
                    missing
                );
                continue;
            };
            let b = ledger.balance(acct).await.unwrap();
            prop_assert_eq!(
                (b.granted, b.pending, b.posted),
                (m.granted, m.pending, m.posted)
            );
            prop_assert_eq!(b.available + b.posted + b.pending, b.granted);
            let mut pending = 0;
            let mut posted = 0;
            for k in 0..KEYS {
                let id = hold_id(acct, &key(k));
                let h = ledger.get_hold(&id).await.unwrap();
                prop_assert_eq!(h.is_some(), model.holds.contains_key(&id));
                let Some(h) = h else { continue };
                match h.status {
                    HoldStatus::Pending => {
                        prop_assert!(!resolved.contains_key(&id), "hold {} reopened", id);
                        prop_assert_eq!(h.posted, None);
                        pending += h.amount;
                    }
                    status => {
                        let seen = resolved.entry(id.clone()).or_insert((status, h.posted));
                        prop_assert_eq!(*seen, (status, h.posted), "hold {} resolved twice", id);
                        prop_assert!(h.resolved_at.is_some());
                        posted += h.posted.unwrap_or(0);
                    }
                }
            }
            prop_assert_eq!((b.pending, b.posted), (pending, posted), "account {}", acct);
        }
    }
    Ok(())
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(op(), 1..40)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

#[test]
fn memory_ledger_matches_the_model() {
    let rt = runtime();
    TestRunner::new(config(256))
        .run(&ops(), |ops| {
            rt.block_on(async { check(&MemoryLedger::new(), &ops).await })
        })
        .unwrap();
}

fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("credits_model");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

#[test]
fn sqlite_ledger_matches_the_model() {
    static N: AtomicUsize = AtomicUsize::new(0);
    let rt = runtime();
    TestRunner::new(config(48))
        .run(&ops(), |ops| {
            rt.block_on(async {
                let path =
                    scratch().join(format!("m-{}.sqlite", N.fetch_add(1, Ordering::Relaxed)));
                let url = format!("sqlite://{}", path.display());
                let store = SqliteStore::open(&url, &OpenOptions::default())
                    .await
                    .unwrap();
                let ledger: Arc<dyn CreditLedger> = Arc::new(store.ledger());
                let out = check(&*ledger, &ops).await;
                store.close().await;
                let _ = std::fs::remove_file(&path);
                out
            })
        })
        .unwrap();
}

#[test]
fn postgres_ledger_matches_the_model() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if tuneloop::testing::postgres::test_url().is_none() {
        return;
    }
    TestRunner::new(config(8))
        .run(&ops(), |ops| {
            rt.block_on(async {
                let (ledger, _guard) = tuneloop::testing::postgres::fresh_ledger().await.unwrap();
                check(&*ledger, &ops).await
            })
        })
        .unwrap();
}
