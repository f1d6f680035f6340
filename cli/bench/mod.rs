//! `jishi bench`: the ledger's speed next to a baseline measured in the same
//! run on the same machine, reported as ratios (DEVELOPERS.md: never a timed
//! assertion in a test).
//!
//! * append: events/s through `EventStore::append_batch` (checks, canonical
//!   JSON, hashing, stream-version and idempotency look-ups), against a plain
//!   SQL INSERT of the very same rows into the same schema with no hashing;
//! * verify: events/s of `jishi verify`, against BLAKE3 over the same
//!   canonical bytes (each payload, and each tagged envelope) held in memory.

use std::time::Instant;

use anyhow::Context;
use clap::Args;
use jishi_ledger::canonical::EVENT_HASH_TAG;
use jishi_ledger::row::StoredRow;
use jishi_ledger::verify::Quiet;
use jishi_ledger::{Actor, AppendRequest, EventStore, ExpectedVersion, NewEvent, SqliteStore};
use serde_json::json;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many events to append.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) events: usize,
    /// Requests (one event each) per transaction.
    #[arg(long, default_value_t = 1_000)]
    pub(crate) batch: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Measure the Merkle tree instead: appends with and without tree
    /// maintenance (same run, interleaved), then inclusion proofs in a ledger
    /// of --proof-events events.
    #[arg(long)]
    tree: bool,
    /// With --tree: the size of the ledger proofs are measured in.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) proof_events: usize,
    /// Benchmark the PostgreSQL store at this URL instead (fresh schemas,
    /// dropped after): group commit with --pg-writers against plain INSERTs.
    #[arg(long, value_name = "URL")]
    postgres: Option<String>,
    /// Events per PostgreSQL run.
    #[arg(long, default_value_t = 200_000)]
    pg_events: usize,
    /// Concurrent writers, one PostgreSQL run each.
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 32])]
    pg_writers: Vec<usize>,
    /// Longest a PostgreSQL run may take, in seconds (it stops early).
    #[arg(long, default_value_t = 60.0)]
    pg_max_seconds: f64,
    /// Events per append call in the PostgreSQL runs (1: a recorder's step;
    /// more: an import, one `append_batch` per call).
    #[arg(long, default_value_t = 1)]
    pg_batch: usize,
    /// Rounds per writer count: each round runs the ledger and its three
    /// baselines again, and the summary line gives the medians
    /// (rates and per-round ratios), which a noisy machine needs.
    #[arg(long, default_value_t = 3)]
    pg_rounds: usize,
    /// Group commit: most requests in one transaction.
    #[arg(long, default_value_t = 512)]
    pg_max_batch: usize,
    /// Group commit: longest wait for more callers, in milliseconds.
    #[arg(long, default_value_t = 2.0)]
    pg_max_wait_ms: f64,
    /// Measure the stream-head map instead (format 3): its cost per append
    /// and per checkpoint on a ledger of --events events over
    /// --stream-count streams, each against the same work without it.
    #[arg(long)]
    streams: bool,
    /// With --streams: how many streams the events are spread over.
    #[arg(long, default_value_t = 100_000)]
    stream_count: usize,
    /// Measure the read-side views instead (trail, accountability, rebuild).
    #[arg(long)]
    views: bool,
    /// With --views: events in the generated ledger.
    #[arg(long, default_value_t = 1_000_000)]
    views_events: usize,
    /// With --views: the ledger file to generate once and reuse.
    #[arg(long)]
    ledger: Option<std::path::PathBuf>,
    /// With --views: keep the generated ledger on this PostgreSQL server
    /// instead (schema jishi_bench_views).
    #[arg(long, value_name = "URL")]
    views_postgres: Option<String>,
    /// With --views: trail and accountability queries to time.
    #[arg(long, default_value_t = 200)]
    queries: usize,
    /// Measure `jishi verify` on a large PostgreSQL ledger at this URL
    /// instead (kept in schema jishi_bench_verify and extended as needed):
    /// its rate against BLAKE3 of the same bytes, and its peak memory.
    #[arg(long, value_name = "URL")]
    verify_postgres: Option<String>,
    /// With --verify-postgres: events in the ledger.
    #[arg(long, default_value_t = 10_000_000)]
    verify_events: u64,
    /// With --verify-postgres: the schema the ledger is kept in.
    #[arg(long, default_value = crate::bench_verify::SCHEMA)]
    verify_schema: String,
    /// Measure the server instead: clients recording over HTTP on loopback
    /// (`jishi serve` in this process), then verify and a check that every
    /// acknowledged event is in the ledger; the same commands recorded
    /// directly are the baseline.
    #[arg(long)]
    http: bool,
    /// With --http: concurrent clients, one request in flight each.
    #[arg(long, default_value_t = 32)]
    http_clients: usize,
    /// With --http: how long the clients record, in seconds.
    #[arg(long, default_value_t = 30.0)]
    http_seconds: f64,
    /// With --http: run the server on the PostgreSQL store at this URL
    /// (fresh schemas, dropped after) instead of a temporary SQLite file.
    #[arg(long, value_name = "URL")]
    http_postgres: Option<String>,
    /// Measure what attestation costs instead (D69): the --pg-* load on the
    /// PostgreSQL server at this URL without and with a recording key,
    /// interleaved, then verify over each.
    #[arg(long, value_name = "URL")]
    attestation: Option<String>,
    /// With --attestation: the recording key's suite (ed25519 or sm2-sm3).
    #[arg(long, default_value = "ed25519", value_parser = crate::recording::parse_suite)]
    attestation_suite: jishi_ledger::Suite,
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
    one_shot_blake3_mib_per_s: f64,
    canonical_bytes: usize,
}

/// A realistic step of a selection: a nomination with its facts.
pub(crate) fn bench_event(i: usize) -> AppendRequest {
    let surnames = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];
    let given = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "勇"];
    AppendRequest {
        stream: format!("election/tianyuan-2021/candidate/{}", i % 5_000),
        expected: ExpectedVersion::Any,
        events: vec![NewEvent {
            event_id: None,
            event_type: "candidate.nominated".into(),
            schema_version: 1,
            occurred_at: Some("2021-03-05T09:30:00+08:00".into()),
            actor: Actor {
                id: format!("zzb-{:03}", i % 37),
                name: format!("{}{}", surnames[i % 8], given[i % 10]),
                role: "organisation_department".into(),
                org: "天元区委组织部".into(),
            },
            payload: json!({
                "candidate_id": format!("c{}", i % 5_000),
                "name": format!("{}{}{}", surnames[(i / 8) % 8], given[(i / 3) % 10], given[i % 10]),
                "method": "会议推荐",
                "nominator": "天元镇党委",
                "recommendation_votes": (i * 7) % 120,
                "birth_date": format!("19{}-0{}-1{}", 70 + i % 25, 1 + i % 9, i % 10),
                "sex": if i.is_multiple_of(3) { "女" } else { "男" },
                "education": "大学本科",
                "township_years": i % 12,
                "notes": "经个别谈话推荐和会议推荐，得票靠前，群众基础较好",
            }),
        }],
    }
}

pub(crate) fn per_s(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.tree {
        return crate::bench_tree::run(args).await;
    }
    if args.streams {
        return crate::bench_streams::run(&crate::bench_streams::StreamsBench {
            events: args.events,
            streams: args.stream_count,
            batch: args.batch,
            json: args.json,
        })
        .await;
    }
    if args.http {
        return crate::bench_http::run(&crate::bench_http::HttpBench {
            clients: args.http_clients,
            seconds: args.http_seconds,
            postgres: args.http_postgres,
        })
        .await;
    }
    if let Some(url) = args.postgres.clone().or(args.attestation.clone()) {
        let mut bench = crate::bench_pg::PgBench::new(url);
        bench.events = args.pg_events;
        bench.writers = args.pg_writers;
        bench.max_seconds = args.pg_max_seconds;
        bench.batch = args.pg_batch;
        bench.rounds = args.pg_rounds.max(1);
        bench.group_commit.max_requests = args.pg_max_batch;
        bench.group_commit.max_wait =
            std::time::Duration::from_secs_f64(args.pg_max_wait_ms.max(0.0) / 1e3);
        if args.attestation.is_some() {
            return crate::bench_attest::run(bench, args.attestation_suite).await;
        }
        return crate::bench_pg::run(&bench).await;
    }
    if let Some(url) = args.verify_postgres {
        return crate::bench_verify::run(&crate::bench_verify::VerifyBench {
            url,
            events: args.verify_events,
            schema: args.verify_schema,
        })
        .await;
    }
    if args.views {
        return crate::bench_views::run(
            args.views_events,
            args.ledger,
            args.views_postgres,
            args.queries,
            args.json,
        )
        .await;
    }
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

/// The ledger's first `n` rows (fewer if it is shorter), read a page of
/// 4,096 at a time as verify reads them: the rows the baselines work on.
pub(crate) async fn first_rows<S: EventStore + ?Sized>(
    store: &S,
    n: u64,
) -> anyhow::Result<Vec<StoredRow>> {
    let mut rows: Vec<StoredRow> = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    while (rows.len() as u64) < n {
        let want = (n - rows.len() as u64).min(4096) as usize;
        let page = store.read_rows(rows.len() as u64 + 1, want).await?;
        if page.is_empty() {
            break;
        }
        rows.extend(page);
    }
    Ok(rows)
}

/// The verify baseline: BLAKE3 over the rows' canonical bytes (each payload
/// and each tagged envelope, as verify hashes them), held in memory, so that
/// nothing but hashing is timed.
pub(crate) struct HashOnly {
    /// Events hashed per second, one call per payload and per envelope.
    pub(crate) per_s: f64,
    /// All the bytes in one call, for reference.
    pub(crate) one_shot_mib_per_s: f64,
    pub(crate) bytes: usize,
}

impl HashOnly {
    pub(crate) fn of(rows: &[StoredRow]) -> anyhow::Result<HashOnly> {
        let canonical: Vec<(Vec<u8>, Vec<u8>)> = rows
            .iter()
            .map(|r| {
                let event = r.clone().into_event()?;
                let id = event.event_id.hyphenated().to_string();
                let mut env = EVENT_HASH_TAG.to_vec();
                jishi_ledger::canonical::HashedEnvelope::of(&event, &id).write_canonical(&mut env);
                Ok((r.payload.clone(), env))
            })
            .collect::<Result<_, jishi_ledger::StoreError>>()?;
        let started = Instant::now();
        let mut check = 0u8;
        for (payload, env) in &canonical {
            check ^= blake3::hash(payload).as_bytes()[0];
            check ^= blake3::hash(env).as_bytes()[0];
        }
        let per_s = per_s(rows.len(), started);
        let all: Vec<u8> = canonical
            .iter()
            .flat_map(|(p, e)| p.iter().chain(e.iter()).copied())
            .collect();
        let started = Instant::now();
        check ^= blake3::hash(&all).as_bytes()[0];
        let one_shot_mib_per_s =
            all.len() as f64 / (1024.0 * 1024.0) / started.elapsed().as_secs_f64();
        tracing::debug!(check, "hash baseline done");
        Ok(HashOnly {
            per_s,
            one_shot_mib_per_s,
            bytes: all.len(),
        })
    }
}

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
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(vec!["measure", "jishi", "baseline (same run)", "ratio"]);
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
         (verify overlaps the two)",
        f.read_only_per_s, f.check_in_memory_per_s
    );
    println!(
        "for reference: BLAKE3 over all canonical bytes in one call: {:.0} MiB/s",
        f.one_shot_blake3_mib_per_s
    );
}
