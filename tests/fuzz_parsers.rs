//! Bounded fuzzing of the parsers an adversary feeds directly: signed notes
//! (a checkpoint handed over by anyone), case exports (a file from a
//! possibly dishonest exporter) and procedure TOML (`--procedure FILE`).
//!
//! These are proptest properties with a fixed number of cases, so that
//! `cargo test` runs them in CI in bounded time; the coverage-guided
//! targets over the same entry points are in `fuzz/` (docs/FUZZING.md).
//! JSON input and canonicalisation have their own properties beside the
//! code (ledger/tests/canonical_input.rs).
//!
//! What each property says:
//! * no input panics;
//! * a note renders and parses back to itself, and any other bytes that
//!   still open under the log's key carry the same signed text;
//! * an export whose parsed content differs from the original never
//!   verifies;
//! * a mutated procedure file gives a procedure or an error naming a line,
//!   never a panic.

mod proofs_support;

use std::sync::OnceLock;

use jishi_ledger::export::{parse_export, verify_export};
use jishi_ledger::{Note, SignerKey};
use jishi_projections::procedure::Procedure;
use proptest::prelude::*;

/// One valid export (a cosigned checkpoint, two events), made once for all
/// cases: building it runs the real `jishi` binary.
fn export_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let c = proofs_support::case(7);
        c.checkpoint_and_cosign("cp");
        let (code, out, file) = c.export("case.json", "candidate/c1");
        assert_eq!(code, 0, "{out}");
        std::fs::read(file).expect("export file")
    })
}

/// A mutation: replace, insert or delete bytes at a few places.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let one = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Replace(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ];
    prop::collection::vec(one, 1..4)
}

fn apply(bytes: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for e in edits {
        let n = out.len().max(1);
        match *e {
            Edit::Replace(i, b) if !out.is_empty() => out[i % n] = b,
            Edit::Insert(i, b) => out.insert(i % (out.len() + 1), b),
            Edit::Delete(i) if !out.is_empty() => {
                out.remove(i % n);
            }
            Edit::Truncate(i) => out.truncate(i % n),
            _ => {}
        }
    }
    out
}

fn log_key() -> SignerKey {
    proofs_support::log_signer()
}

/// Checkpoint-like note bodies: lines of printable text ending in a newline.
fn note_body() -> impl Strategy<Value = String> {
    prop::collection::vec("[ -~]{1,40}", 1..5).prop_map(|lines| {
        let mut s = lines.join("\n");
        s.push('\n');
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_note_parser(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = Note::parse(&text);
        let _ = jishi_ledger::note::open(&bytes, &[log_key().verifier()]);
    }

    #[test]
    fn a_signed_note_renders_and_parses_back_to_itself(body in note_body()) {
        let note = Note::sign(&body, &log_key()).expect("sign");
        let text = note.to_string();
        let back = Note::parse(&text).expect("parse what we rendered");
        prop_assert_eq!(back.text(), note.text());
        prop_assert_eq!(back.to_string(), text.clone());
        prop_assert!(back.verify(&[log_key().verifier()]).is_ok());
    }

    #[test]
    fn a_mutated_note_never_opens_with_other_text(body in note_body(), e in edits()) {
        let text = Note::sign(&body, &log_key()).expect("sign").to_string();
        let bad = apply(text.as_bytes(), &e);
        if let Ok(v) = jishi_ledger::note::open(&bad, &[log_key().verifier()]) {
            // Only a change that leaves the signed text as it was may open.
            prop_assert_eq!(v.text(), body.as_str());
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_export_parser(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_export(&bytes);
        let _ = verify_export(&bytes, &proofs_support::keys());
    }
}

proptest! {
    // Each case verifies a whole export (proofs, signatures): fewer cases.
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn a_mutated_export_never_verifies_with_other_content(e in edits()) {
        let good = export_bytes();
        let original = parse_export(good).expect("the original parses");
        let bad = apply(good, &e);
        if let Ok(check) = verify_export(&bad, &proofs_support::keys()) {
            // White space may change; what the file says may not.
            let parsed = parse_export(&bad).expect("verified, so it parses");
            prop_assert_eq!(
                serde_json::to_value(&parsed).expect("json"),
                serde_json::to_value(&original).expect("json"),
                "a changed export verified: {:?}", check
            );
        }
    }

    #[test]
    fn a_mutated_procedure_file_gives_a_procedure_or_a_line(kind in 0usize..3, e in edits()) {
        let files = [
            include_str!("../projections/procedures/township_party_committee.toml"),
            include_str!("../projections/procedures/village_two_committees.toml"),
            include_str!("../projections/procedures/county_township_congress.toml"),
        ];
        let bad = apply(files[kind].as_bytes(), &e);
        let text = String::from_utf8_lossy(&bad);
        match Procedure::from_toml_str(&text, "mutated.toml") {
            Ok(p) => prop_assert!(!p.kind.is_empty()),
            Err(err) => {
                prop_assert!(err.line >= 1, "{err}");
                prop_assert!(!err.reason.trim().is_empty(), "{err}");
            }
        }
    }
}
