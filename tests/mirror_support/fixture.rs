//! The mirror tests' fixture: a county ledger and its keys, the mirror's
//! key, HTTP helpers, a standard tiles client (azul's `tlog_tiles`), and a
//! witness process. The protocol bytes are built in the parent module,
//! from the C2SP texts.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jishi_ledger::tiles::{read_tile, TileKind, TilePath};
use jishi_ledger::{EventStore, ExpectedVersion, SignerKey, SqliteStore, Suite};
use tlog_tiles::{Tile, TileHashReader, TileReader};

use super::*;
use crate::common;

pub const ORIGIN: &str = "county.example/tianyuan-zzb";
pub const MIRROR: &str = "city.example/mirror";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub log_pub: PathBuf,
    pub mirror_key: PathBuf,
    pub mirror_pub: PathBuf,
    pub mirror_public: [u8; 32],
}

impl Fixture {
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("dir");
        let log = SignerKey::from_seed(ORIGIN, &[7; 32]).expect("log key");
        std::fs::write(dir.path().join("log.key"), log.to_private_text()).expect("key");
        let log_pub = dir.path().join("log.pub");
        std::fs::write(&log_pub, log.verifier().to_vkey()).expect("pub");
        let m = SignerKey::from_secret(MIRROR, Suite::Cosignature, &[9; 32]).expect("mirror key");
        let mirror_key = dir.path().join("mirror.key");
        std::fs::write(&mirror_key, m.to_private_text()).expect("key");
        let mirror_pub = dir.path().join("mirror.pub");
        std::fs::write(&mirror_pub, m.verifier().to_vkey()).expect("pub");
        let mut mirror_public = [0u8; 32];
        mirror_public.copy_from_slice(&m.verifier().public_key());
        Fixture {
            dir,
            log_pub,
            mirror_key,
            mirror_pub,
            mirror_public,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn mirror(&self, state: &str, listen: &str) -> MirrorProcess {
        MirrorProcess::start(
            &self.mirror_key,
            &[&self.log_pub],
            &self.path(state),
            listen,
        )
    }

    /// A ledger of `groups` appends of 10 events (streams of 9 candidates),
    /// `tag` making its events differ from another ledger's.
    pub async fn ledger(&self, name: &str, groups: usize, tag: &str) -> Ledger {
        let db = self.path(name);
        let store = SqliteStore::open(&db).expect("open");
        let l = Ledger { db, store };
        l.grow(0, groups, tag).await;
        l
    }

    /// A checkpoint of the ledger signed by the log's key: its note.
    pub fn checkpoint(&self, l: &Ledger, name: &str) -> String {
        let out = self.path(name);
        let key = self.path("log.key");
        let o = common::jishi(
            &l.db,
            &["checkpoint", "--key", s(&key), "--out", s(&out)],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        std::fs::read_to_string(out).expect("note")
    }
}

pub struct Ledger {
    pub db: PathBuf,
    pub store: SqliteStore,
}

impl Ledger {
    pub async fn grow(&self, from: usize, groups: usize, tag: &str) {
        for i in from..from + groups {
            self.store
                .append(common::request(
                    &format!("election/{tag}/candidate/c-{:03}", i % 9),
                    ExpectedVersion::Any,
                    10,
                ))
                .await
                .expect("append");
        }
    }

    /// The entries (event hashes) of positions 1..=size.
    pub async fn entries(&self, size: u64) -> Vec<[u8; 32]> {
        let rows = self.store.read_rows(1, size as usize).await.expect("rows");
        rows.iter()
            .map(|r| r.hash.as_slice().try_into().expect("32 bytes"))
            .collect()
    }

    /// The `jishi/add-envelopes` body for [0, size): the origin, the start,
    /// then the envelope bundles' items as served under /tlog/jishi/.
    pub async fn envelopes_body(&self, size: u64) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(ORIGIN.len() as u16).to_be_bytes());
        body.extend_from_slice(ORIGIN.as_bytes());
        body.extend_from_slice(&0u64.to_be_bytes());
        let mut n = 0;
        while n < size {
            let width = (size - n).min(256);
            let t = TilePath {
                kind: TileKind::Envelopes,
                index: n / 256,
                width,
            };
            body.extend_from_slice(&read_tile(&self.store, size, &t).await.expect("bundle"));
            n += width;
        }
        body
    }
}

pub fn post(m: &MirrorProcess, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http(&m.addr(), "POST", path, "", body);
    (status, String::from_utf8_lossy(&body).to_string())
}

pub fn get(m: &MirrorProcess, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http(&m.addr(), "GET", path, "", &[]);
    (status, body)
}

/// The mirror's (pending size, next entry), asked as the spec allows: an
/// upload of [0, 0).
pub fn next_entry(m: &MirrorProcess) -> (u64, u64) {
    let (status, _, body) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "",
        &add_entries_header(ORIGIN, 0, 0),
    );
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    mirror_info(&body)
}

/// azul's tile reader trait, answered over HTTP from the mirror.
pub struct Http {
    pub addr: String,
    pub prefix: String,
}

impl TileReader for Http {
    fn height(&self) -> u8 {
        8
    }

    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog_tiles::tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                let mut n = format!("{:03}", t.level_index() % 1000);
                let mut m = t.level_index();
                while m >= 1000 {
                    m /= 1000;
                    n = format!("x{:03}/{n}", m % 1000);
                }
                let p = if t.width() == 256 {
                    String::new()
                } else {
                    format!(".p/{}", t.width())
                };
                let path = format!("{}/tile/{}/{n}{p}", self.prefix, t.level());
                let (status, _, body) = http(&self.addr, "GET", &path, "", &[]);
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

/// A standard client's check of the mirror: its checkpoint under the log's
/// key (signed_note), the tiles against its root, every entry in the tree.
pub fn tiles_verify(addr: &str, vkey: &str) -> Result<u64, String> {
    let get = |path: &str| {
        let (status, _, body) = http(addr, "GET", path, "", &[]);
        (status, body)
    };
    let prefix = format!("/{}", origin_path(ORIGIN));
    let (status, note) = get(&format!("{prefix}/checkpoint"));
    if status != 200 {
        return Err(format!("checkpoint: {status}"));
    }
    let note = signed_note::Note::from_bytes(&note).map_err(|e| e.to_string())?;
    let verifier = signed_note::StandardVerifier::new(vkey).map_err(|e| e.to_string())?;
    note.verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .map_err(|e| format!("the checkpoint's signature: {e}"))?;
    let cp = tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|e| e.to_string())?;
    let (size, root) = (cp.size(), *cp.hash());
    let reader = Http {
        addr: addr.to_string(),
        prefix: prefix.clone(),
    };
    let hr = TileHashReader::new(size, root, &reader);
    if tlog_tiles::tree_hash(size, &hr).map_err(|e| format!("tree hash: {e}"))? != root {
        return Err("the tiles' root is not the checkpoint's".into());
    }
    let mut n = 0;
    while n < size {
        let width = (size - n).min(256);
        let p = if width == 256 {
            String::new()
        } else {
            format!(".p/{width}")
        };
        let (status, bundle) = get(&format!("{prefix}/tile/entries/{:03}{p}", n / 256));
        if status != 200 {
            return Err(format!("entries {n}: {status}"));
        }
        for (i, e) in bundle.chunks(34).enumerate() {
            let index = n + i as u64;
            let proof = tlog_tiles::prove_record(size, index, &hr).map_err(|e| e.to_string())?;
            tlog_tiles::check_record(&proof, size, root, index, tlog_tiles::record_hash(&e[2..]))
                .map_err(|err| format!("entry {index}: {err}"))?;
        }
        n += width;
    }
    Ok(size)
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

pub fn push(l: &Ledger, fx: &Fixture, m: &MirrorProcess) -> (i32, String) {
    let out = common::jishi(
        &l.db,
        &[
            "mirror-push",
            "--to",
            &m.url,
            "--mirror-key",
            s(&fx.mirror_pub),
        ],
        None,
    );
    (out.status.code().unwrap_or(-1), common::text(&out))
}

/// The evidence files the mirror kept.
pub fn evidence(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("evidence"))
        .expect("evidence dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

/// A `jishi witness` process, killed when dropped.
pub struct WitnessProcess {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_witness(key: &Path, log_pub: &Path, state: &Path) -> WitnessProcess {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args(["witness", "--key", s(key), "--log", s(log_pub)])
        .args(["--state", s(state), "--listen", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start jishi witness");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the witness's first line");
    let url = line
        .trim()
        .rsplit_once(" listening on ")
        .map(|(_, u)| u.to_string())
        .expect("address");
    WitnessProcess { child, url }
}
