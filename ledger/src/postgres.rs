//! The production store: PostgreSQL, through `tokio-postgres` and a
//! `deadpool-postgres` pool.
//!
//! The ledger lives in the schema first on the connection's `search_path`
//! (set it in the URL with `options=-csearch_path=NAME` to keep several ledgers
//! in one database, as the tests do).
//!
//! # Ordering and gapless positions
//!
//! Every append transaction first takes a transaction-scoped advisory lock
//! keyed on the ledger table's oid, then reads the head (or checks that it is
//! the head the writer planned from, see below). The lock is held until
//! COMMIT or ROLLBACK, so across every process that appends to this ledger at
//! most one transaction at a time is between "read the head" and "commit":
//! the chain cannot fork, and positions cannot repeat or skip (a transaction
//! that rolls back never made its positions visible, and the next one reads
//! the same head again). Because the lock is released only once the holder's
//! commit is visible, a transaction writing position `n + 1` cannot commit
//! before the one that wrote `n`: a reader never sees a position unless every
//! smaller position is already committed. This needs READ COMMITTED (a fresh
//! snapshot per statement, so the head is read or checked *after* the lock
//! is granted);
//! the write transaction sets it explicitly, whatever the server's default.
//!
//! # Group commit
//!
//! Inside one process a single writer task owns appending. Callers send their
//! prepared requests through a channel; the writer takes what is queued (up to
//! [`GroupCommit::max_requests`], waiting at most [`GroupCommit::max_wait`]
//! for more), plans every caller's requests in memory with the shared
//! [`plan_append`] against the head and stream versions it has already
//! planned in this transaction, and writes all accepted rows with one
//! multi-row `INSERT … SELECT FROM unnest(…)` per few thousand rows. A caller
//! whose request conflicts (stream version, reused event id) gets its own
//! error and contributes nothing; the others commit. A caller's reply is sent
//! only after COMMIT returned: acknowledged means committed.
//!
//! # Round trips per group (docs/DECISIONS.md D30)
//!
//! Groups commit one after the other (each needs the previous hash), so the
//! round trips of a group are the store's throughput. The writer opens its
//! transactions itself, with a plain BEGIN, so that statements can be sent
//! together (pipelined on one connection: the server runs them in order, each
//! after the previous one finished):
//!
//! * **From what it knows** (the usual case): the writer remembers what its
//!   last transaction left, head, frontier and the stream versions it read
//!   or wrote, and plans the group from that without reading. BEGIN, the head
//!   lock, one statement writing events, tree nodes and frontier (run with
//!   the plan made at its first execution, D39), and COMMIT go out together:
//!   **one round trip**. The write statement checks, in the
//!   snapshot it takes after the lock was granted, that the head and the
//!   frontier are the ones planned from, and writes nothing otherwise; a
//!   stream version or event id someone else took meanwhile makes a unique
//!   index refuse the rows. Either way nothing commits and the group runs
//!   the full transaction below (another process appended, a DBA changed the
//!   tables). A guarded caller (the domain's recorders: "nothing new under
//!   this election since I decided") rides along when the writer knows the
//!   last position under its prefix: it read it in an earlier full
//!   transaction and has added its own appends since, and the head check
//!   proves nobody else appended. Groups with a prefix or a stream the
//!   writer has not read, or a caller the known state would refuse, take the
//!   full transaction: a refusal is only ever given on fresh reads.
//! * **Full transaction**: BEGIN, the lock and every read (head, stream
//!   versions, event ids, frontier, guarded prefixes) in one round trip; the
//!   write statement and COMMIT in a second.
//!
//! COMMIT sent behind a statement that failed is answered as a rollback, not
//! as an error, so a group succeeds only if every answer was a success (and
//! the write reported its row). Writing in one statement is what makes
//! sending COMMIT with it safe: had the driver failed to send one of two
//! statements, COMMIT would have committed the other alone. A connection
//! whose transaction did not end cleanly is closed, never returned to the
//! pool.
//!
//! # The Merkle tree
//!
//! The same transaction extends the RFC 9162 tree over the new rows' hashes
//! ([`tree`], docs/FORMAT-merkle.md §7): the frontier row is read with the
//! head (or, planned from what the writer knows, checked by the write), under
//! the head lock; the new leaves' nodes (one `tree_nodes` row for the group,
//! D38) and the frontier row are written by the statement that inserts the
//! events, so the tree and the events commit together or not at all.

mod drift;
mod tree;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel, NoTls, Row, Statement};

/// Re-exported so that tests and the benchmark talk to the same driver
/// version as the store without a dependency of their own.
pub use deadpool_postgres;
pub use tokio_postgres;

use crate::attest::{group_start, Attestation, Attestor};
use crate::migrations::{self, Migration};
use crate::prepare::format_recorded_at;
use crate::row::StoredRow;
use crate::store::{
    appended_of, plan_append, AppendError, Appended, BatchError, EventStore, ExistingEvent, Head,
    Plan, PreparedRequest, ScopeGuard, StoreError, StreamTip,
};
use crate::{Actor, Clock, Digest, RecordedEvent, SystemClock};

const STORE: &str = "postgres";

/// First half of the advisory-lock key under which migrations run ("jish").
/// The second half is a hash of the schema name, so that ledgers in different
/// schemas do not wait for each other.
const MIGRATION_LOCK_CLASS: i32 = 0x6A69_7368;
/// High 32 bits of the bigint advisory-lock key that serializes appends; the
/// low 32 bits are the ledger table's oid, unique within the database.
const APPEND_LOCK_PREFIX: i64 = 0x6A69_7361 << 32;
/// The bigint advisory-lock key that every migration also takes ("jisr"
/// then "role"). Roles are shared by the whole cluster: two schemas
/// migrated at once would both find `jishi_app` missing and both create
/// it, and one would fail. The schema's lock is taken first, then this one.
const ROLE_LOCK_KEY: i64 = (0x6A69_7372 << 32) | 0x726F_6C65;
/// Rows per INSERT statement: large enough to amortise the round trip, small
/// enough to keep each statement's parameter arrays a few megabytes.
const INSERT_CHUNK: usize = 4096;

/// A PostgreSQL operation that failed, named, with the server's message.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {}", describe(.error))]
pub struct PgError {
    pub what: &'static str,
    pub error: tokio_postgres::Error,
}

/// The server's own words (message, detail, SQLSTATE) rather than the
/// driver's bare "db error", so that an operator can act on it.
fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(detail) = db.detail() {
                s.push_str(": ");
                s.push_str(detail);
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(inner) = source {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                source = inner.source();
            }
            s
        }
    }
}

fn pg(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| StoreError::backend(STORE, PgError { what, error })
}

fn pool_err(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(error) => StoreError::backend(
            STORE,
            PgError {
                what: "connecting",
                error,
            },
        ),
        other => StoreError::backend(STORE, other),
    }
}

/// How the writer task groups concurrent appends into one transaction.
#[derive(Debug, Clone, Copy)]
pub struct GroupCommit {
    /// Stop adding callers to a batch once it holds this many requests (one
    /// caller's requests are never split, so a batch may exceed it).
    pub max_requests: usize,
    /// How long the writer may wait for more callers after the queue ran dry.
    /// It waits only for about as many callers as its previous batch held,
    /// so a lone recorder is not delayed. Zero commits whatever is queued at
    /// once: batches then form only while the previous commit is in flight.
    pub max_wait: Duration,
    /// Wait (at most `max_wait`) for at least this many callers, whatever the
    /// previous batch held. 1 by default; tests raise it to force callers
    /// into one transaction.
    pub min_callers: usize,
    /// Callers that can queue before `append` waits for room (backpressure).
    pub queue: usize,
}

impl Default for GroupCommit {
    fn default() -> Self {
        GroupCommit {
            max_requests: 512,
            max_wait: Duration::from_millis(2),
            min_callers: 1,
            queue: 4096,
        }
    }
}

/// Everything [`PostgresStore::open_with`] can be told.
#[derive(Clone)]
pub struct PgOptions {
    pub group_commit: GroupCommit,
    /// Connections in the pool (the writer uses one at a time; readers the rest).
    pub pool_size: usize,
    /// Create the ledger when the schema has none. Without it a schema with no
    /// ledger is an error: a mistyped URL must not look like an empty history.
    pub create: bool,
    pub clock: Arc<dyn Clock>,
    /// Signs every group the writer commits with the recording key (D69);
    /// `None` writes unattested rows, which only a ledger without a
    /// registered key accepts.
    pub attestor: Option<Arc<Attestor>>,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            group_commit: GroupCommit::default(),
            pool_size: 8,
            create: true,
            clock: Arc::new(SystemClock),
            attestor: None,
        }
    }
}

/// One caller's requests and where its result goes.
struct Job {
    requests: Vec<PreparedRequest>,
    /// Append only if nothing was recorded under the guard's prefix since.
    guard: Option<ScopeGuard>,
    reply: oneshot::Sender<Result<Vec<Appended>, BatchError>>,
}

/// A ledger in a PostgreSQL schema.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    jobs: mpsc::Sender<Job>,
    clock: Arc<dyn Clock>,
    stats: Arc<Counters>,
}

/// What the writer task has done, for the benchmark and for operators
/// tuning [`GroupCommit`]: the mean group is `callers / transactions`.
#[derive(Debug, Default)]
struct Counters {
    transactions: AtomicU64,
    callers: AtomicU64,
    from_known: AtomicU64,
    gather_ns: AtomicU64,
    commit_ns: AtomicU64,
    plan_ns: AtomicU64,
}

/// A snapshot of [`PostgresStore::group_stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GroupStats {
    /// Group transactions the writer ran (including ones that failed).
    pub transactions: u64,
    /// Callers (append calls) those transactions answered.
    pub callers: u64,
    /// Transactions committed in one round trip, planned from what the
    /// writer knew (see the module docs); the others read first.
    pub from_known: u64,
    /// Time the writer spent gathering callers into groups: from the end of
    /// one group (its callers answered) to the start of the next group's
    /// transaction, idle time included. With a steady closed-loop load this
    /// is the time callers take to come back with their next request.
    pub gather: Duration,
    /// Time the writer spent committing groups: planning, the round trips
    /// and the server's work, up to COMMIT's answer.
    pub commit: Duration,
    /// The part of `commit` spent planning the groups committed in one
    /// round trip (hash chain, tree, parameters), before anything was sent.
    pub plan: Duration,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

const COLUMNS: &str = "position, stream, stream_version, event_id::text, event_type, \
     schema_version, occurred_at, recorded_at, actor_id, actor_name, actor_role, actor_org, \
     payload, payload_digest, prev_hash, hash, stream_prev";

impl PostgresStore {
    /// Connects to a `postgres://` URL with the default options and brings the
    /// schema up to date, creating the ledger if `create`.
    pub async fn open(url: &str, create: bool) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config =
            url.parse().map_err(pg("parsing the PostgreSQL URL"))?;
        Self::open_with(
            config,
            PgOptions {
                create,
                ..PgOptions::default()
            },
        )
        .await
    }

    /// Connects with an explicit driver configuration and options. Must run
    /// inside a Tokio runtime: it starts the writer task there.
    pub async fn open_with(
        mut config: tokio_postgres::Config,
        options: PgOptions,
    ) -> Result<PostgresStore, StoreError> {
        // Statements are prepared once per connection and run for the life of
        // the process while the ledger grows from empty. A generic plan made
        // while the table was small (a sequential scan) would then stay, and
        // every append would scan the whole ledger: measured, the event-id
        // look-up grew to 4–8 ms per transaction at 40,000 events. Custom
        // plans are made with the table's current size.
        let extra = "-c plan_cache_mode=force_custom_plan";
        let merged = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} {extra}"),
            _ => extra.to_string(),
        };
        config.options(&merged);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // Fast: a connection that died is noticed by `is_closed`; a
                // round trip per checkout would cost more than it catches.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(2))
            .build()
            .map_err(|e| StoreError::backend(STORE, e))?;
        let mut client = pool.get().await.map_err(pool_err)?;
        if !options.create && !ledger_exists(&**client).await? {
            return Err(StoreError::Schema(format!(
                "no ledger in schema {:?} of this database (create one with `jishi init`, or \
                 name another with --db / options=-csearch_path=…)",
                current_schema(&**client).await?
            )));
        }
        migrate(&mut client, None).await?;
        let oid: i64 = client
            .query_one("SELECT 'events'::regclass::oid::bigint", &[])
            .await
            .map_err(pg("finding the ledger table"))?
            .try_get(0)
            .map_err(pg("finding the ledger table"))?;
        // A ledger from before schema version 4 gets its tree now, rather
        // than inside the first append transaction.
        tree::catch_up_to_head(&mut client, APPEND_LOCK_PREFIX | oid).await?;
        drop(client);
        let (jobs, rx) = mpsc::channel(options.group_commit.queue.max(1));
        let stats = Arc::new(Counters::default());
        tokio::spawn(writer(
            pool.clone(),
            rx,
            options.group_commit,
            Writing {
                clock: options.clock.clone(),
                attestor: options.attestor.clone(),
            },
            APPEND_LOCK_PREFIX | oid,
            stats.clone(),
        ));
        Ok(PostgresStore {
            pool,
            jobs,
            clock: options.clock,
            stats,
        })
    }

    /// The schema versions applied, oldest first.
    pub async fn schema_versions(&self) -> Result<Vec<i64>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        Ok(applied(&**client)
            .await?
            .into_iter()
            .map(|(v, _)| v)
            .collect())
    }

    /// How many group transactions and callers the writer task has handled.
    /// Hands one caller's requests to the writer task and waits for its answer
    /// (given only after COMMIT).
    async fn submit(
        &self,
        guard: Option<ScopeGuard>,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let gone = || {
            store_failure(StoreError::Schema(
                "the PostgreSQL writer task has stopped (its runtime is shutting down)".into(),
            ))
        };
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job {
                requests,
                guard,
                reply,
            })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub fn group_stats(&self) -> GroupStats {
        GroupStats {
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            callers: self.stats.callers.load(Ordering::Relaxed),
            from_known: self.stats.from_known.load(Ordering::Relaxed),
            gather: Duration::from_nanos(self.stats.gather_ns.load(Ordering::Relaxed)),
            commit: Duration::from_nanos(self.stats.commit_ns.load(Ordering::Relaxed)),
            plan: Duration::from_nanos(self.stats.plan_ns.load(Ordering::Relaxed)),
        }
    }

    /// The connection pool, for callers that need plain SQL next to the store
    /// (the benchmark's baseline, tests).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

async fn current_schema<C: GenericClient>(client: &C) -> Result<String, StoreError> {
    let schema: Option<String> = client
        .query_one("SELECT current_schema()::text", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg("reading current_schema()"))?;
    schema.ok_or_else(|| {
        StoreError::Schema(
            "no schema on the search_path exists: create it, or set search_path \
             (options=-csearch_path=NAME in the URL)"
                .into(),
        )
    })
}

async fn ledger_exists<C: GenericClient>(client: &C) -> Result<bool, StoreError> {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_tables \
             WHERE schemaname = current_schema() AND tablename = 'jishi_migrations')",
            &[],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(pg("looking for the ledger"))
}

async fn applied<C: GenericClient>(client: &C) -> Result<Vec<(i64, String)>, StoreError> {
    if !ledger_exists(client).await? {
        return Ok(Vec::new());
    }
    client
        .query(
            "SELECT version, checksum FROM jishi_migrations ORDER BY version",
            &[],
        )
        .await
        .map_err(pg("reading jishi_migrations"))?
        .iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect::<Result<_, tokio_postgres::Error>>()
        .map_err(pg("reading jishi_migrations"))
}

/// Applies the missing migrations up to `upto` (all when `None`), each in its
/// own transaction under an advisory lock on the schema, and returns the
/// versions applied now. Two processes running `jishi init` at once: the
/// second waits for the lock, then finds nothing left to do. A role without
/// DDL rights (the application role) gets through as long as nothing is
/// pending, since nothing is then created.
pub async fn migrate(
    client: &mut tokio_postgres::Client,
    upto: Option<i64>,
) -> Result<Vec<i64>, StoreError> {
    current_schema(&*client).await?;
    let mut done = Vec::new();
    loop {
        let tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await
            .map_err(pg("starting a migration"))?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()::text))",
            &[&MIGRATION_LOCK_CLASS],
        )
        .await
        .map_err(pg("taking the migration lock"))?;
        if !ledger_exists(&tx).await? {
            tx.batch_execute(
                "CREATE TABLE jishi_migrations (
                     version    bigint PRIMARY KEY,
                     name       text   NOT NULL,
                     checksum   text   NOT NULL,
                     applied_at text   NOT NULL
                 )",
            )
            .await
            .map_err(pg("creating jishi_migrations"))?;
        }
        let pending = migrations::pending(migrations::POSTGRES, &applied(&tx).await?)?;
        let next: Option<&Migration> = pending
            .into_iter()
            .find(|m| upto.is_none_or(|u| m.version <= u));
        let Some(m) = next else {
            // Commits the creation of jishi_migrations, if that was all.
            tx.commit().await.map_err(pg("committing a migration"))?;
            return Ok(done);
        };
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&ROLE_LOCK_KEY])
            .await
            .map_err(pg("taking the migration lock"))?;
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Schema(format!(
                "migration {} ({}) failed: {}",
                m.version,
                m.name,
                describe(&e)
            ))
        })?;
        tx.execute(
            "INSERT INTO jishi_migrations (version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, $4)",
            &[
                &m.version,
                &m.name,
                &m.checksum(),
                &format_recorded_at(chrono::Utc::now()),
            ],
        )
        .await
        .map_err(pg("recording a migration"))?;
        tx.commit().await.map_err(pg("committing a migration"))?;
        done.push(m.version);
    }
}

// Lenient column readers: a row a superuser mangled (NULLs where the schema
// says NOT NULL, after dropping the constraint) must still reach the verifier.

fn text(r: &Row, i: usize) -> Result<String, tokio_postgres::Error> {
    Ok(r.try_get::<_, Option<String>>(i)?.unwrap_or_default())
}

fn bytes(r: &Row, i: usize) -> Result<Vec<u8>, tokio_postgres::Error> {
    Ok(r.try_get::<_, Option<Vec<u8>>>(i)?.unwrap_or_default())
}

fn int(r: &Row, i: usize) -> Result<i64, tokio_postgres::Error> {
    // -1 fails every check, as a NULL number should.
    Ok(r.try_get::<_, Option<i64>>(i)?.unwrap_or(-1))
}

fn stored_row(r: &Row) -> Result<StoredRow, tokio_postgres::Error> {
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
        payload: text(r, 12)?.into_bytes(),
        payload_digest: bytes(r, 13)?,
        prev_hash: bytes(r, 14)?,
        hash: bytes(r, 15)?,
        stream_prev: r.try_get::<_, Option<Vec<u8>>>(16)?,
    })
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn read_head<C: GenericClient>(client: &C) -> Result<Option<Head>, StoreError> {
    client
        .query_opt(
            "SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(pg("reading the ledger head"))?
        .as_ref()
        .map(head_of)
        .transpose()
}

/// A head from a `position, hash, recorded_at` row.
fn head_of(row: &Row) -> Result<Head, StoreError> {
    let what = "reading the ledger head";
    let position = int(row, 0).map_err(pg(what))?;
    let hash = bytes(row, 1).map_err(pg(what))?;
    Ok(Head {
        position: u64::try_from(position).map_err(|_| StoreError::Corrupt {
            position,
            reason: "negative position".into(),
        })?,
        hash: Digest::from_slice(&hash).ok_or(StoreError::Corrupt {
            position,
            reason: "hash is not 32 bytes".into(),
        })?,
        recorded_at: text(row, 2).map_err(pg(what))?,
    })
}

/// What the writer writes with: the clock that stamps `recorded_at` and the
/// recording key that attests each group.
struct Writing {
    clock: Arc<dyn Clock>,
    attestor: Option<Arc<Attestor>>,
}

/// The writer task: takes queued callers, commits them together, answers each.
async fn writer(
    pool: Pool,
    mut rx: mpsc::Receiver<Job>,
    cfg: GroupCommit,
    clock: Writing,
    lock_key: i64,
    stats: Arc<Counters>,
) {
    let max = cfg.max_requests.max(1);
    // Callers the previous batch held: how many to wait for. A lone recorder
    // (previous batch of one) is never delayed; under load the writer waits,
    // at most `max_wait`, for about as many callers as it saw last time.
    let mut expected_callers = cfg.min_callers.max(1);
    // Nothing known before the first transaction has read the ledger.
    let mut known = None;
    let mut idle_since = tokio::time::Instant::now();
    while let Some(first) = rx.recv().await {
        let mut size = first.requests.len();
        let mut jobs = vec![first];
        while size < max {
            match rx.try_recv() {
                Ok(job) => {
                    size += job.requests.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if size < max && jobs.len() < expected_callers && !cfg.max_wait.is_zero() {
            let deadline = tokio::time::Instant::now() + cfg.max_wait;
            while size < max && jobs.len() < expected_callers {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(job)) => {
                        size += job.requests.len();
                        jobs.push(job);
                    }
                    _ => break,
                }
            }
        }
        expected_callers = jobs.len().max(cfg.min_callers);
        let started = tokio::time::Instant::now();
        let results = commit_jobs(&pool, &jobs, &clock, lock_key, &mut known, &stats).await;
        let committed = tokio::time::Instant::now();
        stats
            .gather_ns
            .fetch_add(nanos(started - idle_since), Ordering::Relaxed);
        stats
            .commit_ns
            .fetch_add(nanos(committed - started), Ordering::Relaxed);
        stats.transactions.fetch_add(1, Ordering::Relaxed);
        stats
            .callers
            .fetch_add(jobs.len() as u64, Ordering::Relaxed);
        for (job, result) in jobs.into_iter().zip(results) {
            // A caller that went away (cancelled) no longer wants the answer;
            // its events are committed all the same, and a retry deduplicates.
            let _ = job.reply.send(result);
        }
        idle_since = tokio::time::Instant::now();
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn store_failure(e: StoreError) -> BatchError {
    BatchError {
        index: 0,
        error: AppendError::Store(e),
    }
}

/// Commits a group of callers; one result per caller, in order.
async fn commit_jobs(
    pool: &Pool,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Option<Known>,
    stats: &Counters,
) -> Vec<Result<Vec<Appended>, BatchError>> {
    match try_commit(pool, jobs, clock, lock_key, known, stats).await {
        Ok(results) => results,
        Err(e) if jobs.len() == 1 => vec![Err(store_failure(e))],
        Err(e) => {
            // The shared transaction failed as a whole (a lost connection, a
            // row some other writer inserted without the lock). Retry each
            // caller alone so one caller's trouble cannot fail the others. If
            // the failed COMMIT had in fact gone through, the retry finds the
            // events stored and answers as a deduplicated retry, with the
            // original positions.
            tracing::warn!(error = %e, callers = jobs.len(), "group commit failed; retrying callers one by one");
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(
                    match try_commit(
                        pool,
                        std::slice::from_ref(job),
                        clock,
                        lock_key,
                        known,
                        stats,
                    )
                    .await
                    {
                        Ok(mut r) => r.pop().unwrap_or_else(|| Ok(Vec::new())),
                        Err(e) => Err(store_failure(e)),
                    },
                );
            }
            out
        }
    }
}

/// What the open transaction already holds or will hold: the facts every later
/// caller in the same batch must be planned against.
struct BatchState {
    tip: Option<Head>,
    versions: HashMap<String, Option<StreamTip>>,
    /// Events already in the ledger, by id (read under the lock).
    stored: HashMap<uuid::Uuid, ExistingEvent>,
    /// Events planned by this group so far, by id: their index in the
    /// group's rows. A second caller sending the same event is then answered
    /// as a retry of the first.
    planned: HashMap<uuid::Uuid, usize>,
}

impl BatchState {
    fn new(
        tip: Option<Head>,
        versions: HashMap<String, Option<StreamTip>>,
        stored: HashMap<uuid::Uuid, ExistingEvent>,
        events: usize,
    ) -> BatchState {
        BatchState {
            tip,
            versions,
            stored,
            planned: HashMap::with_capacity(events),
        }
    }
}

/// The stored events with any of the ids in `$1`, as [`existing_row`] reads them.
const STORED_BY_ID: &str = "SELECT event_id, position, stream, stream_version, event_type, \
     schema_version, occurred_at, actor_id, actor_name, actor_role, actor_org, payload_digest, \
     hash FROM events WHERE event_id = ANY($1::uuid[])";

/// One row of [`STORED_BY_ID`].
fn existing_row(r: &Row) -> Result<(uuid::Uuid, ExistingEvent), tokio_postgres::Error> {
    Ok((
        r.try_get::<_, uuid::Uuid>(0)?,
        ExistingEvent {
            position: u64::try_from(int(r, 1)?).unwrap_or(0),
            stream: text(r, 2)?,
            stream_version: u64::try_from(int(r, 3)?).unwrap_or(0),
            event_type: text(r, 4)?,
            schema_version: u32::try_from(int(r, 5)?).unwrap_or(0),
            occurred_at: text(r, 6)?,
            actor: Actor {
                id: text(r, 7)?,
                name: text(r, 8)?,
                role: text(r, 9)?,
                org: text(r, 10)?,
            },
            payload_digest: Digest::from_slice(&bytes(r, 11)?).unwrap_or_default(),
            hash: Digest::from_slice(&bytes(r, 12)?).unwrap_or_default(),
        },
    ))
}

fn existing_of(e: &RecordedEvent) -> ExistingEvent {
    ExistingEvent {
        position: e.position,
        stream: e.stream.clone(),
        stream_version: e.stream_version,
        event_type: e.event_type.clone(),
        schema_version: e.schema_version,
        occurred_at: e.occurred_at.clone(),
        actor: e.actor.clone(),
        payload_digest: e.payload_digest,
        hash: e.hash,
    }
}

/// Plans one caller's requests all-or-nothing. Each accepted request goes
/// straight into the batch state and the rows, and a refused one undoes what
/// the caller's earlier requests did, so that the usual case (every caller
/// accepted) copies nothing twice: this runs in the writer, between one
/// group's commit and the next.
fn plan_job(
    requests: &[PreparedRequest],
    state: &mut BatchState,
    now: &str,
    rows: &mut Vec<RecordedEvent>,
) -> Result<Vec<Appended>, BatchError> {
    let tip_before = state.tip.clone();
    let rows_before = rows.len();
    // Stream versions as they were before this caller: `None`, not there.
    let mut versions_before: Vec<(&str, Option<Option<StreamTip>>)> = Vec::new();
    let mut out = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let current = state.versions.get(&request.stream).copied().flatten();
        let found: Vec<Option<ExistingEvent>> = request
            .events
            .iter()
            .map(|e| match state.planned.get(&e.event_id) {
                Some(&i) => rows.get(i).map(existing_of),
                None => state.stored.get(&e.event_id).cloned(),
            })
            .collect();
        let planned = match plan_append(request, current, &found, &mut state.tip, now) {
            Ok(planned) => planned,
            Err(error) => {
                for e in &rows[rows_before..] {
                    state.planned.remove(&e.event_id);
                }
                rows.truncate(rows_before);
                for (stream, before) in versions_before.into_iter().rev() {
                    match before {
                        Some(v) => state.versions.insert(stream.to_string(), v),
                        None => state.versions.remove(stream),
                    };
                }
                state.tip = tip_before;
                return Err(BatchError { index, error });
            }
        };
        match planned {
            Plan::Duplicate(appended) => out.push(appended),
            Plan::Insert(events) => {
                if let Some(last) = events.last() {
                    let v = Some((last.stream_version, last.hash));
                    let before = match state.versions.get_mut(&request.stream) {
                        Some(slot) => Some(std::mem::replace(slot, v)),
                        None => {
                            state.versions.insert(request.stream.clone(), v);
                            None
                        }
                    };
                    versions_before.push((&request.stream, before));
                }
                out.push(appended_of(&request.stream, &events));
                for e in events {
                    state.planned.insert(e.event_id, rows.len());
                    rows.push(e);
                }
            }
        }
    }
    Ok(out)
}

/// The append transaction's statements. They are prepared (or found in the
/// connection's statement cache) before the transaction starts because the
/// transaction pipelines them: a statement goes out on its future's first
/// poll only if it is already prepared. One that still needed its Parse round
/// trip would let the statements queued after it, COMMIT above all, reach the
/// server first.
struct AppendStatements {
    lock: Statement,
    head: Statement,
    versions: Statement,
    stored: Statement,
    frontier: Statement,
    under: Statement,
    write: Statement,
    insert: Statement,
    attested: Statement,
}

/// BEGIN, as the first statement of a pipelined append transaction (it is
/// sent when the future is first polled, as are the others).
async fn begin(client: &tokio_postgres::Client) -> Result<(), StoreError> {
    client
        .batch_execute(BEGIN)
        .await
        .map_err(pg("starting the append transaction"))
}

/// The head lock (see the module docs), right after [`begin`].
async fn take_lock(
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
    async fn prepare(conn: &deadpool_postgres::Client) -> Result<Self, StoreError> {
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
        })
    }
}

/// Starts the append transaction. READ COMMITTED explicitly, whatever the
/// server's default: each read must take its snapshot after the head lock
/// was granted (see the module docs).
const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
const COMMIT: &str = "COMMIT";

/// For the rest of the transaction only: [`WRITE_GROUP`] runs with the plan
/// made at its first execution on the connection. The connections ask for
/// custom plans (D29), which for this statement meant planning it again for
/// every group, with its arrays as constants: measured, a fifth of the
/// server's time per group. Its plan does not depend on the ledger's size
/// (inserts from arrays; the head by a backward scan of the primary key and
/// the frontier by its key, which PostgreSQL picks even for an empty table),
/// so one plan serves every group.
const GENERIC_PLAN: &str = "SET LOCAL plan_cache_mode = force_generic_plan";

/// [`WRITE_GROUP`], preceded on the wire by [`GENERIC_PLAN`]; both are sent
/// on the first poll, like the statements pipelined around them.
async fn write_group(
    client: &tokio_postgres::Client,
    s: &AppendStatements,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let (generic, written) = tokio::join!(
        biased;
        client.batch_execute(GENERIC_PLAN),
        client.execute(&s.write, params),
    );
    generic.map_err(pg("asking for the ledger write's generic plan"))?;
    written.map_err(pg("writing the events and the Merkle tree"))
}

/// A pooled connection inside a transaction the writer opened itself, with a
/// plain BEGIN, so that BEGIN can travel in the same write as the statements
/// after it (`tokio_postgres::Transaction` waits for BEGIN's answer first).
/// Unless [`OpenTransaction::ended`] says the transaction is over, dropping
/// it (an error, a cancelled writer) closes the connection instead of
/// returning it to the pool: the server then rolls back whatever is still
/// open and releases the head lock, and no later user of the pool can find
/// itself inside a transaction it did not start. Errors are rare, so the
/// price, a new connection, is paid rarely; a ROLLBACK round trip would also
/// have to cope with a connection in an unknown state.
struct OpenTransaction(Option<deadpool_postgres::Client>);

impl OpenTransaction {
    fn conn(&self) -> &deadpool_postgres::Client {
        match &self.0 {
            Some(conn) => conn,
            // Only `ended` and `drop` empty it, and both consume the value.
            None => unreachable!("an OpenTransaction keeps its connection until it ends"),
        }
    }

    /// COMMIT was answered: the connection is idle and may go back to the pool.
    fn ended(mut self) {
        drop(self.0.take());
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Detached from the pool and dropped, the client closes its
            // connection.
            drop(deadpool_postgres::Object::take(conn));
        }
    }
}

/// What the writer's last transaction left behind: the head, the tree's
/// frontier and the versions of the streams it read or wrote. With it, the
/// next group can be planned without reading anything first (see
/// [`commit_from_known`]).
///
/// It can go stale only through another process appending to the same
/// ledger, and then the write planned from it cannot succeed: the ledger's
/// unique indexes make every such write collide with what the other process
/// wrote. Another append took position `head + 1` (primary key), and the
/// leaf after the frontier (`tree_nodes` primary key); another append to a
/// stream took the version after the known one, since versions are gapless
/// from 1 (`(stream, stream_version)`); an event id already stored is refused
/// by `events_event_id`. Rows are never changed (triggers), so what was
/// known about a row stays true.
struct Known {
    tip: Option<Head>,
    frontier: Option<Vec<u8>>,
    /// The last position the stored attestations cover (0: none). Stale only
    /// if another process wrote, and then the write's check of it fails.
    attested: u64,
    /// `None`: the stream had no event.
    versions: HashMap<String, Option<StreamTip>>,
    /// The last position under each stream prefix a guarded caller named
    /// (0: none), as of `tip`. Unlike a stale version, a stale entry here
    /// would make no index refuse anything, so it is only kept while every
    /// append since it was read is the writer's own and was added to it: a
    /// full transaction that finds the head elsewhere than `tip` (another
    /// process appended) forgets them all, as does a known write refused.
    latest_under: HashMap<String, u64>,
}

/// Streams whose versions [`Known`] keeps at most; past that it starts
/// afresh, which costs one full transaction per stream seen again.
const KNOWN_STREAMS: usize = 100_000;
/// Guarded prefixes (elections, in practice) [`Known`] keeps at most.
const KNOWN_PREFIXES: usize = 10_000;

impl Known {
    /// After a transaction planned from `known` committed `rows`.
    fn learn_in(
        known: &mut Known,
        state: BatchState,
        frontier: Vec<u8>,
        rows: &[RecordedEvent],
        attested: u64,
    ) {
        known.attested = attested;
        known.tip = state.tip;
        known.frontier = Some(frontier);
        known.versions.extend(state.versions);
        note_positions(&mut known.latest_under, rows);
    }

    /// After a full transaction committed `rows`: the head it read under the
    /// lock (`head_read`), the state it planned against and left, and the
    /// last positions under the guarded prefixes it read.
    fn learn(
        known: &mut Option<Known>,
        head_read: Option<&Head>,
        state: BatchState,
        frontier: Option<Vec<u8>>,
        read_under: HashMap<String, u64>,
        rows: &[RecordedEvent],
        attested: u64,
    ) {
        let k = known.get_or_insert_with(|| Known {
            tip: None,
            frontier: None,
            attested: 0,
            versions: HashMap::new(),
            latest_under: HashMap::new(),
        });
        // Someone else appended since the writer's last commit (or there
        // was none): what it knew of prefixes may have changed unseen.
        if k.tip.as_ref() != head_read || k.latest_under.len() + read_under.len() > KNOWN_PREFIXES {
            k.latest_under.clear();
        }
        k.latest_under.extend(read_under);
        note_positions(&mut k.latest_under, rows);
        k.tip = state.tip;
        k.frontier = frontier;
        k.attested = attested;
        if k.versions.len() + state.versions.len() > KNOWN_STREAMS {
            k.versions.clear();
        }
        k.versions.extend(state.versions);
    }

    /// The known state proved stale: forget what no index would catch.
    fn forget_guesses(&mut self) {
        self.versions.clear();
        self.latest_under.clear();
    }
}

/// Raises the last position of every known prefix that `rows` were written
/// under: each ancestor of a row's stream (`a`, `a/b`, … and the stream).
fn note_positions(latest_under: &mut HashMap<String, u64>, rows: &[RecordedEvent]) {
    if latest_under.is_empty() {
        return;
    }
    for row in rows {
        let stream = row.stream.as_str();
        let ancestors = stream
            .match_indices('/')
            .map(|(i, _)| &stream[..i])
            .chain(std::iter::once(stream));
        for prefix in ancestors {
            if let Some(last) = latest_under.get_mut(prefix) {
                *last = (*last).max(row.position);
            }
        }
    }
}

/// One transaction for a group of callers (two if the known state proved
/// stale). `Err` means nothing was committed (or, if the connection broke
/// during COMMIT, that nobody knows: the retry in [`commit_jobs`] then finds
/// the events and answers as a deduplicated retry) and no caller got an
/// answer yet. `known` is updated after a commit and forgotten on an error.
async fn try_commit(
    pool: &Pool,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Option<Known>,
    stats: &Counters,
) -> Result<Vec<Result<Vec<Appended>, BatchError>>, StoreError> {
    let outcome = async {
        let conn = pool.get().await.map_err(pool_err)?;
        let statements = AppendStatements::prepare(&conn).await?;
        let open = OpenTransaction(Some(conn));
        let mut results = None;
        if let Some(k) = known.as_mut() {
            results = commit_from_known(open.conn(), &statements, jobs, clock, lock_key, k, stats)
                .await?;
        }
        let results = match results {
            Some(r) => {
                stats.from_known.fetch_add(1, Ordering::Relaxed);
                r
            }
            None => in_transaction(open.conn(), &statements, jobs, clock, lock_key, known).await?,
        };
        open.ended();
        Ok(results)
    }
    .await;
    if outcome.is_err() {
        *known = None;
    }
    outcome
}

/// The group in one round trip: planned against what the writer knows
/// ([`Known`]), then BEGIN, the head lock, the write and COMMIT are sent
/// together. `Ok(None)` when that is not possible, with nothing committed
/// and the connection idle: a stream the writer knows nothing about, a
/// guarded caller whose prefix it has not read, a caller refused (a refusal is
/// only given on fresh reads), a group too large for one statement, or the
/// server refusing the write because the known state was stale. The caller
/// then runs the full transaction ([`in_transaction`]).
async fn commit_from_known(
    conn: &deadpool_postgres::Client,
    s: &AppendStatements,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Known,
    stats: &Counters,
) -> Result<Option<Vec<Result<Vec<Appended>, BatchError>>>, StoreError> {
    let planning = tokio::time::Instant::now();
    let client: &tokio_postgres::Client = conn;
    // Guarded callers ride along when their prefix's last position is known.
    let mut latest_under = HashMap::new();
    for g in jobs.iter().filter_map(|j| j.guard.as_ref()) {
        match known.latest_under.get(&g.prefix) {
            Some(&last) => latest_under.insert(g.prefix.clone(), last),
            None => return Ok(None),
        };
    }
    let requests = jobs.iter().map(|j| j.requests.len()).sum();
    let mut versions = HashMap::with_capacity(requests);
    for r in jobs.iter().flat_map(|j| &j.requests) {
        match known.versions.get(&r.stream) {
            Some(v) => versions.insert(r.stream.clone(), *v),
            None => return Ok(None),
        };
    }
    let mut state = BatchState::new(known.tip.clone(), versions, HashMap::new(), requests);
    let head_before = state.tip.as_ref().map_or(0, |h| h.position);
    let now = format_recorded_at(clock.clock.now());
    let (results, rows) = plan_group(jobs, &mut state, &latest_under, &now);
    if rows.is_empty() || rows.len() > INSERT_CHUNK || results.iter().any(Result::is_err) {
        return Ok(None);
    }
    let hashes: Vec<Digest> = rows.iter().map(|e| e.hash).collect();
    let Some(tree) = tree::extension_of(known.frontier.clone(), head_before, &hashes)? else {
        return Ok(None);
    };
    // A group the rules refuse to attest is left to the full transaction,
    // which reads afresh and gives the refusal.
    let Ok(attestation) = attest_group(clock, known.attested, head_before, jobs, &rows) else {
        return Ok(None);
    };
    let attested = attestation
        .as_ref()
        .map_or(known.attested, |a| a.last_position as u64);
    let write = GroupWrite::new(
        &rows,
        &tree,
        known.tip.as_ref(),
        known.frontier.clone(),
        (known.attested, attestation.as_ref()),
    );
    let params = write.params();
    stats
        .plan_ns
        .fetch_add(nanos(planning.elapsed()), Ordering::Relaxed);
    // In this order on the wire (`biased`: each future sends on its first
    // poll). As in `in_transaction`, the write is one statement, so COMMIT
    // either commits all of it or, after any failure, nothing; and COMMIT in
    // an aborted transaction is answered as a rollback, not an error.
    let (begun, locked, written, committed) = tokio::join!(
        biased;
        begin(client),
        take_lock(client, s, lock_key),
        write_group(client, s, &params),
        async {
            client
                .batch_execute(COMMIT)
                .await
                .map_err(pg("committing the append transaction"))
        },
    );
    match (begun, locked, written, committed) {
        (Ok(()), Ok(_), Ok(1), Ok(())) => {
            drop(params);
            drop(write);
            Known::learn_in(known, state, tree.frontier, &rows, attested);
            Ok(Some(results))
        }
        // The head or the frontier was not as known: the statement wrote
        // nothing, and COMMIT committed nothing.
        (Ok(()), Ok(_), Ok(_), Ok(())) => {
            known.forget_guesses();
            Ok(None)
        }
        // The transaction was open and COMMIT was answered, so a failed
        // lock or write rolled it back: nothing committed. A stream version
        // or event id taken meanwhile (a unique index refused the row), or
        // a real fault, which the full transaction then meets again.
        (Ok(()), Err(e), _, Ok(())) | (Ok(()), Ok(_), Err(e), Ok(())) => {
            tracing::debug!(error = %e, "write from the known ledger state refused; reading afresh");
            known.forget_guesses();
            Ok(None)
        }
        // BEGIN or COMMIT not answered: what happened is not known.
        (Err(e), ..) | (_, _, _, Err(e)) => Err(e),
    }
}

/// The append transaction from BEGIN to COMMIT, in two round trips in the
/// usual case: (1) BEGIN, the head lock and every read the planning needs,
/// pipelined; (2) one statement writing the events and the tree, pipelined
/// with COMMIT. `Ok` only once COMMIT was answered after every statement
/// before it succeeded.
async fn in_transaction(
    conn: &deadpool_postgres::Client,
    s: &AppendStatements,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Option<Known>,
) -> Result<Vec<Result<Vec<Appended>, BatchError>>, StoreError> {
    let client: &tokio_postgres::Client = conn;
    let mut streams: Vec<&str> = Vec::new();
    let mut ids: Vec<uuid::Uuid> = Vec::new();
    for job in jobs {
        for r in &job.requests {
            streams.push(&r.stream);
            ids.extend(r.events.iter().map(|e| e.event_id));
        }
    }
    streams.sort_unstable();
    streams.dedup();
    // Guarded callers' prefixes, each once: the guards are known before the
    // transaction starts, so their reads go out with the others.
    let mut prefixes: Vec<&str> = jobs
        .iter()
        .filter_map(|j| j.guard.as_ref().map(|g| g.prefix.as_str()))
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let (slashes, ends): (Vec<String>, Vec<String>) =
        prefixes.iter().map(|p| prefix_bounds(p)).unzip();

    // BEGIN, the head lock (see the module docs) and the reads, sent together
    // (pipelined on the one connection; `biased` polls the futures in this
    // order, and each sends its statement on its first poll). The server runs
    // them one after the other, so the reads start, and take their READ
    // COMMITTED snapshots, only once the lock is granted. If one fails, the
    // transaction is aborted and the connection discarded (`OpenTransaction`).
    let (_, _, head_row, version_rows, stored_rows, frontier_row, under_rows, attested_row) = tokio::try_join!(
        biased;
        begin(client),
        take_lock(client, s, lock_key),
        async {
            client
                .query_opt(&s.head, &[])
                .await
                .map_err(pg("reading the ledger head"))
        },
        async {
            client
                .query(&s.versions, &[&streams])
                .await
                .map_err(pg("reading stream versions"))
        },
        async {
            client
                .query(&s.stored, &[&ids])
                .await
                .map_err(pg("looking up event ids"))
        },
        async {
            client
                .query_opt(&s.frontier, &[])
                .await
                .map_err(pg("reading the tree frontier"))
        },
        async {
            if prefixes.is_empty() {
                return Ok(Vec::new());
            }
            client
                .query(&s.under, &[&prefixes, &slashes, &ends])
                .await
                .map_err(pg("reading the last position under a stream prefix"))
        },
        async {
            client
                .query_one(&s.attested, &[])
                .await
                .map_err(pg("reading the last attested position"))
        },
    )?;
    let attested_before = u64::try_from(
        attested_row
            .try_get::<_, i64>(0)
            .map_err(pg("reading the last attested position"))?,
    )
    .unwrap_or(0);
    let now = format_recorded_at(clock.clock.now());
    let tip = head_row.as_ref().map(head_of).transpose()?;
    let head_before = tip.as_ref().map_or(0, |h| h.position);
    let head_read = tip.clone();
    let versions = version_rows
        .iter()
        .map(|r| {
            let version = r.try_get::<_, Option<i64>>(1)?;
            let hash = r.try_get::<_, Option<Vec<u8>>>(2)?;
            Ok((
                r.try_get::<_, String>(0)?,
                // A hash that is not 32 bytes chains the next event onto
                // zeros, which verify names at that event.
                version.map(|v| {
                    (
                        u64::try_from(v).unwrap_or(0),
                        hash.as_deref()
                            .and_then(Digest::from_slice)
                            .unwrap_or_default(),
                    )
                }),
            ))
        })
        .collect::<Result<HashMap<_, _>, tokio_postgres::Error>>()
        .map_err(pg("reading stream versions"))?;
    let stored = stored_rows
        .iter()
        .map(existing_row)
        .collect::<Result<HashMap<_, _>, tokio_postgres::Error>>()
        .map_err(pg("looking up event ids"))?;
    // Guarded callers: the last position under each prefix, read under the lock.
    let latest_under = under_rows
        .iter()
        .map(|r| {
            Ok((
                r.try_get::<_, String>(0)?,
                r.try_get::<_, Option<i64>>(1)?
                    .map_or(0, |p| u64::try_from(p).unwrap_or(0)),
            ))
        })
        .collect::<Result<HashMap<_, _>, tokio_postgres::Error>>()
        .map_err(pg("reading the last position under a stream prefix"))?;

    let mut state = BatchState::new(tip, versions, stored, ids.len());
    let (results, rows) = plan_group(jobs, &mut state, &latest_under, &now);

    let commit = async {
        client
            .batch_execute(COMMIT)
            .await
            .map_err(pg("committing the append transaction"))
    };
    let frontier = tree::frontier_blob(frontier_row.as_ref())?;
    if rows.is_empty() {
        // Nothing to write (every caller refused, or deduplicated): COMMIT
        // ends the transaction and releases the lock.
        commit.await?;
        Known::learn(
            known,
            head_read.as_ref(),
            state,
            frontier,
            latest_under,
            &rows,
            attested_before,
        );
        return Ok(results);
    }
    let attestation = match attest_group(clock, attested_before, head_before, jobs, &rows) {
        Ok(a) => a,
        Err(m) => {
            // Nothing is written: every caller that would have written is
            // told why, and COMMIT ends the transaction.
            commit.await?;
            return Ok(results
                .into_iter()
                .map(|r| {
                    r.and_then(|_| {
                        Err(BatchError {
                            index: 0,
                            error: AppendError::Unattested(m.clone()),
                        })
                    })
                })
                .collect());
        }
    };
    let attested = attestation
        .as_ref()
        .map_or(attested_before, |a| a.last_position as u64);
    let hashes: Vec<Digest> = rows.iter().map(|e| e.hash).collect();
    if rows.len() > INSERT_CHUNK {
        // More rows than one statement takes: the statements one after the
        // other, then COMMIT on its own. Such groups are large enough for
        // the extra round trips not to matter. (The new frontier is not at
        // hand here: the next group reads everything again.)
        for chunk in rows.chunks(INSERT_CHUNK) {
            insert_rows(client, &s.insert, chunk).await?;
        }
        tree::extend(conn, frontier, head_before, &hashes).await?;
        if let Some(a) = &attestation {
            insert_attestation(client, a).await?;
        }
        commit.await?;
        return Ok(results);
    }
    // The tree commits with the events or not at all. Its rows depend only on
    // the hashes, so one statement writes both, and COMMIT goes out with it.
    // If the statement fails on the server, the transaction is aborted and
    // the server answers that COMMIT with a rollback, not an error: success
    // is both answers being Ok, never COMMIT's alone. If it fails before
    // being sent (a parameter the driver cannot encode), COMMIT commits a
    // transaction that wrote nothing. Being a single statement is what makes
    // both cases safe: with two, the second could commit without the first.
    let tree = tree::extension(conn, frontier.clone(), head_before, &hashes).await?;
    let write = GroupWrite::new(
        &rows,
        &tree,
        head_read.as_ref(),
        frontier,
        (attested_before, attestation.as_ref()),
    );
    let params = write.params();
    let (written, committed) = tokio::join!(
        biased;
        write_group(client, s, &params),
        commit,
    );
    let written = written?;
    committed?;
    if written != 1 {
        // Read under the lock, changed before the write under the same lock:
        // only a writer ignoring the lock can do that. Nothing was written.
        return Err(StoreError::Schema(
            "the ledger changed under the head lock (a writer that does not take it?); \
             nothing was written"
                .into(),
        ));
    }
    drop(params);
    drop(write);
    Known::learn(
        known,
        head_read.as_ref(),
        state,
        Some(tree.frontier),
        latest_under,
        &rows,
        attested,
    );
    Ok(results)
}

/// Plans every caller of a group against `state` (the ledger as read, or as
/// known), guarded callers against `latest_under` first: one result per
/// caller, in order, and the rows to write.
fn plan_group(
    jobs: &[Job],
    state: &mut BatchState,
    latest_under: &HashMap<String, u64>,
    now: &str,
) -> (Vec<Result<Vec<Appended>, BatchError>>, Vec<RecordedEvent>) {
    let mut rows: Vec<RecordedEvent> = Vec::new();
    let results = jobs
        .iter()
        .map(|job| {
            if let Some(g) = &job.guard {
                // Recorded before this transaction, or by an earlier caller of it.
                let earlier = rows
                    .iter()
                    .filter(|e| g.covers(&e.stream))
                    .map(|e| e.position)
                    .max()
                    .unwrap_or(0);
                let latest = latest_under
                    .get(g.prefix.as_str())
                    .copied()
                    .unwrap_or(0)
                    .max(earlier);
                if latest > g.seen {
                    return Err(BatchError {
                        index: 0,
                        error: AppendError::ScopeChanged {
                            prefix: g.prefix.clone(),
                            seen: g.seen,
                            latest,
                        },
                    });
                }
            }
            plan_job(&job.requests, state, now, &mut rows)
        })
        .collect();
    (results, rows)
}

/// The byte-order bounds of the streams under `prefix` (see
/// `migrations/postgres/0003_stream_prefix.sql`): such a stream sorts in
/// `[prefix, prefix + "0")` and is the prefix or sorts at or after
/// `prefix + "/"`, as no byte lies between `/` and `0`.
const UNDER_PREFIX: &str = "stream COLLATE \"C\" >= $1 AND stream COLLATE \"C\" < $3 \
     AND (stream = $1 OR stream COLLATE \"C\" >= $2)";

fn prefix_bounds(prefix: &str) -> (String, String) {
    (format!("{prefix}/"), format!("{prefix}0"))
}

/// The last position under each of the prefixes `$1` (with their bounds `$2`
/// and `$3`, see [`UNDER_PREFIX`]), for the guarded callers of a group, in
/// one statement. The OFFSET 0 fence keeps the planner from turning max()
/// into a backward walk of the position index filtered by stream, which for
/// an election with few or no events reads the whole ledger.
const LAST_POSITIONS_UNDER: &str = "SELECT u.prefix, (SELECT max(position) FROM \
     (SELECT position FROM events WHERE stream COLLATE \"C\" >= u.prefix \
     AND stream COLLATE \"C\" < u.upper AND (stream = u.prefix OR stream COLLATE \"C\" >= u.slash) \
     OFFSET 0) AS under) \
     FROM unnest($1::text[], $2::text[], $3::text[]) AS u(prefix, slash, upper)";

/// The statement of [`INSERT_EVENTS`], as a literal so that [`WRITE_GROUP`]
/// can embed it.
macro_rules! insert_events {
    () => {
        "INSERT INTO events (position, stream, stream_version, \
         event_id, event_type, schema_version, occurred_at, recorded_at, actor_id, actor_name, \
         actor_role, actor_org, payload, payload_digest, prev_hash, hash, stream_prev) \
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], \
         $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], \
         $13::text[], $14::bytea[], $15::bytea[], $16::bytea[], $17::bytea[])"
    };
}

/// The one statement that writes ledger rows: a multi-row insert of arrays,
/// one per column (`insert_rows` binds them). The benchmark's baseline runs the
/// same statement, so the two differ only in what the ledger adds around it.
pub const INSERT_EVENTS: &str = insert_events!();

/// The call that appends ledger rows for the store, owner or `jishi_app`
/// alike (migration 7, D63): [`INSERT_EVENTS`]'s arrays handed to
/// `jishi_append_events`, which refuses them unless their positions follow
/// the head, their prev_hashes link and their recorded_at values are in
/// order and near the database's clock. A literal, for [`WRITE_GROUP`].
macro_rules! append_events {
    // `$sp`: the parameter of the stream_prev column (format 3, migration
    // 9), `$17` on its own, last (`$29`) in [`WRITE_GROUP`].
    ($sp:literal) => {
        concat!(
            "SELECT jishi_append_events($1::bigint[], $2::text[], $3::bigint[], $4::uuid[], \
             $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::text[], \
             $11::text[], $12::text[], $13::text[], $14::bytea[], $15::bytea[], $16::bytea[], ",
            $sp,
            "::bytea[])"
        )
    };
}

/// [`append_events!`] on its own: the rows of a group too large for one
/// [`WRITE_GROUP`], a chunk at a time.
const APPEND_EVENTS: &str = append_events!("$17");

/// What a group transaction writes, as one statement: the events (through
/// [`APPEND_EVENTS`], `$1`–`$16` and `$29`), the new leaves' tree nodes
/// (`$17`, `$18`) and the frontier (`$19`). One statement, so that COMMIT can be sent with
/// it safely (see `in_transaction`).
///
/// It writes only if the ledger is still as the group was planned: the head
/// at position `$20` (0: no event) with hash `$21`, the frontier row `$22`
/// (NULL: none) and the last attested position `$23`. With it goes the
/// group's attestation (`$24`–`$28`, NULL when the ledger has no key). Otherwise it writes nothing and reports 0 rows, where
/// a write reports 1 (the `tree_state` row). Under the head lock that can
/// only be false for a group planned from what the writer knew
/// ([`commit_from_known`]) after another process appended, or after someone
/// changed the tables by hand. All parts read the statement's one snapshot,
/// taken after the lock was granted. The function call is a CTE that the
/// final INSERT reads, so it runs exactly when `ok` holds (a volatile call
/// is never folded away); if it refuses the rows, the statement fails and
/// nothing commits.
const WRITE_GROUP: &str = concat!(
    "WITH ok AS (SELECT 1 WHERE COALESCE((SELECT position = $20 AND hash = $21 FROM events \
     ORDER BY position DESC LIMIT 1), $20 = 0) \
     AND (SELECT frontier FROM tree_state WHERE id = 1) IS NOT DISTINCT FROM $22::bytea \
     AND COALESCE((SELECT max(last_position) FROM attestations), 0) = $23), \
     attested AS (INSERT INTO attestations (last_position, first_position, key_name, key_id, \
     signature) SELECT $24::bigint, $25::bigint, $26::text, $27::bigint, $28::bytea FROM ok \
     WHERE $24::bigint IS NOT NULL), \
     written AS (",
    append_events!("$29"),
    " AS n FROM ok), \
     nodes AS (INSERT INTO tree_nodes (leaf, hashes) \
     SELECT * FROM unnest($17::bigint[], $18::bytea[]) WHERE EXISTS (SELECT FROM ok)) \
     INSERT INTO tree_state (id, frontier) SELECT 1, $19::bytea FROM ok, written \
     ON CONFLICT (id) DO UPDATE SET frontier = excluded.frontier"
);

/// The last position the stored attestations cover (0: none).
const ATTESTED_THROUGH: &str = "SELECT COALESCE(max(last_position), 0)::bigint FROM attestations";

/// The attestation of the group `rows` about to be written after `head`
/// (see [`group_start`]): `None` for a ledger without a key, written
/// without one; `Err` when the rules refuse the write.
fn attest_group(
    w: &Writing,
    attested: u64,
    head: u64,
    jobs: &[Job],
    rows: &[RecordedEvent],
) -> Result<Option<Attestation>, String> {
    let registers = jobs
        .iter()
        .flat_map(|j| &j.requests)
        .any(PreparedRequest::registers_key);
    let first = group_start(attested, head, registers, w.attestor.is_some())?;
    Ok(match (first, &w.attestor, rows.last()) {
        (Some(first), Some(a), Some(last)) => Some(a.attest(first, last.position, &last.hash)),
        _ => None,
    })
}

async fn insert_attestation<C: GenericClient>(
    client: &C,
    a: &Attestation,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO attestations (last_position, first_position, key_name, key_id, signature) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&a.last_position, &a.first_position, &a.key_name, &a.key_id, &a.signature],
        )
        .await
        .map_err(pg("writing the attestation"))?;
    Ok(())
}

/// The parameters of [`WRITE_GROUP`].
struct GroupWrite<'a> {
    columns: EventColumns<'a>,
    tree: &'a tree::Extension,
    head_position: i64,
    head_hash: Vec<u8>,
    frontier_before: Option<Vec<u8>>,
    attested_before: i64,
    last: Option<i64>,
    first: Option<i64>,
    key_name: Option<&'a str>,
    key_id: Option<i64>,
    signature: Option<&'a [u8]>,
}

impl<'a> GroupWrite<'a> {
    fn new(
        rows: &'a [RecordedEvent],
        tree: &'a tree::Extension,
        head: Option<&Head>,
        frontier_before: Option<Vec<u8>>,
        (attested_before, attestation): (u64, Option<&'a Attestation>),
    ) -> Self {
        GroupWrite {
            columns: EventColumns::of(rows),
            tree,
            head_position: head.map_or(0, |h| to_i64(h.position)),
            head_hash: head.map_or_else(Vec::new, |h| h.hash.0.to_vec()),
            frontier_before,
            attested_before: to_i64(attested_before),
            last: attestation.map(|a| a.last_position),
            first: attestation.map(|a| a.first_position),
            key_name: attestation.map(|a| a.key_name.as_str()),
            key_id: attestation.map(|a| a.key_id),
            signature: attestation.map(|a| a.signature.as_slice()),
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let columns = self.columns.params();
        let mut params: Vec<&(dyn ToSql + Sync)> = columns[..16].to_vec();
        params.extend([
            &self.tree.leaves as &(dyn ToSql + Sync),
            &self.tree.nodes,
            &self.tree.frontier,
            &self.head_position,
            &self.head_hash,
            &self.frontier_before,
            &self.attested_before,
            &self.last,
            &self.first,
            &self.key_name,
            &self.key_id,
            &self.signature,
            // $29: stream_prev, added with format 3 after the others.
            columns[16],
        ]);
        params
    }
}

/// The columns of some ledger rows as the arrays [`INSERT_EVENTS`] binds.
struct EventColumns<'a> {
    position: Vec<i64>,
    stream: Vec<&'a str>,
    version: Vec<i64>,
    event_id: Vec<uuid::Uuid>,
    event_type: Vec<&'a str>,
    schema: Vec<i64>,
    occurred: Vec<&'a str>,
    recorded: Vec<&'a str>,
    actor_id: Vec<&'a str>,
    actor_name: Vec<&'a str>,
    actor_role: Vec<&'a str>,
    actor_org: Vec<&'a str>,
    payload: Vec<&'a str>,
    digest: Vec<&'a [u8]>,
    prev: Vec<&'a [u8]>,
    hash: Vec<&'a [u8]>,
    stream_prev: Vec<Option<&'a [u8]>>,
}

impl<'a> EventColumns<'a> {
    fn of(rows: &'a [RecordedEvent]) -> Self {
        EventColumns {
            position: rows.iter().map(|e| to_i64(e.position)).collect(),
            stream: rows.iter().map(|e| e.stream.as_str()).collect(),
            version: rows.iter().map(|e| to_i64(e.stream_version)).collect(),
            event_id: rows.iter().map(|e| e.event_id).collect(),
            event_type: rows.iter().map(|e| e.event_type.as_str()).collect(),
            schema: rows.iter().map(|e| i64::from(e.schema_version)).collect(),
            occurred: rows.iter().map(|e| e.occurred_at.as_str()).collect(),
            recorded: rows.iter().map(|e| e.recorded_at.as_str()).collect(),
            actor_id: rows.iter().map(|e| e.actor.id.as_str()).collect(),
            actor_name: rows.iter().map(|e| e.actor.name.as_str()).collect(),
            actor_role: rows.iter().map(|e| e.actor.role.as_str()).collect(),
            actor_org: rows.iter().map(|e| e.actor.org.as_str()).collect(),
            payload: rows.iter().map(|e| e.payload.as_str()).collect(),
            digest: rows.iter().map(|e| &e.payload_digest.0[..]).collect(),
            prev: rows.iter().map(|e| &e.prev_hash.0[..]).collect(),
            hash: rows.iter().map(|e| &e.hash.0[..]).collect(),
            stream_prev: rows
                .iter()
                .map(|e| e.stream_prev.as_ref().map(|d| &d.0[..]))
                .collect(),
        }
    }

    /// `$1`–`$17` of [`INSERT_EVENTS`], in order.
    fn params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.position,
            &self.stream,
            &self.version,
            &self.event_id,
            &self.event_type,
            &self.schema,
            &self.occurred,
            &self.recorded,
            &self.actor_id,
            &self.actor_name,
            &self.actor_role,
            &self.actor_org,
            &self.payload,
            &self.digest,
            &self.prev,
            &self.hash,
            &self.stream_prev,
        ]
    }
}

/// Writes `rows` as they are (no check, no hashing) with a prepared
/// [`INSERT_EVENTS`].
pub async fn insert_rows<C: GenericClient>(
    client: &C,
    insert: &tokio_postgres::Statement,
    rows: &[RecordedEvent],
) -> Result<(), StoreError> {
    let columns = EventColumns::of(rows);
    client
        .execute(insert, &columns.params())
        .await
        .map_err(pg("inserting ledger rows"))?;
    Ok(())
}

#[async_trait]
impl EventStore for PostgresStore {
    fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    async fn read_attestations(
        &self,
        from_last: u64,
        limit: usize,
    ) -> Result<Vec<Attestation>, StoreError> {
        let conn = self.pool.get().await.map_err(pool_err)?;
        let what = "reading attestations";
        let rows = conn
            .query(
                "SELECT first_position, last_position, key_name, key_id, signature \
                 FROM attestations WHERE last_position >= $1 ORDER BY last_position LIMIT $2",
                &[&to_i64(from_last), &(limit.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(pg(what))?;
        rows.iter()
            .map(|r| {
                Ok(Attestation {
                    first_position: int(r, 0)?,
                    last_position: int(r, 1)?,
                    key_name: text(r, 2)?,
                    key_id: int(r, 3)?,
                    signature: bytes(r, 4)?,
                })
            })
            .collect::<Result<Vec<_>, tokio_postgres::Error>>()
            .map_err(pg(what))
    }

    async fn schema_drift(&self) -> Result<Vec<crate::drift::SchemaDrift>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        drift::schema_drift(&**client).await
    }

    async fn append_prepared(
        &self,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        self.submit(None, requests).await
    }

    async fn append_guarded(
        &self,
        guard: ScopeGuard,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        self.submit(Some(guard), requests).await
    }

    async fn read_prefix(
        &self,
        prefix: &str,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let what = "reading streams under a prefix";
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(&format!(
                // As in `LAST_POSITIONS_UNDER`: read the election's range of the
                // stream index and sort it, rather than walk the whole ledger
                // in position order looking for the election's rows.
                "SELECT * FROM (SELECT {COLUMNS} FROM events \
                 WHERE {UNDER_PREFIX} AND position >= $4 OFFSET 0) AS under \
                 ORDER BY position LIMIT $5"
            ))
            .await
            .map_err(pg(what))?;
        let (slash, end) = prefix_bounds(prefix);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            .query(
                &stmt,
                &[&prefix, &slash, &end, &to_i64(from_position), &limit],
            )
            .await
            .map_err(pg(what))?
            .iter()
            .map(|r| stored_row(r).map_err(pg(what))?.into_event())
            .collect()
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let what = "reading a stream";
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE stream = $1 AND stream_version >= $2 \
                 ORDER BY stream_version LIMIT $3"
            ))
            .await
            .map_err(pg(what))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            .query(&stmt, &[&stream, &to_i64(from_version), &limit])
            .await
            .map_err(pg(what))?
            .iter()
            .map(|r| stored_row(r).map_err(pg(what))?.into_event())
            .collect()
    }

    /// A primary-key range scan of at most `limit` rows: the verifier pages
    /// through a ledger of any length in constant memory.
    async fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let what = "reading ledger rows";
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
            ))
            .await
            .map_err(pg(what))?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            // 0 reads every row, also rows at positions below 1 (tampering).
            .query(
                &stmt,
                &[
                    &if from_position == 0 {
                        i64::MIN
                    } else {
                        to_i64(from_position)
                    },
                    &limit,
                ],
            )
            .await
            .map_err(pg(what))?
            .iter()
            .map(|r| stored_row(r).map_err(pg(what)))
            .collect()
    }

    async fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let what = "reading a stream version";
        let client = self.pool.get().await.map_err(pool_err)?;
        let v: Option<i64> = client
            .query_one(
                "SELECT max(stream_version) FROM events WHERE stream = $1",
                &[&stream],
            )
            .await
            .and_then(|r| r.try_get(0))
            .map_err(pg(what))?;
        Ok(v.map(|v| u64::try_from(v).unwrap_or(0)))
    }

    async fn stream_heads(
        &self,
        size: u64,
    ) -> Result<std::collections::BTreeMap<String, StreamTip>, StoreError> {
        let what = "reading the stream heads";
        let client = self.pool.get().await.map_err(pool_err)?;
        let rows = client
            .query(
                "SELECT DISTINCT ON (stream) stream, stream_version, hash FROM events \
                 WHERE position <= $1 ORDER BY stream, stream_version DESC",
                &[&to_i64(size)],
            )
            .await
            .map_err(pg(what))?;
        let mut out = std::collections::BTreeMap::new();
        for r in &rows {
            let stream: String = r.try_get(0).map_err(pg(what))?;
            let version: i64 = r.try_get(1).map_err(pg(what))?;
            let hash: Vec<u8> = r.try_get(2).map_err(pg(what))?;
            let hash = Digest::from_slice(&hash).ok_or_else(|| StoreError::Corrupt {
                position: -1,
                reason: format!("the last event of stream {stream:?} has no 32-byte hash"),
            })?;
            out.insert(stream, (u64::try_from(version).unwrap_or(0), hash));
        }
        Ok(out)
    }

    async fn stored_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<HashMap<uuid::Uuid, ExistingEvent>, StoreError> {
        let what = "looking up event ids";
        let client = self.pool.get().await.map_err(pool_err)?;
        let stmt = client
            .prepare_cached(STORED_BY_ID)
            .await
            .map_err(pg(what))?;
        let mut out = HashMap::new();
        // In pages, so that a file of a million lines is not one parameter.
        for page in ids.chunks(10_000) {
            for r in client.query(&stmt, &[&page]).await.map_err(pg(what))? {
                let (id, e) = existing_row(&r).map_err(pg(what))?;
                out.insert(id, e);
            }
        }
        Ok(out)
    }

    async fn head(&self) -> Result<Option<Head>, StoreError> {
        let client = self.pool.get().await.map_err(pool_err)?;
        read_head(&**client).await
    }
}
