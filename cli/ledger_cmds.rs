//! The ledger commands: init, append, log, stream, head, verify (import is
//! `import_cmd`).

use std::io::Read;

use anyhow::{bail, Context};
use clap::Args;
use jishi_ledger::input::{parse_actor, parse_event_id, request_from_json};
use jishi_ledger::{open_store, Actor, AppendRequest, ExpectedVersion, NewEvent, StoreSpec};

use crate::output;

/// `jishi append`: one event. Without `--stream`, the whole event is read as
/// a JSON object from stdin (the same shape as one line of `jishi import`).
#[derive(Debug, Args)]
pub struct AppendArgs {
    /// The stream (entity) the event belongs to, e.g. election/tianyuan-2021.
    #[arg(long)]
    stream: Option<String>,
    /// The event type, e.g. candidate.nominated.
    #[arg(long = "type", value_name = "EVENT_TYPE")]
    event_type: Option<String>,
    /// The payload, a JSON object.
    #[arg(long, default_value = "{}")]
    payload: String,
    /// Who is responsible: `id=…,name=…,role=…,org=…` or a JSON object. With a
    /// JSON event on stdin, used when the event has no actor.
    #[arg(long, env = "JISHI_ACTOR")]
    actor: Option<String>,
    /// The stream version expected before appending: any, none, or a number.
    #[arg(long, default_value = "any")]
    expect: String,
    /// A UUID chosen by you, so that a retry is recognised (generated if absent).
    #[arg(long)]
    event_id: Option<String>,
    /// When it happened in the world (RFC 3339); defaults to now.
    #[arg(long)]
    occurred_at: Option<String>,
    #[arg(long, default_value_t = 1)]
    schema_version: u32,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// Allow a stream of the selection domain (`election/…`), bypassing the
    /// procedure's gates; such events are recorded with `jishi record`.
    #[arg(long)]
    raw: bool,
}

/// Streams under `election/` belong to the selection domain: their events must
/// pass the procedure's gates, which `jishi record` applies and a raw append
/// does not. A raw append there needs `--raw`, so that it is never an accident,
/// and may not carry the gate mark, which only the gated path writes (D67):
/// what it writes always shows as recorded outside the gates.
pub(crate) fn check_domain_stream(
    request: &AppendRequest,
    raw: bool,
) -> Result<(), jishi_ledger::InvalidField> {
    let stream = &request.stream;
    if jishi_ledger::store::stream_under(stream, "ledger") {
        return Err(jishi_ledger::InvalidField::new(
            "stream",
            format!(
                "{stream:?} holds the ledger's own key history: it is written only by `jishi \
                 recording-key`, `jishi checkpoint` and `jishi checkpoint-key`"
            ),
        ));
    }
    if !jishi_ledger::store::stream_under(stream, "election") {
        return Ok(());
    }
    if !raw {
        return Err(jishi_ledger::InvalidField::new(
            "stream",
            format!(
                "{stream:?} is a stream of the selection domain: record its steps with \
                 `jishi record` so that the procedure's gates apply (or pass --raw to bypass them)"
            ),
        ));
    }
    let mark = jishi_projections::events::GATE_KEY;
    if request.events.iter().any(|e| e.payload.get(mark).is_some()) {
        return Err(jishi_ledger::InvalidField::new(
            format!("payload.{mark}"),
            format!(
                "`{mark}` is the gate mark, written only by `jishi record` and the server; \
                 a raw append cannot claim to have passed the gates"
            ),
        ));
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// First position to show.
    #[arg(long, default_value_t = 1)]
    from: u64,
    /// How many events at most (0 for all).
    #[arg(long, default_value_t = 100)]
    limit: usize,
    /// One JSON object (the full envelope) per line.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct StreamArgs {
    stream: String,
    /// First stream version to show.
    #[arg(long, default_value_t = 1)]
    from_version: u64,
    /// How many events at most (0 for all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// One JSON object (the full envelope) per line.
    #[arg(long)]
    json: bool,
}

/// Creates or upgrades the ledger (registering a new one's recording key),
/// then checks that the schema's protections are in place (exit 3 on
/// drift, D64).
pub async fn init(spec: &StoreSpec, suite: jishi_ledger::Suite) -> anyhow::Result<()> {
    let store = crate::recording::open_new(spec, suite).await?;
    let head = store.head().await?;
    let drift = store.schema_drift().await?;
    if !drift.is_empty() {
        print_drift(&drift);
        eprintln!(
            "the ledger at {spec} is migrated, but its protections are not as the migrations \
             installed them (docs/OPERATIONS.md, \"Schema drift\")"
        );
        return Err(crate::VerifyFailed.into());
    }
    println!(
        "ledger ready at {spec} ({} events)",
        head.map_or(0, |h| h.position)
    );
    Ok(())
}

/// Names each protection that drifted, on stderr.
fn print_drift(drift: &[jishi_ledger::drift::SchemaDrift]) {
    for d in drift {
        eprintln!("FAILED: schema: {d}");
    }
}

pub async fn append(spec: &StoreSpec, args: AppendArgs) -> anyhow::Result<()> {
    let default_actor = args.actor.as_deref().map(parse_actor).transpose()?;
    let request = match args.stream {
        None => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("stdin: cannot read the event (it must be UTF-8 JSON)")?;
            if text.trim().is_empty() {
                bail!("stream: is required (give --stream and --type, or a JSON event on stdin)");
            }
            request_from_json(&text, default_actor.as_ref())?
        }
        Some(stream) => {
            let event_type = args
                .event_type
                .context("--type: is required with --stream")?;
            let payload = jishi_ledger::canonical::parse_strict(&args.payload)
                .map_err(|e| jishi_ledger::input::json_error("payload", "payload", e))?;
            let actor: Actor = default_actor.context("actor: is required (--actor)")?;
            let expected: ExpectedVersion = args.expect.parse().map_err(|_| {
                anyhow::anyhow!(
                    "expected_version: unknown stream-version expectation {:?}: use any, none \
                     or a version number",
                    args.expect
                )
            })?;
            AppendRequest {
                stream,
                expected,
                events: vec![NewEvent {
                    event_id: args.event_id.as_deref().map(parse_event_id).transpose()?,
                    event_type,
                    schema_version: args.schema_version,
                    occurred_at: args.occurred_at,
                    actor,
                    payload,
                }],
            }
        }
    };
    check_domain_stream(&request, args.raw)?;
    let store = crate::recording::open_writer(spec, false).await?;
    let appended = store.append(request).await?;
    if args.json {
        println!("{}", serde_json::to_string(&appended)?);
    } else {
        for e in &appended.events {
            println!(
                "{} position {} (stream {} version {}) hash {}",
                if appended.deduplicated {
                    "already recorded at"
                } else {
                    "appended at"
                },
                e.position,
                appended.stream,
                e.stream_version,
                e.hash
            );
        }
    }
    Ok(())
}

pub async fn log(spec: &StoreSpec, args: LogArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let limit = if args.limit == 0 {
        usize::MAX
    } else {
        args.limit
    };
    let events = read_paged(
        args.from,
        limit,
        |e| e.position,
        |from, n| {
            let store = store.clone();
            async move { store.read_all(from, n).await }
        },
    )
    .await?;
    output::events(&events, args.json)?;
    if !args.json {
        if let Some(h) = store.head().await? {
            let shown_to = events.last().map_or(0, |e| e.position);
            if shown_to < h.position {
                println!(
                    "showing {} of {} events; more with --from {} or --limit 0",
                    events.len(),
                    h.position,
                    shown_to + 1
                );
            }
        }
    }
    Ok(())
}

pub async fn stream(spec: &StoreSpec, args: StreamArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let limit = if args.limit == 0 {
        usize::MAX
    } else {
        args.limit
    };
    let stream = args.stream.clone();
    let events = read_paged(
        args.from_version,
        limit,
        |e| e.stream_version,
        |from, n| {
            let (store, stream) = (store.clone(), stream.clone());
            async move { store.read_stream(&stream, from, n).await }
        },
    )
    .await?;
    if events.is_empty() && !args.json {
        println!("stream {:?} has no events", args.stream);
        return Ok(());
    }
    output::events(&events, args.json)
}

/// Reads up to `limit` events in pages, starting at key `from`; `key` is
/// what `read(from, n)` pages by (position for the log, version for a stream).
async fn read_paged<F, Fut>(
    from: u64,
    limit: usize,
    key: fn(&jishi_ledger::RecordedEvent) -> u64,
    read: F,
) -> anyhow::Result<Vec<jishi_ledger::RecordedEvent>>
where
    F: Fn(u64, usize) -> Fut,
    Fut: std::future::Future<
        Output = Result<Vec<jishi_ledger::RecordedEvent>, jishi_ledger::StoreError>,
    >,
{
    const PAGE: usize = 10_000;
    let mut out = Vec::new();
    let mut from = from;
    while out.len() < limit {
        let want = PAGE.min(limit - out.len());
        let page = read(from, want).await?;
        let Some(last) = page.last() else { break };
        from = key(last) + 1;
        let full = page.len() == want;
        out.extend(page);
        if !full {
            break;
        }
    }
    Ok(out)
}

pub async fn head(spec: &StoreSpec, json: bool) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let head = store.head().await?;
    if json {
        println!("{}", serde_json::to_string(&head)?);
    } else {
        match head {
            None => println!("the ledger is empty"),
            Some(h) => println!(
                "position {}\nhash     {}\nrecorded {}",
                h.position, h.hash, h.recorded_at
            ),
        }
    }
    Ok(())
}

/// Verifies the chain and, beside it, the Merkle tree and every stored
/// checkpoint (exit 3 on any fault).
pub async fn verify(
    spec: &StoreSpec,
    json: bool,
    domain: bool,
    expect_keys: &[String],
) -> anyhow::Result<()> {
    let expected = expect_keys
        .iter()
        .map(|k| crate::proof_cmds::read_verifier(k).map(|v| v.to_vkey()))
        .collect::<anyhow::Result<Vec<_>>>()
        .context("--expect-key")?;
    let bar = output::VerifyBar::new();
    let started = std::time::Instant::now();
    // Both stores keep the Merkle tree and checkpoints: verify checks them
    // beside the chain.
    let store = jishi_ledger::open_proof_store(spec, false).await?;
    let mut report = jishi_ledger::verify_with_proofs(&*store, &bar).await?;
    if report.fault.is_none() && !expected.is_empty() {
        report.fault = expected_key_fault(&report.attestation, &expected);
    }
    let drift = store.schema_drift().await?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        print_json_with_drift(&report, &drift)?;
    } else if report.is_ok() {
        match &report.head {
            None => println!("ok: the ledger is empty"),
            Some(h) => println!(
                "ok: {} events verified in {secs:.2}s; head position {} hash {}",
                report.checked, h.position, h.hash
            ),
        }
        if let Some(t) = &report.tree {
            println!(
                "ok: Merkle tree matches the event hashes; {} of {} stored checkpoint(s) match",
                t.checkpoints_checked, t.checkpoints
            );
        }
        if !report.signers.is_empty() {
            let others: std::collections::BTreeSet<&str> = report
                .signers
                .iter()
                .flat_map(|s| s.unverified.iter().map(String::as_str))
                .collect();
            println!(
                "ok: {} stored checkpoint(s) signed by the ledger's registered checkpoint keys{}",
                report.signers.len(),
                if others.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; lines by keys it never registered, not counted: {}",
                        others.into_iter().collect::<Vec<_>>().join(", ")
                    )
                }
            );
        }
        print_attestation(&report.attestation);
    } else {
        print_verify_failure(&report);
    }
    if !json {
        if drift.is_empty() {
            println!("ok: schema: the append-only triggers and the application role's grants are in place");
        } else {
            print_drift(&drift);
        }
    }
    if !report.is_ok() || !drift.is_empty() {
        return Err(crate::VerifyFailed.into());
    }
    if domain {
        return crate::domain_verify::run(spec, json).await;
    }
    Ok(())
}

/// A verify report as one JSON line, with the schema drift beside it.
fn print_json_with_drift(
    report: &impl serde::Serialize,
    drift: &[jishi_ledger::drift::SchemaDrift],
) -> anyhow::Result<()> {
    let mut value = serde_json::to_value(report)?;
    if let Some(obj) = value.as_object_mut() {
        obj.insert("schema_drift".into(), serde_json::to_value(drift)?);
    }
    println!("{}", serde_json::to_string(&value)?);
    Ok(())
}

/// `jishi verify --since-checkpoint`: the rows after the newest signed
/// checkpoint and the tree's consistency with it (D82). Exit 3 when
/// anything checked fails, and when no signed checkpoint vouches for the
/// rows before it (nothing could then be checked this way).
pub async fn verify_since_checkpoint(spec: &StoreSpec, json: bool) -> anyhow::Result<()> {
    let bar = output::VerifyBar::new();
    let started = std::time::Instant::now();
    let store = jishi_ledger::open_proof_store(spec, false).await?;
    let report = jishi_ledger::since::verify_since_checkpoint(&*store, &bar).await?;
    let drift = store.schema_drift().await?;
    let secs = started.elapsed().as_secs_f64();
    if json {
        print_json_with_drift(&report, &drift)?;
    } else {
        print_since(&report, secs);
        if drift.is_empty() {
            println!(
                "ok: schema: the append-only triggers and the application role's grants are in place"
            );
        } else {
            print_drift(&drift);
        }
    }
    if !report.is_ok() || !drift.is_empty() {
        return Err(crate::VerifyFailed.into());
    }
    Ok(())
}

/// The text report of `verify --since-checkpoint`: what it started from,
/// what it found, and, always, what it did not check.
fn print_since(report: &jishi_ledger::since::SinceReport, secs: f64) {
    for s in &report.passed_over {
        println!("warning: passed over {s}");
    }
    match (&report.checkpoint, &report.refused) {
        (_, Some(why)) => eprintln!("FAILED: nothing checked: {why}"),
        (None, None) => eprintln!("FAILED: nothing checked"),
        (Some(cp), None) => {
            let head = report.head.as_ref().map_or(0, |h| h.position);
            println!(
                "since checkpoint #{} of size {} (root {}), signed by {}",
                cp.checkpoint_id,
                cp.size,
                cp.root,
                cp.verified_by.join(", ")
            );
            match &report.fault {
                Some(f) => eprintln!("FAILED: {f}"),
                None => println!(
                    "ok: {} events after position {} verified in {secs:.2}s; head position {head}",
                    report.checked, cp.size
                ),
            }
            match (&report.tree_fault, &report.fault) {
                (Some(t), _) => eprintln!("FAILED: Merkle tree: {t}"),
                (None, None) => println!(
                    "ok: the stored tree at size {head} extends checkpoint #{}: the root rebuilt \
                     from the checked rows is the stored one, and the consistency proof from \
                     size {} verifies",
                    cp.checkpoint_id, cp.size
                ),
                (None, Some(_)) => {}
            }
        }
    }
    for n in &report.not_checked {
        println!("not checked: {n}");
    }
}

/// With `--expect-key`: the ledger's first recording key must be one of
/// `expected`, or the whole history is someone else's (a rewrite under a
/// key of the rewriter's own, which is internally consistent).
fn expected_key_fault(
    a: &jishi_ledger::attest::AttestReport,
    expected: &[String],
) -> Option<jishi_ledger::Fault> {
    let first = a.keys.first();
    if first.is_some_and(|k| expected.contains(k)) {
        return None;
    }
    Some(jishi_ledger::Fault {
        position: 1,
        kind: jishi_ledger::FaultKind::Unattested,
        detail: match first {
            Some(k) => format!(
                "the ledger's attestations start from the recording key {k}, not from the \
                 expected {}: this history was written under another key",
                expected.join(" or ")
            ),
            None => format!(
                "the ledger registers no recording key, but {} was expected",
                expected.join(" or ")
            ),
        },
    })
}

/// What the attestations say of a ledger whose rows all verify (D69).
fn print_attestation(a: &jishi_ledger::attest::AttestReport) {
    if a.unattested {
        println!(
            "warning: no recording key is registered, so no row is attested: the chain and the \
             checkpoints speak for them, but a row written by SQL would pass (register a key \
             with `jishi recording-key register`)"
        );
        return;
    }
    println!(
        "ok: every row is attested by the recording key ({} key(s), current {})",
        a.keys.len(),
        a.keys.last().map_or("none", String::as_str)
    );
    if a.adopted_through > 0 {
        println!(
            "note: positions 1 to {} were recorded before the first key was registered; its \
             registration adopted them",
            a.adopted_through
        );
    }
    for f in &a.flagged {
        println!(
            "FLAGGED: positions {} to {} were attested by {}, declared compromised at position \
             {}: {}",
            f.first, f.last, f.key, f.declared_at, f.reason
        );
    }
}

/// Names every fault of a report on stderr: the chain's first bad position,
/// the first checkpoint that no longer matches, the first bad tree node.
pub fn print_verify_failure(report: &jishi_ledger::VerifyReport) {
    if let Some(f) = &report.fault {
        eprintln!("FAILED: {f}");
        eprintln!(
            "{} events before position {} verified",
            f.position.saturating_sub(1),
            f.position
        );
    } else {
        eprintln!(
            "the hash chain of {} events verifies, but the checkpoints or the tree do not:",
            report.checked
        );
    }
    if let Some(t) = &report.tree {
        if let Some(c) = &t.checkpoint_fault {
            eprintln!("FAILED: {c}");
        }
        if let Some(detail) = &t.tree_fault {
            eprintln!("FAILED: Merkle tree: {detail}");
        }
    }
    for s in report.signers.iter().filter(|s| s.fault.is_some()) {
        eprintln!("FAILED: {s}");
    }
}
