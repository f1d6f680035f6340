//! `jishi-ledger`: a general tamper-evident event store.
//!
//! Architecture invariant: this crate knows no word of 换届. It stores envelopes
//! whose payloads are opaque JSON objects, chains them by BLAKE3, and proves
//! that nothing stored was changed, removed, inserted or reordered.
//!
//! The path of an event: [`NewEvent`] → [`prepare`](prepare::prepare) (checks,
//! canonical payload, digest; no lock held) → a store's write transaction,
//! where [`plan_append`](store::plan_append) checks the expected version and
//! idempotency and [`seal`](store::seal) chains it onto the head → a stored row
//! → [`verify`](verify::verify) recomputes it all.

pub mod attest;
pub mod canonical;
pub mod checkpoint;
pub mod completeness;
mod digest;
pub mod drift;
mod envelope;
pub mod evidence;
pub mod export;
pub mod input;
pub mod merkle;
pub mod migrations;
pub mod note;
mod numbers;
pub mod policy;
pub mod postgres;
pub mod prepare;
pub mod publish;
pub mod row;
pub mod signers;
pub mod simulate;
pub mod since;
pub mod sqlite;
pub mod store;
pub mod streams;
pub mod subtree;
pub mod suite;
pub mod tiles;
pub mod tree;
pub mod validity;
pub mod verify;

pub use checkpoint::{cosign, Checkpoint, CheckpointError, CosignError, Cosigned};
pub use digest::{Digest, DigestParseError};
pub use envelope::{Actor, AppendRequest, ExpectedVersion, NewEvent, Payload, RecordedEvent};
pub use merkle::{
    ConsistencyProof, Frontier, FrontierError, InclusionProof, MemoryTree, NodeSource, ProveError,
    TreeNode, VerifyError,
};
pub use note::{KeyError, Note, NoteError, NoteSignature, SignerKey, VerifiedNote, VerifierKey};
pub use postgres::PostgresStore;
pub use prepare::InvalidField;
pub use sqlite::SqliteStore;
pub use store::{
    AppendError, Appended, AppendedEvent, BatchError, EventStore, Head, ScopeGuard, StoreError,
};
pub use suite::Suite;
pub use tree::{ProofError, ProofStore, StoredCheckpoint};
pub use verify::{verify, verify_with_proofs, Fault, FaultKind, VerifyReport};

use chrono::{DateTime, Utc};

/// Where `recorded_at` comes from. The ledger's own clock, never the client's.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that always reads the same time: for test vectors and tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Which store a `--db` value names: a `postgres://` or `postgresql://` URL,
/// or else the path of a SQLite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl StoreSpec {
    pub fn parse(text: &str) -> StoreSpec {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            StoreSpec::Postgres(text.to_string())
        } else {
            StoreSpec::Sqlite(text.into())
        }
    }
}

impl std::fmt::Display for StoreSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreSpec::Sqlite(p) => write!(f, "{}", p.display()),
            // Never print a password that may be in the URL.
            StoreSpec::Postgres(url) => match url.split_once('@') {
                Some((_, host)) => write!(f, "postgres://…@{host}"),
                None => f.write_str(url),
            },
        }
    }
}

/// Opens the store a spec names, applying missing migrations. With `create`
/// false, a SQLite file that does not exist is an error rather than a new,
/// empty ledger: a mistyped path must not look like an empty history.
pub async fn open_store(
    spec: &StoreSpec,
    create: bool,
) -> Result<std::sync::Arc<dyn EventStore>, StoreError> {
    let store: std::sync::Arc<dyn EventStore> = open_store_with(spec, create, None).await?;
    Ok(store)
}

/// As [`open_store`], for the commands that need the Merkle tree and the
/// checkpoints (checkpoint, cosign, prove, export, verify). A sibling rather
/// than a change of `open_store`, so that a future store can record events
/// before it implements [`ProofStore`]; both stores implement it today.
pub async fn open_proof_store(
    spec: &StoreSpec,
    create: bool,
) -> Result<std::sync::Arc<dyn ProofStore>, StoreError> {
    open_store_with(spec, create, None).await
}

/// As [`open_proof_store`], with the recording key that attests every group
/// the store writes (D69); `None` writes unattested rows, which only a
/// ledger that never registered a key accepts.
pub async fn open_store_with(
    spec: &StoreSpec,
    create: bool,
    attestor: Option<std::sync::Arc<attest::Attestor>>,
) -> Result<std::sync::Arc<dyn ProofStore>, StoreError> {
    match spec {
        StoreSpec::Sqlite(path) => Ok(std::sync::Arc::new(
            open_sqlite(path, create).await?.with_attestor(attestor),
        )),
        StoreSpec::Postgres(url) => {
            let config: tokio_postgres::Config = url
                .parse()
                .map_err(|e| StoreError::backend("postgres", e))?;
            Ok(std::sync::Arc::new(
                PostgresStore::open_with(
                    config,
                    postgres::PgOptions {
                        create,
                        attestor,
                        ..Default::default()
                    },
                )
                .await?,
            ))
        }
    }
}

async fn open_sqlite(path: &std::path::Path, create: bool) -> Result<SqliteStore, StoreError> {
    if !create && !path.exists() {
        return Err(StoreError::Schema(format!(
            "no ledger at {} (create one with `jishi init`, or name another with --db)",
            path.display()
        )));
    }
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || SqliteStore::open(path))
        .await
        .map_err(|e| StoreError::backend("sqlite", e))?
}
