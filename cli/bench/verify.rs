//! `jishi bench --verify-postgres URL`: `jishi verify` on a large PostgreSQL
//! ledger (10,000,000 events by default), its rate next to BLAKE3 over the
//! same canonical bytes (DESIGN.md §7), and the memory it needs, which must
//! not grow with the number of events (issue 3: "constant memory on a
//! 10-million-event ledger").
//!
//! The ledger is kept in a schema ([`SCHEMA`] unless `--verify-schema`
//! names another) and only extended when it is shorter than asked, so that
//! one ledger can be measured at 1,000,000 and then at 10,000,000 events,
//! and generating it (minutes) is paid once.
//! Its events are the benchmark's nominations, 30 to a stream, so that the
//! streams grow with the ledger as candidates do (verify keeps one small
//! entry per stream, D41).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use jishi_ledger::{AppendRequest, ProofStore};

use super::harness::{bench_event, first_rows, per_s, pg_client, status_kib, HashOnly, Ledger};

/// The schema the ledger is kept in unless `--verify-schema` names another.
pub const SCHEMA: &str = "jishi_bench_verify";
/// Events per append call while generating.
const CALL: u64 = 1_000;
/// Concurrent callers while generating, so that group commit fills its
/// transactions while the previous one commits.
const GENERATORS: usize = 4;
/// Events per stream in the generated ledger.
const PER_STREAM: u64 = 30;
/// Rows read back for the baselines (held in memory, so bounded).
const SAMPLE: u64 = 200_000;
/// Rows the server sends for the reading baseline (streamed, not kept).
const COPY_SAMPLE: u64 = 1_000_000;

/// What to measure.
pub struct VerifyBench {
    pub url: String,
    pub events: u64,
    /// Where the ledger is kept: lower-case letters, digits and `_`.
    pub schema: String,
}

/// The `i`-th generated event (0-based): a nomination in stream `i / 30`.
fn generated(i: u64) -> AppendRequest {
    let mut request = bench_event(i as usize);
    request.stream = format!("election/bench-verify/candidate/{}", i / PER_STREAM);
    request
}

pub async fn run(bench: &VerifyBench) -> anyhow::Result<()> {
    anyhow::ensure!(
        !bench.schema.is_empty()
            && bench
                .schema
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "--verify-schema: {:?} is not a plain schema name (lower-case letters, digits, _)",
        bench.schema
    );
    let schema = bench.schema.as_str();
    let ledger = Ledger::Postgres {
        url: bench.url.clone(),
        schema: schema.to_string(),
    };
    let existing = ledger.existing().await?;
    if existing == 0 {
        ledger.reset().await?;
    }
    // The `--db` URL of the kept ledger, for this process and the child.
    let db = Ledger::postgres_url(&bench.url, schema);
    // A proof store, as `jishi verify` opens: it checks the tree too.
    let spec = jishi_ledger::StoreSpec::parse(&db);
    let store = jishi_ledger::open_proof_store(&spec, true).await?;
    let generated_per_s = if existing < bench.events {
        Some(extend(&store, existing, bench.events).await?)
    } else {
        None
    };
    let head = store.head().await?.map_or(0, |h| h.position);

    // `jishi verify` itself, in a process of its own, so that its memory is
    // its own: the chain and the Merkle tree, as a user runs it.
    let verify = verify_in_child(&db).await?;
    anyhow::ensure!(
        verify.checked == head,
        "jishi verify checked {} events of {head}",
        verify.checked
    );

    // Baselines on the first rows: reading them alone, and BLAKE3 over
    // their canonical bytes held in memory.
    let started = Instant::now();
    let rows = first_rows(&*store, head.min(SAMPLE)).await?;
    let read_per_s = per_s(rows.len(), started);
    let hash_only = HashOnly::of(&rows)?;
    let copy = copy_out_rate(&bench.url, schema, head.min(COPY_SAMPLE)).await?;
    let verify_per_s = head as f64 / verify.seconds.max(1e-9);
    // Counted, not assumed: the kept schema may hold an older ledger.
    let streams: i64 = pg_client(&bench.url)
        .await?
        .query_one(
            &format!("SELECT count(DISTINCT stream) FROM {schema}.events"),
            &[],
        )
        .await
        .context("counting the streams")?
        .get(0);

    println!(
        "verify on {} ({head} events, {streams} streams)",
        ledger.describe()
    );
    if let Some(rate) = generated_per_s {
        println!(
            "  generated from {existing} events: {rate:.0} events/s \
             ({CALL} per call, {GENERATORS} callers)"
        );
    }
    println!(
        "  jishi verify (chain and Merkle tree, its own process): {:.1} s, {verify_per_s:.0} \
         events/s, peak resident memory {}",
        verify.seconds,
        verify
            .peak_kib
            .map_or("not measured (needs Linux /proc)".into(), |k| format!(
                "{:.1} MiB",
                k as f64 / 1024.0
            ))
    );
    println!(
        "  baseline, BLAKE3 of the same canonical bytes in memory ({} events): {:.0} events/s; \
         ratio {:.2}",
        rows.len(),
        hash_only.per_s,
        verify_per_s / hash_only.per_s.max(1e-9)
    );
    println!(
        "  reading rows alone (the same {} events, pages of 4,096): {read_per_s:.0} events/s",
        rows.len()
    );
    println!(
        "  the server sending the first {} rows alone (COPY … TO STDOUT, binary, nothing \
         decoded): {:.0} events/s; verify reaches {:.0}% of it",
        head.min(COPY_SAMPLE),
        copy,
        100.0 * verify_per_s / copy.max(1e-9)
    );
    println!("  jishi --db '{db}' verify   # the same ledger from the command line");
    Ok(())
}

/// Appends generated events `from..to` through the store (checks, hashing,
/// group commit, tree): the ledger is a real one. Returns events/s.
async fn extend(store: &Arc<dyn ProofStore>, from: u64, to: u64) -> anyhow::Result<f64> {
    let bar = crate::output::progress(to - from, "generating");
    let next = Arc::new(AtomicU64::new(from));
    let started = Instant::now();
    let mut callers = Vec::with_capacity(GENERATORS);
    for _ in 0..GENERATORS {
        let (store, next, bar) = (store.clone(), next.clone(), bar.clone());
        callers.push(tokio::spawn(async move {
            loop {
                let first = next.fetch_add(CALL, Ordering::Relaxed);
                if first >= to {
                    return anyhow::Ok(());
                }
                let last = (first + CALL).min(to);
                let requests: Vec<AppendRequest> = (first..last).map(generated).collect();
                store
                    .append_batch(requests)
                    .await
                    .map_err(|e| anyhow::anyhow!("generating events {first}..{last}: {e}"))?;
                bar.inc(last - first);
            }
        }));
    }
    for c in callers {
        c.await.context("generating task")??;
    }
    bar.finish_and_clear();
    Ok((to - from) as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

/// What the `jishi verify` child took.
struct ChildVerify {
    seconds: f64,
    /// Its peak resident size (`VmHWM`), read every 20 ms while it ran.
    peak_kib: Option<u64>,
    /// Rows it checked.
    checked: u64,
}

/// Runs `jishi --db URL verify --json` as a child process, watching its peak
/// resident size; fails unless it reports the ledger intact.
async fn verify_in_child(db: &str) -> anyhow::Result<ChildVerify> {
    let exe = std::env::current_exe().context("finding the jishi binary")?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args(["--db", db, "verify", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("starting jishi verify")?;
    let status_file = child.id().map(|pid| format!("/proc/{pid}/status"));
    let mut stdout = child.stdout.take().context("the child's output")?;
    let output = tokio::spawn(async move {
        let mut out = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut stdout, &mut out).await?;
        anyhow::Ok(out)
    });
    let mut peak_kib = None;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.context("waiting for jishi verify")?,
            _ = tokio::time::sleep(std::time::Duration::from_millis(20)) => {
                // The peak only grows; a read after the child exited finds
                // no VmHWM line and keeps the last one.
                if let Some(k) = status_file.as_deref().and_then(|f| status_kib(f, "VmHWM:")) {
                    peak_kib = Some(k);
                }
            }
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let out = output.await.context("reading jishi verify's output")??;
    // Exit 0 only when the chain, the tree and the checkpoints are intact.
    anyhow::ensure!(
        status.success(),
        "jishi verify did not report the ledger intact ({status}): {}",
        String::from_utf8_lossy(&out)
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out).context("reading jishi verify's JSON report")?;
    let checked = report["checked"]
        .as_u64()
        .context("jishi verify's report has no `checked` count")?;
    Ok(ChildVerify {
        seconds,
        peak_kib,
        checked,
    })
}

/// How fast the server can send the first `rows` ledger rows at all, in
/// position order as verify reads them: `COPY … TO STDOUT` in binary, the
/// bytes counted and dropped. Verify cannot be faster than its reading, so
/// this is its ceiling on PostgreSQL.
async fn copy_out_rate(url: &str, schema: &str, rows: u64) -> anyhow::Result<f64> {
    use futures_util::StreamExt;
    let client = pg_client(url).await?;
    let started = Instant::now();
    let sql = format!(
        "COPY (SELECT * FROM {schema}.events WHERE position <= {rows} ORDER BY position) \
         TO STDOUT (FORMAT binary)"
    );
    let stream = client
        .copy_out(sql.as_str())
        .await
        .context("COPY … TO STDOUT")?;
    let mut stream = std::pin::pin!(stream);
    let mut bytes = 0usize;
    while let Some(chunk) = stream.next().await {
        bytes += chunk.context("COPY … TO STDOUT")?.len();
    }
    tracing::debug!(bytes, rows, "copy baseline done");
    Ok(rows as f64 / started.elapsed().as_secs_f64().max(1e-9))
}
