//! Recording a generated district (`jishi_projections::demo`) through the
//! gates: each township is one batch ([`crate::batch::record_batch`]), so every
//! command is decided exactly as `jishi record` would decide it, and a
//! refusal stops the demo naming the command.

use std::sync::Arc;

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
    let mut written = record_elections(store, &demo.elections, 0, progress).await?;
    let (election, candidate) = &demo.planted.showcase;
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
