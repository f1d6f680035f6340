//! D29 (issue 16 item 7, partly): the supervision group records its visits
//! and findings; the coverage query names the steps it observed and those it
//! did not.

mod common;

use chrono::Duration;
use common::*;
use jishi_projections::events::*;
use jishi_projections::views::supervision::coverage;
use jishi_projections::views::Entry;
use jishi_projections::{EventBody, Refusal, RuleId};

fn visit(step: &str, problems: &[&str]) -> EventBody {
    EventBody::SupervisionVisited(SupervisionVisited {
        step: step.into(),
        observations: "现场查看公示栏和记录".into(),
        nonconformities: problems.iter().map(|p| p.to_string()).collect(),
        corrective_order: (!problems.is_empty()).then(|| "限期整改".to_string()),
    })
}

#[test]
fn visits_are_the_supervision_groups_and_coverage_names_the_unobserved_steps() {
    let mut w = World::new("township_party_committee");
    w.walk_until(Some("publicity.concluded"));
    let group = actor("supervision_group");
    w.record(&group, w.cmd(None, visit("inspect", &[])));
    w.record(
        &group,
        w.cmd(None, visit("publicity", &["公示栏未标明举报电话"])),
    );
    // another role may not record it, and the step must exist
    assert_refused_with(
        w.attempt(
            &actor("organisation_department"),
            &w.cmd(None, visit("publicity", &[])),
        ),
        RuleId::R11,
    );
    assert!(matches!(
        w.attempt(&group, &w.cmd(None, visit("banquet", &[]))),
        Err(Refusal::Invalid { field, .. }) if field == "step"
    ));
    let base = at("2021-06-01T00:00:00+00:00");
    let entries: Vec<Entry> = w
        .events
        .iter()
        .enumerate()
        .map(|(i, e)| Entry {
            position: i as u64 + 1,
            event_id: (i + 1).to_string(),
            recorded_at: base + Duration::seconds(i as i64),
            actor: w.recorder(e.event_type()),
            hash: [0; 32],
            payload_digest: [0; 32],
            gated_under: None,
            event: e.clone(),
        })
        .collect();
    let c = coverage(&entries, &w.procedure);
    let observed: Vec<&str> = c
        .steps
        .iter()
        .filter(|s| !s.visits.is_empty())
        .map(|s| s.step.as_str())
        .collect();
    assert_eq!(observed, ["inspect", "publicity"]);
    assert_eq!(c.unobserved().count(), w.procedure.steps.len() - 2);
    assert_eq!(c.findings.len(), 1);
    assert_eq!(c.findings[0].nonconformity, "公示栏未标明举报电话");
    assert_eq!(c.findings[0].corrective_order.as_deref(), Some("限期整改"));
}
