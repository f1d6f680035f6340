//! The server's compliance view (GET /api/elections/{id}/check) shows what
//! replay finds (D68), as `jishi check` does: a committee decision appended
//! raw into an election stream, after only the nomination, is reported at
//! its position with the rule and as recorded outside the gates; the same
//! election recorded through the gates shows neither.

mod common;

use std::sync::Arc;

use common::server::{operator, rt, serve};
use jishi_app::batch::{record_batch, BatchItem};
use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{AppendRequest, ExpectedVersion, NewEvent};
use jishi_projections::EventBody;
use jishi_server::AppState;
use serde_json::Value;

#[test]
fn the_compliance_view_reports_a_raw_decision_with_its_position_and_rule() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, events) = common::server::sqlite_ledger(dir.path());
        let demo = common::server::demo(1);
        let e = &demo.elections[0];

        // Through the gates up to the first nomination.
        let upto = e
            .commands
            .iter()
            .position(|p| matches!(p.command.body, EventBody::Nominated(_)))
            .expect("a nomination");
        let items: Vec<BatchItem> = e.commands[..=upto]
            .iter()
            .map(|p| BatchItem {
                actor: jishi_app::ledger_actor(&p.actor),
                command: p.command.clone(),
            })
            .collect();
        record_batch(&events, None, &e.election_id, &items)
            .await
            .expect("record");
        let c = e.commands[upto]
            .command
            .candidate_id
            .clone()
            .expect("candidate");

        let root = operator();
        let (_, token) = add_user(
            events.as_ref(),
            &root,
            NewUser {
                id: "inv".into(),
                name: "调查员".into(),
                role: AccessRole::Investigator,
                org: "市纪委".into(),
                acts_as: Some("investigator".into()),
            },
        )
        .await
        .expect("add user");
        let state = Arc::new(AppState::new(
            store.clone(),
            None,
            "test.example/jishi".into(),
        ));
        *state.users.write().await = jishi_app::users::load_users(events.as_ref())
            .await
            .expect("users");
        let base = serve(state).await;
        let http = reqwest::Client::new();
        let check = || async {
            let resp = http
                .get(format!("{base}/api/elections/{}/check", e.election_id))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            assert_eq!(resp.status().as_u16(), 200);
            let body: Value = resp.json().await.expect("json");
            body["findings"].as_array().cloned().unwrap_or_default()
        };
        let replay_kinds = [
            "outside_gates",
            "gate_refused",
            "other_procedure",
            "not_as_decided",
        ];
        let clean = check().await;
        assert!(
            clean
                .iter()
                .all(|f| !replay_kinds.contains(&f["kind"].as_str().unwrap_or(""))),
            "{clean:?}"
        );

        // A raw append of the committee's decision, skipping every step.
        let decision = e
            .commands
            .iter()
            .find(|p| {
                matches!(p.command.body, EventBody::CommitteeDecided(_))
                    && p.command.candidate_id.as_deref() == Some(c.as_str())
            })
            .expect("a decision");
        let mut cmd = decision.command.clone();
        cmd.overrides.clear();
        let appended = events
            .append(AppendRequest {
                stream: format!("election/{}/candidate/{c}", e.election_id),
                expected: ExpectedVersion::Any,
                events: vec![NewEvent {
                    event_id: None,
                    event_type: "committee.decided".into(),
                    schema_version: 1,
                    occurred_at: Some(cmd.occurred_at.to_rfc3339()),
                    actor: jishi_app::ledger_actor(&decision.actor),
                    payload: cmd.to_json(),
                }],
            })
            .await
            .expect("raw append");
        let position = appended.events[0].position;

        let findings = check().await;
        let at = |kind: &str| {
            findings
                .iter()
                .find(|f| f["kind"] == kind && f["evidence"] == serde_json::json!([position]))
                .cloned()
        };
        let refused = at("gate_refused").expect("gate_refused finding");
        assert_eq!(refused["rule"], "R1", "{refused}");
        assert!(at("outside_gates").is_some(), "{findings:?}");

        // A raw event that is no domain event at all does not stop the
        // server's views: it is one more finding.
        let garbage = events
            .append(AppendRequest {
                stream: format!("election/{}/candidate/{c}", e.election_id),
                expected: ExpectedVersion::Any,
                events: vec![NewEvent {
                    event_id: None,
                    event_type: "committee.decided".into(),
                    schema_version: 1,
                    occurred_at: None,
                    actor: jishi_app::ledger_actor(&decision.actor),
                    payload: serde_json::json!({"决定": "通过"}),
                }],
            })
            .await
            .expect("raw append");
        let garbage_at = garbage.events[0].position;
        let findings = check().await;
        assert!(
            findings.iter().any(|f| f["kind"] == "not_as_decided"
                && f["evidence"] == serde_json::json!([garbage_at])),
            "{findings:?}"
        );
    });
}
