//! Attestation: every commit group signed by the ledger's recording key (D69).
//!
//! The chain proves that the rows were not *changed*; it cannot prove that
//! they were *written by jishi*: anyone who may INSERT can append a row whose
//! hash chains correctly. So every write transaction also stores the
//! recording key's signature over the group it wrote:
//!
//! ```text
//! message = "jishi.attest.v1" || 0x00 || first (u64, big-endian)
//!           || last (u64, big-endian) || hash at last (32 bytes)
//! ```
//!
//! One signature per group rather than per event: the last hash commits to
//! every earlier event through the chain, so signing it covers the group,
//! and the cost is one signature per transaction, however many events it
//! holds. The groups tile the positions from 1 without gap or overlap, so
//! "the first position no valid attestation covers" is well defined.
//!
//! The private key lives in a file handed to `jishi serve` and to the writing
//! commands, never in the database. The database holds only public keys, in
//! the events of stream [`KEYS_STREAM`]: the first key registered, every
//! rotation (an event in a group the *old* key signs, so only its holder can
//! introduce the next one), and every key declared compromised (what it
//! signed from the stated position on is flagged, not trusted).

use crate::note::{KeyError, SignerKey, VerifierKey};
use crate::{Digest, RecordedEvent};

/// The domain-separation tag of attestation messages, NUL included.
pub const TAG: &[u8] = b"jishi.attest.v1\0";

/// The stream of the ledger's own key events.
pub const KEYS_STREAM: &str = "ledger/keys";
/// The first recording key: payload `{"key": "<vkey>"}`.
pub const KEY_REGISTERED: &str = "ledger.key_registered";
/// A new recording key, recorded in a group the old key signs: payload
/// `{"key": "<new vkey>", "replaces": "<old vkey>"}`.
pub const KEY_ROTATED: &str = "ledger.key_rotated";
/// A key that must no longer be trusted from a position on: payload
/// `{"key": "<vkey>", "from_position": <n>, "reason": "<text>"}`.
pub const KEY_COMPROMISED: &str = "ledger.key_compromised";

/// A key that signs checkpoints (the log's) or cosigns them (a witness's):
/// payload `{"key": "<vkey>", "role": "log" | "witness"}`. `verify` counts a
/// stored checkpoint's signature only by such a key.
pub const CHECKPOINT_KEY_REGISTERED: &str = "ledger.checkpoint_key_registered";

/// The bytes an attestation signs.
pub fn message(first: u64, last: u64, last_hash: &Digest) -> Vec<u8> {
    let mut m = Vec::with_capacity(TAG.len() + 16 + 32);
    m.extend_from_slice(TAG);
    m.extend_from_slice(&first.to_be_bytes());
    m.extend_from_slice(&last.to_be_bytes());
    m.extend_from_slice(&last_hash.0);
    m
}

/// One stored attestation, as a store holds it (read loosely, like
/// [`crate::row::StoredRow`], so that a mangled row can still be reported).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attestation {
    pub first_position: i64,
    pub last_position: i64,
    pub key_name: String,
    pub key_id: i64,
    pub signature: Vec<u8>,
}

/// The holder of the recording key: signs each group a store writes.
#[derive(Clone)]
pub struct Attestor {
    key: SignerKey,
}

impl std::fmt::Debug for Attestor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Attestor({:?})", self.key)
    }
}

impl Attestor {
    pub fn new(key: SignerKey) -> Attestor {
        Attestor { key }
    }

    /// Reads a private key file (`PRIVATE+KEY+…`, Ed25519 or SM2; a
    /// witness's cosignature key is refused).
    pub fn from_private_text(text: &str) -> Result<Attestor, KeyError> {
        let key: SignerKey = text.trim().parse()?;
        if !crate::Suite::SIGNING.contains(&key.suite()) {
            return Err(KeyError::WitnessOnly {
                name: key.name().to_string(),
                suite: key.suite(),
            });
        }
        Ok(Attestor::new(key))
    }

    pub fn verifier(&self) -> VerifierKey {
        self.key.verifier()
    }

    /// The attestation of the group `[first, last]` whose last event has
    /// hash `last_hash`.
    pub fn attest(&self, first: u64, last: u64, last_hash: &Digest) -> Attestation {
        Attestation {
            first_position: first as i64,
            last_position: last as i64,
            key_name: self.key.name().to_string(),
            key_id: i64::from(self.key.key_id()),
            signature: self.key.sign_bytes(&message(first, last, last_hash)),
        }
    }

    /// The payload that registers this key as the ledger's first.
    pub fn registration(&self) -> serde_json::Value {
        serde_json::json!({ "key": self.verifier().to_vkey() })
    }
}

/// How a store decides the range of the group it is about to write (the
/// same rule in both stores).
///
/// * `attested`: the last position any stored attestation covers (0 if none);
/// * `head`: the position before the group;
/// * `registers`: whether the group records a [`KEY_REGISTERED`] event.
///
/// The group normally starts right after the head. The first registration on
/// a ledger that has none adopts the rows before it (they were written
/// before attestation existed, and the operator registering the key vouches
/// for them; `verify` says so). Otherwise a gap between the last attestation
/// and the head means rows no key signed: refused, so that the next honest
/// write cannot launder a forged row.
pub fn group_start(
    attested: u64,
    head: u64,
    registers: bool,
    with_key: bool,
) -> Result<Option<u64>, String> {
    if !with_key {
        return if attested == 0 && !registers {
            Ok(None)
        } else {
            Err(
                "this ledger's rows are attested by its recording key: give the key \
                 (--recording-key FILE, or JISHI_RECORDING_KEY) to write"
                    .into(),
            )
        };
    }
    if attested == head {
        Ok(Some(head + 1))
    } else if attested == 0 && registers {
        Ok(Some(1))
    } else {
        Err(format!(
            "positions {} to {head} are covered by no attestation: they were not written by \
             jishi with the recording key (run `jishi verify`); nothing is written until an \
             operator has examined them",
            attested + 1
        ))
    }
}

/// Whether an append request registers a key (see [`group_start`]).
pub fn registers_key(stream: &str, event_types: impl IntoIterator<Item = impl AsRef<str>>) -> bool {
    stream == KEYS_STREAM
        && event_types
            .into_iter()
            .any(|t| t.as_ref() == KEY_REGISTERED)
}

/// Whether an event may go into [`KEYS_STREAM`]: one of its four types,
/// with the fields that type needs, each key a valid vkey. A store refuses
/// anything else there, so that no append can leave the key history
/// unreadable (every later open and verify would stop at it).
pub fn check_key_event(event_type: &str, payload: &serde_json::Value) -> Result<(), String> {
    let key = |field: &str| -> Result<(), String> {
        payload
            .get(field)
            .and_then(|v| v.as_str())
            .ok_or_else(|| format!("{event_type} needs the vkey {field:?}"))?
            .parse::<VerifierKey>()
            .map(|_| ())
            .map_err(|e| format!("{event_type}: {field}: {e}"))
    };
    match event_type {
        KEY_REGISTERED => key("key"),
        KEY_ROTATED => key("key").and_then(|()| key("replaces")),
        KEY_COMPROMISED => key("key").and_then(|()| {
            payload
                .get("from_position")
                .and_then(|v| v.as_u64())
                .map(|_| ())
                .ok_or_else(|| format!("{KEY_COMPROMISED} needs a numeric from_position"))
        }),
        CHECKPOINT_KEY_REGISTERED => {
            key("key").and_then(|()| match payload.get("role").and_then(|v| v.as_str()) {
                Some("log" | "witness") => Ok(()),
                _ => Err(format!(
                    "{CHECKPOINT_KEY_REGISTERED} needs role \"log\" or \"witness\""
                )),
            })
        }
        other => Err(format!(
            "{KEYS_STREAM} holds only the ledger's key events, not {other:?} (use `jishi \
             recording-key` or `jishi checkpoint-key`)"
        )),
    }
}

/// A key that was declared compromised, and from which position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Compromise {
    pub key: String,
    pub from_position: u64,
    pub declared_at: u64,
    pub reason: String,
}

/// The ledger's recording keys as its key events left them.
#[derive(Debug, Clone, Default)]
pub struct KeyRegistry {
    /// Every key ever current, oldest first, with the position from which it
    /// signs (the first position of the group after its introduction).
    pub keys: Vec<(VerifierKey, u64)>,
    pub compromised: Vec<Compromise>,
    /// Keys registered to sign (`log`) or cosign (`witness`) checkpoints.
    pub checkpoint_keys: Vec<(VerifierKey, String)>,
}

impl KeyRegistry {
    /// The registered checkpoint keys of `role`.
    pub fn checkpoint_keys_of(&self, role: &str) -> Vec<VerifierKey> {
        self.checkpoint_keys
            .iter()
            .filter(|(_, r)| r == role)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// The key that signs now.
    pub fn current(&self) -> Option<&VerifierKey> {
        self.keys.last().map(|(k, _)| k)
    }

    /// Applies one key event at `position`; `next_group` is the first
    /// position the new key signs from. A malformed key event is an error
    /// naming what is wrong.
    pub fn apply(
        &mut self,
        event_type: &str,
        payload: &serde_json::Value,
        position: u64,
        next_group: u64,
    ) -> Result<(), String> {
        let key = |field: &str| -> Result<VerifierKey, String> {
            payload
                .get(field)
                .and_then(|v| v.as_str())
                .ok_or_else(|| format!("{event_type} at position {position} has no {field:?}"))?
                .parse::<VerifierKey>()
                .map_err(|e| format!("{event_type} at position {position}: {field}: {e}"))
        };
        match event_type {
            KEY_REGISTERED => {
                if let Some(k) = self.current() {
                    return Err(format!(
                        "{KEY_REGISTERED} at position {position}, but key {} is already \
                         registered (a new key is introduced by {KEY_ROTATED})",
                        k.to_vkey()
                    ));
                }
                self.keys.push((key("key")?, next_group));
            }
            KEY_ROTATED => {
                let replaces = key("replaces")?;
                match self.current() {
                    Some(k) if *k == replaces => {}
                    other => {
                        return Err(format!(
                            "{KEY_ROTATED} at position {position} replaces {}, but the current \
                             key is {}",
                            replaces.to_vkey(),
                            other.map_or("none".into(), |k| k.to_vkey())
                        ))
                    }
                }
                self.keys.push((key("key")?, next_group));
            }
            CHECKPOINT_KEY_REGISTERED => {
                let k = key("key")?;
                let role = payload.get("role").and_then(|v| v.as_str()).unwrap_or("");
                if role != "log" && role != "witness" {
                    return Err(format!(
                        "{CHECKPOINT_KEY_REGISTERED} at position {position}: role must be \
                         \"log\" or \"witness\", not {role:?}"
                    ));
                }
                // A key may hold both roles (a witness key later made the
                // log's): dedupe on the pair.
                if !self
                    .checkpoint_keys
                    .iter()
                    .any(|(c, r)| *c == k && r == role)
                {
                    self.checkpoint_keys.push((k, role.to_string()));
                }
            }
            KEY_COMPROMISED => {
                let k = key("key")?;
                let from = payload
                    .get("from_position")
                    .and_then(|v| v.as_u64())
                    .ok_or_else(|| {
                        format!("{KEY_COMPROMISED} at position {position} has no from_position")
                    })?;
                self.compromised.push(Compromise {
                    key: k.to_vkey(),
                    from_position: from,
                    declared_at: position,
                    reason: payload
                        .get("reason")
                        .and_then(|v| v.as_str())
                        .unwrap_or_default()
                        .to_string(),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// The registry from the events of [`KEYS_STREAM`], in order (each taken
    /// to start signing at the position after it: right for the events
    /// jishi writes, each in its own group).
    pub fn from_events(events: &[RecordedEvent]) -> Result<KeyRegistry, String> {
        let mut r = KeyRegistry::default();
        for e in events {
            let payload: serde_json::Value = serde_json::from_str(e.payload.as_str())
                .map_err(|err| format!("key event at position {}: {err}", e.position))?;
            r.apply(&e.event_type, &payload, e.position, e.position + 1)?;
        }
        Ok(r)
    }
}

/// Reads the ledger's key events.
pub async fn registry<S: crate::EventStore + ?Sized>(
    store: &S,
) -> Result<KeyRegistry, crate::StoreError> {
    let mut events = Vec::new();
    loop {
        let page = store
            .read_stream(KEYS_STREAM, events.len() as u64 + 1, 1000)
            .await?;
        if page.is_empty() {
            break;
        }
        events.extend(page);
    }
    KeyRegistry::from_events(&events).map_err(crate::StoreError::Schema)
}

/// Positions that a key declared compromised signed from the declared
/// position on: flagged by `verify`, not trusted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Flagged {
    pub first: u64,
    pub last: u64,
    pub key: String,
    pub declared_at: u64,
    pub reason: String,
}

/// What `verify` found of the attestations.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct AttestReport {
    /// Every recording key the ledger registered, oldest first (vkeys).
    pub keys: Vec<String>,
    /// The last position a valid attestation covers (0: none).
    pub attested_through: u64,
    /// Rows recorded before the first key was registered, which its
    /// registration adopted (0: none).
    pub adopted_through: u64,
    /// True when the ledger never registered a key: its rows are not
    /// attested at all, and only the chain and checkpoints speak for them.
    pub unattested: bool,
    pub flagged: Vec<Flagged>,
}

/// Checks the attestations as `verify` walks the rows in position order.
/// Rows reach it only after the chain checks passed, so their hashes are
/// the ones recorded.
#[derive(Debug, Default)]
pub struct AttestChecker {
    registry: KeyRegistry,
    /// Whether the ledger holds any attestation at all.
    any: bool,
    group: Option<Attestation>,
    /// Key events inside the current group: (type, payload, position).
    pending: Vec<(String, serde_json::Value, u64)>,
    /// Each key's signing span (first, last position), in order.
    spans: Vec<(VerifierKey, u64, u64)>,
    through: u64,
    adopted: u64,
}

fn unattested(position: u64, detail: String) -> crate::Fault {
    crate::Fault {
        position,
        kind: crate::FaultKind::Unattested,
        detail,
    }
}

impl AttestChecker {
    /// `any`: whether the store holds at least one attestation.
    pub fn new(any: bool) -> AttestChecker {
        AttestChecker {
            any,
            ..AttestChecker::default()
        }
    }

    /// Checks the row at `position` (already chain-checked), taking the
    /// next attestation from `next` when a new group starts.
    pub fn row(
        &mut self,
        row: &crate::row::StoredRow,
        next: &mut std::collections::VecDeque<Attestation>,
    ) -> Result<(), crate::Fault> {
        let p = row.position as u64;
        let key_event = row.stream == KEYS_STREAM;
        let recording_key_event = key_event
            && [KEY_REGISTERED, KEY_ROTATED, KEY_COMPROMISED].contains(&row.event_type.as_str());
        if !self.any {
            return if recording_key_event {
                Err(unattested(
                    p,
                    format!(
                        "a key event ({}) is recorded here, but the ledger holds no \
                         attestation at all: its attestations were removed",
                        row.event_type
                    ),
                ))
            } else {
                Ok(())
            };
        }
        if self.group.is_none() {
            let Some(a) = next.pop_front() else {
                return Err(unattested(
                    p,
                    format!(
                        "no attestation covers position {p} (the last attested position is {}): \
                         the row was not written by jishi with the recording key",
                        self.through
                    ),
                ));
            };
            if a.first_position != p as i64 || a.last_position < a.first_position {
                return Err(unattested(
                    p,
                    format!(
                        "no attestation covers position {p}: the next one stored covers \
                         positions {} to {}",
                        a.first_position, a.last_position
                    ),
                ));
            }
            self.group = Some(a);
        }
        if key_event {
            let payload = serde_json::from_slice(&row.payload).map_err(|e| {
                unattested(p, format!("key event {} is not JSON: {e}", row.event_type))
            })?;
            self.pending.push((row.event_type.clone(), payload, p));
        }
        let last = self.group.as_ref().map_or(0, |g| g.last_position as u64);
        if p < last {
            return Ok(());
        }
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let first = group.first_position as u64;
        let pending = std::mem::take(&mut self.pending);
        // The key that signs this group: the current one, or, for the first
        // group, the key it registers (a registration signs itself).
        let key = match self.registry.current() {
            Some(k) => k.clone(),
            None => {
                let registered = pending.iter().find(|(t, ..)| t == KEY_REGISTERED);
                let Some((_, payload, at)) = registered else {
                    return Err(unattested(
                        first,
                        "the first attestation's group registers no recording key".into(),
                    ));
                };
                self.adopted = at.saturating_sub(1);
                let mut probe = KeyRegistry::default();
                probe
                    .apply(KEY_REGISTERED, payload, *at, last + 1)
                    .map_err(|e| unattested(*at, e))?;
                probe
                    .current()
                    .cloned()
                    .ok_or_else(|| unattested(*at, "the registration names no key".into()))?
            }
        };
        let hash = crate::Digest::from_slice(&row.hash).unwrap_or_default();
        if group.key_name != key.name() || group.key_id != i64::from(key.key_id()) {
            return Err(unattested(
                first,
                format!(
                    "positions {first} to {last} are attested by key {}+{:08x}, but the \
                     ledger's recording key for them is {}",
                    group.key_name,
                    group.key_id,
                    key.to_vkey()
                ),
            ));
        }
        if !key.verifies(&message(first, last, &hash), &group.signature) {
            return Err(unattested(
                first,
                format!(
                    "the attestation of positions {first} to {last} does not verify under the \
                     recording key {}: it was forged or changed",
                    key.to_vkey()
                ),
            ));
        }
        match self.spans.last_mut() {
            Some((k, _, end)) if *k == key => *end = last,
            _ => self.spans.push((key, first, last)),
        }
        for (event_type, payload, at) in &pending {
            self.registry
                .apply(event_type, payload, *at, last + 1)
                .map_err(|e| unattested(*at, e))?;
        }
        self.through = last;
        Ok(())
    }

    /// Ends the walk at `head`; `left` are attestations read but not used;
    /// `head_now` is the ledger's head read again after the walk.
    pub fn finish(
        self,
        head: u64,
        left: &std::collections::VecDeque<Attestation>,
        head_now: u64,
    ) -> (AttestReport, Option<crate::Fault>) {
        let mut fault = None;
        if let Some(g) = self.group.as_ref().or_else(|| left.front()) {
            // A group that began at or before the head but ends after it:
            // its last rows are gone (a tail cut off), unless the ledger has
            // grown past it meanwhile (a first key registered while this
            // walk ran adopts the rows before it: the next walk checks it).
            if g.first_position as u64 <= head && (g.last_position.max(0) as u64) > head_now {
                fault = Some(unattested(
                    head + 1,
                    format!(
                        "an attestation covers positions {} to {}, but the rows end at {head}: \
                         rows were removed",
                        g.first_position, g.last_position
                    ),
                ));
            }
        }
        let mut flagged = Vec::new();
        for c in &self.registry.compromised {
            for (k, first, last) in &self.spans {
                if k.to_vkey() == c.key && *last >= c.from_position {
                    flagged.push(Flagged {
                        first: (*first).max(c.from_position),
                        last: *last,
                        key: c.key.clone(),
                        declared_at: c.declared_at,
                        reason: c.reason.clone(),
                    });
                }
            }
        }
        let report = AttestReport {
            keys: self
                .registry
                .keys
                .iter()
                .map(|(k, _)| k.to_vkey())
                .collect(),
            attested_through: self.through,
            adopted_through: self.adopted,
            unattested: !self.any,
            flagged,
        };
        (report, fault)
    }
}

/// The key history as far as attestations vouch for it: each key event
/// counts only if the group holding it verifies under the key then current
/// (a registration under its own key), its rows recompute and link, and it
/// follows the events before it. The first key event that fails ends the
/// history there. For the readers that cannot run a whole `verify` first
/// (a case export, the server's checkpoint API): a DBA or `jishi_app` that
/// appends a key event of its own, unattested, does not get its key counted.
pub async fn verified_registry<S: crate::EventStore + ?Sized>(
    store: &S,
) -> Result<KeyRegistry, crate::StoreError> {
    // A ledger with no attestation at all vouches for nothing: its key
    // events are read as recorded (`verify` says the ledger is unattested).
    if store.read_attestations(0, 1).await?.is_empty() {
        return registry(store).await;
    }
    let mut registry = KeyRegistry::default();
    let mut version = 1;
    let mut scratch = Vec::new();
    'events: loop {
        let page = store.read_stream(KEYS_STREAM, version, 1000).await?;
        if page.is_empty() {
            break;
        }
        for e in &page {
            version = e.stream_version + 1;
            let Some(g) = store
                .read_attestations(e.position, 1)
                .await?
                .into_iter()
                .next()
                .filter(|g| g.first_position.max(0) as u64 <= e.position)
            else {
                break 'events;
            };
            let (first, last) = (
                g.first_position.max(0) as u64,
                g.last_position.max(0) as u64,
            );
            // The key event's own row and the links from it to the group's
            // last (which the signature covers): the rows before it in the
            // group do not bear on it, and an adopting first registration
            // may follow a whole legacy history in its group.
            let span = last - e.position + 1;
            let rows = store
                .read_rows(e.position, span.min(1_000_000) as usize)
                .await?;
            let linked = rows.len() as u64 == span
                && rows.iter().enumerate().all(|(i, r)| {
                    let digest_ok = crate::Digest::from_slice(&r.payload_digest)
                        .is_some_and(|d| crate::canonical::payload_digest(&r.payload) == d);
                    let hash_ok = r.computed_hash_at(e.position + i as u64, &mut scratch)
                        == crate::Digest::from_slice(&r.hash);
                    let link_ok = i == 0 || r.prev_hash == rows[i - 1].hash;
                    digest_ok && hash_ok && link_ok
                });
            let payload: serde_json::Value = match serde_json::from_str(e.payload.as_str()) {
                Ok(p) => p,
                Err(_) => break 'events,
            };
            let key = match registry.current() {
                Some(k) => k.clone(),
                None if e.event_type == KEY_REGISTERED => {
                    match payload.get("key").and_then(|v| v.as_str()).map(str::parse) {
                        Some(Ok(k)) => k,
                        _ => break 'events,
                    }
                }
                None => break 'events,
            };
            let hash = rows
                .last()
                .and_then(|r| crate::Digest::from_slice(&r.hash))
                .unwrap_or_default();
            let signed = key.name() == g.key_name
                && i64::from(key.key_id()) == g.key_id
                && key.verifies(&message(first, last, &hash), &g.signature);
            if !(linked && signed)
                || registry
                    .apply(&e.event_type, &payload, e.position, last + 1)
                    .is_err()
            {
                break 'events;
            }
        }
    }
    Ok(registry)
}
