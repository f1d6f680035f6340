//! The group-commit writer task (see the module docs of [`super`]): it
//! gathers callers, plans their group ([`super::plan`]) and commits it in
//! one round trip from what it knows ([`super::known`]) or in the full
//! transaction, and answers each caller only after COMMIT.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;

use super::durable::{last_position, Acks, Pending};
use super::known::Known;
use super::plan::{attest_group, plan_group, BatchState};
use super::reads::{existing_row, head_of};
use super::sql::{insert_attestation, insert_rows, prefix_bounds, GroupWrite};
use super::statements::{begin, insert_lsn, take_lock, write_group, AppendStatements, COMMIT};
use super::{pg, pool_err, tree, Counters, GroupCommit, Job, Writing, INSERT_CHUNK};
use crate::prepare::format_recorded_at;
use crate::store::{AppendError, Appended, BatchError, StoreError};
use crate::Digest;

/// The writer task: takes queued callers, commits them together, answers
/// each: at once when groups commit synchronously, else through the
/// flusher (`flush`, see [`super::durable`]) once the group is durable,
/// while the writer goes on to the next group.
pub(super) async fn writer(
    pool: Pool,
    mut rx: mpsc::Receiver<Job>,
    cfg: GroupCommit,
    clock: Writing,
    lock_key: i64,
    stats: Arc<Counters>,
    acks: Acks,
) {
    let Acks { marks, flush } = acks;
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
        // Callers whose answers wait in the flusher cannot come back before
        // that flush: waiting for them would put the flush back on the
        // chain's path (D83). Wait only for the others.
        let want = expected_callers
            .saturating_sub(marks.held())
            .max(cfg.min_callers.max(1));
        if size < max && jobs.len() < want && !cfg.max_wait.is_zero() {
            let deadline = tokio::time::Instant::now() + cfg.max_wait;
            while size < max && jobs.len() < want {
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
        let asynchronous = flush.is_some();
        let (results, lsn) = commit_jobs(
            &pool,
            &jobs,
            &clock,
            lock_key,
            &mut known,
            &stats,
            asynchronous,
        )
        .await;
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
        let last = last_position(&results);
        let replies: Vec<_> = jobs.into_iter().map(|j| j.reply).zip(results).collect();
        match (&flush, lsn) {
            (Some(flush), Some(commit_lsn)) => {
                marks.committed(last);
                marks.hold(replies.len());
                let pending = Pending {
                    replies,
                    commit_lsn,
                    committed_at: committed,
                    last_position: last,
                };
                if let Err(mpsc::error::SendError(pending)) = flush.send(pending) {
                    // The flusher is gone (the runtime is shutting down):
                    // nothing can confirm the flush.
                    for (reply, result) in pending.replies {
                        let _ = reply.send(result.and_then(|_| {
                            Err(store_failure(StoreError::Schema(
                                "committed, but the flusher has stopped: not known to be \
                                 durable; retry with the same event ids"
                                    .into(),
                            )))
                        }));
                    }
                }
            }
            _ => {
                // Synchronous commit, or no group committed (every caller
                // failed): the answers are final now.
                if let Some(lsn) = lsn {
                    marks.synchronous(last, lsn);
                }
                for (reply, result) in replies {
                    // A caller that went away (cancelled) no longer wants the
                    // answer; its events are committed all the same, and a
                    // retry deduplicates.
                    let _ = reply.send(result);
                }
            }
        }
        idle_since = tokio::time::Instant::now();
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

pub(super) fn store_failure(e: StoreError) -> BatchError {
    BatchError {
        index: 0,
        error: AppendError::Store(e),
    }
}

/// One result per caller of a group, in order.
type GroupResults = Vec<Result<Vec<Appended>, BatchError>>;

/// A group's results and its commit LSN (`None` when nothing committed).
type Committed = (GroupResults, Option<u64>);

/// What a group is committed with, besides the connection.
#[derive(Clone, Copy)]
struct Group<'a> {
    jobs: &'a [Job],
    clock: &'a Writing,
    lock_key: i64,
    /// `synchronous_commit = off` for the transaction (D83).
    asynchronous: bool,
}

/// Commits a group of callers; one result per caller, in order, and the
/// greatest commit LSN of the transactions that committed them.
async fn commit_jobs(
    pool: &Pool,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Option<Known>,
    stats: &Counters,
    asynchronous: bool,
) -> Committed {
    match try_commit(pool, jobs, clock, lock_key, known, stats, asynchronous).await {
        Ok((results, lsn)) => (results, Some(lsn)),
        Err(e) if jobs.len() == 1 => (vec![Err(store_failure(e))], None),
        Err(e) => {
            // The shared transaction failed as a whole (a lost connection, a
            // row some other writer inserted without the lock). Retry each
            // caller alone so one caller's trouble cannot fail the others. If
            // the failed COMMIT had in fact gone through, the retry finds the
            // events stored and answers as a deduplicated retry, with the
            // original positions.
            tracing::warn!(error = %e, callers = jobs.len(), "group commit failed; retrying callers one by one");
            let mut out = Vec::with_capacity(jobs.len());
            let mut lsn = None;
            for job in jobs {
                out.push(
                    match try_commit(
                        pool,
                        std::slice::from_ref(job),
                        clock,
                        lock_key,
                        known,
                        stats,
                        asynchronous,
                    )
                    .await
                    {
                        Ok((mut r, l)) => {
                            lsn = lsn.max(Some(l));
                            r.pop().unwrap_or_else(|| Ok(Vec::new()))
                        }
                        Err(e) => Err(store_failure(e)),
                    },
                );
            }
            (out, lsn)
        }
    }
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

/// One transaction for a group of callers (two if the known state proved
/// stale), and its commit LSN ([`INSERT_LSN`] after COMMIT, on the same
/// connection). `Err` means nothing was committed (or, if the connection
/// broke during COMMIT or before the LSN was read, that nobody knows: the
/// retry in [`commit_jobs`] then finds the events and answers as a
/// deduplicated retry) and no caller got an answer yet. `known` is updated
/// after a commit and forgotten on an error.
async fn try_commit(
    pool: &Pool,
    jobs: &[Job],
    clock: &Writing,
    lock_key: i64,
    known: &mut Option<Known>,
    stats: &Counters,
    asynchronous: bool,
) -> Result<(GroupResults, u64), StoreError> {
    let outcome = async {
        let conn = pool.get().await.map_err(pool_err)?;
        let statements = AppendStatements::prepare(&conn).await?;
        let open = OpenTransaction(Some(conn));
        let mut results = None;
        let mut lsn = None;
        if let Some(k) = known.as_mut() {
            let group = Group {
                jobs,
                clock,
                lock_key,
                asynchronous,
            };
            results =
                commit_from_known(open.conn(), &statements, &group, k, stats, &mut lsn).await?;
        }
        let results = match results {
            Some(r) => {
                stats.from_known.fetch_add(1, Ordering::Relaxed);
                r
            }
            None => {
                in_transaction(
                    open.conn(),
                    &statements,
                    jobs,
                    clock,
                    lock_key,
                    known,
                    asynchronous,
                )
                .await?
            }
        };
        let lsn = match lsn {
            Some(l) => l,
            None => insert_lsn(open.conn(), &statements).await?,
        };
        open.ended();
        Ok((results, lsn))
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
    group: &Group<'_>,
    known: &mut Known,
    stats: &Counters,
    lsn: &mut Option<u64>,
) -> Result<Option<Vec<Result<Vec<Appended>, BatchError>>>, StoreError> {
    let Group {
        jobs,
        clock,
        lock_key,
        asynchronous,
    } = *group;
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
    // The commit LSN is read behind COMMIT, in the same round trip.
    let (begun, locked, written, committed, position) = tokio::join!(
        biased;
        begin(client),
        take_lock(client, s, lock_key),
        write_group(client, s, &params, asynchronous),
        async {
            client
                .batch_execute(COMMIT)
                .await
                .map_err(pg("committing the append transaction"))
        },
        insert_lsn(client, s),
    );
    match (begun, locked, written, committed) {
        (Ok(()), Ok(_), Ok(1), Ok(())) => {
            // Committed; without its LSN nobody can confirm the flush, and
            // the retry of `commit_jobs` answers as a deduplicated retry.
            *lsn = Some(position?);
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
    asynchronous: bool,
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
        write_group(client, s, &params, asynchronous),
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
