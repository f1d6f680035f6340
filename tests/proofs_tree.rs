//! The Merkle tree each store keeps in its append transactions: equal to the
//! tree computed from scratch over the stored hashes, for any sequence of
//! appends and batches (and, on PostgreSQL, concurrent appends grouped into
//! one transaction), across reopening, and serving proofs that verify. The
//! store-level checks are generic and run against SQLite and PostgreSQL (the
//! latter only with DATABASE_URL set).

mod common;

use jishi_ledger::merkle::{merkle_tree_hash, verify_consistency};
use jishi_ledger::postgres::{GroupCommit, PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use std::sync::Arc;

use jishi_ledger::{
    AppendRequest, Checkpoint, Digest, EventStore, ExpectedVersion, ProofError, ProofStore,
    SignerKey, SqliteStore,
};
use proptest::prelude::*;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn stored_hashes<S: EventStore + ?Sized>(store: &S) -> Vec<Digest> {
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
async fn assert_tree_matches<S: ProofStore + ?Sized>(store: &S) {
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
    rt().block_on(refused_batch_adds_no_leaf(&store));
}

async fn refused_batch_adds_no_leaf<S: ProofStore>(store: &S) {
    {
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
        assert_tree_matches(store).await;
    }
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
    rt().block_on(proofs_beyond_the_tree_are_refused(&store));
}

async fn proofs_beyond_the_tree_are_refused<S: ProofStore>(store: &S) {
    {
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
    }
}

/// The store keeps only checkpoints of its own history, of one origin.
#[test]
fn checkpoints_are_checked_before_they_are_stored() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(checkpoints_are_checked(&store));
}

async fn checkpoints_are_checked<S: ProofStore>(store: &S) {
    use jishi_ledger::{Checkpoint, SignerKey};
    let key = SignerKey::from_seed("jishi.example/log", &[1; 32]).unwrap();
    {
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
    }
}

// ---------------------------------------------------------------- PostgreSQL

/// Batches shaped like the property test's (several requests of several
/// events, streams shared between requests), appended through the writer
/// task; reopened halfway and at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_the_kept_tree_is_the_tree_of_the_stored_hashes() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let shapes: [&[usize]; 5] = [&[1], &[3, 1, 2], &[2, 2], &[1, 1, 1], &[3]];
    let mut store = fx.pg.clone();
    for (i, batch) in shapes.iter().enumerate() {
        let requests = batch
            .iter()
            .enumerate()
            .map(|(j, n)| common::request(&format!("s/{}", (i + j) % 3), ExpectedVersion::Any, *n))
            .collect();
        store.append_batch(requests).await.unwrap();
        assert_eq!(store.tree_size().await.unwrap(), store_head(&store).await);
        if i == 2 {
            store = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
                .await
                .unwrap();
        }
    }
    assert_tree_matches(&store).await;
    let store = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .unwrap();
    assert_tree_matches(&store).await;
    let report = jishi_ledger::verify_with_proofs(&store, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert!(report.tree.is_some(), "{report:?}");
}

async fn store_head<S: EventStore + ?Sized>(store: &S) -> u64 {
    store.head().await.unwrap().map_or(0, |h| h.position)
}

/// Many tasks appending at once: the writer groups them into shared
/// transactions (each extends the tree for all its callers' rows in position
/// order), and the tree is still the tree of the stored hashes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_concurrent_appends_keep_the_tree() {
    let Some(fx) = common::postgres_with(PgOptions {
        group_commit: GroupCommit {
            max_wait: std::time::Duration::from_millis(20),
            min_callers: 4,
            ..GroupCommit::default()
        },
        ..PgOptions::default()
    })
    .await
    else {
        return;
    };
    let mut tasks = Vec::new();
    for t in 0..8usize {
        let store = fx.pg.clone();
        tasks.push(tokio::spawn(async move {
            for k in 0..4usize {
                let request: AppendRequest =
                    common::request(&format!("s/{t}"), ExpectedVersion::Any, 1 + (t + k) % 2);
                store.append(request).await.expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let stats = fx.pg.group_stats();
    assert!(
        stats.transactions < stats.callers,
        "appends were not grouped: {stats:?}"
    );
    assert_eq!(fx.pg.tree_size().await.unwrap(), 48);
    assert_tree_matches(&fx.pg).await;
    let report = jishi_ledger::verify_with_proofs(&fx.pg, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_refused_batch_adds_no_leaf() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    refused_batch_adds_no_leaf(&fx.pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_proofs_beyond_the_tree_are_refused_by_name() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    proofs_beyond_the_tree_are_refused(&fx.pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_checkpoints_are_checked_before_they_are_stored() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    checkpoints_are_checked(&fx.pg).await;
}

/// Runs SQL in the fixture's schema as the superuser, with the append-only
/// triggers bypassed (as a hostile DBA would).
async fn pg_dba(schema: &common::PgSchema, sql: &str) {
    let c = schema.connect().await;
    c.batch_execute(&format!(
        "SET session_replication_role = replica; {sql}; SET session_replication_role = origin"
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// A tree that lags the events (as after upgrading a ledger from before
/// schema version 4) catches up from the stored hashes: inside the next
/// append transaction, and when the store is opened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_lagging_tree_catches_up() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let forget_tree = "DELETE FROM tree_nodes; DELETE FROM tree_state";
    fx.pg
        .append(common::request("s/a", ExpectedVersion::Any, 5))
        .await
        .unwrap();
    pg_dba(&fx.schema, forget_tree).await;
    assert_eq!(fx.pg.tree_size().await.unwrap(), 0);
    fx.pg
        .append(common::request("s/a", ExpectedVersion::Any, 2))
        .await
        .unwrap();
    assert_eq!(fx.pg.tree_size().await.unwrap(), 7);
    assert_tree_matches(&fx.pg).await;

    pg_dba(&fx.schema, forget_tree).await;
    let reopened = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .unwrap();
    assert_eq!(reopened.tree_size().await.unwrap(), 7);
    assert_tree_matches(&reopened).await;
}

/// A tree longer than the ledger means rows were cut off: the writer refuses
/// to append onto it and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_appends_refuse_a_tree_ahead_of_the_events() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    fx.pg
        .append(common::request("s/a", ExpectedVersion::Any, 5))
        .await
        .unwrap();
    pg_dba(&fx.schema, "DELETE FROM events WHERE position > 3").await;
    let store = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .unwrap();
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
}

/// `verify` on a ledger that is being appended to: the walk stops at the
/// head it read, after reading the checkpoints and the frontier, so appends
/// (and a checkpoint signed) meanwhile are never taken for faults. Found by
/// `jishi bench --http`, where the server verifies while clients record.
async fn verify_while_appending(reader: &dyn ProofStore, writer: Arc<dyn ProofStore>) {
    writer
        .append(common::request("s/start", ExpectedVersion::Any, 3))
        .await
        .unwrap();
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicUsize::new(0));
    let appender = {
        let (writer, stop, appended) = (writer.clone(), stop.clone(), appended.clone());
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let request =
                    common::request(&format!("s/{}", n % 7), ExpectedVersion::Any, 1 + n % 3);
                writer.append(request).await.expect("append");
                if n % 50 == 25 {
                    let frontier = writer.frontier().await.unwrap();
                    let key = SignerKey::generate("test.example/log").unwrap();
                    let cp = Checkpoint::new("test.example/log", frontier.size(), frontier.root())
                        .unwrap();
                    writer
                        .save_checkpoint(&cp.sign(&key).unwrap().to_string())
                        .await
                        .expect("checkpoint");
                }
                n += 1;
                appended.store(n, Ordering::Relaxed);
            }
        })
    };
    // Verify over and over while at least 300 appends (and 6 checkpoints)
    // land in between.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut rounds = 0;
    while (rounds < 20 || appended.load(Ordering::Relaxed) < 300)
        && std::time::Instant::now() < deadline
    {
        let report = jishi_ledger::verify_with_proofs(reader, &Quiet)
            .await
            .unwrap();
        assert!(report.is_ok(), "round {rounds}: {report:?}");
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    appender.await.expect("appender");
    assert!(
        appended.load(Ordering::Relaxed) >= 300,
        "the appender barely ran"
    );
    let report = jishi_ledger::verify_with_proofs(reader, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, store_head(reader).await);
}

#[test]
fn verify_while_appending_finds_no_false_fault() {
    let fx = common::sqlite();
    let reader = SqliteStore::open(&fx.path).unwrap();
    let writer: Arc<dyn ProofStore> = Arc::new(SqliteStore::open(&fx.path).unwrap());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(verify_while_appending(&reader, writer));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_verify_while_appending_finds_no_false_fault() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let writer: Arc<dyn ProofStore> = Arc::new(fx.pg.clone());
    verify_while_appending(&fx.pg, writer).await;
}
