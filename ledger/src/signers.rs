//! Who signed each stored checkpoint, checked against the keys the ledger
//! registered (issue 13).
//!
//! The store checks a checkpoint's body against the tree when it is saved,
//! but holds no keys, so a row with a garbage signature, or a note whose
//! body was edited after it was stored, used to pass `verify`. Here every
//! stored note is opened again: it must parse, its body must say what the
//! row says, and its signatures must verify under the checkpoint keys
//! registered in `ledger/keys` (`ledger.checkpoint_key_registered`), at
//! least one of them a log key. Lines by keys the ledger never registered
//! are not faults (a witness the ledger does not follow), but they are never
//! reported as signers.

use crate::attest::KeyRegistry;
use crate::tree::StoredCheckpoint;
use crate::{Checkpoint, Note};

/// What one stored checkpoint's note showed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SignerCheck {
    pub checkpoint_id: u64,
    pub size: u64,
    /// Registered keys whose signatures verified (vkeys), log first.
    pub verified_by: Vec<String>,
    /// Names on signature lines of keys the ledger never registered.
    pub unverified: Vec<String>,
    /// Why the checkpoint cannot be trusted, if it cannot.
    pub fault: Option<String>,
}

impl std::fmt::Display for SignerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checkpoint #{} of size {}: {}",
            self.checkpoint_id,
            self.size,
            self.fault.as_deref().unwrap_or("signed by registered keys")
        )
    }
}

/// Opens `c`'s note against the registered checkpoint keys.
pub fn check(c: &StoredCheckpoint, registry: &KeyRegistry) -> SignerCheck {
    let mut out = SignerCheck {
        checkpoint_id: c.id,
        size: c.size,
        verified_by: Vec::new(),
        unverified: Vec::new(),
        fault: None,
    };
    let note = match Note::parse(&c.note) {
        Ok(n) => n,
        Err(e) => {
            out.fault = Some(format!("the stored note is not a signed note: {e}"));
            return out;
        }
    };
    match Checkpoint::from_body(note.text()) {
        Ok(body) if body.origin == c.origin && body.size == c.size && body.root == c.root => {}
        Ok(body) => {
            out.fault = Some(format!(
                "the stored note's body says {} size {} root {}, but the row says {} size {} \
                 root {}: the note was edited after it was stored",
                body.origin, body.size, body.root, c.origin, c.size, c.root
            ));
            return out;
        }
        Err(e) => {
            out.fault = Some(format!("the stored note's body is not a checkpoint: {e}"));
            return out;
        }
    }
    let keys: Vec<_> = registry
        .checkpoint_keys
        .iter()
        .map(|(k, _)| k.clone())
        .collect();
    out.unverified = note
        .signatures()
        .iter()
        .filter(|s| {
            !keys
                .iter()
                .any(|k| k.name() == s.name && k.key_id() == s.key_id)
        })
        .map(|s| s.name.clone())
        .collect();
    if keys.is_empty() {
        out.fault = Some(
            "the ledger registers no checkpoint key, so no signature on it can be checked \
             (register the log's key with `jishi checkpoint-key add`)"
                .into(),
        );
        return out;
    }
    match note.verify(&keys) {
        Ok(v) => {
            let logs = registry.checkpoint_keys_of("log");
            let mut by: Vec<_> = v.verified_by().to_vec();
            by.sort_by_key(|k| !logs.contains(k));
            if !by.iter().any(|k| logs.contains(k)) {
                out.fault = Some("no registered log key signed it".into());
            }
            out.verified_by = by.iter().map(|k| k.to_vkey()).collect();
        }
        Err(e) => {
            out.fault = Some(format!(
                "its signatures do not verify under the ledger's registered checkpoint keys: {e}"
            ))
        }
    }
    out
}
