//! `jishi bench` (no mode flag): the SQLite store's append and verify rates,
//! each against a baseline from the same run.
//!
//! * append: events/s through `EventStore::append_batch` (checks, canonical
//!   JSON, hashing, stream-version and idempotency look-ups), against a plain
//!   SQL INSERT of the very same rows into the same schema with no hashing;
//! * verify: events/s of `jishi verify`, against BLAKE3 over the same
//!   canonical bytes (each payload, and each tagged envelope) held in memory.

use std::time::Instant;

use anyhow::Context;
use jishi_ledger::row::StoredRow;
use jishi_ledger::verify::Quiet;
use jishi_ledger::{AppendRequest, EventStore, SqliteStore};

use super::harness::{bench_event, first_rows, per_s, table, HashOnly};

/// What to measure.
#[derive(Debug, Clone)]
pub struct SqliteBench {
    /// How many events to append.
    pub events: usize,
    /// Requests (one event each) per transaction.
    pub batch: usize,
    /// Print the figures as JSON.
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Figures {
    events: usize,
    batch: usize,
    append_per_s: f64,
    raw_insert_per_s: f64,
    append_ratio: f64,
    verify_per_s: f64,
    hash_only_per_s: f64,
    verify_ratio: f64,
    verify_with_tree_per_s: f64,
    verify_with_tree_ratio: f64,
    read_only_per_s: f64,
    check_in_memory_per_s: f64,
    check_in_memory_parallel_per_s: f64,
    one_shot_blake3_mib_per_s: f64,
    canonical_bytes: usize,
}

pub async fn run(args: &SqliteBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let store = SqliteStore::open(dir.path().join("bench.db"))?;
    let n = args.events;
    let batch = args.batch.max(1);
    let requests: Vec<AppendRequest> = (0..n).map(bench_event).collect();

    let bar = crate::output::progress(n as u64, "appending");
    let started = Instant::now();
    let mut it = requests.into_iter();
    loop {
        let chunk: Vec<_> = it.by_ref().take(batch).collect();
        if chunk.is_empty() {
            break;
        }
        let len = chunk.len() as u64;
        store
            .append_batch(chunk)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        bar.inc(len);
    }
    let append_per_s = per_s(n, started);
    bar.finish_and_clear();

    let started = Instant::now();
    let report = jishi_ledger::verify(&store, &Quiet).await?;
    let verify_per_s = per_s(n, started);
    anyhow::ensure!(
        report.is_ok(),
        "the bench ledger does not verify: {:?}",
        report.fault
    );
    // What `jishi verify` runs: the chain, and the Merkle tree rebuilt and
    // compared with the stored nodes and frontier.
    let started = Instant::now();
    let report = jishi_ledger::verify_with_proofs(&store, &Quiet).await?;
    let verify_with_tree_per_s = per_s(n, started);
    anyhow::ensure!(report.is_ok(), "the bench ledger's tree does not verify");

    // The same rows, read back once, for both baselines; timed too, since
    // reading is the part of verify that hashing cannot overlap away.
    let started = Instant::now();
    let rows = first_rows(&store, n as u64).await?;
    let read_only_per_s = per_s(n, started);

    let started = Instant::now();
    let mut checker = jishi_ledger::verify::ChainChecker::new(n as u64);
    for r in &rows {
        checker.check(r).map_err(|f| anyhow::anyhow!("{f}"))?;
    }
    let check_in_memory_per_s = per_s(n, started);
    // The same checks with each page's hashes and own-field checks made
    // first on every core (`hash_rows`), as verify makes them (D80), but
    // page after page rather than overlapped with the checks.
    let started = Instant::now();
    let mut checker = jishi_ledger::verify::ChainChecker::new(n as u64);
    for page in rows.chunks(4096) {
        let hashes = jishi_ledger::verify::hash_rows(page);
        for (r, h) in page.iter().zip(&hashes) {
            checker
                .check_hashed(r, h)
                .map_err(|f| anyhow::anyhow!("{f}"))?;
        }
    }
    let check_in_memory_parallel_per_s = per_s(n, started);
    // Baseline 1: BLAKE3 over the same canonical bytes, already in memory.
    let hash_only = HashOnly::of(&rows)?;

    // Baseline 2: a plain INSERT of the same rows into the same schema.
    let raw_path = dir.path().join("raw.db");
    drop(SqliteStore::open(&raw_path)?);
    let raw_insert_per_s =
        tokio::task::spawn_blocking(move || raw_insert(&raw_path, &rows, batch)).await??;

    let f = Figures {
        events: n,
        batch,
        append_per_s,
        raw_insert_per_s,
        append_ratio: append_per_s / raw_insert_per_s,
        verify_per_s,
        hash_only_per_s: hash_only.per_s,
        verify_ratio: verify_per_s / hash_only.per_s,
        verify_with_tree_per_s,
        verify_with_tree_ratio: verify_with_tree_per_s / hash_only.per_s,
        read_only_per_s,
        check_in_memory_per_s,
        check_in_memory_parallel_per_s,
        one_shot_blake3_mib_per_s: hash_only.one_shot_mib_per_s,
        canonical_bytes: hash_only.bytes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
    } else {
        print_figures(&f);
    }
    Ok(())
}

/// The append baseline: the same rows by a plain INSERT, no hashing.
fn raw_insert(path: &std::path::Path, rows: &[StoredRow], batch: usize) -> anyhow::Result<f64> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    let started = Instant::now();
    for chunk in rows.chunks(batch) {
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO events VALUES \
                 (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
            )?;
            for r in chunk {
                stmt.execute(rusqlite::params![
                    r.position,
                    r.stream,
                    r.stream_version,
                    r.event_id,
                    r.event_type,
                    r.schema_version,
                    r.occurred_at,
                    r.recorded_at,
                    r.actor_id,
                    r.actor_name,
                    r.actor_role,
                    r.actor_org,
                    std::str::from_utf8(&r.payload)?,
                    r.payload_digest,
                    r.prev_hash,
                    r.hash,
                    r.stream_prev,
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(per_s(rows.len(), started))
}

fn print_figures(f: &Figures) {
    let mut t = table(&["measure", "jishi", "baseline (same run)", "ratio"]);
    t.add_row(vec![
        format!("append, SQLite, batches of {}", f.batch),
        format!("{:.0} events/s", f.append_per_s),
        format!(
            "{:.0} events/s (plain INSERT, no hashing)",
            f.raw_insert_per_s
        ),
        format!("{:.2}", f.append_ratio),
    ]);
    t.add_row(vec![
        "verify, hash chain".to_string(),
        format!("{:.0} events/s", f.verify_per_s),
        format!(
            "{:.0} events/s (BLAKE3 of the same bytes)",
            f.hash_only_per_s
        ),
        format!("{:.2}", f.verify_ratio),
    ]);
    t.add_row(vec![
        "verify, chain and Merkle tree (jishi verify)".to_string(),
        format!("{:.0} events/s", f.verify_with_tree_per_s),
        format!("{:.0} events/s (the same)", f.hash_only_per_s),
        format!("{:.2}", f.verify_with_tree_ratio),
    ]);
    println!("{} events, {} canonical bytes", f.events, f.canonical_bytes);
    println!("{t}");
    println!(
        "verify's parts: reading rows {:.0} events/s, checking rows in memory {:.0} events/s \
         on one thread, {:.0} events/s with each page hashed on every core first (verify \
         overlaps all of them)",
        f.read_only_per_s, f.check_in_memory_per_s, f.check_in_memory_parallel_per_s
    );
    println!(
        "for reference: BLAKE3 over all canonical bytes in one call: {:.0} MiB/s",
        f.one_shot_blake3_mib_per_s
    );
}
