//! `jishi record` holds its numbers to the rule of `append` and `import`
//! (D44): one whose value canonicalisation would change is refused, naming
//! the field, through `--json` and through `--set`, and nothing is written.

mod common;

use common::{jishi, text};

#[test]
fn record_refuses_a_number_whose_value_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("l.db");
    assert!(jishi(&db, &["init"], None).status.success());
    // `init` records the recording key's registration; nothing after it.
    let head =
        |db| String::from_utf8_lossy(&jishi(db, &["head", "--json"], None).stdout).into_owned();
    let before = head(&db);
    assert!(before.contains("\"position\":1"), "{before}");
    let base = [
        "record",
        "election.opened",
        "--election",
        "qingshan-2021",
        "--actor",
        "id=zw01,name=张伟,role=organisation_department,org=天元区",
    ];
    for (extra, words) in [
        (
            vec!["--json", r#"{"last_term_differential_ratio": 1e-400}"#],
            "--json: last_term_differential_ratio: the number 1e-400 would be stored as 0",
        ),
        (
            vec!["--set", "last_term_differential_ratio=-0"],
            "--set last_term_differential_ratio: the number -0 would be stored as 0",
        ),
    ] {
        let mut args = base.to_vec();
        args.extend(extra.iter().copied());
        let out = jishi(&db, &args, None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(text(&out).contains(words), "{args:?}: {}", text(&out));
        assert_eq!(head(&db), before, "{args:?} wrote something");
    }
}
