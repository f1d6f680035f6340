//! R13 (D21, issue 16 item 2): results add up. Winners within the seats, with
//! the votes the tally gives them, more than half of what the procedure counts;
//! 代表资格无效 ends the seat; a re-run, a by-election or a repeat only when due.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{EventBody, Refusal, RuleId};

const TOWNSHIP: &str = "township_party_committee";
const CONGRESS: &str = "county_township_congress";
const VILLAGE: &str = "village_two_committees";

fn elected(votes: u64, ballots_valid: u64) -> EventBody {
    EventBody::Elected(Elected {
        votes,
        ballots_valid,
    })
}

fn vote(w: &World, round: u32, purpose: Option<VotePurpose>, votes: &[(&str, u64)]) -> EventBody {
    let mut body = w.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        v.round = round;
        v.purpose = purpose;
        v.votes = votes.iter().map(|(c, n)| (c.to_string(), *n)).collect();
    }
    body
}

#[test]
fn a_winner_beyond_the_seats_is_refused() {
    // given one seat, won by c1
    let mut w = World::new(TOWNSHIP);
    w.walk_until(None);
    assert!(w.state.candidate("c1").unwrap().holds_seat());
    w.tick(1);
    // when c2 is declared elected too, with the votes the tally gives
    let pc = actor("party_committee");
    let second = w.cmd(Some("c2"), elected(15, 96));
    let refusal = assert_refused_with(w.attempt(&pc, &second), RuleId::R13);
    let text = refusal.to_string();
    assert!(text.contains("all 1 seats are already held (c1)"), "{text}");
    // and it cannot be overridden: no role may grant R13
    assert!(matches!(
        w.attempt(&pc, &second.with_override(RuleId::R13, "经研究")),
        Err(Refusal::OverrideNotEntitled { .. })
    ));
}

#[test]
fn votes_that_do_not_match_the_tally_or_fall_short_of_a_majority_are_refused() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.elected"));
    w.tick(1);
    let pc = actor("party_committee");
    // the tally gives c1 80 of 96
    let wrong = w.cmd(Some("c1"), elected(81, 96));
    let text = assert_refused_with(w.attempt(&pc, &wrong), RuleId::R13).to_string();
    assert!(
        text.contains("the tally of round 1 gives 80 of 96"),
        "{text}"
    );
    // the right figures are accepted
    assert!(w.attempt(&pc, &w.cmd(Some("c1"), elected(80, 96))).is_ok());

    // 50 of the 100 entitled (应到) is not more than half
    let mut m = World::new(TOWNSHIP);
    m.walk_until(Some("vote.held"));
    m.tick(1);
    let body = vote(&m, 1, None, &[("c1", 50), ("c2", 40)]);
    m.record(&pc, m.cmd(None, body));
    m.tick(1);
    let text = assert_refused_with(
        m.attempt(&pc, &m.cmd(Some("c1"), elected(50, 96))),
        RuleId::R13,
    )
    .to_string();
    assert!(
        text.contains("not more than half of the 100 those entitled"),
        "{text}"
    );

    // the party's rule counts those entitled: a tally without them is refused
    let mut n = World::new(TOWNSHIP);
    n.walk_until(Some("vote.held"));
    n.tick(1);
    let mut body = n.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        v.electors = None;
    }
    n.record(&pc, n.cmd(None, body));
    n.tick(1);
    let text = assert_refused_with(
        n.attempt(&pc, &n.cmd(Some("c1"), elected(80, 96))),
        RuleId::R13,
    )
    .to_string();
    assert!(text.contains("records no `electors`"), "{text}");
}

#[test]
fn the_village_counts_the_ballots_returned() {
    let mut w = World::new(VILLAGE);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let ec = actor("election_committee");
    // 49 of 98 returned is exactly half: not elected
    let body = vote(&w, 1, None, &[("c1", 49), ("c2", 40)]);
    w.record(&ec, w.cmd(None, body));
    w.tick(1);
    let text = assert_refused_with(
        w.attempt(&ec, &w.cmd(Some("c1"), elected(49, 96))),
        RuleId::R13,
    )
    .to_string();
    assert!(text.contains("half of the 98 ballots returned"), "{text}");
}

#[test]
fn an_impossible_tally_is_refused_as_a_field_error() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let pc = actor("party_committee");
    // one seat: each of 96 valid ballots names at most one candidate
    let body = vote(&w, 1, None, &[("c1", 90), ("c2", 10)]);
    match w.attempt(&pc, &w.cmd(None, body)) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "votes");
            assert!(reason.contains("100 votes in all"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let mut body = w.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        v.electors = Some(90);
    }
    assert!(matches!(
        w.attempt(&pc, &w.cmd(None, body)),
        Err(Refusal::Invalid { field, .. }) if field == "electors"
    ));
}

#[test]
fn an_invalid_qualification_ends_the_seat_and_a_by_election_fills_it() {
    // given c1 elected a deputy
    let mut w = World::new(CONGRESS);
    w.walk_until(Some("qualification.reviewed"));
    assert!(w.state.candidate("c1").unwrap().holds_seat());
    let ec = actor("election_committee");
    // a by-election is not due while every seat is held
    w.tick(1);
    let by = vote(&w, 2, Some(VotePurpose::ByElection), &[("c2", 60)]);
    let text =
        assert_refused_with(w.attempt(&ec, &w.cmd(None, by.clone())), RuleId::R13).to_string();
    assert!(text.contains("all 1 seats are held (c1)"), "{text}");
    // when the review finds c1's qualification invalid (代表资格无效)
    let invalid = EventBody::QualificationReviewed(QualificationReviewed {
        outcome: QualificationOutcome::Invalid,
        note: "以违法行为当选".into(),
    });
    let events = w.record(&actor("qualification_review"), w.cmd(Some("c1"), invalid));
    // then it is a proposal: the presidium decides (002:215 "由县人大会、乡镇人大主席团确定")
    assert_eq!(events.len(), 1);
    assert!(w.state.candidate("c1").unwrap().holds_seat());
    // a second regular vote is no way to hold another round
    w.tick(1);
    let regular = vote(&w, 2, None, &[("c1", 60), ("c2", 30)]);
    let text = assert_refused_with(w.attempt(&ec, &w.cmd(None, regular)), RuleId::R13).to_string();
    assert!(
        text.contains("rerun (另行选举) or by_election (补选)"),
        "{text}"
    );
    let void = EventBody::ElectionVoided(ElectionVoided {
        reason: "代表资格审查委员会提出当选无效，主席团确定".into(),
        rule: None,
    });
    let void = w.cmd(Some("c1"), void);
    assert_refused_with(
        w.attempt(&actor("qualification_review"), &void),
        RuleId::R11,
    );
    w.record(&actor("presidium"), void);
    let c1 = w.state.candidate("c1").unwrap();
    assert!(c1.elected && !c1.holds_seat());
    // round numbers go forward
    let stale = vote(&w, 1, Some(VotePurpose::ByElection), &[("c2", 60)]);
    assert_refused_with(w.attempt(&ec, &w.cmd(None, stale)), RuleId::R13);
    // a by-election is: c2 wins it with the by-election's tally
    w.record(&ec, w.cmd(None, by));
    w.tick(1);
    let text = assert_refused_with(
        w.attempt(&ec, &w.cmd(Some("c2"), elected(15, 96))),
        RuleId::R13,
    )
    .to_string();
    assert!(text.contains("the tally of round 2 gives 60"), "{text}");
    w.record(&ec, w.cmd(Some("c2"), elected(60, 96)));
    assert!(w.state.candidate("c2").unwrap().holds_seat());
}

#[test]
fn an_election_declared_void_is_held_again_in_full() {
    let mut w = World::new(TOWNSHIP);
    let pc = actor("party_committee");
    // nothing to void before a vote
    w.walk_until(Some("vote.held"));
    let void = w.cmd(None, w.happy("election.declared_void", None));
    assert!(matches!(
        w.attempt(&pc, &void),
        Err(Refusal::Invalid { field, .. }) if field == "kind"
    ));
    w.tick(1);
    w.happy_record("vote.held", None);
    w.tick(1);
    w.record(&pc, w.cmd(Some("c1"), elected(80, 96)));
    // when the election is declared void
    w.tick(1);
    let void = w.cmd(None, w.happy("election.declared_void", None));
    w.record(&pc, void);
    assert!(!w.state.candidate("c1").unwrap().holds_seat());
    assert!(w.state.repeat_pending);
    // then no one wins from the voided tally, and only a repeat is held
    w.tick(1);
    let text = assert_refused_with(
        w.attempt(&pc, &w.cmd(Some("c1"), elected(80, 96))),
        RuleId::R13,
    )
    .to_string();
    assert!(text.contains("tallied votes for c1"), "{text}");
    let rerun = vote(&w, 2, Some(VotePurpose::Rerun), &[("c1", 70), ("c2", 20)]);
    let text = assert_refused_with(w.attempt(&pc, &w.cmd(None, rerun)), RuleId::R13).to_string();
    assert!(text.contains("declared void"), "{text}");
    let repeat = vote(&w, 1, Some(VotePurpose::Repeat), &[("c1", 70), ("c2", 20)]);
    w.record(&pc, w.cmd(None, repeat));
    w.tick(1);
    w.record(&pc, w.cmd(Some("c1"), elected(70, 96)));
    assert!(w.state.candidate("c1").unwrap().holds_seat());
    // a second repeat is not due
    w.tick(1);
    let again = vote(&w, 2, Some(VotePurpose::Repeat), &[("c2", 60)]);
    assert_refused_with(w.attempt(&pc, &w.cmd(None, again)), RuleId::R13);
}

#[test]
fn where_the_review_decides_an_invalid_qualification_ends_the_seat_at_once() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(None);
    w.tick(1);
    let invalid = EventBody::QualificationReviewed(QualificationReviewed {
        outcome: QualificationOutcome::Invalid,
        note: "代表产生不符合规定程序".into(),
    });
    let events = w.record(&actor("qualification_review"), w.cmd(Some("c1"), invalid));
    assert_eq!(events.len(), 2, "{events:?}");
    match &events[1].body {
        EventBody::ElectionVoided(v) => {
            assert_eq!(v.rule, Some(RuleId::R13));
            assert!(v.reason.contains("代表资格审查"), "{}", v.reason);
        }
        other => panic!("{other:?}"),
    }
    assert!(!w.state.candidate("c1").unwrap().holds_seat());
}
