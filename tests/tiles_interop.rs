//! Issue 19, item 1: `jishi serve` publishes the log as C2SP tlog-tiles,
//! and a client that jishi's code did not produce verifies it. The client is
//! Cloudflare azul's `tlog_tiles` 0.2 (its `TileHashReader` authenticates
//! every tile it reads against the checkpoint's root). It is fed over plain
//! HTTP by a reader written here from the C2SP path layout. The checkpoint
//! is opened with azul's `signed_note`. Entry bundles are split here by the
//! spec's framing: a big-endian u16 length, then the entry.
//!
//! Also here: a tree row changed by a DBA makes the tiles fail the client's
//! check; the envelope bundles are an investigator's only; bad and
//! not-yet-existing paths are 404.

mod common;

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use jishi_app::users::{add_user, AccessRole, NewUser};
use jishi_ledger::{EventStore, ExpectedVersion, ProofStore, SignerKey, SqliteStore};
use jishi_server::AppState;
use tlog_tiles::{Tile, TileHashReader, TileReader};

const ORIGIN: &str = "county.example/tiles";

/// A blocking HTTP/1.1 GET on loopback: status and body bytes.
fn get(base: &str, path: &str, token: Option<&str>) -> (u16, Vec<u8>) {
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("headers");
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = b.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let n = usize::from_str_radix(std::str::from_utf8(&b[..line]).expect("hex"), 16)
            .expect("chunk size");
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[line + 2..line + 2 + n]);
        b = &b[line + 2 + n + 2..];
    }
}

/// The C2SP path of a tile: `tile/<L>/<N>[.p/<W>]`, `N` in groups of three
/// digits, all but the last prefixed with `x`.
fn c2sp_path(level: u8, n: u64, width: u32) -> String {
    let mut s = format!("{:03}", n % 1000);
    let mut m = n;
    while m >= 1000 {
        m /= 1000;
        s = format!("x{:03}/{s}", m % 1000);
    }
    let p = if width == 256 {
        String::new()
    } else {
        format!(".p/{width}")
    };
    format!("tile/{level}/{s}{p}")
}

/// azul's tile reader trait, answered over HTTP from `/tlog/`.
struct Http {
    base: String,
}

impl TileReader for Http {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                let path = c2sp_path(t.level(), t.level_index(), t.width());
                let (status, body) = get(&self.base, &format!("/tlog/{path}"), None);
                if status == 200 {
                    Ok(body)
                } else {
                    Err(tlog_tiles::tlog::Error::InvalidInput(format!(
                        "HTTP {status} for {path}"
                    )))
                }
            })
            .collect()
    }

    fn save_tiles(&self, _: &[Tile], _: &[Vec<u8>]) {}
}

/// The entries of a bundle, split by the spec's framing.
fn entries(bundle: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = bundle;
    while !rest.is_empty() {
        let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push(rest[2..2 + len].to_vec());
        rest = &rest[2 + len..];
    }
    out
}

/// Everything a client checks, from the server alone: the checkpoint under
/// the log's key, the root from the tiles, and every entry in the tree.
fn client_verifies(base: &str, vkey: &str) -> Result<u64, String> {
    let (status, note) = get(base, "/tlog/checkpoint", None);
    assert_eq!(status, 200);
    let note = signed_note::Note::from_bytes(&note).map_err(|e| e.to_string())?;
    let verifier = signed_note::StandardVerifier::new(vkey).map_err(|e| e.to_string())?;
    note.verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| format!("the checkpoint's signature: {e}"))?;
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|e| e.to_string())?;
    let (size, root) = (cp.size(), *cp.hash());
    let http = Http {
        base: base.to_string(),
    };
    let reader = TileHashReader::new(size, root, &http);
    let computed = tlog_tiles::tree_hash(size, &reader).map_err(|e| format!("tree hash: {e}"))?;
    if computed != root {
        return Err("the tiles' root is not the checkpoint's".into());
    }
    // Every entry: fetched from its bundle, proved in the tree from tiles.
    let mut n = 0u64;
    while n < size {
        let width = (size - n).min(256);
        let path = if width == 256 {
            format!("/tlog/tile/entries/{:03}", n / 256)
        } else {
            format!("/tlog/tile/entries/{:03}.p/{width}", n / 256)
        };
        let (status, bundle) = get(base, &path, None);
        if status != 200 {
            return Err(format!("{path}: {status}"));
        }
        let items = entries(&bundle);
        if items.len() as u64 != width {
            return Err(format!("{path}: {} entries, not {width}", items.len()));
        }
        for (i, e) in items.iter().enumerate() {
            let index = n + i as u64;
            let proof = tlog_tiles::prove_record(size, index, &reader)
                .map_err(|err| format!("proof of {index}: {err}"))?;
            tlog_tiles::check_record(&proof, size, root, index, tlog_tiles::record_hash(e))
                .map_err(|err| format!("entry {index}: {err}"))?;
        }
        n += width;
    }
    Ok(size)
}

/// How a test changes one stored tree node as a DBA would, bypassing the
/// append-only triggers.
enum Dba {
    Sqlite(std::path::PathBuf),
    Postgres(common::PgSchema),
}

impl Dba {
    async fn change_a_tree_node(&self) {
        let sql = "UPDATE tree_nodes SET hashes = $1 || substr(hashes, 33) \
                   WHERE leaf = (SELECT MIN(leaf) FROM tree_nodes WHERE leaf > 300)";
        match self {
            Dba::Sqlite(db) => {
                let conn = common::dba(db);
                conn.execute_batch("DROP TRIGGER tree_nodes_no_update")
                    .expect("drop the tree's trigger");
                let n = conn
                    .execute(&sql.replace("$1", "?1"), [vec![0u8; 32]])
                    .expect("update");
                assert_eq!(n, 1);
            }
            Dba::Postgres(schema) => {
                let c = schema.connect().await;
                c.batch_execute("SET session_replication_role = replica")
                    .await
                    .expect("bypass triggers");
                let n = c.execute(sql, &[&vec![0u8; 32]]).await.expect("update");
                assert_eq!(n, 1);
            }
        }
    }
}

async fn a_standard_client_verifies_the_log_from_its_tiles(
    store: Arc<dyn ProofStore>,
    db: std::path::PathBuf,
    dba: Dba,
) {
    let dir = tempfile::tempdir().expect("dir");
    // 700 events: two full level-0 tiles, a partial one of 188 (with the
    // key event), and a partial level-1 tile of 2.
    for i in 0..70 {
        store
            .append(common::request(
                &format!("election/e-2021/candidate/c-{:03}", i % 9),
                ExpectedVersion::Any,
                10,
            ))
            .await
            .expect("append");
    }
    let log = SignerKey::from_seed(ORIGIN, &[6; 32]).expect("key");
    let key = dir.path().join("log.key");
    std::fs::write(&key, log.to_private_text()).expect("key");
    let k = key.clone();
    let d = db.clone();
    let out = tokio::task::spawn_blocking(move || {
        common::jishi(
            &d,
            &["checkpoint", "--key", k.to_str().expect("path")],
            None,
        )
    })
    .await
    .expect("jishi checkpoint");
    assert!(out.status.success(), "{}", common::text(&out));
    let size = store.tree_size().await.expect("size");
    assert_eq!(size, 701);

    let proof_store: Arc<dyn ProofStore> = store.clone();
    let events: Arc<dyn EventStore> = store.clone();
    let (_, token) = add_user(
        events.as_ref(),
        &common::server::operator(),
        NewUser {
            id: "inv".into(),
            name: "倒查组".into(),
            role: AccessRole::Investigator,
            org: "市纪委".into(),
            acts_as: Some("investigator".into()),
        },
    )
    .await
    .expect("user");
    let (_, recorder) = add_user(
        events.as_ref(),
        &common::server::operator(),
        NewUser {
            id: "rec".into(),
            name: "组织部".into(),
            role: AccessRole::Recorder,
            org: "天元区".into(),
            acts_as: Some("organisation_department".into()),
        },
    )
    .await
    .expect("user");
    let state = Arc::new(AppState::new(proof_store, None, ORIGIN.into()));
    *state.users.write().await = jishi_app::users::load_users(events.as_ref())
        .await
        .expect("users");
    let base = common::server::serve(state).await;
    let vkey = log.verifier().to_vkey();

    let (b, v) = (base.clone(), vkey.clone());
    let checked = tokio::task::spawn_blocking(move || client_verifies(&b, &v))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701), "the client verifies the whole log");

    // The envelope bundles: an investigator's only; each item hashes to
    // its entry with BLAKE3 (docs/FORMAT.md §4), and carries no payload.
    let b = base.clone();
    let (t, r) = (token.clone(), recorder.clone());
    tokio::task::spawn_blocking(move || {
        assert_eq!(get(&b, "/tlog/jishi/envelopes/000", None).0, 401);
        assert_eq!(get(&b, "/tlog/jishi/envelopes/000", Some(&r)).0, 403);
        let (status, envs) = get(&b, "/tlog/jishi/envelopes/000", Some(&t));
        assert_eq!(status, 200);
        let (_, ents) = get(&b, "/tlog/tile/entries/000", None);
        let (envs, ents) = (entries(&envs), entries(&ents));
        assert_eq!((envs.len(), ents.len()), (256, 256));
        for (env, ent) in envs.iter().zip(&ents) {
            assert_eq!(blake3::hash(env).as_bytes().as_slice(), ent.as_slice());
            let text = String::from_utf8_lossy(env);
            assert!(text.contains("\"payload_digest\""), "{text}");
            assert!(!text.contains("李明"), "no payload in a bundle: {text}");
        }
        // Paths that name no tile, or one the tree does not hold yet.
        for path in [
            "/tlog/tile/0/1",
            "/tlog/tile/0/002",
            "/tlog/tile/0/002.p/255",
            "/tlog/tile/1/000",
            "/tlog/tile/entries/003.p/1",
        ] {
            assert_eq!(get(&b, path, None).0, 404, "{path}");
        }
        assert_eq!(get(&b, "/tlog/tile/0/002.p/188", None).0, 200);
    })
    .await
    .expect("bundles");

    // A DBA changes one stored tree node: the tiles no longer lead to the
    // signed root, and the client says so.
    dba.change_a_tree_node().await;
    let (b, v) = (base.clone(), vkey.clone());
    let after = tokio::task::spawn_blocking(move || client_verifies(&b, &v))
        .await
        .expect("client");
    // Refused by the client's check of the tiles, not by a failed request.
    let why = after.expect_err("a changed tree row must fail the client's check");
    assert!(!why.contains("HTTP"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_tiles_verify_with_a_standard_client() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("ledger.db");
    let store: Arc<dyn ProofStore> = Arc::new(SqliteStore::open(&db).expect("open"));
    a_standard_client_verifies_the_log_from_its_tiles(store, db.clone(), Dba::Sqlite(db)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_tiles_verify_with_a_standard_client() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let db = std::path::PathBuf::from(fx.schema.db_url());
    let common::PgFixture { pg, schema, .. } = fx;
    let store: Arc<dyn ProofStore> = Arc::new(pg);
    a_standard_client_verifies_the_log_from_its_tiles(store, db, Dba::Postgres(schema)).await;
}
