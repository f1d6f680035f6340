//! `jishi demo` end to end, and the demo's ledger read back through the views:
//! it records on a fresh database through the gates, verifies, and its report
//! contains each planted finding.

use std::process::Command;
use std::sync::Arc;

use jishi_app::views::{election_entries, rebuild};
use jishi_ledger::{EventStore, SqliteStore};
use jishi_projections::demo::{generate, DemoConfig};
use jishi_projections::views::{self, as_of, FindingKind, StructureRules};
use jishi_projections::Procedure;

#[test]
fn jishi_demo_runs_on_a_fresh_database_verifies_and_reports_every_planted_finding() {
    // Given an empty directory
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("demo.db");

    // When the demo runs twice on the same path (the second must start fresh)
    for _ in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_jishi"))
            .args([
                "--db",
                db.to_str().expect("utf-8 path"),
                "demo",
                "--townships",
                "6",
                "--seed",
                "7",
            ])
            .output()
            .expect("run jishi demo");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "demo failed:\n{stdout}\n{stderr}");

        // Then it verified, and printed the trail, the chain and every planted finding
        assert!(stdout.contains("verify: ok"), "{stdout}");
        assert!(stdout.contains("全程纪实 trail — c-01 李明"), "{stdout}");
        assert!(stdout.contains("责任链 responsibility chain"), "{stdout}");
        assert!(stdout.contains("corrects #"), "{stdout}");
        for kind in [
            FindingKind::Override,
            FindingKind::LateReport,
            FindingKind::ShortPublicity,
            FindingKind::DifferentialRatio,
            FindingKind::Proxy,
            FindingKind::Scrutineer,
            FindingKind::TownshipWork,
            FindingKind::Women,
            FindingKind::YoungCadres,
            FindingKind::ServiceTerm,
            FindingKind::OpenAtDecision,
            FindingKind::ArrivedAfterDecision,
            FindingKind::VoteBuying,
            FindingKind::Deferred,
        ] {
            assert!(stdout.contains(kind.label()), "{kind:?} missing:\n{stdout}");
        }
    }
}

#[tokio::test]
async fn the_demo_ledger_read_back_has_the_planted_cases_where_they_were_planted() {
    // Given the demo recorded through the gates
    let dir = tempfile::tempdir().expect("tempdir");
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(dir.path().join("d.db")).expect("open"));
    let demo = generate(&DemoConfig {
        seed: 3,
        townships: 6,
    })
    .expect("generate");
    let written = jishi_app::demo::record_demo(&store, &demo, &|_| {})
        .await
        .expect("every command passes the gates");
    assert!(written > 800, "{written}");
    let procedure = Procedure::builtin("township_party_committee").expect("procedure");
    let check =
        |entries: &[views::Entry]| views::check(entries, &procedure, &StructureRules::default());

    // When the election with the petition found true after the decision is checked
    let (e, c) = &demo.planted.petition_after_decision;
    let entries = election_entries(store.as_ref(), e, None)
        .await
        .expect("read");
    let report = check(&entries);

    // Then it arrived after the decision, and the decision's own view did not have it
    let f = report
        .of_kind(FindingKind::ArrivedAfterDecision)
        .find(|f| f.candidate_id.as_ref() == Some(c))
        .expect("arrived after decision");
    let decision = f.evidence[0];
    let then = views::trail(as_of(&entries, decision), c);
    assert!(then
        .rows
        .iter()
        .all(|r| r.event_type != "petition.received"));
    assert!(views::trail(&entries, c)
        .rows
        .iter()
        .any(|r| r.event_type == "petition.received"));
    assert!(f.detail.contains("substantiated"), "{}", f.detail);

    // And each planted case is found in its own election
    let planted = [
        (&demo.planted.deferred.0, FindingKind::Deferred),
        (&demo.planted.short_publicity.0, FindingKind::ShortPublicity),
        (&demo.planted.late_report.0, FindingKind::LateReport),
        (
            &demo.planted.override_open_petition.0,
            FindingKind::OpenAtDecision,
        ),
        (&demo.planted.vote_overrides, FindingKind::DifferentialRatio),
        (&demo.planted.vote_buying.0, FindingKind::VoteBuying),
        (&demo.planted.no_woman, FindingKind::Women),
        (&demo.planted.no_young, FindingKind::YoungCadres),
        (&demo.planted.low_township_work, FindingKind::TownshipWork),
        (&demo.planted.service_term.0, FindingKind::ServiceTerm),
    ];
    for (election, kind) in planted {
        let entries = election_entries(store.as_ref(), election, None)
            .await
            .expect("read");
        assert!(
            check(&entries).of_kind(kind).count() >= 1,
            "{kind:?} not found in {election}"
        );
    }

    // And a full rebuild holds every election and event
    let p = rebuild(store.as_ref()).await.expect("rebuild");
    assert_eq!(p.elections.len(), 6);
    assert_eq!(p.last_position, written);
}
