//! Crash safety of asynchronous commit (D83): a private PostgreSQL cluster
//! (initdb in a temporary directory, its own port) takes appends from 32
//! writers through the store, and is killed mid-load with `pg_ctl stop -m
//! immediate` (every server process quits at once, WAL buffers not yet
//! written are lost), then restarted, three times over on one ledger.
//!
//! After each restart: the ledger verifies (nothing unacknowledged broke the
//! chain: whatever a crash kept is a prefix of what was committed), every
//! event ever acknowledged is at its acknowledged position, every head and
//! tree size a reader was shown during the load is still there (reads are
//! bounded to durable state, D85), and appending goes on. Killing processes
//! does not drop the operating system's cache, so rows that survived prove
//! little about flushes; the store therefore also records, for every
//! acknowledged group, its commit LSN and the flush LSN its acknowledgement
//! rested on, and the test requires flushed ≥ commit for each.
//!
//! Needs PostgreSQL's server binaries (`/usr/lib/postgresql/*/bin`, or
//! `pg_config --bindir`); without them it prints `skipped: …` and passes,
//! except under CI (`CI` set), where it fails.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::cluster::{binaries_or_skip, Cluster};
use common::request;
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{EventStore, ExpectedVersion, ProofStore};

const CYCLES: usize = 3;
const WRITERS: usize = 32;
/// Acknowledged events to see in each cycle before the kill: enough that
/// groups are surely committed and waiting for their flush.
const ACKS_PER_CYCLE: usize = 3000;

/// What the writers and the reader saw in one cycle.
#[derive(Default)]
struct Seen {
    acked: Mutex<HashMap<uuid::Uuid, u64>>,
    /// The greatest head position and tree size any read returned.
    shown: AtomicU64,
}

async fn open(cluster: &Cluster) -> PostgresStore {
    PostgresStore::open_with(
        cluster.config(),
        PgOptions {
            record_durability: true,
            ..PgOptions::default()
        },
    )
    .await
    .expect("open the ledger on the private cluster")
}

/// 32 writers append (1–3 requests of 1–2 events per call) and a reader
/// reads the head and the tree's size, until the cluster is killed after
/// [`ACKS_PER_CYCLE`] acknowledgements.
async fn load_until_killed(
    cluster: &Cluster,
    store: &PostgresStore,
    cycle: usize,
    seen: &Arc<Seen>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for t in 0..WRITERS {
        let (store, stop, seen) = (store.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0usize.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let batch: Vec<_> = (0..1 + (i + t) % 3)
                    .map(|k| {
                        let mut r = request(
                            &format!("cycle{cycle}/w{t}-{}", (i + k) % 4),
                            ExpectedVersion::Any,
                            1 + k % 2,
                        );
                        for e in &mut r.events {
                            e.event_id = Some(uuid::Uuid::new_v4());
                        }
                        r
                    })
                    .collect();
                // The server dies under the writers: an error ends the task.
                let Ok(done) = store.append_batch(batch).await else {
                    break;
                };
                let mut acked = seen.acked.lock().expect("acks");
                for e in done.iter().flat_map(|a| &a.events) {
                    acked.insert(e.event_id, e.position);
                }
            }
        }));
    }
    {
        let (store, stop, seen) = (store.clone(), stop.clone(), seen.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let Ok(head) = store.head().await else { break };
                let Ok(frontier) = store.frontier().await else {
                    break;
                };
                let shown = head.map_or(0, |h| h.position).max(frontier.size());
                seen.shown.fetch_max(shown, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }));
    }
    let before = seen.acked.lock().expect("acks").len();
    let started = Instant::now();
    while seen.acked.lock().expect("acks").len() < before + ACKS_PER_CYCLE {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "cycle {cycle}: too few acknowledgements"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::task::block_in_place(|| cluster.kill());
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(60), t)
            .await
            .expect("writers end once the server is gone")
            .expect("writer task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_cluster_keeps_every_acknowledged_event_and_flushes_before_acknowledging() {
    let Some(bin) = binaries_or_skip(&["initdb", "pg_ctl"]) else {
        return;
    };
    let cluster = tokio::task::block_in_place(|| {
        let c = Cluster::init(bin);
        c.start();
        c
    });
    let seen = Arc::new(Seen::default());
    let mut groups_checked = 0usize;
    for cycle in 0..CYCLES {
        let store = open(&cluster).await;
        assert!(
            store.commits_asynchronously(),
            "no standbys: groups commit asynchronously"
        );
        load_until_killed(&cluster, &store, cycle, &seen).await;
        let log = store.durability_log();
        assert!(!log.is_empty(), "cycle {cycle}: no group was acknowledged");
        for g in &log {
            assert!(
                g.flushed_lsn >= g.commit_lsn,
                "cycle {cycle}: group ending at {} acknowledged at flush LSN {:X} before its \
                 commit LSN {:X}",
                g.last_position,
                g.flushed_lsn,
                g.commit_lsn
            );
        }
        groups_checked += log.len();
        let flushes = store.group_stats().flushes;
        drop(store);

        tokio::task::block_in_place(|| cluster.start());
        let store = open(&cluster).await;
        let report = jishi_ledger::verify(&store, &Quiet).await.expect("verify");
        assert!(report.is_ok(), "cycle {cycle}: {:?}", report.fault);
        let all = store.read_all(1, usize::MAX).await.expect("read all");
        let stored: HashMap<uuid::Uuid, u64> =
            all.iter().map(|e| (e.event_id, e.position)).collect();
        let acked = seen.acked.lock().expect("acks").clone();
        for (id, pos) in &acked {
            assert_eq!(
                stored.get(id),
                Some(pos),
                "cycle {cycle}: acknowledged event {id} is not at position {pos}"
            );
        }
        let head = all.len() as u64;
        let shown = seen.shown.load(Ordering::Relaxed);
        assert!(
            head >= shown,
            "cycle {cycle}: a reader was shown position {shown}, the ledger kept {head}"
        );
        eprintln!(
            "cycle {cycle}: {} acknowledged in all, {head} stored, reads shown up to {shown}, \
             {} groups checked, {flushes} flushes",
            acked.len(),
            log.len()
        );
        // The lock died with the server: appending goes on where it stopped.
        let next = store
            .append(request(
                &format!("after/crash-{cycle}"),
                ExpectedVersion::NoStream,
                1,
            ))
            .await
            .expect("append after the restart");
        assert_eq!(next.events[0].position, head + 1);
    }
    assert!(groups_checked >= CYCLES, "{groups_checked} groups checked");
}
