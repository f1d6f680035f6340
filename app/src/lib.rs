//! `jishi-app`: the use cases the command line and the server share.
//!
//! * [`record`]: load an election from the ledger, fold it, let the domain
//!   `decide` the command, and append what it decided — all of it, or none —
//!   only if nothing else was recorded for that election in between.
//! * [`load_election`]: the events of an election and the state they fold to,
//!   optionally only up to a position ("as of").
//!
//! Architecture invariant: this crate holds no rule of the procedure (those are
//! in `projections`) and no SQL (that is in `ledger`); it only connects them.

pub mod access;
pub mod batch;
pub mod demo;
pub mod sealed;
pub mod users;
pub mod views;

use std::sync::Arc;

use jishi_ledger::store::{prepare_request, ScopeGuard};
use jishi_ledger::{
    AppendError, AppendRequest, Appended, EventStore, ExpectedVersion, NewEvent, RecordedEvent,
    StoreError,
};
use jishi_projections::{
    decide, election_stream, Command, DomainEvent, ElectionState, EventBody, EventError, Procedure,
    ProcedureError, Refusal,
};

/// How many times a command is decided again when another recorder changed the
/// same election between our read and our append.
const MAX_ATTEMPTS: usize = 8;
/// Events read per query while loading an election.
const PAGE: usize = 10_000;

/// Why a command was not recorded. In every case nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The procedure refuses the act (a rule and its source, and how to override).
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Procedure(#[from] ProcedureError),
    #[error(transparent)]
    Ledger(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event of the election is not one the domain knows: it was
    /// written around `jishi record` (for instance with a raw append).
    #[error("position {position}: {source}")]
    Undecodable {
        position: u64,
        #[source]
        source: EventError,
    },
    /// A form's event id names another act (`record_once`).
    #[error(transparent)]
    IdTaken(#[from] IdTaken),
    #[error("the election changed {0} times while this command was being decided; try again")]
    Busy(usize),
    /// `--procedure FILE` is not the procedure in force for the election
    /// (D66): a command is decided only under the recorded procedure.
    #[error(
        "the procedure given ({given}) differs from the one in force for election {election:?} \
         ({how}, {recorded}): {}. Nothing was recorded; to change the procedure, record \
         procedure.amended with the new content",
        differences.join("; ")
    )]
    ProcedureDiffers {
        election: String,
        how: String,
        recorded: String,
        given: String,
        differences: Vec<String>,
    },
}

/// An election as read from the ledger.
#[derive(Debug, Clone)]
pub struct Election {
    pub state: ElectionState,
    /// Every event of the election and its candidates, in ledger order, with
    /// the domain event each one is.
    pub events: Vec<(RecordedEvent, DomainEvent)>,
    /// The last position read (0 for an election with no event).
    pub last_position: u64,
    /// The procedure recorded in force and its digest (D65): the last
    /// `procedure.adopted` or `procedure.amended` with a gate mark; `None`
    /// for an election not opened, or opened before procedures were recorded.
    pub procedure: Option<(Procedure, String)>,
}

/// Reads an election's events (up to `as_of`, a position, if given) and folds them.
pub async fn load_election(
    store: &dyn EventStore,
    election_id: &str,
    as_of: Option<u64>,
) -> Result<Election, RecordError> {
    let prefix = election_stream(election_id);
    let mut state = ElectionState::default();
    let mut events = Vec::new();
    let mut from = 1;
    let mut last_position = 0;
    // Where the last marked procedure event is, so that only it is loaded.
    let mut procedure_at: Option<usize> = None;
    'pages: loop {
        let page = store.read_prefix(&prefix, from, PAGE).await?;
        let full = page.len() == PAGE;
        for e in page {
            if as_of.is_some_and(|p| e.position > p) {
                break 'pages;
            }
            let (domain, mark) = decode_marked(&e)?;
            if mark.is_some()
                && matches!(
                    domain.body,
                    EventBody::ProcedureAdopted(_) | EventBody::ProcedureAmended(_)
                )
            {
                procedure_at = Some(events.len());
            }
            state.apply(&domain);
            last_position = e.position;
            from = e.position + 1;
            events.push((e, domain));
        }
        if !full {
            break;
        }
    }
    let procedure =
        procedure_at.and_then(|i| jishi_projections::replay::procedure_of_event(&events[i].1));
    Ok(Election {
        state,
        events,
        last_position,
        procedure,
    })
}

/// The domain event a stored event is, and its gate mark (D67).
pub fn decode_marked(e: &RecordedEvent) -> Result<(DomainEvent, Option<String>), RecordError> {
    let undecodable = |source| RecordError::Undecodable {
        position: e.position,
        source,
    };
    let payload = e.payload.to_value().map_err(|err| {
        undecodable(EventError::NotAnObject {
            event_type: format!("{} (payload unreadable: {err})", e.event_type),
        })
    })?;
    DomainEvent::from_payload_marked(&e.event_type, e.schema_version, payload).map_err(undecodable)
}

/// The domain event a stored event is.
pub fn decode(e: &RecordedEvent) -> Result<DomainEvent, RecordError> {
    decode_marked(e).map(|(event, _)| event)
}

/// The procedure a command is decided under, and its digest (the gate mark
/// of what it records). An opening adopts the file the user gave, or the
/// built-in one of its kind. Any other command follows the procedure in
/// force: the recorded one, or for an election opened before procedures were
/// recorded, the built-in one of its kind; a file given must be that
/// procedure, or nothing is recorded (D66).
pub fn procedure_for(
    state: &ElectionState,
    recorded: Option<&(Procedure, String)>,
    command: &Command,
    from_file: Option<&Procedure>,
) -> Result<(Procedure, String), RecordError> {
    let kind = match (&state.opened, &command.body) {
        (None, EventBody::ElectionOpened(b)) => {
            let p = match from_file {
                Some(p) => p.clone(),
                None => Procedure::builtin(&b.kind)?,
            };
            let digest = p.digest();
            return Ok((p, digest));
        }
        (Some(opened), _) => opened.kind.clone(),
        (None, _) => {
            return Err(Refusal::ElectionNotOpened(command.election_id.clone()).into());
        }
    };
    let (in_force, how) = match recorded {
        Some(r) => (r.clone(), "recorded"),
        None => {
            let p = Procedure::builtin(&kind)?;
            let digest = p.digest();
            ((p, digest), "built-in, no procedure recorded")
        }
    };
    if let Some(file) = from_file {
        let given = file.digest();
        if given != in_force.1 {
            return Err(RecordError::ProcedureDiffers {
                election: command.election_id.clone(),
                how: how.into(),
                recorded: short(&in_force.1).into(),
                given: short(&given).into(),
                differences: jishi_projections::differences(&in_force.0, file),
            });
        }
    }
    Ok(in_force)
}

fn short(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}

/// The procedure in force after `decided` was recorded under `current`: an
/// amendment the gates passed replaces it.
pub(crate) fn after_decided(
    current: (Procedure, String),
    decided: &[DomainEvent],
) -> (Procedure, String) {
    decided
        .iter()
        .rev()
        .filter(|e| matches!(e.body, EventBody::ProcedureAmended(_)))
        .find_map(jishi_projections::replay::procedure_of_event)
        .unwrap_or(current)
}

/// The domain's actor for the ledger's (the same four fields; the domain
/// keeps its own type so that it stays free of storage).
pub fn domain_actor(a: &jishi_ledger::Actor) -> jishi_projections::Actor {
    jishi_projections::Actor {
        id: a.id.clone(),
        name: a.name.clone(),
        role: a.role.clone(),
        org: a.org.clone(),
    }
}

/// The ledger's actor for the domain's.
pub fn ledger_actor(a: &jishi_projections::Actor) -> jishi_ledger::Actor {
    jishi_ledger::Actor {
        id: a.id.clone(),
        name: a.name.clone(),
        role: a.role.clone(),
        org: a.org.clone(),
    }
}

/// A non-domain event (users, recorded reads) by `actor`, with `payload`
/// serialised: the ledger stamps its time and id.
pub(crate) fn plain_event<T: serde::Serialize>(
    event_type: &str,
    actor: &jishi_ledger::Actor,
    payload: &T,
) -> Result<NewEvent, AppendError> {
    let payload = serde_json::to_value(payload).map_err(|e| {
        AppendError::Invalid(jishi_ledger::InvalidField::new("payload", e.to_string()))
    })?;
    Ok(NewEvent {
        event_id: None,
        event_type: event_type.to_string(),
        schema_version: 1,
        occurred_at: None,
        actor: actor.clone(),
        payload,
    })
}

/// Appends one event to `stream` (with `expected`) and returns its position.
pub(crate) async fn append_one(
    store: &dyn EventStore,
    stream: String,
    expected: ExpectedVersion,
    event: NewEvent,
) -> Result<u64, AppendError> {
    let appended = store
        .append(AppendRequest {
            stream,
            expected,
            events: vec![event],
        })
        .await?;
    Ok(appended.events.first().map_or(0, |e| e.position))
}

/// What `record` appended: each domain event with where it landed.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub events: Vec<(DomainEvent, jishi_ledger::AppendedEvent)>,
}

/// Records a command: decides it on the election's current state and appends
/// the decided events in one transaction, guarded so that nothing recorded for
/// the same election in between goes unseen (then it decides again).
pub async fn record(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    actor: &jishi_ledger::Actor,
    command: &Command,
) -> Result<Recorded, RecordError> {
    for attempt in 1..=MAX_ATTEMPTS {
        if let Some(r) = attempt_record(store, procedure_file, actor, command, None).await? {
            return Ok(r);
        }
        tracing::info!(attempt, "election changed meanwhile; deciding again");
    }
    Err(RecordError::Busy(MAX_ATTEMPTS))
}

/// One decision and its guarded append: `None` when something was recorded
/// for the election since it was read (the caller decides again). With
/// `event_id`, the act itself carries it; what `decide` adds around the act
/// (an override.recorded, procedure.adopted, consequences) is written in the
/// same transaction, so finding the act means finding them all.
async fn attempt_record(
    store: &Arc<dyn EventStore>,
    procedure_file: Option<&Procedure>,
    actor: &jishi_ledger::Actor,
    command: &Command,
    event_id: Option<uuid::Uuid>,
) -> Result<Option<Recorded>, RecordError> {
    let acting = domain_actor(actor);
    let election = load_election(store.as_ref(), &command.election_id, None).await?;
    let (procedure, digest) = procedure_for(
        &election.state,
        election.procedure.as_ref(),
        command,
        procedure_file,
    )?;
    let decided = decide(&election.state, &acting, command, &procedure)?;
    let mut requests = requests_for(&decided, actor, &digest);
    if let Some(id) = event_id {
        if let Some(act) = requests
            .iter_mut()
            .flat_map(|r| r.events.iter_mut())
            .find(|e| e.event_type == command.kind())
        {
            act.event_id = Some(id);
        }
    }
    let now = store.clock().now();
    let prepared = requests
        .into_iter()
        .map(|r| prepare_request(r, now))
        .collect::<Result<Vec<_>, _>>()?;
    let guard = ScopeGuard {
        prefix: election_stream(&command.election_id),
        seen: election.last_position,
    };
    match store.append_guarded(guard, prepared).await {
        Ok(appended) => {
            let landed = appended
                .iter()
                .flat_map(|a: &Appended| a.events.iter().cloned());
            Ok(Some(Recorded {
                events: decided.into_iter().zip(landed).collect(),
            }))
        }
        Err(e) if matches!(e.error, AppendError::ScopeChanged { .. }) => Ok(None),
        Err(e) => Err(e.error.into()),
    }
}

/// What [`record_once`] did: recorded the command now, or found that the
/// same act (its event id) was recorded before and wrote nothing.
#[derive(Debug, Clone)]
pub enum Once {
    Recorded(Recorded),
    /// The act with this event id is already in the ledger: a second click
    /// or a retried form. Its position and stream, as stored.
    Already {
        position: u64,
        stream: String,
        event_type: String,
    },
}

/// Why the event id of a form cannot be used for this command: it names an
/// act of another kind or by another actor (a form copied and edited).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "event id {event_id} is already recorded at position {position} as {event_type} by {actor}; \
     reload the form for a new one"
)]
pub struct IdTaken {
    pub event_id: uuid::Uuid,
    pub position: u64,
    pub event_type: String,
    pub actor: String,
}

/// As [`record`], with the act carrying `event_id`, so that a retry of the
/// same submission (a double click, a browser resending a form) records
/// once. The id is looked up before each decision: `decide` judges a retry
/// on the state the first submission left, and would refuse it (a second
/// nomination of the same candidate) or record it twice (a second
/// deliberation round), so the ledger's own idempotency by id, which
/// compares content, is never reached for it. Two submissions racing each
/// other are held apart by the scope guard: the later one decides again,
/// sees the id and writes nothing.
pub async fn record_once(
    store: &Arc<dyn EventStore>,
    actor: &jishi_ledger::Actor,
    command: &Command,
    event_id: uuid::Uuid,
) -> Result<Once, RecordError> {
    for attempt in 1..=MAX_ATTEMPTS {
        if let Some(found) = store.stored_events(&[event_id]).await?.remove(&event_id) {
            if found.event_type != command.kind() || found.actor.id != actor.id {
                return Err(RecordError::IdTaken(IdTaken {
                    event_id,
                    position: found.position,
                    event_type: found.event_type,
                    actor: found.actor.id,
                }));
            }
            return Ok(Once::Already {
                position: found.position,
                stream: found.stream,
                event_type: found.event_type,
            });
        }
        if let Some(r) = attempt_record(store, None, actor, command, Some(event_id)).await? {
            return Ok(Once::Recorded(r));
        }
        tracing::info!(attempt, "election changed meanwhile; deciding again");
    }
    Err(RecordError::Busy(MAX_ATTEMPTS))
}

/// One request per run of consecutive events on the same stream, in order. The
/// guard, not the stream versions, is what keeps the decision consistent.
/// Each payload carries the gate mark: the digest of the procedure the
/// events were decided under (D67).
pub(crate) fn requests_for(
    events: &[DomainEvent],
    actor: &jishi_ledger::Actor,
    procedure_digest: &str,
) -> Vec<AppendRequest> {
    let mut out: Vec<AppendRequest> = Vec::new();
    for e in events {
        let stream = e.stream();
        let mut payload = e.to_payload();
        if let serde_json::Value::Object(map) = &mut payload {
            map.insert(
                jishi_projections::events::GATE_KEY.into(),
                serde_json::Value::String(procedure_digest.to_string()),
            );
        }
        let new = NewEvent {
            event_id: None,
            event_type: e.event_type().to_string(),
            schema_version: e.schema_version(),
            occurred_at: Some(e.occurred_at_rfc3339()),
            actor: actor.clone(),
            payload,
        };
        match out.last_mut() {
            Some(last) if last.stream == stream => last.events.push(new),
            _ => out.push(AppendRequest {
                stream,
                expected: ExpectedVersion::Any,
                events: vec![new],
            }),
        }
    }
    out
}
