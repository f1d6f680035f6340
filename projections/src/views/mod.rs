//! The read side: the projections inspectors and investigators query — a
//! candidate's full trail, the responsibility chain (谁提名谁负责、谁考察谁负责、
//! 谁主持会议讨论决定谁负责), compliance findings for an election, and team
//! statistics — each computable **as of** a ledger position.
//!
//! Like the rest of this crate the views are pure: they read [`Entry`] values
//! (a domain event plus the few envelope facts a reader needs: position, times,
//! actor, hash) that the application builds from the ledger. "As of" is then
//! nothing more than "the entries up to that position" ([`as_of`]), and the
//! same code answers today's question and the question "what did they know at
//! the decision".
//!
//! [`Projections`] keeps the views incrementally: entries are applied in
//! ledger order and a caller catches up from [`Projections::last_position`].
//! Rebuilding from position 1 gives the same value (a property test checks it).

pub mod accountability;
pub mod compliance;
pub mod composition;
pub mod facts;
pub mod kept;
pub mod oversight;
pub mod queries;
pub mod redact;
pub mod stats;
pub mod structure;
pub mod supervision;
pub mod trail;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};

use crate::actor::Actor;
use crate::events::DomainEvent;
use crate::state::ElectionState;

pub use accountability::{accountability, Accountability, Duty};
pub use compliance::{check, ComplianceReport, Finding, FindingKind, StructureRules};
pub use kept::{procedure_in_force, KeptCompliance, UnknownProcedure};
pub use redact::{redact_accountability, redact_report, redact_trail, Restricted};
pub use stats::{candidates, stats, summarise, CandidateRow, DistrictStats, TeamStats};
pub use trail::{trail, Trail, TrailRow};

/// One stored event as the views need it: the domain event and the envelope
/// facts that are not in its payload. Built by the application from a ledger
/// row; kept free of any ledger type so that this crate stays storage-free.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Global ledger position: the total order, and the "as of" coordinate.
    pub position: u64,
    pub event_id: String,
    /// When the ledger wrote it (never decreases along positions).
    pub recorded_at: DateTime<FixedOffset>,
    /// Who is responsible for the act as recorded in the envelope.
    pub actor: Actor,
    /// The event hash (BLAKE3), so a reader can match a row against `jishi verify`.
    pub hash: [u8; 32],
    /// The BLAKE3 digest of the payload's canonical bytes: what a reader who may
    /// not see a restricted payload is shown instead of it.
    pub payload_digest: [u8; 32],
    /// The gate mark (D67): the digest of the procedure the gated path
    /// decided this event under; `None` for an event written around the gates.
    pub gated_under: Option<String>,
    pub event: DomainEvent,
}

impl Entry {
    /// The first 12 hex digits of the hash, as `jishi log` shows them.
    pub fn short_hash(&self) -> String {
        self.hash[..6].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Why entries could not be applied to a projection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    /// Entries must come in ledger order; an older position means the caller
    /// replayed something twice or skipped back, and the views would double count.
    #[error(
        "position {position} applied after position {last}: entries must come in ledger order"
    )]
    OutOfOrder { position: u64, last: u64 },
}

/// The prefix of `entries` (sorted by position) recorded at or before `position`.
pub fn as_of(entries: &[Entry], position: u64) -> &[Entry] {
    let end = entries.partition_point(|e| e.position <= position);
    &entries[..end]
}

/// The last position recorded at or before `time` (0 if none): because
/// `recorded_at` never decreases along positions, "as of a time" is "as of this
/// position".
pub fn position_at(entries: &[Entry], time: DateTime<FixedOffset>) -> u64 {
    let end = entries.partition_point(|e| e.recorded_at <= time);
    if end == 0 {
        0
    } else {
        entries[end - 1].position
    }
}

/// One election's projection: its folded state, its entries (the input of the
/// on-demand views: compliance and as-of), and each candidate's responsibility
/// chain kept up to date event by event.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ElectionProjection {
    pub state: ElectionState,
    pub entries: Vec<Entry>,
    pub chains: BTreeMap<String, Accountability>,
    /// Events of the election's streams that are no domain event (D68).
    pub unreadable: Vec<crate::replay::Unreadable>,
    /// The compliance report as last kept by [`Projections::keep_compliance`]
    /// (D118); `None` until then.
    pub compliance: Option<KeptCompliance>,
}

impl ElectionProjection {
    /// A candidate's trail as of the last entry applied.
    pub fn trail(&self, candidate_id: &str) -> Trail {
        trail(&self.entries, candidate_id)
    }

    pub fn stats(&self) -> TeamStats {
        stats(&self.state)
    }
}

/// Every election's projection, kept incrementally from a ledger read in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Projections {
    /// The last position applied: catch up from `last_position + 1`.
    pub last_position: u64,
    pub elections: BTreeMap<String, ElectionProjection>,
    /// Elections with events applied since their compliance was last kept
    /// ([`Projections::keep_compliance`], D118).
    pub stale: BTreeSet<String>,
}

impl Projections {
    /// Applies one entry. Entries of every election may be interleaved, but
    /// positions must increase.
    pub fn apply(&mut self, entry: Entry) -> Result<(), ViewError> {
        if entry.position <= self.last_position {
            return Err(ViewError::OutOfOrder {
                position: entry.position,
                last: self.last_position,
            });
        }
        self.last_position = entry.position;
        self.mark_stale(&entry.event.election_id);
        // Look up before inserting: a rebuild applies millions of entries, and
        // `entry()` would allocate a key for each.
        let id = &entry.event.election_id;
        if !self.elections.contains_key(id) {
            self.elections
                .insert(id.clone(), ElectionProjection::default());
        }
        let Some(election) = self.elections.get_mut(id) else {
            return Ok(());
        };
        election.state.apply(&entry.event);
        if let Some(c) = &entry.event.candidate_id {
            match election.chains.get_mut(c) {
                Some(chain) => chain.push(&entry),
                None => {
                    let mut chain = Accountability::new(id, c);
                    chain.push(&entry);
                    election.chains.insert(c.clone(), chain);
                }
            }
        }
        election.entries.push(entry);
        Ok(())
    }

    /// Keeps an event of `election`'s streams that is no domain event, so
    /// that the views go on and the compliance report can show it.
    pub fn note_unreadable(&mut self, election: &str, u: crate::replay::Unreadable) {
        self.last_position = self.last_position.max(u.position);
        self.mark_stale(election);
        self.elections
            .entry(election.to_string())
            .or_default()
            .unreadable
            .push(u);
    }

    /// Applies entries in order (a catch-up batch).
    pub fn extend(&mut self, entries: impl IntoIterator<Item = Entry>) -> Result<(), ViewError> {
        for e in entries {
            self.apply(e)?;
        }
        Ok(())
    }

    /// The projections of `entries` from scratch.
    pub fn rebuild(entries: impl IntoIterator<Item = Entry>) -> Result<Projections, ViewError> {
        let mut p = Projections::default();
        p.extend(entries)?;
        Ok(p)
    }
}
