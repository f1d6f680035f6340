//! `jishi verify --domain`: after the ledger's own checks, every election is
//! replayed through the procedure's gates under the procedure recorded for it
//! (`jishi_projections::replay`, D68). Each event the gates would have
//! refused, or that was written around them, is printed with its position
//! and the rule; any such finding makes the command fail (exit 5).
//!
//! Kept apart from `ledger_cmds::verify`, which checks the chain, the tree
//! and the checkpoints, and knows no word of the domain.

use std::collections::BTreeMap;

use jishi_app::views::entry_of;
use jishi_ledger::{open_store, EventStore, StoreSpec};
use jishi_projections::parse_stream;
use jishi_projections::replay::{replay, ReplayFinding, ReplayKind, ReplayReport};
use jishi_projections::views::Entry;

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
    let (elections, mut unreadable) = read_elections(store.as_ref()).await?;
    let mut reports = Vec::new();
    for (id, entries) in &elections {
        let mut r = replay(entries);
        r.election_id = id.clone();
        r.findings.extend(unreadable.remove(id).unwrap_or_default());
        r.findings.sort_by_key(|f| f.position);
        reports.push(r);
    }
    for (id, findings) in unreadable {
        reports.push(ReplayReport {
            election_id: id,
            findings,
            ..ReplayReport::default()
        });
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

/// Events read per query.
const PAGE: usize = 10_000;

/// Every event under `election/`, grouped by the election of its **stream**
/// (not of its payload), in ledger order; and, per election, the events that
/// are no domain event or sit in another election's or candidate's stream
/// than their payload names. The views stop at such an event; replay reports
/// it, so that a raw append of garbage shows like any other.
async fn read_elections(
    store: &dyn EventStore,
) -> anyhow::Result<(
    BTreeMap<String, Vec<Entry>>,
    BTreeMap<String, Vec<ReplayFinding>>,
)> {
    let mut elections: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    let mut unreadable: BTreeMap<String, Vec<ReplayFinding>> = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = store.read_all(from, PAGE).await?;
        let Some(last) = page.last().map(|e| e.position) else {
            break;
        };
        for e in &page {
            if !jishi_ledger::store::stream_under(&e.stream, "election") {
                continue;
            }
            let mut report = |election: &str, detail: String| {
                unreadable
                    .entry(election.to_string())
                    .or_default()
                    .push(ReplayFinding {
                        kind: ReplayKind::Unreadable,
                        position: e.position,
                        event_type: e.event_type.clone(),
                        candidate_id: None,
                        rule: None,
                        detail: format!("{detail} (stream {})", e.stream),
                    })
            };
            let Some((election, candidate)) = parse_stream(&e.stream) else {
                report(
                    e.stream.split('/').nth(1).unwrap_or(""),
                    "a stream under election/ that is no election or candidate stream".into(),
                );
                continue;
            };
            match entry_of(e) {
                Ok(entry)
                    if entry.event.election_id == election
                        && entry.event.candidate_id.as_deref() == candidate =>
                {
                    elections
                        .entry(election.to_string())
                        .or_default()
                        .push(entry);
                }
                Ok(entry) => report(
                    election,
                    format!(
                        "its payload names election {:?}, candidate {:?}",
                        entry.event.election_id, entry.event.candidate_id
                    ),
                ),
                Err(err) => report(election, format!("not a domain event: {err}")),
            }
        }
        from = last + 1;
        if page.len() < PAGE {
            break;
        }
    }
    Ok((elections, unreadable))
}
