//! The embedded default store: one SQLite file in WAL mode.
//!
//! Appends take SQLite's write lock first (`BEGIN IMMEDIATE`), read the head
//! inside that transaction and chain onto it, so two processes appending to the
//! same file can never fork the chain. Reads use a second connection, so a long
//! verify does not hold up recorders.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use crate::attest::{group_start, Attestation, Attestor};
use crate::migrations::{self, Migration};
use crate::prepare::format_recorded_at;
use crate::row::StoredRow;
use crate::store::{
    appended_of, plan_append, AppendError, Appended, BatchError, EventStore, ExistingEvent, Head,
    Plan, PreparedRequest, ScopeGuard, StoreError, StreamTip,
};
use crate::{Actor, Clock, Digest, RecordedEvent, SystemClock};

mod drift;
mod tree;

const STORE: &str = "sqlite";

fn db_err(e: rusqlite::Error) -> StoreError {
    StoreError::backend(STORE, e)
}

/// A ledger in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    path: PathBuf,
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    clock: Arc<dyn Clock>,
    /// Whether appends extend the Merkle tree (see [`SqliteStore::with_tree`]).
    tree: bool,
    /// Signs each write transaction's group (D69); `None` writes unattested
    /// rows, which only a ledger without a registered key accepts.
    attestor: Option<Arc<Attestor>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

const COLUMNS: &str = "position, stream, stream_version, event_id, event_type, schema_version, \
     occurred_at, recorded_at, actor_id, actor_name, actor_role, actor_org, payload, \
     payload_digest, prev_hash, hash, stream_prev";

impl SqliteStore {
    /// Opens (creating if needed) the ledger file and brings its schema up to date.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        Self::open_with_clock(path, Arc::new(SystemClock))
    }

    /// As [`SqliteStore::open`], with the clock that stamps `recorded_at`
    /// (tests and test vectors use a fixed one).
    pub fn open_with_clock(
        path: impl AsRef<Path>,
        clock: Arc<dyn Clock>,
    ) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let writer = connect(&path)?;
        migrate(&writer)?;
        let mut writer = writer;
        tree::catch_up_to_head(&mut writer)?;
        let reader = connect(&path)?;
        Ok(SqliteStore {
            path,
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            clock,
            tree: true,
            attestor: None,
        })
    }

    /// Signs every group this store writes with the recording key.
    pub fn with_attestor(mut self, attestor: Option<Arc<Attestor>>) -> SqliteStore {
        self.attestor = attestor;
        self
    }

    /// Turns Merkle tree maintenance in appends on (the default) or off. Off
    /// exists only so that `jishi bench --tree` can measure what the tree
    /// costs; the next append with it on (or the next open) catches the tree
    /// up from the stored event hashes, so no leaf is ever lost.
    pub fn with_tree(mut self, on: bool) -> SqliteStore {
        self.tree = on;
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema versions applied to this file, oldest first.
    pub fn schema_versions(&self) -> Result<Vec<i64>, StoreError> {
        let conn = lock(&self.reader)?;
        applied(&conn).map(|v| v.into_iter().map(|(v, _)| v).collect())
    }

    /// One write transaction on the writer connection.
    async fn write(
        &self,
        guard: Option<ScopeGuard>,
        prepared: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        let now = format_recorded_at(self.clock.now());
        let writer = self.writer.clone();
        let with_tree = self.tree;
        let attestor = self.attestor.clone();
        blocking(move || {
            let mut conn = lock(&writer)?;
            let w = Writing {
                now: &now,
                with_tree,
                attestor: attestor.as_deref(),
            };
            append_prepared(&mut conn, guard.as_ref(), &prepared, &w)
        })
        .await?
    }

    /// Rows of a `SELECT {COLUMNS} …` on the reader connection.
    async fn select_rows(
        &self,
        sql: String,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<StoredRow>, StoreError> {
        self.with_reader(move |conn| {
            let mut stmt = conn.prepare_cached(&sql).map_err(db_err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params), stored_row)
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            Ok(rows)
        })
        .await
    }

    /// As [`SqliteStore::select_rows`], as events.
    async fn select_events(
        &self,
        sql: String,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.select_rows(sql, params)
            .await?
            .into_iter()
            .map(StoredRow::into_event)
            .collect()
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let reader = self.reader.clone();
        blocking(move || f(&*lock(&reader)?)).await?
    }
}

fn lock(m: &Mutex<Connection>) -> Result<std::sync::MutexGuard<'_, Connection>, StoreError> {
    m.lock().map_err(|_| {
        StoreError::Schema("a previous operation panicked holding the connection".into())
    })
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::backend(STORE, e))
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(db_err)?;
    // WAL: readers do not block the writer; NORMAL sync is durable in WAL mode
    // against process crashes, and loses at most the last commits on power loss.
    // FULL keeps those too, at some cost; the ledger chooses FULL.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(db_err)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(db_err)?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(db_err)?;
    Ok(conn)
}

fn applied(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'jishi_migrations'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map_err(db_err)?
        > 0;
    if !exists {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare("SELECT version, checksum FROM jishi_migrations ORDER BY version")
        .map_err(db_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(db_err)?;
    rows.collect::<Result<_, _>>().map_err(db_err)
}

/// Applies the missing migrations, each in its own immediate transaction, and
/// returns the versions applied now (empty when the schema was current).
fn migrate(conn: &Connection) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS jishi_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             checksum   TEXT NOT NULL,
             applied_at TEXT NOT NULL
         )",
    )
    .map_err(db_err)?;
    let mut done = Vec::new();
    for m in migrations::pending(migrations::SQLITE, &applied(conn)?)? {
        apply_one(conn, m)?;
        done.push(m.version);
    }
    Ok(done)
}

fn apply_one(conn: &Connection, m: &Migration) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(db_err)?;
    let result = (|| -> rusqlite::Result<()> {
        // Another process may have applied it while we waited for the lock.
        let already: i64 = conn.query_row(
            "SELECT count(*) FROM jishi_migrations WHERE version = ?1",
            [m.version],
            |r| r.get(0),
        )?;
        if already == 0 {
            conn.execute_batch(m.sql)?;
            conn.execute(
                "INSERT INTO jishi_migrations (version, name, checksum, applied_at) \
                 VALUES (?1, ?2, ?3, ?4)",
                params![
                    m.version,
                    m.name,
                    m.checksum(),
                    format_recorded_at(chrono::Utc::now())
                ],
            )?;
        }
        Ok(())
    })();
    match result {
        Ok(()) => conn.execute_batch("COMMIT").map_err(db_err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(StoreError::Schema(format!(
                "migration {} ({}) failed: {e}",
                m.version, m.name
            )))
        }
    }
}

/// A row limit as SQLite takes it.
fn limit_of(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// The SQL lower bound for `read_rows(from_position)`: 0 means every row.
fn lower_bound(from_position: u64) -> i64 {
    if from_position == 0 {
        i64::MIN
    } else {
        i64::try_from(from_position).unwrap_or(i64::MAX)
    }
}

/// Text columns are read as bytes and converted leniently: a row a DBA filled
/// with invalid UTF-8 must still reach the verifier, which then reports it.
fn text(row: &Row<'_>, i: usize) -> rusqlite::Result<String> {
    Ok(match row.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => match std::str::from_utf8(t) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(t).into_owned(),
        },
        _ => String::from_utf8_lossy(&bytes(row, i)?).into_owned(),
    })
}

fn bytes(row: &Row<'_>, i: usize) -> rusqlite::Result<Vec<u8>> {
    Ok(match row.get_ref(i)? {
        ValueRef::Text(t) | ValueRef::Blob(t) => t.to_vec(),
        ValueRef::Null => Vec::new(),
        ValueRef::Integer(n) => n.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
    })
}

fn int(row: &Row<'_>, i: usize) -> rusqlite::Result<i64> {
    Ok(match row.get_ref(i)? {
        ValueRef::Integer(n) => n,
        // Anything else cannot be a valid envelope number; -1 fails every check.
        _ => -1,
    })
}

fn stored_row(r: &Row<'_>) -> rusqlite::Result<StoredRow> {
    Ok(StoredRow {
        position: int(r, 0)?,
        stream: text(r, 1)?,
        stream_version: int(r, 2)?,
        event_id: text(r, 3)?,
        event_type: text(r, 4)?,
        schema_version: int(r, 5)?,
        occurred_at: text(r, 6)?,
        recorded_at: text(r, 7)?,
        actor_id: text(r, 8)?,
        actor_name: text(r, 9)?,
        actor_role: text(r, 10)?,
        actor_org: text(r, 11)?,
        payload: bytes(r, 12)?,
        payload_digest: bytes(r, 13)?,
        prev_hash: bytes(r, 14)?,
        hash: bytes(r, 15)?,
        stream_prev: match r.get_ref(16)? {
            ValueRef::Null => None,
            _ => Some(bytes(r, 16)?),
        },
    })
}

fn read_head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    conn.query_row(
        "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
        [],
        |r| Ok((int(r, 0)?, bytes(r, 1)?, text(r, 2)?)),
    )
    .optional()
    .map_err(db_err)?
    .map(|(position, hash, recorded_at)| {
        Ok(Head {
            position: u64::try_from(position).map_err(|_| StoreError::Corrupt {
                position,
                reason: "negative position".into(),
            })?,
            hash: Digest::from_slice(&hash).ok_or(StoreError::Corrupt {
                position,
                reason: "hash is not 32 bytes".into(),
            })?,
            recorded_at,
        })
    })
    .transpose()
}

fn stream_version(conn: &Connection, stream: &str) -> Result<Option<u64>, StoreError> {
    conn.prepare_cached("SELECT max(stream_version) FROM events WHERE stream = ?1")
        .map_err(db_err)?
        .query_row([stream], |r| r.get::<_, Option<i64>>(0))
        .map_err(db_err)
        .map(|v| v.map(|v| v.max(0) as u64))
}

/// The stream's last version and hash (what its next event commits to), by
/// the `(stream, stream_version)` index.
fn stream_tip(conn: &Connection, stream: &str) -> Result<Option<StreamTip>, StoreError> {
    conn.prepare_cached(
        "SELECT stream_version, hash FROM events WHERE stream = ?1 \
         ORDER BY stream_version DESC LIMIT 1",
    )
    .map_err(db_err)?
    .query_row([stream], |r| Ok((int(r, 0)?, bytes(r, 1)?)))
    .optional()
    .map_err(db_err)?
    .map(|(v, h)| {
        Ok((
            v.max(0) as u64,
            Digest::from_slice(&h).ok_or_else(|| StoreError::Corrupt {
                position: -1,
                reason: format!(
                    "the last event of stream {stream:?} has a hash of {} bytes",
                    h.len()
                ),
            })?,
        ))
    })
    .transpose()
}

fn existing(conn: &Connection, event_id: &uuid::Uuid) -> Result<Option<ExistingEvent>, StoreError> {
    let id = event_id.hyphenated().to_string();
    let row = conn
        .prepare_cached(
            "SELECT position, stream, stream_version, event_type, schema_version, occurred_at, \
             actor_id, actor_name, actor_role, actor_org, payload_digest, hash \
             FROM events WHERE event_id = ?1",
        )
        .map_err(db_err)?
        .query_row([id], |r| {
            Ok((
                int(r, 0)?,
                text(r, 1)?,
                int(r, 2)?,
                text(r, 3)?,
                int(r, 4)?,
                text(r, 5)?,
                Actor {
                    id: text(r, 6)?,
                    name: text(r, 7)?,
                    role: text(r, 8)?,
                    org: text(r, 9)?,
                },
                bytes(r, 10)?,
                bytes(r, 11)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    Ok(row.map(
        |(pos, stream, ver, et, sv, occ, actor, pd, h)| ExistingEvent {
            position: pos.max(0) as u64,
            stream,
            stream_version: ver.max(0) as u64,
            event_type: et,
            schema_version: u32::try_from(sv).unwrap_or(0),
            occurred_at: occ,
            actor,
            payload_digest: Digest::from_slice(&pd).unwrap_or_default(),
            hash: Digest::from_slice(&h).unwrap_or_default(),
        },
    ))
}

fn insert(conn: &Connection, e: &RecordedEvent) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO events (position, stream, stream_version, event_id, event_type, \
         schema_version, occurred_at, recorded_at, actor_id, actor_name, actor_role, actor_org, \
         payload, payload_digest, prev_hash, hash, stream_prev) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )
    .map_err(db_err)?
    .execute(params![
        e.position as i64,
        e.stream,
        e.stream_version as i64,
        e.event_id.hyphenated().to_string(),
        e.event_type,
        i64::from(e.schema_version),
        e.occurred_at,
        e.recorded_at,
        e.actor.id,
        e.actor.name,
        e.actor.role,
        e.actor.org,
        e.payload.as_str(),
        &e.payload_digest.0[..],
        &e.prev_hash.0[..],
        &e.hash.0[..],
        e.stream_prev.as_ref().map(|d| &d.0[..]),
    ])
    .map_err(db_err)?;
    Ok(())
}

/// The bounds of the streams under `prefix` for an index range scan: every
/// such stream sorts in `[prefix, prefix + "0")`, and within that range a
/// stream is under the prefix if it is the prefix or sorts at or after
/// `prefix + "/"` (no byte lies between `/` and `0`).
fn prefix_bounds(prefix: &str) -> (String, String) {
    (format!("{prefix}/"), format!("{prefix}0"))
}

const UNDER_PREFIX: &str = "stream >= ?1 AND stream < ?3 AND (stream = ?1 OR stream >= ?2)";

fn last_position_under(conn: &Connection, prefix: &str) -> Result<u64, StoreError> {
    let (slash, end) = prefix_bounds(prefix);
    conn.prepare_cached(&format!(
        "SELECT max(position) FROM events WHERE {UNDER_PREFIX}"
    ))
    .map_err(db_err)?
    .query_row(params![prefix, slash, end], |r| r.get::<_, Option<i64>>(0))
    .map_err(db_err)
    .map(|p| p.unwrap_or(0).max(0) as u64)
}

/// How one write transaction writes: its time, whether it keeps the tree,
/// and who attests it.
struct Writing<'a> {
    now: &'a str,
    with_tree: bool,
    attestor: Option<&'a Attestor>,
}

/// The last position the stored attestations cover (0 for none).
fn attested_through(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(last_position), 0) FROM attestations",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map_err(db_err)
    .map(|p| p.max(0) as u64)
}

fn insert_attestation(conn: &Connection, a: &Attestation) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO attestations (last_position, first_position, key_name, key_id, signature) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut st| {
        st.execute(params![
            a.last_position,
            a.first_position,
            a.key_name,
            a.key_id,
            a.signature
        ])
    })
    .map_err(db_err)
    .map(|_| ())
}

/// Appends prepared requests in one immediate transaction: all or nothing,
/// and only if `guard` (when given) still holds.
fn append_prepared(
    conn: &mut Connection,
    guard: Option<&ScopeGuard>,
    requests: &[PreparedRequest],
    w: &Writing<'_>,
) -> Result<Vec<Appended>, BatchError> {
    let (now, with_tree) = (w.now, w.with_tree);
    let at = |index: usize| move |error: AppendError| BatchError { index, error };
    let store_err = |e: rusqlite::Error| BatchError {
        index: 0,
        error: AppendError::Store(db_err(e)),
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(store_err)?;
    if let Some(g) = guard {
        let latest = last_position_under(&tx, &g.prefix).map_err(|e| at(0)(e.into()))?;
        if latest > g.seen {
            return Err(at(0)(AppendError::ScopeChanged {
                prefix: g.prefix.clone(),
                seen: g.seen,
                latest,
            }));
        }
    }
    let mut tip = read_head(&tx).map_err(|e| at(0)(e.into()))?;
    let head_before = tip.as_ref().map_or(0, |h| h.position);
    let attested = attested_through(&tx).map_err(|e| at(0)(e.into()))?;
    let first = group_start(
        attested,
        head_before,
        requests.iter().any(PreparedRequest::registers_key),
        w.attestor.is_some(),
    )
    .map_err(|m| at(0)(AppendError::Unattested(m)))?;
    let mut leaves = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let current = stream_tip(&tx, &request.stream).map_err(|e| at(i)(e.into()))?;
        let found = request
            .events
            .iter()
            .map(|e| existing(&tx, &e.event_id))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| at(i)(e.into()))?;
        match plan_append(request, current, &found, &mut tip, now).map_err(at(i))? {
            Plan::Duplicate(appended) => out.push(appended),
            Plan::Insert(events) => {
                for e in &events {
                    insert(&tx, e).map_err(|e| at(i)(e.into()))?;
                    leaves.push(e.hash);
                }
                out.push(appended_of(&request.stream, &events));
            }
        }
    }
    // The tree and the attestation commit with the events or not at all.
    if with_tree && !leaves.is_empty() {
        tree::extend(&tx, head_before, &leaves).map_err(|e| at(0)(e.into()))?;
    }
    if let (Some(a), Some(first), Some(t), false) = (w.attestor, first, &tip, leaves.is_empty()) {
        insert_attestation(&tx, &a.attest(first, t.position, &t.hash))
            .map_err(|e| at(0)(e.into()))?;
    }
    tx.commit().map_err(store_err)?;
    Ok(out)
}

#[async_trait]
impl EventStore for SqliteStore {
    fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    async fn schema_drift(&self) -> Result<Vec<crate::drift::SchemaDrift>, StoreError> {
        self.with_reader(drift::schema_drift).await
    }

    async fn append_prepared(
        &self,
        prepared: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        self.write(None, prepared).await
    }

    async fn append_guarded(
        &self,
        guard: ScopeGuard,
        prepared: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        self.write(Some(guard), prepared).await
    }

    async fn read_prefix(
        &self,
        prefix: &str,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let (slash, end) = prefix_bounds(prefix);
        let params: Vec<rusqlite::types::Value> = vec![
            prefix.to_string().into(),
            slash.into(),
            end.into(),
            lower_bound(from_position).into(),
            limit_of(limit).into(),
        ];
        self.select_events(
            format!(
                // Without statistics SQLite would walk the whole table in
                // position order for ORDER BY position; one election's streams
                // are a small range of the stream index, so read that range
                // and sort it instead (O(election), not O(ledger), per read).
                "SELECT {COLUMNS} FROM events INDEXED BY events_stream_version \
                 WHERE {UNDER_PREFIX} AND position >= ?4 ORDER BY position LIMIT ?5"
            ),
            params,
        )
        .await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let params: Vec<rusqlite::types::Value> = vec![
            stream.to_string().into(),
            lower_bound(from_version).into(),
            limit_of(limit).into(),
        ];
        self.select_events(
            format!(
                "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND stream_version >= ?2 \
                 ORDER BY stream_version LIMIT ?3"
            ),
            params,
        )
        .await
    }

    async fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let params: Vec<rusqlite::types::Value> =
            vec![lower_bound(from_position).into(), limit_of(limit).into()];
        self.select_rows(
            format!("SELECT {COLUMNS} FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2"),
            params,
        )
        .await
    }

    async fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let stream = stream.to_string();
        self.with_reader(move |conn| stream_version(conn, &stream))
            .await
    }

    async fn stream_heads(
        &self,
        size: u64,
    ) -> Result<std::collections::BTreeMap<String, StreamTip>, StoreError> {
        self.with_reader(move |conn| {
            // SQLite gives the bare column `hash` from the row where the
            // aggregate `max` was found (documented behaviour).
            let mut stmt = conn
                .prepare_cached(
                    "SELECT stream, max(stream_version), hash FROM events \
                     WHERE position <= ?1 GROUP BY stream",
                )
                .map_err(db_err)?;
            let rows = stmt
                .query_map([size.min(i64::MAX as u64) as i64], |r| {
                    Ok((text(r, 0)?, int(r, 1)?, bytes(r, 2)?))
                })
                .map_err(db_err)?;
            let mut out = std::collections::BTreeMap::new();
            for row in rows {
                let (stream, version, hash) = row.map_err(db_err)?;
                let hash = Digest::from_slice(&hash).ok_or_else(|| StoreError::Corrupt {
                    position: -1,
                    reason: format!("the last event of stream {stream:?} has no 32-byte hash"),
                })?;
                out.insert(stream, (version.max(0) as u64, hash));
            }
            Ok(out)
        })
        .await
    }

    async fn stored_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<std::collections::HashMap<uuid::Uuid, ExistingEvent>, StoreError> {
        let ids = ids.to_vec();
        self.with_reader(move |conn| {
            let mut out = std::collections::HashMap::new();
            for id in ids {
                if let Some(e) = existing(conn, &id)? {
                    out.insert(id, e);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn head(&self) -> Result<Option<Head>, StoreError> {
        self.with_reader(read_head).await
    }

    async fn read_attestations(
        &self,
        from_last: u64,
        limit: usize,
    ) -> Result<Vec<Attestation>, StoreError> {
        let (from, limit) = (lower_bound(from_last), limit_of(limit));
        self.with_reader(move |conn| {
            let mut st = conn
                .prepare_cached(
                    "SELECT first_position, last_position, key_name, key_id, signature \
                     FROM attestations WHERE last_position >= ?1 ORDER BY last_position LIMIT ?2",
                )
                .map_err(db_err)?;
            let rows = st
                .query_map(params![from, limit], |r| {
                    Ok(Attestation {
                        first_position: int(r, 0)?,
                        last_position: int(r, 1)?,
                        key_name: text(r, 2)?,
                        key_id: int(r, 3)?,
                        signature: bytes(r, 4)?,
                    })
                })
                .map_err(db_err)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(db_err)
        })
        .await
    }
}

impl From<StoreError> for BatchError {
    fn from(e: StoreError) -> Self {
        BatchError {
            index: 0,
            error: AppendError::Store(e),
        }
    }
}
