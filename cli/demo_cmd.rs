//! `jishi demo`: a realistic district transition on a fresh ledger (a SQLite
//! file, or an empty PostgreSQL schema),
//! recorded through the procedure's gates, then one candidate's trail and
//! responsibility chain, the compliance findings, the statistics, and a
//! verification of the chain.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use jishi_app::views::{candidate_entries, election_entries};
use jishi_ledger::verify::Quiet;
use jishi_ledger::{open_store, EventStore, StoreSpec};
use jishi_projections::demo::{generate, DemoConfig};
use jishi_projections::views::{self, StructureRules};
use jishi_projections::{fold, Procedure};

use crate::view_cmds::{print_accountability, print_report, print_stats, print_trail};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The seed: the same seed gives the same district.
    #[arg(long, default_value_t = 2021)]
    seed: u64,
    /// Township party committees to generate (at least 6 to plant every finding).
    #[arg(long, default_value_t = 18)]
    townships: usize,
    /// The recording key's suite when one is created: ed25519 (default) or sm2-sm3.
    #[arg(long, default_value = "ed25519", value_parser = crate::recording::parse_suite)]
    suite: jishi_ledger::Suite,
}

/// Where the demo writes: `--db` if given, else `target/demo/jishi.db`.
fn demo_spec(db: &str) -> StoreSpec {
    match StoreSpec::parse(db) {
        StoreSpec::Sqlite(p) if p.as_os_str() == "jishi.db" => {
            StoreSpec::Sqlite(PathBuf::from("target/demo/jishi.db"))
        }
        spec => spec,
    }
}

/// Opens the demo's ledger empty, so that its positions and findings are
/// reproducible. A SQLite file is the demo's own and is made afresh; a
/// PostgreSQL ledger is never emptied (it may hold a real history), so it
/// must be empty already: a schema of its own, as README describes.
async fn fresh_store(
    spec: &StoreSpec,
    suite: jishi_ledger::Suite,
) -> anyhow::Result<std::sync::Arc<dyn EventStore>> {
    if let StoreSpec::Sqlite(path) = spec {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        for suffix in ["", "-wal", "-shm"] {
            let p = PathBuf::from(format!("{}{suffix}", path.display()));
            if p.exists() {
                std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
            }
        }
    }
    let probe = open_store(spec, true).await?;
    if let Some(h) = probe.head().await? {
        anyhow::bail!(
            "--db: the ledger at {spec} already holds {} events; the demo records into an \
             empty one (on PostgreSQL, a schema of its own: add \
             ?options=-csearch_path%3Djishi_demo to the URL)",
            h.position
        );
    }
    drop(probe);
    // The recording key first, so that its registration attests the
    // demo from position 1.
    let store: std::sync::Arc<dyn EventStore> = crate::recording::open_new(spec, suite).await?;
    Ok(store)
}

pub async fn run(db: &str, args: DemoArgs) -> anyhow::Result<()> {
    let spec = demo_spec(db);
    let store = fresh_store(&spec, args.suite).await?;

    let started = Instant::now();
    let demo = generate(&DemoConfig {
        seed: args.seed,
        townships: args.townships,
    })?;
    let bar = crate::output::progress(demo.commands() as u64, "recording");
    let written = jishi_app::demo::record_demo(&store, &demo, &|n| bar.set_position(n)).await?;
    // The other kinds, so that a newcomer sees each: a village "两委"
    // election and a people's-congress constituency.
    let others = jishi_projections::demo_kinds::other_kinds(args.seed)?;
    let written =
        jishi_app::demo::record_elections(&store, &others, written, &|n| bar.set_position(n))
            .await?;
    bar.finish_and_clear();
    let candidates: usize = demo
        .elections
        .iter()
        .map(|e| {
            e.commands
                .iter()
                .filter(|c| c.command.kind() == "candidate.nominated")
                .count()
        })
        .sum();
    println!(
        "{} 换届 demo (seed {}): {} township elections, {} candidates, {} events recorded through the gates in {:.1} s → {}\n",
        demo.district,
        args.seed,
        demo.elections.len(),
        candidates,
        written,
        started.elapsed().as_secs_f64(),
        spec
    );

    let (election, candidate) = &demo.planted.showcase;
    let entries = candidate_entries(store.as_ref(), election, candidate, None).await?;
    let mut trail = views::trail(&entries, candidate);
    trail.election_id = election.clone();
    print_trail(&trail);
    println!(
        "  (jishi --db {} trail {candidate} --election {election})\n",
        spec
    );
    let mut chain = views::accountability(&entries, candidate);
    chain.election_id = election.clone();
    print_accountability(&chain);
    println!();

    let procedure = Procedure::builtin("township_party_committee")?;
    let mut teams = Vec::new();
    let mut total_findings = 0;
    for e in &demo.elections {
        let entries = election_entries(store.as_ref(), &e.election_id, None).await?;
        let (mut report, _) =
            jishi_projections::replay::compliance(&entries, &procedure, &StructureRules::default());
        report.election_id = e.election_id.clone();
        if !report.findings.is_empty() {
            total_findings += report.findings.len();
            print_report(&report);
        }
        let mut s = views::stats(&fold(entries.iter().map(|x| &x.event)));
        s.election_id = e.election_id.clone();
        teams.push(s);
    }
    println!(
        "合规检查 compliance: {total_findings} finding(s) in {} elections; the others have none\n",
        demo.elections.len()
    );
    for e in &others {
        let entries = election_entries(store.as_ref(), &e.election_id, None).await?;
        let kind = match entries.first().map(|x| &x.event.body) {
            Some(jishi_projections::EventBody::ElectionOpened(o)) => o.kind.clone(),
            _ => String::new(),
        };
        let procedure = Procedure::builtin(&kind)?;
        let (mut report, _) =
            jishi_projections::replay::compliance(&entries, &procedure, &StructureRules::default());
        report.election_id = e.election_id.clone();
        let state = fold(entries.iter().map(|x| &x.event));
        let elected: Vec<String> = state
            .candidates
            .values()
            .filter(|c| c.holds_seat())
            .filter_map(|c| c.nomination.as_ref().map(|n| n.name.clone()))
            .collect();
        println!(
            "{} {} ({}): {} events, elected {}; {} finding(s)  (jishi --db {spec} check {})",
            procedure.name,
            e.unit_name,
            kind,
            entries.len(),
            elected.join("、"),
            report.findings.len(),
            e.election_id
        );
        if !report.findings.is_empty() {
            print_report(&report);
        }
    }
    println!();
    print_stats(&teams, &views::summarise(&teams));

    let report = jishi_ledger::verify(store.as_ref(), &Quiet).await?;
    if !report.is_ok() {
        eprintln!("verify: {:?}", report.fault);
        return Err(crate::VerifyFailed.into());
    }
    println!("\nverify: ok — {written} events, every digest, hash and link recomputed");
    let db = spec.to_string();
    println!(
        "\nto look at it in a browser:\n  jishi --db {db} user add me --role investigator --org 天元区   # prints a token\n  jishi --db {db} serve                                          # http://127.0.0.1:8080, sign in with the token"
    );
    Ok(())
}
