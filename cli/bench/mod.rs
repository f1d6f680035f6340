//! `jishi bench`: the ledger's speed next to a baseline measured in the same
//! run on the same machine, reported as ratios (DEVELOPERS.md: never a timed
//! assertion in a test).
//!
//! This module is the command line and the dispatch only. Each benchmark is
//! a module of its own with its own settings struct, and every one of them
//! uses [`harness`] (fixtures, baselines, rounds, medians, the table) and no
//! other benchmark, so the imports form a tree, not a circle:
//!
//! * (no mode flag) [`sqlite`]: append and verify on SQLite;
//! * `--tree` [`tree`], `--streams` [`streams`], `--views` [`views`],
//!   `--http` [`http`];
//! * `--postgres` [`pg`], `--attestation` [`attest`], `--verify-postgres`
//!   [`verify`].

mod attest;
mod harness;
mod http;
mod pg;
mod sqlite;
mod streams;
mod tree;
mod verify;
mod views;

use clap::Args;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// How many events to append.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Requests (one event each) per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
    /// Measure the Merkle tree instead: appends with and without tree
    /// maintenance (same run, interleaved), then inclusion proofs in a ledger
    /// of --proof-events events.
    #[arg(long)]
    tree: bool,
    /// With --tree: the size of the ledger proofs are measured in.
    #[arg(long, default_value_t = 1_000_000)]
    proof_events: usize,
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
    /// With --postgres: every group waits for its own WAL flush, as before
    /// D83, instead of committing asynchronously and being acknowledged
    /// after the flusher's flush.
    #[arg(long)]
    pg_synchronous: bool,
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
    /// With --views: events in the generated ledger (whole townships, so a
    /// few more). Each size is kept apart: target/bench-views/ledger.db and
    /// schema jishi_bench_views for the default, ledger-10m.db and
    /// jishi_bench_views_10m for 10000000.
    #[arg(long, default_value_t = views::DEFAULT_EVENTS)]
    views_events: usize,
    /// With --views-postgres: the schema the ledger is kept in instead.
    #[arg(long)]
    views_schema: Option<String>,
    /// With --views: the ledger file to generate once and reuse.
    #[arg(long)]
    ledger: Option<std::path::PathBuf>,
    /// With --views: keep the generated ledger on this PostgreSQL server
    /// instead (schema jishi_bench_views, or one named by its size).
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
    #[arg(long, default_value = verify::SCHEMA)]
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

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.tree {
        return tree::run(&tree::TreeBench {
            events: args.events,
            batch: args.batch,
            proof_events: args.proof_events,
            json: args.json,
        })
        .await;
    }
    if args.streams {
        return streams::run(&streams::StreamsBench {
            events: args.events,
            streams: args.stream_count,
            batch: args.batch,
            json: args.json,
        })
        .await;
    }
    if args.http {
        return http::run(&http::HttpBench {
            clients: args.http_clients,
            seconds: args.http_seconds,
            postgres: args.http_postgres,
        })
        .await;
    }
    if let Some(url) = args.postgres.clone().or(args.attestation.clone()) {
        let mut bench = harness::PgBench::new(url);
        bench.events = args.pg_events;
        bench.writers = args.pg_writers;
        bench.max_seconds = args.pg_max_seconds;
        bench.batch = args.pg_batch;
        bench.rounds = args.pg_rounds.max(1);
        bench.group_commit.max_requests = args.pg_max_batch;
        bench.group_commit.max_wait =
            std::time::Duration::from_secs_f64(args.pg_max_wait_ms.max(0.0) / 1e3);
        if args.pg_synchronous {
            bench.durability = jishi_ledger::postgres::Durability::Synchronous;
        }
        if args.attestation.is_some() {
            return attest::run(bench, args.attestation_suite).await;
        }
        // The attested append path, as production runs it (D69).
        bench.attestor = Some(std::sync::Arc::new(jishi_ledger::attest::Attestor::new(
            jishi_ledger::SignerKey::generate_in("bench.recording", args.attestation_suite)?,
        )));
        return pg::run(&bench).await;
    }
    if let Some(url) = args.verify_postgres {
        return verify::run(&verify::VerifyBench {
            url,
            events: args.verify_events,
            schema: args.verify_schema,
        })
        .await;
    }
    if args.views {
        return views::run(&views::ViewsBench {
            events: args.views_events,
            ledger: args.ledger,
            postgres: args.views_postgres,
            schema: args.views_schema,
            queries: args.queries,
            json: args.json,
        })
        .await;
    }
    sqlite::run(&sqlite::SqliteBench {
        events: args.events,
        batch: args.batch,
        json: args.json,
    })
    .await
}
