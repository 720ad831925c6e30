//! Redaction throughput on chat-like messages, mostly without PII (target ≥ 200 MB/s per
//! core). The side-by-side comparison with Python `re` is bench/redact_vs_python_re.sh.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tuneloop::dataset::redact::{RedactionConfig, RedactionCounts, Redactor};

const WORDS: &[&str] = &[
    "the", "a", "to", "is", "my", "order", "refund", "account", "password", "reset", "help",
    "please", "thanks", "error", "model", "answer", "wrong", "shipping", "invoice", "billing",
    "upgrade", "latency", "support", "ticket", "delivery", "payment", "cancel", "today",
];
const EXTRAS: &[&str] = &[
    "on 2024-03-15",
    "at 10:30",
    "for $19.99",
    "order #48213377",
    "version 2.4.1",
    "in 12 days",
];
const PII: &[&str] = &[
    "jane.doe@example.com",
    "+44 20 7946 0958",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "192.168.1.20",
    "123-45-6789",
    "sk-proj-AbCdEfGhIjKlMnOpQrStUv1234",
];

/// About 2 MB of messages; 2% carry one PII item.
fn corpus() -> Vec<String> {
    let mut next = tuneloop::testing::xorshift(0x5EED);
    let mut pick = |n: usize| (next() % n as u64) as usize;
    let mut lines = Vec::new();
    let mut size = 0;
    while size < 2_000_000 {
        let mut words: Vec<&str> = (0..8 + pick(20))
            .map(|_| WORDS[pick(WORDS.len())])
            .collect();
        if pick(2) == 0 {
            words.insert(pick(words.len()), EXTRAS[pick(EXTRAS.len())]);
        }
        if pick(50) == 0 {
            words.insert(pick(words.len()), PII[pick(PII.len())]);
        }
        let line = words.join(" ");
        size += line.len() + 1;
        lines.push(line);
    }
    lines
}

fn bench(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
    let redactor = Redactor::new(&RedactionConfig::default()).expect("default config");
    let mut g = c.benchmark_group("redact");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes as u64));
    g.bench_function("chat_2mb_2pct_pii", |b| {
        b.iter(|| {
            let mut counts = RedactionCounts::default();
            lines
                .iter()
                .map(|l| redactor.redact(l, &mut counts).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
