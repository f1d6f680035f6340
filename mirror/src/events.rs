//! The checks a mirror makes on a jishi event's hash input (an item of
//! `jishi/add-envelopes`, the same bytes as an envelope bundle's item): the
//! tag, canonical JSON byte for byte, exactly the envelope's members, and
//! the chains: `position`, `prev_hash`, the stream's version and, from
//! format 3 on, `stream_prev_hash` (docs/FORMAT.md §2.2, §4, §5, §10).
//!
//! What it cannot check without payloads is the payload digest (a bundle
//! never carries payloads, D75); what it does not check is the attestation
//! of each commit group (its signatures are stored beside the rows, not in
//! the envelope) and the domain's gates. `jishi verify` on the ledger does.

use std::collections::HashMap;

use jishi_ledger::canonical::{canonical_json, parse_strict, EVENT_HASH_TAG, EVENT_HASH_TAG_V2};
use jishi_ledger::Digest;
use serde_json::Value;

use crate::store::{CheckedEnvelope, EnvelopeHead, MirrorStore, StoreError};

/// The members of a canonical envelope of formats 1 and 2, in JCS order.
const MEMBERS_V1: [&str; 11] = [
    "actor",
    "event_id",
    "event_type",
    "occurred_at",
    "payload_digest",
    "position",
    "prev_hash",
    "recorded_at",
    "schema_version",
    "stream",
    "stream_version",
];

/// Why an envelope was refused: which index, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("envelope {index}: {reason}")]
    Invalid { index: u64, reason: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks envelopes of one upload in order, against the stored ones and
/// those checked earlier in the same upload (not yet committed).
pub struct EnvelopeChecker<'a> {
    store: &'a MirrorStore,
    origin: &'a str,
    /// The envelope before the next one to check.
    prev: Option<EnvelopeHead>,
    /// Stream heads changed by this upload: version and hash.
    streams: HashMap<String, (u64, Digest)>,
}

fn hex_field(v: &Value, name: &str) -> Result<Digest, String> {
    let s = v
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{name}` is not a string"))?;
    if s.len() != 64
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!("`{name}` is not 64 lowercase hex digits"));
    }
    s.parse().map_err(|_| format!("`{name}` is not a hash"))
}

fn int_field(v: &Value, name: &str) -> Result<u64, String> {
    v.get(name)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("`{name}` is not a non-negative integer"))
}

impl<'a> EnvelopeChecker<'a> {
    /// A checker for envelopes from index `start` on.
    pub fn new(
        store: &'a MirrorStore,
        origin: &'a str,
        start: u64,
    ) -> Result<EnvelopeChecker<'a>, StoreError> {
        let prev = match start.checked_sub(1) {
            Some(i) => store.envelope_head(origin, i)?,
            None => None,
        };
        Ok(EnvelopeChecker {
            store,
            origin,
            prev,
            streams: HashMap::new(),
        })
    }

    /// Checks the envelope at `index` (the one after the last checked).
    pub fn check(&mut self, index: u64, item: &[u8]) -> Result<CheckedEnvelope, EnvelopeError> {
        let bad = |reason: String| EnvelopeError::Invalid { index, reason };
        let (v2, body) = if let Some(b) = item.strip_prefix(EVENT_HASH_TAG_V2) {
            (true, b)
        } else if let Some(b) = item.strip_prefix(EVENT_HASH_TAG) {
            (false, b)
        } else {
            return Err(bad(
                "does not start with the tag `jishi.event.v1\\0` or `jishi.event.v2\\0`".into(),
            ));
        };
        let text = std::str::from_utf8(body)
            .map_err(|e| bad(format!("not UTF-8 at byte {}", 15 + e.valid_up_to())))?;
        let value = parse_strict(text).map_err(|e| bad(format!("not JSON jishi accepts: {e}")))?;
        if canonical_json(&value) != text {
            return Err(bad(
                "not canonical (RFC 8785): a re-serialised envelope hashes differently".into(),
            ));
        }
        let obj = value
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let mut want: Vec<&str> = MEMBERS_V1.to_vec();
        if v2 {
            want.push("stream_prev_hash");
        }
        for name in obj.keys() {
            if !want.contains(&name.as_str()) {
                return Err(bad(format!(
                    "has the member `{name}`, which a {} envelope does not",
                    if v2 { "format-3" } else { "format-1/2" }
                )));
            }
        }
        if let Some(missing) = want.iter().find(|m| !obj.contains_key(**m)) {
            return Err(bad(format!("has no `{missing}`")));
        }
        let position = int_field(&value, "position").map_err(bad)?;
        if position != index + 1 {
            return Err(bad(format!(
                "`position` is {position}; entry {index} is position {}",
                index + 1
            )));
        }
        let prev_hash = hex_field(&value, "prev_hash").map_err(bad)?;
        let want_prev = match (index, self.prev) {
            (0, _) => Digest([0; 32]),
            (_, Some(p)) => p.hash,
            (_, None) => {
                return Err(bad(format!(
                    "the mirror holds no envelope {} to chain it to",
                    index - 1
                )))
            }
        };
        if prev_hash != want_prev {
            return Err(bad(format!(
                "the chain is broken: `prev_hash` is {prev_hash}, the event before is {want_prev}"
            )));
        }
        if self.prev.is_some_and(|p| p.v2) && !v2 {
            return Err(bad(
                "the stream chain is broken: an event without `stream_prev_hash` after one with it"
                    .into(),
            ));
        }
        hex_field(&value, "payload_digest").map_err(bad)?;
        let stream = value
            .get("stream")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("`stream` is not a non-empty string".into()))?
            .to_string();
        let version = int_field(&value, "stream_version").map_err(bad)?;
        let head = match self.streams.get(&stream) {
            Some(h) => Some(*h),
            None => self.store.stream_head(self.origin, &stream)?,
        };
        let (want_version, stream_prev) = head.map_or((1, Digest([0; 32])), |(v, h)| (v + 1, h));
        if version != want_version {
            return Err(bad(format!(
                "`stream_version` of {stream} is {version}, not {want_version}"
            )));
        }
        if v2 {
            let got = hex_field(&value, "stream_prev_hash").map_err(bad)?;
            if got != stream_prev {
                return Err(bad(format!(
                    "the stream chain of {stream} is broken: `stream_prev_hash` is {got}, \
                     its previous event is {stream_prev}"
                )));
            }
        }
        let hash: Digest = blake3::hash(item).into();
        self.prev = Some(EnvelopeHead { hash, v2 });
        self.streams.insert(stream.clone(), (version, hash));
        Ok(CheckedEnvelope {
            index,
            item: item.to_vec(),
            hash,
            stream,
            stream_version: version,
            v2,
        })
    }
}
