//! The statements of the append transaction, prepared before it starts,
//! and the small pipelined steps the writer's transactions are made of
//! (BEGIN, the head lock, the group's write, the commit LSN).

use tokio_postgres::types::{PgLsn, ToSql};
use tokio_postgres::Statement;

use super::sql::{
    APPEND_EVENTS, ATTESTED_THROUGH, LAST_POSITIONS_UNDER, STORED_BY_ID, WRITE_GROUP,
};
use super::{pg, tree};
use crate::store::StoreError;

/// The append transaction's statements. They are prepared (or found in the
/// connection's statement cache) before the transaction starts because the
/// transaction pipelines them: a statement goes out on its future's first
/// poll only if it is already prepared. One that still needed its Parse round
/// trip would let the statements queued after it, COMMIT above all, reach the
/// server first.
pub(super) struct AppendStatements {
    pub(super) lock: Statement,
    pub(super) head: Statement,
    pub(super) versions: Statement,
    pub(super) stored: Statement,
    pub(super) frontier: Statement,
    pub(super) under: Statement,
    pub(super) write: Statement,
    pub(super) insert: Statement,
    pub(super) attested: Statement,
    pub(super) insert_lsn: Statement,
}

/// BEGIN, as the first statement of a pipelined append transaction (it is
/// sent when the future is first polled, as are the others).
pub(super) async fn begin(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    client
        .batch_execute(BEGIN)
        .await
        .map_err(pg("starting the append transaction"))
}

/// The head lock (see the module docs), right after [`begin`].
pub(super) async fn take_lock(
    client: &tokio_postgres::Client,
    s: &AppendStatements,
    lock_key: i64,
) -> Result<u64, StoreError> {
    client
        .execute(&s.lock, &[&lock_key])
        .await
        .map_err(pg("taking the ledger head lock"))
}

impl AppendStatements {
    pub(super) async fn prepare(conn: &deadpool_postgres::Client) -> Result<Self, StoreError> {
        let prepare = |sql: &'static str, what: &'static str| async move {
            conn.prepare_cached(sql).await.map_err(pg(what))
        };
        Ok(AppendStatements {
            lock: prepare(
                "SELECT pg_advisory_xact_lock($1)",
                "preparing the head lock",
            )
            .await?,
            head: prepare(
                "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
                "preparing the head query",
            )
            .await?,
            versions: prepare(
                "SELECT s, t.stream_version, t.hash FROM unnest($1::text[]) AS s \
                 LEFT JOIN LATERAL (SELECT stream_version, hash FROM events \
                 WHERE stream = s ORDER BY stream_version DESC LIMIT 1) AS t ON true",
                "preparing the stream-version query",
            )
            .await?,
            stored: prepare(STORED_BY_ID, "preparing the event-id query").await?,
            frontier: prepare(tree::FRONTIER_QUERY, "preparing the tree frontier query").await?,
            under: prepare(LAST_POSITIONS_UNDER, "preparing the stream-prefix query").await?,
            write: prepare(WRITE_GROUP, "preparing the ledger write").await?,
            insert: prepare(APPEND_EVENTS, "preparing the ledger append").await?,
            attested: prepare(ATTESTED_THROUGH, "preparing the attestation query").await?,
            insert_lsn: prepare(INSERT_LSN, "preparing the WAL position query").await?,
        })
    }
}

/// Starts the append transaction. READ COMMITTED explicitly, whatever the
/// server's default: each read must take its snapshot after the head lock
/// was granted (see the module docs).
pub(super) const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";

pub(super) const COMMIT: &str = "COMMIT";

/// For the rest of the transaction only: [`WRITE_GROUP`] runs with the plan
/// made at its first execution on the connection. The connections ask for
/// custom plans (D29), which for this statement meant planning it again for
/// every group, with its arrays as constants: measured, a fifth of the
/// server's time per group. Its plan does not depend on the ledger's size
/// (inserts from arrays; the head by a backward scan of the primary key and
/// the frontier by its key, which PostgreSQL picks even for an empty table),
/// so one plan serves every group.
pub(super) const GENERIC_PLAN: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

/// [`GENERIC_PLAN`] and, for a group committed asynchronously (D83), the
/// transaction's `synchronous_commit = off`: the group's COMMIT then returns
/// before its WAL flush, and the flusher confirms the flush before any
/// caller is answered.
pub(super) const GENERIC_PLAN_ASYNC: &str = "SET LOCAL plan_cache_mode = force_generic_plan; \
     SET LOCAL synchronous_commit = off";

/// Where the server's WAL insertion has reached: read on the group's
/// connection right after its COMMIT, it is at or past the end of the
/// group's commit record, which is what the flush must cover.
pub(super) const INSERT_LSN: &str = "SELECT pg_current_wal_insert_lsn()";

/// [`INSERT_LSN`] on the group's connection.
pub(super) async fn insert_lsn(
    client: &tokio_postgres::Client,
    s: &AppendStatements,
) -> Result<u64, StoreError> {
    client
        .query_one(&s.insert_lsn, &[])
        .await
        .and_then(|r| r.try_get::<_, PgLsn>(0))
        .map(u64::from)
        .map_err(pg("reading the WAL position after COMMIT"))
}

/// [`WRITE_GROUP`], preceded on the wire by [`GENERIC_PLAN`] (or
/// [`GENERIC_PLAN_ASYNC`]); both are sent on the first poll, like the
/// statements pipelined around them.
pub(super) async fn write_group(
    client: &tokio_postgres::Client,
    s: &AppendStatements,
    params: &[&(dyn ToSql + Sync)],
    asynchronous: bool,
) -> Result<u64, StoreError> {
    let (generic, written) = tokio::join!(
        biased;
        client.batch_execute(if asynchronous { GENERIC_PLAN_ASYNC } else { GENERIC_PLAN }),
        client.execute(&s.write, params),
    );
    generic.map_err(pg("asking for the ledger write's generic plan"))?;
    written.map_err(pg("writing the events and the Merkle tree"))
}
