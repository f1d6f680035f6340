//! Crash safety on PostgreSQL: a process appending in a loop is killed with
//! SIGKILL while batches are in flight. Afterwards the ledger verifies, every
//! append the process saw acknowledged is stored where it was acknowledged,
//! no batch is stored in part, and appending goes on.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{jishi, request, text};
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{AppendRequest, EventStore, ExpectedVersion};

/// Set (to the schema's name) in the child's environment only.
const CHILD_ENV: &str = "JISHI_PG_CRASH_CHILD";
/// Acknowledgements to see before the kill: enough that batches are surely
/// in flight, few enough to keep the test short.
const ACKS_BEFORE_KILL: usize = 3000;

/// The child: eight recorders appending batches of requests in a loop,
/// printing `ack <event_id> <position>` for each event once its append
/// returned. Runs only when started by the test below.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process for crash_mid_batch_loses_nothing_acknowledged"]
async fn child_appends_until_killed() {
    let Ok(schema) = std::env::var(CHILD_ENV) else {
        return;
    };
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL in the child");
    let mut config: common::tokio_postgres::Config = url.parse().expect("url");
    config.options(format!("-csearch_path={schema}"));
    let store = PostgresStore::open_with(
        config,
        PgOptions {
            create: false,
            ..PgOptions::default()
        },
    )
    .await
    .expect("child opens the ledger");
    let mut tasks = Vec::new();
    for t in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                // 1–20 requests of 1–3 events: transactions of varied size.
                let batch: Vec<AppendRequest> = (0..1 + (i * 7 + t) % 20)
                    .map(|k| {
                        let mut r = request(
                            &format!("candidate/t{t}-{}", k % 5),
                            ExpectedVersion::Any,
                            1 + (i + k) % 3,
                        );
                        for e in &mut r.events {
                            e.event_id = Some(uuid::Uuid::new_v4());
                        }
                        r
                    })
                    .collect();
                let done = store.append_batch(batch).await.expect("child append");
                let mut out = std::io::stdout().lock();
                for a in &done {
                    for e in &a.events {
                        writeln!(out, "ack {} {}", e.event_id, e.position).expect("stdout");
                    }
                }
                out.flush().expect("stdout");
            }
        }));
    }
    for t in tasks {
        t.await.expect("child task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_batch_loses_nothing_acknowledged() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let url = fx.schema.url.clone();
    let schema = fx.schema.name.clone();
    let acked = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "child_appends_until_killed",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &schema)
            .env("DATABASE_URL", &url)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the child");
        let stdout = child.stdout.take().expect("child stdout");
        let mut acked: HashMap<uuid::Uuid, u64> = HashMap::new();
        let mut killed = false;
        let started = Instant::now();
        // Lines printed before the kill were acknowledged; read to EOF.
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("child output");
            let mut parts = line.split_whitespace();
            if parts.next() != Some("ack") {
                continue;
            }
            let id = parts.next().and_then(|s| s.parse().ok()).expect("event id");
            let pos = parts.next().and_then(|s| s.parse().ok()).expect("position");
            acked.insert(id, pos);
            if !killed
                && (acked.len() >= ACKS_BEFORE_KILL || started.elapsed() > Duration::from_secs(60))
            {
                child.kill().expect("SIGKILL the child");
                killed = true;
            }
        }
        let status = child.wait().expect("reap the child");
        assert!(killed, "the child stopped by itself: {status}");
        acked
    })
    .await
    .expect("driver thread");
    assert!(acked.len() >= ACKS_BEFORE_KILL, "{} acks", acked.len());

    // "Restart": a new store on the same schema, as the next process would.
    let store = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .expect("reopen after the crash");
    let report = jishi_ledger::verify(&store, &Quiet).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
    let all = store.read_all(1, usize::MAX).await.expect("read all");
    let stored: HashMap<uuid::Uuid, u64> = all.iter().map(|e| (e.event_id, e.position)).collect();
    for (id, pos) in &acked {
        assert_eq!(
            stored.get(id),
            Some(pos),
            "acknowledged event {id} is not at position {pos}"
        );
    }
    // Committed but not yet printed when the child died: allowed, and whole
    // requests only (each request's events are consecutive in its stream).
    assert!(all.len() >= acked.len());
    // The lock the child held died with its connection: appending goes on.
    let next = store
        .append(request("after/crash", ExpectedVersion::NoStream, 1))
        .await
        .expect("append after the crash");
    assert_eq!(next.events[0].position, all.len() as u64 + 1);
}

/// `jishi import` with small batches, killed: what is stored is a whole number
/// of batches, in file order; importing the same file again records only the
/// rest (the stored lines are recognised by their event ids).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_import_stores_whole_batches_and_resumes() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    const LINES: usize = 6000;
    const BATCH: usize = 7;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("events.jsonl");
    let ids: Vec<uuid::Uuid> = (0..LINES).map(|_| uuid::Uuid::new_v4()).collect();
    let mut body = String::new();
    for (i, id) in ids.iter().enumerate() {
        body.push_str(&format!(
            r#"{{"stream":"candidate/c{}","event_type":"candidate.nominated","event_id":"{id}","payload":{{"seq":{i}}},"actor":{{"id":"zw01","name":"张伟","role":"organisation_department","org":"天元区委组织部"}}}}"#,
            i % 13
        ));
        body.push('\n');
    }
    std::fs::write(&file, body).expect("write the file");

    let db = fx.schema.db_url();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .arg("--db")
        .arg(&db)
        .args(["import", "--batch-size", &BATCH.to_string()])
        .arg(&file)
        .env_remove("JISHI_DB")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jishi import");
    let started = Instant::now();
    loop {
        let head = fx.store.head().await.expect("head");
        if head.is_some_and(|h| h.position >= 500) || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("SIGKILL jishi import");
    let status = child.wait().expect("reap");
    assert!(!status.success(), "import finished before the kill");

    let store = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .expect("reopen");
    let report = jishi_ledger::verify(&store, &Quiet).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
    let all = store.read_all(1, usize::MAX).await.expect("read all");
    assert!(!all.is_empty() && all.len() < LINES, "{} stored", all.len());
    assert_eq!(all.len() % BATCH, 0, "a batch was stored in part");
    for (e, id) in all.iter().zip(&ids) {
        assert_eq!(e.event_id, *id, "position {} out of file order", e.position);
    }

    let done = all.len();
    let out = tokio::task::spawn_blocking(move || {
        jishi(
            Path::new(&db),
            &[
                "import",
                "--batch-size",
                "500",
                file.to_str().expect("utf-8 path"),
            ],
            None,
        )
    })
    .await
    .expect("import again");
    assert!(out.status.success(), "{}", text(&out));
    let want = format!("({} new, {done} already recorded)", LINES - done);
    assert!(text(&out).contains(&want), "{want:?} in {}", text(&out));
    let report = jishi_ledger::verify(&store, &Quiet).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
    assert_eq!(report.checked, LINES as u64);
}
