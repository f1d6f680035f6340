//! `jishi bench --tree`: what the Merkle tree costs, measured in one run.
//!
//! * append: the same events appended to two stores, one keeping the tree
//!   in its transactions and one with tree maintenance off
//!   ([`SqliteStore::with_tree`]), batch by batch in alternating order so
//!   that the machine's other load falls on both alike; the figure is the
//!   ratio of the two total times;
//! * proofs: in a ledger of `--proof-events` events, the median time to
//!   produce an inclusion proof through [`ProofStore::inclusion_proof`] (a
//!   real store call) and to verify it, over random positions.

use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_ledger::merkle::verify_inclusion;
use jishi_ledger::{EventStore, ProofStore, SqliteStore};

use super::harness::{bench_event, percentile, table};

/// What to measure.
#[derive(Debug, Clone)]
pub struct TreeBench {
    /// Events appended to each of the two stores.
    pub events: usize,
    /// Requests (one event each) per transaction.
    pub batch: usize,
    /// The size of the ledger proofs are measured in.
    pub proof_events: usize,
    /// Print the figures as JSON.
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct TreeFigures {
    events: usize,
    batch: usize,
    append_with_tree_per_s: f64,
    append_without_tree_per_s: f64,
    /// Time with the tree divided by time without: 1.05 means 5% dearer.
    tree_cost_ratio: f64,
    proof_ledger_events: u64,
    proofs_sampled: usize,
    inclusion_proof_median_us: f64,
    inclusion_proof_p99_us: f64,
    verify_inclusion_median_us: f64,
    proof_hashes: usize,
}

async fn append_chunk(store: &SqliteStore, from: usize, n: usize) -> anyhow::Result<Duration> {
    let chunk: Vec<_> = (from..from + n).map(bench_event).collect();
    let started = Instant::now();
    store
        .append_batch(chunk)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(started.elapsed())
}

pub async fn run(args: &TreeBench) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let with = SqliteStore::open(dir.path().join("with-tree.db"))?;
    let without = SqliteStore::open(dir.path().join("without-tree.db"))?.with_tree(false);
    let (n, batch) = (args.events, args.batch.max(1));

    let bar = crate::output::progress(2 * n as u64, "appending with and without the tree");
    let (mut t_with, mut t_without) = (Duration::ZERO, Duration::ZERO);
    let mut done = 0;
    while done < n {
        let len = batch.min(n - done);
        // Alternate which store goes first, so neither always runs on a warm cache.
        if (done / batch) % 2 == 0 {
            t_with += append_chunk(&with, done, len).await?;
            t_without += append_chunk(&without, done, len).await?;
        } else {
            t_without += append_chunk(&without, done, len).await?;
            t_with += append_chunk(&with, done, len).await?;
        }
        done += len;
        bar.inc(2 * len as u64);
    }
    bar.finish_and_clear();
    anyhow::ensure!(
        with.tree_size().await? == n as u64 && without.tree_size().await? == 0,
        "the bench stores did not keep (or skip) the tree as asked"
    );

    // Grow the tree-keeping ledger to the proof size.
    let target = args.proof_events.max(n);
    let bar = crate::output::progress((target - n) as u64, "growing the proof ledger");
    let mut size = n;
    while size < target {
        let len = 10_000.min(target - size);
        append_chunk(&with, size, len).await?;
        size += len;
        bar.inc(len as u64);
    }
    bar.finish_and_clear();
    let tree_size = with.tree_size().await?;
    let root = with.tree_root(tree_size).await?;

    // Random positions (a fixed LCG: the same sample every run).
    let samples = 2_000;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut gen_times = Vec::with_capacity(samples);
    let mut ver_times = Vec::with_capacity(samples);
    let mut proof_hashes = 0;
    for _ in 0..samples {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let leaf = (x >> 11) % tree_size;
        let started = Instant::now();
        let proof = with.inclusion_proof(leaf, tree_size).await?;
        gen_times.push(started.elapsed());
        let hash = with
            .read_all(leaf + 1, 1)
            .await?
            .first()
            .map(|e| e.hash)
            .context("the sampled event is missing")?;
        let started = Instant::now();
        verify_inclusion(&hash, leaf, tree_size, &proof.path, &root)
            .map_err(|e| anyhow::anyhow!("a bench proof does not verify: {e}"))?;
        ver_times.push(started.elapsed());
        proof_hashes = proof.path.len();
    }
    gen_times.sort_unstable();
    ver_times.sort_unstable();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let f = TreeFigures {
        events: n,
        batch,
        append_with_tree_per_s: n as f64 / t_with.as_secs_f64(),
        append_without_tree_per_s: n as f64 / t_without.as_secs_f64(),
        tree_cost_ratio: t_with.as_secs_f64() / t_without.as_secs_f64(),
        proof_ledger_events: tree_size,
        proofs_sampled: samples,
        inclusion_proof_median_us: us(percentile(&gen_times, 0.5)),
        inclusion_proof_p99_us: us(percentile(&gen_times, 0.99)),
        verify_inclusion_median_us: us(percentile(&ver_times, 0.5)),
        proof_hashes,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(());
    }
    let mut t = table(&["measure", "figure", "target"]);
    t.add_row(vec![
        format!("append, SQLite, batches of {batch}, with tree"),
        format!("{:.0} events/s", f.append_with_tree_per_s),
        String::new(),
    ]);
    t.add_row(vec![
        "append, same events, tree maintenance off".to_string(),
        format!("{:.0} events/s", f.append_without_tree_per_s),
        String::new(),
    ]);
    t.add_row(vec![
        "time with tree / time without".to_string(),
        format!("{:.3}", f.tree_cost_ratio),
        "< 1.10".to_string(),
    ]);
    t.add_row(vec![
        format!(
            "inclusion proof, {} events (median; p99)",
            f.proof_ledger_events
        ),
        format!(
            "{:.1} µs; {:.1} µs ({} hashes)",
            f.inclusion_proof_median_us, f.inclusion_proof_p99_us, f.proof_hashes
        ),
        "< 1000 µs".to_string(),
    ]);
    t.add_row(vec![
        "verify inclusion proof (median)".to_string(),
        format!("{:.1} µs", f.verify_inclusion_median_us),
        "< 1000 µs".to_string(),
    ]);
    println!("{t}");
    Ok(())
}
