//! The load test of issue 7, small and untimed: `jishi bench --http` starts
//! the server in-process on loopback, lets concurrent clients record
//! generated elections over HTTP, then verifies the ledger and checks that
//! every acknowledged event is in it. Its figures are benchmarks
//! (docs/PERFORMANCE.md); here only its correctness is asserted.

mod common;

use common::{jishi, text};

#[test]
fn concurrent_clients_over_http_lose_nothing_and_the_ledger_verifies() {
    let dir = tempfile::tempdir().expect("temp dir");
    // `bench` makes stores of its own; --db is only the binary's usual flag.
    let out = jishi(
        &dir.path().join("unused.db"),
        &[
            "bench",
            "--http",
            "--http-clients",
            "8",
            "--http-seconds",
            "2",
        ],
        None,
    );
    let all = text(&out);
    assert!(out.status.success(), "bench --http failed:\n{all}");
    assert!(all.contains("verify: ok,"), "no verify-ok line in:\n{all}");
    let line = all
        .lines()
        .find(|l| l.starts_with("acknowledged: all "))
        .unwrap_or_else(|| panic!("no all-acknowledged-present line in:\n{all}"));
    assert!(
        line.ends_with("acknowledged events present at their acknowledged positions"),
        "{line}"
    );
    let n: u64 = line
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line:?}"));
    assert!(n > 0, "no event was acknowledged:\n{all}");
    assert!(
        all.contains("errors 0 (server), 0 (direct)"),
        "requests failed:\n{all}"
    );
}
