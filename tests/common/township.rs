//! A whole township party-committee election as a clerk and the people
//! beside them record it through the forms (tests/server_forms.rs over
//! HTTP, tests/server_browser_forms.rs in Chromium): each step is the form
//! of one kind, the values typed into it, who submits it, and what must
//! follow. Two nominees for one seat (the 20 % differential, R6); 王芳's
//! decision is refused while a specific petition on her is open (R3), then
//! the petition is investigated and closed and she is decided; 李明's
//! publicity ends early under an R5 override that the party committee
//! grants and the organisation department then uses (D20).

#![allow(dead_code)]

use std::path::Path;

/// The users: id, name, access role, acting procedure role.
pub const USERS: &[(&str, &str, &str, &str)] = &[
    ("zzb-wang", "王敏", "recorder", "organisation_department"),
    ("kcz-li", "李强", "recorder", "inspection_team"),
    ("jw-zhao", "赵磊", "inspector", "discipline_inspection"),
    ("dw-chen", "陈书记", "recorder", "party_committee"),
];

pub const ELECTION: &str = "天元区:qs-2021";

/// What a step must lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Recorded,
    /// Refused by the gates naming this rule (422, shown on the form).
    Refused(&'static str),
    /// A field error naming this field (400).
    FieldError(&'static str),
}

#[derive(Debug, Clone)]
pub struct Step {
    pub who: &'static str,
    pub kind: &'static str,
    pub candidate: Option<&'static str>,
    /// Form names and values, as typed.
    pub fields: Vec<(&'static str, String)>,
    pub expect: Expect,
}

fn step(
    who: &'static str,
    kind: &'static str,
    candidate: Option<&'static str>,
    at: &str,
    fields: &[(&'static str, &str)],
    expect: Expect,
) -> Step {
    let mut f: Vec<(&'static str, String)> = vec![("occurred_at", at.to_string())];
    f.extend(fields.iter().map(|(k, v)| (*k, v.to_string())));
    Step {
        who,
        kind,
        candidate,
        fields: f,
        expect,
    }
}

/// The whole election, in order.
pub fn steps() -> Vec<Step> {
    use Expect::*;
    let mut s = vec![step(
        "zzb-wang",
        "election.opened",
        None,
        "2021-04-12T09:00",
        &[
            ("election_local", "qs-2021"),
            ("f.unit_id", "qs"),
            ("f.unit_name", "青山镇"),
            ("f.unit_org", "天元区/青山镇"),
            ("f.body", "镇党委委员"),
            ("f.kind", "township_party_committee"),
            ("f.seats", "1"),
            ("f.term", "2021-2026"),
            ("f.last_term_differential_ratio", "0.2"),
        ],
        Recorded,
    )];
    s.push(step(
        "zzb-wang",
        "pledge.signed",
        None,
        "2021-04-13T09:00",
        &[("f.signer_category", "党委委员"), ("f.signer_count", "3")],
        Recorded,
    ));
    for (c, name, sex, born, minute) in [
        ("c-01", "李明", "male", "1984-03-02", "00"),
        ("c-02", "王芳", "female", "1988-02-11", "10"),
    ] {
        s.push(step(
            "zzb-wang",
            "candidate.nominated",
            Some(c),
            &format!("2021-04-14T09:{minute}"),
            &[
                ("f.name", name),
                ("f.sex", sex),
                ("f.birth_date", born),
                ("f.current_post", "副镇长"),
                ("f.township_work_years", "6"),
                ("f.incumbent", "on"),
                ("f.method", "meeting"),
                ("f.nominator_id", "qs-party"),
                ("f.nominator_name", "青山镇党委"),
                ("f.recommendation_votes.received", "31"),
                ("f.recommendation_votes.total", "50"),
            ],
            Recorded,
        ));
    }
    for c in ["c-01", "c-02"] {
        s.push(step(
            "zzb-wang",
            "candidate.shortlisted",
            Some(c),
            "2021-04-15T09:00",
            &[("f.basis", "谈话推荐和会议推荐综合")],
            Recorded,
        ));
        s.push(step(
            "kcz-li",
            "inspection.conducted",
            Some(c),
            "2021-04-19T09:00",
            &[
                ("f.team_leader", "kcz-li"),
                ("f.team_members.more", "kcz-02、kcz-03"),
                ("f.interviewees", "25"),
                ("f.extended", "on"),
                ("f.findings", "政治过硬，实绩突出，群众公认"),
            ],
            Recorded,
        ));
    }
    // The four checks (凡提四必), both nominees.
    for c in ["c-01", "c-02"] {
        s.push(step(
            "zzb-wang",
            "check.archive_reviewed",
            Some(c),
            "2021-04-20T09:00",
            &[
                (
                    "f.birth_date",
                    if c == "c-01" {
                        "1984-03-02"
                    } else {
                        "1988-02-11"
                    },
                ),
                ("f.work_start_date", "2008-07-01"),
                ("f.education", "大学"),
                ("f.work_history_verified", "on"),
                ("f.identity_verified", "on"),
            ],
            Recorded,
        ));
        s.push(step(
            "zzb-wang",
            "check.personal_matters_verified",
            Some(c),
            "2021-04-20T10:00",
            &[("f.outcome", "consistent")],
            Recorded,
        ));
        s.push(step(
            "jw-zhao",
            "check.discipline_opinion",
            Some(c),
            "2021-04-20T11:00",
            &[("f.opinion", "clear")],
            Recorded,
        ));
        s.push(step(
            "jw-zhao",
            "check.petitions_swept",
            Some(c),
            "2021-04-20T14:00",
            &[("f.found", "0")],
            Recorded,
        ));
    }
    s.push(step(
        "jw-zhao",
        "petition.received",
        Some("c-02"),
        "2021-04-21T09:00",
        &[
            ("f.petition_id", "xf-01"),
            ("f.channel", "来信"),
            ("f.specific", "on"),
            ("f.summary", "反映其在土地流转中优亲厚友"),
        ],
        Recorded,
    ));
    s.push(step(
        "zzb-wang",
        "deliberation.round",
        None,
        "2021-04-21T15:00",
        &[
            ("f.round", "1"),
            ("f.direction", "up"),
            ("f.summary", "三上三下 第1轮"),
        ],
        Recorded,
    ));
    let decision = |c: &'static str, at: &str, attendees: &str, expect: Expect| {
        step(
            "dw-chen",
            "committee.decided",
            Some(c),
            at,
            &[
                ("f.meeting_id", "qs-cwh-01"),
                ("f.body", "镇党委"),
                ("f.chair", "dw-chen"),
                ("f.attendees.more", attendees),
                ("f.votes_for", "2"),
                ("f.votes_against", "0"),
                ("f.abstain", "0"),
                ("f.outcome", "approved"),
                ("f.rationale", "综合考察、酝酿情况，拟提名为候选人"),
            ],
            expect,
        )
    };
    // A meeting of two is no meeting (D28): a field error, nothing written.
    s.push(decision(
        "c-01",
        "2021-04-22T15:00",
        "dw-chen qw-002",
        FieldError("attendees"),
    ));
    s.push(decision(
        "c-01",
        "2021-04-22T15:00",
        "dw-chen qw-002 qw-003 qw-004",
        Recorded,
    ));
    // An open, specific petition blocks 王芳's decision (R3).
    s.push(decision(
        "c-02",
        "2021-04-22T15:10",
        "dw-chen qw-002 qw-003 qw-004",
        Refused("R3"),
    ));
    s.push(step(
        "jw-zhao",
        "petition.investigated",
        Some("c-02"),
        "2021-04-23T10:00",
        &[
            ("f.petition_id", "xf-01"),
            ("f.result", "经查反映问题失实"),
            ("f.handler", "jw-011"),
            ("f.leader", "jw-zhao"),
        ],
        Recorded,
    ));
    s.push(step(
        "jw-zhao",
        "petition.closed",
        Some("c-02"),
        "2021-04-23T11:00",
        &[
            ("f.petition_id", "xf-01"),
            ("f.conclusion", "unfounded"),
            ("f.note", "失实，予以澄清"),
        ],
        Recorded,
    ));
    s.push(decision(
        "c-02",
        "2021-04-23T15:00",
        "dw-chen qw-002 qw-003 qw-004",
        Recorded,
    ));
    for (c, at) in [("c-01", "2021-04-26T09:00"), ("c-02", "2021-04-26T09:10")] {
        s.push(step(
            "zzb-wang",
            "publicity.started",
            Some(c),
            at,
            &[("f.scope", "全镇范围"), ("f.channel", "公示栏、政务网站")],
            Recorded,
        ));
    }
    // 李明's publicity ends after two working days: refused (R5); the
    // clerk's own role may not grant it; the committee grants it; the clerk
    // then records it under the override.
    let early = |expect: Expect, rule: &str| {
        let mut st = step(
            "zzb-wang",
            "publicity.concluded",
            Some("c-01"),
            "2021-04-28T17:00",
            &[("f.result", "公示期间未收到不良反映")],
            expect,
        );
        if !rule.is_empty() {
            st.fields.push(("override_rule", rule.to_string()));
            st.fields.push((
                "override_justification",
                "选举日程经上级批准提前，公示期相应缩短".to_string(),
            ));
        }
        st
    };
    s.push(early(Refused("R5"), ""));
    s.push(step(
        "zzb-wang",
        "override.granted",
        Some("c-01"),
        "2021-04-28T16:00",
        &[
            ("f.rule", "R5"),
            ("f.excused_event_type", "publicity.concluded"),
            ("f.justification", "自批自用"),
        ],
        Refused("R11"),
    ));
    s.push(step(
        "dw-chen",
        "override.granted",
        Some("c-01"),
        "2021-04-28T16:00",
        &[
            ("f.rule", "R5"),
            ("f.excused_event_type", "publicity.concluded"),
            (
                "f.justification",
                "选举日程经上级批准提前，镇党委同意公示期相应缩短（青党〔2021〕8号）",
            ),
        ],
        Recorded,
    ));
    s.push(early(Recorded, "R5"));
    s.push(step(
        "zzb-wang",
        "publicity.concluded",
        Some("c-02"),
        "2021-05-10T17:00",
        &[("f.result", "公示期间未收到不良反映")],
        Recorded,
    ));
    for c in ["c-01", "c-02"] {
        s.push(step(
            "zzb-wang",
            "approval.granted",
            Some(c),
            "2021-05-11T10:00",
            &[
                ("f.approving_body", "区委组织部"),
                ("f.reference", "天组函〔2021〕21号"),
            ],
            Recorded,
        ));
        s.push(step(
            "zzb-wang",
            "candidacy.confirmed",
            Some(c),
            "2021-05-12T10:00",
            &[("f.list_reference", "青山镇党委委员候选人名单")],
            Recorded,
        ));
    }
    s.push(step(
        "dw-chen",
        "vote.held",
        None,
        "2021-05-14T09:00",
        &[
            ("f.round", "1"),
            ("f.ballots_issued", "60"),
            ("f.ballots_returned", "58"),
            ("f.ballots_valid", "57"),
            ("f.votes.c-01", "40"),
            ("f.votes.c-02", "17"),
            ("f.scrutineers.more", "jp-01, jp-02"),
            ("f.electors", "60"),
        ],
        Recorded,
    ));
    s.push(step(
        "dw-chen",
        "candidate.elected",
        Some("c-01"),
        "2021-05-14T16:00",
        &[("f.votes", "40"), ("f.ballots_valid", "57")],
        Recorded,
    ));
    s
}

/// The form's address for a step.
#[allow(dead_code)]
pub fn form_path(st: &Step) -> String {
    if st.kind == "election.opened" {
        return "/open".into();
    }
    let e = ELECTION.replace(':', "%3A");
    match st.candidate {
        Some(c) => format!("/elections/{e}/record/{}?candidate_id={c}", st.kind),
        None => format!("/elections/{e}/record/{}", st.kind),
    }
}

/// Adds the users with `jishi user add`; returns id → token.
pub fn add_users(db: &Path) -> std::collections::BTreeMap<String, String> {
    USERS
        .iter()
        .map(|(id, name, role, acts_as)| {
            let token = crate::common::browser::run_ok(
                db,
                &[
                    "user",
                    "add",
                    id,
                    "--name",
                    name,
                    "--role",
                    role,
                    "--org",
                    "天元区",
                    "--acts-as",
                    acts_as,
                ],
            )
            .trim()
            .to_string();
            assert!(token.starts_with("jst_"), "a token: {token}");
            (id.to_string(), token)
        })
        .collect()
}
