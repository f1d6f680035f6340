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
use jishi_ledger::postgres::tokio_postgres::{self, types::ToSql, NoTls};
use jishi_ledger::postgres::{GroupCommit, PgOptions, PostgresStore};
use jishi_ledger::{Actor, AppendRequest, EventStore, ExpectedVersion, NewEvent, RecordedEvent};

/// What to measure.
#[derive(Debug, Clone)]
pub struct PgBench {
    pub url: String,
    pub events: usize,
    pub writers: Vec<usize>,
    pub max_seconds: f64,
    /// The group-commit settings under test.
    pub group_commit: GroupCommit,
}

impl PgBench {
    pub fn new(url: String) -> Self {
        PgBench {
            url,
            events: 200_000,
            writers: vec![1, 8, 32],
            max_seconds: 60.0,
            group_commit: GroupCommit::default(),
        }
    }
}

/// One measured run.
struct Run {
    events: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    mean_group: f64,
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
        "PostgreSQL append: up to {} events per run, at most {:.0} s per run, group commit \
         max {} requests / {:?} wait",
        bench.events,
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
    for &writers in &bench.writers {
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
        let baseline = baseline_run(&base_schema, writers, rows, per_tx).await?;
        base_schema.drop().await?;

        println!(
            "{:>7} {:>9} {:>12.0} {:>8.2} {:>8.2} {:>6.1} {:>14.0} {:>5.0}% {:>12.0} {:>5.0}%",
            writers,
            ledger.events,
            ledger.rate(),
            ledger.percentile(0.50).as_secs_f64() * 1e3,
            ledger.percentile(0.99).as_secs_f64() * 1e3,
            ledger.mean_group,
            baseline.rate(),
            100.0 * ledger.rate() / baseline.rate().max(1e-9),
            serial.rate(),
            100.0 * ledger.rate() / serial.rate().max(1e-9)
        );
    }
    println!(
        "group: mean events per ledger transaction; baseline: the same rows, same number of \
         connections in parallel, same rows per transaction, plain INSERT … SELECT FROM unnest, \
         no hashing; serial: the same on one connection (one transaction at a time, as a hash \
         chain must commit)"
    );
    Ok(())
}

fn event(writer: usize, i: usize) -> AppendRequest {
    AppendRequest {
        stream: format!("candidate/w{writer}-{}", i % 50),
        expected: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_id: None,
            event_type: "candidate.nominated".into(),
            schema_version: 1,
            occurred_at: Some("2021-03-05T09:30:00+08:00".into()),
            actor: Actor {
                id: format!("u{writer}"),
                name: "张伟".into(),
                role: "organisation_department".into(),
                org: "天元区委组织部".into(),
            },
            payload: serde_json::json!({
                "姓名": "李明",
                "seq": i,
                "unit": "天元区某镇党委",
                "reason": "民主推荐得票靠前，经组织考察提名为候选人初步人选",
            }),
        }],
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
    for w in 0..writers {
        let (store, next, total) = (store.clone(), next.clone(), bench.events);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total || Instant::now() >= deadline {
                    break;
                }
                let t0 = Instant::now();
                store.append(event(w, i)).await?;
                latencies.push(t0.elapsed());
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.context("ledger writer task")??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let stats = store.group_stats();
    Ok(Run {
        events: latencies.len(),
        elapsed,
        latencies,
        mean_group: stats.callers as f64 / stats.transactions.max(1) as f64,
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
            let insert = client.prepare(INSERT).await?;
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let chunk = &rows[c * per_tx..((c + 1) * per_tx).min(rows.len())];
                let tx = client.transaction().await?;
                insert_plain(&tx, &insert, chunk).await?;
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
    })
}

const INSERT: &str = "INSERT INTO events (position, stream, stream_version, event_id, \
     event_type, schema_version, occurred_at, recorded_at, actor_id, actor_name, actor_role, \
     actor_org, payload, payload_digest, prev_hash, hash) \
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], \
     $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
     $13::text[], $14::bytea[], $15::bytea[], $16::bytea[])";

async fn insert_plain(
    tx: &tokio_postgres::Transaction<'_>,
    insert: &tokio_postgres::Statement,
    rows: &[RecordedEvent],
) -> anyhow::Result<()> {
    let position: Vec<i64> = rows.iter().map(|e| e.position as i64).collect();
    let stream: Vec<&str> = rows.iter().map(|e| e.stream.as_str()).collect();
    let version: Vec<i64> = rows.iter().map(|e| e.stream_version as i64).collect();
    let event_id: Vec<uuid::Uuid> = rows.iter().map(|e| e.event_id).collect();
    let event_type: Vec<&str> = rows.iter().map(|e| e.event_type.as_str()).collect();
    let schema: Vec<i64> = rows.iter().map(|e| i64::from(e.schema_version)).collect();
    let occurred: Vec<&str> = rows.iter().map(|e| e.occurred_at.as_str()).collect();
    let recorded: Vec<&str> = rows.iter().map(|e| e.recorded_at.as_str()).collect();
    let actor_id: Vec<&str> = rows.iter().map(|e| e.actor.id.as_str()).collect();
    let actor_name: Vec<&str> = rows.iter().map(|e| e.actor.name.as_str()).collect();
    let actor_role: Vec<&str> = rows.iter().map(|e| e.actor.role.as_str()).collect();
    let actor_org: Vec<&str> = rows.iter().map(|e| e.actor.org.as_str()).collect();
    let payload: Vec<&str> = rows.iter().map(|e| e.payload.as_str()).collect();
    let digest: Vec<&[u8]> = rows.iter().map(|e| &e.payload_digest.0[..]).collect();
    let prev: Vec<&[u8]> = rows.iter().map(|e| &e.prev_hash.0[..]).collect();
    let hash: Vec<&[u8]> = rows.iter().map(|e| &e.hash.0[..]).collect();
    let params: [&(dyn ToSql + Sync); 16] = [
        &position,
        &stream,
        &version,
        &event_id,
        &event_type,
        &schema,
        &occurred,
        &recorded,
        &actor_id,
        &actor_name,
        &actor_role,
        &actor_org,
        &payload,
        &digest,
        &prev,
        &hash,
    ];
    tx.execute(insert, &params).await?;
    Ok(())
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
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create(url: &str, kind: &str, writers: usize) -> anyhow::Result<Schema> {
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

    fn config(&self) -> anyhow::Result<tokio_postgres::Config> {
        let mut c: tokio_postgres::Config =
            self.url.parse().context("parsing the PostgreSQL URL")?;
        c.options(format!("-csearch_path={}", self.name));
        Ok(c)
    }

    async fn drop(self) -> anyhow::Result<()> {
        let admin = connect(&self.url.parse()?).await?;
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .with_context(|| format!("dropping schema {}", self.name))?;
        Ok(())
    }
}
