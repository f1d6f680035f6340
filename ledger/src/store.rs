//! The `EventStore` trait both stores implement, its errors, and the pure
//! append planning they share.
//!
//! A store's job is small on purpose: fetch the stream's version and any rows
//! with the same event ids inside its write transaction, hand them to
//! [`plan_append`], and insert what it returns. Everything that decides *what*
//! is written lives here, once, so SQLite and PostgreSQL cannot disagree.

use std::fmt;

use async_trait::async_trait;

use crate::canonical::HashedEnvelope;
use crate::prepare::{prepare, InvalidField, PreparedEvent};
use crate::row::StoredRow;
use crate::{Actor, AppendRequest, Digest, ExpectedVersion, Payload, RecordedEvent};

/// The last event of the ledger: what the next event chains to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Head {
    pub position: u64,
    pub hash: Digest,
    pub recorded_at: String,
}

/// Where one appended event landed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppendedEvent {
    pub event_id: uuid::Uuid,
    pub position: u64,
    pub stream_version: u64,
    pub hash: Digest,
}

/// The result of one append request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Appended {
    pub stream: String,
    pub events: Vec<AppendedEvent>,
    /// True when every event was already stored with the same content: a
    /// retried request after a lost reply. Nothing was written.
    pub deduplicated: bool,
}

/// A storage failure that is not the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{store}: {source}")]
    Backend {
        store: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("schema: {0}")]
    Schema(String),
    #[error("stored row at position {position} cannot be read: {reason} (run `jishi verify`)")]
    Corrupt { position: i64, reason: String },
    /// The Merkle tree refused to adopt a stored row as a leaf (catching up
    /// with rows written without it): the row would fail `jishi verify`.
    /// Nothing of the tree was written.
    #[error(
        "the Merkle tree does not adopt the row at position {position}: {reason}; the tree is \
         left at {tree_size} events and no append is accepted until this is resolved (run \
         `jishi verify`, docs/OPERATIONS.md)"
    )]
    Inadmissible {
        position: u64,
        reason: String,
        tree_size: u64,
    },
}

impl StoreError {
    pub fn backend(
        store: &'static str,
        e: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError::Backend {
            store,
            source: Box::new(e),
        }
    }
}

/// Why an append request was refused. Nothing of a refused request is written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("{0}")]
    Invalid(InvalidField),
    #[error("stream {stream:?}: expected {expected}, but {}", describe_version(*actual))]
    Conflict {
        stream: String,
        expected: ExpectedVersion,
        actual: Option<u64>,
    },
    #[error(
        "event_id {event_id} is already stored at position {position} with different content \
         ({differs}); a retry must resend the same event, a new event needs a new event_id"
    )]
    EventIdReused {
        event_id: uuid::Uuid,
        position: u64,
        differs: &'static str,
    },
    #[error(
        "events under {prefix:?} changed since position {seen} (now up to position {latest}); \
         decide again on the new state"
    )]
    ScopeChanged {
        prefix: String,
        seen: u64,
        latest: u64,
    },
    /// The write would leave rows no attestation covers, or the ledger asks
    /// for its recording key and none was given (D69). Nothing is written.
    #[error("{0}")]
    Unattested(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PreparedRequest {
    /// Whether this request registers the ledger's first recording key.
    pub fn registers_key(&self) -> bool {
        crate::attest::registers_key(&self.stream, self.events.iter().map(|e| &e.event_type))
    }
}

/// The condition a decision taken on the events of a group of streams needs:
/// nothing was appended to any stream under `prefix` (the stream `prefix`
/// itself, or any `prefix/…`) after position `seen`. An election and its
/// candidates' streams are such a group: a decision about one candidate may
/// depend on the others (a differential ratio, a committee member's conflict).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeGuard {
    pub prefix: String,
    pub seen: u64,
}

impl ScopeGuard {
    /// Whether `stream` lies under the guard's prefix.
    pub fn covers(&self, stream: &str) -> bool {
        stream_under(stream, &self.prefix)
    }
}

/// `stream` is `prefix` or lies below it (`prefix/…`).
pub fn stream_under(stream: &str, prefix: &str) -> bool {
    stream
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// An error of one request within a batch; `index` counts requests from 0.
#[derive(Debug, thiserror::Error)]
#[error("request {index}: {error}")]
pub struct BatchError {
    pub index: usize,
    #[source]
    pub error: AppendError,
}

fn describe_version(v: Option<u64>) -> String {
    match v {
        None => "the stream does not exist".into(),
        Some(v) => format!("the stream is at version {v}"),
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

impl std::str::FromStr for ExpectedVersion {
    type Err = InvalidField;

    /// `any`, `none` (no stream yet), or a version number (0 means no stream).
    fn from_str(s: &str) -> Result<Self, InvalidField> {
        match s.trim() {
            "any" => Ok(ExpectedVersion::Any),
            "none" | "no_stream" | "no-stream" => Ok(ExpectedVersion::NoStream),
            n => match n.parse::<u64>() {
                Ok(0) => Ok(ExpectedVersion::NoStream),
                Ok(v) => Ok(ExpectedVersion::Exact(v)),
                Err(_) => Err(InvalidField::new(
                    "expected_version",
                    format!("{s:?} is not \"any\", \"none\" or a version number"),
                )),
            },
        }
    }
}

/// The event store: append with an expected stream version, read a stream, read
/// everything from a position, the head. Implemented by SQLite and PostgreSQL;
/// one conformance suite runs against both.
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends one request's events to its stream atomically.
    async fn append(&self, request: AppendRequest) -> Result<Appended, AppendError> {
        let mut out = self
            .append_batch(vec![request])
            .await
            .map_err(|e| e.error)?;
        Ok(out.remove(0))
    }

    /// Appends several requests in one transaction: all are written or none.
    async fn append_batch(
        &self,
        requests: Vec<AppendRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        let now = self.clock().now();
        let prepared = requests
            .into_iter()
            .enumerate()
            .map(|(index, r)| prepare_request(r, now).map_err(|error| BatchError { index, error }))
            .collect::<Result<Vec<_>, _>>()?;
        self.append_prepared(prepared).await
    }

    /// Appends requests already checked by [`prepare_request`], in one
    /// transaction, all or nothing. A caller that must refuse a whole file
    /// before writing any of it prepares everything first, then appends.
    async fn append_prepared(
        &self,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError>;

    /// The clock that stamps `recorded_at`.
    fn clock(&self) -> &dyn crate::Clock;

    /// As [`EventStore::append_prepared`], only if `guard` still holds inside
    /// the write transaction; otherwise `AppendError::ScopeChanged` and
    /// nothing is written.
    async fn append_guarded(
        &self,
        guard: ScopeGuard,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError>;

    /// Events of the streams under `prefix` (see [`ScopeGuard`]) with
    /// `position >= from_position`, in position order.
    async fn read_prefix(
        &self,
        prefix: &str,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Events of one stream with `stream_version >= from_version`, in order.
    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Stored rows with `position >= from_position`, in order, as stored (the
    /// verifier reads these, so nothing is checked or parsed on the way).
    /// `from_position` 0 also returns rows stored at positions below 1, which
    /// only a tampered ledger has.
    async fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError>;

    /// Events with `position >= from_position`, in order.
    async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_rows(from_position, limit)
            .await?
            .into_iter()
            .map(StoredRow::into_event)
            .collect()
    }

    /// The current version of a stream, `None` if it has no event.
    async fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError>;

    /// Every stream's head among the first `size` events: its last version
    /// and that event's hash, the leaves of the stream-head map a checkpoint
    /// of that size states (`streams`). This reads every event; stores
    /// answer it from their `(stream, stream_version)` index instead.
    async fn stream_heads(
        &self,
        size: u64,
    ) -> Result<std::collections::BTreeMap<String, StreamTip>, StoreError> {
        let mut heads = std::collections::BTreeMap::new();
        let mut from = 1;
        while from <= size {
            let page = self.read_all(from, 10_000).await?;
            let Some(last) = page.last() else { break };
            from = last.position + 1;
            for e in page.into_iter().filter(|e| e.position <= size) {
                heads.insert(e.stream, (e.stream_version, e.hash));
            }
        }
        Ok(heads)
    }

    /// The stored events that carry any of `ids`, by id, read outside any
    /// write transaction. `jishi import` plans a whole file against these and
    /// the stream versions before it writes a batch (`simulate`), so that a
    /// refusal it can foresee writes nothing, whatever the batch size.
    async fn stored_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<std::collections::HashMap<uuid::Uuid, ExistingEvent>, StoreError>;

    /// The last event, `None` for an empty ledger.
    async fn head(&self) -> Result<Option<Head>, StoreError>;

    /// Stored attestations with `last_position >= from_last`, in order of
    /// their last position, as stored (the verifier reads these).
    async fn read_attestations(
        &self,
        from_last: u64,
        limit: usize,
    ) -> Result<Vec<crate::attest::Attestation>, StoreError>;

    /// The schema's protections that are not as the migrations installed
    /// them (the append-only triggers; on PostgreSQL also the application
    /// role's grants), one entry each; empty when all are in place
    /// (docs/OPERATIONS.md, D64).
    async fn schema_drift(&self) -> Result<Vec<crate::drift::SchemaDrift>, StoreError>;
}

/// A request whose events passed every stateless check.
#[derive(Debug, Clone)]
pub struct PreparedRequest {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<PreparedEvent>,
}

/// Checks and canonicalises a request outside any transaction.
pub fn prepare_request(
    request: AppendRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PreparedRequest, AppendError> {
    crate::prepare::check_stream(&request.stream).map_err(AppendError::Invalid)?;
    if request.events.is_empty() {
        return Err(AppendError::Invalid(InvalidField::new(
            "events",
            "a request must hold at least one event",
        )));
    }
    if request.stream == crate::attest::KEYS_STREAM {
        for (i, e) in request.events.iter().enumerate() {
            crate::attest::check_key_event(&e.event_type, &e.payload).map_err(|reason| {
                AppendError::Invalid(InvalidField::new(format!("events[{i}]"), reason))
            })?;
        }
    }
    let mut events = Vec::with_capacity(request.events.len());
    for (i, e) in request.events.into_iter().enumerate() {
        let p = prepare(e, now).map_err(|mut f| {
            if i > 0 {
                f.field = format!("events[{i}].{}", f.field);
            }
            AppendError::Invalid(f)
        })?;
        if events
            .iter()
            .any(|q: &PreparedEvent| q.event_id == p.event_id)
        {
            return Err(AppendError::Invalid(InvalidField::new(
                "event_id",
                format!("{} appears twice in one request", p.event_id),
            )));
        }
        events.push(p);
    }
    Ok(PreparedRequest {
        stream: request.stream,
        expected: request.expected,
        events,
    })
}

/// The fields of an already stored event that decide whether a resent event
/// with the same id is the same event.
#[derive(Debug, Clone)]
pub struct ExistingEvent {
    pub position: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: String,
    pub actor: Actor,
    pub payload_digest: Digest,
    pub hash: Digest,
}

/// What a store must do for one request.
#[derive(Debug)]
pub enum Plan {
    /// A retry: every event is stored already; return these, write nothing.
    Duplicate(Appended),
    /// New events, sealed and chained, to insert in order.
    Insert(Vec<RecordedEvent>),
}

/// A stream's last event as the store holds it: its version and its hash,
/// which the stream's next event commits to (`stream_prev`, format 3).
pub type StreamTip = (u64, Digest);

/// Decides what one request writes, given the stream's current tip and the
/// stored events (if any) that carry the request's event ids, and chains the
/// new events onto `tip`, which it advances, and onto the stream's tip. Pure:
/// stores call it inside their write transaction so that the facts cannot
/// change underneath.
pub fn plan_append(
    request: &PreparedRequest,
    current: Option<StreamTip>,
    existing: &[Option<ExistingEvent>],
    tip: &mut Option<Head>,
    now: &str,
) -> Result<Plan, AppendError> {
    if existing.iter().any(Option::is_some) {
        return plan_retry(request, existing);
    }
    let current_version = current.map(|(v, _)| v);
    let ok = match request.expected {
        ExpectedVersion::Any => true,
        ExpectedVersion::NoStream => current.is_none(),
        ExpectedVersion::Exact(v) => current_version == Some(v),
    };
    if !ok {
        return Err(AppendError::Conflict {
            stream: request.stream.clone(),
            expected: request.expected,
            actual: current_version,
        });
    }
    let (mut version, mut stream_prev) = current.unwrap_or((0, Digest::ZERO));
    let mut out = Vec::with_capacity(request.events.len());
    for e in &request.events {
        let (position, prev_hash, recorded_at) = match tip {
            None => (1, Digest::ZERO, now.to_string()),
            // recorded_at never goes backwards along positions, even if the
            // clock does, so that "as of a time" is "as of a position".
            Some(h) => (
                h.position + 1,
                h.hash,
                if h.recorded_at.as_str() > now {
                    h.recorded_at.clone()
                } else {
                    now.to_string()
                },
            ),
        };
        version += 1;
        let event = seal(
            &request.stream,
            version,
            e,
            position,
            (prev_hash, stream_prev),
            recorded_at,
        );
        stream_prev = event.hash;
        *tip = Some(Head {
            position,
            hash: event.hash,
            recorded_at: event.recorded_at.clone(),
        });
        out.push(event);
    }
    Ok(Plan::Insert(out))
}

fn plan_retry(
    request: &PreparedRequest,
    existing: &[Option<ExistingEvent>],
) -> Result<Plan, AppendError> {
    let mut events = Vec::with_capacity(existing.len());
    for (e, stored) in request.events.iter().zip(existing) {
        let Some(s) = stored else {
            // Some ids of the request are stored and some are not: this is not
            // a retry of one request, so refuse rather than guess.
            let first = existing.iter().flatten().next();
            return Err(AppendError::EventIdReused {
                event_id: e.event_id,
                position: first.map_or(0, |s| s.position),
                differs: "only part of the request's events are stored",
            });
        };
        let differs = if s.stream != request.stream {
            Some("stream")
        } else if s.event_type != e.event_type {
            Some("event_type")
        } else if s.schema_version != e.schema_version {
            Some("schema_version")
        } else if s.actor != e.actor {
            Some("actor")
        } else if s.payload_digest != e.payload_digest {
            Some("payload")
        } else if e.occurred_at.as_ref().is_some_and(|o| *o != s.occurred_at) {
            Some("occurred_at")
        } else {
            None
        };
        if let Some(differs) = differs {
            return Err(AppendError::EventIdReused {
                event_id: e.event_id,
                position: s.position,
                differs,
            });
        }
        events.push(AppendedEvent {
            event_id: e.event_id,
            position: s.position,
            stream_version: s.stream_version,
            hash: s.hash,
        });
    }
    Ok(Plan::Duplicate(Appended {
        stream: request.stream.clone(),
        events,
        deduplicated: true,
    }))
}

/// Gives a prepared event its place in the ledger and computes its hash.
/// `links` are the hashes it chains onto: the ledger's previous event and
/// the stream's (zero for a stream's first event). Every event sealed here
/// is of format 3.
pub fn seal(
    stream: &str,
    stream_version: u64,
    e: &PreparedEvent,
    position: u64,
    links: (Digest, Digest),
    recorded_at: String,
) -> RecordedEvent {
    let (prev_hash, stream_prev) = links;
    let occurred_at = e.occurred_at.clone().unwrap_or_else(|| recorded_at.clone());
    let event_id = e.event_id.hyphenated().to_string();
    let hash = HashedEnvelope {
        position,
        stream,
        stream_version,
        event_id: &event_id,
        event_type: &e.event_type,
        schema_version: u64::from(e.schema_version),
        occurred_at: &occurred_at,
        recorded_at: &recorded_at,
        actor_id: &e.actor.id,
        actor_name: &e.actor.name,
        actor_role: &e.actor.role,
        actor_org: &e.actor.org,
        payload_digest: &e.payload_digest,
        prev_hash: &prev_hash,
        stream_prev: Some(&stream_prev),
    }
    .hash();
    RecordedEvent {
        position,
        stream: stream.to_string(),
        stream_version,
        event_id: e.event_id,
        event_type: e.event_type.clone(),
        schema_version: e.schema_version,
        occurred_at,
        recorded_at,
        actor: e.actor.clone(),
        payload: Payload::from_stored(e.payload.clone()),
        payload_digest: e.payload_digest,
        prev_hash,
        stream_prev: Some(stream_prev),
        hash,
    }
}

/// The appended positions of a plan's inserted events.
pub fn appended_of(stream: &str, events: &[RecordedEvent]) -> Appended {
    Appended {
        stream: stream.to_string(),
        events: events
            .iter()
            .map(|e| AppendedEvent {
                event_id: e.event_id,
                position: e.position,
                stream_version: e.stream_version,
                hash: e.hash,
            })
            .collect(),
        deduplicated: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Actor, NewEvent};

    fn prepared(n: usize) -> PreparedRequest {
        let events = (0..n)
            .map(|i| NewEvent {
                event_id: None,
                event_type: "a.b".into(),
                schema_version: 1,
                occurred_at: None,
                actor: Actor {
                    id: "1".into(),
                    name: "n".into(),
                    role: "r".into(),
                    org: "o".into(),
                },
                payload: serde_json::json!({ "i": i }),
            })
            .collect();
        prepare_request(
            AppendRequest {
                stream: "s".into(),
                expected: ExpectedVersion::Any,
                events,
            },
            chrono::Utc::now(),
        )
        .unwrap()
    }

    #[test]
    fn recorded_at_never_goes_backwards_when_the_clock_does() {
        let mut tip = Some(Head {
            position: 7,
            hash: Digest([1; 32]),
            recorded_at: "2026-01-02T00:00:00.000000Z".into(),
        });
        let Plan::Insert(events) = plan_append(
            &prepared(2),
            Some((3, Digest([2; 32]))),
            &[None, None],
            &mut tip,
            "2026-01-01T00:00:00.000000Z",
        )
        .unwrap() else {
            panic!("expected an insert")
        };
        assert_eq!(events[0].recorded_at, "2026-01-02T00:00:00.000000Z");
        assert_eq!(events[0].occurred_at, events[0].recorded_at);
        assert_eq!((events[0].position, events[0].stream_version), (8, 4));
        assert_eq!(events[0].prev_hash, Digest([1; 32]));
        assert_eq!(events[1].prev_hash, events[0].hash);
        // Each commits to the stream's previous event.
        assert_eq!(events[0].stream_prev, Some(Digest([2; 32])));
        assert_eq!(events[1].stream_prev, Some(events[0].hash));
        assert_eq!(tip.unwrap().position, 9);
    }

    #[test]
    fn expected_version_parses_the_documented_words() {
        assert_eq!(
            "any".parse::<ExpectedVersion>().unwrap(),
            ExpectedVersion::Any
        );
        assert_eq!(
            "none".parse::<ExpectedVersion>().unwrap(),
            ExpectedVersion::NoStream
        );
        assert_eq!(
            "0".parse::<ExpectedVersion>().unwrap(),
            ExpectedVersion::NoStream
        );
        assert_eq!(
            "12".parse::<ExpectedVersion>().unwrap(),
            ExpectedVersion::Exact(12)
        );
        assert_eq!(
            "latest".parse::<ExpectedVersion>().unwrap_err().field,
            "expected_version"
        );
    }
}
