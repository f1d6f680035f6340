//! The Merkle tree and checkpoints on PostgreSQL, through the `jishi` binary:
//! a history rewritten by a superuser (every later hash recomputed, so the
//! chain still verifies) is named by the stored checkpoint, a cut-off tail by
//! the last checkpoint, and checkpoint → export → verify-export round-trips.
//! Skipped (with a line on stderr) when DATABASE_URL is unset.

mod common;

use std::path::{Path, PathBuf};

use common::PgSchema;
use jishi_ledger::merkle::Frontier;
use jishi_ledger::{Digest, EventStore, ExpectedVersion, PostgresStore, SignerKey};

fn log_signer() -> SignerKey {
    SignerKey::from_seed("jishi.example/log", &[1; 32]).expect("key")
}

/// A ledger of `n` events (the log key's registration, then events on
/// streams `candidate/c0..c2`), and the log's key pair on disk.
struct Case {
    fx: common::PgFixture,
    dir: tempfile::TempDir,
    log_key: PathBuf,
    log_pub: PathBuf,
}

async fn case(n: usize) -> Option<Case> {
    let fx = common::postgres().await?;
    // The log's key is registered first (position 1), as `jishi checkpoint`
    // would on first use, so that the ledger still holds `n` events.
    jishi_ledger::publish::register_checkpoint_key(
        &fx.pg,
        &log_signer().verifier(),
        "log",
        &common::actor(0),
    )
    .await
    .expect("register the log's key");
    for i in 1..n {
        fx.pg
            .append(common::request(
                &format!("candidate/c{}", i % 3),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .expect("append");
    }
    let dir = tempfile::tempdir().expect("dir");
    let log_key = dir.path().join("log.key");
    let log_pub = dir.path().join("log.key.pub");
    std::fs::write(&log_key, log_signer().to_private_text()).expect("write key");
    std::fs::write(&log_pub, log_signer().verifier().to_vkey()).expect("write key");
    Some(Case {
        fx,
        dir,
        log_key,
        log_pub,
    })
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 path").to_string()
}

impl Case {
    /// Runs `jishi --db <schema URL> args…`; exit code and all output.
    async fn run(&self, args: &[String]) -> (i32, String) {
        let db = self.fx.schema.db_url();
        let args = args.to_vec();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = common::jishi(Path::new(&db), &args, None);
            (out.status.code().unwrap_or(-1), common::text(&out))
        })
        .await
        .expect("run jishi")
    }

    async fn checkpoint(&self) {
        let (code, out) = self
            .run(&["checkpoint".into(), "--key".into(), s(&self.log_key)])
            .await;
        assert_eq!(code, 0, "{out}");
    }
}

/// Runs SQL in the schema as the superuser with the append-only triggers
/// bypassed, as a hostile DBA would.
async fn dba(schema: &PgSchema, sql: &str) {
    schema
        .connect()
        .await
        .batch_execute(&format!(
            "SET session_replication_role = replica; {sql}; SET session_replication_role = origin"
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

/// The perfect forgery of the chain: the payload of `position` replaced and
/// it and every later event resealed with recomputed hashes.
async fn reseal_from(store: &PostgresStore, schema: &PgSchema, position: u64) {
    let events = store.read_all(1, 1 << 20).await.expect("read");
    let c = schema.connect().await;
    c.batch_execute("SET session_replication_role = replica")
        .await
        .expect("bypass triggers");
    for f in common::forged_tail(&events, position) {
        c.execute(
            "UPDATE events SET payload = $1, payload_digest = $2, prev_hash = $3, hash = $4, \
             stream_prev = $6 WHERE position = $5",
            &[
                &f.payload.as_str(),
                &&f.payload_digest.0[..],
                &&f.prev_hash.0[..],
                &&f.hash.0[..],
                &(f.position as i64),
                &f.stream_prev.map(|d| d.0.to_vec()),
            ],
        )
        .await
        .expect("forge");
    }
}

/// The forger also rebuilds the stored tree and frontier from the (forged)
/// event hashes, so that the tree matches the events again.
async fn rebuild_tree(store: &PostgresStore, schema: &PgSchema) {
    let hashes: Vec<Digest> = store
        .read_all(1, 1 << 20)
        .await
        .expect("read")
        .iter()
        .map(|e| e.hash)
        .collect();
    let c = schema.connect().await;
    c.batch_execute("SET session_replication_role = replica; DELETE FROM tree_nodes")
        .await
        .expect("drop tree");
    let mut f = Frontier::new();
    for (leaf, h) in hashes.iter().enumerate() {
        let nodes = f.append(h).expect("append");
        c.execute(
            "INSERT INTO tree_nodes (leaf, hashes) VALUES ($1, $2)",
            &[&(leaf as i64), &jishi_ledger::tree::leaf_row(&nodes)],
        )
        .await
        .expect("insert node");
    }
    c.execute("UPDATE tree_state SET frontier = $1", &[&f.to_bytes()])
        .await
        .expect("frontier");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_history_is_named_by_the_stored_checkpoint() {
    for rebuild in [false, true] {
        let Some(c) = case(10).await else {
            return;
        };
        c.checkpoint().await;
        let (code, out) = c.run(&["verify".into()]).await;
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains(
                "ok: Merkle tree matches the event hashes; 1 of 1 stored checkpoint(s) match"
            ),
            "{out}"
        );

        reseal_from(&c.fx.pg, &c.fx.schema, 5).await;
        if rebuild {
            rebuild_tree(&c.fx.pg, &c.fx.schema).await;
        }
        // The chain alone is perfect; the checkpoint of size 10 is not.
        let chain = jishi_ledger::verify(&c.fx.pg, &jishi_ledger::verify::Quiet)
            .await
            .expect("verify the chain");
        assert!(chain.is_ok(), "{chain:?}");
        let (code, out) = c.run(&["verify".into()]).await;
        common::assert_rewrite_caught(code, &out, rebuild);
        // The log refuses to sign the rewritten ledger.
        let (code, out) = c
            .run(&["checkpoint".into(), "--key".into(), s(&c.log_key)])
            .await;
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("refusing to sign"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_ledger_is_caught_by_the_last_checkpoint() {
    for cut_tree in [false, true] {
        let Some(c) = case(10).await else {
            return;
        };
        c.checkpoint().await;
        dba(&c.fx.schema, "DELETE FROM events WHERE position > 8").await;
        if cut_tree {
            rebuild_tree(&c.fx.pg, &c.fx.schema).await;
        }
        let (code, out) = c.run(&["verify".into()]).await;
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("the hash chain of 8 events verifies"), "{out}");
        assert!(
            out.contains(
                "checkpoint #1 of size 10: it covers 10 events but the ledger now holds 8"
            ),
            "{out}"
        );
        assert_eq!(
            out.contains("the stored frontier is for 10 events but the ledger holds 8"),
            !cut_tree,
            "{out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_export_and_verify_export_round_trip() {
    let Some(c) = case(7).await else {
        return;
    };
    c.checkpoint().await;
    let export = c.dir.path().join("case.json");
    let (code, out) = c
        .run(&[
            "export".into(),
            "--prefix".into(),
            "candidate/c1".into(),
            "--out".into(),
            s(&export),
        ])
        .await;
    assert_eq!(code, 0, "{out}");
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&export).expect("export file")).expect("json");
    let checkpoint = file["checkpoint"].as_str().expect("checkpoint in export");
    assert!(checkpoint.contains("jishi.example/log"), "{file}");
    // Verifying needs nothing but the file and the key: no database.
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args(["verify-export", &s(&export), "--key", &s(&c.log_pub)])
        .env_remove("JISHI_DB")
        .output()
        .expect("run verify-export");
    assert!(verify.status.success(), "{}", common::text(&verify));

    // More events later: a new checkpoint, and a new export proves into it.
    c.fx.pg
        .append(common::request("candidate/c1", ExpectedVersion::Any, 2))
        .await
        .expect("append");
    c.checkpoint().await;
    let (code, out) = c
        .run(&[
            "export".into(),
            "candidate/c1".into(),
            "--out".into(),
            s(&export),
        ])
        .await;
    assert_eq!(code, 0, "{out}");
    let verify = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args(["verify-export", &s(&export), "--key", &s(&c.log_pub)])
        .env_remove("JISHI_DB")
        .output()
        .expect("run verify-export");
    assert!(verify.status.success(), "{}", common::text(&verify));
}

/// Under the application role the tree grows with appends, checkpoints are
/// stored (the sequence is usable), and the nodes and checkpoints cannot be
/// changed or removed: refused by privilege, and by trigger for the owner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_role_appends_nodes_and_checkpoints_only() {
    use jishi_ledger::postgres::{tokio_postgres, PgOptions};
    use jishi_ledger::{Checkpoint, ProofStore};
    let Some(c) = case(3).await else {
        return;
    };
    let mut config = c.fx.schema.config();
    config.options(format!(
        "-csearch_path={} -crole=jishi_app",
        c.fx.schema.name
    ));
    let app = PostgresStore::open_with(
        config.clone(),
        PgOptions {
            create: false,
            ..PgOptions::default()
        },
    )
    .await
    .expect("open as jishi_app");
    app.append(common::request("candidate/app", ExpectedVersion::Any, 2))
        .await
        .expect("append as jishi_app");
    assert_eq!(app.tree_size().await.expect("tree size"), 5);
    let root = app.tree_root(5).await.expect("root");
    let note = Checkpoint::new("jishi.example/log", 5, root)
        .expect("checkpoint")
        .sign(&log_signer())
        .expect("sign");
    app.save_checkpoint(&note.to_string())
        .await
        .expect("store a checkpoint as jishi_app");
    let report = jishi_ledger::verify_with_proofs(&app, &jishi_ledger::verify::Quiet)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{report:?}");

    let as_app = common::pg_connect(&config).await;
    let owner = c.fx.schema.connect().await;
    // Rows are keyed by the first leaf of their append's run: the three
    // single appends wrote rows 0, 1 and 2, the append of two row 3.
    for sql in [
        "UPDATE tree_nodes SET hashes = hashes WHERE leaf = 0",
        "DELETE FROM tree_nodes WHERE leaf = 3",
        "TRUNCATE tree_nodes",
        "UPDATE checkpoints SET size = 1",
        "DELETE FROM checkpoints",
        "TRUNCATE checkpoints",
    ] {
        let err = as_app.execute(sql, &[]).await.expect_err(sql);
        assert_eq!(
            err.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{sql}: {err:?}"
        );
        let err = owner.execute(sql, &[]).await.expect_err(sql);
        assert!(
            err.to_string().contains("append-only") || format!("{err:?}").contains("append-only"),
            "{sql}: {err:?}"
        );
    }
}

impl Case {
    /// `verify --since-checkpoint`: exit code and all output.
    async fn since(&self) -> (i32, String) {
        self.run(&["verify".into(), "--since-checkpoint".into()])
            .await
    }

    /// Five more events after the checkpoint.
    async fn grow(&self) {
        common::append_candidates(&self.fx.pg, 10, 5).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_checkpoint_checks_the_new_rows_and_names_tampering_after_it() {
    let Some(c) = case(10).await else {
        return;
    };
    c.checkpoint().await;
    c.grow().await;
    let (code, out) = c.since().await;
    common::assert_since_ok(code, &out, 10, 15);

    dba(
        &c.fx.schema,
        "UPDATE events SET payload = payload || ' ' WHERE position = 13",
    )
    .await;
    let (code, out) = c.since().await;
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: first bad position 13: payload changed"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn since_checkpoint_fails_when_the_tree_is_not_consistent_with_the_checkpoint() {
    let Some(c) = case(10).await else {
        return;
    };
    c.checkpoint().await;
    c.grow().await;
    reseal_from(&c.fx.pg, &c.fx.schema, 5).await;
    rebuild_tree(&c.fx.pg, &c.fx.schema).await;
    let (code, out) = c.since().await;
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: first bad position 10: chain broken: the event stored here, or the stored tree's proof for it, is not what checkpoint #"),
        "{out}"
    );
}
