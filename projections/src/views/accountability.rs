//! The responsibility chain of a candidate: 谁提名谁负责、谁考察谁负责、
//! 谁主持会议讨论决定谁负责 (002). For every act that carries responsibility it
//! names the persons the act makes answerable (the nominator, the inspection
//! team, the chair and attendees, the case handler and leader), the actor who
//! recorded it, the date and the ledger position — the facts an accountability
//! investigation (倒查追责) starts from.

use serde::Serialize;

use super::facts::conclusion_label;
use super::Entry;
use crate::actor::Actor;
use crate::events::EventBody;

/// One link of the chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Duty {
    /// A stable key, e.g. `nominated`, `inspected`, `decided`.
    pub duty: &'static str,
    /// Chinese and English label, e.g. `提名 nominated`.
    pub label: &'static str,
    /// The persons the act names as responsible (ids or names as recorded).
    pub responsible: Vec<String>,
    /// Who recorded the act (and, by the envelope, answers for it).
    pub recorded_by: Actor,
    pub occurred_at: String,
    pub position: u64,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accountability {
    pub election_id: String,
    pub candidate_id: String,
    pub name: Option<String>,
    pub duties: Vec<Duty>,
}

impl Accountability {
    pub fn new(election_id: &str, candidate_id: &str) -> Accountability {
        Accountability {
            election_id: election_id.to_string(),
            candidate_id: candidate_id.to_string(),
            name: None,
            duties: Vec::new(),
        }
    }

    /// The duty of one check, if recorded (for "who performed each 凡提 check").
    pub fn find(&self, duty: &str) -> Option<&Duty> {
        self.duties.iter().rev().find(|d| d.duty == duty)
    }

    /// Adds the next entry of this candidate; entries that carry no
    /// responsibility (and entries of others) change nothing.
    pub fn push(&mut self, e: &Entry) {
        if e.event.candidate_id.as_deref() != Some(self.candidate_id.as_str())
            || e.event.election_id != self.election_id
        {
            return;
        }
        let actor = || vec![format!("{} ({})", e.actor.name, e.actor.id)];
        let (duty, label, responsible, detail): (&str, &str, Vec<String>, String) = match &e
            .event
            .body
        {
            EventBody::Nominated(b) => {
                self.name = Some(b.name.clone());
                (
                    "nominated",
                    "提名 nominated (谁提名谁负责)",
                    vec![format!("{} ({})", b.nominator_name, b.nominator_id)],
                    format!("{:?}", b.method).to_lowercase(),
                )
            }
            EventBody::Shortlisted(b) => (
                "shortlisted",
                "确定考察对象 shortlisted",
                actor(),
                b.basis.clone(),
            ),
            EventBody::InspectionConducted(b) => {
                let mut who = vec![format!("组长 {}", b.team_leader)];
                who.extend(b.team_members.iter().map(|m| format!("组员 {m}")));
                (
                    "inspected",
                    "考察 inspected (谁考察谁负责)",
                    who,
                    format!("谈话{}人 {}", b.interviewees, b.findings),
                )
            }
            EventBody::ArchiveReviewed(b) => (
                "archive_reviewed",
                "档案必审 archive reviewed",
                actor(),
                format!(
                    "身份{} 经历{} 出入{}项",
                    if b.identity_verified {
                        "已核"
                    } else {
                        "未核"
                    },
                    if b.work_history_verified {
                        "已核"
                    } else {
                        "未核"
                    },
                    b.discrepancies.len()
                ),
            ),
            EventBody::PersonalMattersVerified(b) => (
                "personal_matters_verified",
                "个人有关事项必核 personal matters verified",
                actor(),
                format!("{:?}", b.outcome).to_lowercase(),
            ),
            EventBody::DisciplineOpinionIssued(b) => (
                "discipline_opinion",
                "纪检意见必听 discipline opinion",
                actor(),
                format!(
                    "{:?}{}",
                    b.opinion,
                    if b.affects_appointment {
                        " 影响任用"
                    } else {
                        ""
                    }
                )
                .to_lowercase(),
            ),
            EventBody::PetitionsSwept(b) => (
                "petitions_swept",
                "信访举报必查 petitions swept",
                actor(),
                format!("发现{}件", b.found),
            ),
            EventBody::PetitionInvestigated(b) => (
                "petition_investigated",
                "报送查核结果 petition investigated",
                vec![
                    format!("承办人 {}", b.handler),
                    format!("负责人 {}", b.leader),
                ],
                format!("{}: {}", b.petition_id, b.result),
            ),
            EventBody::PetitionClosed(b) => (
                "petition_closed",
                "信访办结 petition closed",
                actor(),
                format!("{}: {}", b.petition_id, conclusion_label(b.conclusion)),
            ),
            EventBody::JointReview(b) => (
                "joint_review",
                "部门联审 joint review",
                b.departments.iter().map(|d| d.department.clone()).collect(),
                format!("{:?}", b.outcome).to_lowercase(),
            ),
            EventBody::NominationDeferred(b) => {
                ("deferred", "暂缓提名 deferred", actor(), b.reason.clone())
            }
            EventBody::NominationResumed(b) => {
                ("resumed", "恢复提名 resumed", actor(), b.reason.clone())
            }
            EventBody::NominationWithdrawn(b) => (
                "withdrawn",
                "撤回提名 withdrawn",
                vec![b.nominator_id.clone()],
                b.reason.clone(),
            ),
            EventBody::CommitteeDecided(b) => {
                let mut who = vec![format!("主持 {}", b.chair)];
                who.extend(
                    b.attendees
                        .iter()
                        .filter(|a| **a != b.chair)
                        .map(|a| format!("到会 {a}")),
                );
                (
                    "decided",
                    "讨论决定 decided (谁主持会议讨论决定谁负责)",
                    who,
                    format!(
                        "{} {} {}:{}:{} {:?}",
                        b.body, b.meeting_id, b.votes_for, b.votes_against, b.abstain, b.outcome
                    ),
                )
            }
            EventBody::PublicityStarted(b) => (
                "publicity_started",
                "公示 publicity started",
                actor(),
                b.scope.clone(),
            ),
            EventBody::PublicityObjectionResolved(b) => (
                "objection_resolved",
                "公示反映办结 objection resolved",
                actor(),
                format!("{} {}", b.objection_id, b.resolution),
            ),
            EventBody::PublicityConcluded(b) => (
                "publicity_concluded",
                "公示结束 publicity concluded",
                actor(),
                b.result.clone(),
            ),
            EventBody::ApprovalGranted(b) => (
                "approved",
                "报批 approved",
                vec![b.approving_body.clone()],
                b.reference.clone(),
            ),
            EventBody::CandidacyConfirmed(b) => (
                "candidacy",
                "确定候选人 candidacy confirmed",
                actor(),
                b.list_reference.clone(),
            ),
            EventBody::Elected(b) => (
                "elected",
                "当选 elected",
                actor(),
                format!("{}/{}", b.votes, b.ballots_valid),
            ),
            EventBody::CandidateRemoved(b) => {
                ("removed", "从名单拿下 removed", actor(), b.reason.clone())
            }
            EventBody::ElectionVoided(b) => (
                "voided",
                "当选无效 election voided",
                actor(),
                b.reason.clone(),
            ),
            EventBody::VoteBuyingFound(b) => (
                "vote_buying",
                "查实拉票贿选 vote buying found",
                actor(),
                b.summary.clone(),
            ),
            EventBody::OverrideRecorded(b) => (
                "override",
                "越过规则 override",
                vec![format!("{} ({})", b.authorised_by.name, b.authorised_by.id)],
                format!(
                    "{} {}: {}",
                    b.rule, b.overridden_event_type, b.justification
                ),
            ),
            _ => return,
        };
        self.duties.push(Duty {
            duty,
            label,
            responsible,
            recorded_by: e.actor.clone(),
            occurred_at: e
                .event
                .occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            position: e.position,
            detail,
        });
    }
}

/// The responsibility chain of `candidate_id` from `entries` in ledger order.
pub fn accountability(entries: &[Entry], candidate_id: &str) -> Accountability {
    let election = entries
        .iter()
        .find(|e| e.event.candidate_id.as_deref() == Some(candidate_id))
        .map(|e| e.event.election_id.clone())
        .unwrap_or_default();
    let mut a = Accountability::new(&election, candidate_id);
    for e in entries {
        a.push(e);
    }
    a
}
