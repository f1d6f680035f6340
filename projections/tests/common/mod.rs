//! Test support: a small world that records commands through `decide` and folds
//! the events with `apply`, plus "happy" payloads for every event type so that a
//! walk can be driven by the procedure data itself.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate};
use jishi_projections::events::*;
use jishi_projections::{
    decide, Actor, Command, DomainEvent, ElectionState, EventBody, Procedure, Refusal, RuleId,
};

pub const ELECTION: &str = "qingshan-2021";
pub const UNIT_ORG: &str = "天元区/青山镇";
pub const CANDIDATES: [&str; 2] = ["c1", "c2"];

pub fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test time")
}

pub fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date")
}

/// An actor of the given role in the district, which is above every unit here.
pub fn actor(role: &str) -> Actor {
    Actor::new(
        &format!("{role}-1"),
        &format!("{role} 经办人"),
        role,
        "天元区",
    )
}

/// A built-in procedure whose override roles for `rule` are replaced by `roles`
/// (empty: the rule cannot be overridden).
pub fn with_override_roles(kind: &str, rule: RuleId, roles: &[&str]) -> Procedure {
    let (file, text) = jishi_projections::BUILTIN
        .iter()
        .find(|(f, _)| f.starts_with(kind))
        .expect("builtin");
    let prefix = format!("{rule} = ");
    let mut out: String = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(|l| format!("{l}\n"))
        .collect();
    if !roles.is_empty() {
        let list: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
        // Right under the table's header, wherever the table is in the file.
        out = out.replacen(
            "[overrides]\n",
            &format!("[overrides]\n{rule} = [{}]\n", list.join(", ")),
            1,
        );
    }
    Procedure::from_toml_str(&out, file).expect("modified procedure")
}

pub struct World {
    pub procedure: Procedure,
    pub state: ElectionState,
    pub events: Vec<DomainEvent>,
    pub clock: DateTime<FixedOffset>,
    pub seats: u32,
    pub last_term_ratio: Option<f64>,
    pub election_committee: Vec<String>,
}

impl World {
    pub fn new(kind: &str) -> World {
        World::with(Procedure::builtin(kind).expect("builtin procedure"))
    }

    pub fn with(procedure: Procedure) -> World {
        World {
            procedure,
            state: ElectionState::default(),
            events: Vec::new(),
            // Thursday; no holiday for the next weeks but Qingming is past.
            clock: at("2021-04-08T09:00:00+08:00"),
            seats: 1,
            last_term_ratio: Some(0.2),
            election_committee: vec!["ec-1".into(), "ec-2".into()],
        }
    }

    pub fn tick(&mut self, days: i64) -> DateTime<FixedOffset> {
        self.clock += Duration::days(days);
        self.clock
    }

    /// The first role the procedure lets record `event_type`.
    pub fn recorder(&self, event_type: &str) -> Actor {
        let roles = self.procedure.roles_for(event_type);
        actor(roles.first().map(String::as_str).unwrap_or("nobody"))
    }

    pub fn cmd(&self, candidate: Option<&str>, body: EventBody) -> Command {
        Command::new(ELECTION, candidate, self.clock, body)
    }

    /// Decides without recording.
    pub fn attempt(&self, actor: &Actor, cmd: &Command) -> Result<Vec<DomainEvent>, Refusal> {
        decide(&self.state, actor, cmd, &self.procedure)
    }

    /// Decides and, when accepted, folds the events in. For each override the
    /// command asks, a grant is recorded first by the first role the procedure
    /// lets grant it other than the recorder's (D20); if the act is refused,
    /// the grants are not kept.
    pub fn try_record(&mut self, actor: &Actor, cmd: Command) -> Result<Vec<DomainEvent>, Refusal> {
        let (state, recorded) = (self.state.clone(), self.events.len());
        self.grant_overrides(actor, &cmd);
        match decide(&self.state, actor, &cmd, &self.procedure) {
            Ok(events) => {
                for e in &events {
                    self.state.apply(e);
                }
                self.events.extend(events.iter().cloned());
                Ok(events)
            }
            Err(r) => {
                self.state = state;
                self.events.truncate(recorded);
                Err(r)
            }
        }
    }

    /// The grant for one act, as its granter records it (D20).
    pub fn grant_cmd(&self, act: &Command, rule: RuleId) -> Command {
        let body = EventBody::OverrideGranted(OverrideGranted {
            rule,
            excused_event_type: act.kind().into(),
            justification: "经上级批准".into(),
            granted_by: None,
        });
        Command::new(ELECTION, act.candidate_id.as_deref(), act.occurred_at, body)
    }

    /// Records a grant for each override of `cmd`, by a role other than `who`'s.
    fn grant_overrides(&mut self, who: &Actor, cmd: &Command) {
        for o in &cmd.overrides {
            let Some(role) = self
                .procedure
                .override_roles(o.rule)
                .iter()
                .find(|r| **r != who.role)
                .cloned()
            else {
                continue;
            };
            let g = self.grant_cmd(cmd, o.rule);
            if let Ok(events) = decide(&self.state, &actor(&role), &g, &self.procedure) {
                for e in &events {
                    self.state.apply(e);
                }
                self.events.extend(events);
            }
        }
    }

    /// Records what must be accepted; a refusal fails the test with its message.
    pub fn record(&mut self, actor: &Actor, cmd: Command) -> Vec<DomainEvent> {
        let kind = cmd.kind();
        match self.try_record(actor, cmd) {
            Ok(e) => e,
            Err(r) => panic!("{kind} was refused:\n{r}"),
        }
    }

    /// Records the happy form of `event_type` by its first entitled role.
    pub fn happy_record(&mut self, event_type: &str, candidate: Option<&str>) -> Vec<DomainEvent> {
        let body = self.happy(event_type, candidate);
        let cmd = self.cmd(candidate, body);
        let who = self.recorder(event_type);
        self.record(&who, cmd)
    }

    /// Walks every step of the procedure, in order, for both candidates, and stops
    /// just before `stop` (an event type) if given. Election-level events once;
    /// candidate events for each candidate still in the running, except that only
    /// c1 wins and goes on to steps after the result.
    pub fn walk_until(&mut self, stop: Option<&str>) {
        let steps = self.procedure.steps.clone();
        for step in steps {
            for ev in &step.events {
                if stop == Some(ev.as_str()) {
                    return;
                }
                let days = if ev == "publicity.concluded" { 10 } else { 1 };
                self.tick(days);
                match step.scope {
                    Scope::Election => {
                        self.happy_record(ev, None);
                    }
                    _ => {
                        for c in CANDIDATES {
                            let done = self.state.candidate(c).is_some_and(|s| s.has(ev));
                            let loser_after_vote = c != "c1"
                                && (ev == "candidate.elected" || ev == "qualification.reviewed");
                            if done || loser_after_vote {
                                continue;
                            }
                            if self
                                .state
                                .candidate(c)
                                .is_some_and(|s| !s.is_active() && !s.listed)
                            {
                                continue;
                            }
                            self.happy_record(ev, Some(c));
                        }
                    }
                }
            }
        }
    }

    /// A payload that breaks no rule, for each recordable event type.
    pub fn happy(&self, event_type: &str, candidate: Option<&str>) -> EventBody {
        let c = candidate.unwrap_or("c1");
        match event_type {
            "election.opened" => EventBody::ElectionOpened(ElectionOpened {
                unit_id: "qingshan".into(),
                unit_name: "青山镇".into(),
                unit_org: UNIT_ORG.into(),
                body: "镇党委委员".into(),
                kind: self.procedure.kind.clone(),
                seats: self.seats,
                term: "2021-2026".into(),
                last_term_differential_ratio: self.last_term_ratio,
                election_committee: self.election_committee.clone(),
            }),
            "pledge.signed" => EventBody::PledgeSigned(PledgeSigned {
                signer_category: "党委委员".into(),
                signer_count: 9,
                signer_ids: vec![],
            }),
            "voters.registered" => EventBody::VotersRegistered(VotersRegistered {
                registered: 3200,
                note: None,
                added: Some(120),
                removed: Some(45),
                mobile_box_voters: vec![MobileBoxRoll {
                    box_id: "box-1".into(),
                    voter_ids: vec!["v-31".into(), "v-32".into()],
                }],
            }),
            "election_committee.member_resigned" => {
                EventBody::CommitteeMemberResigned(CommitteeMemberResigned {
                    person_id: c.into(),
                    reason: "被提名为代表候选人".into(),
                })
            }
            "deliberation.round" => EventBody::DeliberationRound(DeliberationRound {
                round: 1,
                direction: Direction::Up,
                summary: "一上".into(),
            }),
            "vote.held" => {
                let mut votes = BTreeMap::new();
                for (id, cs) in &self.state.candidates {
                    if cs.listed && cs.is_active() {
                        votes.insert(id.clone(), if id == "c1" { 80 } else { 15 });
                    }
                }
                EventBody::VoteHeld(VoteHeld {
                    round: 1,
                    ballots_issued: 100,
                    ballots_returned: 98,
                    ballots_valid: 96,
                    votes,
                    scrutineers: vec!["s-1".into(), "s-2".into()],
                    proxies: vec![Proxy {
                        holder_id: "v-9".into(),
                        giver_ids: vec!["v-1".into(), "v-2".into(), "v-3".into()],
                        committee_approved: true,
                    }],
                    mobile_boxes: vec![MobileBox {
                        box_id: "box-1".into(),
                        made_by_committee: true,
                        scrutineers: vec!["s-3".into(), "s-4".into()],
                        sealed: true,
                        signed: true,
                        voters_registered: true,
                    }],
                    electors: Some(100),
                    purpose: None,
                })
            }
            "candidate.nominated" => EventBody::Nominated(Nominated {
                name: format!("候选人{c}"),
                sex: if c == "c1" { Sex::Female } else { Sex::Male },
                birth_date: date("1988-03-02"),
                current_post: "副镇长".into(),
                township_work_years: 6,
                exchanged: false,
                incumbent: true,
                election_committee_member: false,
                method: NominationMethod::IndividualConversation,
                nominator_id: "nom-1".into(),
                nominator_name: "镇党委".into(),
                recommendation_votes: Some(RecommendationVotes {
                    received: 30,
                    total: 35,
                }),
                ethnicity: None,
                education: Some("大学".into()),
                representative_category: None,
                person_ref: None,
            }),
            "candidate.shortlisted" => EventBody::Shortlisted(Shortlisted {
                basis: "谈话推荐和会议推荐综合".into(),
            }),
            "inspection.conducted" => EventBody::InspectionConducted(InspectionConducted {
                team_leader: "insp-lead".into(),
                team_members: vec!["insp-2".into(), "insp-3".into()],
                interviewees: 24,
                extended: true,
                findings: "政治过硬，实绩突出".into(),
            }),
            "check.archive_reviewed" => EventBody::ArchiveReviewed(ArchiveReviewed {
                birth_date: date("1988-03-02"),
                party_join_date: Some(date("2010-06-01")),
                work_start_date: date("2010-07-01"),
                education: "大学".into(),
                work_history_verified: true,
                identity_verified: true,
                discrepancies: vec![],
            }),
            "check.personal_matters_verified" => {
                EventBody::PersonalMattersVerified(PersonalMattersVerified {
                    outcome: PersonalMattersOutcome::Consistent,
                    note: None,
                })
            }
            "check.discipline_opinion" => {
                EventBody::DisciplineOpinionIssued(DisciplineOpinionIssued {
                    opinion: DisciplineOpinion::Clear,
                    affects_appointment: false,
                    note: None,
                })
            }
            "check.petitions_swept" => EventBody::PetitionsSwept(PetitionsSwept {
                found: 0,
                note: None,
            }),
            "petition.received" => EventBody::PetitionReceived(PetitionReceived {
                petition_id: "p-1".into(),
                channel: "来信".into(),
                specific: true,
                summary: "反映拉票".into(),
            }),
            "petition.investigated" => EventBody::PetitionInvestigated(PetitionInvestigated {
                petition_id: "p-1".into(),
                result: "经查失实".into(),
                handler: "h-1".into(),
                leader: "l-1".into(),
            }),
            "petition.closed" => EventBody::PetitionClosed(PetitionClosed {
                petition_id: "p-1".into(),
                conclusion: PetitionConclusion::Unfounded,
                note: "予以澄清".into(),
            }),
            "review.joint" => EventBody::JointReview(JointReview {
                departments: if self.procedure.joint_review_departments.is_empty() {
                    vec!["公安".to_string()]
                } else {
                    self.procedure.joint_review_departments.clone()
                }
                .into_iter()
                .map(|department| DepartmentVerdict {
                    department,
                    verdict: ReviewVerdict::Passed,
                    note: None,
                })
                .collect(),
                outcome: ReviewVerdict::Passed,
            }),
            "conflict.declared" => EventBody::ConflictDeclared(ConflictDeclared {
                person_id: "insp-2".into(),
                person_name: "考察组成员二".into(),
                relation: "近亲属".into(),
            }),
            "committee.decided" => EventBody::CommitteeDecided(CommitteeDecided {
                meeting_id: "m-1".into(),
                body: "区委常委会".into(),
                chair: "sec-1".into(),
                attendees: vec!["sec-1".into(), "a-2".into(), "a-3".into()],
                votes_for: 3,
                votes_against: 0,
                abstain: 0,
                outcome: DecisionOutcome::Approved,
                rationale: "综合考察情况".into(),
            }),
            "publicity.started" => EventBody::PublicityStarted(PublicityStarted {
                scope: "全镇".into(),
                channel: "公示栏".into(),
            }),
            "publicity.objection_received" => {
                EventBody::PublicityObjectionReceived(PublicityObjectionReceived {
                    objection_id: "o-1".into(),
                    summary: "反映工作作风".into(),
                })
            }
            "publicity.objection_resolved" => {
                EventBody::PublicityObjectionResolved(PublicityObjectionResolved {
                    objection_id: "o-1".into(),
                    resolution: "经核查不影响".into(),
                    substantiated: false,
                })
            }
            "publicity.concluded" => EventBody::PublicityConcluded(PublicityConcluded {
                result: "无不良反映".into(),
            }),
            "approval.granted" => EventBody::ApprovalGranted(ApprovalGranted {
                approving_body: "区委组织部".into(),
                reference: "天组函〔2021〕12号".into(),
            }),
            "candidacy.confirmed" => EventBody::CandidacyConfirmed(CandidacyConfirmed {
                list_reference: "候选人名单".into(),
            }),
            "nomination.deferred" => EventBody::NominationDeferred(NominationDeferred {
                reason: "纪检意见待复核".into(),
            }),
            "nomination.resumed" => EventBody::NominationResumed(NominationResumed {
                reason: "已复核".into(),
            }),
            "nomination.withdrawn" => EventBody::NominationWithdrawn(NominationWithdrawn {
                nominator_id: "nom-1".into(),
                reason: "不符合任职条件".into(),
            }),
            "candidate.removed" => EventBody::CandidateRemoved(CandidateRemoved {
                reason: "不符合条件".into(),
                rule: None,
            }),
            "candidate.elected" => EventBody::Elected(Elected {
                votes: 80,
                ballots_valid: 96,
            }),
            "candidate.election_voided" => EventBody::ElectionVoided(ElectionVoided {
                reason: "程序违法".into(),
                rule: None,
            }),
            "qualification.reviewed" => EventBody::QualificationReviewed(QualificationReviewed {
                outcome: QualificationOutcome::Valid,
                note: "符合条件".into(),
            }),
            "finding.vote_buying" => EventBody::VoteBuyingFound(VoteBuyingFound {
                source: "区纪委调查".into(),
                summary: "宴请拉票".into(),
            }),
            "correction.recorded" => EventBody::CorrectionRecorded(CorrectionRecorded {
                corrects_event_id: "42".into(),
                reason: "笔误".into(),
                corrected: None,
            }),
            "procedure.amended" => EventBody::ProcedureAmended(ProcedureAmended {
                content: self.procedure.canonical_toml(),
                reason: "区委批准".into(),
                digest: None,
            }),
            "override.granted" => EventBody::OverrideGranted(OverrideGranted {
                rule: RuleId::R1,
                excused_event_type: if candidate.is_some() {
                    "candidate.shortlisted".into()
                } else {
                    "deliberation.round".into()
                },
                justification: "经上级批准".into(),
                granted_by: None,
            }),
            "election.declared_void" => EventBody::ElectionDeclaredVoid(ElectionDeclaredVoid {
                reason: "选举程序违法".into(),
                decided_by: "镇党委代表资格审查小组".into(),
            }),
            "supervision.visited" => EventBody::SupervisionVisited(SupervisionVisited {
                step: self.procedure.steps[0].id.clone(),
                observations: "现场督导".into(),
                nonconformities: vec![],
                corrective_order: None,
            }),
            other => panic!("no happy payload for {other}"),
        }
    }
}

/// The refusal must name `rule`, its text and its seed source, and say how (or
/// that it cannot) be overridden.
pub fn assert_refused_with(result: Result<Vec<DomainEvent>, Refusal>, rule: RuleId) -> Refusal {
    let refusal = match result {
        Ok(events) => panic!("expected a refusal under {rule}, got {events:?}"),
        Err(r) => r,
    };
    assert_eq!(refusal.rule(), Some(rule), "wrong refusal: {refusal}");
    let text = refusal.to_string();
    assert!(text.starts_with(&format!("{rule} violated")), "{text}");
    assert!(text.contains(rule.text()), "{text}");
    let source = rule.source();
    assert!(text.contains(&format!("seeds/{}", source.file)), "{text}");
    assert!(text.contains(source.phrase), "{text}");
    assert!(text.contains("override"), "{text}");
    refusal
}

/// An accepted override: `override.recorded` naming the rule, the justification and
/// the granter, who is not of the role of `by`, the act's recorder (D20), then the
/// act itself.
pub fn assert_override_recorded(events: &[DomainEvent], rule: RuleId, act: &str, by: &Actor) {
    assert!(events.len() >= 2, "{events:?}");
    match &events[0].body {
        EventBody::OverrideRecorded(o) => {
            assert_eq!(o.rule, rule);
            assert_ne!(o.authorised_by.role, by.role, "a self-serving override");
            assert_ne!(o.authorised_by.id, by.id, "a self-serving override");
            assert_eq!(o.overridden_event_type, act);
            assert!(!o.justification.is_empty());
            assert!(!o.violation.is_empty());
        }
        other => panic!("expected override.recorded first, got {other:?}"),
    }
    assert_eq!(events[1].event_type(), act);
    assert_eq!(events[0].stream(), events[1].stream());
}

/// The world's events as ledger entries, at positions 1, 2, …, recorded a
/// second apart, each by the role that records it (an override's by its
/// authoriser): what the views read.
pub fn entries(w: &World) -> Vec<jishi_projections::views::Entry> {
    let base = at("2021-06-01T00:00:00+00:00");
    w.events
        .iter()
        .enumerate()
        .map(|(i, e)| jishi_projections::views::Entry {
            position: i as u64 + 1,
            event_id: format!("ev-{}", i + 1),
            recorded_at: base + Duration::seconds(i as i64),
            actor: match &e.body {
                EventBody::OverrideRecorded(o) => o.authorised_by.clone(),
                _ => w.recorder(e.event_type()),
            },
            hash: [i as u8; 32],
            payload_digest: [i as u8; 32],
            gated_under: None,
            event: e.clone(),
        })
        .collect()
}
