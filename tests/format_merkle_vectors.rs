//! The vectors of docs/FORMAT-merkle.md §6.4, §10.7, §11.5 and §12.6, made
//! by jishi's own code and compared with the document. The document's values
//! were computed from its text alone by `scripts/vectors_merkle.py`, with no
//! jishi code. This test is where the two are held to each other: each value
//! below must also appear in the document, byte for byte.

use std::collections::BTreeMap;

use jishi_ledger::export::Selector;
use jishi_ledger::merkle::{leaf_hash, merkle_tree_hash};
use jishi_ledger::streams::{head_digest, StreamMap, StreamsLine};
use jishi_ledger::{Checkpoint, Digest, Note, SignerKey, Suite};

const DOC: &str = include_str!("../docs/FORMAT-merkle.md");
const T: u64 = 1_773_532_800;
const C42: &str = "election/qingshan-2021/candidate/c-0042";

fn in_doc(value: &str) {
    assert!(DOC.contains(value), "docs/FORMAT-merkle.md lacks {value:?}");
}

/// §10.7: the seven test leaves of §1.3 as a ledger of three streams.
fn map() -> StreamMap {
    StreamMap::new(BTreeMap::from([
        ("election/qingshan-2021".to_string(), (2, Digest([3; 32]))),
        (C42.to_string(), (4, Digest([6; 32]))),
        ("ledger/keys".to_string(), (1, Digest([5; 32]))),
    ]))
}

fn leaves() -> Vec<Digest> {
    (0..7u8).map(|i| Digest([i; 32])).collect()
}

fn log() -> SignerKey {
    SignerKey::from_seed("jishi.example/log", &[1; 32]).expect("log key")
}

fn witness() -> SignerKey {
    SignerKey::from_secret("witness.example/w1", Suite::Cosignature, &[2; 32]).expect("key")
}

/// The checkpoint of §6.4: §4's body with §10.7's map line.
fn body() -> String {
    Checkpoint::new("jishi.example/log", 7, merkle_tree_hash(&leaves()))
        .expect("checkpoint")
        .with_streams(map().line())
        .to_body()
}

#[test]
fn the_stream_map_of_section_10_7() {
    let digests = [
        head_digest("election/qingshan-2021", 2, &Digest([3; 32])),
        head_digest(C42, 4, &Digest([6; 32])),
        head_digest("ledger/keys", 1, &Digest([5; 32])),
    ];
    let want = [
        (
            "ebf28c63617959a9d192e9d7e8ff0b5c4f94109002d0452154eaa3588bf7b8eb",
            "caa7d4b11ee3f53f78674e2b681654d6f905ba563e88addcd7bde3afed1bfa86",
        ),
        (
            "f254457d8b9612a6f1777de6461fade5163790b25cef7c7fe10658f8d9781c88",
            "7a988040ad516c48dc2de8c22927ece73f8defd1315dce33a10e92dd817fa4c7",
        ),
        (
            "3274ed10ef0e4c269c7f30c21532cb959f493d461ed5bc322bb5b3ddef10f3da",
            "eaaedb51c57069f0c5076ad0e3282b6365b35612e431a078a240f9b8bf224c5b",
        ),
    ];
    for (d, (digest, leaf)) in digests.iter().zip(want) {
        assert_eq!(d.to_hex(), digest);
        assert_eq!(leaf_hash(d).to_hex(), leaf);
        in_doc(digest);
        in_doc(leaf);
    }
    let line = map().line();
    assert_eq!(
        line.root.to_hex(),
        "ba061373896d24af1be3181006920f8fcba71a10a03a0e9ce1e8d8036f8f82a6"
    );
    let text = "jishi.streams/v1 3 ugYTc4ltJK8b4xgQBpIPj8unGhCgOg6c4ejYA2+PgqY=";
    assert_eq!(line.to_line(), text);
    in_doc(text);
    assert_eq!(StreamsLine::parse(text).expect("parses"), Some(line));
    let empty = "jishi.streams/v1 0 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    assert_eq!(StreamMap::new(BTreeMap::new()).line().to_line(), empty);
    in_doc(empty);
}

/// The JSON blocks of §11.5, in the order the document gives them.
fn doc_blocks() -> Vec<serde_json::Value> {
    let start = DOC.find("### 11.5 Test vectors").expect("§11.5");
    let end = DOC[start..].find("\n## 12.").expect("§12") + start;
    DOC[start..end]
        .split("```json\n")
        .skip(1)
        .map(|b| {
            let json = &b[..b.find("```").expect("end of block")];
            serde_json::from_str(json).expect("a JSON block")
        })
        .collect()
}

#[test]
fn the_range_proofs_of_section_11_5() {
    let blocks = doc_blocks();
    assert_eq!(blocks.len(), 5, "five blocks in §11.5");
    let m = map();
    let line = m.line();
    let cases = [
        Selector::Stream(C42.into()),
        Selector::Prefix("election/qingshan-2021".into()),
        Selector::Stream("ledger/keys".into()),
        Selector::Stream("election/qingshan-2021/candidate/c-0043".into()),
    ];
    for (selector, want) in cases.iter().zip(&blocks) {
        let proofs = m.prove_selector(selector);
        assert_eq!(
            &serde_json::to_value(&proofs).expect("json"),
            want,
            "{selector:?}"
        );
        for p in &proofs {
            p.verify(&line).expect("the proof verifies");
        }
    }
    let empty = StreamMap::new(BTreeMap::new());
    let proofs = empty.prove_selector(&Selector::Stream("x".into()));
    assert_eq!(&serde_json::to_value(&proofs).expect("json"), &blocks[4]);
    proofs[0].verify(&empty.line()).expect("verifies");
}

#[test]
fn the_cosignature_of_section_6_4() {
    let w = witness();
    assert_eq!(format!("{:08x}", w.key_id()), "df1c0a35");
    for text in [
        "witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU".to_string(),
        "PRIVATE+KEY+witness.example/w1+df1c0a35+BAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC"
            .to_string(),
    ] {
        in_doc(&text);
    }
    assert_eq!(
        w.verifier().to_vkey(),
        "witness.example/w1+df1c0a35+BIE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU"
    );
    assert_eq!(
        w.to_private_text(),
        "PRIVATE+KEY+witness.example/w1+df1c0a35+BAICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIC"
    );
    let body = body();
    let message = jishi_ledger::suite::cosignature_message(T, body.as_bytes());
    let hex: String = message.iter().map(|b| format!("{b:02x}")).collect();
    in_doc(&hex);
    let sig = w.sign_bytes_at(body.as_bytes(), T);
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&sig);
    assert_eq!(
        b64,
        "AAAAAGm19oA6N98ek05LyUVPFOVd1xb2TA2zJ/+m+UrLm2VDTEXvKyTve5OzK67MnOQnlCWgspl4JhS4IEIt0L0Kp03YnbsO"
    );
    in_doc(&b64);
    let mut note = Note::sign(&body, &log()).expect("sign");
    note.add_signature_at(&w, T).expect("cosign");
    let text = note.to_string();
    let block = text.trim_end_matches('\n');
    in_doc(block);
    assert!(text.ends_with(
        "\u{2014} witness.example/w1 3xwKNQAAAABptfaAOjffHpNOS8lFTxTlXdcW9kwNsyf/pvlKy5tlQ0xF7ysk73uTsyuuzJzkJ5QloLKZeCYUuCBCLdC9CqdN2J27Dg==\n"
    ));
}

/// §12.6: the request for §6.4's log-signed note, and the state file a
/// witness writes after it, both from jishi's own code.
#[tokio::test]
async fn the_witness_request_and_state_of_section_12_6() {
    let note = Note::sign(&body(), &log()).expect("sign").to_string();
    let req = jishi_witness::AddCheckpoint {
        old: 0,
        proof: Vec::new(),
        note: note.clone(),
    };
    let encoded = req.encode();
    in_doc(&serde_json::to_string(&encoded).expect("json"));
    let dir = tempfile::tempdir().expect("dir");
    let w = jishi_witness::Witness::open(jishi_witness::WitnessConfig {
        key: witness(),
        logs: vec![log().verifier()],
        state_dir: dir.path().to_path_buf(),
    })
    .expect("witness");
    let reply = w.add_checkpoint(encoded.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let state = std::fs::read(dir.path().join("state.json")).expect("state");
    assert_eq!(state.len(), 462);
    assert_eq!(
        blake3::hash(&state).to_hex().as_str(),
        "0735acca2c47cb75689b75f05ffd53e04ae863b2185e27412d9e61dc8777c529"
    );
    in_doc(std::str::from_utf8(&state).expect("utf-8"));
}
