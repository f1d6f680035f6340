//! Attestation (D69), on both stores: every group a store writes is signed
//! by the recording key, which the database never holds, and `verify` names
//! the first position that no valid attestation covers. Tried as the
//! database's administrator would: a row appended by SQL with a correctly
//! computed chain, a forged attestation beside it, a tail cut off; and as a
//! careless admin: writing without the key, or with a rotated one. The
//! legitimate cases too: rotation, a key declared compromised, a legacy
//! ledger adopted by its first registration, and the SM2 suite.

mod common;

use std::sync::Arc;

use jishi_ledger::attest::{self, Attestor};
use jishi_ledger::tree::ProofStore;
use jishi_ledger::{
    AppendError, AppendRequest, Digest, ExpectedVersion, FaultKind, NewEvent, RecordedEvent,
    SignerKey, SqliteStore, Suite,
};
use serde_json::json;

/// A ledger under test, with the database handle its administrator has.
struct Ledger {
    store: Arc<dyn ProofStore>,
    db: Db,
}

enum Db {
    Sqlite {
        path: std::path::PathBuf,
        _dir: tempfile::TempDir,
    },
    Pg(common::PgSchema),
}

fn key(suite: Suite, n: u8) -> Arc<Attestor> {
    let k = SignerKey::from_secret("test.recording", suite, &[n; 32]).expect("key");
    Arc::new(Attestor::new(k))
}

async fn sqlite(attestor: Option<Arc<Attestor>>) -> Option<Ledger> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.db");
    let store = SqliteStore::open(&path)
        .expect("open")
        .with_attestor(attestor);
    Some(Ledger {
        store: Arc::new(store),
        db: Db::Sqlite { path, _dir: dir },
    })
}

async fn postgres(attestor: Option<Arc<Attestor>>) -> Option<Ledger> {
    let url = common::database_url()?;
    let schema = common::PgSchema::create(&url).await;
    let store = jishi_ledger::PostgresStore::open_with(
        schema.config(),
        jishi_ledger::postgres::PgOptions {
            attestor,
            ..Default::default()
        },
    )
    .await
    .expect("open");
    Some(Ledger {
        store: Arc::new(store),
        db: Db::Pg(schema),
    })
}

impl Ledger {
    /// The same ledger opened again, with another key (or none).
    async fn reopen(&self, attestor: Option<Arc<Attestor>>) -> Arc<dyn ProofStore> {
        match &self.db {
            Db::Sqlite { path, .. } => Arc::new(
                SqliteStore::open(path)
                    .expect("reopen")
                    .with_attestor(attestor),
            ),
            Db::Pg(schema) => Arc::new(
                jishi_ledger::PostgresStore::open_with(
                    schema.config(),
                    jishi_ledger::postgres::PgOptions {
                        attestor,
                        ..Default::default()
                    },
                )
                .await
                .expect("reopen"),
            ),
        }
    }

    /// Inserts `e` into `events` as the administrator would, by SQL.
    async fn insert_row(&self, e: &RecordedEvent) {
        match &self.db {
            Db::Sqlite { path, .. } => {
                let conn = common::dba(path);
                conn.execute(
                    "INSERT INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16)",
                    rusqlite::params![
                        e.position as i64, e.stream, e.stream_version as i64,
                        e.event_id.to_string(), e.event_type, e.schema_version,
                        e.occurred_at, e.recorded_at, e.actor.id, e.actor.name, e.actor.role,
                        e.actor.org, e.payload.as_str(), &e.payload_digest.0[..],
                        &e.prev_hash.0[..], &e.hash.0[..]
                    ],
                )
                .expect("insert by SQL");
            }
            Db::Pg(schema) => {
                let c = schema.connect().await;
                c.execute(
                    "INSERT INTO events (position, stream, stream_version, event_id, event_type, \
                     schema_version, occurred_at, recorded_at, actor_id, actor_name, actor_role, \
                     actor_org, payload, payload_digest, prev_hash, hash) VALUES ($1, $2, $3, \
                     $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    &[
                        &(e.position as i64),
                        &e.stream,
                        &(e.stream_version as i64),
                        &e.event_id,
                        &e.event_type,
                        &i64::from(e.schema_version),
                        &e.occurred_at,
                        &e.recorded_at,
                        &e.actor.id,
                        &e.actor.name,
                        &e.actor.role,
                        &e.actor.org,
                        &e.payload.as_str(),
                        &&e.payload_digest.0[..],
                        &&e.prev_hash.0[..],
                        &&e.hash.0[..],
                    ],
                )
                .await
                .expect("insert by SQL");
            }
        }
    }

    /// Inserts an attestation row as the administrator would.
    async fn insert_attestation(&self, a: &attest::Attestation) {
        match &self.db {
            Db::Sqlite { path, .. } => {
                common::dba(path)
                    .execute(
                        "INSERT INTO attestations VALUES (?1, ?2, ?3, ?4, ?5)",
                        rusqlite::params![
                            a.last_position,
                            a.first_position,
                            a.key_name,
                            a.key_id,
                            a.signature
                        ],
                    )
                    .expect("insert by SQL");
            }
            Db::Pg(schema) => {
                schema
                    .connect()
                    .await
                    .execute(
                        "INSERT INTO attestations (last_position, first_position, key_name, \
                         key_id, signature) VALUES ($1, $2, $3, $4, $5)",
                        &[
                            &a.last_position,
                            &a.first_position,
                            &a.key_name,
                            &a.key_id,
                            &a.signature,
                        ],
                    )
                    .await
                    .expect("insert by SQL");
            }
        }
    }

    /// Inserts a checkpoint row as the administrator would.
    async fn insert_checkpoint(&self, c: &jishi_ledger::Checkpoint, note: &str) {
        match &self.db {
            Db::Sqlite { path, .. } => {
                common::dba(path)
                    .execute(
                        "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
                         VALUES (?1, ?2, ?3, ?4, 'now')",
                        rusqlite::params![c.origin, c.size as i64, &c.root.0[..], note],
                    )
                    .expect("insert by SQL");
            }
            Db::Pg(schema) => {
                schema
                    .connect()
                    .await
                    .execute(
                        "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
                         VALUES ($1, $2, $3, $4, 'now')",
                        &[&c.origin, &(c.size as i64), &&c.root.0[..], &note],
                    )
                    .await
                    .expect("insert by SQL");
            }
        }
    }

    /// Rewrites every stored note, with the triggers out of the way.
    async fn edit_notes(&self, from: &str, to: &str) {
        match &self.db {
            Db::Sqlite { path, .. } => {
                let c = common::dba(path);
                c.execute_batch("DROP TRIGGER IF EXISTS checkpoints_no_update")
                    .expect("drop trigger");
                c.execute(
                    "UPDATE checkpoints SET note = replace(note, ?1, ?2)",
                    [from, to],
                )
                .expect("update");
            }
            Db::Pg(schema) => {
                let c = schema.connect().await;
                c.batch_execute("ALTER TABLE checkpoints DISABLE TRIGGER USER")
                    .await
                    .expect("disable triggers");
                c.execute(
                    "UPDATE checkpoints SET note = replace(note, $1, $2)",
                    &[&from, &to],
                )
                .await
                .expect("update");
            }
        }
    }

    /// Deletes the rows after `position` (and their tree nodes), with the
    /// append-only triggers out of the way: a superuser cutting the tail.
    async fn cut_after(&self, position: u64) {
        let p = position as i64;
        match &self.db {
            Db::Sqlite { path, .. } => {
                // `dba` drops the events' triggers, as a hostile DBA would.
                let c = common::dba(path);
                c.execute("DELETE FROM events WHERE position > ?1", [p])
                    .expect("delete");
            }
            Db::Pg(schema) => {
                let c = schema.connect().await;
                c.batch_execute("ALTER TABLE events DISABLE TRIGGER USER")
                    .await
                    .expect("disable triggers");
                c.execute("DELETE FROM events WHERE position > $1", &[&p])
                    .await
                    .expect("delete");
            }
        }
    }
}

fn request(stream: &str, n: usize) -> AppendRequest {
    common::request(stream, ExpectedVersion::Any, n)
}

async fn register(store: &dyn ProofStore, attestor: &Attestor) -> u64 {
    let a = store
        .append(AppendRequest {
            stream: attest::KEYS_STREAM.into(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                payload: attestor.registration(),
                ..common::event(attest::KEY_REGISTERED, json!({}))
            }],
        })
        .await
        .expect("register the key");
    a.events[0].position
}

async fn key_event(store: &dyn ProofStore, event_type: &str, payload: serde_json::Value) {
    store
        .append(AppendRequest {
            stream: attest::KEYS_STREAM.into(),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                payload,
                ..common::event(event_type, json!({}))
            }],
        })
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
    let prepared = jishi_ledger::prepare::prepare(
        common::event(
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
        head.hash,
        head.recorded_at.clone(),
    )
}

async fn verify(store: &dyn ProofStore) -> jishi_ledger::VerifyReport {
    jishi_ledger::verify_with_proofs(store, &jishi_ledger::verify::Quiet)
        .await
        .expect("verify runs")
}

mod suite {
    use super::*;

    pub async fn every_group_is_attested(make: impl AsyncMake) {
        for suite in Suite::ALL {
            let k = key(suite, 7);
            let Some(l) = make.make(Some(k.clone())).await else {
                return;
            };
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

    pub async fn a_row_inserted_by_sql_is_named_and_blocks_the_next_write(make: impl AsyncMake) {
        let k = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(k.clone())).await else {
            return;
        };
        register(&*l.store, &k).await;
        l.store.append(request("a", 4)).await.expect("append");
        // When the DBA appends a decision with a correctly computed chain
        let forged = forged_next(&*l.store).await;
        l.insert_row(&forged).await;
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

    pub async fn a_forged_attestation_is_named(make: impl AsyncMake) {
        let k = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(k.clone())).await else {
            return;
        };
        register(&*l.store, &k).await;
        l.store.append(request("a", 2)).await.expect("append");
        let forged = forged_next(&*l.store).await;
        l.insert_row(&forged).await;
        // With an attestation that names the right key but was not made by it
        let impostor = key(Suite::Ed25519, 9).attest(4, 4, &forged.hash);
        l.insert_attestation(&attest::Attestation {
            key_name: "test.recording".into(),
            key_id: i64::from(k.verifier().key_id()),
            ..impostor
        })
        .await;
        let f = verify(&*l.store).await.fault.expect("a fault");
        assert_eq!((f.position, f.kind), (4, FaultKind::Unattested));
        assert!(f.detail.contains("does not verify"), "{}", f.detail);
    }

    pub async fn writing_without_the_key_or_with_an_old_one_fails(make: impl AsyncMake) {
        let old = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(old.clone())).await else {
            return;
        };
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

    pub async fn a_compromised_key_flags_what_it_signed(make: impl AsyncMake) {
        let old = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(old.clone())).await else {
            return;
        };
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

    pub async fn a_cut_tail_is_named(make: impl AsyncMake) {
        let k = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(k.clone())).await else {
            return;
        };
        register(&*l.store, &k).await;
        l.store.append(request("a", 3)).await.expect("append"); // 2..4
        l.cut_after(3).await;
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

    pub async fn a_legacy_ledger_is_adopted_by_its_first_key(make: impl AsyncMake) {
        let Some(l) = make.make(None).await else {
            return;
        };
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

    pub async fn stored_checkpoints_are_checked_against_registered_keys(make: impl AsyncMake) {
        let k = key(Suite::Ed25519, 7);
        let Some(l) = make.make(Some(k.clone())).await else {
            return;
        };
        register(&*l.store, &k).await;
        l.store.append(request("a", 3)).await.expect("append");
        let log = SignerKey::from_seed("test.example/log", &[1; 32]).expect("key");
        let signed = jishi_ledger::publish::sign_checkpoint(
            &*l.store,
            &log,
            "test.example/log",
            &common::actor(1),
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
        l.insert_checkpoint(&body, &forged).await;
        // And one signed by a key the ledger never registered
        let stranger = SignerKey::from_seed("test.example/log", &[9; 32]).expect("key");
        l.insert_checkpoint(&body, &body.sign(&stranger).expect("sign").to_string())
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
        l.edit_notes(
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

    /// How a suite function gets a fresh ledger with a given key.
    pub trait AsyncMake {
        fn make(
            &self,
            attestor: Option<Arc<Attestor>>,
        ) -> impl std::future::Future<Output = Option<Ledger>> + Send;
    }
}

use suite::AsyncMake;

struct Sqlite;
impl AsyncMake for Sqlite {
    fn make(
        &self,
        a: Option<Arc<Attestor>>,
    ) -> impl std::future::Future<Output = Option<Ledger>> + Send {
        sqlite(a)
    }
}

struct Postgres;
impl AsyncMake for Postgres {
    fn make(
        &self,
        a: Option<Arc<Attestor>>,
    ) -> impl std::future::Future<Output = Option<Ledger>> + Send {
        postgres(a)
    }
}

macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::suite::$test(super::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::suite::$test(super::Postgres).await;
                }
            )*
        }
    };
}

on_both!(
    every_group_is_attested,
    a_row_inserted_by_sql_is_named_and_blocks_the_next_write,
    a_forged_attestation_is_named,
    writing_without_the_key_or_with_an_old_one_fails,
    a_compromised_key_flags_what_it_signed,
    a_cut_tail_is_named,
    a_legacy_ledger_is_adopted_by_its_first_key,
    stored_checkpoints_are_checked_against_registered_keys,
);

#[test]
fn an_attestation_message_is_as_documented() {
    let m = attest::message(1, 2, &Digest([0xab; 32]));
    assert_eq!(&m[..16], b"jishi.attest.v1\0");
    assert_eq!(&m[16..24], &1u64.to_be_bytes());
    assert_eq!(&m[24..32], &2u64.to_be_bytes());
    assert_eq!(&m[32..], &[0xab; 32]);
}
