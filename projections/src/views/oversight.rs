//! 上查一级: for a candidate with a serious breach, who answers one level up
//! (D30; seed 002:459 "对违规用人问题…一案双查…上查一级", 002:679, 002:1015).
//! The direct chain (谁提名、谁考察、谁主持会议讨论决定) is the
//! accountability view; this adds those above it, as the ledger names them:
//! the chair and members of the deciding meeting, the approving body and
//! whoever recorded the approval, the organisation department's staff who
//! recorded the candidate's steps, the supervision group's visits to the
//! election (督导组), and the organisation that leads the unit's
//! transition (the unit's organisation one level up its path). It is a
//! pure function of entries, so "as of" works as for every view
//! (domain decision 33).

use std::collections::BTreeMap;

use serde::Serialize;

use super::accountability::{accountability, Duty};
use super::Entry;
use crate::actor::Actor;
use crate::events::{sensitivity_of, EventBody, QualificationOutcome, Sensitivity};

/// A serious breach found for the candidate, or for the whole election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    pub event_type: String,
    pub label: &'static str,
    pub position: u64,
    pub occurred_at: String,
    /// What the event says; empty when the reader may not see it
    /// (`restricted` is then set).
    pub detail: String,
    pub restricted: bool,
}

/// One answerable party above the direct chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Oversight {
    /// A stable key: `chair`, `meeting`, `approval`, `organisation`, `supervision`.
    pub duty: &'static str,
    pub label: &'static str,
    /// The persons or bodies named (ids or names as recorded).
    pub who: Vec<String>,
    pub recorded_by: Actor,
    pub position: u64,
    pub occurred_at: String,
    pub detail: String,
}

/// The answer to 上查一级 for one candidate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OneLevelUp {
    pub election_id: String,
    pub candidate_id: String,
    pub name: Option<String>,
    /// Empty: no serious breach is recorded, and the query shows the chain
    /// anyway (an inspector may ask before one is).
    pub breaches: Vec<Breach>,
    /// 谁提名、谁考察、谁主持会议讨论决定: the direct duties.
    pub direct: Vec<Duty>,
    /// One level up.
    pub above: Vec<Oversight>,
    /// The organisation leading the unit's transition: the unit's
    /// organisation one level up its path (`天元区/青山镇` → `天元区`), or the
    /// unit's organisation itself when it is a top-level one (a district
    /// runs its townships' transitions under its own name).
    pub leading_org: Option<String>,
    /// Whether a supervision group recorded any visit to the election.
    pub supervised: bool,
}

fn parent(org: &str) -> Option<String> {
    org.rsplit_once('/').map(|(p, _)| p.to_string())
}

/// 上查一级 of `candidate_id` over one election's `entries` (ledger order);
/// `may_see` says whether the reader may see content of a sensitivity.
pub fn one_level_up(
    entries: &[Entry],
    candidate_id: &str,
    may_see: &dyn Fn(Sensitivity) -> bool,
) -> OneLevelUp {
    let chain = accountability(entries, candidate_id);
    let direct = chain
        .duties
        .iter()
        .filter(|d| matches!(d.duty, "nominated" | "inspected" | "decided"))
        .cloned()
        .collect();
    let mut out = OneLevelUp {
        election_id: entries
            .first()
            .map(|e| e.event.election_id.clone())
            .unwrap_or_default(),
        candidate_id: candidate_id.to_string(),
        name: chain.name.clone(),
        breaches: Vec::new(),
        direct,
        above: Vec::new(),
        leading_org: None,
        supervised: false,
    };
    // The organisation department's staff, once each, at their first act.
    let mut staff: BTreeMap<String, Oversight> = BTreeMap::new();
    for e in entries {
        let mine = e.event.candidate_id.as_deref() == Some(candidate_id);
        let at = e.event.occurred_at.to_rfc3339();
        let visible = may_see(sensitivity_of(e.event.event_type()));
        let mut breach = |label: &'static str, detail: String| {
            out.breaches.push(Breach {
                event_type: e.event.event_type().to_string(),
                label,
                position: e.position,
                occurred_at: at.clone(),
                detail: if visible { detail } else { String::new() },
                restricted: !visible,
            })
        };
        match &e.event.body {
            EventBody::ElectionOpened(b) => {
                out.leading_org = Some(parent(&b.unit_org).unwrap_or_else(|| b.unit_org.clone()))
            }
            EventBody::ElectionDeclaredVoid(b) => breach(
                "宣布选举无效 election declared void",
                format!("{}（{}）", b.reason, b.decided_by),
            ),
            EventBody::SupervisionVisited(b) => {
                out.supervised = true;
                out.above.push(Oversight {
                    duty: "supervision",
                    label: "督导组 supervision group",
                    who: vec![format!("{} ({})", e.actor.name, e.actor.id)],
                    recorded_by: e.actor.clone(),
                    position: e.position,
                    occurred_at: at.clone(),
                    detail: if b.nonconformities.is_empty() {
                        format!("{}：{}", b.step, b.observations)
                    } else {
                        format!(
                            "{}：{}；问题 {}",
                            b.step,
                            b.observations,
                            b.nonconformities.join("；")
                        )
                    },
                });
            }
            _ if !mine => {}
            EventBody::VoteBuyingFound(b) => {
                breach("查实拉票贿选 vote buying established", b.summary.clone())
            }
            EventBody::ElectionVoided(_) => breach("当选无效 election voided", String::new()),
            EventBody::CandidateRemoved(b) => {
                breach("从名单上拿下来 removed from the list", b.reason.clone())
            }
            EventBody::QualificationReviewed(b) if b.outcome == QualificationOutcome::Invalid => {
                breach("代表资格无效 qualification invalid", b.note.clone())
            }
            EventBody::PetitionClosed(b) if !b.conclusion.is_clean() => {
                breach("信访举报查实 petition substantiated", b.note.clone())
            }
            EventBody::CommitteeDecided(b) => {
                out.above.push(Oversight {
                    duty: "chair",
                    label: "主持会议讨论决定 chaired the decision",
                    who: vec![b.chair.clone()],
                    recorded_by: e.actor.clone(),
                    position: e.position,
                    occurred_at: at.clone(),
                    detail: format!("{} {}", b.body, b.meeting_id),
                });
                out.above.push(Oversight {
                    duty: "meeting",
                    label: "参加讨论决定 took part in the decision",
                    who: b.attendees.clone(),
                    recorded_by: e.actor.clone(),
                    position: e.position,
                    occurred_at: at.clone(),
                    detail: format!(
                        "同意 {} 不同意 {} 弃权 {}",
                        b.votes_for, b.votes_against, b.abstain
                    ),
                });
            }
            EventBody::ApprovalGranted(b) => out.above.push(Oversight {
                duty: "approval",
                label: "审批 approved",
                who: vec![b.approving_body.clone()],
                recorded_by: e.actor.clone(),
                position: e.position,
                occurred_at: at.clone(),
                detail: b.reference.clone(),
            }),
            _ => {}
        }
        if mine && e.actor.role == "organisation_department" {
            staff
                .entry(e.actor.id.clone())
                .or_insert_with(|| Oversight {
                    duty: "organisation",
                    label: "组织部门经办 organisation department staff",
                    who: vec![format!("{} ({})", e.actor.name, e.actor.id)],
                    recorded_by: e.actor.clone(),
                    position: e.position,
                    occurred_at: at.clone(),
                    detail: format!("{} {}", e.actor.org, e.event.event_type()),
                });
        }
    }
    out.above.extend(staff.into_values());
    out.above.sort_by_key(|o| o.position);
    out
}
