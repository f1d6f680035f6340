//! Helpers shared by the integration tests: stores to test against, events to
//! append, and the `jishi` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

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
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
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
