//! Bad input to `jishi append` and `jishi import`: each case gives a message
//! naming the line or field and the reason, exit code 1, and writes nothing
//! (the head hash is the same before and after).

mod common;

use std::path::Path;

use common::{jishi, text};

const ACTOR: &str = r#""actor":{"id":"zw01","name":"张伟","role":"organisation_department","org":"天元区委组织部"}"#;

fn line(body: &str) -> String {
    format!("{{{body},{ACTOR}}}")
}

fn good(stream: &str) -> String {
    line(&format!(
        r#""stream":"{stream}","event_type":"candidate.nominated","payload":{{"姓名":"李明"}}"#
    ))
}

/// A ledger with two events on `book/e1`.
fn ledger() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let file = dir.path().join("seed.jsonl");
    std::fs::write(&file, format!("{}\n{}\n", good("book/e1"), good("book/e1"))).unwrap();
    let out = jishi(&db, &["import", file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", text(&out));
    (dir, db)
}

fn head(db: &Path) -> String {
    let out = jishi(db, &["head", "--json"], None);
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

/// (case, file contents as bytes, words the message must contain)
fn cases() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let big = "x".repeat(1024 * 1024 + 1);
    vec![
        (
            "malformed JSON",
            format!("{}\n{{\"stream\": \"a\",\n", good("s")).into_bytes(),
            vec!["line 2", "json: malformed JSON"],
        ),
        (
            "missing field",
            format!(
                "{}\n{}\n",
                good("s"),
                line(r#""stream":"s","payload":{}"#)
            )
            .into_bytes(),
            vec!["line 2", "event_type: is required"],
        ),
        (
            "non-object payload",
            line(r#""stream":"s","event_type":"a.b","payload":"李明""#).into_bytes(),
            vec!["line 1", "payload: must be a JSON object, got a string"],
        ),
        (
            "unknown stream-version expectation",
            line(r#""stream":"s","event_type":"a.b","payload":{},"expected_version":"latest""#)
                .into_bytes(),
            vec!["line 1", "expected_version", "unknown stream-version expectation \"latest\""],
        ),
        (
            "wrong expected version",
            format!(
                "{}\n{}\n",
                good("book/e2"),
                line(r#""stream":"book/e1","event_type":"a.b","payload":{},"expected_version":5"#)
            )
            .into_bytes(),
            vec!["line 2", "expected version 5, but the stream is at version 2", "nothing was written"],
        ),
        (
            "oversize payload",
            line(&format!(r#""stream":"s","event_type":"a.b","payload":{{"scan":"{big}"}}"#))
                .into_bytes(),
            vec!["line 1", "payload: is 1048588 bytes", "more than the limit of 1048576"],
        ),
        (
            "invalid UTF-8",
            {
                let mut b = format!("{}\n", good("s")).into_bytes();
                b.extend_from_slice(b"{\"stream\":\"\xff\xfe\"}\n");
                b
            },
            vec!["line 2", "invalid UTF-8 at byte 11"],
        ),
        (
            "duplicate member",
            line(r#""stream":"s","stream":"t","event_type":"a.b","payload":{}"#).into_bytes(),
            vec!["line 1", "duplicate member name \"stream\""],
        ),
        (
            "misspelt member",
            line(r#""stream":"s","event_type":"a.b","payload":{},"occured_at":"2021-01-01T00:00:00Z""#)
                .into_bytes(),
            vec!["line 1", "occured_at: unknown member"],
        ),
        (
            "bad time",
            line(r#""stream":"s","event_type":"a.b","payload":{},"occurred_at":"5 March 2021""#)
                .into_bytes(),
            vec!["line 1", "occurred_at", "is not an RFC 3339 time"],
        ),
        (
            "missing actor",
            br#"{"stream":"s","event_type":"a.b","payload":{}}"#.to_vec(),
            vec!["line 1", "actor: is required"],
        ),
    ]
}

#[test]
fn import_refuses_bad_input_and_writes_nothing() {
    let (dir, db) = ledger();
    let before = head(&db);
    for (name, bytes, words) in cases() {
        let file = dir.path().join("bad.jsonl");
        std::fs::write(&file, &bytes).unwrap();
        let out = jishi(&db, &["import", file.to_str().unwrap()], None);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {msg}");
        for w in words {
            assert!(msg.contains(w), "{name}: expected {w:?} in: {msg}");
        }
        assert_eq!(head(&db), before, "{name}: the ledger changed");
    }
}

#[test]
fn append_refuses_bad_input_and_writes_nothing() {
    let (_dir, db) = ledger();
    let before = head(&db);
    for (name, bytes, words) in cases() {
        // `append` reads one event; take the case's last line.
        let last = bytes
            .split(|b| *b == b'\n')
            .rfind(|l| !l.is_empty())
            .unwrap()
            .to_vec();
        let out = jishi(&db, &["append"], Some(&last));
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "{name}: {msg}");
        let field_words: Vec<_> = words.iter().filter(|w| !w.starts_with("line ")).collect();
        if name != "invalid UTF-8" && name != "wrong expected version" {
            for w in field_words {
                assert!(msg.contains(*w), "{name}: expected {w:?} in: {msg}");
            }
        }
        assert_eq!(head(&db), before, "{name}: the ledger changed");
    }
    // From flags.
    for (args, word) in [
        (
            vec![
                "append",
                "--stream",
                "s",
                "--type",
                "a.b",
                "--payload",
                "[1]",
                "--actor",
                "id=1,name=n,role=r,org=o",
            ],
            "payload: must be a JSON object",
        ),
        (
            vec![
                "append",
                "--stream",
                "s",
                "--type",
                "a.b",
                "--actor",
                "id=1,name=n",
            ],
            "actor.role: is required",
        ),
        (
            vec![
                "append",
                "--stream",
                "book/e1",
                "--type",
                "a.b",
                "--expect",
                "1",
                "--actor",
                "id=1,name=n,role=r,org=o",
            ],
            "expected version 1, but the stream is at version 2",
        ),
        (
            vec![
                "append",
                "--stream",
                "s",
                "--type",
                "a.b",
                "--expect",
                "soon",
                "--actor",
                "id=1,name=n,role=r,org=o",
            ],
            "unknown stream-version expectation",
        ),
    ] {
        let out = jishi(&db, &args, None);
        let msg = text(&out);
        assert_eq!(out.status.code(), Some(1), "{msg}");
        assert!(msg.contains(word), "expected {word:?} in: {msg}");
        assert_eq!(head(&db), before);
    }
}

/// A conflict in a later batch is found when the whole file is planned,
/// before the first batch is written (D43); it used to leave the earlier
/// batches recorded.
#[test]
fn a_later_batch_conflict_is_found_before_any_batch_is_written() {
    let (dir, db) = ledger();
    let before = head(&db);
    let file = dir.path().join("two-batches.jsonl");
    let conflict =
        line(r#""stream":"book/e1","event_type":"a.b","payload":{},"expected_version":1"#);
    std::fs::write(&file, format!("{}\n{}\n{conflict}\n", good("x"), good("y"))).unwrap();
    let out = jishi(
        &db,
        &["import", file.to_str().unwrap(), "--batch-size", "2"],
        None,
    );
    let msg = text(&out);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
    assert!(msg.contains("nothing was written"), "{msg}");
    assert_eq!(head(&db), before);
}

#[test]
fn a_retried_import_records_nothing_twice() {
    let (dir, db) = ledger();
    let file = dir.path().join("ids.jsonl");
    let l = line(
        r#""stream":"s","event_type":"a.b","payload":{"n":1},"event_id":"0190f1c2-0000-7000-8000-00000000000a""#,
    );
    std::fs::write(&file, format!("{l}\n")).unwrap();
    for expect in ["1 new, 0 already recorded", "0 new, 1 already recorded"] {
        let out = jishi(&db, &["import", file.to_str().unwrap()], None);
        assert!(text(&out).contains(expect), "{}", text(&out));
    }
    // Position 1 is the recording key's registration (`jishi init`).
    assert!(head(&db).contains("\"position\":4"));
}

#[test]
fn commands_other_than_init_need_an_existing_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("typo.db");
    let out = jishi(&db, &["verify"], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no ledger at"), "{}", text(&out));
    assert!(!db.exists());
}

#[test]
fn domain_streams_need_jishi_record_or_raw() {
    let (dir, db) = ledger();
    let before = head(&db);
    let ev = line(
        r#""stream":"election/x/candidate/c1","event_type":"candidate.nominated","payload":{}"#,
    );
    let out = jishi(&db, &["append"], Some(ev.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("record its steps with `jishi record`"),
        "{}",
        text(&out)
    );
    let file = dir.path().join("domain.jsonl");
    std::fs::write(&file, format!("{ev}\n")).unwrap();
    let out = jishi(&db, &["import", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("line 1: stream:"), "{}", text(&out));
    assert_eq!(head(&db), before);
    let out = jishi(&db, &["append", "--raw"], Some(ev.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
}
