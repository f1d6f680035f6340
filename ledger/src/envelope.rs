//! The event envelope (DESIGN.md §2): what a caller asks to append, and what the
//! ledger stored. The envelope is generic; it knows nothing of 换届.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::Digest;

/// Who is responsible for an act (谁提名谁负责). Every field is required and
/// non-empty: an anonymous step cannot be traced back.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub name: String,
    pub role: String,
    pub org: String,
}

/// What a caller wants the stream's current version to be before its events are
/// appended (optimistic concurrency).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have exactly this version.
    Exact(u64),
}

/// One event a caller asks the ledger to append. The ledger fills in position,
/// stream version, recorded time, digest and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// Chosen by the client so that a retried append is recognised; generated when absent.
    pub event_id: Option<uuid::Uuid>,
    pub event_type: String,
    pub schema_version: u32,
    /// When it happened in the world (RFC 3339). Defaults to the recorded time.
    pub occurred_at: Option<String>,
    pub actor: Actor,
    /// Must be a JSON object.
    pub payload: serde_json::Value,
}

/// One append request: events for one stream, appended atomically.
#[derive(Debug, Clone, PartialEq)]
pub struct AppendRequest {
    pub stream: String,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// An event as the ledger stored it. `payload` holds the canonical (RFC 8785)
/// bytes exactly as stored, so that verifying never re-serialises it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedEvent {
    pub position: u64,
    pub stream: String,
    pub stream_version: u64,
    pub event_id: uuid::Uuid,
    pub event_type: String,
    pub schema_version: u32,
    pub occurred_at: String,
    pub recorded_at: String,
    pub actor: Actor,
    pub payload: Payload,
    pub payload_digest: Digest,
    pub prev_hash: Digest,
    pub hash: Digest,
}

/// A payload's canonical JSON text exactly as stored. It serialises as the JSON
/// object itself, not as a string.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Payload(Box<RawValue>);

impl Payload {
    /// Wraps text the caller knows to be canonical JSON (stores use this when
    /// reading rows; the verifier, not this type, decides whether it is intact).
    pub fn from_stored(text: String) -> Result<Payload, serde_json::Error> {
        RawValue::from_string(text).map(Payload)
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }

    /// Parses the payload for a reader that needs its fields.
    pub fn to_value(&self) -> serde_json::Value {
        // Stored payloads are produced from a `serde_json::Value`; a row whose text
        // no longer parses is tampered and `verify` reports it, so readers see Null.
        serde_json::from_str(self.0.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}
