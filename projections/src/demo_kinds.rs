//! The demo's other kinds (issue 16): a party-representative election, a
//! village "两委" election and a people's-congress constituency, generated from their procedures' steps so
//! that a newcomer sees every kind recorded through the gates, and `jishi
//! check` finds nothing on them (structure rules are each kind's, D23).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

use crate::actor::Actor;
use crate::command::Command;
use crate::demo::{DemoElection, Planned, Rng};
use crate::events::*;
use crate::procedure::{Procedure, ProcedureError};
use crate::Scope;

const DISTRICT: &str = "天元区";

struct Unit {
    kind: &'static str,
    election_id: &'static str,
    unit_name: &'static str,
    unit_org: &'static str,
    body: &'static str,
    seats: u32,
    candidates: usize,
    start: (i32, u32, u32),
}

const UNITS: [Unit; 4] = [
    Unit {
        kind: "party_representative",
        election_id: "qingshan-dbxj-2021",
        unit_name: "青山镇第2选举单位",
        unit_org: "天元区/青山镇",
        body: "区党代会代表",
        seats: 3,
        candidates: 4,
        start: (2021, 7, 1),
    },
    Unit {
        kind: "village_two_committees",
        election_id: "shiqiao-village-2021",
        unit_name: "石桥村",
        unit_org: "天元区/石桥乡/石桥村",
        body: "村民委员会委员",
        seats: 3,
        candidates: 4,
        start: (2021, 6, 1),
    },
    Unit {
        kind: "cppcc_members",
        election_id: "tianyuan-zx-2021",
        unit_name: "区政协(界别:农业)",
        unit_org: "天元区",
        body: "区政协委员",
        seats: 4,
        candidates: 4,
        start: (2021, 9, 1),
    },
    Unit {
        kind: "county_township_congress",
        election_id: "qingshan-xq03-2021",
        unit_name: "青山镇第3选区",
        unit_org: "天元区/青山镇",
        body: "区人大代表",
        seats: 2,
        candidates: 3,
        start: (2021, 8, 2),
    },
];

/// The first role of the procedure that records `event_type`, as a person of
/// the district.
fn recorder(p: &Procedure, event_type: &str) -> Actor {
    let role = p
        .roles_for(event_type)
        .first()
        .cloned()
        .unwrap_or_else(|| "nobody".into());
    let label = p.role_label(&role).unwrap_or("经办人").to_string();
    Actor::new(&format!("{role}-01"), &label, &role, DISTRICT)
}

/// One village election and one constituency, every command passing the
/// gates in order.
pub fn other_kinds(seed: u64) -> Result<Vec<DemoElection>, ProcedureError> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    let mut out = Vec::new();
    for u in &UNITS {
        let p = Procedure::builtin(u.kind)?;
        out.push(unit(&p, u, &mut rng));
    }
    Ok(out)
}

fn unit(p: &Procedure, u: &Unit, rng: &mut Rng) -> DemoElection {
    let tz =
        FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"));
    let start = NaiveDate::from_ymd_opt(u.start.0, u.start.1, u.start.2).unwrap_or_default();
    let mut day = 0u32;
    let at = |n: u32, minute: u32| -> DateTime<FixedOffset> {
        let d = p.calendar.nth_working_day_after(start, n);
        let naive = d.and_hms_opt(9, minute.min(59), 0).unwrap_or_default();
        tz.from_local_datetime(&naive)
            .single()
            .unwrap_or_else(|| tz.from_utc_datetime(&naive))
    };
    let ids: Vec<String> = (1..=u.candidates).map(|k| format!("c-{k:02}")).collect();
    let winners: Vec<&String> = ids.iter().take(u.seats as usize).collect();
    let registered = rng.range(900, 3000);
    let returned = registered * rng.range(85, 95) / 100;
    let valid = returned - 3;
    let mut votes = BTreeMap::new();
    for id in &winners {
        votes.insert((*id).clone(), valid * rng.range(70, 90) / 100);
    }
    let left = (valid * u64::from(u.seats)).saturating_sub(votes.values().sum());
    let losers = ids.len() - winners.len();
    for id in ids.iter().skip(winners.len()) {
        votes.insert(
            id.clone(),
            (valid * rng.range(10, 30) / 100).min(left / losers as u64),
        );
    }
    let mut commands = Vec::new();
    for step in &p.steps {
        for ev in &step.events {
            // Publicity lasts its period: conclude after it.
            day += if ev == "publicity.concluded" {
                p.publicity_working_days + 1
            } else {
                1
            };
            let who = recorder(p, ev);
            let mut push = |cand: Option<&str>, k: u32, body: EventBody| {
                commands.push(Planned {
                    actor: who.clone(),
                    command: Command::new(u.election_id, cand, at(day, k), body),
                })
            };
            if step.scope == Scope::Election {
                push(
                    None,
                    0,
                    election_body(p, u, ev, registered, returned, valid, &votes),
                );
                continue;
            }
            for (k, id) in ids.iter().enumerate() {
                let last = ev == "candidate.elected" || ev == "qualification.reviewed";
                if last && !winners.contains(&id) {
                    continue;
                }
                let body = candidate_body(p, ev, k, votes.get(id).copied().unwrap_or(0), valid);
                push(Some(id), k as u32, body);
            }
        }
    }
    DemoElection {
        election_id: u.election_id.into(),
        unit_name: u.unit_name.into(),
        commands,
    }
}

fn election_body(
    p: &Procedure,
    u: &Unit,
    ev: &str,
    registered: u64,
    returned: u64,
    valid: u64,
    votes: &BTreeMap<String, u64>,
) -> EventBody {
    match ev {
        "election.opened" => EventBody::ElectionOpened(ElectionOpened {
            unit_id: u.election_id.trim_end_matches("-2021").into(),
            unit_name: u.unit_name.into(),
            unit_org: u.unit_org.into(),
            body: u.body.into(),
            kind: p.kind.clone(),
            seats: u.seats,
            term: "2021-2026".into(),
            last_term_differential_ratio: None,
            election_committee: vec!["xwh-01".into(), "xwh-02".into(), "xwh-03".into()],
        }),
        "pledge.signed" => EventBody::PledgeSigned(PledgeSigned {
            signer_category: "村\"两委\"候选人".into(),
            signer_count: 12,
            signer_ids: vec![],
        }),
        "voters.registered" => EventBody::VotersRegistered(VotersRegistered {
            registered,
            note: Some("不漏登、不错登、不重登".into()),
            added: Some(registered / 20),
            removed: Some(registered / 50),
            mobile_box_voters: vec![MobileBoxRoll {
                box_id: "ldpx-1".into(),
                voter_ids: (1..=6).map(|i| format!("xm-{i:03}")).collect(),
            }],
        }),
        "deliberation.round" => EventBody::DeliberationRound(DeliberationRound {
            round: 1,
            direction: Direction::Up,
            summary: "选民小组反复酝酿协商，确定正式代表候选人".into(),
        }),
        _ => EventBody::VoteHeld(VoteHeld {
            round: 1,
            ballots_issued: returned + 5,
            ballots_returned: returned,
            ballots_valid: valid,
            votes: votes.clone(),
            scrutineers: vec!["jp-11".into(), "jp-12".into()],
            proxies: vec![Proxy {
                holder_id: "xm-201".into(),
                giver_ids: vec!["xm-202".into(), "xm-203".into()],
                committee_approved: true,
            }],
            mobile_boxes: vec![MobileBox {
                box_id: "ldpx-1".into(),
                made_by_committee: true,
                scrutineers: vec!["jp-13".into(), "jp-14".into()],
                sealed: true,
                signed: true,
                voters_registered: true,
            }],
            electors: Some(registered),
            purpose: None,
        }),
    }
}

const NAMES: [&str; 4] = ["周玲", "刘强", "陈芳", "黄勇"];

fn candidate_body(p: &Procedure, ev: &str, k: usize, votes: u64, valid: u64) -> EventBody {
    match ev {
        "inspection.conducted" => EventBody::InspectionConducted(InspectionConducted {
            team_leader: "kcz-21".into(),
            team_members: vec!["kcz-22".into(), "kcz-23".into()],
            interviewees: 18,
            extended: false,
            findings: "群众评议较好，代表性强".into(),
        }),
        "candidate.shortlisted" => EventBody::Shortlisted(Shortlisted {
            basis: "考察结论：符合代表条件，列为初步人选".into(),
        }),
        "approval.granted" => EventBody::ApprovalGranted(ApprovalGranted {
            approving_body: "区委组织部".into(),
            reference: "天组函〔2021〕31号".into(),
        }),
        "candidate.nominated" => EventBody::Nominated(Nominated {
            name: NAMES[k % NAMES.len()].into(),
            sex: if k.is_multiple_of(2) {
                Sex::Female
            } else {
                Sex::Male
            },
            birth_date: NaiveDate::from_ymd_opt(1968 + 3 * k as i32, 3, 1).unwrap_or_default(),
            current_post: "村民小组长".into(),
            township_work_years: 0,
            exchanged: false,
            incumbent: k == 0,
            election_committee_member: false,
            method: NominationMethod::Joint,
            nominator_id: format!("lm-{k:02}"),
            nominator_name: "选民10人以上联名".into(),
            recommendation_votes: None,
            ethnicity: None,
            education: Some("高中".into()),
            representative_category: None,
            person_ref: None,
        }),
        "review.joint" => EventBody::JointReview(JointReview {
            departments: if p.joint_review_departments.is_empty() {
                ["公安", "法院", "检察院", "司法", "信访"]
                    .iter()
                    .map(|d| d.to_string())
                    .collect()
            } else {
                p.joint_review_departments.clone()
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
        "check.discipline_opinion" => EventBody::DisciplineOpinionIssued(DisciplineOpinionIssued {
            opinion: DisciplineOpinion::Clear,
            affects_appointment: false,
            note: None,
        }),
        "check.petitions_swept" => EventBody::PetitionsSwept(PetitionsSwept {
            found: 0,
            note: None,
        }),
        "committee.decided" => EventBody::CommitteeDecided(CommitteeDecided {
            meeting_id: "sqx-dw-05".into(),
            body: "石桥乡党委".into(),
            chair: "xz-01".into(),
            attendees: (1..=7).map(|i| format!("xz-{i:02}")).collect(),
            votes_for: 7,
            votes_against: 0,
            abstain: 0,
            outcome: DecisionOutcome::Approved,
            rationale: "资格联审通过，纪检意见无问题，同意作为候选人".into(),
        }),
        "publicity.started" => EventBody::PublicityStarted(PublicityStarted {
            scope: "全村(选区)范围".into(),
            channel: "公示栏".into(),
        }),
        "publicity.concluded" => EventBody::PublicityConcluded(PublicityConcluded {
            result: "公示期间未收到不良反映".into(),
        }),
        "candidacy.confirmed" => EventBody::CandidacyConfirmed(CandidacyConfirmed {
            list_reference: "正式候选人名单".into(),
        }),
        "candidate.elected" => EventBody::Elected(Elected {
            votes,
            ballots_valid: valid,
        }),
        _ => EventBody::QualificationReviewed(QualificationReviewed {
            outcome: QualificationOutcome::Valid,
            note: "代表资格有效".into(),
        }),
    }
}
