//! `jishi serve` reading from a PostgreSQL hot standby while it writes to
//! the primary (issue 19 §4, D116, D117), on a pair of private clusters: a
//! primary (initdb, `wal_level=replica`, replication trusted on loopback)
//! and a standby made from it with `pg_basebackup -R`, each on its own port.
//! The server runs in this process with the primary as its store and the
//! standby as its read store.
//!
//! While recorders record whole elections through `POST /api/record/{kind}`
//! and read each election back after their own writes, an investigator reads
//! candidates' trails (each a recorded read). Then:
//! * every acknowledged recording is on the primary at its position, and
//!   every served read's `access.read` is there too, as many as were served;
//! * a read right after one's own write shows it (read-your-writes);
//! * nothing was ever sent to the standby to write (its store counts the
//!   refusals: none), the primary verifies, and the standby ends identical;
//! * with the standby's replay paused, a revoked token is refused on the
//!   very next request, a read waits for this server's writes and is then
//!   answered 503 naming the standby (and records no read), writes go on,
//!   and after resuming the read shows the write made meanwhile;
//! * a stopped standby is a 503 naming it;
//! * the standby refuses to be opened as a primary, a primary as a standby,
//!   and a standby whose schema is older than this binary's.
//!
//! It prints the standby's replay lag under the recording load (docs/SCALE.md).
//! Needs PostgreSQL's server binaries with `pg_basebackup`; without them it
//! prints `skipped: …` and passes, except under CI.

mod common;

use common::enc;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{binaries_or_skip, Cluster};
use common::server::{operator, record_election, serve};
use common::tokio_postgres;
use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::{EventStore, ProofStore};
use jishi_projections::demo::DemoElection;
use jishi_server::AppState;
use serde_json::{json, Value};

/// How long a read waits for the standby before its 503.
const PATIENCE: Duration = Duration::from_millis(1500);
/// How long the recorders record.
const LOAD: Duration = Duration::from_secs(8);
const RECORDERS: usize = 3;

async fn connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    common::pg_connect(config).await
}

/// Waits until the standby has replayed everything the primary wrote so far.
async fn replayed(primary: &tokio_postgres::Client, standby: &tokio_postgres::Client) {
    let lsn: tokio_postgres::types::PgLsn = primary
        .query_one("SELECT pg_current_wal_lsn()", &[])
        .await
        .expect("primary LSN")
        .get(0);
    let started = Instant::now();
    loop {
        let at: Option<tokio_postgres::types::PgLsn> = standby
            .query_one("SELECT pg_last_wal_replay_lsn()", &[])
            .await
            .expect("standby LSN")
            .get(0);
        if at.is_some_and(|a| a >= lsn) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the standby does not replay"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The demo's elections renamed into their opener's namespace (D54), as
/// `jishi bench --http` does, so that the API lets them be opened.
fn namespaced(mut elections: Vec<DemoElection>) -> Vec<DemoElection> {
    for e in &mut elections {
        let namespace = e
            .commands
            .first()
            .map(|p| {
                p.actor
                    .org
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string()
            })
            .unwrap_or_default();
        e.election_id = format!("{namespace}:{}", e.election_id);
        for p in &mut e.commands {
            p.command.election_id = e.election_id.clone();
        }
    }
    elections
}

struct Client {
    base: String,
    http: reqwest::Client,
    tokens: BTreeMap<String, String>,
}

impl Client {
    async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    async fn get(&self, who: &str, path: &str) -> (u16, Value) {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.tokens[who]),
        )
        .await
    }

    async fn post(&self, who: &str, path: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .bearer_auth(&self.tokens[who])
                .json(body),
        )
        .await
    }
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    /// event_id → position, as acknowledged.
    acked: Mutex<HashMap<String, u64>>,
    /// (when acknowledged, greatest position), per recording.
    acked_at: Mutex<Vec<(Instant, u64)>>,
    /// Positions of the investigator's recorded reads, one per served trail.
    reads: Mutex<Vec<u64>>,
    /// Reads after one's own write that showed it.
    own_reads: Mutex<usize>,
    /// (when, the standby's head).
    samples: Mutex<Vec<(Instant, u64)>>,
    /// Commands of each election recorded, from its first.
    progress: Mutex<HashMap<String, usize>>,
}

fn candidate_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(c)) = m.get("candidate_id") {
                out.push(c.clone());
            }
            m.values().for_each(|x| candidate_ids(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| candidate_ids(x, out)),
        _ => {}
    }
}

/// Records `elections` command by command as their actors; after each, the
/// same user reads the election and must see the write.
async fn record(client: Arc<Client>, elections: Vec<DemoElection>, seen: Arc<Seen>, stop: Instant) {
    for e in elections {
        for (i, p) in e.commands.iter().enumerate() {
            if Instant::now() >= stop {
                return;
            }
            let who = p.actor.id.as_str();
            let (status, body) = client
                .post(
                    who,
                    &format!("/api/record/{}", p.command.kind()),
                    &p.command.to_json(),
                )
                .await;
            assert_eq!(
                status,
                201,
                "{} in {}: {body}",
                p.command.kind(),
                e.election_id
            );
            let mut last = 0;
            {
                let mut acked = seen.acked.lock().expect("acks");
                for ev in body["events"].as_array().expect("events") {
                    let pos = ev["position"].as_u64().expect("position");
                    acked.insert(ev["event_id"].as_str().expect("id").to_string(), pos);
                    last = last.max(pos);
                }
            }
            seen.acked_at
                .lock()
                .expect("acks")
                .push((Instant::now(), last));
            seen.progress
                .lock()
                .expect("progress")
                .insert(e.election_id.clone(), i + 1);
            let (status, detail) = client
                .get(who, &format!("/api/elections/{}", enc(&e.election_id)))
                .await;
            assert_eq!(status, 200, "{who} reads {} back: {detail}", e.election_id);
            let shown = detail["summary"]["last_position"].as_u64().unwrap_or(0);
            assert!(
                shown >= last,
                "{who} recorded up to position {last} but reads {} only up to {shown}",
                e.election_id
            );
            *seen.own_reads.lock().expect("own") += 1;
            if i % 4 == 0 {
                // A page too, as a browser signed in by cookie asks for it.
                let resp = client
                    .http
                    .get(format!("{}/elections/{}", client.base, enc(&e.election_id)))
                    .header("cookie", format!("jishi_token={}", client.tokens[who]))
                    .send()
                    .await
                    .expect("page");
                assert_eq!(resp.status().as_u16(), 200, "the election's page for {who}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_reading_a_hot_standby_loses_no_write_and_shows_its_own() {
    let Some(bin) = binaries_or_skip(&["initdb", "pg_ctl", "pg_basebackup"]) else {
        return;
    };
    let started = Instant::now();
    let primary = tokio::task::block_in_place(|| {
        let p = Cluster::init_primary(bin);
        p.start();
        p
    });
    let store = Arc::new(
        PostgresStore::open_with(primary.config(), PgOptions::default())
            .await
            .expect("the ledger on the primary"),
    );
    let standby = tokio::task::block_in_place(|| {
        let s = Cluster::base_backup(&primary);
        s.start();
        s
    });
    let pc = connect(&primary.config()).await;
    let sc = connect(&standby.config()).await;

    // Refusals at open.
    let e = PostgresStore::open_with(standby.config(), PgOptions::default())
        .await
        .expect_err("a standby is not opened as a primary");
    assert!(e.to_string().contains("hot standby"), "{e}");
    let e = PostgresStore::open_standby(primary.config(), 2)
        .await
        .expect_err("a primary is not opened as a standby");
    assert!(e.to_string().contains("not a hot standby"), "{e}");
    let newest = jishi_ledger::migrations::POSTGRES
        .last()
        .map_or(0, |m| m.version);
    {
        pc.batch_execute("CREATE SCHEMA old").await.expect("schema");
        let mut config = primary.config();
        config.options("-csearch_path=old");
        let mut old = connect(&config).await;
        jishi_ledger::postgres::migrate(&mut old, Some(newest - 1))
            .await
            .expect("an older ledger");
        replayed(&pc, &sc).await;
        let mut config = standby.config();
        config.options("-csearch_path=old");
        let e = PostgresStore::open_standby(config, 2)
            .await
            .expect_err("an older schema on the standby is refused");
        let text = e.to_string();
        assert!(
            text.contains(&format!("schema version {}", newest - 1))
                && text.contains(&format!("needs {newest}")),
            "{text}"
        );
    }

    // The ledger: one election recorded directly (the investigator reads
    // its trails), the users, then the server.
    let demo = common::server::demo(4);
    let mut elections = namespaced(demo.elections.clone());
    let first = elections.remove(0);
    let events: Arc<dyn EventStore> = store.clone();
    record_election(&events, &first).await;
    let root = operator();
    let mut tokens = BTreeMap::new();
    let mut cast: BTreeMap<String, (jishi_projections::Actor, bool)> = BTreeMap::new();
    for p in elections.iter().flat_map(|e| &e.commands) {
        let entry = cast
            .entry(p.actor.id.clone())
            .or_insert_with(|| (p.actor.clone(), false));
        entry.1 |= !p.command.overrides.is_empty();
    }
    let add = |id: String, role: AccessRole, org: String, acts_as: String| {
        let events = events.clone();
        let root = root.clone();
        async move {
            let (_, token) = add_user(
                events.as_ref(),
                &root,
                NewUser {
                    name: format!("用户{id}"),
                    id: id.clone(),
                    role,
                    org,
                    acts_as: Some(acts_as),
                },
            )
            .await
            .expect("add user");
            (id, token)
        }
    };
    for (id, (a, overrides)) in &cast {
        let role = if *overrides {
            AccessRole::Admin
        } else {
            AccessRole::Recorder
        };
        let (id, t) = add(id.clone(), role, a.org.clone(), a.role.clone()).await;
        tokens.insert(id, t);
    }
    for (id, role, org, acts) in [
        ("inv", AccessRole::Investigator, "市纪委", "investigator"),
        ("root", AccessRole::Admin, "天元区", "admin"),
        (
            "victim",
            AccessRole::Recorder,
            "天元区",
            "organisation_department",
        ),
    ] {
        let (id, t) = add(id.into(), role, org.into(), acts.into()).await;
        tokens.insert(id, t);
    }
    replayed(&pc, &sc).await;
    let read = Arc::new(
        PostgresStore::open_standby(standby.config(), 8)
            .await
            .expect("the standby, read-only"),
    );
    let name = format!("127.0.0.1:{}/postgres", standby.port);
    let primary_proofs: Arc<dyn ProofStore> = store.clone();
    let state = Arc::new(
        AppState::new(primary_proofs, None, "standby.test/jishi".into()).with_standby(
            read.clone(),
            name.clone(),
            PATIENCE,
        ),
    );
    *state.users.write().await = jishi_app::users::load_users(state.events.as_ref())
        .await
        .expect("users");
    let client = Arc::new(Client {
        base: serve(state.clone()).await,
        http: reqwest::Client::new(),
        tokens,
    });
    let (status, list) = client
        .get(
            "inv",
            &format!("/api/elections/{}/candidates", enc(&first.election_id)),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    let mut candidates = Vec::new();
    candidate_ids(&list, &mut candidates);
    candidates.sort();
    candidates.dedup();
    assert!(!candidates.is_empty(), "no candidates in {list}");

    // One election is kept out of the load, so that a step is left to
    // record while replay is paused, however fast the machine records the
    // others (on a quiet machine the load once finished them all).
    let spare = elections.pop().expect("a spare election");
    // The load: recorders, the investigator reading, the lag sampler.
    let seen = Arc::new(Seen::default());
    let stop = Instant::now() + LOAD;
    let mut tasks = Vec::new();
    for r in 0..RECORDERS {
        let mine: Vec<DemoElection> = elections
            .iter()
            .skip(r)
            .step_by(RECORDERS)
            .cloned()
            .collect();
        tasks.push(tokio::spawn(record(
            client.clone(),
            mine,
            seen.clone(),
            stop,
        )));
    }
    {
        let (client, seen, first, candidates) = (
            client.clone(),
            seen.clone(),
            first.election_id.clone(),
            candidates.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in 0usize.. {
                if Instant::now() >= stop {
                    break;
                }
                let c = &candidates[i % candidates.len()];
                let path = format!("/api/elections/{}/candidates/{c}/trail", enc(&first));
                let (status, body) = client.get("inv", &path).await;
                assert_eq!(status, 200, "trail of {c}: {body}");
                let at = body["recorded_read_at"].as_u64().expect("recorded_read_at");
                seen.reads.lock().expect("reads").push(at);
            }
        }));
    }
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (read, seen, sampling) = (read.clone(), seen.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                let r = read.replay().await.expect("replay position");
                seen.samples
                    .lock()
                    .expect("samples")
                    .push((Instant::now(), r.head));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
    };
    for t in tasks {
        t.await.expect("a load task");
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.await.expect("sampler");

    // Every acknowledged recording and every recorded read is on the primary.
    let head = store.head().await.expect("head").map_or(0, |h| h.position);
    let all = store.read_all(1, usize::MAX).await.expect("read all");
    assert_eq!(all.len() as u64, head, "positions are gapless");
    let at: HashMap<String, u64> = all
        .iter()
        .map(|e| (e.event_id.to_string(), e.position))
        .collect();
    let acked = seen.acked.lock().expect("acks").clone();
    assert!(
        acked.len() > 20,
        "only {} recordings acknowledged",
        acked.len()
    );
    for (id, pos) in &acked {
        assert_eq!(
            at.get(id),
            Some(pos),
            "acknowledged event {id} is not at {pos}"
        );
    }
    let reads = seen.reads.lock().expect("reads").clone();
    assert!(reads.len() > 5, "only {} trail reads served", reads.len());
    for p in &reads {
        let e = &all[(*p - 1) as usize];
        assert_eq!(e.event_type, "access.read", "position {p}");
        assert_eq!(e.actor.id, "inv", "position {p}");
    }
    let inv_reads = |all: &[jishi_ledger::RecordedEvent]| {
        all.iter()
            .filter(|e| e.event_type == "access.read" && e.actor.id == "inv")
            .count()
    };
    assert_eq!(
        inv_reads(&all),
        reads.len(),
        "one recorded read per trail served, none lost, none extra"
    );
    let own = *seen.own_reads.lock().expect("own");
    assert!(own > 10, "only {own} reads after one's own write");

    // The standby: never asked to write, and the same ledger once caught up.
    assert_eq!(
        read.refused_writes(),
        0,
        "the server tried to write to the standby"
    );
    let report = jishi_ledger::verify_with_proofs(store.as_ref(), &jishi_ledger::verify::Quiet)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
    replayed(&pc, &sc).await;
    let copy = read.read_all(1, usize::MAX).await.expect("standby rows");
    assert_eq!(copy.len(), all.len());
    assert!(copy.iter().zip(&all).all(|(a, b)| a.hash == b.hash));

    // The lag, from every acknowledged recording to the standby showing it.
    let samples = seen.samples.lock().expect("samples").clone();
    let mut lags: Vec<f64> = Vec::new();
    for (t, pos) in seen.acked_at.lock().expect("acks").iter() {
        if let Some((s, _)) = samples.iter().find(|(s, h)| s >= t && h >= pos) {
            lags.push(s.duration_since(*t).as_secs_f64() * 1000.0);
        }
    }
    lags.sort_by(f64::total_cmp);
    let mut behind: Vec<u64> = Vec::new();
    {
        let acked_at = seen.acked_at.lock().expect("acks");
        for (s, h) in &samples {
            let newest = acked_at
                .iter()
                .filter(|(t, _)| t <= s)
                .map(|(_, p)| *p)
                .max()
                .unwrap_or(0);
            behind.push(newest.saturating_sub(*h));
        }
    }
    behind.sort_unstable();
    assert!(!lags.is_empty(), "no lag measured");
    let mid = |v: &[f64]| v[v.len() / 2];
    eprintln!(
        "standby replay lag over {} acknowledged recordings ({} events, {} recorded reads, {:.1} s): \
         median {:.2} ms, p99 {:.2} ms, max {:.2} ms; positions behind over {} samples: median {}, max {}",
        lags.len(),
        acked.len(),
        reads.len(),
        LOAD.as_secs_f64(),
        mid(&lags),
        lags[(lags.len() * 99 / 100).min(lags.len() - 1)],
        lags[lags.len() - 1],
        behind.len(),
        behind[behind.len() / 2],
        behind[behind.len() - 1],
    );

    // Replay paused: revocation still holds from the next request (users are
    // read from the primary, D47), a read waits for this server's writes and
    // is then refused naming the standby, and writes go on.
    sc.batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    let (status, me) = client.get("victim", "/api/me").await;
    assert_eq!(status, 200, "{me}");
    let (status, body) = client
        .post(
            "root",
            "/api/users/victim/revoke",
            &json!({"reason": "调离 transferred"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = client.get("victim", "/api/me").await;
    assert_eq!(status, 401, "a revoked token on the next request: {body}");
    let (status, body) = client.get("victim", "/api/elections").await;
    assert_eq!(status, 401, "{body}");
    let standby_head = read.replay().await.expect("replay").head;
    let primary_head = store.head().await.expect("head").map_or(0, |h| h.position);
    assert!(
        standby_head < primary_head,
        "the standby ({standby_head}) has not replayed the revocation ({primary_head})"
    );
    let before = inv_reads(&store.read_all(1, usize::MAX).await.expect("rows"));
    let asked = Instant::now();
    let trail = format!(
        "/api/elections/{}/candidates/{}/trail",
        enc(&first.election_id),
        candidates[0]
    );
    let (status, body) = client.get("inv", &trail).await;
    let waited = asked.elapsed();
    assert_eq!(status, 503, "{body}");
    let message = body["error"]["message"]
        .as_str()
        .or(body["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| body.to_string());
    assert!(message.contains(&name), "names the standby: {message}");
    assert!(
        waited >= PATIENCE,
        "answered after {waited:?}, before the patience"
    );
    let after = inv_reads(&store.read_all(1, usize::MAX).await.expect("rows"));
    assert_eq!(before, after, "a refused read is not recorded");
    // Writes go on while paused: the next step of an election, and it is
    // shown once replay resumes.
    let next = {
        let progress = seen.progress.lock().expect("progress");
        elections
            .iter()
            .chain(std::iter::once(&spare))
            .find_map(|e| {
                let done = progress.get(&e.election_id).copied().unwrap_or(0);
                e.commands.get(done).cloned()
            })
            .expect("a step not yet recorded")
    };
    let who = next.actor.id.clone();
    let (status, body) = client
        .post(
            &who,
            &format!("/api/record/{}", next.command.kind()),
            &next.command.to_json(),
        )
        .await;
    assert_eq!(status, 201, "recording while the standby is paused: {body}");
    let written = body["events"][0]["position"].as_u64().expect("position");
    sc.batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    let (status, body) = client
        .get(
            &who,
            &format!("/api/elections/{}", enc(&next.command.election_id)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["summary"]["last_position"].as_u64().unwrap_or(0) >= written);
    let (status, body) = client.get("inv", &trail).await;
    assert_eq!(status, 200, "{body}");

    // The standby stopped: a 503 naming it, at once.
    drop(sc);
    tokio::task::block_in_place(|| standby.kill());
    let (status, body) = client.get("inv", &trail).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains(&name), "{body}");
    assert!(body.to_string().contains("does not answer"), "{body}");
    // Sign-in and writes do not depend on it.
    let (status, _) = client.get("inv", "/api/me").await;
    assert_eq!(status, 200);
    assert_eq!(read.refused_writes(), 0);
    eprintln!("standby test took {:.1} s", started.elapsed().as_secs_f64());
}
