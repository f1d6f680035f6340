//! Recording a generated district (`jishi_projections::demo`) through the
//! gates: each township is one batch ([`crate::batch::record_batch`]), so every
//! command is decided exactly as `jishi record` would decide it, and a
//! refusal stops the demo naming the command.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use jishi_ledger::EventStore;
use jishi_projections::demo::Demo;
use jishi_projections::events::CorrectionRecorded;
use jishi_projections::{Command, EventBody};

use crate::batch::{record_batch, BatchItem, BatchRecordError};
use crate::views::{candidate_entries, ViewError};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("election {election}: {source}")]
    Refused {
        election: String,
        #[source]
        source: BatchRecordError,
    },
    #[error(transparent)]
    View(#[from] ViewError),
    #[error(transparent)]
    Record(#[from] crate::RecordError),
}

/// Records every election of `demo`, then a correction of the showcase
/// candidate's archive review (a correction names a position, known only once
/// recorded). `progress` is called with the events written so far. Returns
/// the number of events written.
pub async fn record_demo(
    store: &Arc<dyn EventStore>,
    demo: &Demo,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, DemoError> {
    let written = record_elections(store, &demo.elections, 0, progress).await?;
    Ok(written + record_showcase_correction(store, &demo.planted).await?)
}

/// Records generated townships (`jishi_projections::demo::Townships`) one
/// batch each, as they are made, until at least `events` are written, then
/// the showcase's correction as [`record_demo`] does: the history of
/// `record_demo` of as many townships, without holding the district's
/// commands in memory (10,000,000 events would be gigabytes of them).
///
/// `writers` tasks record townships side by side, so that one deciding
/// overlaps another's round trips (each township is its own election, so
/// their guards never meet); their order in the ledger then varies from run
/// to run, which a benchmark's history may. `written` counts the events
/// written so far, for a progress display. Returns the events written and
/// the townships recorded.
pub async fn record_until(
    store: &Arc<dyn EventStore>,
    townships: jishi_projections::demo::Townships,
    events: u64,
    writers: usize,
    written: &Arc<AtomicU64>,
) -> Result<(u64, usize), DemoError> {
    let source = Arc::new(Mutex::new((townships, 0usize)));
    let mut tasks: tokio::task::JoinSet<Result<(), DemoError>> = tokio::task::JoinSet::new();
    for _ in 0..writers.max(1) {
        let (store, source, written) = (store.clone(), source.clone(), written.clone());
        tasks.spawn(async move {
            loop {
                // Taken under the lock with the count checked, so that the
                // writers overshoot `events` by fewer than one township each.
                let next = {
                    let mut s = source.lock().unwrap_or_else(|p| p.into_inner());
                    if written.load(Ordering::Relaxed) >= events {
                        None
                    } else {
                        s.1 += 1;
                        s.0.next()
                    }
                };
                let Some(e) = next else { return Ok(()) };
                let n = record_elections(&store, std::slice::from_ref(&e), 0, &|_| {}).await?;
                written.fetch_add(n, Ordering::Relaxed);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(r) => r?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Nothing cancels these tasks but a runtime shutting down.
            Err(_) => break,
        }
    }
    let (planted, count) = {
        let s = source.lock().unwrap_or_else(|p| p.into_inner());
        (s.0.planted.clone(), s.1)
    };
    let corrected = record_showcase_correction(store, &planted).await?;
    written.fetch_add(corrected, Ordering::Relaxed);
    Ok((written.load(Ordering::Relaxed), count))
}

/// The correction of the showcase candidate's archive review (a correction
/// names a position, known only once recorded); returns the events written.
async fn record_showcase_correction(
    store: &Arc<dyn EventStore>,
    planted: &jishi_projections::demo::Planted,
) -> Result<u64, DemoError> {
    let mut written = 0;
    let (election, candidate) = &planted.showcase;
    if !election.is_empty() {
        let entries = candidate_entries(store.as_ref(), election, candidate, None).await?;
        if let Some(archive) = entries
            .iter()
            .find(|x| x.event.event_type() == "check.archive_reviewed")
        {
            let at = archive.event.occurred_at + chrono::Duration::days(1);
            let command = Command::new(
                election,
                Some(candidate),
                at,
                EventBody::CorrectionRecorded(CorrectionRecorded {
                    corrects_event_id: archive.position.to_string(),
                    reason: "入党时间录入笔误，以档案原件为准".into(),
                    corrected: Some(serde_json::json!({ "party_join_date": "2007-07-01" })),
                }),
            );
            let actor = crate::ledger_actor(&archive.actor);
            let recorded = crate::record(store, None, &actor, &command).await?;
            written += recorded.events.len() as u64;
        }
    }
    Ok(written)
}

/// Records further generated elections (the demo's other kinds,
/// `jishi_projections::demo_kinds`), one batch each, as `record_demo` does
/// the district's. `written` is the count so far, for `progress`; returns it
/// with these added.
pub async fn record_elections(
    store: &Arc<dyn EventStore>,
    elections: &[jishi_projections::demo::DemoElection],
    mut written: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<u64, DemoError> {
    for e in elections {
        let items: Vec<BatchItem> = e
            .commands
            .iter()
            .map(|p| BatchItem {
                actor: crate::ledger_actor(&p.actor),
                command: p.command.clone(),
            })
            .collect();
        let positions = record_batch(store, None, &e.election_id, &items)
            .await
            .map_err(|source| DemoError::Refused {
                election: e.election_id.clone(),
                source,
            })?;
        written += positions.len() as u64;
        progress(written);
    }
    Ok(written)
}
