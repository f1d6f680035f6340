//! The witness service in process, for the cases the multi-process test
//! (tests/witness_processes.rs) does not reach:
//! - a note that already carries the witness's own line is cosigned afresh,
//!   not refused;
//! - the same size and root, signed with another stream map, is refused as
//!   a split view, and the evidence proves it offline;
//! - a note signed only by a key of another name is refused.

use jishi_ledger::evidence::SplitView;
use jishi_ledger::merkle::merkle_tree_hash;
use jishi_ledger::streams::StreamsLine;
use jishi_ledger::{Checkpoint, Digest, Note, SignerKey, Suite};
use jishi_witness::{AddCheckpoint, Witness, WitnessConfig};

const ORIGIN: &str = "county.example/log";

fn log() -> SignerKey {
    SignerKey::from_seed(ORIGIN, &[4; 32]).expect("key")
}

fn witness_key() -> SignerKey {
    SignerKey::from_secret("city.example/w", Suite::Cosignature, &[5; 32]).expect("key")
}

fn witness(dir: &std::path::Path) -> Witness {
    Witness::open(WitnessConfig {
        key: witness_key(),
        logs: vec![log().verifier()],
        state_dir: dir.to_path_buf(),
    })
    .expect("witness")
}

fn body(map_root: u8) -> String {
    let leaves: Vec<Digest> = (0..5u8).map(|i| Digest([i; 32])).collect();
    Checkpoint::new(ORIGIN, 5, merkle_tree_hash(&leaves))
        .expect("checkpoint")
        .with_streams(StreamsLine {
            streams: 2,
            root: Digest([map_root; 32]),
        })
        .to_body()
}

fn request(note: &Note) -> Vec<u8> {
    AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        note: note.to_string(),
    }
    .encode()
    .into_bytes()
}

fn evidence(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("evidence"))
        .expect("evidence dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn a_note_with_the_witness_s_own_old_line_is_cosigned_afresh() {
    let dir = tempfile::tempdir().expect("dir");
    let w = witness(dir.path());
    let mut note = Note::sign(&body(1), &log()).expect("sign");
    note.add_signature_at(&witness_key(), 1_000)
        .expect("an old line");
    let reply = w.add_checkpoint(&request(&note)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut fresh = Note::sign(&body(1), &log()).expect("sign");
    let line = jishi_ledger::note::NoteSignature::parse_line(reply.body.trim_end(), 1)
        .expect("a signature line");
    fresh.push_signature(line).expect("one line of the witness");
    fresh
        .verify(&[log().verifier(), witness_key().verifier()])
        .expect("the fresh line verifies");
}

#[tokio::test]
async fn the_same_root_with_another_stream_map_is_a_split_view() {
    let dir = tempfile::tempdir().expect("dir");
    let w = witness(dir.path());
    let first = Note::sign(&body(1), &log()).expect("sign");
    assert_eq!(w.add_checkpoint(&request(&first)).await.status, 200);
    // Cosigning the very same checkpoint again is fine (old = its size).
    let again = AddCheckpoint {
        old: 5,
        proof: Vec::new(),
        note: first.to_string(),
    };
    let reply = w.add_checkpoint(again.encode().as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // The log signs the same tree with another map.
    let other = Note::sign(&body(2), &log()).expect("sign");
    let reply = w
        .add_checkpoint(
            AddCheckpoint {
                old: 5,
                proof: Vec::new(),
                note: other.to_string(),
            }
            .encode()
            .as_bytes(),
        )
        .await;
    assert_eq!((reply.status, reply.body.as_str()), (409, "5\n"));
    let kept = evidence(dir.path());
    assert_eq!(kept.len(), 1, "{kept:?}");
    let ev = SplitView::parse(&std::fs::read(&kept[0]).expect("read")).expect("evidence");
    let proven = ev.check(&log().verifier()).expect("proves the split view");
    assert_eq!(proven.first.root, proven.second.root);
    assert_ne!(proven.first.streams, proven.second.streams);
    // Two notes of the same map prove nothing.
    let same = SplitView::new(
        &first.to_string(),
        &first.to_string(),
        5,
        5,
        None,
        Vec::new(),
    );
    assert!(same.check(&log().verifier()).is_err());
}

#[tokio::test]
async fn a_note_signed_by_a_key_of_another_name_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let w = witness(dir.path());
    let other = SignerKey::from_seed("other.example/log", &[4; 32]).expect("key");
    let note = Note::sign(&body(1), &other).expect("sign");
    let reply = w.add_checkpoint(&request(&note)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert!(!dir.path().join("state.json").exists(), "nothing stored");
}
