//! A malformed or contradictory procedure file is rejected at load, with the line
//! that is wrong and why.

use jishi_projections::{Procedure, ProcedureError};

/// A minimal valid procedure; each test breaks one line of it. Line numbers below
/// are 1-based lines of this text.
const VALID: &str = r#"kind = "mini"
name = "最小程序"
publicity_working_days = 5
report_deadline_working_days = 5
min_differential_ratio = 0.2
max_proxies_per_holder = 3
min_mobile_box_scrutineers = 2
required_checks = ["check.discipline_opinion"]

[roles]
organisation_department = "组织部门"
discipline_inspection = "纪检监察机关"

[[stages]]
id = "A"
name = "准备"

[[stages]]
id = "B"
name = "考察"

[[steps]]
id = "open"
stage = "A"
name = "启动"
events = ["election.opened"]
roles = ["organisation_department"]

[[steps]]
id = "nominate"
stage = "B"
name = "提名"
events = ["candidate.nominated"]
roles = ["organisation_department"]

[[steps]]
id = "opinion"
stage = "B"
name = "纪检意见"
events = ["check.discipline_opinion"]
roles = ["discipline_inspection"]
after = ["nominate"]

[permissions]
"petition.received" = ["discipline_inspection"]

[overrides]
R1 = ["organisation_department"]
"#;

/// Replaces the 1-based line `line` of VALID (which must contain `from`).
fn break_line(line: usize, from: &str, to: &str) -> String {
    VALID
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == line {
                assert!(
                    l.contains(from),
                    "line {line} is {l:?}, expected it to contain {from:?}"
                );
                format!("{}\n", l.replace(from, to))
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

fn rejected(text: &str) -> ProcedureError {
    match Procedure::from_toml_str(text, "mini.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

fn assert_rejected_at(text: &str, line: usize, reason_part: &str) {
    let err = rejected(text);
    assert_eq!(err.line, line, "{err}");
    assert!(err.reason.contains(reason_part), "{err}");
    assert!(
        err.to_string().starts_with(&format!("mini.toml:{line}: ")),
        "{err}"
    );
}

#[test]
fn the_minimal_procedure_is_valid() {
    let p = Procedure::from_toml_str(VALID, "mini.toml").unwrap();
    assert_eq!(p.steps.len(), 3);
    // the default predecessor is the previous mandatory step
    assert_eq!(p.steps[1].after, vec!["open".to_string()]);
}

#[test]
fn bad_toml_is_rejected_with_its_line() {
    assert_rejected_at(&break_line(16, "name = \"准备\"", "name = \"准备"), 16, "");
}

#[test]
fn a_wrongly_typed_value_is_rejected_with_its_line() {
    assert_rejected_at(
        &break_line(
            3,
            "publicity_working_days = 5",
            "publicity_working_days = \"five\"",
        ),
        3,
        "",
    );
}

#[test]
fn an_unknown_step_in_after_is_rejected() {
    assert_rejected_at(
        &break_line(42, "after = [\"nominate\"]", "after = [\"nominat\"]"),
        42,
        "unknown step `nominat`",
    );
}

#[test]
fn a_cycle_is_rejected() {
    // nominate comes after opinion, which comes after nominate
    let text = break_line(
        34,
        "roles = [\"organisation_department\"]",
        "roles = [\"organisation_department\"]\nafter = [\"opinion\"]",
    );
    let err = rejected(&text);
    assert!(err.reason.contains("cycle"), "{err}");
    // the line of one of the two `after` entries that close the cycle
    assert!(err.line == 35 || err.line == 43, "{err}");
}

#[test]
fn a_step_with_no_role_is_rejected_at_its_id() {
    assert_rejected_at(
        &break_line(34, "roles = [\"organisation_department\"]", "roles = []"),
        30,
        "has no role",
    );
}

#[test]
fn an_unknown_role_is_rejected() {
    assert_rejected_at(
        &break_line(
            41,
            "roles = [\"discipline_inspection\"]",
            "roles = [\"discipline\"]",
        ),
        41,
        "unknown role `discipline`",
    );
}

#[test]
fn an_unknown_event_type_is_rejected() {
    assert_rejected_at(
        &break_line(33, "candidate.nominated", "candidate.nominate"),
        33,
        "unknown event type `candidate.nominate`",
    );
}

#[test]
fn an_event_in_two_steps_is_rejected() {
    assert_rejected_at(
        &break_line(40, "check.discipline_opinion", "candidate.nominated"),
        40,
        "already belongs to step `nominate`",
    );
}

#[test]
fn an_unknown_stage_is_rejected() {
    assert_rejected_at(
        &break_line(31, "stage = \"B\"", "stage = \"Z\""),
        31,
        "unknown stage `Z`",
    );
}

#[test]
fn steps_out_of_stage_order_are_rejected() {
    assert_rejected_at(
        &break_line(38, "stage = \"B\"", "stage = \"A\""),
        38,
        "steps must be listed stage by stage",
    );
}

#[test]
fn a_required_check_that_no_step_records_is_rejected() {
    assert_rejected_at(
        &break_line(8, "check.discipline_opinion", "check.archive_reviewed"),
        8,
        "no step records it",
    );
}

#[test]
fn a_permission_for_a_step_event_is_a_contradiction() {
    assert_rejected_at(
        &break_line(45, "petition.received", "candidate.nominated"),
        45,
        "belongs to step `nominate`",
    );
}

#[test]
fn an_unknown_rule_in_overrides_is_rejected() {
    assert_rejected_at(&break_line(48, "R1 =", "R14 ="), 48, "unknown rule");
}

#[test]
fn an_unknown_key_is_rejected() {
    let err = rejected(&break_line(2, "name =", "nmae ="));
    assert!(err.reason.contains("nmae"), "{err}");
    assert_eq!(err.line, 2, "{err}");
}

#[test]
fn a_bad_holiday_date_is_rejected() {
    // a [calendar] table inserted before [roles]: its holidays are on line 11
    let text = VALID.replace(
        "\n[roles]",
        "\n[calendar]\nholidays = [\"2021-13-01\"]\n\n[roles]",
    );
    assert_rejected_at(&text, 11, "2021-13-01");
}

#[test]
fn a_ratio_out_of_range_is_rejected() {
    assert_rejected_at(&break_line(5, "0.2", "-0.1"), 5, "min_differential_ratio");
}

/// Found by tests/fuzz_parsers.rs: a file cut short after `key =` made the
/// TOML parser give an empty message, so the error named a line and no
/// reason.
#[test]
fn a_file_cut_short_after_a_key_says_why() {
    let cut = &VALID[..VALID.find("report_deadline_working_days = 5").unwrap() + 31];
    let err = Procedure::from_toml_str(cut, "cut.toml").unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(!err.reason.trim().is_empty(), "empty reason: {err}");
    assert!(err.reason.contains("incomplete"), "{err}");
}
