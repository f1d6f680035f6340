//! Asynchronous commit (D83) and reads bounded to durable state (D85) on the
//! shared server: every acknowledged group's flush passed its commit, and a
//! read of rows this process did not write returns only after a flush that
//! covers every commit it could see.

mod common;

use common::{postgres_with, request};
use jishi_ledger::postgres::{Durability, PgOptions, PostgresStore};
use jishi_ledger::{EventStore, ExpectedVersion, ProofStore};

async fn lsn(client: &common::tokio_postgres::Client, sql: &str) -> u64 {
    let v: jishi_ledger::postgres::tokio_postgres::types::PgLsn = client
        .query_one(sql, &[])
        .await
        .and_then(|r| r.try_get(0))
        .expect("an LSN");
    u64::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_groups_were_flushed_and_reads_wait_for_the_flush() {
    let Some(fx) = postgres_with(PgOptions {
        record_durability: true,
        ..PgOptions::default()
    })
    .await
    else {
        return;
    };
    let standbys: String = fx
        .schema
        .connect()
        .await
        .query_one("SELECT current_setting('synchronous_standby_names')", &[])
        .await
        .and_then(|r| r.try_get(0))
        .expect("synchronous_standby_names");
    assert_eq!(fx.pg.commits_asynchronously(), standbys.trim().is_empty());

    // Concurrent callers, so that groups queue behind one another's flush.
    let mut tasks = Vec::new();
    for t in 0..16 {
        let store = fx.pg.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..20 {
                store
                    .append(request(
                        &format!("d/t{t}-{}", i % 3),
                        ExpectedVersion::Any,
                        1,
                    ))
                    .await
                    .expect("append");
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer");
    }
    let log = fx.pg.durability_log();
    assert!(!log.is_empty());
    for g in &log {
        assert!(
            g.flushed_lsn >= g.commit_lsn,
            "group ending at {} acknowledged before its flush: {g:?}",
            g.last_position
        );
    }
    let last = log.iter().map(|g| g.last_position).max().unwrap_or(0);
    assert_eq!(last, 320, "every append acknowledged through a group");
    assert!(fx.pg.durable_position() >= 320);
    if fx.pg.commits_asynchronously() {
        assert!(fx.pg.group_stats().flushes >= 1, "the flusher flushed");
    }

    // Another session's commit that nobody flushed (standing in for another
    // process's asynchronous group), then a store of this process that has
    // written nothing reads the ledger: its read must not return before the
    // WAL is flushed past that commit.
    let other = fx.schema.connect().await;
    other
        .batch_execute(
            "CREATE TABLE scratch (x int); BEGIN; SET LOCAL synchronous_commit = off; \
             INSERT INTO scratch VALUES (1); COMMIT",
        )
        .await
        .expect("an asynchronous commit");
    let committed = lsn(&other, "SELECT pg_current_wal_insert_lsn()").await;
    let reader = PostgresStore::open_with(
        fx.schema.config(),
        PgOptions {
            durability: Durability::Synchronous,
            ..PgOptions::default()
        },
    )
    .await
    .expect("a second store");
    assert_eq!(reader.durable_position(), 0);
    let head = reader.head().await.expect("head").expect("a head");
    assert_eq!(head.position, 320);
    let flushed = lsn(&other, "SELECT pg_current_wal_flush_lsn()").await;
    assert!(
        flushed >= committed,
        "the read returned before the flush: flush LSN {flushed:X} < commit {committed:X}"
    );
    assert_eq!(
        reader.durable_position(),
        320,
        "the flush raised the watermark"
    );
    // Bounded reads of the tree, too.
    let f = reader.frontier().await.expect("frontier");
    assert_eq!(f.size(), 320);
    reader
        .inclusion_proof(7, 320)
        .await
        .expect("a proof within the durable tree");
}
