//! Issue 16, item 7: one person followed across elections by a keyed hash
//! of the id number, never the number in clear (domain decision 30).
//! - The number appears nowhere in the ledger file.
//! - `jishi person` finds both candidacies with the key, and none with
//!   another key.
//! - A mistyped number is refused, naming the field, with nothing written.
//! - A number without the key, or on another step, is refused.
//! - The same person twice in one election is refused.
//! - A number typed into the JSON as a field is refused by the catalogue.

mod common;

use std::path::Path;

use common::{jishi, text};

const ACTOR: &str = "id=zw01,name=张伟,role=organisation_department,org=天元区";
const ID: &str = "11010119900307109X";

fn run(db: &Path, args: &[&str]) -> (i32, String) {
    let mut all = args.to_vec();
    all.extend(["--actor", ACTOR]);
    let out = jishi(db, &all, None);
    (out.status.code().unwrap_or(-1), text(&out))
}

fn nomination(extra: &str) -> String {
    format!(
        r#"{{"name":"李明","sex":"male","birth_date":"1990-03-07","current_post":"副镇长",
        "township_work_years":5,"exchanged":false,"incumbent":false,
        "election_committee_member":false,"method":"meeting","nominator_id":"n1",
        "nominator_name":"镇党委"{extra}}}"#
    )
}

fn open(db: &Path, election: &str, year: &str) {
    let opened = r#"{"unit_id":"qs","unit_name":"青山镇","unit_org":"天元区/青山镇","body":"镇党委委员","kind":"township_party_committee","seats":7,"term":"2021-2026","election_committee":[]}"#;
    let at = format!("{year}-03-01T09:00:00+08:00");
    let (code, out) = run(
        db,
        &[
            "record",
            "election.opened",
            "--election",
            election,
            "--at",
            &at,
            "--json",
            opened,
        ],
    );
    assert_eq!(code, 0, "{out}");
    let at = format!("{year}-03-02T09:00:00+08:00");
    let (code, out) = run(
        db,
        &[
            "record",
            "pledge.signed",
            "--election",
            election,
            "--at",
            &at,
            "--json",
            r#"{"signer_category":"党委委员","signer_count":9}"#,
        ],
    );
    assert_eq!(code, 0, "{out}");
}

fn nominate(db: &Path, election: &str, year: &str, candidate: &str, key: &Path) -> (i32, String) {
    let at = format!("{year}-03-05T09:00:00+08:00");
    let json = nomination("");
    run(
        db,
        &[
            "record",
            "candidate.nominated",
            "--election",
            election,
            "--candidate",
            candidate,
            "--at",
            &at,
            "--id-number",
            ID,
            "--person-key",
            key.to_str().expect("path"),
            "--json",
            &json,
        ],
    )
}

fn head(db: &Path) -> String {
    text(&jishi(db, &["head", "--json"], None))
}

#[test]
fn a_person_is_followed_across_elections_by_a_keyed_hash_only() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("l.db");
    let key = dir.path().join("person.key");
    let other_key = dir.path().join("other.key");
    assert!(jishi(&db, &["init"], None).status.success());
    for k in [&key, &other_key] {
        let out = jishi(
            &db,
            &["person-key", "new", "--out", k.to_str().expect("path")],
            None,
        );
        assert!(out.status.success(), "{}", text(&out));
    }
    // A key is never overwritten.
    let out = jishi(
        &db,
        &["person-key", "new", "--out", key.to_str().expect("path")],
        None,
    );
    assert!(!out.status.success());

    open(&db, "qingshan-2021", "2021");
    open(&db, "tianyuan-county-2026", "2026");
    let (code, out) = nominate(&db, "qingshan-2021", "2021", "c-07", &key);
    assert_eq!(code, 0, "{out}");
    let (code, out) = nominate(&db, "tianyuan-county-2026", "2026", "c-31", &key);
    assert_eq!(code, 0, "{out}");

    // The number is nowhere in the ledger file, in any form.
    let bytes = std::fs::read(&db).expect("ledger");
    for needle in [ID, "11010119900307109x", "110101199003071"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the ledger"
        );
    }

    // With the key, both candidacies are found, in time order.
    let k = key.to_str().expect("path");
    let out = jishi(
        &db,
        &["person", "--id-number", ID, "--person-key", k, "--json"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let found: Vec<(String, String)> = v["selections"]
        .as_array()
        .expect("selections")
        .iter()
        .map(|s| {
            (
                s["election_id"].as_str().unwrap_or_default().to_string(),
                s["candidate_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [
            ("qingshan-2021".to_string(), "c-07".to_string()),
            ("tianyuan-county-2026".to_string(), "c-31".to_string())
        ]
    );
    // The same by the reference, and nothing under another key.
    let r = v["person_ref"].as_str().expect("ref").to_string();
    assert!(r.starts_with("p1:") && r.len() == 67, "{r}");
    let table = text(&jishi(&db, &["person", "--ref", &r], None));
    assert!(table.contains("2 selection(s)"), "{table}");
    let o = other_key.to_str().expect("path");
    let none = text(&jishi(
        &db,
        &["person", "--id-number", ID, "--person-key", o],
        None,
    ));
    assert!(none.contains("0 selection(s)"), "{none}");

    // Refusals, each naming why, none writing anything.
    let before = head(&db);
    let json = nomination("");
    let base = |id: &str, cand: &str| {
        vec![
            "record".to_string(),
            "candidate.nominated".to_string(),
            "--election".to_string(),
            "qingshan-2021".to_string(),
            "--candidate".to_string(),
            cand.to_string(),
            "--at".to_string(),
            "2021-03-05T10:00:00+08:00".to_string(),
            "--id-number".to_string(),
            id.to_string(),
            "--json".to_string(),
            json.clone(),
        ]
    };
    let with_key = |mut a: Vec<String>| {
        a.extend(["--person-key".to_string(), k.to_string()]);
        a
    };
    for (args, words) in [
        (
            with_key(base("110101199003071091", "c-08")),
            "--id-number: the id number's check character is 1",
        ),
        (
            with_key(base("1101011990030710", "c-08")),
            "--id-number: an id number has 18 characters",
        ),
        (base(ID, "c-08"), "--id-number needs --person-key"),
        (
            with_key(base(ID, "c-08")),
            "field `person_ref`: this person is already candidate \"c-07\"",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out) = run(&db, &args);
        assert_ne!(code, 0, "{args:?}: {out}");
        assert!(out.contains(words), "{words}: {out}");
        assert_eq!(head(&db), before, "{args:?} wrote something");
    }
    // The number as a field of its own is not in the catalogue.
    let (code, out) = run(
        &db,
        &[
            "record",
            "candidate.nominated",
            "--election",
            "qingshan-2021",
            "--candidate",
            "c-09",
            "--at",
            "2021-03-05T10:00:00+08:00",
            "--json",
            &nomination(&format!(r#","id_number":"{ID}""#)),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("id_number"), "{out}");
    // Nor is a number passed off as a reference.
    let (code, out) = run(
        &db,
        &[
            "record",
            "candidate.nominated",
            "--election",
            "qingshan-2021",
            "--candidate",
            "c-09",
            "--at",
            "2021-03-05T10:00:00+08:00",
            "--json",
            &nomination(&format!(r#","person_ref":"{ID}""#)),
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("person_ref"), "{out}");
    // --id-number on another step.
    let (code, out) = run(
        &db,
        &[
            "record",
            "pledge.signed",
            "--election",
            "qingshan-2021",
            "--id-number",
            ID,
            "--person-key",
            k,
            "--json",
            r#"{"signer_category":"党委委员","signer_count":9}"#,
        ],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("only candidate.nominated carries a person"),
        "{out}"
    );
    assert_eq!(head(&db), before);
}
