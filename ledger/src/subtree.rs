//! Subtrees and subtree consistency proofs (draft-ietf-plants-merkle-tree-certs
//! §4.1 and §4.4), which C2SP `tlog-mirror` uses to authenticate each entry
//! package of an `add-entries` upload on its own.
//!
//! A *subtree* `[start, end)` of an RFC 9162 tree is an interval whose
//! `start` is a multiple of the smallest power of two at or above its size.
//! Its hash is `MTH(D[start:end])`, and it stays the same as the tree grows.
//! A *subtree consistency proof* carries enough nodes to rebuild both that
//! hash and the root of the whole tree of size `n`, in such a way that every
//! leaf of the subtree went into the root. A mirror can then check 256
//! entries against a signed checkpoint without the entries before them,
//! which is why the upload can be interrupted and resumed package by
//! package (docs/FORMAT-merkle.md §15).
//!
//! Pure: no storage. Proofs are generated from any [`NodeSource`] (the
//! stored tree, or a [`crate::merkle::MemoryTree`]).

use crate::merkle::{empty_root, node_hash, NodeSource};
use crate::Digest;

/// Whether `[start, end)` is a subtree: `start ≤ end`, and `start` is a
/// multiple of `BIT_CEIL(end − start)` (§4.1). `[0, x)` and `[x, x)` always
/// are.
pub fn is_valid_subtree(start: u64, end: u64) -> bool {
    if start > end {
        return false;
    }
    let size = end - start;
    if size > 1 << 63 {
        // BIT_CEIL would be 2^64: only the tree from 0 is aligned to it.
        return start == 0;
    }
    start & (size.next_power_of_two() - 1) == 0
}

/// The largest power of two strictly below `n` (`n ≥ 2`): RFC 9162's `k`.
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` from the perfect nodes of `src`, in O(log) reads:
/// an aligned power-of-two range is one stored node, any other splits at
/// RFC 9162's `k`.
pub fn range_hash<S: NodeSource>(src: &S, start: u64, end: u64) -> Result<Digest, S::Error> {
    let size = end.saturating_sub(start);
    if size == 0 {
        return Ok(empty_root());
    }
    if size.is_power_of_two() && start.is_multiple_of(size) {
        let level = size.trailing_zeros();
        return src.node(level, start >> level);
    }
    if size == 1 {
        return src.node(0, start);
    }
    let k = split(size);
    Ok(node_hash(
        &range_hash(src, start, start + k)?,
        &range_hash(src, start + k, end)?,
    ))
}

/// Why a subtree proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SubtreeProofError<E: std::error::Error + 'static> {
    #[error("[{start}, {end}) is not a subtree of a tree of size {size}: a subtree's start is a multiple of the power of two at or above its size, and its end is at most the tree size")]
    NotASubtree { start: u64, end: u64, size: u64 },
    #[error("reading a tree node failed")]
    Source(#[source] E),
}

/// `SUBTREE_PROOF(start, end, D_n)` (§4.4.1), read from `src`, whose tree
/// holds at least `n` leaves.
pub fn subtree_proof<S: NodeSource>(
    src: &S,
    start: u64,
    end: u64,
    n: u64,
) -> Result<Vec<Digest>, SubtreeProofError<S::Error>> {
    if !is_valid_subtree(start, end) || end > n {
        return Err(SubtreeProofError::NotASubtree {
            start,
            end,
            size: n,
        });
    }
    let mut proof = Vec::new();
    if start < end {
        subproof(src, start, end, 0, n, true, &mut proof).map_err(SubtreeProofError::Source)?;
    }
    Ok(proof)
}

/// `SUBTREE_SUBPROOF(start, end, D[base:base+n], known)`, with `start` and
/// `end` relative to `base`. The draft appends the sibling after the
/// recursive part, so the nodes come out from the bottom up.
fn subproof<S: NodeSource>(
    src: &S,
    start: u64,
    end: u64,
    base: u64,
    n: u64,
    known: bool,
    proof: &mut Vec<Digest>,
) -> Result<(), S::Error> {
    // "If start = 0 and end = n, the subtree is the root (base case)": the
    // verifier knows its hash unless an ancestor split it.
    if start == 0 && end == n {
        if !known {
            proof.push(range_hash(src, base, base + n)?);
        }
        return Ok(());
    }
    let k = split(n);
    if end <= k {
        // On the left of k: prove against the left child, include the right.
        subproof(src, start, end, base, k, known, proof)?;
        proof.push(range_hash(src, base + k, base + n)?);
    } else if k <= start {
        // On the right of k: prove against the right child, include the left.
        subproof(src, start - k, end - k, base + k, n - k, known, proof)?;
        proof.push(range_hash(src, base, base + k)?);
    } else {
        // start < k < end, so start = 0: the subtree's own root is not a node
        // of this tree, and its right part must be carried.
        subproof(src, 0, end - k, base + k, n - k, false, proof)?;
        proof.push(range_hash(src, base, base + k)?);
    }
    Ok(())
}

/// Why a subtree consistency proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtreeVerifyError {
    #[error("[{start}, {end}) is not a subtree of a tree of size {size}")]
    NotASubtree { start: u64, end: u64, size: u64 },
    #[error("an empty subtree has an empty proof and the empty hash")]
    Empty,
    #[error("the proof is {0} hashes short")]
    TooShort(usize),
    #[error("the proof has hashes left over after reaching the root")]
    TooLong,
    #[error("the proof does not rebuild the subtree's hash {expected} (it gives {got})")]
    SubtreeHash { expected: Digest, got: Digest },
    #[error("the proof does not lead to the checkpoint's root {expected} (it gives {got})")]
    Root { expected: Digest, got: Digest },
}

/// Verifies a subtree consistency proof (§4.4.3): that `node_hash` is
/// `MTH(D[start:end])` of the tree of size `n` whose root is `root`.
pub fn verify_subtree_consistency(
    start: u64,
    end: u64,
    n: u64,
    proof: &[Digest],
    subtree_hash: &Digest,
    root: &Digest,
) -> Result<(), SubtreeVerifyError> {
    // 1. "Check that [start, end) is a valid subtree, and that end <= n."
    if !is_valid_subtree(start, end) || end > n {
        return Err(SubtreeVerifyError::NotASubtree {
            start,
            end,
            size: n,
        });
    }
    // 2. "If start equals end": an empty proof and the empty hash.
    if start == end {
        return if proof.is_empty() && *subtree_hash == empty_root() {
            Ok(())
        } else {
            Err(SubtreeVerifyError::Empty)
        };
    }
    // 3. "Set fn to start, sn to end - 1, and tn to n - 1."
    let (mut f, mut s, mut t) = (start, end - 1, n - 1);
    if s == t {
        // 4. "Until fn is sn, right-shift fn, sn, and tn equally."
        while f != s {
            f >>= 1;
            s >>= 1;
            t >>= 1;
        }
    } else {
        // 5. "Until fn is sn or LSB(sn) is not set, right-shift ... equally."
        while f != s && s & 1 == 1 {
            f >>= 1;
            s >>= 1;
            t >>= 1;
        }
    }
    // 6–7. Start both hashes from the subtree's own root, or from the
    // proof's first hash when that root is not a node of the tree.
    let (mut fr, mut sr, rest) = if f == s {
        (*subtree_hash, *subtree_hash, proof)
    } else {
        let (first, rest) = proof.split_first().ok_or(SubtreeVerifyError::TooShort(1))?;
        (*first, *first, rest)
    };
    // 8. "For each value c in the proof array".
    for c in rest {
        if t == 0 {
            return Err(SubtreeVerifyError::TooLong);
        }
        if s & 1 == 1 || s == t {
            if f < s {
                fr = node_hash(c, &fr);
            }
            sr = node_hash(c, &sr);
            while s & 1 == 0 {
                f >>= 1;
                s >>= 1;
                t >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
        t >>= 1;
    }
    // 9. "Compare tn to 0, fr to node_hash, and sr to root_hash."
    if t != 0 {
        return Err(SubtreeVerifyError::TooShort(
            (64 - t.leading_zeros()) as usize,
        ));
    }
    if fr != *subtree_hash {
        return Err(SubtreeVerifyError::SubtreeHash {
            expected: *subtree_hash,
            got: fr,
        });
    }
    if sr != *root {
        return Err(SubtreeVerifyError::Root {
            expected: *root,
            got: sr,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, merkle_tree_hash, MemoryTree};

    fn leaves(n: u64) -> Vec<Digest> {
        (0..n)
            .map(|i| {
                let mut d = [0u8; 32];
                d[..8].copy_from_slice(&i.to_be_bytes());
                Digest(d)
            })
            .collect()
    }

    /// Every subtree of every tree up to 40 leaves: the proof verifies; a
    /// flipped proof hash, a wrong subtree hash, another root, a cut or an
    /// extended proof do not.
    #[test]
    fn every_subtree_proof_verifies_and_no_altered_one_does() {
        let all = leaves(40);
        let tree: MemoryTree = all.iter().copied().collect();
        for n in 1..=40u64 {
            let root = crate::merkle::root_at(&tree, n).expect("root");
            for start in 0..n {
                for end in start + 1..=n {
                    if !is_valid_subtree(start, end) {
                        assert!(subtree_proof(&tree, start, end, n).is_err());
                        continue;
                    }
                    let hash = merkle_tree_hash(&all[start as usize..end as usize]);
                    assert_eq!(range_hash(&tree, start, end).expect("range"), hash);
                    let proof = subtree_proof(&tree, start, end, n).expect("proof");
                    let ok = verify_subtree_consistency(start, end, n, &proof, &hash, &root);
                    assert_eq!(ok, Ok(()), "[{start},{end}) of {n}");
                    for i in 0..proof.len() {
                        let mut bad = proof.clone();
                        bad[i].0[0] ^= 1;
                        assert!(
                            verify_subtree_consistency(start, end, n, &bad, &hash, &root).is_err()
                        );
                    }
                    let mut wrong = hash;
                    wrong.0[31] ^= 1;
                    assert!(
                        verify_subtree_consistency(start, end, n, &proof, &wrong, &root).is_err()
                    );
                    assert!(
                        verify_subtree_consistency(start, end, n, &proof, &hash, &hash).is_err()
                            || hash == root
                    );
                    if !proof.is_empty() {
                        let cut = &proof[..proof.len() - 1];
                        assert!(
                            verify_subtree_consistency(start, end, n, cut, &hash, &root).is_err()
                        );
                    }
                    let mut longer = proof.clone();
                    longer.push(root);
                    assert!(
                        verify_subtree_consistency(start, end, n, &longer, &hash, &root).is_err()
                    );
                }
            }
        }
    }

    /// The draft's identities: from 0 it is RFC 9162's consistency proof,
    /// and of one leaf it is the inclusion path.
    #[test]
    fn special_cases_are_the_rfc_proofs() {
        let tree: MemoryTree = leaves(14).into_iter().collect();
        for end in 1..=14 {
            assert_eq!(
                subtree_proof(&tree, 0, end, 14).expect("proof"),
                tree.prove_consistency(end, 14).expect("c").path
            );
        }
        for i in 0..14 {
            assert_eq!(
                subtree_proof(&tree, i, i + 1, 14).expect("proof"),
                tree.prove_inclusion(i, 14).expect("i").path
            );
        }
        // The draft's example: [8, 13) of 14 carries d[12], d[13], [8, 12), [0, 8).
        let l = leaves(14);
        let p = subtree_proof(&tree, 8, 13, 14).expect("proof");
        assert_eq!(
            p,
            vec![
                leaf_hash(&l[12]),
                leaf_hash(&l[13]),
                merkle_tree_hash(&l[8..12]),
                merkle_tree_hash(&l[0..8]),
            ]
        );
        // docs/FORMAT-merkle.md §15.5: the same proof on §1.3's leaves
        // (leaf i is 32 bytes of i), computed with Python's hashlib.
        let v: MemoryTree = (0..14u8).map(|i| Digest([i; 32])).collect();
        let hex = |d: &Digest| d.to_string();
        assert_eq!(
            hex(&range_hash(&v, 8, 13).expect("hash")),
            "2c849a1a31cbbd733f577feb030e203e069b16bb1e70e33e45a92793e6c2497d"
        );
        let p: Vec<String> = subtree_proof(&v, 8, 13, 14)
            .expect("proof")
            .iter()
            .map(hex)
            .collect();
        assert_eq!(
            p,
            [
                "a61222bf056ce6288ef7cb15fc08c1e51de757e1bfd9f8483ec44be54b0c83fc",
                "2613305da8f09c0b4ed7fb95d2ca48e1fdc9ed9d91c69aa5bc954e8f3559f8e4",
                "c92d0e53f86b6a5658b13bfc00786f4b10ec8ad83c1d288e58f6276e03cdc24e",
                "f907f23f76aa01b755a614d31ef9832909f44638b4590073301e61e6d01f9a1d",
            ]
        );
        assert_eq!(
            hex(&crate::merkle::root_at(&v, 14).expect("root")),
            "0133f6820936e906f344b60622fd42a9fa86ed58c58d1f968cb54bb2921edcf0"
        );
        assert!(!is_valid_subtree(5, 8));
        assert!(is_valid_subtree(8, 13));
        assert!(is_valid_subtree(7, 7));
        assert!(is_valid_subtree(0, u64::MAX));
    }
}
