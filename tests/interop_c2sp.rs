//! Interoperability with the released C2SP crates from Cloudflare's azul:
//! `signed_note` 0.2 (c2sp.org/signed-note) and `tlog_tiles` 0.2
//! (c2sp.org/tlog-checkpoint and the RFC 6962 tree of c2sp.org/tlog-tiles).
//!
//! One way, those crates accept what jishi makes:
//! - its checkpoint notes, with the streams extension line and witness
//!   cosignature lines;
//! - its public and private keys;
//! - its tree. They recompute the root from the event hashes, and check
//!   jishi's inclusion and consistency proofs.
//!
//! The other way, jishi accepts a checkpoint those crates format and sign:
//! in the library, and through `jishi verify-export --newest`.

mod common;

use std::path::Path;

use jishi_ledger::{
    Checkpoint, EventStore, ExpectedVersion, Note, ProofStore, SignerKey, SqliteStore, Suite,
    VerifierKey,
};
use signed_note::{Signer as _, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{Hash, HashReader};

const ORIGIN: &str = "county.example/tianyuan-zzb";

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The tree's stored hashes, indexed as tlog_tiles lays them out: the
/// crate's own storage, filled from the event hashes alone.
struct Hashes(Vec<Hash>);

impl HashReader for Hashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::tlog::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(usize::try_from(i).expect("index"))
                    .copied()
                    .ok_or(tlog_tiles::tlog::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn hash(d: &jishi_ledger::Digest) -> Hash {
    Hash(*d.as_bytes())
}

async fn ledger(dir: &Path) -> (SqliteStore, std::path::PathBuf) {
    let db = dir.join("ledger.db");
    let store = SqliteStore::open(&db).expect("open");
    for (stream, n) in [
        ("election/qingshan-2021", 1),
        ("election/qingshan-2021/candidate/c-0042", 3),
        ("election/qingshan-2021/candidate/c-0043", 2),
        ("election/qingshan-2021/candidate/c-0042", 2),
        ("election/baishi-2021", 3),
    ] {
        store
            .append(common::request(stream, ExpectedVersion::Any, n))
            .await
            .expect("append");
    }
    (store, db)
}

fn run(db: &Path, args: &[&str]) -> (i32, String) {
    let out = common::jishi(db, args, None);
    (out.status.code().unwrap_or(-1), common::text(&out))
}

#[tokio::test]
async fn azul_crates_read_jishi_checkpoints_keys_and_proofs() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let log = SignerKey::from_seed(ORIGIN, &[7; 32]).expect("key");
    std::fs::write(d.join("log.key"), log.to_private_text()).expect("key");
    let (store, db) = ledger(d).await;
    let (code, out) = run(
        &db,
        &[
            "checkpoint",
            "--key",
            s(&d.join("log.key")),
            "--out",
            s(&d.join("cp.note")),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let mut note = std::fs::read_to_string(d.join("cp.note")).expect("note");
    // A witness's cosignature/v1 line beside the log's signature: a
    // verifier that does not know the witness must still take the note.
    let witness =
        SignerKey::from_secret("city.example/witness", Suite::Cosignature, &[3; 32]).expect("key");
    let mut cosigned = Note::parse(&note).expect("jishi note");
    cosigned.add_signature(&witness).expect("cosign");
    note = cosigned.to_string();

    // signed_note: jishi's vkey is a standard verifier key, and the log's
    // signature verifies; the witness's line is listed as unverified.
    let verifier = StandardVerifier::new(&log.verifier().to_vkey()).expect("jishi's vkey");
    let parsed = signed_note::Note::from_bytes(note.as_bytes()).expect("signed_note parses it");
    let (verified, unverified) = parsed
        .verify(&VerifierList::new(vec![Box::new(verifier.clone())]))
        .expect("signed_note verifies the log's signature");
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].name(), ORIGIN);
    assert_eq!(unverified.len(), 1);
    assert_eq!(unverified[0].name(), "city.example/witness");
    // jishi's private key text is a standard signer key too, with the same ID.
    let signer = StandardSigner::new(&log.to_private_text()).expect("jishi's private key");
    assert_eq!(signer.key_id(), log.key_id());
    // An edited note fails in signed_note too.
    let edited = note.replacen("\n", "x\n", 1);
    let tampered = signed_note::Note::from_bytes(edited.as_bytes()).expect("parses");
    assert!(tampered
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .is_err());

    // tlog_tiles: the note's text is a C2SP checkpoint, with jishi's map
    // as its extension line.
    let text = parsed.text();
    let cp = tlog_tiles::Checkpoint::from_bytes(text).expect("tlog_tiles parses the checkpoint");
    let size = store.tree_size().await.expect("size");
    let root = store.tree_root(size).await.expect("root");
    assert_eq!(cp.origin(), ORIGIN);
    assert_eq!(cp.size(), size);
    assert!(*cp.hash() == hash(&root), "the checkpoint's root");
    assert!(
        cp.extension().starts_with("jishi.streams/v1 "),
        "{:?}",
        cp.extension()
    );

    // The crate rebuilds the tree from the event hashes (each leaf is the
    // record hash SHA-256(0x00 ‖ event hash)) and gets the signed root.
    let events = store.read_all(1, 1000).await.expect("events");
    assert_eq!(events.len() as u64, size);
    let mut stored = Hashes(Vec::new());
    for (n, e) in events.iter().enumerate() {
        let more =
            tlog_tiles::stored_hashes(n as u64, e.hash.as_bytes(), &stored).expect("stored hashes");
        stored.0.extend(more);
    }
    assert!(
        tlog_tiles::tree_hash(size, &stored).expect("tree hash") == hash(&root),
        "tlog_tiles's root of the event hashes is the signed root"
    );

    // jishi's inclusion proofs, checked by the crate, for every leaf.
    for (n, e) in events.iter().enumerate() {
        let p = store.inclusion_proof(n as u64, size).await.expect("proof");
        let path: Vec<Hash> = p.path.iter().map(hash).collect();
        tlog_tiles::check_record(
            &path,
            size,
            hash(&root),
            n as u64,
            tlog_tiles::record_hash(e.hash.as_bytes()),
        )
        .unwrap_or_else(|err| panic!("leaf {n}: {err:?}"));
    }
    // And its consistency proofs, from every smaller size.
    for m in 1..size {
        let p = store.consistency_proof(m, size).await.expect("proof");
        let path: Vec<Hash> = p.path.iter().map(hash).collect();
        let old = store.tree_root(m).await.expect("root");
        tlog_tiles::check_tree(&path, size, hash(&root), m, hash(&old))
            .unwrap_or_else(|err| panic!("size {m}: {err:?}"));
    }
    // A proof with one hash changed fails the crate's check.
    let p = store.consistency_proof(3, size).await.expect("proof");
    let mut path: Vec<Hash> = p.path.iter().map(hash).collect();
    path[0].0[0] ^= 1;
    let old = store.tree_root(3).await.expect("root");
    assert!(tlog_tiles::check_tree(&path, size, hash(&root), 3, hash(&old)).is_err());
}

#[tokio::test]
async fn jishi_reads_checkpoints_and_keys_made_by_the_azul_crates() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let (store, db) = ledger(d).await;
    // A key made by signed_note, named as the log's origin.
    let (skey, vkey) = signed_note::generate_key(&mut rand::rngs::OsRng, ORIGIN);
    std::fs::write(d.join("log.key"), &skey).expect("key");
    std::fs::write(d.join("log.pub"), &vkey).expect("key");
    let jishi_key: VerifierKey = vkey.parse().expect("jishi reads signed_note's vkey");
    assert_eq!(jishi_key.name(), ORIGIN);
    let _: SignerKey = skey.parse().expect("jishi reads signed_note's private key");

    // jishi signs its checkpoints with that key (the first one also
    // records the key in the ledger), and exports a candidate's file.
    let (code, out) = run(
        &db,
        &[
            "checkpoint",
            "--key",
            s(&d.join("log.key")),
            "--out",
            s(&d.join("cp.note")),
        ],
    );
    assert_eq!(code, 0, "{out}");
    let file = d.join("c-0042.json");
    let (code, out) = run(
        &db,
        &[
            "export",
            "election/qingshan-2021/candidate/c-0042",
            "--out",
            s(&file),
        ],
    );
    assert_eq!(code, 0, "{out}");

    // A checkpoint of the same tree, formatted by tlog_tiles and signed by
    // signed_note, with no jishi code involved.
    let size = store.tree_size().await.expect("size");
    let root = store.tree_root(size).await.expect("root");
    let text = tlog_tiles::Checkpoint::new(ORIGIN, size, hash(&root), "")
        .expect("checkpoint")
        .to_bytes();
    let mut crate_note = signed_note::Note::new(&text, &[]).expect("note");
    let signer = StandardSigner::new(&skey).expect("signer");
    crate_note.add_sigs(&[&signer]).expect("sign");
    let crate_note = String::from_utf8(crate_note.to_bytes()).expect("utf-8");

    // The library opens it against the log's key.
    let (cp, _) = Checkpoint::open(&crate_note, std::slice::from_ref(&jishi_key))
        .expect("jishi opens the crates' checkpoint");
    assert_eq!((cp.origin.as_str(), cp.size, cp.root), (ORIGIN, size, root));
    // So does the CLI: the crates' checkpoint is the newest the verifier
    // holds, and the export is at that size.
    let newest = d.join("crate.note");
    std::fs::write(&newest, &crate_note).expect("write");
    let log_pub = d.join("log.pub");
    let (code, out) = run(
        &db,
        &[
            "verify-export",
            s(&file),
            "--log-key",
            s(&log_pub),
            "--newest",
            s(&newest),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("complete"), "{out}");
    // A note the crates signed over another root is refused by jishi.
    let other = tlog_tiles::Checkpoint::new(ORIGIN, size, Hash([0x55; 32]), "")
        .expect("checkpoint")
        .to_bytes();
    let mut bad = signed_note::Note::new(&other, &[]).expect("note");
    bad.add_sigs(&[&signer]).expect("sign");
    let bad = String::from_utf8(bad.to_bytes()).expect("utf-8");
    let (cp_bad, _) = Checkpoint::open(&bad, std::slice::from_ref(&jishi_key)).expect("signed");
    let err = store
        .save_checkpoint(&bad)
        .await
        .expect_err("a checkpoint of another root is not this ledger's");
    assert_ne!(cp_bad.root, root, "{err}");
    // A note signed by another key of the same name is refused.
    let (impostor, _) = signed_note::generate_key(&mut rand::rngs::OsRng, ORIGIN);
    let mut forged = signed_note::Note::new(&text, &[]).expect("note");
    forged
        .add_sigs(&[&StandardSigner::new(&impostor).expect("signer")])
        .expect("sign");
    let forged = String::from_utf8(forged.to_bytes()).expect("utf-8");
    assert!(Checkpoint::open(&forged, std::slice::from_ref(&jishi_key)).is_err());
}
