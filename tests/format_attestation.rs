//! The attestation and SM2 vectors of docs/FORMAT.md §9.5 and
//! docs/FORMAT-merkle.md §5.3: recomputed here from their inputs, and each
//! value must appear in the document, so that the code and the format
//! cannot drift apart. The SM2 values were also checked independently
//! (docs/FORMAT.md says how).

use jishi_ledger::attest::{message, Attestor};
use jishi_ledger::{Checkpoint, Digest, Note, SignerKey, Suite};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(format!("{}/docs/{name}", env!("CARGO_MANIFEST_DIR")))
        .expect("the format document")
}

/// The hash of vector 3 of docs/FORMAT.md §7.
const VECTOR_3_HASH: &str = "51a224c8d8670f49b6c5d16415d042267b060e50a2fce35967d1c39f83ab1ae6";

fn keys() -> (SignerKey, SignerKey) {
    (
        SignerKey::from_secret("jishi.example/recording", Suite::Ed25519, &[1; 32]).expect("ed"),
        SignerKey::from_secret("jishi.example/recording-sm2", Suite::Sm2Sm3, &[1; 32])
            .expect("sm2"),
    )
}

#[test]
fn attestation_vectors_are_in_format_md() {
    let hash: Digest = VECTOR_3_HASH.parse().expect("hash");
    let (ed, sm2) = keys();
    let m = message(1, 3, &hash);
    let ed_sig = Attestor::new(ed.clone()).attest(1, 3, &hash).signature;
    let sm2_sig = Attestor::new(sm2.clone()).attest(1, 3, &hash).signature;
    // The signatures verify, and not over another group.
    assert!(ed.verifier().verifies(&m, &ed_sig));
    assert!(sm2.verifier().verifies(&m, &sm2_sig));
    assert!(!sm2.verifier().verifies(&message(1, 2, &hash), &sm2_sig));
    let values = [
        ("Ed25519 vkey", ed.verifier().to_vkey()),
        ("SM2 vkey", sm2.verifier().to_vkey()),
        ("message", hex(&m)),
        ("Ed25519 key id", format!("{:08x}", ed.key_id())),
        ("Ed25519 attestation", hex(&ed_sig)),
        ("SM2 key id", format!("{:08x}", sm2.key_id())),
        ("SM2 attestation", hex(&sm2_sig)),
    ];
    let text = doc("FORMAT.md");
    let missing: Vec<String> = values
        .iter()
        .filter(|(_, v)| !text.contains(v.as_str()))
        .map(|(what, v)| format!("{what}: {v}"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/FORMAT.md lacks:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_rotation_vector_is_in_format_md() {
    let (ed, sm2) = keys();
    let payload = serde_json::json!({
        "key": sm2.verifier().to_vkey(),
        "replaces": ed.verifier().to_vkey(),
    });
    let canonical = jishi_ledger::canonical::canonical_json(&payload);
    let digest = jishi_ledger::canonical::payload_digest(canonical.as_bytes());
    // And the registry takes it as the rotation it is.
    let mut r = jishi_ledger::attest::KeyRegistry::default();
    r.apply(
        jishi_ledger::attest::KEY_REGISTERED,
        &serde_json::json!({"key": ed.verifier().to_vkey()}),
        1,
        2,
    )
    .expect("registered");
    r.apply(jishi_ledger::attest::KEY_ROTATED, &payload, 2, 3)
        .expect("rotated");
    assert_eq!(r.current(), Some(&sm2.verifier()));
    let text = doc("FORMAT.md");
    for v in [canonical, digest.to_string()] {
        assert!(text.contains(&v), "docs/FORMAT.md lacks {v}");
    }
}

#[test]
fn an_sm2_note_signature_is_in_format_merkle_md() {
    let sm2 =
        SignerKey::from_secret("jishi.example/log-sm2", Suite::Sm2Sm3, &[3; 32]).expect("key");
    let root: Digest = "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047"
        .parse()
        .expect("root");
    let body = Checkpoint::new("jishi.example/log", 7, root).expect("checkpoint");
    let note = Note::sign(&body.to_body(), &sm2).expect("sign");
    // An Ed25519-only verifier ignores the SM2 line; the SM2 key verifies it.
    assert!(note.verify(&[sm2.verifier()]).is_ok());
    let ed = SignerKey::from_seed("jishi.example/log", &[1; 32]).expect("ed");
    assert!(
        note.verify(&[ed.verifier()]).is_err(),
        "no known key signed it"
    );
    // Beside an Ed25519 line, each verifier finds its own and ignores the other.
    let mut both = note.clone();
    both.add_signature(&ed).expect("cosign");
    let by_ed = both.verify(&[ed.verifier()]).expect("Ed25519 alone");
    assert_eq!(
        by_ed.unknown_signatures().len(),
        1,
        "the SM2 line is ignored"
    );
    assert!(both.verify(&[sm2.verifier()]).is_ok(), "SM2 alone");
    let line = note
        .to_string()
        .lines()
        .last()
        .expect("a signature line")
        .to_string();
    let text = doc("FORMAT-merkle.md");
    for (what, v) in [
        ("SM2 vkey", sm2.verifier().to_vkey()),
        ("SM2 private key", sm2.to_private_text()),
        ("SM2 signature line", line),
    ] {
        assert!(
            text.contains(&v),
            "docs/FORMAT-merkle.md lacks the {what}: {v}"
        );
    }
}
