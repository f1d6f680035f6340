//! Planning a group in memory: every caller's requests against the head and
//! stream versions the group has already planned, with the shared
//! [`plan_append`], and the group's attestation. Nothing here touches the
//! database, so a refusal costs the other callers nothing.

use std::collections::HashMap;

use super::{Job, Writing};
use crate::attest::{group_start, Attestation};
use crate::store::{
    appended_of, plan_append, AppendError, Appended, BatchError, ExistingEvent, Head, Plan,
    PreparedRequest, StreamTip,
};
use crate::RecordedEvent;

/// What the open transaction already holds or will hold: the facts every later
/// caller in the same batch must be planned against.
pub(super) struct BatchState {
    pub(super) tip: Option<Head>,
    pub(super) versions: HashMap<String, Option<StreamTip>>,
    /// Events already in the ledger, by id (read under the lock).
    pub(super) stored: HashMap<uuid::Uuid, ExistingEvent>,
    /// Events planned by this group so far, by id: their index in the
    /// group's rows. A second caller sending the same event is then answered
    /// as a retry of the first.
    pub(super) planned: HashMap<uuid::Uuid, usize>,
}

impl BatchState {
    pub(super) fn new(
        tip: Option<Head>,
        versions: HashMap<String, Option<StreamTip>>,
        stored: HashMap<uuid::Uuid, ExistingEvent>,
        events: usize,
    ) -> BatchState {
        BatchState {
            tip,
            versions,
            stored,
            planned: HashMap::with_capacity(events),
        }
    }
}

fn existing_of(e: &RecordedEvent) -> ExistingEvent {
    ExistingEvent {
        position: e.position,
        stream: e.stream.clone(),
        stream_version: e.stream_version,
        event_type: e.event_type.clone(),
        schema_version: e.schema_version,
        occurred_at: e.occurred_at.clone(),
        actor: e.actor.clone(),
        payload_digest: e.payload_digest,
        hash: e.hash,
    }
}

/// Plans one caller's requests all-or-nothing. Each accepted request goes
/// straight into the batch state and the rows, and a refused one undoes what
/// the caller's earlier requests did, so that the usual case (every caller
/// accepted) copies nothing twice: this runs in the writer, between one
/// group's commit and the next.
fn plan_job(
    requests: &[PreparedRequest],
    state: &mut BatchState,
    now: &str,
    rows: &mut Vec<RecordedEvent>,
) -> Result<Vec<Appended>, BatchError> {
    let tip_before = state.tip.clone();
    let rows_before = rows.len();
    // Stream versions as they were before this caller: `None`, not there.
    let mut versions_before: Vec<(&str, Option<Option<StreamTip>>)> = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let current = state.versions.get(&request.stream).copied().flatten();
        let found: Vec<Option<ExistingEvent>> = request
            .events
            .iter()
            .map(|e| match state.planned.get(&e.event_id) {
                Some(&i) => rows.get(i).map(existing_of),
                None => state.stored.get(&e.event_id).cloned(),
            })
            .collect();
        let planned = match plan_append(request, current, &found, &mut state.tip, now) {
            Ok(planned) => planned,
            Err(error) => {
                for e in &rows[rows_before..] {
                    state.planned.remove(&e.event_id);
                }
                rows.truncate(rows_before);
                for (stream, before) in versions_before.into_iter().rev() {
                    match before {
                        Some(v) => state.versions.insert(stream.to_string(), v),
                        None => state.versions.remove(stream),
                    };
                }
                state.tip = tip_before;
                return Err(BatchError { index, error });
            }
        };
        match planned {
            Plan::Duplicate(appended) => out.push(appended),
            Plan::Insert(events) => {
                if let Some(last) = events.last() {
                    let v = Some((last.stream_version, last.hash));
                    let before = match state.versions.get_mut(&request.stream) {
                        Some(slot) => Some(std::mem::replace(slot, v)),
                        None => {
                            state.versions.insert(request.stream.clone(), v);
                            None
                        }
                    };
                    versions_before.push((&request.stream, before));
                }
                out.push(appended_of(&request.stream, &events));
                for e in events {
                    state.planned.insert(e.event_id, rows.len());
                    rows.push(e);
                }
            }
        }
    }
    Ok(out)
}

/// Plans every caller of a group against `state` (the ledger as read, or as
/// known), guarded callers against `latest_under` first: one result per
/// caller, in order, and the rows to write.
pub(super) fn plan_group(
    jobs: &[Job],
    state: &mut BatchState,
    latest_under: &HashMap<String, u64>,
    now: &str,
) -> (Vec<Result<Vec<Appended>, BatchError>>, Vec<RecordedEvent>) {
    let mut rows: Vec<RecordedEvent> = Vec::new();
    let results = jobs
        .iter()
        .map(|job| {
            if let Some(g) = &job.guard {
                // Recorded before this transaction, or by an earlier caller of it.
                let earlier = rows
                    .iter()
                    .filter(|e| g.covers(&e.stream))
                    .map(|e| e.position)
                    .max()
                    .unwrap_or(0);
                let latest = latest_under
                    .get(g.prefix.as_str())
                    .copied()
                    .unwrap_or(0)
                    .max(earlier);
                if latest > g.seen {
                    return Err(BatchError {
                        index: 0,
                        error: AppendError::ScopeChanged {
                            prefix: g.prefix.clone(),
                            seen: g.seen,
                            latest,
                        },
                    });
                }
            }
            plan_job(&job.requests, state, now, &mut rows)
        })
        .collect();
    (results, rows)
}

/// The attestation of the group `rows` about to be written after `head`
/// (see [`group_start`]): `None` for a ledger without a key, written
/// without one; `Err` when the rules refuse the write.
pub(super) fn attest_group(
    w: &Writing,
    attested: u64,
    head: u64,
    jobs: &[Job],
    rows: &[RecordedEvent],
) -> Result<Option<Attestation>, String> {
    let registers = jobs
        .iter()
        .flat_map(|j| &j.requests)
        .any(PreparedRequest::registers_key);
    let first = group_start(attested, head, registers, w.attestor.is_some())?;
    Ok(match (first, &w.attestor, rows.last()) {
        (Some(first), Some(a), Some(last)) => Some(a.attest(first, last.position, &last.hash)),
        _ => None,
    })
}
