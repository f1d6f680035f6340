//! Schema drift (D64): a dropped, disabled or replaced append-only trigger,
//! or a privilege `jishi_app` should not hold, is named by `jishi verify`
//! and `jishi init`, which exit 3; an intact ledger passes both.

mod common;

use std::path::Path;

use common::{jishi, text, PgSchema};

fn run(db: &str, args: &[&str]) -> (i32, String) {
    let out = jishi(Path::new(db), args, None);
    (out.status.code().unwrap_or(-1), text(&out))
}

async fn run_async(db: String, args: &'static [&'static str]) -> (i32, String) {
    tokio::task::spawn_blocking(move || run(&db, args))
        .await
        .expect("jishi")
}

/// Both commands exit 3 and name `want`.
async fn assert_drift(db: &str, want: &str) {
    for cmd in [&["verify"][..], &["init"][..]] {
        let (code, out) = run_async(db.to_string(), cmd).await;
        assert_eq!(code, 3, "{cmd:?}: {out}");
        assert!(
            out.contains(&format!("FAILED: schema: {want}")),
            "{cmd:?}: expected {want:?} in:\n{out}"
        );
    }
}

async fn assert_clean(db: &str) {
    let (code, out) = run_async(db.to_string(), &["verify"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("ok: schema: the append-only triggers"),
        "{out}"
    );
    let (code, out) = run_async(db.to_string(), &["init"]).await;
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("FAILED"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_demo_ledger_is_clean_and_a_dropped_or_replaced_trigger_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("demo.db");
    let db = path.display().to_string();
    let (code, out) = run_async(db.clone(), &["demo"]).await;
    assert_eq!(code, 0, "{out}");
    assert_clean(&db).await;

    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute_batch("DROP TRIGGER events_no_update")
        .expect("drop");
    assert_drift(
        &db,
        "trigger events_no_update on events: is missing (dropped): UPDATE on events is no \
         longer refused",
    )
    .await;

    // Put back under the same name, but doing nothing.
    conn.execute_batch(
        "CREATE TRIGGER events_no_update AFTER UPDATE ON events BEGIN SELECT 1; END",
    )
    .expect("replace");
    assert_drift(
        &db,
        "trigger events_no_update on events: was replaced by one that does not abort UPDATE",
    )
    .await;

    conn.execute_batch(
        "DROP TRIGGER events_no_update; \
         CREATE TRIGGER events_no_update BEFORE UPDATE ON events BEGIN \
         SELECT RAISE(ABORT, 'jishi: the ledger is append-only; record a correction event \
         instead'); END;",
    )
    .expect("restore");
    assert_clean(&db).await;
}

/// A demo ledger on PostgreSQL; each drift in turn is named by verify and
/// init, and undoing it makes both pass again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropped_and_disabled_triggers_and_extra_grants_are_named() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = PgSchema::create(&url).await;
    let db = schema.db_url();
    let (code, out) = run_async(db.clone(), &["demo"]).await;
    assert_eq!(code, 0, "{out}");
    assert_clean(&db).await;
    let c = schema.connect().await;
    let exec = |sql: &'static str| {
        let c = &c;
        async move { c.batch_execute(sql).await.expect(sql) }
    };

    exec("DROP TRIGGER events_no_delete ON events").await;
    assert_drift(
        &db,
        "trigger events_no_delete on events: is missing (dropped): DELETE on events is no \
         longer refused",
    )
    .await;
    exec(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events \
         FOR EACH ROW EXECUTE FUNCTION jishi_refuse_change()",
    )
    .await;
    assert_clean(&db).await;

    exec("ALTER TABLE events DISABLE TRIGGER events_no_update").await;
    assert_drift(
        &db,
        "trigger events_no_update on events: is disabled (pg_trigger.tgenabled = 'D'",
    )
    .await;
    exec("ALTER TABLE events ENABLE REPLICA TRIGGER events_no_update").await;
    assert_drift(
        &db,
        "trigger events_no_update on events: fires only in replica sessions",
    )
    .await;
    exec("ALTER TABLE events ENABLE TRIGGER events_no_update").await;
    assert_clean(&db).await;

    exec("GRANT UPDATE ON events TO jishi_app").await;
    assert_drift(
        &db,
        "grant to jishi_app on events: holds UPDATE (on the table or a column), which it \
         should not: it should hold only SELECT",
    )
    .await;
    exec("REVOKE UPDATE ON events FROM jishi_app").await;
    // A column grant is as good as a table grant to the role.
    exec("GRANT UPDATE (recorded_at) ON events TO jishi_app").await;
    assert_drift(&db, "grant to jishi_app on events: holds UPDATE").await;
    exec("REVOKE UPDATE (recorded_at) ON events FROM jishi_app").await;
    // The INSERT that migration 7 took away.
    exec("GRANT INSERT ON events TO jishi_app").await;
    assert_drift(&db, "grant to jishi_app on events: holds INSERT").await;
    exec("REVOKE INSERT ON events FROM jishi_app").await;
    assert_clean(&db).await;
}
