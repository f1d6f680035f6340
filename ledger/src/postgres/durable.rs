//! Durability apart from commit order (D83–D85): groups commit with
//! `synchronous_commit = off`, one after the other without waiting for their
//! WAL flush, and a flusher task acknowledges their callers once the server's
//! flush LSN has passed each group's commit.
//!
//! Why this is safe for a hash chain: a group needs the previous group's
//! hash, which the writer holds in memory, not the previous group durable.
//! Groups commit under the head lock, so chain order is WAL order, and WAL is
//! flushed in order: a crash can only lose a suffix of groups, never a group
//! from the middle of the chain. A caller hears "appended" only once the
//! flush covered its group's commit record, so what a crash loses was never
//! acknowledged.
//!
//! What it costs elsewhere: an asynchronously committed row is visible to
//! other sessions before it is flushed. Everything that leaves the ledger
//! (served reads, exports, proofs, checkpoints and the tree heads they sign,
//! witness submissions) goes through the store's reads, and each read is
//! bounded to durable state by [`Marks::durable_through`] before it returns:
//! what it read is shown only once it cannot be lost.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_postgres::types::PgLsn;
use tokio_postgres::SimpleQueryMessage;

use super::writer::store_failure;
use super::{pool_err, Counters, PgError, STORE};
use crate::store::{Appended, BatchError, StoreError};

/// How the store makes a group durable before acknowledging it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Asynchronous commit with a flusher (the module docs), unless the
    /// server has synchronous standbys (`synchronous_standby_names` is not
    /// empty): then [`Durability::Synchronous`], since only the commit's own
    /// wait covers the standby's flush (D84).
    #[default]
    Auto,
    /// Every group waits for its own commit under the server's
    /// `synchronous_commit`, as before D83: one flush per group, on the
    /// chain's critical path.
    Synchronous,
}

/// What one acknowledged group rested on, kept when
/// [`super::PgOptions::record_durability`] asks for it, so that a crash test
/// can check that every acknowledgement followed its flush (killing the
/// server does not drop the OS cache, so the rows themselves prove little).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupDurability {
    /// The greatest position among the group's answers.
    pub last_position: u64,
    /// `pg_current_wal_insert_lsn()` read right after the group's COMMIT on
    /// its connection: at or past the end of its commit record.
    pub commit_lsn: u64,
    /// `pg_current_wal_flush_lsn()` read after the flush that acknowledged
    /// the group (for a synchronous group: after its COMMIT).
    pub flushed_lsn: u64,
}

/// The store's two watermarks, shared by the writer, the flusher and the
/// readers.
pub(super) struct Marks {
    /// The greatest position this process's writer has committed.
    committed: AtomicU64,
    /// The greatest position known to be durable: every group up to it was
    /// flushed (by this process's flusher, or a reader's forced flush).
    durable: watch::Sender<u64>,
    /// Whether groups commit asynchronously (and a flusher runs).
    pub(super) asynchronous: bool,
    /// The store reads a hot standby (D116): every row it can see is one
    /// its primary had already flushed, so no read needs bounding.
    replayed: bool,
    /// Callers whose answers the flusher holds, waiting for a flush.
    held: AtomicUsize,
    log: Option<Mutex<Vec<GroupDurability>>>,
}

/// How long a reader waits for the flusher before flushing for itself.
const READER_PATIENCE: Duration = Duration::from_secs(2);

/// Flushes the WAL up to a commit record of its own and reports how far the
/// flush reached. With `synchronous_commit = on`, COMMIT waits for the WAL
/// flush through the transaction's commit record, which covers every record
/// before it, but only if the transaction wrote WAL of its own before the
/// commit record: a transaction that merely holds a transaction id commits
/// without a flush (measured: the flush LSN did not move). A transactional
/// `pg_logical_emit_message` writes one small WAL record (and takes the
/// transaction id); any role may call it (PostgreSQL 15: `jishi_app`
/// included) and no table is touched. Nothing decodes the message unless
/// a logical replication slot exists, and then it is one tiny message per
/// flush with the prefix `jishi.flush`.
const FORCE_FLUSH: &str = "BEGIN; SET LOCAL synchronous_commit = on; \
     SELECT COALESCE((SELECT max(position) FROM events), 0)::text, \
     pg_logical_emit_message(true, 'jishi.flush', ''); \
     COMMIT; SELECT pg_current_wal_flush_lsn()::text";

/// `SELECT 1`, for a reader to prove that its connection, and so the server
/// instance it read from, outlived the wait for the flusher.
const ALIVE: &str = "SELECT 1";

fn pg_err(what: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| StoreError::backend(STORE, PgError { what, error })
}

/// The text values of the data rows of a simple query, in order.
fn values(messages: &[SimpleQueryMessage]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// Runs [`FORCE_FLUSH`] on `client`: the head it saw (every row at or below
/// it is now durable) and the flush LSN after it.
async fn force_flush(client: &tokio_postgres::Client) -> Result<(u64, u64), StoreError> {
    let what = "flushing the WAL";
    let messages = client
        .simple_query(FORCE_FLUSH)
        .await
        .map_err(pg_err(what))?;
    let v = values(&messages);
    let bad = || StoreError::Schema(format!("{what}: unexpected answer {v:?}"));
    let head = v
        .first()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(bad)?;
    let flushed = v
        .get(1)
        .and_then(|s| s.parse::<PgLsn>().ok())
        .ok_or_else(bad)?;
    Ok((head, u64::from(flushed)))
}

impl Marks {
    pub(super) fn new(asynchronous: bool, record: bool) -> Marks {
        Marks {
            committed: AtomicU64::new(0),
            durable: watch::channel(0).0,
            asynchronous,
            replayed: false,
            held: AtomicUsize::new(0),
            log: record.then(|| Mutex::new(Vec::new())),
        }
    }

    /// The marks of a store on a hot standby. A primary's WAL sender sends a
    /// standby only WAL the primary has already flushed (PostgreSQL streams
    /// up to its flush position, never past it), so whatever a standby has
    /// replayed is durable on the primary: a read there needs no bound, and
    /// could not force a flush anyway (a standby takes no transaction id).
    pub(super) fn replica() -> Marks {
        Marks {
            replayed: true,
            ..Marks::new(false, false)
        }
    }

    fn raise_durable(&self, position: u64) {
        self.durable.send_if_modified(|d| {
            let raised = position > *d;
            *d = (*d).max(position);
            raised
        });
    }

    /// `n` callers' answers handed to the flusher.
    pub(super) fn hold(&self, n: usize) {
        self.held.fetch_add(n, Ordering::AcqRel);
    }

    /// Callers whose answers wait for a flush: the writer does not wait for
    /// them to come back with their next request.
    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    fn release(&self, n: usize) {
        // Never below zero, even for answers handed over without `hold`.
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |h| {
                Some(h.saturating_sub(n))
            });
    }

    pub(super) fn durable(&self) -> u64 {
        *self.durable.borrow()
    }

    /// The writer committed a group ending at `last_position`.
    pub(super) fn committed(&self, last_position: u64) {
        self.committed.fetch_max(last_position, Ordering::AcqRel);
    }

    /// A group acknowledged: raise the durable watermark, keep the record.
    fn acknowledged(&self, g: GroupDurability) {
        self.raise_durable(g.last_position);
        if let Some(log) = &self.log {
            log.lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .push(g);
        }
    }

    /// A synchronous group: durable once COMMIT returned.
    pub(super) fn synchronous(&self, last_position: u64, lsn: u64) {
        self.committed(last_position);
        self.acknowledged(GroupDurability {
            last_position,
            commit_lsn: lsn,
            flushed_lsn: lsn,
        });
    }

    pub(super) fn log(&self) -> Vec<GroupDurability> {
        self.log
            .as_ref()
            .map(|l| l.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .unwrap_or_default()
    }

    /// Returns once every row up to `position`, which `client` has just
    /// read, is durable. The fast path is the watermark. A position this
    /// process's writer committed is waited for (the flusher is on it);
    /// afterwards `client` must still answer, which proves that the server
    /// it read from did not restart meanwhile (a restart closes every
    /// connection), so the durable rows at those positions are the ones it
    /// read. Anything else (another process's rows, a flusher that did not
    /// come) is flushed on `client` itself, after the read: the flush covers
    /// every commit the read could see.
    pub(super) async fn durable_through(
        &self,
        client: &tokio_postgres::Client,
        position: u64,
    ) -> Result<(), StoreError> {
        if self.replayed || position == 0 || self.durable() >= position {
            return Ok(());
        }
        if self.asynchronous && self.committed.load(Ordering::Acquire) >= position {
            let mut rx = self.durable.subscribe();
            let waited = tokio::time::timeout(READER_PATIENCE, rx.wait_for(|d| *d >= position));
            if matches!(waited.await, Ok(Ok(_))) {
                client
                    .simple_query(ALIVE)
                    .await
                    .map_err(pg_err("checking the connection after a flush"))?;
                return Ok(());
            }
        }
        // Every commit the read saw came before this flush: what it read is
        // durable now, whatever it was (even rows of a tampered ledger whose
        // tree outgrew its events, which verify must get to see). The
        // watermark rises to the head the flush itself saw.
        let (head, _) = force_flush(client).await?;
        self.raise_durable(head);
        Ok(())
    }
}

/// One caller's answer and where it goes.
pub(super) type Reply = (
    oneshot::Sender<Result<Vec<Appended>, BatchError>>,
    Result<Vec<Appended>, BatchError>,
);

/// How the writer has its groups acknowledged: the watermarks, and the
/// flusher's queue when groups commit asynchronously (`None`: each group is
/// answered once its own synchronous COMMIT returned).
pub(super) struct Acks {
    pub(super) marks: Arc<Marks>,
    pub(super) flush: Option<mpsc::UnboundedSender<Pending>>,
}

/// A committed group waiting for its flush: its callers' answers, held back.
pub(super) struct Pending {
    pub(super) replies: Vec<Reply>,
    pub(super) commit_lsn: u64,
    /// When COMMIT's answer arrived. Only a flush on a connection opened
    /// before it may acknowledge the group (see [`flusher`]).
    pub(super) committed_at: Instant,
    pub(super) last_position: u64,
}

/// The greatest position among a group's answers (0: none).
pub(super) fn last_position(results: &[Result<Vec<Appended>, BatchError>]) -> u64 {
    results
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .flatten()
        .flat_map(|a| a.events.iter().map(|e| e.position))
        .max()
        .unwrap_or(0)
}

/// A connection of the flusher's own and when it was opened.
pub(super) struct FlushConn {
    client: deadpool_postgres::Client,
    opened: Instant,
}

impl FlushConn {
    pub(super) async fn open(pool: &Pool) -> Result<FlushConn, StoreError> {
        let opened = Instant::now();
        let client = pool.get().await.map_err(pool_err)?;
        Ok(FlushConn { client, opened })
    }

    /// Closes the connection rather than returning it to the pool (it broke).
    fn discard(self) {
        drop(deadpool_postgres::Object::take(self.client));
    }
}

/// The flusher task: takes every group committed since its last flush,
/// flushes once for all of them on its own connection, and answers their
/// callers; meanwhile the writer commits the next groups.
///
/// A group is acknowledged only if the flush ran on a connection that was
/// already open when the group's COMMIT was answered, and reports a flush
/// LSN at or past the group's commit LSN. The open connection is what ties
/// the two LSNs to one server instance: had the server crashed and come back
/// in between, recovery could have dropped the commit while the new
/// instance's WAL runs past its LSN. If the connection breaks, a fresh one
/// cannot vouch for groups committed before it was opened: their callers get
/// an error, and (as after a lost COMMIT reply) their events may or may not
/// be stored, which a retry with the same event ids settles.
pub(super) async fn flusher(
    pool: Pool,
    mut rx: mpsc::UnboundedReceiver<Pending>,
    marks: Arc<Marks>,
    mut conn: Option<FlushConn>,
    stats: Arc<Counters>,
) {
    while let Some(first) = rx.recv().await {
        let mut groups = vec![first];
        while let Ok(g) = rx.try_recv() {
            groups.push(g);
        }
        let mut outcome = Err(StoreError::Schema("no flush was attempted".into()));
        // The current connection, then once more on a fresh one (which can
        // still vouch for groups committed after it opened).
        for _ in 0..2 {
            let c = match conn.take() {
                Some(c) => c,
                None => match FlushConn::open(&pool).await {
                    Ok(c) => c,
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                },
            };
            match force_flush(&c.client).await {
                Ok((_, flushed)) => {
                    stats.flushes.fetch_add(1, Ordering::Relaxed);
                    outcome = Ok((flushed, c.opened));
                    conn = Some(c);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the WAL flush failed; reconnecting");
                    c.discard();
                    outcome = Err(e);
                }
            }
        }
        answer(groups, &outcome, &marks);
    }
}

/// Acknowledges each group the flush covered and fails the others.
fn answer(groups: Vec<Pending>, outcome: &Result<(u64, Instant), StoreError>, marks: &Marks) {
    for g in groups {
        marks.release(g.replies.len());
        let covered = match outcome {
            Ok((flushed, opened)) if *opened <= g.committed_at && *flushed >= g.commit_lsn => {
                Some(*flushed)
            }
            _ => None,
        };
        match covered {
            Some(flushed_lsn) => {
                marks.acknowledged(GroupDurability {
                    last_position: g.last_position,
                    commit_lsn: g.commit_lsn,
                    flushed_lsn,
                });
                for (reply, result) in g.replies {
                    // A caller that went away no longer wants the answer.
                    let _ = reply.send(result);
                }
            }
            None => {
                let why = match outcome {
                    Err(e) => format!("the WAL flush failed: {e}"),
                    Ok((_, opened)) if *opened > g.committed_at => {
                        "the connection that would have confirmed the WAL flush was \
                         replaced after the commit"
                            .to_string()
                    }
                    Ok((flushed, _)) => format!(
                        "the flush reached WAL position {} short of the commit at {}",
                        PgLsn::from(*flushed),
                        PgLsn::from(g.commit_lsn)
                    ),
                };
                for (reply, result) in g.replies {
                    // Refusals pass unchanged: they promise nothing stored.
                    let _ = reply.send(result.and_then(|_| {
                        Err(store_failure(StoreError::Schema(format!(
                            "committed but not known to be durable ({why}); the events may \
                             or may not be stored: retry with the same event ids"
                        ))))
                    }));
                }
            }
        }
    }
}
