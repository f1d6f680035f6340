//! The Merkle tree the SQLite store keeps in its append transactions: equal
//! to the tree computed from scratch over the stored hashes, for any sequence
//! of appends and batches, across reopening, and serving proofs that verify.

mod common;

use jishi_ledger::merkle::{merkle_tree_hash, verify_consistency};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{Digest, EventStore, ExpectedVersion, ProofError, ProofStore, SqliteStore};
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn stored_hashes(store: &SqliteStore) -> Vec<Digest> {
    store
        .read_all(1, usize::MAX >> 1)
        .await
        .expect("read")
        .iter()
        .map(|e| e.hash)
        .collect()
}

/// Checks the store's tree against `merkle_tree_hash` at every size, and
/// every inclusion and consistency proof against those roots.
async fn assert_tree_matches(store: &SqliteStore) {
    let hashes = stored_hashes(store).await;
    let n = hashes.len() as u64;
    assert_eq!(store.tree_size().await.unwrap(), n);
    assert_eq!(
        store.frontier().await.unwrap().root(),
        merkle_tree_hash(&hashes)
    );
    let roots: Vec<Digest> = (0..=n)
        .map(|k| merkle_tree_hash(&hashes[..k as usize]))
        .collect();
    for size in 0..=n {
        assert_eq!(
            store.tree_root(size).await.unwrap(),
            roots[size as usize],
            "root at {size}"
        );
        for leaf in 0..size {
            let p = store.inclusion_proof(leaf, size).await.unwrap();
            p.verify(&hashes[leaf as usize], &roots[size as usize])
                .unwrap_or_else(|e| panic!("inclusion {leaf} in {size}: {e}"));
        }
        for first in 0..=size {
            let p = store.consistency_proof(first, size).await.unwrap();
            verify_consistency(
                first,
                size,
                &roots[first as usize],
                &roots[size as usize],
                &p.path,
            )
            .unwrap_or_else(|e| panic!("consistency {first} -> {size}: {e}"));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Batches of requests of several events each, with a reopen in between:
    /// the tree kept by appends is the tree of the stored hashes.
    #[test]
    fn the_kept_tree_is_the_tree_of_the_stored_hashes(
        batches in prop::collection::vec(prop::collection::vec(1usize..4, 1..4), 1..6),
        reopen_after in 0usize..6,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db");
        rt().block_on(async {
            let mut store = SqliteStore::open(&path).unwrap();
            for (i, batch) in batches.iter().enumerate() {
                let requests = batch
                    .iter()
                    .enumerate()
                    .map(|(j, n)| common::request(&format!("s/{}", (i + j) % 3), ExpectedVersion::Any, *n))
                    .collect();
                store.append_batch(requests).await.unwrap();
                if i == reopen_after {
                    store = SqliteStore::open(&path).unwrap();
                }
            }
            assert_tree_matches(&store).await;
            let store = SqliteStore::open(&path).unwrap();
            assert_tree_matches(&store).await;
            let report = jishi_ledger::verify_with_proofs(&store, &Quiet).await.unwrap();
            assert!(report.is_ok(), "{report:?}");
        });
    }
}

/// A refused request writes no leaf: the tree commits with the events.
#[test]
fn a_refused_batch_adds_no_leaf() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(async {
        store
            .append(common::request("s/a", ExpectedVersion::NoStream, 2))
            .await
            .unwrap();
        let err = store
            .append_batch(vec![
                common::request("s/b", ExpectedVersion::Any, 3),
                common::request("s/a", ExpectedVersion::NoStream, 1),
            ])
            .await
            .unwrap_err();
        assert_eq!(err.index, 1);
        assert_eq!(store.tree_size().await.unwrap(), 2);
        assert_tree_matches(&store).await;
    });
}

/// A ledger appended to without the tree (as one created before schema
/// version 2) gets its tree from the stored hashes: at the next append, and
/// at the next open.
#[test]
fn a_lagging_tree_catches_up() {
    let fx = common::sqlite();
    rt().block_on(async {
        let off = SqliteStore::open(&fx.path).unwrap().with_tree(false);
        off.append(common::request("s/a", ExpectedVersion::Any, 5))
            .await
            .unwrap();
        assert_eq!(off.tree_size().await.unwrap(), 0);
        let on = off.clone().with_tree(true);
        on.append(common::request("s/a", ExpectedVersion::Any, 2))
            .await
            .unwrap();
        assert_eq!(on.tree_size().await.unwrap(), 7);
        assert_tree_matches(&on).await;

        off.append(common::request("s/b", ExpectedVersion::Any, 4))
            .await
            .unwrap();
        assert_eq!(off.tree_size().await.unwrap(), 7);
        let reopened = SqliteStore::open(&fx.path).unwrap();
        assert_eq!(reopened.tree_size().await.unwrap(), 11);
        assert_tree_matches(&reopened).await;
    });
}

/// A tree longer than the ledger means rows were cut off: appending onto
/// that would hide it, so the store refuses and says why.
#[test]
fn appends_refuse_a_tree_ahead_of_the_events() {
    let fx = common::sqlite();
    rt().block_on(async {
        fx.store
            .append(common::request("s/a", ExpectedVersion::Any, 5))
            .await
            .unwrap();
    });
    common::dba(&fx.path)
        .execute("DELETE FROM events WHERE position > 3", [])
        .unwrap();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(async {
        let err = store
            .append(common::request("s/a", ExpectedVersion::Any, 1))
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("tree holds 5 events but the ledger only 3"),
            "{msg}"
        );
        assert_eq!(store.head().await.unwrap().unwrap().position, 3);
    });
}

#[test]
fn proofs_beyond_the_tree_are_refused_by_name() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(async {
        store
            .append(common::request("s/a", ExpectedVersion::Any, 4))
            .await
            .unwrap();
        match store.inclusion_proof(4, 4).await {
            Err(ProofError::PositionOutOfRange {
                position: 5,
                size: 4,
            }) => {}
            other => panic!("{other:?}"),
        }
        match store.inclusion_proof(0, 9).await {
            Err(ProofError::BeyondTree {
                requested: 9,
                size: 4,
            }) => {}
            other => panic!("{other:?}"),
        }
        match store.consistency_proof(3, 2).await {
            Err(ProofError::SizeOrder {
                first: 3,
                second: 2,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            store.tree_root(5).await,
            Err(ProofError::BeyondTree {
                requested: 5,
                size: 4
            })
        ));
    });
}

/// The store keeps only checkpoints of its own history, of one origin.
#[test]
fn checkpoints_are_checked_before_they_are_stored() {
    use jishi_ledger::{Checkpoint, SignerKey};
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    let key = SignerKey::from_seed("jishi.example/log", &[1; 32]).unwrap();
    rt().block_on(async {
        store
            .append(common::request("s/a", ExpectedVersion::Any, 3))
            .await
            .unwrap();
        let root = store.tree_root(3).await.unwrap();
        let good = Checkpoint::new("jishi.example/log", 3, root)
            .unwrap()
            .sign(&key)
            .unwrap();
        let saved = store.save_checkpoint(&good.to_string()).await.unwrap();
        assert_eq!((saved.size, saved.root), (3, root));
        assert_eq!(
            store.latest_checkpoint().await.unwrap(),
            Some(saved.clone())
        );

        let wrong_root = Checkpoint::new("jishi.example/log", 2, root)
            .unwrap()
            .sign(&key)
            .unwrap();
        assert!(matches!(
            store.save_checkpoint(&wrong_root.to_string()).await,
            Err(ProofError::RootMismatch { size: 2, .. })
        ));
        let beyond = Checkpoint::new("jishi.example/log", 4, root)
            .unwrap()
            .sign(&key)
            .unwrap();
        assert!(matches!(
            store.save_checkpoint(&beyond.to_string()).await,
            Err(ProofError::BeyondTree {
                requested: 4,
                size: 3
            })
        ));
        let other = Checkpoint::new("other.example/log", 3, root)
            .unwrap()
            .sign(&key)
            .unwrap();
        assert!(matches!(
            store.save_checkpoint(&other.to_string()).await,
            Err(ProofError::OriginMismatch { .. })
        ));
        assert!(matches!(
            store.save_checkpoint("not a note").await,
            Err(ProofError::Note(_))
        ));
        assert_eq!(store.checkpoints().await.unwrap(), vec![saved]);
    });
}
