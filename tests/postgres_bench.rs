//! `jishi bench --postgres` end to end on a small load: each round is printed,
//! then the medians and where a group's time goes. The figures themselves are
//! not asserted (performance is measured by the benchmark, never tested); the
//! test keeps the benchmark runnable and its report complete.

mod common;

use std::process::Command;

#[test]
fn bench_postgres_prints_each_round_the_medians_and_the_time_per_group() {
    let Some(url) = common::database_url() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_jishi"))
        .args([
            "bench",
            "--postgres",
            &url,
            "--pg-events",
            "3000",
            "--pg-writers",
            "4",
            "--pg-rounds",
            "2",
            "--pg-max-seconds",
            "30",
        ])
        .output()
        .expect("run jishi bench");
    let text = common::text(&out);
    assert!(out.status.success(), "{text}");
    // A result line: writers, events, ledger rate, p50, p99, group size;
    // the baseline's rate, its ratio and p99 per call; the same-transactions
    // rate and its ratio; the serial rate and its ratio (and a label).
    let results: Vec<Vec<&str>> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| f.len() >= 13 && f[0] == "4" && f[1] != "writers:")
        .collect();
    assert_eq!(results.len(), 3, "two rounds and their median:\n{text}");
    assert!(
        results[2].join(" ").ends_with("median of 2 rounds"),
        "{text}"
    );
    for fields in &results {
        assert_eq!(fields[1], "3000", "every event appended: {text}");
        let baseline_p99: f64 = fields[8]
            .parse()
            .unwrap_or_else(|_| panic!("the baseline's p99, not {:?}:\n{text}", fields[8]));
        assert!(
            baseline_p99 > 0.0,
            "the baseline's calls were timed: {text}"
        );
        for ratio in [fields[7], fields[10], fields[12]] {
            let pct: f64 = ratio
                .trim_end_matches('%')
                .parse()
                .unwrap_or_else(|_| panic!("a ratio, not {ratio:?}:\n{text}"));
            assert!(pct > 0.0, "{text}");
        }
    }
    let breakdown = text
        .lines()
        .find(|l| l.trim_start().starts_with("4 writers:"))
        .unwrap_or_else(|| panic!("where the time goes:\n{text}"));
    for part in [
        "gathering callers",
        "committing",
        "planning",
        "serial baseline",
    ] {
        assert!(breakdown.contains(part), "{breakdown}");
    }
}
