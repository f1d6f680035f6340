//! A candidate's full trail (可追溯、可倒查): every event of the candidate in
//! ledger order, with who recorded it, in which role and organisation, when it
//! happened and when it was recorded, its key facts and its short hash.
//! Corrections are shown beside the row they correct, and an act recorded under
//! an override carries the override's rule and justification, so a reader never
//! has to match them up by hand.

use serde::Serialize;

use super::facts::key_facts;
use super::Entry;
use crate::actor::Actor;
use crate::events::{kind_of, EventBody};
use crate::rules::RuleId;

/// A correction pointing at a row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrectionNote {
    /// Position of the `correction.recorded` event.
    pub position: u64,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected: Option<serde_json::Value>,
    pub by: Actor,
}

/// An override under which a row's act was recorded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverrideNote {
    pub position: u64,
    pub rule: RuleId,
    pub justification: String,
    pub authorised_by: Actor,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrailRow {
    pub position: u64,
    pub event_id: String,
    pub event_type: String,
    /// The catalogue's Chinese name of the step, e.g. 组织考察.
    pub step: String,
    pub occurred_at: String,
    pub recorded_at: String,
    pub actor: Actor,
    pub facts: String,
    pub hash: String,
    /// For a correction row: the position of the row it corrects, if found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrections: Vec<CorrectionNote>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideNote>,
    /// Set when the reader may not see this row's content (see [`super::redact`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restricted: Option<super::redact::Restricted>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trail {
    pub election_id: String,
    pub candidate_id: String,
    /// The nominee's name, once nominated.
    pub name: Option<String>,
    /// The last position the trail reflects (the as-of position, or the last
    /// event of the candidate when read today).
    pub as_of: u64,
    pub rows: Vec<TrailRow>,
}

impl Trail {
    pub fn new(election_id: &str, candidate_id: &str) -> Trail {
        Trail {
            election_id: election_id.to_string(),
            candidate_id: candidate_id.to_string(),
            name: None,
            as_of: 0,
            rows: Vec::new(),
        }
    }

    /// Adds the next entry of the candidate (entries of others are ignored).
    pub fn push(&mut self, e: &Entry) {
        if e.event.candidate_id.as_deref() != Some(self.candidate_id.as_str())
            || e.event.election_id != self.election_id
        {
            return;
        }
        self.as_of = self.as_of.max(e.position);
        let mut corrects = None;
        match &e.event.body {
            EventBody::Nominated(b) => self.name = Some(b.name.clone()),
            EventBody::CorrectionRecorded(b) => {
                let target = b.corrects_event_id.trim();
                let note = CorrectionNote {
                    position: e.position,
                    reason: b.reason.clone(),
                    corrected: b.corrected.clone(),
                    by: e.actor.clone(),
                };
                if let Some(row) = self
                    .rows
                    .iter_mut()
                    .find(|r| r.event_id == target || r.position.to_string() == target)
                {
                    corrects = Some(row.position);
                    row.corrections.push(note);
                }
            }
            _ => {}
        }
        // `decide` emits override.recorded immediately before the act, on the
        // act's stream: attach it to the act.
        let mut overrides = Vec::new();
        if !matches!(e.event.body, EventBody::OverrideRecorded(_)) {
            // Walk back over the contiguous run of overrides just before this act.
            let mut expected = e.position;
            for prev in self.rows.iter().rev() {
                if prev.event_type == "override.recorded" && prev.position + 1 == expected {
                    expected = prev.position;
                    if let Some(o) = prev.overrides.first() {
                        overrides.push(o.clone());
                    }
                } else {
                    break;
                }
            }
            overrides.reverse();
        }
        // An override row carries its own note, so that the act can copy it.
        if let EventBody::OverrideRecorded(b) = &e.event.body {
            overrides.push(OverrideNote {
                position: e.position,
                rule: b.rule,
                justification: b.justification.clone(),
                authorised_by: b.authorised_by.clone(),
            });
        }
        let event_type = e.event.event_type();
        self.rows.push(TrailRow {
            position: e.position,
            event_id: e.event_id.clone(),
            event_type: event_type.to_string(),
            step: kind_of(event_type)
                .map(|k| k.label.to_string())
                .unwrap_or_default(),
            occurred_at: e
                .event
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            // The forms the ledger stores (docs/FORMAT.md §3), so a reader can
            // match a row to the envelope byte for byte.
            recorded_at: e
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            actor: e.actor.clone(),
            facts: key_facts(&e.event.body),
            hash: e.short_hash(),
            corrects,
            corrections: Vec::new(),
            overrides,
            restricted: None,
        });
    }
}

/// The trail of `candidate_id` from `entries` (an election's entries, or only
/// the candidate's stream, in ledger order). Pass `as_of(entries, p)` for the
/// trail as it stood at position `p`.
pub fn trail(entries: &[Entry], candidate_id: &str) -> Trail {
    let election = entries
        .iter()
        .find(|e| e.event.candidate_id.as_deref() == Some(candidate_id))
        .map(|e| e.event.election_id.clone())
        .unwrap_or_default();
    let mut t = Trail::new(&election, candidate_id);
    for e in entries {
        t.push(e);
    }
    t
}
