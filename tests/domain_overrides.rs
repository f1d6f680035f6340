//! Issue 16 item 3 through the real binary: an override must come from a
//! role other than the one whose act it excuses (D20). The party committee
//! cannot excuse its own decision (R2), the discipline organ its own late
//! report (R4); the grant names its rule and the act, and the act recorded
//! under it shows the granter in `jishi check`.

mod common;

use std::path::Path;

use common::{jishi, text};
use jishi_projections::demo::{generate, DemoConfig};
use jishi_projections::events::OverrideGranted;
use jishi_projections::{Actor, Command, EventBody, RuleId};
use serde_json::Value;

fn record(db: &Path, actor: &Actor, cmd: &Command) -> std::process::Output {
    let json = cmd.to_json().to_string();
    let actor = serde_json::to_string(actor).expect("actor");
    jishi(
        db,
        &["record", cmd.kind(), "--json", &json, "--actor", &actor],
        None,
    )
}

fn record_ok(db: &Path, actor: &Actor, cmd: &Command) {
    let out = record(db, actor, cmd);
    assert!(out.status.success(), "{}: {}", cmd.kind(), text(&out));
}

fn grant(cmd: &Command, rule: RuleId) -> Command {
    Command::new(
        &cmd.election_id,
        cmd.candidate_id.as_deref(),
        cmd.occurred_at,
        EventBody::OverrideGranted(OverrideGranted {
            rule,
            excused_event_type: cmd.kind().into(),
            justification: "经市委组织部批准，先行研究".into(),
            granted_by: None,
        }),
    )
}

#[test]
fn self_serving_overrides_are_refused_and_a_grant_from_another_role_is_respected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("overrides.db");
    assert!(jishi(&db, &["init"], None).status.success());
    let demo = generate(&DemoConfig {
        seed: 7,
        townships: 1,
    })
    .expect("demo");
    let e = &demo.elections[0];
    // The demo up to its first nomination.
    let mut candidate = None;
    for p in &e.commands {
        record_ok(&db, &p.actor, &p.command);
        if matches!(p.command.body, EventBody::Nominated(_)) {
            candidate = p.command.candidate_id.clone();
            break;
        }
    }
    let c = candidate.expect("a nominee");
    let decision = e
        .commands
        .iter()
        .find(|p| {
            matches!(p.command.body, EventBody::CommitteeDecided(_))
                && p.command.candidate_id.as_deref() == Some(c.as_str())
        })
        .expect("the decision")
        .clone();
    let committee = decision.actor.clone();
    assert_eq!(committee.role, "party_committee");

    // The committee may not grant itself an override of R2 for its decision.
    let out = record(&db, &committee, &grant(&decision.command, RuleId::R2));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("R11"), "{said}");
    assert!(
        said.contains("may not grant an override of R2 (for committee.decided)")
            && said.contains("higher_party_committee"),
        "{said}"
    );

    // The discipline organ may not excuse its own late report (R4).
    let jw = Actor::new("jw-007", "赵磊", "discipline_inspection", "天元区");
    let late = Command::new(
        &e.election_id,
        Some(&c),
        decision.command.occurred_at,
        EventBody::PetitionInvestigated(jishi_projections::events::PetitionInvestigated {
            petition_id: "xf-9".into(),
            result: "经查失实".into(),
            handler: "jw-011".into(),
            leader: "jw-007".into(),
        }),
    );
    let out = record(&db, &jw, &grant(&late, RuleId::R4));
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("may not grant an override of R4")
            && said.contains("higher_discipline_inspection"),
        "{said}"
    );

    // Without a grant, the committee's overridden decision is refused, naming
    // who may grant it.
    let overridden = decision
        .command
        .clone()
        .with_override(RuleId::R1, "经批准提前研究")
        .with_override(RuleId::R2, "经批准提前研究");
    let out = record(&db, &committee, &overridden);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("needs an override.granted for this act")
            && said.contains("recorded first by organisation_department"),
        "{said}"
    );

    // Grants by the organisation department (R1) and from above (R2): the
    // decision is recorded, and the compliance report names the granters.
    let zzb = Actor::new("zzb-001", "张伟", "organisation_department", "天元区");
    let city = Actor::new("swzzb-01", "陈平", "higher_party_committee", "天元区");
    record_ok(&db, &zzb, &grant(&decision.command, RuleId::R1));
    record_ok(&db, &city, &grant(&decision.command, RuleId::R2));
    record_ok(&db, &committee, &overridden);
    let out = jishi(&db, &["check", &e.election_id, "--json"], None);
    assert!(out.status.success(), "{}", text(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("check --json");
    let findings = v["findings"].as_array().cloned().unwrap_or_default();
    let overrides: Vec<&Value> = findings
        .iter()
        .filter(|f| f["kind"] == "override")
        .collect();
    assert_eq!(overrides.len(), 2, "{findings:?}");
    assert!(
        overrides.iter().any(|f| f["rule"] == "R2"
            && f["detail"]
                .as_str()
                .is_some_and(|d| d.contains("swzzb-01") && d.contains("higher_party_committee"))),
        "{overrides:?}"
    );
    let out = jishi(&db, &["verify", "--domain"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}
