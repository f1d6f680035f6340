//! PostgreSQL: the application role can only read and append; a superuser who
//! goes around the triggers with plain SQL is caught by `jishi verify`, which
//! names the first bad position and the kind of fault.

mod common;

use std::path::Path;

use common::{jishi, request, text, tokio_postgres, PgFixture};
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{EventStore, ExpectedVersion};

/// A ledger of ten events on three streams.
async fn ledger() -> Option<PgFixture> {
    let fx = common::postgres().await?;
    for i in 0..10 {
        fx.store
            .append(request(
                &format!("candidate/c{}", i % 3),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .expect("append");
    }
    Some(fx)
}

/// Runs `jishi verify` on the fixture's schema (a blocking child process, so
/// on a blocking thread).
async fn verify(fx: &PgFixture) -> (i32, String) {
    let url = fx.schema.db_url();
    tokio::task::spawn_blocking(move || {
        let out = jishi(Path::new(&url), &["verify"], None);
        (out.status.code().unwrap_or(-1), text(&out))
    })
    .await
    .expect("jishi verify")
}

async fn assert_fault(fx: &PgFixture, position: u64, kind: &str) {
    let (code, out) = verify(fx).await;
    assert_eq!(code, 3, "{out}");
    let want = format!("first bad position {position}: {kind}");
    assert!(out.contains(&want), "expected {want:?} in:\n{out}");
}

/// A superuser connection that bypasses the append-only triggers the way a
/// replication tool would.
async fn dba(fx: &PgFixture) -> tokio_postgres::Client {
    let c = fx.schema.connect().await;
    c.batch_execute("SET session_replication_role = replica")
        .await
        .expect("bypass triggers");
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intact_ledger_verifies_through_the_binary() {
    let Some(fx) = ledger().await else { return };
    let (code, out) = verify(&fx).await;
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_payload_is_found() {
    let Some(fx) = ledger().await else { return };
    dba(&fx)
        .await
        .execute(
            "UPDATE events SET payload = '{\"seq\":99}' WHERE position = 4",
            &[],
        )
        .await
        .expect("tamper");
    assert_fault(&fx, 4, "payload changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_envelope_is_found() {
    let Some(fx) = ledger().await else { return };
    dba(&fx)
        .await
        .execute(
            "UPDATE events SET actor_name = '王五' WHERE position = 8",
            &[],
        )
        .await
        .expect("tamper");
    assert_fault(&fx, 8, "envelope changed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_row_is_found() {
    let Some(fx) = ledger().await else { return };
    // The other way around the triggers: disable them on the table.
    let c = fx.schema.connect().await;
    c.batch_execute(
        "ALTER TABLE events DISABLE TRIGGER ALL; \
         DELETE FROM events WHERE position = 6; \
         ALTER TABLE events ENABLE TRIGGER ALL;",
    )
    .await
    .expect("tamper");
    assert_fault(&fx, 6, "row missing").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapped_rows_are_found() {
    let Some(fx) = ledger().await else { return };
    dba(&fx)
        .await
        .batch_execute(
            "UPDATE events SET position = -3 WHERE position = 3; \
             UPDATE events SET position = 3 WHERE position = 7; \
             UPDATE events SET position = 7 WHERE position = -3;",
        )
        .await
        .expect("tamper");
    assert_fault(&fx, 3, "rows reordered").await;
}

/// Even the table's owner cannot UPDATE, DELETE or TRUNCATE while the
/// triggers stand, and the error says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_refuse_changes_even_to_the_owner() {
    let Some(fx) = ledger().await else { return };
    let c = fx.schema.connect().await;
    for sql in [
        "UPDATE events SET payload = '{}' WHERE position = 1",
        "DELETE FROM events WHERE position = 10",
        "TRUNCATE events",
    ] {
        let err = c.execute(sql, &[]).await.expect_err(sql);
        let msg = err.as_db_error().map(|d| d.message().to_string());
        assert!(
            msg.as_deref().is_some_and(|m| m.contains("append-only")),
            "{sql}: {err:?}"
        );
    }
    let (code, out) = verify(&fx).await;
    assert_eq!(code, 0, "{out}");
}

/// The store runs under `jishi_app` (here by `role` in the connection
/// options, as a member would log in): appends and reads work; UPDATE, DELETE
/// and TRUNCATE are refused by privilege before any trigger fires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_role_can_only_read_and_append() {
    let Some(fx) = ledger().await else { return };
    let mut config = fx.schema.config();
    config.options(format!("-csearch_path={} -crole=jishi_app", fx.schema.name));

    let app = PostgresStore::open_with(
        config.clone(),
        PgOptions {
            create: false,
            ..PgOptions::default()
        },
    )
    .await
    .expect("open as jishi_app");
    let a = app
        .append(request("candidate/app", ExpectedVersion::NoStream, 2))
        .await
        .expect("append as jishi_app");
    assert_eq!(a.events[1].position, 12);
    assert_eq!(app.read_all(11, 10).await.expect("read").len(), 2);
    let report = jishi_ledger::verify(&app, &Quiet).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);

    let c = common::pg_connect(&config).await;
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .await
        .and_then(|r| r.try_get(0))
        .expect("current_user");
    assert_eq!(who, "jishi_app");
    for sql in [
        // Since migration 7 it appends through jishi_append_events only (D63).
        "INSERT INTO events SELECT * FROM events WHERE position = 1",
        "UPDATE events SET payload = '{}' WHERE position = 1",
        "DELETE FROM events WHERE position = 10",
        "TRUNCATE events",
        "ALTER TABLE events DISABLE TRIGGER ALL",
        "DROP TABLE events",
    ] {
        let err = c.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err:?}"
        );
    }

    // The binary itself, under the role, through the URL.
    let url = format!(
        "{}{}options=-csearch_path%3D{}%20-crole%3Djishi_app",
        fx.schema.url,
        if fx.schema.url.contains('?') {
            '&'
        } else {
            '?'
        },
        fx.schema.name
    );
    let out = tokio::task::spawn_blocking(move || {
        jishi(
            Path::new(&url),
            &[
                "append",
                "--stream",
                "candidate/cli",
                "--type",
                "candidate.nominated",
                "--actor",
                "id=u1,name=张伟,role=organisation_department,org=天元区委组织部",
                "--payload",
                "{\"seq\":1}",
            ],
            None,
        )
    })
    .await
    .expect("jishi append");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("appended at position 13"),
        "{}",
        text(&out)
    );
}

/// The Merkle tree keeps one `tree_nodes` row per append transaction (a
/// run): a byte changed in the middle of a run is named at its position, a
/// run cut short by its row, through the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_or_cut_tree_run_is_named() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    fx.store
        .append_batch(vec![
            request("candidate/c0", ExpectedVersion::Any, 4),
            request("candidate/c1", ExpectedVersion::Any, 6),
        ])
        .await
        .expect("append");
    let c = dba(&fx).await;
    let rows: Vec<(i64, Vec<u8>)> = c
        .query("SELECT leaf, hashes FROM tree_nodes", &[])
        .await
        .expect("read tree")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(rows.len(), 1, "ten events in one transaction are one run");
    let (leaf, run) = rows[0].clone();
    assert_eq!(leaf, 0);
    let set = |hashes: Vec<u8>| {
        let c = &c;
        async move {
            c.execute(
                "UPDATE tree_nodes SET hashes = $1 WHERE leaf = 0",
                &[&hashes],
            )
            .await
            .expect("tamper")
        }
    };

    // Leaf 5 (position 6): the node it completed at level 1.
    let (changed, message) = common::run_with_a_changed_node(&run);
    set(changed).await;
    let (code, out) = verify(&fx).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains(message), "{out}");

    // Cut inside leaf 7's segment: 13 nodes are no run of leaves from 0.
    set(run[..13 * 32].to_vec()).await;
    let (code, out) = verify(&fx).await;
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: Merkle tree: the tree_nodes row with leaf = 0 is 416 bytes")
            && out.contains("cut short or padded"),
        "{out}"
    );
    set(run).await;
    let (code, out) = verify(&fx).await;
    assert_eq!(code, 0, "{out}");
}

/// Format 3 as the application role sees it: `jishi_app` calls the append
/// function itself with a row that is right in every checked column, but
/// whose stream predecessor is another stream's last event, and whose hash
/// is recomputed over that. The function takes it, since it checks positions,
/// the chain and the clock. `jishi verify` names the row as a break of its
/// stream's chain. A second row that claims to open an existing stream
/// (32 zero bytes) is named the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_cannot_slip_in_a_wrong_stream_predecessor() {
    for claim_first in [false, true] {
        let Some(fx) = ledger().await else { return };
        let mut config = fx.schema.config();
        config.options(format!("-csearch_path={} -crole=jishi_app", fx.schema.name));
        let app = common::pg_connect(&config).await;
        let all = fx.store.read_all(1, 100).await.expect("read");
        let head = all.last().expect("head");
        let c0_version = all.iter().filter(|e| e.stream == "candidate/c0").count() as u64;
        let other_last = all
            .iter()
            .rev()
            .find(|e| e.stream == "candidate/c1")
            .expect("c1");
        let stream_prev = if claim_first {
            jishi_ledger::Digest::ZERO
        } else {
            other_last.hash
        };
        let prepared = jishi_ledger::prepare::prepare(
            common::event("x.forged", serde_json::json!({"n": 1})),
            chrono::Utc::now(),
        )
        .expect("prepare");
        let forged = jishi_ledger::store::seal(
            "candidate/c0",
            c0_version + 1,
            &prepared,
            head.position + 1,
            (head.hash, stream_prev),
            jishi_ledger::prepare::format_recorded_at(chrono::Utc::now()),
        );
        let r = jishi_ledger::row::StoredRow::of(&forged);
        let n = app
            .query_one(
                "SELECT jishi_append_events(ARRAY[$1::bigint], ARRAY[$2::text], \
                 ARRAY[$3::bigint], ARRAY[$4::text::uuid], ARRAY[$5::text], ARRAY[$6::bigint], \
                 ARRAY[$7::text], ARRAY[$8::text], ARRAY[$9::text], ARRAY[$10::text], \
                 ARRAY[$11::text], ARRAY[$12::text], ARRAY[$13::text], ARRAY[$14::bytea], \
                 ARRAY[$15::bytea], ARRAY[$16::bytea], ARRAY[$17::bytea])",
                &[
                    &r.position,
                    &r.stream,
                    &r.stream_version,
                    &r.event_id,
                    &r.event_type,
                    &r.schema_version,
                    &r.occurred_at,
                    &r.recorded_at,
                    &r.actor_id,
                    &r.actor_name,
                    &r.actor_role,
                    &r.actor_org,
                    &String::from_utf8(r.payload.clone()).expect("utf-8"),
                    &r.payload_digest,
                    &r.prev_hash,
                    &r.hash,
                    &r.stream_prev,
                ],
            )
            .await
            .expect("the function takes a row right in the columns it checks");
        assert_eq!(n.get::<_, i64>(0), 1);
        let (code, out) = verify(&fx).await;
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains(&format!(
                "first bad position {}: stream chain broken",
                head.position + 1
            )),
            "claim_first={claim_first}: {out}"
        );
    }
}
