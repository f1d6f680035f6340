//! C2SP checkpoints, signed notes and the witness cosigning rule.
//!
//! The jishi known-answer notes were produced independently of this crate
//! with Python's `cryptography` Ed25519 and `hashlib`; the PeterNeumann note
//! is the published example of Go's golang.org/x/mod/sumdb/note, so passing
//! it means Go-ecosystem verifiers and ours agree on the wire format.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use jishi_ledger::merkle::empty_root;
use jishi_ledger::note::open;
use jishi_ledger::{
    cosign, Checkpoint, CheckpointError, CosignError, Digest, KeyError, MemoryTree, Note,
    NoteError, SignerKey, VerifierKey, VerifyError,
};

const LOG: &str = "jishi.example/log";
const WITNESS: &str = "witness.example/w1";
const LOG_VKEY: &str = "jishi.example/log+4dd1d49c+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c";
const LOG_SKEY: &str =
    "PRIVATE+KEY+jishi.example/log+4dd1d49c+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";
const WITNESS_VKEY: &str =
    "witness.example/w1+9e225179+AYE5dw6ofRdfVqNUZsNMfszLjYqRtO43ol32D1uPybOU";
/// MTH of the 7 leaves `[i; 32]`, i = 0..7 (see merkle_tree.rs).
const ROOT7: &str = "7318881c41fce3c1de3640df8e8c110c93f43f686b74204a9d1ad5b8c71c2047";
const BODY7: &str = "jishi.example/log\n7\ncxiIHEH848HeNkDfjowRDJP0P2hrdCBKnRrVuMccIEc=\n";
const LOG_SIG_LINE: &str = "— jishi.example/log TdHUnCrG9vumDtOK+w/W3Mb6jpvmMguz3sa8lnuIo7RyW69FC6ZpOatbgVSyJfQFv2llNRbums3SRhqlqOXgUSts6QQ=\n";
const WITNESS_SIG_LINE: &str = "— witness.example/w1 niJReWQ1DBJMJ9s6Cv3B2sRlqapo7ur3xN5FikGb/ZFafcpnGvntzQ7NcH7R9F01+Q9KVgLkgmKKOFG+BKVO/4AHZwA=\n";

fn log_key() -> SignerKey {
    SignerKey::from_seed(LOG, &[1; 32]).unwrap()
}

fn witness_key() -> SignerKey {
    SignerKey::from_seed(WITNESS, &[2; 32]).unwrap()
}

fn leaves(n: u64) -> Vec<Digest> {
    (0..n).map(|i| Digest([i as u8; 32])).collect()
}

fn signed_note_text() -> String {
    format!("{BODY7}\n{LOG_SIG_LINE}")
}

#[test]
fn known_answer_keys_checkpoint_and_notes() {
    let log = log_key();
    assert_eq!(log.key_id(), 0x4dd1d49c);
    assert_eq!(log.verifier().to_vkey(), LOG_VKEY);
    assert_eq!(log.to_private_text(), LOG_SKEY);
    assert_eq!(witness_key().verifier().to_vkey(), WITNESS_VKEY);

    let root: Digest = ROOT7.parse().unwrap();
    let cp = Checkpoint::new(LOG, 7, root).unwrap();
    assert_eq!(cp.to_body(), BODY7);
    let note = cp.sign(&log).unwrap();
    assert_eq!(note.to_string(), signed_note_text());

    // The witness cosigns the same text: one more line, first line unchanged.
    let cosigned = cosign(&witness_key(), &log.verifier(), None, &note, &[]).unwrap();
    assert_eq!(
        cosigned.note.to_string(),
        format!("{BODY7}\n{LOG_SIG_LINE}{WITNESS_SIG_LINE}")
    );
    assert_eq!(cosigned.checkpoint, cp);
}

#[test]
fn go_sumdb_note_example_interoperates() {
    let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    let vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    let text = "If you think cryptography is the answer to your problem,\n\
                then you don't know what your problem is.\n";
    let want = format!(
        "{text}\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    );
    // The base64 of this private key contains a '+': only the first two
    // '+' of a key separate fields.
    let signer: SignerKey = skey.parse().unwrap();
    assert_eq!(signer.verifier().to_vkey(), vkey);
    assert_eq!(Note::sign(text, &signer).unwrap().to_string(), want);
    let verifier: VerifierKey = vkey.parse().unwrap();
    let opened = open(want.as_bytes(), std::slice::from_ref(&verifier)).unwrap();
    assert_eq!(opened.text(), text);
    assert_eq!(opened.verified_by(), &[verifier]);
}

#[test]
fn keys_round_trip_and_generated_keys_sign() {
    let k = SignerKey::generate("example.org/fresh").unwrap();
    let back: SignerKey = k.to_private_text().parse().unwrap();
    assert_eq!(back.verifier(), k.verifier());
    let vk: VerifierKey = k.verifier().to_vkey().parse().unwrap();
    assert_eq!(vk, k.verifier());
    assert!(!format!("{k:?}").contains(&k.to_private_text()[40..]));

    let other = SignerKey::generate("example.org/fresh").unwrap();
    assert_ne!(other.verifier().public_key(), k.verifier().public_key());

    let note = Note::sign("hello\n", &k).unwrap();
    let parsed: Note = note.to_string().parse().unwrap();
    assert_eq!(parsed, note);
    parsed.verify(&[vk]).unwrap();
}

#[test]
fn key_text_errors_are_specific() {
    let bad_id = LOG_VKEY.replace("4dd1d49c", "4dd1d49d");
    assert!(matches!(
        bad_id.parse::<VerifierKey>(),
        Err(KeyError::KeyIdMismatch {
            stated: 0x4dd1d49d,
            computed: 0x4dd1d49c,
            ..
        })
    ));
    assert!(matches!(
        LOG_VKEY
            .replace("4dd1d49c", "4dd1d4")
            .parse::<VerifierKey>(),
        Err(KeyError::BadKeyIdText { .. })
    ));
    assert!(matches!(
        "no-plus-signs".parse::<VerifierKey>(),
        Err(KeyError::BadVerifierFormat(_))
    ));
    // Type byte 0x05 is no suite's (0x04, a tlog-cosignature key, is one now).
    let mut material = vec![0x05];
    material.extend_from_slice(&[7; 32]);
    let typed = format!("w+00000000+{}", B64.encode(material));
    assert!(matches!(
        typed.parse::<VerifierKey>(),
        Err(KeyError::UnsupportedType { got: 0x05, .. })
    ));
    let short = format!("w+00000000+{}", B64.encode([1u8; 10]));
    assert!(matches!(
        short.parse::<VerifierKey>(),
        Err(KeyError::BadKeyLength { got: 9, .. })
    ));
    assert!(matches!(
        "w+00000000+not*base64".parse::<VerifierKey>(),
        Err(KeyError::BadBase64 { .. })
    ));
    assert!(matches!(
        SignerKey::from_seed("has space", &[1; 32]),
        Err(KeyError::BadName(_))
    ));
    assert!(matches!(
        SignerKey::from_seed("", &[1; 32]),
        Err(KeyError::BadName(_))
    ));
    assert!(matches!(
        LOG_VKEY.parse::<SignerKey>(),
        Err(KeyError::BadPrivateFormat)
    ));
}

/// Re-encodes the signature line of `note` after `edit` changed its bytes
/// (4-byte key id then signature).
fn edit_signature(note: &str, edit: impl Fn(&mut Vec<u8>)) -> String {
    let (head, b64) = note.trim_end().rsplit_once(' ').unwrap();
    let mut bytes = B64.decode(b64).unwrap();
    edit(&mut bytes);
    format!("{head} {}\n", B64.encode(bytes))
}

#[test]
fn tampered_notes_fail_with_specific_errors() {
    let keys = [log_key().verifier()];
    let good = signed_note_text();
    open(good.as_bytes(), &keys).unwrap();

    // A changed size in the text: the known key's signature fails.
    let text_flipped = good.replacen("\n7\n", "\n8\n", 1);
    assert_eq!(
        open(text_flipped.as_bytes(), &keys),
        Err(NoteError::InvalidSignature {
            name: LOG.into(),
            key_id: 0x4dd1d49c
        })
    );
    // One flipped bit in the signature.
    let sig_flipped = edit_signature(&good, |b| b[20] ^= 1);
    assert!(matches!(
        open(sig_flipped.as_bytes(), &keys),
        Err(NoteError::InvalidSignature { .. })
    ));
    // A flipped key id: the line no longer names a known key, and nothing
    // else verifies it.
    let id_flipped = edit_signature(&good, |b| b[0] ^= 1);
    assert_eq!(
        open(id_flipped.as_bytes(), &keys),
        Err(NoteError::NoTrustedSignature {
            unknown: vec![LOG.into()]
        })
    );
    // A truncated signature from a known key is a failed signature.
    let truncated = edit_signature(&good, |b| b.truncate(40));
    assert!(matches!(
        open(truncated.as_bytes(), &keys),
        Err(NoteError::InvalidSignature { .. })
    ));
    // The wrong key: same name, different key, so a different key id.
    let impostor = SignerKey::from_seed(LOG, &[9; 32]).unwrap().verifier();
    assert!(matches!(
        open(good.as_bytes(), &[impostor]),
        Err(NoteError::NoTrustedSignature { .. })
    ));
    // A forged line that claims the real name and id but was made by another
    // key: rejected as a failed signature, not ignored.
    let forger = SignerKey::from_seed("forger", &[9; 32]).unwrap();
    let forged = Note::sign(BODY7, &forger).unwrap().to_string();
    let (_, forged_b64) = forged.trim_end().rsplit_once(' ').unwrap();
    let mut forged_bytes = B64.decode(forged_b64).unwrap();
    forged_bytes[..4].copy_from_slice(&0x4dd1d49cu32.to_be_bytes());
    let forged_note = format!("{BODY7}\n— {LOG} {}\n", B64.encode(forged_bytes));
    assert!(matches!(
        open(forged_note.as_bytes(), &keys),
        Err(NoteError::InvalidSignature { .. })
    ));
}

#[test]
fn malformed_notes_are_refused_clearly() {
    let keys = [log_key().verifier()];
    let good = signed_note_text();
    let bad_b64 = good.replace("6QQ=", "6Q*=");
    assert!(matches!(
        Note::parse(&bad_b64),
        Err(NoteError::BadSignatureBase64 { line: 5, .. })
    ));
    assert_eq!(
        Note::parse(good.trim_end()),
        Err(NoteError::MissingFinalNewline)
    );
    assert_eq!(
        Note::parse(&good.replace("\n\n", "\n")),
        Err(NoteError::NoSignatureBlock)
    );
    assert_eq!(
        Note::parse(&good.replace('\n', "\r\n")),
        Err(NoteError::ControlCharacter {
            line: 1,
            code: 0x0d
        })
    );
    assert_eq!(
        Note::parse(&good.replace('—', "-")),
        Err(NoteError::BadSignatureLine { line: 5 })
    );
    assert_eq!(
        Note::parse(&format!("{BODY7}\n")),
        Err(NoteError::NoSignatureBlock)
    );
    assert!(matches!(
        Note::parse(&good.replace("jishi.example/log Td", "jishi+log Td")),
        Err(NoteError::BadKeyName { line: 5, .. })
    ));
    let short = format!("{BODY7}\n— {LOG} {}\n", B64.encode([1, 2, 3, 4]));
    assert!(matches!(
        Note::parse(&short),
        Err(NoteError::SignatureTooShort { len: 4, .. })
    ));
    let many = format!("{BODY7}\n{}", LOG_SIG_LINE.repeat(101));
    assert_eq!(
        Note::parse(&many),
        Err(NoteError::TooManySignatures { count: 101 })
    );
    assert_eq!(open(b"\xff\xfe\n\n", &keys), Err(NoteError::NotUtf8));
    assert_eq!(
        Note::sign("no newline", &log_key()),
        Err(NoteError::TextNotNewlineTerminated)
    );
    // A blank line inside the text is fine: the last blank line separates.
    let multi = Note::sign("a\n\nb\n", &log_key()).unwrap();
    let parsed = Note::parse(&multi.to_string()).unwrap();
    assert_eq!(parsed.text(), "a\n\nb\n");
    parsed.verify(&keys).unwrap();
}

#[test]
fn verification_reports_which_keys_signed_and_ignores_unknown_ones() {
    let full = format!("{BODY7}\n{LOG_SIG_LINE}{WITNESS_SIG_LINE}");
    let log = log_key().verifier();
    let wit = witness_key().verifier();
    let both = open(full.as_bytes(), &[log.clone(), wit.clone()]).unwrap();
    assert_eq!(both.verified_by(), &[log.clone(), wit.clone()]);
    assert!(both.is_signed_by(&wit));
    assert!(both.unknown_signatures().is_empty());

    let only_witness = open(full.as_bytes(), std::slice::from_ref(&wit)).unwrap();
    assert_eq!(only_witness.verified_by(), std::slice::from_ref(&wit));
    assert_eq!(only_witness.unknown_signatures()[0].name, LOG);
    assert!(!only_witness.is_signed_by(&log));

    let (cp, _) = Checkpoint::open(&full, &[log]).unwrap();
    assert_eq!((cp.origin.as_str(), cp.size), (LOG, 7));
    assert_eq!(cp.root, ROOT7.parse().unwrap());

    let mut note = Note::parse(&full).unwrap();
    assert_eq!(
        note.add_signature(&witness_key()),
        Err(NoteError::DuplicateSignature {
            name: WITNESS.into(),
            key_id: 0x9e225179
        })
    );
}

#[test]
fn checkpoint_bodies_parse_strictly() {
    let cp = Checkpoint::from_body(BODY7).unwrap();
    assert_eq!(cp.to_body(), BODY7);
    let empty = Checkpoint::new(LOG, 0, empty_root()).unwrap();
    assert_eq!(
        empty.to_body(),
        "jishi.example/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"
    );
    assert_eq!(Checkpoint::from_body(&empty.to_body()).unwrap(), empty);
    // Extension lines are allowed when non-empty.
    Checkpoint::from_body(&format!("{BODY7}ext one\next two\n")).unwrap();

    let root = "cxiIHEH848HeNkDfjowRDJP0P2hrdCBKnRrVuMccIEc=";
    let cases: Vec<(String, CheckpointError)> = vec![
        (String::new(), CheckpointError::MissingLine("origin")),
        (
            BODY7.trim_end().into(),
            CheckpointError::MissingFinalNewline,
        ),
        (
            format!("{LOG}\n"),
            CheckpointError::MissingLine("tree size"),
        ),
        (
            format!("{LOG}\n7\n"),
            CheckpointError::MissingLine("root hash"),
        ),
        (format!("\n7\n{root}\n"), CheckpointError::EmptyOrigin),
        (
            format!("{LOG}\n07\n{root}\n"),
            CheckpointError::SizeLeadingZero("07".into()),
        ),
        (
            format!("{LOG}\n+7\n{root}\n"),
            CheckpointError::SizeNotDecimal("+7".into()),
        ),
        (
            format!("{LOG}\n7.0\n{root}\n"),
            CheckpointError::SizeNotDecimal("7.0".into()),
        ),
        (
            format!("{LOG}\n\n{root}\n"),
            CheckpointError::SizeNotDecimal(String::new()),
        ),
        (
            format!("{LOG}\n18446744073709551616\n{root}\n"),
            CheckpointError::SizeTooLarge("18446744073709551616".into()),
        ),
        (
            format!("{LOG}\n7\ncxiIHEH848HeNkDfjowRDJP0P2hrdCBKnRrVuMccIEc\n"),
            CheckpointError::RootNotBase64("cxiIHEH848HeNkDfjowRDJP0P2hrdCBKnRrVuMccIEc".into()),
        ),
        (
            format!("{LOG}\n7\nAAAA\n"),
            CheckpointError::RootWrongLength(3),
        ),
        (
            format!("{BODY7}\n"),
            CheckpointError::EmptyExtensionLine { line: 4 },
        ),
        (
            format!("{LOG}\r\n7\n{root}\n"),
            CheckpointError::ControlCharacter { line: 1, code: 13 },
        ),
    ];
    for (body, want) in cases {
        assert_eq!(Checkpoint::from_body(&body), Err(want), "{body:?}");
    }
    assert!(matches!(
        Checkpoint::new("a log", 1, empty_root()),
        Err(CheckpointError::BadOrigin(_))
    ));
}

/// A log with 20 events, checkpoints signed at several sizes.
struct Log {
    tree: MemoryTree,
    key: SignerKey,
}

impl Log {
    fn new(events: &[Digest]) -> Log {
        Log {
            tree: events.iter().copied().collect(),
            key: log_key(),
        }
    }

    fn checkpoint(&self, size: u64) -> (Checkpoint, Note) {
        let root = jishi_ledger::merkle::root_at(&self.tree, size).unwrap();
        let cp = Checkpoint::new(LOG, size, root).unwrap();
        let note = cp.sign(&self.key).unwrap();
        (cp, note)
    }

    fn proof(&self, m: u64, n: u64) -> Vec<Digest> {
        self.tree.prove_consistency(m, n).unwrap().path
    }
}

#[test]
fn witness_cosigns_only_consistent_growth() {
    let log = Log::new(&leaves(20));
    let w = witness_key();
    let log_vk = log.key.verifier();

    let (cp5, note5) = log.checkpoint(5);
    let first = cosign(&w, &log_vk, None, &note5, &[]).unwrap();
    assert_eq!(first.checkpoint, cp5);

    let (cp12, note12) = log.checkpoint(12);
    let second = cosign(&w, &log_vk, Some(&cp5), &note12, &log.proof(5, 12)).unwrap();
    assert_eq!(second.checkpoint, cp12);
    let (_, verified) =
        Checkpoint::open(&second.note.to_string(), &[log_vk.clone(), w.verifier()]).unwrap();
    assert_eq!(verified.verified_by().len(), 2);

    // Same checkpoint again: empty proof, equal roots.
    cosign(&w, &log_vk, Some(&cp12), &note12, &[]).unwrap();

    // A proof for other sizes does not convince it.
    assert!(matches!(
        cosign(&w, &log_vk, Some(&cp5), &note12, &log.proof(6, 12)),
        Err(CosignError::Inconsistent {
            last: 5,
            new: 12,
            ..
        })
    ));
    // First sight of a log takes no proof (it is the empty tree's).
    assert!(matches!(
        cosign(&w, &log_vk, None, &note12, &log.proof(5, 12)),
        Err(CosignError::Inconsistent {
            last: 0,
            source: VerifyError::WrongProofLength { .. },
            ..
        })
    ));
    // The log shrank.
    assert_eq!(
        cosign(&w, &log_vk, Some(&cp12), &note5, &[]),
        Err(CosignError::Rollback { last: 12, new: 5 })
    );
    // A different log.
    let other = Checkpoint {
        origin: "other.example/log".into(),
        ..cp5.clone()
    };
    assert!(matches!(
        cosign(&w, &log_vk, Some(&other), &note12, &log.proof(5, 12)),
        Err(CosignError::OriginMismatch { .. })
    ));
    // Not signed by the log.
    let stranger = SignerKey::from_seed("stranger", &[5; 32]).unwrap();
    let unsigned = cp12.sign(&stranger).unwrap();
    assert!(matches!(
        cosign(&w, &log_vk, Some(&cp5), &unsigned, &log.proof(5, 12)),
        Err(CosignError::LogSignature {
            source: NoteError::NoTrustedSignature { .. },
            ..
        })
    ));
    // A signed note that is not a checkpoint.
    let prose = Note::sign("hello\n", &log.key).unwrap();
    assert!(matches!(
        cosign(&w, &log_vk, None, &prose, &[]),
        Err(CosignError::NotCheckpoint(_))
    ));

    // A fork: event 7 rewritten. The log signs the forked head and serves a
    // proof from its forked tree. A witness that saw only size 5 cannot tell
    // (the first 5 events are shared) and cosigns; one that saw the honest
    // size 12 refuses.
    let mut forked_events = leaves(20);
    forked_events[7] = Digest([0xee; 32]);
    let fork = Log::new(&forked_events);
    let (_, fork_note15) = fork.checkpoint(15);
    cosign(&w, &log_vk, Some(&cp5), &fork_note15, &fork.proof(5, 15)).unwrap();
    assert!(matches!(
        cosign(&w, &log_vk, Some(&cp12), &fork_note15, &fork.proof(12, 15)),
        Err(CosignError::Inconsistent {
            last: 12,
            new: 15,
            ..
        })
    ));
    // Nor will an honest proof bridge to the forked head.
    assert!(matches!(
        cosign(&w, &log_vk, Some(&cp12), &fork_note15, &log.proof(12, 15)),
        Err(CosignError::Inconsistent { .. })
    ));
}
