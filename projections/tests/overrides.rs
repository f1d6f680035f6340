//! D20 (issue 16 item 3): an override comes from a role other than the one
//! whose act it excuses. The grant (`override.granted`) is recorded first by a
//! role `[overrides]` names; the act then uses it up.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{Actor, EventBody, Refusal, RuleId};

const TOWNSHIP: &str = "township_party_committee";

/// The walk up to the decision, with a petition on c1 found true, so that deciding on c1 breaks R2 and nothing else.
fn with_r2_problem(w: &mut World) {
    w.walk_until(Some("committee.decided"));
    let di = actor("discipline_inspection");
    w.record(&di, w.cmd(Some("c1"), w.happy("petition.received", None)));
    w.record(
        &di,
        w.cmd(Some("c1"), w.happy("petition.investigated", None)),
    );
    let found = EventBody::PetitionClosed(PetitionClosed {
        petition_id: "p-1".into(),
        conclusion: PetitionConclusion::Substantiated,
        note: "反映问题属实".into(),
    });
    w.record(&di, w.cmd(Some("c1"), found));
    w.tick(1);
}

fn grant_body(rule: RuleId, act: &str, why: &str) -> EventBody {
    EventBody::OverrideGranted(OverrideGranted {
        rule,
        excused_event_type: act.into(),
        justification: why.into(),
        granted_by: None,
    })
}

#[test]
fn the_committee_cannot_grant_itself_an_override_of_r2() {
    let mut w = World::new(TOWNSHIP);
    with_r2_problem(&mut w);
    let pc = actor("party_committee");
    let grant = w.cmd(
        Some("c1"),
        grant_body(RuleId::R2, "committee.decided", "先行研究"),
    );
    let refusal = assert_refused_with(w.attempt(&pc, &grant), RuleId::R11);
    let text = refusal.to_string();
    assert!(text.contains("may not grant an override of R2"), "{text}");
    assert!(text.contains("higher_party_committee"), "{text}");
}

#[test]
fn a_grant_by_the_recorders_own_role_or_person_is_self_serving() {
    // A procedure that (wrongly) lets the committee grant R2 as well.
    let mut w = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R2,
        &["party_committee", "higher_party_committee"],
    ));
    with_r2_problem(&mut w);
    let pc = actor("party_committee");
    let grant = w.cmd(
        Some("c1"),
        grant_body(RuleId::R2, "committee.decided", "先行研究"),
    );
    let stored = w.record(&pc, grant);
    match &stored[0].body {
        EventBody::OverrideGranted(g) => assert_eq!(g.granted_by.as_ref(), Some(&pc)),
        other => panic!("{other:?}"),
    }
    let decide = w
        .cmd(Some("c1"), w.happy("committee.decided", None))
        .with_override(RuleId::R2, "已批准");
    match w.attempt(&pc, &decide) {
        Err(Refusal::SelfServingOverride {
            violation, role, ..
        }) => {
            assert_eq!(violation.rule, RuleId::R2);
            assert_eq!(role, "party_committee");
        }
        other => panic!("expected a self-serving refusal, got {other:?}"),
    }
    let said = w.attempt(&pc, &decide).unwrap_err().to_string();
    assert!(said.contains("R2 violated"), "{said}");
    assert!(
        said.contains("a role other than the one whose act it excuses"),
        "{said}"
    );

    // The same person under another role is refused too.
    let mut same = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R2,
        &["higher_party_committee"],
    ));
    with_r2_problem(&mut same);
    let person = Actor::new("pc-1", "王书记", "higher_party_committee", "天元区");
    let grant = same.cmd(
        Some("c1"),
        grant_body(RuleId::R2, "committee.decided", "先行研究"),
    );
    same.record(&person, grant);
    let as_committee = Actor::new("pc-1", "王书记", "party_committee", "天元区");
    assert!(matches!(
        same.attempt(&as_committee, &decide),
        Err(Refusal::SelfServingOverride { .. })
    ));

    // A grant from above lets the committee record its decision, once.
    let city = actor("higher_party_committee");
    w.record(
        &city,
        w.cmd(
            Some("c1"),
            grant_body(RuleId::R2, "committee.decided", "经市委组织部批准"),
        ),
    );
    let events = w
        .attempt(&pc, &decide)
        .expect("recorded under the grant from above");
    match &events[0].body {
        EventBody::OverrideRecorded(o) => {
            assert_eq!(o.authorised_by, city);
            assert_eq!(o.rule, RuleId::R2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_grant_excuses_one_act_of_its_kind_and_candidate_only() {
    // given the walk up to deliberation, with c1's checks incomplete (R1)
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("check.archive_reviewed"));
    w.tick(1);
    let org = actor("organisation_department");
    let round = w.cmd(None, w.happy("deliberation.round", None));
    let needs = round.clone().with_override(RuleId::R1, "先行酝酿");
    // a grant for a candidate's act does not cover an election-level one
    let pc = actor("party_committee");
    let for_c1 = grant_body(RuleId::R1, "candidate.shortlisted", "先行");
    w.record(&pc, w.cmd(Some("c1"), for_c1));
    assert!(matches!(
        w.attempt(&org, &needs),
        Err(Refusal::OverrideNotGranted { .. })
    ));
    // one grant, one round
    w.record(
        &pc,
        w.cmd(
            None,
            grant_body(RuleId::R1, "deliberation.round", "先行酝酿"),
        ),
    );
    let first = w.attempt(&org, &needs).expect("one round under the grant");
    for e in &first {
        w.state.apply(e);
    }
    assert!(w.state.grants.iter().any(|g| g.used));
    w.tick(1);
    let again = w
        .cmd(None, w.happy("deliberation.round", None))
        .with_override(RuleId::R1, "再次酝酿");
    let refusal = w.attempt(&org, &again).unwrap_err();
    assert!(
        matches!(refusal, Refusal::OverrideNotGranted { .. }),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("party_committee"), "{refusal}");
}

#[test]
fn a_grant_names_a_recordable_act_at_its_scope_says_why_and_claims_no_one_else() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.shortlisted"));
    let pc = actor("party_committee");
    let field = |r: Result<_, Refusal>| match r {
        Err(Refusal::Invalid { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    };
    let blank = w.cmd(
        Some("c1"),
        grant_body(RuleId::R1, "candidate.shortlisted", " "),
    );
    assert_eq!(field(w.attempt(&pc, &blank)), "justification");
    let unknown = w.cmd(
        Some("c1"),
        grant_body(RuleId::R1, "candidate.teleported", "x"),
    );
    assert_eq!(field(w.attempt(&pc, &unknown)), "excused_event_type");
    let emitted = w.cmd(Some("c1"), grant_body(RuleId::R1, "override.recorded", "x"));
    assert_eq!(field(w.attempt(&pc, &emitted)), "excused_event_type");
    let no_candidate = w.cmd(None, grant_body(RuleId::R1, "candidate.shortlisted", "x"));
    assert_eq!(field(w.attempt(&pc, &no_candidate)), "candidate_id");
    let mut claimed = grant_body(RuleId::R1, "candidate.shortlisted", "x");
    if let EventBody::OverrideGranted(g) = &mut claimed {
        g.granted_by = Some(actor("higher_party_committee"));
    }
    assert_eq!(
        field(w.attempt(&pc, &w.cmd(Some("c1"), claimed))),
        "granted_by"
    );
    let overridden = w
        .cmd(
            Some("c1"),
            grant_body(RuleId::R1, "candidate.shortlisted", "x"),
        )
        .with_override(RuleId::R11, "x");
    assert_eq!(field(w.attempt(&pc, &overridden)), "override");
    // and a well-formed one is accepted
    let ok = w.cmd(
        Some("c1"),
        grant_body(RuleId::R1, "candidate.shortlisted", "经批准"),
    );
    assert!(w.attempt(&pc, &ok).is_ok());
}
