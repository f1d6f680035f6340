//! The recording key from the command line (D69): the forgery (a
//! decision appended by SQL with a correct chain) is named by `jishi
//! verify`; writes need the ledger's current key; rotation and a key
//! declared compromised, as an operator does them.

mod common;

use common::{jishi, text};

fn ok(db: &std::path::Path, args: &[&str]) -> String {
    let out = jishi(db, args, None);
    assert!(out.status.success(), "jishi {args:?}: {}", text(&out));
    text(&out)
}

const ACTOR: &str = "id=zw01,name=张伟,role=organisation_department,org=天元区";

#[test]
fn a_decision_appended_by_sql_is_named_and_no_write_covers_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    ok(&db, &["demo", "--townships", "6"]);
    assert!(dir.path().join("l.db.recording-key").exists());
    let head: serde_json::Value =
        serde_json::from_str(&ok(&db, &["head", "--json"])).expect("head json");
    let position = head["position"].as_u64().expect("position");
    // When the DBA appends a decision whose hash chains onto the head
    let prepared = jishi_ledger::prepare::prepare(
        common::event("committee.decided", serde_json::json!({"决定": "任用"})),
        chrono::Utc::now(),
    )
    .unwrap();
    let hash: jishi_ledger::Digest = head["hash"].as_str().unwrap().parse().unwrap();
    let forged = jishi_ledger::store::seal(
        "election/forged",
        1,
        &prepared,
        position + 1,
        (hash, jishi_ledger::Digest::ZERO),
        head["recorded_at"].as_str().unwrap().to_string(),
    );
    common::dba(&db)
        .execute(
            "INSERT INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
            rusqlite::params![
                forged.position as i64,
                forged.stream,
                1i64,
                forged.event_id.to_string(),
                forged.event_type,
                1i64,
                forged.occurred_at,
                forged.recorded_at,
                forged.actor.id,
                forged.actor.name,
                forged.actor.role,
                forged.actor.org,
                forged.payload.as_str(),
                &forged.payload_digest.0[..],
                &forged.prev_hash.0[..],
                &forged.hash.0[..],
                &jishi_ledger::Digest::ZERO.0[..]
            ],
        )
        .unwrap();
    // Then verify names it, with exit 3
    let out = jishi(&db, &["verify"], None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let want = format!(
        "first bad position {}: not attested: no attestation covers position {}",
        position + 1,
        position + 1
    );
    assert!(text(&out).contains(&want), "{}", text(&out));
    // And the next honest write is refused, nothing written
    let out = jishi(
        &db,
        &[
            "append", "--stream", "book/x", "--type", "a.b", "--actor", ACTOR,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("covered by no attestation"),
        "{}",
        text(&out)
    );
    // (`head` warns on stderr that the tree does not adopt the row)
    let out = jishi(&db, &["head", "--json"], None);
    let after: serde_json::Value = serde_json::from_slice(&out.stdout).expect("head json");
    assert_eq!(after["position"].as_u64(), Some(position + 1));
}

#[test]
fn writes_need_the_current_key_and_rotation_and_compromise_are_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    ok(&db, &["init"]);
    let append = |extra: &[&str]| {
        let mut args = extra.to_vec();
        args.extend([
            "append", "--stream", "book/x", "--type", "a.b", "--actor", ACTOR,
        ]);
        jishi(&db, &args, None)
    };
    assert!(append(&[]).status.success());
    // Without the key file: refused
    let elsewhere = dir.path().join("nowhere.key");
    let out = append(&["--recording-key", elsewhere.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no such file"), "{}", text(&out));
    // With another key: refused
    let other = dir.path().join("other.key");
    ok(
        &db,
        &["keygen", "someone.else", "--out", other.to_str().unwrap()],
    );
    let out = append(&["--recording-key", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("current recording key is"),
        "{}",
        text(&out)
    );
    // Rotation to an SM2 key: the old key is refused afterwards, the new one writes
    let new = dir.path().join("new.key");
    let old_vkey = ok(&db, &["recording-key", "show"])
        .lines()
        .next()
        .unwrap()
        .trim_end_matches(" (current)")
        .to_string();
    ok(
        &db,
        &[
            "recording-key",
            "rotate",
            "--out",
            new.to_str().unwrap(),
            "--suite",
            "sm2-sm3",
        ],
    );
    let out = append(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("was the key rotated?"),
        "{}",
        text(&out)
    );
    assert!(append(&["--recording-key", new.to_str().unwrap()])
        .status
        .success());
    // A compromise of the old key from position 2 flags what it signed
    ok(
        &db,
        &[
            "--recording-key",
            new.to_str().unwrap(),
            "recording-key",
            "compromised",
            "--key",
            &old_vkey,
            "--from-position",
            "2",
            "--reason",
            "the laptop holding it was lost",
        ],
    );
    let out = ok(&db, &["verify", "--expect-key", &old_vkey]);
    assert!(
        out.contains("ok: every row is attested by the recording key (2 key(s)"),
        "{out}"
    );
    // A history is only the expected one if it starts from the expected key
    let other_pub = dir.path().join("other.key.pub");
    let wrong = jishi(
        &db,
        &["verify", "--expect-key", other_pub.to_str().unwrap()],
        None,
    );
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong));
    assert!(
        text(&wrong).contains("this history was written under another key"),
        "{}",
        text(&wrong)
    );
    assert!(
        out.contains(&format!(
            "FLAGGED: positions 2 to 3 were attested by {old_vkey}, declared compromised at \
             position 5: the laptop holding it was lost"
        )),
        "{out}"
    );
}
