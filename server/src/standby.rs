//! Reading from a PostgreSQL hot standby while writing to the primary
//! (`jishi serve --read-db`, D116).
//!
//! What moves to the standby is what only shows: the projections' catch-up
//! (and so pages, queries, search, prints and exports of the workbook),
//! as-of resolution, access logs, case exports and tiles. Everything else
//! stays on the primary: every write (recordings, users, checkpoints, the
//! recorded reads), the reads a write decides on (`app::record` and the
//! import's preview read the election there, so a decision never rests on a
//! lagging copy), authentication (D47: a revocation holds from the very next
//! request whatever the standby's lag), verification and checkpoint signing
//! (the badge and the log's signature speak for the ledger of record).
//!
//! Read-your-writes: the primary's store is wrapped in [`Noted`], which keeps
//! the greatest position this server has been acknowledged. Before a read,
//! [`Reads::settled`] waits until the standby's head has reached it, for at
//! most the patience; past that, or when the standby does not answer, the
//! read is refused with 503 naming the standby, never served from the
//! primary (D117): a silent fallback would move the whole read load onto
//! the primary exactly when the standby is in trouble.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jishi_ledger::attest::Attestation;
use jishi_ledger::row::StoredRow;
use jishi_ledger::store::{ExistingEvent, PreparedRequest, StreamTip};
use jishi_ledger::{
    Appended, BatchError, Clock, EventStore, Head, ProofStore, RecordedEvent, ScopeGuard,
    StoreError,
};
use tokio::time::Instant;

use crate::error::ApiError;

/// Where the reads that only show are served from: the primary itself
/// (the default), or a hot standby.
pub struct Reads {
    pub store: Arc<dyn ProofStore>,
    pub events: Arc<dyn EventStore>,
    standby: Option<Standby>,
}

struct Standby {
    /// The standby as operators name it (host, port, database; never a
    /// password), for the 503s.
    name: String,
    /// The longest a read waits for the standby to replay this server's
    /// newest acknowledged write.
    patience: Duration,
    /// That write's position, kept by [`Noted`].
    written: Arc<AtomicU64>,
}

impl Reads {
    /// Reads from the primary: nothing to wait for.
    pub fn primary(store: &Arc<dyn ProofStore>) -> Reads {
        Reads {
            store: store.clone(),
            events: store.clone(),
            standby: None,
        }
    }

    /// Reads from `standby`; returns them with the primary's `events`
    /// wrapped so that every acknowledged write is noted.
    pub fn standby(
        standby: Arc<dyn ProofStore>,
        name: String,
        patience: Duration,
        primary: Arc<dyn EventStore>,
    ) -> (Reads, Arc<dyn EventStore>) {
        let written = Arc::new(AtomicU64::new(0));
        let noted: Arc<dyn EventStore> = Arc::new(Noted {
            inner: primary,
            written: written.clone(),
        });
        let events: Arc<dyn EventStore> = standby.clone();
        (
            Reads {
                store: standby,
                events,
                standby: Some(Standby {
                    name,
                    patience,
                    written,
                }),
            },
            noted,
        )
    }

    /// The standby's name, when reads come from one.
    pub fn standby_name(&self) -> Option<&str> {
        self.standby.as_ref().map(|s| s.name.as_str())
    }

    /// The greatest position this server's writes were acknowledged at
    /// (0 without a standby: nothing is noted then).
    pub fn written(&self) -> u64 {
        self.standby
            .as_ref()
            .map_or(0, |s| s.written.load(Ordering::Acquire))
    }

    /// Returns once the read store shows every write this server had been
    /// acknowledged when the call began. On the primary, at once. On a
    /// standby, polls its head (which also proves it answers) until it has
    /// replayed that far; a standby that does not answer, or is still behind
    /// after the patience, gets 503 naming it.
    pub async fn settled(&self) -> Result<(), ApiError> {
        let Some(s) = &self.standby else {
            return Ok(());
        };
        let want = s.written.load(Ordering::Acquire);
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let head = self
                .events
                .head()
                .await
                .map_err(|e| {
                    ApiError::Unavailable(format!(
                        "the hot standby {} does not answer ({e}); reads are served only from \
                         it, never from the primary (D117): retry once it is back",
                        s.name
                    ))
                })?
                .map_or(0, |h| h.position);
            if head >= want {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= s.patience {
                return Err(ApiError::Unavailable(format!(
                    "the hot standby {} has replayed the ledger up to position {head}, but this \
                     server's writes reach position {want}; it did not catch up within {} ms, \
                     so this read would not show them (D116): retry, and check the standby's \
                     replication (pg_stat_replication on the primary)",
                    s.name,
                    s.patience.as_millis()
                )));
            }
            tokio::time::sleep(pause.min(s.patience - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// The primary's store, noting the greatest position of every append it
/// acknowledges (a deduplicated retry's original positions too), so that a
/// read from the standby can wait for it.
struct Noted {
    inner: Arc<dyn EventStore>,
    written: Arc<AtomicU64>,
}

impl Noted {
    fn note(&self, done: &[Appended]) {
        let last = done
            .iter()
            .flat_map(|a| a.events.iter().map(|e| e.position))
            .max()
            .unwrap_or(0);
        self.written.fetch_max(last, Ordering::AcqRel);
    }
}

#[async_trait]
impl EventStore for Noted {
    async fn append_prepared(
        &self,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        let done = self.inner.append_prepared(requests).await?;
        self.note(&done);
        Ok(done)
    }

    fn clock(&self) -> &dyn Clock {
        self.inner.clock()
    }

    async fn append_guarded(
        &self,
        guard: ScopeGuard,
        requests: Vec<PreparedRequest>,
    ) -> Result<Vec<Appended>, BatchError> {
        let done = self.inner.append_guarded(guard, requests).await?;
        self.note(&done);
        Ok(done)
    }

    async fn read_prefix(
        &self,
        prefix: &str,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_prefix(prefix, from_position, limit).await
    }

    async fn read_stream(
        &self,
        stream: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream, from_version, limit).await
    }

    async fn read_rows(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<StoredRow>, StoreError> {
        self.inner.read_rows(from_position, limit).await
    }

    async fn read_all(
        &self,
        from_position: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(from_position, limit).await
    }

    async fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn stream_heads(
        &self,
        size: u64,
    ) -> Result<std::collections::BTreeMap<String, StreamTip>, StoreError> {
        self.inner.stream_heads(size).await
    }

    async fn stored_events(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<HashMap<uuid::Uuid, ExistingEvent>, StoreError> {
        self.inner.stored_events(ids).await
    }

    async fn head(&self) -> Result<Option<Head>, StoreError> {
        self.inner.head().await
    }

    async fn read_attestations(
        &self,
        from_last: u64,
        limit: usize,
    ) -> Result<Vec<Attestation>, StoreError> {
        self.inner.read_attestations(from_last, limit).await
    }

    async fn schema_drift(&self) -> Result<Vec<jishi_ledger::drift::SchemaDrift>, StoreError> {
        self.inner.schema_drift().await
    }
}
