//! `decide`: judge a command against the election's state and the procedure, and
//! either refuse it (naming the rule and its source) or return the events to
//! append. Pure: no clock, no I/O; the same inputs always give the same answer, so
//! every rule is a unit test of a few lines and a decision can be re-checked later.
//!
//! Where each rule is enforced (see also README.md):
//! - R1  `check_order` — step order, predecessors, 抢跑 in time, inactive candidates
//! - R2  `check_four_checks` — decision/candidacy only with the required checks clean
//! - R3  `check_open_issues` — open specific petitions and unresolved objections block
//! - R4  `check_report_deadlines` — late investigation results; open reports at inspection end
//! - R5  `check_publicity_period`
//! - R6, R7, R8  `check_vote` — differential ratio, proxies, mobile boxes
//! - R9  `check_vote_buying` and `consequences` — refusal, then removal / voiding events
//! - R10 `check_recusal` — conflicts at inspection and decision; unresigned committee members
//! - R11 `check_role` — role per step/event and organisation scope
//! - R12 `check_withdrawal` — withdrawal only by the nominator on record; none after it
//!
//! Overrides (D20): an act that breaks a rule is recorded only with
//! `--override RULE` and an unused `override.granted` for that rule, act and
//! candidate from a role `[overrides]` names other than the recorder's own
//! (`grant_for`), so no one excuses their own act.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use crate::actor::{org_covers, Actor};
use crate::command::Command;
use crate::events::{
    kind_of, CandidateRemoved, DisciplineOpinion, DomainEvent, ElectionVoided, EventBody,
    OverrideRecorded, PersonalMattersOutcome, PetitionConclusion, Scope,
};
use crate::procedure::Procedure;
use crate::rules::{RuleId, Violation};
use crate::state::{CandidateState, ElectionState};

mod fields;
use fields::{grant_for, validate_fields};

/// Why a command was not recorded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The act breaks a rule and no valid override was given.
    #[error("{0}")]
    Violation(Violation),
    /// An override was asked for, but no role other than the recorder's may
    /// grant it under the procedure (D20: no one excuses their own act).
    #[error("{violation}\n  refused: no role other than `{role}` may grant an override of {} under this procedure", violation.rule)]
    OverrideNotEntitled { violation: Violation, role: String },
    /// An override was asked for, but no unused `override.granted` for this
    /// rule, act and candidate was recorded by an entitled role (D20).
    #[error("{violation}\n  refused: an override of {rule} needs an override.granted for this act, on its candidate, recorded first by {} (a role other than `{role}`)", granters.join(" / "), rule = violation.rule)]
    OverrideNotGranted {
        violation: Violation,
        role: String,
        granters: Vec<String>,
    },
    /// The only grant for this act comes from the recorder's own role or
    /// from the recorder in person: a self-serving override (D20).
    #[error("{violation}\n  refused: the grant of {rule} was recorded by {granter}, the same role or person as the recorder `{role}`; an override must come from a role other than the one whose act it excuses", rule = violation.rule)]
    SelfServingOverride {
        violation: Violation,
        role: String,
        /// Name, id and role of the granter.
        granter: String,
    },
    /// An override was asked for a rule the act does not break: recording it would
    /// put a false exception into the compliance report.
    #[error("override of {rule} requested, but this act does not break {rule}; record it without the override")]
    OverrideNotNeeded { rule: RuleId },
    #[error("override of {rule} needs a non-empty justification")]
    MissingJustification { rule: RuleId },
    #[error("election {0:?} has not been opened: record election.opened first")]
    ElectionNotOpened(String),
    #[error("election {0:?} is already open")]
    ElectionAlreadyOpened(String),
    #[error("candidate {0:?} is not known in this election: record candidate.nominated first")]
    UnknownCandidate(String),
    #[error("candidate {0:?} is already nominated in this election")]
    CandidateExists(String),
    #[error("field `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

impl Refusal {
    /// The rule behind the refusal, if it is a rule refusal.
    pub fn rule(&self) -> Option<RuleId> {
        match self {
            Refusal::Violation(v)
            | Refusal::OverrideNotEntitled { violation: v, .. }
            | Refusal::OverrideNotGranted { violation: v, .. }
            | Refusal::SelfServingOverride { violation: v, .. } => Some(v.rule),
            _ => None,
        }
    }

    fn invalid(field: &str, reason: impl Into<String>) -> Refusal {
        Refusal::Invalid {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// Events that R2 gates: a decision or a candidacy needs the checks done and clean.
const R2_GATED: [&str; 2] = ["committee.decided", "candidacy.confirmed"];
/// Events after the decision that a petition or objection found true stops
/// (D24).
const AFTER_DECISION_GATED: [&str; 3] = [
    "publicity.concluded",
    "approval.granted",
    "candidacy.confirmed",
];
/// Events a deferred nomination may not reach (暂缓提名).
const DEFERRAL_GATED: [&str; 6] = [
    "committee.decided",
    "publicity.started",
    "publicity.concluded",
    "approval.granted",
    "candidacy.confirmed",
    "candidate.elected",
];
/// Events R3 gates: the next steps after the checks.
const R3_GATED: [&str; 5] = [
    "committee.decided",
    "publicity.concluded",
    "approval.granted",
    "candidacy.confirmed",
    "candidate.elected",
];

/// The violations found so far, grouped by rule in order of discovery.
#[derive(Default)]
pub(crate) struct Found(Vec<(RuleId, Vec<String>)>);

impl Found {
    pub(crate) fn push(&mut self, rule: RuleId, detail: impl Into<String>) {
        match self.0.iter_mut().find(|(r, _)| *r == rule) {
            Some((_, list)) => list.push(detail.into()),
            None => self.0.push((rule, vec![detail.into()])),
        }
    }
}

/// The input `decide` needs besides the command: gathered once.
struct Ctx<'a> {
    state: &'a ElectionState,
    actor: &'a Actor,
    cmd: &'a Command,
    proc_: &'a Procedure,
    event_type: &'static str,
    at: DateTime<FixedOffset>,
    /// The candidate's state, for candidate-level commands (absent for a nomination).
    cand: Option<&'a CandidateState>,
}

impl<'a> Ctx<'a> {
    fn results(&self) -> crate::results::ResultCtx<'a> {
        crate::results::ResultCtx {
            state: self.state,
            cmd: self.cmd,
            proc_: self.proc_,
            cand: self.cand,
        }
    }
}

/// Decides a command. On success returns the events to append, in order, each
/// knowing its stream ([`DomainEvent::stream`]): any `override.recorded` events
/// first, then the act, then consequences the act entails (R9).
pub fn decide(
    state: &ElectionState,
    actor: &Actor,
    command: &Command,
    procedure: &Procedure,
) -> Result<Vec<DomainEvent>, Refusal> {
    let event_type = command.body.event_type();
    let Some(kind) = kind_of(event_type) else {
        return Err(Refusal::invalid(
            "kind",
            format!("unknown event type {event_type}"),
        ));
    };
    if !kind.recordable {
        return Err(Refusal::invalid(
            "kind",
            format!("{event_type} cannot be recorded directly"),
        ));
    }
    // Ids become stream names (`election/<id>/candidate/<id>`), so they must not
    // be empty or contain the separator.
    for (field, id) in [
        ("election_id", Some(&command.election_id)),
        ("candidate_id", command.candidate_id.as_ref()),
    ] {
        if let Some(id) = id {
            if id.trim().is_empty() || id.contains('/') {
                return Err(Refusal::invalid(
                    field,
                    format!("{id:?} must be non-empty and contain no '/'"),
                ));
            }
        }
    }
    match (kind.scope, &command.candidate_id) {
        (Scope::Election, Some(_)) => {
            return Err(Refusal::invalid(
                "candidate_id",
                format!("{event_type} is an election-level event and takes no candidate"),
            ))
        }
        (Scope::Candidate, None) => {
            return Err(Refusal::invalid(
                "candidate_id",
                format!("{event_type} concerns one candidate: give candidate_id"),
            ))
        }
        _ => {}
    }

    // The election must exist (or be what is being opened), and be this one.
    if let EventBody::ElectionOpened(b) = &command.body {
        if state.opened.is_some() {
            return Err(Refusal::ElectionAlreadyOpened(command.election_id.clone()));
        }
        if b.kind != procedure.kind {
            return Err(Refusal::invalid(
                "kind",
                format!(
                    "{:?} does not match the procedure in force ({:?})",
                    b.kind, procedure.kind
                ),
            ));
        }
        if b.seats == 0 {
            return Err(Refusal::invalid("seats", "must be at least 1"));
        }
        if let Some(max) = procedure.max_seats {
            if b.seats > max {
                return Err(Refusal::invalid(
                    "seats",
                    format!(
                        "{} seats, but one {} unit elects at most {max} (D23; 002 \"每一选区选1至3名代表\")",
                        b.seats, procedure.kind
                    ),
                ));
            }
        }
        if let Some(r) = b.last_term_differential_ratio {
            if !r.is_finite() || r < 0.0 {
                return Err(Refusal::invalid(
                    "last_term_differential_ratio",
                    "must be a ratio ≥ 0, e.g. 0.2",
                ));
            }
        }
    } else if state.opened.is_none() {
        return Err(Refusal::ElectionNotOpened(command.election_id.clone()));
    }
    if let Some(id) = &state.election_id {
        if *id != command.election_id {
            return Err(Refusal::invalid(
                "election_id",
                format!(
                    "{:?} given, but the state is of election {id:?}",
                    command.election_id
                ),
            ));
        }
    }

    // The candidate must exist, except when being nominated.
    let cand = match &command.candidate_id {
        Some(id) => {
            let existing = state.candidates.get(id).filter(|c| c.nomination.is_some());
            match (&command.body, existing) {
                (EventBody::Nominated(_), Some(_)) => {
                    return Err(Refusal::CandidateExists(id.clone()))
                }
                (EventBody::Nominated(_), None) => None,
                (_, None) => return Err(Refusal::UnknownCandidate(id.clone())),
                (_, Some(c)) => Some(c),
            }
        }
        None => None,
    };
    // One person, one candidacy per election (domain decision 30): the
    // same person reference under a second candidate id is refused.
    if let EventBody::Nominated(n) = &command.body {
        if let Some(p) = &n.person_ref {
            let same = state.candidates.iter().find(|(_, c)| {
                c.nomination.as_ref().and_then(|x| x.person_ref.as_ref()) == Some(p)
            });
            if let Some((other, _)) = same {
                return Err(Refusal::invalid(
                    "person_ref",
                    format!(
                        "this person is already candidate {other:?} of this election; a \
                         person is nominated once (correct that nomination instead)"
                    ),
                ));
            }
        }
    }

    let ctx = Ctx {
        state,
        actor,
        cmd: command,
        proc_: procedure,
        event_type,
        at: command.occurred_at,
        cand,
    };
    validate_fields(&ctx)?;

    let mut found = Found::default();
    check_role(&ctx, &mut found);
    check_withdrawal(&ctx, &mut found);
    check_order(&ctx, &mut found);
    check_four_checks(&ctx, &mut found);
    check_open_issues(&ctx, &mut found);
    check_report_deadlines(&ctx, &mut found);
    check_publicity_period(&ctx, &mut found);
    check_vote(&ctx, &mut found);
    check_vote_buying(&ctx, &mut found);
    check_recusal(&ctx, &mut found);
    crate::results::check_results(&ctx.results(), &mut found);

    let violations: Vec<Violation> = found
        .0
        .into_iter()
        .map(|(rule, details)| Violation {
            rule,
            detail: details.join("; "),
            override_roles: procedure.override_roles(rule).to_vec(),
        })
        .collect();

    // Overrides: each must match a violation and have a justification; every
    // violation must be overridden, under a grant from another role (D20).
    for req in &command.overrides {
        if req.justification.trim().is_empty() {
            return Err(Refusal::MissingJustification { rule: req.rule });
        }
    }
    for v in &violations {
        if !command.overrides.iter().any(|o| o.rule == v.rule) {
            return Err(Refusal::Violation(v.clone()));
        }
    }
    let mut grantors: Vec<(RuleId, Actor)> = Vec::new();
    for v in &violations {
        grantors.push((v.rule, grant_for(&ctx, v)?.granted_by.clone()));
    }
    for req in &command.overrides {
        if !violations.iter().any(|v| v.rule == req.rule) {
            return Err(Refusal::OverrideNotNeeded { rule: req.rule });
        }
    }

    let make = |body: EventBody| DomainEvent {
        election_id: command.election_id.clone(),
        candidate_id: command.candidate_id.clone(),
        occurred_at: command.occurred_at,
        body,
    };
    let mut events = Vec::new();
    for v in &violations {
        let req = command.overrides.iter().find(|o| o.rule == v.rule);
        let by = grantors.iter().find(|(r, _)| *r == v.rule).map(|(_, a)| a);
        if let (Some(req), Some(by)) = (req, by) {
            events.push(make(EventBody::OverrideRecorded(OverrideRecorded {
                rule: v.rule,
                justification: req.justification.clone(),
                authorised_by: by.clone(),
                overridden_event_type: event_type.to_string(),
                violation: v.detail.clone(),
            })));
        }
    }
    // An amendment is stored canonical with its digest; an opening is
    // followed by the procedure it was decided under (D65, D66).
    let mut act = crate::procedure_record::act_body(state, &command.body)?;
    if let EventBody::OverrideGranted(g) = &mut act {
        g.granted_by = Some(actor.clone());
    }
    events.push(make(act));
    if let EventBody::ElectionOpened(_) = &command.body {
        events.push(make(crate::procedure_record::adopted(procedure)));
    }
    events.extend(consequences(&ctx).into_iter().map(make));
    Ok(events)
}

/// R11: the role is entitled to the step or event, and acts for its own
/// organisation or one below it.
fn check_role(ctx: &Ctx<'_>, found: &mut Found) {
    // A grant is the act of the roles `[overrides]` names for its rule (D20).
    let roles = match &ctx.cmd.body {
        EventBody::OverrideGranted(g) => ctx.proc_.override_roles(g.rule),
        _ => ctx.proc_.roles_for(ctx.event_type),
    };
    if roles.is_empty() {
        let what = match &ctx.cmd.body {
            EventBody::OverrideGranted(g) => format!("grant an override of {}", g.rule),
            _ => format!("record {}", ctx.event_type),
        };
        found.push(
            RuleId::R11,
            format!("no role may {what} under procedure {}", ctx.proc_.kind),
        );
    } else if !roles.contains(&ctx.actor.role) {
        let what = match &ctx.cmd.body {
            EventBody::OverrideGranted(g) => format!(
                "grant an override of {} (for {})",
                g.rule, g.excused_event_type
            ),
            _ => format!("record {}", ctx.event_type),
        };
        found.push(
            RuleId::R11,
            format!(
                "role `{}` may not {what}; entitled: {}",
                ctx.actor.role,
                roles.join(", ")
            ),
        );
    }
    let unit_org = match (&ctx.state.opened, &ctx.cmd.body) {
        (Some(o), _) => o.unit_org.as_str(),
        (None, EventBody::ElectionOpened(b)) => b.unit_org.as_str(),
        (None, _) => "",
    };
    if !org_covers(&ctx.actor.org, unit_org) {
        found.push(
            RuleId::R11,
            format!(
                "actor's organisation `{}` is not the election unit's `{unit_org}` nor above it",
                ctx.actor.org
            ),
        );
    }
}

/// R12: withdrawal is the nominator's act, and a withdrawn nominee takes no further
/// step (the record stays).
fn check_withdrawal(ctx: &Ctx<'_>, found: &mut Found) {
    let Some(c) = ctx.cand else { return };
    if let EventBody::NominationWithdrawn(b) = &ctx.cmd.body {
        if c.withdrawn {
            found.push(RuleId::R12, "the nomination is already withdrawn");
        }
        if let Some(n) = &c.nomination {
            if n.nominator_id != b.nominator_id {
                found.push(
                    RuleId::R12,
                    format!(
                        "only the nominator on record ({} {}) may withdraw; `{}` is named",
                        n.nominator_id, n.nominator_name, b.nominator_id
                    ),
                );
            }
        }
    } else if c.withdrawn && ctx.proc_.step_of(ctx.event_type).is_some() {
        found.push(
            RuleId::R12,
            format!(
                "the nomination was withdrawn by its nominator; {} cannot follow",
                ctx.event_type
            ),
        );
    }
}

/// When a step was completed in a scope: the time its last event first occurred.
fn completed_at(
    recorded: &BTreeMap<String, crate::state::Recorded>,
    events: &[String],
) -> Option<DateTime<FixedOffset>> {
    let mut latest: Option<DateTime<FixedOffset>> = None;
    for e in events {
        let r = recorded.get(e)?;
        latest = Some(latest.map_or(r.first_at, |l| l.max(r.first_at)));
    }
    latest
}

/// Every mandatory step that must be complete before step `index`, transitively.
fn ancestors_of(procedure: &Procedure, index: usize) -> std::collections::BTreeSet<usize> {
    let mut ancestors = std::collections::BTreeSet::new();
    let mut todo: Vec<usize> = procedure.required_before(index).to_vec();
    while let Some(p) = todo.pop() {
        if ancestors.insert(p) {
            todo.extend_from_slice(procedure.required_before(p));
        }
    }
    ancestors
}

/// R1: the step's mandatory predecessors are complete (for this candidate, or for
/// every active candidate when the step is election-level), earlier in time (no 抢跑),
/// and the step's own earlier events are recorded.
fn check_order(ctx: &Ctx<'_>, found: &mut Found) {
    let Some(index) = ctx.proc_.step_index(ctx.event_type) else {
        return;
    };
    let step = &ctx.proc_.steps[index];
    if let Some(c) = ctx.cand {
        if c.removed
            || c.election_voided
            || c.decision == Some(crate::events::DecisionOutcome::Rejected)
        {
            found.push(
                RuleId::R1,
                format!(
                    "the candidate is no longer in the running; {} cannot follow",
                    ctx.event_type
                ),
            );
        }
    }
    // A nomination has no candidate state yet: nothing of its own is recorded.
    let empty = BTreeMap::new();
    let own = match ctx.cand {
        Some(c) => &c.recorded,
        None if step.scope == Scope::Candidate => &empty,
        None => &ctx.state.recorded,
    };

    if step.ordered {
        if let Some(pos) = step.events.iter().position(|e| e == ctx.event_type) {
            for earlier in &step.events[..pos] {
                if !own.contains_key(earlier) {
                    found.push(
                        RuleId::R1,
                        format!(
                            "{} must come after {earlier} within step `{}`",
                            ctx.event_type, step.id
                        ),
                    );
                }
            }
        }
    }

    // A candidate step must not come after an election-level step that follows it
    // has already happened: no one is nominated once the list has been deliberated
    // or the vote held.
    if step.scope == Scope::Candidate {
        for (e, later) in ctx.proc_.steps.iter().enumerate() {
            if later.scope == Scope::Election
                && ancestors_of(ctx.proc_, e).contains(&index)
                && later
                    .events
                    .iter()
                    .any(|ev| ctx.state.recorded.contains_key(ev))
            {
                found.push(
                    RuleId::R1,
                    format!(
                        "the election has already reached step `{}` ({}), which comes after `{}`",
                        later.id, later.name, step.id
                    ),
                );
            }
        }
    }

    // All mandatory ancestors, transitively, so that an election-level step that is
    // complete does not let a late candidate skip the candidate steps before it.
    for p in ancestors_of(ctx.proc_, index) {
        let pred = &ctx.proc_.steps[p];
        let done = match (pred.scope, step.scope) {
            (Scope::Election, _) => Ok(completed_at(&ctx.state.recorded, &pred.events)),
            (_, Scope::Candidate) => Ok(completed_at(own, &pred.events)),
            // An election-level step after a candidate-level one: every candidate
            // still in the running must have completed it.
            _ => {
                let active: Vec<(&String, &CandidateState)> = ctx
                    .state
                    .candidates
                    .iter()
                    .filter(|(_, c)| c.is_active())
                    .collect();
                if active.is_empty() {
                    Err(format!(
                        "{} needs step `{}` ({}) completed by the candidates, but no candidate is in the running",
                        ctx.event_type, pred.id, pred.name
                    ))
                } else {
                    let missing: Vec<&str> = active
                        .iter()
                        .filter(|(_, c)| completed_at(&c.recorded, &pred.events).is_none())
                        .map(|(id, _)| id.as_str())
                        .collect();
                    if missing.is_empty() {
                        Ok(active
                            .iter()
                            .filter_map(|(_, c)| completed_at(&c.recorded, &pred.events))
                            .max())
                    } else {
                        Err(format!(
                            "{} needs step `{}` ({}) completed for every candidate in the running; missing: {}",
                            ctx.event_type,
                            pred.id,
                            pred.name,
                            missing.join(", ")
                        ))
                    }
                }
            }
        };
        match done {
            Err(msg) => found.push(RuleId::R1, msg),
            Ok(None) => found.push(
                RuleId::R1,
                format!(
                    "step `{}` ({}) must be completed before `{}` ({}): {} not all recorded",
                    pred.id,
                    pred.name,
                    step.id,
                    step.name,
                    pred.events.join(", ")
                ),
            ),
            Ok(Some(t)) if t > ctx.at => found.push(
                RuleId::R1,
                format!(
                    "抢跑: {} is dated {} but step `{}` was completed only at {}",
                    ctx.event_type,
                    ctx.at.to_rfc3339(),
                    pred.id,
                    t.to_rfc3339()
                ),
            ),
            Ok(Some(_)) => {}
        }
    }
}

/// R2: 凡提四必 recorded and clean before decision and candidacy; and no deferred
/// nomination (暂缓提名) goes on while its doubts stand.
fn check_four_checks(ctx: &Ctx<'_>, found: &mut Found) {
    let Some(c) = ctx.cand else { return };
    if c.deferred && DEFERRAL_GATED.contains(&ctx.event_type) {
        found.push(
            RuleId::R2,
            format!(
                "the nomination is deferred (暂缓提名); {} waits until it is resumed",
                ctx.event_type
            ),
        );
    }
    // What is found true after the decision stops the steps after it too
    // (D24): 002 "问题没有查清、疑点没有消除的不得作为提名人选".
    if AFTER_DECISION_GATED.contains(&ctx.event_type) {
        let found_true: Vec<&str> = c
            .petitions
            .iter()
            .filter(|(_, p)| p.closed.is_some_and(|(k, _)| !k.is_clean()))
            .map(|(id, _)| id.as_str())
            .collect();
        if !found_true.is_empty() && ctx.event_type != "candidacy.confirmed" {
            found.push(
                RuleId::R2,
                format!(
                    "petitions found true: {}; {} cannot follow",
                    found_true.join(", "),
                    ctx.event_type
                ),
            );
        }
        let objections: Vec<&str> = c
            .objections
            .iter()
            .filter(|(_, o)| o.resolved == Some(true))
            .map(|(id, _)| id.as_str())
            .collect();
        if !objections.is_empty() {
            found.push(
                RuleId::R2,
                format!(
                    "publicity objections found true: {}; {} cannot follow",
                    objections.join(", "),
                    ctx.event_type
                ),
            );
        }
    }
    if !R2_GATED.contains(&ctx.event_type) {
        return;
    }
    // A candidate flagged by any department in the joint review goes no
    // further (D27: 004 "17个部门区级联审机制"; 002 "坚决不能作为代表候选人").
    if !c.joint_review_flags.is_empty()
        || c.joint_review == Some(crate::events::ReviewVerdict::Failed)
    {
        found.push(
            RuleId::R2,
            format!(
                "joint review (联审): flagged by {}",
                if c.joint_review_flags.is_empty() {
                    "the review's outcome".to_string()
                } else {
                    c.joint_review_flags.join(", ")
                }
            ),
        );
    }
    for check in &ctx.proc_.required_checks {
        if let Some(problem) = check_problem(c, check) {
            found.push(RuleId::R2, format!("{check}: {problem}"));
        }
    }
}

/// What keeps one of the four checks from being clean, if anything.
fn check_problem(c: &CandidateState, check: &str) -> Option<String> {
    match check {
        "check.archive_reviewed" => match &c.archive {
            None => Some("not recorded".into()),
            Some(a) => {
                let open: Vec<&str> = a
                    .discrepancies
                    .iter()
                    .filter(|d| !d.resolved)
                    .map(|d| d.field.as_str())
                    .collect();
                if !open.is_empty() {
                    Some(format!("unresolved discrepancies in {}", open.join(", ")))
                } else if !a.identity_verified || !a.work_history_verified {
                    Some("identity or work history not verified".into())
                } else {
                    None
                }
            }
        },
        "check.personal_matters_verified" => match c.personal_matters {
            None => Some("not recorded".into()),
            Some(PersonalMattersOutcome::Problem) => {
                Some("a problem was found in the report".into())
            }
            Some(_) => None,
        },
        "check.discipline_opinion" => match c.discipline {
            None => Some("not recorded".into()),
            Some((DisciplineOpinion::Clear, false)) => None,
            Some((DisciplineOpinion::Clear, true)) => {
                Some("opinion says it affects appointment".into())
            }
            Some((DisciplineOpinion::Objection, _)) => Some("the discipline organ objects".into()),
            Some((DisciplineOpinion::Pending, _)) => Some("the opinion is still pending".into()),
        },
        "check.petitions_swept" => {
            if !c.petitions_swept {
                return Some("not recorded".into());
            }
            let bad: Vec<&str> = c
                .petitions
                .iter()
                .filter(|(_, p)| p.closed.is_some_and(|(k, _)| !k.is_clean()))
                .map(|(id, _)| id.as_str())
                .collect();
            if bad.is_empty() {
                None
            } else {
                Some(format!("substantiated petitions: {}", bad.join(", ")))
            }
        }
        _ => None,
    }
}

fn issues_of(c: &CandidateState) -> Vec<String> {
    let mut out = Vec::new();
    let petitions = c.open_specific_petitions();
    if !petitions.is_empty() {
        out.push(format!("open petitions or clues: {}", petitions.join(", ")));
    }
    let objections = c.unresolved_objections();
    if !objections.is_empty() {
        out.push(format!(
            "unresolved publicity objections: {}",
            objections.join(", ")
        ));
    }
    out
}

/// R3: an open specific petition or an unresolved publicity objection blocks the
/// next steps (and the vote, for any candidate on the list).
fn check_open_issues(ctx: &Ctx<'_>, found: &mut Found) {
    if let (Some(c), true) = (ctx.cand, R3_GATED.contains(&ctx.event_type)) {
        for issue in issues_of(c) {
            found.push(RuleId::R3, format!("{issue} block {}", ctx.event_type));
        }
    }
    if ctx.event_type == "vote.held" {
        for (id, c) in ctx
            .state
            .candidates
            .iter()
            .filter(|(_, c)| c.listed && c.is_active())
        {
            for issue in issues_of(c) {
                found.push(
                    RuleId::R3,
                    format!("candidate {id}: {issue} block the vote"),
                );
            }
        }
    }
}

/// R4: a report's result within the deadline in working days; an inspectee's
/// reports closed before the inspection ends.
fn check_report_deadlines(ctx: &Ctx<'_>, found: &mut Found) {
    let Some(c) = ctx.cand else { return };
    let (petition_id, is_result) = match &ctx.cmd.body {
        EventBody::PetitionInvestigated(b) => (b.petition_id.as_str(), true),
        EventBody::PetitionClosed(b) => (b.petition_id.as_str(), false),
        EventBody::InspectionConducted(_) => {
            let open = c.open_petitions();
            if !open.is_empty() {
                found.push(
                    RuleId::R4,
                    format!(
                        "reports on this inspectee must be closed before the inspection ends (在考察任务结束前办结); open: {}",
                        open.join(", ")
                    ),
                );
            }
            return;
        }
        _ => return,
    };
    let Some(p) = c.petitions.get(petition_id) else {
        return;
    };
    // Closing after a result reported in time is not late.
    if !is_result && p.investigated_at.is_some() {
        return;
    }
    let received = p.received_at.date_naive();
    let due = ctx
        .proc_
        .calendar
        .nth_working_day_after(received, ctx.proc_.report_deadline_working_days);
    if ctx.at.date_naive() > due {
        found.push(
            RuleId::R4,
            format!(
                "result of {petition_id} dated {} but due by {due} ({} working days after receipt on {received})",
                ctx.at.date_naive(),
                ctx.proc_.report_deadline_working_days
            ),
        );
    }
}

/// R5: publicity may conclude once its period in working days has run.
fn check_publicity_period(ctx: &Ctx<'_>, found: &mut Found) {
    if ctx.event_type != "publicity.concluded" {
        return;
    }
    let Some(start) = ctx.cand.and_then(|c| c.publicity_started_at) else {
        return; // R1 reports the missing start.
    };
    let days = ctx.proc_.publicity_working_days;
    let earliest = ctx
        .proc_
        .calendar
        .nth_working_day_after(start.date_naive(), days);
    if ctx.at.date_naive() < earliest {
        found.push(
            RuleId::R5,
            format!(
                "publicity began {} and lasts {days} working days, so it may conclude on {earliest} at the earliest, not {}",
                start.date_naive(),
                ctx.at.date_naive()
            ),
        );
    }
}

/// Ratio as thousandths, so that seat arithmetic is exact (0.2 → 200).
fn permille(ratio: f64) -> u64 {
    (ratio.max(0.0) * 1000.0).round() as u64
}

/// R6, R7, R8 at the vote.
fn check_vote(ctx: &Ctx<'_>, found: &mut Found) {
    let EventBody::VoteHeld(vote) = &ctx.cmd.body else {
        return;
    };
    let Some(opened) = &ctx.state.opened else {
        return;
    };
    let listed: Vec<&String> = ctx
        .state
        .candidates
        .iter()
        .filter(|(_, c)| c.listed && c.is_active())
        .map(|(id, _)| id)
        .collect();

    // R6.
    let procedure_min = permille(ctx.proc_.min_differential_ratio);
    let last = opened
        .last_term_differential_ratio
        .map(permille)
        .unwrap_or(0);
    let ratio = procedure_min.max(last);
    // A re-run fills the seats left from those not elected; a by-election
    // (补选) may be uncontested (D21).
    let purpose = vote.purpose.unwrap_or_default();
    let holders = crate::results::seat_holders(ctx.state);
    let (seats, standing) = match purpose {
        crate::events::VotePurpose::Regular | crate::events::VotePurpose::Repeat => {
            (u64::from(opened.seats), listed.len())
        }
        crate::events::VotePurpose::Rerun => (
            u64::from(opened.seats).saturating_sub(holders.len() as u64),
            listed
                .iter()
                .filter(|id| !holders.contains(&id.as_str()))
                .count(),
        ),
        crate::events::VotePurpose::ByElection => (0, listed.len()),
    };
    let needed = (seats * (1000 + ratio)).div_ceil(1000);
    if (standing as u64) < needed {
        found.push(
            RuleId::R6,
            format!(
                "{standing} candidates for {seats} seats; at least {needed} needed (differential {:.1}%: procedure {:.1}%, last term {:.1}%)",
                ratio as f64 / 10.0,
                procedure_min as f64 / 10.0,
                last as f64 / 10.0
            ),
        );
    }

    // R7.
    let mut per_holder: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &vote.proxies {
        *per_holder.entry(p.holder_id.as_str()).or_default() += p.giver_ids.len();
        if !p.committee_approved {
            found.push(
                RuleId::R7,
                format!(
                    "proxy held by {} lacks the election committee's consent",
                    p.holder_id
                ),
            );
        }
        if listed.iter().any(|id| **id == p.holder_id) {
            found.push(
                RuleId::R7,
                format!("proxy holder {} is a formal candidate", p.holder_id),
            );
        }
    }
    // One voter, one proxy: a giver may entrust one holder once (D22).
    let mut givers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for p in &vote.proxies {
        for g in &p.giver_ids {
            givers
                .entry(g.as_str())
                .or_default()
                .push(p.holder_id.as_str());
        }
    }
    for (giver, holders) in &givers {
        if holders.len() > 1 {
            found.push(
                RuleId::R7,
                format!(
                    "voter {giver} gave more than one proxy (to {}); one voter gives one",
                    holders.join(", ")
                ),
            );
        }
    }
    let max = ctx.proc_.max_proxies_per_holder as usize;
    for (holder, n) in per_holder {
        if n > max {
            found.push(
                RuleId::R7,
                format!("{holder} holds {n} proxies; at most {max}"),
            );
        }
    }

    // R8.
    let min = ctx.proc_.min_mobile_box_scrutineers as usize;
    for b in &vote.mobile_boxes {
        let distinct: std::collections::BTreeSet<&str> =
            b.scrutineers.iter().map(String::as_str).collect();
        if distinct.len() < min {
            found.push(
                RuleId::R8,
                format!(
                    "mobile box {} has {} scrutineer(s); at least {min}",
                    b.box_id,
                    distinct.len()
                ),
            );
        }
        if !b.sealed || !b.signed {
            found.push(
                RuleId::R8,
                format!(
                    "mobile box {} was not sealed and signed by its scrutineers",
                    b.box_id
                ),
            );
        }
        if !b.made_by_committee {
            found.push(
                RuleId::R8,
                format!(
                    "mobile box {} was not made by the election committee",
                    b.box_id
                ),
            );
        }
        // Where the procedure registers voters, the box's voters are on a
        // roll the election committee registered (登记造册, D22).
        if ctx.proc_.step_of("voters.registered").is_some()
            && !ctx.state.mobile_rolls.contains_key(&b.box_id)
        {
            found.push(
                RuleId::R8,
                format!(
                    "mobile box {}: no voter roll for it in voters.registered (由选举委员会登记造册)",
                    b.box_id
                ),
            );
        }
        if !b.voters_registered {
            found.push(
                RuleId::R8,
                format!(
                    "mobile box {}: its voters were not registered and signed",
                    b.box_id
                ),
            );
        }
    }
}

/// R9: a candidate found to have bought votes goes no further.
fn check_vote_buying(ctx: &Ctx<'_>, found: &mut Found) {
    let Some(c) = ctx.cand else { return };
    if c.vote_buying
        && (ctx.proc_.step_of(ctx.event_type).is_some() || ctx.event_type == "nomination.resumed")
    {
        found.push(
            RuleId::R9,
            format!(
                "vote buying (拉票贿选) was established; {} is not allowed",
                ctx.event_type
            ),
        );
    }
}

/// R10: no one with a declared conflict inspects or decides for the candidate; an
/// election-committee member resigns before becoming a candidate.
fn check_recusal(ctx: &Ctx<'_>, found: &mut Found) {
    if let EventBody::VoteHeld(vote) = &ctx.cmd.body {
        check_scrutineers(ctx, vote, found);
    }
    let Some(c) = ctx.cand else { return };
    let mut people: Vec<&str> = vec![ctx.actor.id.as_str()];
    match &ctx.cmd.body {
        EventBody::InspectionConducted(b) => {
            people.push(&b.team_leader);
            people.extend(b.team_members.iter().map(String::as_str));
        }
        EventBody::CommitteeDecided(b) => {
            people.push(&b.chair);
            people.extend(b.attendees.iter().map(String::as_str));
        }
        EventBody::CandidacyConfirmed(_) => {
            let id = ctx.cmd.candidate_id.as_deref().unwrap_or_default();
            let member = c
                .nomination
                .as_ref()
                .is_some_and(|n| n.election_committee_member)
                || ctx
                    .state
                    .opened
                    .as_ref()
                    .is_some_and(|o| o.election_committee.iter().any(|m| m == id));
            if member && !ctx.state.resigned.contains(id) {
                found.push(
                    RuleId::R10,
                    format!("{id} is on the election committee and has not resigned from it"),
                );
            }
            return;
        }
        _ => return,
    }
    people.sort_unstable();
    people.dedup();
    for p in people {
        if let Some(relation) = c.conflicts.get(p) {
            found.push(
                RuleId::R10,
                format!(
                    "{p} has a declared conflict ({relation}) and must recuse from {}",
                    ctx.event_type
                ),
            );
        }
    }
}

/// R10 at the vote (D22): a scrutineer neither stands in it nor has a
/// declared conflict with anyone who does (002:213 监票人; 002 回避).
fn check_scrutineers(ctx: &Ctx<'_>, vote: &crate::events::VoteHeld, found: &mut Found) {
    let mut scrutineers: Vec<&str> = vote.scrutineers.iter().map(String::as_str).collect();
    for b in &vote.mobile_boxes {
        scrutineers.extend(b.scrutineers.iter().map(String::as_str));
    }
    scrutineers.sort_unstable();
    scrutineers.dedup();
    let standing: Vec<(&String, &CandidateState)> = ctx
        .state
        .candidates
        .iter()
        .filter(|(_, c)| c.listed && c.is_active())
        .collect();
    for s in scrutineers {
        if standing.iter().any(|(id, _)| id.as_str() == s) {
            found.push(
                RuleId::R10,
                format!("scrutineer {s} is a candidate in this vote"),
            );
        }
        for (id, c) in &standing {
            if let Some(relation) = c.conflicts.get(s) {
                found.push(
                    RuleId::R10,
                    format!(
                        "scrutineer {s} has a declared conflict with candidate {id} ({relation}) and must recuse"
                    ),
                );
            }
        }
    }
}

/// R9's consequences: a finding of vote buying removes a listed candidate and
/// voids an election already won — as events, never deletions.
fn consequences(ctx: &Ctx<'_>) -> Vec<EventBody> {
    let Some(c) = ctx.cand else { return Vec::new() };
    // 代表资格无效 ends the seat where the review decides it (D21, D23);
    // where another body decides (人大's presidium), the review proposes.
    if let EventBody::QualificationReviewed(q) = &ctx.cmd.body {
        if q.outcome == crate::events::QualificationOutcome::Invalid
            && ctx.proc_.invalidity_decided_by.is_none()
            && c.holds_seat()
        {
            return vec![EventBody::ElectionVoided(ElectionVoided {
                reason: format!("代表资格审查: 当选无效 — {}", q.note),
                rule: Some(RuleId::R13),
            })];
        }
        return Vec::new();
    }
    let finding = match &ctx.cmd.body {
        EventBody::VoteBuyingFound(b) => Some(b.summary.clone()),
        EventBody::PetitionClosed(b) if b.conclusion == PetitionConclusion::VoteBuying => {
            Some(b.note.clone())
        }
        _ => None,
    };
    let Some(summary) = finding else {
        return Vec::new();
    };
    if c.holds_seat() {
        vec![EventBody::ElectionVoided(ElectionVoided {
            reason: format!("拉票贿选: {summary}"),
            rule: Some(RuleId::R9),
        })]
    } else if c.listed && !c.removed {
        vec![EventBody::CandidateRemoved(CandidateRemoved {
            reason: format!("拉票贿选: {summary}"),
            rule: Some(RuleId::R9),
        })]
    } else {
        Vec::new()
    }
}
