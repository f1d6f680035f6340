//! The Merkle tree and checkpoints in the SQLite file (schema version 2):
//! [`ProofStore`] for [`SqliteStore`], and the few functions the append
//! transaction calls.
//!
//! Layout (migrations/sqlite/0002_tree.sql, docs/FORMAT-merkle.md §7.1): one
//! `tree_nodes` row per append transaction, keyed by its first leaf and
//! holding the nodes each of its leaves completed (a run; rows written one
//! per leaf by older jishi are runs of one), one `tree_state` row with the
//! frontier, one `checkpoints` row per signed or cosigned note. A child
//! module of `sqlite` so that it shares the connection helpers; the
//! PostgreSQL store mirrors these functions one for one.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{
    blocking, bytes, db_err, int, lock, read_head, stored_row, text, SqliteStore, COLUMNS,
};
use crate::checkpoint::Checkpoint;
use crate::merkle::{self, ConsistencyProof, Frontier, InclusionProof, NodeSource};
use crate::note::Note;
use crate::prepare::format_recorded_at;
use crate::store::StoreError;
use crate::tree::{
    missing_node, node_in_run, node_location, LeafAdmission, NewRuns, ProofError, ProofStore,
    StoredCheckpoint, StoredRun, RUN_MAX_LEAVES,
};
use crate::Digest;

fn corrupt(position: u64, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        position: i64::try_from(position).unwrap_or(i64::MAX),
        reason: reason.into(),
    }
}

/// The stored frontier; the empty tree when no event was ever appended.
pub(super) fn load_frontier(conn: &Connection) -> Result<Frontier, StoreError> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached("SELECT frontier FROM tree_state WHERE id = 1")
        .map_err(db_err)?
        .query_row([], |r| bytes(r, 0))
        .optional()
        .map_err(db_err)?;
    match blob {
        None => Ok(Frontier::new()),
        Some(b) => Frontier::from_bytes(&b).map_err(|e| {
            StoreError::Schema(format!(
                "the stored tree frontier cannot be read: {e} (run `jishi verify`)"
            ))
        }),
    }
}

fn save_frontier(conn: &Connection, f: &Frontier) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO tree_state (id, frontier) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET frontier = excluded.frontier",
    )
    .map_err(db_err)?
    .execute([f.to_bytes()])
    .map_err(db_err)?;
    Ok(())
}

/// What the rows after leaf `size` must be attested by (see
/// [`crate::tree::Attested`]).
fn attested(conn: &Connection, size: u64) -> Result<Option<crate::tree::Attested>, StoreError> {
    let any: i64 = conn
        .query_row(crate::tree::ANY_ATTESTATION, [], |r| r.get(0))
        .map_err(db_err)?;
    if any == 0 {
        return Ok(None);
    }
    let sql = crate::tree::ATTESTATIONS_AFTER.replace("$1", "?1");
    let mut st = conn.prepare(&sql).map_err(db_err)?;
    let groups = st
        .query_map([size as i64], |r| {
            Ok(crate::attest::Attestation {
                first_position: r.get(0)?,
                last_position: r.get(1)?,
                key_name: r.get(2)?,
                key_id: r.get(3)?,
                signature: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
        .map_err(db_err)?;
    let sql = crate::tree::KEY_EVENTS_UPTO.replace("$1", "?1");
    let mut st = conn.prepare(&sql).map_err(db_err)?;
    let keys = st
        .query_map([size as i64], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .and_then(|rows| rows.collect::<Result<Vec<(String, String, i64)>, _>>())
        .map_err(db_err)?;
    Ok(Some(crate::tree::Attested::of(groups, &keys)))
}

/// Writes the rows of `runs` (taken, so that the next leaf starts a run).
fn write_runs(conn: &Connection, runs: &mut NewRuns) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached("INSERT INTO tree_nodes (leaf, hashes) VALUES (?1, ?2)")
        .map_err(db_err)?;
    for run in runs.take() {
        let leaf = i64::try_from(run.leaf).map_err(|_| {
            StoreError::Schema("the Merkle tree cannot grow past 2^63 leaves".into())
        })?;
        stmt.execute(params![leaf, run.hashes]).map_err(db_err)?;
    }
    Ok(())
}

/// Adds the leaves of events `(f.size(), upto]` from their stored rows: a
/// ledger created before schema version 2, or appended to with tree
/// maintenance off, gets its tree here, in rows of [`RUN_MAX_LEAVES`]
/// leaves, each written once full so that memory stays bounded. Each row is
/// checked first ([`LeafAdmission`]); the first one that fails stops the
/// catch-up with its position and reason, and the caller's transaction,
/// which holds whatever was written, is rolled back.
fn catch_up(conn: &Connection, f: &mut Frontier, upto: u64) -> Result<(), StoreError> {
    let size = f.size();
    let last = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE position = ?1"))
        .map_err(db_err)?
        .query_row([size as i64], stored_row)
        .optional()
        .map_err(db_err)?;
    let mut admission = LeafAdmission::new(size, last.as_ref()).attested(attested(conn, size)?);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT {COLUMNS} FROM events WHERE position > ?1 AND position <= ?2 ORDER BY position"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map(params![size as i64, upto as i64], stored_row)
        .map_err(db_err)?;
    let mut runs = NewRuns::default();
    for row in rows {
        let row = row.map_err(db_err)?;
        let hash = admission.admit(&row)?;
        runs.push(f, &hash)?;
        if runs.last_run_leaves() >= RUN_MAX_LEAVES {
            write_runs(conn, &mut runs)?;
        }
    }
    write_runs(conn, &mut runs)?;
    if f.size() != upto {
        return Err(corrupt(
            f.size() + 1,
            "the row is missing, so the tree cannot be built past it",
        ));
    }
    Ok(())
}

/// Called in the append transaction after the events were inserted:
/// `head_before` is the position the transaction started from and `hashes`
/// the hashes it inserted, in order. Extends the tree and the frontier in the
/// same transaction, so both commit with the events or not at all.
pub(super) fn extend(
    conn: &Connection,
    head_before: u64,
    hashes: &[Digest],
) -> Result<(), StoreError> {
    let mut f = load_frontier(conn)?;
    crate::tree::refuse_tree_ahead(f.size(), head_before)?;
    if f.size() < head_before {
        catch_up(conn, &mut f, head_before)?;
    }
    // One run for the transaction's leaves (cut only past RUN_MAX_LEAVES).
    write_runs(conn, &mut NewRuns::of(&mut f, hashes)?)?;
    save_frontier(conn, &f)
}

/// Brings the tree up to the head when it lags (see [`catch_up`]); does
/// nothing when the tree is current, and leaves a tree that is *ahead* of the
/// events alone, for `jishi verify` to report.
pub(super) fn catch_up_to_head(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    // An unreadable head or frontier is left for `jishi verify` to report:
    // refusing to open would stop the very command that explains what is wrong.
    let head = match read_head(&tx) {
        Ok(h) => h.map_or(0, |h| h.position),
        Err(StoreError::Corrupt { .. }) => return Ok(()),
        Err(e) => return Err(e),
    };
    let Ok(mut f) = load_frontier(&tx) else {
        return Ok(());
    };
    if f.size() < head {
        // Likewise a ledger whose rows cannot be made into leaves, or that
        // the tree must not adopt: the transaction rolls back (the tree stays
        // as it was), reads go on, appends are refused (`extend` runs the
        // same catch-up), and verify names the row (D62).
        if let Err(e) = catch_up(&tx, &mut f, head).and_then(|()| save_frontier(&tx, &f)) {
            tracing::warn!("the Merkle tree could not be brought up to the head: {e}");
            return Ok(());
        }
    }
    tx.commit().map_err(db_err)
}

/// [`NodeSource`] over the `tree_nodes` table: each node is read from the
/// row whose run holds its leaf, the one with the greatest first leaf at or
/// before it.
struct Nodes<'a>(&'a Connection);

impl NodeSource for Nodes<'_> {
    type Error = StoreError;
    fn node(&self, level: u32, index: u64) -> Result<Digest, StoreError> {
        let missing = || missing_node(level, index, None);
        let (leaf, _) = node_location(level, index).ok_or_else(missing)?;
        let key = i64::try_from(leaf).map_err(|_| missing())?;
        let row: Option<(i64, Vec<u8>)> = self
            .0
            .prepare_cached(
                "SELECT leaf, hashes FROM tree_nodes WHERE leaf <= ?1 AND leaf >= 0 \
                 ORDER BY leaf DESC LIMIT 1",
            )
            .map_err(db_err)?
            .query_row([key], |r| Ok((int(r, 0)?, bytes(r, 1)?)))
            .optional()
            .map_err(db_err)?;
        let (first, hashes) = row.ok_or_else(missing)?;
        // `leaf >= 0` above.
        let first = u64::try_from(first).unwrap_or_default();
        node_in_run(first, &hashes, leaf, level)
            .map_err(|why| missing_node(level, index, Some(&why)))
    }
}

fn within_tree(conn: &Connection, size: u64) -> Result<Frontier, ProofError> {
    let f = load_frontier(conn)?;
    if size > f.size() {
        return Err(ProofError::BeyondTree {
            requested: size,
            size: f.size(),
        });
    }
    Ok(f)
}

fn tree_root(conn: &Connection, size: u64) -> Result<Digest, ProofError> {
    let f = within_tree(conn, size)?;
    if size == f.size() {
        return Ok(f.root());
    }
    Ok(merkle::root_at(&Nodes(conn), size)?)
}

fn checkpoint_row(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(i64, String, i64, Vec<u8>, String, String)> {
    Ok((
        int(r, 0)?,
        text(r, 1)?,
        int(r, 2)?,
        bytes(r, 3)?,
        text(r, 4)?,
        text(r, 5)?,
    ))
}

fn to_stored(
    (id, origin, size, root, note, recorded_at): (i64, String, i64, Vec<u8>, String, String),
) -> Result<StoredCheckpoint, StoreError> {
    let bad = |what: &str| {
        StoreError::Schema(format!(
            "stored checkpoint #{id} cannot be read: {what} (run `jishi verify`)"
        ))
    };
    Ok(StoredCheckpoint {
        id: u64::try_from(id).map_err(|_| bad("negative id"))?,
        origin,
        size: u64::try_from(size).map_err(|_| bad("negative size"))?,
        root: Digest::from_slice(&root).ok_or_else(|| bad("root is not 32 bytes"))?,
        note,
        recorded_at,
    })
}

const CHECKPOINT_COLUMNS: &str = "id, origin, size, root, note, recorded_at";

fn latest(conn: &Connection) -> Result<Option<StoredCheckpoint>, StoreError> {
    conn.query_row(
        &format!("SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id DESC LIMIT 1"),
        [],
        checkpoint_row,
    )
    .optional()
    .map_err(db_err)?
    .map(to_stored)
    .transpose()
}

fn save_checkpoint(
    conn: &mut Connection,
    note: &str,
    now: &str,
) -> Result<StoredCheckpoint, ProofError> {
    let parsed = Note::parse(note)?;
    let cp = Checkpoint::from_body(parsed.text())?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_err)?;
    let ledger_root = tree_root(&tx, cp.size)?;
    if ledger_root != cp.root {
        return Err(ProofError::RootMismatch {
            size: cp.size,
            note_root: cp.root,
            ledger_root,
        });
    }
    if let Some(last) = latest(&tx)? {
        if last.origin != cp.origin {
            return Err(ProofError::OriginMismatch {
                expected: last.origin,
                got: cp.origin,
            });
        }
    }
    tx.execute(
        "INSERT INTO checkpoints (origin, size, root, note, recorded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![cp.origin, cp.size as i64, &cp.root.0[..], note, now],
    )
    .map_err(db_err)?;
    let id = tx.last_insert_rowid();
    tx.commit().map_err(db_err)?;
    Ok(StoredCheckpoint {
        id: id as u64,
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        note: note.to_string(),
        recorded_at: now.to_string(),
    })
}

#[async_trait]
impl ProofStore for SqliteStore {
    async fn frontier(&self) -> Result<Frontier, StoreError> {
        self.with_reader(load_frontier).await
    }

    async fn tree_root(&self, size: u64) -> Result<Digest, ProofError> {
        self.with_reader(move |conn| Ok(tree_root(conn, size)))
            .await?
    }

    async fn inclusion_proof(
        &self,
        leaf_index: u64,
        tree_size: u64,
    ) -> Result<InclusionProof, ProofError> {
        self.with_reader(move |conn| {
            Ok(within_tree(conn, tree_size).and_then(|_| {
                merkle::prove_inclusion(&Nodes(conn), leaf_index, tree_size)
                    .map_err(ProofError::from_prove)
            }))
        })
        .await?
    }

    async fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProof, ProofError> {
        self.with_reader(move |conn| {
            Ok(within_tree(conn, second).and_then(|_| {
                merkle::prove_consistency(&Nodes(conn), first, second)
                    .map_err(ProofError::from_prove)
            }))
        })
        .await?
    }

    async fn read_tree_rows(
        &self,
        from_leaf: u64,
        limit: usize,
    ) -> Result<Vec<StoredRun>, StoreError> {
        let from = i64::try_from(from_leaf).unwrap_or(i64::MAX);
        let upto = from.saturating_add(i64::try_from(limit).unwrap_or(i64::MAX));
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT leaf, hashes FROM tree_nodes WHERE leaf >= COALESCE((SELECT leaf \
                     FROM tree_nodes WHERE leaf <= ?1 AND leaf >= 0 ORDER BY leaf DESC LIMIT 1), \
                     ?1) AND leaf < ?2 ORDER BY leaf",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map(params![from, upto], |r| Ok((int(r, 0)?, bytes(r, 1)?)))
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(rows
                .into_iter()
                .filter_map(|(leaf, hashes)| {
                    // Only keys from a non-negative one are read.
                    let leaf = u64::try_from(leaf).ok()?;
                    Some(StoredRun { leaf, hashes })
                })
                .collect())
        })
        .await
    }

    async fn save_checkpoint(&self, note: &str) -> Result<StoredCheckpoint, ProofError> {
        let note = note.to_string();
        let now = format_recorded_at(self.clock.now());
        let writer = self.writer.clone();
        blocking(move || save_checkpoint(&mut *lock(&writer)?, &note, &now)).await?
    }

    async fn checkpoints(&self) -> Result<Vec<StoredCheckpoint>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT {CHECKPOINT_COLUMNS} FROM checkpoints ORDER BY id"
                ))
                .map_err(db_err)?;
            let rows = stmt
                .query_map([], checkpoint_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            rows.into_iter().map(to_stored).collect()
        })
        .await
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        self.with_reader(latest).await
    }
}
