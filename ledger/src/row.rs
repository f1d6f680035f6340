//! A ledger row exactly as a store holds it, before anything trusts it.
//!
//! The verifier must be able to read a row that a hostile DBA has mangled (a
//! digest of the wrong length, text that is not UTF-8, a negative position)
//! and say what is wrong with it, so rows are read into this loose shape first.

use crate::canonical::HashedEnvelope;
use crate::store::StoreError;
use crate::{Actor, Digest, Payload, RecordedEvent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRow {
    pub position: i64,
    pub stream: String,
    pub stream_version: i64,
    pub event_id: String,
    pub event_type: String,
    pub schema_version: i64,
    pub occurred_at: String,
    pub recorded_at: String,
    pub actor_id: String,
    pub actor_name: String,
    pub actor_role: String,
    pub actor_org: String,
    /// The payload's stored bytes (canonical JSON text when intact).
    pub payload: Vec<u8>,
    pub payload_digest: Vec<u8>,
    pub prev_hash: Vec<u8>,
    /// The stream predecessor's hash (format 3); NULL for an older event.
    pub stream_prev: Option<Vec<u8>>,
    pub hash: Vec<u8>,
}

impl StoredRow {
    /// The stored row of an event (what a store inserts).
    pub fn of(e: &RecordedEvent) -> StoredRow {
        StoredRow {
            position: e.position as i64,
            stream: e.stream.clone(),
            stream_version: e.stream_version as i64,
            event_id: e.event_id.hyphenated().to_string(),
            event_type: e.event_type.clone(),
            schema_version: i64::from(e.schema_version),
            occurred_at: e.occurred_at.clone(),
            recorded_at: e.recorded_at.clone(),
            actor_id: e.actor.id.clone(),
            actor_name: e.actor.name.clone(),
            actor_role: e.actor.role.clone(),
            actor_org: e.actor.org.clone(),
            payload: e.payload.as_str().as_bytes().to_vec(),
            payload_digest: e.payload_digest.0.to_vec(),
            prev_hash: e.prev_hash.0.to_vec(),
            stream_prev: e.stream_prev.map(|d| d.0.to_vec()),
            hash: e.hash.0.to_vec(),
        }
    }

    /// The event hash this row's contents give, were it stored at `position`,
    /// or `None` when a column cannot be part of any valid envelope.
    pub fn computed_hash_at(&self, position: u64, scratch: &mut Vec<u8>) -> Option<Digest> {
        let payload_digest = Digest::from_slice(&self.payload_digest)?;
        let prev_hash = Digest::from_slice(&self.prev_hash)?;
        let stream_prev = match &self.stream_prev {
            Some(b) => Some(Digest::from_slice(b)?),
            None => None,
        };
        let stream_version = u64::try_from(self.stream_version).ok()?;
        let schema_version = u64::try_from(self.schema_version).ok()?;
        Some(
            HashedEnvelope {
                position,
                stream: &self.stream,
                stream_version,
                event_id: &self.event_id,
                event_type: &self.event_type,
                schema_version,
                occurred_at: &self.occurred_at,
                recorded_at: &self.recorded_at,
                actor_id: &self.actor_id,
                actor_name: &self.actor_name,
                actor_role: &self.actor_role,
                actor_org: &self.actor_org,
                payload_digest: &payload_digest,
                prev_hash: &prev_hash,
                stream_prev: stream_prev.as_ref(),
            }
            .hash_with(scratch),
        )
    }

    /// Converts to a typed event, or says which column is unreadable.
    pub fn into_event(self) -> Result<RecordedEvent, StoreError> {
        let position = self.position;
        let corrupt = |reason: &str| StoreError::Corrupt {
            position,
            reason: reason.to_string(),
        };
        let digest = |bytes: &[u8], name: &str| {
            Digest::from_slice(bytes).ok_or_else(|| corrupt(&format!("{name} is not 32 bytes")))
        };
        Ok(RecordedEvent {
            position: u64::try_from(self.position).map_err(|_| corrupt("negative position"))?,
            stream_version: u64::try_from(self.stream_version)
                .map_err(|_| corrupt("negative stream_version"))?,
            event_id: uuid::Uuid::parse_str(&self.event_id)
                .map_err(|_| corrupt("event_id is not a UUID"))?,
            schema_version: u32::try_from(self.schema_version)
                .map_err(|_| corrupt("schema_version out of range"))?,
            payload_digest: digest(&self.payload_digest, "payload_digest")?,
            prev_hash: digest(&self.prev_hash, "prev_hash")?,
            stream_prev: match &self.stream_prev {
                Some(b) => Some(digest(b, "stream_prev")?),
                None => None,
            },
            hash: digest(&self.hash, "hash")?,
            payload: Payload::from_stored(
                String::from_utf8(self.payload).map_err(|_| corrupt("payload is not UTF-8"))?,
            ),
            stream: self.stream,
            event_type: self.event_type,
            occurred_at: self.occurred_at,
            recorded_at: self.recorded_at,
            actor: Actor {
                id: self.actor_id,
                name: self.actor_name,
                role: self.actor_role,
                org: self.actor_org,
            },
        })
    }
}
