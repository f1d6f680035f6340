//! D27 (issue 16 item 1): the party-representative election, 4 stages and 13
//! steps, with the joint review (联审) of the procedure's 17 departments giving
//! one verdict each, and no candidate flagged by any of them confirmed.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{EventBody, Procedure, Refusal, RuleId};

const KIND: &str = "party_representative";

#[test]
fn four_stages_thirteen_steps_and_seventeen_departments() {
    let p = Procedure::builtin(KIND).unwrap();
    assert_eq!(p.stages.len(), 4);
    assert_eq!(p.steps.len(), 13);
    assert_eq!(p.joint_review_departments.len(), 17);
    assert!(p.step_of("review.joint").is_some());
    assert_eq!(p.min_differential_ratio, 0.2);
    let again = Procedure::from_toml_str(&p.canonical_toml(), "canon").unwrap();
    assert_eq!(again, p);
}

#[test]
fn an_election_runs_from_opening_to_qualification() {
    let mut w = World::new(KIND);
    w.walk_until(None);
    let c1 = w.state.candidate("c1").unwrap();
    assert!(c1.holds_seat());
    assert_eq!(c1.qualification, Some(QualificationOutcome::Valid));
    assert!(!w.state.candidate("c2").unwrap().holds_seat());
}

fn review(w: &World, edit: impl FnOnce(&mut JointReview)) -> EventBody {
    let mut body = w.happy("review.joint", None);
    if let EventBody::JointReview(r) = &mut body {
        edit(r);
    }
    body
}

#[test]
fn each_department_gives_one_verdict() {
    let mut w = World::new(KIND);
    w.walk_until(Some("review.joint"));
    let org = actor("organisation_department");
    let short = review(&w, |r| {
        r.departments.retain(|d| d.department != "信访局");
    });
    match w.attempt(&org, &w.cmd(Some("c1"), short)) {
        Err(Refusal::Invalid { field, reason }) => {
            assert_eq!(field, "departments");
            assert!(
                reason.contains("1 of the 17 departments give no verdict: 信访局"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let stranger = review(&w, |r| {
        r.departments[0].department = "外单位".into();
    });
    assert!(matches!(
        w.attempt(&org, &w.cmd(Some("c1"), stranger)),
        Err(Refusal::Invalid { field, .. }) if field == "departments"
    ));
    let passed_over = review(&w, |r| r.departments[4].verdict = ReviewVerdict::Failed);
    assert!(matches!(
        w.attempt(&org, &w.cmd(Some("c1"), passed_over)),
        Err(Refusal::Invalid { field, .. }) if field == "outcome"
    ));
}

#[test]
fn a_candidate_flagged_by_any_department_cannot_be_decided_on() {
    let mut w = World::new(KIND);
    w.walk_until(Some("review.joint"));
    let org = actor("organisation_department");
    // c1 flagged by the police; c2 passes
    let flagged = review(&w, |r| {
        r.departments[4].verdict = ReviewVerdict::Failed;
        r.departments[4].note = Some("涉黑涉恶".into());
        r.outcome = ReviewVerdict::Failed;
    });
    w.record(&org, w.cmd(Some("c1"), flagged));
    w.happy_record("review.joint", Some("c2"));
    for c in ["c1", "c2"] {
        for ev in [
            "check.discipline_opinion",
            "check.petitions_swept",
            "candidate.shortlisted",
        ] {
            w.happy_record(ev, Some(c));
        }
    }
    w.tick(1);
    let pc = actor("party_committee");
    let decide = w.cmd(Some("c1"), w.happy("committee.decided", None));
    let text = assert_refused_with(w.attempt(&pc, &decide), RuleId::R2).to_string();
    assert!(
        text.contains("joint review (联审): flagged by 公安分局 (涉黑涉恶)"),
        "{text}"
    );
    // the legitimate candidate goes on
    assert!(w
        .attempt(&pc, &w.cmd(Some("c2"), w.happy("committee.decided", None)))
        .is_ok());
}
