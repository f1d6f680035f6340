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
    // One tree_nodes row per group transaction, not one per event.
    let rows = Db::Pg(&fx.schema).rows().await.len() as u64;
    assert!(
        rows <= stats.transactions && rows < 48,
        "{rows} tree rows for 48 events: {stats:?}"
    );
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
    // The log's key, registered as `jishi checkpoint` registers it, so that
    // verify can check the checkpoints' signatures.
    let key = SignerKey::generate("test.example/log").unwrap();
    jishi_ledger::publish::register_checkpoint_key(
        &*writer,
        &key.verifier(),
        "log",
        &common::actor(0),
    )
    .await
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let appended = Arc::new(AtomicUsize::new(0));
    let appender = {
        let (writer, stop, appended) = (writer.clone(), stop.clone(), appended.clone());
        let key = key.clone();
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let request =
                    common::request(&format!("s/{}", n % 7), ExpectedVersion::Any, 1 + n % 3);
                writer.append(request).await.expect("append");
                if n % 50 == 25 {
                    let frontier = writer.frontier().await.unwrap();
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

// ------------------------------------------------ one tree_nodes row per run

/// A `tree_nodes` row: its key (the run's first leaf) and its bytes.
type TreeRow = (i64, Vec<u8>);

/// A store's `tree_nodes` table through plain SQL, as a DBA sees it (the
/// append-only triggers bypassed).
enum Db<'a> {
    Sqlite(&'a std::path::Path),
    Pg(&'a common::PgSchema),
}

impl Db<'_> {
    fn sqlite(path: &std::path::Path) -> rusqlite::Connection {
        let conn = common::dba(path);
        conn.execute_batch(
            "DROP TRIGGER IF EXISTS tree_nodes_no_update; \
             DROP TRIGGER IF EXISTS tree_nodes_no_delete;",
        )
        .unwrap();
        conn
    }

    /// Every row, by key.
    async fn rows(&self) -> Vec<TreeRow> {
        let sql = "SELECT leaf, hashes FROM tree_nodes ORDER BY leaf";
        match self {
            Db::Sqlite(path) => {
                let conn = Db::sqlite(path);
                let mut stmt = conn.prepare(sql).unwrap();
                let rows = stmt
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                rows
            }
            Db::Pg(schema) => schema
                .connect()
                .await
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect(),
        }
    }

    /// Replaces every row by `rows`.
    async fn set_rows(&self, rows: &[TreeRow]) {
        match self {
            Db::Sqlite(path) => {
                let conn = Db::sqlite(path);
                conn.execute("DELETE FROM tree_nodes", []).unwrap();
                for (leaf, hashes) in rows {
                    conn.execute(
                        "INSERT INTO tree_nodes (leaf, hashes) VALUES (?1, ?2)",
                        rusqlite::params![leaf, hashes],
                    )
                    .unwrap();
                }
            }
            Db::Pg(schema) => {
                let c = schema.connect().await;
                c.batch_execute("SET session_replication_role = replica; DELETE FROM tree_nodes")
                    .await
                    .unwrap();
                for (leaf, hashes) in rows {
                    c.execute(
                        "INSERT INTO tree_nodes (leaf, hashes) VALUES ($1, $2)",
                        &[leaf, hashes],
                    )
                    .await
                    .unwrap_or_else(|e| panic!("{e:?}"));
                }
            }
        }
    }

    /// Rewrites the `hashes` of the row with key `leaf`.
    async fn set_hashes(&self, leaf: i64, hashes: &[u8]) {
        match self {
            Db::Sqlite(path) => {
                let n = Db::sqlite(path)
                    .execute(
                        "UPDATE tree_nodes SET hashes = ?1 WHERE leaf = ?2",
                        rusqlite::params![hashes, leaf],
                    )
                    .unwrap();
                assert_eq!(n, 1);
            }
            Db::Pg(schema) => {
                let c = schema.connect().await;
                c.batch_execute("SET session_replication_role = replica")
                    .await
                    .unwrap();
                let n = c
                    .execute(
                        "UPDATE tree_nodes SET hashes = $1 WHERE leaf = $2",
                        &[&hashes, &leaf],
                    )
                    .await
                    .unwrap();
                assert_eq!(n, 1);
            }
        }
    }
}

/// `n` events as one append_batch (one transaction), spread over up to three
/// requests on different streams.
async fn append_run<S: ProofStore + ?Sized>(store: &S, n: usize, tag: usize) {
    let parts = [n.div_ceil(3), n.div_ceil(3), n];
    let mut left = n;
    let mut requests = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let k = (*p).min(left);
        if k > 0 {
            requests.push(common::request(
                &format!("s/{tag}-{i}"),
                ExpectedVersion::Any,
                k,
            ));
            left -= k;
        }
    }
    store.append_batch(requests).await.unwrap();
}

/// The per-leaf rows the old layout kept for these event hashes, leaves
/// `from..` of them, and the one run covering the same leaves.
fn old_rows_and_run(hashes: &[Digest], from: usize) -> (Vec<TreeRow>, TreeRow) {
    let mut f = jishi_ledger::merkle::Frontier::new();
    let mut per_leaf = Vec::new();
    for (leaf, h) in hashes.iter().enumerate() {
        let nodes = f.append(h).unwrap();
        if leaf >= from {
            per_leaf.push((leaf as i64, jishi_ledger::tree::leaf_row(&nodes)));
        }
    }
    let run = per_leaf.iter().flat_map(|(_, h)| h.clone()).collect();
    (per_leaf, (from as i64, run))
}

/// Each append transaction writes exactly one `tree_nodes` row, keyed by its
/// first leaf; proofs of every size and index of the resulting ledger (runs
/// of 1 to 11 events) verify against the roots, and so does verify.
async fn one_row_per_transaction<S: ProofStore>(store: &S, db: Db<'_>) {
    let sizes = [1usize, 3, 7, 2, 10, 1, 5, 11];
    let mut events = 0;
    for (i, n) in sizes.iter().enumerate() {
        append_run(store, *n, i).await;
        let rows = db.rows().await;
        assert_eq!(rows.len(), i + 1, "a batch of {n} events wrote one row");
        let (leaf, hashes) = rows.last().unwrap();
        assert_eq!(*leaf, events as i64, "keyed by the run's first leaf");
        let nodes = jishi_ledger::tree::nodes_before(events, events + *n as u64).unwrap();
        assert_eq!(hashes.len() as u64, 32 * nodes);
        events += *n as u64;
    }
    assert_eq!(events, 40);
    assert_tree_matches(store).await;
    let report = jishi_ledger::verify_with_proofs(store, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.checked, 40);
}

/// A ledger written by the old code (one row per leaf) and then appended to
/// by the new (one row per run) proves and verifies; so does one whose rows
/// mix the two in the middle of the tree.
async fn old_per_leaf_rows_and_new_runs<S: ProofStore>(store: &S, db: Db<'_>) {
    append_run(store, 6, 0).await;
    append_run(store, 9, 1).await;
    let hashes = stored_hashes(store).await;
    let (old, _) = old_rows_and_run(&hashes, 0);
    db.set_rows(&old).await;
    for (i, n) in [4, 1, 8].iter().enumerate() {
        append_run(store, *n, 2 + i).await;
    }
    assert_eq!(db.rows().await.len(), 15 + 3);
    assert_tree_matches(store).await;
    let report = jishi_ledger::verify_with_proofs(store, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");

    // Per-leaf rows for leaves 0..7, then one run for 7..28 (odd places).
    let hashes = stored_hashes(store).await;
    let (per_leaf, _) = old_rows_and_run(&hashes, 0);
    let mut mixed = per_leaf[..7].to_vec();
    mixed.push(old_rows_and_run(&hashes, 7).1);
    db.set_rows(&mixed).await;
    assert_tree_matches(store).await;
    let report = jishi_ledger::verify_with_proofs(store, &Quiet)
        .await
        .unwrap();
    assert!(report.is_ok(), "{report:?}");
}

/// One byte changed in the segment of a leaf in the middle of a run is a
/// tree fault at that leaf, naming the row; a run cut short (in the middle
/// of a leaf's segment) is reported, and proofs that need it are refused,
/// without a panic.
async fn a_tampered_run_is_found<S: ProofStore>(store: &S, db: Db<'_>) {
    use jishi_ledger::tree::nodes_before;
    append_run(store, 3, 0).await;
    append_run(store, 8, 1).await;
    let rows = db.rows().await;
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![0, 3]);
    let (leaf, run) = rows[1].clone();
    // Leaf 6 (position 7) in the run [3, 11): its leaf hash.
    let mut changed = run.clone();
    changed[32 * nodes_before(3, 6).unwrap() as usize + 5] ^= 0x40;
    db.set_hashes(leaf, &changed).await;
    let report = jishi_ledger::verify_with_proofs(store, &Quiet)
        .await
        .unwrap();
    assert!(report.fault.is_none(), "the chain is intact: {report:?}");
    let fault = report.tree.unwrap().tree_fault.expect("a tree fault");
    assert!(
        fault.starts_with("the stored tree nodes of position 7 differ")
            && fault.contains("level 0, the leaf hash itself")
            && fault.contains("row with leaf = 3"),
        "{fault}"
    );
    // Proofs read the changed node as stored (verify is what checks it).
    assert!(store.inclusion_proof(6, 11).await.is_ok());

    // Cut inside leaf 7's segment (leaves 3, 4, 5, 6 take 7 nodes; leaf 7's
    // is 4 nodes): 9 nodes are no run of leaves from 3.
    assert_eq!(nodes_before(3, 7), Some(7));
    db.set_hashes(leaf, &run[..9 * 32]).await;
    let report = jishi_ledger::verify_with_proofs(store, &Quiet)
        .await
        .unwrap();
    let fault = report.tree.unwrap().tree_fault.expect("a tree fault");
    assert!(
        fault.contains("the tree_nodes row with leaf = 3 is 288 bytes")
            && fault.contains("cut short or padded"),
        "{fault}"
    );
    // Proofs that need a node in the cut part (leaf 7's levels 2 and 3) or
    // past it (leaves 8 to 10) are refused, naming the row.
    for (leaf_index, size) in [(0, 8), (9, 11), (10, 11)] {
        match store.inclusion_proof(leaf_index, size).await {
            Err(ProofError::Store(e)) => {
                assert!(e.to_string().contains("row with leaf = 3"), "{e}")
            }
            other => panic!("inclusion of {leaf_index} in {size}: {other:?}"),
        }
    }
    for first in 0..=11 {
        // Answers (some refused), never panics.
        let _ = store.consistency_proof(first, 11).await;
        let _ = store.tree_root(first).await;
    }
}

#[test]
fn sqlite_one_row_per_transaction() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(one_row_per_transaction(&store, Db::Sqlite(&fx.path)));
}

#[test]
fn sqlite_old_per_leaf_rows_and_new_runs() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(old_per_leaf_rows_and_new_runs(&store, Db::Sqlite(&fx.path)));
}

#[test]
fn sqlite_a_tampered_run_is_found() {
    let fx = common::sqlite();
    let store = SqliteStore::open(&fx.path).unwrap();
    rt().block_on(a_tampered_run_is_found(&store, Db::Sqlite(&fx.path)));
}

/// A catch-up of more than RUN_MAX_LEAVES events writes bounded runs.
#[test]
fn sqlite_a_long_catch_up_writes_bounded_runs() {
    let fx = common::sqlite();
    rt().block_on(async {
        let off = SqliteStore::open(&fx.path).unwrap().with_tree(false);
        for i in 0..5 {
            off.append_batch(vec![common::request(
                &format!("s/{i}"),
                ExpectedVersion::Any,
                500,
            )])
            .await
            .unwrap();
        }
        let on = SqliteStore::open(&fx.path).unwrap();
        assert_eq!(on.tree_size().await.unwrap(), 2500);
        let keys: Vec<i64> = Db::Sqlite(&fx.path)
            .rows()
            .await
            .iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(keys, (0..40).map(|i| 64 * i).collect::<Vec<i64>>());
        let report = jishi_ledger::verify_with_proofs(&on, &Quiet).await.unwrap();
        assert!(report.is_ok(), "{report:?}");
        let hashes = stored_hashes(&on).await;
        let root = merkle_tree_hash(&hashes);
        for leaf in [0u64, 63, 64, 1023, 1024, 1500, 2047, 2048, 2495, 2496, 2499] {
            on.inclusion_proof(leaf, 2500)
                .await
                .unwrap()
                .verify(&hashes[leaf as usize], &root)
                .unwrap();
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_one_row_per_transaction() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    one_row_per_transaction(&fx.pg, Db::Pg(&fx.schema)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_old_per_leaf_rows_and_new_runs() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    old_per_leaf_rows_and_new_runs(&fx.pg, Db::Pg(&fx.schema)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_tampered_run_is_found() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    a_tampered_run_is_found(&fx.pg, Db::Pg(&fx.schema)).await;
}
