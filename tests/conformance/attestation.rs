//! Attestation (D69), part of the conformance suite, on both stores: every group a store writes is signed
//! by the recording key, which the database never holds, and `verify` names
//! the first position that no valid attestation covers. Tried as the
//! database's administrator would: a row appended by SQL with a correctly
//! computed chain, a forged attestation beside it, a tail cut off; and as a
//! careless admin: writing without the key, or with a rotated one. The
//! legitimate cases too: rotation, a key declared compromised, a legacy
//! ledger adopted by its first registration, and the SM2 suite.

use std::sync::Arc;

use jishi_ledger::attest::{self, Attestor};
use jishi_ledger::tree::ProofStore;
use jishi_ledger::{
    AppendError, AppendRequest, Digest, ExpectedVersion, FaultKind, NewEvent, RecordedEvent,
    SignerKey, Suite,
};

use super::forge::Db;
use serde_json::json;

/// A ledger under test: the store, opened with a recording key (or none),
/// and the database handle its administrator has.
struct Ledger {
    store: Arc<dyn ProofStore>,
    db: Db,
}

impl Ledger {
    async fn new(db: Db, attestor: Option<Arc<Attestor>>) -> Ledger {
        Ledger {
            store: db.reopen_with(attestor).await,
            db,
        }
    }

    /// The same ledger opened again, with another key (or none).
    async fn reopen(&self, attestor: Option<Arc<Attestor>>) -> Arc<dyn ProofStore> {
        self.db.reopen_with(attestor).await
    }
}

fn key(suite: Suite, n: u8) -> Arc<Attestor> {
    let k = SignerKey::from_secret("test.recording", suite, &[n; 32]).expect("key");
    Arc::new(Attestor::new(k))
}

fn request(stream: &str, n: usize) -> AppendRequest {
    crate::common::request(stream, ExpectedVersion::Any, n)
}

async fn register(store: &dyn ProofStore, attestor: &Attestor) -> u64 {
    let a = store
        .append(key_request(attest::KEY_REGISTERED, attestor.registration()))
        .await
        .expect("register the key");
    a.events[0].position
}

/// One event of the ledger's key stream.
fn key_request(event_type: &str, payload: serde_json::Value) -> AppendRequest {
    AppendRequest {
        stream: attest::KEYS_STREAM.into(),
        expected: ExpectedVersion::Any,
        events: vec![NewEvent {
            payload,
            ..crate::common::event(event_type, json!({}))
        }],
    }
}

async fn key_event(store: &dyn ProofStore, event_type: &str, payload: serde_json::Value) {
    store
        .append(key_request(event_type, payload))
        .await
        .expect("key event");
}

/// A chain-consistent forged row at the position after the head, as a DBA
/// holding docs/FORMAT.md computes it.
async fn forged_next(store: &dyn ProofStore) -> RecordedEvent {
    let head = store.head().await.expect("head").expect("a head");
    let stream = "election/forged-2026";
    let version = store
        .stream_version(stream)
        .await
        .expect("version")
        .unwrap_or(0);
    // Chained onto the stream's last event too, as format 3 asks.
    let stream_prev = match version {
        0 => jishi_ledger::Digest::ZERO,
        v => {
            store
                .read_stream(stream, v, 1)
                .await
                .expect("read the stream")
                .remove(0)
                .hash
        }
    };
    let prepared = jishi_ledger::prepare::prepare(
        crate::common::event(
            "committee.decided",
            json!({"决定": "任用", "候选人": "伪造"}),
        ),
        chrono::Utc::now(),
    )
    .expect("prepare");
    jishi_ledger::store::seal(
        stream,
        version + 1,
        &prepared,
        head.position + 1,
        (head.hash, stream_prev),
        head.recorded_at.clone(),
    )
}

/// A forged event sealed after `prev` (position, hash, time), on `stream`
/// at `version` after the stream's event `stream_prev`, as a DBA with
/// docs/FORMAT.md seals it.
fn sealed_after(
    prev: &RecordedEvent,
    (stream, version, stream_prev): (&str, u64, jishi_ledger::Digest),
    event_type: &str,
    payload: serde_json::Value,
) -> RecordedEvent {
    let prepared = jishi_ledger::prepare::prepare(
        crate::common::event(event_type, payload),
        chrono::Utc::now(),
    )
    .expect("prepare");
    jishi_ledger::store::seal(
        stream,
        version,
        &prepared,
        prev.position + 1,
        (prev.hash, stream_prev),
        prev.recorded_at.clone(),
    )
}

async fn verify(store: &dyn ProofStore) -> jishi_ledger::VerifyReport {
    jishi_ledger::verify_with_proofs(store, &jishi_ledger::verify::Quiet)
        .await
        .expect("verify runs")
}

mod suite {
    use super::*;

    pub async fn every_group_is_attested(db: Db) {
        group_attested(db, Suite::Ed25519).await;
    }

    pub async fn every_group_is_attested_in_sm2(db: Db) {
        group_attested(db, Suite::Sm2Sm3).await;
    }

    async fn group_attested(db: Db, suite: Suite) {
        {
            let k = key(suite, 7);
            let l = Ledger::new(db, Some(k.clone())).await;
            register(&*l.store, &k).await;
            l.store
                .append_batch(vec![request("a", 3), request("b", 2)])
                .await
                .expect("batch");
            l.store.append(request("a", 1)).await.expect("append");
            let r = verify(&*l.store).await;
            assert!(r.is_ok(), "{suite}: {:?}", r.fault);
            assert_eq!(r.attestation.attested_through, 7, "{suite}");
            assert_eq!(r.attestation.keys, vec![k.verifier().to_vkey()], "{suite}");
            assert!(!r.attestation.unattested && r.attestation.adopted_through == 0);
        }
    }

    pub async fn a_row_inserted_by_sql_is_named_and_blocks_the_next_write(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        l.store.append(request("a", 4)).await.expect("append");
        // When the DBA appends a decision with a correctly computed chain
        let forged = forged_next(&*l.store).await;
        l.db.insert_event(&forged).await;
        // Then the chain passes but verify names the row as not attested
        let r = verify(&*l.store).await;
        let f = r.fault.expect("a fault");
        assert_eq!(
            (f.position, f.kind),
            (6, FaultKind::Unattested),
            "{}",
            f.detail
        );
        assert!(
            f.detail.contains("no attestation covers position 6"),
            "{}",
            f.detail
        );
        // And the tree, caught up when the ledger is opened again, does not
        // adopt it
        let reopened = l.reopen(Some(k.clone())).await;
        assert_eq!(reopened.frontier().await.expect("frontier").size(), 5);
        // And the next honest write is refused rather than covering it
        let err = reopened.append(request("a", 1)).await.expect_err("refused");
        assert!(
            matches!(&err, AppendError::Unattested(m) if m.contains("positions 6 to 6")),
            "{err}"
        );
        assert_eq!(
            reopened.head().await.expect("head").map(|h| h.position),
            Some(6)
        );
    }

    pub async fn a_forged_attestation_is_named(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        l.store.append(request("a", 2)).await.expect("append");
        let forged = forged_next(&*l.store).await;
        l.db.insert_event(&forged).await;
        // With an attestation that names the right key but was not made by it
        let impostor = key(Suite::Ed25519, 9).attest(4, 4, &forged.hash);
        l.db.insert_attestation(&attest::Attestation {
            key_name: "test.recording".into(),
            key_id: i64::from(k.verifier().key_id()),
            ..impostor
        })
        .await;
        let f = verify(&*l.store).await.fault.expect("a fault");
        assert_eq!((f.position, f.kind), (4, FaultKind::Unattested));
        assert!(f.detail.contains("does not verify"), "{}", f.detail);
        // And the tree, caught up on the next open, does not adopt the row
        let reopened = l.reopen(Some(k.clone())).await;
        assert_eq!(reopened.frontier().await.expect("frontier").size(), 3);
    }

    pub async fn writing_without_the_key_or_with_an_old_one_fails(db: Db) {
        let old = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(old.clone())).await;
        register(&*l.store, &old).await;
        l.store.append(request("a", 1)).await.expect("append");
        // Without the key: refused, nothing written
        let keyless = l.reopen(None).await;
        let err = keyless.append(request("a", 1)).await.expect_err("refused");
        assert!(matches!(err, AppendError::Unattested(_)), "{err}");
        assert_eq!(
            keyless.head().await.expect("head").map(|h| h.position),
            Some(2)
        );
        // A rotation, signed by the old key; then the new key writes
        let new = key(Suite::Sm2Sm3, 8);
        key_event(
            &*l.store,
            attest::KEY_ROTATED,
            json!({"key": new.verifier().to_vkey(), "replaces": old.verifier().to_vkey()}),
        )
        .await;
        let rotated = l.reopen(Some(new.clone())).await;
        rotated
            .append(request("a", 2))
            .await
            .expect("append with the new key");
        let r = verify(&*rotated).await;
        assert!(r.is_ok(), "{:?}", r.fault);
        assert_eq!(r.attestation.keys.len(), 2);
        assert_eq!(r.attestation.attested_through, 5);
        // When a writer still holding the old key writes after the rotation
        let stale = l.reopen(Some(old.clone())).await;
        stale
            .append(request("a", 1))
            .await
            .expect("the store writes");
        // Then verify names its group
        let f = verify(&*rotated).await.fault.expect("a fault");
        assert_eq!((f.position, f.kind), (6, FaultKind::Unattested));
        assert!(
            f.detail.contains("ledger's recording key for them is"),
            "{}",
            f.detail
        );
    }

    pub async fn a_compromised_key_flags_what_it_signed(db: Db) {
        let old = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(old.clone())).await;
        register(&*l.store, &old).await;
        l.store.append(request("a", 1)).await.expect("append"); // 2
        l.store.append(request("a", 1)).await.expect("append"); // 3
        let new = key(Suite::Ed25519, 8);
        key_event(
            &*l.store,
            attest::KEY_ROTATED,
            json!({"key": new.verifier().to_vkey(), "replaces": old.verifier().to_vkey()}),
        )
        .await; // 4, signed by the old key
        let store = l.reopen(Some(new.clone())).await;
        key_event(
            &*store,
            attest::KEY_COMPROMISED,
            json!({"key": old.verifier().to_vkey(), "from_position": 3, "reason": "laptop lost"}),
        )
        .await; // 5
        let r = verify(&*store).await;
        assert!(r.is_ok(), "{:?}", r.fault);
        let flagged: Vec<(u64, u64, u64)> = r
            .attestation
            .flagged
            .iter()
            .map(|f| (f.first, f.last, f.declared_at))
            .collect();
        assert_eq!(flagged, vec![(3, 4, 5)]);
        assert_eq!(r.attestation.flagged[0].reason, "laptop lost");
    }

    pub async fn a_cut_tail_is_named(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        l.store.append(request("a", 3)).await.expect("append"); // 2..4
        l.db.cut_after(3).await;
        let store = l.reopen(None).await;
        let f = verify(&*store).await.fault.expect("a fault");
        assert_eq!(
            (f.position, f.kind),
            (4, FaultKind::Unattested),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("rows were removed"), "{}", f.detail);
    }

    pub async fn a_legacy_ledger_is_adopted_by_its_first_key(db: Db) {
        let l = Ledger::new(db, None).await;
        l.store.append(request("a", 3)).await.expect("append");
        let r = verify(&*l.store).await;
        assert!(r.is_ok() && r.attestation.unattested, "{r:?}");
        // A keyless write to a ledger without a key still works
        l.store.append(request("a", 1)).await.expect("append");
        let k = key(Suite::Sm2Sm3, 7);
        let store = l.reopen(Some(k.clone())).await;
        assert_eq!(register(&*store, &k).await, 5);
        store.append(request("a", 1)).await.expect("append");
        let r = verify(&*store).await;
        assert!(r.is_ok(), "{:?}", r.fault);
        assert_eq!(r.attestation.adopted_through, 4);
        assert_eq!(r.attestation.attested_through, 6);
        assert!(!r.attestation.unattested);
    }

    pub async fn a_planted_rotation_vouches_for_nothing(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        l.store.append(request("a", 2)).await.expect("append"); // 2..3
        let head = l.store.read_all(3, 1).await.expect("read").remove(0);
        // When the DBA appends a rotation to a key of its own, a decision
        // after it, and an attestation of both by that key
        let forger = key(Suite::Ed25519, 66);
        let registration = l
            .store
            .read_stream(attest::KEYS_STREAM, 1, 1)
            .await
            .expect("read the key history")
            .remove(0);
        let rotation = sealed_after(
            &head,
            (attest::KEYS_STREAM, 2, registration.hash),
            attest::KEY_ROTATED,
            json!({"key": forger.verifier().to_vkey(), "replaces": k.verifier().to_vkey()}),
        );
        let decision = sealed_after(
            &rotation,
            ("election/forged-2026", 1, jishi_ledger::Digest::ZERO),
            "committee.decided",
            json!({"决定": "任用"}),
        );
        l.db.insert_event(&rotation).await;
        l.db.insert_event(&decision).await;
        l.db.insert_attestation(&forger.attest(4, 5, &decision.hash))
            .await;
        // Then verify names the rotation's group, the tree adopts neither row,
        // and the key history the readers use still ends at the real key
        let f = verify(&*l.store).await.fault.expect("a fault");
        assert_eq!(
            (f.position, f.kind),
            (4, FaultKind::Unattested),
            "{}",
            f.detail
        );
        let reopened = l.reopen(Some(k.clone())).await;
        assert_eq!(reopened.frontier().await.expect("frontier").size(), 3);
        let r = attest::verified_registry(&*reopened)
            .await
            .expect("registry");
        assert_eq!(r.current(), Some(&k.verifier()));
        assert_eq!(
            attest::registry(&*reopened)
                .await
                .expect("registry")
                .current(),
            Some(&forger.verifier())
        );
    }

    pub async fn the_key_stream_takes_only_key_events(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        for (event_type, payload) in [
            (attest::KEY_REGISTERED, json!({"key": "x"})),
            ("note.added", json!({"text": "hello"})),
            (
                attest::CHECKPOINT_KEY_REGISTERED,
                json!({"key": k.verifier().to_vkey(), "role": "boss"}),
            ),
        ] {
            let err = l
                .store
                .append(key_request(event_type, payload))
                .await
                .expect_err("refused");
            assert!(
                matches!(err, AppendError::Invalid(_)),
                "{event_type}: {err}"
            );
        }
        assert_eq!(
            l.store.head().await.expect("head").map(|h| h.position),
            Some(1)
        );
        // A key registered as a witness can still be made the log's
        let log = SignerKey::from_seed("test.example/log", &[1; 32]).expect("key");
        let actor = crate::common::actor(1);
        jishi_ledger::publish::register_checkpoint_key(
            &*l.store,
            &log.verifier(),
            "witness",
            &actor,
        )
        .await
        .expect("as a witness");
        jishi_ledger::publish::sign_checkpoint(
            &*l.store,
            &log,
            "test.example/log",
            &actor,
            &jishi_ledger::verify::Quiet,
        )
        .await
        .expect("sign");
        let r = verify(&*l.store).await;
        assert!(r.is_ok(), "{:?} {:?}", r.fault, r.signers);
    }

    pub async fn stored_checkpoints_are_checked_against_registered_keys(db: Db) {
        let k = key(Suite::Ed25519, 7);
        let l = Ledger::new(db, Some(k.clone())).await;
        register(&*l.store, &k).await;
        l.store.append(request("a", 3)).await.expect("append");
        let log = SignerKey::from_seed("test.example/log", &[1; 32]).expect("key");
        let signed = jishi_ledger::publish::sign_checkpoint(
            &*l.store,
            &log,
            "test.example/log",
            &crate::common::actor(1),
            &jishi_ledger::verify::Quiet,
        )
        .await
        .expect("sign");
        // The log's key was registered first, so the checkpoint verifies
        let r = verify(&*l.store).await;
        assert!(r.is_ok(), "{:?} {:?}", r.fault, r.signers);
        assert_eq!(r.signers[0].verified_by, vec![log.verifier().to_vkey()]);
        let body = jishi_ledger::Checkpoint::from_body(
            jishi_ledger::Note::parse(&signed.note)
                .expect("note")
                .text(),
        )
        .expect("body");
        // When the DBA stores the same checkpoint with a garbage signature
        let mut sig = signed.note.lines().last().expect("line").to_string();
        let flip = sig.len() - 6;
        sig.replace_range(
            flip..flip + 1,
            if &sig[flip..flip + 1] == "A" {
                "B"
            } else {
                "A"
            },
        );
        let forged = format!(
            "{}\n\n{sig}\n",
            jishi_ledger::Note::parse(&signed.note)
                .expect("note")
                .text()
                .trim_end_matches('\n')
        );
        l.db.insert_checkpoint(&body, &forged).await;
        // And one signed by a key the ledger never registered
        let stranger = SignerKey::from_seed("test.example/log", &[9; 32]).expect("key");
        l.db.insert_checkpoint(&body, &body.sign(&stranger).expect("sign").to_string())
            .await;
        // Then verify names both, and the honest one still verifies
        let r = verify(&*l.store).await;
        assert!(!r.is_ok());
        let faults: Vec<_> = r
            .signers
            .iter()
            .map(|s| (s.checkpoint_id, s.fault.is_some()))
            .collect();
        assert_eq!(
            faults,
            vec![(1, false), (2, true), (3, true)],
            "{:?}",
            r.signers
        );
        assert!(r.signers[1]
            .fault
            .as_deref()
            .unwrap_or("")
            .contains("do not verify"));
        // And a case file is built on the checkpoint that verifies, not the newest
        let case = jishi_ledger::publish::build_case(
            &*l.store,
            &jishi_ledger::export::Selector::Prefix("a".into()),
        )
        .await
        .expect("a case");
        assert_eq!(case.checkpoint.id, 1);
        // When the notes' bodies are edited in place
        l.db.edit_notes(
            &format!("\n{}\n", body.size),
            &format!("\n{}\n", body.size - 1),
        )
        .await;
        let r = verify(&*l.store).await;
        assert!(
            r.signers[0]
                .fault
                .as_deref()
                .unwrap_or("")
                .contains("the note was edited"),
            "{:?}",
            r.signers
        );
        // Then no case can be built on any of them
        let err = jishi_ledger::publish::build_case(
            &*l.store,
            &jishi_ledger::export::Selector::Prefix("a".into()),
        )
        .await
        .expect_err("refused");
        assert!(err.to_string().contains("verifies under"), "{err}");
    }
}

macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::suite::$test(super::Db::sqlite()).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let Some(db) = super::Db::postgres().await else { return };
                    super::suite::$test(db).await;
                }
            )*
        }
    };
}

on_both!(
    every_group_is_attested,
    every_group_is_attested_in_sm2,
    a_row_inserted_by_sql_is_named_and_blocks_the_next_write,
    a_forged_attestation_is_named,
    writing_without_the_key_or_with_an_old_one_fails,
    a_compromised_key_flags_what_it_signed,
    a_cut_tail_is_named,
    a_legacy_ledger_is_adopted_by_its_first_key,
    stored_checkpoints_are_checked_against_registered_keys,
    a_planted_rotation_vouches_for_nothing,
    the_key_stream_takes_only_key_events,
);

#[test]
fn an_attestation_message_is_as_documented() {
    let m = attest::message(1, 2, &Digest([0xab; 32]));
    assert_eq!(&m[..16], b"jishi.attest.v1\0");
    assert_eq!(&m[16..24], &1u64.to_be_bytes());
    assert_eq!(&m[24..32], &2u64.to_be_bytes());
    assert_eq!(&m[32..], &[0xab; 32]);
}
