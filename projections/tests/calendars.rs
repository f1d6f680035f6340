//! D25 (issue 16 item 9): the official working-day calendars 2020–2025 are
//! data in every built-in procedure; a date outside every known calendar is a
//! clear error where working days are counted, never a guess.

mod common;

use common::*;
use jishi_projections::{Procedure, Refusal, RuleId};

#[test]
fn every_builtin_covers_2020_to_2025() {
    for p in Procedure::builtins().unwrap() {
        assert_eq!(p.calendar.covered(), "2020–2025", "{}", p.kind);
        // 2024: Qingming (4–6 April, Sunday 7 April worked)
        assert!(!p.calendar.is_working_day(date("2024-04-05")));
        assert!(p.calendar.is_working_day(date("2024-04-07")));
        // 2025: Spring Festival (28 January – 4 February, Saturday 8 February worked)
        assert!(!p.calendar.is_working_day(date("2025-02-04")));
        assert!(p.calendar.is_working_day(date("2025-02-08")));
    }
}

#[test]
fn a_late_report_is_counted_on_that_years_calendar() {
    // received Wednesday 3 April 2024: 4–6 April are Qingming, Sunday 7 April
    // is worked, so the fifth working day is Thursday 11 April
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("inspection.conducted"));
    let di = actor("discipline_inspection");
    w.clock = at("2024-04-03T10:00:00+08:00");
    w.record(&di, w.cmd(Some("c1"), w.happy("petition.received", None)));
    w.clock = at("2024-04-12T10:00:00+08:00");
    let late = w.cmd(Some("c1"), w.happy("petition.investigated", None));
    let text = assert_refused_with(w.attempt(&di, &late), RuleId::R4).to_string();
    assert!(text.contains("due by 2024-04-11"), "{text}");
    w.clock = at("2024-04-11T17:00:00+08:00");
    let on_time = w.cmd(Some("c1"), w.happy("petition.investigated", None));
    assert!(w.attempt(&di, &on_time).is_ok());
}

#[test]
fn a_date_outside_every_calendar_is_refused_naming_the_year() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.started"));
    w.clock = at("2026-03-02T09:00:00+08:00");
    w.happy_record("publicity.started", Some("c1"));
    w.clock = at("2026-03-12T09:00:00+08:00");
    let org = actor("organisation_department");
    let conclude = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    match w.attempt(&org, &conclude) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "occurred_at");
            assert!(
                reason.contains("no working-day calendar for 2026"),
                "{reason}"
            );
            assert!(reason.contains("2020–2025"), "{reason}");
        }
        other => panic!("expected a calendar error, got {other:?}"),
    }
}

#[test]
fn a_calendar_date_outside_its_years_is_rejected_at_its_line() {
    let text = jishi_projections::BUILTIN
        .iter()
        .find(|(f, _)| f.starts_with("village"))
        .unwrap()
        .1;
    let bad = text.replacen("\"2025-01-01\"", "\"2026-01-01\"", 1);
    assert_ne!(bad, text);
    let err = Procedure::from_toml_str(&bad, "village.toml").unwrap_err();
    assert!(
        err.reason
            .contains("2026-01-01 lies outside the calendar's `years` (2020–2025)"),
        "{err}"
    );
    let line = bad
        .lines()
        .position(|l| l.contains("\"2026-01-01\""))
        .unwrap()
        + 1;
    assert_eq!(err.line, line);
}
