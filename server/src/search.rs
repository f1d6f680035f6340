//! Finding things: the list of elections with a filter and a sort, one
//! search for a candidate by name across every election in the reader's
//! scope, and the inspector's home page of what needs attention (open
//! petitions, overdue reports, deferrals, overrides, elections with
//! findings).
//!
//! These pages show names, steps, statuses and finding kinds, never the
//! restricted content itself (a petition's summary, personal matters), so
//! that a list read records no read of a candidate's records: that stays on
//! the candidate's page, where the read is recorded (D52, D104).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jishi_app::users::User;
use jishi_projections::views::{self, ElectionProjection, FindingKind};
use maud::{html, Markup};
use serde::Deserialize;

use crate::auth::PageUser;
use crate::forms::enc;
use crate::pages::{error_page, layout_with_badge};
use crate::queries::{self, ElectionSummary};
use crate::state::{election_org, AppState};
use crate::{labels, policy};

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/elections", get(elections))
        .route("/search", get(search))
        .route("/inspect", get(inspect))
}

/// The filter of the elections list; every field optional.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Words matched against the id, the unit, its organisation and the
    /// candidates' names.
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub kind: String,
    /// `findings`, `clean`, `begun` or `unopened`; blank: all.
    #[serde(default)]
    pub status: String,
    /// `unit` (default), `id`, `findings`, `events`, `candidates`.
    #[serde(default)]
    pub sort: String,
}

/// The compliance state of an election for its list: findings, none after
/// the vote, none *yet* (it has not reached its vote, so the absence of
/// findings says little), or not opened.
pub fn status_of(s: &ElectionSummary) -> &'static str {
    match s.findings {
        None => "unopened",
        Some(n) if n > 0 => "findings",
        Some(_) if s.concluded => "clean",
        Some(_) => "begun",
    }
}

pub fn compliance_cell(s: &ElectionSummary) -> Markup {
    match (status_of(s), s.findings) {
        ("findings", Some(n)) => html! { span.badge.bad { (n) " 项发现 findings" } },
        ("clean", _) => html! { span.badge.ok { "✔ 合规 no findings" } },
        ("begun", _) => {
            html! { span.badge.pending title="选举尚未投票 the vote has not been held" { "尚无发现 (no findings yet)" } }
        }
        _ => html! { span.badge.pending { "未启动 not opened" } },
    }
}

pub(crate) fn matches(words: &str, hay: &[&str]) -> bool {
    words.split_whitespace().all(|w| {
        hay.iter()
            .any(|h| h.to_lowercase().contains(&w.to_lowercase()))
    })
}

/// The elections `user` reads that pass `f`, sorted as asked.
pub fn filter(
    list: Vec<(ElectionSummary, Vec<String>)>,
    f: &Filter,
) -> Vec<(ElectionSummary, Vec<String>)> {
    let mut out: Vec<_> = list
        .into_iter()
        .filter(|(e, names)| {
            let mut hay = vec![
                e.election_id.as_str(),
                e.unit_name.as_str(),
                e.unit_org.as_str(),
            ];
            hay.extend(names.iter().map(String::as_str));
            matches(&f.q, &hay)
        })
        .filter(|(e, _)| f.kind.is_empty() || e.kind == f.kind)
        .filter(|(e, _)| f.status.is_empty() || status_of(e) == f.status)
        .collect();
    match f.sort.as_str() {
        "id" => out.sort_by(|a, b| a.0.election_id.cmp(&b.0.election_id)),
        "findings" => out.sort_by_key(|x| std::cmp::Reverse(x.0.findings)),
        "events" => out.sort_by_key(|x| std::cmp::Reverse(x.0.events)),
        "candidates" => out.sort_by_key(|x| std::cmp::Reverse(x.0.candidates)),
        _ => out.sort_by(|a, b| {
            (&a.0.unit_name, &a.0.election_id).cmp(&(&b.0.unit_name, &b.0.election_id))
        }),
    }
    out
}

pub(crate) async fn in_scope(
    state: &AppState,
    user: &User,
) -> Result<Vec<(ElectionSummary, Vec<String>)>, crate::error::ApiError> {
    let list = queries::elections(state, user).await?;
    state
        .with_views(|v| {
            list.into_iter()
                .map(|s| {
                    let names = v
                        .elections
                        .get(&s.election_id)
                        .map(|e| {
                            e.state
                                .candidates
                                .values()
                                .filter_map(|c| c.nomination.as_ref().map(|n| n.name.clone()))
                                .collect()
                        })
                        .unwrap_or_default();
                    (s, names)
                })
                .collect()
        })
        .await
}

fn select(name: &str, current: &str, options: &[(&str, &str)]) -> Markup {
    html! {
        select name=(name) id=(format!("filter-{name}")) {
            @for (v, l) in options { option value=(*v) selected[*v == current] { (*l) } }
        }
    }
}

async fn elections(
    State(state): Shared,
    PageUser(user): PageUser,
    Query(f): Query<Filter>,
) -> Response {
    let list = match in_scope(&state, &user).await {
        Ok(l) => l,
        Err(e) => return error_page(&e),
    };
    let total = list.len();
    let shown = filter(list, &f);
    let mut kinds: Vec<String> = Vec::new();
    for p in jishi_projections::Procedure::builtins().unwrap_or_default() {
        kinds.push(p.kind);
    }
    let kind_options: Vec<(String, String)> =
        std::iter::once((String::new(), "全部类型 all kinds".to_string()))
            .chain(kinds.iter().map(|k| (k.clone(), labels::procedure_kind(k))))
            .collect();
    let kind_refs: Vec<(&str, &str)> = kind_options
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    let body = html! {
        h1 { "换届选举 Elections" }
        form.filter method="get" action="/elections" id="election-filter" {
            label for="filter-q" { "查找 find " }
            input id="filter-q" name="q" value=(f.q) placeholder="单位、编号或人选姓名 unit, id or a candidate's name";
            " " (select("kind", &f.kind, &kind_refs))
            " " (select("status", &f.status, &[
                ("", "全部状态 any status"), ("findings", "有发现 with findings"),
                ("clean", "合规 no findings"), ("begun", "尚无发现 no findings yet"),
                ("unopened", "未启动 not opened"),
            ]))
            " 排序 sort " (select("sort", &f.sort, &[
                ("", "按单位 by unit"), ("id", "按编号 by id"), ("findings", "发现多者在前 most findings"),
                ("events", "事件多者在前 most events"), ("candidates", "人选多者在前 most candidates"),
            ]))
            " " button type="submit" { "筛选 filter" }
        }
        p.meta { "显示 " (shown.len()) " / " (total) " 个选举 elections shown" }
        @if shown.is_empty() { p id="no-elections" { "没有符合条件的选举 no election matches" } }
        @else {
            table id="elections" {
                tr {
                    th { "选举 Election" } th { "单位 Unit" } th { "组织 Org" } th { "类型 Kind" }
                    th { "人选 Candidates" } th { "事件 Events" } th { "合规 Compliance" }
                }
                @for (e, _) in &shown {
                    tr data-status=(status_of(e)) {
                        td { a href=(format!("/elections/{}", enc(&e.election_id))) { (e.election_id) } }
                        td { (e.unit_name) } td { (e.unit_org) }
                        td { (labels::procedure_kind(&e.kind)) }
                        td { (e.candidates) } td { (e.events) }
                        td.compliance { (compliance_cell(e)) }
                    }
                }
            }
        }
    };
    page(&state, &user, "换届 elections", body).await
}

async fn page(state: &AppState, user: &User, title: &str, body: Markup) -> Response {
    match queries::badge(state).await {
        Ok(b) => Html(layout_with_badge(title, user, &b, body).into_string()).into_response(),
        Err(e) => error_page(&e),
    }
}

#[derive(Debug, Default, Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
}

/// One candidate found.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Hit {
    pub election_id: String,
    pub unit_name: String,
    pub candidate_id: String,
    pub name: String,
    pub status: String,
    pub last_step: Option<String>,
    pub findings: usize,
}

fn hits(e_id: &str, e: &ElectionProjection, q: &str) -> Vec<Hit> {
    hits_where(e_id, e, |c, unit| {
        matches(q, &[&c.name, &c.candidate_id, unit, e_id])
    })
}

/// The candidates of election `e_id` that `wanted` picks, given each
/// candidate's row and the election's unit name; the search across
/// ledgers (D112) picks by person reference with it.
pub(crate) fn hits_where(
    e_id: &str,
    e: &ElectionProjection,
    wanted: impl Fn(&views::CandidateRow, &str) -> bool,
) -> Vec<Hit> {
    let unit = e
        .state
        .opened
        .as_ref()
        .map(|o| o.unit_name.clone())
        .unwrap_or_default();
    // Kept with the projection (D118): a search across every election in
    // scope must not replay each one.
    let report = e.compliance();
    let folded = &e.state;
    views::candidates(folded, None)
        .into_iter()
        .filter(|c| wanted(c, &unit))
        .map(|c| Hit {
            findings: report.as_ref().map_or(0, |r| {
                r.findings
                    .iter()
                    .filter(|f| f.candidate_id.as_deref() == Some(c.candidate_id.as_str()))
                    .count()
            }),
            election_id: e_id.to_string(),
            unit_name: unit.clone(),
            candidate_id: c.candidate_id,
            name: c.name,
            status: labels::status(c.status),
            last_step: c.last_step,
        })
        .collect()
}

/// One search for a candidate by name (or id, or unit) across every
/// election the reader's scope covers.
async fn search(
    State(state): Shared,
    PageUser(user): PageUser,
    Query(q): Query<SearchQuery>,
) -> Response {
    let words = q.q.trim().to_string();
    let found = if words.is_empty() {
        Vec::new()
    } else {
        match state
            .with_views(|v| {
                v.elections
                    .iter()
                    .filter(|(_, e)| policy::may_read_election(&user, &election_org(e)).is_ok())
                    .flat_map(|(id, e)| hits(id, e, &words))
                    .collect::<Vec<_>>()
            })
            .await
        {
            Ok(mut f) => {
                match q.sort.as_str() {
                    "findings" => f.sort_by_key(|x| std::cmp::Reverse(x.findings)),
                    "election" => f.sort_by(|a, b| a.election_id.cmp(&b.election_id)),
                    _ => {
                        f.sort_by(|a, b| (&a.name, &a.election_id).cmp(&(&b.name, &b.election_id)))
                    }
                }
                f
            }
            Err(e) => return error_page(&e),
        }
    };
    let body = html! {
        h1 { "查找人选 Find a candidate" }
        form method="get" action="/search" id="search-form" {
            label for="search-q" { "姓名、编号或单位 name, id or unit " }
            input id="search-q" name="q" value=(words) autofocus;
            " 排序 " (select("sort", &q.sort, &[("", "按姓名 by name"), ("findings", "发现多者在前 most findings"), ("election", "按选举 by election")]))
            " " button type="submit" id="search-submit" { "查找 search" }
        }
        @if !words.is_empty() {
            p.meta id="search-count" { "在您的范围内找到 " (found.len()) " 名人选 candidates found in your scope" }
            @if !found.is_empty() {
                table id="search-results" {
                    tr { th { "姓名 Name" } th { "人选 Candidate" } th { "选举 Election" } th { "单位 Unit" } th { "状态 Status" } th { "最近环节 Last step" } th { "发现 Findings" } }
                    @for h in &found {
                        tr {
                            td { a href=(format!("/elections/{}/candidates/{}", enc(&h.election_id), enc(&h.candidate_id))) { (h.name) } }
                            td { (h.candidate_id) }
                            td { a href=(format!("/elections/{}", enc(&h.election_id))) { (h.election_id) } }
                            td { (h.unit_name) }
                            td { (h.status) }
                            td { (h.last_step.as_deref().map(labels::event_type).unwrap_or_default()) }
                            td { (h.findings) }
                        }
                    }
                }
            }
        }
    };
    page(&state, &user, "查找 search", body).await
}

/// One line of the inspector's home page.
struct Attention {
    what: &'static str,
    election_id: String,
    candidate_id: Option<String>,
    name: String,
    detail: String,
    positions: Vec<u64>,
}

fn attention_of(e_id: &str, e: &ElectionProjection) -> Vec<Attention> {
    let mut out = Vec::new();
    let name_of = |c: &str| {
        e.state
            .candidates
            .get(c)
            .and_then(|s| s.nomination.as_ref())
            .map(|n| n.name.clone())
            .unwrap_or_default()
    };
    for (cid, c) in &e.state.candidates {
        for (pid, p) in &c.petitions {
            if p.is_open() {
                out.push(Attention {
                    what: "open_petition",
                    election_id: e_id.into(),
                    candidate_id: Some(cid.clone()),
                    name: name_of(cid),
                    detail: format!(
                        "{pid} 受理于 {}{}",
                        p.received_at
                            .with_timezone(&labels::beijing())
                            .format("%Y-%m-%d"),
                        if p.investigated_at.is_some() {
                            "，已报查核结果"
                        } else {
                            "，尚未报送查核结果"
                        }
                    ),
                    positions: Vec::new(),
                });
            }
        }
    }
    if let Some(report) = e.compliance() {
        for f in &report.findings {
            let what = match f.kind {
                FindingKind::LateReport => "late_report",
                FindingKind::Deferred => "deferred",
                FindingKind::Override => "override",
                _ => "finding",
            };
            out.push(Attention {
                what,
                election_id: e_id.into(),
                name: f.candidate_id.as_deref().map(name_of).unwrap_or_default(),
                candidate_id: f.candidate_id.clone(),
                // The kind and the rule only: the detail may quote
                // restricted content (D104).
                detail: format!(
                    "{}{}",
                    f.kind.label(),
                    f.rule.map(|r| format!(" · {r}")).unwrap_or_default()
                ),
                positions: f.evidence.clone(),
            });
        }
    }
    out
}

/// What needs an inspector's attention across their scope.
async fn inspect(State(state): Shared, PageUser(user): PageUser) -> Response {
    let items = match state
        .with_views(|v| {
            v.elections
                .iter()
                .filter(|(_, e)| policy::may_read_election(&user, &election_org(e)).is_ok())
                .flat_map(|(id, e)| attention_of(id, e))
                .collect::<Vec<_>>()
        })
        .await
    {
        Ok(i) => i,
        Err(e) => return error_page(&e),
    };
    let sections: [(&str, &str, &str); 5] = [
        (
            "open_petition",
            "未办结的信访举报 Open petitions",
            "open-petitions",
        ),
        (
            "late_report",
            "超期报送查核结果 Overdue reports",
            "overdue-reports",
        ),
        ("deferred", "暂缓提名 Deferrals", "deferrals"),
        ("override", "越过规则记录 Overrides", "overrides"),
        ("finding", "其他发现 Other findings", "findings"),
    ];
    let mut with_findings: Vec<(&str, usize)> = Vec::new();
    for i in items.iter().filter(|i| i.what != "open_petition") {
        match with_findings.iter_mut().find(|(e, _)| *e == i.election_id) {
            Some((_, n)) => *n += 1,
            None => with_findings.push((i.election_id.as_str(), 1)),
        }
    }
    let body = html! {
        h1 { "监督首页 Inspector's home" }
        p.meta { "您的范围 scope: " (user.org) " 及下级 and below" }
        h2 { "有发现的选举 Elections with findings" }
        @if with_findings.is_empty() { p { "尚无发现 (no findings yet)" } }
        @else {
            ul id="elections-with-findings" {
                @for (e, n) in &with_findings {
                    li { a href=(format!("/elections/{}", enc(e))) { (e) } " — " (n) " 项 findings" }
                }
            }
        }
        @for (what, title, id) in sections {
            @let rows: Vec<&Attention> = items.iter().filter(|i| i.what == what).collect();
            h2 { (title) " (" (rows.len()) ")" }
            @if rows.is_empty() { p.meta { "无 none" } }
            @else {
                table id=(id) {
                    tr { th { "选举 Election" } th { "人选 Candidate" } th { "情况 Detail" } th { "证据位置 Evidence" } }
                    @for r in rows {
                        tr {
                            td { a href=(format!("/elections/{}", enc(&r.election_id))) { (r.election_id) } }
                            td {
                                @if let Some(c) = &r.candidate_id {
                                    a href=(format!("/elections/{}/candidates/{}", enc(&r.election_id), enc(c))) { (r.name) " (" (c) ")" }
                                }
                            }
                            td { (r.detail) }
                            td { (r.positions.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(" ")) }
                        }
                    }
                }
            }
        }
    };
    page(&state, &user, "监督首页 inspector home", body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, unit: &str, findings: Option<usize>, concluded: bool) -> ElectionSummary {
        ElectionSummary {
            election_id: id.into(),
            unit_name: unit.into(),
            unit_org: format!("天元区/{unit}"),
            kind: "township_party_committee".into(),
            body: String::new(),
            candidates: 3,
            events: 10,
            last_position: 10,
            findings,
            concluded,
        }
    }

    #[test]
    fn an_election_that_has_only_begun_has_no_findings_yet_not_a_green_tick() {
        assert_eq!(status_of(&summary("a", "青山镇", Some(0), false)), "begun");
        assert_eq!(status_of(&summary("a", "青山镇", Some(0), true)), "clean");
        assert_eq!(
            status_of(&summary("a", "青山镇", Some(2), false)),
            "findings"
        );
        assert_eq!(status_of(&summary("a", "青山镇", None, false)), "unopened");
        let cell = compliance_cell(&summary("a", "青山镇", Some(0), false)).into_string();
        assert!(cell.contains("尚无发现") && !cell.contains("✔"), "{cell}");
    }

    #[test]
    fn the_filter_finds_by_unit_or_candidate_name_and_sorts() {
        let list = vec![
            (
                summary("b", "白石镇", Some(1), true),
                vec!["王芳".to_string()],
            ),
            (
                summary("a", "青山镇", Some(3), true),
                vec!["李明".to_string()],
            ),
            (summary("c", "河西镇", None, false), vec![]),
        ];
        let f = Filter {
            q: "李明".into(),
            ..Filter::default()
        };
        let found = filter(list.clone(), &f);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0.election_id, "a");
        let f = Filter {
            sort: "findings".into(),
            ..Filter::default()
        };
        let ids: Vec<_> = filter(list.clone(), &f)
            .into_iter()
            .map(|(e, _)| e.election_id)
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let f = Filter {
            status: "unopened".into(),
            ..Filter::default()
        };
        assert_eq!(filter(list, &f).len(), 1);
    }
}
