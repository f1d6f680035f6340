//! Issue 19, item 2: `jishi mirror`, a C2SP tlog-mirror, as separate
//! processes on loopback.
//!
//! - A client written here from the C2SP texts (tests/mirror_support)
//!   uploads a jishi log; the mirror's cosignature is checked from
//!   tlog-cosignature with ed25519-dalek, and azul's `tlog_tiles` verifies
//!   the tiles the mirror serves.
//! - The mirror is killed mid-upload and restarted: it keeps every package
//!   it had verified, and `jishi mirror-push` resumes from there.
//! - A corrupted entry package, a corrupted envelope and a truncated upload
//!   stop where they are bad, named, with what came before kept.
//! - A forked source (same key, another tree), a replayed old checkpoint,
//!   another key and an unknown origin are refused, and the fork leaves
//!   evidence that `jishi verify-evidence` proves.

mod common;
mod mirror_support;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use jishi_ledger::tiles::{read_tile, TileKind, TilePath};
use jishi_ledger::{EventStore, ExpectedVersion, ProofStore, SignerKey, SqliteStore, Suite};
use mirror_support::*;
use tlog_tiles::{Tile, TileHashReader, TileReader};

const ORIGIN: &str = "county.example/tianyuan-zzb";
const MIRROR: &str = "city.example/mirror";

struct Fixture {
    dir: tempfile::TempDir,
    log_pub: PathBuf,
    mirror_key: PathBuf,
    mirror_pub: PathBuf,
    mirror_public: [u8; 32],
}

impl Fixture {
    fn new() -> Fixture {
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

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn mirror(&self, state: &str, listen: &str) -> MirrorProcess {
        MirrorProcess::start(
            &self.mirror_key,
            &[&self.log_pub],
            &self.path(state),
            listen,
        )
    }

    /// A ledger of `groups` appends of 10 events (streams of 9 candidates),
    /// `tag` making its events differ from another ledger's.
    async fn ledger(&self, name: &str, groups: usize, tag: &str) -> Ledger {
        let db = self.path(name);
        let store = SqliteStore::open(&db).expect("open");
        let l = Ledger { db, store };
        l.grow(0, groups, tag).await;
        l
    }

    /// A checkpoint of the ledger signed by the log's key: its note.
    fn checkpoint(&self, l: &Ledger, name: &str) -> String {
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

struct Ledger {
    db: PathBuf,
    store: SqliteStore,
}

impl Ledger {
    async fn grow(&self, from: usize, groups: usize, tag: &str) {
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
    async fn entries(&self, size: u64) -> Vec<[u8; 32]> {
        let rows = self.store.read_rows(1, size as usize).await.expect("rows");
        rows.iter()
            .map(|r| r.hash.as_slice().try_into().expect("32 bytes"))
            .collect()
    }

    /// The `jishi/add-envelopes` body for [0, size): the origin, the start,
    /// then the envelope bundles' items as served under /tlog/jishi/.
    async fn envelopes_body(&self, size: u64) -> Vec<u8> {
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

fn post(m: &MirrorProcess, path: &str, body: &[u8]) -> (u16, String) {
    let (status, _, body) = http(&m.addr(), "POST", path, "", body);
    (status, String::from_utf8_lossy(&body).to_string())
}

fn get(m: &MirrorProcess, path: &str) -> (u16, Vec<u8>) {
    let (status, _, body) = http(&m.addr(), "GET", path, "", &[]);
    (status, body)
}

/// The mirror's (pending size, next entry), asked as the spec allows: an
/// upload of [0, 0).
fn next_entry(m: &MirrorProcess) -> (u64, u64) {
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
struct Http {
    addr: String,
    prefix: String,
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
fn tiles_verify(addr: &str, vkey: &str) -> Result<u64, String> {
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

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip");
    enc.finish().expect("gzip")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_from_the_spec_uploads_and_the_tiles_verify_with_tlog_tiles() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = l.store.tree_size().await.expect("size");
    assert_eq!(size, 701);
    let m = fx.mirror("state", "127.0.0.1:0");

    // Nothing is served before anything is mirrored.
    assert_eq!(
        get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN))).0,
        404
    );
    // add-checkpoint: as to a witness, but the answer cosigns nothing.
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note));
    assert_eq!(
        (status, body.as_str()),
        (200, ""),
        "no cosignature for a pending checkpoint"
    );
    assert_eq!(next_entry(&m), (701, 0));
    // Entries before their envelopes are refused for a jishi log.
    let entries = l.entries(size).await;
    let mut first = add_entries_header(ORIGIN, 0, size);
    first.extend(packages(&entries, 0, size).concat());
    let (status, body) = post(&m, "/add-entries", &first);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("entry 0 has no envelope"), "{body}");

    let (status, body) = post(&m, "/jishi/add-envelopes", &l.envelopes_body(size).await);
    assert_eq!((status, body.as_str()), (200, "701\n"));
    // A prefix of the canonical sequence: the first package, then 202.
    let pk = packages(&entries, 0, size);
    let mut one = add_entries_header(ORIGIN, 0, size);
    one.extend_from_slice(&pk[0]);
    let (status, _, info) = http(&m.addr(), "POST", "/add-entries", "", &one);
    assert_eq!(status, 202);
    assert_eq!(mirror_info(&info), (701, 256));
    // The rest from the advertised next entry, gzip-compressed.
    let mut rest = add_entries_header(ORIGIN, 256, size);
    rest.extend(packages(&entries, 256, size).concat());
    let (status, _, line) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "Content-Encoding: gzip\r\n",
        &gzip(&rest),
    );
    let line = String::from_utf8_lossy(&line).to_string();
    assert_eq!(status, 200, "{line}");
    check_cosignature(&line, MIRROR, &fx.mirror_public, note_text(&note));

    // The served checkpoint carries the log's signature and the mirror's.
    let (status, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert_eq!(status, 200);
    let served = String::from_utf8(served).expect("utf-8");
    assert!(served.starts_with(&note[..note.len() - 1]), "{served}");
    let mline = served
        .lines()
        .find(|l| l.contains(MIRROR))
        .expect("the mirror's line");
    check_cosignature(mline, MIRROR, &fx.mirror_public, note_text(&note));

    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let addr = m.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&addr, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701));
    // The same log on a mirror that keeps it as entries only (any C2SP
    // log): the spec's two calls alone, nothing of jishi's.
    let plain = MirrorProcess::start_with(
        &fx.mirror_key,
        &["--entries-log", s(&fx.log_pub)],
        &fx.path("plain"),
    );
    assert_eq!(
        post(
            &plain,
            "/add-checkpoint",
            &add_checkpoint_body(0, &[], &note)
        )
        .0,
        200
    );
    let mut all = add_entries_header(ORIGIN, 0, size);
    all.extend(packages(&entries, 0, size).concat());
    let (status, line) = post(&plain, "/add-entries", &all);
    assert_eq!(status, 200, "{line}");
    check_cosignature(&line, MIRROR, &fx.mirror_public, note_text(&note));
    let (status, body) = post(
        &plain,
        "/jishi/add-envelopes",
        &l.envelopes_body(size).await,
    );
    assert_eq!(
        status, 400,
        "an entries-only log takes no envelopes: {body}"
    );
    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let addr = plain.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&addr, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(701));
    // A tile beyond the mirror checkpoint, and an unknown origin, are 404.
    assert_eq!(
        get(&m, &format!("/{}/tile/0/002.p/190", origin_path(ORIGIN))).0,
        404
    );
    assert_eq!(
        get(
            &m,
            &format!("/{}/tile/0/000", origin_path("other.example/log"))
        )
        .0,
        404
    );
}

fn push(l: &Ledger, fx: &Fixture, m: &MirrorProcess) -> (i32, String) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mirror_killed_mid_upload_keeps_what_it_verified_and_the_push_resumes() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = 701;
    let m = fx.mirror("state", "127.0.0.1:0");
    let addr = m.addr();
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note)).0,
        200
    );
    assert_eq!(
        post(&m, "/jishi/add-envelopes", &l.envelopes_body(size).await).0,
        200
    );

    // An upload of all three packages, of which only two are sent: the
    // connection stays open while the mirror is killed.
    let entries = l.entries(size).await;
    let pk = packages(&entries, 0, size);
    let mut body = add_entries_header(ORIGIN, 0, size);
    let full_len = body.len() + pk.iter().map(Vec::len).sum::<usize>();
    body.extend_from_slice(&pk[0]);
    body.extend_from_slice(&pk[1]);
    let mut s = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        s,
        "POST /add-entries HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {full_len}\r\n\r\n"
    )
    .expect("send");
    s.write_all(&body).expect("send two packages");
    s.flush().expect("flush");
    let mut seen = (0, 0);
    for _ in 0..100 {
        seen = next_entry(&m);
        if seen.1 == 512 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(
        seen,
        (701, 512),
        "both packages committed while the upload is open"
    );
    let listen = addr.clone();
    drop(m); // SIGKILL, mid-upload
    drop(s);

    // Restarted on the same state: the two packages are there, nothing is
    // cosigned yet, and the push resumes from entry 512.
    let m = fx.mirror("state", &listen);
    assert_eq!(next_entry(&m), (701, 512));
    assert_eq!(
        get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN))).0,
        404
    );
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(189 entries and 0 envelopes sent)"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {MIRROR} ")))
        .expect("the cosignature");
    check_cosignature(line, MIRROR, &fx.mirror_public, note_text(&note));

    // The log grows; the next push sends only what is new: the 300 new
    // events and the event that registered the mirror's key (position 702).
    l.grow(70, 30, "e-2021").await;
    let note2 = fx.checkpoint(&l, "cp2.note");
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("up to size 1002 (301 entries and 301 envelopes sent)"),
        "{out}"
    );
    let vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let a = m.addr();
    let checked = tokio::task::spawn_blocking(move || tiles_verify(&a, vkey.trim()))
        .await
        .expect("client");
    assert_eq!(checked, Ok(1002));
    let (_, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert!(String::from_utf8_lossy(&served).starts_with(note_text(&note2)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_and_truncated_uploads_stop_there_and_keep_what_came_before() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 70, "e-2021").await;
    let note = fx.checkpoint(&l, "cp.note");
    let size = 701;
    let m = fx.mirror("state", "127.0.0.1:0");
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &note)).0,
        200
    );

    // A corrupted envelope: item 300's position is changed. Items 0–299
    // are kept, nothing after it.
    let envs = l.envelopes_body(size).await;
    let needle = b"\"position\":301,";
    let at = envs
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("envelope 300");
    let mut bad = envs.clone();
    bad[at + 12] = b'2'; // "position":321
    let (status, body) = post(&m, "/jishi/add-envelopes", &bad);
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("envelope 300"), "{body}");
    assert!(body.contains("keeps the 300 envelopes"), "{body}");
    // A canonical-bytes change that keeps every field: a space.
    let mut spaced = envs.clone();
    spaced.insert(at + 11, b' ');
    // The item's length prefix (before its tag) grows by the byte.
    let tag = envs[..at]
        .windows(13)
        .rposition(|w| w == b"jishi.event.v")
        .expect("the item's tag");
    let len = u16::from_be_bytes([envs[tag - 2], envs[tag - 1]]) + 1;
    spaced[tag - 2..tag].copy_from_slice(&len.to_be_bytes());
    let (status, body) = post(&m, "/jishi/add-envelopes", &spaced);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("envelope 300") && body.contains("not canonical"),
        "{body}"
    );
    assert_eq!(post(&m, "/jishi/add-envelopes", &envs).0, 200);

    // A corrupted entry package: one byte of entry 300 (package 1).
    let entries = l.entries(size).await;
    let mut forged = entries.clone();
    forged[300][5] ^= 1;
    let pk = packages(&entries, 0, size);
    let bad_pk = packages(&forged, 0, size);
    let mut body = add_entries_header(ORIGIN, 0, size);
    let header_len = body.len();
    body.extend_from_slice(&pk[0]);
    body.extend_from_slice(&bad_pk[1]);
    body.extend_from_slice(&pk[2]);
    let (status, text) = post(&m, "/add-entries", &body);
    assert_eq!(status, 422, "{text}");
    let from = format!("from byte {}", header_len + pk[0].len());
    assert!(
        text.contains("package 1 (entries [256, 512)") && text.contains(&from),
        "{text}"
    );
    // Caught by the proof, before the envelopes are looked at.
    assert!(
        text.contains("is not in the checkpoint of size 701"),
        "{text}"
    );
    assert_eq!(
        next_entry(&m),
        (701, 256),
        "package 0 kept, nothing after the bad one"
    );
    // True entries with one byte of the proof changed: the proof alone
    // refuses them.
    let mut bad_proof = pk[1].clone();
    let last = bad_proof.len() - 1;
    bad_proof[last] ^= 1;
    let mut b = add_entries_header(ORIGIN, 256, size);
    b.extend_from_slice(&bad_proof);
    let (status, text) = post(&m, "/add-entries", &b);
    assert_eq!(status, 422, "{text}");
    assert!(
        text.contains("is not in the checkpoint of size 701"),
        "{text}"
    );
    // A proof count above 63 is refused as such.
    let entries_len = 256 * 34;
    let mut many = pk[1][..entries_len].to_vec();
    many.push(64);
    let mut b = add_entries_header(ORIGIN, 256, size);
    b.extend_from_slice(&many);
    let (status, text) = post(&m, "/add-entries", &b);
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("num_hashes is 64"), "{text}");
    assert_eq!(next_entry(&m), (701, 256));
    // The forged package alone, with the proof made for its own tree, is
    // refused too (its entry 300 is not the hash of envelope 300).
    let other = {
        let mut b = add_entries_header(ORIGIN, 256, size);
        b.extend_from_slice(&bad_pk[1]);
        b
    };
    assert_eq!(post(&m, "/add-entries", &other).0, 422);

    // A truncated upload: the body ends inside the first package sent.
    let mut cut = add_entries_header(ORIGIN, 256, size);
    cut.extend_from_slice(&pk[1][..pk[1].len() / 2]);
    let (status, text) = post(&m, "/add-entries", &cut);
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("nothing was stored"), "{text}");
    // A start above the next entry leaves a gap: 409 with the info.
    let (status, _, info) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "",
        &add_entries_header(ORIGIN, 512, size),
    );
    assert_eq!((status, mirror_info(&info)), (409, (701, 256)));
    assert_eq!(next_entry(&m), (701, 256));

    // The push resumes from 256 and the mirror cosigns.
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(445 entries and 0 envelopes sent)"), "{out}");
}

/// The evidence files the mirror kept.
fn evidence(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("evidence"))
        .expect("evidence dir")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forked_source_a_replayed_checkpoint_and_a_wrong_key_are_refused() {
    let fx = Fixture::new();
    let a = fx.ledger("a.db", 30, "e-2021").await;
    let a300 = fx.checkpoint(&a, "a300.note");
    let m = fx.mirror("state", "127.0.0.1:0");
    let (code, out) = push(&a, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let (_, held) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));

    // The same key signs another history (a forked ledger).
    let b = fx.ledger("b.db", 30, "e-fork").await;
    let b300 = fx.checkpoint(&b, "b300.note");
    assert_ne!(a300, b300);
    b.grow(30, 20, "e-fork").await;
    let b500 = fx.checkpoint(&b, "b500.note");
    // Same size, another root: 409 with the size held, split-view evidence.
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(301, &[], &b300));
    assert_eq!((status, body.as_str()), (409, "301\n"));
    // A larger checkpoint with the fork's own consistency proof: 422.
    let proof: Vec<[u8; 32]> = b
        .store
        .consistency_proof(301, 501)
        .await
        .expect("proof")
        .path
        .iter()
        .map(|d| *d.as_bytes())
        .collect();
    let (status, body) = post(
        &m,
        "/add-checkpoint",
        &add_checkpoint_body(301, &proof, &b500),
    );
    assert_eq!(status, 422, "{body}");
    // Both forks left evidence the log's key alone proves.
    let files = evidence(&fx.path("state"));
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let o = common::jishi(
            &a.db,
            &["verify-evidence", s(f), "--log-key", s(&fx.log_pub)],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        assert!(common::text(&o).contains("PROVEN"), "{}", common::text(&o));
    }
    // The fork's entries do not go in against the held pending checkpoint.
    let fork = b.entries(301).await;
    let mut up = add_entries_header(ORIGIN, 256, 301);
    up.extend(packages(&fork, 256, 301).concat());
    assert_eq!(post(&m, "/add-entries", &up).0, 422);
    let (_, now) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert_eq!(now, held, "the mirror checkpoint is unchanged");

    // The fork's envelopes, which chain to the fork's own history, do not
    // go in after the true log's.
    let forked = b.envelopes_body(501).await;
    let (status, body) = post(&m, "/jishi/add-envelopes", &forked);
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("envelope 0") && body.contains("not the one the mirror holds"),
        "{body}"
    );
    // On a new mirror, someone uploads the fork's envelopes first: the true
    // log's entries, proved by its checkpoint, show them false; they are
    // dropped, and the push sends the true ones.
    let m2 = fx.mirror("state2", "127.0.0.1:0");
    let (status, body) = post(&m2, "/jishi/add-envelopes", &b.envelopes_body(301).await);
    assert_eq!((status, body.as_str()), (200, "301\n"));
    let (code, out) = push(&a, &fx, &m2);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("(301 entries and 301 envelopes sent)"),
        "{out}"
    );
    drop(m2);

    // The true log grows (400 events, after the one that registered the
    // mirror's key: 702) and is mirrored; then its old checkpoint is
    // replayed: refused, and the mirror checkpoint is not rewound.
    a.grow(30, 40, "e-2021").await;
    fx.checkpoint(&a, "a700.note");
    let (code, out) = push(&a, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(702, &[], &a300));
    assert_eq!(status, 400, "{body}");
    let (status, body) = post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &a300));
    assert_eq!((status, body.as_str()), (409, "702\n"));
    // An upload ending at the old size: a pending checkpoint once, but below
    // the mirror checkpoint now.
    let (status, _, info) = http(
        &m.addr(),
        "POST",
        "/add-entries",
        "",
        &add_entries_header(ORIGIN, 301, 301),
    );
    assert_eq!((status, mirror_info(&info)), (409, (702, 702)));
    let (_, served) = get(&m, &format!("/{}/checkpoint", origin_path(ORIGIN)));
    assert!(String::from_utf8_lossy(&served).lines().nth(1) == Some("702"));

    // Another key with the log's name: 403. Another origin: 404.
    let other = SignerKey::from_seed(ORIGIN, &[8; 32]).expect("key");
    let forged = jishi_ledger::Checkpoint::new(ORIGIN, 702, jishi_ledger::Digest([1; 32]))
        .expect("cp")
        .sign(&other)
        .expect("sign")
        .to_string();
    assert_eq!(
        post(
            &m,
            "/add-checkpoint",
            &add_checkpoint_body(702, &[], &forged)
        )
        .0,
        403
    );
    let stranger = SignerKey::from_seed("other.example/log", &[8; 32]).expect("key");
    let theirs =
        jishi_ledger::Checkpoint::new("other.example/log", 1, jishi_ledger::Digest([1; 32]))
            .expect("cp")
            .sign(&stranger)
            .expect("sign")
            .to_string();
    assert_eq!(
        post(&m, "/add-checkpoint", &add_checkpoint_body(0, &[], &theirs)).0,
        404
    );
    let (status, _) = post(
        &m,
        "/add-entries",
        &add_entries_header("other.example/log", 0, 0),
    );
    assert_eq!(status, 404);
}

/// A `jishi witness` process, killed when dropped.
struct WitnessProcess {
    child: std::process::Child,
    url: String,
}

impl Drop for WitnessProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_witness(key: &Path, log_pub: &Path, state: &Path) -> WitnessProcess {
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

/// One C2SP tlog-policy file serves the witness client (`checkpoint
/// --policy`: whom to ask, what quorum), the mirror (`mirror --policy`:
/// which logs) and `verify-export --policy`; a quorum the file's
/// cosignatures do not meet fails, naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_policy_file_serves_the_witness_client_the_mirror_and_verify_export() {
    let fx = Fixture::new();
    let l = fx.ledger("ledger.db", 30, "e-2021").await;
    let w = SignerKey::from_secret("city.example/witness", Suite::Cosignature, &[5; 32])
        .expect("witness key");
    let (wkey, wpub) = (fx.path("w.key"), fx.path("w.pub"));
    std::fs::write(&wkey, w.to_private_text()).expect("key");
    std::fs::write(&wpub, w.verifier().to_vkey()).expect("pub");
    let witness = start_witness(&wkey, &fx.log_pub, &fx.path("w"));
    let log_vkey = std::fs::read_to_string(&fx.log_pub).expect("vkey");
    let mirror_vkey = std::fs::read_to_string(&fx.mirror_pub).expect("vkey");
    let text = format!(
        "# the county's log, the city's witness and mirror\n\
         log {}\n\
         witness W {} {}\n\
         witness M {}\n\
         group city any W M\n\
         quorum city\n",
        log_vkey.trim(),
        w.verifier().to_vkey(),
        witness.url,
        mirror_vkey.trim()
    );
    let policy = fx.path("policy.txt");
    std::fs::write(&policy, &text).expect("policy");
    let both = fx.path("both.txt");
    std::fs::write(
        &both,
        text.replace("group city any W M", "group city all W M"),
    )
    .expect("policy");

    // The witness client: the checkpoint goes to W (the line with a URL).
    let key = fx.path("log.key");
    let o = common::jishi(
        &l.db,
        &["checkpoint", "--key", s(&key), "--policy", s(&policy)],
        None,
    );
    assert!(o.status.success(), "{}", common::text(&o));
    assert!(
        common::text(&o).contains("cosigned by 1 of 1 witnesses"),
        "{}",
        common::text(&o)
    );
    // Asking for both, of which only W can be asked: the quorum is not met.
    let o = common::jishi(
        &l.db,
        &["checkpoint", "--key", s(&key), "--policy", s(&both)],
        None,
    );
    assert!(!o.status.success());
    assert!(
        common::text(&o).contains("quorum city (2 of W, M) is not met"),
        "{}",
        common::text(&o)
    );

    // verify-export holds a file to the policy: W's line meets `any`, not
    // `all`.
    let export = |name: &str| {
        let file = fx.path(name);
        let o = common::jishi(
            &l.db,
            &[
                "export",
                "election/e-2021/candidate/c-000",
                "--out",
                s(&file),
            ],
            None,
        );
        assert!(o.status.success(), "{}", common::text(&o));
        file
    };
    let verify = |file: &Path, policy: &Path| {
        let o = common::jishi(
            &l.db,
            &["verify-export", s(file), "--policy", s(policy)],
            None,
        );
        (o.status.code(), common::text(&o))
    };
    let file = export("case.json");
    let (code, out) = verify(&file, &policy);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("(policy: city (1 of W, M))"), "{out}");
    let (code, out) = verify(&file, &both);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("the policy's quorum city (2 of W, M) is not met"),
        "{out}"
    );

    // The mirror takes its logs from the same file; the push stores the
    // mirror's line with the checkpoint, and a new file meets `all`.
    let m = MirrorProcess::start_with(&fx.mirror_key, &["--policy", s(&policy)], &fx.path("m"));
    let (code, out) = push(&l, &fx, &m);
    assert_eq!(code, 0, "{out}");
    let file = export("case2.json");
    let (code, out) = verify(&file, &both);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("cosigned by 2 of 2 (policy: city (2 of W, M))"),
        "{out}"
    );
    let o = common::jishi(&l.db, &["verify"], None);
    assert!(o.status.success(), "{}", common::text(&o));
    // A malformed policy names its line; nothing is verified.
    std::fs::write(&both, text.replace("quorum city", "quorum nobody")).expect("policy");
    let o = common::jishi(
        &l.db,
        &["verify-export", s(&file), "--policy", s(&both)],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        common::text(&o).contains("policy line 6"),
        "{}",
        common::text(&o)
    );
}
