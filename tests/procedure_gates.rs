//! The gates cannot be bypassed without trace (D65–D68). Each bypass the
//! adversary reported, through the real `jishi` binary:
//! * a raw append into an election stream of a committee decision that
//!   skipped every step shows in `jishi check` and `jishi verify --domain`
//!   at its position with the rule, and as 未经程序校验的记录;
//! * `jishi record --procedure weakened.toml` is refused, naming what the
//!   file drops, because the procedure in force is the recorded one.
//!
//! And what is legitimate stays clean: the demo, a recorded override, an
//! amended procedure from its position on.
//!
//! Each test runs on both stores: on SQLite, and on PostgreSQL in a schema
//! of its own (skipped, with a line, without `DATABASE_URL`).

mod common;

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use common::{jishi, text};
use jishi_projections::demo::{generate, DemoConfig, DemoElection};
use jishi_projections::{Command, EventBody};
use serde_json::{json, Value};

thread_local! {
    /// In the PostgreSQL run of a test: the schemas its ledgers live in
    /// (dropped when the test ends). `None` in the SQLite run.
    static PG: RefCell<Option<Vec<common::PgSchema>>> = const { RefCell::new(None) };
}

/// Where a test's ledger lives: the file `name` in `dir`, or, in the
/// PostgreSQL run, a fresh schema (its URL stands where the path would).
fn new_ledger(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    PG.with(|pg| match pg.borrow_mut().as_mut() {
        None => dir.path().join(name),
        Some(schemas) => {
            let url = common::database_url().expect("DATABASE_URL was checked");
            let schema = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(common::PgSchema::create(&url))
            })
            .join()
            .expect("create a schema");
            let db = PathBuf::from(schema.db_url());
            schemas.push(schema);
            db
        }
    })
}

/// Runs each test on SQLite, then on PostgreSQL.
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $( #[test] fn $test() { super::$test(); } )*
        }
        mod on_postgres {
            $(
                #[test]
                fn $test() {
                    if crate::common::database_url().is_none() {
                        return;
                    }
                    super::PG.with(|p| *p.borrow_mut() = Some(Vec::new()));
                    super::$test();
                    super::PG.with(|p| p.borrow_mut().take());
                }
            )*
        }
    };
}

on_both_stores!(
    a_raw_decision_that_skipped_every_step_is_reported_at_its_position_with_the_rule,
    a_raw_event_the_gates_would_pass_still_shows_as_outside_the_gates_and_cannot_forge_the_mark,
    a_decision_under_a_weakened_procedure_file_is_refused_naming_what_it_drops,
    an_election_opened_under_a_weakened_file_records_it_and_check_names_what_it_drops,
    the_demo_has_no_replay_finding_and_verify_domain_passes,
    a_recorded_override_is_respected_and_an_amendment_applies_from_its_position,
    verify_domain_reports_raw_events_that_are_no_domain_event_or_sit_in_another_stream,
);

const TOWNSHIP: &str = include_str!("../projections/procedures/township_party_committee.toml");

fn demo_election() -> DemoElection {
    let demo = generate(&DemoConfig {
        seed: 7,
        townships: 1,
    })
    .expect("demo");
    demo.elections.into_iter().next().expect("one election")
}

fn actor_json(a: &jishi_projections::Actor) -> String {
    serde_json::to_string(a).expect("actor")
}

/// Records one command through the gates with the real binary.
fn record(db: &Path, actor: &jishi_projections::Actor, cmd: &Command, extra: &[&str]) -> String {
    let json = cmd.to_json().to_string();
    let actor = actor_json(actor);
    let mut args = vec!["record", cmd.kind(), "--json", &json, "--actor", &actor];
    args.extend_from_slice(extra);
    let out = jishi(db, &args, None);
    assert!(out.status.success(), "{}: {}", cmd.kind(), text(&out));
    text(&out)
}

/// A fresh ledger holding the demo's first election through the gates, up
/// to and including the nomination of its first candidate; returns the
/// ledger, the election and that candidate.
fn opened_with_one_nominee() -> (tempfile::TempDir, PathBuf, DemoElection, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_ledger(&dir, "gates.db");
    init(&db);
    let e = demo_election();
    for p in &e.commands {
        record(&db, &p.actor, &p.command, &[]);
        if matches!(p.command.body, EventBody::Nominated(_)) {
            let c = p.command.candidate_id.clone().expect("candidate");
            return (dir, db, e, c);
        }
    }
    panic!("the demo election nominates no one");
}

/// The demo's committee decision for `candidate`, with who records it.
fn decision_of(e: &DemoElection, candidate: &str) -> (jishi_projections::Actor, Command) {
    e.commands
        .iter()
        .find(|p| {
            matches!(p.command.body, EventBody::CommitteeDecided(_))
                && p.command.candidate_id.as_deref() == Some(candidate)
        })
        .map(|p| {
            let mut c = p.command.clone();
            c.overrides.clear();
            (p.actor.clone(), c)
        })
        .expect("a decision")
}

fn init(db: &Path) {
    let out = jishi(db, &["init"], None);
    assert!(out.status.success(), "{}", text(&out));
}

fn head(db: &Path) -> u64 {
    let out = jishi(db, &["head", "--json"], None);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    v["position"].as_u64().unwrap_or(0)
}

/// `jishi append --raw` of `cmd` as `actor` into its stream; its position.
fn raw_append(db: &Path, actor: &jishi_projections::Actor, cmd: &Command, payload: Value) -> u64 {
    let stream = match &cmd.candidate_id {
        Some(c) => format!("election/{}/candidate/{c}", cmd.election_id),
        None => format!("election/{}", cmd.election_id),
    };
    let line = json!({
        "stream": stream,
        "event_type": cmd.kind(),
        "occurred_at": cmd.occurred_at.to_rfc3339(),
        "actor": serde_json::to_value(actor).expect("actor"),
        "payload": payload,
    })
    .to_string();
    let out = jishi(db, &["append", "--raw"], Some(line.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
    head(db)
}

fn check_json(db: &Path, election: &str) -> Vec<Value> {
    let out = jishi(db, &["check", election, "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("check --json");
    v["findings"].as_array().cloned().unwrap_or_default()
}

fn at(findings: &[Value], kind: &str, position: u64) -> Option<Value> {
    findings
        .iter()
        .find(|f| f["kind"] == kind && f["evidence"] == json!([position]))
        .cloned()
}

fn a_raw_decision_that_skipped_every_step_is_reported_at_its_position_with_the_rule() {
    let (_dir, db, e, c) = opened_with_one_nominee();
    let out = jishi(&db, &["verify", "--domain"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // When the committee's decision is appended raw, right after the nomination
    let (actor, decision) = decision_of(&e, &c);
    let position = raw_append(&db, &actor, &decision, decision.to_json());

    // Then `jishi check` reports it at its position, with the rule, and as
    // recorded outside the gates
    let findings = check_json(&db, &e.election_id);
    let refused = at(&findings, "gate_refused", position).expect("gate_refused finding");
    assert_eq!(refused["rule"], "R1", "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("committee.decided")),
        "{refused}"
    );
    assert!(
        at(&findings, "outside_gates", position).is_some(),
        "{findings:?}"
    );
    let out = jishi(&db, &["check", &e.election_id], None);
    assert!(text(&out).contains("未经程序校验的记录"), "{}", text(&out));

    // And `jishi verify --domain` fails, naming the position and the rule
    let out = jishi(&db, &["verify", "--domain"], None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(said.contains(&format!("#{position}")), "{said}");
    assert!(said.contains("R1"), "{said}");
    assert!(said.contains("未经程序校验的记录"), "{said}");
    let out = jishi(&db, &["verify", "--domain", "--json"], None);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "the ledger's report, then the domain's: {stdout}"
    );
    let domain: Value = serde_json::from_str(lines[1]).expect("domain report");
    let listed = domain["reports"][0]["findings"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        listed
            .iter()
            .any(|f| f["position"] == position && f["kind"] == "refused" && f["rule"] == "R1"),
        "{domain}"
    );
    assert!(
        listed
            .iter()
            .any(|f| f["position"] == position && f["kind"] == "outside_gates"),
        "{domain}"
    );
}

fn a_raw_event_the_gates_would_pass_still_shows_as_outside_the_gates_and_cannot_forge_the_mark() {
    let (dir, db, e, c) = opened_with_one_nominee();
    // The demo's own next step for the nominee, appended raw: the gates would pass it.
    let next = e
        .commands
        .iter()
        .find(|p| {
            matches!(p.command.body, EventBody::Shortlisted(_))
                && p.command.candidate_id.as_deref() == Some(c.as_str())
        })
        .expect("a shortlisting");
    let before = head(&db);

    // A raw append cannot claim the gate mark
    let mut forged = next.command.to_json();
    forged["gated_under"] = json!("0".repeat(64));
    let stream = format!("election/{}/candidate/{c}", e.election_id);
    let line = json!({"stream": stream, "event_type": "candidate.shortlisted",
        "actor": serde_json::to_value(&next.actor).expect("actor"), "payload": forged})
    .to_string();
    let out = jishi(&db, &["append", "--raw"], Some(line.as_bytes()));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("gate mark"), "{}", text(&out));
    let file = dir.path().join("forged.jsonl");
    std::fs::write(&file, format!("{line}\n")).expect("write");
    let out = jishi(
        &db,
        &["import", "--raw", file.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(head(&db), before);

    // Without the mark it is written, and shows as recorded outside the gates only
    let position = raw_append(&db, &next.actor, &next.command, next.command.to_json());
    let findings = check_json(&db, &e.election_id);
    assert!(
        at(&findings, "outside_gates", position).is_some(),
        "{findings:?}"
    );
    assert!(
        at(&findings, "gate_refused", position).is_none(),
        "{findings:?}"
    );
    // And so does an event brought in by `jishi import --raw`
    let pledge = e
        .commands
        .iter()
        .find(|p| matches!(p.command.body, EventBody::PledgeSigned(_)))
        .expect("a pledge");
    let line = json!({"stream": format!("election/{}", e.election_id),
        "event_type": "pledge.signed", "occurred_at": pledge.command.occurred_at.to_rfc3339(),
        "actor": serde_json::to_value(&pledge.actor).expect("actor"),
        "payload": pledge.command.to_json()})
    .to_string();
    std::fs::write(&file, format!("{line}\n")).expect("write");
    let out = jishi(
        &db,
        &["import", "--raw", file.to_str().expect("utf-8")],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let imported = head(&db);
    let findings = check_json(&db, &e.election_id);
    assert!(
        at(&findings, "outside_gates", imported).is_some(),
        "{findings:?}"
    );
    let out = jishi(&db, &["verify", "--domain"], None);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        text(&out).contains(&format!("#{imported}")),
        "{}",
        text(&out)
    );
}

/// The township procedure without the archive, personal-matters and
/// discipline checks (凡提四必 down to the petitions sweep).
fn weakened() -> String {
    let text = TOWNSHIP
        .replace("  \"check.archive_reviewed\",\n", "")
        .replace("  \"check.personal_matters_verified\",\n", "")
        .replace("  \"check.discipline_opinion\",\n", "")
        .replace(
            r#"events = ["check.archive_reviewed", "check.personal_matters_verified", "check.discipline_opinion", "check.petitions_swept"]"#,
            r#"events = ["check.petitions_swept"]"#,
        )
        .replace("\"check.discipline_opinion\" = [\"discipline_inspection\"]\n", "");
    assert_ne!(text, TOWNSHIP);
    jishi_projections::Procedure::from_toml_str(&text, "weakened").expect("weakened loads");
    text
}

fn a_decision_under_a_weakened_procedure_file_is_refused_naming_what_it_drops() {
    let (dir, db, e, c) = opened_with_one_nominee();
    let file = dir.path().join("weakened.toml");
    std::fs::write(&file, weakened()).expect("write");
    let (actor, decision) = decision_of(&e, &c);
    let before = head(&db);

    let json = decision.to_json().to_string();
    let actor_s = actor_json(&actor);
    let out = jishi(
        &db,
        &[
            "record",
            "committee.decided",
            "--json",
            &json,
            "--actor",
            &actor_s,
            "--procedure",
            file.to_str().expect("utf-8"),
        ],
        None,
    );
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("differs from the one in force"), "{said}");
    for dropped in [
        "required check check.archive_reviewed removed (R2)",
        "required check check.personal_matters_verified removed (R2)",
        "required check check.discipline_opinion removed (R2)",
        "step `four_checks`: event check.archive_reviewed removed",
    ] {
        assert!(said.contains(dropped), "{dropped:?} not in {said}");
    }
    assert_eq!(head(&db), before, "nothing was written");

    // The file in force is accepted: the built-in one, written out again
    let same = dir.path().join("same.toml");
    std::fs::write(&same, format!("# a copy\n{TOWNSHIP}")).expect("write");
    let out = jishi(
        &db,
        &[
            "record",
            "committee.decided",
            "--json",
            &json,
            "--actor",
            &actor_s,
            "--procedure",
            same.to_str().expect("utf-8"),
        ],
        None,
    );
    // (it is then judged by the gates, which refuse a decision this early)
    assert!(text(&out).contains("R1"), "{}", text(&out));
}

fn an_election_opened_under_a_weakened_file_records_it_and_check_names_what_it_drops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_ledger(&dir, "w.db");
    init(&db);
    let file = dir.path().join("weakened.toml");
    std::fs::write(&file, weakened()).expect("write");
    let e = demo_election();
    let open = &e.commands[0];
    assert!(matches!(open.command.body, EventBody::ElectionOpened(_)));
    record(
        &db,
        &open.actor,
        &open.command,
        &["--procedure", file.to_str().expect("utf-8")],
    );
    let out = jishi(
        &db,
        &["stream", &format!("election/{}", e.election_id), "--json"],
        None,
    );
    assert!(text(&out).contains("procedure.adopted"), "{}", text(&out));
    let findings = check_json(&db, &e.election_id);
    let changed = findings
        .iter()
        .find(|f| f["kind"] == "procedure_changed")
        .expect("the procedure in force is shown");
    assert!(
        changed["detail"]
            .as_str()
            .is_some_and(|d| d.contains("required check check.archive_reviewed removed")),
        "{changed}"
    );
    // Recorded openly through the gates: no replay finding.
    let out = jishi(&db, &["verify", "--domain"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

fn the_demo_has_no_replay_finding_and_verify_domain_passes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = new_ledger(&dir, "demo.db");
    let out = jishi(&db, &["demo", "--townships", "3", "--seed", "7"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = jishi(&db, &["verify", "--domain"], None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    // Three townships, then the party representatives, the village, the
    // CPPCC selection and the constituency.
    assert!(said.contains("7 election(s) replayed"), "{said}");
    for other in jishi_projections::demo_kinds::other_kinds(7).expect("other kinds") {
        let findings = check_json(&db, &other.election_id);
        assert!(findings.is_empty(), "{}: {findings:?}", other.election_id);
    }
    let out = jishi(&db, &["verify", "--domain", "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let demo = generate(&DemoConfig {
        seed: 7,
        townships: 3,
    })
    .expect("demo");
    for e in &demo.elections {
        // The procedure in force is named, where it was recorded.
        let out = jishi(&db, &["check", &e.election_id, "--json"], None);
        let v: Value = serde_json::from_slice(&out.stdout).expect("check --json");
        assert_eq!(v["procedures"][0]["how"], "adopted", "{v}");
        assert_eq!(
            v["procedures"][0]["digest"],
            jishi_projections::Procedure::builtin("township_party_committee")
                .expect("builtin")
                .digest()
        );
        let findings = check_json(&db, &e.election_id);
        // The demo's overrides are there, and respected.
        for f in &findings {
            let kind = f["kind"].as_str().unwrap_or("");
            assert!(
                ![
                    "outside_gates",
                    "gate_refused",
                    "other_procedure",
                    "not_as_decided",
                    "legacy_procedure"
                ]
                .contains(&kind),
                "{f}"
            );
        }
    }
}

fn a_recorded_override_is_respected_and_an_amendment_applies_from_its_position() {
    let (_dir, db, e, c) = opened_with_one_nominee();
    // The decision right after the nomination, overridden openly by the committee.
    let (actor, decision) = decision_of(&e, &c);
    // Each override is granted first by a role other than the committee's
    // (D20): R1 by the organisation department, R2 from above.
    for (rule, role) in [
        (jishi_projections::RuleId::R1, "organisation_department"),
        (jishi_projections::RuleId::R2, "higher_party_committee"),
    ] {
        let granter = jishi_projections::Actor::new("g-1", "批准人", role, "天元区");
        let grant = Command::new(
            &e.election_id,
            Some(&c),
            decision.occurred_at,
            EventBody::OverrideGranted(jishi_projections::events::OverrideGranted {
                rule,
                excused_event_type: "committee.decided".into(),
                justification: "经市委组织部批准提前研究".into(),
                granted_by: None,
            }),
        );
        record(&db, &granter, &grant, &[]);
    }
    let overridden = decision
        .clone()
        .with_override(jishi_projections::RuleId::R1, "经区委批准提前研究")
        .with_override(jishi_projections::RuleId::R2, "经区委批准提前研究");
    record(&db, &actor, &overridden, &[]);
    let out = jishi(&db, &["verify", "--domain"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let findings = check_json(&db, &e.election_id);
    assert!(
        findings.iter().any(|f| f["kind"] == "override"),
        "{findings:?}"
    );

    // An amendment lets the inspection team shortlist, from its position on.
    let nominee2 = e
        .commands
        .iter()
        .find(|p| {
            matches!(p.command.body, EventBody::Nominated(_))
                && p.command.candidate_id.as_deref() != Some(c.as_str())
        })
        .expect("a second nominee");
    record(&db, &nominee2.actor, &nominee2.command, &[]);
    let c2 = nominee2.command.candidate_id.clone().expect("candidate");
    let mut shortlist = e
        .commands
        .iter()
        .find(|p| {
            matches!(p.command.body, EventBody::Shortlisted(_))
                && p.command.candidate_id.as_deref() == Some(c2.as_str())
        })
        .expect("a shortlisting")
        .clone();
    shortlist.actor.role = "inspection_team".into();
    let json = shortlist.command.to_json().to_string();
    let team = actor_json(&shortlist.actor);
    let args = [
        "record",
        "candidate.shortlisted",
        "--json",
        &json,
        "--actor",
        &team,
    ];
    let out = jishi(&db, &args, None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("R11"), "{}", text(&out));

    let amended = TOWNSHIP.replace(
        "events = [\"candidate.shortlisted\"]\nroles = [\"organisation_department\"]",
        "events = [\"candidate.shortlisted\"]\nroles = [\"organisation_department\", \"inspection_team\"]",
    );
    assert_ne!(amended, TOWNSHIP);
    let committee = actor_json(&actor);
    let amend = json!({
        "election_id": e.election_id,
        "occurred_at": shortlist.command.occurred_at.to_rfc3339(),
        "content": amended,
        "reason": "区委组织部〔2021〕12号：考察组可确定考察对象",
    })
    .to_string();
    let out = jishi(
        &db,
        &[
            "record",
            "procedure.amended",
            "--json",
            &amend,
            "--actor",
            &committee,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let amended_at = head(&db);
    let out = jishi(&db, &args, None);
    assert!(out.status.success(), "{}", text(&out));

    // Replay follows the amendment: no finding, and the change is shown.
    let out = jishi(&db, &["verify", "--domain"], None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains(&format!("procedure amended at #{amended_at}")),
        "{said}"
    );
    let findings = check_json(&db, &e.election_id);
    assert!(
        findings.iter().any(|f| f["kind"] == "procedure_changed"
            && f["detail"]
                .as_str()
                .is_some_and(|d| d.contains("step `shortlist`: roles changed"))),
        "{findings:?}"
    );
}

fn verify_domain_reports_raw_events_that_are_no_domain_event_or_sit_in_another_stream() {
    let (_dir, db, e, c) = opened_with_one_nominee();
    let actor = &e.commands[0].actor;
    // Garbage, and a nomination of someone else filed under this candidate's stream.
    let garbage = json!({"stream": format!("election/{}/candidate/{c}", e.election_id),
        "event_type": "candidate.nominated", "actor": serde_json::to_value(actor).expect("actor"),
        "payload": {"姓名": "李明"}})
    .to_string();
    let out = jishi(&db, &["append", "--raw"], Some(garbage.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
    let garbage_at = head(&db);
    let mut other = e
        .commands
        .iter()
        .find(|p| matches!(p.command.body, EventBody::Nominated(_)))
        .expect("a nomination")
        .command
        .to_json();
    other["candidate_id"] = json!("c-elsewhere");
    let misfiled = json!({"stream": format!("election/{}/candidate/{c}", e.election_id),
        "event_type": "candidate.nominated", "actor": serde_json::to_value(actor).expect("actor"),
        "payload": other})
    .to_string();
    let out = jishi(&db, &["append", "--raw"], Some(misfiled.as_bytes()));
    assert!(out.status.success(), "{}", text(&out));
    let misfiled_at = head(&db);

    // `jishi check` goes on past the garbage and reports it.
    let findings = check_json(&db, &e.election_id);
    let garbage = at(&findings, "not_as_decided", garbage_at).expect("garbage reported");
    assert!(
        garbage["detail"]
            .as_str()
            .is_some_and(|d| d.contains("not a domain event")),
        "{garbage}"
    );

    let out = jishi(&db, &["verify", "--domain"], None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(5), "{said}");
    assert!(said.contains(&format!("#{garbage_at}")), "{said}");
    assert!(said.contains("not a domain event"), "{said}");
    assert!(said.contains(&format!("#{misfiled_at}")), "{said}");
    assert!(said.contains("c-elsewhere"), "{said}");
}
