//! What reads show, and to whom, over a real loopback socket: an export
//! must name a candidate of the election (issue 15, item 3); findings and
//! responsibility chains are redacted like trails, and their reads of
//! restricted content are recorded per candidate (item 4, D51, D52); an
//! election out of the user's scope answers exactly as an absent one
//! (item 7, D53).

mod common;

use common::server::{operator, record_election, rt, serve};
use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{ProofStore, RecordedEvent};
use jishi_projections::demo::Demo;
use jishi_server::AppState;
use serde_json::{json, Value};

struct Server {
    base: String,
    http: reqwest::Client,
    store: Arc<dyn ProofStore>,
    demo: Demo,
    tokens: std::collections::BTreeMap<String, String>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The demo's first township recorded directly; a recorder and an
    /// inspector of 天元区, the same of 河东区, an investigator, an admin.
    async fn start() -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let (store, events) = common::server::sqlite_ledger(dir.path());
        let demo = common::server::demo(2);
        let first = &demo.elections[0];
        record_election(&events, first).await;
        let root = operator();
        let mut tokens = std::collections::BTreeMap::new();
        for (id, role, org, acts_as) in [
            (
                "zzb",
                AccessRole::Recorder,
                "天元区",
                "organisation_department",
            ),
            (
                "jw",
                AccessRole::Inspector,
                "天元区",
                "discipline_inspection",
            ),
            (
                "hd-zzb",
                AccessRole::Recorder,
                "河东区",
                "organisation_department",
            ),
            (
                "hd-jw",
                AccessRole::Inspector,
                "河东区",
                "discipline_inspection",
            ),
            ("inv", AccessRole::Investigator, "市纪委", "investigator"),
            ("root", AccessRole::Admin, "天元区", "admin"),
        ] {
            let new = NewUser {
                id: id.into(),
                name: format!("用户{id}"),
                role,
                org: org.into(),
                acts_as: Some(acts_as.into()),
            };
            let (_, token) = add_user(events.as_ref(), &root, new)
                .await
                .expect("add user");
            tokens.insert(id.to_string(), token);
        }
        let key = jishi_ledger::SignerKey::generate("test.example/jishi").expect("key");
        let state = Arc::new(AppState::new(
            store.clone(),
            Some(key),
            "test.example/jishi".into(),
        ));
        *state.users.write().await = jishi_app::users::load_users(events.as_ref())
            .await
            .expect("users");
        let base = serve(state).await;
        Server {
            base,
            http: reqwest::Client::new(),
            store,
            demo,
            tokens,
            _dir: dir,
        }
    }

    /// Status and the body's exact bytes.
    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, String) {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("body"))
    }

    async fn get(&self, user: &str, path: &str) -> (u16, String) {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.tokens[user]),
        )
        .await
    }

    async fn post(&self, user: &str, path: &str, body: &Value) -> (u16, String) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.tokens[user])
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

    /// The events of `prefix`'s streams (its own and those below it).
    async fn rows(&self, prefix: &str) -> Vec<RecordedEvent> {
        let root = prefix.trim_end_matches('/');
        self.store
            .read_prefix(root, 1, 1_000_000)
            .await
            .expect("read")
            .into_iter()
            .filter(|e| e.stream.starts_with(prefix))
            .collect()
    }
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

fn payload(e: &RecordedEvent) -> Value {
    json_of(e.payload.as_str())
}

fn candidate_of(e: &RecordedEvent) -> String {
    e.stream.rsplit('/').next().expect("stream").to_string()
}

#[test]
fn an_export_must_name_a_candidate_of_the_election() {
    rt().block_on(async {
        let s = Server::start().await;
        let (status, cp) = s.post("root", "/api/checkpoint", &json!({})).await;
        assert_eq!(status, 201, "{cp}");
        let before = s.head().await;
        for c in ["", "no-such-candidate", "c-01/../"] {
            let body = json!({"election_id": s.first(), "candidate_id": c});
            let (status, text) = s.post("inv", "/api/export", &body).await;
            assert_eq!(status, 404, "candidate {c:?}: {text}");
            assert!(text.contains("candidate_id"), "{text}");
            assert_eq!(s.head().await, before, "candidate {c:?}: nothing written");
        }
        // A real candidate's export is recorded on its own access stream.
        let c = candidate_of(
            s.rows(&format!("election/{}/candidate/", s.first()))
                .await
                .first()
                .expect("a candidate event"),
        );
        let body = json!({"election_id": s.first(), "candidate_id": c});
        let (status, text) = s.post("inv", "/api/export", &body).await;
        assert_eq!(status, 200, "{text}");
        let reads = s.rows(&format!("access/{}/{c}", s.first())).await;
        assert_eq!(reads.len(), 1);
        assert_eq!(reads[0].event_type, "access.exported");
    });
}

/// The Chinese half of a conclusion's label, as the report prints it.
fn conclusion_word(c: &str) -> &'static str {
    match c {
        "unfounded" => "失实澄清",
        "not_affecting" => "不影响任用",
        "substantiated" => "属实",
        "vote_buying" => "查实拉票贿选",
        other => panic!("unknown conclusion {other}"),
    }
}

#[test]
fn findings_and_chains_hide_restricted_content_and_record_entitled_reads() {
    rt().block_on(async {
        let s = Server::start().await;
        let e = s.first().to_string();
        let rows = s.rows(&format!("election/{e}/")).await;
        // What the restricted payloads say, read from the ledger.
        let closed: Vec<&RecordedEvent> = rows
            .iter()
            .filter(|r| r.event_type == "petition.closed")
            .collect();
        let investigated = rows
            .iter()
            .find(|r| r.event_type == "petition.investigated")
            .expect("an investigated petition");
        assert!(!closed.is_empty(), "the demo closes a petition");
        let words: Vec<&str> = closed
            .iter()
            .map(|r| conclusion_word(payload(r)["conclusion"].as_str().expect("conclusion")))
            .collect();
        let p = payload(investigated);
        let handler = p["handler"].as_str().expect("handler").to_string();
        let leader = p["leader"].as_str().expect("leader").to_string();
        let c = candidate_of(investigated);
        let closed_at: Vec<u64> = closed.iter().map(|r| r.position).collect();

        // A recorder: the findings resting on a closed petition still exist,
        // with their positions, but say nothing of the conclusion.
        let before = s.head().await;
        let (status, text) = s.get("zzb", &format!("/api/elections/{e}/check")).await;
        assert_eq!(status, 200, "{text}");
        for w in &words {
            assert!(!text.contains(w), "a recorder reads {w:?} in {text}");
        }
        let report = json_of(&text);
        let hidden: Vec<&Value> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| {
                f["evidence"].as_array().is_some_and(|ev| {
                    ev.iter()
                        .any(|p| closed_at.contains(&p.as_u64().unwrap_or(0)))
                })
            })
            .collect();
        assert!(
            !hidden.is_empty(),
            "a finding cites the closed petition: {text}"
        );
        let cited: Vec<u64> = hidden
            .iter()
            .flat_map(|f| f["evidence"].as_array().into_iter().flatten())
            .filter_map(Value::as_u64)
            .collect();
        for f in &hidden {
            assert!(
                f["detail"].as_str().unwrap_or("").contains("内容受限"),
                "{f}"
            );
            assert!(f["kind"].is_string(), "{f}");
        }
        let chain = format!("/api/elections/{e}/candidates/{c}/accountability");
        let (status, text) = s.get("zzb", &chain).await;
        assert_eq!(status, 200, "{text}");
        // The handler may also be who recorded the act (its actor stays
        // visible, D51); what the payload names must not show.
        let duties = json_of(&text)["accountability"]["duties"].clone();
        let petition_duties = duties
            .as_array()
            .expect("duties")
            .iter()
            .filter(|d| d["position"] == json!(investigated.position));
        for d in petition_duties {
            let shown = format!("{} {}", d["detail"], d["responsible"]);
            for name in [&handler, &leader] {
                assert!(
                    !shown.contains(name.as_str()),
                    "a recorder reads {name:?} in {d}"
                );
            }
        }
        // The recorder's chain read is recorded; its check read showed
        // nothing restricted, so it recorded nothing.
        assert_eq!(s.head().await, before + 1);

        // An inspector sees the same content, and each read is recorded in
        // the candidate's own accesses.
        let (status, text) = s.get("jw", &format!("/api/elections/{e}/check")).await;
        assert_eq!(status, 200, "{text}");
        assert!(
            words.iter().any(|w| text.contains(w)),
            "an inspector reads the conclusion: {text}"
        );
        let report = json_of(&text);
        assert!(
            !report["recorded_reads"]
                .as_array()
                .expect("recorded_reads")
                .is_empty(),
            "{text}"
        );
        let (status, text) = s.get("jw", &chain).await;
        assert_eq!(status, 200, "{text}");
        assert!(
            text.contains(handler.as_str()) && text.contains(leader.as_str()),
            "{text}"
        );
        for r in closed.iter().filter(|r| cited.contains(&r.position)) {
            let cc = candidate_of(r);
            let (status, text) = s
                .get(
                    "jw",
                    &format!("/api/elections/{e}/candidates/{cc}/accesses"),
                )
                .await;
            assert_eq!(status, 200, "{text}");
            assert!(text.contains("\"compliance\""), "{cc}: {text}");
        }
        let (_, text) = s
            .get("jw", &format!("/api/elections/{e}/candidates/{c}/accesses"))
            .await;
        assert!(text.contains("\"accountability\""), "{text}");
    });
}

#[test]
fn an_election_out_of_scope_answers_as_an_absent_one() {
    rt().block_on(async {
        let s = Server::start().await;
        let e = s.first().to_string();
        let absent = "no-such-election";
        let c = candidate_of(
            s.rows(&format!("election/{e}/candidate/"))
                .await
                .first()
                .expect("a candidate event"),
        );
        let before = s.head().await;
        for path in [
            "/api/elections/{e}",
            "/api/elections/{e}/check",
            "/api/elections/{e}/stats",
            "/api/elections/{e}/candidates",
            "/api/elections/{e}/candidates/{c}/trail",
            "/api/elections/{e}/candidates/{c}/accountability",
            "/api/elections/{e}/candidates/{c}/accesses",
            "/api/elections/{e}/petitions/p-1/source",
        ] {
            let mine = s
                .get("hd-jw", &path.replace("{e}", &e).replace("{c}", &c))
                .await;
            let none = s
                .get("hd-jw", &path.replace("{e}", absent).replace("{c}", &c))
                .await;
            assert_eq!(mine.0, 404, "{path}: {}", mine.1);
            let mine_text = mine.1.replace(&e, absent);
            assert_eq!(mine_text, none.1, "{path}");
            assert!(!mine.1.contains("天元区"), "{path}: {}", mine.1);
        }
        // Recording into it, too.
        let nominate = s.demo.elections[0]
            .commands
            .iter()
            .find(|p| p.command.kind() == "candidate.nominated")
            .expect("a nomination")
            .command
            .to_json();
        let mut elsewhere = nominate.clone();
        elsewhere["election_id"] = json!(absent);
        let mine = s
            .post("hd-zzb", "/api/record/candidate.nominated", &nominate)
            .await;
        let none = s
            .post("hd-zzb", "/api/record/candidate.nominated", &elsewhere)
            .await;
        assert_eq!(mine.0, 404, "{}", mine.1);
        assert_eq!(mine.1.replace(&e, absent), none.1);
        assert!(!mine.1.contains("天元区"), "{}", mine.1);
        assert_eq!(s.head().await, before, "nothing written");
    });
}

/// Issue 13: `GET /api/checkpoint` names as signers only the ledger's
/// registered keys whose signatures verify. A checkpoint row the DBA stored
/// with a garbage signature is shown as not verified, with no signer.
#[test]
fn the_checkpoint_api_names_only_verified_signers() {
    rt().block_on(async {
        let s = Server::start().await;
        let (status, cp) = s.post("root", "/api/checkpoint", &json!({})).await;
        assert_eq!(status, 201, "{cp}");
        let cp = json_of(&cp);
        assert_eq!(cp["signed_by"], json!(["test.example/jishi"]), "{cp}");
        assert_eq!(cp["verified"], json!(true), "{cp}");
        // When the DBA stores the same body with a signature line it made up
        let note = cp["note"].as_str().expect("note");
        let (body, _) = note.rsplit_once("\n\n").expect("a signed note");
        let forged = format!(
            "{body}\n\n\u{2014} test.example/jishi {}\n",
            "A".repeat(88) + "AAA="
        );
        let conn = common::dba(&s._dir.path().join("ledger.db"));
        conn.execute(
            "INSERT INTO checkpoints (origin, size, root, note, recorded_at) \
             SELECT origin, size, root, ?1, 'now' FROM checkpoints WHERE id = 1",
            [forged],
        )
        .expect("insert by SQL");
        // Then the API shows it as the latest, unverified and signed by nobody
        let (status, latest) = s.get("zzb", "/api/checkpoint").await;
        assert_eq!(status, 200, "{latest}");
        let latest = json_of(&latest);
        assert_eq!(latest["id"], json!(2), "{latest}");
        assert_eq!(latest["verified"], json!(false), "{latest}");
        assert_eq!(latest["signed_by"], json!([]), "{latest}");
        assert!(
            latest["fault"].as_str().is_some_and(|f| !f.is_empty()),
            "{latest}"
        );
    });
}

/// The server's verification reports what `jishi verify` does: a dropped
/// append-only trigger (D64) and a stored checkpoint whose note does not
/// verify make it fail, naming them.
#[test]
fn the_servers_verify_reports_schema_drift() {
    rt().block_on(async {
        let s = Server::start().await;
        let (status, v) = s.post("inv", "/api/verify?wait=true", &json!({})).await;
        assert_eq!(status, 200, "{v}");
        assert_eq!(json_of(&v)["ok"], json!(true), "{v}");
        // `dba` drops the events' append-only triggers, as a hostile DBA would
        drop(common::dba(&s._dir.path().join("ledger.db")));
        let (status, v) = s.post("inv", "/api/verify?wait=true", &json!({})).await;
        assert_eq!(status, 200, "{v}");
        let v = json_of(&v);
        assert_eq!(v["ok"], json!(false), "{v}");
        assert!(
            v["fault"]
                .as_str()
                .is_some_and(|f| f.starts_with("schema: ") && f.contains("events_no_")),
            "{v}"
        );
    });
}
