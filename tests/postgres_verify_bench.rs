//! `jishi bench --verify-postgres` end to end on a small ledger kept in a
//! schema of the test's own: the ledger is generated, verified by `jishi
//! verify` in a child process (whose memory is read), and extended on a
//! second run rather than generated again. Figures are never asserted.

mod common;

use std::process::Command;

fn bench(url: &str, schema: &str, events: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args([
            "bench",
            "--verify-postgres",
            url,
            "--verify-events",
            events,
            "--verify-schema",
            schema,
        ])
        .output()
        .expect("run jishi bench");
    (out.status.success(), common::text(&out))
}

#[tokio::test]
async fn bench_verify_postgres_generates_extends_and_verifies_in_a_child() {
    let Some(url) = common::database_url() else {
        return;
    };
    let schema = format!("jishi_test_verify_bench_{}", std::process::id());

    let (ok, text) = bench(&url, &schema, "1500");
    assert!(ok, "{text}");
    assert!(text.contains("(1500 events, 50 streams"), "{text}");
    assert!(text.contains("generated from 0 events"), "{text}");
    for part in [
        "its own process",
        "peak resident memory",
        "BLAKE3 of the same canonical bytes",
        "reading rows alone",
        "COPY … TO STDOUT",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(
        !text.contains("not measured"),
        "the child's memory is read on Linux: {text}"
    );

    // A longer ledger asked for: the kept one is extended, not generated again.
    let (ok, text) = bench(&url, &schema, "2000");
    assert!(ok, "{text}");
    assert!(text.contains("generated from 1500 events"), "{text}");
    assert!(text.contains("(2000 events, 67 streams"), "{text}");

    // A bad schema name is refused before anything is written.
    let (ok, text) = bench(&url, "x; DROP TABLE events", "10");
    assert!(!ok, "{text}");
    assert!(text.contains("--verify-schema"), "{text}");

    let admin = common::pg_connect(&url.parse().expect("DATABASE_URL")).await;
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .expect("drop the test's schema");
}
