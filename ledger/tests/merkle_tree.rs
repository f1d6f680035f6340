//! RFC 9162 Merkle tree: incremental roots, proof generation and verification.
//!
//! Known-answer constants were computed independently of this crate with a
//! few lines of Python `hashlib` following RFC 9162 §2.1 (MTH, PATH, PROOF);
//! the leaves are `[i; 32]` for leaf index i.

use std::cell::Cell;

use jishi_ledger::merkle::{
    empty_root, leaf_hash, merkle_tree_hash, node_hash, prove_consistency, prove_inclusion,
    root_at, root_from_inclusion_proof, verify_consistency, verify_inclusion, MissingNode,
};
use jishi_ledger::{Digest, Frontier, FrontierError, MemoryTree, NodeSource, VerifyError};
use proptest::prelude::*;

fn leaf(i: u64) -> Digest {
    Digest([i as u8; 32])
}

fn leaves(n: u64) -> Vec<Digest> {
    (0..n).map(leaf).collect()
}

fn hex(s: &str) -> Digest {
    s.parse().unwrap()
}

/// MTH written straight from RFC 9162 §2.1.1, sharing no code with the crate
/// beyond the two hash primitives, which the known answers pin down.
fn naive_mth(d: &[Digest]) -> Digest {
    match d.len() {
        0 => empty_root(),
        1 => leaf_hash(&d[0]),
        n => {
            let mut k = 1;
            while k * 2 < n {
                k *= 2;
            }
            node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
        }
    }
}

fn tree(n: u64) -> MemoryTree {
    leaves(n).into_iter().collect()
}

fn flip(d: &Digest) -> Digest {
    let mut out = *d;
    out.0[7] ^= 0x10;
    out
}

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9",
    "28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444",
    "ba8d94b7fbcecae7b81c4c80574fe24734a6917bf9c1ecd66ff3e0c34ead4620",
    "fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2",
    "85e20cac1f02fda7bcdb2fc3f908568c57018c77815f1fa361acad13994f08bf",
    "380272ed524daf3398067faf4717782ba90805d4823ea6e1e594668c9fd40bba",
    "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047",
    "f907f23f76aa01b755a614d31ef9832909f44638b4590073301e61e6d01f9a1d",
];

#[test]
fn known_answer_roots() {
    assert_eq!(empty_root(), hex(ROOTS[0]));
    assert_eq!(Frontier::new().root(), hex(ROOTS[0]));
    for (n, want) in ROOTS.iter().enumerate() {
        let d = leaves(n as u64);
        assert_eq!(merkle_tree_hash(&d), hex(want), "size {n}");
        assert_eq!(naive_mth(&d), hex(want), "naive, size {n}");
        let t = tree(8);
        assert_eq!(root_at(&t, n as u64).unwrap(), hex(want), "root_at {n}");
    }
}

#[test]
fn known_answer_proofs() {
    let t = tree(7);
    let p = t.prove_inclusion(2, 7).unwrap();
    assert_eq!(
        p.path,
        vec![
            hex("acaa04663a8547a2f70c60cc18f9378796b13c4f9a08f70d6adae662365b30c6"),
            hex("28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444"),
            hex("1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4"),
        ]
    );
    let p = t.prove_inclusion(6, 7).unwrap();
    assert_eq!(
        p.path,
        vec![
            hex("f1c176552a35e1d035f843d463220b6c85a90ea7f6644980630a6f71a3330ed3"),
            hex("fdea52008cdae79fa8bf806261959e23f5e11681646a2fa2bc9b5e56b32030a2"),
        ]
    );
    let c = t.prove_consistency(3, 7).unwrap();
    assert_eq!(
        c.path,
        vec![
            hex("cba8c596120bdb69debbd923d92cba948bde7c7d06a465a1bb7d98d3116038fa"),
            hex("acaa04663a8547a2f70c60cc18f9378796b13c4f9a08f70d6adae662365b30c6"),
            hex("28fb81e496897e0ce886f08602392e9239b65c659041e5202163e58ad898f444"),
            hex("1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4"),
        ]
    );
    let c = t.prove_consistency(4, 7).unwrap();
    assert_eq!(
        c.path,
        vec![hex(
            "1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4"
        )]
    );
    // Proof JSON is lowercase hex, as docs/FORMAT-merkle.md promises.
    let json = serde_json::to_string(&c).unwrap();
    assert_eq!(
        json,
        r#"{"first_size":4,"second_size":7,"path":["1f3f95843413191fe7521996b6b1e4147d703b1702c475a478ad25a6f6b415b4"]}"#
    );
}

#[test]
fn incremental_root_matches_naive_mth_up_to_200() {
    let d = leaves(200);
    let mut f = Frontier::new();
    assert_eq!(f.root(), naive_mth(&[]));
    for n in 1..=200usize {
        f.append(&d[n - 1]).unwrap();
        assert_eq!(f.size(), n as u64);
        assert_eq!(f.nodes().len(), n.count_ones() as usize);
        assert_eq!(f.root(), naive_mth(&d[..n]), "size {n}");
    }
}

#[test]
fn append_reports_every_perfect_node_once_with_its_hash() {
    let d = leaves(100);
    let mut f = Frontier::new();
    let mut seen = std::collections::HashSet::new();
    for (i, l) in d.iter().enumerate() {
        let nodes = f.append(l).unwrap();
        assert_eq!((nodes[0].level, nodes[0].index), (0, i as u64));
        assert_eq!(nodes[0].hash, leaf_hash(l));
        for node in nodes {
            let width = 1usize << node.level;
            let start = node.index as usize * width;
            assert_eq!(start + width, i + 1, "node completes at the new leaf");
            assert_eq!(node.hash, naive_mth(&d[start..start + width]));
            assert!(seen.insert((node.level, node.index)), "reported twice");
        }
    }
    // A tree of n leaves has 2n - popcount(n) perfect nodes.
    assert_eq!(seen.len(), 2 * 100 - 100u32.count_ones() as usize);
}

#[test]
fn frontier_serialises_and_refuses_damaged_forms() {
    let t = tree(13);
    let f = t.frontier().clone();
    assert_eq!(Frontier::from_bytes(&f.to_bytes()).unwrap(), f);
    assert_eq!(f.to_bytes().len(), 8 + 32 * 3);
    let json = serde_json::to_string(&f).unwrap();
    assert!(json.starts_with(r#"{"size":13,"nodes":[""#), "{json}");
    assert_eq!(serde_json::from_str::<Frontier>(&json).unwrap(), f);
    assert_eq!(Frontier::from_source(&t, 13).unwrap(), f);
    // Rebuilding the frontier of a past size from stored nodes.
    let f5 = Frontier::from_source(&t, 5).unwrap();
    assert_eq!(f5.root(), hex(ROOTS[5]));

    let mut bytes = f.to_bytes();
    bytes.pop();
    assert_eq!(
        Frontier::from_bytes(&bytes),
        Err(FrontierError::BadLength { len: 103 })
    );
    assert_eq!(
        Frontier::from_bytes(&[0; 4]),
        Err(FrontierError::BadLength { len: 4 })
    );
    let mut bytes = f.to_bytes();
    bytes[7] = 12; // size 12 has two set bits, three roots follow
    assert_eq!(
        Frontier::from_bytes(&bytes),
        Err(FrontierError::WrongNodeCount {
            size: 12,
            expected: 2,
            got: 3
        })
    );
    let bad_json = json.replace(r#""size":13"#, r#""size":12"#);
    let err = serde_json::from_str::<Frontier>(&bad_json).unwrap_err();
    assert!(err.to_string().contains("size 12"), "{err}");

    assert_eq!(
        Frontier::positions(13).collect::<Vec<_>>(),
        vec![(3, 0), (2, 2), (0, 12)]
    );
    let top: Vec<_> = Frontier::positions(u64::MAX).collect();
    assert_eq!(
        (top.len(), top[0], top[63]),
        (64, (63, 0), (0, u64::MAX - 1))
    );
    let mut full = Frontier::from_parts(u64::MAX, vec![Digest::ZERO; 64]).unwrap();
    assert_eq!(full.append(&leaf(0)), Err(FrontierError::Full));
}

#[test]
fn appending_continues_after_a_restored_frontier() {
    let d = leaves(40);
    let mut f = Frontier::new();
    for l in &d[..23] {
        f.append(l).unwrap();
    }
    let mut restored = Frontier::from_bytes(&f.to_bytes()).unwrap();
    for l in &d[23..] {
        restored.append(l).unwrap();
    }
    assert_eq!(restored.root(), naive_mth(&d));
}

#[test]
fn every_inclusion_proof_up_to_64_verifies_and_resists_tampering() {
    let t = tree(64);
    let d = leaves(64);
    for n in 1..=64u64 {
        let root = naive_mth(&d[..n as usize]);
        for p in 0..n {
            let proof = t.prove_inclusion(p, n).unwrap();
            assert!(proof.path.len() <= 6);
            proof.verify(&leaf(p), &root).unwrap();

            // Any proof hash altered.
            for i in 0..proof.path.len() {
                let mut bad = proof.path.clone();
                bad[i] = flip(&bad[i]);
                assert!(matches!(
                    verify_inclusion(&leaf(p), p, n, &bad, &root),
                    Err(VerifyError::RootMismatch { .. })
                ));
            }
            // The wrong leaf.
            assert!(verify_inclusion(&flip(&leaf(p)), p, n, &proof.path, &root).is_err());
            // Any other index, including one past the end.
            for q in (0..=n).filter(|&q| q != p) {
                let err = verify_inclusion(&leaf(p), q, n, &proof.path, &root).unwrap_err();
                if q == n {
                    assert_eq!(err, VerifyError::IndexOutOfRange { index: n, size: n });
                }
            }
            // Another tree size, checked against that size's real root. Only
            // a proof that is also the genuine proof for (p, m) may pass.
            for m in (p + 1..=64).filter(|&m| m != n) {
                let genuine = t.prove_inclusion(p, m).unwrap();
                let r = verify_inclusion(&leaf(p), p, m, &proof.path, &hex_root(&d, m));
                assert_eq!(r.is_ok(), genuine.path == proof.path, "p={p} n={n} m={m}");
            }
            // A truncated or extended path.
            if !proof.path.is_empty() {
                let short = &proof.path[..proof.path.len() - 1];
                assert_eq!(
                    verify_inclusion(&leaf(p), p, n, short, &root),
                    Err(VerifyError::WrongProofLength {
                        expected: proof.path.len(),
                        got: short.len()
                    })
                );
            }
            let mut long = proof.path.clone();
            long.push(root);
            assert!(matches!(
                verify_inclusion(&leaf(p), p, n, &long, &root),
                Err(VerifyError::WrongProofLength { .. })
            ));
        }
    }
}

fn hex_root(d: &[Digest], n: u64) -> Digest {
    naive_mth(&d[..n as usize])
}

#[test]
fn every_consistency_proof_up_to_64_verifies_and_resists_tampering() {
    let t = tree(64);
    let d = leaves(64);
    let roots: Vec<Digest> = (0..=64).map(|n| hex_root(&d, n)).collect();
    for n in 0..=64u64 {
        for m in 0..=n {
            let (rm, rn) = (roots[m as usize], roots[n as usize]);
            let proof = t.prove_consistency(m, n).unwrap();
            proof.verify(&rm, &rn).unwrap();
            if m == 0 || m == n {
                assert!(proof.path.is_empty());
            }

            for i in 0..proof.path.len() {
                let mut bad = proof.path.clone();
                bad[i] = flip(&bad[i]);
                assert!(
                    verify_consistency(m, n, &rm, &rn, &bad).is_err(),
                    "m={m} n={n} i={i}"
                );
            }
            assert!(verify_consistency(m, n, &flip(&rm), &rn, &proof.path).is_err());
            // From the empty tree every second root is consistent; otherwise
            // the second root is bound by the proof.
            let r = verify_consistency(m, n, &rm, &flip(&rn), &proof.path);
            assert_eq!(r.is_ok(), m == 0 && n > 0, "m={m} n={n}");

            // Other sizes with their real roots: only pass where the proof is
            // also the genuine proof for those sizes (e.g. both empty).
            for m2 in (0..=n).filter(|&m2| m2 != m) {
                let genuine = t.prove_consistency(m2, n).unwrap();
                let r = verify_consistency(m2, n, &roots[m2 as usize], &rn, &proof.path);
                assert_eq!(r.is_ok(), genuine.path == proof.path, "m={m} n={n} m2={m2}");
            }
            for n2 in (m..=64).filter(|&n2| n2 != n) {
                let genuine = t.prove_consistency(m, n2).unwrap();
                let r = verify_consistency(m, n2, &rm, &roots[n2 as usize], &proof.path);
                assert_eq!(r.is_ok(), genuine.path == proof.path, "m={m} n={n} n2={n2}");
            }

            let mut long = proof.path.clone();
            long.push(rn);
            assert!(matches!(
                verify_consistency(m, n, &rm, &rn, &long),
                Err(VerifyError::WrongProofLength { .. })
            ));
            if let Some((_, short)) = proof.path.split_last() {
                assert!(matches!(
                    verify_consistency(m, n, &rm, &rn, short),
                    Err(VerifyError::WrongProofLength { .. })
                ));
            }
            if m < n {
                assert_eq!(
                    verify_consistency(n, m, &rn, &rm, &proof.path),
                    Err(VerifyError::SizeOrder {
                        first: n,
                        second: m
                    })
                );
            }
        }
    }
}

#[test]
fn typed_errors_for_degenerate_requests() {
    let t = tree(5);
    assert!(matches!(
        t.prove_inclusion(5, 5),
        Err(jishi_ledger::ProveError::IndexOutOfRange { index: 5, size: 5 })
    ));
    assert!(matches!(
        t.prove_consistency(4, 3),
        Err(jishi_ledger::ProveError::SizeOrder {
            first: 4,
            second: 3
        })
    ));
    // Asking beyond what the source stores surfaces the source's error:
    // leaves 4..6 form node (1, 2), which a tree of 5 never completed.
    match t.prove_inclusion(0, 6) {
        Err(jishi_ledger::ProveError::Source(MissingNode { level, index })) => {
            assert_eq!((level, index), (1, 2));
        }
        other => panic!("expected a missing node, got {other:?}"),
    }
    assert_eq!(
        root_from_inclusion_proof(&leaf(0), 0, 0, &[]),
        Err(VerifyError::IndexOutOfRange { index: 0, size: 0 })
    );
    // The empty tree is a prefix of everything, but only with its real root.
    let r5 = t.root();
    verify_consistency(0, 5, &empty_root(), &r5, &[]).unwrap();
    assert!(matches!(
        verify_consistency(0, 5, &r5, &r5, &[]),
        Err(VerifyError::FirstRootMismatch { .. })
    ));
    assert!(matches!(
        verify_consistency(5, 5, &r5, &flip(&r5), &[]),
        Err(VerifyError::SecondRootMismatch { .. })
    ));
    assert_eq!(
        verify_consistency(5, 5, &r5, &r5, &[r5]),
        Err(VerifyError::WrongProofLength {
            expected: 0,
            got: 1
        })
    );
}

/// Counts fetches so the O(log n) cost of proofs is a tested property, not a
/// hope: a store with millions of events must not read the whole tree.
struct Counting<'a> {
    inner: &'a MemoryTree,
    fetches: Cell<usize>,
}

impl NodeSource for Counting<'_> {
    type Error = MissingNode;
    fn node(&self, level: u32, index: u64) -> Result<Digest, MissingNode> {
        self.fetches.set(self.fetches.get() + 1);
        self.inner.node(level, index)
    }
}

fn ceil_log2(n: u64) -> usize {
    (64 - n.saturating_sub(1).leading_zeros()) as usize
}

fn big_tree() -> &'static MemoryTree {
    static TREE: std::sync::OnceLock<MemoryTree> = std::sync::OnceLock::new();
    TREE.get_or_init(|| tree(5000))
}

proptest! {
    #[test]
    fn proofs_in_a_large_tree_verify_and_fetch_log_n_nodes(
        n in 1u64..=5000,
        p_frac in 0.0f64..1.0,
        m_frac in 0.0f64..=1.0,
    ) {
        let t = big_tree();
        let p = ((n as f64 * p_frac) as u64).min(n - 1);
        let m = (n as f64 * m_frac) as u64;
        let counting = Counting { inner: t, fetches: Cell::new(0) };
        let root = root_at(&counting, n).unwrap();
        prop_assert!(counting.fetches.get() <= ceil_log2(n) + 1);

        counting.fetches.set(0);
        let proof = prove_inclusion(&counting, p, n).unwrap();
        prop_assert!(counting.fetches.get() <= 2 * ceil_log2(n) + 1, "inclusion fetched {}", counting.fetches.get());
        verify_inclusion(&leaf(p), p, n, &proof.path, &root).unwrap();

        counting.fetches.set(0);
        let proof = prove_consistency(&counting, m, n).unwrap();
        prop_assert!(counting.fetches.get() <= 2 * ceil_log2(n) + 2, "consistency fetched {}", counting.fetches.get());
        verify_consistency(m, n, &root_at(t, m).unwrap(), &root, &proof.path).unwrap();
    }
}
