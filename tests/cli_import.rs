//! `jishi import` plans the whole file against the ledger before it writes:
//! `--dry-run` refuses what a real import would refuse, and a refusal that
//! can be foreseen writes nothing, whatever the batch size.

mod common;

use std::path::Path;

use common::{jishi, text};

const ACTOR: &str = r#""actor":{"id":"zw01","name":"张伟","role":"organisation_department","org":"天元区委组织部"}"#;

fn event(stream: &str, extra: &str) -> String {
    format!(
        r#"{{"stream":"{stream}","event_type":"step.recorded","payload":{{"n":1}}{extra},{ACTOR}}}"#
    )
}

/// A ledger with two events, so that "nothing written" is a head that did not move.
fn ledger() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let seed = dir.path().join("seed.jsonl");
    std::fs::write(
        &seed,
        format!("{}\n{}\n", event("seed/a", ""), event("seed/a", "")),
    )
    .unwrap();
    let out = jishi(&db, &["import", seed.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    (dir, db)
}

fn head(db: &Path) -> String {
    let out = jishi(db, &["head", "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// The issue's file: 1,000 lines over 50 streams, and line 750 expects "none"
/// of a stream that lines before it created.
fn file_with_a_late_conflict(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for n in 1..=1000 {
        let stream = format!("book/s{}", n % 50);
        let extra = if n == 750 {
            r#","expected_version":"none""#
        } else {
            ""
        };
        text.push_str(&event(&stream, extra));
        text.push('\n');
    }
    let file = dir.join("late.jsonl");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn dry_run_and_every_batch_size_refuse_a_late_conflict_and_write_nothing() {
    let (dir, db) = ledger();
    let file = file_with_a_late_conflict(dir.path());
    let file = file.to_str().unwrap();
    let before = head(&db);
    for args in [
        vec!["import", "--dry-run", file],
        vec!["import", "--batch-size", "100", file],
        vec!["import", file],
    ] {
        let out = jishi(&db, &args, None);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {msg}");
        assert!(msg.contains("line 750"), "{args:?}: {msg}");
        assert!(
            msg.contains("expected no stream, but the stream is at version"),
            "{args:?}: {msg}"
        );
        assert!(msg.contains("nothing was written"), "{args:?}: {msg}");
        assert_eq!(head(&db), before, "{args:?} moved the head");
    }
}

#[test]
fn dry_run_accepts_what_a_real_import_writes() {
    let (dir, db) = ledger();
    let file = dir.path().join("ok.jsonl");
    let lines: Vec<String> = (0..5)
        .map(|v| event("book/x", &format!(r#","expected_version":{v}"#)))
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let file = file.to_str().unwrap();
    let before = head(&db);
    let out = jishi(&db, &["import", "--dry-run", file], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("5 new at positions 4–8"),
        "{}",
        text(&out)
    );
    assert_eq!(head(&db), before);
    let out = jishi(&db, &["import", "--batch-size", "2", file], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("positions 4–8"), "{}", text(&out));
}

#[test]
fn an_event_id_repeated_within_the_file_is_named_as_such() {
    let (dir, db) = ledger();
    let id = r#","event_id":"0190f1c2-0000-7000-8000-000000000019""#;
    let mut lines: Vec<String> = (1..=45).map(|n| event(&format!("book/r{n}"), "")).collect();
    lines[18] = event("book/r19", id);
    // Same id, other content: before, the store planned line 19 and then
    // answered line 40 with "already stored at position …".
    lines[39] = event("book/r40", id);
    let file = dir.path().join("repeat.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let before = head(&db);
    for dry in [true, false] {
        let mut args = vec!["import", file.to_str().unwrap()];
        if dry {
            args.push("--dry-run");
        }
        let out = jishi(&db, &args, None);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "{msg}");
        assert!(
            msg.contains("line 40: repeats the event_id of line 19"),
            "{msg}"
        );
        assert!(!msg.contains("already stored"), "{msg}");
        assert_eq!(head(&db), before);
    }
}
