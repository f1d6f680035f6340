//! The schema: finding the ledger in the connection's schema and applying
//! the embedded migrations under the schema's advisory lock.

use tokio_postgres::{GenericClient, IsolationLevel};

use super::{describe, pg};
use crate::migrations::{self, Migration};
use crate::prepare::format_recorded_at;
use crate::store::StoreError;

/// First half of the advisory-lock key under which migrations run ("jish").
/// The second half is a hash of the schema name, so that ledgers in different
/// schemas do not wait for each other.
const MIGRATION_LOCK_CLASS: i32 = 0x6A69_7368;

/// The bigint advisory-lock key that every migration also takes ("jisr"
/// then "role"). Roles are shared by the whole cluster: two schemas
/// migrated at once would both find `jishi_app` missing and both create
/// it, and one would fail. The schema's lock is taken first, then this one.
const ROLE_LOCK_KEY: i64 = (0x6A69_7372 << 32) | 0x726F_6C65;

pub(super) async fn current_schema<C: GenericClient>(client: &C) -> Result<String, StoreError> {
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

pub(super) async fn ledger_exists<C: GenericClient>(client: &C) -> Result<bool, StoreError> {
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

pub(super) async fn applied<C: GenericClient>(
    client: &C,
) -> Result<Vec<(i64, String)>, StoreError> {
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
