//! One `jishi serve` over many ledgers (issue 19 §3, D112–D114), from
//! outside, on SQLite files and on PostgreSQL with a schema per ledger: a
//! city's service whose home ledger holds its users, with two county
//! ledgers under `/ledgers/hexi` and `/ledgers/hedong`. Each ledger keeps
//! its own chain, recording key and checkpoints; a user's organisation
//! scopes every ledger alike; the search across ledgers finds a person in
//! every county and nothing out of scope; and the adversary's paths (a
//! `..`, an encoded slash, a user written into a county's ledger) reach
//! nothing.

mod common;

use common::enc;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::browser::{free_port, run_ok, wait_ready, Running};
use serde_json::{json, Value};

/// id, access role, organisation.
const USERS: &[(&str, &str, &str)] = &[
    ("admin", "admin", "某省"),
    ("city-insp", "inspector", "某省/某市"),
    ("jia-rec", "recorder", "某省/某市/甲县"),
    ("yi-rec", "recorder", "某省/某市/乙县"),
    ("ling-rec", "recorder", "某省/另市"),
    ("inv", "investigator", "某省"),
];

/// The person nominated in both counties (and once in 另市).
const PERSON: &str = "p1:5d1f6a0c2b3e4d5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7";

const JIA: &str = "某省:jia-2026";
const YI: &str = "某省:yi-2026";
const LING: &str = "某省:ling-2026";
const LING_B: &str = "某省:ling-b";

/// The recording key `common::jishi` gives a PostgreSQL ledger's URL, so
/// that the service and the command line use the same one.
fn pg_key(url: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("jishi-test-recording-keys");
    std::fs::create_dir_all(&dir).expect("key directory");
    let name = blake3::hash(url.as_bytes()).to_hex();
    dir.join(&name[..16])
}

/// Where each ledger is: the `--db` value of each.
struct Stores {
    home: PathBuf,
    hexi: PathBuf,
    hedong: PathBuf,
    postgres: bool,
}

struct Service {
    base: String,
    port: u16,
    http: reqwest::Client,
    tokens: BTreeMap<&'static str, String>,
    stores: Stores,
    _server: Running,
}

impl Service {
    fn start(dir: &Path, stores: Stores) -> Service {
        for db in [&stores.home, &stores.hexi, &stores.hedong] {
            run_ok(db, &["init"]);
        }
        let mut tokens = BTreeMap::new();
        for (id, role, org) in USERS {
            let token = run_ok(
                &stores.home,
                &["user", "add", id, "--role", role, "--org", org],
            )
            .trim()
            .to_string();
            tokens.insert(*id, token);
        }
        let mut args: Vec<String> = Vec::new();
        for name in ["hexi", "hedong"] {
            let key = dir.join(format!("{name}.key"));
            run_ok(
                &stores.home,
                &[
                    "keygen",
                    &format!("{name}.example/log"),
                    "--out",
                    key.to_str().expect("utf-8"),
                ],
            );
            let db = if name == "hexi" {
                &stores.hexi
            } else {
                &stores.hedong
            };
            args.push(format!("--ledger={name}={}", db.display()));
            args.push(format!("--ledger-key={name}={}", key.display()));
            if stores.postgres {
                let url = db.to_str().expect("utf-8");
                args.push(format!(
                    "--ledger-recording-key={name}={}",
                    pg_key(url).display()
                ));
            }
        }
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jishi"));
        cmd.arg("--db")
            .arg(&stores.home)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
            .args(&args)
            .env_remove("JISHI_DB")
            .env_remove("JISHI_PERSON_KEY")
            .env_remove("JISHI_ACTOR")
            .env_remove("JISHI_RECORDING_KEY");
        if stores.postgres {
            cmd.env(
                "JISHI_RECORDING_KEY",
                pg_key(stores.home.to_str().expect("utf-8")),
            );
        }
        let mut server = Running::start("jishi serve", &mut cmd, dir.join("serve.log"));
        wait_ready(port, "/api/health", "jishi serve", &mut server.child);
        Service {
            base: format!("http://127.0.0.1:{port}"),
            port,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            tokens,
            stores,
            _server: server,
        }
    }

    async fn get(&self, who: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[who])
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn raw(&self, who: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.tokens[who])
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.text().await.expect("text"))
    }

    async fn page(&self, who: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("jishi_token={}", self.tokens[who]))
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.text().await.expect("text"))
    }

    async fn record(&self, who: &str, ledger: &str, kind: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{ledger}/api/record/{kind}", self.base))
            .bearer_auth(&self.tokens[who])
            .json(&body)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// The head of the ledger served under `ledger` (`""`: the home one).
    async fn head(&self, ledger: &str) -> u64 {
        let r = self
            .http
            .get(format!("{}{ledger}/api/health", self.base))
            .send()
            .await
            .expect("health");
        let v: Value = r.json().await.expect("json");
        v["head"].as_u64().expect("head")
    }

    /// A request sent byte for byte, as no URL library would normalise it.
    fn raw_request(&self, who: &str, target: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(
            s,
            "GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.port, self.tokens[who]
        )
        .expect("write");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }
}

fn opening(id: &str, unit_org: &str) -> Value {
    let demo = jishi_projections::demo::generate(&jishi_projections::demo::DemoConfig {
        seed: 7,
        townships: 1,
    })
    .expect("demo");
    let mut cmd = demo.elections[0].commands[0].command.to_json();
    cmd["election_id"] = json!(id);
    cmd["unit_org"] = json!(unit_org);
    cmd
}

fn nomination(election: &str, candidate: &str, name: &str) -> Value {
    json!({
        "election_id": election, "candidate_id": candidate,
        "occurred_at": "2026-04-14T10:00:00+08:00", "name": name, "sex": "male",
        "birth_date": "1985-01-01", "current_post": "副镇长", "township_work_years": 5,
        "incumbent": false, "exchanged": false, "election_committee_member": false,
        "method": "meeting", "nominator_id": "party", "nominator_name": "镇党委",
        "person_ref": PERSON
    })
}

/// Opens `election` of `org` in `ledger` as `who`, nominates the person as
/// c-01 and defers c-01 (a finding: deferred and not resumed).
async fn election(s: &Service, who: &str, ledger: &str, election: &str, org: &str) {
    let (st, body) = s
        .record(who, ledger, "election.opened", opening(election, org))
        .await;
    assert_eq!(st, 201, "{who} opens {election} in {ledger:?}: {body}");
    let (st, body) = s
        .record(
            who,
            ledger,
            "pledge.signed",
            json!({"election_id": election, "occurred_at": "2026-04-13T09:00:00+08:00",
                   "signer_category": "党委委员", "signer_count": 3}),
        )
        .await;
    assert_eq!(st, 201, "{who} pledges in {election}: {body}");
    let (st, body) = s
        .record(
            who,
            ledger,
            "candidate.nominated",
            nomination(election, "c-01", "张三"),
        )
        .await;
    assert_eq!(st, 201, "{who} nominates in {election}: {body}");
    let (st, body) = s
        .record(
            who,
            ledger,
            "nomination.deferred",
            json!({"election_id": election, "candidate_id": "c-01",
                   "occurred_at": "2026-04-15T10:00:00+08:00", "reason": "待核实"}),
        )
        .await;
    assert_eq!(st, 201, "{who} defers in {election}: {body}");
}

fn ids(hits: &Value, key: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = hits[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {hits}"))
        .iter()
        .map(|h| {
            (
                h["ledger"].as_str().unwrap_or_default().to_string(),
                h["election_id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    v.sort();
    v
}

fn head_hash(db: &Path) -> String {
    let v: Value = serde_json::from_str(run_ok(db, &["head", "--json"]).trim()).expect("json");
    v["hash"].as_str().expect("hash").to_string()
}

async fn scenario(dir: &Path, stores: Stores) {
    let s = Service::start(dir, stores);
    let (hx, hd) = ("/ledgers/hexi", "/ledgers/hedong");

    // Recording lands in the ledger it was sent to, and nowhere else.
    let (home0, hexi0, hedong0) = (s.head("").await, s.head(hx).await, s.head(hd).await);
    election(&s, "jia-rec", hx, JIA, "某省/某市/甲县/青山镇").await;
    assert_eq!(s.head("").await, home0, "hexi's recording moved home");
    assert_eq!(s.head(hd).await, hedong0, "hexi's recording moved hedong");
    assert!(s.head(hx).await >= hexi0 + 4, "hexi did not grow");
    election(&s, "yi-rec", hd, YI, "某省/某市/乙县/白石镇").await;
    election(&s, "ling-rec", "", LING, "某省/另市/东镇").await;
    election(&s, "ling-rec", hd, LING_B, "某省/另市/西镇").await;

    // A user not covering the org: 403 for an opening, 404 (as absent,
    // D53) for a step of an election it cannot read; nothing written.
    let before = (s.head("").await, s.head(hx).await, s.head(hd).await);
    let (st, body) = s
        .record(
            "yi-rec",
            hx,
            "election.opened",
            opening("某省:x", "某省/某市/甲县/x"),
        )
        .await;
    assert_eq!(st, 403, "乙县 opens in 甲县: {body}");
    let (st, body) = s
        .record(
            "yi-rec",
            hx,
            "candidate.nominated",
            nomination(JIA, "c-02", "李四"),
        )
        .await;
    assert_eq!(st, 404, "乙县 records in 甲县's election: {body}");
    let (st, body) = s
        .record(
            "city-insp",
            hx,
            "candidate.nominated",
            nomination(JIA, "c-02", "李四"),
        )
        .await;
    assert_eq!(st, 403, "an inspector nominates: {body}");
    // The election is in hexi, not at home: recording it at `/` is absent.
    let (st, body) = s
        .record(
            "jia-rec",
            "",
            "candidate.nominated",
            nomination(JIA, "c-02", "李四"),
        )
        .await;
    assert_eq!(st, 404, "hexi's election recorded at home: {body}");
    assert_eq!(
        (s.head("").await, s.head(hx).await, s.head(hd).await),
        before,
        "a refused recording wrote something"
    );

    // Each ledger's chain verifies on its own; the heads differ.
    for db in [&s.stores.home, &s.stores.hexi, &s.stores.hedong] {
        run_ok(db, &["verify"]);
    }
    let heads = [
        head_hash(&s.stores.home),
        head_hash(&s.stores.hexi),
        head_hash(&s.stores.hedong),
    ];
    assert!(
        heads[0] != heads[1] && heads[1] != heads[2] && heads[0] != heads[2],
        "{heads:?}"
    );

    // Checkpoints: each ledger signs its own, under its own origin.
    let mut notes = Vec::new();
    for l in [hx, hd] {
        let r = s
            .http
            .post(format!("{}{l}/api/checkpoint", s.base))
            .bearer_auth(&s.tokens["admin"])
            .send()
            .await
            .expect("checkpoint");
        assert!(
            r.status().is_success(),
            "{l}: {}",
            r.text().await.unwrap_or_default()
        );
        let r = s
            .http
            .get(format!("{}{l}/tlog/checkpoint", s.base))
            .send()
            .await
            .expect("tlog");
        assert_eq!(r.status().as_u16(), 200, "{l}");
        notes.push(r.text().await.expect("note"));
    }
    let lines = |n: &str| n.lines().map(str::to_string).collect::<Vec<_>>();
    let (a, b) = (lines(&notes[0]), lines(&notes[1]));
    assert_eq!(a[0], "hexi.example/log", "{}", notes[0]);
    assert_eq!(b[0], "hedong.example/log", "{}", notes[1]);
    assert_ne!(a[2], b[2], "the two checkpoints commit to one root");
    let size = a[1].parse::<u64>().expect("size");
    assert!(
        size > 0 && size <= s.head(hx).await && size != b[1].parse::<u64>().unwrap_or(0),
        "hexi's checkpoint is of hexi's tree: {} / {}",
        notes[0],
        notes[1]
    );
    // The home ledger has no key here, hence no checkpoint of its own.
    let r = s
        .http
        .get(format!("{}/tlog/checkpoint", s.base))
        .send()
        .await
        .expect("tlog");
    assert_eq!(r.status().as_u16(), 404);

    // The ledgers each user can see something in.
    let names = |v: &Value| -> Vec<String> {
        v["ledgers"]
            .as_array()
            .expect("ledgers")
            .iter()
            .map(|l| l["name"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let (st, v) = s.get("city-insp", "/api/ledgers").await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(names(&v), ["hexi", "hedong"], "{v}");
    let hexi = &v["ledgers"][0];
    assert_eq!(hexi["origin"], "hexi.example/log", "{v}");
    assert_eq!(hexi["base"], "/ledgers/hexi", "{v}");
    assert_eq!(hexi["elections"], 1, "{v}");
    assert!(hexi["checkpoint"]["size"].as_u64().is_some(), "{v}");
    assert_ne!(
        hexi["checkpoint"]["root"], v["ledgers"][1]["checkpoint"]["root"],
        "{v}"
    );
    assert_eq!(names(&s.get("jia-rec", "/api/ledgers").await.1), ["hexi"]);
    assert_eq!(
        names(&s.get("ling-rec", "/api/ledgers").await.1),
        ["home", "hedong"]
    );
    assert_eq!(
        names(&s.get("inv", "/api/ledgers").await.1),
        ["home", "hexi", "hedong"]
    );

    // Scope, in every ledger: the city inspector sees both counties.
    let search = |who: &'static str, q: String| {
        let s = &s;
        async move {
            let (st, v) = s.get(who, &format!("/api/search/all?{q}")).await;
            assert_eq!(st, 200, "{who} {q}: {v}");
            v
        }
    };
    let all = format!("q={}", enc("某省"));
    assert_eq!(
        ids(&search("city-insp", all.clone()).await, "elections"),
        pairs(&[("hexi", JIA), ("hedong", YI)])
    );
    assert_eq!(
        ids(&search("jia-rec", all.clone()).await, "elections"),
        pairs(&[("hexi", JIA)])
    );
    assert_eq!(
        ids(&search("ling-rec", all.clone()).await, "elections"),
        pairs(&[("home", LING), ("hedong", LING_B)])
    );
    assert_eq!(ids(&search("inv", all.clone()).await, "elections").len(), 4);
    // One person, every county, one search; out of scope is absent.
    let person = format!("person_ref={}", enc(PERSON));
    let found = search("city-insp", person.clone()).await;
    assert_eq!(
        ids(&found, "candidates"),
        pairs(&[("hexi", JIA), ("hedong", YI)]),
        "{found}"
    );
    assert!(
        found["candidates"][0]["href"]
            .as_str()
            .unwrap_or_default()
            .starts_with("/ledgers/"),
        "{found}"
    );
    assert_eq!(
        ids(&search("jia-rec", person.clone()).await, "candidates"),
        pairs(&[("hexi", JIA)])
    );
    assert_eq!(
        ids(&search("inv", person.clone()).await, "candidates").len(),
        4
    );
    // Findings, across ledgers, in scope.
    assert_eq!(
        ids(
            &search("city-insp", "finding=deferred".into()).await,
            "findings"
        ),
        pairs(&[("hexi", JIA), ("hedong", YI)])
    );
    assert_eq!(
        ids(&search("ling-rec", "finding=any".into()).await, "findings")
            .into_iter()
            .filter(|(_, e)| e != LING && e != LING_B)
            .count(),
        0
    );
    let (st, v) = s.get("city-insp", "/api/search/all?finding=bribery").await;
    assert_eq!(
        (st, v["error"]["field"].clone()),
        (400, json!("finding")),
        "{v}"
    );
    let (st, v) = s.get("city-insp", "/api/search/all?person_ref=123").await;
    assert_eq!(
        (st, v["error"]["field"].clone()),
        (400, json!("person_ref")),
        "{v}"
    );

    // Out of scope answers as absent, byte for byte, through any prefix.
    for (who, ledger, id) in [
        ("city-insp", hd, LING_B),
        ("jia-rec", hd, YI),
        ("yi-rec", hx, JIA),
        ("jia-rec", "", LING),
    ] {
        let out = s
            .raw(who, &format!("{ledger}/api/elections/{}", enc(id)))
            .await;
        let elsewhere = if ledger == hx { hd } else { hx };
        let absent = s
            .raw(who, &format!("{elsewhere}/api/elections/{}", enc(id)))
            .await;
        assert_eq!(out.0, 404, "{who} reads {id} in {ledger:?}: {}", out.1);
        assert_eq!(out, absent, "{who}: out of scope differs from absent");
        let page = s
            .page(who, &format!("{ledger}/elections/{}", enc(id)))
            .await;
        assert_eq!(page.0, 404, "{who} page {id}");
    }
    let (st, v) = s
        .get("city-insp", &format!("{hx}/api/elections/{}", enc(JIA)))
        .await;
    assert_eq!(st, 200, "{v}");

    // A read that is recorded is recorded in the ledger it came from.
    let (home1, hexi1) = (s.head("").await, s.head(hx).await);
    let (st, v) = s
        .get(
            "city-insp",
            &format!("{hx}/api/elections/{}/candidates/c-01/trail", enc(JIA)),
        )
        .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(s.head("").await, home1, "hexi's read recorded at home");
    assert!(s.head(hx).await > hexi1, "hexi's read not recorded in hexi");

    // Pages of a county stay in its prefix, and say which ledger they are.
    let (st, page) = s.page("city-insp", &format!("{hx}/elections")).await;
    assert_eq!(st, 200, "{page}");
    assert!(page.contains("id=\"ledger-banner\""), "{page}");
    assert!(
        page.contains(&format!("href=\"{hx}/elections/{}\"", enc(JIA))),
        "{page}"
    );
    assert!(
        !page.contains("href=\"/elections"),
        "a link leaves hexi: {page}"
    );
    let (st, page) = s.page("city-insp", "/ledgers").await;
    assert_eq!(st, 200);
    assert!(page.contains("hexi") && page.contains("hedong"), "{page}");
    let (st, page) = s.page("city-insp", &format!("/search/all?{person}")).await;
    assert_eq!(st, 200);
    assert!(
        page.contains(&format!(
            "href=\"{hx}/elections/{}/candidates/c-01\"",
            enc(JIA)
        )) && page.contains(&format!(
            "href=\"{hd}/elections/{}/candidates/c-01\"",
            enc(YI)
        )),
        "{page}"
    );
    let r = s
        .http
        .get(format!("{}{hx}/elections", s.base))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status().as_u16(), 303);
    assert_eq!(r.headers()["location"], format!("{hx}/signin").as_str());

    // An unknown ledger is a 404 that says so.
    let (st, v) = s.get("inv", "/ledgers/nope/api/elections").await;
    assert_eq!(st, 404);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ledger \"nope\""),
        "{v}"
    );
    assert_eq!(s.page("inv", "/ledgers/nope/elections").await.0, 404);

    // The adversary's paths: a `..`, encoded slashes and dots, another
    // case; none reaches hedong's election through hexi's prefix.
    let yi = enc(YI);
    for target in [
        format!("/ledgers/hexi/../hedong/api/elections/{yi}"),
        format!("/ledgers/hexi/..%2Fhedong/api/elections/{yi}"),
        format!("/ledgers/hexi%2F..%2Fhedong/api/elections/{yi}"),
        format!("/ledgers/hexi%2fhedong/api/elections/{yi}"),
        format!("/ledgers/%2e%2e/api/elections/{yi}"),
        format!("/ledgers/../ledgers/hedong/api/elections/{yi}"),
        format!("/ledgers/HEDONG/api/elections/{yi}"),
        format!("/ledgers/hedong%00/api/elections/{yi}"),
    ] {
        let answer = s.raw_request("jia-rec", &target);
        assert!(
            answer.starts_with("HTTP/1.1 404") || answer.starts_with("HTTP/1.1 400"),
            "{target}: {answer}"
        );
        assert!(
            !answer.contains("白石镇"),
            "{target} reached hedong: {answer}"
        );
    }
    // A token for a user written into a county's ledger signs no one in:
    // users come from the home ledger only.
    let mole = run_ok(
        &s.stores.hexi,
        &[
            "user",
            "add",
            "mole",
            "--role",
            "investigator",
            "--org",
            "某省",
        ],
    )
    .trim()
    .to_string();
    for path in [
        "/api/me",
        "/ledgers/hexi/api/me",
        "/ledgers/hexi/api/elections",
    ] {
        let r = s
            .http
            .get(format!("{}{path}", s.base))
            .bearer_auth(&mole)
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 401, "{path} took hexi's user");
    }
    // Users are administered at the root only.
    let before = s.head(hx).await;
    let r = s
        .http
        .post(format!("{}{hx}/api/users", s.base))
        .bearer_auth(&s.tokens["admin"])
        .json(&json!({"id": "x", "name": "x", "role": "admin", "org": "某省"}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap_or_default().contains("home ledger"));
    assert_eq!(s.head(hx).await, before);
}

#[test]
fn a_city_serves_its_counties_sqlite_ledgers() {
    common::server::rt().block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let stores = Stores {
            home: dir.path().join("city.db"),
            hexi: dir.path().join("hexi.db"),
            hedong: dir.path().join("hedong.db"),
            postgres: false,
        };
        scenario(dir.path(), stores).await;
    });
}

#[test]
fn a_city_serves_its_counties_postgresql_schemas() {
    common::server::rt().block_on(async {
        let Some(url) = common::database_url() else {
            return;
        };
        let dir = tempfile::tempdir().expect("dir");
        let schemas = [
            common::PgSchema::create(&url).await,
            common::PgSchema::create(&url).await,
            common::PgSchema::create(&url).await,
        ];
        let stores = Stores {
            home: PathBuf::from(schemas[0].db_url()),
            hexi: PathBuf::from(schemas[1].db_url()),
            hedong: PathBuf::from(schemas[2].db_url()),
            postgres: true,
        };
        scenario(dir.path(), stores).await;
        drop(schemas);
    });
}

#[test]
fn a_bad_ledger_argument_is_named_and_nothing_starts() {
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path().join("home.db");
    let hexi = format!("hexi={}", dir.path().join("hexi.db").display());
    for (args, says) in [
        (
            vec!["--ledger", "hexi"],
            "--ledger \"hexi\": expected NAME=STORE",
        ),
        (vec!["--ledger", &hexi, "--ledger", &hexi], "already given"),
        (vec!["--ledger", "Hexi=x.db"], "lower-case"),
        (vec!["--ledger", "a/b=x.db"], "lower-case"),
        (vec!["--ledger", "home=x.db"], "--db"),
        (vec!["--ledger-key", "hexi=k"], "no --ledger hexi"),
        // One file under a URI as well as a path would be served twice.
        (vec!["--ledger", "hexi=file:hexi.db"], "plain file path"),
        (vec!["--ledger", "hexi=hexi.db?mode=ro"], "plain file path"),
    ] {
        let out = common::jishi(
            &home,
            &[&["serve", "--bind", "127.0.0.1:0"][..], &args[..]].concat(),
            None,
        );
        let text = common::text(&out);
        assert!(!out.status.success(), "{args:?} started: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
        assert!(!dir.path().join("hexi.db").exists(), "{args:?} opened hexi");
    }
}

/// One log key for two ledgers would sign two inconsistent checkpoints
/// under one origin: a witness would hold that as a fork. Refused before
/// the second ledger opens, naming both.
#[test]
fn one_log_key_cannot_sign_two_ledgers() {
    let dir = tempfile::tempdir().expect("dir");
    let home = dir.path().join("home.db");
    let key = dir.path().join("log.key");
    let out = common::jishi(
        &home,
        &[
            "keygen",
            "one.example/log",
            "--out",
            key.to_str().expect("utf-8"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", common::text(&out));
    let key = key.to_str().expect("utf-8");
    for args in [
        vec![
            "--key",
            key,
            "--ledger",
            "hexi=hexi.db",
            "--ledger-key",
            &format!("hexi={key}"),
        ],
        vec![
            "--ledger",
            "hexi=hexi.db",
            "--ledger-key",
            &format!("hexi={key}"),
            "--ledger",
            "hedong=hedong.db",
            "--ledger-key",
            &format!("hedong={key}"),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(|s| s.as_ref()).collect();
        let out = common::jishi(
            &home,
            &[&["serve", "--bind", "127.0.0.1:0"][..], &args[..]].concat(),
            None,
        );
        let text = common::text(&out);
        assert!(!out.status.success(), "{args:?} started: {text}");
        assert!(text.contains("is already signed by"), "{args:?}: {text}");
    }
}
