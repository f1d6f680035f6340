//! The key facts of an event in one short line, for trails and reports read by
//! people. Sensitive content stays out: a petition shows its id, channel and
//! whether it is specific, never a petitioner (there is none in the payload)
//! nor its summary, which is left to the ledger's redaction (DOMAIN.md §7).

use crate::events::*;

fn join(v: &[String]) -> String {
    v.join(",")
}

/// One line of what an event says.
pub fn key_facts(body: &EventBody) -> String {
    match body {
        EventBody::ElectionOpened(b) => format!(
            "{} {} 应选{}名 {} kind={}",
            b.unit_name, b.body, b.seats, b.term, b.kind
        ),
        EventBody::PledgeSigned(b) => format!("{} {}份", b.signer_category, b.signer_count),
        EventBody::VotersRegistered(b) => format!(
            "登记选民 {} (新增 {}, 减少 {}, 流动票箱 {} 个)",
            b.registered,
            b.added.unwrap_or(0),
            b.removed.unwrap_or(0),
            b.mobile_box_voters.len()
        ),
        EventBody::CommitteeMemberResigned(b) => format!("{} 辞职: {}", b.person_id, b.reason),
        EventBody::DeliberationRound(b) => format!(
            "第{}轮 {} {}",
            b.round,
            match b.direction {
                Direction::Up => "上",
                Direction::Down => "下",
            },
            b.summary
        ),
        EventBody::VoteHeld(b) => format!(
            "第{}轮 发出{} 收回{} 有效{} 候选人{}名 监票人{}名 委托{} 流动票箱{}",
            b.round,
            b.ballots_issued,
            b.ballots_returned,
            b.ballots_valid,
            b.votes.len(),
            b.scrutineers.len(),
            b.proxies.len(),
            b.mobile_boxes.len()
        ),
        EventBody::Nominated(b) => format!(
            "{} {:?} 生于{} {} 乡镇工作{}年{}{} 提名人 {}({}) {:?}",
            b.name,
            b.sex,
            b.birth_date,
            b.current_post,
            b.township_work_years,
            if b.incumbent { " 留任" } else { " 新提名" },
            if b.exchanged { " 交流" } else { "" },
            b.nominator_name,
            b.nominator_id,
            b.method
        )
        .replace("Female", "女")
        .replace("Male", "男"),
        EventBody::Shortlisted(b) => b.basis.clone(),
        EventBody::InspectionConducted(b) => format!(
            "组长 {} 组员 {} 谈话{}人{} {}",
            b.team_leader,
            join(&b.team_members),
            b.interviewees,
            if b.extended { " 延伸考察" } else { "" },
            b.findings
        ),
        EventBody::ArchiveReviewed(b) => {
            let open = b.discrepancies.iter().filter(|d| !d.resolved).count();
            format!(
                "出生{} 参加工作{} {} 经历{} 身份{} 出入{}项(未解决{})",
                b.birth_date,
                b.work_start_date,
                b.education,
                if b.work_history_verified {
                    "已核"
                } else {
                    "未核"
                },
                if b.identity_verified {
                    "已核"
                } else {
                    "未核"
                },
                b.discrepancies.len(),
                open
            )
        }
        EventBody::PersonalMattersVerified(b) => format!("{:?}", b.outcome).to_lowercase(),
        EventBody::DisciplineOpinionIssued(b) => format!(
            "{} {}",
            format!("{:?}", b.opinion).to_lowercase(),
            if b.affects_appointment {
                "影响任用"
            } else {
                "不影响任用"
            }
        ),
        EventBody::PetitionsSwept(b) => format!("发现{}件", b.found),
        EventBody::PetitionReceived(b) => format!(
            "{} {}{}",
            b.petition_id,
            b.channel,
            if b.specific { " 线索具体" } else { "" }
        ),
        EventBody::PetitionInvestigated(b) => format!(
            "{} 承办人 {} 负责人 {}: {}",
            b.petition_id, b.handler, b.leader, b.result
        ),
        EventBody::PetitionClosed(b) => format!(
            "{} {} {}",
            b.petition_id,
            conclusion_label(b.conclusion),
            b.note
        ),
        EventBody::JointReview(b) => format!("{}个部门 {:?}", b.departments.len(), b.outcome),
        EventBody::ConflictDeclared(b) => {
            format!("{} {} {}", b.person_id, b.person_name, b.relation)
        }
        EventBody::CommitteeDecided(b) => format!(
            "{} {} 主持 {} 到会{}人 {}:{}:{} {:?}",
            b.body,
            b.meeting_id,
            b.chair,
            b.attendees.len(),
            b.votes_for,
            b.votes_against,
            b.abstain,
            b.outcome
        ),
        EventBody::PublicityStarted(b) => format!("{} {}", b.scope, b.channel),
        EventBody::PublicityObjectionReceived(b) => b.objection_id.clone(),
        EventBody::PublicityObjectionResolved(b) => format!(
            "{} {} {}",
            b.objection_id,
            if b.substantiated {
                "属实"
            } else {
                "不属实"
            },
            b.resolution
        ),
        EventBody::PublicityConcluded(b) => b.result.clone(),
        EventBody::ApprovalGranted(b) => format!("{} {}", b.approving_body, b.reference),
        EventBody::CandidacyConfirmed(b) => b.list_reference.clone(),
        EventBody::NominationDeferred(b) => b.reason.clone(),
        EventBody::NominationResumed(b) => b.reason.clone(),
        EventBody::NominationWithdrawn(b) => format!("{}: {}", b.nominator_id, b.reason),
        EventBody::CandidateRemoved(b) => b.reason.clone(),
        EventBody::Elected(b) => format!("得票 {}/{}", b.votes, b.ballots_valid),
        EventBody::ElectionVoided(b) => b.reason.clone(),
        EventBody::QualificationReviewed(b) => format!("{:?} {}", b.outcome, b.note),
        EventBody::VoteBuyingFound(b) => format!("{}: {}", b.source, b.summary),
        EventBody::CorrectionRecorded(b) => format!("更正 {}: {}", b.corrects_event_id, b.reason),
        EventBody::SupervisionVisited(b) => format!(
            "督导 {}: {}{}",
            b.step,
            b.observations,
            if b.nonconformities.is_empty() {
                String::new()
            } else {
                format!("; 问题: {}", b.nonconformities.join("; "))
            }
        ),
        EventBody::ElectionDeclaredVoid(b) => format!("{}: {}", b.decided_by, b.reason),
        EventBody::OverrideGranted(b) => format!(
            "批准 {} 越过 {}: {}",
            b.rule, b.excused_event_type, b.justification
        ),
        EventBody::OverrideRecorded(b) => format!(
            "{} 越过 {}: {}",
            b.rule, b.overridden_event_type, b.justification
        ),
        EventBody::ProcedureAdopted(b) => format!("{} {}", b.kind, short_digest(&b.digest)),
        EventBody::ProcedureAmended(b) => format!(
            "{}: {}",
            b.digest.as_deref().map(short_digest).unwrap_or("?"),
            b.reason
        ),
    }
}

/// The first 12 hex digits of a procedure digest, as hashes are shown.
fn short_digest(d: &str) -> &str {
    d.get(..12).unwrap_or(d)
}

pub fn conclusion_label(c: PetitionConclusion) -> &'static str {
    match c {
        PetitionConclusion::Unfounded => "失实澄清 unfounded",
        PetitionConclusion::NotAffecting => "不影响任用 not affecting",
        PetitionConclusion::Substantiated => "属实 substantiated",
        PetitionConclusion::VoteBuying => "查实拉票贿选 vote buying",
    }
}
