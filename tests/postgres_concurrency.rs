//! Many recorders at once against PostgreSQL: positions stay gapless, every
//! acknowledged append is stored where it was acknowledged, every conflict is
//! reported to the caller whose expectation was stale and to nobody else, and
//! one caller's failure inside a group commit does not fail the others.

mod common;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use common::{event, request};
use jishi_ledger::postgres::{GroupCommit, PgOptions, PostgresStore};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{AppendError, AppendRequest, EventStore, ExpectedVersion};
use serde_json::json;

const TASKS: usize = 16;
const APPENDS: usize = 500;
const HOT_STREAMS: usize = 3;
/// Callers the group-commit tests below send at once.
const CALLERS: usize = 7;

/// What one recorder saw.
#[derive(Default)]
struct Seen {
    /// event_id → (position, stream) of every acknowledged append.
    acked: HashMap<uuid::Uuid, (u64, String)>,
    /// event ids of appends refused with a conflict.
    conflicted: Vec<uuid::Uuid>,
}

fn one(stream: &str, expected: ExpectedVersion, task: usize, i: usize) -> AppendRequest {
    let mut e = event(
        "candidate.nominated",
        json!({"task": task, "i": i, "姓名": "李明"}),
    );
    e.event_id = Some(uuid::Uuid::new_v4());
    AppendRequest {
        stream: stream.into(),
        expected,
        events: vec![e],
    }
}

async fn recorder(store: Arc<dyn EventStore>, task: usize) -> Seen {
    let mut seen = Seen::default();
    // Streams this task owns: it knows their versions exactly, so any
    // conflict there would be the store's fault.
    let mut own: HashMap<String, u64> = HashMap::new();
    for i in 0..APPENDS {
        let (req, contended) = if i % 4 == 0 {
            // Contended: read the version, then expect exactly it, as a
            // recorder working from what it last saw does.
            let stream = format!("election/hot-{}", i % HOT_STREAMS);
            let v = store.stream_version(&stream).await.expect("stream version");
            let expected = v.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
            (one(&stream, expected, task, i), true)
        } else {
            let stream = format!("candidate/t{task}-s{}", i % 7);
            let v = own.get(&stream).copied();
            let expected = v.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
            (one(&stream, expected, task, i), false)
        };
        let id = req.events[0].event_id.expect("id set");
        let stream = req.stream.clone();
        match store.append(req).await {
            Ok(a) => {
                assert!(!a.deduplicated);
                if !contended {
                    own.insert(stream.clone(), a.events[0].stream_version);
                }
                seen.acked.insert(id, (a.events[0].position, stream));
            }
            Err(AppendError::Conflict { .. }) if contended => seen.conflicted.push(id),
            Err(e) => panic!("task {task} append {i} on {stream}: {e}"),
        }
    }
    seen
}

/// 16 recorders × 500 appends, split over two stores on the same schema (as
/// two processes would be: two pools, two writer tasks, one advisory lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_recorders_keep_positions_gapless() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let second: Arc<dyn EventStore> = Arc::new(
        PostgresStore::open_with(fx.schema.config(), PgOptions::default())
            .await
            .expect("second store"),
    );
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = if task % 2 == 0 {
            fx.store.clone()
        } else {
            second.clone()
        };
        handles.push(tokio::spawn(recorder(store, task)));
    }
    let mut acked = HashMap::new();
    let mut conflicted = Vec::new();
    for h in handles {
        let seen = h.await.expect("recorder task");
        acked.extend(seen.acked);
        conflicted.extend(seen.conflicted);
    }
    assert_eq!(acked.len() + conflicted.len(), TASKS * APPENDS);
    assert!(
        !conflicted.is_empty(),
        "contended appends should have produced conflicts"
    );

    let all = fx.store.read_all(1, usize::MAX).await.expect("read all");
    assert_eq!(
        all.len(),
        acked.len(),
        "every acknowledged append, nothing else"
    );
    let mut ids = HashSet::new();
    for (i, e) in all.iter().enumerate() {
        assert_eq!(e.position, i as u64 + 1, "positions are 1..N without gaps");
        assert!(ids.insert(e.event_id), "event {} stored twice", e.event_id);
        let (position, stream) = acked
            .get(&e.event_id)
            .unwrap_or_else(|| panic!("position {} holds an unacknowledged event", e.position));
        assert_eq!(
            (*position, stream.as_str()),
            (e.position, e.stream.as_str())
        );
    }
    for id in &conflicted {
        assert!(!ids.contains(id), "a refused append {id} was stored");
    }
    let report = jishi_ledger::verify(&*fx.store, &Quiet)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
    assert_eq!(report.checked, acked.len() as u64);
}

/// Callers committed in one group: the one whose expected version is stale,
/// the one that reuses an event id with other content, and the one whose
/// multi-request call fails halfway each get their own error; everybody else
/// in the same transaction is committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_callers_failure_does_not_fail_its_group() {
    let Some(fx) = common::postgres_with(one_group()).await else {
        return;
    };
    let s = fx.store.clone();
    let mut taken = request("candidate/taken", ExpectedVersion::NoStream, 1);
    let taken_id = uuid::Uuid::new_v4();
    taken.events[0].event_id = Some(taken_id);
    s.append(taken.clone()).await.expect("seed");

    let mut reused = request("candidate/other", ExpectedVersion::Any, 1);
    reused.events[0].event_id = Some(taken_id);
    let calls: Vec<Vec<AppendRequest>> = vec![
        vec![request("a", ExpectedVersion::NoStream, 2)],
        // stale: the stream exists
        vec![request("candidate/taken", ExpectedVersion::NoStream, 1)],
        vec![request("b", ExpectedVersion::Any, 1)],
        // same id, other stream: refused
        vec![reused],
        // all or nothing for this caller: its second request conflicts
        vec![
            request("c", ExpectedVersion::NoStream, 1),
            request("c", ExpectedVersion::Exact(5), 1),
        ],
        // an exact retry of the seed: answered from the ledger
        vec![taken.clone()],
        vec![
            request("d", ExpectedVersion::NoStream, 1),
            request("d", ExpectedVersion::Exact(1), 1),
        ],
    ];
    let handles: Vec<_> = calls
        .into_iter()
        .map(|c| {
            let s = s.clone();
            tokio::spawn(async move { s.append_batch(c).await })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.expect("caller task"));
    }
    // The seed, then all seven callers in one transaction.
    assert_eq!(fx.pg.group_stats().transactions, 2);
    assert_eq!(fx.pg.group_stats().callers, 1 + CALLERS as u64);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(matches!(
        &results[1],
        Err(e) if e.index == 0 && matches!(e.error, AppendError::Conflict { actual: Some(1), .. })
    ));
    assert!(results[2].is_ok());
    assert!(matches!(
        &results[3],
        Err(e) if matches!(e.error, AppendError::EventIdReused { position: 1, differs: "stream", .. })
    ));
    assert!(matches!(
        &results[4],
        Err(e) if e.index == 1 && matches!(e.error, AppendError::Conflict { .. })
    ));
    assert!(matches!(&results[5], Ok(a) if a[0].deduplicated && a[0].events[0].position == 1));
    assert!(results[6].is_ok());
    assert_eq!(s.stream_version("c").await.expect("version"), None);
    assert_eq!(s.stream_version("d").await.expect("version"), Some(2));
    // seed 1 + a 2 + b 1 + d 2
    assert_eq!(s.head().await.expect("head").map(|h| h.position), Some(6));
    let report = jishi_ledger::verify(&*s, &Quiet).await.expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
}

/// Two callers in one group append events with the same new event id: the
/// first writes it, the second is answered as its retry (same content) or
/// refused (other content); never stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_new_event_id_twice_in_one_group() {
    let Some(fx) = common::postgres_with(one_group()).await else {
        return;
    };
    let s = fx.store.clone();
    let mut r = request("x", ExpectedVersion::Any, 1);
    r.events[0].event_id = Some(uuid::Uuid::new_v4());
    let mut other = r.clone();
    other.events[0].payload = json!({"different": true});
    let (a, b, c) = tokio::join!(s.append(r.clone()), s.append(r.clone()), s.append(other));
    let (a, b) = (a.expect("first"), b.expect("retry"));
    assert_eq!(a.events, b.events);
    assert!(a.deduplicated != b.deduplicated);
    assert!(matches!(
        c,
        Err(AppendError::EventIdReused {
            differs: "payload",
            ..
        })
    ));
    assert_eq!(s.head().await.expect("head").map(|h| h.position), Some(1));
}

/// Options under which concurrent callers land in one group: the writer waits
/// long enough for all `CALLERS` of a test.
fn one_group() -> PgOptions {
    PgOptions {
        group_commit: GroupCommit {
            max_wait: Duration::from_millis(300),
            min_callers: CALLERS,
            ..GroupCommit::default()
        },
        ..PgOptions::default()
    }
}

/// The writer plans a group from what its last transaction left (head,
/// frontier, stream versions) without reading. Another store on the same
/// schema (another process) appending in between makes that stale: the next
/// append must still see the other's events, get the right position and
/// stream version, and be judged on fresh reads (an expected version that is
/// right now must not be refused for what the writer remembered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_known_state_is_noticed() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let other = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .expect("second store");
    let a = &fx.pg;
    let position = |r: &jishi_ledger::Appended| r.events.last().map(|e| e.position);
    // a learns stream x at version 1.
    let r = a.append(request("x", ExpectedVersion::NoStream, 1)).await;
    assert_eq!(position(&r.expect("a appends x")), Some(1));
    // The other store appends to x (version 2) and to y.
    other
        .append(request("x", ExpectedVersion::Exact(1), 1))
        .await
        .expect("other appends x");
    other
        .append(request("y", ExpectedVersion::Any, 1))
        .await
        .expect("other appends y");
    // Right on fresh reads, wrong against what a remembered (x at 1).
    let r = a
        .append(request("x", ExpectedVersion::Exact(2), 1))
        .await
        .expect("a appends x at version 3");
    assert_eq!(position(&r), Some(4));
    assert_eq!(r.events[0].stream_version, 3);
    // a knows the head again; the other store's x version 3 is stale for it.
    other
        .append(request("x", ExpectedVersion::Any, 1))
        .await
        .expect("other appends x again");
    let r = a
        .append(request("x", ExpectedVersion::Any, 2))
        .await
        .expect("a appends x twice");
    assert_eq!(position(&r), Some(7));
    assert_eq!(
        r.events
            .iter()
            .map(|e| e.stream_version)
            .collect::<Vec<_>>(),
        vec![5, 6]
    );
    // A refusal from what a knows is checked on fresh reads too.
    let err = a
        .append(request("x", ExpectedVersion::Exact(5), 1))
        .await
        .expect_err("x is at 6");
    assert!(
        matches!(
            err,
            AppendError::Conflict {
                actual: Some(6),
                ..
            }
        ),
        "{err:?}"
    );
    // Nothing else happened since: this one is planned from what a knows.
    assert_eq!(a.group_stats().from_known, 0);
    let r = a
        .append(request("x", ExpectedVersion::Exact(6), 1))
        .await
        .expect("a appends x at version 7");
    assert_eq!(position(&r), Some(8));
    assert_eq!(a.group_stats().from_known, 1);

    let all = fx.store.read_all(1, usize::MAX).await.expect("read all");
    assert_eq!(all.len(), 8);
    let report = jishi_ledger::verify_with_proofs(&fx.pg, &Quiet)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
}

/// Guarded appends (the domain's recorders) ride the one-round-trip path once
/// the writer has read their prefix, and the writer keeps that prefix's last
/// position up to date with its own appends. An append under the prefix by
/// another store (another process) must still refuse a stale guard, even
/// when the writer's next transaction was a full one for another reason (a
/// new stream) and so saw the head move without a known write failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_appends_ride_the_known_path_and_foreign_appends_still_refuse_them() {
    let Some(fx) = common::postgres().await else {
        return;
    };
    let other = PostgresStore::open_with(fx.schema.config(), PgOptions::default())
        .await
        .expect("second store");
    let a = &fx.pg;
    let guarded = |seen: u64, stream: &str| {
        let guard = jishi_ledger::ScopeGuard {
            prefix: "election/e1".into(),
            seen,
        };
        let prepared = jishi_ledger::store::prepare_request(
            request(stream, ExpectedVersion::Any, 1),
            a.clock().now(),
        )
        .expect("prepare");
        a.append_guarded(guard, vec![prepared])
    };
    let scope_changed = |r: Result<Vec<jishi_ledger::Appended>, jishi_ledger::BatchError>,
                         latest: u64| match r {
        Err(e) => assert!(
            matches!(e.error, AppendError::ScopeChanged { latest: l, .. } if l == latest),
            "{}",
            e.error
        ),
        Ok(r) => panic!("a stale guard was accepted: {r:?}"),
    };
    let position = |r: Vec<jishi_ledger::Appended>| r[0].events[0].position;

    // The prefix is new to the writer: a full transaction reads it.
    let r = guarded(0, "election/e1/candidate/c1").await.expect("first");
    assert_eq!(position(r), 1);
    assert_eq!(a.group_stats().from_known, 0);
    // Now known (last position 1): one round trip.
    let r = guarded(1, "election/e1/candidate/c1")
        .await
        .expect("second");
    assert_eq!(position(r), 2);
    assert_eq!(a.group_stats().from_known, 1);
    // The writer's own append moved the scope to 2: a decision taken at 1 is
    // refused (on fresh reads).
    scope_changed(guarded(1, "election/e1/candidate/c1").await, 2);
    assert_eq!(a.group_stats().from_known, 1);
    let r = guarded(2, "election/e1/candidate/c1").await.expect("third");
    assert_eq!(position(r), 3);
    assert_eq!(a.group_stats().from_known, 2);

    // Another process records under the election.
    other
        .append(request("election/e1/candidate/c3", ExpectedVersion::Any, 1))
        .await
        .expect("other appends under e1");
    // The writer's next group has a stream it has never seen, so it runs a
    // full transaction (no known write fails), and finds the head moved.
    let r = a
        .append(request("elsewhere", ExpectedVersion::Any, 1))
        .await
        .expect("a appends elsewhere");
    assert_eq!(r.events[0].position, 5);
    // A decision taken at 3 missed the other's event at 4: refused.
    let known_before = a.group_stats().from_known;
    scope_changed(guarded(3, "election/e1/candidate/c1").await, 4);
    assert_eq!(a.group_stats().from_known, known_before);
    // That refusal read the prefix afresh (last position 4) under a head
    // the writer had seen: decisions taken at 4, then at 6, stand, each in
    // one round trip.
    let r = guarded(4, "election/e1/candidate/c1").await.expect("at 4");
    assert_eq!(position(r), 6);
    let r = guarded(6, "election/e1/candidate/c1").await.expect("at 6");
    assert_eq!(position(r), 7);
    assert_eq!(a.group_stats().from_known, known_before + 2);

    let report = jishi_ledger::verify_with_proofs(&fx.pg, &Quiet)
        .await
        .expect("verify");
    assert!(report.is_ok(), "{:?}", report.fault);
}
