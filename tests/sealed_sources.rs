//! A petitioner's identity is sealed at rest (D59): the database holds only
//! ciphertext, a sealed identity does not open for another petition, a
//! destroyed key shreds it, a server without a keyring records none, and
//! sources recorded in the clear before D59 stay readable, marked so.

mod common;

use common::server::{operator, record_election, rt, serve};

use std::sync::Arc;

use jishi_app::access::{self, read_sources, source_stream, PetitionSource};
use jishi_app::sealed::{Binding, Keyring, Secret};
use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{AppendRequest, EventStore, ExpectedVersion, NewEvent, ProofStore, SqliteStore};
use jishi_server::AppState;
use serde_json::{json, Value};

const IDENTITY: &str = "王举报（实名）";
const CONTACT: &str = "13800001111";

fn actor() -> jishi_ledger::Actor {
    jishi_ledger::Actor {
        id: "jw-007".into(),
        name: "赵磊".into(),
        role: "discipline_inspection".into(),
        org: "天元区".into(),
    }
}

fn binding<'a>(petition: &'a str) -> Binding<'a> {
    Binding {
        election_id: "qingshan-2021",
        candidate_id: "c-01",
        petition_id: petition,
    }
}

fn secret() -> Secret {
    Secret {
        identity: IDENTITY.into(),
        contact: Some(CONTACT.into()),
    }
}

/// Appends a `petition.source_recorded` as anyone with INSERT could (a raw
/// append, the app role, a DBA): the payload is theirs to choose.
async fn raw_source(store: &dyn EventStore, petition: &str, payload: Value) {
    store
        .append(AppendRequest {
            stream: source_stream("qingshan-2021", petition),
            expected: ExpectedVersion::Any,
            events: vec![NewEvent {
                event_id: None,
                event_type: access::PETITION_SOURCE.into(),
                schema_version: 1,
                occurred_at: None,
                actor: actor(),
                payload,
            }],
        })
        .await
        .expect("raw append");
}

#[test]
fn the_sqlite_file_holds_no_identity_and_the_keyring_reads_it_back() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.db");
        let store = SqliteStore::open(&path).expect("open");
        let ring = Keyring::open(dir.path().join("keys")).expect("keyring");
        access::record_source(&store, &ring, &actor(), &binding("p-1"), &secret())
            .await
            .expect("record");
        // As a DBA reads it: every byte of every row.
        let db = common::dba(&path);
        let mut q = db.prepare("SELECT payload FROM events").expect("sql");
        let rows: Vec<String> = q
            .query_map([], |r| r.get(0))
            .expect("query")
            .map(|r| r.expect("row"))
            .collect();
        assert!(!rows.is_empty());
        for r in &rows {
            assert!(
                !r.contains("王举报") && !r.contains(CONTACT),
                "in the clear: {r}"
            );
        }
        let read = read_sources(&store, Some(&ring), "qingshan-2021", "p-1")
            .await
            .expect("read");
        assert_eq!(read.len(), 1);
        assert!(read[0].sealed);
        assert_eq!(read[0].identity.as_deref(), Some(IDENTITY));
        assert_eq!(read[0].contact.as_deref(), Some(CONTACT));
        // Without the keyring it is listed, and says why it cannot be read.
        let keyless = read_sources(&store, None, "qingshan-2021", "p-1")
            .await
            .expect("read");
        assert!(keyless[0].identity.is_none());
        assert!(keyless[0]
            .unreadable
            .as_deref()
            .unwrap_or("")
            .contains("keyring"));
    });
}

#[test]
fn a_sealed_identity_moved_to_another_petition_does_not_open() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(dir.path().join("ledger.db")).expect("open");
        let ring = Keyring::open(dir.path().join("keys")).expect("keyring");
        access::record_source(&store, &ring, &actor(), &binding("p-1"), &secret())
            .await
            .expect("record");
        let stored = access::sources(&store, "qingshan-2021", "p-1")
            .await
            .expect("sources");
        let mut moved: PetitionSource = stored[0].1.clone();
        moved.petition_id = "p-2".into();
        raw_source(&store, "p-2", serde_json::to_value(&moved).expect("json")).await;
        let read = read_sources(&store, Some(&ring), "qingshan-2021", "p-2")
            .await
            .expect("read");
        assert_eq!(read.len(), 1);
        assert!(read[0].identity.is_none(), "{:?}", read[0]);
        let why = read[0].unreadable.as_deref().unwrap_or("");
        assert!(why.contains("does not open"), "{why}");
    });
}

#[test]
fn a_shredded_key_leaves_the_identity_unreadable_and_says_so() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("ledger.db");
        let store = SqliteStore::open(&path).expect("open");
        let keys = dir.path().join("keys");
        let ring = Keyring::open(&keys).expect("keyring");
        access::record_source(&store, &ring, &actor(), &binding("p-1"), &secret())
            .await
            .expect("record");
        // Through the command line, as the operator would at the end of retention.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
            .args(["sealing-key", "shred", "--dir"])
            .arg(&keys)
            .args(["--election", "qingshan-2021"])
            .output()
            .expect("run jishi");
        assert!(out.status.success(), "{}", common::text(&out));
        let read = read_sources(&store, Some(&ring), "qingshan-2021", "p-1")
            .await
            .expect("read");
        assert!(read[0].identity.is_none());
        let why = read[0].unreadable.as_deref().unwrap_or("");
        assert!(why.contains("destroyed"), "{why}");
        // The chain, which holds only ciphertext, still verifies.
        let out = common::jishi(&path, &["verify"], None);
        assert_eq!(out.status.code(), Some(0), "{}", common::text(&out));
        // Shredding what is not there is an error naming the field.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
            .args(["sealing-key", "shred", "--dir"])
            .arg(&keys)
            .args(["--election", "qingshan-2021"])
            .output()
            .expect("run jishi");
        assert_eq!(out.status.code(), Some(1));
        assert!(common::text(&out).contains("election"));
    });
}

#[test]
fn a_source_recorded_in_the_clear_before_sealing_stays_readable_and_marked() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let store = SqliteStore::open(dir.path().join("ledger.db")).expect("open");
        raw_source(
            &store,
            "p-old",
            json!({
                "election_id": "qingshan-2021", "candidate_id": "c-01",
                "petition_id": "p-old", "identity": "旧记录", "contact": "x"
            }),
        )
        .await;
        let ring = Keyring::open(dir.path().join("keys")).expect("keyring");
        let read = read_sources(&store, Some(&ring), "qingshan-2021", "p-old")
            .await
            .expect("read");
        assert!(!read[0].sealed);
        assert_eq!(read[0].identity.as_deref(), Some("旧记录"));
    });
}

#[test]
fn the_postgres_rows_hold_no_identity() {
    rt().block_on(async {
        let Some(fx) = common::postgres().await else {
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let ring = Keyring::open(dir.path().join("keys")).expect("keyring");
        access::record_source(
            fx.store.as_ref(),
            &ring,
            &actor(),
            &binding("p-1"),
            &secret(),
        )
        .await
        .expect("record");
        let db = fx.schema.connect().await;
        let rows = db
            .query("SELECT payload FROM events", &[])
            .await
            .expect("select");
        assert!(!rows.is_empty());
        for r in rows {
            let payload: String = r.get(0);
            assert!(
                !payload.contains("王举报") && !payload.contains(CONTACT),
                "{payload}"
            );
        }
        let read = read_sources(fx.store.as_ref(), Some(&ring), "qingshan-2021", "p-1")
            .await
            .expect("read");
        assert_eq!(read[0].identity.as_deref(), Some(IDENTITY));
    });
}

/// Through the server: without a keyring nothing is recorded (503, the head
/// does not move); with one, an inspector records and an investigator reads
/// it back, and the read is recorded.
#[test]
fn the_server_seals_or_refuses() {
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let (store, events) = common::server::sqlite_ledger(dir.path());
        let demo = common::server::demo(1);
        let first = &demo.elections[0];
        record_election(&events, first).await;
        let candidate = first
            .commands
            .iter()
            .find_map(|p| p.command.candidate_id.clone())
            .expect("a candidate");
        let root = operator();
        let mut tokens = Vec::new();
        for (id, role, org) in [
            ("jw-1", AccessRole::Inspector, "天元区"),
            ("inv-1", AccessRole::Investigator, "市纪委"),
        ] {
            let (_, token) = add_user(
                events.as_ref(),
                &root,
                NewUser {
                    id: id.into(),
                    name: id.into(),
                    role,
                    org: org.into(),
                    acts_as: None,
                },
            )
            .await
            .expect("add user");
            tokens.push(token);
        }
        let start = |sealing: Option<Keyring>| {
            let store = store.clone();
            async move {
                let mut state = AppState::new(store, None, "test.example/jishi".into());
                if let Some(k) = sealing {
                    state = state.with_sealing(k);
                }
                let state = Arc::new(state);
                *state.users.write().await = jishi_app::users::load_users(state.events.as_ref())
                    .await
                    .expect("users");
                serve(state).await
            }
        };
        let http = reqwest::Client::new();
        let path = format!("/api/elections/{}/petitions/p-9/source", first.election_id);
        let body = json!({"candidate_id": candidate, "identity": IDENTITY, "contact": CONTACT});
        let head = |s: Arc<dyn ProofStore>| async move {
            s.head().await.expect("head").map_or(0, |h| h.position)
        };

        let keyless = start(None).await;
        let before = head(store.clone()).await;
        let r = http
            .post(format!("{keyless}{path}"))
            .bearer_auth(&tokens[0])
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 503);
        let text = r.text().await.expect("text");
        assert!(text.contains("--sealing-keys"), "{text}");
        assert_eq!(head(store.clone()).await, before, "nothing written");

        let ring = Keyring::open(dir.path().join("keys")).expect("keyring");
        let sealed = start(Some(ring)).await;
        let r = http
            .post(format!("{sealed}{path}"))
            .bearer_auth(&tokens[0])
            .json(&body)
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 201);
        let got: Value = http
            .get(format!("{sealed}{path}"))
            .bearer_auth(&tokens[1])
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        assert_eq!(got["sources"][0]["sealed"], true, "{got}");
        assert_eq!(got["sources"][0]["source"]["identity"], IDENTITY, "{got}");
        let at = got["recorded_read_at"].as_u64().expect("recorded read");
        let read = store.read_all(at, 1).await.expect("read");
        assert_eq!(read[0].actor.id, "inv-1");
        // Nowhere in the ledger in the clear.
        let all = store.read_all(1, 1_000_000).await.expect("read all");
        assert!(all.iter().all(|e| !e.payload.as_str().contains("王举报")));
    });
}
