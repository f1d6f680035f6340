//! The one harness every benchmark shares (DESIGN.md §7: each figure next to
//! a baseline measured in the same run, reported as a ratio): the fixtures
//! (the benchmark's event, the rows read back, the BLAKE3 baseline), the
//! statistics (rates, medians of rounds, percentiles), the table the figures
//! are printed in, and the PostgreSQL plumbing (throw-away schemas, kept
//! ledgers, the group-commit load). It depends on no benchmark; each
//! benchmark depends on it and on nothing else in `bench`, so the modules
//! form a tree and a helper is written once.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use jishi_ledger::canonical::EVENT_HASH_TAG;
use jishi_ledger::postgres::tokio_postgres::{self, NoTls};
use jishi_ledger::postgres::{Durability, GroupCommit, PgOptions, PostgresStore};
use jishi_ledger::row::StoredRow;
use jishi_ledger::{
    Actor, AppendRequest, EventStore, ExpectedVersion, NewEvent, ProofStore, SqliteStore,
};
use serde_json::json;

// Statistics and the table.

pub(crate) fn per_s(n: usize, started: Instant) -> f64 {
    n as f64 / started.elapsed().as_secs_f64()
}

/// Milliseconds, as the tables print durations.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The median of per-round figures (the mean of the middle two for an even
/// count): what a noisy, shared machine needs rather than any one round.
pub(crate) fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Each column's median over rounds, column by column: the ratios are then
/// the medians of each round's ratio, not ratios of medians.
pub(crate) fn medians<const N: usize>(rounds: &[[f64; N]]) -> [f64; N] {
    std::array::from_fn(|i| median(rounds.iter().map(|c| c[i]).collect()))
}

/// The `p`-quantile (0.0 to 1.0) of durations sorted ascending, by nearest
/// rank; zero for none.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted
        .get(i.min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

/// A `kB` line of a `/proc/PID/status` file (`field` with its colon, e.g.
/// `VmHWM:` for the peak resident size, `VmRSS:` for the current one);
/// `None` where there is no such file (not Linux) or line.
pub(crate) fn status_kib(status_file: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// A figures table with the given header, in the style every benchmark
/// prints (ratios to the same run's baseline in its last column).
pub(crate) fn table(header: &[&str]) -> comfy_table::Table {
    let mut t = comfy_table::Table::new();
    t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

// Fixtures.

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

// PostgreSQL: connections, throw-away schemas and kept ledgers.

pub(crate) async fn connect(
    config: &tokio_postgres::Config,
) -> anyhow::Result<tokio_postgres::Client> {
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

/// Where a benchmark keeps the ledger it generates once and reuses.
pub(crate) enum Ledger {
    Sqlite(PathBuf),
    /// A server URL and the schema the ledger is kept in.
    Postgres {
        url: String,
        schema: String,
    },
}

impl Ledger {
    pub(crate) fn describe(&self) -> String {
        match self {
            Ledger::Sqlite(p) => p.display().to_string(),
            Ledger::Postgres { schema, .. } => format!("PostgreSQL schema {schema}"),
        }
    }

    /// The PostgreSQL store in the kept schema (`jishi --db` takes the same
    /// URL).
    pub(crate) fn postgres_url(url: &str, schema: &str) -> String {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}options=-csearch_path%3D{schema}")
    }

    pub(crate) async fn open(&self) -> anyhow::Result<Arc<dyn EventStore>> {
        Ok(match self {
            Ledger::Sqlite(p) => Arc::new(SqliteStore::open(p)?),
            Ledger::Postgres { url, schema } => Arc::new(
                jishi_ledger::PostgresStore::open(&Ledger::postgres_url(url, schema), true).await?,
            ),
        })
    }

    /// The kept ledger as a proof store, as `jishi serve` opens it.
    pub(crate) async fn open_proofs(&self) -> anyhow::Result<Arc<dyn ProofStore>> {
        Ok(match self {
            Ledger::Sqlite(p) => Arc::new(SqliteStore::open(p)?),
            Ledger::Postgres { url, schema } => Arc::new(
                jishi_ledger::PostgresStore::open(&Ledger::postgres_url(url, schema), true).await?,
            ),
        })
    }

    /// Events already in the kept ledger (0 if there is none).
    pub(crate) async fn existing(&self) -> anyhow::Result<u64> {
        let present = match self {
            Ledger::Sqlite(p) => p.exists(),
            Ledger::Postgres { url, schema } => {
                let client = pg_client(url).await?;
                client
                    .query_opt(
                        "SELECT 1 FROM information_schema.tables \
                         WHERE table_schema = $1 AND table_name = 'events'",
                        &[&schema],
                    )
                    .await?
                    .is_some()
            }
        };
        if !present {
            return Ok(0);
        }
        Ok(self.open().await?.head().await?.map_or(0, |h| h.position))
    }

    /// Removes the kept ledger so that a fresh one can be generated.
    pub(crate) async fn reset(&self) -> anyhow::Result<()> {
        match self {
            Ledger::Sqlite(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    if p.exists() {
                        std::fs::remove_file(&p)?;
                    }
                }
            }
            Ledger::Postgres { url, schema } => {
                let client = pg_client(url).await?;
                client
                    .batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                    ))
                    .await?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn pg_client(
    url: &str,
) -> anyhow::Result<jishi_ledger::postgres::tokio_postgres::Client> {
    connect(&url.parse().context("parsing the PostgreSQL URL")?).await
}

// PostgreSQL: the group-commit load (`--postgres` and `--attestation`).

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
    /// Times each writer count is measured (the ledger and every baseline
    /// again each time); the summary is the median.
    pub rounds: usize,
    /// The recording key the ledger's runs attest with (D69); `None`
    /// writes unattested rows (`jishi bench --attestation` compares both).
    pub attestor: Option<Arc<jishi_ledger::attest::Attestor>>,
    /// How the ledger's groups are made durable (D83; `--pg-synchronous`
    /// measures the path before it).
    pub durability: Durability,
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
            attestor: None,
            durability: Durability::Auto,
        }
    }
}

/// One measured run.
pub(crate) struct Run {
    pub(crate) events: usize,
    pub(crate) elapsed: Duration,
    pub(crate) latencies: Vec<Duration>,
    pub(crate) mean_group: f64,
    /// Share of the ledger's transactions planned from what the writer knew
    /// (one round trip, see `jishi_ledger::postgres`).
    pub(crate) from_known: f64,
    /// Mean time per ledger transaction the writer spent gathering callers
    /// and committing (see `GroupStats`); zero for the baselines.
    pub(crate) gather_per_tx: Duration,
    pub(crate) commit_per_tx: Duration,
    pub(crate) plan_per_tx: Duration,
    /// WAL flushes the flusher forced per ledger transaction (D83).
    pub(crate) flushes_per_tx: f64,
    /// Whether the ledger's groups committed asynchronously.
    pub(crate) asynchronous: bool,
}

impl Run {
    pub(crate) fn rate(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `p`-quantile of the calls' latencies.
    pub(crate) fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }
}

/// Appends `bench.events` (or for `bench.max_seconds`) with `writers`
/// concurrent callers through group commit, in `schema`, timing each call.
pub(crate) async fn ledger_run(
    bench: &PgBench,
    schema: &Schema,
    writers: usize,
) -> anyhow::Result<Run> {
    let store = PostgresStore::open_with(
        schema.config()?,
        PgOptions {
            group_commit: bench.group_commit,
            attestor: bench.attestor.clone(),
            durability: bench.durability,
            ..PgOptions::default()
        },
    )
    .await?;
    if let Some(a) = &bench.attestor {
        crate::recording::register_key(&store, a).await?;
    }
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
                let requests: Vec<_> = (i..(i + batch).min(total)).map(bench_event).collect();
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
        flushes_per_tx: stats.flushes as f64 / stats.transactions.max(1) as f64,
        asynchronous: store.commits_asynchronously(),
    })
}
