//! D28 (issue 16 item 8): CPPCC members (政协委员) are selected, not elected:
//! 协商推荐, 会议酝酿, 组织考察, 资格审查 by the united-front department and the
//! CPPCC party group, the party committee's collective decision, publicity,
//! and the standing committee's adoption, every step recorded (seed 002:861–895).

mod common;

use common::*;
use jishi_projections::{EventBody, Procedure, Refusal, RuleId};

const KIND: &str = "cppcc_members";

#[test]
fn a_selection_runs_from_opening_to_the_confirmed_list_without_a_vote() {
    let p = Procedure::builtin(KIND).unwrap();
    assert!(p.step_of("vote.held").is_none());
    let mut w = World::new(KIND);
    w.walk_until(None);
    for c in CANDIDATES {
        assert!(w.state.candidate(c).unwrap().listed, "{c}");
    }
    // no one can record a vote in a selection
    w.tick(1);
    let vote = w.cmd(None, w.happy("vote.held", None));
    assert_refused_with(w.attempt(&actor("united_front"), &vote), RuleId::R11);
}

#[test]
fn the_adoption_is_the_standing_committees_and_the_decision_a_meetings() {
    let mut w = World::new(KIND);
    w.walk_until(Some("committee.decided"));
    let pc = actor("party_committee");
    let mut alone = w.happy("committee.decided", None);
    if let EventBody::CommitteeDecided(d) = &mut alone {
        d.attendees = vec![d.chair.clone()];
    }
    match w.attempt(&pc, &w.cmd(Some("c1"), alone)) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "attendees");
            assert!(reason.contains("会议集体研究"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    w.happy_record("committee.decided", Some("c1"));
    w.tick(1);
    w.happy_record("publicity.started", Some("c1"));
    w.tick(10);
    w.happy_record("publicity.concluded", Some("c1"));
    w.tick(1);
    // the united-front department does not adopt its own list
    let adopt = w.cmd(Some("c1"), w.happy("approval.granted", None));
    let text =
        assert_refused_with(w.attempt(&actor("united_front"), &adopt), RuleId::R11).to_string();
    assert!(text.contains("cppcc_standing_committee"), "{text}");
    assert!(w
        .attempt(&actor("cppcc_standing_committee"), &adopt)
        .is_ok());
}
