//! The HTML of a recording form: one input per field as its widget says,
//! the hints the domain's rules give, the refusal box with the override
//! path, and the override section of the form.

use super::*;

fn text_value<'a>(values: &'a Values, key: &str) -> &'a str {
    values.get(key).unwrap_or_default()
}

fn input_for(s: &Shown<'_>, f: &FieldSpec) -> Markup {
    let k = spec::key(f.name);
    let id = format!("f-{}", f.name);
    let v = text_value(&s.values, &k);
    let p = s.ctx.procedure.as_ref();
    match f.widget {
        Widget::Hidden => html! {},
        Widget::Text => match (s.kind.event_type, f.name) {
            (_, "petition_id")
                if !s.ctx.petitions.is_empty() && s.kind.event_type != "petition.received" =>
            {
                html! {
                    input id=(id) name=(k) value=(v) list="known-petitions" required[f.required];
                    datalist id="known-petitions" { @for x in &s.ctx.petitions { option value=(x) {} } }
                }
            }
            (_, "objection_id")
                if !s.ctx.objections.is_empty()
                    && s.kind.event_type != "publicity.objection_received" =>
            {
                html! {
                    input id=(id) name=(k) value=(v) list="known-objections" required[f.required];
                    datalist id="known-objections" { @for x in &s.ctx.objections { option value=(x) {} } }
                }
            }
            (_, "chair" | "team_leader" | "handler" | "leader" | "person_id")
                if !s.ctx.people.is_empty() =>
            {
                html! {
                    input id=(id) name=(k) value=(v) list="known-people" required[f.required];
                }
            }
            _ => html! { input id=(id) name=(k) value=(v) size="40" required[f.required]; },
        },
        Widget::LongText => html! {
            textarea id=(id) name=(k) rows="3" cols="60" required[f.required] { (v) }
        },
        Widget::Integer => html! {
            input id=(id) name=(k) type="number" min="0" step="1" value=(v) required[f.required];
        },
        Widget::Decimal => html! {
            input id=(id) name=(k) type="number" min="0" step="any" value=(v) required[f.required];
        },
        Widget::Bool => html! {
            input id=(id) name=(k) type="checkbox" checked[s.values.has(&k, "on")];
        },
        Widget::Date => html! {
            input id=(id) name=(k) type="date" value=(v) required[f.required];
        },
        Widget::Choice(choices) => html! {
            select id=(id) name=(k) required[f.required] {
                @if !f.required { option value="" { "（不填）" } }
                @else if v.is_empty() { option value="" { "请选择 choose" } }
                @for (val, label) in choices {
                    option value=(val) selected[*val == v] { (label) }
                }
            }
        },
        Widget::EventType => html! {
            select id=(id) name=(k) required[f.required] {
                option value="" { "请选择 choose" }
                @for kind in Command::kinds().filter(|x| x.event_type != "override.granted") {
                    option value=(kind.event_type) selected[kind.event_type == v] {
                        (kind.label) " " (kind.event_type)
                    }
                }
            }
        },
        Widget::ProcedureKind => html! {
            select id=(id) name=(k) required[f.required] {
                @for proc_ in Procedure::builtins().unwrap_or_default() {
                    option value=(proc_.kind) selected[proc_.kind == v] { (proc_.name) }
                }
            }
        },
        Widget::Step => html! {
            select id=(id) name=(k) required[f.required] {
                @for step in p.map(|p| p.steps.as_slice()).unwrap_or_default() {
                    option value=(step.id) selected[step.id == v] { (step.name) }
                }
            }
        },
        Widget::People => {
            let ticked: Vec<&str> = s.values.all(&k);
            html! {
                div.people id=(id) {
                    @for person in &s.ctx.people {
                        label.person {
                            input type="checkbox" name=(k) value=(person) checked[ticked.contains(&person.as_str())];
                            " " (person)
                        }
                    }
                    div {
                        label for=(format!("{id}-more")) { @if s.ctx.people.is_empty() { "编号（每行一个，或以逗号、顿号分隔）" } @else { "其他人员编号 others" } }
                        br;
                        textarea id=(format!("{id}-more")) name=(format!("{k}.more")) rows="2" cols="50" {
                            (text_value(&s.values, &format!("{k}.more")))
                        }
                    }
                }
            }
        }
        Widget::Lines => html! {
            textarea id=(id) name=(k) rows="3" cols="60" { (v) }
        },
        Widget::Tally => html! {
            table.tally id=(id) {
                tr { th { "人选 candidate" } th { "得票 votes" } }
                @for (c, name, active) in &s.ctx.candidates {
                    @if *active {
                        tr {
                            td { (name) " (" (c) ")" }
                            td {
                                @let kk = format!("{k}.{c}");
                                input name=(kk) type="number" min="0" step="1" value=(text_value(&s.values, &kk));
                            }
                        }
                    }
                }
            }
        },
        Widget::Numbers(parts) => html! {
            span id=(id) {
                @for (part, label) in parts {
                    @let kk = format!("{k}.{part}");
                    label { (label) " " input name=(kk) type="number" min="0" step="1" value=(text_value(&s.values, &kk)); } " "
                }
            }
        },
        Widget::Rows(subs) => {
            let departments: Vec<String> = if f.name == "departments" {
                p.map(|p| p.joint_review_departments.clone())
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            let rows = spec::row_count(s.kind.event_type, f, &s.values).max(departments.len());
            html! {
                input type="hidden" name=(format!("{k}.rows")) value=(rows);
                table.rows id=(id) {
                    tr { @for sub in subs { th { (sub.label) } } }
                    @for i in 0..rows {
                        tr {
                            @for sub in subs {
                                @let kk = format!("{k}.{i}.{}", sub.name);
                                @let val = s.values.get(&kk).map(str::to_string)
                                    .or_else(|| (sub.name == "department").then(|| departments.get(i).cloned()).flatten())
                                    .unwrap_or_default();
                                td {
                                    @match sub.kind {
                                        SubKind::Bool => input type="checkbox" name=(kk) checked[s.values.has(&kk, "on")];,
                                        SubKind::Choice(cs) => select name=(kk) {
                                            option value="" { "—" }
                                            @for (cv, cl) in cs { option value=(cv) selected[*cv == val] { (cl) } }
                                        },
                                        SubKind::Text | SubKind::Ids => input name=(kk) value=(val);,
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        Widget::Json => html! {
            textarea id=(id) name=(k) rows="3" cols="60" placeholder="{\"name\": \"李明\"}" { (v) }
        },
    }
}

/// A hint the domain's rules give for a field, with the seed they rest on.
fn hint(kind: &str, field: &str, procedure: Option<&Procedure>) -> Option<String> {
    Some(match (kind, field) {
        ("committee.decided", "attendees") => {
            "至少3人出席：须会议集体研究，防止个人说了算（002）".into()
        }
        ("committee.decided", "rationale") => "防止简单以票取人（002）".into(),
        ("petition.investigated", "handler" | "leader") => {
            "承办人和负责人须为两人，签字背书（002）".into()
        }
        ("vote.held", "electors") => match procedure.map(|p| p.majority_basis) {
            Some(jishi_projections::procedure::MajorityBasis::Electors) => {
                "本程序以应到人数计算过半数，须填写（R13）".into()
            }
            _ => "以参加投票人数计算过半数；应到人数可不填（R13）".into(),
        },
        ("vote.held", "proxies") => match procedure {
            Some(p) => format!(
                "每人接受委托不超过{}票，一人只能委托一次（R7，002）",
                p.max_proxies_per_holder
            ),
            None => return None,
        },
        ("vote.held", "mobile_boxes") => match procedure {
            Some(p) => format!(
                "每个流动票箱至少{}名监票人，封口签名（R8，002）",
                p.min_mobile_box_scrutineers
            ),
            None => return None,
        },
        ("publicity.concluded", _) => match procedure {
            Some(p) => format!("公示满{}个工作日方可结束（R5）", p.publicity_working_days),
            None => return None,
        },
        _ => return None,
    })
}

fn refusal_box(s: &Shown<'_>, r: &Refusal) -> Markup {
    let p = s.ctx.procedure.as_ref();
    let (violation, note) = match r {
        Refusal::Violation(v) => (Some(v), None),
        Refusal::OverrideNotEntitled { violation, role } => (
            Some(violation),
            Some(format!(
                "除“{}”外，本程序没有其他角色可以批准越过 {}。",
                labels::role(p, role),
                violation.rule
            )),
        ),
        Refusal::OverrideNotGranted {
            violation,
            granters,
            ..
        } => (
            Some(violation),
            Some(format!(
                "尚无批准：须先由{}记录“批准越权记录”(override.granted)。",
                labels::roles(p, granters)
            )),
        ),
        Refusal::SelfServingOverride {
            violation, granter, ..
        } => (
            Some(violation),
            Some(format!(
                "现有批准由 {granter} 记录，与记录人同一角色或同一人：不得自我豁免（谁提名谁负责）。"
            )),
        ),
        _ => (None, None),
    };
    html! {
        div.error.refusal id="refusal" {
            @match violation {
                Some(v) => {
                    p { strong { "未记录：违反 " span.rule { (v.rule.as_str()) } } " " (v.rule.text()) }
                    p { "情况 detail: " (v.detail) }
                    p.source { "依据 source: " (v.source().to_string()) }
                    @if let Some(n) = &note { p { (n) } }
                    @if v.override_roles.is_empty() {
                        p.override-path { "本程序不允许越过 " (v.rule.as_str()) " 记录 this rule cannot be overridden under the procedure in force." }
                    } @else {
                        @let granters = &v.override_roles;
                        p.override-path {
                            "越权记录途径 override path：由" strong { (labels::roles(p, granters)) }
                            "先记录“批准越权记录”（不得为本角色自己的行为批准），再由本角色勾选下方“依规越权记录”并写明理由重新提交。"
                        }
                        @if granters.contains(&s.user.acts_as) {
                            p { a id="grant-link" href=(grant_href(s, v.rule)) { "批准越权 grant an override of " (v.rule.as_str()) } }
                        } @else {
                            p.meta id="who-grants" {
                                "您的角色（" (labels::role(p, &s.user.acts_as)) "）不能批准；请由"
                                (labels::roles(p, granters)) "批准。Your role cannot grant it; a "
                                (granters.join(" / ")) " can."
                            }
                        }
                    }
                }
                None => p { "未记录 not recorded: " (r.to_string()) },
            }
        }
    }
}

fn grant_href(s: &Shown<'_>, rule: RuleId) -> String {
    let mut href = format!(
        "/elections/{}/record/override.granted?f.rule={}&f.excused_event_type={}",
        enc(&s.ctx.election_id),
        rule.as_str(),
        enc(s.kind.event_type)
    );
    if let Some(c) = &s.candidate {
        href.push_str(&format!("&candidate_id={}", enc(c)));
    }
    href
}

fn candidate_input(s: &Shown<'_>) -> Markup {
    let c = s.candidate.clone().unwrap_or_default();
    match s.kind.scope {
        Scope::Election => html! {},
        Scope::Candidate if s.kind.event_type == "candidate.nominated" => html! {
            p {
                label for="candidate_id" { (labels::header_label("candidate_id")) " " }
                input id="candidate_id" name="candidate_id" value=(c) required pattern="[^/]+";
                span.meta { " 本选举内唯一，如 c-01 unique within the election" }
            }
        },
        scope => html! {
            p {
                label for="candidate_id" { (labels::header_label("candidate_id")) " " }
                select id="candidate_id" name="candidate_id" required[scope == Scope::Candidate] {
                    @if scope == Scope::Either { option value="" { "（选举本身 the election itself）" } }
                    @for (id, name, _) in &s.ctx.candidates {
                        option value=(id) selected[*id == c] { (name) " (" (id) ")" }
                    }
                }
            }
        },
    }
}

fn now_minute() -> String {
    chrono::Utc::now()
        .with_timezone(&labels::beijing())
        .format("%Y-%m-%dT%H:%M")
        .to_string()
}

pub(super) fn form_markup(s: &Shown<'_>, action: &str) -> Markup {
    let p = s.ctx.procedure.as_ref();
    let step = p.and_then(|p| p.step_of(s.kind.event_type));
    let roles = recording_roles(p, s.kind.event_type);
    let occurred = s
        .values
        .get("occurred_at")
        .map(str::to_string)
        .unwrap_or_else(now_minute);
    let rule_now = s
        .values
        .text("override_rule")
        .map(str::to_string)
        .or_else(|| {
            s.refusal
                .as_ref()
                .and_then(Refusal::rule)
                .map(|r| r.as_str().to_string())
        })
        .unwrap_or_default();
    let grants: Vec<_> = s
        .ctx
        .grants
        .iter()
        .filter(|g| g.1 == s.kind.event_type && g.2 == s.candidate)
        .collect();
    html! {
        @if s.ctx.election_id.is_empty() {
            p { a href="/elections" { "← 选举列表 elections" } }
        } @else {
            p { a href=(format!("/elections/{}", enc(&s.ctx.election_id))) { "← " (s.ctx.election_id) } }
        }
        h1 { "记录：" (s.kind.label) " " code { (s.kind.event_type) } }
        p.meta id="step-help" {
            @if let Some(step) = step {
                "环节 step: " (step.name)
                @if let Some(src) = &step.source { " · 依据 " span.cite { (src) } }
                " · "
            }
            "由 " (labels::roles(p, &roles)) " 记录 recorded by"
            @if !roles.contains(&s.user.acts_as) {
                " · " strong { "您的角色（" (labels::role(p, &s.user.acts_as)) "）不在其中，提交将被拒绝（R11）" }
            }
        }
        @if s.kind.event_type == "override.granted" {
            @if let Some(p) = p {
                table id="granting-roles" {
                    tr { th { "规则 rule" } th { "可批准的角色 may be granted by" } }
                    @for (rule, who) in &p.overrides {
                        tr { td { (labels::choice_label("RuleId", rule.as_str())) } td { (labels::roles(Some(p), who)) } }
                    }
                }
            }
        }
        @if let Some(d) = &s.denied { div.error id="denied" { "无权记录 not permitted: " (d) } }
        @if let Some(r) = &s.refusal { (refusal_box(s, r)) }
        @if !s.errors.is_empty() {
            div.error id="field-errors" {
                p { "未记录，请更正以下字段 nothing was recorded; correct these fields:" }
                ul { @for e in &s.errors { li data-field=(e.field) { (e.to_string()) } } }
            }
        }
        @if !s.ctx.people.is_empty() {
            datalist id="known-people" { @for x in &s.ctx.people { option value=(x) {} } }
        }
        form.record method="post" action=(action) id="record-form" {
            input type="hidden" name=(csrf::FIELD) value=(csrf::for_session(s.user));
            input type="hidden" name="event_id" value=(s.event_id);
            @if s.ctx.election_id.is_empty() {
                @let ns = s.user.org.split('/').next().unwrap_or_default();
                p {
                    label for="election_local" { (labels::header_label("election_id")) " " }
                    (ns) ":" input id="election_local" name="election_local" value=(text_value(&s.values, "election_local")) required pattern="[^/:]+";
                    span.meta { " 如 qingshan-2026" }
                }
            }
            (candidate_input(s))
            p {
                label for="occurred_at" { (labels::header_label("occurred_at")) " " }
                input id="occurred_at" name="occurred_at" type="datetime-local" value=(occurred) required;
            }
            table.fields {
                @for f in spec::fields_of(s.kind).iter().filter(|f| f.widget != Widget::Hidden) {
                    tr data-field=(f.name) class=(if s.errors.iter().any(|e| e.field == f.name) { "bad" } else { "" }) {
                        th {
                            label for=(format!("f-{}", f.name)) { (f.label) }
                            @if f.required { span.req title="必填 required" { " *" } }
                        }
                        td {
                            (input_for(s, f))
                            div.meta.doc { (f.doc) }
                            @if let Some(h) = hint(s.kind.event_type, f.name, p) { div.hint { (h) } }
                        }
                    }
                    @if f.name == "person_ref" && s.ctx.person_key {
                        tr data-field=(spec::ID_NUMBER) class=(if s.errors.iter().any(|e| e.field == spec::ID_NUMBER) { "bad" } else { "" }) {
                            th { label for="f-id_number" { "身份证号" } }
                            td {
                                // Never echoed back: a refused form asks for it again.
                                input id="f-id_number" name=(spec::ID_NUMBER) autocomplete="off" inputmode="text" maxlength="18" pattern="[0-9]{17}[0-9Xx]";
                                div.meta.doc { "只记录其人员关联码（密钥哈希），不记录号码本身 only its keyed reference is recorded, never the number; leave 人员关联码 blank" }
                            }
                        }
                    }
                }
            }
            @if s.kind.event_type != "override.granted" {
                details.override id="override" open[!rule_now.is_empty() || !grants.is_empty()] {
                    summary { "依规越权记录 record under an override (须已有他人批准 needs a grant by another role)" }
                    @if !grants.is_empty() {
                        ul id="grants" {
                            @for g in &grants {
                                li { "已批准 " (g.0.as_str()) "：" (g.3) " — " (g.4) }
                            }
                        }
                    }
                    p {
                        label for="override_rule" { "规则 rule " }
                        select id="override_rule" name="override_rule" {
                            option value="" { "（不越权 none）" }
                            @for (val, label) in labels::choices("RuleId").unwrap_or_default() {
                                option value=(val) selected[*val == rule_now] { (label) }
                            }
                        }
                    }
                    p {
                        label for="override_justification" { "理由 justification " }
                        textarea id="override_justification" name="override_justification" rows="2" cols="60" {
                            (text_value(&s.values, "override_justification"))
                        }
                    }
                }
            }
            p { button id="record-submit" type="submit" { "记录 Record" } }
        }
    }
}
