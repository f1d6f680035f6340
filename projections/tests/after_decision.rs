//! D24 (issue 16 item 4): what happens after the decision. A petition or a
//! publicity objection found true after the decision stops publicity from
//! concluding and the approval (报批), not only the candidacy; a petition
//! received before the decision but entered after it is a late-recording
//! finding, judged by its received date.

mod common;

use chrono::Duration;
use common::*;
use jishi_projections::events::*;
use jishi_projections::views::{self, FindingKind, StructureRules};
use jishi_projections::{EventBody, RuleId};

fn found_true(w: &mut World, candidate: &str) {
    let di = actor("discipline_inspection");
    w.record(
        &di,
        w.cmd(Some(candidate), w.happy("petition.received", None)),
    );
    w.record(
        &di,
        w.cmd(Some(candidate), w.happy("petition.investigated", None)),
    );
    let closed = EventBody::PetitionClosed(PetitionClosed {
        petition_id: "p-1".into(),
        conclusion: PetitionConclusion::Substantiated,
        note: "反映问题属实".into(),
    });
    w.record(&di, w.cmd(Some(candidate), closed));
}

#[test]
fn a_petition_found_true_after_the_decision_stops_publicity_and_approval() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.concluded"));
    found_true(&mut w, "c1");
    w.tick(10);
    let org = actor("organisation_department");
    let conclude = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    let text = assert_refused_with(w.attempt(&org, &conclude), RuleId::R2).to_string();
    assert!(
        text.contains("petitions found true: p-1; publicity.concluded cannot follow"),
        "{text}"
    );
    // c2, with nothing found, concludes
    assert!(w
        .attempt(
            &org,
            &w.cmd(Some("c2"), w.happy("publicity.concluded", None))
        )
        .is_ok());

    // found true once publicity has concluded: the approval is refused
    let mut a = World::new("township_party_committee");
    a.walk_until(Some("approval.granted"));
    found_true(&mut a, "c1");
    a.tick(1);
    let approve = a.cmd(Some("c1"), a.happy("approval.granted", None));
    assert_refused_with(a.attempt(&org, &approve), RuleId::R2);
}

#[test]
fn a_publicity_objection_found_true_stops_the_conclusion() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.concluded"));
    let org = actor("organisation_department");
    w.happy_record("publicity.objection_received", Some("c1"));
    let resolved = EventBody::PublicityObjectionResolved(PublicityObjectionResolved {
        objection_id: "o-1".into(),
        resolution: "经核查属实".into(),
        substantiated: true,
    });
    w.record(&org, w.cmd(Some("c1"), resolved));
    w.tick(10);
    let conclude = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    let text = assert_refused_with(w.attempt(&org, &conclude), RuleId::R2).to_string();
    assert!(
        text.contains("publicity objections found true: o-1"),
        "{text}"
    );
}

#[test]
fn a_petition_received_before_the_decision_but_entered_after_is_recorded_late() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.started"));
    let decided = w
        .events
        .iter()
        .find(|e| e.event_type() == "committee.decided" && e.candidate_id.as_deref() == Some("c1"))
        .map(|e| e.occurred_at)
        .expect("decided");
    let di = actor("discipline_inspection");
    // received the day before the decision, entered now
    let mut before = w.cmd(Some("c1"), w.happy("petition.received", None));
    before.occurred_at = decided - Duration::days(1);
    w.record(&di, before);
    // and one truly received after it
    let mut after = EventBody::PetitionReceived(PetitionReceived {
        petition_id: "p-2".into(),
        channel: "来电".into(),
        specific: false,
        summary: "反映作风问题".into(),
    });
    if let EventBody::PetitionReceived(p) = &mut after {
        p.specific = false;
    }
    w.record(&di, w.cmd(Some("c1"), after));
    let r = views::check(&entries(&w), &w.procedure, &StructureRules::default());
    let late: Vec<_> = r.of_kind(FindingKind::RecordedLate).collect();
    assert_eq!(late.len(), 1, "{:#?}", r.findings);
    assert!(
        late[0].detail.contains("petition p-1 was received on"),
        "{}",
        late[0].detail
    );
    assert_eq!(late[0].rule, Some(RuleId::R3));
    let arrived: Vec<_> = r.of_kind(FindingKind::ArrivedAfterDecision).collect();
    assert_eq!(arrived.len(), 1, "{:#?}", r.findings);
    assert!(arrived[0].detail.contains("p-2"), "{}", arrived[0].detail);
}
