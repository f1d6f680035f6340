//! The Merkle tree and checkpoints in the PostgreSQL schema (version 4):
//! [`ProofStore`] for [`PostgresStore`], and the few functions the writer's
//! append transaction calls.
//!
//! Layout (migrations/postgres/0004_tree.sql, docs/FORMAT-merkle.md §7.1),
//! identical to SQLite's: one `tree_nodes` row per append transaction, keyed
//! by its first leaf and holding the nodes each of its leaves completed (a
//! run; rows written one per leaf by older jishi are runs of one), one
//! `tree_state` row with the frontier, one `checkpoints` row per signed or
//! cosigned note. One row per transaction rather than per leaf because each
//! row costs a heap tuple and a primary-key entry (DECISIONS.md D38). The
//! functions mirror `sqlite/tree.rs` one for one.
//!
//! Proof generation ([`merkle::prove_inclusion`] and friends) reads nodes
//! through the synchronous [`NodeSource`], while the driver is async. Which
//! nodes a proof asks for depends only on the leaf index and the tree sizes
//! (the recursions in `merkle.rs` branch on `lo`, `hi`, `m` and the split
//! point, never on a hash), so a proof is made twice: once against a source
//! that records the addresses asked for and answers placeholders, then, after
//! one query fetched the rows holding them (for each, the row with the
//! greatest first leaf at or before its leaf), against the fetched rows. Two
//! round trips per proof, whatever its length.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

use super::reads::{bytes, int, read_head, stored_row, text};
use super::sql::COLUMNS;
use super::{pg, pool_err, to_i64, PostgresStore, INSERT_CHUNK};
use crate::checkpoint::Checkpoint;
use crate::merkle::{self, ConsistencyProof, Frontier, InclusionProof, NodeSource};
use crate::note::Note;
use crate::prepare::format_recorded_at;
use crate::store::StoreError;
use crate::tree::{
    missing_node, node_in_run, node_location, LeafAdmission, NewRuns, ProofError, ProofStore,
    StoredCheckpoint, StoredRun,
};
use crate::Digest;

/// High 32 bits of the bigint advisory-lock key that serialises storing
/// checkpoints (the origin check reads the last one, then inserts); the low
/// 32 bits are the checkpoints table's oid.
const CHECKPOINT_LOCK_PREFIX: i64 = 0x6A69_7363 << 32;

/// Event rows read per query when the tree catches up with the events
/// (whole rows, payloads included, since each is checked before it becomes
/// a leaf).
const CATCH_UP_PAGE: i64 = 1024;

fn corrupt(position: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        position: i64::try_from(position).unwrap_or(i64::MAX),
        reason: reason.into(),
    }
}

/// Reads the frontier from the `frontier` column's value (`None`: no row,
/// the empty tree, as before the first append).
pub(super) fn parse_frontier(blob: Option<Vec<u8>>) -> Result<Frontier, StoreError> {
    match blob {
        None => Ok(Frontier::new()),
        Some(b) => Frontier::from_bytes(&b).map_err(|e| {
            StoreError::Schema(format!(
                "the stored tree frontier cannot be read: {e} (run `jishi verify`)"
            ))
        }),
    }
}

/// The query that reads the frontier row; the append transaction pipelines
/// it with its other reads under the head lock.
pub(super) const FRONTIER_QUERY: &str = "SELECT frontier FROM tree_state WHERE id = 1";

/// The `frontier` column of the row [`FRONTIER_QUERY`] returned.
pub(super) fn frontier_blob(row: Option<&Row>) -> Result<Option<Vec<u8>>, StoreError> {
    row.map(|r| bytes(r, 0))
        .transpose()
        .map_err(pg("reading the tree frontier"))
}

/// The stored frontier; the empty tree when no event was ever appended.
async fn load_frontier<C: GenericClient>(client: &C) -> Result<Frontier, StoreError> {
    let row = client
        .query_opt(FRONTIER_QUERY, &[])
        .await
        .map_err(pg("reading the tree frontier"))?;
    parse_frontier(frontier_blob(row.as_ref())?)
}

async fn save_frontier<C: GenericClient>(client: &C, f: &Frontier) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO tree_state (id, frontier) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET frontier = excluded.frontier",
            &[&f.to_bytes()],
        )
        .await
        .map_err(pg("saving the tree frontier"))?;
    Ok(())
}

/// `tree_nodes` rows not yet written: the runs' first leaves and their
/// nodes, as the arrays the INSERTs bind.
#[derive(Default)]
struct PendingNodes {
    leaves: Vec<i64>,
    hashes: Vec<Vec<u8>>,
}

impl PendingNodes {
    /// The rows of `runs` (taken, so that the next leaf starts a run).
    fn add(&mut self, runs: &mut NewRuns) {
        for run in runs.take() {
            self.leaves.push(to_i64(run.leaf));
            self.hashes.push(run.hashes);
        }
    }

    /// Writes the rows with one multi-row INSERT per few thousand runs.
    async fn write<C: GenericClient>(&mut self, client: &C) -> Result<(), StoreError> {
        let what = "inserting tree nodes";
        if self.leaves.is_empty() {
            return Ok(());
        }
        let stmt = client
            .prepare_cached(
                "INSERT INTO tree_nodes (leaf, hashes) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[])",
            )
            .await
            .map_err(pg(what))?;
        for (leaves, hashes) in self
            .leaves
            .chunks(INSERT_CHUNK)
            .zip(self.hashes.chunks(INSERT_CHUNK))
        {
            let params: [&(dyn ToSql + Sync); 2] = [&leaves, &hashes];
            client.execute(&stmt, &params).await.map_err(pg(what))?;
        }
        self.leaves.clear();
        self.hashes.clear();
        Ok(())
    }

    /// Writes the rows and the frontier `f`. In the usual case (one append
    /// transaction's runs fit in one chunk) that is a single statement, so
    /// the tree costs one round trip inside the serialised section.
    async fn write_with_frontier<C: GenericClient>(
        &mut self,
        client: &C,
        f: &Frontier,
    ) -> Result<(), StoreError> {
        if self.leaves.is_empty() || self.leaves.len() > INSERT_CHUNK {
            self.write(client).await?;
            return save_frontier(client, f).await;
        }
        let what = "inserting tree nodes and the frontier";
        let stmt = client
            .prepare_cached(
                "WITH nodes AS (INSERT INTO tree_nodes (leaf, hashes) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[])) \
                 INSERT INTO tree_state (id, frontier) VALUES (1, $3) \
                 ON CONFLICT (id) DO UPDATE SET frontier = excluded.frontier",
            )
            .await
            .map_err(pg(what))?;
        let frontier = f.to_bytes();
        let params: [&(dyn ToSql + Sync); 3] = [&self.leaves, &self.hashes, &frontier];
        client.execute(&stmt, &params).await.map_err(pg(what))?;
        self.leaves.clear();
        self.hashes.clear();
        Ok(())
    }
}

/// Adds the leaves of events `(f.size(), upto]` from their stored rows,
/// page by page, in rows of at most [`crate::tree::RUN_MAX_LEAVES`] leaves
/// (a page's rows are written before the next page is read): a ledger
/// created before schema version 4 gets its tree here. Each row is checked
/// first ([`LeafAdmission`]); the first one that fails stops the catch-up
/// with its position and reason, and the caller's transaction, which holds
/// whatever was written, is rolled back.
async fn catch_up<C: GenericClient>(
    client: &C,
    f: &mut Frontier,
    upto: u64,
) -> Result<(), StoreError> {
    let what = "reading events for the Merkle tree";
    let last = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM events WHERE position = $1"),
            &[&to_i64(f.size())],
        )
        .await
        .map_err(pg(what))?
        .map(|r| stored_row(&r))
        .transpose()
        .map_err(pg(what))?;
    let mut admission =
        LeafAdmission::new(f.size(), last.as_ref()).attested(attested(client, f.size()).await?);
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE position > $1 AND position <= $2 \
             ORDER BY position LIMIT $3"
        ))
        .await
        .map_err(pg(what))?;
    while f.size() < upto {
        let rows = client
            .query(&stmt, &[&to_i64(f.size()), &to_i64(upto), &CATCH_UP_PAGE])
            .await
            .map_err(pg(what))?;
        if rows.is_empty() {
            break;
        }
        let mut runs = NewRuns::default();
        for r in &rows {
            let hash = admission.admit(&stored_row(r).map_err(pg(what))?)?;
            runs.push(f, &hash)?;
        }
        let mut pending = PendingNodes::default();
        pending.add(&mut runs);
        pending.write(client).await?;
    }
    if f.size() != upto {
        return Err(corrupt(
            f.size() + 1,
            "the row is missing, so the tree cannot be built past it",
        ));
    }
    Ok(())
}

/// Called in the writer's append transaction, under the head lock, after the
/// events were inserted: `frontier` is the frontier row read under the lock,
/// `head_before` the position the transaction started from and `hashes` the
/// hashes it inserted, in position order. Extends the tree and the frontier
/// in the same transaction, so both commit with the events or not at all.
pub(super) async fn extend<C: GenericClient>(
    client: &C,
    frontier: Option<Vec<u8>>,
    head_before: u64,
    hashes: &[Digest],
) -> Result<(), StoreError> {
    let mut f = parse_frontier(frontier)?;
    crate::tree::refuse_tree_ahead(f.size(), head_before)?;
    if f.size() < head_before {
        catch_up(client, &mut f, head_before).await?;
    }
    let mut pending = PendingNodes::default();
    pending.add(&mut NewRuns::of(&mut f, hashes)?);
    pending.write_with_frontier(client, &f).await
}

/// The tree's rows for one append transaction, computed but not yet written:
/// the append transaction writes them in the same statement as its events
/// (see `WRITE_GROUP` in `postgres.rs`).
pub(super) struct Extension {
    /// The first leaves of the new `tree_nodes` rows: one run for the
    /// transaction (more only past `RUN_MAX_LEAVES` leaves).
    pub(super) leaves: Vec<i64>,
    /// Their `hashes` column, one entry per run.
    pub(super) nodes: Vec<Vec<u8>>,
    /// The frontier after the new leaves, for `tree_state`.
    pub(super) frontier: Vec<u8>,
}

/// Like [`extend`], but returns the rows instead of writing them, so that the
/// caller can send them with the events in one statement. A tree that lags
/// the events is caught up here first (written at once, in the caller's
/// transaction): only the new leaves are left for the caller to write.
pub(super) async fn extension<C: GenericClient>(
    client: &C,
    frontier: Option<Vec<u8>>,
    head_before: u64,
    hashes: &[Digest],
) -> Result<Extension, StoreError> {
    let mut f = parse_frontier(frontier)?;
    crate::tree::refuse_tree_ahead(f.size(), head_before)?;
    if f.size() < head_before {
        catch_up(client, &mut f, head_before).await?;
    }
    grow(f, hashes)
}

/// [`extension`] without a database: `None` when the frontier is not the
/// tree of exactly `head_before` events (it would need catching up, or is
/// ahead), for the caller to take the path that reads and checks.
pub(super) fn extension_of(
    frontier: Option<Vec<u8>>,
    head_before: u64,
    hashes: &[Digest],
) -> Result<Option<Extension>, StoreError> {
    let f = parse_frontier(frontier)?;
    if f.size() != head_before {
        return Ok(None);
    }
    grow(f, hashes).map(Some)
}

fn grow(mut f: Frontier, hashes: &[Digest]) -> Result<Extension, StoreError> {
    let mut pending = PendingNodes::default();
    pending.add(&mut NewRuns::of(&mut f, hashes)?);
    Ok(Extension {
        leaves: pending.leaves,
        nodes: pending.hashes,
        frontier: f.to_bytes(),
    })
}

/// What the rows after leaf `size` must be attested by (see
/// [`crate::tree::Attested`]).
async fn attested<C: GenericClient>(
    client: &C,
    size: u64,
) -> Result<Option<crate::tree::Attested>, StoreError> {
    let what = "reading the attestations";
    let any: i64 = client
        .query_one(crate::tree::ANY_ATTESTATION, &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg(what))?;
    if any == 0 {
        return Ok(None);
    }
    let groups = client
        .query(crate::tree::ATTESTATIONS_AFTER, &[&to_i64(size)])
        .await
        .map_err(pg(what))?
        .iter()
        .map(|r| {
            Ok(crate::attest::Attestation {
                first_position: r.try_get(0)?,
                last_position: r.try_get(1)?,
                key_name: r.try_get(2)?,
                key_id: r.try_get(3)?,
                signature: r.try_get(4)?,
            })
        })
        .collect::<Result<Vec<_>, tokio_postgres::Error>>()
        .map_err(pg(what))?;
    let keys = client
        .query(crate::tree::KEY_EVENTS_UPTO, &[&to_i64(size)])
        .await
        .map_err(pg(what))?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect::<Result<Vec<(String, String, i64)>, tokio_postgres::Error>>()
        .map_err(pg(what))?;
    Ok(Some(crate::tree::Attested::of(groups, &keys)))
}

/// Brings the tree up to the head when it lags (see [`catch_up`]), under the
/// append lock so that no append runs meanwhile; does nothing when the tree
/// is current, and leaves a tree that is *ahead* of the events alone, for
/// `jishi verify` to report.
pub(super) async fn catch_up_to_head(
    client: &mut deadpool_postgres::Client,
    lock_key: i64,
) -> Result<(), StoreError> {
    let tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .await
        .map_err(pg("starting the tree catch-up"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&lock_key])
        .await
        .map_err(pg("taking the ledger head lock"))?;
    // An unreadable head or frontier is left for `jishi verify` to report:
    // refusing to open would stop the very command that explains what is wrong.
    let head = match read_head(&*tx).await {
        Ok(h) => h.map_or(0, |h| h.position),
        Err(StoreError::Corrupt { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Ok(mut f) = load_frontier(&tx).await else {
        return Ok(());
    };
    if f.size() >= head {
        return Ok(());
    }
    // Likewise a ledger whose rows cannot be made into leaves, or that the
    // tree must not adopt: the transaction rolls back (the tree stays as it
    // was), reads go on, appends are refused (`extension` runs the same
    // catch-up), and verify names the row (D62).
    let caught = match catch_up(&tx, &mut f, head).await {
        Ok(()) => save_frontier(&tx, &f).await,
        Err(e) => Err(e),
    };
    if let Err(e) = caught {
        tracing::warn!("the Merkle tree could not be brought up to the head: {e}");
        return Ok(());
    }
    tx.commit()
        .await
        .map_err(pg("committing the tree catch-up"))
}

/// A [`NodeSource`] in one of two modes: recording (answers placeholders and
/// notes the leaves whose segments hold the nodes asked for) or serving the
/// rows fetched since, keyed by their run's first leaf.
struct FetchedNodes {
    rows: Option<BTreeMap<u64, Vec<u8>>>,
    asked: Mutex<Vec<u64>>,
}

impl FetchedNodes {
    fn recording() -> FetchedNodes {
        FetchedNodes {
            rows: None,
            asked: Mutex::new(Vec::new()),
        }
    }

    /// The distinct leaves asked for while recording.
    fn asked(self) -> Vec<i64> {
        let mut leaves: Vec<i64> = self
            .asked
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .into_iter()
            .map(to_i64)
            .collect();
        leaves.sort_unstable();
        leaves.dedup();
        leaves
    }
}

impl NodeSource for FetchedNodes {
    type Error = StoreError;
    fn node(&self, level: u32, index: u64) -> Result<Digest, StoreError> {
        let missing = || missing_node(level, index, None);
        let (leaf, _) = node_location(level, index).ok_or_else(missing)?;
        match &self.rows {
            None => {
                self.asked
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(leaf);
                Ok(Digest::ZERO)
            }
            // The fetched rows include, for each leaf asked, the row with
            // the greatest first leaf at or before it, so the greatest
            // fetched one at or before it is that row.
            Some(rows) => {
                let (first, hashes) = rows.range(..=leaf).next_back().ok_or_else(missing)?;
                node_in_run(*first, hashes, leaf, level)
                    .map_err(|why| missing_node(level, index, Some(&why)))
            }
        }
    }
}

/// Runs `make` (a proof or root computation over a [`NodeSource`]) on the
/// stored nodes: a recording pass, one query for the rows holding the leaves
/// it named (for each, the row with the greatest first leaf at or before
/// it), and the real pass. Errors that do not depend on node values (a
/// position out of range) come out of the first pass, before any query.
async fn with_nodes<C, T, F>(client: &C, make: F) -> Result<T, ProofError>
where
    C: GenericClient,
    F: Fn(&FetchedNodes) -> Result<T, ProofError> + Send,
{
    let what = "reading tree nodes";
    let leaves = {
        let recorder = FetchedNodes::recording();
        make(&recorder)?;
        recorder.asked()
    };
    let mut rows = BTreeMap::new();
    if !leaves.is_empty() {
        let stmt = client
            .prepare_cached(
                "SELECT DISTINCT ON (t.leaf) t.leaf, t.hashes FROM unnest($1::bigint[]) AS q(l) \
                 CROSS JOIN LATERAL (SELECT leaf, hashes FROM tree_nodes \
                 WHERE leaf <= q.l AND leaf >= 0 ORDER BY leaf DESC LIMIT 1) AS t \
                 ORDER BY t.leaf",
            )
            .await
            .map_err(pg(what))?;
        for r in client.query(&stmt, &[&leaves]).await.map_err(pg(what))? {
            let leaf = int(&r, 0).map_err(pg(what))?;
            let hashes = bytes(&r, 1).map_err(pg(what))?;
            if let Ok(leaf) = u64::try_from(leaf) {
                rows.insert(leaf, hashes);
            }
        }
    }
    make(&FetchedNodes {
        rows: Some(rows),
        asked: Mutex::new(Vec::new()),
    })
}

async fn within_tree<C: GenericClient>(client: &C, size: u64) -> Result<Frontier, ProofError> {
    let f = load_frontier(client).await?;
    if size > f.size() {
        return Err(ProofError::BeyondTree {
            requested: size,
            size: f.size(),
        });
    }
    Ok(f)
}

async fn tree_root<C: GenericClient>(client: &C, size: u64) -> Result<Digest, ProofError> {
    let f = within_tree(client, size).await?;
    if size == f.size() {
        return Ok(f.root());
    }
    with_nodes(client, |src| Ok(merkle::root_at(src, size)?)).await
}

const CHECKPOINT_COLUMNS: &str = "id, origin, size, root, note, recorded_at";

fn to_stored(r: &Row) -> Result<StoredCheckpoint, StoreError> {
    let what = "reading checkpoints";
    let id = int(r, 0).map_err(pg(what))?;
    let bad = |why: &str| {
        StoreError::Schema(format!(
            "stored checkpoint #{id} cannot be read: {why} (run `jishi verify`)"
        ))
    };
    Ok(StoredCheckpoint {
        id: u64::try_from(id).map_err(|_| bad("negative id"))?,
        origin: text(r, 1).map_err(pg(what))?,
        size: u64::try_from(int(r, 2).map_err(pg(what))?).map_err(|_| bad("negative size"))?,
        root: Digest::from_slice(&bytes(r, 3).map_err(pg(what))?)
            .ok_or_else(|| bad("root is not 32 bytes"))?,
        note: text(r, 4).map_err(pg(what))?,
        recorded_at: text(r, 5).map_err(pg(what))?,
    })
}

async fn latest<C: GenericClient>(client: &C) -> Result<Option<StoredCheckpoint>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1"),
            &[],
        )
        .await
        .map_err(pg("reading the latest checkpoint"))?
        .as_ref()
        .map(to_stored)
        .transpose()
}

#[async_trait]
impl ProofStore for PostgresStore {
    // Each read is bounded to durable state before it returns (D85): the
    // tree's size is a position, and a root, proof or signed head must not
    // rest on a group that a crash could still take back.
    async fn frontier(&self) -> Result<Frontier, StoreError> {
        let client = self.reader().await?;
        let f = load_frontier(&client).await?;
        self.bounded(&client, f.size()).await?;
        Ok(f)
    }

    async fn tree_root(&self, size: u64) -> Result<Digest, ProofError> {
        let client = self.reader().await?;
        let root = tree_root(&client, size).await?;
        self.bounded(&client, size).await?;
        Ok(root)
    }

    async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError> {
        let client = self.reader().await?;
        within_tree(&client, tree_size).await?;
        let proof = with_nodes(&client, |src| {
            merkle::prove_inclusion(src, leaf_index, tree_size).map_err(ProofError::from_prove)
        })
        .await?;
        self.bounded(&client, tree_size).await?;
        Ok(proof)
    }

    async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        let client = self.reader().await?;
        within_tree(&client, second).await?;
        let proof = with_nodes(&client, |src| {
            merkle::prove_consistency(src, first, second).map_err(ProofError::from_prove)
        })
        .await?;
        self.bounded(&client, second).await?;
        Ok(proof)
    }

    async fn read_tree_rows(
        &self,
        from_leaf: u64,
        limit: usize,
    ) -> Result<Vec<StoredRun>, StoreError> {
        let what = "reading tree nodes";
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(
                "SELECT leaf, hashes FROM tree_nodes WHERE leaf >= COALESCE((SELECT leaf \
                 FROM tree_nodes WHERE leaf <= $1 AND leaf >= 0 ORDER BY leaf DESC LIMIT 1), $1) \
                 AND leaf < $2 ORDER BY leaf",
            )
            .await
            .map_err(pg(what))?;
        let from = to_i64(from_leaf);
        let upto = from.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX));
        let mut runs = Vec::new();
        for r in client
            .query(&stmt, &[&from, &upto])
            .await
            .map_err(pg(what))?
        {
            // Only keys from a non-negative one are read.
            if let Ok(leaf) = u64::try_from(int(&r, 0).map_err(pg(what))?) {
                runs.push(StoredRun {
                    leaf,
                    hashes: bytes(&r, 1).map_err(pg(what))?,
                });
            }
        }
        self.bounded_by_head(&client).await?;
        Ok(runs)
    }

    async fn save_checkpoint(&self, note: &str) -> Result<StoredCheckpoint, ProofError> {
        if let Some(refused) = &self.standby {
            refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(ProofError::Store(super::standby::read_only()));
        }
        let parsed = Note::parse(note)?;
        let cp = Checkpoint::from_body(parsed.text())?;
        let now = format_recorded_at(self.clock.now());
        let mut client = self.pool.get().await.map_err(pool_err)?;
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(pg("starting to store a checkpoint"))?;
        // One checkpoint at a time: the origin check below must see the one
        // stored just before.
        tx.execute(
            "SELECT pg_advisory_xact_lock($1 | 'checkpoints'::regclass::oid::bigint)",
            &[&CHECKPOINT_LOCK_PREFIX],
        )
        .await
        .map_err(pg("taking the checkpoint lock"))?;
        let ledger_root = tree_root(&tx, cp.size).await?;
        if ledger_root != cp.root {
            return Err(ProofError::RootMismatch {
                size: cp.size,
                note_root: cp.root,
                ledger_root,
            });
        }
        if let Some(last) = latest(&tx).await? {
            if last.origin != cp.origin {
                return Err(ProofError::OriginMismatch {
                    expected: last.origin,
                    got: cp.origin,
                });
            }
        }
        let id: i64 = tx
            .query_one(
                "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
                &[&cp.origin, &to_i64(cp.size), &&cp.root.0[..], &note, &now],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg("storing a checkpoint"))?;
        tx.commit().await.map_err(pg("committing a checkpoint"))?;
        Ok(StoredCheckpoint {
            id: u64::try_from(id).unwrap_or(0),
            origin: cp.origin,
            size: cp.size,
            root: cp.root,
            note: note.to_string(),
            recorded_at: now,
        })
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        client
            .query(
                &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id"),
                &[],
            )
            .await
            .map_err(pg("reading checkpoints"))?
            .iter()
            .map(to_stored)
            .collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        latest(&client).await
    }
}
