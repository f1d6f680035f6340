//! `jishi verify --domain`: after the ledger's own checks, every election is
//! replayed through the procedure's gates under the procedure recorded for it
//! (`jishi_projections::replay`, D68). Each event the gates would have
//! refused, or that was written around them, is printed with its position
//! and the rule; any such finding makes the command fail (exit 5).
//!
//! Kept apart from `ledger_cmds::verify`, which checks the chain, the tree
//! and the checkpoints, and knows no word of the domain.

use jishi_app::views::rebuild;
use jishi_ledger::{open_store, StoreSpec};
use jishi_projections::replay::{replay, ReplayReport};

use crate::output::table;

/// Replay found events the gates would have refused or did not write.
#[derive(Debug)]
pub struct DomainFindings(pub usize);

impl std::fmt::Display for DomainFindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "domain replay: {} finding(s) — events the gates would have refused, or recorded outside them",
            self.0
        )
    }
}
impl std::error::Error for DomainFindings {}

#[derive(serde::Serialize)]
struct DomainReport {
    elections: usize,
    findings: usize,
    reports: Vec<ReplayReport>,
}

pub async fn run(spec: &StoreSpec, json: bool) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let views = rebuild(store.as_ref()).await?;
    let mut reports = Vec::new();
    for (id, election) in &views.elections {
        let mut r = replay(&election.entries);
        r.election_id = id.clone();
        reports.push(r);
    }
    let findings: usize = reports.iter().map(|r| r.findings.len()).sum();
    let report = DomainReport {
        elections: reports.len(),
        findings,
        reports,
    };
    if json {
        // One line, after the ledger report's line: JSON Lines.
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    if findings > 0 {
        return Err(DomainFindings(findings).into());
    }
    Ok(())
}

fn print_text(report: &DomainReport) {
    for r in &report.reports {
        if let Some(note) = &r.legacy {
            println!("note: election {}: {note}", r.election_id);
        }
        for p in r.procedures.iter().filter(|p| p.how == "amended") {
            println!(
                "note: election {}: procedure amended at #{} ({}): {}",
                r.election_id,
                p.position,
                p.digest.get(..12).unwrap_or(&p.digest),
                p.changes.join("; ")
            );
        }
    }
    if report.findings == 0 {
        println!(
            "ok: {} election(s) replayed through the gates under their recorded procedures; no finding",
            report.elections
        );
        return;
    }
    println!(
        "FAILED: {} election(s) replayed through the gates: {} finding(s)",
        report.elections, report.findings
    );
    let mut t = table(vec![
        "选举\nElection",
        "位置\nPosition",
        "类别\nFinding",
        "事件\nEvent",
        "规则\nRule",
        "情况\nDetail",
    ]);
    for r in &report.reports {
        for f in &r.findings {
            t.add_row(vec![
                r.election_id.clone(),
                format!("#{}", f.position),
                f.kind.label().to_string(),
                match &f.candidate_id {
                    Some(c) => format!("{} ({c})", f.event_type),
                    None => f.event_type.clone(),
                },
                f.rule.map(|r| r.to_string()).unwrap_or_default(),
                f.detail.clone(),
            ]);
        }
    }
    println!("{t}");
}
