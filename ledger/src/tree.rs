//! The store side of the Merkle tree: what a store must offer beyond
//! [`EventStore`] so that the ledger can sign checkpoints and hand out proofs,
//! and the pure check `jishi verify` runs over the stored tree.
//!
//! Why a separate trait: [`EventStore`] is what every store implements today;
//! proofs are an addition a store opts into ([`ProofStore`]), so the
//! PostgreSQL store keeps compiling while it catches up, and code that only
//! records events never sees tree methods.
//!
//! Storage contract (docs/FORMAT-merkle.md §7): the tree is kept
//! incrementally **in the append transaction** — feed each new event hash to
//! [`Frontier::append`], persist the nodes it returns and the new frontier —
//! so that the events and the tree can never disagree after a crash, and no
//! append ever rebuilds or reads the tree.

use async_trait::async_trait;

use crate::merkle::{ConsistencyProof, Frontier, InclusionProof, ProveError};
use crate::note::NoteError;
use crate::store::{EventStore, StoreError};
use crate::{CheckpointError, Digest};

/// A checkpoint as the ledger stored it: the signed note, and the size, root
/// and origin read from its body when it was stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredCheckpoint {
    /// Store order; a cosigned note is stored as a new, later row.
    pub id: u64,
    pub origin: String,
    pub size: u64,
    pub root: Digest,
    /// The whole signed note (body, blank line, signature lines).
    pub note: String,
    pub recorded_at: String,
}

/// Why a proof or a checkpoint could not be produced or stored.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    #[error("tree size {requested} is beyond the ledger's tree, which holds {size} events")]
    BeyondTree { requested: u64, size: u64 },
    #[error(
        "position {position} is not in a tree of size {size} (positions run from 1 to {size})"
    )]
    PositionOutOfRange { position: u64, size: u64 },
    #[error(
        "a consistency proof needs the first size ({first}) to be at most the second ({second})"
    )]
    SizeOrder { first: u64, second: u64 },
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    #[error("checkpoint body: {0}")]
    Checkpoint(#[from] CheckpointError),
    #[error(
        "the checkpoint says the root at size {size} is {note_root}, but this ledger's tree root \
         at that size is {ledger_root}: it is not a checkpoint of this ledger's history"
    )]
    RootMismatch {
        size: u64,
        note_root: Digest,
        ledger_root: Digest,
    },
    #[error(
        "the checkpoint is for log {got:?}, but this ledger's checkpoints are for {expected:?}"
    )]
    OriginMismatch { expected: String, got: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ProofError {
    /// Maps a pure proof-generation error, naming positions (1-based) as the
    /// CLI and users do rather than leaf indexes.
    pub fn from_prove(e: ProveError<StoreError>) -> ProofError {
        match e {
            ProveError::IndexOutOfRange { index, size } => ProofError::PositionOutOfRange {
                position: index.saturating_add(1),
                size,
            },
            ProveError::SizeOrder { first, second } => ProofError::SizeOrder { first, second },
            ProveError::Source(e) => ProofError::Store(e),
        }
    }
}

/// The nodes one append completed, as stored (loose bytes, so that a row a
/// DBA mangled still reaches the verifier, which then names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeafNodes {
    /// 0-based leaf index (position − 1).
    pub leaf: u64,
    /// The completed nodes' hashes concatenated, level 0 (the leaf hash) first.
    pub hashes: Vec<u8>,
}

/// A store that keeps the RFC 9162 tree over its event hashes and the signed
/// checkpoints of that tree. Leaf `i` is the `hash` of the event at position
/// `i + 1`.
#[async_trait]
pub trait ProofStore: EventStore {
    /// The stored frontier: the tree's size and the roots covering it.
    async fn frontier(&self) -> Result<Frontier, StoreError>;

    /// Number of leaves in the tree (equal to the head position when intact).
    async fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.frontier().await?.size())
    }

    /// MTH of the first `size` leaves, for the current or any past size.
    async fn tree_root(&self, size: u64) -> Result<Digest, ProofError>;

    /// RFC 9162 inclusion proof of leaf `leaf_index` in the tree of `tree_size`.
    async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError>;

    /// RFC 9162 consistency proof from the tree of `first` to that of `second`.
    async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError>;

    /// The stored nodes of leaves `from_leaf..`, at most `limit`, in order.
    async fn read_tree_nodes(
        &self,
        from_leaf: u64,
        limit: usize,
    ) -> Result<Vec<StoredLeafNodes>, StoreError>;

    /// Stores a signed (or cosigned) checkpoint note. The store checks that
    /// its body is a checkpoint of *this* ledger: the size is within the tree,
    /// the root is the tree's root at that size, and the origin is the one of
    /// the checkpoints stored before. Signatures are the caller's business
    /// (the store holds no keys).
    async fn save_checkpoint(&self, note: &str) -> Result<StoredCheckpoint, ProofError>;

    /// Every stored checkpoint, in store order.
    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError>;

    /// The last stored checkpoint, `None` when none was ever stored.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
}

/// A stored checkpoint that no longer matches the ledger.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckpointFault {
    pub checkpoint_id: u64,
    pub size: u64,
    pub detail: String,
}

impl std::fmt::Display for CheckpointFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "checkpoint #{} of size {}: {}",
            self.checkpoint_id, self.size, self.detail
        )
    }
}

/// What `verify` found about the tree and the checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct TreeReport {
    /// Checkpoints stored in the ledger.
    pub checkpoints: usize,
    /// Checkpoints whose size and root were compared with the recomputed tree.
    pub checkpoints_checked: usize,
    /// The first checkpoint (in size order) that no longer matches.
    pub checkpoint_fault: Option<CheckpointFault>,
    /// The first stored tree node or frontier that differs from the tree
    /// recomputed from the event hashes.
    pub tree_fault: Option<String>,
}

impl TreeReport {
    pub fn is_ok(&self) -> bool {
        self.checkpoint_fault.is_none() && self.tree_fault.is_none()
    }
}

/// Rebuilds the tree from the event hashes as `verify` walks the chain, and
/// compares it with the stored nodes, the stored frontier and every stored
/// checkpoint. Pure: the caller feeds it rows and stored nodes.
///
/// On a ledger that is being appended to, the caller reads the checkpoints,
/// then the frontier, then the head, and walks up to that head: each read
/// can only be behind the next (rows, nodes and frontier commit together),
/// so the stored frontier is compared when the walk reaches its size, and
/// a frontier beyond the walked head is a fault, not a race.
#[derive(Debug)]
pub struct TreeChecker {
    frontier: Frontier,
    /// The stored frontier, once given ([`TreeChecker::expect_frontier`]),
    /// and whether the walk has reached its size.
    stored_frontier: Option<Result<Frontier, String>>,
    frontier_compared: bool,
    /// Checkpoints sorted by size (then store order); `next` is the first
    /// not yet reached.
    checkpoints: Vec<StoredCheckpoint>,
    next: usize,
    report: TreeReport,
    scratch: Vec<u8>,
}

impl TreeChecker {
    pub fn new(mut checkpoints: Vec<StoredCheckpoint>) -> TreeChecker {
        checkpoints.sort_by_key(|c| (c.size, c.id));
        let mut t = TreeChecker {
            frontier: Frontier::new(),
            stored_frontier: None,
            frontier_compared: false,
            report: TreeReport {
                checkpoints: checkpoints.len(),
                ..TreeReport::default()
            },
            checkpoints,
            next: 0,
            scratch: Vec::with_capacity(32 * 8),
        };
        t.check_checkpoints_at_size();
        t
    }

    /// The frontier the store holds (`Err` with the reason when it could not
    /// be read), read before the head the walk stops at.
    pub fn expect_frontier(&mut self, stored: Result<Frontier, String>) {
        self.stored_frontier = Some(stored);
        self.compare_frontier_at_size();
    }

    /// The frontier read again after the walk: it commits with the rows, so
    /// once the head at `head` was read it cannot be for fewer events. One
    /// that is has been set back (the next append would extend a wrong tree).
    pub fn frontier_after_walk(&mut self, size_now: u64, head: u64) {
        if size_now < head {
            self.note_tree_fault(format!(
                "the stored frontier is for {size_now} events but the ledger holds {head}"
            ));
        }
    }

    fn compare_frontier_at_size(&mut self) {
        let Some(Ok(stored)) = &self.stored_frontier else {
            return;
        };
        if self.frontier_compared || stored.size() != self.frontier.size() {
            return;
        }
        self.frontier_compared = true;
        if *stored != self.frontier {
            self.note_tree_fault(
                "the stored frontier's subtree roots differ from the ones recomputed from the \
                 event hashes"
                    .to_string(),
            );
        }
    }

    /// Feeds the next event's stored hash (only after the chain check passed
    /// it) and the nodes stored for it, if the store returned a row.
    pub fn feed(&mut self, hash: &Digest, stored: Option<&StoredLeafNodes>) {
        let leaf = self.frontier.size();
        let nodes = match self.frontier.append(hash) {
            Ok(n) => n,
            Err(e) => {
                self.note_tree_fault(format!("the tree cannot grow past leaf {leaf}: {e}"));
                return;
            }
        };
        if self.report.tree_fault.is_none() {
            self.scratch.clear();
            for n in &nodes {
                self.scratch.extend_from_slice(&n.hash.0);
            }
            match stored {
                Some(s) if s.leaf == leaf && s.hashes == self.scratch => {}
                Some(s) if s.leaf == leaf => {
                    let level = s
                        .hashes
                        .chunks(32)
                        .zip(self.scratch.chunks(32))
                        .position(|(a, b)| a != b)
                        .unwrap_or(nodes.len().min(s.hashes.len() / 32));
                    self.note_tree_fault(format!(
                        "the stored tree nodes of position {} differ from the ones recomputed \
                         from the event hashes (first at level {level}{})",
                        leaf + 1,
                        if level == 0 {
                            ", the leaf hash itself"
                        } else {
                            ""
                        }
                    ));
                }
                _ => self.note_tree_fault(format!(
                    "no tree nodes are stored for position {}",
                    leaf + 1
                )),
            }
        }
        self.check_checkpoints_at_size();
        self.compare_frontier_at_size();
    }

    fn note_tree_fault(&mut self, detail: String) {
        if self.report.tree_fault.is_none() {
            self.report.tree_fault = Some(detail);
        }
    }

    fn check_checkpoints_at_size(&mut self) {
        let size = self.frontier.size();
        while let Some(c) = self.checkpoints.get(self.next) {
            if c.size != size {
                break;
            }
            self.report.checkpoints_checked += 1;
            let root = self.frontier.root();
            if root != c.root && self.report.checkpoint_fault.is_none() {
                self.report.checkpoint_fault = Some(CheckpointFault {
                    checkpoint_id: c.id,
                    size: c.size,
                    detail: format!(
                        "it signs root {} but the events' hashes now give root {root}: an \
                         event at or before position {} was changed after it was signed (the \
                         chain may still verify if every later hash was recomputed)",
                        c.root, c.size
                    ),
                });
            }
            self.next += 1;
        }
    }

    /// Ends the walk. `chain_complete` is true when every row up to the head
    /// was checked (no chain fault); only then can a checkpoint beyond the
    /// end, or a stored frontier the walk never reached, be blamed on the
    /// ledger.
    pub fn finish(mut self, chain_complete: bool) -> TreeReport {
        if chain_complete {
            let size = self.frontier.size();
            if let Some(c) = self.checkpoints.get(self.next) {
                if self.report.checkpoint_fault.is_none() {
                    self.report.checkpoint_fault = Some(CheckpointFault {
                        checkpoint_id: c.id,
                        size: c.size,
                        detail: format!(
                            "it covers {} events but the ledger now holds {size}: events were \
                             removed from the end",
                            c.size
                        ),
                    });
                }
            }
            match self.stored_frontier.take() {
                Some(Err(reason)) => self.note_tree_fault(reason),
                Some(Ok(stored)) if !self.frontier_compared => self.note_tree_fault(format!(
                    "the stored frontier is for {} events but the ledger holds {size}",
                    stored.size()
                )),
                _ => {}
            }
        }
        self.report
    }
}

/// The nodes completed by appending one leaf, concatenated as a store keeps
/// them (level 0 first).
pub fn leaf_row(nodes: &[crate::TreeNode]) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 * nodes.len());
    for n in nodes {
        out.extend_from_slice(&n.hash.0);
    }
    out
}

/// Where node `(level, index)` is in the per-leaf layout: the row of the leaf
/// whose append completed it, `(index + 1)·2^level − 1`, at byte offset
/// `32·level`. `None` when the address overflows (no such node can exist).
pub fn node_location(level: u32, index: u64) -> Option<(u64, usize)> {
    let end = index.checked_add(1)?.checked_shl(level)?;
    if level > 0 && end >> level != index + 1 {
        return None;
    }
    Some((end - 1, 32 * level as usize))
}

/// Refuses to extend a tree that holds more leaves than the ledger has events
/// before this append: rows were removed, and appending would hide it.
pub(crate) fn refuse_tree_ahead(tree_size: u64, head_before: u64) -> Result<(), StoreError> {
    if tree_size > head_before {
        return Err(StoreError::Schema(format!(
            "the Merkle tree holds {tree_size} events but the ledger only {head_before}: events \
             were removed; refusing to append (run `jishi verify`)"
        )));
    }
    Ok(())
}
