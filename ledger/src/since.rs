//! `jishi verify --since-checkpoint`: the daily check of a large ledger,
//! in seconds rather than a walk of every row (issue 18, D82).
//!
//! A signed checkpoint already vouches for the first `size` events: its
//! root commits to their hashes, and its signature (under a checkpoint key
//! the ledger registered) says the log stood behind that root. So only what
//! came after needs checking:
//!
//! 1. the newest stored checkpoint whose signature verifies under the
//!    registered checkpoint keys (later ones that do not are reported and
//!    passed over);
//! 2. the event at the checkpoint's size, its own hashes recomputed and
//!    proved into the checkpoint's root: the anchor the next row links to;
//!    the same inclusion proof gives the tree's frontier at that size;
//! 3. the streams' last events at that size, against the stream map the
//!    checkpoint commits to (format 3), so the stream chains continue from
//!    authentic heads;
//! 4. every row after it, with the checks of a full `verify` (hashes on
//!    every core, links, stream versions and chains, validity), each
//!    row's hash appended to the frontier;
//! 5. the tree: the root of the rebuilt frontier against the stored tree's
//!    root at the head, and the stored consistency proof from the
//!    checkpoint's root to that root.
//!
//! What it does not check is said in the report (`not_checked`): the rows
//! before the checkpoint and their tree nodes, the attestations, the other
//! stored checkpoints, and rows stored at positions no event can have.

use std::collections::HashMap;

use crate::merkle::{verify_consistency, Frontier};
use crate::row::StoredRow;
use crate::signers::SignerCheck;
use crate::store::{Head, StoreError};
use crate::tree::{ProofError, ProofStore, StoredCheckpoint};
use crate::verify::{ChainChecker, Fault, FaultKind, Progress};
use crate::Digest;

/// The checkpoint a `--since-checkpoint` check started from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Anchor {
    pub checkpoint_id: u64,
    pub size: u64,
    pub root: Digest,
    /// The registered keys whose signatures on it verified (vkeys).
    pub verified_by: Vec<String>,
}

/// What [`verify_since_checkpoint`] found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SinceReport {
    /// The checkpoint checked from; `None` when no stored checkpoint is
    /// signed by a registered checkpoint key (see `refused`).
    pub checkpoint: Option<Anchor>,
    /// Why nothing could be checked, when nothing could.
    pub refused: Option<String>,
    /// Stored checkpoints newer than the one used whose signatures did not
    /// verify: passed over, and named.
    pub passed_over: Vec<SignerCheck>,
    /// Rows after the checkpoint that were checked.
    pub checked: u64,
    pub head: Option<Head>,
    /// The first bad position at or after the checkpoint's last event.
    pub fault: Option<Fault>,
    /// Why the stored tree is not the checkpoint's tree extended by the
    /// checked rows, if it is not.
    pub tree_fault: Option<String>,
    /// What this check did not look at, in words, for the report.
    pub not_checked: Vec<String>,
}

impl SinceReport {
    /// True when a signed checkpoint was found and everything after it checks.
    pub fn is_ok(&self) -> bool {
        self.checkpoint.is_some()
            && self.refused.is_none()
            && self.fault.is_none()
            && self.tree_fault.is_none()
    }
}

/// Checks what was appended since the newest stored checkpoint that a
/// registered checkpoint key signed (see the module docs).
pub async fn verify_since_checkpoint(
    store: &dyn ProofStore,
    progress: &dyn Progress,
) -> Result<SinceReport, StoreError> {
    let mut report = SinceReport {
        checkpoint: None,
        refused: None,
        passed_over: Vec::new(),
        checked: 0,
        head: None,
        fault: None,
        tree_fault: None,
        not_checked: Vec::new(),
    };
    let checkpoints = store.checkpoints().await?;
    let registry = crate::attest::verified_registry(store).await?;
    let mut chosen = None;
    for c in checkpoints.iter().rev() {
        let signed = crate::signers::check(c, &registry);
        if signed.fault.is_none() {
            chosen = Some((c, signed));
            break;
        }
        report.passed_over.push(signed);
    }
    let Some((cp, signed)) = chosen else {
        report.refused = Some(if checkpoints.is_empty() {
            "the ledger stores no checkpoint: run a full `jishi verify` (and `jishi checkpoint` \
             to have one to start from next time)"
                .into()
        } else {
            format!(
                "none of the {} stored checkpoint(s) is signed by a registered checkpoint key, so \
                 none vouches for the rows before it: run a full `jishi verify`",
                checkpoints.len()
            )
        });
        return Ok(report);
    };
    let m = cp.size;
    report.checkpoint = Some(Anchor {
        checkpoint_id: cp.id,
        size: m,
        root: cp.root,
        verified_by: signed.verified_by.clone(),
    });
    report.not_checked.push(format!(
        "the {m} event(s) up to position {m} and their tree nodes: checkpoint #{} vouches for \
         them (its root and signature); a full `jishi verify` checks them again",
        cp.id
    ));
    report.not_checked.push(
        "the attestations (recording-key signatures) of the rows after the checkpoint".into(),
    );
    report
        .not_checked
        .push("the other stored checkpoints and their signatures".into());
    // A head row whose position was mangled cannot be read as a head; the
    // rows are then checked up to where they end.
    let head = match store.head().await {
        Ok(h) => h,
        Err(StoreError::Corrupt { .. }) => None,
        Err(e) => return Err(e),
    };
    report.head = head.clone();
    let n = head.as_ref().map_or(0, |h| h.position);
    if n < m {
        report.fault = Some(Fault {
            position: n + 1,
            kind: FaultKind::RowMissing,
            detail: format!(
                "checkpoint #{} covers {m} events but the ledger now holds {n}: its tail was cut \
                 off",
                cp.id
            ),
        });
        return Ok(report);
    }
    let (mut checker, mut frontier) = match anchor(store, cp, n, &mut report).await? {
        Ok(start) => start,
        Err(fault) => {
            report.fault = Some(fault);
            return Ok(report);
        }
    };
    progress.start(n - m);
    let mut pages = crate::verify::Pages::of_rows(store, m + 1).await?;
    'pages: while let Some(page) = pages.next().await? {
        for (i, row) in page.rows.iter().enumerate() {
            if row.position as u64 > n {
                break 'pages;
            }
            let checked = match page.hashes.as_ref().and_then(|h| h.get(i)) {
                Some(h) => checker.check_hashed(row, h),
                None => checker.check(row),
            };
            if let Err(f) = checked {
                report.fault = Some(f);
                break 'pages;
            }
            // The row passed, so its hash is 32 bytes.
            if let Err(e) = frontier.append(&Digest::from_slice(&row.hash).unwrap_or_default()) {
                report.tree_fault = Some(format!("the tree cannot grow: {e}"));
                break 'pages;
            }
            report.checked += 1;
        }
        progress.advance(report.checked);
    }
    progress.finish();
    if report.fault.is_none() && m + report.checked < n {
        report.fault = Some(Fault {
            position: checker.next_position(),
            kind: FaultKind::RowMissing,
            detail: format!("the head is at position {n} but rows end"),
        });
    }
    if report.fault.is_none() && report.tree_fault.is_none() {
        report.tree_fault = tree_after(store, cp, &frontier).await?;
    }
    Ok(report)
}

/// Anchors the check at the checkpoint's last event: its row, proved into
/// the checkpoint's root, and the streams' heads at its size, against the
/// checkpoint's stream map. Gives the checker to go on from and the tree's
/// frontier at the checkpoint's size; or the fault that stops the check.
async fn anchor(
    store: &dyn ProofStore,
    cp: &StoredCheckpoint,
    head: u64,
    report: &mut SinceReport,
) -> Result<Result<(ChainChecker, Frontier), Fault>, StoreError> {
    let m = cp.size;
    let fault = |kind: FaultKind, detail: String| Fault {
        position: m,
        kind,
        detail,
    };
    if m == 0 {
        // The empty tree: nothing to anchor to, every row is checked.
        return Ok(Ok((ChainChecker::new(head), Frontier::new())));
    }
    let row = match store.read_rows(m, 1).await?.into_iter().next() {
        Some(r) if r.position == m as i64 => r,
        _ => {
            return Ok(Err(fault(
                FaultKind::RowMissing,
                format!("the last event of checkpoint #{} is not stored", cp.id),
            )))
        }
    };
    let hash = match own_hash(&row, m) {
        Ok(h) => h,
        Err(f) => return Ok(Err(f)),
    };
    let proof = match store.inclusion_proof(m - 1, m).await {
        Ok(p) => p,
        Err(ProofError::Store(e)) if !matches!(e, StoreError::Corrupt { .. }) => return Err(e),
        Err(e) => {
            return Ok(Err(fault(
                FaultKind::ChainBroken,
                format!(
                    "the stored tree gives no proof for it in checkpoint #{}: {e}",
                    cp.id
                ),
            )))
        }
    };
    let frontier = match frontier_of_last_leaf(&hash, m, &proof.path) {
        Some(f) if f.root() == cp.root => f,
        _ => {
            return Ok(Err(fault(
                FaultKind::ChainBroken,
                format!(
                    "the event stored here, or the stored tree's proof for it, is not what \
                     checkpoint #{} of size {m} commits to: one of them changed after the \
                     checkpoint was signed",
                    cp.id
                ),
            )))
        }
    };
    let heads = store.stream_heads(m).await?;
    match cp.streams() {
        Some(line) => {
            if crate::streams::StreamMap::new(heads.clone()).line() != line {
                return Ok(Err(fault(
                    FaultKind::StreamChainBroken,
                    format!(
                        "the streams' last events up to position {m} are not the ones \
                         checkpoint #{} commits to (its stream map): a row before the \
                         checkpoint changed",
                        cp.id
                    ),
                )));
            }
        }
        None => report.not_checked.push(format!(
            "the streams' last events up to position {m}: checkpoint #{} states no stream map, \
             so the stream versions and chains after it continue from the stored rows unchecked",
            cp.id
        )),
    }
    let streams: HashMap<String, (u64, Digest)> = heads.into_iter().collect();
    Ok(Ok((
        ChainChecker::resume(&row, hash, streams, head),
        frontier,
    )))
}

/// The anchor row's own hashes: its payload digest and its envelope hash at
/// position `m` must give what is stored (before any proof is looked at).
fn own_hash(row: &StoredRow, m: u64) -> Result<Digest, Fault> {
    let fault = |kind: FaultKind, detail: &str| Fault {
        position: m,
        kind,
        detail: detail.to_string(),
    };
    let digest_ok = Digest::from_slice(&row.payload_digest)
        .is_some_and(|d| crate::canonical::payload_digest(&row.payload) == d);
    if !digest_ok {
        return Err(fault(
            FaultKind::PayloadChanged,
            "the payload's BLAKE3 digest differs from the payload_digest the chain commits to",
        ));
    }
    let stored = Digest::from_slice(&row.hash);
    match row.computed_hash_at(m, &mut Vec::new()) {
        Some(h) if Some(h) == stored => Ok(h),
        _ => Err(fault(
            FaultKind::EnvelopeChanged,
            "the envelope's fields no longer give the stored hash (a field or the hash itself \
             was changed)",
        )),
    }
}

/// The frontier of the tree of `size` leaves from an inclusion proof of its
/// last leaf, `leaf`. That proof's path holds, lowest first, the left
/// siblings inside the last perfect subtree (as many as `size` has trailing
/// zero bits) and then the roots of the perfect subtrees to its left, so the
/// frontier is those roots, largest first, and the last subtree's root
/// folded from the leaf. `None` when the path has the wrong length.
fn frontier_of_last_leaf(leaf: &Digest, size: u64, path: &[Digest]) -> Option<Frontier> {
    let inside = size.trailing_zeros() as usize;
    if size == 0 || path.len() + 1 != inside + size.count_ones() as usize {
        return None;
    }
    let last = path[..inside]
        .iter()
        .fold(crate::merkle::leaf_hash(leaf), |acc, left| {
            crate::merkle::node_hash(left, &acc)
        });
    let mut nodes: Vec<Digest> = path[inside..].iter().rev().copied().collect();
    nodes.push(last);
    Frontier::from_parts(size, nodes).ok()
}

/// The stored tree after the walk: its root at the head must be the root of
/// the checkpoint's tree extended by the checked rows (`rebuilt`), and its
/// consistency proof from the checkpoint must verify between the two roots.
async fn tree_after(
    store: &dyn ProofStore,
    cp: &StoredCheckpoint,
    rebuilt: &Frontier,
) -> Result<Option<String>, StoreError> {
    let n = rebuilt.size();
    let root = rebuilt.root();
    let refused = |e: ProofError| match e {
        ProofError::Store(e) if !matches!(e, StoreError::Corrupt { .. }) => Err(e),
        e => Ok(e.to_string()),
    };
    let stored_root = match store.tree_root(n).await {
        Ok(r) => r,
        Err(e) => {
            return Ok(Some(format!(
                "the stored tree has no root at size {n}: {}",
                refused(e)?
            )))
        }
    };
    if stored_root != root {
        return Ok(Some(format!(
            "the stored tree's root at size {n} is {stored_root}, but the checkpoint's tree \
             extended by the checked rows has root {root}: the stored tree was changed"
        )));
    }
    let proof = match store.consistency_proof(cp.size, n).await {
        Ok(p) => p,
        Err(e) => {
            return Ok(Some(format!(
                "the stored tree gives no consistency proof from size {} to {n}: {}",
                cp.size,
                refused(e)?
            )))
        }
    };
    Ok(verify_consistency(cp.size, n, &cp.root, &root, &proof.path)
        .err()
        .map(|e| {
            format!(
                "the stored tree is not consistent with checkpoint #{} of size {}: {e}",
                cp.id, cp.size
            )
        }))
}
