//! Compliance findings for one election: what an inspector or an accountability
//! investigation must see even though (or because) it was recorded — overrides,
//! late reports (R4), short publicity (R5), the differential ratio (R6), proxy
//! (R7) and scrutineer (R8) faults, the structure checks of DOMAIN.md §4,
//! decisions taken while a petition or objection was open, and petitions that
//! arrived after the decision (the as-of view at the decision compared with
//! today's). Every finding names its evidence by ledger position, so that it
//! can be checked against the trail and proven with an inclusion proof.
//!
//! Most rule breaks cannot be recorded without an override, so most findings
//! pair with an `override` finding; the point of recomputing them is that the
//! report states the fact (how late, how short, how many) rather than only
//! "an override happened".

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::facts::conclusion_label;
use super::Entry;
use crate::events::{EventBody, PetitionConclusion};
use crate::procedure::Procedure;
use crate::rules::RuleId;
use crate::state::ElectionState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// An act recorded despite a rule, with its justification.
    Override,
    /// R4: an investigation result later than the deadline, or none past it.
    LateReport,
    /// R5: publicity concluded before its period ran.
    ShortPublicity,
    /// R6: fewer candidates on the ballot than the differential ratio needs.
    DifferentialRatio,
    /// R7: proxy faults.
    Proxy,
    /// R8: mobile-box scrutineer faults.
    Scrutineer,
    /// Structure: fewer than the share (2/3) with ≥ 2 years of township work.
    TownshipWork,
    /// Structure: fewer women than required (at least one).
    Women,
    /// Structure: fewer cadres under 35 than required.
    YoungCadres,
    /// Structure: a continuing member unable to serve 3 more years, or a new
    /// one unable to serve a full term, before the retirement age.
    ServiceTerm,
    /// A decision taken while a petition or publicity objection on the
    /// candidate was open (ignored, or overridden under R3).
    OpenAtDecision,
    /// A petition received after the decision: not known when deciding.
    ArrivedAfterDecision,
    /// A petition received before the decision but recorded after it: known
    /// to someone, missing from the record the committee decided on (D24).
    RecordedLate,
    /// R9: vote buying established, with its consequence.
    VoteBuying,
    /// A nomination deferred (暂缓提名) and not resumed.
    Deferred,
    /// Replay (D68): an event of the election with no gate mark, written by
    /// a raw append or import.
    OutsideGates,
    /// Replay: an event the gates would have refused.
    GateRefused,
    /// Replay: an event gated under another procedure than the one in force.
    OtherProcedure,
    /// Replay: stored events that are not what the gates write.
    NotAsDecided,
    /// The procedure in force differs from the built-in one, or was amended
    /// (a note: recorded openly, not a fault in itself).
    ProcedureChanged,
    /// No procedure recorded at the opening (a legacy election): replayed
    /// under the built-in one (a note).
    LegacyProcedure,
}

impl FindingKind {
    /// Every kind, so that a reader can name one (a search by kind) and a
    /// misspelt one is refused by name. The match in `every_kind_is_listed`
    /// stops the build when a kind is added and not listed here.
    pub const ALL: &'static [FindingKind] = &[
        FindingKind::Override,
        FindingKind::LateReport,
        FindingKind::ShortPublicity,
        FindingKind::DifferentialRatio,
        FindingKind::Proxy,
        FindingKind::Scrutineer,
        FindingKind::TownshipWork,
        FindingKind::Women,
        FindingKind::YoungCadres,
        FindingKind::ServiceTerm,
        FindingKind::OpenAtDecision,
        FindingKind::ArrivedAfterDecision,
        FindingKind::RecordedLate,
        FindingKind::VoteBuying,
        FindingKind::Deferred,
        FindingKind::OutsideGates,
        FindingKind::GateRefused,
        FindingKind::OtherProcedure,
        FindingKind::NotAsDecided,
        FindingKind::ProcedureChanged,
        FindingKind::LegacyProcedure,
    ];

    pub fn label(self) -> &'static str {
        match self {
            FindingKind::Override => "越过规则记录 override",
            FindingKind::LateReport => "查核超期 late report (R4)",
            FindingKind::RecordedLate => "补录 received before the decision, recorded after it",
            FindingKind::ShortPublicity => "公示期不足 short publicity (R5)",
            FindingKind::DifferentialRatio => "差额不足 differential ratio (R6)",
            FindingKind::Proxy => "委托投票 proxy (R7)",
            FindingKind::Scrutineer => "流动票箱监票 scrutineers (R8)",
            FindingKind::TownshipWork => "乡镇工作经历不足2/3 township work share",
            FindingKind::Women => "无女干部 no woman",
            FindingKind::YoungCadres => "35岁以下干部不足 under-35 cadres",
            FindingKind::ServiceTerm => "任职年限不足 cannot serve the term",
            FindingKind::OpenAtDecision => "带着未结问题决定 decided while open",
            FindingKind::ArrivedAfterDecision => "决定后收到举报 arrived after decision",
            FindingKind::VoteBuying => "拉票贿选 vote buying (R9)",
            FindingKind::Deferred => "暂缓提名 deferred nomination",
            FindingKind::OutsideGates => "未经程序校验的记录 recorded outside the gates",
            FindingKind::GateRefused => "程序校验不通过 the gates would have refused it",
            FindingKind::OtherProcedure => "非现行程序 recorded under another procedure",
            FindingKind::NotAsDecided => "与程序校验结果不符 not what the gates write",
            FindingKind::ProcedureChanged => "程序变更 procedure differs or amended",
            FindingKind::LegacyProcedure => "未记录程序 no recorded procedure (legacy)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<RuleId>,
    pub detail: String,
    /// Ledger positions of the events that show it.
    pub evidence: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplianceReport {
    pub election_id: String,
    /// The last position considered.
    pub as_of: u64,
    pub findings: Vec<Finding>,
    /// The procedures in force, from where each was recorded (D65), filled
    /// in by `replay::compliance`; empty from `check` alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub procedures: Vec<crate::replay::ProcedureSpan>,
}

impl ComplianceReport {
    pub fn of_kind(&self, kind: FindingKind) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(move |f| f.kind == kind)
    }
}

pub use super::structure::StructureRules;

/// Where a petition's life events sit in the ledger.
#[derive(Default)]
struct PetitionTrack {
    received: Option<(u64, NaiveDate)>,
    result: Option<(u64, NaiveDate)>,
    closed: Option<(u64, PetitionConclusion)>,
    overridden_r4: bool,
}

/// What was open on a candidate when the committee decided.
struct DecisionSnapshot {
    candidate: String,
    position: u64,
    decided_at: chrono::DateTime<chrono::FixedOffset>,
    overridden_r3: bool,
    open_petitions: Vec<String>,
    open_objections: Vec<String>,
}

/// The compliance report of one election from its entries in ledger order
/// (pass `as_of(entries, p)` for the report as it stood at `p`).
pub fn check(entries: &[Entry], procedure: &Procedure, rules: &StructureRules) -> ComplianceReport {
    let mut findings = Vec::new();
    let mut state = ElectionState::default();
    let mut petitions: BTreeMap<(String, String), PetitionTrack> = BTreeMap::new();
    let mut nominated_at: BTreeMap<String, u64> = BTreeMap::new();
    let mut publicity_started: BTreeMap<String, (u64, NaiveDate)> = BTreeMap::new();
    let mut decisions: Vec<DecisionSnapshot> = Vec::new();
    let mut deferred: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut objections_at: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut vote_date: Option<NaiveDate> = None;
    let mut last_date: Option<NaiveDate> = None;
    // Rules overridden for the act at the next position (decide puts the
    // override just before its act).
    let mut pending_overrides: Vec<RuleId> = Vec::new();

    for (i, e) in entries.iter().enumerate() {
        let ev = &e.event;
        let day = ev.occurred_at.date_naive();
        last_date = Some(last_date.map_or(day, |d| d.max(day)));
        let cand = ev.candidate_id.clone();
        let key = |id: &str| (cand.clone().unwrap_or_default(), id.to_string());
        let overridden = std::mem::take(&mut pending_overrides);
        match &ev.body {
            EventBody::OverrideRecorded(b) => {
                // The act follows the run of overrides decide put before it.
                let act = entries[i + 1..]
                    .iter()
                    .find(|n| !matches!(n.event.body, EventBody::OverrideRecorded(_)))
                    .filter(|n| n.event.event_type() == b.overridden_event_type);
                let mut evidence = vec![e.position];
                evidence.extend(act.map(|a| a.position));
                findings.push(Finding {
                    kind: FindingKind::Override,
                    candidate_id: cand.clone(),
                    rule: Some(b.rule),
                    detail: format!(
                        "{} recorded despite {} by {} ({}, {}): {} — refusal was: {}",
                        b.overridden_event_type,
                        b.rule,
                        b.authorised_by.name,
                        b.authorised_by.id,
                        b.authorised_by.role,
                        b.justification,
                        b.violation
                    ),
                    evidence,
                });
                pending_overrides = overridden;
                pending_overrides.push(b.rule);
            }
            EventBody::Nominated(_) => {
                if let Some(c) = &cand {
                    nominated_at.insert(c.clone(), e.position);
                }
            }
            EventBody::PetitionReceived(b) => {
                petitions.entry(key(&b.petition_id)).or_default().received =
                    Some((e.position, day));
            }
            EventBody::PetitionInvestigated(b) => {
                let t = petitions.entry(key(&b.petition_id)).or_default();
                if t.result.is_none() {
                    t.result = Some((e.position, day));
                    t.overridden_r4 |= overridden.contains(&RuleId::R4);
                }
            }
            EventBody::PetitionClosed(b) => {
                let t = petitions.entry(key(&b.petition_id)).or_default();
                if t.result.is_none() {
                    t.result = Some((e.position, day));
                    t.overridden_r4 |= overridden.contains(&RuleId::R4);
                }
                t.closed = Some((e.position, b.conclusion));
                if b.conclusion == PetitionConclusion::VoteBuying {
                    findings.push(vote_buying_finding(entries, i, &b.note));
                }
            }
            EventBody::VoteBuyingFound(b) => {
                findings.push(vote_buying_finding(entries, i, &b.summary));
            }
            EventBody::PublicityObjectionReceived(b) => {
                objections_at.insert(key(&b.objection_id), e.position);
            }
            EventBody::CommitteeDecided(_) => {
                // The as-of view at the decision: the state just before it.
                if let Some(c) = cand.as_ref().and_then(|c| state.candidate(c)) {
                    decisions.push(DecisionSnapshot {
                        candidate: cand.clone().unwrap_or_default(),
                        position: e.position,
                        decided_at: ev.occurred_at,
                        overridden_r3: overridden.contains(&RuleId::R3),
                        open_petitions: c.open_petitions().iter().map(|s| s.to_string()).collect(),
                        open_objections: c
                            .unresolved_objections()
                            .iter()
                            .map(|s| s.to_string())
                            .collect(),
                    });
                }
            }
            EventBody::PublicityStarted(_) => {
                if let Some(c) = &cand {
                    publicity_started.insert(c.clone(), (e.position, day));
                }
            }
            EventBody::PublicityConcluded(_) => {
                if let Some((start_pos, start)) =
                    cand.as_ref().and_then(|c| publicity_started.get(c))
                {
                    let days = procedure.publicity_working_days;
                    let earliest = procedure.calendar.nth_working_day_after(*start, days);
                    if day < earliest {
                        let ran = procedure.calendar.working_days_between(*start, day);
                        findings.push(Finding {
                            kind: FindingKind::ShortPublicity,
                            candidate_id: cand.clone(),
                            rule: Some(RuleId::R5),
                            detail: format!(
                                "publicity from {start} concluded on {day} after {ran} of {days} working days (earliest {earliest}){}",
                                overridden_note(&overridden, RuleId::R5)
                            ),
                            evidence: vec![*start_pos, e.position],
                        });
                    }
                }
            }
            EventBody::NominationDeferred(b) => {
                if let Some(c) = &cand {
                    deferred.insert(c.clone(), (e.position, b.reason.clone()));
                }
            }
            EventBody::NominationResumed(_) => {
                if let Some(c) = &cand {
                    deferred.remove(c);
                }
            }
            EventBody::VoteHeld(b) => {
                vote_date = Some(day);
                vote_findings(&state, procedure, b, e.position, &overridden, &mut findings);
            }
            _ => {}
        }
        state.apply(ev);
    }

    // R4: results later than the deadline, or still missing past it.
    for ((candidate, petition), t) in &petitions {
        let Some((received_pos, received)) = t.received else {
            continue;
        };
        let due = procedure
            .calendar
            .nth_working_day_after(received, procedure.report_deadline_working_days);
        let late = match t.result {
            Some((pos, day)) if day > due => Some((
                vec![received_pos, pos],
                format!("result dated {day}, due by {due}"),
            )),
            None if last_date.is_some_and(|d| d > due) => {
                Some((vec![received_pos], format!("no result yet; due by {due}")))
            }
            _ => None,
        };
        if let Some((evidence, what)) = late {
            findings.push(Finding {
                kind: FindingKind::LateReport,
                candidate_id: Some(candidate.clone()),
                rule: Some(RuleId::R4),
                detail: format!(
                    "{petition} received {received}: {what} ({} working days){}",
                    procedure.report_deadline_working_days,
                    if t.overridden_r4 {
                        "; recorded under an R4 override"
                    } else {
                        ""
                    }
                ),
                evidence,
            });
        }
    }

    // The decision's view compared with today's.
    for d in &decisions {
        let today = state.candidate(&d.candidate);
        for p in &d.open_petitions {
            let t = petitions.get(&(d.candidate.clone(), p.clone()));
            let mut evidence: Vec<u64> = t
                .and_then(|t| t.received)
                .map(|r| r.0)
                .into_iter()
                .collect();
            evidence.push(d.position);
            findings.push(Finding {
                kind: FindingKind::OpenAtDecision,
                candidate_id: Some(d.candidate.clone()),
                rule: Some(RuleId::R3),
                detail: format!(
                    "petition {p} was open when the committee decided ({}){}",
                    if d.overridden_r3 {
                        "overridden under R3"
                    } else {
                        "ignored"
                    },
                    closing_note(t)
                ),
                evidence,
            });
        }
        for o in &d.open_objections {
            let mut evidence: Vec<u64> = objections_at
                .get(&(d.candidate.clone(), o.clone()))
                .copied()
                .into_iter()
                .collect();
            evidence.push(d.position);
            findings.push(Finding {
                kind: FindingKind::OpenAtDecision,
                candidate_id: Some(d.candidate.clone()),
                rule: Some(RuleId::R3),
                detail: format!(
                    "publicity objection {o} was unresolved when the committee decided ({})",
                    if d.overridden_r3 {
                        "overridden under R3"
                    } else {
                        "ignored"
                    }
                ),
                evidence,
            });
        }
        let Some(today) = today else { continue };
        for id in today.petitions.keys() {
            let t = petitions.get(&(d.candidate.clone(), id.clone()));
            let Some((received_pos, received)) = t.and_then(|t| t.received) else {
                continue;
            };
            if received_pos > d.position {
                let mut evidence = vec![d.position, received_pos];
                evidence.extend(t.and_then(|t| t.closed).map(|c| c.0));
                // Judged by when it was received, not when it was entered.
                let received_at = today.petitions.get(id).map(|p| p.received_at);
                if received_at.is_some_and(|r| r < d.decided_at) {
                    findings.push(Finding {
                        kind: FindingKind::RecordedLate,
                        candidate_id: Some(d.candidate.clone()),
                        rule: Some(RuleId::R3),
                        detail: format!(
                            "petition {id} was received on {received}, before the decision at position {} ({}), but recorded only at position {received_pos}: the decision was taken on a record that lacked it{}",
                            d.position,
                            d.decided_at.date_naive(),
                            closing_note(t)
                        ),
                        evidence,
                    });
                    continue;
                }
                findings.push(Finding {
                    kind: FindingKind::ArrivedAfterDecision,
                    candidate_id: Some(d.candidate.clone()),
                    rule: None,
                    detail: format!(
                        "petition {id} arrived on {received}, after the decision at position {} — not known when deciding{}",
                        d.position,
                        closing_note(t)
                    ),
                    evidence,
                });
            }
        }
    }

    for (c, (pos, reason)) in &deferred {
        findings.push(Finding {
            kind: FindingKind::Deferred,
            candidate_id: Some(c.clone()),
            rule: None,
            detail: format!("deferred and not resumed: {reason}"),
            evidence: vec![*pos],
        });
    }

    super::structure::structure_findings(
        &state,
        &rules.over(&procedure.structure_rules()),
        vote_date.or(last_date),
        &nominated_at,
        &mut findings,
    );

    ComplianceReport {
        election_id: state.election_id.clone().unwrap_or_default(),
        as_of: entries.last().map_or(0, |e| e.position),
        findings,
        procedures: Vec::new(),
    }
}

fn overridden_note(overridden: &[RuleId], rule: RuleId) -> String {
    if overridden.contains(&rule) {
        format!("; recorded under an {rule} override")
    } else {
        String::new()
    }
}

fn closing_note(t: Option<&PetitionTrack>) -> String {
    match t.and_then(|t| t.closed) {
        Some((pos, c)) => format!("; closed at position {pos}: {}", conclusion_label(c)),
        None => "; still open".to_string(),
    }
}

/// A vote-buying finding and the consequence events `decide` put right after it.
fn vote_buying_finding(entries: &[Entry], i: usize, summary: &str) -> Finding {
    let e = &entries[i];
    let mut evidence = vec![e.position];
    let mut consequence = "no consequence event (not listed or elected)".to_string();
    if let Some(next) = entries.get(i + 1) {
        if next.event.candidate_id == e.event.candidate_id {
            match &next.event.body {
                EventBody::ElectionVoided(_) => {
                    evidence.push(next.position);
                    consequence = "election declared void (当选无效)".into();
                }
                EventBody::CandidateRemoved(_) => {
                    evidence.push(next.position);
                    consequence = "removed from the list (拿下来)".into();
                }
                _ => {}
            }
        }
    }
    Finding {
        kind: FindingKind::VoteBuying,
        candidate_id: e.event.candidate_id.clone(),
        rule: Some(RuleId::R9),
        detail: format!("{summary}; {consequence}"),
        evidence,
    }
}

fn vote_findings(
    state: &ElectionState,
    procedure: &Procedure,
    vote: &crate::events::VoteHeld,
    position: u64,
    overridden: &[RuleId],
    findings: &mut Vec<Finding>,
) {
    let mut push = |kind, rule: RuleId, detail: String| {
        findings.push(Finding {
            kind,
            candidate_id: None,
            rule: Some(rule),
            detail: format!("{detail}{}", overridden_note(overridden, rule)),
            evidence: vec![position],
        })
    };
    if let Some(opened) = &state.opened {
        let listed = state
            .candidates
            .values()
            .filter(|c| c.listed && c.is_active())
            .count() as u64;
        let ratio = procedure
            .min_differential_ratio
            .max(opened.last_term_differential_ratio.unwrap_or(0.0));
        let permille = (ratio.max(0.0) * 1000.0).round() as u64;
        let seats = u64::from(opened.seats);
        let needed = (seats * (1000 + permille)).div_ceil(1000);
        if listed < needed {
            push(
                FindingKind::DifferentialRatio,
                RuleId::R6,
                format!(
                    "{listed} candidates for {seats} seats, {needed} needed at {:.1}%",
                    ratio * 100.0
                ),
            );
        }
    }
    let mut per_holder: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &vote.proxies {
        *per_holder.entry(&p.holder_id).or_default() += p.giver_ids.len();
        if !p.committee_approved {
            push(
                FindingKind::Proxy,
                RuleId::R7,
                format!(
                    "proxy held by {} without the committee's consent",
                    p.holder_id
                ),
            );
        }
        if state.candidate(&p.holder_id).is_some_and(|c| c.listed) {
            push(
                FindingKind::Proxy,
                RuleId::R7,
                format!("proxy holder {} is a formal candidate", p.holder_id),
            );
        }
    }
    for (holder, n) in per_holder {
        if n > procedure.max_proxies_per_holder as usize {
            push(
                FindingKind::Proxy,
                RuleId::R7,
                format!(
                    "{holder} carried {n} proxies (at most {})",
                    procedure.max_proxies_per_holder
                ),
            );
        }
    }
    for b in &vote.mobile_boxes {
        let distinct: std::collections::BTreeSet<&str> =
            b.scrutineers.iter().map(String::as_str).collect();
        let mut faults = Vec::new();
        if distinct.len() < procedure.min_mobile_box_scrutineers as usize {
            faults.push(format!(
                "{} scrutineer(s), at least {}",
                distinct.len(),
                procedure.min_mobile_box_scrutineers
            ));
        }
        if !b.sealed || !b.signed {
            faults.push("not sealed and signed".into());
        }
        if !b.made_by_committee {
            faults.push("not made by the election committee".into());
        }
        if !b.voters_registered {
            faults.push("voters not registered".into());
        }
        if !faults.is_empty() {
            push(
                FindingKind::Scrutineer,
                RuleId::R8,
                format!("mobile box {}: {}", b.box_id, faults.join(", ")),
            );
        }
    }
}

/// The members the structure checks look at: those elected (and not voided)
/// once anyone is elected; before the vote, those on the candidate list; before
/// that, those the committee approved. Empty before any decision.
pub fn team(
    state: &ElectionState,
) -> (Vec<(&String, &crate::state::CandidateState)>, &'static str) {
    let pick = |f: &dyn Fn(&crate::state::CandidateState) -> bool| {
        state
            .candidates
            .iter()
            .filter(|(_, c)| f(c))
            .collect::<Vec<_>>()
    };
    // Once the vote has produced winners, the team is the winners whose
    // election stands, even when voiding leaves it short.
    let elected = pick(&|c| c.holds_seat());
    if state.candidates.values().any(|c| c.elected) {
        return (elected, "elected 当选");
    }
    let listed = pick(&|c| c.listed && c.is_active());
    if !listed.is_empty() {
        return (listed, "listed 候选人");
    }
    (
        pick(&|c| c.is_active() && c.decision == Some(crate::events::DecisionOutcome::Approved)),
        "approved 拟提名",
    )
}

#[allow(dead_code)]
fn every_kind_is_listed(k: FindingKind) {
    use FindingKind::*;
    match k {
        Override | LateReport | ShortPublicity | DifferentialRatio | Proxy | Scrutineer
        | TownshipWork | Women | YoungCadres | ServiceTerm | OpenAtDecision
        | ArrivedAfterDecision | RecordedLate | VoteBuying | Deferred | OutsideGates
        | GateRefused | OtherProcedure | NotAsDecided | ProcedureChanged | LegacyProcedure => {}
    }
}
