//! Users over a real loopback socket (issue 15, items 1, 2 and 8): a
//! revocation from the command line holds on the very next request, admins
//! are confined to their organisation subtree and cannot grant what they do
//! not hold, and tokens expire and rotate. Every refusal also checks that
//! nothing was written (the ledger head did not move).

mod common;

use common::server::{operator, record_election, rt, serve};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use jishi_app::users::{add_user, add_user_until, AccessRole, NewUser};
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_projections::demo::{generate, Demo, DemoConfig};
use jishi_server::AppState;
use serde_json::{json, Value};

struct Harness {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn ProofStore>,
    events: Arc<dyn EventStore>,
    db: PathBuf,
    demo: Demo,
    tokens: BTreeMap<String, String>,
    _dir: tempfile::TempDir,
}

fn new_user(id: &str, role: AccessRole, org: &str, acts_as: &str) -> NewUser {
    NewUser {
        id: id.into(),
        name: id.into(),
        role,
        org: org.into(),
        acts_as: Some(acts_as.into()),
    }
}

impl Harness {
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("ledger.db");
        let store: Arc<dyn ProofStore> = Arc::new(SqliteStore::open(&db).expect("open"));
        let events: Arc<dyn EventStore> = store.clone();
        let demo = generate(&DemoConfig {
            seed: 7,
            townships: 2,
        })
        .expect("demo");
        let first = &demo.elections[0];
        record_election(&events, first).await;
        let mut tokens = BTreeMap::new();
        for new in [
            new_user(
                "adm-ty",
                AccessRole::Admin,
                "天元区",
                "organisation_department",
            ),
            new_user(
                "adm-hd",
                AccessRole::Admin,
                "河东区",
                "organisation_department",
            ),
            new_user(
                "rec-ty",
                AccessRole::Recorder,
                "天元区",
                "organisation_department",
            ),
            new_user(
                "rec-hd",
                AccessRole::Recorder,
                "河东区",
                "organisation_department",
            ),
        ] {
            let id = new.id.clone();
            let (_, token) = add_user(events.as_ref(), &operator(), new)
                .await
                .expect("add user");
            tokens.insert(id, token);
        }
        let state = Arc::new(AppState::new(
            store.clone(),
            None,
            "test.example/jishi".into(),
        ));
        let base = serve(state).await;
        Harness {
            base,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            store,
            events,
            db,
            demo,
            tokens,
            _dir: dir,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn get_with(&self, token: &str, path: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn post_with(&self, token: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    async fn post(&self, user: &str, path: &str, body: &Value) -> (u16, Value) {
        self.post_with(&self.tokens[user], path, body).await
    }

    async fn head(&self) -> u64 {
        self.store
            .head()
            .await
            .expect("head")
            .map_or(0, |h| h.position)
    }

    /// A refusal with `status` that writes nothing.
    async fn refused(&self, status: u16, user: &str, path: &str, body: Value) -> Value {
        let before = self.head().await;
        let (got, answer) = self.post(user, path, &body).await;
        assert_eq!(got, status, "{user} {path} {body}: {answer}");
        assert_eq!(self.head().await, before, "{user} {path}: nothing written");
        answer
    }
}

#[test]
fn a_revocation_on_the_command_line_holds_on_the_next_request() {
    rt().block_on(async {
        let h = Harness::start().await;
        let token = h.tokens["rec-ty"].clone();
        // The server has seen the token: any cache of it is now warm.
        let (status, me) = h.get_with(&token, "/api/me").await;
        assert_eq!(status, 200, "{me}");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
            .arg("--db")
            .arg(&h.db)
            .args(["user", "revoke", "rec-ty", "--reason", "x"])
            .output()
            .expect("run jishi");
        assert!(
            out.status.success(),
            "jishi user revoke: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let before = h.head().await;
        let first = &h.demo.elections[1].commands[0];
        let (status, body) = h
            .post_with(
                &token,
                &format!("/api/record/{}", first.command.kind()),
                &first.command.to_json(),
            )
            .await;
        assert_eq!(status, 401, "a revoked token records nothing: {body}");
        assert_eq!(h.head().await, before, "nothing written");
        let (status, _) = h.get_with(&token, "/api/elections").await;
        assert_eq!(status, 401);
        let page = h
            .http
            .get(format!("{}/elections", h.base))
            .header("cookie", format!("jishi_token={token}"))
            .send()
            .await
            .expect("page");
        assert!(page.status().is_redirection(), "{}", page.status());
        assert_eq!(
            page.headers().get("location").and_then(|v| v.to_str().ok()),
            Some("/signin")
        );
    });
}

#[test]
fn admins_cannot_reach_outside_their_subtree_or_grant_more_than_they_hold() {
    rt().block_on(async {
        let h = Harness::start().await;
        let add = |id: &str, role: &str, org: &str| {
            json!({"id": id, "name": id, "role": role, "org": org})
        };
        h.refused(403, "adm-hd", "/api/users", add("x1", "recorder", "天元区/青山镇"))
            .await;
        h.refused(403, "adm-hd", "/api/users", add("x2", "admin", "天元区"))
            .await;
        h.refused(
            403,
            "adm-hd",
            "/api/users/rec-ty/revoke",
            json!({"reason": "x"}),
        )
        .await;
        h.refused(403, "adm-ty", "/api/users", add("x3", "investigator", "天元区"))
            .await;
        let a = h
            .refused(403, "adm-ty", "/api/users", add("x4", "inspector", "天元区"))
            .await;
        assert!(a.to_string().contains("jishi user add"), "{a}");
        h.refused(403, "adm-hd", "/api/users/rec-ty/token", json!({}))
            .await;
        // Reads of elections are scoped too.
        let (status, body) = h
            .get_with(
                &h.tokens["adm-hd"],
                &format!("/api/elections/{}", h.demo.elections[0].election_id),
            )
            .await;
        assert_eq!(status, 404, "absent or not yours (D53): {body}");
    });
}

#[test]
fn an_admin_adds_a_recorder_in_its_subtree_who_then_records() {
    rt().block_on(async {
        let h = Harness::start().await;
        let first = &h.demo.elections[1].commands[0];
        let (status, body) = h
            .post(
                "adm-ty",
                "/api/users",
                &json!({
                    "id": first.actor.id,
                    "name": first.actor.name,
                    "role": "recorder",
                    "org": first.actor.org,
                    "acts_as": first.actor.role,
                    "expires_days": 30,
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let token = body["token"].as_str().expect("token").to_string();
        // Opened through the server, so in the opener's namespace (D54).
        let mut opening = first.command.to_json();
        opening["election_id"] = json!(format!("天元区:{}", first.command.election_id));
        let (status, body) = h
            .post_with(
                &token,
                &format!("/api/record/{}", first.command.kind()),
                &opening,
            )
            .await;
        assert_eq!(status, 201, "{body}");
    });
}

#[test]
fn an_expired_token_is_refused_and_says_so() {
    rt().block_on(async {
        let h = Harness::start().await;
        let past = chrono::Utc::now() - chrono::Duration::minutes(1);
        let (_, token) = add_user_until(
            h.events.as_ref(),
            &operator(),
            new_user(
                "old",
                AccessRole::Recorder,
                "天元区",
                "organisation_department",
            ),
            past,
        )
        .await
        .expect("add");
        let (status, body) = h.get_with(&token, "/api/me").await;
        assert_eq!(status, 401, "{body}");
        let text = body.to_string();
        assert!(
            text.contains("expired") && text.contains("jishi user rotate"),
            "{text}"
        );
        let (status, body) = h.post("adm-ty", "/api/users", &json!({
            "id": "bad", "name": "bad", "role": "recorder", "org": "天元区", "expires_days": 0
        })).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains("expires_days"), "{body}");
    });
}

#[test]
fn a_rotated_token_replaces_the_old_one_at_once() {
    rt().block_on(async {
        let h = Harness::start().await;
        let old = h.tokens["rec-ty"].clone();
        let (status, _) = h.get_with(&old, "/api/me").await;
        assert_eq!(status, 200);
        let (status, body) = h.post_with(&old, "/api/me/token", &json!({})).await;
        assert_eq!(status, 200, "{body}");
        let new = body["token"].as_str().expect("token").to_string();
        assert_eq!(h.get_with(&old, "/api/me").await.0, 401);
        assert_eq!(h.get_with(&new, "/api/me").await.0, 200);
        // An admin reissues it; then the previous one dies too.
        let (status, body) = h
            .post(
                "adm-ty",
                "/api/users/rec-ty/token",
                &json!({"expires_days": 7}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let third = body["token"].as_str().expect("token").to_string();
        assert_eq!(h.get_with(&new, "/api/me").await.0, 401);
        assert_eq!(h.get_with(&third, "/api/me").await.0, 200);
        // And on the command line.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
            .arg("--db")
            .arg(&h.db)
            .args(["user", "rotate", "rec-ty"])
            .output()
            .expect("run jishi");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fourth = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(h.get_with(&third, "/api/me").await.0, 401);
        assert_eq!(h.get_with(&fourth, "/api/me").await.0, 200);
    });
}
