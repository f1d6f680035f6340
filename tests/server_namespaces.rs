//! Election ids opened through the server are namespaced by the opener's
//! organisation (D54), so one district cannot squat an id that another will
//! want, and two districts can use the same local name. Over a real socket.

mod common;

use common::server::{operator, rt, serve};
use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_server::AppState;
use serde_json::{json, Value};

#[test]
fn election_ids_opened_through_the_server_carry_the_openers_organisation() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let (store, events) = common::server::sqlite_ledger(dir.path());
        let root = operator();
        let mut tokens = std::collections::BTreeMap::new();
        for (id, org) in [("ty-rec", "天元区"), ("hd-rec", "河东区")] {
            let (_, token) = add_user(
                events.as_ref(),
                &root,
                NewUser {
                    id: id.into(),
                    name: id.into(),
                    role: AccessRole::Recorder,
                    org: org.into(),
                    acts_as: Some("organisation_department".into()),
                },
            )
            .await
            .expect("add user");
            tokens.insert(id, token);
        }
        let state = Arc::new(AppState::new(store.clone(), None, "test".into()));
        let base = serve(state).await;
        let http = reqwest::Client::new();
        let demo = common::server::demo(1);
        let opening = |id: &str, unit_org: &str| {
            let mut cmd = demo.elections[0].commands[0].command.to_json();
            cmd["election_id"] = json!(id);
            cmd["unit_org"] = json!(unit_org);
            cmd
        };
        let post = |user: &'static str, body: Value| {
            let req = http
                .post(format!("{base}/api/record/election.opened"))
                .bearer_auth(tokens[user].clone())
                .json(&body);
            async move {
                let r = req.send().await.expect("send");
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let head = || async { store.head().await.expect("head").map_or(0, |h| h.position) };

        let before = head().await;
        let (s, body) = post("hd-rec", opening("天元区:x", "河东区/某镇")).await;
        assert_eq!(s, 403, "河东区 opens 天元区:x: {body}");
        assert_eq!(head().await, before, "a refused opening wrote something");

        let (s, body) = post("hd-rec", opening("x", "河东区/某镇")).await;
        assert_eq!(s, 400, "a bare id: {body}");
        assert_eq!(body["error"]["field"], "election_id", "{body}");
        assert!(
            body.to_string().contains("河东区:"),
            "the reason gives the expected form: {body}"
        );
        assert_eq!(head().await, before, "a refused opening wrote something");

        let (s, body) = post("ty-rec", opening("天元区:x", "天元区/某镇")).await;
        assert_eq!(s, 201, "天元区 opens 天元区:x: {body}");
        for (user, id, org) in [
            ("ty-rec", "天元区:tianyuan-2026", "天元区/某镇"),
            ("hd-rec", "河东区:tianyuan-2026", "河东区/某镇"),
        ] {
            let (s, body) = post(user, opening(id, org)).await;
            assert_eq!(s, 201, "{user} opens {id}: {body}");
            let r = http
                .get(format!("{base}/api/elections/{id}"))
                .bearer_auth(&tokens[user])
                .send()
                .await
                .expect("send");
            assert_eq!(r.status().as_u16(), 200, "{user} reads {id}");
        }
    });
}
