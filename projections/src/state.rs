//! The state of one election, folded from all its events (the election stream and
//! every candidate stream, in ledger order). It holds exactly what `decide` needs to
//! judge the next command, plus the candidate facts later projections read.
//!
//! `apply` is total: it never refuses an event. Refusing is `decide`'s job; a stored
//! event, even one recorded under an override, must always fold, or the history
//! could not be replayed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};

use crate::actor::Actor;
use crate::events::{
    ArchiveReviewed, DecisionOutcome, DisciplineOpinion, DomainEvent, ElectionOpened, EventBody,
    Nominated, PersonalMattersOutcome, PetitionConclusion, QualificationOutcome, ReviewVerdict,
    VoteHeld,
};
use crate::rules::RuleId;

/// When an event type was first and last recorded in a scope, and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub first_at: DateTime<FixedOffset>,
    pub last_at: DateTime<FixedOffset>,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PetitionState {
    pub received_at: DateTime<FixedOffset>,
    pub specific: bool,
    pub investigated_at: Option<DateTime<FixedOffset>>,
    pub closed: Option<(PetitionConclusion, DateTime<FixedOffset>)>,
}

impl PetitionState {
    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectionState {
    pub received_at: DateTime<FixedOffset>,
    pub resolved: Option<bool>,
}

/// An override as it was recorded: which rule, for which act, by whom, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverrideEntry {
    pub rule: RuleId,
    pub candidate_id: Option<String>,
    pub event_type: String,
    pub authorised_by: Actor,
    pub justification: String,
    pub at: DateTime<FixedOffset>,
}

/// A grant to override a rule for one act (D20), recorded by a role other
/// than the one that will record the act; `used` once an override consumed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantEntry {
    pub rule: RuleId,
    pub candidate_id: Option<String>,
    pub event_type: String,
    pub granted_by: Actor,
    pub justification: String,
    pub at: DateTime<FixedOffset>,
    pub used: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CorrectionEntry {
    pub candidate_id: Option<String>,
    pub corrects_event_id: String,
    pub reason: String,
    pub at: DateTime<FixedOffset>,
}

/// One candidate's path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CandidateState {
    /// The nomination, with the facts used for structure checks and statistics.
    pub nomination: Option<Nominated>,
    pub recorded: BTreeMap<String, Recorded>,
    pub archive: Option<ArchiveReviewed>,
    pub personal_matters: Option<PersonalMattersOutcome>,
    /// Latest opinion and whether it says the matter affects appointment.
    pub discipline: Option<(DisciplineOpinion, bool)>,
    pub petitions_swept: bool,
    pub petitions: BTreeMap<String, PetitionState>,
    pub objections: BTreeMap<String, ObjectionState>,
    /// Person id → nature of the conflict (回避).
    pub conflicts: BTreeMap<String, String>,
    pub joint_review: Option<ReviewVerdict>,
    /// Departments whose verdict in the latest joint review is `failed`,
    /// with their notes (D27).
    pub joint_review_flags: Vec<String>,
    pub decision: Option<DecisionOutcome>,
    pub publicity_started_at: Option<DateTime<FixedOffset>>,
    pub deferred: bool,
    pub withdrawn: bool,
    pub removed: bool,
    pub listed: bool,
    pub elected: bool,
    pub election_voided: bool,
    pub vote_buying: bool,
    pub qualification: Option<QualificationOutcome>,
}

impl CandidateState {
    /// Still in the running: not withdrawn, removed, rejected, voided, deferred, or
    /// found to have bought votes.
    pub fn is_active(&self) -> bool {
        !(self.withdrawn
            || self.removed
            || self.election_voided
            || self.deferred
            || self.vote_buying
            || self.decision == Some(DecisionOutcome::Rejected))
    }

    /// Age in whole years on `day`, from the archive's birth date when reviewed
    /// (the archive is authoritative, 三龄), else from the nomination.
    pub fn age_on(&self, day: chrono::NaiveDate) -> Option<u32> {
        let born = self
            .archive
            .as_ref()
            .map(|a| a.birth_date)
            .or_else(|| self.nomination.as_ref().map(|n| n.birth_date))?;
        day.years_since(born)
    }

    /// Holds a seat won in the vote: elected, and not since voided (当选无效:
    /// for vote buying, or after a qualification review found the deputy
    /// invalid) or unseated by the whole election being declared void (D21).
    pub fn holds_seat(&self) -> bool {
        self.elected && !self.election_voided
    }

    pub fn has(&self, event_type: &str) -> bool {
        self.recorded.contains_key(event_type)
    }

    /// Specific petitions or clues not yet closed (R3).
    pub fn open_specific_petitions(&self) -> Vec<&str> {
        self.petitions
            .iter()
            .filter(|(_, p)| p.specific && p.is_open())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Every petition not yet closed, specific or not (R4).
    pub fn open_petitions(&self) -> Vec<&str> {
        self.petitions
            .iter()
            .filter(|(_, p)| p.is_open())
            .map(|(id, _)| id.as_str())
            .collect()
    }

    pub fn unresolved_objections(&self) -> Vec<&str> {
        self.objections
            .iter()
            .filter(|(_, o)| o.resolved.is_none())
            .map(|(id, _)| id.as_str())
            .collect()
    }
}

/// One election unit: its opening, election-level steps and all candidates.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ElectionState {
    pub election_id: Option<String>,
    pub opened: Option<ElectionOpened>,
    pub recorded: BTreeMap<String, Recorded>,
    /// Election-committee members who resigned (R10).
    pub resigned: BTreeSet<String>,
    /// The ballots since the last `election.declared_void` (all of them if
    /// none), in order.
    pub votes: Vec<VoteHeld>,
    /// Mobile ballot boxes with a voter roll registered (box → voters), D22.
    pub mobile_rolls: BTreeMap<String, usize>,
    /// The voter roll's size at the last registration.
    pub voters_on_roll: Option<u64>,
    /// How often the whole election was declared void (D21).
    pub void_declared: u32,
    /// Declared void and not yet held again: the next vote is a `repeat`.
    pub repeat_pending: bool,
    pub candidates: BTreeMap<String, CandidateState>,
    pub overrides: Vec<OverrideEntry>,
    /// Override grants (D20), used or not.
    pub grants: Vec<GrantEntry>,
    pub corrections: Vec<CorrectionEntry>,
    /// Number of events folded in; lets a caller see that a refused command left
    /// the state untouched.
    pub events_applied: u64,
}

fn note(map: &mut BTreeMap<String, Recorded>, event_type: &str, at: DateTime<FixedOffset>) {
    // Looked up first so that folding a long history allocates a key only
    // for the first event of each type.
    match map.get_mut(event_type) {
        Some(r) => {
            r.count += 1;
            if at < r.first_at {
                r.first_at = at;
            }
            if at > r.last_at {
                r.last_at = at;
            }
        }
        None => {
            map.insert(
                event_type.to_string(),
                Recorded {
                    first_at: at,
                    last_at: at,
                    count: 1,
                },
            );
        }
    }
}

impl ElectionState {
    pub fn candidate(&self, id: &str) -> Option<&CandidateState> {
        self.candidates.get(id)
    }

    /// Folds one event in.
    pub fn apply(&mut self, event: &DomainEvent) {
        self.events_applied += 1;
        if self.election_id.is_none() {
            self.election_id = Some(event.election_id.clone());
        }
        let at = event.occurred_at;
        let event_type = event.event_type();
        let candidate = match &event.candidate_id {
            Some(id) => {
                if !self.candidates.contains_key(id) {
                    self.candidates
                        .insert(id.clone(), CandidateState::default());
                }
                if let Some(c) = self.candidates.get_mut(id) {
                    note(&mut c.recorded, event_type, at);
                }
                Some(id.clone())
            }
            None => {
                note(&mut self.recorded, event_type, at);
                None
            }
        };
        match &event.body {
            EventBody::ElectionOpened(b) => self.opened = Some(b.clone()),
            EventBody::CommitteeMemberResigned(b) => {
                self.resigned.insert(b.person_id.clone());
            }
            EventBody::VoteHeld(b) => {
                if b.purpose == Some(crate::events::VotePurpose::Repeat) {
                    self.repeat_pending = false;
                }
                self.votes.push(b.clone())
            }
            EventBody::ElectionDeclaredVoid(_) => {
                self.void_declared += 1;
                self.repeat_pending = true;
                self.votes.clear();
                for c in self.candidates.values_mut() {
                    c.elected = false;
                }
            }
            EventBody::OverrideRecorded(b) => {
                // The grant it uses up: the first unused one for this rule, act
                // and scope from the same granter (decide picks that one).
                if let Some(g) = self.grants.iter_mut().find(|g| {
                    !g.used
                        && g.rule == b.rule
                        && g.candidate_id == candidate
                        && g.event_type == b.overridden_event_type
                        && g.granted_by == b.authorised_by
                }) {
                    g.used = true;
                }
                self.overrides.push(OverrideEntry {
                    rule: b.rule,
                    candidate_id: candidate.clone(),
                    event_type: b.overridden_event_type.clone(),
                    authorised_by: b.authorised_by.clone(),
                    justification: b.justification.clone(),
                    at,
                })
            }
            EventBody::OverrideGranted(b) => {
                if let Some(by) = &b.granted_by {
                    self.grants.push(GrantEntry {
                        rule: b.rule,
                        candidate_id: candidate.clone(),
                        event_type: b.excused_event_type.clone(),
                        granted_by: by.clone(),
                        justification: b.justification.clone(),
                        at,
                        used: false,
                    });
                }
            }
            EventBody::CorrectionRecorded(b) => self.corrections.push(CorrectionEntry {
                candidate_id: candidate.clone(),
                corrects_event_id: b.corrects_event_id.clone(),
                reason: b.reason.clone(),
                at,
            }),
            EventBody::VotersRegistered(b) => {
                self.voters_on_roll = Some(b.registered);
                for roll in &b.mobile_box_voters {
                    self.mobile_rolls
                        .insert(roll.box_id.clone(), roll.voter_ids.len());
                }
            }
            EventBody::PledgeSigned(_)
            | EventBody::SupervisionVisited(_)
            | EventBody::DeliberationRound(_)
            | EventBody::ProcedureAdopted(_)
            | EventBody::ProcedureAmended(_) => {}
            body => {
                if let Some(id) = &candidate {
                    if let Some(c) = self.candidates.get_mut(id) {
                        apply_to_candidate(c, body, at);
                    }
                }
            }
        }
    }
}

fn apply_to_candidate(c: &mut CandidateState, body: &EventBody, at: DateTime<FixedOffset>) {
    match body {
        EventBody::Nominated(b) => c.nomination = Some(b.clone()),
        EventBody::ArchiveReviewed(b) => c.archive = Some(b.clone()),
        EventBody::PersonalMattersVerified(b) => c.personal_matters = Some(b.outcome),
        EventBody::DisciplineOpinionIssued(b) => {
            c.discipline = Some((b.opinion, b.affects_appointment))
        }
        EventBody::PetitionsSwept(_) => c.petitions_swept = true,
        EventBody::PetitionReceived(b) => {
            c.petitions
                .entry(b.petition_id.clone())
                .or_insert(PetitionState {
                    received_at: at,
                    specific: b.specific,
                    investigated_at: None,
                    closed: None,
                });
        }
        EventBody::PetitionInvestigated(b) => {
            if let Some(p) = c.petitions.get_mut(&b.petition_id) {
                p.investigated_at.get_or_insert(at);
            }
        }
        EventBody::PetitionClosed(b) => {
            if let Some(p) = c.petitions.get_mut(&b.petition_id) {
                p.closed = Some((b.conclusion, at));
            }
            if b.conclusion == PetitionConclusion::VoteBuying {
                c.vote_buying = true;
            }
        }
        EventBody::JointReview(b) => {
            c.joint_review = Some(b.outcome);
            c.joint_review_flags = b
                .departments
                .iter()
                .filter(|d| d.verdict == ReviewVerdict::Failed)
                .map(|d| match &d.note {
                    Some(n) => format!("{} ({n})", d.department),
                    None => d.department.clone(),
                })
                .collect();
        }
        EventBody::ConflictDeclared(b) => {
            c.conflicts.insert(b.person_id.clone(), b.relation.clone());
        }
        EventBody::CommitteeDecided(b) => c.decision = Some(b.outcome),
        EventBody::PublicityStarted(_) => c.publicity_started_at = Some(at),
        EventBody::PublicityObjectionReceived(b) => {
            c.objections
                .entry(b.objection_id.clone())
                .or_insert(ObjectionState {
                    received_at: at,
                    resolved: None,
                });
        }
        EventBody::PublicityObjectionResolved(b) => {
            if let Some(o) = c.objections.get_mut(&b.objection_id) {
                o.resolved = Some(b.substantiated);
            }
        }
        EventBody::CandidacyConfirmed(_) => c.listed = true,
        EventBody::NominationDeferred(_) => c.deferred = true,
        EventBody::NominationResumed(_) => c.deferred = false,
        EventBody::NominationWithdrawn(_) => c.withdrawn = true,
        EventBody::CandidateRemoved(_) => c.removed = true,
        EventBody::Elected(_) => c.elected = true,
        EventBody::ElectionVoided(_) => c.election_voided = true,
        EventBody::QualificationReviewed(b) => c.qualification = Some(b.outcome),
        EventBody::VoteBuyingFound(_) => c.vote_buying = true,
        // Recorded in `recorded` only: the facts needed later are in the payload.
        EventBody::Shortlisted(_)
        | EventBody::InspectionConducted(_)
        | EventBody::PublicityConcluded(_)
        | EventBody::ApprovalGranted(_) => {}
        // Election-level events are handled by the caller.
        EventBody::ElectionOpened(_)
        | EventBody::PledgeSigned(_)
        | EventBody::VotersRegistered(_)
        | EventBody::CommitteeMemberResigned(_)
        | EventBody::DeliberationRound(_)
        | EventBody::VoteHeld(_)
        | EventBody::ElectionDeclaredVoid(_)
        | EventBody::SupervisionVisited(_)
        | EventBody::CorrectionRecorded(_)
        | EventBody::OverrideRecorded(_)
        | EventBody::OverrideGranted(_)
        | EventBody::ProcedureAdopted(_)
        | EventBody::ProcedureAmended(_) => {}
    }
}

/// `apply` in the esrs style: state in, state out.
pub fn apply(mut state: ElectionState, event: &DomainEvent) -> ElectionState {
    state.apply(event);
    state
}

/// Folds events from scratch, in order.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a DomainEvent>) -> ElectionState {
    let mut state = ElectionState::default();
    for e in events {
        state.apply(e);
    }
    state
}
