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
//! [`plan_append`](crate::store::plan_append) against the head and stream versions it has already
//! planned in this transaction, and writes all accepted rows with one
//! multi-row `INSERT … SELECT FROM unnest(…)` per few thousand rows. A caller
//! whose request conflicts (stream version, reused event id) gets its own
//! error and contributes nothing; the others commit. A caller's reply is sent
//! only after COMMIT returned and the WAL flush passed the group's commit
//! record: acknowledged means committed and durable. The group commits with
//! `synchronous_commit = off` and a flusher task confirms the flush while
//! the writer commits the next groups ([`durable`], D83); with synchronous
//! standbys each group waits for its own commit instead (D84). Every read
//! returns only once what it read is durable (D85).
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
mod durable;
mod known;
mod migrate;
mod plan;
mod reads;
mod sql;
mod standby;
mod statements;
mod tree;
mod writer;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::NoTls;

/// Re-exported so that tests and the benchmark talk to the same driver
/// version as the store without a dependency of their own.
pub use deadpool_postgres;
pub use tokio_postgres;

pub use durable::{Durability, GroupDurability};
pub use migrate::migrate;
pub use sql::{insert_rows, INSERT_EVENTS};
pub use standby::Replay;

use crate::attest::{Attestation, Attestor};
use crate::row::StoredRow;
use crate::store::{
    Appended, BatchError, EventStore, ExistingEvent, Head, PreparedRequest, ScopeGuard, StoreError,
    StreamTip,
};
use crate::{Clock, RecordedEvent, SystemClock};
use durable::{flusher, FlushConn, Marks};
use migrate::{applied, current_schema, ledger_exists};
use reads::read_head;
use writer::{store_failure, writer};

const STORE: &str = "postgres";

/// High 32 bits of the bigint advisory-lock key that serializes appends; the
/// low 32 bits are the ledger table's oid, unique within the database.
const APPEND_LOCK_PREFIX: i64 = 0x6A69_7361 << 32;

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
    /// How a group is made durable before its callers are answered (D83).
    pub durability: Durability,
    /// Keep a [`GroupDurability`] for every acknowledged group
    /// ([`PostgresStore::durability_log`]): for crash tests, since the
    /// list grows with every group.
    pub record_durability: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            group_commit: GroupCommit::default(),
            pool_size: 8,
            create: true,
            clock: Arc::new(SystemClock),
            attestor: None,
            durability: Durability::Auto,
            record_durability: false,
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
    /// What is committed and what is durable, which bounds every read (D85).
    marks: Arc<Marks>,
    /// Set for a store opened on a hot standby ([`PostgresStore::open_standby`]):
    /// it has no writer, and counts the writes it refused (D116).
    standby: Option<Arc<AtomicU64>>,
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
    flushes: AtomicU64,
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
    /// WAL flushes the flusher forced (D83); each acknowledged every group
    /// committed since the one before. Zero when groups commit synchronously.
    pub flushes: u64,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

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
        config: tokio_postgres::Config,
        options: PgOptions,
    ) -> Result<PostgresStore, StoreError> {
        let pool = pool_for(config, options.pool_size)?;
        let mut client = pool.get().await.map_err(pool_err)?;
        if standby::in_recovery(&client).await? {
            // Migrating would fail with "read-only transaction" at best.
            return Err(StoreError::Schema(
                "this server is a hot standby (pg_is_in_recovery()): nothing can be written                  there; write to its primary with --db, and read the standby with                  `jishi serve --read-db` (D116)"
                    .into(),
            ));
        }
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
        let asynchronous = match options.durability {
            Durability::Synchronous => false,
            // With synchronous standbys, durable means the standby's flush
            // too, which only the commit's own wait gives (D84).
            Durability::Auto => client
                .query_one("SELECT current_setting('synchronous_standby_names')", &[])
                .await
                .and_then(|r| r.try_get::<_, String>(0))
                .map_err(pg("reading synchronous_standby_names"))?
                .trim()
                .is_empty(),
        };
        drop(client);
        let (jobs, rx) = mpsc::channel(options.group_commit.queue.max(1));
        let stats = Arc::new(Counters::default());
        let marks = Arc::new(Marks::new(asynchronous, options.record_durability));
        let flush = if asynchronous {
            // Opened before the writer commits anything: only a connection
            // older than a group's COMMIT may confirm its flush.
            let conn = FlushConn::open(&pool).await?;
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(flusher(
                pool.clone(),
                rx,
                marks.clone(),
                Some(conn),
                stats.clone(),
            ));
            Some(tx)
        } else {
            None
        };
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
            durable::Acks {
                marks: marks.clone(),
                flush,
            },
        ));
        Ok(PostgresStore {
            pool,
            jobs,
            clock: options.clock,
            stats,
            marks,
            standby: None,
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

    /// Hands one caller's requests to the writer task and waits for its answer
    /// (given only after COMMIT and a WAL flush that covers it, D83).
    async fn submit(
        &self,
        guard: Option<ScopeGuard>,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        if let Some(refused) = &self.standby {
            refused.fetch_add(1, Ordering::Relaxed);
            return Err(store_failure(standby::read_only()));
        }
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

    /// How many group transactions and callers the writer task has handled.
    pub fn group_stats(&self) -> GroupStats {
        GroupStats {
            transactions: self.stats.transactions.load(Ordering::Relaxed),
            callers: self.stats.callers.load(Ordering::Relaxed),
            from_known: self.stats.from_known.load(Ordering::Relaxed),
            gather: Duration::from_nanos(self.stats.gather_ns.load(Ordering::Relaxed)),
            commit: Duration::from_nanos(self.stats.commit_ns.load(Ordering::Relaxed)),
            plan: Duration::from_nanos(self.stats.plan_ns.load(Ordering::Relaxed)),
            flushes: self.stats.flushes.load(Ordering::Relaxed),
        }
    }

    /// Whether groups commit asynchronously, acknowledged after a flush
    /// (D83), rather than each waiting for its own commit (D84).
    pub fn commits_asynchronously(&self) -> bool {
        self.marks.asynchronous
    }

    /// The greatest position known to be durable: every read is bounded to it.
    pub fn durable_position(&self) -> u64 {
        self.marks.durable()
    }

    /// Every acknowledged group's commit and flush LSNs, oldest first, when
    /// [`PgOptions::record_durability`] is set (empty otherwise).
    pub fn durability_log(&self) -> Vec<GroupDurability> {
        self.marks.log()
    }

    /// A pooled connection for a read that must end bounded to durable
    /// state ([`PostgresStore::bounded`]).
    async fn reader(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_err)
    }

    /// Bounds what `client` has just read, up to `position`, to durable
    /// state (D85): returns once those rows cannot be lost.
    async fn bounded(
        &self,
        client: &deadpool_postgres::Client,
        position: u64,
    ) -> Result<(), StoreError> {
        self.marks.durable_through(client, position).await
    }

    /// Bounds a read whose result names no position (a stream version, tree
    /// rows): everything up to the head read after it on the same
    /// connection, which is at or past anything it saw.
    async fn bounded_by_head(&self, client: &deadpool_postgres::Client) -> Result<(), StoreError> {
        let head = read_head(&***client).await?.map_or(0, |h| h.position);
        self.bounded(client, head).await
    }

    /// The connection pool, for callers that need plain SQL next to the store
    /// (the benchmark's baseline, tests).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// A connection pool for `config`, each connection planning every statement
/// for the table's current size (see the comment inside).
fn pool_for(mut config: tokio_postgres::Config, pool_size: usize) -> Result<Pool, StoreError> {
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
    Pool::builder(manager)
        .max_size(pool_size.max(2))
        .build()
        .map_err(|e| StoreError::backend(STORE, e))
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// What the writer writes with: the clock that stamps `recorded_at` and the
/// recording key that attests each group.
struct Writing {
    clock: Arc<dyn Clock>,
    attestor: Option<Arc<Attestor>>,
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
        let client = self.reader().await?;
        let out = reads::read_attestations(&client, from_last, limit).await?;
        let last = out.iter().map(|a| a.last_position).max().unwrap_or(0);
        self.bounded(&client, u64::try_from(last).unwrap_or(0))
            .await?;
        Ok(out)
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
        let client = self.reader().await?;
        let out = reads::read_prefix(&client, prefix, from_position, limit).await?;
        self.bounded(&client, out.iter().map(|e| e.position).max().unwrap_or(0))
            .await?;
        Ok(out)
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let client = self.reader().await?;
        let out = reads::read_stream(&client, stream, from_version, limit).await?;
        self.bounded(&client, out.iter().map(|e| e.position).max().unwrap_or(0))
            .await?;
        Ok(out)
    }

    /// A primary-key range scan of at most `limit` rows: the verifier pages
    /// through a ledger of any length in constant memory.
    async fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        let client = self.reader().await?;
        let out = reads::read_rows(&client, from_position, limit).await?;
        let last = out.iter().map(|r| r.position).max().unwrap_or(0);
        self.bounded(&client, u64::try_from(last).unwrap_or(0))
            .await?;
        Ok(out)
    }

    async fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        let client = self.reader().await?;
        let out = reads::stream_version(&client, stream).await?;
        self.bounded_by_head(&client).await?;
        Ok(out)
    }

    async fn stream_heads(
        &self,
        size: u64,
    ) -> Result<std::collections::BTreeMap<String, StreamTip>, StoreError> {
        let client = self.reader().await?;
        let out = reads::stream_heads(&client, size).await?;
        self.bounded_by_head(&client).await?;
        Ok(out)
    }

    async fn stored_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<HashMap<uuid::Uuid, ExistingEvent>, StoreError> {
        let client = self.reader().await?;
        let out = reads::stored_events(&client, ids).await?;
        self.bounded(&client, out.values().map(|e| e.position).max().unwrap_or(0))
            .await?;
        Ok(out)
    }

    async fn head(&self) -> Result<Option<Head>, StoreError> {
        let client = self.reader().await?;
        let head = read_head(&**client).await?;
        self.bounded(&client, head.as_ref().map_or(0, |h| h.position))
            .await?;
        Ok(head)
    }
}
