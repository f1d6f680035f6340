//! Replay: every event of an election judged again by `decide`, on the state
//! the events before it fold to, under the procedure recorded for the
//! election (D65–D68). What the gates would have refused, what they would
//! have written otherwise, and what was written around them (no gate mark, or
//! the mark of another procedure) is a finding with its ledger position.
//!
//! Pure, like `decide`: `jishi check`, the server's compliance view and
//! `jishi verify --domain` call the same function on the same entries, so
//! they cannot disagree.
//!
//! How stored events become commands again. `decide` turns one command into
//! `override.recorded`* · act · consequences* (all with the command's header
//! and the recorder as envelope actor), and an opening into
//! `election.opened` · `procedure.adopted`. Replay reads a run of overrides
//! and the act after it as one command (the overrides' rules and
//! justifications), decides it with the act's envelope actor, and compares
//! what `decide` returns with what is stored from the first override on:
//! a stored override that `decide` would not write, or a consequence it
//! would write and is missing, is a finding. Whatever the outcome, the stored
//! events are folded in, so later events are judged on the state the ledger
//! really holds.

use serde::Serialize;

use crate::decide::{decide, Refusal};
use crate::events::{DomainEvent, EventBody};
use crate::procedure::Procedure;
use crate::procedure_record::differences;
use crate::rules::RuleId;
use crate::state::ElectionState;
use crate::views::{check, ComplianceReport, Entry, Finding, FindingKind, StructureRules};
use crate::{Command, OverrideRequest};

/// A stored event of an election stream that is no domain event (only a raw
/// append writes one): kept beside the election's entries so that the views
/// go on and the compliance report shows it, instead of failing every read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub position: u64,
    pub event_type: String,
    pub reason: String,
}

/// What replay found about one stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplayKind {
    /// 未经程序校验的记录: no gate mark, so it was written around the gates
    /// (a raw append or import), whether or not the gates would pass it.
    OutsideGates,
    /// The gates would have refused it (the rule, when it is a rule).
    Refused,
    /// Its gate mark names another procedure than the one recorded in force.
    OtherProcedure,
    /// The gates would have written something else here (an override that
    /// does not match, a consequence missing).
    NotAsDecided,
    /// Not a domain event at all, or not where its payload says it belongs:
    /// only a raw append can write it (found by `jishi verify --domain`,
    /// which reads such events instead of stopping at them).
    Unreadable,
}

impl ReplayKind {
    pub fn label(self) -> &'static str {
        match self {
            ReplayKind::OutsideGates => "未经程序校验的记录 recorded outside the gates",
            ReplayKind::Refused => "程序校验不通过 the gates would have refused it",
            ReplayKind::OtherProcedure => "非现行程序 recorded under another procedure",
            ReplayKind::NotAsDecided => "与程序校验结果不符 not what the gates write",
            ReplayKind::Unreadable => "不可识别的记录 not a domain event",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayFinding {
    pub kind: ReplayKind,
    pub position: u64,
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    pub detail: String,
}

/// The procedure in force from a position on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcedureSpan {
    /// Where it was recorded (`procedure.adopted` or `procedure.amended`);
    /// for a legacy election, the opening's position.
    pub position: u64,
    pub kind: String,
    pub digest: String,
    /// `adopted`, `amended`, or `builtin (legacy)`.
    pub how: String,
    /// What it changes against the one before it, or against the built-in
    /// procedure of its kind for the first one.
    pub changes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct ReplayReport {
    pub election_id: String,
    /// The last position replayed.
    pub as_of: u64,
    /// Set when the election has no recorded procedure: it was replayed
    /// under the built-in one of its kind, and events before the first gate
    /// mark cannot be told from raw ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legacy: Option<String>,
    pub procedures: Vec<ProcedureSpan>,
    pub findings: Vec<ReplayFinding>,
}

/// The procedure the gated path must decide the next command under, from an
/// election's events with their gate marks in ledger order: the last
/// `procedure.adopted` or `procedure.amended` that bears a gate mark (one
/// without was written around the gates and changes nothing), or `None`
/// when there is none (a legacy election, or not yet opened).
pub fn recorded_procedure<'a>(
    events: impl IntoIterator<Item = (&'a DomainEvent, Option<&'a str>)>,
) -> Option<(Procedure, String)> {
    let last = events
        .into_iter()
        .filter(|(e, mark)| {
            mark.is_some()
                && matches!(
                    e.body,
                    EventBody::ProcedureAdopted(_) | EventBody::ProcedureAmended(_)
                )
        })
        .last()?;
    procedure_of_event(last.0)
}

/// The procedure a `procedure.adopted` or `procedure.amended` event carries,
/// loaded, with its digest.
pub fn procedure_of_event(e: &DomainEvent) -> Option<(Procedure, String)> {
    let text = match &e.body {
        EventBody::ProcedureAdopted(b) => &b.content,
        EventBody::ProcedureAmended(b) => &b.content,
        _ => return None,
    };
    Procedure::load_with_digest(text, "<recorded procedure>").ok()
}

/// The procedure in force: recorded, or the built-in one of the kind.
struct InForce {
    procedure: Procedure,
    digest: String,
}

/// Replays one election's entries (its stream and its candidates', in
/// ledger order).
pub fn replay(entries: &[Entry]) -> ReplayReport {
    let mut report = ReplayReport {
        election_id: entries
            .first()
            .map(|e| e.event.election_id.clone())
            .unwrap_or_default(),
        as_of: entries.last().map_or(0, |e| e.position),
        ..ReplayReport::default()
    };
    let mut state = ElectionState::default();
    let mut in_force: Option<InForce> = None;
    // In a legacy election, events before the first gate mark were written
    // before marks existed; from the first one on, a missing mark counts.
    let mut legacy_unmarked_ok = false;
    let mut i = 0;
    while i < entries.len() {
        // One command: a run of overrides and the act after it.
        let start = i;
        while entries
            .get(i)
            .is_some_and(|e| matches!(e.event.body, EventBody::OverrideRecorded(_)))
        {
            i += 1;
        }
        let Some(act) = entries.get(i) else {
            for e in &entries[start..] {
                report.push(
                    e,
                    ReplayKind::NotAsDecided,
                    None,
                    "override.recorded with no act after it".into(),
                );
                state.apply(&e.event);
            }
            break;
        };
        let overrides = &entries[start..i];

        if in_force.is_none() {
            if let EventBody::ElectionOpened(opened) = &act.event.body {
                in_force = procedure_at_opening(entries, i, &opened.kind, &mut report);
                legacy_unmarked_ok = report.legacy.is_some();
            }
        }
        let Some(current) = in_force.as_ref() else {
            // Nothing can be judged before the election is opened under a
            // known procedure: decide would refuse every such event.
            for e in &entries[start..=i] {
                report.push(
                    e,
                    ReplayKind::Refused,
                    None,
                    "recorded before the election was opened under a known procedure".into(),
                );
                state.apply(&e.event);
            }
            i += 1;
            continue;
        };

        let command = Command {
            election_id: act.event.election_id.clone(),
            candidate_id: act.event.candidate_id.clone(),
            occurred_at: act.event.occurred_at,
            body: act.event.body.clone(),
            overrides: overrides
                .iter()
                .filter_map(|o| match &o.event.body {
                    EventBody::OverrideRecorded(b) => Some(OverrideRequest {
                        rule: b.rule,
                        justification: b.justification.clone(),
                    }),
                    _ => None,
                })
                .collect(),
        };
        let mut group_end = i + 1;
        // An override the act does not need is the override's fault, not the
        // act's: it is reported where it is stored, and the act is judged
        // without it.
        let mut command = command;
        let mut kept: Vec<&Entry> = overrides.iter().collect();
        let decided = loop {
            match decide(&state, &act.actor, &command, &current.procedure) {
                Err(Refusal::OverrideNotNeeded { rule }) => {
                    let Some(k) = kept.iter().position(|o| {
                        matches!(&o.event.body, EventBody::OverrideRecorded(b) if b.rule == rule)
                    }) else {
                        break Err(Refusal::OverrideNotNeeded { rule });
                    };
                    report.push(
                        kept[k],
                        ReplayKind::NotAsDecided,
                        Some(rule),
                        format!(
                            "an override of {rule} for {}, which does not break {rule}: the gates write none",
                            act.event.event_type()
                        ),
                    );
                    kept.remove(k);
                    if let Some(j) = command.overrides.iter().position(|o| o.rule == rule) {
                        command.overrides.remove(j);
                    }
                }
                other => break other,
            }
        };
        match decided {
            Err(refusal) => {
                let detail = refusal.to_string();
                report.push(act, ReplayKind::Refused, refusal.rule(), detail);
            }
            Ok(expected) => {
                let n_over = kept.len();
                let want_over = expected
                    .iter()
                    .take_while(|e| matches!(e.body, EventBody::OverrideRecorded(_)))
                    .count();
                if want_over != n_over
                    || kept
                        .iter()
                        .zip(&expected)
                        .any(|(stored, wanted)| stored.event != *wanted)
                {
                    report.push(
                        act,
                        ReplayKind::NotAsDecided,
                        None,
                        format!(
                            "the stored override.recorded events before it ({n_over}) are not the ones the gates write ({want_over})"
                        ),
                    );
                }
                if expected.get(want_over) != Some(&act.event) {
                    report.push(
                        act,
                        ReplayKind::NotAsDecided,
                        None,
                        "the gates would store this act in another form (e.g. a procedure not in canonical form)".into(),
                    );
                }
                for wanted in expected.iter().skip(want_over + 1) {
                    // Openings before procedures were recorded have no
                    // `procedure.adopted`: that is the legacy note, once.
                    let legacy_opening = matches!(wanted.body, EventBody::ProcedureAdopted(_))
                        && report.legacy.is_some();
                    match entries.get(group_end) {
                        _ if legacy_opening => {}
                        Some(next) if next.event == *wanted => group_end += 1,
                        _ => report.push(
                            act,
                            ReplayKind::NotAsDecided,
                            None,
                            format!(
                                "the gates would also have recorded {} right after it",
                                wanted.event_type()
                            ),
                        ),
                    }
                }
            }
        }

        // The gate marks of the whole group: the procedure it was decided under.
        let digest = current.digest.clone();
        for e in &entries[start..group_end] {
            match e.gated_under.as_deref() {
                Some(d) if d == digest => legacy_unmarked_ok = false,
                Some(other) => {
                    legacy_unmarked_ok = false;
                    report.push(
                        e,
                        ReplayKind::OtherProcedure,
                        None,
                        format!(
                            "gated under procedure {}, but {} is in force",
                            short(other),
                            short(&digest)
                        ),
                    );
                }
                None if legacy_unmarked_ok => {}
                None => report.push(
                    e,
                    ReplayKind::OutsideGates,
                    None,
                    "no gate mark: written by a raw append or import, not by jishi record".into(),
                ),
            }
        }

        let refused_here = report
            .findings
            .iter()
            .any(|f| f.position >= entries[start].position && f.position <= act.position);
        for e in &entries[start..group_end] {
            state.apply(&e.event);
        }
        // An amendment the gates passed changes the procedure from here on.
        if let EventBody::ProcedureAmended(b) = &act.event.body {
            if !refused_here {
                if let Ok((p, d)) = Procedure::load_with_digest(&b.content, "<procedure.amended>") {
                    let changes = differences(&current.procedure, &p);
                    report.procedures.push(ProcedureSpan {
                        position: act.position,
                        kind: p.kind.clone(),
                        digest: d.clone(),
                        how: "amended".into(),
                        changes,
                    });
                    in_force = Some(InForce {
                        procedure: p,
                        digest: d,
                    });
                }
            }
        }
        i = group_end;
    }
    report
}

/// The procedure an opening at `i` was decided under: the content of the
/// `procedure.adopted` right after it, or (legacy) the built-in one of the
/// kind, noted in the report.
fn procedure_at_opening(
    entries: &[Entry],
    i: usize,
    kind: &str,
    report: &mut ReplayReport,
) -> Option<InForce> {
    let builtin = Procedure::builtin(kind).ok();
    // Only a marked `procedure.adopted` counts, as for the recorders: one
    // written around the gates must not set the procedure replay judges by.
    let adopted = entries
        .get(i + 1)
        .filter(|e| e.gated_under.is_some())
        .map(|e| &e.event.body);
    if let Some(EventBody::ProcedureAdopted(b)) = adopted {
        match Procedure::load_with_digest(&b.content, "<procedure.adopted>") {
            Ok((p, digest)) => {
                report.procedures.push(ProcedureSpan {
                    position: entries[i + 1].position,
                    kind: p.kind.clone(),
                    digest: digest.clone(),
                    how: "adopted".into(),
                    changes: builtin
                        .as_ref()
                        .map(|b| differences(b, &p))
                        .unwrap_or_else(|| vec![format!("no built-in procedure of kind {kind:?}")]),
                });
                return Some(InForce {
                    procedure: p,
                    digest,
                });
            }
            Err(e) => report.push(
                &entries[i + 1],
                ReplayKind::NotAsDecided,
                None,
                format!("the recorded procedure does not load: {e}"),
            ),
        }
    }
    let p = builtin?;
    let digest = p.digest();
    report.legacy = Some(format!(
        "no procedure recorded at the opening (position {}): replayed under the built-in {kind} procedure of this build; events before the first gate mark cannot be told from raw appends",
        entries[i].position
    ));
    report.procedures.push(ProcedureSpan {
        position: entries[i].position,
        kind: kind.to_string(),
        digest: digest.clone(),
        how: "builtin (legacy)".into(),
        changes: Vec::new(),
    });
    Some(InForce {
        procedure: p,
        digest,
    })
}

fn short(d: &str) -> &str {
    d.get(..12).unwrap_or(d)
}

impl ReplayReport {
    fn push(&mut self, e: &Entry, kind: ReplayKind, rule: Option<RuleId>, detail: String) {
        self.findings.push(ReplayFinding {
            kind,
            position: e.position,
            event_type: e.event.event_type().to_string(),
            candidate_id: e.event.candidate_id.clone(),
            rule,
            detail,
        });
    }

    /// The procedure in force at the end of the replay, if known.
    pub fn in_force(&self) -> Option<&ProcedureSpan> {
        self.procedures.last()
    }
}

/// The compliance report with replay's findings added (D68): what `jishi
/// check` and the server's compliance view show. Replay's findings keep their
/// kind; a procedure that differs from the built-in one of its kind, or is
/// amended, and a legacy election, are shown too, as notes that are no
/// fault in themselves.
pub fn compliance(
    entries: &[Entry],
    procedure: &Procedure,
    rules: &StructureRules,
) -> (ComplianceReport, ReplayReport) {
    compliance_with(entries, &[], procedure, rules)
}

/// As [`compliance`], with the election's events that are no domain event
/// (read beside its entries) reported too.
pub fn compliance_with(
    entries: &[Entry],
    unreadable: &[Unreadable],
    procedure: &Procedure,
    rules: &StructureRules,
) -> (ComplianceReport, ReplayReport) {
    let mut report = check(entries, procedure, rules);
    for u in unreadable {
        report.findings.push(Finding {
            kind: FindingKind::NotAsDecided,
            candidate_id: None,
            rule: None,
            detail: format!(
                "{} at #{}: not a domain event, written around the gates: {}",
                u.event_type, u.position, u.reason
            ),
            evidence: vec![u.position],
        });
    }
    let replayed = replay(entries);
    for f in &replayed.findings {
        report.findings.push(Finding {
            kind: match f.kind {
                ReplayKind::OutsideGates => FindingKind::OutsideGates,
                ReplayKind::Refused => FindingKind::GateRefused,
                ReplayKind::OtherProcedure => FindingKind::OtherProcedure,
                ReplayKind::NotAsDecided | ReplayKind::Unreadable => FindingKind::NotAsDecided,
            },
            candidate_id: f.candidate_id.clone(),
            rule: f.rule,
            detail: format!("{} at #{}: {}", f.event_type, f.position, f.detail),
            evidence: vec![f.position],
        });
    }
    for span in &replayed.procedures {
        if span.changes.is_empty() {
            continue;
        }
        report.findings.push(Finding {
            kind: FindingKind::ProcedureChanged,
            candidate_id: None,
            rule: None,
            detail: format!(
                "procedure {} ({}) {} at #{}{}: {}",
                span.kind,
                short(&span.digest),
                span.how,
                span.position,
                if span.how == "adopted" {
                    ", differing from the built-in one"
                } else {
                    ""
                },
                span.changes.join("; ")
            ),
            evidence: vec![span.position],
        });
    }
    if let Some(note) = &replayed.legacy {
        report.findings.push(Finding {
            kind: FindingKind::LegacyProcedure,
            candidate_id: None,
            rule: None,
            detail: note.clone(),
            evidence: replayed
                .procedures
                .first()
                .map(|p| p.position)
                .into_iter()
                .collect(),
        });
    }
    report.procedures = replayed.procedures.clone();
    (report, replayed)
}
