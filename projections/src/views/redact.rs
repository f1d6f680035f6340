//! Hiding restricted content from a reader who may not see it (DOMAIN.md §7).
//!
//! A restricted row keeps everything that makes it traceable — the step, who
//! recorded it, in which role and organisation, when, its position and its
//! hash — and loses only its content, which is replaced by the BLAKE3 digest
//! of the payload the chain commits to. The reader can prove the event exists
//! and is unchanged without learning what it says. Which roles may see which
//! [`Sensitivity`] is the caller's policy, passed in as `may_see`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Accountability, Entry, Trail};
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

/// Hides the details of duties whose act is restricted; who answers for it
/// stays visible (谁考察谁负责 holds whatever the content).
pub fn redact_accountability(
    a: &mut Accountability,
    entries: &[Entry],
    may_see: &dyn Fn(Sensitivity) -> bool,
) {
    let hidden = restricted_positions(entries, may_see);
    for duty in &mut a.duties {
        if let Some(r) = hidden.get(&duty.position) {
            duty.detail = placeholder(r);
        }
    }
}
