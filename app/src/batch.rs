//! Recording many commands of one election at once: the election is read and
//! folded once, each command is decided in turn against the state the previous
//! ones left (so every command passes every gate exactly as `record` would
//! judge it), and all decided events are appended in one guarded transaction.
//! Loading the election once per batch instead of once per command is what
//! makes `jishi demo` and bulk imports take seconds rather than minutes.

use std::sync::Arc;

use jishi_ledger::store::{prepare_request, ScopeGuard};
use jishi_ledger::{AppendError, AppendRequest, Appended, EventStore};
use jishi_projections::{decide, election_stream, Command, Procedure};

use crate::{after_decided, load_election, procedure_for, requests_for, RecordError};

/// One command of a batch and who records it.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub actor: jishi_ledger::Actor,
    pub command: Command,
}

/// A command of a batch was refused or the batch could not be written;
/// nothing of the batch was written.
#[derive(Debug, thiserror::Error)]
#[error("command {index} ({kind} for {target}): {error}")]
pub struct BatchRecordError {
    pub index: usize,
    pub kind: String,
    pub target: String,
    #[source]
    pub error: RecordError,
}

const MAX_ATTEMPTS: usize = 8;

/// What [`preview_batch`] found: how many events the batch would write, and
/// every command the gates would refuse, by index, each judged on the state
/// the commands before it leave (a refused command leaves it unchanged).
#[derive(Debug, Default)]
pub struct Preview {
    pub events: usize,
    pub refused: Vec<(usize, RecordError)>,
}

/// What [`record_batch_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchOnce {
    /// Recorded now: the positions of the events written, in order.
    Recorded(Vec<u64>),
    /// A batch carrying this id was recorded before (a second click on the
    /// same confirmation): nothing was written. Its first event's position.
    Already { position: u64 },
}

/// Decides `items` in order on `state`: the requests of every command that
/// passes, and each refusal by index. With `keep_going` false it stops at the
/// first refusal, as recording must; a preview goes on, so that a clerk sees
/// every line that would be refused at once.
fn decide_each(
    state: &mut jishi_projections::ElectionState,
    recorded: Option<&(Procedure, String)>,
    procedure_file: Option<&Procedure>,
    election_id: &str,
    items: &[BatchItem],
    keep_going: bool,
) -> (Vec<AppendRequest>, Vec<(usize, RecordError)>) {
    let mut requests = Vec::new();
    let mut refused = Vec::new();
    // The procedure in force is loaded once per batch rather than once per
    // command, and changes only with an amendment in the batch.
    let mut procedure: Option<(Procedure, String)> = None;
    for (index, item) in items.iter().enumerate() {
        if !keep_going && !refused.is_empty() {
            break;
        }
        if item.command.election_id != election_id {
            refused.push((
                index,
                jishi_projections::Refusal::Invalid {
                    field: "election_id".into(),
                    reason: format!(
                        "{:?} in a batch for election {election_id:?}",
                        item.command.election_id
                    ),
                }
                .into(),
            ));
            continue;
        }
        let actor = crate::domain_actor(&item.actor);
        let current = match procedure.take() {
            Some(p) => p,
            None => match procedure_for(state, recorded, &item.command, procedure_file) {
                Ok(p) => p,
                Err(e) => {
                    refused.push((index, e));
                    continue;
                }
            },
        };
        match decide(state, &actor, &item.command, &current.0) {
            Ok(decided) => {
                for e in &decided {
                    state.apply(e);
                }
                requests.extend(requests_for(&decided, &item.actor, &current.1));
                procedure = Some(after_decided(current, &decided));
            }
            Err(e) => {
                refused.push((index, e.into()));
                procedure = Some(current);
            }
        }
    }
    (requests, refused)
}

/// Decides `items` (all of one election) on the election as it stands and
/// writes nothing: what recording them now would write or refuse.
pub async fn preview_batch(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    election_id: &str,
    items: &[BatchItem],
) -> Result<Preview, RecordError> {
    let crate::Election {
        mut state,
        procedure: recorded,
        ..
    } = load_election(store.as_ref(), election_id, None).await?;
    let (requests, refused) = decide_each(
        &mut state,
        recorded.as_ref(),
        procedure_file,
        election_id,
        items,
        true,
    );
    Ok(Preview {
        events: requests.iter().map(|r| r.events.len()).sum(),
        refused,
    })
}

/// Records `items` (all of one election) in order, all or nothing. Returns the
/// positions of the events written, in order.
pub async fn record_batch(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    election_id: &str,
    items: &[BatchItem],
) -> Result<Vec<u64>, BatchRecordError> {
    match record_batch_with(store, procedure_file, election_id, items, None).await? {
        BatchOnce::Recorded(p) => Ok(p),
        // Without an id no earlier batch can be found.
        BatchOnce::Already { position } => Ok(vec![position]),
    }
}

/// As [`record_batch`], with the batch's first event carrying `batch_id`, so
/// that a second submission of the same confirmation (a double click, a
/// browser resending the form) finds it and records nothing. The id is
/// looked up before each decision, as `record_once` does for one form.
pub async fn record_batch_once(
    store: &Arc<dyn EventStore>,
    election_id: &str,
    items: &[BatchItem],
    batch_id: uuid::Uuid,
) -> Result<BatchOnce, BatchRecordError> {
    record_batch_with(store, None, election_id, items, Some(batch_id)).await
}

async fn record_batch_with(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    election_id: &str,
    items: &[BatchItem],
    batch_id: Option<uuid::Uuid>,
) -> Result<BatchOnce, BatchRecordError> {
    let fail = |index: usize, error: RecordError| {
        let (kind, target) = items
            .get(index)
            .map(|i| {
                (
                    i.command.kind().to_string(),
                    i.command
                        .candidate_id
                        .clone()
                        .unwrap_or_else(|| i.command.election_id.clone()),
                )
            })
            .unwrap_or_default();
        BatchRecordError {
            index,
            kind,
            target,
            error,
        }
    };
    let prefix = election_stream(election_id);
    for attempt in 1..=MAX_ATTEMPTS {
        if let Some(id) = batch_id {
            let found = store
                .stored_events(&[id])
                .await
                .map_err(|e| fail(0, e.into()))?
                .remove(&id);
            if let Some(found) = found {
                let first = items.first().map(|i| i.actor.id.as_str());
                if first != Some(found.actor.id.as_str()) {
                    return Err(fail(
                        0,
                        RecordError::IdTaken(crate::IdTaken {
                            event_id: id,
                            position: found.position,
                            event_type: found.event_type,
                            actor: found.actor.id,
                        }),
                    ));
                }
                return Ok(BatchOnce::Already {
                    position: found.position,
                });
            }
        }
        let election = load_election(store.as_ref(), election_id, None)
            .await
            .map_err(|e| fail(0, e))?;
        let crate::Election {
            mut state,
            procedure: recorded,
            last_position,
            ..
        } = election;
        let (mut requests, mut refused) = decide_each(
            &mut state,
            recorded.as_ref(),
            procedure_file,
            election_id,
            items,
            false,
        );
        if let Some((index, error)) = refused.pop() {
            // The same batch may have been recorded between the look-up
            // above and the read of the election (two clicks racing): then
            // its own rows are what refuses it, and it is already in.
            if let Some(id) = batch_id {
                let found = store
                    .stored_events(&[id])
                    .await
                    .map_err(|e| fail(0, e.into()))?
                    .remove(&id);
                if let Some(found) = found {
                    if items.first().map(|i| i.actor.id.as_str()) == Some(found.actor.id.as_str()) {
                        return Ok(BatchOnce::Already {
                            position: found.position,
                        });
                    }
                }
            }
            return Err(fail(index, error));
        }
        if let (Some(id), Some(first)) = (
            batch_id,
            requests.first_mut().and_then(|r| r.events.first_mut()),
        ) {
            first.event_id = Some(id);
        }
        let now = store.clock().now();
        let prepared = requests
            .into_iter()
            .map(|r| prepare_request(r, now))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(0, e.into()))?;
        let guard = ScopeGuard {
            prefix: prefix.clone(),
            seen: last_position,
        };
        match store.append_guarded(guard, prepared).await {
            Ok(appended) => {
                return Ok(BatchOnce::Recorded(
                    appended
                        .iter()
                        .flat_map(|a: &Appended| a.events.iter().map(|e| e.position))
                        .collect(),
                ))
            }
            Err(e) if matches!(e.error, AppendError::ScopeChanged { .. }) => {
                tracing::info!(
                    attempt,
                    "election changed meanwhile; deciding the batch again"
                );
                continue;
            }
            Err(e) => return Err(fail(0, e.error.into())),
        }
    }
    Err(fail(0, RecordError::Busy(MAX_ATTEMPTS)))
}
