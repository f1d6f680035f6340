//! Re-computing the whole chain and naming the first row that is wrong.
//!
//! "Invalid" helps nobody in an investigation; "the payload of position 4,711
//! was changed after it was recorded" does. So each row is checked in an order
//! that tells the kinds of tampering apart: is a position missing, does the
//! payload still match its digest, does the envelope still match its hash (and
//! if not, would it match at another position: a reorder), does it link to the
//! row before it, are its fields ones the append path could have written
//! (`validity`), does its stream version follow the stream's previous one.
//!
//! What a linear chain cannot see: a tail cut off, or a whole history rewritten
//! with every hash recomputed. Signed checkpoints held by someone else catch
//! those (docs/FORMAT.md).
//!
//! # Hashing on every core (D80)
//!
//! Everything a row's two hashes cover (its payload, and its envelope at its
//! own position) is in the row itself, so they need nothing from the rows
//! before it. The walk hashes each page on rayon's threads ([`hash_rows`])
//! while the previous page goes through the checks, which stay sequential
//! (the links, stream versions, attestations and the tree need the row
//! before) and take the precomputed hashes ([`ChainChecker::check_hashed`]).
//! The checks run in the same order on the same values as
//! [`ChainChecker::check`], so a fault is named exactly as before: same
//! position, same kind, same words.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rayon::prelude::*;

use crate::attest::{AttestChecker, AttestReport, Attestation};
use crate::row::StoredRow;
use crate::store::{EventStore, Head, StoreError};
use crate::tree::{ProofStore, RunSplitter, StoredLeafNodes, StoredRun, TreeChecker, TreeReport};
use crate::Digest;

/// Rows read per page: large enough to amortise a query, small enough that
/// memory stays constant on a ledger of any length.
const PAGE: usize = 4096;
/// How many other positions a row whose hash fails is tried at, nearest first,
/// to tell "moved" from "changed". Only runs on a row that already failed.
const REORDER_SEARCH: u64 = 1_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// A position is absent: a row was deleted.
    RowMissing,
    /// The payload's bytes no longer match the digest the chain commits to.
    PayloadChanged,
    /// An envelope field (or the stored hash) no longer matches the hash.
    EnvelopeChanged,
    /// The row is intact but sits at another position than it was recorded at.
    RowsReordered,
    /// The row is self-consistent but does not link to the row before it: one
    /// of the two was replaced by a forgery with a recomputed hash.
    ChainBroken,
    /// A stream's versions skip or repeat.
    StreamVersionGap,
    /// The event's `stream_prev_hash` is not the hash of its stream's
    /// previous event, or an event after the first of format 3 lacks one.
    StreamChainBroken,
    /// No valid attestation by the ledger's recording key covers the row:
    /// it was not written by jishi with the key (D69).
    Unattested,
    /// The row's hashes and link check, but a field is one the append path
    /// would have refused (`validity::admissible`): the row was *written*
    /// wrongly, with a hash computed over bad fields.
    RowMalformed,
}

impl FaultKind {
    pub fn label(self) -> &'static str {
        match self {
            FaultKind::RowMissing => "row missing",
            FaultKind::PayloadChanged => "payload changed",
            FaultKind::EnvelopeChanged => "envelope changed",
            FaultKind::RowsReordered => "rows reordered",
            FaultKind::ChainBroken => "chain broken",
            FaultKind::StreamVersionGap => "stream version gap",
            FaultKind::StreamChainBroken => "stream chain broken",
            FaultKind::Unattested => "not attested",
            FaultKind::RowMalformed => "row malformed",
        }
    }
}

/// The first bad position and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Fault {
    pub position: u64,
    pub kind: FaultKind,
    pub detail: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "first bad position {}: {}: {}",
            self.position,
            self.kind.label(),
            self.detail
        )
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VerifyReport {
    /// Rows checked (all of them when there is no fault).
    pub checked: u64,
    pub head: Option<Head>,
    pub fault: Option<Fault>,
    /// The Merkle tree and stored checkpoints, compared with the tree
    /// recomputed from the event hashes; `None` when the store keeps no tree
    /// (plain [`verify`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tree: Option<TreeReport>,
    /// The attestations: which keys, how far, what is flagged (D69).
    pub attestation: AttestReport,
    /// Each stored checkpoint's note, opened against the ledger's registered
    /// checkpoint keys (empty for plain [`verify`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<crate::signers::SignerCheck>,
    /// The stream-head map of the `checked` rows, when they verified: what
    /// a checkpoint signed at that size states about the streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub streams: Option<crate::streams::StreamsLine>,
}

impl VerifyReport {
    /// True when the chain and, if checked, the tree and checkpoints are intact.
    pub fn is_ok(&self) -> bool {
        self.fault.is_none()
            && self.tree.as_ref().is_none_or(TreeReport::is_ok)
            && self.signers.iter().all(|s| s.fault.is_none())
    }
}

/// Told how far verification has come, for a progress bar.
pub trait Progress: Send + Sync {
    fn start(&self, _total: u64) {}
    fn advance(&self, _done: u64) {}
    fn finish(&self) {}
}

/// Reports nothing.
pub struct Quiet;
impl Progress for Quiet {}

/// A row's two hashes, computed ahead of the chain checks and on any thread:
/// every input is one of the row's own stored columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowHashes {
    /// The stored position the envelope was hashed at: the checks use these
    /// hashes only for a row at that position, and hash again otherwise.
    position: i64,
    /// BLAKE3 of the stored payload bytes.
    payload_digest: Digest,
    /// The envelope hash at `position`; `None` when a column cannot be part
    /// of any envelope (or the position is not one an event can have).
    envelope: Option<Digest>,
    /// The validity checks on the row's own fields (all but the one that
    /// needs the row before): as costly as the hashes, and as independent.
    fields: crate::validity::OwnFields,
}

impl RowHashes {
    /// Hashes one row, with `scratch` for the envelope's canonical bytes.
    pub fn of(row: &StoredRow, scratch: &mut Vec<u8>) -> RowHashes {
        let envelope = u64::try_from(row.position)
            .ok()
            .filter(|&p| p >= 1)
            .and_then(|p| row.computed_hash_at(p, scratch));
        RowHashes {
            position: row.position,
            payload_digest: crate::canonical::payload_digest(&row.payload),
            envelope,
            fields: crate::validity::OwnFields::of(row),
        }
    }
}

/// Rows per rayon task: a few dozen events of under 1 KiB each, so that a
/// task is worth a steal and a page of 4,096 still spreads over every core.
const HASH_TASK_ROWS: usize = 64;

/// Every row's hashes, in order, spread over rayon's threads (one scratch
/// buffer per task, not per row).
pub fn hash_rows(rows: &[StoredRow]) -> Vec<RowHashes> {
    rows.par_iter()
        .with_min_len(HASH_TASK_ROWS)
        .map_init(
            || Vec::with_capacity(1024),
            |scratch, row| RowHashes::of(row, scratch),
        )
        .collect()
}

/// [`hash_rows`] on rayon's pool, answered through a channel so that the
/// walk's own thread goes on checking the page before meanwhile. `None` if
/// the pool dropped the job (a panic in it): the checks then hash for
/// themselves, so a fault is still found and named.
fn hash_in_background(rows: Arc<Vec<StoredRow>>) -> Hashing {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        // The receiver is gone only if the walk stopped early (a fault).
        let _ = tx.send(hash_rows(&rows));
    });
    Box::pin(async move { rx.await.ok() })
}

/// Checks the running state of the chain, one row at a time, in position order.
pub struct ChainChecker {
    expected: u64,
    prev_hash: Digest,
    scratch: Vec<u8>,
    /// The last version seen of each stream, and its event's hash (what the
    /// stream's next event commits to, and the stream's head in the map).
    /// Memory grows with the number of streams (entities), never with the
    /// number of events.
    versions: HashMap<String, (u64, Digest)>,
    /// The position of the first event of format 3 (with a stream
    /// predecessor), once seen: every later event must be of format 3 too.
    format3_from: Option<u64>,
    /// The highest position any row may have come from (the head's).
    last_position: u64,
    /// The previous row's `recorded_at` (empty before the first row).
    prev_recorded_at: String,
}

impl ChainChecker {
    /// A checker for a ledger whose head is at `last_position`.
    pub fn new(last_position: u64) -> Self {
        ChainChecker {
            expected: 1,
            prev_hash: Digest::ZERO,
            scratch: Vec::with_capacity(1024),
            versions: HashMap::new(),
            format3_from: None,
            last_position,
            prev_recorded_at: String::new(),
        }
    }

    /// A checker that goes on after `last`, a row already known to be
    /// authentic (a checkpoint's last event, proved into its root) whose
    /// hash is `hash`, with the streams' last versions and hashes as of it
    /// (`streams`), for a ledger whose head is at `last_position`.
    pub fn resume(
        last: &StoredRow,
        hash: Digest,
        streams: HashMap<String, (u64, Digest)>,
        last_position: u64,
    ) -> Self {
        let position = u64::try_from(last.position).unwrap_or(0);
        ChainChecker {
            expected: position + 1,
            prev_hash: hash,
            scratch: Vec::with_capacity(1024),
            versions: streams,
            // Every event from it on must commit to its stream predecessor.
            format3_from: last.stream_prev.is_some().then_some(position),
            last_position,
            prev_recorded_at: last.recorded_at.clone(),
        }
    }

    /// The next position expected.
    pub fn next_position(&self) -> u64 {
        self.expected
    }

    /// Checks one row; on success the chain advances past it.
    pub fn check(&mut self, row: &StoredRow) -> Result<(), Fault> {
        self.check_with(row, None)
    }

    /// [`ChainChecker::check`] with the row's hashes computed beforehand
    /// ([`hash_rows`]): the same checks in the same order, so the same fault.
    /// Hashes computed for another position than the row's are not used.
    pub fn check_hashed(&mut self, row: &StoredRow, hashes: &RowHashes) -> Result<(), Fault> {
        self.check_with(row, Some(hashes).filter(|h| h.position == row.position))
    }

    fn check_with(&mut self, row: &StoredRow, hashes: Option<&RowHashes>) -> Result<(), Fault> {
        let fault = |position: u64, kind: FaultKind, detail: String| Fault {
            position,
            kind,
            detail,
        };
        let p = self.expected;
        if row.position != p as i64 {
            return Err(if row.position > p as i64 {
                let gap = row.position as u64 - p;
                fault(
                    p,
                    FaultKind::RowMissing,
                    format!(
                        "{gap} row(s) absent: position {p} is followed directly by {}",
                        row.position
                    ),
                )
            } else {
                fault(
                    p,
                    FaultKind::RowsReordered,
                    format!("position {} appears out of order", row.position),
                )
            });
        }
        let stored_hash = Digest::from_slice(&row.hash);
        let stored_digest = Digest::from_slice(&row.payload_digest);
        let payload_digest = |row: &StoredRow| match hashes {
            Some(h) => h.payload_digest,
            None => crate::canonical::payload_digest(&row.payload),
        };
        match stored_digest {
            Some(d) if payload_digest(row) == d => {}
            Some(_) => {
                return Err(fault(
                    p,
                    FaultKind::PayloadChanged,
                    "the payload's BLAKE3 digest differs from the payload_digest the chain \
                     commits to"
                        .into(),
                ))
            }
            None => {
                return Err(fault(
                    p,
                    FaultKind::EnvelopeChanged,
                    format!(
                        "payload_digest is {} bytes, not 32",
                        row.payload_digest.len()
                    ),
                ))
            }
        }
        // `row.position == p` here, the position `hashes` were computed at.
        let computed = match hashes {
            Some(h) => h.envelope,
            None => row.computed_hash_at(p, &mut self.scratch),
        };
        if computed.is_none() || computed != stored_hash {
            return Err(self.classify_hash_failure(row, p, stored_hash));
        }
        if Digest::from_slice(&row.prev_hash) != Some(self.prev_hash) {
            return Err(fault(
                p,
                FaultKind::ChainBroken,
                if p == 1 {
                    "the first event's prev_hash is not 32 zero bytes".into()
                } else {
                    format!(
                        "its prev_hash does not match the hash stored at position {}: one of \
                         the two rows was replaced by a forgery with a recomputed hash",
                        p - 1
                    )
                },
            ));
        }
        // The row is what was written; was it written as the append path writes?
        let previous = Some(self.prev_recorded_at.as_str()).filter(|t| !t.is_empty());
        match hashes {
            Some(h) => crate::validity::admissible_with(row, previous, &h.fields)?,
            None => crate::validity::admissible(row, previous)?,
        }
        // The row is authentic from here on, so its stream version is the one recorded.
        let version = row.stream_version as u64;
        let last = self.versions.get(row.stream.as_str()).copied();
        let due = last.map_or(1, |(v, _)| v + 1);
        if version != due {
            return Err(fault(
                p,
                FaultKind::StreamVersionGap,
                format!(
                    "stream {:?} has version {version} where {due} was due",
                    row.stream
                ),
            ));
        }
        self.check_stream_prev(row, p, last.map(|(_, h)| h))?;
        // `computed == stored_hash` and `computed` is Some here.
        let hash = stored_hash.unwrap_or_default();
        match self.versions.get_mut(row.stream.as_str()) {
            Some(v) => *v = (version, hash),
            None => {
                self.versions.insert(row.stream.clone(), (version, hash));
            }
        }
        self.prev_hash = hash;
        self.prev_recorded_at.clear();
        self.prev_recorded_at.push_str(&row.recorded_at);
        self.expected += 1;
        Ok(())
    }

    /// Format 3: the row's `stream_prev_hash` (covered by its hash, which
    /// passed) must be the hash of the stream's previous event, `last` (zero
    /// for a first event); and once one event has it, every later one must.
    fn check_stream_prev(
        &mut self,
        row: &StoredRow,
        p: u64,
        last: Option<Digest>,
    ) -> Result<(), Fault> {
        let broken = |detail: String| Fault {
            position: p,
            kind: FaultKind::StreamChainBroken,
            detail,
        };
        match &row.stream_prev {
            None => match self.format3_from {
                Some(from) => Err(broken(format!(
                    "the event has no stream_prev_hash, but every event from position {from} on \
                     commits to its stream predecessor: an event of the older form was written \
                     after the ledger moved to format 3"
                ))),
                None => Ok(()),
            },
            Some(bytes) => {
                self.format3_from.get_or_insert(p);
                let due = last.unwrap_or(Digest::ZERO);
                if Digest::from_slice(bytes) == Some(due) {
                    Ok(())
                } else {
                    Err(broken(if last.is_none() {
                        format!(
                            "it is the first event of stream {:?} but its stream_prev_hash is not \
                             32 zero bytes",
                            row.stream
                        )
                    } else {
                        format!(
                            "its stream_prev_hash is not the hash of version {} of stream {:?}: \
                             the stream's events were not written in this order",
                            row.stream_version - 1,
                            row.stream
                        )
                    }))
                }
            }
        }
    }

    /// The stream-head map of the rows checked so far.
    pub fn stream_map(&self) -> crate::streams::StreamMap {
        crate::streams::StreamMap::new(self.versions.iter().map(|(s, h)| (s.clone(), *h)).collect())
    }

    fn classify_hash_failure(&mut self, row: &StoredRow, p: u64, stored: Option<Digest>) -> Fault {
        if let Some(stored) = stored {
            // Would the row's contents hash to its stored hash at another position?
            let last = self.last_position.max(p);
            for d in 1..=REORDER_SEARCH {
                let mut any = false;
                for q in [p.checked_add(d), p.checked_sub(d)].into_iter().flatten() {
                    if q == 0 || q > last {
                        continue;
                    }
                    any = true;
                    if row.computed_hash_at(q, &mut self.scratch) == Some(stored) {
                        return Fault {
                            position: p,
                            kind: FaultKind::RowsReordered,
                            detail: format!(
                                "the event stored here was recorded at position {q} (its hash \
                                 matches its contents there)"
                            ),
                        };
                    }
                }
                if !any {
                    break;
                }
            }
        }
        Fault {
            position: p,
            kind: FaultKind::EnvelopeChanged,
            detail: "the envelope's fields no longer give the stored hash (a field or the hash \
                     itself was changed)"
                .into(),
        }
    }
}

/// Verifies the whole ledger of `store`: every digest and hash in order,
/// gapless positions, gapless stream versions. Memory stays constant: rows are
/// read a page at a time, and the next page is read while this one is hashed.
pub async fn verify<S: EventStore + ?Sized>(
    store: &S,
    progress: &dyn Progress,
) -> Result<VerifyReport, StoreError> {
    walk(store, None, progress).await
}

/// [`verify`], and also: rebuilds the Merkle tree from the stored event
/// hashes as the chain is walked, compares every stored checkpoint's root at
/// its size (the first that no longer matches is reported: a history
/// rewritten with every hash recomputed passes the chain but not this), and
/// compares the stored tree nodes and frontier with the recomputed ones.
pub async fn verify_with_proofs(
    store: &dyn ProofStore,
    progress: &dyn Progress,
) -> Result<VerifyReport, StoreError> {
    walk(store, Some(store), progress).await
}

async fn walk<S: EventStore + ?Sized>(
    store: &S,
    proofs: Option<&dyn ProofStore>,
    progress: &dyn Progress,
) -> Result<VerifyReport, StoreError> {
    // Checkpoints, then the frontier, then the head: appends may go on while
    // the walk runs, and each of these reads can only be behind the next, so
    // everything read before the head is covered by the walk up to it (see
    // `TreeChecker`). Rows after that head are left for the next verify.
    let stored_checkpoints = match proofs {
        Some(p) => p.checkpoints().await?,
        None => Vec::new(),
    };
    let mut tree = match proofs {
        Some(p) => {
            let mut t = TreeChecker::new(stored_checkpoints.clone());
            t.expect_frontier(match p.frontier().await {
                Ok(f) => Ok(f),
                Err(StoreError::Schema(reason)) => Err(reason),
                Err(e) => return Err(e),
            });
            Some(t)
        }
        None => None,
    };
    // A head row whose position was mangled cannot be read as a head; the
    // chain pass below finds and names that row, so carry on without one.
    let head = match store.head().await {
        Ok(h) => h,
        Err(StoreError::Corrupt { .. }) => None,
        Err(e) => return Err(e),
    };
    let end = head.as_ref().map_or(u64::MAX, |h| h.position);
    progress.start(head.as_ref().map_or(0, |h| h.position));
    // Attestations are read after the head, so any written since belong to
    // groups after it (a group's rows and attestation commit together).
    let mut attestations = Attestations::new(end);
    attestations.fill(store, 1).await?;
    let mut attest = AttestChecker::new(!attestations.buffer.is_empty());
    // The tree rows holding the leaves of the page of rows from position
    // `from`; split into leaves (and checked as runs) in walk order below.
    let read_nodes = |from: u64| async move {
        let leaf = from.saturating_sub(1);
        match proofs {
            Some(p) => Ok((leaf, p.read_tree_rows(leaf, PAGE).await?)),
            None => Ok((leaf, Vec::new())),
        }
    };
    let mut splitter = RunSplitter::new();
    let mut checker = ChainChecker::new(head.as_ref().map_or(u64::MAX, |h| h.position));
    let mut checked = 0u64;
    let mut chain_fault = None;
    // Rows whose position is not a valid position (0 or less) sort first; no
    // event can be stored there, so one means a row's position was changed.
    let mut invalid_position = None;
    // Set once a row after the head read above is reached.
    let mut past_end = false;
    let read_page = move |from: u64| -> PageRead<'_> {
        Box::pin(async move { tokio::try_join!(store.read_rows(from, PAGE), read_nodes(from)) })
    };
    let mut pages = Pages::start(Box::new(read_page), 0).await?;
    while let Some(Page {
        rows: page,
        hashes,
        runs,
    }) = pages.next().await?
    {
        let page_end = page.last().map_or(0, |r| r.position.max(0) as u64);
        attestations.fill(store, page_end).await?;
        let nodes = match (runs, tree.is_some()) {
            ((from, rows), true) => splitter.split(rows, from, PAGE),
            (_, false) => Vec::new(),
        };
        let (n, fault) = {
            let mut n = 0u64;
            let mut fault = None;
            let mut stored = nodes.iter().peekable();
            for (i, row) in page.iter().enumerate() {
                if row.position < 1 {
                    invalid_position.get_or_insert(row.position);
                    continue;
                }
                if row.position as u64 > end {
                    past_end = true;
                    break;
                }
                let checked_row = match hashes.as_ref().and_then(|h| h.get(i)) {
                    Some(h) => checker.check_hashed(row, h),
                    None => checker.check(row),
                };
                if let Err(f) = checked_row {
                    fault = Some(f);
                    break;
                }
                if let Err(f) = attest.row(row, &mut attestations.buffer) {
                    fault = Some(f);
                    break;
                }
                if let Some(t) = tree.as_mut() {
                    let leaf = checker.next_position() - 2;
                    while stored
                        .next_if(|s: &&StoredLeafNodes| s.leaf < leaf)
                        .is_some()
                    {}
                    let s = stored.next_if(|s| s.leaf == leaf);
                    // The row passed, so its hash is 32 bytes.
                    t.feed(&Digest::from_slice(&row.hash).unwrap_or_default(), s);
                    t.check_stream_maps(|| checker.stream_map());
                }
                n += 1;
            }
            (n, fault)
        };
        checked += n;
        if fault.is_some() {
            chain_fault = fault;
            break;
        }
        if past_end {
            break;
        }
        progress.advance(checked);
    }
    if chain_fault.is_none() {
        if let Some(h) = &head {
            if checked < h.position {
                chain_fault = Some(Fault {
                    position: checker.next_position(),
                    kind: FaultKind::RowMissing,
                    detail: format!("the head is at position {} but rows end", h.position),
                });
            }
        }
    }
    let head_now = match store.head().await {
        Ok(h) => h.map_or(0, |h| h.position),
        Err(StoreError::Corrupt { .. }) => 0,
        Err(e) => return Err(e),
    };
    let (attestation, attest_fault) = attest.finish(checked, &attestations.buffer, head_now);
    if chain_fault.is_none() {
        chain_fault = attest_fault;
    }
    if let Some(bad) = invalid_position {
        let mut f = chain_fault.unwrap_or(Fault {
            position: checker.next_position(),
            kind: FaultKind::RowMissing,
            detail: "the rows end here".into(),
        });
        f.detail = format!(
            "{}; a row is stored at position {bad}, which no event can have: its position \
             was changed",
            f.detail
        );
        chain_fault = Some(f);
    }
    if let (Some(t), Some(p), Some(h)) = (tree.as_mut(), proofs, head.as_ref()) {
        if chain_fault.is_none() {
            match p.frontier().await {
                Ok(f) => t.frontier_after_walk(f.size(), h.position),
                Err(StoreError::Schema(_)) => {} // reported by `expect_frontier`
                Err(e) => return Err(e),
            }
        }
    }
    let tree = tree.map(|t| t.finish(chain_fault.is_none()));
    // The checkpoints' signatures, against the keys the (verified) rows
    // registered; not checked over a chain that failed.
    let signers = if chain_fault.is_none() && !stored_checkpoints.is_empty() {
        let registry = crate::attest::verified_registry(store).await?;
        stored_checkpoints
            .iter()
            .map(|c| crate::signers::check(c, &registry))
            .collect()
    } else {
        Vec::new()
    };
    let streams = (proofs.is_some() && chain_fault.is_none()).then(|| checker.stream_map().line());
    progress.finish();
    Ok(VerifyReport {
        checked,
        head,
        fault: chain_fault,
        tree,
        attestation,
        streams,
        signers,
    })
}

/// A page read from the store: its rows, and the tree rows holding their
/// leaves (the first leaf, and the runs; none when the tree is not checked).
type PageRead<'a> = Pin<Box<dyn Future<Output = Result<RawPage, StoreError>> + Send + 'a>>;
type RawPage = (Vec<StoredRow>, TreeRuns);
/// The first leaf of a page and the `tree_nodes` rows holding its leaves.
type TreeRuns = (u64, Vec<StoredRun>);
/// The rows' hashes, being computed on rayon's threads.
type Hashing = Pin<Box<dyn Future<Output = Option<Vec<RowHashes>>> + Send>>;

/// One page as the checks take it: the rows, their hashes (`None`: hash as
/// you go), and the tree rows of their leaves.
pub(crate) struct Page {
    pub(crate) rows: Arc<Vec<StoredRow>>,
    pub(crate) hashes: Option<Vec<RowHashes>>,
    pub(crate) runs: TreeRuns,
}

/// The walk's pages, three in flight at once (D80): while the caller checks
/// page k, rayon hashes page k + 1 and the store reads page k + 2 (a
/// blocking thread for SQLite, the server for PostgreSQL). Memory stays at
/// three pages whatever the ledger's length. A read that fails is reported
/// by the `next` after the page before it was handed out, so a fault in
/// that page is still the one named.
pub(crate) struct Pages<'a> {
    read: Box<dyn Fn(u64) -> PageRead<'a> + Send + Sync + 'a>,
    /// The next page to hand out, its hashing under way.
    ready: Option<(Arc<Vec<StoredRow>>, Hashing, TreeRuns)>,
    /// The read of the page after it, and its result if it came at once.
    reading: Option<(PageRead<'a>, Option<Result<RawPage, StoreError>>)>,
    failed: Option<StoreError>,
}

impl<'a> Pages<'a> {
    /// Starts at position `from` (0: every row, also those stored at a
    /// position no event can have).
    async fn start(
        read: Box<dyn Fn(u64) -> PageRead<'a> + Send + Sync + 'a>,
        from: u64,
    ) -> Result<Pages<'a>, StoreError> {
        let first = read(from).await?;
        let mut pages = Pages {
            read,
            ready: None,
            reading: None,
            failed: None,
        };
        pages.accept(first).await;
        Ok(pages)
    }

    /// Starts hashing a page just read, and reading the one after it.
    async fn accept(&mut self, (rows, runs): RawPage) {
        let rows = Arc::new(rows);
        if let Some(last) = rows.last() {
            let mut read = (self.read)(last.position.max(0) as u64 + 1);
            let early = poll_once(read.as_mut()).await;
            self.reading = Some((read, early));
        }
        self.ready = Some((rows.clone(), hash_in_background(rows), runs));
    }

    /// The next page, `None` after the last.
    pub(crate) async fn next(&mut self) -> Result<Option<Page>, StoreError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        let Some((rows, hashing, runs)) = self.ready.take() else {
            return Ok(None);
        };
        if rows.is_empty() {
            return Ok(None);
        }
        if let Some((read, early)) = self.reading.take() {
            let next = match early {
                Some(done) => done,
                None => read.await,
            };
            match next {
                Ok(raw) => self.accept(raw).await,
                Err(e) => self.failed = Some(e),
            }
        }
        let hashes = hashing.await.filter(|h| h.len() == rows.len());
        Ok(Some(Page { rows, hashes, runs }))
    }
}

impl<'a> Pages<'a> {
    /// The rows from position `from` on, without the tree's rows (for
    /// checks that rebuild the tree themselves, `verify --since-checkpoint`).
    pub(crate) async fn of_rows<S: EventStore + ?Sized>(
        store: &'a S,
        from: u64,
    ) -> Result<Pages<'a>, StoreError> {
        let read = move |from: u64| -> PageRead<'a> {
            Box::pin(async move {
                let rows = store.read_rows(from, PAGE).await?;
                Ok((rows, (from.saturating_sub(1), Vec::new())))
            })
        };
        Pages::start(Box::new(read), from).await
    }
}

/// The stored attestations, read a page ahead of the rows they cover.
struct Attestations {
    buffer: std::collections::VecDeque<Attestation>,
    /// The next `last_position` to read from.
    from: u64,
    done: bool,
    /// The head read at the start: later groups are not this walk's.
    end: u64,
}

impl Attestations {
    fn new(end: u64) -> Self {
        Attestations {
            buffer: Default::default(),
            from: 0,
            done: false,
            end,
        }
    }

    /// Reads until the buffer reaches past `upto`, or no more are stored.
    async fn fill<S: EventStore + ?Sized>(
        &mut self,
        store: &S,
        upto: u64,
    ) -> Result<(), StoreError> {
        while !self.done
            && self
                .buffer
                .back()
                .is_none_or(|a| (a.last_position.max(0) as u64) < upto)
        {
            let page = store.read_attestations(self.from, PAGE).await?;
            self.done = page.len() < PAGE;
            if let Some(last) = page.last() {
                self.from = last.last_position.max(0) as u64 + 1;
            }
            self.buffer.extend(
                page.into_iter()
                    .filter(|a| a.first_position.max(0) as u64 <= self.end),
            );
        }
        Ok(())
    }
}

/// Polls a future once: `Some` if it finished, `None` if it is under way.
async fn poll_once<F: std::future::Future + ?Sized>(
    mut fut: std::pin::Pin<&mut F>,
) -> Option<F::Output> {
    std::future::poll_fn(|cx| match fut.as_mut().poll(cx) {
        std::task::Poll::Ready(v) => std::task::Poll::Ready(Some(v)),
        std::task::Poll::Pending => std::task::Poll::Ready(None),
    })
    .await
}

#[cfg(test)]
mod tests {
    //! The parallel path ([`hash_rows`], then [`ChainChecker::check_hashed`])
    //! must name the same first fault as the sequential one
    //! ([`ChainChecker::check`]) for any mangling of the rows: same
    //! position, kind and words.

    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;
    use crate::{Actor, AppendRequest, ExpectedVersion, NewEvent, SqliteStore};

    /// Forty intact rows on four streams, written by the real append path.
    fn rows() -> &'static [StoredRow] {
        static ROWS: OnceLock<Vec<StoredRow>> = OnceLock::new();
        ROWS.get_or_init(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let store = SqliteStore::open(dir.path().join("rows.db")).expect("a store");
                for i in 0..40 {
                    store
                        .append(AppendRequest {
                            stream: format!("candidate/c{}", i % 4),
                            expected: ExpectedVersion::Any,
                            events: vec![NewEvent {
                                event_id: None,
                                event_type: "candidate.nominated".into(),
                                schema_version: 1,
                                occurred_at: Some("2021-03-05T09:30:00+08:00".into()),
                                actor: Actor {
                                    id: "zzb-001".into(),
                                    name: "王伟".into(),
                                    role: "organisation_department".into(),
                                    org: "天元区委组织部".into(),
                                },
                                payload: serde_json::json!({"n": i, "name": "李明"}),
                            }],
                        })
                        .await
                        .expect("an append");
                }
                store.read_rows(0, 1000).await.expect("the rows")
            })
        })
    }

    /// One way a hostile DBA can change the rows.
    #[derive(Debug, Clone)]
    enum Mangle {
        Payload(usize, usize),
        PayloadDigest(usize, usize),
        Hash(usize, usize),
        PrevHash(usize, usize),
        StreamPrev(usize, usize),
        DropStreamPrev(usize),
        TruncateDigest(usize),
        StreamVersion(usize, i64),
        RecordedAt(usize),
        EventType(usize),
        Position(usize, i64),
        Swap(usize, usize),
        Delete(usize),
        /// The forger's step: every row from here on sealed again (digest,
        /// link and hash recomputed), so that what was changed before
        /// passes the hashes and only the field checks can see it.
        ResealFrom(usize),
    }

    fn mangle() -> impl Strategy<Value = Mangle> {
        let i = 0..40usize;
        prop_oneof![
            (i.clone(), any::<usize>()).prop_map(|(i, b)| Mangle::Payload(i, b)),
            (i.clone(), 0..32usize).prop_map(|(i, b)| Mangle::PayloadDigest(i, b)),
            (i.clone(), 0..32usize).prop_map(|(i, b)| Mangle::Hash(i, b)),
            (i.clone(), 0..32usize).prop_map(|(i, b)| Mangle::PrevHash(i, b)),
            (i.clone(), 0..32usize).prop_map(|(i, b)| Mangle::StreamPrev(i, b)),
            i.clone().prop_map(Mangle::DropStreamPrev),
            i.clone().prop_map(Mangle::TruncateDigest),
            (i.clone(), -2..3i64).prop_map(|(i, d)| Mangle::StreamVersion(i, d)),
            i.clone().prop_map(Mangle::RecordedAt),
            i.clone().prop_map(Mangle::EventType),
            (i.clone(), -3..3i64).prop_map(|(i, d)| Mangle::Position(i, d)),
            (i.clone(), i.clone()).prop_map(|(a, b)| Mangle::Swap(a, b)),
            i.clone().prop_map(Mangle::Delete),
            i.prop_map(Mangle::ResealFrom),
        ]
    }

    fn flip(bytes: &mut [u8], at: usize) {
        if !bytes.is_empty() {
            let at = at % bytes.len();
            bytes[at] ^= 0x01;
        }
    }

    fn apply(rows: &mut Vec<StoredRow>, m: &Mangle) {
        let n = rows.len();
        if n == 0 {
            return;
        }
        match *m {
            Mangle::Payload(i, b) => flip(&mut rows[i % n].payload, b),
            Mangle::PayloadDigest(i, b) => flip(&mut rows[i % n].payload_digest, b),
            Mangle::Hash(i, b) => flip(&mut rows[i % n].hash, b),
            Mangle::PrevHash(i, b) => flip(&mut rows[i % n].prev_hash, b),
            Mangle::StreamPrev(i, b) => {
                if let Some(sp) = rows[i % n].stream_prev.as_mut() {
                    flip(sp, b);
                }
            }
            Mangle::DropStreamPrev(i) => rows[i % n].stream_prev = None,
            Mangle::TruncateDigest(i) => rows[i % n].payload_digest.truncate(31),
            Mangle::StreamVersion(i, d) => rows[i % n].stream_version += d,
            Mangle::RecordedAt(i) => rows[i % n].recorded_at = "2020-01-01T00:00:00.000000Z".into(),
            Mangle::EventType(i) => rows[i % n].event_type = "Not A Type".into(),
            Mangle::Position(i, d) => rows[i % n].position += d,
            Mangle::Swap(a, b) => {
                let (pa, pb) = (rows[a % n].position, rows[b % n].position);
                rows.swap(a % n, b % n);
                rows[a % n].position = pa;
                rows[b % n].position = pb;
            }
            Mangle::Delete(i) => {
                rows.remove(i % n);
            }
            Mangle::ResealFrom(i) => {
                let mut scratch = Vec::new();
                for k in i % n..n {
                    let prev = if k == 0 {
                        Digest::ZERO.0.to_vec()
                    } else {
                        rows[k - 1].hash.clone()
                    };
                    let row = &mut rows[k];
                    row.payload_digest = crate::canonical::payload_digest(&row.payload).0.to_vec();
                    row.prev_hash = prev;
                    let at = u64::try_from(row.position).unwrap_or(0).max(1);
                    if let Some(h) = row.computed_hash_at(at, &mut scratch) {
                        row.hash = h.0.to_vec();
                    }
                }
            }
        }
    }

    /// The first fault over `rows` in order, as the walk feeds them.
    fn first_fault(rows: &[StoredRow], parallel: bool) -> Option<Fault> {
        let mut checker = ChainChecker::new(rows.len() as u64);
        let hashes = hash_rows(rows);
        for (row, h) in rows.iter().zip(&hashes) {
            let checked = if parallel {
                checker.check_hashed(row, h)
            } else {
                checker.check(row)
            };
            if let Err(f) = checked {
                return Some(f);
            }
        }
        None
    }

    #[test]
    fn intact_rows_pass_both_ways() {
        assert_eq!(first_fault(rows(), false), None);
        assert_eq!(first_fault(rows(), true), None);
    }

    /// A field the append path refuses, resealed by the forger: the field
    /// checks made ahead name it as the sequential ones do.
    #[test]
    fn a_resealed_malformed_row_is_named_both_ways() {
        let mut mangled = rows().to_vec();
        apply(&mut mangled, &Mangle::EventType(7));
        apply(&mut mangled, &Mangle::ResealFrom(7));
        let fault = first_fault(&mangled, true).expect("a fault");
        assert_eq!((fault.position, fault.kind), (8, FaultKind::RowMalformed));
        assert_eq!(Some(fault), first_fault(&mangled, false));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn parallel_and_sequential_name_the_same_fault(
            mangles in proptest::collection::vec(mangle(), 1..4)
        ) {
            let mut mangled = rows().to_vec();
            for m in &mangles {
                apply(&mut mangled, m);
            }
            prop_assert_eq!(first_fault(&mangled, true), first_fault(&mangled, false));
        }
    }

    /// Hashes made for a row at one position are not used once the row
    /// says another: the check hashes afresh and names what it would have.
    #[test]
    fn hashes_of_another_position_are_not_used() {
        let mut mangled = rows().to_vec();
        let hashes = hash_rows(&mangled);
        mangled[5].position += 1;
        let mut checker = ChainChecker::new(40);
        let mut fault = None;
        for (row, h) in mangled.iter().zip(&hashes) {
            if let Err(f) = checker.check_hashed(row, h) {
                fault = Some(f);
                break;
            }
        }
        assert_eq!(fault, first_fault(&mangled, false));
        assert!(fault.is_some());
    }
}
