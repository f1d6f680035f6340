//! Helpers for the proof tests: a ledger with keys on disk, the forger's
//! tools (reseal a history, rebuild the stored tree), and running `jishi`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use jishi_ledger::merkle::Frontier;
use jishi_ledger::{Digest, EventStore, ExpectedVersion, RecordedEvent, SignerKey, VerifierKey};
use rusqlite::params;

#[path = "../common/mod.rs"]
pub mod common;

pub struct Case {
    pub fx: common::Fixture,
    pub dir: tempfile::TempDir,
    pub log_key: PathBuf,
    pub log_pub: PathBuf,
    pub witness_key: PathBuf,
    pub witness_pub: PathBuf,
}

pub fn log_signer() -> SignerKey {
    SignerKey::from_seed("jishi.example/log", &[1; 32]).expect("key")
}

pub fn witness_signer() -> SignerKey {
    SignerKey::from_seed("witness.example/w1", &[2; 32]).expect("key")
}

pub fn keys() -> Vec<VerifierKey> {
    vec![log_signer().verifier(), witness_signer().verifier()]
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A ledger of `n` events (the log key's registration, as `jishi
/// checkpoint` records it on first use, then events on streams
/// `candidate/c0..c2`), and both keys on disk.
pub fn case(n: usize) -> Case {
    let fx = common::sqlite();
    rt().block_on(async {
        jishi_ledger::publish::register_checkpoint_key(
            &*fx.store,
            &log_signer().verifier(),
            "log",
            &common::actor(0),
        )
        .await
        .expect("register the log's key");
        for i in 1..n {
            fx.store
                .append(common::request(
                    &format!("candidate/c{}", i % 3),
                    ExpectedVersion::Any,
                    1,
                ))
                .await
                .expect("append");
        }
    });
    let dir = tempfile::tempdir().expect("dir");
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).expect("write key");
        p
    };
    Case {
        log_key: write("log.key", log_signer().to_private_text()),
        log_pub: write("log.key.pub", log_signer().verifier().to_vkey()),
        witness_key: write("w.key", witness_signer().to_private_text()),
        witness_pub: write("w.key.pub", witness_signer().verifier().to_vkey()),
        fx,
        dir,
    }
}

impl Case {
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn run(&self, args: &[&str]) -> (i32, String) {
        let out = common::jishi(&self.fx.path, args, None);
        (out.status.code().unwrap_or(-1), common::text(&out))
    }

    /// `jishi checkpoint`, then the witness's `jishi cosign`; returns the
    /// cosigned note's file.
    pub fn checkpoint_and_cosign(&self, name: &str) -> PathBuf {
        let signed = self.file(&format!("{name}.signed"));
        let cosigned = self.file(&format!("{name}.cosigned"));
        let (code, out) = self.run(&["checkpoint", "--key", s(&self.log_key), "--out", s(&signed)]);
        assert_eq!(code, 0, "{out}");
        let (code, out) = self.run(&[
            "cosign",
            s(&signed),
            "--key",
            s(&self.witness_key),
            "--log-key",
            s(&self.log_pub),
            "--out",
            s(&cosigned),
        ]);
        assert_eq!(code, 0, "{out}");
        cosigned
    }

    pub fn export(&self, name: &str, stream: &str) -> (i32, String, PathBuf) {
        let out = self.file(name);
        let (code, text) = self.run(&["export", stream, "--out", s(&out)]);
        (code, text, out)
    }

    pub fn verify_export(&self, file: &Path) -> (i32, String) {
        self.run(&[
            "verify-export",
            s(file),
            "--key",
            s(&self.log_pub),
            "--key",
            s(&self.witness_pub),
        ])
    }
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

pub fn stored_events(path: &Path) -> Vec<RecordedEvent> {
    let store = jishi_ledger::SqliteStore::open(path).expect("open");
    rt().block_on(async { store.read_all(1, 1 << 20).await.expect("read") })
}

/// The perfect forgery of the chain: the payload of `position` replaced, and
/// it and every later event resealed with recomputed hashes, as a DBA with
/// the format documentation does it.
pub fn reseal_from(path: &Path, position: u64) {
    let events = stored_events(path);
    let conn = common::dba(path);
    for f in common::forged_tail(&events, position) {
        conn.execute(
            "INSERT OR REPLACE INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
            params![
                f.position as i64, f.stream, f.stream_version as i64, f.event_id.to_string(),
                f.event_type, f.schema_version, f.occurred_at, f.recorded_at, f.actor.id,
                f.actor.name, f.actor.role, f.actor.org, f.payload.as_str(),
                &f.payload_digest.0[..], &f.prev_hash.0[..], &f.hash.0[..],
                f.stream_prev.as_ref().map(|d| &d.0[..])
            ],
        )
        .expect("forge");
    }
}

/// The forger also rebuilds the stored tree and frontier from the (forged)
/// event hashes, so that the tree matches the events again.
pub fn rebuild_tree(path: &Path) {
    let hashes: Vec<Digest> = stored_events(path).iter().map(|e| e.hash).collect();
    let conn = common::dba(path);
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS tree_nodes_no_update; DROP TRIGGER IF EXISTS tree_nodes_no_delete;
         DELETE FROM tree_nodes;",
    )
    .expect("drop tree");
    let mut f = Frontier::new();
    for (leaf, h) in hashes.iter().enumerate() {
        let nodes = f.append(h).expect("append");
        conn.execute(
            "INSERT INTO tree_nodes (leaf, hashes) VALUES (?1, ?2)",
            params![leaf as i64, jishi_ledger::tree::leaf_row(&nodes)],
        )
        .expect("insert node");
    }
    conn.execute("UPDATE tree_state SET frontier = ?1", [f.to_bytes()])
        .expect("frontier");
}

/// The forger removes the stored checkpoints that would betray the rewrite.
pub fn delete_checkpoints(path: &Path) {
    common::dba(path)
        .execute_batch("DROP TRIGGER IF EXISTS checkpoints_no_delete; DELETE FROM checkpoints;")
        .expect("delete checkpoints");
}
