//! `jishi bench --postgres URL`: append throughput and latency of the
//! PostgreSQL store through group commit, against plain multi-row INSERTs of
//! the same rows without hashing, measured in the same run (DESIGN.md §7).
//!
//! For each writer count, in a fresh schema each:
//! * **ledger**: `writers` tasks append one event per call (the recorder's
//!   workload: prepare, canonicalise, digest, group commit, hash chain);
//! * **baseline**: the very rows the ledger stored (read back, so nothing is
//!   hashed) are inserted by as many connections with `INSERT … SELECT FROM
//!   unnest(…)`, each transaction holding as many rows as the ledger's groups
//!   held on average in that run: the same transactions, minus what the
//!   ledger adds (planning, hashing, the head lock, idempotency look-ups);
//! * **serial baseline**: the same, on one connection. A hash chain commits
//!   one transaction at a time (each needs the previous hash, durably), so it
//!   cannot share fsyncs between concurrent transactions as the parallel
//!   baseline does; this column isolates the ledger's own overhead.
//!
//! A run stops at `events` or after `max_seconds`, whichever comes first, so
//! that the single-writer case (one fsync per event) stays bounded.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_ledger::postgres::tokio_postgres::{self, NoTls};
use jishi_ledger::postgres::{GroupCommit, PgOptions, PostgresStore};
use jishi_ledger::{EventStore, RecordedEvent};

/// What to measure.
#[derive(Debug, Clone)]
pub struct PgBench {
    pub url: String,
    pub events: usize,
    pub writers: Vec<usize>,
    pub max_seconds: f64,
    /// Events each writer appends per call (one `append_batch` of that many
    /// one-event requests): 1 is a recorder's step, more is an import.
    pub batch: usize,
    /// The group-commit settings under test.
    pub group_commit: GroupCommit,
    /// Times each writer count is measured (ledger, serial and parallel
    /// baseline again each time); the summary is the median.
    pub rounds: usize,
}

impl PgBench {
    pub fn new(url: String) -> Self {
        PgBench {
            url,
            events: 200_000,
            writers: vec![1, 8, 32],
            max_seconds: 60.0,
            batch: 1,
            group_commit: GroupCommit::default(),
            rounds: 1,
        }
    }
}

/// One measured run.
struct Run {
    events: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    mean_group: f64,
    /// Share of the ledger's transactions planned from what the writer knew
    /// (one round trip, see `jishi_ledger::postgres`).
    from_known: f64,
    /// Mean time per ledger transaction the writer spent gathering callers
    /// and committing (see `GroupStats`); zero for the baselines.
    gather_per_tx: Duration,
    commit_per_tx: Duration,
    plan_per_tx: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

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
        "{:>7} {:>9} {:>12} {:>8} {:>8} {:>6} {:>14} {:>6} {:>12} {:>6}",
        "writers",
        "events",
        "ledger ev/s",
        "p50 ms",
        "p99 ms",
        "group",
        "baseline ev/s",
        "ratio",
        "serial ev/s",
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
        "group: mean events per ledger transaction; baseline: the same rows, same number of \
         connections in parallel, same rows per transaction, plain INSERT … SELECT FROM unnest, \
         no hashing; serial: the same on one connection (one transaction at a time, as a hash \
         chain must commit)"
    );
    println!(
        "ledger transactions (one round trip: planned from the known head):\n  {}",
        where_time_goes.join("\n  ")
    );
    Ok(())
}

/// One measurement of a writer count: the ledger, then the same rows as the
/// serial and as the parallel baseline.
struct Round {
    ledger: Run,
    serial: Run,
    parallel: Run,
    per_tx: usize,
}

async fn one_round(bench: &PgBench, writers: usize) -> anyhow::Result<Round> {
    let ledger_schema = Schema::create(&bench.url, "ledger", writers).await?;
    let ledger = ledger_run(bench, &ledger_schema, writers).await?;
    let store = PostgresStore::open_with(ledger_schema.config()?, PgOptions::default()).await?;
    let rows = store.read_all(1, usize::MAX).await?;
    drop(store);
    ledger_schema.drop().await?;

    let per_tx = ledger.mean_group.round().max(1.0) as usize;
    let serial_schema = Schema::create(&bench.url, "serial", writers).await?;
    let serial = baseline_run(&serial_schema, 1, rows.clone(), per_tx).await?;
    serial_schema.drop().await?;
    let base_schema = Schema::create(&bench.url, "baseline", writers).await?;
    let parallel = baseline_run(&base_schema, writers, rows, per_tx).await?;
    base_schema.drop().await?;
    Ok(Round {
        ledger,
        serial,
        parallel,
        per_tx,
    })
}

/// One line of the results table (see [`Round::columns`]).
fn result_line(writers: usize, c: [f64; 9], label: &str) -> String {
    format!(
        "{writers:>7} {:>9.0} {:>12.0} {:>8.2} {:>8.2} {:>6.1} {:>14.0} {:>5.0}% {:>12.0} {:>5.0}%{label}",
        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

impl Round {
    fn parallel_ratio(&self) -> f64 {
        self.ledger.rate() / self.parallel.rate().max(1e-9)
    }

    fn serial_ratio(&self) -> f64 {
        self.ledger.rate() / self.serial.rate().max(1e-9)
    }

    /// The printed columns after `writers`: events, ledger rate, p50 and
    /// p99 in ms, events per transaction, parallel rate and ratio (%),
    /// serial rate and ratio (%).
    fn columns(&self) -> [f64; 9] {
        [
            self.ledger.events as f64,
            self.ledger.rate(),
            self.ledger.percentile(0.50).as_secs_f64() * 1e3,
            self.ledger.percentile(0.99).as_secs_f64() * 1e3,
            self.ledger.mean_group,
            self.parallel.rate(),
            100.0 * self.parallel_ratio(),
            self.serial.rate(),
            100.0 * self.serial_ratio(),
        ]
    }

    fn line(&self, writers: usize) -> String {
        result_line(writers, self.columns(), "")
    }

    /// Medians over the rounds, each column on its own (the ratios are the
    /// medians of each round's ratio, not ratios of medians).
    fn median_line(rounds: &[Round], writers: usize) -> String {
        let columns: Vec<[f64; 9]> = rounds.iter().map(Round::columns).collect();
        let medians = std::array::from_fn(|i| median(columns.iter().map(|c| c[i]).collect()));
        result_line(
            writers,
            medians,
            &format!("  median of {} rounds", rounds.len()),
        )
    }

    fn where_time_goes(&self, writers: usize) -> String {
        let serial_tx = self.serial.elapsed.as_secs_f64() * self.per_tx as f64
            / self.serial.events.max(1) as f64;
        format!(
            "{writers} writers: {:.1}% in one round trip; per transaction {:.3} ms gathering \
             callers + {:.3} ms committing, of which {:.3} ms planning (serial baseline: {:.3} ms \
             per transaction)",
            100.0 * self.ledger.from_known,
            self.ledger.gather_per_tx.as_secs_f64() * 1e3,
            self.ledger.commit_per_tx.as_secs_f64() * 1e3,
            self.ledger.plan_per_tx.as_secs_f64() * 1e3,
            serial_tx * 1e3,
        )
    }
}

async fn ledger_run(bench: &PgBench, schema: &Schema, writers: usize) -> anyhow::Result<Run> {
    let store = PostgresStore::open_with(
        schema.config()?,
        PgOptions {
            group_commit: bench.group_commit,
            ..PgOptions::default()
        },
    )
    .await?;
    let next = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(bench.max_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let (store, next, total) = (store.clone(), next.clone(), bench.events);
        let batch = bench.batch.max(1);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut events = 0usize;
            loop {
                let i = next.fetch_add(batch, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                let requests: Vec<_> = (i..(i + batch).min(total))
                    .map(crate::bench::bench_event)
                    .collect();
                events += requests.len();
                let t0 = Instant::now();
                store.append_batch(requests).await?;
                latencies.push(t0.elapsed());
            }
            anyhow::Ok((latencies, events))
        }));
    }
    let mut latencies = Vec::new();
    let mut events = 0;
    for t in tasks {
        let (l, n) = t.await.context("ledger writer task")??;
        latencies.extend(l);
        events += n;
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let stats = store.group_stats();
    Ok(Run {
        events,
        elapsed,
        latencies,
        mean_group: events as f64 / stats.transactions.max(1) as f64,
        from_known: stats.from_known as f64 / stats.transactions.max(1) as f64,
        gather_per_tx: stats.gather.div_f64(stats.transactions.max(1) as f64),
        commit_per_tx: stats.commit.div_f64(stats.transactions.max(1) as f64),
        plan_per_tx: stats.plan.div_f64(stats.from_known.max(1) as f64),
    })
}

async fn baseline_run(
    schema: &Schema,
    writers: usize,
    rows: Vec<RecordedEvent>,
    per_tx: usize,
) -> anyhow::Result<Run> {
    // The same table, indexes and triggers as the ledger's.
    drop(PostgresStore::open_with(schema.config()?, PgOptions::default()).await?);
    let rows = Arc::new(rows);
    let chunks = rows.len().div_ceil(per_tx);
    let next = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..writers {
        clients.push(connect(&schema.config()?).await?);
    }
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut client in clients {
        let (rows, next) = (rows.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let insert = client
                .prepare(jishi_ledger::postgres::INSERT_EVENTS)
                .await?;
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let chunk = &rows[c * per_tx..((c + 1) * per_tx).min(rows.len())];
                let tx = client.transaction().await?;
                jishi_ledger::postgres::insert_rows(&tx, &insert, chunk).await?;
                tx.commit().await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await.context("baseline writer task")??;
    }
    Ok(Run {
        events: rows.len(),
        elapsed: started.elapsed(),
        latencies: Vec::new(),
        mean_group: per_tx as f64,
        from_known: 0.0,
        gather_per_tx: Duration::ZERO,
        commit_per_tx: Duration::ZERO,
        plan_per_tx: Duration::ZERO,
    })
}

async fn connect(config: &tokio_postgres::Config) -> anyhow::Result<tokio_postgres::Client> {
    let (client, conn) = config
        .connect(NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::warn!(error = %e, "benchmark connection");
        }
    });
    Ok(client)
}

/// A throw-away schema for one run.
pub(crate) struct Schema {
    url: String,
    pub(crate) name: String,
}

impl Schema {
    pub(crate) async fn create(url: &str, kind: &str, writers: usize) -> anyhow::Result<Schema> {
        let name = format!("jishi_bench_{}_{kind}_{writers}", std::process::id());
        let admin = connect(&url.parse().context("parsing the PostgreSQL URL")?).await?;
        admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
            ))
            .await
            .with_context(|| format!("creating schema {name}"))?;
        Ok(Schema {
            url: url.to_string(),
            name,
        })
    }

    pub(crate) fn config(&self) -> anyhow::Result<tokio_postgres::Config> {
        let mut c: tokio_postgres::Config =
            self.url.parse().context("parsing the PostgreSQL URL")?;
        c.options(format!("-csearch_path={}", self.name));
        Ok(c)
    }

    pub(crate) async fn drop(self) -> anyhow::Result<()> {
        let admin = connect(&self.url.parse()?).await?;
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .with_context(|| format!("dropping schema {}", self.name))?;
        Ok(())
    }
}
