//! Chinese names for what the pages show: the catalogue's fields, the
//! procedure's roles and kinds, candidates' statuses, the values of the
//! catalogue's enumerations, and times in Beijing time.
//!
//! The clerk and the inspector read Chinese; the identifiers of the code
//! (`township_party_committee`, `candidate.elected`) mean nothing to them.
//! Names come from the procedure's TOML where it has them (roles, steps,
//! kinds) and from the catalogue (each event's Chinese label); the fields of
//! the catalogue have no Chinese name in the domain crate, so they are
//! named here, and a test walks the whole catalogue so that a field added
//! there without a name here fails the build's tests (D102).

use std::sync::OnceLock;

use chrono::{DateTime, FixedOffset};
use jishi_projections::{kind_of, Procedure};
use maud::{html, Markup};

/// The Chinese name of a field of `event_type`, if it has one. A name that
/// means different things in different events (`outcome`, `note`, `votes`)
/// is named per event first.
pub fn field_label(event_type: &str, field: &str) -> Option<&'static str> {
    let specific = match (event_type, field) {
        ("candidate.elected", "votes") => Some("得票数"),
        ("vote.held", "votes") => Some("各候选人得票"),
        ("election.opened", "body") => Some("选举产生的班子"),
        ("committee.decided", "body") => Some("决定机关"),
        ("election.opened", "kind") => Some("换届类型"),
        ("procedure.adopted", "kind") => Some("换届类型"),
        ("check.personal_matters_verified", "outcome") => Some("核查结果"),
        ("review.joint", "outcome") => Some("联审结论"),
        ("committee.decided", "outcome") => Some("表决结果"),
        ("qualification.reviewed", "outcome") => Some("审查结论"),
        ("publicity.started", "scope") => Some("公示范围"),
        ("publicity.concluded", "result") => Some("公示结果"),
        ("petition.investigated", "result") => Some("查核结果"),
        ("finding.vote_buying", "source") => Some("查实途径"),
        ("petition.closed", "note") => Some("办结意见"),
        ("qualification.reviewed", "note") => Some("审查意见"),
        ("check.archive_reviewed", "birth_date") => Some("出生日期（档案）"),
        ("check.archive_reviewed", "education") => Some("学历（档案）"),
        ("candidate.removed", "rule") | ("candidate.election_voided", "rule") => Some("所依规则"),
        ("override.granted", "rule") | ("override.recorded", "rule") => Some("越过的规则"),
        _ => None,
    };
    specific.or(match field {
        "abstain" => Some("弃权票"),
        "added" => Some("新增选民数"),
        "affects_appointment" => Some("是否影响任用"),
        "approving_body" => Some("批准机关"),
        "attendees" => Some("出席人员"),
        "authorised_by" => Some("批准人"),
        "ballots_issued" => Some("发出选票数"),
        "ballots_returned" => Some("收回选票数"),
        "ballots_valid" => Some("有效选票数"),
        "basis" => Some("确定依据"),
        "birth_date" => Some("出生日期"),
        "body" => Some("机构"),
        "chair" => Some("会议主持人"),
        "channel" => Some("渠道方式"),
        "conclusion" => Some("办结结论"),
        "content" => Some("程序文本（TOML）"),
        "corrected" => Some("更正后的内容（JSON）"),
        "corrective_order" => Some("整改要求"),
        "corrects_event_id" => Some("被更正事件（编号或位置）"),
        "current_post" => Some("现任职务"),
        "decided_by" => Some("决定机关"),
        "departments" => Some("各部门意见"),
        "digest" => Some("摘要值"),
        "direction" => Some("方向（上/下）"),
        "discrepancies" => Some("档案出入"),
        "education" => Some("学历"),
        "election_committee" => Some("选举委员会成员"),
        "election_committee_member" => Some("是否选举委员会成员"),
        "electors" => Some("应到人数"),
        "ethnicity" => Some("民族"),
        "representative_category" => Some("代表类别"),
        "person_ref" => Some("人员关联码（身份证号的密钥哈希，非号码本身）"),
        "exchanged" => Some("是否交流干部"),
        "excused_event_type" => Some("所豁免的环节"),
        "extended" => Some("是否延伸考察"),
        "findings" => Some("考察结论"),
        "found" => Some("发现信访线索数"),
        "granted_by" => Some("批准人"),
        "handler" => Some("承办人"),
        "identity_verified" => Some("身份已核实"),
        "incumbent" => Some("是否留任"),
        "interviewees" => Some("谈话人数"),
        "justification" => Some("理由及批准文件"),
        "kind" => Some("类型"),
        "last_term_differential_ratio" => Some("上届差额比例"),
        "leader" => Some("负责人"),
        "list_reference" => Some("候选人名单文号"),
        "meeting_id" => Some("会议编号"),
        "method" => Some("推荐方式"),
        "mobile_box_voters" => Some("流动票箱选民名册"),
        "mobile_boxes" => Some("流动票箱"),
        "name" => Some("姓名"),
        "nominator_id" => Some("推荐人（单位）编号"),
        "nominator_name" => Some("推荐人（单位）名称"),
        "nonconformities" => Some("发现的问题"),
        "note" => Some("备注"),
        "objection_id" => Some("反映编号"),
        "observations" => Some("督导情况"),
        "opinion" => Some("纪检监察意见"),
        "outcome" => Some("结果"),
        "overridden_event_type" => Some("越过规则记录的环节"),
        "party_join_date" => Some("入党日期"),
        "person_id" => Some("人员编号"),
        "person_name" => Some("人员姓名"),
        "petition_id" => Some("信访件编号"),
        "proxies" => Some("委托投票"),
        "purpose" => Some("选举性质"),
        "rationale" => Some("决定理由"),
        "reason" => Some("理由"),
        "recommendation_votes" => Some("推荐得票"),
        "reference" => Some("批复文号"),
        "registered" => Some("登记选民数"),
        "relation" => Some("利害关系"),
        "removed" => Some("减少选民数"),
        "resolution" => Some("核查处理情况"),
        "result" => Some("结果"),
        "round" => Some("轮次"),
        "rule" => Some("规则"),
        "scope" => Some("范围"),
        "scrutineers" => Some("监票人"),
        "seats" => Some("应选名额"),
        "sex" => Some("性别"),
        "signer_category" => Some("签订人类别"),
        "signer_count" => Some("签订份数"),
        "signer_ids" => Some("签订人编号"),
        "source" => Some("来源"),
        "specific" => Some("线索是否具体"),
        "step" => Some("督导环节"),
        "substantiated" => Some("反映是否属实"),
        "summary" => Some("内容摘要"),
        "team_leader" => Some("考察组组长"),
        "team_members" => Some("考察组成员"),
        "term" => Some("届期"),
        "township_work_years" => Some("乡镇工作年限"),
        "unit_id" => Some("选举单位编号"),
        "unit_name" => Some("选举单位名称"),
        "unit_org" => Some("所属组织（路径）"),
        "violation" => Some("拒绝记录的理由"),
        "votes" => Some("得票"),
        "votes_against" => Some("反对票"),
        "votes_for" => Some("赞成票"),
        "work_history_verified" => Some("工作经历已核实"),
        "work_start_date" => Some("参加工作日期"),
        _ => None,
    })
}

/// A field's name for a page: the Chinese one, or the identifier itself
/// (which the catalogue test makes sure never happens for a recordable kind).
pub fn field(event_type: &str, field: &str) -> &'static str {
    field_label(event_type, field).unwrap_or("（未命名字段）")
}

/// The header fields every form has.
pub fn header_label(field: &str) -> &'static str {
    match field {
        "election_id" => "选举编号",
        "candidate_id" => "人选编号",
        "occurred_at" => "发生时间（北京时间）",
        "override" => "依规越权记录",
        "event_id" => "事件编号",
        _ => "（未命名字段）",
    }
}

/// The values of the catalogue's enumerations, with their Chinese names, in
/// the order a form offers them. Keyed by the field's Rust type as the
/// catalogue states it (spaces removed).
pub fn choices(ty: &str) -> Option<&'static [(&'static str, &'static str)]> {
    let base = ty
        .strip_prefix("Option<")
        .and_then(|t| t.strip_suffix('>'))
        .unwrap_or(ty);
    Some(match base {
        "Sex" => &[("female", "女"), ("male", "男")],
        "NominationMethod" => &[
            ("individual_conversation", "个别谈话推荐"),
            ("meeting", "会议推荐"),
            ("organisation", "组织推荐"),
            ("joint", "党员（选民）联名推荐"),
        ],
        "Direction" => &[("up", "上（自下而上征求）"), ("down", "下（向下反馈）")],
        "RepresentativeCategory" => &[
            ("frontline", "工作一线代表"),
            ("professional_or_model", "专业技术人才和先进模范人物代表"),
            ("migrant_worker", "外出务工党员代表"),
            ("leading_cadre", "领导干部代表"),
            ("other", "其他"),
        ],
        "PersonalMattersOutcome" => &[
            ("consistent", "如实报告"),
            ("explained", "有出入但已说明，不影响使用"),
            ("problem", "发现问题"),
        ],
        "DisciplineOpinion" => &[
            ("clear", "无影响任用的问题"),
            ("objection", "有异议"),
            ("pending", "尚在核查，暂不出具"),
        ],
        "PetitionConclusion" => &[
            ("unfounded", "失实，予以澄清"),
            ("not_affecting", "部分属实但不影响任用"),
            ("substantiated", "属实，影响任用"),
            ("vote_buying", "查实拉票贿选"),
        ],
        "ReviewVerdict" => &[
            ("passed", "通过"),
            ("adjusted", "调整"),
            ("failed", "未通过"),
        ],
        "DecisionOutcome" => &[("approved", "同意"), ("rejected", "不同意")],
        "QualificationOutcome" => &[
            ("valid", "代表资格有效"),
            ("invalid", "代表资格无效"),
            ("deferred", "暂缓提出意见"),
        ],
        "VotePurpose" => &[
            ("regular", "正式选举"),
            ("rerun", "另行选举"),
            ("by_election", "补选"),
            ("repeat", "重新选举"),
        ],
        "RuleId" => &[
            ("R1", "R1 程序不走样"),
            ("R2", "R2 凡提四必"),
            ("R3", "R3 信访举报、公示异议未办结"),
            ("R4", "R4 查核时限"),
            ("R5", "R5 公示期"),
            ("R6", "R6 差额比例"),
            ("R7", "R7 委托投票"),
            ("R8", "R8 流动票箱"),
            ("R9", "R9 拉票贿选"),
            ("R10", "R10 回避"),
            ("R11", "R11 按职责记录"),
            ("R12", "R12 撤回提名"),
            ("R13", "R13 选举结果"),
        ],
        _ => return None,
    })
}

/// The Chinese name of one value of an enumeration, or the value itself.
pub fn choice_label(ty: &str, value: &str) -> String {
    choices(ty)
        .and_then(|c| c.iter().find(|(v, _)| *v == value))
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| value.to_string())
}

/// The built-in procedures, parsed once: their roles and kinds name things
/// on every page.
fn builtins() -> &'static [Procedure] {
    static ALL: OnceLock<Vec<Procedure>> = OnceLock::new();
    ALL.get_or_init(|| Procedure::builtins().unwrap_or_default())
}

/// A procedure role in Chinese: from `procedure` (the one in force) when it
/// names the role, else from any built-in one, else the access roles'
/// names; the identifier only if nothing names it.
pub fn role(procedure: Option<&Procedure>, id: &str) -> String {
    if let Some(l) = procedure.and_then(|p| p.role_label(id)) {
        return l.to_string();
    }
    if let Some(l) = builtins().iter().find_map(|p| p.role_label(id)) {
        return l.to_string();
    }
    match id {
        "admin" => "系统管理员".into(),
        "investigator" => "责任倒查".into(),
        other => other.to_string(),
    }
}

/// Several roles, joined with 、.
pub fn roles(procedure: Option<&Procedure>, ids: &[String]) -> String {
    ids.iter()
        .map(|r| role(procedure, r))
        .collect::<Vec<_>>()
        .join("、")
}

/// A procedure kind in Chinese (the procedure's `name`), with the
/// identifier for those who type it.
pub fn procedure_kind(kind: &str) -> String {
    match builtins().iter().find(|p| p.kind == kind) {
        Some(p) => p.name.clone(),
        None => kind.to_string(),
    }
}

/// An event type in Chinese (the catalogue's label).
pub fn event_type(event_type: &str) -> String {
    match kind_of(event_type) {
        Some(k) => k.label.to_string(),
        None => match event_type {
            "access.read" => "查阅".into(),
            "access.exported" => "导出".into(),
            other => other.to_string(),
        },
    }
}

/// A candidate's status as the views give it ("elected 当选"): Chinese
/// first, English after.
pub fn status(s: &str) -> String {
    match s.char_indices().find(|(_, c)| !c.is_ascii()) {
        Some((i, _)) => {
            let (en, zh) = s.split_at(i);
            if en.trim().is_empty() {
                zh.to_string()
            } else {
                format!("{zh} {}", en.trim())
            }
        }
        None => s.to_string(),
    }
}

/// Beijing time, the offset every date on the pages is in.
pub fn beijing() -> FixedOffset {
    // 8 hours is in range; the fallback is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).expect("UTC"))
}

/// An RFC 3339 time as Beijing time to the minute (`2021-04-12 09:00`), or
/// the text unchanged when it is not one.
pub fn minute(ts: &str) -> String {
    match DateTime::parse_from_rfc3339(ts) {
        Ok(t) => t
            .with_timezone(&beijing())
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => ts.to_string(),
    }
}

/// A time for a page: Beijing time to the minute, the full stored value on
/// hover (`title`) and in `datetime`.
pub fn time(ts: &str) -> Markup {
    html! { time datetime=(ts) title=(ts) { (minute(ts)) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jishi_projections::events::*;
    use jishi_projections::{Command, RuleId};

    #[test]
    fn every_field_of_every_recordable_kind_has_a_chinese_name() {
        let mut missing = Vec::new();
        for kind in Command::kinds() {
            for f in kind.fields {
                match field_label(kind.event_type, f.name) {
                    Some(l) if !l.is_ascii() => {}
                    _ => missing.push(format!("{}.{}", kind.event_type, f.name)),
                }
            }
        }
        assert!(
            missing.is_empty(),
            "name these fields in server/src/labels.rs: {missing:?}"
        );
    }

    #[test]
    fn every_enumerated_value_is_one_the_catalogue_reads() {
        fn each<T: serde::de::DeserializeOwned>(ty: &str) {
            let list = choices(ty).unwrap_or_else(|| panic!("no choices for {ty}"));
            assert!(!list.is_empty());
            for (v, label) in list {
                assert!(
                    serde_json::from_value::<T>(serde_json::json!(v)).is_ok(),
                    "{ty}: {v:?} does not parse"
                );
                assert!(!label.is_ascii(), "{ty}: {v:?}");
            }
        }
        each::<Sex>("Sex");
        each::<NominationMethod>("NominationMethod");
        each::<Direction>("Direction");
        each::<PersonalMattersOutcome>("PersonalMattersOutcome");
        each::<DisciplineOpinion>("DisciplineOpinion");
        each::<PetitionConclusion>("PetitionConclusion");
        each::<ReviewVerdict>("ReviewVerdict");
        each::<DecisionOutcome>("DecisionOutcome");
        each::<QualificationOutcome>("QualificationOutcome");
        each::<VotePurpose>("Option<VotePurpose>");
        each::<RuleId>("RuleId");
        assert_eq!(choices("RuleId").map(<[_]>::len), Some(RuleId::ALL.len()));
        // A value the enumeration lacks would be refused by the catalogue.
        assert!(serde_json::from_value::<Sex>(serde_json::json!("other")).is_err());
    }

    #[test]
    fn roles_kinds_and_statuses_read_in_chinese() {
        assert_eq!(role(None, "organisation_department"), "组织部门");
        assert_eq!(role(None, "higher_party_committee"), "上级党委(组织部门)");
        assert_eq!(role(None, "nobody_knows"), "nobody_knows");
        assert_eq!(procedure_kind("township_party_committee"), "乡镇党委换届");
        assert_eq!(event_type("candidate.elected"), "当选");
        assert_eq!(status("elected 当选"), "当选 elected");
        assert_eq!(status("vote buying 拉票贿选"), "拉票贿选 vote buying");
    }

    #[test]
    fn times_are_beijing_time_to_the_minute() {
        assert_eq!(minute("2021-04-12T01:00:59.123456Z"), "2021-04-12 09:00");
        assert_eq!(minute("2021-04-12T09:05:00+08:00"), "2021-04-12 09:05");
        assert_eq!(minute("not a time"), "not a time");
        let m = time("2021-04-12T01:00:59.123456Z").into_string();
        assert!(m.contains("title=\"2021-04-12T01:00:59.123456Z\""), "{m}");
    }
}
