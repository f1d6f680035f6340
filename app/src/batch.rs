//! Recording many commands of one election at once: the election is read and
//! folded once, each command is decided in turn against the state the previous
//! ones left (so every command passes every gate exactly as `record` would
//! judge it), and all decided events are appended in one guarded transaction.
//! Loading the election once per batch instead of once per command is what
//! makes `jishi demo` and bulk imports take seconds rather than minutes.

use std::sync::Arc;

use jishi_ledger::store::{prepare_request, ScopeGuard};
use jishi_ledger::{AppendError, Appended, EventStore};
use jishi_projections::{decide, election_stream, Command, DomainEvent, Procedure};

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

/// Records `items` (all of one election) in order, all or nothing. Returns the
/// positions of the events written, in order.
pub async fn record_batch(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    election_id: &str,
    items: &[BatchItem],
) -> Result<Vec<u64>, BatchRecordError> {
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
        let election = load_election(store.as_ref(), election_id, None)
            .await
            .map_err(|e| fail(0, e))?;
        let crate::Election {
            mut state,
            procedure: recorded,
            last_position,
            ..
        } = election;
        let mut requests = Vec::new();
        // The procedure in force is loaded once per batch rather than once
        // per command, and changes only with an amendment in the batch.
        let mut procedure: Option<(Procedure, String)> = None;
        for (index, item) in items.iter().enumerate() {
            if item.command.election_id != election_id {
                return Err(fail(
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
            }
            let actor = jishi_projections::Actor {
                id: item.actor.id.clone(),
                name: item.actor.name.clone(),
                role: item.actor.role.clone(),
                org: item.actor.org.clone(),
            };
            let current = match procedure.take() {
                Some(p) => p,
                None => procedure_for(&state, recorded.as_ref(), &item.command, procedure_file)
                    .map_err(|e| fail(index, e))?,
            };
            let decided: Vec<DomainEvent> = decide(&state, &actor, &item.command, &current.0)
                .map_err(|e| fail(index, e.into()))?;
            for e in &decided {
                state.apply(e);
            }
            requests.extend(requests_for(&decided, &item.actor, &current.1));
            procedure = Some(after_decided(current, &decided));
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
                return Ok(appended
                    .iter()
                    .flat_map(|a: &Appended| a.events.iter().map(|e| e.position))
                    .collect())
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
