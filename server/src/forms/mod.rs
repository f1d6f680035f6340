//! Recording through forms: a page per recordable kind of the catalogue,
//! generated from its fields ([`spec`]), posted as a plain form (no
//! script needed) with the session's CSRF token (D56) and a fresh event id,
//! and recorded through the same path as `POST /api/record/{kind}`: the
//! policy, then `decide` under the procedure in force. A refusal comes back
//! on the same form, with what was typed, naming the rule, its source and
//! who may grant an override (D20); a second submission of the same form
//! finds its event id in the ledger and records nothing (D103).

pub mod spec;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use jishi_app::users::User;
use jishi_app::{Once, RecordError};
use jishi_projections::views::Entry;
use jishi_projections::{
    kind_of, Command, CommandError, EventBody, EventKind, Procedure, Refusal, RuleId, Scope,
};
use maud::{html, Markup};

use crate::error::ApiError;
use crate::pages::{error_page, layout_for};
use crate::state::AppState;
use crate::{csrf, labels, policy, queries};
use spec::{FieldError, FieldSpec, Header, SubKind, Values, Widget};

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/elections/{election}/steps", get(steps_page))
        .route(
            "/elections/{election}/record/{kind}",
            get(form_page).post(submit),
        )
        .route("/open", get(open_page).post(open_submit))
}

/// What a form needs to know of its election.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub election_id: String,
    /// The procedure in force (`None` before the opening).
    pub procedure: Option<Procedure>,
    /// Candidates: id, name, whether still in the running.
    pub candidates: Vec<(String, String, bool)>,
    /// Person ids the election's events already name (committee members,
    /// inspectors, chairs, attendees, scrutineers, signers).
    pub people: Vec<String>,
    /// Petitions and objections by id, for their follow-up forms.
    pub petitions: Vec<String>,
    pub objections: Vec<String>,
    /// Unused override grants: rule, act, candidate, who granted, why.
    pub grants: Vec<(RuleId, String, Option<String>, String, String)>,
}

fn people_of(entries: &[Entry]) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    let mut add = |s: &str| {
        if !s.trim().is_empty() {
            out.insert(s.to_string());
        }
    };
    for e in entries {
        match &e.event.body {
            EventBody::ElectionOpened(b) => b.election_committee.iter().for_each(|p| add(p)),
            EventBody::PledgeSigned(b) => b.signer_ids.iter().for_each(|p| add(p)),
            EventBody::InspectionConducted(b) => {
                add(&b.team_leader);
                b.team_members.iter().for_each(|p| add(p));
            }
            EventBody::CommitteeDecided(b) => {
                add(&b.chair);
                b.attendees.iter().for_each(|p| add(p));
            }
            EventBody::VoteHeld(b) => b.scrutineers.iter().for_each(|p| add(p)),
            EventBody::PetitionInvestigated(b) => {
                add(&b.handler);
                add(&b.leader);
            }
            _ => {}
        }
    }
    out.into_iter().collect()
}

/// The election's context for `user` (404 when absent or out of scope).
pub async fn context(
    state: &AppState,
    user: &User,
    election_id: &str,
) -> Result<Context, ApiError> {
    state
        .with_election(user, election_id, |e| {
            let procedure = jishi_app::views::procedure_of(election_id, &e.entries, None).ok();
            let candidates = e
                .state
                .candidates
                .iter()
                .map(|(id, c)| {
                    (
                        id.clone(),
                        c.nomination
                            .as_ref()
                            .map(|n| n.name.clone())
                            .unwrap_or_default(),
                        c.is_active(),
                    )
                })
                .collect();
            let mut petitions = Vec::new();
            let mut objections = Vec::new();
            for c in e.state.candidates.values() {
                petitions.extend(c.petitions.keys().cloned());
                objections.extend(c.objections.keys().cloned());
            }
            let grants = e
                .state
                .grants
                .iter()
                .filter(|g| !g.used)
                .map(|g| {
                    (
                        g.rule,
                        g.event_type.clone(),
                        g.candidate_id.clone(),
                        format!(
                            "{}（{}，{}）",
                            g.granted_by.name,
                            g.granted_by.id,
                            labels::role(procedure.as_ref(), &g.granted_by.role)
                        ),
                        g.justification.clone(),
                    )
                })
                .collect();
            Ok(Context {
                election_id: election_id.to_string(),
                people: people_of(&e.entries),
                procedure,
                candidates,
                petitions,
                objections,
                grants,
            })
        })
        .await
}

/// The roles that record `kind` under `procedure` (for a grant: those that
/// may grant any rule).
fn recording_roles(procedure: Option<&Procedure>, kind: &str) -> Vec<String> {
    let Some(p) = procedure else {
        return vec!["organisation_department".into()];
    };
    if kind == "override.granted" {
        let mut all: Vec<String> = p.overrides.values().flatten().cloned().collect();
        all.sort();
        all.dedup();
        return all;
    }
    p.roles_for(kind).to_vec()
}

/// Whether the policy lets `user` record `kind` at all (its access role;
/// scope and the acting role are checked on submission).
fn may_try(user: &User, kind: &str) -> bool {
    policy::may_record(user, kind, &user.org, false).is_ok()
}

/// The kinds of the election's forms, grouped as the procedure groups its
/// steps: (heading, kinds).
fn grouped(procedure: Option<&Procedure>) -> Vec<(String, Vec<&'static EventKind>)> {
    let mut out: Vec<(String, Vec<&'static EventKind>)> = Vec::new();
    let mut placed = std::collections::BTreeSet::new();
    if let Some(p) = procedure {
        for step in &p.steps {
            let stage = p
                .stages
                .iter()
                .find(|s| s.id == step.stage)
                .map(|s| s.name.as_str())
                .unwrap_or_default();
            let kinds: Vec<&'static EventKind> = step
                .events
                .iter()
                .filter_map(|e| kind_of(e))
                .filter(|k| k.recordable && k.event_type != "election.opened")
                .collect();
            if kinds.is_empty() {
                continue;
            }
            placed.extend(kinds.iter().map(|k| k.event_type));
            out.push((format!("{} · {}", stage, step.name), kinds));
        }
    }
    let rest: Vec<&'static EventKind> = Command::kinds()
        .filter(|k| k.event_type != "election.opened" && !placed.contains(k.event_type))
        .collect();
    out.push(("其他记录 other records".into(), rest));
    out
}

/// The links to every form of an election, for the election's page and the
/// steps page; `candidate` narrows them to that candidate's kinds.
pub fn step_links(ctx: &Context, user: &User, candidate: Option<&str>) -> Markup {
    let p = ctx.procedure.as_ref();
    html! {
        div.steps id="record-steps" {
            @for (heading, kinds) in grouped(p) {
                @let kinds: Vec<_> = kinds.into_iter()
                    .filter(|k| candidate.is_none() || k.scope != Scope::Election)
                    .collect();
                @if !kinds.is_empty() {
                    div.step {
                        strong { (heading) }
                        ul {
                            @for k in kinds {
                                @let roles = recording_roles(p, k.event_type);
                                @let mine = roles.contains(&user.acts_as) && may_try(user, k.event_type);
                                li class=(if mine { "mine" } else { "others" }) {
                                    a href=(form_href(&ctx.election_id, k.event_type, candidate))
                                        data-kind=(k.event_type) { (k.label) }
                                    " "
                                    span.meta { "由 " (labels::roles(p, &roles)) " 记录" }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn form_href(election: &str, kind: &str, candidate: Option<&str>) -> String {
    match candidate {
        Some(c) => format!(
            "/elections/{}/record/{kind}?candidate_id={}",
            enc(election),
            enc(c)
        ),
        None => format!("/elections/{}/record/{kind}", enc(election)),
    }
}

/// Percent-encodes a path segment or query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

async fn steps_page(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    Path(election): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let candidate = q
        .iter()
        .find(|(k, _)| k == "candidate_id")
        .map(|(_, v)| v.as_str());
    let body = html! {
        p { a href=(format!("/elections/{}", enc(&election))) { "← " (election) } }
        h1 { "记录环节 Record a step" }
        (step_links(&ctx, &user, candidate))
    };
    Html(layout_for("记录环节 record", &user, body).into_string()).into_response()
}

/// A form on the page: what was typed (or prefilled), the refusal or the
/// field errors of the last submission.
struct Shown<'a> {
    kind: &'static EventKind,
    ctx: &'a Context,
    user: &'a User,
    values: Values,
    candidate: Option<String>,
    event_id: String,
    errors: Vec<FieldError>,
    refusal: Option<Refusal>,
    denied: Option<String>,
}

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

fn form_markup(s: &Shown<'_>, action: &str) -> Markup {
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

fn render(status: StatusCode, s: &Shown<'_>, action: &str) -> Response {
    let title = format!("记录 {}", s.kind.label);
    (
        status,
        Html(layout_for(&title, s.user, form_markup(s, action)).into_string()),
    )
        .into_response()
}

fn recordable(kind: &str) -> Result<&'static EventKind, ApiError> {
    kind_of(kind)
        .filter(|k| k.recordable)
        .ok_or_else(|| ApiError::NotFound(format!("no form for {kind:?}: not a recordable kind")))
}

fn fresh_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn form_page(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    Path((election, kind)): Path<(String, String)>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let kind = match recordable(&kind) {
        Ok(k) if k.event_type != "election.opened" => k,
        Ok(_) => return axum::response::Redirect::to("/open").into_response(),
        Err(e) => return error_page(&e),
    };
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let values = Values(q);
    let candidate = values.text("candidate_id").map(str::to_string);
    let shown = Shown {
        kind,
        ctx: &ctx,
        user: &user,
        values,
        candidate,
        event_id: fresh_id(),
        errors: Vec::new(),
        refusal: None,
        denied: None,
    };
    render(StatusCode::OK, &shown, &action_of(&election, kind))
}

fn action_of(election: &str, kind: &EventKind) -> String {
    format!("/elections/{}/record/{}", enc(election), kind.event_type)
}

/// Where a recorded act is shown: its candidate's page or its election's.
fn shown_at(election: &str, candidate: Option<&str>, position: u64, again: bool) -> String {
    let base = match candidate {
        Some(c) => format!("/elections/{}/candidates/{}", enc(election), enc(c)),
        None => format!("/elections/{}", enc(election)),
    };
    format!(
        "{base}?recorded={position}{}",
        if again { "&again=1" } else { "" }
    )
}

fn field_error(kind: &EventKind, field: &str, reason: String) -> FieldError {
    let label = match field {
        "election_id" | "candidate_id" | "occurred_at" | "override" | "event_id" => {
            labels::header_label(field)
        }
        f => labels::field(kind.event_type, f),
    };
    FieldError {
        field: field.to_string(),
        label: label.to_string(),
        reason,
    }
}

/// Records what a form sent, or shows it again with why not.
async fn record_form(
    state: &AppState,
    user: &User,
    headers: &HeaderMap,
    kind: &'static EventKind,
    ctx: &Context,
    election_id: &str,
    values: Values,
) -> Response {
    let candidate = values.text("candidate_id").map(str::to_string);
    let event_id_text = values.text("event_id").map(str::to_string);
    let action = if ctx.election_id.is_empty() {
        "/open".to_string()
    } else {
        action_of(election_id, kind)
    };
    let mut shown = Shown {
        kind,
        ctx,
        user,
        values,
        candidate: candidate.clone(),
        event_id: event_id_text.clone().unwrap_or_else(fresh_id),
        errors: Vec::new(),
        refusal: None,
        denied: None,
    };
    let token = shown.values.get(csrf::FIELD).unwrap_or_default();
    if !csrf::same_origin(headers) || !csrf::same(&csrf::for_session(user), token) {
        return crate::pages::forged();
    }
    let Some(event_id) = event_id_text.and_then(|t| uuid::Uuid::parse_str(&t).ok()) else {
        shown.event_id = fresh_id();
        shown.errors.push(field_error(
            kind,
            "event_id",
            "表单缺少有效的事件编号，请重新打开表单 the form has no valid event id: reload it"
                .into(),
        ));
        return render(StatusCode::BAD_REQUEST, &shown, &action);
    };
    let candidates: Vec<String> = ctx.candidates.iter().map(|c| c.0.clone()).collect();
    let header = Header {
        election_id,
        candidate_id: candidate.as_deref(),
    };
    let json = match spec::command_json(kind, header, &shown.values, &candidates) {
        Ok(j) => j,
        Err(errors) => {
            shown.errors = errors;
            return render(StatusCode::BAD_REQUEST, &shown, &action);
        }
    };
    let command = match Command::from_json(kind.event_type, json) {
        Ok(c) => c,
        Err(e) => {
            let (field, reason) = match &e {
                CommandError::Field { field, reason, .. } => (field.clone(), reason.clone()),
                other => ("body".to_string(), other.to_string()),
            };
            shown.errors.push(field_error(kind, &field, reason));
            return render(StatusCode::BAD_REQUEST, &shown, &action);
        }
    };
    // The same checks as the API's, in the same order (api::record).
    let org = match &command.body {
        EventBody::ElectionOpened(b) => b.unit_org.clone(),
        _ => match state.election_org_of(&command.election_id).await {
            Ok(Some(org)) => org,
            Ok(None) => return error_page(&queries::no_election(&command.election_id)),
            Err(e) => return error_page(&e),
        },
    };
    if let Err(d) = policy::may_record(user, kind.event_type, &org, !command.overrides.is_empty()) {
        shown.denied = Some(d.0);
        return render(StatusCode::FORBIDDEN, &shown, &action);
    }
    match jishi_app::record_once(&state.events, &user.actor(), &command, event_id).await {
        Ok(Once::Recorded(r)) => {
            let position = r
                .events
                .iter()
                .find(|(e, _)| e.event_type() == kind.event_type)
                .or(r.events.first())
                .map_or(0, |(_, at)| at.position);
            see_other(&shown_at(
                &command.election_id,
                command.candidate_id.as_deref(),
                position,
                false,
            ))
        }
        Ok(Once::Already { position, .. }) => see_other(&shown_at(
            &command.election_id,
            command.candidate_id.as_deref(),
            position,
            true,
        )),
        Err(RecordError::Refused(Refusal::Invalid { field, reason })) => {
            shown.errors.push(field_error(kind, &field, reason));
            render(StatusCode::BAD_REQUEST, &shown, &action)
        }
        Err(RecordError::Refused(r)) => {
            shown.refusal = Some(r);
            render(StatusCode::UNPROCESSABLE_ENTITY, &shown, &action)
        }
        Err(e) => {
            let e: ApiError = e.into();
            error_page(&e)
        }
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

async fn submit(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    headers: HeaderMap,
    Path((election, kind)): Path<(String, String)>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let kind = match recordable(&kind) {
        Ok(k) if k.event_type != "election.opened" => k,
        Ok(_) => return error_page(&ApiError::bad("kind", "open an election at /open")),
        Err(e) => return error_page(&e),
    };
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    record_form(
        &state,
        &user,
        &headers,
        kind,
        &ctx,
        &election,
        Values(pairs),
    )
    .await
}

/// The opening form: an election that does not exist yet, named in the
/// opener's namespace (D54).
async fn open_page(
    crate::auth::PageUser(user): crate::auth::PageUser,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let Some(kind) = kind_of("election.opened") else {
        return error_page(&ApiError::Internal(
            "no election.opened in the catalogue".into(),
        ));
    };
    let ctx = Context::default();
    let shown = Shown {
        kind,
        ctx: &ctx,
        user: &user,
        values: Values(q),
        candidate: None,
        event_id: fresh_id(),
        errors: Vec::new(),
        refusal: None,
        denied: None,
    };
    render(StatusCode::OK, &shown, "/open")
}

async fn open_submit(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let Some(kind) = kind_of("election.opened") else {
        return error_page(&ApiError::Internal(
            "no election.opened in the catalogue".into(),
        ));
    };
    let values = Values(pairs);
    let ns = user.org.split('/').next().unwrap_or_default().to_string();
    let local = values
        .text("election_local")
        .unwrap_or_default()
        .to_string();
    let election_id = format!("{ns}:{local}");
    let ctx = Context::default();
    if local.is_empty() || local.contains(['/', ':']) {
        let shown = Shown {
            kind,
            ctx: &ctx,
            user: &user,
            values,
            candidate: None,
            event_id: fresh_id(),
            errors: vec![field_error(
                kind,
                "election_id",
                "须填写，且不含 / 或 : must be given, without / or :".into(),
            )],
            refusal: None,
            denied: None,
        };
        return render(StatusCode::BAD_REQUEST, &shown, "/open");
    }
    record_form(&state, &user, &headers, kind, &ctx, &election_id, values).await
}
