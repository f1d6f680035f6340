//! The read-side views over histories recorded through `decide`: trail,
//! responsibility chain, as-of, and one scenario per compliance finding type,
//! each asserting the finding and its evidence positions.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::views::{
    self, as_of, position_at, Entry, FindingKind, Projections, StructureRules,
};
use jishi_projections::{EventBody, RuleId, Sensitivity};

fn position_of(entries: &[Entry], candidate: &str, event_type: &str) -> u64 {
    entries
        .iter()
        .rev()
        .find(|e| {
            e.event.candidate_id.as_deref() == Some(candidate) && e.event.event_type() == event_type
        })
        .map(|e| e.position)
        .unwrap_or_else(|| panic!("no {event_type} for {candidate}"))
}

fn report(w: &World) -> views::ComplianceReport {
    views::check(&entries(w), &w.procedure, &StructureRules::default())
}

fn only(report: &views::ComplianceReport, kind: FindingKind) -> views::Finding {
    let found: Vec<_> = report.of_kind(kind).cloned().collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind:?}, got {:#?}",
        report.findings
    );
    found.into_iter().next().expect("one finding")
}

fn petition(id: &str, specific: bool) -> EventBody {
    EventBody::PetitionReceived(PetitionReceived {
        petition_id: id.into(),
        channel: "来信".into(),
        specific,
        summary: "反映问题".into(),
    })
}

#[test]
fn a_full_walk_has_a_complete_trail_chain_and_no_findings() {
    // Given a walk through every step of the township procedure
    let mut w = World::new("township_party_committee");
    w.walk_until(None);
    let es = entries(&w);

    // When the trail and chain of c1 are read
    let t = views::trail(&es, "c1");
    let a = views::accountability(&es, "c1");

    // Then the trail has every c1 event in ledger order, with actor and hash
    let c1_events = es
        .iter()
        .filter(|e| e.event.candidate_id.as_deref() == Some("c1"))
        .count();
    assert_eq!(t.rows.len(), c1_events);
    assert!(t.rows.windows(2).all(|p| p[0].position < p[1].position));
    assert_eq!(t.name.as_deref(), Some("候选人c1"));
    assert_eq!(t.rows[0].event_type, "candidate.nominated");
    assert_eq!(t.rows[0].step, "提名推荐");
    assert_eq!(t.rows[0].hash.len(), 12);
    // And the chain names the nominator, the inspectors, each check's
    // performer and the chair
    assert_eq!(
        a.find("nominated").expect("nominated").responsible,
        vec!["镇党委 (nom-1)"]
    );
    let inspected = a.find("inspected").expect("inspected");
    assert!(inspected
        .responsible
        .contains(&"组长 insp-lead".to_string()));
    assert!(inspected.responsible.contains(&"组员 insp-2".to_string()));
    assert_eq!(
        a.find("discipline_opinion")
            .expect("opinion")
            .recorded_by
            .role,
        "discipline_inspection"
    );
    for duty in [
        "archive_reviewed",
        "personal_matters_verified",
        "petitions_swept",
        "approved",
    ] {
        assert!(a.find(duty).is_some(), "{duty} missing from {a:#?}");
    }
    let decided = a.find("decided").expect("decided");
    assert_eq!(decided.responsible[0], "主持 sec-1");
    assert_eq!(
        decided.position,
        position_of(&es, "c1", "committee.decided")
    );
    // And a clean history has no finding
    let r = report(&w);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

/// A walked election's entries where c1's archive review is corrected by a
/// later event: (entries, archive position, correction position).
fn corrected_archive() -> (Vec<Entry>, u64, u64) {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("deliberation.round"));
    let archive = position_of(&entries(&w), "c1", "check.archive_reviewed");
    w.tick(1);
    let cmd = w.cmd(
        Some("c1"),
        EventBody::CorrectionRecorded(CorrectionRecorded {
            corrects_event_id: archive.to_string(),
            reason: "参加工作时间笔误".into(),
            corrected: Some(serde_json::json!({"work_start_date": "2010-08-01"})),
        }),
    );
    w.record(&actor("organisation_department"), cmd);
    let es = entries(&w);
    let correction = es.last().expect("correction").position;
    (es, archive, correction)
}

#[test]
fn a_correction_is_shown_beside_the_row_it_corrects() {
    // Given c1's archive review and a later correction pointing at its position
    let (es, archive, correction) = corrected_archive();

    // When the trail is read
    let t = views::trail(&es, "c1");

    // Then the archive row carries the correction, and the correction row points back
    let row = t
        .rows
        .iter()
        .find(|r| r.position == archive)
        .expect("archive row");
    assert_eq!(row.corrections.len(), 1);
    assert_eq!(row.corrections[0].position, correction);
    assert_eq!(row.corrections[0].reason, "参加工作时间笔误");
    let last = t.rows.last().expect("rows");
    assert_eq!(last.corrects, Some(archive));
}

#[test]
fn redaction_hides_restricted_content_and_corrections_of_it_but_not_who_or_when() {
    // Given c1's archive review (personal matters) and a correction of it
    let (es, archive, correction) = corrected_archive();
    let full = views::trail(&es, "c1");

    // When a reader who may not see personal matters reads the trail
    let mut t = full.clone();
    views::redact_trail(&mut t, &es, &|s| s != Sensitivity::PersonalMatters);
    let mut a = views::accountability(&es, "c1");
    views::redact_accountability(&mut a, &es, &|s| s != Sensitivity::PersonalMatters);

    // Then the archive row and the correction row show only the digest...
    for p in [archive, correction] {
        let row = t.rows.iter().find(|r| r.position == p).expect("row");
        let r = row.restricted.as_ref().expect("restricted");
        assert_eq!(r.sensitivity, Sensitivity::PersonalMatters);
        let digest: String = (0..32).map(|_| format!("{:02x}", (p - 1) as u8)).collect();
        assert_eq!(r.payload_digest, digest);
        assert!(row.facts.contains("restricted"), "{}", row.facts);
        assert!(!row.facts.contains("2010"), "{}", row.facts);
    }
    let row = t.rows.iter().find(|r| r.position == archive).expect("row");
    assert!(row.corrections[0].corrected.is_none());
    assert!(!row.corrections[0].reason.contains("笔误"));
    // ...while step, actor, times and hash are unchanged, as are other rows.
    let before = full
        .rows
        .iter()
        .find(|r| r.position == archive)
        .expect("row");
    assert_eq!(
        (&row.step, &row.actor, &row.occurred_at, &row.hash),
        (
            &before.step,
            &before.actor,
            &before.occurred_at,
            &before.hash
        )
    );
    let others = |t: &views::Trail| {
        t.rows
            .iter()
            .filter(|r| {
                r.position != correction
                    && jishi_projections::sensitivity_of(&r.event_type) == Sensitivity::Process
            })
            .map(|r| r.facts.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(others(&t), others(&full));
    let duty = a
        .duties
        .iter()
        .find(|d| d.position == archive)
        .expect("duty");
    assert!(duty.detail.contains("restricted"), "{}", duty.detail);
    // A reader who may see everything gets the trail unchanged.
    let mut all = full.clone();
    views::redact_trail(&mut all, &es, &|_| true);
    assert_eq!(all, full);
}

#[test]
fn a_petition_after_the_decision_is_in_todays_trail_not_the_decision_view_and_is_not_ignored() {
    // Given c1 decided, then a specific petition on c1 received after the decision
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.tick(1);
    w.happy_record("committee.decided", Some("c1"));
    let decision = position_of(&entries(&w), "c1", "committee.decided");
    w.tick(1);
    let cmd = w.cmd(Some("c1"), petition("p-late", true));
    w.record(&actor("discipline_inspection"), cmd);
    let es = entries(&w);
    let received = es.last().expect("petition").position;

    // When the trail is read today and as of the decision
    let today = views::trail(&es, "c1");
    let then = views::trail(as_of(&es, decision), "c1");

    // Then today's trail shows the petition and the decision's view does not
    assert!(today.rows.iter().any(|r| r.position == received));
    assert!(then
        .rows
        .iter()
        .all(|r| r.event_type != "petition.received"));
    assert_eq!(then.as_of, decision);
    // And as of the decision's recorded time is the same view
    let t = es[decision as usize - 1].recorded_at;
    assert_eq!(position_at(&es, t), decision);
    // And check reports it as arrived after the decision, not as ignored
    let r = report(&w);
    let f = only(&r, FindingKind::ArrivedAfterDecision);
    assert_eq!(f.candidate_id.as_deref(), Some("c1"));
    assert_eq!(f.evidence, vec![decision, received]);
    assert!(f.detail.contains("still open"), "{}", f.detail);
    assert_eq!(r.of_kind(FindingKind::OpenAtDecision).count(), 0);
}

#[test]
fn a_decision_over_an_open_petition_under_override_is_reported_with_both_positions() {
    // Given a specific petition open on c1 and a decision recorded under an R3 override
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.tick(1);
    let cmd = w.cmd(Some("c1"), petition("p-1", true));
    w.record(&actor("discipline_inspection"), cmd);
    let received = entries(&w).last().expect("petition").position;
    w.tick(1);
    let body = w.happy("committee.decided", Some("c1"));
    let cmd = w
        .cmd(Some("c1"), body)
        .with_override(RuleId::R3, "问题与任职无关，先行决定");
    w.record(&actor("party_committee"), cmd);
    let es = entries(&w);
    let decision = position_of(&es, "c1", "committee.decided");

    // When the election is checked
    let r = report(&w);

    // Then the decision is reported as taken while the petition was open (overridden)
    let f = only(&r, FindingKind::OpenAtDecision);
    assert_eq!(f.evidence, vec![received, decision]);
    assert!(f.detail.contains("overridden under R3"), "{}", f.detail);
    // And the override itself is a finding, with the override and the act
    let o = only(&r, FindingKind::Override);
    assert_eq!(o.rule, Some(RuleId::R3));
    assert_eq!(o.evidence, vec![decision - 1, decision]);
    assert!(o.detail.contains("问题与任职无关"));
}

#[test]
fn a_non_specific_petition_left_open_at_the_decision_is_reported_as_ignored() {
    // Given a non-specific petition (which does not block) open at the decision
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.tick(1);
    let cmd = w.cmd(Some("c2"), petition("p-2", false));
    w.record(&actor("discipline_inspection"), cmd);
    w.tick(1);
    w.happy_record("committee.decided", Some("c2"));

    // When checked
    let r = report(&w);

    // Then it is "ignored", not overridden
    let f = only(&r, FindingKind::OpenAtDecision);
    assert!(f.detail.contains("ignored"), "{}", f.detail);
    assert_eq!(r.of_kind(FindingKind::Override).count(), 0);
}

#[test]
fn a_late_report_is_found_with_receipt_and_result_positions() {
    // Given a petition received, and its result 10 days later under an R4 override
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.tick(1);
    let cmd = w.cmd(Some("c2"), petition("p-3", false));
    w.record(&actor("discipline_inspection"), cmd);
    let received = entries(&w).last().expect("received").position;
    w.tick(10);
    let body = EventBody::PetitionInvestigated(PetitionInvestigated {
        petition_id: "p-3".into(),
        result: "经查失实".into(),
        handler: "h-1".into(),
        leader: "l-1".into(),
    });
    let cmd = w
        .cmd(Some("c2"), body)
        .with_override(RuleId::R4, "案情复杂，延期查结");
    w.record(&actor("discipline_inspection"), cmd);
    let result = entries(&w).last().expect("result").position;

    // When checked
    let r = report(&w);

    // Then the late report names both positions and the override
    let f = only(&r, FindingKind::LateReport);
    assert_eq!(f.rule, Some(RuleId::R4));
    assert_eq!(f.evidence, vec![received, result]);
    assert!(f.detail.contains("R4 override"), "{}", f.detail);
    assert_eq!(only(&r, FindingKind::Override).rule, Some(RuleId::R4));
}

#[test]
fn short_publicity_is_found() {
    // Given publicity concluded the day after it began, under an R5 override
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.concluded"));
    w.tick(1);
    let body = w.happy("publicity.concluded", Some("c1"));
    let cmd = w
        .cmd(Some("c1"), body)
        .with_override(RuleId::R5, "日程调整");
    w.record(&actor("organisation_department"), cmd);
    let es = entries(&w);

    // When checked
    let r = report(&w);

    // Then the short publicity names its start and its end
    let f = only(&r, FindingKind::ShortPublicity);
    assert_eq!(f.candidate_id.as_deref(), Some("c1"));
    assert_eq!(
        f.evidence,
        vec![
            position_of(&es, "c1", "publicity.started"),
            position_of(&es, "c1", "publicity.concluded")
        ]
    );
    assert!(f.detail.contains("R5 override"), "{}", f.detail);
}

#[test]
fn differential_ratio_proxy_and_scrutineer_faults_at_the_vote_are_found() {
    // Given 2 seats (3 candidates needed at 20%) but 2 listed, a holder with 4
    // proxies and a mobile box with one scrutineer, voted under overrides
    let mut w = World::new("township_party_committee");
    w.seats = 2;
    w.walk_until(Some("vote.held"));
    w.tick(1);
    let mut body = w.happy("vote.held", None);
    if let EventBody::VoteHeld(v) = &mut body {
        v.proxies[0].giver_ids.push("v-4".into());
        v.mobile_boxes[0].scrutineers = vec!["s-3".into()];
    }
    let cmd = w
        .cmd(None, body)
        .with_override(RuleId::R6, "候选人因故减少，经批准")
        .with_override(RuleId::R7, "特殊情况")
        .with_override(RuleId::R8, "特殊情况");
    w.record(&actor("party_committee"), cmd);
    let es = entries(&w);
    let vote = es
        .iter()
        .find(|e| e.event.event_type() == "vote.held")
        .expect("vote")
        .position;

    // When checked
    let r = report(&w);

    // Then each fault is found at the vote's position
    let d = only(&r, FindingKind::DifferentialRatio);
    assert_eq!(d.evidence, vec![vote]);
    assert!(
        d.detail.contains("2 candidates for 2 seats, 3 needed"),
        "{}",
        d.detail
    );
    let p = only(&r, FindingKind::Proxy);
    assert!(p.detail.contains("v-9 carried 4 proxies"), "{}", p.detail);
    assert_eq!(p.evidence, vec![vote]);
    let s = only(&r, FindingKind::Scrutineer);
    assert!(s.detail.contains("1 scrutineer(s)"), "{}", s.detail);
    assert_eq!(r.of_kind(FindingKind::Override).count(), 3);
}

#[test]
fn structure_checks_report_each_shortfall_of_the_elected_team() {
    // Given a full walk: c1 is elected (a woman born 1988, 6 years of township work, continuing)
    let mut w = World::new("township_party_committee");
    w.walk_until(None);
    let es = entries(&w);
    let nominated = position_of(&es, "c1", "candidate.nominated");

    // When checked against stricter structure thresholds
    let rules = StructureRules {
        township_years: Some(10),
        min_women: Some(2),
        young_age: Some(30),
        retirement_age: Some(35),
        ..StructureRules::default()
    };
    let r = views::check(&es, &w.procedure, &rules);

    // Then each structure check reports, with the member's nomination as evidence
    for kind in [
        FindingKind::TownshipWork,
        FindingKind::Women,
        FindingKind::YoungCadres,
        FindingKind::ServiceTerm,
    ] {
        let f = only(&r, kind);
        assert_eq!(f.evidence, vec![nominated], "{kind:?}");
    }
    assert!(only(&r, FindingKind::ServiceTerm)
        .detail
        .contains("continuing member"));
}

#[test]
fn vote_buying_after_the_election_is_found_with_the_voiding() {
    // Given c1 elected, then vote buying established
    let mut w = World::new("township_party_committee");
    w.walk_until(None);
    w.tick(1);
    w.happy_record("finding.vote_buying", Some("c1"));
    let es = entries(&w);

    // When checked
    let r = report(&w);

    // Then the finding names the finding and the voiding
    let f = only(&r, FindingKind::VoteBuying);
    assert_eq!(
        f.evidence,
        vec![
            position_of(&es, "c1", "finding.vote_buying"),
            position_of(&es, "c1", "candidate.election_voided")
        ]
    );
    assert!(f.detail.contains("void"), "{}", f.detail);
    // And the team statistics no longer count c1
    let s = views::stats(&w.state);
    assert_eq!(s.members, 0);
}

#[test]
fn a_deferred_nomination_is_reported_until_resumed() {
    // Given c2 deferred
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.tick(1);
    w.happy_record("nomination.deferred", Some("c2"));
    let deferred = position_of(&entries(&w), "c2", "nomination.deferred");

    // Then it is a finding with the deferral's position
    let f = only(&report(&w), FindingKind::Deferred);
    assert_eq!(f.evidence, vec![deferred]);

    // And once resumed it is not
    w.tick(1);
    w.happy_record("nomination.resumed", Some("c2"));
    assert_eq!(report(&w).of_kind(FindingKind::Deferred).count(), 0);
}

#[test]
fn statistics_of_a_walked_election() {
    // Given a full walk: c1 (woman, 33, 6 years township work) elected with 80 of 96
    let mut w = World::new("township_party_committee");
    w.walk_until(None);

    // When the statistics are computed
    let s = views::stats(&w.state);

    // Then they describe the one-member team and the ballot
    assert_eq!(s.members, 1);
    assert_eq!(s.women, 1);
    assert_eq!(s.under_35, 1);
    assert_eq!(s.average_age, Some(33.0));
    assert_eq!(s.township_2y_share, Some(1.0));
    assert_eq!(s.on_ballot, Some(2));
    assert_eq!(s.differential_ratio, Some(1.0));
    assert_eq!(s.vote_shares[0].votes, 80);
    assert!((s.vote_shares[0].share - 80.0 / 96.0).abs() < 1e-9);
    let rows = views::candidates(&w.state, s.on);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].status, "elected 当选");
}

#[test]
fn projections_refuse_entries_out_of_order() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("candidate.shortlisted"));
    let es = entries(&w);
    let mut p = Projections::default();
    p.apply(es[1].clone()).expect("first");
    let err = p.apply(es[0].clone()).expect_err("older position");
    assert!(err.to_string().contains("ledger order"), "{err}");
}
