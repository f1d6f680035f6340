//! A forger who rewrites history and recomputes every later hash passes the
//! linear chain; the checkpoints (stored, cosigned, carried in exports) are
//! what catch it. Also a cut-off tail.

mod proofs_support;

use proofs_support::{case, delete_checkpoints, rebuild_tree, reseal_from, s};

/// The forger rewrites event 5 of 10 and every later hash; `tree` says
/// whether they also rebuild the stored tree nodes and frontier.
fn rewritten_history(tree: bool) {
    let c = case(10);
    let cosigned = c.checkpoint_and_cosign("cp1");
    let (code, out, before) = c.export("before.json", "candidate/c1");
    assert_eq!(code, 0, "{out}");

    reseal_from(&c.fx.path, 5);
    if tree {
        rebuild_tree(&c.fx.path);
    }

    // The chain alone is perfect; the checkpoint of size 10 is not.
    let (code, out) = c.run(&["verify"]);
    proofs_support::common::assert_rewrite_caught(code, &out, tree);
    let (code, out) = c.run(&["verify", "--json"]);
    assert_eq!(code, 3);
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert!(v["fault"].is_null(), "{v}");
    assert_eq!(v["tree"]["checkpoint_fault"]["size"], 10);

    // The log refuses to sign the rewritten ledger while the old checkpoint
    // is there; a forger who also deletes it gets a signature (they hold the
    // log's key), but the witness refuses: not consistent with what it cosigned.
    let (code, out) = c.run(&["checkpoint", "--key", s(&c.log_key)]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("refusing to sign"), "{out}");
    delete_checkpoints(&c.fx.path);
    let forged_cp = c.file("forged.signed");
    let (code, out) = c.run(&["checkpoint", "--key", s(&c.log_key), "--out", s(&forged_cp)]);
    if tree {
        assert_eq!(code, 0, "{out}");
        let state_before = std::fs::read(c.witness_key.with_extension("key.state.json")).unwrap();
        let (code, out) = c.run(&[
            "cosign",
            s(&forged_cp),
            "--key",
            s(&c.witness_key),
            "--log-key",
            s(&c.log_pub),
        ]);
        assert_eq!(code, 3, "{out}");
        assert!(
            out.contains("REFUSED to cosign: the checkpoint of size 10 is not consistent with the cosigned one of size 10"),
            "{out}"
        );
        let state_after = std::fs::read(c.witness_key.with_extension("key.state.json")).unwrap();
        assert_eq!(
            state_before, state_after,
            "a refusal must not change the witness's state"
        );
    } else {
        // The stale tree still betrays the forgery: nothing is signed.
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("Merkle tree"), "{out}");
        assert!(!forged_cp.exists());
    }

    // The export made before still verifies, offline; one made now fails.
    let (code, out) = c.verify_export(&before);
    assert_eq!(code, 0, "{out}");
    let c_old = std::fs::read_to_string(&cosigned).unwrap();
    let before_json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&before).unwrap()).unwrap();
    assert_eq!(before_json["checkpoint"], c_old.as_str());
    // Put the old cosigned checkpoint back (as the witness holds it) and
    // export again: the rewritten events no longer prove into it.
    std::fs::write(c.file("old.note"), &c_old).unwrap();
    let store = jishi_ledger::SqliteStore::open(&c.fx.path).unwrap();
    let saved = proofs_support::rt()
        .block_on(async { jishi_ledger::ProofStore::save_checkpoint(&store, &c_old).await });
    if tree {
        // The rebuilt tree has another root at size 10: the store refuses it.
        assert!(saved.is_err());
    } else {
        saved.unwrap();
        let (code, out, after) = c.export("after.json", "candidate/c1");
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("does not verify against checkpoint"), "{out}");
        let (code, out) = c.verify_export(&after);
        assert_eq!(code, 3, "{out}");
        // candidate/c1 holds positions 2, 5, 8: 5 was changed, 8 was resealed.
        assert!(out.contains("2 event check(s) failed"), "{out}");
        assert!(out.contains("(position 5): the inclusion proof"), "{out}");
        assert!(out.contains("(position 8): the inclusion proof"), "{out}");
    }
}

#[test]
fn a_rewritten_history_with_the_tree_left_stale_is_caught() {
    rewritten_history(false);
}

#[test]
fn a_rewritten_history_with_the_tree_rebuilt_is_caught() {
    rewritten_history(true);
}

/// With the tree rebuilt, an export made after the rewrite proves into the
/// forged tree; against the old checkpoint the investigator holds, it fails.
#[test]
fn an_export_after_a_perfect_rewrite_fails_against_the_old_checkpoint() {
    let c = case(10);
    c.checkpoint_and_cosign("cp1");
    reseal_from(&c.fx.path, 5);
    rebuild_tree(&c.fx.path);
    let (code, out, after) = c.export("after.json", "candidate/c1");
    // The store still holds the old checkpoint, so the export uses it.
    assert_eq!(code, 3, "{out}");
    let (code, out) = c.verify_export(&after);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("(position 5)"), "{out}");
    assert!(
        out.contains("the inclusion proof in the checkpoint of size 10 does not verify"),
        "{out}"
    );
}

/// Cutting off the tail leaves a valid shorter chain; the checkpoint of the
/// longer ledger catches it, whether or not the tree was cut too.
#[test]
fn a_truncated_ledger_is_caught_by_the_last_checkpoint() {
    for cut_tree in [false, true] {
        let c = case(10);
        c.checkpoint_and_cosign("cp1");
        proofs_support::common::dba(&c.fx.path)
            .execute("DELETE FROM events WHERE position > 8", [])
            .unwrap();
        if cut_tree {
            rebuild_tree(&c.fx.path);
        }
        let (code, out) = c.run(&["verify"]);
        assert_eq!(code, 3, "{out}");
        assert!(out.contains("the hash chain of 8 events verifies"), "{out}");
        assert!(
            out.contains(
                "checkpoint #1 of size 10: it covers 10 events but the ledger now holds 8"
            ),
            "{out}"
        );
        assert_eq!(
            out.contains("the stored frontier is for 10 events but the ledger holds 8"),
            !cut_tree,
            "{out}"
        );
    }
}

/// `verify --since-checkpoint` on `c` (exit code, all output).
fn since(c: &proofs_support::Case) -> (i32, String) {
    c.run(&["verify", "--since-checkpoint"])
}

/// A checkpoint at 10 events, then 5 more on the same streams.
fn checkpointed_then_grown() -> proofs_support::Case {
    let c = case(10);
    c.checkpoint_and_cosign("cp1");
    proofs_support::rt().block_on(proofs_support::common::append_candidates(
        &*c.fx.store,
        10,
        5,
    ));
    c
}

/// The daily check: only the 5 rows after the checkpoint, anchored on it,
/// and it says what it left out.
#[test]
fn since_checkpoint_checks_the_new_rows_and_says_what_it_did_not() {
    let c = checkpointed_then_grown();
    let (code, out) = since(&c);
    proofs_support::common::assert_since_ok(code, &out, 10, 15);
    let (code, out) = c.run(&["verify", "--since-checkpoint", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(v["checked"], 5);
    assert_eq!(v["checkpoint"]["size"], 10);
}

/// A payload changed after the checkpoint is named at its position.
#[test]
fn since_checkpoint_names_tampering_after_the_checkpoint() {
    let c = checkpointed_then_grown();
    let conn = proofs_support::common::dba(&c.fx.path);
    conn.execute(
        "UPDATE events SET payload = payload || ' ' WHERE position = 13",
        [],
    )
    .unwrap();
    proofs_support::common::restore_triggers(&conn);
    let (code, out) = since(&c);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: first bad position 13: payload changed"),
        "{out}"
    );
    // Resealed by the forger (hashes and links recomputed from 13 on): the
    // rows chain, but the stored tree no longer holds them.
    reseal_from(&c.fx.path, 13);
    proofs_support::common::restore_triggers(&proofs_support::common::dba(&c.fx.path));
    let (code, out) = since(&c);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: Merkle tree: the stored tree's root at size 15"),
        "{out}"
    );
}

/// History rewritten before the checkpoint, tree rebuilt to match: the
/// stored tree is no longer the checkpoint's, and the check stops at its
/// last event.
#[test]
fn since_checkpoint_fails_when_the_tree_is_not_consistent_with_the_checkpoint() {
    let c = checkpointed_then_grown();
    reseal_from(&c.fx.path, 5);
    rebuild_tree(&c.fx.path);
    proofs_support::common::restore_triggers(&proofs_support::common::dba(&c.fx.path));
    let (code, out) = since(&c);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("FAILED: first bad position 10: chain broken: the event stored here, or the stored tree's proof for it, is not what checkpoint #"),
        "{out}"
    );
    // With no checkpoint left there is nothing to start from.
    delete_checkpoints(&c.fx.path);
    proofs_support::common::restore_triggers(&proofs_support::common::dba(&c.fx.path));
    let (code, out) = since(&c);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.contains("nothing checked: the ledger stores no checkpoint"),
        "{out}"
    );
}
