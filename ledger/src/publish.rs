//! What the ledger hands to outsiders: signed checkpoints of its tree and case
//! files of selected events with their inclusion proofs. Shared by the command
//! line and the server, so that both refuse the same things: no checkpoint is
//! signed over a ledger that does not verify, and no case is exported without
//! a stored checkpoint that covers every event in it.

use crate::export::{CaseExport, ExportError, ExportedEvent, Selector, FORMAT, FORMAT_1};
use crate::streams::StreamMap;
use crate::tree::{ProofError, ProofStore, StoredCheckpoint};
use crate::verify::{verify_with_proofs, Progress, VerifyReport};
use crate::{Checkpoint, CheckpointError, SignerKey, StoreError};

/// Events read per query while collecting a case.
const PAGE: usize = 10_000;

/// Why a checkpoint was not signed. Nothing was stored in any case.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    /// The ledger failed verification; the report names the first fault.
    #[error("refusing to sign a checkpoint of a ledger that does not verify")]
    NotVerified(Box<VerifyReport>),
    #[error("origin: {0}")]
    Origin(CheckpointError),
    /// The key's name is not the origin (c2sp.org/tlog-checkpoint asks
    /// that a log's key carry its origin's name).
    #[error(
        "the log's key is named {key:?} but the checkpoint's origin is {origin:?}: a log signs \
         its checkpoints with a key named after its origin (make one with `jishi keygen \
         {origin:?}`)"
    )]
    KeyName { key: String, origin: String },
    /// A witness's cosignature key cannot sign as the log.
    #[error("the key {0:?} is a witness's cosignature key; a log signs with ed25519 or sm2-sm3")]
    WitnessKey(String),
    #[error("signing the checkpoint: {0}")]
    Sign(CheckpointError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Registering the log's key in the ledger failed (nothing was signed).
    #[error("registering the log's key: {0}")]
    Register(#[from] crate::AppendError),
}

/// A checkpoint that was signed and stored, and what was verified first.
#[derive(Debug, Clone)]
pub struct Signed {
    pub stored: StoredCheckpoint,
    /// The signed note, as stored.
    pub note: String,
    /// Events verified (chain and tree) before signing.
    pub verified: u64,
}

/// Records `key` in the ledger as a checkpoint key of `role` (`log` or
/// `witness`) unless it is already, by `actor`: `verify` counts a stored
/// checkpoint's signature only by a registered key. True if it recorded.
pub async fn register_checkpoint_key(
    store: &dyn crate::EventStore,
    key: &crate::VerifierKey,
    role: &str,
    actor: &crate::Actor,
) -> Result<bool, SignError> {
    let registry = crate::attest::verified_registry(store).await?;
    if registry
        .checkpoint_keys
        .iter()
        .any(|(k, r)| k == key && r == role)
    {
        return Ok(false);
    }
    store
        .append(crate::AppendRequest {
            stream: crate::attest::KEYS_STREAM.into(),
            expected: crate::ExpectedVersion::Any,
            events: vec![crate::NewEvent {
                event_id: None,
                event_type: crate::attest::CHECKPOINT_KEY_REGISTERED.into(),
                schema_version: 1,
                occurred_at: None,
                actor: actor.clone(),
                payload: serde_json::json!({"key": key.to_vkey(), "role": role}),
            }],
        })
        .await?;
    Ok(true)
}

/// Verifies the whole ledger (chain and tree), then signs its current tree
/// head with `key` under `origin` and stores the checkpoint. The log's key
/// is registered in the ledger (by `actor`) before signing if it is not, so
/// that `verify` can check the signature later.
pub async fn sign_checkpoint(
    store: &dyn ProofStore,
    key: &SignerKey,
    origin: &str,
    actor: &crate::Actor,
    progress: &dyn Progress,
) -> Result<Signed, SignError> {
    if key.name() != origin {
        return Err(SignError::KeyName {
            key: key.name().to_string(),
            origin: origin.to_string(),
        });
    }
    if !crate::Suite::SIGNING.contains(&key.suite()) {
        return Err(SignError::WitnessKey(key.name().to_string()));
    }
    let mut report = verify_with_proofs(store, progress).await?;
    if !report.is_ok() {
        return Err(SignError::NotVerified(Box::new(report)));
    }
    // The first checkpoint with a key records the key (through the store's
    // own append path), then verifies again, so that what is signed was
    // verified whole, the registration included (once per key).
    if register_checkpoint_key(store, &key.verifier(), "log", actor).await? {
        report = verify_with_proofs(store, progress).await?;
        if !report.is_ok() {
            return Err(SignError::NotVerified(Box::new(report)));
        }
    }
    // The size verify walked, and the root of exactly those rows (their
    // stored nodes were compared with the recomputed ones on the way): never
    // a frontier read again, which rows written meanwhile (or a forged
    // tree_state) could have moved past what was verified.
    let size = report.checked;
    let root = store.tree_root(size).await?;
    let mut cp = Checkpoint::new(origin, size, root).map_err(SignError::Origin)?;
    // The map of exactly the rows verified (format 3): each stream's count
    // and last hash, which case exports prove completeness against.
    if let Some(streams) = report.streams {
        cp = cp.with_streams(streams);
    }
    let note = cp.sign(key).map_err(SignError::Sign)?.to_string();
    let stored = store.save_checkpoint(&note).await?;
    Ok(Signed {
        stored,
        note,
        verified: report.checked,
    })
}

/// Why a case file could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("{0}: no events to export")]
    Empty(Selector),
    #[error(
        "no stored checkpoint covers position {position}, the last event of {selector}: \
         run `jishi checkpoint` first (on a server: POST /api/checkpoint)"
    )]
    NoCheckpoint { position: u64, selector: Selector },
    #[error(
        "no stored checkpoint that covers position {position} verifies under the ledger's \
         registered checkpoint keys ({why}): run `jishi verify`, then sign a new one"
    )]
    Unverified { position: u64, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Proof(#[from] ProofError),
    #[error(transparent)]
    Export(#[from] ExportError),
}

/// A case file and the stored checkpoint its proofs lead to.
#[derive(Debug, Clone)]
pub struct Case {
    pub export: CaseExport,
    pub checkpoint: StoredCheckpoint,
}

/// Collects the events `selector` names, in position order, with their
/// inclusion proofs in the newest stored checkpoint that covers them all.
pub async fn build_case(store: &dyn ProofStore, selector: &Selector) -> Result<Case, CaseError> {
    let events = match selector {
        Selector::Stream(s) => store.read_stream(s, 1, usize::MAX >> 1).await?,
        // Same meaning as the store's prefix read (the stream itself or below
        // it), which an index answers without scanning the ledger.
        Selector::Prefix(p) if !p.ends_with('/') => {
            let mut out = Vec::new();
            let mut from = 1;
            loop {
                let page = store.read_prefix(p, from, PAGE).await?;
                let full = page.len() == PAGE;
                if let Some(last) = page.last() {
                    from = last.position + 1;
                }
                out.extend(page);
                if !full {
                    break out;
                }
            }
        }
        Selector::Prefix(_) => {
            let mut out = Vec::new();
            let mut from = 1;
            loop {
                let page = store.read_all(from, PAGE).await?;
                let Some(last) = page.last() else { break out };
                from = last.position + 1;
                out.extend(page.into_iter().filter(|e| selector.matches(&e.stream)));
            }
        }
    };
    let Some(max_position) = events.iter().map(|e| e.position).max() else {
        return Err(CaseError::Empty(selector.clone()));
    };
    // Only a checkpoint whose note verifies under the ledger's registered
    // keys goes into a case: a stored row with a forged or edited note must
    // not reach an investigator as "signed by the log".
    let registry = crate::attest::verified_registry(store).await?;
    let covering: Vec<StoredCheckpoint> = store
        .checkpoints()
        .await?
        .into_iter()
        .filter(|c| c.size >= max_position)
        .collect();
    if covering.is_empty() {
        return Err(CaseError::NoCheckpoint {
            position: max_position,
            selector: selector.clone(),
        });
    }
    let checks: Vec<_> = covering
        .iter()
        .map(|c| crate::signers::check(c, &registry))
        .collect();
    // The newest verifying one, preferring one that states a stream map
    // (only those let the file prove itself complete).
    let checkpoint = covering
        .iter()
        .zip(&checks)
        .filter(|(_, k)| k.fault.is_none())
        .max_by_key(|(c, _)| (c.streams().is_some(), c.id))
        .map(|(c, _)| c.clone())
        .ok_or_else(|| CaseError::Unverified {
            position: max_position,
            why: checks
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
    // The events as of the checkpoint: later ones are not in its tree.
    let events: Vec<_> = events
        .into_iter()
        .filter(|e| e.position <= checkpoint.size)
        .collect();
    let mut exported = Vec::with_capacity(events.len());
    for e in &events {
        let proof = store
            .inclusion_proof(e.position - 1, checkpoint.size)
            .await?;
        exported.push(ExportedEvent::new(e, proof.path)?);
    }
    // The map of the ledger as it is now: if the events before the
    // checkpoint were rewritten, its proofs do not lead to the map the
    // checkpoint states, and the file fails its check (as the rewritten
    // events' inclusion proofs do): the caller checks before handing it out.
    let (format, streams) = match checkpoint.streams() {
        Some(_) => {
            let map = StreamMap::new(store.stream_heads(checkpoint.size).await?);
            (FORMAT, map.prove_selector(selector))
        }
        // A checkpoint of the older form: the file cannot prove itself
        // complete, and says so by its format.
        None => (FORMAT_1, Vec::new()),
    };
    Ok(Case {
        export: CaseExport {
            format: format.into(),
            selector: selector.clone(),
            checkpoint: checkpoint.note.clone(),
            streams,
            events: exported,
        },
        checkpoint,
    })
}
