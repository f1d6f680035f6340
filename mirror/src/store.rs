//! The mirror's durable state: one SQLite file, `DIR/mirror.db`, in WAL
//! mode with `synchronous = FULL`, so that a transaction is on disk when
//! its commit returns. The mirror answers only after the commit: a
//! cosignature is never sent for entries, envelopes or a checkpoint that a
//! crash could take back.
//!
//! - `pending`: every pending checkpoint accepted by `add-checkpoint`, by
//!   origin and size (the spec's "last several pending checkpoints" are all
//!   of them: a row is a few hundred bytes, and no ticket is needed).
//! - `mirrored`: per origin, the mirror checkpoint: the log's note with the
//!   mirror's cosignature, as served.
//! - `entries`: the authenticated entries, by origin and index. They are
//!   contiguous from 0: a package is taken only when the mirror holds every
//!   entry before it.
//! - `envelopes`: for a jishi log, each event's hash input, checked on
//!   arrival, with the fields the next one is checked against.

use std::path::Path;
use std::sync::Mutex;

use jishi_ledger::Digest;
use rusqlite::{params, Connection, OptionalExtension as _};

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS pending (
    origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    PRIMARY KEY (origin, size));
CREATE TABLE IF NOT EXISTS mirrored (
    origin TEXT PRIMARY KEY, size INTEGER NOT NULL, note TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    origin TEXT NOT NULL, idx INTEGER NOT NULL, entry BLOB NOT NULL,
    PRIMARY KEY (origin, idx));
CREATE TABLE IF NOT EXISTS envelopes (
    origin TEXT NOT NULL, idx INTEGER NOT NULL, item BLOB NOT NULL, hash BLOB NOT NULL,
    stream TEXT NOT NULL, stream_version INTEGER NOT NULL, v2 INTEGER NOT NULL,
    PRIMARY KEY (origin, idx));
CREATE INDEX IF NOT EXISTS envelopes_by_stream ON envelopes (origin, stream, idx);
";

/// A storage failure (answered 500; nothing is cosigned).
#[derive(Debug, thiserror::Error)]
#[error("the mirror's store ({0})")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError(e.to_string())
    }
}

/// A pending checkpoint: size, root, and the note as the log signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub size: u64,
    pub root: Digest,
    pub note: String,
}

/// An envelope that passed its checks, to be stored.
#[derive(Debug, Clone)]
pub struct CheckedEnvelope {
    pub index: u64,
    pub item: Vec<u8>,
    pub hash: Digest,
    pub stream: String,
    pub stream_version: u64,
    pub v2: bool,
}

/// The last stored envelope before an index: its hash and form.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeHead {
    pub hash: Digest,
    pub v2: bool,
}

pub struct MirrorStore {
    conn: Mutex<Connection>,
}

fn digest(b: Vec<u8>) -> Result<Digest, StoreError> {
    Digest::from_slice(&b).ok_or_else(|| StoreError("a stored hash is not 32 bytes".into()))
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl MirrorStore {
    pub fn open(path: &Path) -> Result<MirrorStore, StoreError> {
        let conn = Connection::open(path)?;
        conn.execute_batch(SCHEMA)?;
        Ok(MirrorStore {
            conn: Mutex::new(conn),
        })
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut c = self
            .conn
            .lock()
            .map_err(|_| StoreError("a thread panicked holding the store".into()))?;
        f(&mut c)
    }

    fn pending_where(
        &self,
        origin: &str,
        size: Option<u64>,
    ) -> Result<Option<Pending>, StoreError> {
        self.with(|c| {
            let row = match size {
                Some(s) => c
                    .query_row(
                        "SELECT size, root, note FROM pending WHERE origin = ?1 AND size = ?2",
                        params![origin, int(s)],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?)),
                    )
                    .optional()?,
                None => c
                    .query_row(
                        "SELECT size, root, note FROM pending WHERE origin = ?1 \
                         ORDER BY size DESC LIMIT 1",
                        params![origin],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?, r.get(2)?)),
                    )
                    .optional()?,
            };
            row.map(|(size, root, note)| {
                Ok(Pending {
                    size: size as u64,
                    root: digest(root)?,
                    note,
                })
            })
            .transpose()
        })
    }

    /// The latest pending checkpoint of `origin`.
    pub fn latest_pending(&self, origin: &str) -> Result<Option<Pending>, StoreError> {
        self.pending_where(origin, None)
    }

    /// The pending checkpoint of `origin` of this size, if one was accepted.
    pub fn pending_at(&self, origin: &str, size: u64) -> Result<Option<Pending>, StoreError> {
        self.pending_where(origin, Some(size))
    }

    /// Stores a pending checkpoint durably (the same size again is a no-op:
    /// its root was checked equal).
    pub fn insert_pending(&self, origin: &str, p: &Pending) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO pending (origin, size, root, note) VALUES (?1, ?2, ?3, ?4)",
                params![origin, int(p.size), p.root.0.to_vec(), p.note],
            )?;
            Ok(())
        })
    }

    /// The mirror checkpoint of `origin`: its size and the served note.
    pub fn mirrored(&self, origin: &str) -> Result<Option<(u64, String)>, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT size, note FROM mirrored WHERE origin = ?1",
                params![origin],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
        })
    }

    /// Sets the mirror checkpoint, in one transaction, unless it would
    /// rewind: returns false (and changes nothing) if the stored one is
    /// larger.
    pub fn set_mirrored(&self, origin: &str, size: u64, note: &str) -> Result<bool, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let held: Option<i64> = tx
                .query_row(
                    "SELECT size FROM mirrored WHERE origin = ?1",
                    params![origin],
                    |r| r.get(0),
                )
                .optional()?;
            if held.is_some_and(|h| h as u64 > size) {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR REPLACE INTO mirrored (origin, size, note) VALUES (?1, ?2, ?3)",
                params![origin, int(size), note],
            )?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn count(&self, table: &str, origin: &str) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c.query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE origin = ?1"),
                params![origin],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
    }

    /// The mirror's next entry: the first index it does not hold.
    pub fn next_entry(&self, origin: &str) -> Result<u64, StoreError> {
        self.count("entries", origin)
    }

    /// The first index without a stored envelope.
    pub fn next_envelope(&self, origin: &str) -> Result<u64, StoreError> {
        self.count("envelopes", origin)
    }

    fn blobs(
        &self,
        sql: &str,
        origin: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with(|c| {
            let mut st = c.prepare_cached(sql)?;
            let rows = st.query_map(params![origin, int(from), int(to)], |r| r.get(0))?;
            Ok(rows.collect::<Result<Vec<Vec<u8>>, _>>()?)
        })
    }

    /// The stored entries with indexes in `[from, to)`, in order.
    pub fn entries(&self, origin: &str, from: u64, to: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        self.blobs(
            "SELECT entry FROM entries WHERE origin = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            origin,
            from,
            to,
        )
    }

    /// The stored envelopes' hashes with indexes in `[from, to)`, in order.
    pub fn envelope_hashes(
        &self,
        origin: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Digest>, StoreError> {
        self.blobs(
            "SELECT hash FROM envelopes WHERE origin = ?1 AND idx >= ?2 AND idx < ?3 ORDER BY idx",
            origin,
            from,
            to,
        )?
        .into_iter()
        .map(digest)
        .collect()
    }

    /// The stored envelope at `index`, as stored.
    pub fn envelope(&self, origin: &str, index: u64) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT item FROM envelopes WHERE origin = ?1 AND idx = ?2",
                params![origin, int(index)],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// The envelope at `index`: its hash and whether it is of format 3.
    pub fn envelope_head(
        &self,
        origin: &str,
        index: u64,
    ) -> Result<Option<EnvelopeHead>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT hash, v2 FROM envelopes WHERE origin = ?1 AND idx = ?2",
                params![origin, int(index)],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)),
            )
            .optional()?
            .map(|(h, v2)| {
                Ok(EnvelopeHead {
                    hash: digest(h)?,
                    v2: v2 != 0,
                })
            })
            .transpose()
        })
    }

    /// The last stored event of `stream`: its stream version and hash.
    pub fn stream_head(
        &self,
        origin: &str,
        stream: &str,
    ) -> Result<Option<(u64, Digest)>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT stream_version, hash FROM envelopes WHERE origin = ?1 AND stream = ?2 \
                 ORDER BY idx DESC LIMIT 1",
                params![origin, stream],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
            )
            .optional()?
            .map(|(v, h)| Ok((v as u64, digest(h)?)))
            .transpose()
        })
    }

    /// Stores authenticated entries from index `first` in one transaction;
    /// those already held are skipped (they were proved against a
    /// consistent pending checkpoint, so they are the same).
    pub fn commit_entries(
        &self,
        origin: &str,
        first: u64,
        entries: &[Vec<u8>],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT OR IGNORE INTO entries (origin, idx, entry) VALUES (?1, ?2, ?3)",
                )?;
                for (i, e) in entries.iter().enumerate() {
                    st.execute(params![origin, int(first + i as u64), e])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// Drops the envelopes from `index` on: an authenticated entry showed
    /// the one at `index` false. Envelopes below the next entry are never
    /// dropped (their entries matched them).
    pub fn drop_envelopes_from(&self, origin: &str, index: u64) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "DELETE FROM envelopes WHERE origin = ?1 AND idx >= ?2 \
                 AND idx >= (SELECT COUNT(*) FROM entries WHERE origin = ?1)",
                params![origin, int(index)],
            )?;
            Ok(())
        })
    }

    /// Stores checked envelopes in one transaction.
    pub fn commit_envelopes(
        &self,
        origin: &str,
        items: &[CheckedEnvelope],
    ) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO envelopes (origin, idx, item, hash, stream, stream_version, v2) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )?;
                for e in items {
                    st.execute(params![
                        origin,
                        int(e.index),
                        e.item,
                        e.hash.0.to_vec(),
                        e.stream,
                        int(e.stream_version),
                        i64::from(e.v2)
                    ])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
    }
}
