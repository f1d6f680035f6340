//! D25 (issue 16 item 9): the official working-day calendars 2020–2026 are
//! data in every built-in procedure; a date outside every known calendar is a
//! clear error where working days are counted, never a guess.

mod common;

use common::*;
use jishi_projections::{Procedure, Refusal, RuleId};

#[test]
fn every_builtin_covers_2020_to_2026() {
    for p in Procedure::builtins().unwrap() {
        assert_eq!(p.calendar.covered(), "2020–2026", "{}", p.kind);
        // 2024: Qingming (4–6 April, Sunday 7 April worked)
        assert!(!p.calendar.is_working_day(date("2024-04-05")));
        assert!(p.calendar.is_working_day(date("2024-04-07")));
        // 2025: Spring Festival (28 January – 4 February, Saturday 8 February worked)
        assert!(!p.calendar.is_working_day(date("2025-02-04")));
        assert!(p.calendar.is_working_day(date("2025-02-08")));
        // 2026 (国务院办公厅, 4 November 2025): Spring Festival 15–23
        // February, Saturdays 14 and 28 February worked; National Day 1–7
        // October, Sunday 20 September and Saturday 10 October worked.
        assert!(!p.calendar.is_working_day(date("2026-02-23")));
        assert!(p.calendar.is_working_day(date("2026-02-14")));
        assert!(p.calendar.is_working_day(date("2026-02-28")));
        assert!(!p.calendar.is_working_day(date("2026-10-07")));
        assert!(p.calendar.is_working_day(date("2026-09-20")));
        assert!(p.calendar.is_working_day(date("2026-10-10")));
        assert!(p.calendar.is_working_day(date("2026-10-08")));
    }
}

#[test]
fn a_publicity_over_the_2026_spring_festival_counts_its_working_days() {
    // Started Thursday 12 February 2026: the working days after it are
    // Friday 13, Saturday 14 (worked), then the festival (15–23), then
    // Tuesday 24, Wednesday 25 and Thursday 26: five working days end on
    // the 26th, so concluding on the 25th is too early.
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.started"));
    w.clock = at("2026-02-12T09:00:00+08:00");
    w.happy_record("publicity.started", Some("c1"));
    let org = actor("organisation_department");
    w.clock = at("2026-02-25T17:00:00+08:00");
    let early = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    assert_refused_with(w.attempt(&org, &early), RuleId::R5);
    w.clock = at("2026-02-27T09:00:00+08:00");
    let on_time = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    assert!(w.attempt(&org, &on_time).is_ok());
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
    w.clock = at("2027-03-02T09:00:00+08:00");
    w.happy_record("publicity.started", Some("c1"));
    w.clock = at("2027-03-12T09:00:00+08:00");
    let org = actor("organisation_department");
    let conclude = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    match w.attempt(&org, &conclude) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "occurred_at");
            assert!(
                reason.contains("no working-day calendar for 2027"),
                "{reason}"
            );
            assert!(reason.contains("2020–2026"), "{reason}");
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
    let bad = text.replacen("\"2025-01-01\"", "\"2027-01-01\"", 1);
    assert_ne!(bad, text);
    let err = Procedure::from_toml_str(&bad, "village.toml").unwrap_err();
    assert!(
        err.reason
            .contains("2027-01-01 lies outside the calendar's `years` (2020–2026)"),
        "{err}"
    );
    let line = bad
        .lines()
        .position(|l| l.contains("\"2027-01-01\""))
        .unwrap()
        + 1;
    assert_eq!(err.line, line);
}
