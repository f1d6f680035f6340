//! Bad input to the proof commands: a clear message naming what is wrong, a
//! non-zero exit, and nothing written.

mod proofs_support;

use proofs_support::{case, s};

#[test]
fn keygen_writes_a_private_file_for_its_owner_only_and_never_overwrites() {
    let c = case(0);
    let key = c.file("new.key");
    let (code, out) = c.run(&["keygen", "org.example/log", "--out", s(&key)]);
    assert_eq!(code, 0, "{out}");
    let vkey = std::fs::read_to_string(c.file("new.key.pub")).unwrap();
    assert!(out.contains(vkey.trim()), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = std::fs::read(&key).unwrap();
    let (code, out) = c.run(&["keygen", "org.example/log", "--out", s(&key)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already exists"), "{out}");
    assert_eq!(std::fs::read(&key).unwrap(), before);
    let (code, out) = c.run(&["keygen", "bad name", "--out", s(&c.file("x.key"))]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("key name"), "{out}");
    assert!(!c.file("x.key").exists());
}

#[test]
fn a_malformed_key_is_refused_by_name() {
    let c = case(3);
    let bad = c.file("bad.key");
    std::fs::write(&bad, "PRIVATE+KEY+jishi.example/log+4dd1d49c+not*base64").unwrap();
    let (code, out) = c.run(&["checkpoint", "--key", s(&bad)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a jishi private key"), "{out}");
    let export = c.file("x.json");
    std::fs::write(&export, "{}").unwrap();
    let (code, out) = c.run(&["verify-export", s(&export), "--key", "log+0000+@@@"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a public key"), "{out}");
}

#[test]
fn malformed_checkpoint_text_and_a_wrong_log_key_are_refused_and_nothing_is_remembered() {
    let c = case(4);
    let state = c.file("w.state");
    let cosign = |file: &std::path::Path, log_pub: &std::path::Path| {
        c.run(&[
            "cosign",
            s(file),
            "--key",
            s(&c.witness_key),
            "--log-key",
            s(log_pub),
            "--state",
            s(&state),
        ])
    };
    let bad = c.file("bad.note");
    // A well-formed signature line (4-byte key id and 64 bytes) over a bad body.
    let sig = format!("{}AAA=", "AAAA".repeat(22));
    let bad_root = format!("jishi.example/log\n4\nroot\n\n— jishi.example/log {sig}\n");
    for (text, want) in [
        ("jishi.example/log\n4\n", "not a signed note"),
        (
            bad_root.as_str(),
            "not a checkpoint: the root hash (third line) decodes to 3 bytes",
        ),
        (
            "jishi.example/log\n4\nAAAA\n\n— jishi.example/log !!!notbase64\n",
            "not a signed note",
        ),
    ] {
        std::fs::write(&bad, text).unwrap();
        let (code, out) = cosign(&bad, &c.log_pub);
        assert_ne!(code, 0, "{out}");
        assert!(out.contains(want), "{want:?} in {out}");
        assert!(!state.exists());
    }
    // A checkpoint signed by the log, checked against the witness's own key
    // as if it were the log's: refused.
    let signed = c.file("cp.signed");
    let (code, out) = c.run(&["checkpoint", "--key", s(&c.log_key), "--out", s(&signed)]);
    assert_eq!(code, 0, "{out}");
    let (code, out) = cosign(&signed, &c.witness_pub);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("REFUSED to cosign: the checkpoint is not validly signed by the log key"),
        "{out}"
    );
    assert!(!state.exists());
    let (code, out) = cosign(&signed, &c.log_pub);
    assert_eq!(code, 0, "{out}");
    assert!(state.exists());
}

#[test]
fn proofs_beyond_the_tree_are_refused() {
    let c = case(5);
    let (code, out) = c.run(&["prove", "6"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("position 6 is not in a tree of size 5"),
        "{out}"
    );
    let (code, out) = c.run(&["prove", "0"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("positions start at 1"), "{out}");
    let (code, out) = c.run(&["prove", "2", "--size", "9"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("tree size 9 is beyond the ledger's tree, which holds 5"),
        "{out}"
    );
    let (code, out) = c.run(&["prove-consistency", "4", "2"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("first size (4) to be at most the second (2)"),
        "{out}"
    );
}

#[test]
fn export_needs_a_covering_checkpoint_and_writes_nothing_without_one() {
    let c = case(5);
    let (code, out, file) = c.export("case.json", "candidate/c1");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("run `jishi checkpoint` first"), "{out}");
    assert!(!file.exists());
    let (code, out, _) = c.export("none.json", "candidate/nobody");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no events to export"), "{out}");
}

#[test]
fn proofs_round_trip_through_verify_proof() {
    let c = case(6);
    let first = c.checkpoint_and_cosign("cp1");
    proofs_support::rt().block_on(async {
        c.fx.store
            .append(proofs_support::common::request(
                "candidate/c9",
                jishi_ledger::ExpectedVersion::Any,
                3,
            ))
            .await
            .unwrap();
    });
    let second = c.checkpoint_and_cosign("cp2");
    let write = |name: &str, args: &[&str]| {
        let (code, out) = c.run(args);
        assert_eq!(code, 0, "{out}");
        let json: String = out
            .lines()
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n");
        let p = c.file(name);
        std::fs::write(&p, json).unwrap();
        p
    };
    let incl = write("incl.json", &["prove", "4", "--size", "6"]);
    let (code, out) = c.run(&[
        "verify-proof",
        s(&incl),
        "--checkpoint",
        s(&first),
        "--key",
        s(&c.log_pub),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok: position 4"), "{out}");
    // Against the later checkpoint the sizes differ: named, with the fix.
    let (code, out) = c.run(&[
        "verify-proof",
        s(&incl),
        "--checkpoint",
        s(&second),
        "--key",
        s(&c.log_pub),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("jishi prove 4 --size 9"), "{out}");
    // A wrong root given by hand.
    let (code, out) = c.run(&["verify-proof", s(&incl), "--root", &"ab".repeat(32)]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    let (code, out) = c.run(&["verify-proof", s(&incl), "--root", "xyz"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("--root: a digest is 64 lowercase hex digits"),
        "{out}"
    );

    let cons = write("cons.json", &["prove-consistency", "6", "9"]);
    let (code, out) = c.run(&[
        "verify-proof",
        s(&cons),
        "--checkpoint",
        s(&first),
        "--checkpoint",
        s(&second),
        "--key",
        s(&c.log_pub),
        "--key",
        s(&c.witness_pub),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("extends the tree of size 6"), "{out}");
    // A checkpoint text that was edited no longer opens.
    let edited = c.file("edited.note");
    std::fs::write(
        &edited,
        std::fs::read_to_string(&first)
            .unwrap()
            .replacen("\n6\n", "\n5\n", 1),
    )
    .unwrap();
    let (code, out) = c.run(&[
        "verify-proof",
        s(&incl),
        "--checkpoint",
        s(&edited),
        "--key",
        s(&c.log_pub),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signature"), "{out}");
    std::fs::write(&incl, "{\"leaf_index\": 1}").unwrap();
    let (code, out) = c.run(&["verify-proof", s(&incl), "--root", &"ab".repeat(32)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not a proof printed by jishi prove"), "{out}");
}
