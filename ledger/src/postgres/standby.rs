//! A ledger read from a PostgreSQL hot standby (D116): the same reads as on
//! the primary, no writer, no migrations, no write of any kind.
//!
//! Opening a store on a primary applies the pending migrations, catches the
//! tree up and starts the writer; none of that can run on a standby (it is
//! read-only until promoted) and none of it may: the standby's content is
//! the primary's, replayed, and only the primary's writer may add to it. So
//! the standby's schema is checked against this binary's migrations and
//! refused, naming both versions, when it is older (the primary must be
//! migrated and the standby must replay that) or unknown.
//!
//! Reads need no durability bound here ([`super::durable`]'s `Marks::replica`):
//! a primary streams only WAL it has flushed, so every row a standby shows is
//! durable on the primary.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_postgres::types::PgLsn;

use super::durable::Marks;
use super::migrate::{applied, current_schema, ledger_exists};
use super::{pg, pool_err, pool_for, Counters, PostgresStore};
use crate::migrations;
use crate::store::StoreError;
use crate::SystemClock;

/// The refusal every write on a standby store gets. The server never sends
/// one there (its writes go to the primary), so seeing it is a bug.
pub(super) fn read_only() -> StoreError {
    StoreError::Schema(
        "this store reads a hot standby and writes nothing: writes go to the primary \
         (`jishi serve --db PRIMARY --read-db STANDBY`, D116)"
            .into(),
    )
}

/// Where a standby's replay stands, read on the standby itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replay {
    /// The ledger's head as replayed (0: empty).
    pub head: u64,
    /// `pg_last_wal_receive_lsn()`: WAL received from the primary.
    pub received_lsn: Option<u64>,
    /// `pg_last_wal_replay_lsn()`: WAL replayed, which reads see.
    pub replayed_lsn: Option<u64>,
    /// `pg_is_wal_replay_paused()`.
    pub paused: bool,
}

/// Whether the server `client` talks to is in recovery (a standby).
pub(super) async fn in_recovery(client: &tokio_postgres::Client) -> Result<bool, StoreError> {
    client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg("asking pg_is_in_recovery()"))
}

impl PostgresStore {
    /// Opens the ledger on a hot standby, read-only (D116). Refused when the
    /// server is not in recovery (a primary is opened with
    /// [`PostgresStore::open_with`], which migrates and writes), when the
    /// schema holds no ledger, and when its schema version is not this
    /// binary's.
    pub async fn open_standby(
        config: tokio_postgres::Config,
        pool_size: usize,
    ) -> Result<PostgresStore, StoreError> {
        let pool = pool_for(config, pool_size)?;
        let client = pool.get().await.map_err(pool_err)?;
        if !in_recovery(&client).await? {
            return Err(StoreError::Schema(
                "the read database is not a hot standby (pg_is_in_recovery() is false): a \
                 primary is opened with --db, which migrates and writes; --read-db names a \
                 standby replaying it"
                    .into(),
            ));
        }
        if !ledger_exists(&**client).await? {
            return Err(StoreError::Schema(format!(
                "no ledger in schema {:?} of the standby: has it replayed the primary's \
                 `jishi init`, and does its URL name the same schema (options=-csearch_path=…)?",
                current_schema(&**client).await?
            )));
        }
        let done = applied(&**client).await?;
        let pending = migrations::pending(migrations::POSTGRES, &done)?;
        if let Some(first) = pending.first() {
            let have = done.last().map_or(0, |(v, _)| *v);
            let want = migrations::POSTGRES.last().map_or(0, |m| m.version);
            return Err(StoreError::Schema(format!(
                "the standby's ledger has schema version {have}, this jishi needs {want} \
                 (migration {} {:?} first): a standby cannot be migrated; open the primary \
                 with this jishi (`jishi init --db PRIMARY`) and let the standby replay it",
                first.version, first.name
            )));
        }
        drop(client);
        // No writer reads this channel: `submit` refuses before sending.
        let (jobs, _) = mpsc::channel(1);
        Ok(PostgresStore {
            pool,
            jobs,
            clock: Arc::new(SystemClock),
            stats: Arc::new(Counters::default()),
            marks: Arc::new(Marks::replica()),
            standby: Some(Arc::new(AtomicU64::new(0))),
        })
    }

    /// Whether this store reads a hot standby.
    pub fn is_standby(&self) -> bool {
        self.standby.is_some()
    }

    /// Writes refused because this store reads a standby (always 0 on a
    /// primary): a test's proof that nothing tried to write there.
    pub fn refused_writes(&self) -> u64 {
        self.standby
            .as_ref()
            .map_or(0, |r| r.load(Ordering::Relaxed))
    }

    /// Where replay stands on this server (on a primary the LSNs are
    /// `None` and `paused` false).
    pub async fn replay(&self) -> Result<Replay, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        let what = "reading the replay position";
        let row = client
            .query_one(
                "SELECT COALESCE((SELECT max(position) FROM events), 0), \
                 pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn(), \
                 CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END",
                &[],
            )
            .await
            .map_err(pg(what))?;
        let head: i64 = row.try_get(0).map_err(pg(what))?;
        let lsn = |i: usize| -> Result<Option<u64>, StoreError> {
            Ok(row
                .try_get::<_, Option<PgLsn>>(i)
                .map_err(pg(what))?
                .map(u64::from))
        };
        Ok(Replay {
            head: u64::try_from(head).unwrap_or(0),
            received_lsn: lsn(1)?,
            replayed_lsn: lsn(2)?,
            paused: row.try_get(3).map_err(pg(what))?,
        })
    }
}
