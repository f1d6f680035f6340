//! One test per rule of DOMAIN.md §4: the refusal (with its rule id, text and seed
//! source), the override by an entitled role (recorded as `override.recorded`
//! followed by the act), and the same override by a role not entitled (refused).

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::{Actor, EventBody, Refusal, RuleId};

const TOWNSHIP: &str = "township_party_committee";
const CONGRESS: &str = "county_township_congress";
const WHY: &str = "经党委集体研究，情况特殊，报上级备案";

/// The override is refused: no other role may grant it, or none has (D20).
fn not_entitled(result: Result<Vec<jishi_projections::DomainEvent>, Refusal>, rule: RuleId) {
    match result {
        Err(Refusal::OverrideNotEntitled { violation, role }) => {
            assert_eq!(violation.rule, rule);
            assert!(violation.override_roles.iter().all(|r| *r == role));
        }
        Err(Refusal::OverrideNotGranted {
            violation,
            role,
            granters,
            ..
        }) => {
            assert_eq!(violation.rule, rule);
            assert!(!granters.is_empty() && !granters.contains(&role));
        }
        other => panic!("expected OverrideNotEntitled/NotGranted for {rule}, got {other:?}"),
    }
}

#[test]
fn r1_step_out_of_order_is_refused() {
    // given c1 and c2 nominated but not shortlisted
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.shortlisted"));
    w.tick(1);
    // when the archive review (a step after the shortlist) is recorded for c1
    let cmd = w.cmd(Some("c1"), w.happy("check.archive_reviewed", None));
    let org = actor("organisation_department");
    let before = w.state.clone();
    let refusal = assert_refused_with(w.attempt(&org, &cmd), RuleId::R1);
    // then it is refused, naming the missing step, and nothing changed
    assert!(refusal.to_string().contains("shortlist"), "{refusal}");
    assert_eq!(w.state, before);

    // and 抢跑 in time is refused too: shortlisting dated before the nomination
    let mut early = w.cmd(Some("c1"), w.happy("candidate.shortlisted", None));
    early.occurred_at = at("2021-04-01T09:00:00+08:00");
    let refusal = assert_refused_with(w.attempt(&org, &early), RuleId::R1);
    assert!(refusal.to_string().contains("抢跑"), "{refusal}");

    // an entitled role records it with an override
    let events = w
        .try_record(&org, cmd.clone().with_override(RuleId::R1, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R1, "check.archive_reviewed", &org);
    assert_eq!(w.state.overrides.len(), 1);
    assert_eq!(w.state.overrides[0].justification, WHY);

    // a role that may record the petitions sweep but not override R1 is refused
    let sweep = w.cmd(Some("c2"), w.happy("check.petitions_swept", None));
    not_entitled(
        w.attempt(
            &actor("discipline_inspection"),
            &sweep.with_override(RuleId::R1, WHY),
        ),
        RuleId::R1,
    );
}

#[test]
fn r2_decision_before_four_checks_is_refused() {
    // given the walk up to the four checks, with every check but the personal
    // matters report recorded for c1 (the step is unordered)
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("check.archive_reviewed"));
    for c in CANDIDATES {
        w.tick(1);
        w.happy_record("inspection.conducted", Some(c));
    }
    for c in CANDIDATES {
        for check in FOUR_CHECK_EVENTS {
            if c == "c1" && check == "check.personal_matters_verified" {
                continue;
            }
            w.happy_record(check, Some(c));
        }
    }
    // and a discipline opinion for c1 that is still pending, overriding R1 for the
    // incomplete step so that deliberation can go on
    w.tick(1);
    let pending = EventBody::DisciplineOpinionIssued(DisciplineOpinionIssued {
        opinion: DisciplineOpinion::Pending,
        affects_appointment: false,
        note: None,
    });
    w.record(&actor("discipline_inspection"), w.cmd(Some("c1"), pending));
    w.tick(1);
    let org = actor("organisation_department");
    let round = w.cmd(None, w.happy("deliberation.round", None));
    w.record(&org, round.with_override(RuleId::R1, WHY));
    // when the party committee decides on c1
    w.tick(1);
    let pc = actor("party_committee");
    let decide_c1 = w.cmd(Some("c1"), w.happy("committee.decided", None));
    let result = w.attempt(&pc, &decide_c1);
    // then R2 is named with both problems (R1 too: the checks step is incomplete)
    match &result {
        Err(Refusal::Violation(v)) => assert_eq!(v.rule, RuleId::R1),
        other => panic!("{other:?}"),
    }
    let r2 = w.attempt(&pc, &decide_c1.clone().with_override(RuleId::R1, WHY));
    let refusal = assert_refused_with(r2, RuleId::R2);
    let text = refusal.to_string();
    assert!(
        text.contains("check.personal_matters_verified: not recorded"),
        "{text}"
    );
    assert!(text.contains("pending"), "{text}");

    // the party committee may override both
    let events = w
        .try_record(
            &pc,
            decide_c1
                .clone()
                .with_override(RuleId::R1, WHY)
                .with_override(RuleId::R2, WHY),
        )
        .unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].event_type(), "committee.decided");

    // under a procedure where only `admin` may grant R2, the same is refused without it
    let mut strict = World::with(with_override_roles(TOWNSHIP, RuleId::R2, &["admin"]));
    strict.state = w.state.clone();
    strict.clock = w.clock;
    let decide_c2 = strict.cmd(Some("c2"), strict.happy("committee.decided", None));
    // c2's checks are complete and clean: accepted without any override
    assert!(strict.attempt(&pc, &decide_c2).is_ok());
    let again = strict.cmd(Some("c1"), strict.happy("committee.decided", None));
    // R1 granted by the organisation department; R2 only admin may grant
    let r1 = strict.grant_cmd(&again, RuleId::R1);
    strict.record(&actor("organisation_department"), r1);
    not_entitled(
        strict.attempt(
            &pc,
            &again
                .with_override(RuleId::R1, WHY)
                .with_override(RuleId::R2, WHY),
        ),
        RuleId::R2,
    );
}

const FOUR_CHECK_EVENTS: [&str; 4] = [
    "check.archive_reviewed",
    "check.personal_matters_verified",
    "check.discipline_opinion",
    "check.petitions_swept",
];

#[test]
fn r3_open_petition_or_objection_blocks_the_next_step() {
    // given everything up to the decision, then a specific petition on c1
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("committee.decided"));
    let di = actor("discipline_inspection");
    w.record(&di, w.cmd(Some("c1"), w.happy("petition.received", None)));
    w.tick(1);
    // when the committee decides on c1
    let pc = actor("party_committee");
    let decide_c1 = w.cmd(Some("c1"), w.happy("committee.decided", None));
    let refusal = assert_refused_with(w.attempt(&pc, &decide_c1), RuleId::R3);
    assert!(refusal.to_string().contains("p-1"), "{refusal}");
    // then an override by the party committee records it
    let events = w
        .try_record(&pc, decide_c1.with_override(RuleId::R3, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R3, "committee.decided", &pc);

    // an unresolved publicity objection blocks the conclusion of publicity
    w.happy_record("committee.decided", Some("c2"));
    w.tick(1);
    w.happy_record("publicity.started", Some("c2"));
    w.happy_record("publicity.objection_received", Some("c2"));
    w.tick(10);
    let org = actor("organisation_department");
    let conclude = w.cmd(Some("c2"), w.happy("publicity.concluded", None));
    assert_refused_with(w.attempt(&org, &conclude), RuleId::R3);
    // organisation department may record the conclusion but not override R3
    not_entitled(
        w.attempt(&org, &conclude.clone().with_override(RuleId::R3, WHY)),
        RuleId::R3,
    );
    // once resolved, it concludes
    w.happy_record("publicity.objection_resolved", Some("c2"));
    assert!(w.attempt(&org, &conclude).is_ok());
}

#[test]
fn r4_late_report_and_open_report_at_inspection_end_are_refused() {
    // given c1 shortlisted and a petition received on Friday 16 April 2021
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("inspection.conducted"));
    w.clock = at("2021-04-16T10:00:00+08:00");
    let di = actor("discipline_inspection");
    w.record(&di, w.cmd(Some("c1"), w.happy("petition.received", None)));
    // when the inspection ends while the report is open
    w.clock = at("2021-04-19T10:00:00+08:00");
    let end = w.cmd(Some("c1"), w.happy("inspection.conducted", None));
    let refusal = assert_refused_with(w.attempt(&actor("inspection_team"), &end), RuleId::R4);
    assert!(
        refusal.to_string().contains("在考察任务结束前办结"),
        "{refusal}"
    );

    // when the result comes on 26 April: 5 working days after 16 April is 23 April
    w.clock = at("2021-04-26T10:00:00+08:00");
    let late = w.cmd(Some("c1"), w.happy("petition.investigated", None));
    let refusal = assert_refused_with(w.attempt(&di, &late), RuleId::R4);
    assert!(
        refusal.to_string().contains("due by 2021-04-23"),
        "{refusal}"
    );
    // the inspection team may report results but not override R4
    not_entitled(
        w.attempt(
            &actor("inspection_team"),
            &late.clone().with_override(RuleId::R4, WHY),
        ),
        RuleId::R4,
    );
    // the discipline organ records it with an override, visible to compliance
    let events = w
        .try_record(&di, late.with_override(RuleId::R4, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R4, "petition.investigated", &di);
    // and a result on the deadline day itself needs no override
    let mut w2 = World::new(TOWNSHIP);
    w2.walk_until(Some("inspection.conducted"));
    w2.clock = at("2021-04-16T10:00:00+08:00");
    w2.record(&di, w2.cmd(Some("c1"), w2.happy("petition.received", None)));
    w2.clock = at("2021-04-23T17:00:00+08:00");
    assert!(w2
        .try_record(
            &di,
            w2.cmd(Some("c1"), w2.happy("petition.investigated", None))
        )
        .is_ok());
}

#[test]
fn r5_publicity_concluded_before_its_period_is_refused() {
    // given publicity started for c1 on Friday 30 April 2021, before the Labour
    // Day holiday (1–5 May; Saturday 8 May worked)
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("publicity.started"));
    w.clock = at("2021-04-30T09:00:00+08:00");
    w.happy_record("publicity.started", Some("c1"));
    let org = actor("organisation_department");
    // when it concludes on Monday 10 May: only 4 working days (6, 7, 8, 10)
    w.clock = at("2021-05-10T18:00:00+08:00");
    let conclude = w.cmd(Some("c1"), w.happy("publicity.concluded", None));
    let refusal = assert_refused_with(w.attempt(&org, &conclude), RuleId::R5);
    assert!(refusal.to_string().contains("2021-05-11"), "{refusal}");
    // the party committee does not record publicity in this procedure; a procedure
    // that lets only admin override R5 refuses the organisation department
    let mut strict = World::with(with_override_roles(TOWNSHIP, RuleId::R5, &["admin"]));
    strict.state = w.state.clone();
    not_entitled(
        strict.attempt(&org, &conclude.clone().with_override(RuleId::R5, WHY)),
        RuleId::R5,
    );
    // then the entitled organisation department records it with an override
    let events = w
        .try_record(&org, conclude.with_override(RuleId::R5, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R5, "publicity.concluded", &org);
    // and on 11 May no override is needed
    let mut w2 = World::new(TOWNSHIP);
    w2.walk_until(Some("publicity.started"));
    w2.clock = at("2021-04-30T09:00:00+08:00");
    w2.happy_record("publicity.started", Some("c1"));
    w2.clock = at("2021-05-11T09:00:00+08:00");
    assert!(w2
        .attempt(
            &org,
            &w2.cmd(Some("c1"), w2.happy("publicity.concluded", None))
        )
        .is_ok());
}

#[test]
fn r6_too_few_candidates_for_the_differential_ratio_is_refused() {
    // given two seats and last term's ratio of 50%: at least 3 candidates needed
    let mut w = World::new(TOWNSHIP);
    w.seats = 2;
    w.last_term_ratio = Some(0.5);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    // when the vote is held with only c1 and c2 listed
    let pc = actor("party_committee");
    let vote = w.cmd(None, w.happy("vote.held", None));
    let refusal = assert_refused_with(w.attempt(&pc, &vote), RuleId::R6);
    let text = refusal.to_string();
    assert!(text.contains("at least 3 needed"), "{text}");
    assert!(text.contains("last term 50.0%"), "{text}");
    // a scrutineer may record the vote but not override R6
    not_entitled(
        w.attempt(
            &actor("scrutineer"),
            &vote.clone().with_override(RuleId::R6, WHY),
        ),
        RuleId::R6,
    );
    // the party committee records it with an override
    let events = w
        .try_record(&pc, vote.with_override(RuleId::R6, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R6, "vote.held", &pc);

    // with one seat and 20%, two candidates suffice (ceil(1.2) = 2), and removing
    // one of them makes the ratio fail
    let mut ok = World::new(TOWNSHIP);
    ok.walk_until(Some("vote.held"));
    ok.tick(1);
    assert!(ok
        .attempt(&pc, &ok.cmd(None, ok.happy("vote.held", None)))
        .is_ok());
    ok.happy_record("candidate.removed", Some("c2"));
    assert_refused_with(
        ok.attempt(&pc, &ok.cmd(None, ok.happy("vote.held", None))),
        RuleId::R6,
    );
}

fn vote_with(w: &World, edit: impl FnOnce(&mut VoteHeld)) -> jishi_projections::Command {
    let mut body = w.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        edit(v);
    }
    w.cmd(None, body)
}

#[test]
fn r7_proxy_holder_over_three_or_a_candidate_is_refused() {
    // given a people's congress election ready to vote
    let mut w = World::new(CONGRESS);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let ec = actor("election_committee");
    // when one holder carries 4 proxies and candidate c2 holds another
    let vote = vote_with(&w, |v| {
        v.proxies[0].giver_ids.push("v-4".into());
        v.proxies.push(Proxy {
            holder_id: "c2".into(),
            giver_ids: vec!["v-7".into()],
            committee_approved: true,
        });
    });
    let refusal = assert_refused_with(w.attempt(&ec, &vote), RuleId::R7);
    let text = refusal.to_string();
    assert!(text.contains("v-9 holds 4 proxies; at most 3"), "{text}");
    assert!(text.contains("c2 is a formal candidate"), "{text}");
    // a proxy without the committee's consent is refused as well
    let unapproved = vote_with(&w, |v| v.proxies[0].committee_approved = false);
    assert_refused_with(w.attempt(&ec, &unapproved), RuleId::R7);
    // a scrutineer may record the vote but not override R7
    not_entitled(
        w.attempt(
            &actor("scrutineer"),
            &vote.clone().with_override(RuleId::R7, WHY),
        ),
        RuleId::R7,
    );
    // the election committee records it with an override
    let events = w
        .try_record(&ec, vote.with_override(RuleId::R7, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R7, "vote.held", &ec);
}

#[test]
fn r8_mobile_box_with_one_scrutineer_or_unsealed_is_refused() {
    let mut w = World::new(CONGRESS);
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let ec = actor("election_committee");
    // when a mobile box had one scrutineer (listed twice) and was not sealed
    let vote = vote_with(&w, |v| {
        v.mobile_boxes[0].scrutineers = vec!["s-3".into(), "s-3".into()];
        v.mobile_boxes[0].sealed = false;
    });
    let refusal = assert_refused_with(w.attempt(&ec, &vote), RuleId::R8);
    let text = refusal.to_string();
    assert!(
        text.contains("box-1 has 1 scrutineer(s); at least 2"),
        "{text}"
    );
    assert!(text.contains("not sealed"), "{text}");
    // the election committee grants R8 and may not excuse its own record of
    // the vote, so the scrutineers record it under its grant (D20)
    not_entitled(
        w.attempt(&ec, &vote.clone().with_override(RuleId::R8, WHY)),
        RuleId::R8,
    );
    let scrutineer = actor("scrutineer");
    let events = w
        .try_record(&scrutineer, vote.with_override(RuleId::R8, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R8, "vote.held", &scrutineer);
}

#[test]
fn r9_vote_buying_is_not_listed_removed_if_listed_void_if_elected() {
    // given c1 found to have bought votes before candidacy
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidacy.confirmed"));
    let di = actor("discipline_inspection");
    let found = w.record(&di, w.cmd(Some("c1"), w.happy("finding.vote_buying", None)));
    assert_eq!(found.len(), 1, "not yet listed: nothing to remove");
    w.tick(1);
    // when c1 is confirmed as a candidate
    let org = actor("organisation_department");
    let confirm = w.cmd(Some("c1"), w.happy("candidacy.confirmed", None));
    assert_refused_with(w.attempt(&org, &confirm), RuleId::R9);
    // then no role may override R9 under the built-in procedure
    not_entitled(
        w.attempt(&org, &confirm.clone().with_override(RuleId::R9, WHY)),
        RuleId::R9,
    );
    // unless the procedure entitles one
    let mut lax = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R9,
        &["party_committee"],
    ));
    lax.state = w.state.clone();
    let events = lax
        .try_record(&org, confirm.with_override(RuleId::R9, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R9, "candidacy.confirmed", &org);

    // a listed candidate found to have bought votes is removed by an event
    let mut listed = World::new(TOWNSHIP);
    listed.walk_until(Some("vote.held"));
    let events = listed.record(
        &di,
        listed.cmd(Some("c2"), listed.happy("finding.vote_buying", None)),
    );
    assert_eq!(events.len(), 2);
    match &events[1].body {
        EventBody::CandidateRemoved(r) => assert_eq!(r.rule, Some(RuleId::R9)),
        other => panic!("{other:?}"),
    }
    assert!(listed.state.candidate("c2").unwrap().removed);

    // an elected candidate found to have bought votes (via a petition's
    // conclusion) has the election voided, and the record of winning stays
    let mut won = World::new(TOWNSHIP);
    won.walk_until(None);
    won.happy_record("petition.received", Some("c1"));
    won.tick(1);
    let close = EventBody::PetitionClosed(PetitionClosed {
        petition_id: "p-1".into(),
        conclusion: PetitionConclusion::VoteBuying,
        note: "查实宴请拉票".into(),
    });
    let events = won.record(&di, won.cmd(Some("c1"), close));
    assert_eq!(events[1].event_type(), "candidate.election_voided");
    let c1 = won.state.candidate("c1").unwrap();
    assert!(c1.elected && c1.election_voided);
}

#[test]
fn r10_conflicted_inspector_and_unresigned_committee_member_are_refused() {
    // given insp-2 declared a conflict with c1
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("inspection.conducted"));
    w.happy_record("conflict.declared", Some("c1"));
    w.tick(1);
    // when insp-2 is on the team inspecting c1
    let team = actor("inspection_team");
    let inspect = w.cmd(Some("c1"), w.happy("inspection.conducted", None));
    let refusal = assert_refused_with(w.attempt(&team, &inspect), RuleId::R10);
    assert!(refusal.to_string().contains("insp-2"), "{refusal}");
    // then it cannot be overridden under the built-in procedure
    not_entitled(
        w.attempt(&team, &inspect.clone().with_override(RuleId::R10, WHY)),
        RuleId::R10,
    );
    // a procedure may entitle the inspection team
    let mut lax = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R10,
        &["organisation_department"],
    ));
    lax.state = w.state.clone();
    let events = lax
        .try_record(&team, inspect.with_override(RuleId::R10, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R10, "inspection.conducted", &team);

    // a conflicted chair may not preside over the decision
    let mut d = World::new(TOWNSHIP);
    d.walk_until(Some("committee.decided"));
    let conflict = EventBody::ConflictDeclared(ConflictDeclared {
        person_id: "sec-1".into(),
        person_name: "书记".into(),
        relation: "夫妻".into(),
    });
    d.record(
        &actor("organisation_department"),
        d.cmd(Some("c2"), conflict),
    );
    d.tick(1);
    let decide_c2 = d.cmd(Some("c2"), d.happy("committee.decided", None));
    assert_refused_with(
        d.attempt(&actor("party_committee"), &decide_c2),
        RuleId::R10,
    );

    // an election-committee member becomes a candidate only after resigning
    let mut e = World::new(CONGRESS);
    e.election_committee.push("c1".into());
    e.walk_until(Some("candidacy.confirmed"));
    e.tick(1);
    let ec = actor("election_committee");
    let confirm = e.cmd(Some("c1"), e.happy("candidacy.confirmed", None));
    let refusal = assert_refused_with(e.attempt(&ec, &confirm), RuleId::R10);
    assert!(
        refusal.to_string().contains("has not resigned"),
        "{refusal}"
    );
    e.record(
        &ec,
        e.cmd(
            None,
            e.happy("election_committee.member_resigned", Some("c1")),
        ),
    );
    assert!(e.attempt(&ec, &confirm).is_ok());
}

#[test]
fn r11_role_not_entitled_or_outside_its_organisation_is_refused() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.shortlisted"));
    w.tick(1);
    let shortlist = w.cmd(Some("c1"), w.happy("candidate.shortlisted", None));
    // when the discipline organ records a shortlist (the organisation department's step)
    let di = actor("discipline_inspection");
    let refusal = assert_refused_with(w.attempt(&di, &shortlist), RuleId::R11);
    assert!(
        refusal.to_string().contains("organisation_department"),
        "{refusal}"
    );
    // when a neighbouring township's organisation office records it
    let outsider = Actor::new(
        "x-1",
        "外镇干部",
        "organisation_department",
        "天元区/河西镇",
    );
    let refusal = assert_refused_with(w.attempt(&outsider, &shortlist), RuleId::R11);
    assert!(refusal.to_string().contains("天元区/河西镇"), "{refusal}");
    // the town's own office (same organisation) and the district (above) may
    let town = Actor::new("t-1", "镇组织委员", "organisation_department", UNIT_ORG);
    assert!(w.attempt(&town, &shortlist).is_ok());
    // R11 cannot be overridden under the built-in procedure
    not_entitled(
        w.attempt(&di, &shortlist.clone().with_override(RuleId::R11, WHY)),
        RuleId::R11,
    );
    // a procedure may allow it, and the override is recorded
    let mut lax = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R11,
        &["organisation_department"],
    ));
    lax.state = w.state.clone();
    let events = lax
        .try_record(&di, shortlist.with_override(RuleId::R11, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R11, "candidate.shortlisted", &di);
}

#[test]
fn r12_withdrawal_only_by_the_nominator_and_recorded_not_deleted() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("inspection.conducted"));
    w.tick(1);
    let org = actor("organisation_department");
    // when someone other than the nominator on record withdraws c1
    let wrong = EventBody::NominationWithdrawn(NominationWithdrawn {
        nominator_id: "someone-else".into(),
        reason: "不符合条件".into(),
    });
    let wrong = w.cmd(Some("c1"), wrong);
    let refusal = assert_refused_with(w.attempt(&org, &wrong), RuleId::R12);
    assert!(refusal.to_string().contains("nom-1"), "{refusal}");
    not_entitled(
        w.attempt(&org, &wrong.clone().with_override(RuleId::R12, WHY)),
        RuleId::R12,
    );
    let mut lax = World::with(with_override_roles(
        TOWNSHIP,
        RuleId::R12,
        &["party_committee"],
    ));
    lax.state = w.state.clone();
    let events = lax
        .try_record(&org, wrong.with_override(RuleId::R12, WHY))
        .unwrap();
    assert_override_recorded(&events, RuleId::R12, "nomination.withdrawn", &org);

    // when the nominator withdraws, the record stays and no further step is taken
    w.happy_record("nomination.withdrawn", Some("c1"));
    let c1 = w.state.candidate("c1").unwrap();
    assert!(c1.withdrawn && c1.nomination.is_some() && c1.has("candidate.shortlisted"));
    w.tick(1);
    let inspect = w.cmd(Some("c1"), w.happy("inspection.conducted", None));
    assert_refused_with(w.attempt(&actor("inspection_team"), &inspect), RuleId::R12);
}

#[test]
fn a_needless_override_is_refused_rather_than_recorded() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.shortlisted"));
    w.tick(1);
    let cmd = w.cmd(Some("c1"), w.happy("candidate.shortlisted", None));
    let result = w.attempt(
        &actor("organisation_department"),
        &cmd.with_override(RuleId::R2, WHY),
    );
    assert_eq!(result, Err(Refusal::OverrideNotNeeded { rule: RuleId::R2 }));
}

#[test]
fn deferred_nomination_waits_until_resumed() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("committee.decided"));
    w.happy_record("nomination.deferred", Some("c1"));
    w.tick(1);
    let pc = actor("party_committee");
    let decide_c1 = w.cmd(Some("c1"), w.happy("committee.decided", None));
    let refusal = assert_refused_with(w.attempt(&pc, &decide_c1), RuleId::R2);
    assert!(refusal.to_string().contains("暂缓提名"), "{refusal}");
    w.happy_record("nomination.resumed", Some("c1"));
    assert!(w.attempt(&pc, &decide_c1).is_ok());
}

#[test]
fn commands_for_an_unopened_election_or_unknown_candidate_are_refused() {
    let w = World::new(TOWNSHIP);
    let cmd = w.cmd(Some("c1"), w.happy("candidate.nominated", None));
    assert!(matches!(
        w.attempt(&actor("organisation_department"), &cmd),
        Err(Refusal::ElectionNotOpened(_))
    ));
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.nominated"));
    let cmd = w.cmd(Some("ghost"), w.happy("candidate.shortlisted", None));
    assert!(matches!(
        w.attempt(&actor("organisation_department"), &cmd),
        Err(Refusal::UnknownCandidate(_))
    ));
}

#[test]
fn r1_a_nomination_after_the_vote_is_refused() {
    // given an election that has voted
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.elected"));
    w.tick(1);
    // when a new candidate is nominated
    let late = w.cmd(Some("c3"), w.happy("candidate.nominated", Some("c3")));
    let refusal = assert_refused_with(
        w.attempt(&actor("organisation_department"), &late),
        RuleId::R1,
    );
    // then the refusal names the step already reached
    assert!(
        refusal
            .to_string()
            .contains("already reached step `deliberate`"),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("`vote`"), "{refusal}");
}

#[test]
fn ids_that_would_break_stream_names_are_refused() {
    let mut w = World::new(TOWNSHIP);
    w.walk_until(Some("candidate.nominated"));
    let cmd = w.cmd(Some("c/1"), w.happy("candidate.nominated", Some("c/1")));
    assert!(matches!(
        w.attempt(&actor("organisation_department"), &cmd),
        Err(Refusal::Invalid { field, .. }) if field == "candidate_id"
    ));
}
