//! The event envelope (DESIGN.md §2): what a caller asks to append, and what the
//! ledger stored. The envelope is generic; it knows nothing of 换届.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

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
    pub payload: Box<RawValue>,
    pub payload_digest: Digest,
    pub prev_hash: Digest,
    pub hash: Digest,
}
