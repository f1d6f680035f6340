//! The checks on a command's own data (D20, D22, D25, D27, D28): what cannot
//! be overridden because recording it would store something
//! self-contradictory or empty, and the override grants an act uses up.

use super::{Ctx, Refusal};
use crate::events::{kind_of, EventBody, Scope};
use crate::procedure::Procedure;
use crate::rules::Violation;
use crate::state::GrantEntry;

/// The grant an override of `v` uses up (D20): the first unused
/// `override.granted` for this rule, act and candidate, recorded by a role the
/// procedure lets grant it that is not the recorder's role, nor the recorder in
/// person. No one excuses their own act.
pub(super) fn grant_for<'a>(ctx: &Ctx<'a>, v: &Violation) -> Result<&'a GrantEntry, Refusal> {
    let actor = ctx.actor;
    let granters: Vec<String> = v
        .override_roles
        .iter()
        .filter(|r| **r != actor.role)
        .cloned()
        .collect();
    if granters.is_empty() {
        return Err(Refusal::OverrideNotEntitled {
            violation: v.clone(),
            role: actor.role.clone(),
        });
    }
    let matching: Vec<&GrantEntry> = ctx
        .state
        .grants
        .iter()
        .filter(|g| {
            !g.used
                && g.rule == v.rule
                && g.candidate_id == ctx.cmd.candidate_id
                && g.event_type == ctx.event_type
        })
        .collect();
    if let Some(g) = matching.iter().find(|g| {
        g.granted_by.role != actor.role
            && g.granted_by.id != actor.id
            && granters.contains(&g.granted_by.role)
    }) {
        return Ok(g);
    }
    match matching.first() {
        Some(g) if g.granted_by.role == actor.role || g.granted_by.id == actor.id => {
            Err(Refusal::SelfServingOverride {
                violation: v.clone(),
                role: actor.role.clone(),
                granter: format!(
                    "{} ({}, `{}`)",
                    g.granted_by.name, g.granted_by.id, g.granted_by.role
                ),
            })
        }
        _ => Err(Refusal::OverrideNotGranted {
            violation: v.clone(),
            role: actor.role.clone(),
            granters,
        }),
    }
}

/// The acts whose rules count working days (R4, R5) need the official
/// calendar of every year they span (D25): a guess would decide a deadline.
pub(super) fn check_calendar(ctx: &Ctx<'_>) -> Result<(), Refusal> {
    let Some(c) = ctx.cand else { return Ok(()) };
    let start = match &ctx.cmd.body {
        EventBody::PetitionInvestigated(b) => {
            c.petitions.get(&b.petition_id).map(|p| p.received_at)
        }
        EventBody::PetitionClosed(b) => c.petitions.get(&b.petition_id).map(|p| p.received_at),
        EventBody::PublicityConcluded(_) => c.publicity_started_at,
        _ => None,
    };
    let Some(start) = start else { return Ok(()) };
    ctx.proc_
        .calendar
        .check_covers(start.date_naive(), ctx.at.date_naive())
        .map_err(|e| Refusal::invalid("occurred_at", e.to_string()))
}

/// A joint review gives one verdict per department the procedure names,
/// and its outcome does not pass over a department's failure (D27).
pub(super) fn validate_joint_review(
    p: &Procedure,
    b: &crate::events::JointReview,
) -> Result<(), Refusal> {
    let mut seen = std::collections::BTreeSet::new();
    for d in &b.departments {
        if !seen.insert(d.department.as_str()) {
            return Err(Refusal::invalid(
                "departments",
                format!("{} gives two verdicts", d.department),
            ));
        }
        if !p.joint_review_departments.is_empty()
            && !p.joint_review_departments.contains(&d.department)
        {
            return Err(Refusal::invalid(
                "departments",
                format!(
                    "{} is not one of the procedure's joint-review departments",
                    d.department
                ),
            ));
        }
    }
    let missing: Vec<&str> = p
        .joint_review_departments
        .iter()
        .filter(|d| !seen.contains(d.as_str()))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(Refusal::invalid(
            "departments",
            format!(
                "{} of the {} departments give no verdict: {}",
                missing.len(),
                p.joint_review_departments.len(),
                missing.join("、")
            ),
        ));
    }
    let failed = b
        .departments
        .iter()
        .any(|d| d.verdict == crate::events::ReviewVerdict::Failed);
    if failed && b.outcome != crate::events::ReviewVerdict::Failed {
        return Err(Refusal::invalid(
            "outcome",
            "a department's verdict is `failed`, so the joint review's outcome is `failed`",
        ));
    }
    Ok(())
}

/// Text fields a record is worthless without (D22): who signed an
/// investigation (002:687 "承办人和负责人签字背书"), why a decision was taken
/// (D17: 002 "防止简单以票取人"), why a nominee was deferred, withdrawn or
/// removed, and what a step found.
pub(super) fn required_text(body: &EventBody) -> Vec<(&'static str, &str)> {
    match body {
        EventBody::PetitionInvestigated(b) => vec![
            ("handler", b.handler.as_str()),
            ("leader", b.leader.as_str()),
            ("result", b.result.as_str()),
        ],
        EventBody::PetitionReceived(b) => vec![("petition_id", b.petition_id.as_str())],
        EventBody::PetitionClosed(b) => vec![("note", b.note.as_str())],
        EventBody::CommitteeDecided(b) => vec![
            ("rationale", b.rationale.as_str()),
            ("chair", b.chair.as_str()),
            ("meeting_id", b.meeting_id.as_str()),
        ],
        EventBody::Shortlisted(b) => vec![("basis", b.basis.as_str())],
        EventBody::InspectionConducted(b) => vec![
            ("team_leader", b.team_leader.as_str()),
            ("findings", b.findings.as_str()),
        ],
        EventBody::NominationDeferred(b) => vec![("reason", b.reason.as_str())],
        EventBody::NominationResumed(b) => vec![("reason", b.reason.as_str())],
        EventBody::NominationWithdrawn(b) => vec![("reason", b.reason.as_str())],
        EventBody::CandidateRemoved(b) => vec![("reason", b.reason.as_str())],
        EventBody::ElectionVoided(b) => vec![("reason", b.reason.as_str())],
        EventBody::CommitteeMemberResigned(b) => vec![("reason", b.reason.as_str())],
        EventBody::PublicityObjectionResolved(b) => vec![("resolution", b.resolution.as_str())],
        EventBody::ConflictDeclared(b) => vec![
            ("person_id", b.person_id.as_str()),
            ("relation", b.relation.as_str()),
        ],
        EventBody::VoteBuyingFound(b) => vec![("summary", b.summary.as_str())],
        EventBody::CorrectionRecorded(b) => vec![("reason", b.reason.as_str())],
        _ => Vec::new(),
    }
}

/// A voter roll that is consistent in itself (002:207 "不漏登、不错登、不重登"):
/// no voter twice on the mobile-box lists, every list named and non-empty,
/// no more mobile voters than voters on the roll.
pub(super) fn validate_roll(b: &crate::events::VotersRegistered) -> Result<(), Refusal> {
    let mut boxes = std::collections::BTreeSet::new();
    let mut voters = std::collections::BTreeSet::new();
    for roll in &b.mobile_box_voters {
        if roll.box_id.trim().is_empty() {
            return Err(Refusal::invalid(
                "mobile_box_voters",
                "a box without `box_id`",
            ));
        }
        if !boxes.insert(roll.box_id.as_str()) {
            return Err(Refusal::invalid(
                "mobile_box_voters",
                format!("box {:?} is listed twice", roll.box_id),
            ));
        }
        if roll.voter_ids.is_empty() {
            return Err(Refusal::invalid(
                "mobile_box_voters",
                format!("box {:?} lists no voter", roll.box_id),
            ));
        }
        for v in &roll.voter_ids {
            if !voters.insert(v.as_str()) {
                return Err(Refusal::invalid(
                    "mobile_box_voters",
                    format!("voter {v:?} is registered twice (不重登)"),
                ));
            }
        }
    }
    if voters.len() as u64 > b.registered {
        return Err(Refusal::invalid(
            "mobile_box_voters",
            format!(
                "{} mobile-box voters but only {} voters on the roll",
                voters.len(),
                b.registered
            ),
        ));
    }
    Ok(())
}

/// A grant must name an act that can be recorded at its scope, say why, and
/// not claim another granter than the one recording it.
pub(super) fn validate_grant(
    ctx: &Ctx<'_>,
    g: &crate::events::OverrideGranted,
) -> Result<(), Refusal> {
    if !ctx.cmd.overrides.is_empty() {
        return Err(Refusal::invalid(
            "override",
            "a grant cannot itself be recorded under an override",
        ));
    }
    if g.justification.trim().is_empty() {
        return Err(Refusal::invalid(
            "justification",
            "must say why the rule may be set aside for this act",
        ));
    }
    let Some(kind) = kind_of(&g.excused_event_type).filter(|k| k.recordable) else {
        return Err(Refusal::invalid(
            "excused_event_type",
            format!(
                "{:?} is not an event type that can be recorded",
                g.excused_event_type
            ),
        ));
    };
    if kind.event_type == "override.granted" {
        return Err(Refusal::invalid(
            "excused_event_type",
            "a grant cannot excuse another grant",
        ));
    }
    match (kind.scope, &ctx.cmd.candidate_id) {
        (Scope::Election, Some(_)) => {
            return Err(Refusal::invalid(
                "candidate_id",
                format!(
                    "{} is an election-level act: grant it without a candidate",
                    kind.event_type
                ),
            ))
        }
        (Scope::Candidate, None) => {
            return Err(Refusal::invalid(
                "candidate_id",
                format!(
                    "{} concerns one candidate: give the candidate_id of the act it excuses",
                    kind.event_type
                ),
            ))
        }
        _ => {}
    }
    if let Some(by) = &g.granted_by {
        if by != ctx.actor {
            return Err(Refusal::invalid(
                "granted_by",
                "is filled in by jishi with the recording actor; leave it out",
            ));
        }
    }
    Ok(())
}

/// Checks that are about the command's own data rather than a rule: they cannot be
/// overridden, because recording them would store something self-contradictory.
pub(super) fn validate_fields(ctx: &Ctx<'_>) -> Result<(), Refusal> {
    let cand = ctx.cand;
    let petition = |id: &str| cand.and_then(|c| c.petitions.get(id));
    for (field, text) in required_text(&ctx.cmd.body) {
        if text.trim().is_empty() {
            return Err(Refusal::invalid(
                field,
                "must not be blank: the record has to say what was done and why (D22)",
            ));
        }
    }
    check_calendar(ctx)?;
    match &ctx.cmd.body {
        EventBody::PetitionInvestigated(b) if b.handler.trim() == b.leader.trim() => {
            return Err(Refusal::invalid(
                "leader",
                format!(
                    "the report is signed by its handler and a responsible leader, two people (承办人和负责人签字背书); both are {:?}",
                    b.handler
                ),
            ));
        }
        EventBody::VotersRegistered(b) => validate_roll(b)?,
        EventBody::JointReview(b) => validate_joint_review(ctx.proc_, b)?,
        EventBody::SupervisionVisited(b) => {
            if !ctx.proc_.steps.iter().any(|s| s.id == b.step) {
                return Err(Refusal::invalid(
                    "step",
                    format!(
                        "{:?} is not a step of {}; steps: {}",
                        b.step,
                        ctx.proc_.kind,
                        ctx.proc_
                            .steps
                            .iter()
                            .map(|s| s.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            if b.observations.trim().is_empty() {
                return Err(Refusal::invalid(
                    "observations",
                    "must say what was observed",
                ));
            }
        }
        // A decision is a meeting's, not one person's (D28: 002 "必须通过会议集体研究,防止个人说了算").
        EventBody::CommitteeDecided(b) if b.attendees.len() < 3 => {
            return Err(Refusal::invalid(
                "attendees",
                format!(
                    "{} attendee(s): a decision is taken collectively by a meeting (会议集体研究), at least 3",
                    b.attendees.len()
                ),
            ));
        }
        EventBody::OverrideGranted(g) => validate_grant(ctx, g)?,
        EventBody::ElectionDeclaredVoid(b) => crate::results::validate_void(ctx.state, b)?,
        EventBody::VoteHeld(b) => {
            crate::results::validate_vote(ctx.state, b)?;
            if b.ballots_returned > b.ballots_issued {
                return Err(Refusal::invalid(
                    "ballots_returned",
                    "more ballots returned than issued",
                ));
            }
            if b.ballots_valid > b.ballots_returned {
                return Err(Refusal::invalid(
                    "ballots_valid",
                    "more valid ballots than returned",
                ));
            }
            for (id, n) in &b.votes {
                if !ctx.state.candidates.contains_key(id) {
                    return Err(Refusal::invalid(
                        "votes",
                        format!("{id:?} is not a candidate of this election"),
                    ));
                }
                if *n > b.ballots_valid {
                    return Err(Refusal::invalid(
                        "votes",
                        format!("{id:?} has more votes than valid ballots"),
                    ));
                }
            }
        }
        EventBody::Elected(b) if b.votes > b.ballots_valid => {
            return Err(Refusal::invalid("votes", "more votes than valid ballots"));
        }
        EventBody::CommitteeDecided(b) => {
            let cast = u64::from(b.votes_for) + u64::from(b.votes_against) + u64::from(b.abstain);
            if cast > b.attendees.len() as u64 {
                return Err(Refusal::invalid(
                    "votes_for",
                    format!(
                        "{cast} votes cast but only {} attendees listed",
                        b.attendees.len()
                    ),
                ));
            }
        }
        EventBody::PetitionReceived(b) if petition(&b.petition_id).is_some() => {
            return Err(Refusal::invalid(
                "petition_id",
                format!("{:?} was already received", b.petition_id),
            ));
        }
        EventBody::PetitionInvestigated(b) => match petition(&b.petition_id) {
            None => {
                return Err(Refusal::invalid(
                    "petition_id",
                    format!("no petition {:?} was received", b.petition_id),
                ))
            }
            Some(p) if !p.is_open() => {
                return Err(Refusal::invalid(
                    "petition_id",
                    format!("{:?} is already closed", b.petition_id),
                ))
            }
            Some(_) => {}
        },
        EventBody::PetitionClosed(b) => match petition(&b.petition_id) {
            None => {
                return Err(Refusal::invalid(
                    "petition_id",
                    format!("no petition {:?} was received", b.petition_id),
                ))
            }
            Some(p) if !p.is_open() => {
                return Err(Refusal::invalid(
                    "petition_id",
                    format!("{:?} is already closed", b.petition_id),
                ))
            }
            Some(_) => {}
        },
        EventBody::PublicityObjectionReceived(b)
            if cand.is_some_and(|c| c.objections.contains_key(&b.objection_id)) =>
        {
            return Err(Refusal::invalid(
                "objection_id",
                format!("{:?} was already received", b.objection_id),
            ));
        }
        EventBody::PublicityObjectionResolved(b) => {
            match cand.and_then(|c| c.objections.get(&b.objection_id)) {
                None => {
                    return Err(Refusal::invalid(
                        "objection_id",
                        format!("no objection {:?} was received", b.objection_id),
                    ))
                }
                Some(o) if o.resolved.is_some() => {
                    return Err(Refusal::invalid(
                        "objection_id",
                        format!("{:?} is already resolved", b.objection_id),
                    ))
                }
                Some(_) => {}
            }
        }
        EventBody::NominationResumed(_) if !cand.is_some_and(|c| c.deferred) => {
            return Err(Refusal::invalid("kind", "the nomination is not deferred"));
        }
        EventBody::CorrectionRecorded(b) if b.corrects_event_id.trim().is_empty() => {
            return Err(Refusal::invalid(
                "corrects_event_id",
                "must name the event corrected",
            ));
        }
        EventBody::CorrectionRecorded(_) => {
            if let Some(id) = &ctx.cmd.candidate_id {
                if cand.is_none() {
                    return Err(Refusal::UnknownCandidate(id.clone()));
                }
            }
        }
        _ => {}
    }
    Ok(())
}
