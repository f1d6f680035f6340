//! The server's JSON API over a real loopback socket: each role against the
//! endpoints where its answer matters (allow or deny), the actor-stamping
//! rule, redaction, recorded reads, and bad input. Every denial also checks
//! that nothing was written (the ledger head did not move, apart from the
//! reads that the rules say must be recorded).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use jishi_app::batch::{record_batch, BatchItem};
use jishi_app::users::{add_user, AccessRole, NewUser, User};
use jishi_ledger::{EventStore, ProofStore, SqliteStore};
use jishi_projections::demo::{generate, Demo, DemoConfig};
use jishi_server::{AppState, Limits};
use serde_json::{json, Value};

struct Harness {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn ProofStore>,
    demo: Demo,
    /// Token of each user by id.
    tokens: BTreeMap<String, String>,
    users: BTreeMap<String, User>,
    _dir: tempfile::TempDir,
    _pg: Option<common::PgSchema>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

const DISTRICT: &str = "天元区";

impl Harness {
    /// A two-township demo: the first recorded directly, the second left for
    /// the test to record through the API; users for the demo's four
    /// recorders and for each access role; a server on a free port.
    async fn start() -> Harness {
        let dir = tempfile::tempdir().expect("temp dir");
        let store: Arc<dyn ProofStore> =
            Arc::new(SqliteStore::open(dir.path().join("ledger.db")).expect("open"));
        Harness::start_on(store, dir, None).await
    }

    /// The same on PostgreSQL (through its group-commit writer), or `None`
    /// when `DATABASE_URL` is unset.
    async fn start_postgres() -> Option<Harness> {
        let url = common::database_url()?;
        let schema = common::PgSchema::create(&url).await;
        let store: Arc<dyn ProofStore> = Arc::new(
            jishi_ledger::PostgresStore::open_with(schema.config(), Default::default())
                .await
                .expect("open postgres"),
        );
        let dir = tempfile::tempdir().expect("temp dir");
        Some(Harness::start_on(store, dir, Some(schema)).await)
    }

    async fn start_on(
        store: Arc<dyn ProofStore>,
        dir: tempfile::TempDir,
        pg: Option<common::PgSchema>,
    ) -> Harness {
        let events: Arc<dyn EventStore> = store.clone();
        let mut demo = generate(&DemoConfig {
            seed: 7,
            townships: 2,
        })
        .expect("demo");
        // The second election is opened through the server, which takes only
        // ids in the opener's namespace (D54); the first, recorded directly,
        // keeps the demo's id.
        let second = &mut demo.elections[1];
        second.election_id = format!("{DISTRICT}:{}", second.election_id);
        for p in &mut second.commands {
            p.command.election_id = second.election_id.clone();
        }
        let first = &demo.elections[0];
        let items: Vec<BatchItem> = first
            .commands
            .iter()
            .map(|p| BatchItem {
                actor: jishi_app::ledger_actor(&p.actor),
                command: p.command.clone(),
            })
            .collect();
        record_batch(&events, None, &first.election_id, &items)
            .await
            .expect("record the first election");

        let root = jishi_ledger::Actor {
            id: "local:test".into(),
            name: "test".into(),
            role: "admin".into(),
            org: "本机 local".into(),
        };
        let mut tokens = BTreeMap::new();
        let mut users = BTreeMap::new();
        let add = |id: &str, name: &str, role: AccessRole, org: &str, acts_as: &str| {
            (
                id.to_string(),
                NewUser {
                    id: id.into(),
                    name: name.into(),
                    role,
                    org: org.into(),
                    acts_as: Some(acts_as.into()),
                },
            )
        };
        let mut wanted = Vec::new();
        // The demo's recorders, as themselves: the actor the server stamps is
        // then the one the demo planned, and the domain's gates pass.
        let mut seen = std::collections::BTreeSet::new();
        for p in &demo.elections[1].commands {
            if seen.insert(p.actor.id.clone()) {
                let role = if p.actor.role == "discipline_inspection" {
                    AccessRole::Inspector
                } else {
                    AccessRole::Recorder
                };
                wanted.push(add(
                    &p.actor.id,
                    &p.actor.name,
                    role,
                    &p.actor.org,
                    &p.actor.role,
                ));
            }
        }
        // Admins acting in each role, for the commands that carry an override.
        for role in [
            "organisation_department",
            "party_committee",
            "discipline_inspection",
            "inspection_team",
        ] {
            wanted.push(add(
                &format!("adm-{role}"),
                "管理员",
                AccessRole::Admin,
                DISTRICT,
                role,
            ));
        }
        wanted.push(add(
            "pc-only",
            "常委会秘书",
            AccessRole::Recorder,
            DISTRICT,
            "party_committee",
        ));
        wanted.push(add(
            "other-town",
            "河东区组织部",
            AccessRole::Recorder,
            "河东区",
            "organisation_department",
        ));
        wanted.push(add(
            "inv",
            "倒查组",
            AccessRole::Investigator,
            "市纪委",
            "investigator",
        ));
        wanted.push(add("root", "管理员", AccessRole::Admin, DISTRICT, "admin"));
        for (id, new) in wanted {
            let (user, token) = add_user(events.as_ref(), &root, new)
                .await
                .expect("add user");
            tokens.insert(id.clone(), token);
            users.insert(id, user);
        }

        let key = jishi_ledger::SignerKey::generate("test.example/jishi").expect("key");
        let state = Arc::new(
            AppState::new(store.clone(), Some(key), "test.example/jishi".into()).with_sealing(
                jishi_app::sealed::Keyring::open(dir.path().join("keys")).expect("keyring"),
            ),
        );
        *state.users.write().await = jishi_app::users::load_users(events.as_ref())
            .await
            .expect("users");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(jishi_server::serve(
            listener,
            state,
            Limits {
                body_bytes: 64 * 1024,
                ..Limits::default()
            },
            async move {
                let _ = stopped.await;
            },
        ));
        Harness {
            base: format!("http://{addr}"),
            http: reqwest::Client::new(),
            store,
            demo,
            tokens,
            users,
            _dir: dir,
            _pg: pg,
            _stop: stop,
        }
    }

    fn token(&self, user: &str) -> &str {
        self.tokens
            .get(user)
            .map(String::as_str)
            .expect("known user")
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    async fn get(&self, user: &str, path: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(self.token(user)),
        )
        .await
    }

    async fn post(&self, user: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(self.token(user))
                .json(body),
        )
        .await
    }

    async fn head(&self) -> u64 {
        self.store
            .head()
            .await
            .expect("head")
            .map_or(0, |h| h.position)
    }

    fn first(&self) -> &str {
        &self.demo.elections[0].election_id
    }

    fn second(&self) -> &str {
        &self.demo.elections[1].election_id
    }

    /// Records the second election's first `n` commands through the API,
    /// each as the user the demo planned (an admin in the same role for a
    /// command with an override). Returns the positions written.
    async fn record_second(&self, n: usize) -> Vec<u64> {
        let mut positions = Vec::new();
        for p in self.demo.elections[1].commands.iter().take(n) {
            let user = if p.command.overrides.is_empty() {
                p.actor.id.clone()
            } else {
                format!("adm-{}", p.actor.role)
            };
            let (status, body) = self
                .post(
                    &user,
                    &format!("/api/record/{}", p.command.kind()),
                    &p.command.to_json(),
                )
                .await;
            assert_eq!(status, 201, "{} as {user}: {body}", p.command.kind());
            for e in body["events"].as_array().expect("events") {
                positions.push(e["position"].as_u64().expect("position"));
            }
        }
        positions
    }

    /// A candidate of the first election with a personal-matters check and a
    /// petition, if any.
    async fn candidate_with(&self, event_type: &str) -> String {
        let rows = self
            .store
            .read_prefix(&format!("election/{}", self.first()), 1, 100_000)
            .await
            .expect("read");
        rows.iter()
            .find(|e| e.event_type == event_type)
            .and_then(|e| e.stream.rsplit('/').next().map(str::to_string))
            .expect("a candidate with that event")
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn the_actor_is_always_the_signed_in_user() {
    rt().block_on(async { actor_stamping(Harness::start().await).await });
}

#[test]
fn the_actor_is_always_the_signed_in_user_on_postgres() {
    rt().block_on(async {
        if let Some(h) = Harness::start_postgres().await {
            actor_stamping(h).await;
        }
    });
}

async fn actor_stamping(h: Harness) {
    let positions = h.record_second(usize::MAX).await;
    assert_eq!(
        positions.len() as u64,
        positions
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len() as u64
    );
    let rows = h
        .store
        .read_prefix(&format!("election/{}", h.second()), 1, 100_000)
        .await
        .expect("read");
    assert_eq!(
        rows.len(),
        positions.len(),
        "every recorded event is in the ledger"
    );
    for e in &rows {
        let by_id = h
            .users
            .values()
            .find(|u| u.actor() == e.actor)
            .unwrap_or_else(|| panic!("position {}: actor {:?} is no user", e.position, e.actor));
        assert!(!by_id.revoked);
    }

    // A client cannot name another actor: `actor` is not a field of any
    // command, so the request is refused and nothing is written.
    let before = h.head().await;
    let p = &h.demo.elections[1].commands[0];
    let mut body = p.command.to_json();
    body["actor"] =
        json!({"id": "qw-001", "name": "王书记", "role": "party_committee", "org": DISTRICT});
    let (status, err) = h
        .post("zzb-001", "/api/record/election.opened", &body)
        .await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["field"], "actor", "{err}");
    assert_eq!(h.head().await, before);
}

#[test]
fn recording_is_refused_outside_role_scope_or_override_right() {
    rt().block_on(async {
        let h = Harness::start().await;
        let commands = &h.demo.elections[1].commands;
        // A step the standing committee may not record (for the R11 case below).
        let procedure =
            jishi_projections::Procedure::builtin("township_party_committee").expect("procedure");
        let i = (1..commands.len())
            .find(|&i| {
                commands[i].command.overrides.is_empty()
                    && !procedure
                        .roles_for(commands[i].command.kind())
                        .iter()
                        .any(|r| r == "party_committee")
            })
            .expect("such a step");
        h.record_second(i).await;
        let before = h.head().await;
        // The next command, by users who may not record it.
        let next = &commands[i];
        let path = format!("/api/record/{}", next.command.kind());
        // An investigator reads the election but records nothing (403); to
        // another district the election answers as absent (404, D53).
        for (user, want) in [("inv", 403), ("other-town", 404)] {
            let (status, body) = h.post(user, &path, &next.command.to_json()).await;
            assert_eq!(status, want, "{user}: {body}");
        }
        // An inspector records only its own kinds.
        let decided = commands
            .iter()
            .find(|p| p.command.kind() == "committee.decided")
            .expect("a decision");
        let (status, body) = h
            .post(
                "jw-007",
                "/api/record/committee.decided",
                &decided.command.to_json(),
            )
            .await;
        assert_eq!(status, 403, "{body}");
        // An override without a grant, or of a rule the act does not break,
        // is the domain's refusal (D20, D101), and writes nothing.
        let mut with_override = next.command.clone();
        with_override = with_override.with_override(jishi_projections::RuleId::R1, "测试");
        let (status, body) = h.post("zzb-001", &path, &with_override.to_json()).await;
        assert_eq!(status, 422, "{body}");
        // The domain's own gate (R11: the acting role) answers 422 with the rule.
        let (status, body) = h.post("pc-only", &path, &next.command.to_json()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["error"]["rule"], "R11", "{body}");
        assert_eq!(
            h.head().await,
            before,
            "nothing written by refused requests"
        );
    });
}

#[test]
fn reads_are_scoped_redacted_and_recorded() {
    rt().block_on(async {
        let h = Harness::start().await;
        let e = h.first().to_string();
        let c = h.candidate_with("check.personal_matters_verified").await;
        let path = format!("/api/elections/{e}/candidates/{c}/trail");

        // Out of scope: 403, and no read recorded.
        let before = h.head().await;
        let (status, _) = h.get("other-town", &path).await;
        assert_eq!(status, 404, "out of scope answers as absent (D53)");
        let (status, list) = h.get("other-town", "/api/elections").await;
        assert_eq!((status, list), (200, json!([])));
        assert_eq!(h.head().await, before);

        // A recorder acting for the standing committee sees that the
        // personal-matters check happened, by whom, and its digest — not what it says.
        let (status, body) = h.get("pc-only", &path).await;
        assert_eq!(status, 200, "{body}");
        let rows = body["trail"]["rows"].as_array().expect("rows");
        let pm = rows
            .iter()
            .find(|r| r["event_type"] == "check.personal_matters_verified")
            .expect("the check is listed");
        assert_eq!(pm["restricted"]["sensitivity"], "personal_matters");
        let position = pm["position"].as_u64().expect("position");
        let stored = h.store.read_all(position, 1).await.expect("read")[0].clone();
        assert_eq!(
            pm["restricted"]["payload_digest"],
            stored.payload_digest.to_string()
        );
        assert!(!pm["facts"].as_str().unwrap_or("").contains("consistent"));
        assert_eq!(pm["actor"]["id"], stored.actor.id);
        // The organisation department that checks it sees it.
        let (_, body) = h.get("zzb-001", &path).await;
        let pm = body["trail"]["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["event_type"] == "check.personal_matters_verified")
            .cloned()
            .expect("row");
        assert!(pm.get("restricted").is_none(), "{pm}");

        // Each read above was recorded, with who and as of what; the record
        // is for inspectors and investigators, not recorders.
        let accesses = format!("/api/elections/{e}/candidates/{c}/accesses");
        assert_eq!(h.get("zzb-001", &accesses).await.0, 403);
        let (status, reads) = h.get("jw-007", &accesses).await;
        assert_eq!(status, 200, "{reads}");
        let who: Vec<&str> = reads
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r["actor"]["id"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(who, ["pc-only", "zzb-001"]);

        // An investigator reads anywhere; as of a position, the trail is shorter.
        let (status, now) = h.get("inv", &path).await;
        assert_eq!(status, 200);
        let n = now["trail"]["rows"].as_array().map_or(0, Vec::len);
        let early = now["trail"]["rows"][2]["position"].as_u64().expect("pos");
        let (_, then) = h.get("inv", &format!("{path}?as_of={early}")).await;
        assert_eq!(then["trail"]["rows"].as_array().map_or(0, Vec::len), 3);
        assert!(n > 3);
        let (status, err) = h.get("inv", &format!("{path}?as_of=yesterday")).await;
        assert_eq!(status, 400);
        assert_eq!(err["error"]["field"], "as_of");
    });
}

#[test]
fn petition_content_and_its_source_are_for_inspection_only() {
    rt().block_on(async {
        let h = Harness::start().await;
        let e = h.first().to_string();
        let c = h.candidate_with("petition.received").await;
        let trail = format!("/api/elections/{e}/candidates/{c}/trail");
        let find = |body: &Value| {
            body["trail"]["rows"]
                .as_array()
                .expect("rows")
                .iter()
                .find(|r| r["event_type"] == "petition.received")
                .cloned()
                .expect("petition row")
        };
        let (_, as_od) = h.get("zzb-001", &trail).await;
        assert_eq!(find(&as_od)["restricted"]["sensitivity"], "petition");
        let (_, as_jw) = h.get("jw-007", &trail).await;
        assert!(find(&as_jw).get("restricted").is_none());

        let source = format!("/api/elections/{e}/petitions/p-test/source");
        let body = json!({"candidate_id": c, "identity": "李某（实名）", "contact": "138…"});
        let before = h.head().await;
        assert_eq!(h.post("zzb-001", &source, &body).await.0, 403);
        assert_eq!(h.post("root", &source, &body).await.0, 403);
        assert_eq!(h.head().await, before);
        let (status, bad) = h.post("jw-007", &source, &json!({"candidate_id": c})).await;
        assert_eq!(status, 400);
        assert_eq!(bad["error"]["field"], "identity", "{bad}");
        assert_eq!(h.post("jw-007", &source, &body).await.0, 201);

        assert_eq!(h.get("zzb-001", &source).await.0, 403);
        assert_eq!(h.get("root", &source).await.0, 403);
        let (status, got) = h.get("inv", &source).await;
        assert_eq!(status, 200, "{got}");
        assert_eq!(got["sources"][0]["source"]["identity"], "李某（实名）");
        // The identity never reaches the candidate's streams.
        let rows = h
            .store
            .read_prefix(&format!("election/{e}"), 1, 100_000)
            .await
            .expect("read");
        assert!(rows.iter().all(|r| !r.payload.as_str().contains("李某")));
        // And the investigator's read of it was recorded.
        let read = h
            .store
            .read_all(got["recorded_read_at"].as_u64().expect("pos"), 1)
            .await
            .expect("read");
        assert_eq!(read[0].actor.id, "inv");
        assert!(read[0].payload.as_str().contains("petition_source"));
    });
}

#[test]
fn checkpoints_exports_and_users_are_for_their_roles() {
    rt().block_on(async {
        let h = Harness::start().await;
        let e = h.first().to_string();
        let c = h.candidate_with("candidate.nominated").await;
        let export = json!({"election_id": e, "candidate_id": c});

        assert_eq!(
            h.post("zzb-001", "/api/checkpoint", &json!({})).await.0,
            403
        );
        assert_eq!(h.post("root", "/api/export", &export).await.0, 403);
        // No checkpoint covers the candidate yet.
        assert_eq!(h.post("inv", "/api/export", &export).await.0, 409);
        let (status, cp) = h.post("root", "/api/checkpoint", &json!({})).await;
        assert_eq!(status, 201, "{cp}");
        assert_eq!(cp["signed_by"], json!(["test.example/jishi"]));
        let (status, case) = h.post("inv", "/api/export", &export).await;
        assert_eq!(status, 200, "{case}");
        assert_eq!(case["format"], "jishi-case-export/2");
        let (_, reads) = h
            .get(
                "inv",
                &format!("/api/elections/{e}/candidates/{c}/accesses"),
            )
            .await;
        assert_eq!(reads[0]["event_type"], "access.exported", "{reads}");
        let (status, badge) = h.get("zzb-001", "/api/verify").await;
        assert_eq!(status, 200);
        assert_eq!(badge["checkpoint"]["id"], cp["id"], "{badge}");
        assert_eq!(h.post("zzb-001", "/api/verify", &json!({})).await.0, 403);
        let (status, v) = h.post("inv", "/api/verify?wait=true", &json!({})).await;
        assert_eq!((status, v["ok"].clone()), (200, json!(true)));
        // In the background (D87): 202 with the job at once, then followed
        // to its outcome, which covers every event; the badge has it too.
        let (status, job) = h.post("inv", "/api/verify", &json!({})).await;
        assert_eq!(status, 202, "{job}");
        assert!(job["state"] == "running" || job["state"] == "done", "{job}");
        assert_eq!(job["started_by"], "inv");
        let mut done = job;
        for _ in 0..200 {
            if done["state"] == "done" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            done = h.get("inv", "/api/verify/job").await.1;
        }
        assert_eq!(done["state"], "done", "{done}");
        assert_eq!(done["result"]["ok"], json!(true), "{done}");
        assert_eq!(done["checked"], done["total"], "{done}");
        assert!(done["total"].as_u64().is_some_and(|t| t > 0), "{done}");
        assert_eq!(done["result"]["checked"], done["total"]);
        assert_eq!(
            h.get("zzb-001", "/api/verify/job").await.0,
            403,
            "a recorder"
        );

        // Users: admins only; a new token works at once; a revoked one does not.
        let new = json!({"id": "new-1", "name": "新用户", "role": "recorder", "org": DISTRICT});
        assert_eq!(h.post("zzb-001", "/api/users", &new).await.0, 403);
        let (status, added) = h.post("root", "/api/users", &new).await;
        assert_eq!(status, 201, "{added}");
        let token = added["token"].as_str().expect("token").to_string();
        let me = h.http.get(format!("{}/api/me", h.base)).bearer_auth(&token);
        let (status, me) = h.send(me).await;
        assert_eq!((status, me["id"].clone()), (200, json!("new-1")));
        assert_eq!(h.post("root", "/api/users", &new).await.0, 409);
        let (status, bad) = h
            .post(
                "root",
                "/api/users",
                &json!({"id": "x y", "name": "n", "role": "recorder", "org": DISTRICT}),
            )
            .await;
        assert_eq!((status, bad["error"]["field"].clone()), (400, json!("id")));
        let (status, bad) = h
            .post(
                "root",
                "/api/users",
                &json!({"id": "x", "name": "n", "role": "boss", "org": DISTRICT}),
            )
            .await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(
            h.post(
                "root",
                "/api/users/new-1/revoke",
                &json!({"reason": "调离"})
            )
            .await
            .0,
            200
        );
        let me = h.http.get(format!("{}/api/me", h.base)).bearer_auth(&token);
        assert_eq!(h.send(me).await.0, 401);
    });
}

#[test]
fn bad_requests_get_clear_errors_and_write_nothing() {
    rt().block_on(async {
        let h = Harness::start().await;
        let before = h.head().await;
        // No token, a wrong token.
        let (status, body) = h
            .send(h.http.get(format!("{}/api/elections", h.base)))
            .await;
        assert_eq!(status, 401, "{body}");
        let wrong = h
            .http
            .get(format!("{}/api/elections", h.base))
            .bearer_auth("jst_nope");
        assert_eq!(h.send(wrong).await.0, 401);
        // Not JSON; a field of the wrong type; an unknown kind.
        let raw = h
            .http
            .post(format!("{}/api/record/election.opened", h.base))
            .bearer_auth(h.token("zzb-001"))
            .header("content-type", "application/json")
            .body("{not json");
        let (status, body) = h.send(raw).await;
        assert_eq!(status, 400, "{body}");
        let mut cmd = h.demo.elections[1].commands[0].command.to_json();
        cmd["seats"] = json!("many");
        let (status, body) = h.post("zzb-001", "/api/record/election.opened", &cmd).await;
        assert_eq!(
            (status, body["error"]["field"].clone()),
            (400, json!("seats")),
            "{body}"
        );
        let (status, body) = h
            .post("zzb-001", "/api/record/no.such.kind", &json!({}))
            .await;
        assert_eq!(
            (status, body["error"]["field"].clone()),
            (400, json!("kind"))
        );
        // Too large a body.
        let big = json!({"summary": "x".repeat(100 * 1024)});
        assert_eq!(
            h.post("jw-007", "/api/record/petition.received", &big)
                .await
                .0,
            413
        );
        // Unknown routes.
        let (status, body) = h.get("zzb-001", "/api/nothing/here").await;
        assert_eq!(
            (status, body["error"]["code"].clone()),
            (404, json!("not_found"))
        );
        assert_eq!(h.get("zzb-001", "/api/elections/no-such").await.0, 404);
        assert_eq!(h.head().await, before);
    });
}

#[test]
fn the_openapi_document_lists_routes_the_server_serves() {
    rt().block_on(async {
        let h = Harness::start().await;
        let (status, doc) = h.send(h.http.get(format!("{}/openapi.json", h.base))).await;
        assert_eq!(status, 200);
        assert_eq!(doc["openapi"], "3.1.0");
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.len() >= 15, "{}", paths.len());
        for (path, item) in paths {
            let concrete = path
                .replace("{election}", h.first())
                .replace("{candidate}", "c-01")
                .replace("{petition}", "p-1")
                .replace("{user}", "nobody")
                .replace("{kind}", "no.such.kind");
            for method in item.as_object().expect("methods").keys() {
                let req = match method.as_str() {
                    "get" => h.http.get(format!("{}{concrete}", h.base)),
                    _ => h
                        .http
                        .post(format!("{}{concrete}", h.base))
                        .json(&json!({})),
                };
                let resp = req.bearer_auth(h.token("inv")).send().await.expect("send");
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                // Served: anything but "no such route".
                assert!(
                    !(status == 404
                        && body["error"]["message"]
                            .as_str()
                            .unwrap_or("")
                            .starts_with("no such route"))
                        && status != 405,
                    "{method} {path}: {status} {body}"
                );
            }
        }
    });
}
