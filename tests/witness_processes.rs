//! Issue 14's multi-process test: a log and two witnesses, each a separate
//! `jishi witness` process on loopback.
//!
//! - The requests are built here from c2sp.org/tlog-witness (`old N`, proof
//!   lines, an empty line, the note), not by jishi's client.
//! - Each answer is checked as the spec states it, and a cosignature is
//!   verified here from c2sp.org/tlog-cosignature with ed25519-dalek and sha2.
//!   jishi's note code is not used for that.
//! - A witness keeps its state across a restart.
//! - A forked log (same key, another history) is refused, and the witness
//!   keeps evidence that `jishi verify-evidence` proves offline.
//! - The log pushes to both witnesses, and `verify-export` holds an export
//!   to a 2-of-2 policy.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ed25519_dalek::Verifier as _;
use jishi_ledger::{EventStore, ExpectedVersion, Note, ProofStore, SignerKey, SqliteStore, Suite};
use sha2::Digest as _;

const ORIGIN: &str = "county.example/tianyuan-zzb";

fn log_signer() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[7; 32]).expect("log key")
}

fn witness_signer(name: &str, seed: u8) -> SignerKey {
    SignerKey::from_secret(name, Suite::Cosignature, &[seed; 32]).expect("witness key")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A `jishi witness` process, killed when dropped.
struct WitnessProcess {
    child: Child,
    url: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl WitnessProcess {
    /// Starts a witness on a free loopback port; its first line on standard
    /// output names the address.
    fn start(key: &Path, log_pub: &Path, state: &Path) -> WitnessProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jishi"))
            .args(["witness", "--key", s(key), "--log", s(log_pub)])
            .args(["--state", s(state), "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start jishi witness");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the witness's first line");
        let url = line
            .trim()
            .rsplit_once(" listening on ")
            .map(|(_, u)| u.to_string())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        WitnessProcess { child, url }
    }

    /// One raw `add-checkpoint` request: status, content type, body.
    async fn post(&self, body: &str) -> (u16, String, String) {
        let resp = reqwest::Client::new()
            .post(format!("{}/add-checkpoint", self.url))
            .body(body.to_string())
            .send()
            .await
            .expect("POST add-checkpoint");
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ct, resp.text().await.expect("body"))
    }
}

/// The request body of c2sp.org/tlog-witness, from its text: the line
/// `old <size>`, one base64 line per proof hash, an empty line, the note.
fn request(old: u64, proof: &[[u8; 32]], note: &str) -> String {
    let mut body = format!("old {old}\n");
    for h in proof {
        body.push_str(&B64.encode(h));
        body.push('\n');
    }
    body.push('\n');
    body.push_str(note);
    body
}

/// Checks a `cosignature/v1` line from c2sp.org/tlog-cosignature alone:
/// `— <name> base64(key ID ‖ timestamp ‖ signature)`, where the key ID is
/// the first four bytes of SHA-256(name ‖ 0x0A ‖ 0x04 ‖ public key), and
/// the Ed25519 signature covers `cosignature/v1\ntime <T>\n` and the
/// checkpoint text. Returns the timestamp.
fn check_cosignature(line: &str, name: &str, public: &[u8; 32], text: &str) -> u64 {
    let rest = line
        .trim_end_matches('\n')
        .strip_prefix("\u{2014} ")
        .unwrap_or_else(|| panic!("not a signature line: {line:?}"));
    let (who, b64) = rest.split_once(' ').expect("name and signature");
    assert_eq!(who, name);
    let raw = B64.decode(b64).expect("base64");
    assert_eq!(raw.len(), 4 + 8 + 64, "key ID, timestamp and signature");
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update([0x0A, 0x04]);
    h.update(public);
    assert_eq!(&raw[..4], &h.finalize()[..4], "key ID");
    let time = u64::from_be_bytes(raw[4..12].try_into().expect("8 bytes"));
    let message = format!("cosignature/v1\ntime {time}\n{text}");
    let sig = ed25519_dalek::Signature::from_slice(&raw[12..]).expect("signature");
    ed25519_dalek::VerifyingKey::from_bytes(public)
        .expect("public key")
        .verify(message.as_bytes(), &sig)
        .expect("the cosignature verifies");
    time
}

/// The text of a note: everything up to the blank line before the
/// signatures, with its final newline.
fn note_text(note: &str) -> &str {
    let end = note.rfind("\n\n").expect("a signed note") + 1;
    &note[..end]
}

struct Ledger {
    db: PathBuf,
    store: SqliteStore,
}

impl Ledger {
    fn new(dir: &Path, name: &str) -> Ledger {
        let db = dir.join(name);
        let store = SqliteStore::open(&db).expect("open the ledger");
        Ledger { db, store }
    }

    async fn append(&self, stream: &str, n: usize) {
        self.store
            .append(common::request(stream, ExpectedVersion::Any, n))
            .await
            .expect("append");
    }

    fn jishi(&self, args: &[&str]) -> (i32, String) {
        let out = common::jishi(&self.db, args, None);
        (out.status.code().unwrap_or(-1), common::text(&out))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out) = self.jishi(args);
        assert_eq!(code, 0, "jishi {args:?}: {out}");
        out
    }

    /// A checkpoint signed by the log's key (no witnesses): its note.
    fn checkpoint(&self, dir: &Path, name: &str) -> String {
        let out = dir.join(name);
        let key = dir.join("log.key");
        self.ok(&["checkpoint", "--key", s(&key), "--out", s(&out)]);
        std::fs::read_to_string(out).expect("the note")
    }

    async fn proof(&self, first: u64, second: u64) -> Vec<[u8; 32]> {
        self.store
            .consistency_proof(first, second)
            .await
            .expect("a consistency proof")
            .path
            .iter()
            .map(|d| *d.as_bytes())
            .collect()
    }
}

fn size_of(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .expect("size line")
        .parse()
        .expect("size")
}

fn evidence(state: &Path, kind: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(state.join("evidence"))
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    found.retain(|p| s(p).ends_with(&format!("-{kind}.json")));
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_witness_processes_cosign_refuse_a_fork_and_back_a_two_of_two_policy() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let log = log_signer();
    std::fs::write(d.join("log.key"), log.to_private_text()).expect("key");
    std::fs::write(d.join("log.pub"), log.verifier().to_vkey()).expect("key");
    let w1 = witness_signer("city.example/zzb-witness", 11);
    let w2 = witness_signer("city.example/jw-witness", 12);
    for (n, w) in [("w1", &w1), ("w2", &w2)] {
        std::fs::write(d.join(format!("{n}.key")), w.to_private_text()).expect("key");
        std::fs::write(d.join(format!("{n}.pub")), w.verifier().to_vkey()).expect("key");
    }
    let public = |w: &SignerKey| -> [u8; 32] {
        w.verifier()
            .public_key()
            .try_into()
            .expect("an Ed25519 key")
    };
    let (st1, st2) = (d.join("state-w1"), d.join("state-w2"));
    let mut p1 = WitnessProcess::start(&d.join("w1.key"), &d.join("log.pub"), &st1);
    let p2 = WitnessProcess::start(&d.join("w2.key"), &d.join("log.pub"), &st2);

    let a = Ledger::new(d, "county.db");
    a.append("election/qingshan-2021", 1).await;
    a.append("election/qingshan-2021/candidate/c-0042", 3).await;
    let cp1 = a.checkpoint(d, "cp1.note");
    let n1 = size_of(&cp1);

    // 400: not the request's layout (a leading zero in the old size).
    let (code, _, body) = p1.post(&format!("old 00\n\n{cp1}")).await;
    assert_eq!(code, 400, "{body}");
    // 404: a log this witness does not follow.
    let other = SignerKey::from_seed("other.example/log", &[9; 32]).expect("key");
    let foreign = Note::sign(
        note_text(&cp1)
            .replacen(ORIGIN, "other.example/log", 1)
            .as_str(),
        &other,
    )
    .expect("sign")
    .to_string();
    let (code, _, body) = p1.post(&request(0, &[], &foreign)).await;
    assert_eq!(code, 404, "{body}");
    // 403: the log's origin, but not signed by the log's key.
    let impostor = SignerKey::from_seed(ORIGIN, &[8; 32]).expect("key");
    let forged = Note::sign(note_text(&cp1), &impostor)
        .expect("sign")
        .to_string();
    let (code, _, body) = p1.post(&request(0, &[], &forged)).await;
    assert_eq!(code, 403, "{body}");
    // 409: the client believes the witness holds a size it does not; the
    // body is the size it holds, as text/x.tlog.size.
    let (code, ct, body) = p1.post(&request(3, &[], &cp1)).await;
    assert_eq!(
        (code, ct.as_str(), body.as_str()),
        (409, "text/x.tlog.size", "0\n")
    );
    // 200: the first checkpoint, from size 0 with an empty proof.
    let (code, _, line) = p1.post(&request(0, &[], &cp1)).await;
    assert_eq!(code, 200, "{line}");
    let t1 = check_cosignature(&line, w1.name(), &public(&w1), note_text(&cp1));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    assert!(
        t1 <= now && t1 + 600 > now,
        "timestamp {t1} against now {now}"
    );
    let state = std::fs::read_to_string(st1.join("state.json")).expect("the state was written");
    assert!(
        state.contains(ORIGIN) && state.contains(&format!("\"size\": {n1}")),
        "{state}"
    );

    // The log grows; the witness takes the new checkpoint with the proof.
    a.append("election/qingshan-2021/candidate/c-0042", 2).await;
    a.append("election/qingshan-2021/candidate/c-0043", 2).await;
    let cp2 = a.checkpoint(d, "cp2.note");
    let n2 = size_of(&cp2);
    // 422: a proof with one byte changed does not verify.
    let mut bad = a.proof(n1, n2).await;
    bad[0][0] ^= 1;
    let (code, _, body) = p1.post(&request(n1, &bad, &cp2)).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        evidence(&st1, "refusal").len(),
        1,
        "a refused proof is kept"
    );
    assert!(
        evidence(&st1, "split-view").is_empty(),
        "a bad proof proves no fork"
    );
    let (code, _, line) = p1.post(&request(n1, &a.proof(n1, n2).await, &cp2)).await;
    assert_eq!(code, 200, "{line}");
    check_cosignature(&line, w1.name(), &public(&w1), note_text(&cp2));

    // The state outlives the process: restarted, the witness still holds n2.
    drop(p1);
    p1 = WitnessProcess::start(&d.join("w1.key"), &d.join("log.pub"), &st1);
    let (code, _, body) = p1.post(&request(0, &[], &cp1)).await;
    assert_eq!(
        (code, body),
        (409, format!("{n2}\n")),
        "no rollback after a restart"
    );

    // A fork: the same key signs another history, first of the same size,
    // then longer. The witnessed size (9) is not a power of two, so the
    // fork's proof from it carries the fork's root at that size: the
    // witness can prove the split on its own.
    let b = Ledger::new(d, "fork.db");
    b.append("election/qingshan-2021", 1).await;
    b.append("election/qingshan-2021/candidate/c-0042", 1).await;
    b.append("election/qingshan-2021/candidate/c-0099", 6).await;
    let fork_same = b.checkpoint(d, "fork-same.note");
    assert_eq!(
        (n2, size_of(&fork_same)),
        (9, 9),
        "a fork of the witnessed size"
    );
    let (code, ct, body) = p1.post(&request(n2, &[], &fork_same)).await;
    assert_eq!(
        (code, ct.as_str(), body),
        (409, "text/x.tlog.size", format!("{n2}\n"))
    );
    let same = evidence(&st1, "split-view");
    assert_eq!(same.len(), 1, "a same-size fork is kept as evidence");
    b.append("election/qingshan-2021/candidate/c-0099", 2).await;
    let fork_long = b.checkpoint(d, "fork-long.note");
    let nb = size_of(&fork_long);
    let (code, _, body) = p1
        .post(&request(n2, &b.proof(n2, nb).await, &fork_long))
        .await;
    assert_eq!(code, 422, "{body}");
    let kept = evidence(&st1, "split-view");
    assert_eq!(
        kept.len(),
        2,
        "the longer fork, with its proof, is evidence too"
    );
    let log_pub = d.join("log.pub");
    for file in &kept {
        let out = a.ok(&["verify-evidence", s(file), "--log-key", s(&log_pub)]);
        assert!(out.contains("PROVEN"), "{out}");
    }
    // The witness's state did not move; the other witness saw nothing.
    let (code, _, body) = p1.post(&request(0, &[], &cp2)).await;
    assert_eq!((code, body), (409, format!("{n2}\n")));
    assert!(evidence(&st2, "split-view").is_empty());
    // An edited evidence file proves nothing: here the fork's root at the
    // witnessed size is replaced by the one the witness cosigned.
    let mut ev: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kept[1]).expect("evidence")).expect("json");
    let held: jishi_ledger::Checkpoint =
        jishi_ledger::Checkpoint::from_body(note_text(&cp2)).expect("cp2");
    ev["second_root_at_first_size"] = serde_json::to_value(held.root).expect("json");
    let edited = d.join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&ev).expect("json")).expect("write");
    let (code, out) = a.jishi(&["verify-evidence", s(&edited), "--log-key", s(&log_pub)]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("not proven"), "{out}");
    // The same evidence, made offline from the two notes and the fork's
    // ledger.
    let ev = d.join("split.json");
    let (fa, fb) = (d.join("cp2.note"), d.join("fork-long.note"));
    b.ok(&[
        "split-view",
        s(&fa),
        s(&fb),
        "--log-key",
        s(&log_pub),
        "--from-ledger",
        "--out",
        s(&ev),
    ]);
    let out = a.ok(&["verify-evidence", s(&ev), "--log-key", s(&log_pub)]);
    assert!(out.contains("PROVEN"), "{out}");

    // The log pushes its next checkpoint to both witnesses (the second one
    // has never seen this log: the client learns its size from a 409).
    a.append("election/qingshan-2021/candidate/c-0043", 1).await;
    let endpoint =
        |p: &WitnessProcess, n: &str| format!("{}=@{}", p.url, s(&d.join(format!("{n}.pub"))));
    let (e1, e2) = (endpoint(&p1, "w1"), endpoint(&p2, "w2"));
    let cp3 = d.join("cp3.note");
    let key = d.join("log.key");
    let out = a.ok(&[
        "checkpoint",
        "--key",
        s(&key),
        "--witness",
        &e1,
        "--witness",
        &e2,
        "--witness-quorum",
        "2",
        "--out",
        s(&cp3),
    ]);
    assert!(out.contains("cosigned by 2 of 2 witnesses"), "{out}");
    let note = std::fs::read_to_string(&cp3).expect("note");
    for w in [&w1, &w2] {
        let line = note
            .lines()
            .find(|l| l.starts_with(&format!("\u{2014} {} ", w.name())))
            .unwrap_or_else(|| panic!("no cosignature of {} in {note}", w.name()));
        check_cosignature(line, w.name(), &public(w), note_text(&note));
    }

    // The investigator's path: a candidate's file and the keys, held to
    // two of two witnesses.
    let file = d.join("c-0042.json");
    a.ok(&[
        "export",
        "election/qingshan-2021/candidate/c-0042",
        "--out",
        s(&file),
    ]);
    let (w1p, w2p) = (d.join("w1.pub"), d.join("w2.pub"));
    let policy = |file: &Path| {
        a.jishi(&[
            "verify-export",
            s(file),
            "--log-key",
            s(&log_pub),
            "--witness",
            s(&w1p),
            "--witness",
            s(&w2p),
            "--witness-quorum",
            "2",
        ])
    };
    let (code, out) = policy(&file);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("all 5 event(s) of the 1 stream(s)"), "{out}");
    assert!(out.contains("cosigned by 2 of 2 (policy: 2 of 2)"), "{out}");
    // Without one witness's line the policy is not met.
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).expect("read")).expect("json");
    let cp = v["checkpoint"]
        .as_str()
        .expect("checkpoint note")
        .to_string();
    let cut: String = cp
        .split_inclusive('\n')
        .filter(|l| !l.starts_with(&format!("\u{2014} {} ", w2.name())))
        .collect();
    assert_ne!(cut, cp, "the export carries the second witness's line");
    v["checkpoint"] = serde_json::Value::String(cut);
    let short = d.join("short.json");
    std::fs::write(&short, serde_json::to_vec(&v).expect("json")).expect("write");
    let (code, out) = policy(&short);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("needs 2 of the 2 witnesses given; 1 cosigned"),
        "{out}"
    );

    // With one witness down, a 2-of-2 checkpoint fails and says why.
    drop(p2);
    a.append("election/qingshan-2021/candidate/c-0043", 1).await;
    let cp4 = d.join("cp4.note");
    let (code, out) = a.jishi(&[
        "checkpoint",
        "--key",
        s(&key),
        "--witness",
        &e1,
        "--witness",
        &e2,
        "--witness-quorum",
        "2",
        "--out",
        s(&cp4),
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("only 1 of the 2 witness cosignatures"),
        "{out}"
    );
}
