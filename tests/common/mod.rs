//! Helpers shared by the integration tests: stores to test against, events to
//! append, and the `jishi` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

pub mod browser;
pub mod cluster;

use jishi_ledger::{Actor, AppendRequest, EventStore, ExpectedVersion, NewEvent, SqliteStore};
use serde_json::json;

pub fn actor(n: u32) -> Actor {
    Actor {
        id: format!("u{n}"),
        name: ["张伟", "王芳", "李强", "刘洋"][n as usize % 4].to_string(),
        role: "organisation_department".into(),
        org: "天元区委组织部".into(),
    }
}

pub fn event(event_type: &str, payload: serde_json::Value) -> NewEvent {
    NewEvent {
        event_id: None,
        event_type: event_type.into(),
        schema_version: 1,
        occurred_at: Some("2021-03-05T09:30:00+08:00".into()),
        actor: actor(0),
        payload,
    }
}

pub fn request(stream: &str, expected: ExpectedVersion, n: usize) -> AppendRequest {
    AppendRequest {
        stream: stream.into(),
        expected,
        events: (0..n)
            .map(|i| event("candidate.nominated", json!({"seq": i, "姓名": "李明"})))
            .collect(),
    }
}

/// A store under test and what keeps it alive (a temporary directory).
pub struct Fixture {
    pub store: Arc<dyn EventStore>,
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

/// Appends one event to each of `count` requests on streams
/// `candidate/c0..c2` (by `i % 3`, from `from`), as the tests' ledgers grow.
pub async fn append_candidates(store: &dyn EventStore, from: usize, count: usize) {
    for i in from..from + count {
        store
            .append(request(
                &format!("candidate/c{}", i % 3),
                ExpectedVersion::Any,
                1,
            ))
            .await
            .expect("append");
    }
}

pub fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.db");
    let store = SqliteStore::open(&path).expect("open sqlite store");
    Fixture {
        store: Arc::new(store),
        path,
        _dir: dir,
    }
}

/// Runs the real `jishi` binary against `db`, with `stdin` as its input.
pub fn jishi(db: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jishi"));
    cmd.arg("--db")
        .arg(db)
        .args(args)
        .env_remove("JISHI_DB")
        .env_remove("JISHI_ACTOR")
        .env_remove("JISHI_RECORDING_KEY")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // A PostgreSQL ledger's recording key has no default place (D69): the
    // tests keep one per ledger URL in the system's temporary directory,
    // outside the database, as an operator would keep it on another disk.
    if let Some(url) = db.to_str().filter(|u| u.starts_with("postgres")) {
        let dir = std::env::temp_dir().join("jishi-test-recording-keys");
        std::fs::create_dir_all(&dir).expect("key directory");
        let name = blake3::hash(url.as_bytes()).to_hex();
        let key = dir.join(&name[..16]);
        // Given when it exists, or to the commands that create it; a ledger
        // made by the store API in a test has none, and is written without.
        let creates = args.iter().any(|a| ["init", "demo", "serve"].contains(a));
        if creates || key.exists() {
            cmd.env("JISHI_RECORDING_KEY", key);
        }
    }
    let mut child = cmd.spawn().expect("run jishi");
    if let Some(mut input) = child.stdin.take() {
        if let Some(bytes) = stdin {
            input.write_all(bytes).expect("write stdin");
        }
    }
    child.wait_with_output().expect("wait for jishi")
}

pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Opens the SQLite file as a hostile DBA would: plain SQL, triggers dropped.
pub fn dba(path: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).expect("open db file");
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;",
    )
    .expect("drop triggers");
    conn
}

/// Puts back every append-only trigger the SQLite migrations create that
/// is missing (taken from the migrations' own text), as a forger who covers
/// their tracks does: `jishi verify` reports a missing trigger as schema
/// drift (D64).
pub fn restore_triggers(conn: &rusqlite::Connection) {
    for migration in jishi_ledger::migrations::SQLITE {
        for part in migration.sql.split("CREATE TRIGGER ").skip(1) {
            let body = part.split_inclusive("END;").next().unwrap_or(part);
            conn.execute_batch(&format!("CREATE TRIGGER IF NOT EXISTS {body}"))
                .expect("restore a trigger");
        }
    }
}

// ---------------------------------------------------------------- PostgreSQL

pub use jishi_ledger::postgres::tokio_postgres;
use jishi_ledger::postgres::{PgOptions, PostgresStore};

/// The server the PostgreSQL tests use, or `None` (with a loud line on stderr)
/// when `DATABASE_URL` is unset: the tests then pass without running.
pub fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("skipped: set DATABASE_URL to run the PostgreSQL tests");
            None
        }
    }
}

/// A connection to `url` as it is (no search_path), for DDL and plain SQL.
pub async fn pg_connect(config: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, conn) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("connect to DATABASE_URL");
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            eprintln!("postgres connection: {e}");
        }
    });
    client
}

/// A schema of its own for one test, dropped (with everything in it) when the
/// fixture is dropped, so that tests run in parallel on one database.
pub struct PgSchema {
    pub url: String,
    pub name: String,
}

impl PgSchema {
    pub async fn create(url: &str) -> PgSchema {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let name = format!(
            "jishi_test_{}_{}_{nanos}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let admin = pg_connect(&url.parse().expect("DATABASE_URL parses")).await;
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .await
            .expect("create test schema");
        PgSchema {
            url: url.to_string(),
            name,
        }
    }

    /// Driver configuration whose every connection uses this schema.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut c: tokio_postgres::Config = self.url.parse().expect("DATABASE_URL parses");
        c.options(format!("-csearch_path={}", self.name));
        c
    }

    /// The same, as a URL for `jishi --db`.
    pub fn db_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name)
    }

    /// A plain connection into this schema.
    pub async fn connect(&self) -> tokio_postgres::Client {
        pg_connect(&self.config()).await
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, where blocking on a future is
        // not allowed: do it on a thread with a runtime of its own.
        let (url, name) = (self.url.clone(), self.name.clone());
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin = pg_connect(&url.parse().expect("DATABASE_URL parses")).await;
                if let Err(e) = admin
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .await
                {
                    eprintln!("dropping test schema {name}: {e}");
                }
            })
        });
        let _ = done.join();
    }
}

/// A PostgreSQL store in a fresh schema.
pub struct PgFixture {
    pub store: Arc<dyn EventStore>,
    pub pg: PostgresStore,
    pub schema: PgSchema,
}

pub async fn postgres() -> Option<PgFixture> {
    postgres_with(PgOptions::default()).await
}

pub async fn postgres_with(options: PgOptions) -> Option<PgFixture> {
    let url = database_url()?;
    let schema = PgSchema::create(&url).await;
    let pg = PostgresStore::open_with(schema.config(), options)
        .await
        .expect("open postgres store");
    Some(PgFixture {
        store: Arc::new(pg.clone()),
        pg,
        schema,
    })
}

/// The perfect forgery of a chain, as a DBA holding the format documentation
/// makes it: the payload of the event at `position` replaced, and it and every
/// later event resealed with recomputed hashes. Returns the forged events from
/// `position` on, for the caller to write into its store.
pub fn forged_tail(
    events: &[jishi_ledger::RecordedEvent],
    position: u64,
) -> Vec<jishi_ledger::RecordedEvent> {
    let mut prev = if position == 1 {
        jishi_ledger::Digest::ZERO
    } else {
        events[position as usize - 2].hash
    };
    // The forger keeps each stream's chain too (format 3): every resealed
    // event commits to its stream's previous event as resealed.
    let mut stream_last: std::collections::HashMap<String, jishi_ledger::Digest> = events
        .iter()
        .filter(|e| e.position < position)
        .map(|e| (e.stream.clone(), e.hash))
        .collect();
    let mut out = Vec::new();
    for e in events.iter().filter(|e| e.position >= position) {
        let payload = if e.position == position {
            serde_json::json!({"姓名": "伪造", "seq": 99})
        } else {
            e.payload.to_value().expect("payload")
        };
        let prepared = jishi_ledger::prepare::prepare(
            NewEvent {
                event_id: Some(e.event_id),
                event_type: e.event_type.clone(),
                schema_version: e.schema_version,
                occurred_at: Some(e.occurred_at.clone()),
                actor: e.actor.clone(),
                payload,
            },
            chrono::Utc::now(),
        )
        .expect("prepare");
        let stream_prev = stream_last
            .get(&e.stream)
            .copied()
            .unwrap_or(jishi_ledger::Digest::ZERO);
        let f = jishi_ledger::store::seal(
            &e.stream,
            e.stream_version,
            &prepared,
            e.position,
            (prev, stream_prev),
            e.recorded_at.clone(),
        );
        prev = f.hash;
        stream_last.insert(e.stream.clone(), f.hash);
        out.push(f);
    }
    out
}

/// `verify --since-checkpoint` passed from a checkpoint of `size` events to
/// a head at `head`, and said what it left out.
pub fn assert_since_ok(code: i32, out: &str, size: u64, head: u64) {
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("of size {size} (root")), "{out}");
    let new = head - size;
    assert!(
        out.contains(&format!("ok: {new} events after position {size} verified")),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "ok: the stored tree at size {head} extends checkpoint #"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "not checked: the {size} event(s) up to position {size}"
        )),
        "{out}"
    );
}

/// What `jishi verify` must say about a history rewritten from position 5 of
/// 10 with every later hash recomputed (see [`forged_tail`]): the chain passes,
/// the checkpoint of size 10 does not, and the stored tree differs unless the
/// forger rebuilt it too.
pub fn assert_rewrite_caught(code: i32, out: &str, tree_rebuilt: bool) {
    assert_eq!(code, 3, "{out}");
    for want in [
        "the hash chain of 10 events verifies",
        "FAILED: checkpoint #1 of size 10: it signs root",
        "at or before position 10 was changed",
    ] {
        assert!(out.contains(want), "expected {want:?} in: {out}");
    }
    if tree_rebuilt {
        assert!(
            !out.contains("Merkle tree:"),
            "the forger rebuilt the tree: {out}"
        );
    } else {
        assert!(
            out.contains("FAILED: Merkle tree: the stored tree nodes of position 5 differ"),
            "{out}"
        );
    }
}

/// A run of the tree (one `tree_nodes` row from leaf 0) with one bit changed
/// in the node leaf 5 (position 6) completed at level 1, and what `jishi
/// verify` must say about it, on either store.
pub fn run_with_a_changed_node(run: &[u8]) -> (Vec<u8>, &'static str) {
    let mut changed = run.to_vec();
    let before = jishi_ledger::tree::nodes_before(0, 5).expect("leaf 5 is after leaf 0");
    changed[32 * (before as usize + 1) + 9] ^= 0x01;
    (
        changed,
        "FAILED: Merkle tree: the stored tree nodes of position 6 differ from the ones \
         recomputed from the event hashes (first at level 1; in the tree_nodes row with leaf = 0)",
    )
}

/// The server tests' shared pieces: the operator who adds the first users,
/// a runtime, a server on a free loopback port, and the demo's first
/// election recorded directly.
pub mod server {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use jishi_app::batch::{record_batch, BatchItem};
    use jishi_ledger::{Actor, EventStore};
    use jishi_projections::demo::DemoElection;
    use jishi_server::{AppState, Limits};

    /// The local operator, as `jishi user add` at the console is.
    pub fn operator() -> Actor {
        Actor {
            id: "local:test".into(),
            name: "test".into(),
            role: "admin".into(),
            org: "本机 local".into(),
        }
    }

    /// A SQLite ledger in `dir`, as the two views of it a server holds.
    pub fn sqlite_ledger(
        dir: &std::path::Path,
    ) -> (Arc<dyn jishi_ledger::ProofStore>, Arc<dyn EventStore>) {
        let store: Arc<dyn jishi_ledger::ProofStore> =
            Arc::new(jishi_ledger::SqliteStore::open(dir.join("ledger.db")).expect("open"));
        let events: Arc<dyn EventStore> = store.clone();
        (store, events)
    }

    /// The demo district of seed 7 with `townships` townships.
    pub fn demo(townships: usize) -> jishi_projections::demo::Demo {
        jishi_projections::demo::generate(&jishi_projections::demo::DemoConfig {
            seed: 7,
            townships,
        })
        .expect("demo")
    }

    pub fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Serves `state` on a free loopback port until the test ends; returns
    /// its base URL.
    pub async fn serve(state: Arc<AppState>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        tokio::spawn(jishi_server::serve(
            listener,
            state,
            Limits::default(),
            std::future::pending(),
        ));
        format!("http://{addr}")
    }

    /// Serves the ledger at `db` (its users as they are there), recording
    /// reads with the recording key beside it when there is one (`jishi
    /// demo` writes one), as `jishi serve --db` does; returns its base URL.
    #[allow(dead_code)]
    pub async fn serve_ledger(db: &std::path::Path) -> String {
        // A ledger recorded without a key (through the domain API) is
        // served without one.
        let attestor = std::fs::read_to_string(db.with_extension("db.recording-key"))
            .ok()
            .map(|text| {
                Arc::new(jishi_ledger::attest::Attestor::from_private_text(&text).expect("a key"))
            });
        let store = Arc::new(
            jishi_ledger::SqliteStore::open(db)
                .expect("open")
                .with_attestor(attestor),
        );
        let events: Arc<dyn EventStore> = store.clone();
        let proof: Arc<dyn jishi_ledger::ProofStore> = store.clone();
        let state = Arc::new(AppState::new(proof, None, "test.example/q".into()));
        *state.users.write().await = jishi_app::users::load_users(events.as_ref())
            .await
            .expect("users");
        serve(state).await
    }

    /// Records a demo election directly, as its planned actors, through
    /// the gates.
    pub async fn record_election(events: &Arc<dyn EventStore>, election: &DemoElection) {
        let items: Vec<BatchItem> = election
            .commands
            .iter()
            .map(|p| BatchItem {
                actor: jishi_app::ledger_actor(&p.actor),
                command: p.command.clone(),
            })
            .collect();
        record_batch(events, None, &election.election_id, &items)
            .await
            .expect("record the election");
    }
}

/// Inserts `row` into a SQLite ledger's `events` with plain SQL, as whoever
/// holds the file can (no trigger refuses an INSERT): every column as the
/// row has it, format 3's `stream_prev` included.
pub fn sqlite_insert_row(conn: &rusqlite::Connection, row: &jishi_ledger::row::StoredRow) {
    conn.execute(
        "INSERT INTO events VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
        rusqlite::params![
            row.position,
            row.stream,
            row.stream_version,
            row.event_id,
            row.event_type,
            row.schema_version,
            row.occurred_at,
            row.recorded_at,
            row.actor_id,
            row.actor_name,
            row.actor_role,
            row.actor_org,
            String::from_utf8_lossy(&row.payload),
            row.payload_digest,
            row.prev_hash,
            row.hash,
            row.stream_prev
        ],
    )
    .expect("insert as the file's owner");
}

/// A URL path segment or query value, percent-encoded (election ids hold
/// `:` and Chinese; times hold `+`).
#[allow(dead_code)]
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
