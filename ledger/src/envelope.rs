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
    /// The hash of the previous event of the same stream (32 zero bytes for
    /// its first event), which the event hash covers: format 3 (D71). `None`
    /// for an event recorded before format 3, whose hash does not cover it.
    #[serde(
        default,
        rename = "stream_prev_hash",
        skip_serializing_if = "Option::is_none"
    )]
    pub stream_prev: Option<Digest>,
    pub hash: Digest,
}

/// A payload's canonical JSON text exactly as stored. It serialises as the JSON
/// object itself, not as a string. Holding text (not a parsed value) keeps the
/// stored bytes byte-for-byte, which is what the digest covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload(String);

impl Payload {
    /// Wraps stored text without parsing it: whether it is intact is for the
    /// verifier to say, not for a reader.
    pub fn from_stored(text: String) -> Payload {
        Payload(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Parses the payload for a reader that needs its fields. A stored row whose
    /// text no longer parses was tampered with; `jishi verify` reports it.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_str(&self.0)
    }
}

impl Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw: &RawValue = serde_json::from_str(&self.0).map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Ok(Payload(String::from(raw.get())))
    }
}
