//! Planning many requests against the ledger as it stands, writing nothing.
//!
//! `jishi import` writes a file in batches, one transaction each. Without a
//! plan of the whole file first, a refusal at line 750 would be found only
//! when its batch is written, after the batches before it had committed. So
//! the file is planned first, request by request, with the same
//! [`plan_append`] each write transaction runs, against the head, the stream
//! versions and the stored event ids read now, each request seeing what the
//! earlier ones leave. `--dry-run` stops there; a real import writes only if
//! the plan holds. What the plan cannot foresee is another writer between
//! batches: the write transactions check again, and the caller must report
//! what was written by then.

use std::collections::HashMap;

use crate::prepare::format_recorded_at;
use crate::store::{plan_append, EventStore, ExistingEvent, Plan, PreparedRequest};
use crate::{AppendError, StoreError};

/// What planning a list of requests found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Simulated {
    /// Events the requests would write.
    pub new_events: usize,
    /// Requests that are retries of stored ones (same ids and content): they
    /// would write nothing.
    pub duplicates: usize,
    /// The positions the new events would take if nobody else writes first.
    pub positions: Option<(u64, u64)>,
    /// The ledger head the plan started from (0 for an empty ledger).
    pub head: u64,
}

/// Why a list of requests would not be written whole.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// Request `index` carries an event id that request `first` (earlier in
    /// the same list) carries too. Refused as such rather than planned: the
    /// store would otherwise report the first one as "already stored",
    /// although nothing of the list is.
    #[error("event_id {event_id} repeats the event_id of request {first}")]
    Repeated {
        index: usize,
        first: usize,
        event_id: uuid::Uuid,
    },
    /// Request `index` would be refused by the store.
    #[error("request {index}: {error}")]
    Refused { index: usize, error: AppendError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Plans `requests` in order as one sequence of appends to `store`, without
/// writing. Reads are not one snapshot: the result is what the store would
/// do if nothing else is written meanwhile.
pub async fn simulate(
    store: &dyn EventStore,
    requests: &[PreparedRequest],
) -> Result<Simulated, SimulateError> {
    let mut first_of: HashMap<uuid::Uuid, usize> = HashMap::new();
    for (index, r) in requests.iter().enumerate() {
        for e in &r.events {
            if let Some(&first) = first_of.get(&e.event_id) {
                if first != index {
                    return Err(SimulateError::Repeated {
                        index,
                        first,
                        event_id: e.event_id,
                    });
                }
            }
            first_of.insert(e.event_id, index);
        }
    }
    let ids: Vec<uuid::Uuid> = first_of.keys().copied().collect();
    let stored = store.stored_events(&ids).await?;
    // The simulation decides only what the versions decide: the stream's
    // last hash (which a real append chains onto) is not read, a zero
    // stands in for it.
    let mut versions: HashMap<&str, Option<crate::store::StreamTip>> = HashMap::new();
    for r in requests {
        if !versions.contains_key(r.stream.as_str()) {
            let v = store.stream_version(&r.stream).await?;
            versions.insert(&r.stream, v.map(|v| (v, crate::Digest::ZERO)));
        }
    }
    let mut tip = store.head().await?;
    let head = tip.as_ref().map_or(0, |h| h.position);
    let now = format_recorded_at(store.clock().now());
    let mut out = Simulated {
        head,
        ..Simulated::default()
    };
    for (index, r) in requests.iter().enumerate() {
        let found: Vec<Option<ExistingEvent>> = r
            .events
            .iter()
            .map(|e| stored.get(&e.event_id).cloned())
            .collect();
        let current = versions.get(r.stream.as_str()).copied().flatten();
        match plan_append(r, current, &found, &mut tip, &now)
            .map_err(|error| SimulateError::Refused { index, error })?
        {
            Plan::Duplicate(_) => out.duplicates += 1,
            Plan::Insert(events) => {
                if let (Some(first), Some(last)) = (events.first(), events.last()) {
                    versions.insert(&r.stream, Some((last.stream_version, last.hash)));
                    out.new_events += events.len();
                    let start = out.positions.map_or(first.position, |p| p.0);
                    out.positions = Some((start, last.position));
                }
            }
        }
    }
    Ok(out)
}
