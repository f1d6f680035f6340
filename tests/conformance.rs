//! One conformance suite for every `EventStore`: each behaviour is written once
//! in `suite`, and `conformance!` runs all of them against each store.

mod common;

use std::sync::Arc;

use common::{event, request};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{AppendError, Digest, EventStore, ExpectedVersion};
use serde_json::json;

mod suite {
    use super::*;

    pub async fn empty_ledger_has_no_head(s: Arc<dyn EventStore>) {
        assert_eq!(s.head().await.unwrap(), None);
        assert!(s.read_all(1, 10).await.unwrap().is_empty());
        assert!(jishi_ledger::verify(&*s, &Quiet).await.unwrap().is_ok());
    }

    pub async fn appends_are_chained_and_gapless(s: Arc<dyn EventStore>) {
        for i in 0..5 {
            let stream = format!("election/e{}", i % 2);
            s.append(request(&stream, ExpectedVersion::Any, 3))
                .await
                .unwrap();
        }
        let all = s.read_all(1, 100).await.unwrap();
        assert_eq!(all.len(), 15);
        let mut prev = Digest::ZERO;
        for (i, e) in all.iter().enumerate() {
            assert_eq!(e.position, i as u64 + 1);
            assert_eq!(e.prev_hash, prev);
            prev = e.hash;
        }
        let e0: Vec<u64> = s
            .read_stream("election/e0", 1, 100)
            .await
            .unwrap()
            .iter()
            .map(|e| e.stream_version)
            .collect();
        assert_eq!(e0, (1..=9).collect::<Vec<_>>());
        let head = s.head().await.unwrap().unwrap();
        assert_eq!((head.position, head.hash), (15, prev));
        let report = jishi_ledger::verify(&*s, &Quiet).await.unwrap();
        assert!(report.is_ok(), "{:?}", report.fault);
        assert_eq!(report.checked, 15);
    }

    pub async fn expected_versions_are_enforced(s: Arc<dyn EventStore>) {
        let st = "candidate/c1";
        s.append(request(st, ExpectedVersion::NoStream, 2))
            .await
            .unwrap();
        let err = s
            .append(request(st, ExpectedVersion::NoStream, 1))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::Conflict {
                    actual: Some(2),
                    ..
                }
            ),
            "{err}"
        );
        let err = s
            .append(request(st, ExpectedVersion::Exact(1), 1))
            .await
            .unwrap_err();
        assert!(matches!(err, AppendError::Conflict { .. }), "{err}");
        let err = s
            .append(request("candidate/none", ExpectedVersion::Exact(1), 1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, AppendError::Conflict { actual: None, .. }),
            "{err}"
        );
        let ok = s
            .append(request(st, ExpectedVersion::Exact(2), 1))
            .await
            .unwrap();
        assert_eq!(ok.events[0].stream_version, 3);
        assert_eq!(s.stream_version(st).await.unwrap(), Some(3));
        assert_eq!(s.head().await.unwrap().unwrap().position, 3);
    }

    /// Two recorders read version 1 and both try to append: exactly one wins,
    /// the other gets a typed conflict and nothing of it is written.
    pub async fn concurrent_appends_with_same_expected_version(s: Arc<dyn EventStore>) {
        let st = "candidate/c2";
        s.append(request(st, ExpectedVersion::NoStream, 1))
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            {
                let s = s.clone();
                tokio::spawn(
                    async move { s.append(request(st, ExpectedVersion::Exact(1), 2)).await },
                )
            },
            {
                let s = s.clone();
                tokio::spawn(
                    async move { s.append(request(st, ExpectedVersion::Exact(1), 3)).await },
                )
            }
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        let (won, lost) = match (&a, &b) {
            (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w, l),
            _ => panic!("exactly one must win: {a:?} {b:?}"),
        };
        assert!(
            matches!(lost, AppendError::Conflict { actual: Some(v), .. } if *v == 1 + won.events.len() as u64),
            "{lost}"
        );
        let all = s.read_stream(st, 1, 100).await.unwrap();
        assert_eq!(all.len(), 1 + won.events.len());
        assert!(jishi_ledger::verify(&*s, &Quiet).await.unwrap().is_ok());
    }

    /// A reply lost on the way back: the recorder retries with the same
    /// event_id and gets the original position; nothing is stored twice.
    pub async fn retry_after_lost_reply_is_a_no_op(s: Arc<dyn EventStore>) {
        let mut r = request("candidate/c3", ExpectedVersion::NoStream, 2);
        for e in &mut r.events {
            e.event_id = Some(uuid::Uuid::new_v4());
        }
        let first = s.append(r.clone()).await.unwrap();
        assert!(!first.deduplicated);
        s.append(request("other", ExpectedVersion::Any, 1))
            .await
            .unwrap();
        // The retry's expected version is stale by now; a retry must still succeed.
        let again = s.append(r.clone()).await.unwrap();
        assert!(again.deduplicated);
        assert_eq!(again.events, first.events);
        assert_eq!(s.head().await.unwrap().unwrap().position, 3);

        let mut changed = r.clone();
        changed.events[0].payload = json!({"seq": 99});
        let err = s.append(changed).await.unwrap_err();
        assert!(
            matches!(
                err,
                AppendError::EventIdReused {
                    position: 1,
                    differs: "payload",
                    ..
                }
            ),
            "{err}"
        );
        let mut partial = r.clone();
        partial.events[1].event_id = Some(uuid::Uuid::new_v4());
        let err = s.append(partial).await.unwrap_err();
        assert!(matches!(err, AppendError::EventIdReused { .. }), "{err}");
        assert_eq!(s.head().await.unwrap().unwrap().position, 3);
    }

    pub async fn a_batch_is_all_or_nothing(s: Arc<dyn EventStore>) {
        s.append(request("a", ExpectedVersion::Any, 1))
            .await
            .unwrap();
        let head = s.head().await.unwrap();
        let err = s
            .append_batch(vec![
                request("b", ExpectedVersion::NoStream, 2),
                request("c", ExpectedVersion::Any, 1),
                request("a", ExpectedVersion::NoStream, 1),
            ])
            .await
            .unwrap_err();
        assert_eq!(err.index, 2);
        assert!(matches!(err.error, AppendError::Conflict { .. }));
        assert_eq!(s.head().await.unwrap(), head);
        assert_eq!(s.stream_version("b").await.unwrap(), None);
        let ok = s
            .append_batch(vec![
                request("b", ExpectedVersion::NoStream, 2),
                request("b", ExpectedVersion::Exact(2), 1),
            ])
            .await
            .unwrap();
        assert_eq!(ok[1].events[0].position, 4);
    }

    pub async fn invalid_events_write_nothing(s: Arc<dyn EventStore>) {
        s.append(request("a", ExpectedVersion::Any, 1))
            .await
            .unwrap();
        let head = s.head().await.unwrap();
        let mut bad = request("b", ExpectedVersion::Any, 2);
        bad.events[1].payload = json!(["not", "an", "object"]);
        let err = s.append(bad).await.unwrap_err();
        assert!(
            matches!(&err, AppendError::Invalid(f) if f.field == "events[1].payload"),
            "{err}"
        );
        let mut bad = request("b", ExpectedVersion::Any, 1);
        bad.events[0].actor.name = String::new();
        assert!(matches!(
            s.append(bad).await.unwrap_err(),
            AppendError::Invalid(f) if f.field == "actor.name"
        ));
        let bad = request("", ExpectedVersion::Any, 1);
        assert!(matches!(
            s.append(bad).await.unwrap_err(),
            AppendError::Invalid(f) if f.field == "stream"
        ));
        assert_eq!(s.head().await.unwrap(), head);
    }

    pub async fn payloads_are_stored_canonically(s: Arc<dyn EventStore>) {
        let mut r = request("p", ExpectedVersion::Any, 1);
        r.events[0] = event(
            "x.y",
            json!({"b": [1.0, 2.5e3], "a": "é\n", "c": {"z": 1, "y": null}}),
        );
        s.append(r).await.unwrap();
        let e = &s.read_all(1, 1).await.unwrap()[0];
        assert_eq!(
            e.payload.as_str(),
            r#"{"a":"é\n","b":[1,2500],"c":{"y":null,"z":1}}"#
        );
        assert_eq!(
            e.payload_digest,
            Digest::from(blake3::hash(e.payload.as_str().as_bytes()))
        );
        assert_eq!(e.occurred_at, "2021-03-05T09:30:00+08:00");
    }

    pub async fn reads_page_by_position_and_version(s: Arc<dyn EventStore>) {
        for _ in 0..7 {
            s.append(request("p", ExpectedVersion::Any, 1))
                .await
                .unwrap();
            s.append(request("q", ExpectedVersion::Any, 1))
                .await
                .unwrap();
        }
        let page = s.read_all(5, 3).await.unwrap();
        assert_eq!(
            page.iter().map(|e| e.position).collect::<Vec<_>>(),
            [5, 6, 7]
        );
        let page = s.read_stream("q", 3, 2).await.unwrap();
        assert_eq!(
            page.iter()
                .map(|e| (e.stream_version, e.position))
                .collect::<Vec<_>>(),
            [(3, 6), (4, 8)]
        );
        assert!(s.read_all(15, 10).await.unwrap().is_empty());
    }

    /// An election and its candidates' streams are read together by prefix,
    /// and a decision on them is appended only if none of them changed since.
    pub async fn prefix_reads_and_guarded_appends(s: Arc<dyn EventStore>) {
        for stream in [
            "election/a",
            "election/a/candidate/1",
            "election/a-2",
            "election/ab/candidate/1",
            "election/a/candidate/2",
            "election/a.b",
        ] {
            s.append(request(stream, ExpectedVersion::Any, 1))
                .await
                .unwrap();
        }
        let under: Vec<(u64, String)> = s
            .read_prefix("election/a", 1, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.position, e.stream))
            .collect();
        assert_eq!(
            under,
            [
                (1, "election/a".to_string()),
                (2, "election/a/candidate/1".to_string()),
                (5, "election/a/candidate/2".to_string())
            ]
        );
        assert_eq!(s.read_prefix("election/a", 3, 100).await.unwrap().len(), 1);
        let now = s.clock().now();
        let prep = |stream: &str| {
            jishi_ledger::store::prepare_request(request(stream, ExpectedVersion::Any, 1), now)
                .unwrap()
        };
        // Another election's events do not disturb the guard.
        s.append(request("election/ab", ExpectedVersion::Any, 1))
            .await
            .unwrap();
        let guard = jishi_ledger::ScopeGuard {
            prefix: "election/a".into(),
            seen: 5,
        };
        let ok = s
            .append_guarded(guard.clone(), vec![prep("election/a/candidate/3")])
            .await
            .unwrap();
        assert_eq!(ok[0].events[0].position, 8);
        // The same decision again: the scope moved on to 8, so it is refused.
        let head = s.head().await.unwrap();
        let err = s
            .append_guarded(guard, vec![prep("election/a/candidate/4")])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err.error,
                AppendError::ScopeChanged {
                    seen: 5,
                    latest: 8,
                    ..
                }
            ),
            "{}",
            err.error
        );
        assert_eq!(s.head().await.unwrap(), head);
    }
}

/// Instantiates every test of `suite` for one store; `$make` returns a fixture
/// whose `store` field is the store under test.
macro_rules! conformance {
    ($name:ident, $make:expr, [$($test:ident),* $(,)?]) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(fx) = $make else { return };
                    super::suite::$test(fx.store.clone()).await;
                }
            )*
        }
    };
}

macro_rules! all_tests {
    ($name:ident, $make:expr) => {
        conformance!(
            $name,
            $make,
            [
                empty_ledger_has_no_head,
                appends_are_chained_and_gapless,
                expected_versions_are_enforced,
                concurrent_appends_with_same_expected_version,
                retry_after_lost_reply_is_a_no_op,
                a_batch_is_all_or_nothing,
                invalid_events_write_nothing,
                payloads_are_stored_canonically,
                reads_page_by_position_and_version,
                prefix_reads_and_guarded_appends,
            ]
        );
    };
}

all_tests!(sqlite, Some(crate::common::sqlite()));
all_tests!(postgres, crate::common::postgres().await);

// ------------------------------------------------------------ forged rows
//
// A row written wrongly, with a hash computed correctly over its bad
// fields, as a DBA (or `jishi_app`) with docs/FORMAT.md at hand writes it:
// every hash and link checks, so only the row checks (`validity`) and the
// tree's refusal to adopt it can catch it. Each store gets the same rows
// by plain SQL.

#[path = "conformance/forge.rs"]
mod forge;

use forge::{about_recorded_at, forged_after, variants, Db};
use jishi_ledger::postgres::tokio_postgres;
use jishi_ledger::{FaultKind, RecordedEvent};

pub(crate) mod rows {
    use super::*;

    async fn five_events(db: &Db) -> RecordedEvent {
        let s = db.store();
        for i in 0..5 {
            s.append(request(
                &format!("candidate/c{}", i % 2),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .expect("append");
        }
        let all = s.read_all(1, 10).await.expect("read");
        assert_eq!(all.len(), 5);
        all.into_iter().last().expect("an event")
    }

    /// Each malformed field, forged at position 6 with a chain-consistent
    /// hash, is named there by verify; the same row unedited verifies. As
    /// `jishi_app` (PostgreSQL), plain INSERT is refused, the function
    /// refuses the time forgeries, and what it lets through verify names.
    pub async fn malformed_rows_are_found_at_their_position(db: &Db) {
        let last = five_events(db).await;
        let store = db.store();

        // The control: the same forgery without a bad field passes.
        let control = forged_after(&last, |_| {});
        db.insert_as_dba(&control).await;
        let report = jishi_ledger::verify(&*store, &Quiet).await.expect("verify");
        assert!(
            report.is_ok(),
            "the unedited row must verify: {:?}",
            report.fault
        );
        assert_eq!(report.checked, 6);
        db.delete_as_dba(6).await;

        let mut missed = Vec::new();
        for (name, edit, want) in variants() {
            let row = forged_after(&last, |r| edit(r, &last));
            db.insert_as_dba(&row).await;
            let report = jishi_ledger::verify(&*store, &Quiet).await.expect("verify");
            match &report.fault {
                Some(f)
                    if f.position == 6
                        && f.kind == FaultKind::RowMalformed
                        && f.detail.starts_with(want) => {}
                other => missed.push(format!("{name} (as DBA): {other:?}")),
            }
            db.delete_as_dba(6).await;

            if let Some(result) = db.append_as_app(&row).await {
                match (about_recorded_at(name), result) {
                    (true, Err(e)) if e.contains("refused to append: position 6") => {}
                    (false, Ok(())) => {
                        let report = jishi_ledger::verify(&*store, &Quiet).await.expect("verify");
                        match &report.fault {
                            Some(f)
                                if f.position == 6
                                    && f.kind == FaultKind::RowMalformed
                                    && f.detail.starts_with(want) => {}
                            other => missed.push(format!("{name} (as jishi_app): {other:?}")),
                        }
                        db.delete_as_dba(6).await;
                    }
                    (_, other) => missed.push(format!("{name} (as jishi_app): {other:?}")),
                }
            }
        }
        assert!(missed.is_empty(), "not caught as expected: {missed:#?}");

        // jishi_app cannot INSERT into events at all since migration 7.
        if let Some(app) = db.app_connection().await {
            let err = app
                .execute(
                    "INSERT INTO events SELECT * FROM events WHERE position = 1",
                    &[],
                )
                .await
                .expect_err("INSERT as jishi_app");
            assert_eq!(
                err.code(),
                Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
                "{err:?}"
            );
            // Nor, through the function, choose its own position.
            let mut far = forged_after(&last, |r| r.position = 9);
            far.position = 9;
            let refused = db.append_as_app(&far).await.expect("postgres");
            assert!(
                refused
                    .as_ref()
                    .is_err_and(|e| e.contains("the next position is 6")),
                "{refused:?}"
            );
        }
        let report = jishi_ledger::verify(&*store, &Quiet).await.expect("verify");
        assert!(report.is_ok(), "{:?}", report.fault);
    }

    /// A forged row at the end is not adopted by the Merkle tree: opening
    /// the ledger (any command) leaves the stored tree as it was, reads
    /// still work and warn, appends are refused naming the row, no
    /// checkpoint is signed, and verify names it.
    pub async fn the_tree_does_not_adopt_a_forged_row(db: &Db) {
        let last = five_events(db).await;
        let before = db.stored_tree().await;
        assert!(!before.0.is_empty() && before.1.len() == 1, "{before:?}");
        let row = forged_after(&last, |r| r.payload = b"{\"vote\": forged".to_vec());
        db.insert_as_dba(&row).await;

        let reopened = db.reopen().await;
        assert_eq!(reopened.tree_size().await.expect("tree size"), 5);
        assert_eq!(db.stored_tree().await, before, "the tree adopted the row");
        let err = reopened
            .append(request("candidate/c9", ExpectedVersion::Any, 1))
            .await
            .expect_err("an append onto a forged row");
        let msg = err.to_string();
        assert!(
            msg.contains("does not adopt the row at position 6")
                && msg.contains("row malformed: payload: malformed JSON"),
            "{msg}"
        );
        assert_eq!(db.stored_tree().await, before);

        let (code, out) = db.jishi(&["head"]).await;
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("position 6"), "{out}");
        assert!(
            out.contains("does not adopt the row at position 6"),
            "the read must warn: {out}"
        );
        let (code, out) = db.jishi(&["verify"]).await;
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("first bad position 6: row malformed: payload: malformed JSON"),
            "{out}"
        );
        let dir = tempfile::tempdir().expect("dir");
        let key = dir.path().join("log.key");
        let key_arg = key.display().to_string();
        let (code, out) = db
            .jishi(&["keygen", "jishi.example/log", "--out", &key_arg])
            .await;
        assert_eq!(code, 0, "{out}");
        let (code, out) = db.jishi(&["checkpoint", "--key", &key_arg]).await;
        assert_eq!(code, 3, "{out}");
        let stored = reopened.checkpoints().await.expect("checkpoints");
        assert!(stored.is_empty(), "a checkpoint was signed: {stored:?}");
        assert_eq!(db.stored_tree().await, before);
    }
}

macro_rules! forgeries {
    ($name:ident, $make:expr, [$($test:ident),* $(,)?]) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = $make else { return };
                    super::rows::$test(&db).await;
                }
            )*
        }
    };
}

macro_rules! all_forgeries {
    ($name:ident, $make:expr) => {
        forgeries!(
            $name,
            $make,
            [
                malformed_rows_are_found_at_their_position,
                the_tree_does_not_adopt_a_forged_row,
            ]
        );
    };
}

all_forgeries!(sqlite_rows, Some(crate::Db::sqlite()));
all_forgeries!(postgres_rows, crate::Db::postgres().await);

// ------------------------------------------------------------ attestation
//
// Rows written by SQL beside attested ones, forged attestations and
// checkpoints, a cut tail, writers with the wrong key, rotation and
// compromise (D69), against each store.

#[path = "conformance/attestation.rs"]
mod attestation;
