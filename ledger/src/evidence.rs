//! Split-view evidence: two checkpoints a log signed that cannot both be
//! true, in one file anyone can check offline with the log's public key
//! (docs/FORMAT-merkle.md §12.4).
//!
//! Two signed checkpoints of one origin are a split view when they are not
//! consistent: the same size with different roots, or a larger one whose
//! tree does not have the smaller one as its prefix. The second case is
//! shown with the root that the larger tree has at the smaller size and a
//! consistency proof from that root to the larger checkpoint: only one tree
//! of that size is a prefix of the larger tree (else SHA-256 collides), so
//! if that root is not the one the log signed, the log signed two histories.

use serde::{Deserialize, Serialize};

use crate::checkpoint::Checkpoint;
use crate::merkle::verify_consistency;
use crate::note::{Note, VerifierKey};
use crate::Digest;

/// The `format` of an evidence file.
pub const EVIDENCE_FORMAT: &str = "jishi-split-view/1";

/// The file: two signed notes, and what shows them inconsistent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitView {
    pub format: String,
    /// The checkpoint of the smaller (or equal) size, as signed.
    pub first: String,
    /// The other checkpoint, as signed.
    pub second: String,
    /// When the sizes differ: the root the second history has at the first
    /// size, which differs from the first checkpoint's root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_root_at_first_size: Option<Digest>,
    /// When the sizes differ: the RFC 9162 consistency proof from that root
    /// to the second checkpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency_proof: Vec<Digest>,
}

/// What a checked evidence file shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proven {
    pub origin: String,
    pub first: Checkpoint,
    pub second: Checkpoint,
}

/// Why a file does not prove a split view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    #[error("the file is not split-view evidence: {0}")]
    Parse(String),
    #[error("the {which} checkpoint does not verify under the log's key: {why}")]
    Signature { which: &'static str, why: String },
    #[error("the log key is named {key:?}, not after the checkpoints' origin {origin:?}")]
    KeyName { key: String, origin: String },
    #[error("the two checkpoints are of different logs ({0:?} and {1:?})")]
    Origins(String, String),
    #[error(
        "the checkpoints are consistent (same size, same root, no two stream maps): no split view"
    )]
    Same,
    #[error("the first checkpoint (size {first}) is larger than the second ({second})")]
    Order { first: u64, second: u64 },
    #[error("the sizes differ, but the file gives no root of the second history at size {0}")]
    NoRoot(u64),
    #[error("the second history's root at size {size} is the first checkpoint's: they are consistent, not a split view")]
    RootAgrees { size: u64 },
    #[error("the consistency proof does not lead to the second checkpoint: {0}")]
    Proof(String),
}

fn open(note: &str, key: &VerifierKey, which: &'static str) -> Result<Checkpoint, EvidenceError> {
    let sig = |why: String| EvidenceError::Signature { which, why };
    let verified = Note::parse(note)
        .and_then(|n| n.verify(std::slice::from_ref(key)))
        .map_err(|e| sig(e.to_string()))?;
    let cp = Checkpoint::from_body(verified.text()).map_err(|e| sig(e.to_string()))?;
    if cp.origin != key.name() {
        return Err(EvidenceError::KeyName {
            key: key.name().to_string(),
            origin: cp.origin,
        });
    }
    Ok(cp)
}

impl SplitView {
    /// Checks that the file proves the log whose key is `log_key` signed
    /// two inconsistent checkpoints.
    pub fn check(&self, log_key: &VerifierKey) -> Result<Proven, EvidenceError> {
        if self.format != EVIDENCE_FORMAT {
            return Err(EvidenceError::Parse(format!(
                "format {:?}, not {EVIDENCE_FORMAT:?}",
                self.format
            )));
        }
        let first = open(&self.first, log_key, "first")?;
        let second = open(&self.second, log_key, "second")?;
        if first.origin != second.origin {
            return Err(EvidenceError::Origins(first.origin, second.origin));
        }
        if first.size > second.size {
            return Err(EvidenceError::Order {
                first: first.size,
                second: second.size,
            });
        }
        if first.size == second.size {
            if !first.contradicts(&second) {
                return Err(EvidenceError::Same);
            }
        } else {
            let root = self
                .second_root_at_first_size
                .ok_or(EvidenceError::NoRoot(first.size))?;
            if root == first.root {
                return Err(EvidenceError::RootAgrees { size: first.size });
            }
            verify_consistency(
                first.size,
                second.size,
                &root,
                &second.root,
                &self.consistency_proof,
            )
            .map_err(|e| EvidenceError::Proof(e.to_string()))?;
        }
        Ok(Proven {
            origin: first.origin.clone(),
            first,
            second,
        })
    }

    /// Evidence of two signed notes of the same size with different roots,
    /// or (sizes differing) with the second history's root at the first
    /// size and the proof from it. The notes go in size order.
    pub fn new(
        a: &str,
        b: &str,
        a_size: u64,
        b_size: u64,
        second_root_at_first_size: Option<Digest>,
        consistency_proof: Vec<Digest>,
    ) -> SplitView {
        let (first, second) = if a_size <= b_size { (a, b) } else { (b, a) };
        SplitView {
            format: EVIDENCE_FORMAT.into(),
            first: first.to_string(),
            second: second.to_string(),
            second_root_at_first_size,
            consistency_proof,
        }
    }

    pub fn parse(bytes: &[u8]) -> Result<SplitView, EvidenceError> {
        serde_json::from_slice(bytes).map_err(|e| EvidenceError::Parse(e.to_string()))
    }

    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{first_root_from_consistency, MemoryTree};
    use crate::SignerKey;

    fn tree(leaves: &[u8]) -> MemoryTree {
        leaves.iter().map(|b| Digest([*b; 32])).collect()
    }

    fn note(key: &SignerKey, t: &MemoryTree, size: u64) -> String {
        let root = crate::merkle::root_at(t, size).expect("root");
        Checkpoint::new(key.name(), size, root)
            .unwrap()
            .sign(key)
            .unwrap()
            .to_string()
    }

    /// A log that signed size 5 of one history and size 8 of another (leaf
    /// 2 differs): the second history's root at 5, with its proof, proves
    /// the split; the first history's own root, or a consistent pair, does
    /// not; nor does another log's key.
    #[test]
    fn a_fork_is_proved_and_a_consistent_pair_is_not() {
        let key = SignerKey::from_seed("jishi.example/log", &[1; 32]).unwrap();
        let a = tree(&[1, 2, 3, 4, 5]);
        let b = tree(&[1, 2, 9, 4, 5, 6, 7, 8]);
        let (na, nb) = (note(&key, &a, 5), note(&key, &b, 8));
        let proof = b.prove_consistency(5, 8).unwrap().path;
        let b_at_5 = crate::merkle::root_at(&b, 5).unwrap();
        // The witness's view: the proof alone gives the second history's root.
        assert_eq!(
            first_root_from_consistency(5, 8, &crate::merkle::root_at(&b, 8).unwrap(), &proof),
            Some(b_at_5)
        );
        let ev = SplitView::new(&nb, &na, 8, 5, Some(b_at_5), proof.clone());
        let p = ev.check(&key.verifier()).expect("proved");
        assert_eq!((p.first.size, p.second.size), (5, 8));
        // Claiming the first history's own root is no proof.
        let a_at_5 = crate::merkle::root_at(&a, 5).unwrap();
        let claimed = SplitView::new(&na, &nb, 5, 8, Some(a_at_5), proof.clone());
        assert_eq!(
            claimed.check(&key.verifier()),
            Err(EvidenceError::RootAgrees { size: 5 })
        );
        // Two checkpoints of one history are consistent.
        let nb5 = note(&key, &b, 5);
        let same = SplitView::new(&nb5, &nb, 5, 8, Some(b_at_5), proof);
        assert_eq!(
            same.check(&key.verifier()),
            Err(EvidenceError::RootAgrees { size: 5 })
        );
        // Same size, different roots: proved without a proof.
        let na8 = note(&key, &tree(&[1, 2, 3, 4, 5, 6, 7, 8]), 8);
        assert!(SplitView::new(&na8, &nb, 8, 8, None, Vec::new())
            .check(&key.verifier())
            .is_ok());
        // Another key: the notes do not verify.
        let other = SignerKey::from_seed("jishi.example/log", &[2; 32]).unwrap();
        assert!(matches!(
            ev.check(&other.verifier()),
            Err(EvidenceError::Signature { .. })
        ));
        // An edited proof does not lead to the second checkpoint.
        let mut bad = ev.clone();
        bad.consistency_proof[0] = Digest([0; 32]);
        assert!(matches!(
            bad.check(&key.verifier()),
            Err(EvidenceError::Proof(_))
        ));
    }
}
