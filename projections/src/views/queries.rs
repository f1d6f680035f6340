//! The questions an inspector asks of an election beyond one trail (issue 16,
//! item 7; domain decision 31). Each is a pure function of entries in ledger
//! order, so "as of" works as for every view.
//! - [`review_matrix`]: the joint review (联审), candidate by department.
//!   Any department of the procedure's list that gave no verdict is named.
//! - [`deferrals`]: each 暂缓提名 and how it ended, or that it is still open.
//! - [`unit_history`]: one election unit across its elections (terms).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Entry, Projections};
use crate::events::{EventBody, ReviewVerdict};

/// One department's verdict on one candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewCell {
    pub verdict: ReviewVerdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A candidate's row of the matrix: the latest joint review recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRow {
    pub candidate_id: String,
    pub name: Option<String>,
    /// The review's own outcome, and where it is in the ledger.
    pub outcome: ReviewVerdict,
    pub position: u64,
    pub cells: BTreeMap<String, ReviewCell>,
    /// Departments of the procedure's list with no verdict in this review.
    pub missing: Vec<String>,
    /// Departments whose verdict is `failed`: such a candidate cannot be
    /// confirmed (domain decision 27).
    pub flagged_by: Vec<String>,
}

/// The joint-review matrix of an election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewMatrix {
    /// The columns: the procedure's departments, then any other department
    /// that gave a verdict.
    pub departments: Vec<String>,
    pub rows: Vec<ReviewRow>,
    /// Nominated candidates with no joint review recorded.
    pub not_reviewed: Vec<String>,
}

/// The matrix of `entries` (one election's) under the procedure's list of
/// departments (`required`; empty when the procedure names none).
pub fn review_matrix(entries: &[Entry], required: &[String]) -> ReviewMatrix {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut latest: BTreeMap<String, ReviewRow> = BTreeMap::new();
    for e in entries {
        let Some(c) = e.event.candidate_id.as_deref() else {
            continue;
        };
        match &e.event.body {
            EventBody::Nominated(n) => {
                names.insert(c.to_string(), n.name.clone());
            }
            EventBody::JointReview(r) => {
                let cells: BTreeMap<String, ReviewCell> = r
                    .departments
                    .iter()
                    .map(|d| {
                        (
                            d.department.clone(),
                            ReviewCell {
                                verdict: d.verdict,
                                note: d.note.clone(),
                            },
                        )
                    })
                    .collect();
                latest.insert(
                    c.to_string(),
                    ReviewRow {
                        candidate_id: c.to_string(),
                        name: None,
                        outcome: r.outcome,
                        position: e.position,
                        missing: required
                            .iter()
                            .filter(|d| !cells.contains_key(*d))
                            .cloned()
                            .collect(),
                        flagged_by: cells
                            .iter()
                            .filter(|(_, v)| v.verdict == ReviewVerdict::Failed)
                            .map(|(d, _)| d.clone())
                            .collect(),
                        cells,
                    },
                );
            }
            _ => {}
        }
    }
    let mut departments: Vec<String> = required.to_vec();
    for row in latest.values() {
        for d in row.cells.keys() {
            if !departments.contains(d) {
                departments.push(d.clone());
            }
        }
    }
    let not_reviewed = names
        .keys()
        .filter(|c| !latest.contains_key(*c))
        .cloned()
        .collect();
    let rows = latest
        .into_values()
        .map(|mut r| {
            r.name = names.get(&r.candidate_id).cloned();
            r
        })
        .collect();
    ReviewMatrix {
        departments,
        rows,
        not_reviewed,
    }
}

/// How a deferral ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeferralEnd {
    /// `resumed` (疑点消除), `withdrawn` (by the nominator) or `removed`
    /// (从名单上拿下来).
    pub how: &'static str,
    pub position: u64,
    pub occurred_at: String,
}

/// One 暂缓提名: when, why, and how it ended (`None`: still deferred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deferral {
    pub candidate_id: String,
    pub name: Option<String>,
    pub position: u64,
    pub occurred_at: String,
    pub reason: String,
    pub ended: Option<DeferralEnd>,
}

/// Every deferral of `entries` in ledger order, each with its end if any.
pub fn deferrals(entries: &[Entry]) -> Vec<Deferral> {
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut out: Vec<Deferral> = Vec::new();
    for e in entries {
        let Some(c) = e.event.candidate_id.as_deref() else {
            continue;
        };
        let how = match &e.event.body {
            EventBody::Nominated(n) => {
                names.insert(c.to_string(), n.name.clone());
                continue;
            }
            EventBody::NominationDeferred(d) => {
                out.push(Deferral {
                    candidate_id: c.to_string(),
                    name: names.get(c).cloned(),
                    position: e.position,
                    occurred_at: e.event.occurred_at.to_rfc3339(),
                    reason: d.reason.clone(),
                    ended: None,
                });
                continue;
            }
            EventBody::NominationResumed(_) => "resumed",
            EventBody::NominationWithdrawn(_) => "withdrawn",
            EventBody::CandidateRemoved(_) => "removed",
            _ => continue,
        };
        if let Some(open) = out
            .iter_mut()
            .rev()
            .find(|d| d.candidate_id == c && d.ended.is_none())
        {
            open.ended = Some(DeferralEnd {
                how,
                position: e.position,
                occurred_at: e.event.occurred_at.to_rfc3339(),
            });
        }
    }
    out
}

/// One election of a unit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitElection {
    pub election_id: String,
    pub kind: String,
    pub body: String,
    pub term: String,
    pub opened_at: Option<String>,
    pub seats: u32,
    pub candidates: usize,
    pub elected: usize,
    pub last_position: u64,
}

/// The elections of unit `unit_id` (the `unit_id` of their opening), in the
/// order they were opened.
pub fn unit_history(p: &Projections, unit_id: &str) -> Vec<UnitElection> {
    let mut out: Vec<UnitElection> = p
        .elections
        .iter()
        .filter_map(|(id, e)| {
            let o = e.state.opened.as_ref()?;
            (o.unit_id == unit_id).then(|| UnitElection {
                election_id: id.clone(),
                kind: o.kind.clone(),
                body: o.body.clone(),
                term: o.term.clone(),
                opened_at: e
                    .entries
                    .iter()
                    .find(|x| matches!(x.event.body, EventBody::ElectionOpened(_)))
                    .map(|x| x.event.occurred_at.to_rfc3339()),
                seats: o.seats,
                candidates: e
                    .state
                    .candidates
                    .values()
                    .filter(|c| c.nomination.is_some())
                    .count(),
                elected: e.state.candidates.values().filter(|c| c.elected).count(),
                last_position: e.entries.last().map_or(0, |x| x.position),
            })
        })
        .collect();
    out.sort_by(|a, b| a.opened_at.cmp(&b.opened_at));
    out
}

pub use super::composition::{composition, Composition};
