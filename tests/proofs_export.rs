//! A case export is checked offline, and any single changed byte is caught.

mod proofs_support;

use jishi_ledger::export::{verify_export, ExportError};
use proofs_support::{case, keys};

/// A small export: three events of one candidate, a cosigned checkpoint.
fn small_export() -> (proofs_support::Case, Vec<u8>) {
    let c = case(7);
    c.checkpoint_and_cosign("cp");
    let (code, out, file) = c.export("case.json", "candidate/c1");
    assert_eq!(code, 0, "{out}");
    let bytes = std::fs::read(file).unwrap();
    (c, bytes)
}

#[test]
fn an_export_verifies_with_the_keys_alone() {
    let (c, bytes) = small_export();
    let check = verify_export(&bytes, &keys()).unwrap();
    assert_eq!(check.events, 2);
    assert_eq!(check.checkpoint.size, 7);
    assert_eq!(check.signed_by.len(), 2);
    let (code, out) = c.verify_export(&c.file("case.json"));
    assert_eq!(code, 0, "{out}");
    for line in [
        "payload digests   2 checked",
        "event hashes      2 recomputed",
        "inclusion proofs  2 verified",
        "verified: jishi.example/log+",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
    // The witness's key alone is not enough: the log's own key is always
    // required (issue 14); a key that did not sign fails too.
    assert!(matches!(
        verify_export(&bytes, &keys()[1..]),
        Err(ExportError::NoLogKey)
    ));
    let stranger = jishi_ledger::SignerKey::from_seed("stranger.example", &[9; 32])
        .unwrap()
        .verifier();
    let err = verify_export(&bytes, &[keys()[0].clone(), stranger]).unwrap_err();
    assert!(
        matches!(
            err,
            ExportError::Note(_)
                | ExportError::KeyDidNotSign { .. }
                | ExportError::Quorum { .. }
                | ExportError::PolicyQuorum { .. }
        ),
        "{err}"
    );
}

/// Every byte position, flipped in its lowest bit, and again in a high bit:
/// the export no longer verifies, and the error says which check failed.
#[test]
fn flipping_any_single_byte_fails_verification() {
    let (_c, bytes) = small_export();
    let keys = keys();
    assert!(verify_export(&bytes, &keys).is_ok());
    for mask in [0x01u8, 0x40] {
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= mask;
            match verify_export(&bad, &keys) {
                Ok(_) => panic!(
                    "flipping byte {i} ({:?}) with {mask:#04x} went unnoticed; context: {:?}",
                    bytes[i] as char,
                    String::from_utf8_lossy(
                        &bytes[i.saturating_sub(40)..(i + 40).min(bytes.len())]
                    )
                ),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(msg.len() > 20, "a vague message for byte {i}: {msg}");
                }
            }
        }
    }
}

/// Through the binary, for a sample of positions: exit 3 and a message that
/// names what failed.
#[test]
fn verify_export_names_what_failed() {
    let (c, bytes) = small_export();
    let text = String::from_utf8(bytes.clone()).unwrap();
    let cases: Vec<(usize, &str)> = vec![
        (text.find("\"format\"").unwrap() + 12, "format"),
        (
            text.find("\"stream\": \"candidate/c1\"").unwrap() + 20,
            "stream",
        ),
        (text.find("\"seq\"").unwrap() + 2, "payload's digest"),
        (
            text.find("\"hash\": \"").unwrap() + 12,
            "envelope gives hash",
        ),
        (
            text.find("\"inclusion_proof\": [").unwrap() + 30,
            "inclusion proof",
        ),
        (text.find("\\n7\\n").unwrap() + 2, "checkpoint note"),
        (text.find("\"events\"").unwrap(), "not a case export"),
    ];
    for (i, want) in cases {
        let mut bad = bytes.clone();
        // A hex digit becomes another hex digit (a flip to a non-hex byte
        // would fail earlier, as "not a case export", for some hashes).
        bad[i] = match bad[i] {
            b'0' => b'1',
            b'1'..=b'9' | b'a'..=b'f' => b'0',
            other => other ^ 0x01,
        };
        let file = c.file("bad.json");
        std::fs::write(&file, &bad).unwrap();
        let (code, out) = c.verify_export(&file);
        assert_eq!(code, 3, "byte {i}: {out}");
        assert!(out.contains("FAILED"), "byte {i}: {out}");
        assert!(out.contains(want), "byte {i}: want {want:?} in {out}");
    }
}
