//! The read commands on a small demo ledger: tables, --json, --as-of, and a
//! candidate id that is in several elections.

use std::path::Path;
use std::process::{Command, Output};

fn jishi(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jishi"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("run jishi")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A demo ledger of 6 townships (seed 7), made once per test.
fn demo(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("d.db");
    let o = jishi(&db, &["demo", "--townships", "6", "--seed", "7"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    db
}

#[test]
fn trail_as_of_the_decision_lacks_the_later_petition_and_json_has_positions() {
    // Given the demo, where qingshan-2021's last going candidate got a petition after its decision
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo(dir.path());
    let check = jishi(&db, &["check", "qingshan-2021", "--json"]);
    assert!(check.status.success());
    let report: serde_json::Value = serde_json::from_slice(&check.stdout).expect("json");
    let finding = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["kind"] == "arrived_after_decision")
        .expect("arrived after decision")
        .clone();
    let candidate = finding["candidate_id"].as_str().expect("candidate");
    let decision = finding["evidence"][0].as_u64().expect("decision position");
    let received = finding["evidence"][1].as_u64().expect("received position");

    // When its trail is read today and as of the decision
    let today = jishi(
        &db,
        &["trail", candidate, "--election", "qingshan-2021", "--json"],
    );
    let then = jishi(
        &db,
        &[
            "trail",
            candidate,
            "--election",
            "qingshan-2021",
            "--as-of",
            &decision.to_string(),
            "--json",
        ],
    );

    // Then only today's has the petition
    let positions = |o: &Output| -> Vec<u64> {
        let t: serde_json::Value = serde_json::from_slice(&o.stdout).expect("trail json");
        t["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .filter_map(|r| r["position"].as_u64())
            .collect()
    };
    assert!(positions(&today).contains(&received));
    let then_positions = positions(&then);
    assert!(!then_positions.contains(&received));
    assert_eq!(then_positions.last(), Some(&decision));
}

#[test]
fn a_candidate_id_in_several_elections_needs_election_and_tables_have_both_languages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo(dir.path());

    // When c-01 (in every township) is asked for without --election
    let o = jishi(&db, &["accountability", "c-01"]);

    // Then it is refused, naming the elections
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("several elections") && err.contains("qingshan-2021"),
        "{err}"
    );

    // And with --election the chain names the nominator and the chair
    let o = jishi(
        &db,
        &["accountability", "c-01", "--election", "qingshan-2021"],
    );
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.contains("提名 nominated") && out.contains("青山镇党委"),
        "{out}"
    );
    assert!(out.contains("主持 qw-001"), "{out}");

    // And stats and candidates print their tables
    let o = jishi(&db, &["stats", "qingshan-2021", "baishi-2021"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("合计 total (2 teams)"),
        "{}",
        stdout(&o)
    );
    let o = jishi(&db, &["candidates", "qingshan-2021"]);
    assert!(o.status.success());
    assert!(stdout(&o).contains("deferred 暂缓"), "{}", stdout(&o));

    // And an unknown election or a bad --as-of are refused with the reason
    let o = jishi(&db, &["check", "nowhere-2021"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no event"));
    let o = jishi(&db, &["check", "qingshan-2021", "--as-of", "yesterday"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--as-of"));
}

/// Issue 16, item 4: "as of" by occurred time as well as by recorded time,
/// and each view names the clock it was cut by. The demo records a 2021
/// transition today: by recorded time, 2021-04-21 is before anything was
/// recorded; by occurred time it shows what had happened by then.
#[test]
fn as_of_reads_either_clock_and_says_which() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = demo(dir.path());
    let all: serde_json::Value = serde_json::from_slice(
        &jishi(
            &db,
            &["trail", "c-01", "--election", "qingshan-2021", "--json"],
        )
        .stdout,
    )
    .expect("json");
    let rows = all["rows"].as_array().expect("rows").len();
    let o = jishi(
        &db,
        &[
            "trail",
            "c-01",
            "--election",
            "qingshan-2021",
            "--as-of-occurred",
            "2021-04-21",
            "--json",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let cut = &v["as_of_occurred"];
    assert_eq!(cut["time"], "2021-04-21T23:59:59.999999+08:00");
    let shown = v["view"]["rows"].as_array().expect("rows");
    assert!(
        !shown.is_empty() && shown.len() < rows,
        "{} of {rows}",
        shown.len()
    );
    assert_eq!(cut["shown"].as_u64(), Some(shown.len() as u64));
    for r in shown {
        let at = r["occurred_at"].as_str().expect("occurred_at");
        assert!(at <= "2021-04-21T23:59:59.999999+08:00", "{at}");
    }
    // Every one of them was recorded later (the demo records today).
    assert_eq!(
        cut["recorded_later"].as_array().expect("positions").len(),
        shown.len()
    );
    // The table says which clock it read.
    let table = stdout(&jishi(
        &db,
        &[
            "trail",
            "c-01",
            "--election",
            "qingshan-2021",
            "--as-of-occurred",
            "2021-04-21",
        ],
    ));
    assert!(table.contains("按发生时间 by occurred time"), "{table}");
    assert!(table.contains("recorded only after it"), "{table}");
    // By recorded time the same date is before the ledger began, and the
    // table says it read the recorded time.
    let table = stdout(&jishi(
        &db,
        &[
            "trail",
            "c-01",
            "--election",
            "qingshan-2021",
            "--as-of",
            "2021-04-21",
        ],
    ));
    assert!(table.contains("按记录时间 by recorded time"), "{table}");
    assert!(table.contains("0 events"), "{table}");
    // The compliance check and the candidates list take it too.
    for cmd in [
        vec!["check", "qingshan-2021", "--as-of-occurred", "2021-04-21"],
        vec![
            "candidates",
            "qingshan-2021",
            "--as-of-occurred",
            "2021-04-21",
        ],
        vec!["stats", "qingshan-2021", "--as-of-occurred", "2021-04-21"],
    ] {
        let o = jishi(&db, &cmd);
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(stdout(&o).contains("by occurred time"), "{cmd:?}");
    }
    // Both clocks at once, or a time that is not one, is refused.
    let both = jishi(
        &db,
        &[
            "trail",
            "c-01",
            "--as-of",
            "5",
            "--as-of-occurred",
            "2021-04-21",
        ],
    );
    assert!(!both.status.success());
    let bad = jishi(
        &db,
        &[
            "trail",
            "c-01",
            "--election",
            "qingshan-2021",
            "--as-of-occurred",
            "March",
        ],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--as-of-occurred \"March\""),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
