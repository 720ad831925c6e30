//! SQLite ingest limit: what a hand-written loader reaches on the same engine, schema, pragmas
//! and data as tuneloop's SqliteStore (see bench/ingest_sqlite.py).
//!
//! One prepared single-row `INSERT ... ON CONFLICT(id) DO NOTHING`, stepped per row inside a
//! `BEGIN IMMEDIATE` transaction per batch. The statement's change count tells a duplicate id
//! at no extra cost; only then is the stored content hash read, to tell an unchanged resend
//! from a conflict (tuneloop's duplicate rules). Feedback on an unknown response is rejected.
//! A background thread runs `PRAGMA wal_checkpoint(PASSIVE)` after each commit on its own
//! connection, as tuneloop's checkpointer task does.
//!
//! Like the other sides, it stores the responses untimed and parses the JSON before the clock
//! starts; it times turning each item into a row (variant, polarity, score, categories JSON,
//! timestamps, response lookup, SHA-256 of the line) and the inserts.
//! Prints `{"rows", "seconds", "rows_per_s", "inserted", "unchanged", "conflicts", "rejected"}`.
//!
//! Usage: sqlite-rusqlite-limit --responses R.jsonl --feedback F.jsonl --db PATH [--batch N]

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;
use sha2::{Digest, Sha256};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DAY: i64 = 86_400_000_000;

fn micros(text: &str) -> Result<i64, BoxError> {
    Ok(chrono::DateTime::parse_from_rfc3339(text)?.timestamp_micros())
}

fn read_jsonl(path: &str) -> Result<Vec<(Vec<u8>, Value)>, BoxError> {
    let text = std::fs::read(path)?;
    let mut out = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        out.push((line.to_vec(), serde_json::from_slice(line)?));
    }
    Ok(out)
}

/// The pragmas of tuneloop's SqliteStore (core/src/store/sqlite/mod.rs).
fn open(db: &str) -> Result<Connection, BoxError> {
    let con = Connection::open(db)?;
    con.execute_batch(
        "PRAGMA journal_mode=WAL;
         PRAGMA synchronous=NORMAL;
         PRAGMA foreign_keys=ON;
         PRAGMA busy_timeout=5000;
         PRAGMA temp_store=MEMORY;
         PRAGMA cache_size=-65536;
         PRAGMA wal_autocheckpoint=100000;",
    )?;
    Ok(con)
}

fn migrate(con: &Connection) -> Result<(), BoxError> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../core/migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .collect();
    files.sort();
    for f in files {
        con.execute_batch(&std::fs::read_to_string(f)?)?;
    }
    Ok(())
}

fn str_of<'a>(v: &'a Value, key: &str) -> Result<&'a str, BoxError> {
    v.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing `{key}`").into())
}

#[derive(Clone, Copy)]
struct ResponseRef {
    seq: i64,
    model_key: i64,
    created_at: i64,
}

fn main() -> Result<(), BoxError> {
    let mut responses = None;
    let mut feedback = None;
    let mut db = None;
    let mut batch = 10_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--responses" => responses = args.next(),
            "--feedback" => feedback = args.next(),
            "--db" => db = args.next(),
            "--batch" => batch = args.next().ok_or("--batch needs a value")?.parse()?,
            other => return Err(format!("unknown argument `{other}`").into()),
        }
    }
    let (Some(responses), Some(feedback), Some(db)) = (responses, feedback, db) else {
        return Err("usage: --responses FILE --feedback FILE --db PATH [--batch N]".into());
    };
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{db}{suffix}"));
    }
    let mut con = open(&db)?;
    migrate(&con)?;
    let responses = read_jsonl(&responses)?;
    let feedback = read_jsonl(&feedback)?;

    // Models, then responses (which reference them), untimed.
    let mut models: HashMap<String, i64> = HashMap::new();
    for (_, r) in &responses {
        let next = models.len() as i64 + 1;
        models
            .entry(str_of(r, "model_id")?.to_owned())
            .or_insert(next);
    }
    let mut refs: HashMap<String, ResponseRef> = HashMap::with_capacity(responses.len());
    {
        let tx = con.transaction()?;
        {
            let mut ins = tx.prepare("INSERT INTO models (key, model_id) VALUES (?, ?)")?;
            for (m, k) in &models {
                ins.execute(params![k, m])?;
            }
            let mut ins = tx.prepare(
                "INSERT INTO responses (seq, id, model_key, query, response, conversation, \
                 metadata, created_at, day, content_hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
            )?;
            for (seq, (line, r)) in responses.iter().enumerate() {
                let seq = seq as i64 + 1;
                let key = models[str_of(r, "model_id")?];
                let created = micros(str_of(r, "created_at")?)?;
                let json = |k: &str| r.get(k).filter(|v| !v.is_null()).map(Value::to_string);
                ins.execute(params![
                    seq,
                    str_of(r, "id")?,
                    key,
                    str_of(r, "query")?,
                    str_of(r, "response")?,
                    json("conversation"),
                    json("metadata"),
                    created,
                    created.div_euclid(DAY),
                    Sha256::digest(line).to_vec(),
                ])?;
                refs.insert(
                    str_of(r, "id")?.to_owned(),
                    ResponseRef {
                        seq,
                        model_key: key,
                        created_at: created,
                    },
                );
            }
        }
        tx.commit()?;
    }

    // The checkpointer: woken after each commit, on its own connection.
    let (wake, woken) = mpsc::channel::<()>();
    let checkpoint_db = db.clone();
    let checkpointer = std::thread::spawn(move || -> Result<(), rusqlite::Error> {
        let con = Connection::open(checkpoint_db)?;
        con.busy_timeout(std::time::Duration::from_secs(5))?;
        while woken.recv().is_ok() {
            con.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        }
        Ok(())
    });

    let (mut inserted, mut unchanged, mut conflicts, mut rejected) = (0u64, 0u64, 0u64, 0u64);
    let start = Instant::now();
    let mut seq = 0i64;
    for chunk in feedback.chunks(batch) {
        let tx = con.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut ins = tx.prepare_cached(
                "INSERT INTO feedback (seq, id, response_seq, model_key, response_created_at, \
                 response_day, variant, thumbs_up, rating, polarity, score, categories, comment, \
                 correction, user_id, created_at, content_hash) \
                 VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO NOTHING",
            )?;
            let mut stored_hash =
                tx.prepare_cached("SELECT content_hash FROM feedback WHERE id = ?")?;
            for (line, f) in chunk {
                let Some(r) = f
                    .get("response_id")
                    .and_then(Value::as_str)
                    .and_then(|id| refs.get(id))
                    .copied()
                else {
                    rejected += 1;
                    continue;
                };
                let up = f.get("thumbs_up").and_then(Value::as_bool);
                let rating = f.get("rating").and_then(Value::as_i64);
                let (polarity, score) = match rating {
                    None => (
                        if up == Some(true) { 1 } else { -1 },
                        f64::from(u8::from(up == Some(true))),
                    ),
                    Some(r) => (
                        if r <= 2 {
                            -1
                        } else if r == 3 {
                            0
                        } else {
                            1
                        },
                        (r - 1) as f64 / 4.0,
                    ),
                };
                let variant = match str_of(f, "variant")? {
                    "thumbs" => 0,
                    "stars" => 1,
                    _ => 2,
                };
                let categories = f
                    .get("categories")
                    .filter(|c| c.as_array().is_some_and(|a| !a.is_empty()))
                    .map(Value::to_string);
                let hash = Sha256::digest(line).to_vec();
                let id = str_of(f, "id")?;
                seq += 1;
                let changed = ins.execute(params![
                    seq,
                    id,
                    r.seq,
                    r.model_key,
                    r.created_at,
                    r.created_at.div_euclid(DAY),
                    variant,
                    up,
                    rating,
                    polarity,
                    score,
                    categories,
                    f.get("comment").and_then(Value::as_str),
                    f.get("correction").and_then(Value::as_str),
                    f.get("user_id").and_then(Value::as_str),
                    micros(str_of(f, "created_at")?)?,
                    hash,
                ])?;
                if changed == 1 {
                    inserted += 1;
                    continue;
                }
                seq -= 1;
                let stored: Option<Vec<u8>> =
                    stored_hash.query_row([id], |row| row.get(0)).optional()?;
                if stored.as_deref() == Some(hash.as_slice()) {
                    unchanged += 1;
                } else {
                    conflicts += 1;
                }
            }
        }
        tx.commit()?;
        let _ = wake.send(());
    }
    let seconds = start.elapsed().as_secs_f64();
    drop(wake);
    checkpointer.join().map_err(|_| "checkpointer panicked")??;
    let rows: i64 = con.query_row("SELECT COUNT(*) FROM feedback", [], |r| r.get(0))?;
    if rows as u64 != inserted {
        return Err(format!("counted {rows} rows, inserted {inserted}").into());
    }
    println!(
        "{}",
        serde_json::json!({
            "rows": feedback.len(),
            "seconds": seconds,
            "rows_per_s": feedback.len() as f64 / seconds,
            "inserted": inserted,
            "unchanged": unchanged,
            "conflicts": conflicts,
            "rejected": rejected,
        })
    );
    Ok(())
}
