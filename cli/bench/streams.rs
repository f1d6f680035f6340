//! `jishi bench --streams`: what the stream-head map (format 3, D71–D72)
//! costs, on a ledger of `--events` events spread over `--stream-count`
//! streams. Issue 14 asks for 1,000,000 events and 100,000 streams.
//!
//! The map adds work in two places, and each is timed against the same work
//! without it, in the same run:
//! * **Per append.** The writer reads each stream's last hash along with its
//!   version (its `stream_prev`), and hashes the longer envelope. The two
//!   reads are timed on the same random streams, interleaved. Without the map
//!   the read was the version alone, a covering-index read; with it, the
//!   index plus the row. The two envelopes are hashed over the same events:
//!   `jishi.event.v2` with `stream_prev_hash`, and `jishi.event.v1` without.
//!   Both differences are given per event, against the append's own time per
//!   event.
//! * **Per checkpoint.** `jishi checkpoint` takes every stream's head from
//!   the verify walk that precedes signing (which keeps them anyway, to
//!   check each stream's chain), so what the map adds is its tree. The
//!   baseline is the rest of a checkpoint: the tree root at that size, and
//!   the note signed. One verify of the chain is given for scale.
//! * **Per export.** `jishi export` reads the heads at the checkpoint's
//!   size from the store (`stream_heads`), then builds the same tree.
//!
//! It also times the proofs an export carries: one candidate's stream, and
//! an election of 100 streams.

use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_ledger::canonical::{HashedEnvelope, EVENT_HASH_TAG, EVENT_HASH_TAG_V2};
use jishi_ledger::export::Selector;
use jishi_ledger::streams::StreamMap;
use jishi_ledger::verify::Quiet;
use jishi_ledger::{AppendRequest, EventStore, ProofStore, SignerKey, SqliteStore};

use super::harness::{bench_event, ms, table};

/// What to measure.
pub struct StreamsBench {
    pub events: usize,
    pub streams: usize,
    pub batch: usize,
    pub json: bool,
}

#[derive(Debug, serde::Serialize)]
struct StreamFigures {
    events: usize,
    streams: usize,
    append_per_s: f64,
    append_us_per_event: f64,
    tip_read_with_hash_us: f64,
    version_read_only_us: f64,
    hash_v2_us: f64,
    hash_v1_us: f64,
    /// (Δ read + Δ hash) / append time per event.
    append_cost_share: f64,
    stream_heads_ms: f64,
    map_build_ms: f64,
    checkpoint_without_map_ms: f64,
    verify_chain_ms: f64,
    candidate_proof_us: f64,
    candidate_proof_bytes: usize,
    election_proof_ms: f64,
    election_proof_bytes: usize,
    election_verify_ms: f64,
}

/// The `i`-th event of the ledger: bench_event's nomination, on stream
/// `i % streams`, so that a batch touches as many streams as it has events.
fn event(i: usize, streams: usize) -> AppendRequest {
    let mut r = bench_event(i);
    let s = i % streams;
    r.stream = format!("election/tianyuan-2021-e{:04}/candidate/c{s:06}", s / 100);
    r
}

/// A fixed LCG, so that every run samples the same streams.
fn sample(n: usize, below: usize) -> Vec<usize> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((x >> 11) % below as u64) as usize
        })
        .collect()
}

pub async fn run(b: &StreamsBench) -> anyhow::Result<()> {
    anyhow::ensure!(
        b.streams > 0 && b.events >= b.streams,
        "--stream-count must be at least 1 and at most --events"
    );
    let dir = tempfile::tempdir().context("temporary directory")?;
    let path = dir.path().join("streams.db");
    let store = SqliteStore::open(&path)?;
    let batch = b.batch.max(1);

    let bar = crate::output::progress(b.events as u64, "appending");
    let mut appending = Duration::ZERO;
    let mut done = 0;
    while done < b.events {
        let len = batch.min(b.events - done);
        let chunk: Vec<_> = (done..done + len).map(|i| event(i, b.streams)).collect();
        let started = Instant::now();
        store
            .append_batch(chunk)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        appending += started.elapsed();
        done += len;
        bar.inc(len as u64);
    }
    bar.finish_and_clear();
    let size = store.tree_size().await?;

    // Per append, the read: the stream's tip with its hash (format 3)
    // against its version alone (what the writer read before), on the same
    // streams, interleaved, through a second connection to the same file.
    let conn = rusqlite::Connection::open(&path)?;
    let names: Vec<String> = sample(20_000, b.streams)
        .into_iter()
        .map(|s| event(s, b.streams).stream)
        .collect();
    let (mut with_hash, mut version_only) = (Duration::ZERO, Duration::ZERO);
    {
        let mut tip = conn.prepare(
            "SELECT stream_version, hash FROM events WHERE stream = ?1 \
             ORDER BY stream_version DESC LIMIT 1",
        )?;
        let mut version = conn.prepare(
            "SELECT stream_version FROM events WHERE stream = ?1 \
             ORDER BY stream_version DESC LIMIT 1",
        )?;
        let mut check = 0i64;
        for (k, name) in names.iter().enumerate() {
            let tip_first = k % 2 == 0;
            for turn in 0..2 {
                let t = Instant::now();
                if (turn == 0) == tip_first {
                    let (v, h): (i64, Vec<u8>) =
                        tip.query_row([name], |r| Ok((r.get(0)?, r.get(1)?)))?;
                    with_hash += t.elapsed();
                    check ^= v ^ i64::from(h.first().copied().unwrap_or(0));
                } else {
                    let v: i64 = version.query_row([name], |r| r.get(0))?;
                    version_only += t.elapsed();
                    check ^= v;
                }
            }
        }
        tracing::debug!(check, "tip reads done");
    }

    // Per append, the hash: the same events' envelopes with and without
    // the stream predecessor.
    let rows = store.read_rows(1, 20_000).await?;
    let events: Vec<_> = rows
        .into_iter()
        .map(|r| r.into_event())
        .collect::<Result<_, _>>()?;
    let envelopes = |with_prev: bool| -> Vec<Vec<u8>> {
        events
            .iter()
            .map(|e| {
                let mut e = e.clone();
                let mut out = if with_prev {
                    EVENT_HASH_TAG_V2.to_vec()
                } else {
                    e.stream_prev = None;
                    EVENT_HASH_TAG.to_vec()
                };
                let id = e.event_id.hyphenated().to_string();
                HashedEnvelope::of(&e, &id).write_canonical(&mut out);
                out
            })
            .collect()
    };
    let (v2, v1) = (envelopes(true), envelopes(false));
    let time_hash = |set: &[Vec<u8>]| {
        let t = Instant::now();
        let mut check = 0u8;
        for e in set {
            check ^= blake3::hash(e).as_bytes()[0];
        }
        tracing::debug!(check, "hashed");
        t.elapsed()
    };
    let (mut h2, mut h1) = (Duration::ZERO, Duration::ZERO);
    for round in 0..5 {
        if round % 2 == 0 {
            h2 += time_hash(&v2);
            h1 += time_hash(&v1);
        } else {
            h1 += time_hash(&v1);
            h2 += time_hash(&v2);
        }
    }
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;
    let (tip_us, ver_us) = (per(with_hash, names.len()), per(version_only, names.len()));
    let (h2_us, h1_us) = (per(h2, 5 * v2.len()), per(h1, 5 * v1.len()));
    let append_us = per(appending, b.events);

    // Per checkpoint: the map, against the rest of a checkpoint.
    let t = Instant::now();
    let heads = store.stream_heads(size).await?;
    let stream_heads = t.elapsed();
    anyhow::ensure!(heads.len() == b.streams, "the map lacks streams");
    let t = Instant::now();
    let map = StreamMap::new(heads);
    let line = map.line();
    let map_build = t.elapsed();
    let key = SignerKey::from_seed("bench.example/log", &[1; 32])?;
    let t = Instant::now();
    let root = store.tree_root(size).await?;
    let body = jishi_ledger::Checkpoint::new("bench.example/log", size, root)?.to_body();
    let note = jishi_ledger::Note::sign(&body, &key)?;
    let without_map = t.elapsed();
    tracing::debug!(%note, streams = line.streams, "checkpoint made");
    let t = Instant::now();
    let report = jishi_ledger::verify(&store, &Quiet).await?;
    let verify_chain = t.elapsed();
    anyhow::ensure!(report.is_ok(), "the bench ledger does not verify");

    // The proofs an export carries.
    let candidate = Selector::Stream(event(b.streams / 2, b.streams).stream);
    let t = Instant::now();
    let one = map.prove_selector(&candidate);
    let candidate_proof = t.elapsed();
    let election = Selector::Prefix(format!(
        "election/tianyuan-2021-e{:04}",
        (b.streams / 2) / 100
    ));
    let t = Instant::now();
    let many = map.prove_selector(&election);
    let election_proof = t.elapsed();
    let t = Instant::now();
    for p in &many {
        p.verify(&line)
            .map_err(|e| anyhow::anyhow!("a bench range proof does not verify: {e}"))?;
    }
    let election_verify = t.elapsed();
    let f = StreamFigures {
        events: b.events,
        streams: b.streams,
        append_per_s: b.events as f64 / appending.as_secs_f64(),
        append_us_per_event: append_us,
        tip_read_with_hash_us: tip_us,
        version_read_only_us: ver_us,
        hash_v2_us: h2_us,
        hash_v1_us: h1_us,
        append_cost_share: ((tip_us - ver_us) + (h2_us - h1_us)) / append_us,
        stream_heads_ms: ms(stream_heads),
        map_build_ms: ms(map_build),
        checkpoint_without_map_ms: ms(without_map),
        verify_chain_ms: ms(verify_chain),
        candidate_proof_us: candidate_proof.as_secs_f64() * 1e6,
        candidate_proof_bytes: serde_json::to_vec(&one)?.len(),
        election_proof_ms: ms(election_proof),
        election_proof_bytes: serde_json::to_vec(&many)?.len(),
        election_verify_ms: ms(election_verify),
    };
    if b.json {
        println!("{}", serde_json::to_string_pretty(&f)?);
        return Ok(());
    }
    let mut t = table(&["measure", "with the map", "without (same run)", "ratio"]);
    t.add_row(vec![
        "per append: the stream's tip read".to_string(),
        format!("{tip_us:.2} µs (version and hash)"),
        format!("{ver_us:.2} µs (version only)"),
        format!("{:.2}", tip_us / ver_us),
    ]);
    t.add_row(vec![
        "per append: the envelope hashed".to_string(),
        format!("{h2_us:.2} µs (v2, stream_prev_hash)"),
        format!("{h1_us:.2} µs (v1)"),
        format!("{:.2}", h2_us / h1_us),
    ]);
    t.add_row(vec![
        "per append: both differences / the append's time".to_string(),
        format!(
            "{:.2} µs of {append_us:.1} µs",
            (tip_us - ver_us) + (h2_us - h1_us)
        ),
        String::new(),
        format!("{:.3}", f.append_cost_share),
    ]);
    t.add_row(vec![
        format!("per checkpoint: the map's tree over {} streams", b.streams),
        format!("{:.0} ms", f.map_build_ms),
        format!("{:.2} ms (root and signature)", f.checkpoint_without_map_ms),
        format!("{:.1}", f.map_build_ms / f.checkpoint_without_map_ms),
    ]);
    t.add_row(vec![
        "per checkpoint: the map's tree / one verify of the chain".to_string(),
        format!("{:.0} ms", f.map_build_ms),
        format!("{:.0} ms (verify)", f.verify_chain_ms),
        format!("{:.3}", f.map_build_ms / f.verify_chain_ms),
    ]);
    t.add_row(vec![
        "per export: the heads read from the store, and the tree".to_string(),
        format!(
            "{:.0} ms (read {:.0} ms)",
            f.stream_heads_ms + f.map_build_ms,
            f.stream_heads_ms
        ),
        format!("{:.0} ms (verify)", f.verify_chain_ms),
        format!(
            "{:.3}",
            (f.stream_heads_ms + f.map_build_ms) / f.verify_chain_ms
        ),
    ]);
    println!(
        "{} events on {} streams, SQLite, batches of {batch}: {:.0} events/s appended",
        b.events, b.streams, f.append_per_s
    );
    println!("{t}");
    println!(
        "export proofs: one candidate {:.0} µs, {} bytes; an election of {} streams {:.1} ms, {} \
         bytes, verified in {:.1} ms",
        f.candidate_proof_us,
        f.candidate_proof_bytes,
        many.iter().map(|p| p.streams.len()).sum::<usize>(),
        f.election_proof_ms,
        f.election_proof_bytes,
        f.election_verify_ms
    );
    Ok(())
}
