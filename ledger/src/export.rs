//! Case exports: one self-contained JSON file that an investigator checks
//! offline with nothing but the file and the log's (and witnesses') public
//! keys. Pure, so that a server can build and check exports too.
//!
//! What the file proves, and how (docs/FORMAT-merkle.md §8):
//! * each payload matches its `payload_digest` (BLAKE3 of its JCS bytes);
//! * each envelope gives its `hash` (BLAKE3 over the tagged JCS envelope), so
//!   no field of the event was changed;
//! * each `hash` is leaf `position − 1` of the tree whose root the checkpoint
//!   states (an RFC 9162 inclusion proof), so the event is in the ledger at
//!   that position, as the ledger was when the checkpoint was signed;
//! * the checkpoint note is signed by every key the investigator trusts.
//!
//! Every byte of the file is covered by one of these checks or by the strict
//! parse (unknown fields are refused, and the selector must match every
//! event), so that changing any byte makes verification fail.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::canonical::{canonical_json, parse_strict, payload_digest, HashedEnvelope};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::merkle::{verify_consistency, verify_inclusion, VerifyError};
use crate::note::{Note, NoteError, VerifierKey};
use crate::streams::RangeProof;
use crate::{Digest, RecordedEvent};

/// The `format` value of this version of the export: format 2 proves the
/// file complete (docs/FORMAT-merkle.md §8, §11).
pub const FORMAT: &str = "jishi-case-export/2";

/// The format of exports written before completeness proofs: still
/// verified, but reported as not proving that nothing was left out.
pub const FORMAT_1: &str = "jishi-case-export/1";

/// The one reason a payload is withheld today.
pub const WITHHELD_REDACTED: &str = "redacted";

/// Which events an export holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Selector {
    /// Every event of one stream.
    Stream(String),
    /// Every event of the streams equal to this prefix or below it
    /// (`prefix/…`); a prefix ending in `/` matches only below it.
    Prefix(String),
}

impl Selector {
    pub fn matches(&self, stream: &str) -> bool {
        match self {
            Selector::Stream(s) => stream == s,
            Selector::Prefix(p) if p.ends_with('/') => stream.starts_with(p.as_str()),
            Selector::Prefix(p) => {
                stream == p
                    || stream
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            }
        }
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Stream(s) => write!(f, "stream {s:?}"),
            Selector::Prefix(p) => write!(f, "streams under {p:?}"),
        }
    }
}

/// The actor as exported; its own type so that unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedActor {
    pub id: String,
    pub name: String,
    pub role: String,
    pub org: String,
}

/// One event with its inclusion proof in the export's checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportedEvent {
    pub position: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: u64,
    pub occurred_at: String,
    pub recorded_at: String,
    pub actor: ExportedActor,
    /// The payload object; absent when it was redacted (the digest, which the
    /// hash covers, still stands for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<RawValue>>,
    /// Why the payload is absent, when it is (format 2: `"redacted"`); the
    /// digest still commits to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_withheld: Option<String>,
    pub payload_digest: Digest,
    pub prev_hash: Digest,
    /// The stream predecessor's hash (format 3 events; absent for older ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_prev_hash: Option<Digest>,
    pub hash: Digest,
    /// RFC 9162 `PATH(position − 1, D[checkpoint size])`, nearest sibling first.
    pub inclusion_proof: Vec<Digest>,
}

/// A case export (see the module documentation and docs/FORMAT-merkle.md §8).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseExport {
    pub format: String,
    pub selector: Selector,
    /// The signed (and perhaps cosigned) checkpoint note, verbatim.
    pub checkpoint: String,
    /// Format 2: for each name range of the selector, every stream of the
    /// checkpoint's stream map in it, with the streams around it
    /// (docs/FORMAT-merkle.md §11). Absent in format 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<RangeProof>,
    /// In position order.
    pub events: Vec<ExportedEvent>,
}

impl ExportedEvent {
    /// An event of the ledger and its inclusion proof.
    pub fn new(
        e: &RecordedEvent,
        inclusion_proof: Vec<Digest>,
    ) -> Result<ExportedEvent, ExportError> {
        let payload = RawValue::from_string(e.payload.as_str().to_string()).map_err(|err| {
            ExportError::Build(format!(
                "the stored payload of position {} is not JSON ({err}); run `jishi verify`",
                e.position
            ))
        })?;
        Ok(ExportedEvent {
            position: e.position,
            stream: e.stream.clone(),
            stream_version: e.stream_version,
            event_id: e.event_id.hyphenated().to_string(),
            event_type: e.event_type.clone(),
            schema_version: u64::from(e.schema_version),
            occurred_at: e.occurred_at.clone(),
            recorded_at: e.recorded_at.clone(),
            actor: ExportedActor {
                id: e.actor.id.clone(),
                name: e.actor.name.clone(),
                role: e.actor.role.clone(),
                org: e.actor.org.clone(),
            },
            payload: Some(payload),
            payload_withheld: None,
            payload_digest: e.payload_digest,
            prev_hash: e.prev_hash,
            stream_prev_hash: e.stream_prev,
            hash: e.hash,
            inclusion_proof,
        })
    }

    /// The event hash its envelope gives (the export's `hash` must equal it).
    pub fn computed_hash(&self) -> Digest {
        HashedEnvelope {
            position: self.position,
            stream: &self.stream,
            stream_version: self.stream_version,
            event_id: &self.event_id,
            event_type: &self.event_type,
            schema_version: self.schema_version,
            occurred_at: &self.occurred_at,
            recorded_at: &self.recorded_at,
            actor_id: &self.actor.id,
            actor_name: &self.actor.name,
            actor_role: &self.actor.role,
            actor_org: &self.actor.org,
            payload_digest: &self.payload_digest,
            prev_hash: &self.prev_hash,
            stream_prev: self.stream_prev_hash.as_ref(),
        }
        .hash()
    }
}

impl CaseExport {
    /// The export as written: pretty JSON, one trailing newline.
    pub fn to_json(&self) -> Result<String, ExportError> {
        let mut s = serde_json::to_string_pretty(self)
            .map_err(|e| ExportError::Build(format!("cannot serialise the export: {e}")))?;
        s.push('\n');
        Ok(s)
    }
}

/// Why one event of an export failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventFault {
    /// Index in the `events` array, from 0.
    pub index: usize,
    pub position: u64,
    pub what: String,
}

impl std::fmt::Display for EventFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "events[{}] (position {}): {}",
            self.index, self.position, self.what
        )
    }
}

/// Why an export did not verify. Each variant names the check that failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the file is not a case export: {0}")]
    Parse(String),
    #[error(
        "format {got:?} is not one this verifier knows (it knows {FORMAT:?} and {FORMAT_1:?})"
    )]
    Format { got: String },
    #[error(
        "no log key was given: the log's own public key is always required (its name is the \
         checkpoint's origin); witnesses' keys only add to it"
    )]
    NoLogKey,
    #[error(
        "the checkpoint is of log {origin:?}, but no log key given carries that name (given: \
         {given}); a log's key is named after its origin (c2sp.org/tlog-checkpoint)"
    )]
    LogKeyName { origin: String, given: String },
    #[error(
        "the log key {name:?} is a {suite} key, which only witnesses use (cosignatures); a log \
         signs its checkpoints with an ed25519 or sm2-sm3 key"
    )]
    LogKeySuite { name: String, suite: crate::Suite },
    #[error("the checkpoint note: {0}")]
    Note(#[from] NoteError),
    #[error("the checkpoint is not signed by the trusted key {name:?} (key id {key_id:08x})")]
    KeyDidNotSign { name: String, key_id: u32 },
    #[error(
        "the witness policy needs {need} of the {of} witnesses given; {got} cosigned{}",
        if signed.is_empty() { String::new() } else { format!(" ({})", signed.join(", ")) }
    )]
    Quorum {
        need: usize,
        of: usize,
        got: usize,
        signed: Vec<String>,
    },
    #[error(
        "the policy's quorum {quorum} is not met; cosigned by {}",
        if signed.is_empty() { "none of its witnesses".to_string() } else { signed.join(", ") }
    )]
    PolicyQuorum { quorum: String, signed: Vec<String> },
    #[error(
        "the export is proved against the checkpoint of size {size}, older than the newest \
         checkpoint of this log you hold (size {newest}): it says nothing of events after \
         position {size}; ask for an export against the newest checkpoint"
    )]
    OlderCheckpoint { size: u64, newest: u64 },
    #[error(
        "the export's checkpoint and the one you hold both have size {size} but different \
         roots or stream maps: the log has shown two histories (a split view); keep both notes (`jishi \
         split-view`)"
    )]
    SplitView { size: u64 },
    #[error("the newest checkpoint you hold is of log {held:?}, not {origin:?}")]
    OtherLog { held: String, origin: String },
    #[error("the checkpoint body: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error("the export holds no events")]
    NoEvents,
    #[error("{} event check(s) failed; first: {}", .0.len(), .0[0])]
    Events(Vec<EventFault>),
    #[error("the export is not complete: {}", .0.join("; "))]
    Incomplete(Vec<String>),
    #[error("{0}")]
    Build(String),
}

/// Whom the investigator trusts, and how many witnesses must agree.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// The log's key(s); one named after the checkpoint's origin must sign.
    pub log_keys: Vec<VerifierKey>,
    /// Witnesses' keys (cosignature/v1, or a plain Ed25519 or SM2 note signature).
    pub witnesses: Vec<VerifierKey>,
    /// How many of `witnesses` must have cosigned.
    pub quorum: usize,
    /// A C2SP tlog-policy quorum (`--policy`), in place of the count: the
    /// groups and thresholds it states must be met by the witnesses that
    /// cosigned.
    pub rule: Option<crate::policy::Policy>,
    /// The newest checkpoint of this log the verifier already holds (its
    /// signatures checked): an export against an older one is refused.
    pub newest: Option<Checkpoint>,
}

impl TrustPolicy {
    /// The policy of a list of keys, as `--key` gives them: the keys named
    /// after `origin` are the log's, the others witnesses that must all
    /// have cosigned.
    pub fn of_keys(keys: &[VerifierKey], origin: &str) -> TrustPolicy {
        let (log_keys, witnesses): (Vec<_>, Vec<_>) =
            keys.iter().cloned().partition(|k| k.name() == origin);
        TrustPolicy {
            quorum: witnesses.len(),
            rule: None,
            log_keys,
            witnesses,
            newest: None,
        }
    }
}

/// What the completeness proof showed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completeness {
    /// The streams the selector covers, all of which the export holds whole.
    pub streams: usize,
    /// Events of those streams as of the checkpoint (all in the export).
    pub events: u64,
}

/// What a successful verification checked, to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCheck {
    pub format: String,
    pub selector: Selector,
    pub checkpoint: Checkpoint,
    /// The trusted keys that signed the checkpoint, as `name+keyid`.
    pub signed_by: Vec<String>,
    /// The witnesses that cosigned, with the time a timestamped
    /// cosignature states (POSIX seconds), if it states one.
    pub cosigned_by: Vec<(String, Option<u64>)>,
    /// How many witnesses the policy asked for, of how many given.
    pub quorum: (usize, usize),
    /// Signature lines from keys not given (ignored).
    pub unknown_signers: Vec<String>,
    pub events: usize,
    pub streams: Vec<String>,
    pub first_position: u64,
    pub last_position: u64,
    pub payloads_checked: usize,
    /// Positions whose payload the export withholds (redacted).
    pub payloads_withheld: Vec<u64>,
    /// `None` for a format-1 export, which proves no completeness.
    pub complete: Option<Completeness>,
}

/// Verifies an export offline with a list of trusted keys: those named
/// after the checkpoint's origin are the log's (one must have signed), the
/// others witnesses that must all have cosigned.
pub fn verify_export(bytes: &[u8], keys: &[VerifierKey]) -> Result<ExportCheck, ExportError> {
    let export = parse_export(bytes)?;
    let origin = Note::parse(&export.checkpoint)?
        .text()
        .split('\n')
        .next()
        .unwrap_or_default()
        .to_string();
    verify_parsed(&export, &TrustPolicy::of_keys(keys, &origin))
}

/// Verifies an export offline under `policy`: the note's signatures (the
/// log's key named after the origin, the witness quorum), the checkpoint
/// against the newest one held, every event's selector, payload digest,
/// hash and inclusion proof, and (format 2) that no event of the selected
/// streams and no stream of the selector is missing. All event faults are
/// collected, not just the first.
pub fn verify_export_with(bytes: &[u8], policy: &TrustPolicy) -> Result<ExportCheck, ExportError> {
    verify_parsed(&parse_export(bytes)?, policy)
}

fn verify_parsed(export: &CaseExport, policy: &TrustPolicy) -> Result<ExportCheck, ExportError> {
    if policy.log_keys.is_empty() {
        return Err(ExportError::NoLogKey);
    }
    if let Some(k) = policy
        .log_keys
        .iter()
        .find(|k| !crate::Suite::SIGNING.contains(&k.suite()))
    {
        return Err(ExportError::LogKeySuite {
            name: k.name().to_string(),
            suite: k.suite(),
        });
    }
    let note = Note::parse(&export.checkpoint)?;
    let origin = note
        .text()
        .split('\n')
        .next()
        .unwrap_or_default()
        .to_string();
    let log_keys: Vec<&VerifierKey> = policy
        .log_keys
        .iter()
        .filter(|k| k.name() == origin)
        .collect();
    if log_keys.is_empty() {
        return Err(ExportError::LogKeyName {
            origin,
            given: policy
                .log_keys
                .iter()
                .map(|k| format!("{:?}", k.name()))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let mut trusted: Vec<VerifierKey> = log_keys.iter().map(|k| (*k).clone()).collect();
    trusted.extend(policy.witnesses.iter().cloned());
    let verified = note.verify(&trusted)?;
    // One of the log's keys (an old and a new one may both be given).
    if !log_keys.iter().any(|k| verified.is_signed_by(k)) {
        return Err(ExportError::KeyDidNotSign {
            name: log_keys[0].name().to_string(),
            key_id: log_keys[0].key_id(),
        });
    }
    let cosigned_by: Vec<(String, Option<u64>)> = policy
        .witnesses
        .iter()
        .filter(|w| verified.is_signed_by(w))
        .map(|w| {
            let time = note
                .signatures()
                .iter()
                .find(|s| s.name == w.name() && s.key_id == w.key_id())
                .filter(|_| w.suite() == crate::Suite::Cosignature)
                .and_then(|s| crate::suite::cosignature_parts(&s.signature))
                .map(|(t, _)| t);
            (format!("{}+{:08x}", w.name(), w.key_id()), time)
        })
        .collect();
    if let Some(rule) = &policy.rule {
        if !rule.quorum_met(&|k| verified.is_signed_by(k)) {
            return Err(ExportError::PolicyQuorum {
                quorum: rule.describe_quorum(),
                signed: cosigned_by.iter().map(|(k, _)| k.clone()).collect(),
            });
        }
    } else if cosigned_by.len() < policy.quorum {
        return Err(ExportError::Quorum {
            need: policy.quorum,
            of: policy.witnesses.len(),
            got: cosigned_by.len(),
            signed: cosigned_by.iter().map(|(k, _)| k.clone()).collect(),
        });
    }
    let checkpoint = Checkpoint::from_body(verified.text())?;
    if let Some(newest) = &policy.newest {
        if newest.origin != checkpoint.origin {
            return Err(ExportError::OtherLog {
                held: newest.origin.clone(),
                origin: checkpoint.origin,
            });
        }
        if newest.contradicts(&checkpoint) {
            return Err(ExportError::SplitView {
                size: checkpoint.size,
            });
        }
        if newest.size > checkpoint.size {
            return Err(ExportError::OlderCheckpoint {
                size: checkpoint.size,
                newest: newest.size,
            });
        }
    }
    let mut check = check_events(export, &checkpoint)?;
    check.signed_by = verified
        .verified_by()
        .iter()
        .map(|k| format!("{}+{:08x}", k.name(), k.key_id()))
        .collect();
    check.cosigned_by = cosigned_by;
    check.quorum = (policy.quorum, policy.witnesses.len());
    check.unknown_signers = verified
        .unknown_signatures()
        .iter()
        .map(|s| format!("{}+{:08x}", s.name, s.key_id))
        .collect();
    Ok(check)
}

/// Parses an export strictly and checks its format version.
pub fn parse_export(bytes: &[u8]) -> Result<CaseExport, ExportError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ExportError::Parse(format!("invalid UTF-8 at byte {}", e.valid_up_to())))?;
    let export: CaseExport =
        serde_json::from_str(text).map_err(|e| ExportError::Parse(e.to_string()))?;
    if export.format != FORMAT && export.format != FORMAT_1 {
        return Err(ExportError::Format {
            got: export.format.chars().take(80).collect(),
        });
    }
    if export.format == FORMAT_1 && !export.streams.is_empty() {
        return Err(ExportError::Parse(
            "a format-1 export has no member `streams`".into(),
        ));
    }
    Ok(export)
}

/// Every check of the events against a checkpoint already trusted (its
/// signatures checked by the caller, or the ledger's own, for the
/// self-check `jishi export` runs before handing the file over).
pub fn check_events(
    export: &CaseExport,
    checkpoint: &Checkpoint,
) -> Result<ExportCheck, ExportError> {
    if export.events.is_empty() {
        return Err(ExportError::NoEvents);
    }
    let format2 = export.format == FORMAT;
    let mut faults = Vec::new();
    let mut streams: Vec<String> = Vec::new();
    let mut checked = 0;
    let mut withheld = Vec::new();
    let mut previous = 0u64;
    for (index, e) in export.events.iter().enumerate() {
        let mut fault = |what: String| {
            faults.push(EventFault {
                index,
                position: e.position,
                what,
            })
        };
        if !export.selector.matches(&e.stream) {
            fault(format!(
                "its stream {:?} is not one of the {} the export says it holds",
                e.stream, export.selector
            ));
        }
        if e.position <= previous {
            fault(format!(
                "positions must increase through the file; it follows position {previous}"
            ));
        }
        previous = previous.max(e.position);
        match (&e.payload, &e.payload_withheld) {
            (None, Some(why)) if why == WITHHELD_REDACTED => withheld.push(e.position),
            (None, Some(why)) => fault(format!(
                "the payload is withheld for {why:?}; the only reason an export gives is \
                 {WITHHELD_REDACTED:?}"
            )),
            (None, None) if format2 => fault(
                "the payload is absent without `payload_withheld` saying why: an export states \
                 every payload it leaves out"
                    .into(),
            ),
            (None, None) => withheld.push(e.position),
            (Some(_), Some(_)) => {
                fault("the payload is present but `payload_withheld` says it is not".into())
            }
            (Some(raw), None) => match parse_strict(raw.get()) {
                Err(err) => fault(format!("the payload is not acceptable JSON: {err}")),
                Ok(value) if !value.is_object() => fault("the payload is not a JSON object".into()),
                Ok(value) => {
                    let digest = payload_digest(canonical_json(&value).as_bytes());
                    if digest == e.payload_digest {
                        checked += 1;
                    } else {
                        fault(format!(
                            "the payload's digest is {digest}, not the payload_digest {} the \
                             event hash covers: the payload was changed",
                            e.payload_digest
                        ));
                    }
                }
            },
        }
        let computed = e.computed_hash();
        if computed != e.hash {
            fault(format!(
                "the envelope gives hash {computed}, not the stated hash {}: a field of the \
                 event was changed",
                e.hash
            ));
        }
        if e.position == 0 {
            fault("positions start at 1".into());
        } else if let Err(err) = verify_inclusion(
            &e.hash,
            e.position - 1,
            checkpoint.size,
            &e.inclusion_proof,
            &checkpoint.root,
        ) {
            fault(format!(
                "the inclusion proof in the checkpoint of size {} does not verify: {}",
                checkpoint.size,
                describe_inclusion_failure(&err)
            ));
        }
        if !streams.contains(&e.stream) {
            streams.push(e.stream.clone());
        }
    }
    if !faults.is_empty() {
        return Err(ExportError::Events(faults));
    }
    let complete = if format2 {
        Some(crate::completeness::check(export, checkpoint).map_err(ExportError::Incomplete)?)
    } else {
        None
    };
    Ok(ExportCheck {
        format: export.format.clone(),
        selector: export.selector.clone(),
        checkpoint: checkpoint.clone(),
        signed_by: Vec::new(),
        cosigned_by: Vec::new(),
        quorum: (0, 0),
        unknown_signers: Vec::new(),
        events: export.events.len(),
        streams,
        first_position: export.events.first().map_or(0, |e| e.position),
        last_position: previous,
        payloads_checked: checked,
        payloads_withheld: withheld,
        complete,
    })
}

fn describe_inclusion_failure(e: &VerifyError) -> String {
    match e {
        VerifyError::RootMismatch { .. } => {
            format!("{e} (the event, or the ledger before the checkpoint, is not what was signed)")
        }
        other => other.to_string(),
    }
}

/// A proof as `jishi prove` / `jishi prove-consistency` print it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProofDocument {
    Inclusion(InclusionDocument),
    Consistency(ConsistencyDocument),
}

/// `jishi prove` output: the RFC 9162 proof plus what it is about. `root` is
/// the ledger's root at `tree_size` when it was printed: informative only, a
/// verifier takes the root from a signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionDocument {
    pub position: u64,
    pub leaf: Digest,
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Digest>,
    pub root: Digest,
}

/// `jishi prove-consistency` output; the roots are informative only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyDocument {
    pub first_size: u64,
    pub second_size: u64,
    pub path: Vec<Digest>,
    pub first_root: Digest,
    pub second_root: Digest,
}

impl InclusionDocument {
    /// Checks the proof against a trusted root for its tree size (the caller
    /// also checks that `position` is `leaf_index + 1`).
    pub fn verify(&self, root: &Digest) -> Result<(), VerifyError> {
        verify_inclusion(
            &self.leaf,
            self.leaf_index,
            self.tree_size,
            &self.path,
            root,
        )
    }
}

impl ConsistencyDocument {
    /// Checks the proof against trusted roots for its two sizes.
    pub fn verify(&self, first_root: &Digest, second_root: &Digest) -> Result<(), VerifyError> {
        verify_consistency(
            self.first_size,
            self.second_size,
            first_root,
            second_root,
            &self.path,
        )
    }
}
