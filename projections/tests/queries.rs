//! Domain decision 31 (issue 16, item 7): the joint-review matrix and the
//! deferrals with how each ended, as pure views of an election's entries.

mod common;

use common::*;
use jishi_projections::events::*;
use jishi_projections::views::queries::{deferrals, review_matrix};
use jishi_projections::Procedure;

#[test]
fn the_joint_review_matrix_has_every_department_of_the_procedure() {
    let mut w = World::new("party_representative");
    w.walk_until(None);
    let required = Procedure::builtin("party_representative")
        .expect("procedure")
        .joint_review_departments;
    let mut es = entries(&w);
    let m = review_matrix(&es, &required);
    assert_eq!(m.departments, required);
    assert_eq!(m.rows.len(), 2, "{:?}", m.rows);
    for r in &m.rows {
        assert_eq!(r.cells.len(), 17);
        assert!(r.missing.is_empty() && r.flagged_by.is_empty(), "{r:?}");
        assert_eq!(
            r.name.as_deref(),
            Some(format!("候选人{}", r.candidate_id).as_str())
        );
    }
    // A review recorded with one department short and one failing (as an
    // older ledger, or a raw append, could hold it): the matrix says so.
    let review = es
        .iter_mut()
        .find(|e| {
            e.event.candidate_id.as_deref() == Some("c2") && e.event.event_type() == "review.joint"
        })
        .expect("c2's review");
    if let EventBody::JointReview(r) = &mut review.event.body {
        r.departments.retain(|d| d.department != "信访局");
        if let Some(d) = r.departments.first_mut() {
            d.verdict = ReviewVerdict::Failed;
            d.note = Some("有信访件未办结".into());
        }
    }
    let m = review_matrix(&es, &required);
    let c2 = m.rows.iter().find(|r| r.candidate_id == "c2").expect("c2");
    assert_eq!(c2.missing, ["信访局"]);
    assert_eq!(c2.flagged_by, [required[0].clone()]);
    assert_eq!(
        c2.cells[&required[0]].note.as_deref(),
        Some("有信访件未办结")
    );
    // Before the reviews, every nominee is listed as not reviewed.
    let before: Vec<_> = es
        .iter()
        .take_while(|e| e.event.event_type() != "review.joint")
        .cloned()
        .collect();
    let m = review_matrix(&before, &required);
    assert!(m.rows.is_empty());
    assert_eq!(m.not_reviewed, ["c1", "c2"]);
}

#[test]
fn each_deferral_is_listed_with_how_it_ended() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("committee.decided"));
    w.happy_record("nomination.deferred", Some("c1"));
    w.tick(1);
    w.happy_record("nomination.deferred", Some("c2"));
    w.tick(1);
    w.happy_record("nomination.resumed", Some("c1"));
    let es = entries(&w);
    let list = deferrals(&es);
    assert_eq!(list.len(), 2);
    let c1 = &list[0];
    assert_eq!(c1.candidate_id, "c1");
    let end = c1.ended.as_ref().expect("c1 resumed");
    assert_eq!(end.how, "resumed");
    assert!(end.position > c1.position);
    assert_eq!(list[1].candidate_id, "c2");
    assert!(list[1].ended.is_none(), "c2 is still deferred");
    assert!(!list[1].reason.is_empty());
}

#[test]
fn the_composition_counts_the_elected_of_several_elections_together() {
    use jishi_projections::views::queries::composition;
    let mut w = World::new("party_representative");
    w.walk_until(None);
    // The same election with stated categories and ethnicities, as two
    // units of one congress.
    let mut events = w.events.clone();
    for e in &mut events {
        if let EventBody::Nominated(n) = &mut e.body {
            let first = e.candidate_id.as_deref() == Some("c1");
            n.representative_category = Some(if first {
                RepresentativeCategory::Frontline
            } else {
                RepresentativeCategory::MigrantWorker
            });
            n.ethnicity = Some(if first { "汉族" } else { "苗族" }.into());
        }
    }
    let a = jishi_projections::fold(events.iter());
    let b = jishi_projections::fold(w.events.iter());
    let elected_a = a.candidates.values().filter(|c| c.holds_seat()).count();
    assert!(elected_a >= 1);
    let c = composition([("unit-a", &a), ("unit-b", &b)]);
    assert_eq!(c.elections, ["unit-a", "unit-b"]);
    let elected_b = b.candidates.values().filter(|c| c.holds_seat()).count();
    assert_eq!(c.elected, elected_a + elected_b);
    let stated: usize = ["frontline", "migrant_worker"]
        .iter()
        .map(|k| c.by_category.get(*k).copied().unwrap_or(0))
        .sum();
    assert_eq!(
        stated, elected_a,
        "unit-a's elected are counted by category"
    );
    assert_eq!(c.by_category.get("unstated").copied(), Some(elected_b));
    let total: f64 = c.shares.values().sum();
    assert!((total - 1.0).abs() < 1e-9, "{:?}", c.shares);
    // c1 wins the walk's one seat: a front-line 汉族 representative.
    assert_eq!(c.by_category.get("frontline").copied(), Some(elected_a));
    assert_eq!(c.minorities, 0);
    assert_eq!(c.ethnicity_unstated, elected_b);
    // The same winner as 苗族 counts as a minority.
    for e in &mut events {
        if let EventBody::Nominated(n) = &mut e.body {
            n.ethnicity = Some("苗族".into());
        }
    }
    let m = jishi_projections::fold(events.iter());
    assert_eq!(composition([("unit-a", &m)]).minorities, elected_a);
}

/// 上查一级 (domain decision 33): a whole township election, then vote
/// buying established for c1. The query names the breach, the direct chain,
/// and those above it: the chair and members of the deciding meeting, the
/// approving body, the organisation department's staff and the supervision
/// group, with the leading organisation. A reader who may not see petition
/// content sees that a substantiated petition exists, not what it says.
#[test]
fn one_level_up_names_those_above_the_direct_chain() {
    use jishi_projections::views::oversight::one_level_up;
    let mut w = World::new("township_party_committee");
    w.walk_until(None);
    let visit = w.cmd(
        None,
        EventBody::SupervisionVisited(SupervisionVisited {
            step: "vote".into(),
            observations: "投票现场秩序正常".into(),
            nonconformities: vec![],
            corrective_order: None,
        }),
    );
    w.record(&w.recorder("supervision.visited"), visit);
    let everyone = |_: Sensitivity| true;
    let before = one_level_up(&entries(&w), "c1", &everyone);
    assert!(before.breaches.is_empty(), "{:?}", before.breaches);
    let found = w.cmd(
        Some("c1"),
        EventBody::VoteBuyingFound(VoteBuyingFound {
            source: "区纪委调查".into(),
            summary: "向代表赠送购物卡".into(),
        }),
    );
    w.record(&w.recorder("finding.vote_buying"), found);
    let es = entries(&w);
    let up = one_level_up(&es, "c1", &everyone);
    // The finding, and the election voided that follows from it (R9).
    let kinds: Vec<&str> = up.breaches.iter().map(|b| b.event_type.as_str()).collect();
    assert_eq!(kinds, ["finding.vote_buying", "candidate.election_voided"]);
    assert_eq!(up.breaches[0].detail, "向代表赠送购物卡");
    let finding_at = up.breaches[0].position;
    let duties: Vec<&str> = up.direct.iter().map(|d| d.duty).collect();
    for d in ["nominated", "inspected", "decided"] {
        assert!(duties.contains(&d), "{d}: {duties:?}");
    }
    let above: Vec<&str> = up.above.iter().map(|o| o.duty).collect();
    for d in [
        "chair",
        "meeting",
        "approval",
        "organisation",
        "supervision",
    ] {
        assert!(above.contains(&d), "{d}: {above:?}");
    }
    let chair = up.above.iter().find(|o| o.duty == "chair").expect("chair");
    assert!(!chair.who[0].is_empty());
    let approval = up
        .above
        .iter()
        .find(|o| o.duty == "approval")
        .expect("approval");
    assert!(!approval.who[0].is_empty(), "the approving body");
    assert!(up.supervised);
    assert!(up.leading_org.is_some(), "the level above the unit");
    // Another candidate's breach is not c1's.
    assert!(one_level_up(&es, "c2", &everyone).breaches.is_empty());
    // A substantiated petition on c1: a reader without petition rights
    // sees that it exists and where, not what it says.
    let mut with_petition = es.clone();
    let mut closed = es[es.len() - 1].clone();
    closed.position += 1;
    closed.event.body = EventBody::PetitionClosed(PetitionClosed {
        petition_id: "p-9".into(),
        conclusion: PetitionConclusion::Substantiated,
        note: "举报属实".into(),
    });
    with_petition.push(closed);
    let no_petitions = |s: Sensitivity| s == Sensitivity::Process;
    let up = one_level_up(&with_petition, "c1", &no_petitions);
    let p = up.breaches.last().expect("the petition");
    assert_eq!(p.event_type, "petition.closed");
    assert!(p.restricted && p.detail.is_empty(), "{p:?}");
    assert_eq!(
        up.breaches[0].detail, "向代表赠送购物卡",
        "a finding is process"
    );
    let up = one_level_up(&with_petition, "c1", &everyone);
    assert_eq!(
        up.breaches.last().map(|b| b.detail.as_str()),
        Some("举报属实")
    );
    // As of before the finding, nothing is found.
    let cut = es.iter().take_while(|e| e.position < finding_at).count();
    let earlier = one_level_up(&es[..cut], "c1", &everyone);
    assert!(earlier.breaches.is_empty());
}
