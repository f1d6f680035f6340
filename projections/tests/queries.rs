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
