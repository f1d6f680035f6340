//! Hiding restricted content from a reader who may not see it (DOMAIN.md §7).
//!
//! A restricted row keeps everything that makes it traceable — the step, who
//! recorded it, in which role and organisation, when, its position and its
//! hash — and loses only its content, which is replaced by the BLAKE3 digest
//! of the payload the chain commits to. The reader can prove the event exists
//! and is unchanged without learning what it says. Which roles may see which
//! [`Sensitivity`] is the caller's policy, passed in as `may_see`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Accountability, ComplianceReport, Entry, Trail};
use crate::events::{sensitivity_of, Sensitivity};

/// What a reader who may not see a row is shown instead of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restricted {
    pub sensitivity: Sensitivity,
    /// Hex BLAKE3 of the payload's canonical bytes, as stored in the ledger.
    pub payload_digest: String,
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The text shown in place of restricted content.
pub fn placeholder(r: &Restricted) -> String {
    format!(
        "内容受限 restricted ({}) · payload digest {}",
        r.sensitivity.label(),
        r.payload_digest
    )
}

/// The restricted positions among `entries`: those whose content the reader
/// may not see, and corrections of them (a correction repeats the values it
/// corrects).
fn restricted_positions(
    entries: &[Entry],
    may_see: &dyn Fn(Sensitivity) -> bool,
) -> BTreeMap<u64, Restricted> {
    let mut out = BTreeMap::new();
    for e in entries {
        let own = sensitivity_of(e.event.event_type());
        let corrected = match &e.event.body {
            crate::events::EventBody::CorrectionRecorded(b) => {
                let target = b.corrects_event_id.trim();
                entries
                    .iter()
                    .find(|t| t.event_id == target || t.position.to_string() == target)
                    .map(|t| sensitivity_of(t.event.event_type()))
            }
            _ => None,
        };
        let hidden = [Some(own), corrected]
            .into_iter()
            .flatten()
            .find(|s| *s != Sensitivity::Process && !may_see(*s));
        if let Some(sensitivity) = hidden {
            out.insert(
                e.position,
                Restricted {
                    sensitivity,
                    payload_digest: hex(&e.payload_digest),
                },
            );
        }
    }
    out
}

/// Hides the content of the trail's restricted rows, and of corrections
/// attached to them.
pub fn redact_trail(trail: &mut Trail, entries: &[Entry], may_see: &dyn Fn(Sensitivity) -> bool) {
    let hidden = restricted_positions(entries, may_see);
    for row in &mut trail.rows {
        for note in &mut row.corrections {
            if let Some(r) = hidden.get(&note.position) {
                note.reason = placeholder(r);
                note.corrected = None;
            }
        }
        if let Some(r) = hidden.get(&row.position) {
            row.facts = placeholder(r);
            row.restricted = Some(r.clone());
        }
    }
}

/// Hides the details of duties whose act is restricted, and the persons the
/// restricted payload names (a petition's handler and leader are content of
/// the petition, D51). Who recorded the act stays visible, with its role,
/// organisation, time and position, so the chain still says who answers.
pub fn redact_accountability(
    a: &mut Accountability,
    entries: &[Entry],
    may_see: &dyn Fn(Sensitivity) -> bool,
) {
    let hidden = restricted_positions(entries, may_see);
    for duty in &mut a.duties {
        if let Some(r) = hidden.get(&duty.position) {
            duty.detail = placeholder(r);
            duty.responsible.clear();
        }
    }
}

/// Hides the text of every finding whose evidence includes a position the
/// reader may not see (its text is drawn from those payloads: a petition's
/// conclusion, an objection). The finding's kind, rule, candidate and
/// evidence positions stay, so the reader knows it exists and where (D51).
///
/// Returns the candidates for whom the report, as left, shows restricted
/// content to this reader: the caller records a read for each (D52).
pub fn redact_report(
    report: &mut ComplianceReport,
    entries: &[Entry],
    may_see: &dyn Fn(Sensitivity) -> bool,
) -> BTreeSet<String> {
    let hidden = restricted_positions(entries, may_see);
    // What is restricted from anyone: for a reader who sees it, a finding
    // resting on it shows restricted content.
    let restricted = restricted_positions(entries, &|_| false);
    let candidate_at: BTreeMap<u64, &str> = entries
        .iter()
        .filter_map(|e| Some((e.position, e.event.candidate_id.as_deref()?)))
        .collect();
    let mut shown = BTreeSet::new();
    for f in &mut report.findings {
        if let Some(r) = f.evidence.iter().find_map(|p| hidden.get(p)) {
            f.detail = format!("{}: {}", f.kind.label(), placeholder(r));
            continue;
        }
        for p in f.evidence.iter().filter(|p| restricted.contains_key(p)) {
            let c = candidate_at.get(p).copied().or(f.candidate_id.as_deref());
            if let Some(c) = c {
                shown.insert(c.to_string());
            }
        }
    }
    shown
}
