//! A hostile DBA edits the SQLite file with plain SQL; `jishi verify` must name
//! the first bad position and the kind of fault, and exit 3.

mod common;

use std::path::Path;

use common::{dba, jishi, request, text};
use jishi_ledger::store::seal;
use jishi_ledger::{Digest, ExpectedVersion, RecordedEvent};
use rusqlite::params;

/// A ledger of ten events on three streams.
fn ledger() -> common::Fixture {
    let fx = common::sqlite();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        for i in 0..10 {
            fx.store
                .append(request(
                    &format!("candidate/c{}", i % 3),
                    ExpectedVersion::Any,
                    1,
                ))
                .await
                .unwrap();
        }
    });
    fx
}

fn verify(path: &Path) -> (i32, String) {
    let out = jishi(path, &["verify"], None);
    (out.status.code().unwrap_or(-1), text(&out))
}

fn assert_fault(path: &Path, position: u64, kind: &str) {
    let (code, out) = verify(path);
    assert_eq!(code, 3, "{out}");
    let want = format!("first bad position {position}: {kind}");
    assert!(out.contains(&want), "expected {want:?} in:\n{out}");
}

fn stored(path: &Path, position: u64) -> RecordedEvent {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = jishi_ledger::SqliteStore::open(path).unwrap();
    rt.block_on(async {
        use jishi_ledger::EventStore;
        store.read_all(position, 1).await.unwrap().remove(0)
    })
}

/// Writes `e` into the table as the forger would, with a hash recomputed.
fn forge(conn: &rusqlite::Connection, e: &RecordedEvent) {
    conn.execute(
        "INSERT OR REPLACE INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
        params![
            e.position as i64, e.stream, e.stream_version as i64, e.event_id.to_string(),
            e.event_type, e.schema_version, e.occurred_at, e.recorded_at, e.actor.id,
            e.actor.name, e.actor.role, e.actor.org, e.payload.as_str(),
            &e.payload_digest.0[..], &e.prev_hash.0[..], &e.hash.0[..],
            e.stream_prev.as_ref().map(|d| &d.0[..])
        ],
    )
    .unwrap();
}

/// A forged copy of `original` with another payload, sealed at `position`
/// onto `prev_hash` (and onto `original`'s stream predecessor):
/// self-consistent, as a forger with the format doc makes it.
fn forged(original: &RecordedEvent, position: u64, prev_hash: Digest) -> RecordedEvent {
    forged_on(
        original,
        &original.stream,
        original.stream_version,
        position,
        prev_hash,
    )
}

fn forged_on(
    original: &RecordedEvent,
    stream: &str,
    stream_version: u64,
    position: u64,
    prev_hash: Digest,
) -> RecordedEvent {
    let prepared = jishi_ledger::prepare::prepare(
        jishi_ledger::NewEvent {
            event_id: Some(uuid::Uuid::new_v4()),
            event_type: original.event_type.clone(),
            schema_version: 1,
            occurred_at: Some(original.occurred_at.clone()),
            actor: original.actor.clone(),
            payload: serde_json::json!({"姓名": "伪造"}),
        },
        chrono::Utc::now(),
    )
    .unwrap();
    seal(
        stream,
        stream_version,
        &prepared,
        position,
        // In the original's place, its stream predecessor; elsewhere a new
        // stream's first event, whose predecessor is zeros.
        (
            prev_hash,
            if stream == original.stream && stream_version == original.stream_version {
                original.stream_prev.unwrap_or_default()
            } else {
                Digest::ZERO
            },
        ),
        original.recorded_at.clone(),
    )
}

#[test]
fn an_intact_ledger_verifies() {
    let fx = ledger();
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: 10 events verified"), "{out}");
}

#[test]
fn the_triggers_refuse_plain_updates_and_deletes() {
    let fx = ledger();
    let conn = rusqlite::Connection::open(&fx.path).unwrap();
    let e = conn
        .execute("UPDATE events SET actor_name = 'x' WHERE position = 2", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    let e = conn
        .execute("DELETE FROM events WHERE position = 2", [])
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
}

#[test]
fn one_changed_payload_byte_is_found() {
    let fx = ledger();
    dba(&fx.path)
        .execute(
            "UPDATE events SET payload = replace(payload, '李明', '李朋') WHERE position = 5",
            [],
        )
        .unwrap();
    assert_fault(&fx.path, 5, "payload changed");
}

#[test]
fn a_changed_envelope_field_is_found() {
    let fx = ledger();
    dba(&fx.path)
        .execute(
            "UPDATE events SET actor_name = '王五' WHERE position = 7",
            [],
        )
        .unwrap();
    assert_fault(&fx.path, 7, "envelope changed");
}

#[test]
fn a_changed_payload_with_its_digest_rewritten_is_found() {
    let fx = ledger();
    let conn = dba(&fx.path);
    let payload = r#"{"seq":0,"姓名":"李朋"}"#;
    conn.execute(
        "UPDATE events SET payload = ?1, payload_digest = ?2 WHERE position = 4",
        params![payload, &blake3::hash(payload.as_bytes()).as_bytes()[..]],
    )
    .unwrap();
    assert_fault(&fx.path, 4, "envelope changed");
}

#[test]
fn a_deleted_middle_row_is_found() {
    let fx = ledger();
    dba(&fx.path)
        .execute("DELETE FROM events WHERE position = 6", [])
        .unwrap();
    assert_fault(&fx.path, 6, "row missing");
}

#[test]
fn two_swapped_rows_are_found() {
    let fx = ledger();
    dba(&fx.path)
        .execute_batch(
            "UPDATE events SET position = -1 WHERE position = 3;
             UPDATE events SET position = 3 WHERE position = 4;
             UPDATE events SET position = 4 WHERE position = -1;",
        )
        .unwrap();
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 3);
    assert!(
        out.contains("first bad position 3: rows reordered: the event stored here was recorded at position 4"),
        "{out}"
    );
}

/// Cutting off the tail leaves a valid, shorter chain: a linear chain cannot
/// see it (docs/FORMAT.md says so; signed checkpoints catch it, see
/// tests/proofs_tamper.rs). A forged event appended after the cut is found
/// only when it does not chain.
#[test]
fn a_truncated_tail_then_a_forged_append() {
    let fx = ledger();
    let conn = dba(&fx.path);
    conn.execute("DELETE FROM events WHERE position > 8", [])
        .unwrap();
    // The stored Merkle tree still has 10 leaves and says so...
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("the stored frontier is for 10 events but the ledger holds 8"),
        "{out}"
    );
    // ...until the forger drops the tree too (jishi rebuilds it from the events).
    conn.execute_batch(
        "DROP TRIGGER tree_nodes_no_delete; DELETE FROM tree_nodes; DELETE FROM tree_state;",
    )
    .unwrap();
    // (and puts the triggers back, which verify would miss: D64).
    common::restore_triggers(&conn);
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 0, "a linear chain cannot see a cut tail: {out}");

    let eighth = stored(&fx.path, 8);
    // Forged with a recomputed hash but a made-up predecessor: does not chain.
    let bad = forged_on(&eighth, "candidate/forged", 1, 9, Digest([7; 32]));
    forge(&conn, &bad);
    assert_fault(&fx.path, 9, "chain broken");

    // Forged with a recomputed hash that chains: undetectable without a checkpoint.
    let good = forged_on(&eighth, "candidate/forged", 1, 9, eighth.hash);
    forge(&conn, &good);
    // (Opening the ledger above did not take the first forgery into the
    // tree, D62, but nodes may be stale; the forger drops the tree again.)
    conn.execute_batch(
        "DROP TRIGGER tree_nodes_no_delete; DELETE FROM tree_nodes; DELETE FROM tree_state;",
    )
    .unwrap();
    common::restore_triggers(&conn);
    let (code, out) = verify(&fx.path);
    assert_eq!(
        code, 0,
        "a chained forgery needs a checkpoint to catch: {out}"
    );
}

/// A row in the middle replaced by a self-consistent forgery: the break shows
/// where the next row's prev_hash no longer matches.
#[test]
fn a_forged_middle_row_breaks_the_next_link() {
    let fx = ledger();
    let fifth = stored(&fx.path, 5);
    let fake = forged(&fifth, 5, fifth.prev_hash);
    forge(&dba(&fx.path), &fake);
    assert_fault(&fx.path, 6, "chain broken");
}

#[test]
fn a_stream_version_gap_with_recomputed_hashes_is_found() {
    let fx = ledger();
    // Re-seal every row from position 4 with stream versions shifted on one
    // stream: the chain is perfect, the stream's versions are not.
    let mut prev = stored(&fx.path, 3).hash;
    let mut resealed_rows = Vec::new();
    for p in 4..=10 {
        let e = stored(&fx.path, p);
        let version = if e.stream == "candidate/c0" {
            e.stream_version + 1
        } else {
            e.stream_version
        };
        let prepared = jishi_ledger::prepare::prepare(
            jishi_ledger::NewEvent {
                event_id: Some(e.event_id),
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                occurred_at: Some(e.occurred_at.clone()),
                actor: e.actor.clone(),
                payload: e.payload.to_value().unwrap(),
            },
            chrono::Utc::now(),
        )
        .unwrap();
        let resealed = seal(
            &e.stream,
            version,
            &prepared,
            p,
            (prev, e.stream_prev.unwrap_or_default()),
            e.recorded_at.clone(),
        );
        prev = resealed.hash;
        resealed_rows.push(resealed);
    }
    // Written last row first, so no row's new (stream, version) collides with
    // a row not yet rewritten.
    let conn = dba(&fx.path);
    for e in resealed_rows.iter().rev() {
        forge(&conn, e);
    }
    // candidate/c0 is at positions 1, 4, 7, 10: version 2 became 3 at position 4.
    assert_fault(&fx.path, 4, "stream version gap");
}

#[test]
fn verify_reports_json_for_machines() {
    let fx = ledger();
    dba(&fx.path)
        .execute("DELETE FROM events WHERE position = 2", [])
        .unwrap();
    let out = jishi(&fx.path, &["verify", "--json"], None);
    assert_eq!(out.status.code(), Some(3));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["fault"]["position"], 2);
    assert_eq!(v["fault"]["kind"], "row_missing");
    assert_eq!(v["checked"], 1);
}

/// A row moved to a position no event can have (0 or below) would otherwise
/// drop out of a scan that starts at position 1; it is found and named.
#[test]
fn a_row_moved_to_an_invalid_position_is_found() {
    let fx = ledger();
    dba(&fx.path)
        .execute("UPDATE events SET position = -5 WHERE position = 10", [])
        .unwrap();
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("first bad position 10: row missing"), "{out}");
    assert!(out.contains("a row is stored at position -5"), "{out}");

    let one = common::sqlite();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(one.store.append(request("s", ExpectedVersion::Any, 1)))
        .unwrap();
    dba(&one.path)
        .execute("UPDATE events SET position = 0", [])
        .unwrap();
    let (code, out) = verify(&one.path);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("a row is stored at position 0"), "{out}");
}

/// The Merkle tree keeps one `tree_nodes` row per append transaction, the
/// nodes of its leaves concatenated (a run). A byte changed in the middle of
/// a run is named at its position; a run cut short, even by one byte, is
/// named by its row; neither is taken for an intact tree, nor panics.
#[test]
fn a_changed_or_cut_tree_run_is_named() {
    let fx = common::sqlite();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(fx.store.append_batch(vec![
        request("candidate/c0", ExpectedVersion::Any, 4),
        request("candidate/c1", ExpectedVersion::Any, 6),
    ]))
    .unwrap();
    let conn = dba(&fx.path);
    conn.execute_batch("DROP TRIGGER tree_nodes_no_update;")
        .unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM tree_nodes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1, "ten events in one transaction are one run");
    let run: Vec<u8> = conn
        .query_row("SELECT hashes FROM tree_nodes WHERE leaf = 0", [], |r| {
            r.get(0)
        })
        .unwrap();
    let set = |hashes: &[u8]| {
        conn.execute("UPDATE tree_nodes SET hashes = ?1 WHERE leaf = 0", [hashes])
            .unwrap();
    };

    // Leaf 5 (position 6): the node it completed at level 1.
    let (changed, message) = common::run_with_a_changed_node(&run);
    set(&changed);
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("the hash chain of 10 events verifies"),
        "{out}"
    );
    assert!(out.contains(message), "{out}");

    // Cut inside leaf 7's segment (13 nodes: no run of leaves from 0), and
    // by one byte.
    for len in [13 * 32, run.len() - 1] {
        set(&run[..len]);
        let (code, out) = verify(&fx.path);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains(&format!(
                "FAILED: Merkle tree: the tree_nodes row with leaf = 0 is {len} bytes"
            )) && out.contains("cut short or padded"),
            "{out}"
        );
        assert!(!out.contains("panicked"), "{out}");
    }
    set(&run);
    common::restore_triggers(&conn);
    let (code, out) = verify(&fx.path);
    assert_eq!(code, 0, "{out}");
}
