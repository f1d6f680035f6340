//! `jishi bench --attestation URL`: what attestation (D69) costs, measured
//! side by side in the same run on PostgreSQL.
//!
//! Each round runs the same load twice, in fresh schemas, in alternating
//! order (so that neither always has the warmer server): `writers` tasks
//! appending one event per call through group commit, once **without** a
//! recording key (the baseline: the store as it was) and once **with** one
//! (every group signed, its attestation written in the same statement).
//! Then `verify` runs over each ledger, the attested one checking every
//! signature. The summary gives the medians and the ratios attested ÷ plain;
//! issue 13's target is an append cost under 10% at 32 writers.

use std::sync::Arc;
use std::time::Instant;

use jishi_ledger::attest::Attestor;
use jishi_ledger::postgres::{PgOptions, PostgresStore};
use jishi_ledger::{SignerKey, Suite};

use super::harness::{ledger_run, median, ms, PgBench, Schema};

/// One ledger's figures.
struct Side {
    append_per_s: f64,
    p99_ms: f64,
    verify_per_s: f64,
}

async fn side(bench: &PgBench, writers: usize, kind: &str) -> anyhow::Result<Side> {
    let schema = Schema::create(&bench.url, kind, writers).await?;
    let run = ledger_run(bench, &schema, writers).await?;
    let store = PostgresStore::open_with(schema.config()?, PgOptions::default()).await?;
    let started = Instant::now();
    let report = jishi_ledger::verify_with_proofs(&store, &jishi_ledger::verify::Quiet).await?;
    let secs = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        report.is_ok(),
        "{kind}: the ledger does not verify: {:?}",
        report.fault
    );
    anyhow::ensure!(
        report.attestation.unattested == bench.attestor.is_none(),
        "{kind}: attested as expected"
    );
    drop(store);
    schema.drop().await?;
    Ok(Side {
        append_per_s: run.rate(),
        p99_ms: ms(run.percentile(0.99)),
        verify_per_s: report.checked as f64 / secs.max(1e-9),
    })
}

pub async fn run(base: PgBench, suite: Suite) -> anyhow::Result<()> {
    let key = Arc::new(Attestor::new(SignerKey::generate_in(
        "bench.recording",
        suite,
    )?));
    println!(
        "attestation cost on PostgreSQL ({suite} recording key): {} events per run, at most \
         {:.0} s, one event per call, {} round(s); appends and verify, plain vs attested",
        base.events, base.max_seconds, base.rounds
    );
    println!(
        "{:>7} {:>5} {:>12} {:>12} {:>7} {:>9} {:>9} {:>12} {:>12} {:>7}",
        "writers",
        "round",
        "plain ev/s",
        "attested",
        "ratio",
        "p99 plain",
        "p99 att",
        "verify plain",
        "verify att",
        "ratio"
    );
    for &writers in &base.writers {
        let (mut append_ratio, mut verify_ratio) = (Vec::new(), Vec::new());
        for round in 0..base.rounds.max(1) {
            let plain = PgBench {
                attestor: None,
                ..base.clone()
            };
            let attested = PgBench {
                attestor: Some(key.clone()),
                ..base.clone()
            };
            let (p, a) = if round % 2 == 0 {
                let p = side(&plain, writers, "plain").await?;
                (p, side(&attested, writers, "attested").await?)
            } else {
                let a = side(&attested, writers, "attested").await?;
                (side(&plain, writers, "plain").await?, a)
            };
            let ar = a.append_per_s / p.append_per_s.max(1e-9);
            let vr = a.verify_per_s / p.verify_per_s.max(1e-9);
            println!(
                "{writers:>7} {:>5} {:>12.0} {:>12.0} {:>7.3} {:>9.2} {:>9.2} {:>12.0} {:>12.0} {:>7.3}",
                round + 1, p.append_per_s, a.append_per_s, ar, p.p99_ms, a.p99_ms,
                p.verify_per_s, a.verify_per_s, vr
            );
            append_ratio.push(ar);
            verify_ratio.push(vr);
        }
        println!(
            "{writers} writers: median append ratio {:.3} (cost {:.1}%), median verify ratio {:.3} \
             (cost {:.1}%)",
            median(append_ratio.clone()),
            100.0 * (1.0 - median(append_ratio)),
            median(verify_ratio.clone()),
            100.0 * (1.0 - median(verify_ratio)),
        );
    }
    Ok(())
}
