//! D22 (issue 16 item 6): fields that were accepted unchecked. An
//! investigation report is signed by its handler and a leader; a decision says
//! why; one voter gives one proxy; a scrutineer has no conflict with, and is
//! not, a candidate; the voter roll counts what it added and removed, and
//! lists the voters of each mobile box.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{EventBody, Refusal, RuleId};

const TOWNSHIP: &str = "township_party_committee";
const CONGRESS: &str = "county_township_congress";

fn field_of(r: Result<Vec<jishi_projections::DomainEvent>, Refusal>) -> (String, String) {
    match r {
        Err(Refusal::Invalid { field, reason }) => (field, reason),
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn an_investigation_report_needs_its_handler_and_a_different_leader() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("inspection.conducted"));
    let di = actor("discipline_inspection");
    w.record(&di, w.cmd(Some("c1"), w.happy("petition.received", None)));
    let report = |handler: &str, leader: &str| {
        EventBody::PetitionInvestigated(PetitionInvestigated {
            petition_id: "p-1".into(),
            result: "经查失实".into(),
            handler: handler.into(),
            leader: leader.into(),
        })
    };
    let (field, _) = field_of(w.attempt(&di, &w.cmd(Some("c1"), report("", "l-1"))));
    assert_eq!(field, "handler");
    let (field, _) = field_of(w.attempt(&di, &w.cmd(Some("c1"), report("h-1", "  "))));
    assert_eq!(field, "leader");
    let (field, reason) = field_of(w.attempt(&di, &w.cmd(Some("c1"), report("h-1", "h-1"))));
    assert_eq!(field, "leader");
    assert!(reason.contains("承办人和负责人签字背书"), "{reason}");
    // signed by both, it is recorded
    w.record(&di, w.cmd(Some("c1"), report("h-1", "l-1")));
}

#[test]
fn a_decision_without_a_rationale_is_refused() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("committee.decided"));
    let pc = actor("party_committee");
    let mut body = w.happy("committee.decided", None);
    if let EventBody::CommitteeDecided(d) = &mut body {
        d.rationale = " ".into();
    }
    let (field, reason) = field_of(w.attempt(&pc, &w.cmd(Some("c1"), body)));
    assert_eq!(field, "rationale");
    assert!(reason.contains("must not be blank"), "{reason}");
    assert!(w
        .attempt(&pc, &w.cmd(Some("c1"), w.happy("committee.decided", None)))
        .is_ok());
}

fn vote_with(w: &World, edit: impl FnOnce(&mut VoteHeld)) -> jishi_projections::Command {
    let mut body = w.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        edit(v);
    }
    w.cmd(None, body)
}

#[test]
fn one_voter_gives_one_proxy() {
    let mut w = World::new(CONGRESS);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let ec = actor("election_committee");
    let vote = vote_with(&w, |v| {
        v.proxies.push(Proxy {
            holder_id: "v-8".into(),
            giver_ids: vec!["v-2".into()],
            committee_approved: true,
        })
    });
    let text = assert_refused_with(w.attempt(&ec, &vote), RuleId::R7).to_string();
    assert!(
        text.contains("voter v-2 gave more than one proxy (to v-9, v-8)"),
        "{text}"
    );
    // distinct givers are fine
    let fine = vote_with(&w, |v| {
        v.proxies.push(Proxy {
            holder_id: "v-8".into(),
            giver_ids: vec!["v-5".into()],
            committee_approved: true,
        })
    });
    assert!(w.attempt(&ec, &fine).is_ok());
}

#[test]
fn a_conflicted_scrutineer_or_one_who_stands_is_refused() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("vote.held"));
    let conflict = EventBody::ConflictDeclared(ConflictDeclared {
        person_id: "s-1".into(),
        person_name: "监票人一".into(),
        relation: "近亲属".into(),
    });
    w.record(
        &actor("organisation_department"),
        w.cmd(Some("c1"), conflict),
    );
    w.tick(1);
    let pc = actor("party_committee");
    let vote = w.cmd(None, w.happy("vote.held", None));
    let text = assert_refused_with(w.attempt(&pc, &vote), RuleId::R10).to_string();
    assert!(
        text.contains("scrutineer s-1 has a declared conflict with candidate c1 (近亲属)"),
        "{text}"
    );
    let stands = vote_with(&w, |v| v.scrutineers = vec!["s-2".into(), "c2".into()]);
    let text = assert_refused_with(w.attempt(&pc, &stands), RuleId::R10).to_string();
    assert!(
        text.contains("scrutineer c2 is a candidate in this vote"),
        "{text}"
    );
    // other scrutineers: the vote is recorded
    let clean = vote_with(&w, |v| v.scrutineers = vec!["s-5".into(), "s-6".into()]);
    assert!(w.attempt(&pc, &clean).is_ok());
}

#[test]
fn the_voter_roll_records_changes_and_the_mobile_box_voters() {
    // given a congress election walked to the vote; its roll (recorded by the
    // walk) added 120, removed 45 and lists box-1's two voters
    let mut w = World::new(CONGRESS);
    w.walk_until(Some("vote.held"));
    let registered = w
        .events
        .iter()
        .find_map(|e| match &e.body {
            EventBody::VotersRegistered(r) => Some(r.clone()),
            _ => None,
        })
        .expect("the walk registers voters");
    assert_eq!(
        (registered.added, registered.removed),
        (Some(120), Some(45))
    );
    assert_eq!(w.state.voters_on_roll, Some(3200));
    assert_eq!(w.state.mobile_rolls.get("box-1"), Some(&2));
    w.tick(1);
    let ec = actor("election_committee");
    let roll = |edit: &dyn Fn(&mut VotersRegistered)| {
        let mut body = w.happy("voters.registered", None);
        if let EventBody::VotersRegistered(r) = &mut body {
            edit(r);
        }
        w.cmd(None, body)
    };
    // a voter twice, more mobile voters than the roll, an empty list
    let twice = roll(&|r| r.mobile_box_voters[0].voter_ids.push("v-31".into()));
    let (field, reason) = field_of(w.attempt(&ec, &twice));
    assert_eq!(field, "mobile_box_voters");
    assert!(reason.contains("不重登"), "{reason}");
    let too_many = roll(&|r| r.registered = 1);
    assert_eq!(field_of(w.attempt(&ec, &too_many)).0, "mobile_box_voters");
    let empty = roll(&|r| r.mobile_box_voters[0].voter_ids.clear());
    assert_eq!(field_of(w.attempt(&ec, &empty)).0, "mobile_box_voters");
    // a vote whose mobile box has no registered roll is refused
    let stray = vote_with(&w, |v| v.mobile_boxes[0].box_id = "box-9".into());
    let text = assert_refused_with(w.attempt(&ec, &stray), RuleId::R8).to_string();
    assert!(text.contains("mobile box box-9: no voter roll"), "{text}");
    assert!(w
        .attempt(&ec, &w.cmd(None, w.happy("vote.held", None)))
        .is_ok());
}
