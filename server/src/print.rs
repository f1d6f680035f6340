//! The printable 全程纪实表 of one candidate: the steps, who did each and in
//! which role, when (Beijing time), the responsibility chain, the
//! candidate's findings, and the line that ties the paper to the ledger
//! (the checkpoint it was verified against, the last event's position and
//! hash), so that a reader of the paper can check it with `jishi verify`
//! and `jishi prove`. A4 print CSS (`@page size A4`); in print the site's
//! header, navigation and every form are hidden. Reading it is a recorded
//! read of the trail, as the candidate's page is.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jishi_app::access::View;
use jishi_projections::views::{self, redact_report, Finding};
use jishi_projections::Sensitivity;
use maud::{html, DOCTYPE};

use crate::auth::PageUser;
use crate::forms::enc;
use crate::pages::error_page;
use crate::state::AppState;
use crate::{labels, policy, queries};

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route(
        "/elections/{election}/candidates/{candidate}/print",
        get(print),
    )
}

/// The print sheet's own style: A4, black on white, no header or forms.
pub const PRINT_CSS: &str = r#"
@page{size:A4;margin:14mm 12mm}
.sheet{max-width:186mm;margin:0 auto;background:#fff;padding:6mm;font-size:10.5pt}
.sheet h1{font-size:16pt;text-align:center;margin:0 0 2mm}
.sheet table{width:100%;table-layout:fixed;font-size:9.5pt}
.sheet td,.sheet th{word-break:break-all;overflow-wrap:anywhere}
.sheet .hashline{font-family:monospace;font-size:8pt;word-break:break-all;border-top:1px solid #000;margin-top:4mm;padding-top:2mm}
#sheet-steps th:nth-child(1){width:14%}#sheet-steps th:nth-child(2){width:16%}#sheet-steps th:nth-child(3){width:18%}#sheet-steps th:nth-child(4){width:8%}
.sheet .sign{display:flex;justify-content:space-between;margin-top:8mm}
@media print{
 header,nav,form,.noprint{display:none!important}
 body{background:#fff}
 main{padding:0;max-width:none}
 .sheet{padding:0;max-width:none}
 tr{page-break-inside:avoid}
}
"#;

/// What the 全程纪实表 shows of one candidate, for the print sheet and the
/// XLSX export alike: the trail and chain (a recorded read), the checkpoint
/// badge, the unit, the procedure in force and the candidate's findings.
pub struct SheetData {
    pub view: queries::CandidateView,
    pub badge: queries::Badge,
    pub unit: Option<jishi_projections::events::ElectionOpened>,
    pub procedure: Option<jishi_projections::Procedure>,
    pub findings: Vec<Finding>,
}

/// Reads [`SheetData`]; the trail read is recorded before anything is
/// handed out, as the candidate's page records it.
pub async fn sheet_data(
    state: &AppState,
    user: &jishi_app::users::User,
    e: &str,
    c: &str,
    read_as: View,
) -> Result<SheetData, crate::ApiError> {
    let view = queries::candidate(state, user, e, c, &queries::AsOf::default(), read_as).await?;
    let badge = queries::badge(state).await?;
    let may_see = |s: Sensitivity| policy::may_see(user, s);
    let (unit, procedure, findings) = state
        .with_election(user, e, |el| {
            let unit = el.state.opened.clone();
            let procedure = jishi_app::views::procedure_of(e, &el.entries, None).ok();
            let findings: Vec<Finding> = match &procedure {
                Some(p) => {
                    let (mut r, _) = jishi_projections::replay::compliance_with(
                        &el.entries,
                        &el.unreadable,
                        p,
                        &views::StructureRules::default(),
                    );
                    // This candidate's findings only; their restricted
                    // content is covered by the trail read just recorded.
                    r.findings.retain(|f| f.candidate_id.as_deref() == Some(c));
                    redact_report(&mut r, &el.entries, &may_see);
                    r.findings
                }
                None => Vec::new(),
            };
            Ok((unit, procedure, findings))
        })
        .await?;
    Ok(SheetData {
        view,
        badge,
        unit,
        procedure,
        findings,
    })
}

async fn print(
    State(state): Shared,
    PageUser(user): PageUser,
    Path((e, c)): Path<(String, String)>,
) -> Response {
    let SheetData {
        view: v,
        badge,
        unit,
        procedure,
        findings,
    } = match sheet_data(&state, &user, &e, &c, View::Trail).await {
        Ok(d) => d,
        Err(err) => return error_page(&err),
    };
    let p = procedure.as_ref();
    let name = v.trail.name.clone().unwrap_or_default();
    let last = v.trail.rows.last();
    let sheet = html! {
        div.sheet id="sheet" {
            h1 { "全程纪实表" }
            p.meta.center {
                (unit.as_ref().map(|u| format!("{} {} {}", u.unit_name, u.body, u.term)).unwrap_or_default())
                " · " (labels::procedure_kind(unit.as_ref().map(|u| u.kind.as_str()).unwrap_or_default()))
            }
            table id="sheet-head" {
                tr {
                    th { "姓名" } td { (name) }
                    th { "人选编号" } td { (c) }
                    th { "选举编号" } td { (e) }
                }
            }
            h2 { "一、环节记录" }
            table id="sheet-steps" {
                tr { th { "环节" } th { "时间（北京时间）" } th { "记录人（角色）" } th { "位置" } th { "要点" } }
                @for r in &v.trail.rows {
                    tr {
                        td { (r.step) }
                        td { (labels::time(&r.occurred_at)) }
                        td { (r.actor.name) "（" (labels::role(p, &r.actor.role)) "）" }
                        td { "#" (r.position) }
                        td {
                            @match &r.restricted {
                                Some(x) => { "内容受限：" (x.sensitivity.label()) }
                                None => { (r.facts) }
                            }
                            @for o in &r.overrides { br; "⚠ 依规越权 " (o.rule) "：" (o.justification) "（批准：" (o.authorised_by.name) "）" }
                            @for k in &r.corrections { br; "✎ 更正 #" (k.position) }
                        }
                    }
                }
            }
            h2 { "二、责任链" }
            table id="sheet-chain" {
                tr { th { "责任环节" } th { "责任人" } th { "记录人" } th { "时间" } th { "位置" } }
                @for d in &v.accountability.duties {
                    tr {
                        td { (d.label) }
                        td { (d.responsible.join("、")) }
                        td { (d.recorded_by.name) "（" (labels::role(p, &d.recorded_by.role)) "）" }
                        td { (labels::time(&d.occurred_at)) }
                        td { "#" (d.position) }
                    }
                }
            }
            h2 { "三、合规检查发现" }
            @if findings.is_empty() {
                p id="sheet-findings" { "本人选尚无发现。" }
            } @else {
                table id="sheet-findings" {
                    tr { th { "类别" } th { "规则" } th { "证据位置" } }
                    @for f in &findings {
                        tr {
                            td { (f.kind.label()) }
                            td { (f.rule.map(|r| r.to_string()).unwrap_or_default()) }
                            td { (f.evidence.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(" ")) }
                        }
                    }
                }
            }
            div.hashline id="hashline" {
                @match &badge.checkpoint {
                    Some(cp) => {
                        "核验：检查点 #" (cp.id) "（" (cp.size) " 条事件，根 " (cp.root) "）签名 " (cp.signed_by.join("、"))
                        "；其后 " (badge.head.saturating_sub(cp.size)) " 条事件。"
                    }
                    None => { "核验：尚无签名检查点。" }
                }
                @if let Some(r) = last {
                    " 本表截至位置 #" (r.position) "，哈希 " (r.hash) "。"
                }
                " 打印时账本共 " (badge.head) " 条事件；本次查阅记录于位置 #" (v.recorded_read_at) "。"
                " 核对：jishi verify；jishi prove " (last.map(|r| r.position).unwrap_or_default()) "。"
            }
            div.sign { span { "经办人：" } span { "审核人：" } span { "日期：" } }
        }
    };
    let page = html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                title { "全程纪实表 " (name) " — 纪实 jishi" }
                link rel="stylesheet" href="/static/jishi.css";
                link rel="stylesheet" href="/static/print.css";
            }
            body {
                header.noprint {
                    strong { a href="/elections" { "纪实 jishi" } }
                    a href=(format!("/elections/{}/candidates/{}", enc(&e), enc(&c))) { "← 返回 back to the trail" }
                    span { "用浏览器打印（A4） print with the browser (A4)" }
                }
                main { (sheet) }
            }
        }
    };
    Html(page.into_string()).into_response()
}
