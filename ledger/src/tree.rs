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
//!
//! Row layout (§7.1): one `tree_nodes` row per *run*, the leaves one append
//! transaction added (or one chunk of a catch-up), keyed by the run's first
//! leaf and holding the per-leaf segments of its leaves concatenated. One row
//! per transaction rather than one per leaf because on PostgreSQL each row
//! is a heap tuple and an index entry (DECISIONS.md D38); a per-leaf row, as
//! older jishi wrote them, is a run of one, so both kinds read alike. The
//! arithmetic of the layout ([`nodes_before`], [`run_leaves`],
//! [`node_in_run`]), the rows a transaction writes ([`NewRuns`]) and the
//! splitting of rows back into leaves for `verify` ([`RunSplitter`]) live
//! here, so that both stores share them.

use async_trait::async_trait;

use crate::merkle::{ConsistencyProof, Frontier, InclusionProof, ProveError};
use crate::note::NoteError;
use crate::row::StoredRow;
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

impl StoredCheckpoint {
    /// The stream-map line of the note's body, if it has one (a note that
    /// does not parse has none: its signature check reports it).
    pub fn streams(&self) -> Option<crate::streams::StreamsLine> {
        let note = crate::Note::parse(&self.note).ok()?;
        crate::Checkpoint::from_body(note.text()).ok()?.streams
    }
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

/// A `tree_nodes` row as stored (loose bytes, so that a row a DBA mangled
/// still reaches the verifier, which then names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRun {
    /// The run's first leaf (0-based leaf index, position − 1): the row's key.
    pub leaf: u64,
    /// The per-leaf segments of the run's leaves, in leaf order, each the
    /// nodes that leaf's append completed, level 0 first, 32 bytes apiece.
    pub hashes: Vec<u8>,
}

/// The nodes one append completed, as split from the run that holds them by
/// [`RunSplitter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLeafNodes {
    /// 0-based leaf index (position − 1).
    pub leaf: u64,
    /// The first leaf of the `tree_nodes` row they were read from, so that a
    /// fault names the row a DBA would look at.
    pub row: u64,
    /// The completed nodes' hashes concatenated, level 0 (the leaf hash)
    /// first; `Err` with the reason when the stored rows cannot give this
    /// leaf's nodes (a run of a length no run can have, overlapping runs, a
    /// leaf no row holds).
    pub hashes: Result<Vec<u8>, String>,
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

    /// The `tree_nodes` rows holding leaves `from_leaf..from_leaf + limit`,
    /// in order of their first leaf: the row holding `from_leaf` (the one
    /// with the greatest first leaf at or before it), then every row whose
    /// first leaf is below `from_leaf + limit`. So a run that starts before
    /// the page is read whole, the next page starts with the run this one
    /// ended in, and a page holds at most `limit + 1` rows. Rows with a
    /// negative key are not read (no leaf can be there). Split them with
    /// [`RunSplitter`].
    async fn read_tree_rows(
        &self,
        from_leaf: u64,
        limit: usize,
    ) -> Result<Vec<StoredRun>, StoreError>;

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
    /// The first checkpoint whose stream map (if it has one) is not yet
    /// compared with the events' (in the same size order).
    maps_next: usize,
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
            maps_next: 0,
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
            match stored
                .filter(|s| s.leaf == leaf)
                .map(|s| (s.row, &s.hashes))
            {
                Some((_, Ok(h))) if *h == self.scratch => {}
                Some((row, Ok(h))) => {
                    let level = h
                        .chunks(32)
                        .zip(self.scratch.chunks(32))
                        .position(|(a, b)| a != b)
                        .unwrap_or(nodes.len().min(h.len() / 32));
                    self.note_tree_fault(format!(
                        "the stored tree nodes of position {} differ from the ones recomputed \
                         from the event hashes (first at level {level}{}; in the tree_nodes row \
                         with leaf = {row})",
                        leaf + 1,
                        if level == 0 {
                            ", the leaf hash itself"
                        } else {
                            ""
                        }
                    ));
                }
                Some((_, Err(why))) => self.note_tree_fault(why.clone()),
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

    /// Compares the stream-head map line of each checkpoint of the current
    /// size with the map of the events so far, which `map_of` builds (only
    /// when such a checkpoint is due: it sorts every stream). A checkpoint
    /// whose root is right but whose map is not was signed over a false
    /// statement about the streams: the log's key vouched for it.
    pub fn check_stream_maps(&mut self, map_of: impl FnOnce() -> crate::streams::StreamMap) {
        let size = self.frontier.size();
        let mut map = None;
        let mut map_of = Some(map_of);
        while let Some(c) = self.checkpoints.get(self.maps_next) {
            if c.size > size {
                break;
            }
            self.maps_next += 1;
            if c.size < size {
                continue;
            }
            let Some(stated) = c.streams() else { continue };
            if map.is_none() {
                map = map_of.take().map(|f| f().line());
            }
            let Some(actual) = map else { break };
            if stated != actual && self.report.checkpoint_fault.is_none() {
                self.report.checkpoint_fault = Some(CheckpointFault {
                    checkpoint_id: c.id,
                    size: c.size,
                    detail: format!(
                        "its stream map states {} streams with root {}, but the events give {} \
                         streams with root {}: the checkpoint misstates which events a stream \
                         has",
                        stated.streams, stated.root, actual.streams, actual.root
                    ),
                });
            }
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

/// Where node `(level, index)` is: in the segment of the leaf whose append
/// completed it, `(index + 1)·2^level − 1`, at byte offset `32·level` of that
/// segment (the segment's place in its row is [`nodes_before`]). `None` when
/// the address overflows (no such node can exist).
pub fn node_location(level: u32, index: u64) -> Option<(u64, usize)> {
    let end = index.checked_add(1)?.checked_shl(level)?;
    if level > 0 && end >> level != index + 1 {
        return None;
    }
    Some((end - 1, 32 * level as usize))
}

/// Most leaves one `tree_nodes` row holds. A transaction (or a catch-up)
/// adding more writes several rows. 64 so that a row always fits in one
/// PostgreSQL page, which lets the column be stored PLAIN (no compression
/// attempt, never moved out of line: migrations/postgres/0005_tree_runs.sql):
/// 64 leaves complete at most 2·64 + 63 nodes (6,112 bytes; see
/// [`nodes_before`]), under the 8,160 a row may take. A group commit holds
/// as many leaves as callers, usually fewer than 64; a large import pays one
/// row per 64 events, still a sixty-fourth of one row per event.
pub const RUN_MAX_LEAVES: u64 = 64;

/// The most bytes a run of [`RUN_MAX_LEAVES`] leaves can take, whatever it
/// starts at: `nodes_before` is 2k − popcount(S + k) + popcount(S), and
/// popcount(S) ≤ 63.
pub const RUN_MAX_BYTES: u64 = 32 * (2 * RUN_MAX_LEAVES + 63);

// 8,160 bytes is PostgreSQL's largest row (8 KiB pages); the row's header,
// key and length word take under 64 of them. Checked when compiling, so
// that raising RUN_MAX_LEAVES past what a PLAIN column can hold fails here.
const _: () = assert!(RUN_MAX_BYTES + 64 <= 8160);

/// The number of nodes in the segment of leaf `leaf`: the leaf hash and one
/// node per trailing 1-bit of `leaf` (the tree's size before it).
pub fn segment_nodes(leaf: u64) -> u64 {
    1 + u64::from(leaf.trailing_ones())
}

/// The number of nodes in the segments of leaves `first..leaf`, i.e. where
/// leaf `leaf`'s segment starts (in nodes of 32 bytes) in a run whose first
/// leaf is `first`: `2(leaf − first) − popcount(leaf) + popcount(first)`,
/// because the trailing ones of `0..n` sum to `n − popcount(n)`. `None` when
/// `leaf < first`.
pub fn nodes_before(first: u64, leaf: u64) -> Option<u64> {
    let n = leaf.checked_sub(first)?;
    // In u128: 2n overflows u64 for leaves past 2^63, which no store holds
    // but a mangled key might claim.
    let nodes = 2 * u128::from(n) + u128::from(first.count_ones()) - u128::from(leaf.count_ones());
    u64::try_from(nodes).ok()
}

/// How many leaves a run starting at leaf `first` holds in `nodes` nodes:
/// the greatest `k` whose segments fit (`nodes_before(first, first + k) ≤
/// nodes`), and whether they fill the nodes exactly. A stored run must fill
/// them exactly; one that does not was cut short or padded.
pub fn run_leaves(first: u64, nodes: u64) -> (u64, bool) {
    let fits = |k: u64| {
        first
            .checked_add(k)
            .and_then(|end| nodes_before(first, end))
            .is_some_and(|n| n <= nodes)
    };
    // Every leaf adds at least one node, so k ≤ nodes; nodes_before grows
    // with k, so a binary search finds the greatest k that fits.
    let (mut lo, mut hi) = (0u64, nodes);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let exact = first
        .checked_add(lo)
        .and_then(|end| nodes_before(first, end))
        == Some(nodes);
    (lo, exact)
}

/// Node `(level, …)` of leaf `leaf` (see [`node_location`]) read from the
/// row whose run starts at `first` and holds `hashes`: the row with the
/// greatest first leaf at or before `leaf`. `Err` names the row when the
/// node is beyond its bytes (the run ends before `leaf`, or was cut short).
pub fn node_in_run(first: u64, hashes: &[u8], leaf: u64, level: u32) -> Result<Digest, String> {
    let beyond = || {
        format!(
            "the tree_nodes row with leaf = {first} ({} bytes) ends before it",
            hashes.len()
        )
    };
    let node = nodes_before(first, leaf)
        .and_then(|n| n.checked_add(u64::from(level)))
        .ok_or_else(beyond)?;
    let at = usize::try_from(node)
        .ok()
        .and_then(|n| n.checked_mul(32))
        .ok_or_else(beyond)?;
    hashes
        .get(at..)
        .and_then(|rest| rest.get(..32))
        .and_then(Digest::from_slice)
        .ok_or_else(beyond)
}

/// A node source's error for node `(level, index)`: no row holds it, or
/// (`why`) the row that should is too short. Both stores' node sources.
pub fn missing_node(level: u32, index: u64, why: Option<&str>) -> StoreError {
    let why = why.map_or_else(
        || "missing or cut short".to_string(),
        |w| format!("missing: {w}"),
    );
    StoreError::Schema(format!(
        "tree node at level {level}, index {index} is {why} (run `jishi verify`)"
    ))
}

/// The `tree_nodes` rows an append transaction writes: the segments of its
/// leaves, one run per transaction, cut every [`RUN_MAX_LEAVES`] leaves.
#[derive(Debug, Default)]
pub struct NewRuns {
    /// The rows, in leaf order.
    pub rows: Vec<StoredRun>,
    /// Leaves in the last row.
    last_leaves: u64,
}

impl NewRuns {
    /// The runs of `hashes` appended to the tree `f` in one transaction.
    pub fn of(f: &mut Frontier, hashes: &[Digest]) -> Result<NewRuns, StoreError> {
        let mut runs = NewRuns::default();
        for h in hashes {
            runs.push(f, h)?;
        }
        Ok(runs)
    }

    /// Appends `hash` to the tree `f` and its completed nodes to the last
    /// run (or a new one when the last is full or does not end at this leaf).
    pub fn push(&mut self, f: &mut Frontier, hash: &Digest) -> Result<(), StoreError> {
        let leaf = f.size();
        let nodes = f
            .append(hash)
            .map_err(|e| StoreError::Schema(format!("the Merkle tree cannot grow: {e}")))?;
        match self.rows.last_mut() {
            Some(run)
                if self.last_leaves < RUN_MAX_LEAVES
                    && run.leaf.checked_add(self.last_leaves) == Some(leaf) =>
            {
                for n in &nodes {
                    run.hashes.extend_from_slice(&n.hash.0);
                }
                self.last_leaves += 1;
            }
            _ => {
                self.rows.push(StoredRun {
                    leaf,
                    hashes: leaf_row(&nodes),
                });
                self.last_leaves = 1;
            }
        }
        Ok(())
    }

    /// The number of leaves in the last row (0 when there is none).
    pub fn last_run_leaves(&self) -> u64 {
        self.last_leaves
    }

    /// Takes the rows built so far; the next leaf starts a new run.
    pub fn take(&mut self) -> Vec<StoredRun> {
        self.last_leaves = 0;
        std::mem::take(&mut self.rows)
    }
}

/// Splits the pages of [`ProofStore::read_tree_rows`] into the nodes of each
/// leaf, for [`TreeChecker::feed`], and checks the rows as it goes: each run
/// must fill its bytes with whole segments and start where the one before it
/// ended (no gap, no overlap). A fault becomes the `Err` entry of the leaf
/// where it shows (a bad row at its first leaf), so the checker reports it
/// in walk order, naming the row.
///
/// Pure and streaming: it keeps only where the last row seen ended, so a
/// page that starts inside a run (read again as the row holding the page's
/// first leaf) is neither split twice into the checks nor skipped.
#[derive(Debug, Default)]
pub struct RunSplitter {
    /// First leaf of the last row seen; a row at or before it is one read
    /// again at the start of a page.
    last_row: Option<u64>,
    /// The leaf after the last row seen's run: where the next row must start.
    end: u64,
}

impl RunSplitter {
    pub fn new() -> RunSplitter {
        RunSplitter::default()
    }

    /// The nodes of leaves `from..from + limit`, in leaf order, at most one
    /// entry per leaf, from the rows `read_tree_rows(from, limit)` returned
    /// (in order). A leaf no row holds has no entry, or an `Err` one saying
    /// which rows surround the gap. Where two rows overlap, the later row's
    /// segments are the ones returned, as node lookups read them.
    pub fn split(&mut self, rows: Vec<StoredRun>, from: u64, limit: usize) -> Vec<StoredLeafNodes> {
        let upto = from.saturating_add(u64::try_from(limit).unwrap_or(u64::MAX));
        let in_range = |leaf: u64| leaf >= from && leaf < upto;
        let mut out: Vec<StoredLeafNodes> = Vec::new();
        for row in rows {
            // Keep the entries sorted and one per leaf: a later row wins.
            while out.last().is_some_and(|e| e.leaf >= row.leaf) {
                out.pop();
            }
            let nodes = u64::try_from(row.hashes.len() / 32).unwrap_or(u64::MAX);
            let (count, exact) = run_leaves(row.leaf, nodes);
            let exact = exact && row.hashes.len() % 32 == 0;
            let mut fault = None;
            if self.last_row.is_none_or(|seen| row.leaf > seen) {
                let gap = self.end.max(from);
                if gap < row.leaf && in_range(gap) && out.last().is_none_or(|e| e.leaf < gap) {
                    out.push(StoredLeafNodes {
                        leaf: gap,
                        row: row.leaf,
                        hashes: Err(self.gap(gap, Some(row.leaf))),
                    });
                }
                fault = if row.hashes.is_empty() {
                    Some(format!(
                        "the tree_nodes row with leaf = {} holds no nodes",
                        row.leaf
                    ))
                } else if !exact {
                    Some(format!(
                        "the tree_nodes row with leaf = {} is {} bytes, which is not a run of \
                         whole per-leaf segments (the segments of its first {count} leaves take \
                         {} bytes): it was cut short or padded",
                        row.leaf,
                        row.hashes.len(),
                        nodes_before(row.leaf, row.leaf.saturating_add(count))
                            .unwrap_or_default()
                            .saturating_mul(32)
                    ))
                } else if row.leaf < self.end {
                    Some(format!(
                        "the tree_nodes row with leaf = {} starts inside the run of the row \
                         with leaf = {}, which holds positions up to {}: the rows overlap",
                        row.leaf,
                        self.last_row.unwrap_or_default(),
                        self.end
                    ))
                } else {
                    None
                };
                self.last_row = Some(row.leaf);
                // A bad row's fault is at its first leaf: a gap, if any, is
                // after it.
                let held = if fault.is_some() { count.max(1) } else { count };
                self.end = row.leaf.saturating_add(held);
            }
            let first = row.leaf.max(from);
            if let Some(why) = fault {
                if in_range(first) {
                    out.push(StoredLeafNodes {
                        leaf: first,
                        row: row.leaf,
                        hashes: Err(why),
                    });
                }
                continue;
            }
            let last = row.leaf.saturating_add(count).min(upto);
            let Some(mut at) = nodes_before(row.leaf, first)
                .and_then(|n| usize::try_from(n).ok())
                .and_then(|n| n.checked_mul(32))
            else {
                continue;
            };
            for leaf in first..last {
                let len = 32 * segment_nodes(leaf) as usize;
                // Within the bytes: `count` leaves' segments fit.
                let Some(segment) = row.hashes.get(at..at + len) else {
                    break;
                };
                out.push(StoredLeafNodes {
                    leaf,
                    row: row.leaf,
                    hashes: Ok(segment.to_vec()),
                });
                at += len;
            }
        }
        // The runs end inside the page, and no row starts after them in it:
        // no row holds the leaf after them (at the tree's end, that leaf is
        // beyond the head and never asked for).
        let gap = self.end.max(from);
        if in_range(gap) && out.last().is_none_or(|e| e.leaf < gap) {
            out.push(StoredLeafNodes {
                leaf: gap,
                row: self.last_row.unwrap_or_default(),
                hashes: Err(self.gap(gap, None)),
            });
        }
        out
    }

    /// Why leaf `leaf` (at or after the end of the last row seen) has no
    /// nodes, `next` being the first leaf of the next row, if any.
    fn gap(&self, leaf: u64, next: Option<u64>) -> String {
        let position = leaf.saturating_add(1);
        match (self.last_row, next) {
            (None, Some(next)) => format!(
                "no tree nodes are stored for position {position}: the first tree_nodes row \
                 has leaf = {next}"
            ),
            (Some(row), Some(next)) => format!(
                "no tree nodes are stored for position {position}: the run of the tree_nodes \
                 row with leaf = {row} ends before it and the next row has leaf = {next}"
            ),
            (Some(row), None) => format!(
                "no tree nodes are stored for position {position}: the run of the tree_nodes \
                 row with leaf = {row} ends before it"
            ),
            (None, None) => format!("no tree nodes are stored for position {position}"),
        }
    }
}

/// What catching the tree up checks of each stored row before its hash
/// becomes a leaf: the rows were written without the tree (an older jishi,
/// tree maintenance off, or plain SQL), so nothing vouched for them yet. A
/// row is adopted only if `jishi verify` would pass it: its position is the
/// next, its payload digest and hash recompute, it links to the row before,
/// and its fields are admissible ([`crate::validity::admissible`]). Any
/// other row stops the catch-up with [`StoreError::Inadmissible`] naming
/// it, and the caller writes nothing of the tree: a checkpoint must never
/// sign a tree that holds a row verify refuses.
pub(crate) struct LeafAdmission {
    tree_size: u64,
    next: u64,
    /// The hash and `recorded_at` of the row before `next`, when known.
    prev_hash: Option<Digest>,
    prev_recorded_at: Option<String>,
    scratch: Vec<u8>,
    /// On a ledger with attestations (D69): the ones covering the rows to
    /// adopt, in order, and every recording key the ledger registered.
    attested: Option<Attested>,
}

/// What a catch-up checks the rows' attestations against: the groups that
/// cover the rows to adopt, and the key history as the rows the tree
/// already holds left it. Key events among the rows being adopted count
/// only once their own group verified, as in `verify` (an unattested
/// rotation to a key of the forger's cannot vouch for what follows it).
#[derive(Debug)]
pub(crate) struct Attested {
    groups: std::collections::VecDeque<crate::attest::Attestation>,
    registry: crate::attest::KeyRegistry,
    /// Key events of the group being adopted: (type, payload, position).
    pending: Vec<(String, serde_json::Value, u64)>,
}

/// The attestations a catch-up from leaf `$1` needs (every group that ends
/// after it), in order; and whether any is stored at all.
pub(crate) const ATTESTATIONS_AFTER: &str = "SELECT first_position, last_position, key_name, \
     key_id, signature FROM attestations WHERE last_position > $1 ORDER BY last_position";
pub(crate) const ANY_ATTESTATION: &str =
    "SELECT COUNT(*) FROM (SELECT 1 FROM attestations LIMIT 1) AS a";
/// The ledger's key events (`ledger/keys`) among the first `$1` rows, the
/// ones the tree already holds.
pub(crate) const KEY_EVENTS_UPTO: &str = "SELECT event_type, payload, position FROM events \
     WHERE stream = 'ledger/keys' AND position <= $1 ORDER BY position";

impl Attested {
    /// From the stored groups and the adopted key events (type, payload,
    /// position). A ledger with no attestation has none (its rows are
    /// adopted unattested, as before D69): the stores check that first.
    pub(crate) fn of(
        groups: Vec<crate::attest::Attestation>,
        key_events: &[(String, String, i64)],
    ) -> Attested {
        let mut registry = crate::attest::KeyRegistry::default();
        for (t, p, at) in key_events {
            if let Ok(payload) = serde_json::from_str::<serde_json::Value>(p) {
                let at = (*at).max(0) as u64;
                // What verify refuses it reports; here it just does not count.
                let _ = registry.apply(t, &payload, at, at + 1);
            }
        }
        Attested {
            groups: groups.into(),
            registry,
            pending: Vec::new(),
        }
    }
}

impl LeafAdmission {
    /// Refuses rows that no stored attestation by the ledger's current
    /// recording key covers (see [`Attested`]).
    pub(crate) fn attested(mut self, attested: Option<Attested>) -> LeafAdmission {
        self.attested = attested;
        self
    }

    /// Checks the row at `p` (hash `hash`) against the attestations.
    fn check_attested(&mut self, p: u64, hash: &Digest, row: &StoredRow) -> Result<(), String> {
        let Some(a) = self.attested.as_mut() else {
            return Ok(());
        };
        let Some(g) = a.groups.front() else {
            return Err(
                "not attested: no attestation covers it, so it was not written by \
                        jishi with the recording key"
                    .into(),
            );
        };
        let (first, last) = (
            g.first_position.max(0) as u64,
            g.last_position.max(0) as u64,
        );
        if p < first || p > last {
            return Err(format!(
                "not attested: no attestation covers it (the next one covers positions {first} \
                 to {last})"
            ));
        }
        if row.stream == crate::attest::KEYS_STREAM {
            if let Ok(payload) = serde_json::from_slice(&row.payload) {
                a.pending.push((row.event_type.clone(), payload, p));
            }
        }
        if p < last {
            return Ok(());
        }
        // The current key signs; the first group of all registers its own.
        let key = match a.registry.current() {
            Some(k) => Some(k.clone()),
            None => a
                .pending
                .iter()
                .find(|(t, ..)| t == crate::attest::KEY_REGISTERED)
                .and_then(|(_, payload, _)| payload.get("key")?.as_str()?.parse().ok()),
        };
        let message = crate::attest::message(first, last, hash);
        let signed = key.is_some_and(|k: crate::VerifierKey| {
            k.name() == g.key_name
                && i64::from(k.key_id()) == g.key_id
                && k.verifies(&message, &g.signature)
        });
        a.groups.pop_front();
        let pending = std::mem::take(&mut a.pending);
        if !signed {
            return Err(format!(
                "not attested: the attestation of positions {first} to {last} does not verify \
                 under the ledger's current recording key"
            ));
        }
        for (t, payload, at) in &pending {
            let _ = a.registry.apply(t, payload, *at, last + 1);
        }
        Ok(())
    }

    /// For a tree of `tree_size` leaves; `last` is the stored row at
    /// position `tree_size` (the tree's last leaf), if it can be read.
    pub(crate) fn new(tree_size: u64, last: Option<&StoredRow>) -> LeafAdmission {
        let last = last.filter(|r| tree_size > 0 && r.position == tree_size as i64);
        LeafAdmission {
            tree_size,
            next: tree_size + 1,
            prev_hash: if tree_size == 0 {
                Some(Digest::ZERO)
            } else {
                last.and_then(|r| Digest::from_slice(&r.hash))
            },
            prev_recorded_at: last.map(|r| r.recorded_at.clone()),
            scratch: Vec::with_capacity(1024),
            attested: None,
        }
    }

    /// The leaf hash of the next row, or why the tree must not adopt it.
    pub(crate) fn admit(&mut self, row: &StoredRow) -> Result<Digest, StoreError> {
        let p = self.next;
        let tree_size = self.tree_size;
        let refuse = move |reason: String| StoreError::Inadmissible {
            position: p,
            reason,
            tree_size,
        };
        if row.position != p as i64 {
            return Err(refuse(
                "the row is missing, so the tree cannot be built past it".into(),
            ));
        }
        let hash = Digest::from_slice(&row.hash)
            .ok_or_else(|| refuse("hash is not 32 bytes, so it cannot be a tree leaf".into()))?;
        let digest_ok = Digest::from_slice(&row.payload_digest)
            .is_some_and(|d| crate::canonical::payload_digest(&row.payload) == d);
        if !digest_ok || row.computed_hash_at(p, &mut self.scratch) != Some(hash) {
            return Err(refuse(
                "its payload digest or hash does not recompute from its fields".into(),
            ));
        }
        if let Some(prev) = self.prev_hash {
            if Digest::from_slice(&row.prev_hash) != Some(prev) {
                return Err(refuse(
                    "its prev_hash is not the hash of the row before it".into(),
                ));
            }
        }
        crate::validity::admissible(row, self.prev_recorded_at.as_deref())
            .map_err(|f| refuse(format!("{}: {}", f.kind.label(), f.detail)))?;
        self.check_attested(p, &hash, row).map_err(refuse)?;
        self.prev_hash = Some(hash);
        self.prev_recorded_at = Some(row.recorded_at.clone());
        self.next += 1;
        Ok(hash)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, NodeSource};

    fn hashes(n: u64) -> Vec<Digest> {
        (0..n)
            .map(|i| Digest(*blake3::hash(&i.to_be_bytes()).as_bytes()))
            .collect()
    }

    /// The rows appends in runs of `sizes` leaves write, and the per-leaf
    /// segments (as the old layout stored them) for comparison.
    fn runs(sizes: &[u64]) -> (Vec<StoredRun>, Vec<Vec<u8>>) {
        let total = sizes.iter().sum();
        let mut f = Frontier::new();
        let mut check = Frontier::new();
        let mut per_leaf = Vec::new();
        let mut rows = Vec::new();
        let mut h = hashes(total).into_iter();
        for &k in sizes {
            let mut new = NewRuns::default();
            for _ in 0..k {
                let leaf = h.next().unwrap_or_default();
                new.push(&mut f, &leaf).expect("grow");
                per_leaf.push(leaf_row(&check.append(&leaf).expect("grow")));
            }
            rows.extend(new.take());
        }
        (rows, per_leaf)
    }

    /// Σ over the leaves of a run of (1 + trailing ones), the definition.
    fn brute(first: u64, leaf: u64) -> u64 {
        (first..leaf).map(segment_nodes).sum()
    }

    #[test]
    fn the_offset_formula_is_the_sum_of_segment_lengths() {
        for first in 0..140 {
            for leaf in first..first + 140 {
                assert_eq!(
                    nodes_before(first, leaf),
                    Some(brute(first, leaf)),
                    "{first}..{leaf}"
                );
            }
        }
        for first in [(1u64 << 62) - 7, (1 << 63) - 3, u64::MAX - 300] {
            for leaf in first..first + 200 {
                assert_eq!(
                    nodes_before(first, leaf),
                    Some(brute(first, leaf)),
                    "{first}..{leaf}"
                );
            }
        }
        assert_eq!(nodes_before(5, 4), None);
    }

    #[test]
    fn a_run_length_is_the_one_count_of_leaves_that_fills_it() {
        for first in 0..70u64 {
            let mut fits = Vec::new();
            for k in 0..70 {
                let n = brute(first, first + k);
                assert_eq!(run_leaves(first, n), (k, true), "{first}, {k} leaves");
                fits.push(n);
            }
            // Every other node count is no run: the greatest k that fits.
            for n in 0..*fits.last().unwrap_or(&0) {
                if !fits.contains(&n) {
                    let k = fits.iter().filter(|&&m| m <= n).count() as u64 - 1;
                    assert_eq!(run_leaves(first, n), (k, false), "{first}, {n} nodes");
                }
            }
        }
        // The worked example of FORMAT-merkle.md §7.1: leaves 5, 6, 7, 8.
        assert_eq!(
            (5..9).map(segment_nodes).collect::<Vec<_>>(),
            vec![2, 1, 4, 1]
        );
        assert_eq!(run_leaves(5, 8), (4, true));
        assert_eq!(run_leaves(5, 6), (2, false));
        assert_eq!(nodes_before(5, 7), Some(3));
    }

    #[test]
    fn new_runs_are_one_per_transaction_and_bounded() {
        let (rows, per_leaf) = runs(&[1, 3, 7, 2500, 2]);
        let starts: Vec<u64> = rows.iter().map(|r| r.leaf).collect();
        let mut expected = vec![0, 1, 4];
        expected.extend((0..40).map(|i| 11 + 64 * i));
        expected.push(2511);
        assert_eq!(starts, expected);
        assert_eq!(rows.concat_hashes(), per_leaf.concat());
        for r in &rows {
            let (k, exact) = run_leaves(r.leaf, r.hashes.len() as u64 / 32);
            assert!(exact && k <= RUN_MAX_LEAVES, "{}: {k}", r.leaf);
        }
    }

    #[test]
    fn a_full_run_fits_a_postgres_page_wherever_it_starts() {
        // The start with the most set bits before a run of 64 that ends on
        // a round number: S = 2^64 − 65 would overflow, so check the bound
        // against many starts, including ones with high popcount.
        let starts =
            (0..4096u64).chain([(1 << 62) - 1, (1 << 63) - 1 - RUN_MAX_LEAVES, u64::MAX / 3]);
        for s in starts {
            let nodes = nodes_before(s, s + RUN_MAX_LEAVES).unwrap();
            assert!(32 * nodes <= RUN_MAX_BYTES, "start {s}: {nodes} nodes");
        }
    }

    trait Concat {
        fn concat_hashes(&self) -> Vec<u8>;
    }
    impl Concat for Vec<StoredRun> {
        fn concat_hashes(&self) -> Vec<u8> {
            self.iter().flat_map(|r| r.hashes.clone()).collect()
        }
    }

    /// Every node of every level, looked up as the stores do (the row with
    /// the greatest first leaf at or before the node's leaf), is the node of
    /// the tree built in memory.
    #[test]
    fn nodes_are_found_in_runs() {
        let sizes = [1, 3, 7, 1, 2, 5, 11, 1, 9];
        let (rows, _) = runs(&sizes);
        let n: u64 = sizes.iter().sum();
        let mut tree = MemoryTree::new();
        for h in hashes(n) {
            tree.push(&h).expect("grow");
        }
        for level in 0..6u32 {
            for index in 0..(n >> level) {
                let (leaf, offset) = node_location(level, index).expect("node");
                assert_eq!(offset, 32 * level as usize);
                let row = rows.iter().rev().find(|r| r.leaf <= leaf).expect("row");
                assert_eq!(
                    node_in_run(row.leaf, &row.hashes, leaf, level),
                    Ok(tree.node(level, index).expect("node")),
                    "level {level} index {index}"
                );
            }
        }
        // A node beyond its row's run (a cut row, or a missing next row) is
        // refused, naming the row.
        let last = rows.last().expect("row");
        let cut = &last.hashes[..last.hashes.len() - 32];
        let top = segment_nodes(n - 1) as u32 - 1;
        let err = node_in_run(last.leaf, cut, n - 1, top).unwrap_err();
        assert!(
            err.contains(&format!("row with leaf = {}", last.leaf)),
            "{err}"
        );
        assert!(node_in_run(last.leaf, &last.hashes, n, 0).is_err());
        assert!(node_in_run(last.leaf, &last.hashes, last.leaf - 1, 0).is_err());
    }

    fn split_all(rows: &[StoredRun], total: u64, page: usize) -> Vec<StoredLeafNodes> {
        let mut s = RunSplitter::new();
        let mut out = Vec::new();
        let mut from = 0;
        while from < total {
            // As `read_tree_rows` reads them.
            let holding = rows
                .iter()
                .rev()
                .find(|r| r.leaf <= from)
                .map_or(0, |r| r.leaf);
            let upto = from + page as u64;
            let page_rows = rows
                .iter()
                .filter(|r| r.leaf >= holding && r.leaf < upto)
                .cloned()
                .collect();
            let got = s.split(page_rows, from, page);
            assert!(got.iter().all(|e| e.leaf >= from && e.leaf < upto));
            assert!(got.windows(2).all(|w| w[0].leaf < w[1].leaf), "{got:?}");
            out.extend(got.into_iter().filter(|e| e.leaf < total));
            from = upto;
        }
        out
    }

    #[test]
    fn splitting_runs_gives_the_per_leaf_segments_on_any_paging() {
        let sizes = [1, 3, 7, 1, 2, 5, 11, 1, 9, 4];
        let (rows, per_leaf) = runs(&sizes);
        let total = per_leaf.len() as u64;
        for page in [1, 2, 3, 4, 5, 8, 13, 64] {
            let got = split_all(&rows, total, page);
            assert_eq!(got.len(), per_leaf.len(), "page {page}");
            for (e, want) in got.iter().zip(&per_leaf) {
                assert_eq!(e.hashes.as_ref(), Ok(want), "page {page}, leaf {}", e.leaf);
                let row = rows.iter().rev().find(|r| r.leaf <= e.leaf).expect("row");
                assert_eq!(e.row, row.leaf);
            }
        }
        // Old per-leaf rows are runs of one.
        let old: Vec<StoredRun> = per_leaf
            .iter()
            .enumerate()
            .map(|(i, h)| StoredRun {
                leaf: i as u64,
                hashes: h.clone(),
            })
            .collect();
        let got = split_all(&old, total, 7);
        assert_eq!(
            got.into_iter().map(|e| e.hashes).collect::<Vec<_>>(),
            per_leaf.into_iter().map(Ok).collect::<Vec<_>>()
        );
    }

    /// The first `Err` entry of a split: the leaf it is at and its reason.
    fn first_fault(rows: &[StoredRun], total: u64, page: usize) -> (u64, String) {
        split_all(rows, total, page)
            .into_iter()
            .find_map(|e| e.hashes.err().map(|why| (e.leaf, why)))
            .expect("a fault")
    }

    #[test]
    fn corrupt_runs_are_named_not_split() {
        // Runs [0, 1), [1, 5), [5, 9), [9, 12): leaves 5..9 are the worked
        // example (segments of 2, 1, 4 and 1 nodes).
        let (rows, per_leaf) = runs(&[1, 4, 4, 3]);
        let total = per_leaf.len() as u64;
        for page in [1, 3, 4096] {
            // Cut inside a segment: 6 nodes is no run of leaves from 5.
            let mut cut = rows.clone();
            cut[2].hashes.truncate(6 * 32);
            let (leaf, why) = first_fault(&cut, total, page);
            assert_eq!(leaf, 5, "page {page}");
            assert!(why.contains("row with leaf = 5 is 192 bytes"), "{why}");
            assert!(why.contains("cut short or padded"), "{why}");

            // Not a multiple of 32 bytes.
            let mut odd = rows.clone();
            odd[2].hashes.pop();
            assert_eq!(first_fault(&odd, total, page).0, 5);

            // Empty.
            let mut empty = rows.clone();
            empty[2].hashes.clear();
            let (leaf, why) = first_fault(&empty, total, page);
            assert_eq!(leaf, 5);
            assert!(why.contains("row with leaf = 5 holds no nodes"), "{why}");

            // Cut by exactly the last leaf's segment: a shorter run, and a
            // gap before the next row.
            let mut short = rows.clone();
            short[2].hashes.truncate(7 * 32);
            let (leaf, why) = first_fault(&short, total, page);
            assert_eq!(leaf, 8);
            assert!(
                why.contains("no tree nodes are stored for position 9")
                    && why.contains("row with leaf = 5 ends before it"),
                "{why}"
            );

            // The last row missing: the tree ends early.
            let (leaf, why) = first_fault(&rows[..3], total, page);
            assert_eq!(leaf, 9);
            assert!(
                why.contains("no tree nodes are stored for position 10"),
                "{why}"
            );

            // Overlapping rows: a row that starts inside the run before it.
            let mut overlap = rows.clone();
            overlap[2].leaf = 4;
            overlap[2].hashes = per_leaf[4..9].concat();
            let (leaf, why) = first_fault(&overlap, total, page);
            assert_eq!(leaf, 4, "page {page}");
            assert!(why.contains("the rows overlap"), "{why}");

            // No row for the first leaves.
            let (leaf, why) = first_fault(&rows[1..], total, page);
            assert_eq!(leaf, 0);
            assert!(
                why.contains("no tree nodes are stored for position 1"),
                "{why}"
            );
        }
    }

    #[test]
    fn the_checker_reports_a_split_fault_and_a_changed_segment_at_its_leaf() {
        let (mut rows, _) = runs(&[3, 5]);
        // A byte of leaf 5's segment, in the middle of the run [3, 8).
        let at = 32 * nodes_before(3, 5).expect("offset") as usize + 7;
        rows[1].hashes[at] ^= 1;
        let leaves = RunSplitter::new().split(rows.clone(), 0, 4096);
        let mut t = TreeChecker::new(Vec::new());
        for (h, s) in hashes(8).iter().zip(&leaves) {
            t.feed(h, Some(s));
        }
        let fault = t.finish(true).tree_fault.expect("fault");
        assert!(
            fault.starts_with("the stored tree nodes of position 6 differ")
                && fault.contains("row with leaf = 3"),
            "{fault}"
        );

        rows[1].hashes.truncate(40);
        let leaves = RunSplitter::new().split(rows, 0, 4096);
        let mut t = TreeChecker::new(Vec::new());
        for h in &hashes(8) {
            let leaf = t.frontier.size();
            t.feed(h, leaves.iter().find(|s| s.leaf == leaf));
        }
        let fault = t.finish(true).tree_fault.expect("fault");
        assert!(fault.contains("row with leaf = 3 is 40 bytes"), "{fault}");
    }
}
