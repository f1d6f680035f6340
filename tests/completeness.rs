//! Issue 14's reproductions: a case export must prove that it holds *every*
//! event of the streams it names, as of its checkpoint. Each omission the
//! issue tried (a candidate's first, middle or last event; a whole
//! candidate's stream from an election export; a file re-proved against an
//! older checkpoint) fails `jishi verify-export`, naming what is missing; a
//! withheld payload says so; the log's key is always required. On SQLite and
//! on PostgreSQL (skipped when DATABASE_URL is unset).

mod common;

use std::path::{Path, PathBuf};

use jishi_ledger::{EventStore, ExpectedVersion, SignerKey};
use serde_json::Value;

fn log_signer() -> SignerKey {
    SignerKey::from_seed("jishi.example/log", &[1; 32]).expect("key")
}

fn witness_signer() -> SignerKey {
    SignerKey::from_seed("witness.example/w1", &[2; 32]).expect("key")
}

/// A ledger, its `--db` argument and the keys on disk.
struct Ledger {
    db: PathBuf,
    store: std::sync::Arc<dyn EventStore>,
    dir: tempfile::TempDir,
    _keep: Box<dyn std::any::Any>,
}

impl Ledger {
    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = common::jishi(&self.db, args, None);
        (out.status.code().unwrap_or(-1), common::text(&out))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.run(args);
        assert_eq!(code, 0, "jishi {args:?}: {out}");
        out
    }

    async fn append(&self, stream: &str, n: usize) {
        self.store
            .append(common::request(stream, ExpectedVersion::Any, n))
            .await
            .expect("append");
    }

    fn checkpoint(&self, name: &str) -> PathBuf {
        let out = self.file(name);
        self.ok(&[
            "checkpoint",
            "--key",
            s(&self.file("log.key")),
            "--out",
            s(&out),
        ]);
        out
    }

    fn export(&self, name: &str, args: &[&str]) -> PathBuf {
        let out = self.file(name);
        let mut all = vec!["export"];
        all.extend_from_slice(args);
        all.extend(["--out", s(&out)]);
        self.ok(&all);
        out
    }

    fn verify(&self, file: &Path, extra: &[&str]) -> (i32, String) {
        let key = self.file("log.pub");
        let mut args = vec!["verify-export", s(file), "--log-key", s(&key)];
        args.extend_from_slice(extra);
        self.run(&args)
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The election of the issue: the election's own stream, candidates c1 (3
/// events), c2 (2 events) and c3 (1 event), and a stream that sorts among
/// them but is not under the election (`election/x-2021`).
/// The log's key is registered first (position 1), as `jishi checkpoint`
/// does on first use, so the election's events are positions 2–10.
async fn election(ledger: &Ledger) {
    jishi_ledger::publish::register_checkpoint_key(
        &*ledger.store,
        &log_signer().verifier(),
        "log",
        &common::actor(0),
    )
    .await
    .expect("register the log's key");
    ledger.append("election/x", 1).await;
    ledger.append("election/x/candidate/c1", 1).await;
    ledger.append("election/x-2021", 1).await;
    ledger.append("election/x/candidate/c2", 1).await;
    ledger.append("election/x/candidate/c1", 1).await;
    ledger.append("election/x/candidate/c3", 1).await;
    ledger.append("election/x/candidate/c2", 1).await;
    ledger.append("election/x/candidate/c1", 1).await;
    ledger.append("election/y", 1).await;
}

async fn sqlite() -> Ledger {
    let fx = common::sqlite();
    let dir = tempfile::tempdir().expect("dir");
    keys(dir.path());
    Ledger {
        db: fx.path.clone(),
        store: fx.store.clone(),
        dir,
        _keep: Box::new(fx),
    }
}

async fn postgres() -> Option<Ledger> {
    let fx = common::postgres().await?;
    let dir = tempfile::tempdir().expect("dir");
    keys(dir.path());
    Some(Ledger {
        db: PathBuf::from(fx.schema.db_url()),
        store: fx.store.clone(),
        dir,
        _keep: Box::new(fx),
    })
}

fn keys(dir: &Path) {
    std::fs::write(dir.join("log.key"), log_signer().to_private_text()).expect("key");
    std::fs::write(dir.join("log.pub"), log_signer().verifier().to_vkey()).expect("key");
    std::fs::write(dir.join("w.pub"), witness_signer().verifier().to_vkey()).expect("key");
}

fn read(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).expect("read")).expect("json")
}

fn write(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_vec_pretty(v).expect("json")).expect("write");
}

/// Removes the events of `stream` with these versions from an export.
fn without(v: &Value, stream: &str, versions: &[u64]) -> Value {
    let mut v = v.clone();
    let events = v["events"].as_array_mut().expect("events");
    events.retain(|e| {
        !(e["stream"] == stream && versions.contains(&e["stream_version"].as_u64().unwrap_or(0)))
    });
    v
}

async fn omissions_fail_naming_what_is_missing(l: Ledger) {
    election(&l).await;
    l.checkpoint("cp1.note");
    // A candidate's file: complete, and says so.
    let c1 = l.export("c1.json", &["election/x/candidate/c1"]);
    let (code, out) = l.verify(&c1, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("complete          as of checkpoint 10: all 3 event(s) of the 1 stream(s)"),
        "{out}"
    );
    let whole = read(&c1);
    assert_eq!(whole["format"], "jishi-case-export/2");
    for (versions, want) in [
        (&[1u64][..], "lacks version(s) 1 (the first)"),
        (&[2], "lacks version(s) 2"),
        (&[3], "lacks version(s) 3 (the last)"),
    ] {
        let cut = l.file("cut.json");
        write(&cut, &without(&whole, "election/x/candidate/c1", versions));
        let (code, out) = l.verify(&cut, &[]);
        assert_eq!(code, 3, "{versions:?}: {out}");
        assert!(out.contains("the file is not complete"), "{out}");
        assert!(
            out.contains(&format!(
                "stream \"election/x/candidate/c1\" had 3 event(s) as of the checkpoint, but the \
                 export lacks {}",
                want.trim_start_matches("lacks ")
            )),
            "{versions:?}: {out}"
        );
    }

    // The whole election: its own stream and every candidate's, not the
    // stream that only sorts among them.
    let all = l.export("all.json", &["--prefix", "election/x"]);
    let (code, out) = l.verify(&all, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all 7 event(s) of the 4 stream(s)"), "{out}");
    let all_v = read(&all);
    assert!(all_v["events"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["stream"] != "election/x-2021"));
    // Every event of c2 removed, its head left in the proof.
    let cut = l.file("no-c2-events.json");
    write(&cut, &without(&all_v, "election/x/candidate/c2", &[1, 2]));
    let (code, out) = l.verify(&cut, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains(
            "stream \"election/x/candidate/c2\" is in the checkpoint's map with 2 event(s), but \
             the export holds none of them: the whole stream is missing"
        ),
        "{out}"
    );
    // And its head removed from the proof as well: the proof has a gap.
    let mut no_c2 = without(&all_v, "election/x/candidate/c2", &[1, 2]);
    for range in no_c2["streams"].as_array_mut().unwrap() {
        range["streams"]
            .as_array_mut()
            .unwrap()
            .retain(|h| h["stream"] != "election/x/candidate/c2");
    }
    write(&cut, &no_c2);
    let (code, out) = l.verify(&cut, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("does not show the range"), "{out}");
    assert!(out.contains("is not shown"), "{out}");
    // The last candidate and the neighbour after it both removed: the map
    // does not end there, so the proof says so.
    let mut no_tail = without(&all_v, "election/x/candidate/c3", &[1]);
    for range in no_tail["streams"].as_array_mut().unwrap() {
        range["streams"]
            .as_array_mut()
            .unwrap()
            .retain(|h| h["stream"] != "election/x/candidate/c3");
        range.as_object_mut().unwrap().remove("after");
    }
    write(&cut, &no_tail);
    let (code, out) = l.verify(&cut, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("without a stream after the range"), "{out}");

    // Re-proved against an older checkpoint: complete as of that one, but
    // the investigator who holds a newer one is told it is older.
    l.append("election/x/candidate/c1", 1).await;
    let cp2 = l.checkpoint("cp2.note");
    let (code, out) = l.verify(&c1, &["--newest", s(&cp2)]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains(
            "the export is proved against the checkpoint of size 10, older than the newest \
             checkpoint of this log you hold (size 11)"
        ),
        "{out}"
    );
    // A fresh export against the newest checkpoint has the fourth event.
    let c1_new = l.export("c1-new.json", &["election/x/candidate/c1"]);
    let (code, out) = l.verify(&c1_new, &["--newest", s(&cp2)]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all 4 event(s) of the 1 stream(s)"), "{out}");
}

async fn trust_and_redaction(l: Ledger) {
    election(&l).await;
    l.checkpoint("cp1.note");
    let c1 = l.export("c1.json", &["election/x/candidate/c1"]);
    // Only a witness's key: the log's own signature is never checked, so
    // the file is refused.
    let (code, out) = l.run(&["verify-export", s(&c1), "--witness", s(&l.file("w.pub"))]);
    assert_ne!(code, 0, "{out}");
    // The old form with only the witness's key: refused, naming the rule.
    let (code, out) = l.run(&["verify-export", s(&c1), "--key", s(&l.file("w.pub"))]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("the log's own public key is always required"),
        "{out}"
    );
    // A log key whose name is not the checkpoint's origin.
    let other = SignerKey::from_seed("other.example/log", &[1; 32]).unwrap();
    std::fs::write(l.file("other.pub"), other.verifier().to_vkey()).unwrap();
    let (code, out) = l.run(&[
        "verify-export",
        s(&c1),
        "--log-key",
        s(&l.file("other.pub")),
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("no log key given carries that name"), "{out}");
    // A witness's cosignature key, named as the log, given as the log's
    // key: a witness key never stands for the log.
    let cosigner = SignerKey::from_secret(
        "jishi.example/log",
        jishi_ledger::Suite::Cosignature,
        &[1; 32],
    )
    .unwrap();
    std::fs::write(l.file("cosigner.pub"), cosigner.verifier().to_vkey()).unwrap();
    let (code, out) = l.run(&[
        "verify-export",
        s(&c1),
        "--log-key",
        s(&l.file("cosigner.pub")),
    ]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("which only witnesses use"), "{out}");
    // A witness the policy needs, that did not cosign.
    let (code, out) = l.verify(&c1, &["--witness", s(&l.file("w.pub"))]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("needs 1 of the 1 witnesses given; 0 cosigned"),
        "{out}"
    );
    let (code, out) = l.verify(
        &c1,
        &["--witness", s(&l.file("w.pub")), "--witness-quorum", "0"],
    );
    assert_eq!(code, 0, "{out}");

    // A payload withheld for redaction says so, and the digest still binds.
    let mut v = read(&c1);
    let e = v["events"][1].as_object_mut().unwrap();
    e.remove("payload");
    e.insert("payload_withheld".into(), "redacted".into());
    let redacted = l.file("redacted.json");
    write(&redacted, &v);
    let (code, out) = l.verify(&redacted, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 withheld as redacted (digest only) at position(s)"),
        "{out}"
    );
    // Absent without saying why: refused.
    v["events"][1]
        .as_object_mut()
        .unwrap()
        .remove("payload_withheld");
    write(&redacted, &v);
    let (code, out) = l.verify(&redacted, &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("absent without `payload_withheld`"), "{out}");
}

#[tokio::test]
async fn sqlite_omissions_fail_naming_what_is_missing() {
    omissions_fail_naming_what_is_missing(sqlite().await).await;
}

#[tokio::test]
async fn postgres_omissions_fail_naming_what_is_missing() {
    let Some(l) = postgres().await else {
        eprintln!("DATABASE_URL unset: skipped");
        return;
    };
    omissions_fail_naming_what_is_missing(l).await;
}

#[tokio::test]
async fn sqlite_trust_policy_and_redaction() {
    trust_and_redaction(sqlite().await).await;
}

#[tokio::test]
async fn postgres_trust_policy_and_redaction() {
    let Some(l) = postgres().await else {
        eprintln!("DATABASE_URL unset: skipped");
        return;
    };
    trust_and_redaction(l).await;
}

/// A checkpoint whose stream map misstates the streams (the log signed a
/// false map) is named by `jishi verify`, which recomputes the map from the
/// events; and a stored event whose stream predecessor is not its stream's
/// previous event is named as a broken stream chain.
#[tokio::test]
async fn verify_recomputes_the_map_and_the_stream_chain() {
    let l = sqlite().await;
    election(&l).await;
    l.checkpoint("cp1.note");
    // The log signs a checkpoint of the right root but a map one stream short.
    let store = jishi_ledger::SqliteStore::open(&l.db).unwrap();
    let heads = store.stream_heads(10).await.unwrap();
    let mut fewer = heads.clone();
    fewer.remove("election/x/candidate/c3");
    let false_map = jishi_ledger::streams::StreamMap::new(fewer).line();
    let root = jishi_ledger::ProofStore::tree_root(&store, 10)
        .await
        .unwrap();
    let cp = jishi_ledger::Checkpoint::new("jishi.example/log", 10, root)
        .unwrap()
        .with_streams(false_map);
    let note = cp.sign(&log_signer()).unwrap().to_string();
    jishi_ledger::ProofStore::save_checkpoint(&store, &note)
        .await
        .unwrap();
    let (code, out) = l.run(&["verify"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("misstates which events a stream has"), "{out}");

    // The right map verifies (a control).
    let l2 = sqlite().await;
    election(&l2).await;
    l2.checkpoint("cp.note");
    l2.ok(&["verify"]);
    // A DBA appends an event of c1 whose stream predecessor is c2's last.
    let all = l2.store.read_all(1, 100).await.unwrap();
    let head = all.last().unwrap();
    let c2_last = all
        .iter()
        .rev()
        .find(|e| e.stream == "election/x/candidate/c2")
        .unwrap();
    let prepared = jishi_ledger::prepare::prepare(
        common::event("x.forged", serde_json::json!({"n": 1})),
        chrono::Utc::now(),
    )
    .unwrap();
    let forged = jishi_ledger::store::seal(
        "election/x/candidate/c1",
        4,
        &prepared,
        head.position + 1,
        (head.hash, c2_last.hash),
        head.recorded_at.clone(),
    );
    let conn = common::dba(&l2.db);
    let row = jishi_ledger::row::StoredRow::of(&forged);
    common::sqlite_insert_row(&conn, &row);
    let (code, out) = l2.run(&["verify"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains(&format!(
            "first bad position {}: stream chain broken: its stream_prev_hash is not the hash of \
             version 3 of stream \"election/x/candidate/c1\"",
            head.position + 1
        )),
        "{out}"
    );
}
