//! PostgreSQL migrations: a fresh ledger, a second `init`, and an upgrade
//! from the first version all end in the same schema (columns, indexes,
//! triggers, functions, grants), and drift is refused.

mod common;

use std::path::Path;

use common::{jishi, request, text, PgSchema};
use jishi_ledger::postgres::{migrate, PgOptions, PostgresStore};
use jishi_ledger::{EventStore, ExpectedVersion, StoreError};

/// Everything that makes up the schema, as sorted lines with the schema's
/// name replaced, so that two schemas can be compared.
async fn dump(schema: &PgSchema) -> Vec<String> {
    let c = schema.connect().await;
    let queries = [
        "SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || \
         ' null=' || is_nullable || ' default=' || coalesce(column_default, '') || \
         ' #' || ordinal_position \
         FROM information_schema.columns WHERE table_schema = $1",
        "SELECT 'index ' || indexname || ' ' || indexdef FROM pg_indexes WHERE schemaname = $1",
        "SELECT 'trigger ' || t.tgname || ' enabled=' || t.tgenabled::text || ' ' || \
         pg_get_triggerdef(t.oid) \
         FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid \
         JOIN pg_namespace n ON n.oid = r.relnamespace \
         WHERE n.nspname = $1 AND NOT t.tgisinternal",
        "SELECT 'function ' || p.proname || ' ' || md5(p.prosrc) \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1",
        "SELECT 'grant ' || grantee || ' ' || table_name || ' ' || privilege_type \
         FROM information_schema.role_table_grants \
         WHERE table_schema = $1 AND grantee <> current_user",
        "SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(c.oid) \
         FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = $1",
        "SELECT 'storage ' || r.relname || '.' || a.attname || ' ' || a.attstorage::text || \
         ' comment=' || coalesce(col_description(r.oid, a.attnum), '') \
         FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = r.relnamespace \
         WHERE n.nspname = $1 AND r.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped",
        "SELECT 'execute jishi_app ' || p.proname || ' ' || \
         has_function_privilege('jishi_app', p.oid, 'EXECUTE')::text || ' definer=' || \
         p.prosecdef::text || ' config=' || coalesce(array_to_string(p.proconfig, ','), '') \
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1",
        "SELECT 'schema usage jishi_app ' || \
         has_schema_privilege('jishi_app', $1, 'USAGE')::text",
        "SELECT 'migration ' || version || ' ' || name || ' ' || checksum \
         FROM jishi_migrations",
    ];
    let mut lines = Vec::new();
    for q in queries {
        let stmt = c.prepare(q).await.unwrap_or_else(|e| panic!("{q}: {e:?}"));
        let rows = if stmt.params().is_empty() {
            c.query(&stmt, &[]).await
        } else {
            c.query(&stmt, &[&schema.name]).await
        }
        .unwrap_or_else(|e| panic!("{q}: {e:?}"));
        for r in rows {
            let line: String = r.get(0);
            lines.push(line.replace(&schema.name, "S"));
        }
    }
    lines.sort();
    lines
}

async fn applied_at(schema: &PgSchema) -> Vec<(i64, String)> {
    schema
        .connect()
        .await
        .query(
            "SELECT version, applied_at FROM jishi_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("read jishi_migrations")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_rerun_and_upgrade_end_in_the_same_schema() {
    let Some(url) = common::database_url() else {
        return;
    };
    // Fresh, through `jishi init`.
    let fresh = PgSchema::create(&url).await;
    let db = fresh.db_url();
    let out = tokio::task::spawn_blocking(move || jishi(Path::new(&db), &["init"], None))
        .await
        .expect("jishi init");
    assert!(out.status.success(), "{}", text(&out));
    let fresh_dump = dump(&fresh).await;
    assert!(
        fresh_dump
            .iter()
            .any(|l| l.starts_with("trigger events_no_truncate")),
        "{fresh_dump:#?}"
    );
    // Since migration 7 (D63) jishi_app appends through the function only.
    assert!(
        !fresh_dump.contains(&"grant jishi_app events INSERT".to_string()),
        "{fresh_dump:#?}"
    );
    assert!(
        fresh_dump.contains(&"grant jishi_app events SELECT".to_string())
            && fresh_dump.iter().any(|l| {
                l.starts_with("execute jishi_app jishi_append_events true definer=true")
            }),
        "{fresh_dump:#?}"
    );
    assert!(
        !fresh_dump
            .iter()
            .any(|l| l.starts_with("grant jishi_app events UPDATE")),
        "{fresh_dump:#?}"
    );

    // Re-run: a second `init` changes nothing at all.
    let before = applied_at(&fresh).await;
    let db = fresh.db_url();
    let out = tokio::task::spawn_blocking(move || jishi(Path::new(&db), &["init"], None))
        .await
        .expect("jishi init");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(applied_at(&fresh).await, before);
    assert_eq!(dump(&fresh).await, fresh_dump);

    // Upgrade: a ledger at version 1, with events, brought to the latest.
    let old = PgSchema::create(&url).await;
    let mut c = old.connect().await;
    assert_eq!(migrate(&mut c, Some(1)).await.expect("migrate to 1"), [1]);
    assert_eq!(
        migrate(&mut c, Some(1)).await.expect("again"),
        Vec::<i64>::new()
    );
    let store = PostgresStore::open_with(old.config(), PgOptions::default())
        .await
        .expect("open and upgrade");
    assert_eq!(
        store.schema_versions().await.expect("versions"),
        all_versions()
    );
    store
        .append(request("candidate/c1", ExpectedVersion::NoStream, 3))
        .await
        .expect("append after upgrade");
    assert_eq!(dump(&old).await, fresh_dump);
}

/// Two processes running `init` on the same empty schema at once: the
/// advisory lock lets one migrate and the other find nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_inits_do_not_race() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = PgSchema::create(&url).await;
    let open = || PostgresStore::open_with(schema.config(), PgOptions::default());
    let (a, b, c) = tokio::join!(open(), open(), open());
    let (a, _b, _c) = (a.expect("a"), b.expect("b"), c.expect("c"));
    assert_eq!(a.schema_versions().await.expect("versions"), all_versions());
    assert_eq!(applied_at(&schema).await.len(), all_versions().len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drifted_or_newer_schema_is_refused() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = PgSchema::create(&url).await;
    PostgresStore::open_with(schema.config(), PgOptions::default())
        .await
        .expect("create");
    let c = schema.connect().await;
    let original: String = c
        .query_one(
            "SELECT checksum FROM jishi_migrations WHERE version = 1",
            &[],
        )
        .await
        .map(|r| r.get(0))
        .expect("checksum");
    c.execute(
        "UPDATE jishi_migrations SET checksum = 'edited' WHERE version = 1",
        &[],
    )
    .await
    .expect("edit checksum");
    let err = PostgresStore::open_with(schema.config(), PgOptions::default())
        .await
        .expect_err("drift must be refused");
    assert!(
        matches!(&err, StoreError::Schema(m) if m.contains("differs")),
        "{err}"
    );
    c.execute(
        "UPDATE jishi_migrations SET checksum = $1 WHERE version = 1",
        &[&original],
    )
    .await
    .expect("restore checksum");
    PostgresStore::open_with(schema.config(), PgOptions::default())
        .await
        .expect("intact again");
    c.execute(
        "INSERT INTO jishi_migrations VALUES (99, 'future', 'x', 'now')",
        &[],
    )
    .await
    .expect("pretend a newer jishi");
    let err = PostgresStore::open_with(schema.config(), PgOptions::default())
        .await
        .expect_err("a newer schema must be refused");
    assert!(
        matches!(&err, StoreError::Schema(m) if m.contains("99")),
        "{err}"
    );
}

/// Without `create`, a schema with no ledger is an error, not an empty history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opening_a_missing_ledger_without_init_fails() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = PgSchema::create(&url).await;
    let err = PostgresStore::open_with(
        schema.config(),
        PgOptions {
            create: false,
            ..PgOptions::default()
        },
    )
    .await
    .expect_err("no ledger yet");
    assert!(err.to_string().contains("jishi init"), "{err}");
}

/// Every PostgreSQL schema version this jishi knows, oldest first.
fn all_versions() -> Vec<i64> {
    jishi_ledger::migrations::POSTGRES
        .iter()
        .map(|m| m.version)
        .collect()
}
