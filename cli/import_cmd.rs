//! `jishi import`: a JSON Lines file of events, checked whole before any of
//! it is written.
//!
//! The exit code tells a script what happened to the ledger (README):
//! 1 means nothing of the file was written; [`PartlyWritten`] (exit 4) means
//! some batches were and names their positions. Every refusal that can be
//! foreseen is found before the first batch: each line's fields, then the
//! whole file planned against the ledger as it stands
//! (`jishi_ledger::simulate`), with the planning each write would get. What
//! cannot be foreseen is another writer between two batches.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use jishi_ledger::input::{parse_actor, request_from_json};
use jishi_ledger::simulate::{simulate, SimulateError};
use jishi_ledger::store::{prepare_request, PreparedRequest};
use jishi_ledger::StoreSpec;

use crate::ledger_cmds::check_domain_stream;
use crate::output;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A JSON Lines file, one event a line (`-` for stdin).
    file: PathBuf,
    /// The actor for lines without one: `id=…,name=…,role=…,org=…` or JSON.
    #[arg(long, env = "JISHI_ACTOR")]
    actor: Option<String>,
    /// Events per transaction. The whole file is checked against the ledger
    /// before the first batch; 0 writes the whole file in one transaction.
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Check every line, and plan the whole file against the ledger as a
    /// real import would, then stop without writing.
    #[arg(long)]
    dry_run: bool,
    /// Allow streams of the selection domain (`election/…`), bypassing the
    /// procedure's gates.
    #[arg(long)]
    raw: bool,
}

/// An import that stopped after some of its batches were committed: another
/// writer changed the ledger between batches, or the store failed. Exit 4,
/// so that a script never takes it for "nothing written" (exit 1).
#[derive(Debug)]
pub struct PartlyWritten(pub String);

impl std::fmt::Display for PartlyWritten {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for PartlyWritten {}

pub async fn import(spec: &StoreSpec, args: ImportArgs) -> anyhow::Result<()> {
    let default_actor = args.actor.as_deref().map(parse_actor).transpose()?;
    let bytes = if args.file.as_os_str() == "-" {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).context("stdin")?;
        b
    } else {
        std::fs::read(&args.file).with_context(|| format!("{}", args.file.display()))?
    };
    let store: std::sync::Arc<dyn jishi_ledger::EventStore> =
        crate::recording::open_writer(spec, false).await?;
    let now = store.clock().now();
    let mut lines: Vec<usize> = Vec::new();
    let mut requests: Vec<PreparedRequest> = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let n = i + 1;
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t,
            Err(e) => {
                errors.push(format!(
                    "line {n}: invalid UTF-8 at byte {} of the line",
                    e.valid_up_to()
                ));
                continue;
            }
        };
        if text.trim().is_empty() {
            continue;
        }
        match request_from_json(text, default_actor.as_ref())
            .and_then(|r| check_domain_stream(&r, args.raw).map(|()| r))
            .map_err(jishi_ledger::AppendError::Invalid)
            .and_then(|r| prepare_request(r, now))
        {
            Ok(r) => {
                lines.push(n);
                requests.push(r);
            }
            Err(e) => errors.push(format!("line {n}: {e}")),
        }
    }
    if !errors.is_empty() {
        let shown = errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n");
        let more = if errors.len() > 20 {
            format!("\n… and {} more", errors.len() - 20)
        } else {
            String::new()
        };
        bail!(
            "{} invalid line(s); nothing was written:\n{shown}{more}",
            errors.len()
        );
    }
    let line_of = |index: usize| lines.get(index).copied().unwrap_or(0);
    let plan = match simulate(&*store, &requests).await {
        Ok(plan) => plan,
        Err(SimulateError::Repeated { index, first, .. }) => bail!(
            "line {}: repeats the event_id of line {}; nothing was written",
            line_of(index),
            line_of(first)
        ),
        Err(SimulateError::Refused { index, error }) => {
            bail!("line {}: {error}; nothing was written", line_of(index))
        }
        Err(SimulateError::Store(e)) => return Err(e.into()),
    };
    if args.dry_run {
        let at = match plan.positions {
            Some((a, b)) => format!(" at positions {a}–{b}"),
            None => String::new(),
        };
        println!(
            "{} events checked against the ledger at position {}: {} new{at}, {} already \
             recorded; nothing written (--dry-run)",
            requests.len(),
            plan.head,
            plan.new_events,
            plan.duplicates
        );
        return Ok(());
    }
    write_batches(&*store, &lines, requests, args.batch_size).await
}

/// Writes the checked requests batch by batch. A batch refused now was
/// changed under the plan by another writer (or the store failed).
async fn write_batches(
    store: &dyn jishi_ledger::EventStore,
    lines: &[usize],
    requests: Vec<PreparedRequest>,
    batch_size: usize,
) -> anyhow::Result<()> {
    let total = requests.len();
    let batch = if batch_size == 0 {
        total.max(1)
    } else {
        batch_size
    };
    let bar = output::progress(total as u64, "importing");
    let mut done_lines = 0usize;
    let mut duplicates = 0usize;
    // Positions of the events this import wrote, as ranges: another writer's
    // events may lie between two batches.
    let mut written: Vec<(u64, u64)> = Vec::new();
    let mut requests = requests.into_iter();
    for chunk_lines in lines.chunks(batch) {
        let chunk: Vec<PreparedRequest> = requests.by_ref().take(chunk_lines.len()).collect();
        match store.append_prepared(chunk).await {
            Ok(done) => {
                for a in &done {
                    if a.deduplicated {
                        duplicates += 1;
                        continue;
                    }
                    for e in &a.events {
                        match written.last_mut() {
                            Some(r) if r.1 + 1 == e.position => r.1 = e.position,
                            _ => written.push((e.position, e.position)),
                        }
                    }
                }
                done_lines += chunk_lines.len();
                bar.inc(chunk_lines.len() as u64);
            }
            Err(e) => {
                bar.abandon();
                let line = chunk_lines.get(e.index).copied().unwrap_or(0);
                let first = chunk_lines.first().copied().unwrap_or(0);
                let last = chunk_lines.last().copied().unwrap_or(0);
                let why = format!(
                    "line {line}: {} (the ledger changed after the file was checked); the batch \
                     of lines {first}–{last} was not written",
                    e.error
                );
                if written.is_empty() {
                    bail!("{why}, and nothing was written");
                }
                return Err(PartlyWritten(format!(
                    "{why}; lines 1–{} were written before it, at positions {} ({} new events); \
                     the lines from {first} on were not",
                    lines
                        .get(done_lines.saturating_sub(1))
                        .copied()
                        .unwrap_or(0),
                    ranges(&written),
                    count(&written)
                ))
                .into());
            }
        }
    }
    bar.finish_and_clear();
    if total == 0 {
        println!("imported 0 events: the file has no events");
    } else if written.is_empty() {
        println!("imported {total} events (0 new, {duplicates} already recorded)");
    } else {
        println!(
            "imported {total} events ({} new, {duplicates} already recorded), positions {}",
            count(&written),
            ranges(&written)
        );
    }
    Ok(())
}

fn count(ranges: &[(u64, u64)]) -> u64 {
    ranges.iter().map(|(a, b)| b - a + 1).sum()
}

/// `1–100, 102–201`.
fn ranges(ranges: &[(u64, u64)]) -> String {
    ranges
        .iter()
        .map(|(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
