//! Supervision coverage (D29, DOMAIN-DETAIL.md §4 query 16): which steps of
//! the procedure the supervision group (督导组) observed, which it did not,
//! and what it found. Seed 000:12 asks for "对提名推荐、考察、公示、换届选举等各个环节进行严格督促检查".

use serde::Serialize;

use super::Entry;
use crate::events::EventBody;
use crate::procedure::Procedure;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepCoverage {
    pub step: String,
    pub name: String,
    /// Positions of the visits to it.
    pub visits: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SupervisionFinding {
    pub position: u64,
    pub step: String,
    pub nonconformity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrective_order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coverage {
    /// Every step of the procedure, in order, with its visits (none: not observed).
    pub steps: Vec<StepCoverage>,
    pub findings: Vec<SupervisionFinding>,
}

impl Coverage {
    pub fn unobserved(&self) -> impl Iterator<Item = &StepCoverage> {
        self.steps.iter().filter(|s| s.visits.is_empty())
    }
}

/// The coverage of one election's entries in ledger order.
pub fn coverage(entries: &[Entry], procedure: &Procedure) -> Coverage {
    let mut steps: Vec<StepCoverage> = procedure
        .steps
        .iter()
        .map(|s| StepCoverage {
            step: s.id.clone(),
            name: s.name.clone(),
            visits: Vec::new(),
        })
        .collect();
    let mut findings = Vec::new();
    for e in entries {
        let EventBody::SupervisionVisited(v) = &e.event.body else {
            continue;
        };
        if let Some(s) = steps.iter_mut().find(|s| s.step == v.step) {
            s.visits.push(e.position);
        }
        for n in &v.nonconformities {
            findings.push(SupervisionFinding {
                position: e.position,
                step: v.step.clone(),
                nonconformity: n.clone(),
                corrective_order: v.corrective_order.clone(),
            });
        }
    }
    Coverage { steps, findings }
}
