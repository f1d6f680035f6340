//! RFC 9162 §2.1 Merkle hash tree over the event log.
//!
//! Why a Merkle tree when events are already hash-chained: the BLAKE3 chain
//! proves the whole log is intact to someone who holds the whole log. A Merkle
//! tree lets an investigator check one event against a signed checkpoint with
//! O(log n) hashes (an *inclusion proof*), and check that a later checkpoint
//! only appended to an earlier one (a *consistency proof*), without the log.
//!
//! The tree is exactly RFC 9162's (the same as RFC 6962's), so that tools
//! written for Certificate Transparency and C2SP transparency logs can check
//! jishi proofs:
//!
//! * leaf hash `SHA-256(0x00 || leaf)`, where `leaf` is the 32 raw bytes of the
//!   event's BLAKE3 hash (not its hex text);
//! * interior node `SHA-256(0x01 || left || right)`;
//! * MTH of n > 1 leaves splits at k, the largest power of two smaller than n:
//!   `MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))`;
//! * the empty tree's hash is `SHA-256("")`.
//!
//! # Node addressing
//!
//! Storage keeps only *perfect* subtrees: the node at `(level, index)` is the
//! MTH of the 2^level leaves `[index·2^level, (index+1)·2^level)`; level 0 is
//! the leaf hash of leaf `index`. Every node of the RFC tree of any size is
//! either such a perfect node or lies on the tree's right edge, and the right
//! edge of a tree of size n is the fold of the O(log n) perfect subtrees that
//! cover `[0, n)`. That is why a store that persists every perfect node once,
//! as it completes, can answer proofs for *every* past tree size.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::Digest;

/// Domain-separation prefix of leaf hashes (RFC 9162 §2.1.1), so that a leaf
/// can never be passed off as an interior node (second-preimage defence).
const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of interior nodes (RFC 9162 §2.1.1).
const NODE_PREFIX: u8 = 0x01;

/// The hash of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Digest {
    Digest(Sha256::digest([]).into())
}

/// The leaf hash `SHA-256(0x00 || leaf)` of one event, where `leaf` is the
/// event's 32-byte hash used as raw bytes.
pub fn leaf_hash(leaf: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(leaf.0);
    Digest(h.finalize().into())
}

/// The interior node hash `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Digest, right: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Digest(h.finalize().into())
}

/// The largest power of two strictly smaller than `n`; `n` must be ≥ 2.
/// This is the `k` at which RFC 9162 §2.1.1 splits a tree of n leaves.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH (RFC 9162 §2.1.1) of a whole list of leaves, computed from scratch.
///
/// O(n) time; meant for small trees and for checking the incremental
/// [`Frontier`]. A store with many events should use [`Frontier::root`] or
/// [`root_at`] instead.
pub fn merkle_tree_hash(leaves: &[Digest]) -> Digest {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        // A slice never holds 2^64 elements, so the tree cannot be full.
        let _ = frontier.append(leaf);
    }
    frontier.root()
}

/// A perfect-subtree node that has just become complete, to be persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TreeNode {
    /// Height above the leaves: 0 is a leaf hash.
    pub level: u32,
    /// Position among the nodes of this level: the node covers leaves
    /// `[index·2^level, (index+1)·2^level)`.
    pub index: u64,
    pub hash: Digest,
}

/// Why a frontier could not be built or extended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrontierError {
    #[error(
        "a frontier of tree size {size} holds {expected} subtree roots (one per set bit of the size), got {got}"
    )]
    WrongNodeCount {
        size: u64,
        expected: usize,
        got: usize,
    },
    #[error("a serialised frontier is 8 bytes of size plus 32 bytes per subtree root; {len} bytes cannot be one")]
    BadLength { len: usize },
    #[error("the tree already holds 2^64 - 1 leaves and cannot grow")]
    Full,
}

/// The compact state of an append-only RFC 9162 tree: its size and the roots
/// of the perfect subtrees that cover `[0, size)`, largest (leftmost) first.
///
/// There is one root per set bit of `size`, so at most 64 hashes. Appending a
/// leaf merges equal-sized subtrees like a binary counter carries, in
/// O(log n), and the tree root is a right-to-left fold of the roots, so the
/// log never rebuilds the tree. A store persists the frontier (see
/// [`Frontier::to_bytes`] or serde) next to its head so it can restart and keep
/// appending.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "FrontierRepr", into = "FrontierRepr")]
pub struct Frontier {
    size: u64,
    nodes: Vec<Digest>,
}

/// The serde shape of a [`Frontier`]; converted with validation so that a
/// tampered or truncated stored frontier is refused rather than trusted.
#[derive(Serialize, Deserialize)]
struct FrontierRepr {
    size: u64,
    nodes: Vec<Digest>,
}

impl TryFrom<FrontierRepr> for Frontier {
    type Error = FrontierError;
    fn try_from(r: FrontierRepr) -> Result<Self, Self::Error> {
        Frontier::from_parts(r.size, r.nodes)
    }
}

impl From<Frontier> for FrontierRepr {
    fn from(f: Frontier) -> Self {
        FrontierRepr {
            size: f.size,
            nodes: f.nodes,
        }
    }
}

impl fmt::Debug for Frontier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frontier")
            .field("size", &self.size)
            .field("nodes", &self.nodes)
            .finish()
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Rebuilds a frontier from its size and subtree roots (largest first),
    /// checking that the number of roots fits the size.
    pub fn from_parts(size: u64, nodes: Vec<Digest>) -> Result<Frontier, FrontierError> {
        let expected = size.count_ones() as usize;
        if nodes.len() != expected {
            return Err(FrontierError::WrongNodeCount {
                size,
                expected,
                got: nodes.len(),
            });
        }
        Ok(Frontier { size, nodes })
    }

    /// The `(level, index)` addresses of the perfect subtrees covering
    /// `[0, size)`, largest first: the nodes a frontier of this size holds.
    pub fn positions(size: u64) -> impl Iterator<Item = (u32, u64)> {
        (0..64u32)
            .rev()
            .filter(move |l| size >> l & 1 == 1)
            .map(move |l| {
                // Leaves before this subtree are the higher set bits of size
                // (none above bit 63, where a plain shift by 64 would overflow).
                let start = size.checked_shr(l + 1).map_or(0, |high| high << (l + 1));
                (l, start >> l)
            })
    }

    /// Rebuilds the frontier of tree size `size` from stored nodes, e.g. after
    /// a crash lost the persisted frontier, or to check it against the nodes.
    pub fn from_source<S: NodeSource>(source: &S, size: u64) -> Result<Frontier, S::Error> {
        let nodes = Frontier::positions(size)
            .map(|(level, index)| source.node(level, index))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier { size, nodes })
    }

    /// Number of leaves in the tree.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, largest (leftmost) first.
    pub fn nodes(&self) -> &[Digest] {
        &self.nodes
    }

    /// MTH of the current tree (RFC 9162 §2.1.1): the subtree roots folded
    /// from the right, which is exactly how MTH splits a tree whose size is a
    /// sum of decreasing powers of two.
    pub fn root(&self) -> Digest {
        let mut iter = self.nodes.iter().rev();
        match iter.next() {
            None => empty_root(),
            Some(last) => iter.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends one leaf (an event hash) and returns every perfect-subtree node
    /// this completed, lowest first: always the leaf hash at level 0, then one
    /// node per level merged. The store must persist all of them; proofs for
    /// any tree size are served from these nodes alone.
    pub fn append(&mut self, leaf: &Digest) -> Result<Vec<TreeNode>, FrontierError> {
        let new_size = self.size.checked_add(1).ok_or(FrontierError::Full)?;
        let mut hash = leaf_hash(leaf);
        let mut level = 0u32;
        let mut index = self.size;
        let mut completed = vec![TreeNode { level, index, hash }];
        // Each set low bit of the old size is a same-sized subtree to the left
        // that the new node now completes into one twice as big.
        while self.size >> level & 1 == 1 {
            let Some(left) = self.nodes.pop() else {
                // Unreachable: from_parts keeps one node per set bit.
                return Err(FrontierError::WrongNodeCount {
                    size: self.size,
                    expected: self.size.count_ones() as usize,
                    got: self.nodes.len(),
                });
            };
            hash = node_hash(&left, &hash);
            level += 1;
            index >>= 1;
            completed.push(TreeNode { level, index, hash });
        }
        self.nodes.push(hash);
        self.size = new_size;
        Ok(completed)
    }

    /// A compact binary form for storage: the size as 8 big-endian bytes,
    /// then the 32-byte subtree roots, largest first.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 32 * self.nodes.len());
        out.extend_from_slice(&self.size.to_be_bytes());
        for n in &self.nodes {
            out.extend_from_slice(&n.0);
        }
        out
    }

    /// Parses [`Frontier::to_bytes`] output, refusing any other length.
    pub fn from_bytes(bytes: &[u8]) -> Result<Frontier, FrontierError> {
        let bad = || FrontierError::BadLength { len: bytes.len() };
        let (size, rest) = bytes.split_first_chunk::<8>().ok_or_else(bad)?;
        if !rest.len().is_multiple_of(32) {
            return Err(bad());
        }
        let nodes = rest
            .chunks_exact(32)
            .filter_map(Digest::from_slice)
            .collect();
        Frontier::from_parts(u64::from_be_bytes(*size), nodes)
    }
}

/// Where proof generation reads perfect-subtree hashes from: a database
/// table, a file, or [`MemoryTree`].
///
/// `node(level, index)` must return the hash stored from [`TreeNode`]s, i.e.
/// the MTH of leaves `[index·2^level, (index+1)·2^level)`. Proof generation
/// only asks for nodes that lie wholly inside the tree size it was given.
pub trait NodeSource {
    type Error: std::error::Error + Send + Sync + 'static;
    fn node(&self, level: u32, index: u64) -> Result<Digest, Self::Error>;
}

impl<S: NodeSource + ?Sized> NodeSource for &S {
    type Error = S::Error;
    fn node(&self, level: u32, index: u64) -> Result<Digest, Self::Error> {
        (**self).node(level, index)
    }
}

/// Why a proof could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E: std::error::Error + 'static> {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error(
        "a consistency proof needs the first tree size ({first}) to be at most the second ({second})"
    )]
    SizeOrder { first: u64, second: u64 },
    #[error("reading a tree node from storage failed")]
    Source(#[source] E),
}

/// An inclusion proof: RFC 9162 §2.1.3.1 `PATH(leaf_index, D[tree_size])`,
/// sibling hashes from the leaf upward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub leaf_index: u64,
    pub tree_size: u64,
    pub path: Vec<Digest>,
}

/// A consistency proof: RFC 9162 §2.1.4.1 `PROOF(first_size, D[second_size])`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub first_size: u64,
    pub second_size: u64,
    pub path: Vec<Digest>,
}

impl InclusionProof {
    /// Checks that `leaf` (an event hash) is at `leaf_index` in the tree of
    /// `tree_size` whose root is `root`. See [`verify_inclusion`].
    pub fn verify(&self, leaf: &Digest, root: &Digest) -> Result<(), VerifyError> {
        verify_inclusion(leaf, self.leaf_index, self.tree_size, &self.path, root)
    }
}

impl ConsistencyProof {
    /// Checks that the tree of `second_size` with `second_root` extends the
    /// tree of `first_size` with `first_root`. See [`verify_consistency`].
    pub fn verify(&self, first_root: &Digest, second_root: &Digest) -> Result<(), VerifyError> {
        verify_consistency(
            self.first_size,
            self.second_size,
            first_root,
            second_root,
            &self.path,
        )
    }
}

/// MTH of the leaves `[lo, hi)` (`lo < hi`) from perfect stored nodes: a
/// perfect aligned range is one stored node, otherwise split as MTH splits.
/// For the ranges the RFC recursions produce, the left part of a split is
/// always perfect and aligned, so this costs O(log(hi − lo)) fetches.
fn range_hash<S: NodeSource>(src: &S, lo: u64, hi: u64) -> Result<Digest, S::Error> {
    let len = hi - lo;
    if len.is_power_of_two() && lo.is_multiple_of(len) {
        let level = len.trailing_zeros();
        return src.node(level, lo >> level);
    }
    let k = split_point(len);
    let left = range_hash(src, lo, lo + k)?;
    let right = range_hash(src, lo + k, hi)?;
    Ok(node_hash(&left, &right))
}

/// MTH of the first `size` leaves, for any past size, in O(log size) node
/// fetches; the root a checkpoint of that size must carry.
pub fn root_at<S: NodeSource>(src: &S, size: u64) -> Result<Digest, S::Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// RFC 9162 §2.1.3.1 inclusion proof `PATH(leaf_index, D[tree_size])`.
pub fn prove_inclusion<S: NodeSource>(
    src: &S,
    leaf_index: u64,
    tree_size: u64,
) -> Result<InclusionProof, ProveError<S::Error>> {
    if leaf_index >= tree_size {
        return Err(ProveError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    let mut path = Vec::new();
    path_rec(src, leaf_index, 0, tree_size, &mut path).map_err(ProveError::Source)?;
    Ok(InclusionProof {
        leaf_index,
        tree_size,
        path,
    })
}

/// `PATH(m, D[lo:hi])` with `m` an absolute leaf index in `[lo, hi)`:
/// for n > 1, `PATH(m, D[0:k]) : MTH(D[k:n])` when m < k, else
/// `PATH(m − k, D[k:n]) : MTH(D[0:k])`. Recursing first and pushing after
/// yields the RFC order, nearest sibling first.
fn path_rec<S: NodeSource>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    out: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m - lo < k {
        path_rec(src, m, lo, lo + k, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        path_rec(src, m, lo + k, hi, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 consistency proof `PROOF(first_size, D[second_size])`.
///
/// The proof is empty when `first_size` is 0 (the empty tree is a prefix of
/// every tree) or equals `second_size` (the roots must simply be equal).
pub fn prove_consistency<S: NodeSource>(
    src: &S,
    first_size: u64,
    second_size: u64,
) -> Result<ConsistencyProof, ProveError<S::Error>> {
    if first_size > second_size {
        return Err(ProveError::SizeOrder {
            first: first_size,
            second: second_size,
        });
    }
    let mut path = Vec::new();
    if first_size > 0 && first_size < second_size {
        subproof(src, first_size, 0, second_size, true, &mut path).map_err(ProveError::Source)?;
    }
    Ok(ConsistencyProof {
        first_size,
        second_size,
        path,
    })
}

/// `SUBPROOF(m, D[lo:hi], b)`, where the old tree covers `[lo, lo + m)`:
/// * m = n: nothing if b (the verifier knows this root), else `MTH(D[lo:hi])`;
/// * m ≤ k: `SUBPROOF(m, D[0:k], b) : MTH(D[k:n])`;
/// * m > k: `SUBPROOF(m − k, D[k:n], false) : MTH(D[0:k])`.
fn subproof<S: NodeSource>(
    src: &S,
    m: u64,
    lo: u64,
    hi: u64,
    b: bool,
    out: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    let n = hi - lo;
    if m == n {
        if !b {
            out.push(range_hash(src, lo, hi)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof(src, m, lo, lo + k, b, out)?;
        out.push(range_hash(src, lo + k, hi)?);
    } else {
        subproof(src, m - k, lo + k, hi, false, out)?;
        out.push(range_hash(src, lo, lo + k)?);
    }
    Ok(())
}

/// Why a proof did not verify. Each variant names the check that failed, so
/// an investigator can tell a truncated proof from a forged one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("the first tree size {first} is larger than the second {second}; a log only grows")]
    SizeOrder { first: u64, second: u64 },
    #[error("a proof for these sizes has {expected} hashes, this one has {got}")]
    WrongProofLength { expected: usize, got: usize },
    #[error("the proof leads to root {computed}, not the expected root {expected}")]
    RootMismatch { expected: Digest, computed: Digest },
    #[error(
        "the proof does not lead back to the first root: expected {expected}, computed {computed}"
    )]
    FirstRootMismatch { expected: Digest, computed: Digest },
    #[error(
        "the proof does not lead to the second root: expected {expected}, computed {computed}"
    )]
    SecondRootMismatch { expected: Digest, computed: Digest },
}

/// Length of `PATH(index, D[size])`, by running the RFC 9162 §2.1.3.2 index
/// walk without hashing; lets verification name a wrong length up front.
fn inclusion_path_len(index: u64, size: u64) -> usize {
    let (mut fnum, mut snum) = (index, size - 1);
    let mut len = 0;
    while snum != 0 {
        if fnum & 1 == 0 && fnum == snum {
            while fnum & 1 == 0 && fnum != 0 {
                fnum >>= 1;
                snum >>= 1;
            }
        }
        fnum >>= 1;
        snum >>= 1;
        len += 1;
    }
    len
}

/// Recomputes the root from an inclusion proof, RFC 9162 §2.1.3.2.
///
/// `leaf` is the event hash (the leaf *bytes*); the 0x00 leaf prefix is
/// applied here. Returns the root the proof commits to; compare it yourself or
/// use [`verify_inclusion`].
pub fn root_from_inclusion_proof(
    leaf: &Digest,
    leaf_index: u64,
    tree_size: u64,
    path: &[Digest],
) -> Result<Digest, VerifyError> {
    // Step 1: the index must be inside the tree.
    if leaf_index >= tree_size {
        return Err(VerifyError::IndexOutOfRange {
            index: leaf_index,
            size: tree_size,
        });
    }
    let expected = inclusion_path_len(leaf_index, tree_size);
    if path.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: path.len(),
        });
    }
    // Steps 2-3: fn = leaf_index, sn = tree_size - 1, r = leaf hash.
    let (mut fnum, mut snum) = (leaf_index, tree_size - 1);
    let mut r = leaf_hash(leaf);
    // Step 4.
    for p in path {
        // 4a: the walk reached the root before the path ended. The length
        // check above makes this unreachable; kept as the RFC states it.
        if snum == 0 {
            return Err(VerifyError::WrongProofLength {
                expected,
                got: path.len(),
            });
        }
        // 4b: p is a left sibling when fn is a right child, or when fn is the
        // last node of its level (then it has no right sibling at this level
        // and climbs until it is a right child).
        if fnum & 1 == 1 || fnum == snum {
            r = node_hash(p, &r);
            if fnum & 1 == 0 {
                while fnum & 1 == 0 && fnum != 0 {
                    fnum >>= 1;
                    snum >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        // 4c.
        fnum >>= 1;
        snum >>= 1;
    }
    // Step 5: sn must be 0 (the whole path was used); the caller compares r.
    if snum != 0 {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: path.len(),
        });
    }
    Ok(r)
}

/// Verifies an inclusion proof (RFC 9162 §2.1.3.2): that `leaf` (an event
/// hash) is leaf number `leaf_index` of the tree of `tree_size` leaves whose
/// root is `root`.
pub fn verify_inclusion(
    leaf: &Digest,
    leaf_index: u64,
    tree_size: u64,
    path: &[Digest],
    root: &Digest,
) -> Result<(), VerifyError> {
    let computed = root_from_inclusion_proof(leaf, leaf_index, tree_size, path)?;
    if computed != *root {
        return Err(VerifyError::RootMismatch {
            expected: *root,
            computed,
        });
    }
    Ok(())
}

/// Length of `PROOF(first, D[second])` for 0 < first < second, by running the
/// RFC 9162 §2.1.4.2 index walk without hashing.
fn consistency_path_len(first: u64, second: u64) -> usize {
    let (mut fnum, mut snum) = (first - 1, second - 1);
    while fnum & 1 == 1 {
        fnum >>= 1;
        snum >>= 1;
    }
    // When first is a power of two its root is a node of the second tree,
    // which the verifier knows, so the proof omits it.
    let mut len = usize::from(!first.is_power_of_two());
    while snum != 0 {
        if fnum & 1 == 0 && fnum == snum {
            while fnum & 1 == 0 && fnum != 0 {
                fnum >>= 1;
                snum >>= 1;
            }
        }
        fnum >>= 1;
        snum >>= 1;
        len += 1;
    }
    len
}

/// Verifies a consistency proof (RFC 9162 §2.1.4.2): that the tree of
/// `second_size` leaves with root `second_root` has the tree of `first_size`
/// leaves with root `first_root` as its prefix, i.e. the log only appended.
///
/// Beyond the RFC's 0 < first < second case: first = second needs an empty
/// proof and equal roots; first = 0 needs an empty proof and the empty-tree
/// root as `first_root` (the empty tree is a prefix of every tree).
pub fn verify_consistency(
    first_size: u64,
    second_size: u64,
    first_root: &Digest,
    second_root: &Digest,
    path: &[Digest],
) -> Result<(), VerifyError> {
    if first_size > second_size {
        return Err(VerifyError::SizeOrder {
            first: first_size,
            second: second_size,
        });
    }
    if first_size == 0 || first_size == second_size {
        if !path.is_empty() {
            return Err(VerifyError::WrongProofLength {
                expected: 0,
                got: path.len(),
            });
        }
        if first_size == 0 && *first_root != empty_root() {
            return Err(VerifyError::FirstRootMismatch {
                expected: *first_root,
                computed: empty_root(),
            });
        }
        if first_size == second_size && first_root != second_root {
            return Err(VerifyError::SecondRootMismatch {
                expected: *second_root,
                computed: *first_root,
            });
        }
        return Ok(());
    }
    // Step 1 (empty path fails) is subsumed by the exact length check.
    let expected = consistency_path_len(first_size, second_size);
    if path.len() != expected {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: path.len(),
        });
    }
    // Step 2: if first is a power of two, prepend first_hash.
    let mut items = path.iter();
    let start = if first_size.is_power_of_two() {
        *first_root
    } else {
        match items.next() {
            Some(h) => *h,
            None => {
                return Err(VerifyError::WrongProofLength {
                    expected,
                    got: path.len(),
                })
            }
        }
    };
    let Some((fr, sr)) = consistency_roots(first_size, second_size, start, items) else {
        return Err(VerifyError::WrongProofLength {
            expected,
            got: path.len(),
        });
    };
    if fr != *first_root {
        return Err(VerifyError::FirstRootMismatch {
            expected: *first_root,
            computed: fr,
        });
    }
    if sr != *second_root {
        return Err(VerifyError::SecondRootMismatch {
            expected: *second_root,
            computed: sr,
        });
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2 steps 3–7 for 0 < first < second: the first and
/// second roots that the proof's nodes `items` give, starting from `start`
/// (step 2's first hash); `None` when the path has the wrong length.
fn consistency_roots<'a>(
    first_size: u64,
    second_size: u64,
    start: Digest,
    items: impl Iterator<Item = &'a Digest>,
) -> Option<(Digest, Digest)> {
    // Step 3.
    let (mut fnum, mut snum) = (first_size - 1, second_size - 1);
    // Step 4: skip the levels where the old tree's last node is a right child
    // whose sibling the old tree itself contains.
    while fnum & 1 == 1 {
        fnum >>= 1;
        snum >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (start, start);
    // Step 6.
    for c in items {
        // 6a.
        if snum == 0 {
            return None;
        }
        // 6b.
        if fnum & 1 == 1 || fnum == snum {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnum & 1 == 0 {
                while fnum & 1 == 0 && fnum != 0 {
                    fnum >>= 1;
                    snum >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        // 6c.
        fnum >>= 1;
        snum >>= 1;
    }
    // Step 7.
    (snum == 0).then_some((fr, sr))
}

/// The root of the first `first_size` leaves that a consistency proof
/// from `first_size` to `second_size` implies, if the proof leads to
/// `second_root`. `None` when it does not, or when `first_size` is 0, equal
/// to `second_size` or a power of two (the proof then holds no trace of the
/// first root: RFC 9162 §2.1.4.2 step 2 takes it from the verifier).
///
/// Only one tree of `first_size` leaves is a prefix of a given tree (else
/// SHA-256 collides), so a first root found here that differs from one a
/// log signed proves the log signed two histories.
pub fn first_root_from_consistency(
    first_size: u64,
    second_size: u64,
    second_root: &Digest,
    path: &[Digest],
) -> Option<Digest> {
    if first_size == 0 || first_size >= second_size || first_size.is_power_of_two() {
        return None;
    }
    if path.len() != consistency_path_len(first_size, second_size) {
        return None;
    }
    let (start, rest) = path.split_first()?;
    let (fr, sr) = consistency_roots(first_size, second_size, *start, rest.iter())?;
    (sr == *second_root).then_some(fr)
}

/// A node that [`MemoryTree`] does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no tree node at level {level}, index {index}")]
pub struct MissingNode {
    pub level: u32,
    pub index: u64,
}

/// An in-memory [`NodeSource`]: every perfect node, one `Vec` per level, plus
/// the frontier. For tests, offline tools and small logs; a store keeps the
/// same nodes in a table keyed by `(level, index)`.
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Digest>>,
    frontier: Frontier,
}

impl MemoryTree {
    pub fn new() -> MemoryTree {
        MemoryTree::default()
    }

    /// Appends one leaf (an event hash) and stores the nodes it completed.
    pub fn push(&mut self, leaf: &Digest) -> Result<(), FrontierError> {
        for node in self.frontier.append(leaf)? {
            let level = node.level as usize;
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            // Nodes of a level complete in index order, so this is a push.
            self.levels[level].push(node.hash);
        }
        Ok(())
    }

    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    pub fn root(&self) -> Digest {
        self.frontier.root()
    }

    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }

    /// Inclusion proof for `leaf_index` in the tree of `tree_size` ≤ size.
    pub fn prove_inclusion(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProveError<MissingNode>> {
        prove_inclusion(self, leaf_index, tree_size)
    }

    /// Consistency proof between two sizes ≤ size.
    pub fn prove_consistency(
        &self,
        first_size: u64,
        second_size: u64,
    ) -> Result<ConsistencyProof, ProveError<MissingNode>> {
        prove_consistency(self, first_size, second_size)
    }
}

impl NodeSource for MemoryTree {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Digest, MissingNode> {
        self.levels
            .get(level as usize)
            .and_then(|l| usize::try_from(index).ok().and_then(|i| l.get(i)))
            .copied()
            .ok_or(MissingNode { level, index })
    }
}

impl FromIterator<Digest> for MemoryTree {
    /// Builds a tree from event hashes.
    fn from_iter<I: IntoIterator<Item = Digest>>(iter: I) -> Self {
        let mut t = MemoryTree::new();
        for leaf in iter {
            // An iterator that yields 2^64 items never finishes first.
            let _ = t.push(&leaf);
        }
        t
    }
}
