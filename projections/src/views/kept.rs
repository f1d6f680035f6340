//! Compliance kept with each election's projection (D118), so that the list
//! of elections with their findings is a read of kept results and not a
//! replay of every election per request.
//!
//! An election's compliance is [`crate::replay::compliance_with`]: the
//! structure checks and every event judged again by `decide` on the state
//! before it. Both read the election's whole history, and the findings of an
//! event can change when a later one arrives (a correction, a petition after
//! the decision, a void), so a report cannot be extended by folding the new
//! event alone. What is kept instead is the last report, with the position
//! it covers; [`Projections::apply`] marks the election stale, and
//! [`Projections::keep_compliance`] computes the report again for the stale
//! elections only. A catch-up after one recording recomputes one election;
//! the first catch-up of a large ledger computes each election once.

use std::borrow::Cow;

use super::{ComplianceReport, ElectionProjection, Entry, Projections, StructureRules};
use crate::procedure::{Procedure, ProcedureError};

/// An election's compliance report as last computed.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptCompliance {
    /// The last position of the election (entries and unreadable events)
    /// the report covers: the report is current while it is still the
    /// election's last.
    pub through: u64,
    /// `None` when the election's procedure is unknown (not opened, or a
    /// kind with no built-in procedure and none recorded): then it has no
    /// compliance to report.
    pub report: Option<ComplianceReport>,
}

/// Why an election's procedure is unknown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnknownProcedure {
    #[error("the election has no election.opened event, so its procedure is unknown")]
    NotOpened,
    #[error(transparent)]
    Procedure(#[from] ProcedureError),
}

/// The procedure an election's views are computed under when none is given:
/// the one recorded in force (D65), else the built-in one of the kind its
/// opening names.
pub fn procedure_in_force(entries: &[Entry]) -> Result<Procedure, UnknownProcedure> {
    if let Some((p, _)) = crate::replay::recorded_procedure(
        entries.iter().map(|e| (&e.event, e.gated_under.as_deref())),
    ) {
        return Ok(p);
    }
    let kind = crate::fold(entries.iter().map(|e| &e.event))
        .opened
        .map(|o| o.kind)
        .ok_or(UnknownProcedure::NotOpened)?;
    Ok(Procedure::builtin(&kind)?)
}

impl ElectionProjection {
    /// The last position of the election, its unreadable events included.
    pub fn last_position(&self) -> u64 {
        let entries = self.entries.last().map_or(0, |e| e.position);
        let unreadable = self.unreadable.last().map_or(0, |u| u.position);
        entries.max(unreadable)
    }

    /// The compliance report of the election now, computed from scratch
    /// under the default structure rules, as the server shows it.
    pub fn compliance_now(&self) -> Option<ComplianceReport> {
        let procedure = procedure_in_force(&self.entries).ok()?;
        let (report, _) = crate::replay::compliance_with(
            &self.entries,
            &self.unreadable,
            &procedure,
            &StructureRules::default(),
        );
        Some(report)
    }

    /// The compliance report now: the kept one when it is current, else
    /// computed (a projection read without [`Projections::keep_compliance`]
    /// is still right, only slower).
    pub fn compliance(&self) -> Option<Cow<'_, ComplianceReport>> {
        match &self.compliance {
            Some(k) if k.through == self.last_position() => k.report.as_ref().map(Cow::Borrowed),
            _ => self.compliance_now().map(Cow::Owned),
        }
    }
}

impl Projections {
    /// Computes again the compliance of every election that changed since
    /// the last call; returns how many were computed.
    pub fn keep_compliance(&mut self) -> usize {
        let stale = std::mem::take(&mut self.stale);
        let mut n = 0;
        for id in &stale {
            if let Some(e) = self.elections.get_mut(id) {
                e.compliance = Some(KeptCompliance {
                    through: e.last_position(),
                    report: e.compliance_now(),
                });
                n += 1;
            }
        }
        n
    }

    /// Whether an election changed since its compliance was last kept.
    pub fn is_stale(&self, election_id: &str) -> bool {
        self.stale.contains(election_id)
    }

    pub(super) fn mark_stale(&mut self, election_id: &str) {
        // Looked up first: a rebuild applies millions of entries to tens of
        // thousands of elections, and an insert would allocate for each.
        if !self.stale.contains(election_id) {
            self.stale.insert(election_id.to_string());
        }
    }
}
