//! `jishi bench --postgres URL`: append throughput and latency of the
//! PostgreSQL store through group commit, against plain multi-row INSERTs of
//! the same rows without hashing, measured in the same run (DESIGN.md §7).
//!
//! For each writer count, in a fresh schema each:
//! * **ledger**: `writers` tasks append `batch` events per call (one: the
//!   recorder's step; more: an import), through everything a recorder's
//!   append goes through (prepare, canonicalise, digest, group commit, hash
//!   chain, Merkle tree);
//! * **baseline** (the target's, D40): the very rows the ledger stored (read
//!   back, so nothing is hashed) are inserted by as many connections as
//!   there were writers, each call's rows as one `INSERT … SELECT FROM
//!   unnest(…)`, which outside BEGIN … COMMIT is a transaction of its own
//!   (one round trip): what the same writers would get by writing the same
//!   calls straight into PostgreSQL;
//! * **same transactions**: the same rows in transactions as large as the
//!   ledger's groups were on average, by as many connections in parallel.
//!   This hands the baseline the ledger's own batching across callers *and*
//!   PostgreSQL's sharing of WAL flushes between concurrent transactions,
//!   which a hash chain cannot have (each link needs the one before it);
//! * **serial**: the ledger's transactions on one connection, one at a time
//!   as a hash chain must commit: this column isolates the ledger's own
//!   overhead per transaction.
//! * **ceiling** (issue 18): PostgreSQL's ingest ceiling for the same rows,
//!   1,000 rows per transaction (one multi-row INSERT) from 2 connections,
//!   no hashing: what the server takes in at most, whoever writes.
//!
//! The ledger's runs are attested with a fresh Ed25519 recording key (D69),
//! as a production ledger is, and commit as the store does by default
//! (asynchronously, acknowledged after the flush, D83) unless
//! `--pg-synchronous`.
//!
//! A run stops at `events` or after `max_seconds`, whichever comes first, so
//! that the single-writer case (one fsync per event) stays bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::{EventStore, RecordedEvent};

use super::harness::{connect, ledger_run, medians, ms, PgBench, Run, Schema};

/// Runs every writer count and prints one line each.
pub async fn run(bench: &PgBench) -> anyhow::Result<()> {
    println!(
        "PostgreSQL append: up to {} events per run, {} per call, at most {:.0} s per run, \
         group commit max {} requests / {:?} wait",
        bench.events,
        bench.batch.max(1),
        bench.max_seconds,
        bench.group_commit.max_requests,
        bench.group_commit.max_wait
    );
    println!(
        "{:>7} {:>9} {:>12} {:>8} {:>8} {:>6} {:>14} {:>6} {:>8} {:>12} {:>6} {:>12} {:>6} {:>12} {:>6}",
        "writers",
        "events",
        "ledger ev/s",
        "p50 ms",
        "p99 ms",
        "group",
        "baseline ev/s",
        "ratio",
        "p99 ms",
        "same-tx ev/s",
        "ratio",
        "serial ev/s",
        "ratio",
        "ceiling ev/s",
        "ratio"
    );
    let mut where_time_goes = Vec::new();
    for &writers in &bench.writers {
        let mut rounds = Vec::with_capacity(bench.rounds);
        for _ in 0..bench.rounds.max(1) {
            let round = one_round(bench, writers).await?;
            println!("{}", round.line(writers));
            where_time_goes.push(round.where_time_goes(writers));
            rounds.push(round);
        }
        if rounds.len() > 1 {
            println!("{}", Round::median_line(&rounds, writers));
        }
    }
    println!(
        "group: mean events per ledger transaction; baseline (the target's): the same rows, \
         plain INSERT … SELECT FROM unnest, no hashing, by as many connections as writers, each \
         call's rows in a transaction of its own (p99: per call); same-tx: the same rows in \
         transactions of the ledger's group size, as many connections in parallel; serial: \
         those transactions on one connection, one at a time as a hash chain must commit; \
         ceiling: the same rows, {CEILING_ROWS} per transaction from {CEILING_WRITERS} \
         connections (PostgreSQL's ingest ceiling)"
    );
    println!(
        "ledger transactions (one round trip: planned from the known head):\n  {}",
        where_time_goes.join("\n  ")
    );
    Ok(())
}

/// One measurement of a writer count: the ledger, then the same rows as each
/// baseline (see the module docs).
struct Round {
    ledger: Run,
    /// Each writer's call as its own transaction (the target's baseline).
    calls: Run,
    /// Transactions of the ledger's mean group size, in parallel.
    same_tx: Run,
    /// The same, one connection.
    serial: Run,
    /// PostgreSQL's ingest ceiling for the same rows.
    ceiling: Run,
    per_tx: usize,
}

/// Rows per transaction of the ingest ceiling (issue 18).
const CEILING_ROWS: usize = 1_000;
/// Connections of the ingest ceiling (issue 18).
const CEILING_WRITERS: usize = 2;
/// Most connections the per-call and same-transactions baselines open.
const MAX_BASELINE_CONNECTIONS: usize = 64;

async fn one_round(bench: &PgBench, writers: usize) -> anyhow::Result<Round> {
    let ledger_schema = Schema::create(&bench.url, "ledger", writers).await?;
    let ledger = ledger_run(bench, &ledger_schema, writers).await?;
    let store = PostgresStore::open_with(ledger_schema.config()?, PgOptions::default()).await?;
    let rows = store.read_all(1, usize::MAX).await?;
    drop(store);
    ledger_schema.drop().await?;

    let rows = Arc::new(rows);
    let per_tx = ledger.mean_group.round().max(1.0) as usize;
    // One connection per writer, up to what a default server admits.
    let connections = writers.min(MAX_BASELINE_CONNECTIONS);
    if connections < writers {
        println!(
            "(baseline and same-tx with {connections} connections, not {writers}: a default \
             server admits 100; serial and ceiling are as always)"
        );
    }
    let calls = baseline_run(bench, "calls", connections, &rows, bench.batch.max(1)).await?;
    let same_tx = baseline_run(bench, "same_tx", connections, &rows, per_tx).await?;
    let serial = baseline_run(bench, "serial", 1, &rows, per_tx).await?;
    let ceiling = baseline_run(bench, "ceiling", CEILING_WRITERS, &rows, CEILING_ROWS).await?;
    Ok(Round {
        ledger,
        calls,
        same_tx,
        serial,
        ceiling,
        per_tx,
    })
}

/// How many columns [`Round::columns`] gives.
const COLUMNS_PRINTED: usize = 14;

/// One line of the results table (see [`Round::columns`]).
fn result_line(writers: usize, c: [f64; COLUMNS_PRINTED], label: &str) -> String {
    format!(
        "{writers:>7} {:>9.0} {:>12.0} {:>8.2} {:>8.2} {:>6.1} {:>14.0} {:>5.0}% {:>8.2} {:>12.0} {:>5.0}% {:>12.0} {:>5.0}% {:>12.0} {:>5.0}%{label}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13]
    )
}

impl Round {
    /// The ledger's rate as a percentage of a baseline's.
    fn percent_of(&self, baseline: &Run) -> f64 {
        100.0 * self.ledger.rate() / baseline.rate().max(1e-9)
    }

    /// The printed columns after `writers`: events, ledger rate, p50 and
    /// p99 in ms, events per transaction; the baseline's rate, ratio (%) and
    /// p99 per call; the same-transactions rate and ratio; the serial rate
    /// and ratio; the ingest ceiling's rate and ratio.
    fn columns(&self) -> [f64; COLUMNS_PRINTED] {
        [
            self.ledger.events as f64,
            self.ledger.rate(),
            ms(self.ledger.percentile(0.50)),
            ms(self.ledger.percentile(0.99)),
            self.ledger.mean_group,
            self.calls.rate(),
            self.percent_of(&self.calls),
            ms(self.calls.percentile(0.99)),
            self.same_tx.rate(),
            self.percent_of(&self.same_tx),
            self.serial.rate(),
            self.percent_of(&self.serial),
            self.ceiling.rate(),
            self.percent_of(&self.ceiling),
        ]
    }

    fn line(&self, writers: usize) -> String {
        result_line(writers, self.columns(), "")
    }

    /// Medians over the rounds, each column on its own (the ratios are the
    /// medians of each round's ratio, not ratios of medians).
    fn median_line(rounds: &[Round], writers: usize) -> String {
        let columns: Vec<[f64; COLUMNS_PRINTED]> = rounds.iter().map(Round::columns).collect();
        result_line(
            writers,
            medians(&columns),
            &format!("  median of {} rounds", rounds.len()),
        )
    }

    fn where_time_goes(&self, writers: usize) -> String {
        let serial_tx = self.serial.elapsed.as_secs_f64() * self.per_tx as f64
            / self.serial.events.max(1) as f64;
        format!(
            "{writers} writers: {:.1}% in one round trip; {} commit, {:.2} forced WAL flushes \
             per transaction; per transaction {:.3} ms gathering callers + {:.3} ms committing, \
             of which {:.3} ms planning (serial baseline: {:.3} ms per transaction)",
            100.0 * self.ledger.from_known,
            if self.ledger.asynchronous {
                "asynchronous"
            } else {
                "synchronous"
            },
            self.ledger.flushes_per_tx,
            self.ledger.gather_per_tx.as_secs_f64() * 1e3,
            self.ledger.commit_per_tx.as_secs_f64() * 1e3,
            self.ledger.plan_per_tx.as_secs_f64() * 1e3,
            serial_tx * 1e3,
        )
    }
}

/// Inserts `rows`, `per_tx` to a transaction, by `writers` connections, in
/// a fresh schema of its own (`kind` names it) with the ledger's table,
/// indexes and triggers.
async fn baseline_run(
    bench: &PgBench,
    kind: &str,
    writers: usize,
    rows: &Arc<Vec<RecordedEvent>>,
    per_tx: usize,
) -> anyhow::Result<Run> {
    let schema = Schema::create(&bench.url, kind, writers).await?;
    let run = baseline_in(&schema, writers, rows, per_tx).await;
    schema.drop().await?;
    run
}

async fn baseline_in(
    schema: &Schema,
    writers: usize,
    rows: &Arc<Vec<RecordedEvent>>,
    per_tx: usize,
) -> anyhow::Result<Run> {
    drop(PostgresStore::open_with(schema.config()?, PgOptions::default()).await?);
    let chunks = rows.len().div_ceil(per_tx);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..writers {
        clients.push(connect(&schema.config()?).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in clients {
        let (rows, next) = (rows.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let insert = client
                .prepare(jishi_ledger::postgres::INSERT_EVENTS)
                .await?;
            let mut latencies = Vec::new();
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let chunk = &rows[c * per_tx..((c + 1) * per_tx).min(rows.len())];
                // One statement outside BEGIN … COMMIT is a transaction of
                // its own: one round trip, as the ledger's group takes.
                let t0 = Instant::now();
                jishi_ledger::postgres::insert_rows(&client, &insert, chunk).await?;
                latencies.push(t0.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("baseline writer task")??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(Run {
        events: rows.len(),
        elapsed,
        latencies,
        mean_group: per_tx as f64,
        from_known: 0.0,
        gather_per_tx: Duration::ZERO,
        commit_per_tx: Duration::ZERO,
        plan_per_tx: Duration::ZERO,
        flushes_per_tx: 0.0,
        asynchronous: false,
    })
}
