//! The cost of one reserve + commit pair (two ledger transactions) on the memory ledger and
//! on the SQLite ledger (a file in WAL mode, synchronous=NORMAL). Each iteration uses fresh
//! keys, so every call does its full work. Run: `cargo bench -p tuneloop --bench credits`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tuneloop::credits::{CreditLedger, MemoryLedger};
use tuneloop::store::{OpenOptions, SqliteStore};

async fn pair(ledger: &dyn CreditLedger, n: u64) {
    let hold = ledger
        .reserve("bench", 10, &format!("r{n}"))
        .await
        .expect("reserve");
    ledger
        .commit(&hold.id, 7, &format!("c{n}"))
        .await
        .expect("commit");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (memory, sqlite): (Arc<dyn CreditLedger>, Arc<dyn CreditLedger>) = rt.block_on(async {
        let store = SqliteStore::open(&url, &OpenOptions::default())
            .await
            .expect("open");
        let memory: Arc<dyn CreditLedger> = Arc::new(MemoryLedger::new());
        let sqlite: Arc<dyn CreditLedger> = Arc::new(store.ledger());
        (memory, sqlite)
    });
    let n = AtomicU64::new(0);
    let mut g = c.benchmark_group("credits");
    for (name, ledger) in [("memory", &memory), ("sqlite", &sqlite)] {
        rt.block_on(ledger.grant("bench", u64::MAX >> 2, "g"))
            .expect("grant");
        g.bench_function(format!("reserve_commit_{name}"), |b| {
            b.iter(|| rt.block_on(pair(&**ledger, n.fetch_add(1, Ordering::Relaxed))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
