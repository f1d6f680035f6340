//! `jishi demo` on PostgreSQL, and how the tree's runs are stored there.
//! Without `DATABASE_URL` both print the usual "skipped" line and pass.

mod common;

use common::{database_url, jishi, text, PgSchema};

/// The demo records into an empty schema of its own, `verify` passes after,
/// and a second run is refused rather than mixed into the first.
#[tokio::test]
async fn demo_records_into_an_empty_postgres_schema_and_verifies() {
    let Some(url) = database_url() else { return };
    let schema = PgSchema::create(&url).await;
    let db = schema.db_url();
    let db = std::path::Path::new(&db);
    let out = jishi(db, &["demo", "--townships", "6"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("verify: ok"), "{}", text(&out));
    let out = jishi(db, &["verify"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).starts_with("ok: "), "{}", text(&out));
    let out = jishi(db, &["demo", "--townships", "6"], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("records into an empty one"),
        "{}",
        text(&out)
    );
}

/// docs/FORMAT-merkle.md §7.1 and D38/D46: `hashes` is stored PLAIN, never
/// compressed and never moved out of the row.
#[tokio::test]
async fn tree_runs_are_stored_plain() {
    let Some(fixture) = common::postgres().await else {
        return;
    };
    let client = fixture.schema.connect().await;
    let row = client
        .query_one(
            "SELECT a.attstorage::text FROM pg_attribute a \
             JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND c.relname = 'tree_nodes' AND a.attname = 'hashes'",
            &[&fixture.schema.name],
        )
        .await
        .expect("read attstorage");
    let storage: String = row.get(0);
    assert_eq!(
        storage, "p",
        "tree_nodes.hashes: attstorage {storage:?}, documented PLAIN ('p')"
    );
}

/// `import` plans against PostgreSQL's stored ids and versions as it does
/// against SQLite's (`EventStore::stored_events`, D43): a retried file is
/// found stored, and a line that conflicts with it is refused before writing.
#[tokio::test]
async fn import_plans_against_a_postgres_ledger() {
    let Some(url) = database_url() else { return };
    let schema = PgSchema::create(&url).await;
    let db = schema.db_url();
    let db = std::path::Path::new(&db);
    assert!(jishi(db, &["init"], None).status.success());
    let actor = r#""actor":{"id":"a","name":"n","role":"r","org":"o"}"#;
    let line = |n: u32, extra: &str| {
        format!(
            r#"{{"stream":"book/p","event_type":"a.b","payload":{{"n":{n}}},"event_id":"0190f1c2-0000-7000-8000-00000000000{n}"{extra},{actor}}}"#
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.jsonl");
    std::fs::write(&file, format!("{}\n{}\n", line(1, ""), line(2, ""))).unwrap();
    let file = file.to_str().unwrap();
    let out = jishi(db, &["import", file], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = jishi(db, &["import", "--dry-run", file], None);
    assert!(
        text(&out).contains("0 new, 2 already recorded"),
        "{}",
        text(&out)
    );
    let other = dir.path().join("b.jsonl");
    std::fs::write(
        &other,
        format!("{}\n", line(3, r#","expected_version":"none""#)),
    )
    .unwrap();
    let out = jishi(db, &["import", "--dry-run", other.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("line 1: stream \"book/p\": expected no stream"),
        "{}",
        text(&out)
    );
}
