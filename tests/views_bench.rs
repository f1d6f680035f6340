//! `jishi bench --views` end to end on a tiny generated district, on SQLite
//! and on PostgreSQL (a schema of the test's own): the ledger is generated
//! through the gates, kept and reused by a second run, and every figure is
//! produced: trail, accountability and the stream-read baseline with their
//! p99, the server's first catch-up, and the election list with compliance
//! beside its JSON baseline and the recomputed path. Figures are never
//! asserted (a timing depends on the machine, not on the code).

mod common;

use std::process::Command;

fn bench(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args([
            "bench",
            "--views",
            "--views-events",
            "3000",
            "--queries",
            "20",
        ])
        .args(args)
        .output()
        .expect("run jishi bench");
    (out.status.success(), common::text(&out))
}

/// The JSON report's figures that must be there, and be positive.
fn assert_figures(json: &str) -> serde_json::Value {
    let start = json.find('{').unwrap_or_else(|| panic!("no JSON: {json}"));
    // The report is the first JSON value; anything the run logged follows.
    let f: serde_json::Value = serde_json::Deserializer::from_str(&json[start..])
        .into_iter()
        .next()
        .expect("a JSON value")
        .expect("the JSON figures");
    assert!(f["events"].as_u64().expect("events") >= 3000, "{f}");
    assert!(f["elections"].as_u64().expect("elections") >= 20, "{f}");
    for spread in [
        "trail",
        "accountability",
        "stream_read",
        "trail_in_memory",
        "list",
        "list_json_only",
    ] {
        for q in ["median_ms", "p95_ms", "p99_ms"] {
            let v = f[spread][q]
                .as_f64()
                .unwrap_or_else(|| panic!("{spread}.{q}: {f}"));
            assert!(v > 0.0, "{spread}.{q} was timed: {f}");
        }
    }
    for figure in [
        "rebuild_per_s",
        "read_and_decode_per_s",
        "first_catch_up_s",
        "resident_mib",
        "list_recomputed_ms",
        "full_list_median_ms",
    ] {
        let v = f[figure]
            .as_f64()
            .unwrap_or_else(|| panic!("{figure}: {f}"));
        assert!(v > 0.0, "{figure}: {f}");
    }
    // The district is smaller than 1,000 elections: the list is all of them.
    assert_eq!(f["list_elections"], f["elections"], "{f}");
    assert_eq!(f["full_list_elections"], f["elections"], "{f}");
    f
}

#[test]
fn bench_views_on_sqlite_generates_once_and_reports_every_figure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = dir.path().join("views.db");
    let ledger = ledger.to_str().expect("utf-8 path");

    let (ok, text) = bench(&["--ledger", ledger, "--json"]);
    assert!(ok, "{text}");
    let f = assert_figures(&text);
    assert!(
        f["generated_per_s"].as_f64().is_some_and(|r| r > 0.0),
        "{f}"
    );

    // The kept ledger is reused, not generated again; the table says which
    // targets were met or missed.
    let (ok, text) = bench(&["--ledger", ledger]);
    assert!(ok, "{text}");
    assert!(!text.contains("generated through the gates"), "{text}");
    for part in [
        "trail, one candidate (20 queries)",
        "accountability, one candidate",
        "election list with compliance",
        "< 10 ms",
        "< 100 ms",
        "recomputed per request",
        "first catch-up",
        "read + decode only",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(text.contains(": met") || text.contains("MISSED"), "{text}");

    // The ledger verifies: it was written through the real append path.
    let out = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args(["--db", ledger, "verify"])
        .output()
        .expect("run jishi verify");
    assert!(out.status.success(), "{}", common::text(&out));
}

#[tokio::test]
async fn bench_views_on_postgres_keeps_its_ledger_in_its_schema() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = format!("jishi_test_views_bench_{}", std::process::id());

    let (ok, text) = bench(&[
        "--views-postgres",
        &url,
        "--views-schema",
        &schema,
        "--json",
    ]);
    assert!(ok, "{text}");
    let f = assert_figures(&text);
    assert!(
        f["generated_per_s"].as_f64().is_some_and(|r| r > 0.0),
        "{f}"
    );
    assert!(
        f["ledger"].as_str().is_some_and(|l| l.contains(&schema)),
        "{f}"
    );

    let (ok, text) = bench(&[
        "--views-postgres",
        &url,
        "--views-schema",
        &schema,
        "--json",
    ]);
    assert!(ok, "{text}");
    let f = assert_figures(&text);
    assert!(f["generated_per_s"].is_null(), "reused, not generated: {f}");

    // A bad schema name is refused before anything is written.
    let (ok, text) = bench(&[
        "--views-postgres",
        &url,
        "--views-schema",
        "x; DROP TABLE events",
    ]);
    assert!(!ok, "{text}");
    assert!(text.contains("--views-schema"), "{text}");

    let admin = common::pg_connect(&url.parse().expect("DATABASE_URL")).await;
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the test's schema");
}
