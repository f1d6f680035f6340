//! Server-rendered pages for people who want to look, not type commands:
//! sign-in, the elections with their compliance status, an election, and a
//! candidate's trail as a timeline with the responsibility chain and an
//! as-of slider. HTML from `maud` (escaped by construction), a little CSS
//! and one tiny script that submits the slider's form on change, both
//! served from `/static/` so the Content-Security-Policy can forbid inline
//! code (D55). Every form also has a submit button, so the pages work
//! without JavaScript: nothing to build.
//! Labels are Chinese with English.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use jishi_app::access::View;
use jishi_app::users::{AccessRole, User};
use jishi_app::views::OccurredCut;
use jishi_projections::views::{Entry, Trail};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::auth::{PageUser, COOKIE};
use crate::error::ApiError;
use crate::queries::AsOf;
use crate::queries::{self, Badge};
use crate::state::AppState;
use crate::{csrf, labels, policy};

type Shared = State<Arc<AppState>>;

/// Sign-in attempts per client address (D58): a burst of 10, then one
/// more every 6 seconds. A token is 256 random bits, so this does not make
/// guessing feasible anyway; it keeps one address from flooding the user
/// lookup. Over the limit: 429 with `Retry-After`.
fn signin_limit() -> tower_governor::GovernorLayer<
    tower_governor::key_extractor::PeerIpKeyExtractor,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
    axum::body::Body,
> {
    let config = tower_governor::governor::GovernorConfigBuilder::default()
        .per_second(6)
        .burst_size(10)
        .finish()
        .expect("a non-zero period and burst");
    tower_governor::GovernorLayer::new(std::sync::Arc::new(config))
}

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/elections") }))
        .route("/static/jishi.css", get(stylesheet))
        .route("/static/jishi.js", get(script))
        .route("/static/print.css", get(print_stylesheet))
        .route(
            "/signin",
            get(signin_form).merge(post(signin).layer(signin_limit())),
        )
        .route("/signout", post(signout))
        .route("/elections/{election}", get(election))
        .route(
            "/elections/{election}/candidates/{candidate}",
            get(candidate),
        )
}

const CSS: &str = r#"
body{font-family:"Noto Sans CJK SC","Source Han Sans SC",sans-serif;margin:0;color:#1d232a;background:#f6f7f9}
header{background:#8b1a1a;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1rem;align-items:center;flex-wrap:wrap}
header a{color:#fff}
main{padding:1rem 1.2rem;max-width:72rem}
table{border-collapse:collapse;background:#fff;width:100%}
th,td{border:1px solid #d5d9de;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#eef0f3}
.badge{padding:.2rem .6rem;border-radius:1rem;font-size:.9rem}
.ok{background:#e3f4e6;color:#17602a}.bad{background:#fde8e8;color:#8b1a1a}.pending{background:#fff4d6;color:#6b4e00}
ol.timeline{list-style:none;padding:0;border-left:3px solid #8b1a1a;margin-left:.5rem}
ol.timeline li{background:#fff;margin:0 0 .6rem 1rem;padding:.5rem .7rem;border:1px solid #d5d9de;position:relative}
ol.timeline li:before{content:"";position:absolute;left:-1.45rem;top:.8rem;width:.7rem;height:.7rem;border-radius:50%;background:#8b1a1a}
.restricted{color:#6b6f75;font-style:italic}
.meta{color:#4a5058;font-size:.9rem}
code{font-size:.85rem}
form.inline{display:inline}
.error{background:#fde8e8;padding:.6rem;border:1px solid #e0a0a0}
.notice{background:#e3f4e6;padding:.6rem;border:1px solid #9fd0a8}
header nav a{margin-right:.6rem}
.steps{display:flex;flex-wrap:wrap;gap:.6rem}.step{background:#fff;border:1px solid #d5d9de;padding:.4rem .6rem;min-width:16rem}
.step ul{margin:.2rem 0;padding-left:1.1rem}li.others a{color:#6b6f75}
table.fields th{width:12rem;font-weight:normal}tr.bad td,tr.bad th{background:#fde8e8}
.hint{color:#6b4e00;font-size:.85rem}.doc{font-size:.8rem}
label.person{display:inline-block;margin-right:.8rem}
.refusal .rule{font-size:1.1rem}
form.filter{margin:.6rem 0}
@media print{header,nav,form,#as-of,#record-steps{display:none}}
"#;

/// Sends the slider's form as soon as it is moved; the "show" button does
/// the same without JavaScript.
const JS: &str = "var s=document.getElementById('as-of-slider');\nif(s){s.addEventListener('change',function(){s.form.submit();});}\n";

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
}

async fn print_stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        crate::print::PRINT_CSS,
    )
        .into_response()
}

async fn script() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        JS,
    )
        .into_response()
}

fn layout(title: &str, user: Option<&User>, badge: Option<&Badge>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — 纪实 jishi" }
                link rel="stylesheet" href="/static/jishi.css";
                script src="/static/jishi.js" defer {}
            }
            body {
                header {
                    strong { a href="/elections" { "纪实 jishi" } }
                    span { "换届选任全程纪实 candidate-selection ledger" }
                    @if let Some(u) = user {
                        nav {
                            a href="/elections" { "选举 elections" }
                            " " a href="/search" { "查找 search" }
                            @if matches!(u.role, AccessRole::Inspector | AccessRole::Investigator | AccessRole::Admin) {
                                " " a href="/inspect" id="nav-inspect" { "监督首页 inspector home" }
                            }
                            @if matches!(u.role, AccessRole::Recorder | AccessRole::Admin) {
                                " " a href="/open" id="nav-open" { "启动换届 open an election" }
                            }
                        }
                    }
                    @if let Some(b) = badge { (badge_markup(b)) }
                    @if let Some(u) = user {
                        span id="whoami" { (u.name) " (" (u.id) ") · " (u.role.label()) " · " (labels::role(None, &u.acts_as)) " · " (u.org) }
                        form.inline method="post" action="/signout" {
                            input type="hidden" name=(csrf::FIELD) value=(csrf::for_session(u));
                            button type="submit" { "退出 sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The page frame for a signed-in user, with the badge.
pub(crate) fn layout_with_badge(title: &str, user: &User, badge: &Badge, body: Markup) -> Markup {
    layout(title, Some(user), Some(badge), body)
}

/// The page frame for a signed-in user, without the badge (forms).
pub(crate) fn layout_for(title: &str, user: &User, body: Markup) -> Markup {
    layout(title, Some(user), None, body)
}

fn badge_markup(b: &Badge) -> Markup {
    match (&b.verified, &b.checkpoint) {
        (Some(v), Some(c)) if v.ok => {
            let after = b.head.saturating_sub(c.size);
            html! {
                span.badge.ok id="verified-badge" title=(format!("root {}", c.root)) {
                    "✔ 已核验至检查点 #" (c.id) "（" (c.size) " 条事件），其后 " (after) " 条事件，签名 "
                    (c.signed_by.join("、"))
                    " · verified up to checkpoint #" (c.id) " (" (c.size) " events), signed by "
                    (c.signed_by.join(", ")) "; " (after) " events after checkpoint #" (c.id)
                }
            }
        }
        (Some(v), None) if v.ok => html! {
            span.badge.pending id="verified-badge" {
                "✔ 已核验 " (v.checked) " 条事件，尚无签名检查点 · verified " (v.checked)
                " events; no signed checkpoint yet"
            }
        },
        (Some(v), _) => html! {
            span.badge.bad id="verified-badge" {
                "✘ 核验失败 verification FAILED: " (v.fault.clone().unwrap_or_default())
            }
        },
        (None, _) => html! {
            span.badge.pending id="verified-badge" { "… 核验中 verification pending" }
        },
    }
}

/// An error as a page, with the same status the API would give.
pub fn error_page(e: &ApiError) -> Response {
    let page = layout(
        "错误 error",
        None,
        None,
        html! {
            h1 { (e.status().as_u16()) " " (e.status().canonical_reason().unwrap_or("")) }
            p.error { (e.to_string()) }
            p { a href="/elections" { "返回 back to elections" } }
        },
    );
    (e.status(), Html(page.into_string())).into_response()
}

fn page(m: Markup) -> Response {
    Html(m.into_string()).into_response()
}

/// `data` and the badge, or the error page of whichever failed.
async fn with_badge<T>(
    state: &AppState,
    data: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<(T, Badge), Response> {
    let data = data.await.map_err(|e| error_page(&e))?;
    let badge = queries::badge(state).await.map_err(|e| error_page(&e))?;
    Ok((data, badge))
}

/// The sign-in page, with a fresh pre-session CSRF value in its cookie and
/// its hidden field (D56).
async fn signin_form() -> Response {
    signin_page(StatusCode::OK, None)
}

fn signin_page(status: StatusCode, error: Option<&str>) -> Response {
    let value = csrf::fresh();
    (
        status,
        [(
            header::SET_COOKIE,
            format!(
                "{}={value}; HttpOnly; SameSite=Strict; Path=/",
                csrf::COOKIE
            ),
        )],
        Html(signin_markup(error, &value).into_string()),
    )
        .into_response()
}

fn signin_markup(error: Option<&str>, csrf_value: &str) -> Markup {
    layout(
        "登录 sign in",
        None,
        None,
        html! {
            h1 { "登录 Sign in" }
            @if let Some(e) = error { p.error id="signin-error" { (e) } }
            form method="post" action="/signin" {
                input type="hidden" name=(csrf::FIELD) value=(csrf_value);
                label for="token" { "令牌 Token " }
                input id="token" type="password" name="token" size="70" autocomplete="off" required;
                " "
                button id="signin" type="submit" { "登录 Sign in" }
            }
            p.meta { "令牌由管理员用 jishi user add 签发。Tokens are issued by an admin with `jishi user add`." }
        },
    )
}

#[derive(Debug, Deserialize)]
struct SigninForm {
    token: String,
    #[serde(default)]
    csrf: String,
}

/// What a forged form gets: 403, and nothing signed in, out or recorded.
pub(crate) fn forged() -> Response {
    error_page(&ApiError::Denied(crate::policy::Denied(
        "此表单并非来自本站，已拒绝 this form did not come from this site's own page (CSRF check): \
         reload the page and try again"
            .into(),
    )))
}

async fn signin(State(state): Shared, headers: HeaderMap, Form(f): Form<SigninForm>) -> Response {
    let cookie = csrf::cookie(&headers, csrf::COOKIE).unwrap_or_default();
    if !csrf::same_origin(&headers) || !csrf::same(&cookie, &f.csrf) {
        return forged();
    }
    let token = f.token.trim();
    match state.user_by_token(token).await {
        Ok(_) => (
            StatusCode::SEE_OTHER,
            [
                (
                    header::SET_COOKIE,
                    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
                ),
                (header::LOCATION, "/elections".to_string()),
            ],
        )
            .into_response(),
        Err(ApiError::Unauthenticated) => signin_page(
            StatusCode::UNAUTHORIZED,
            Some("令牌无效或已撤销 the token is unknown or revoked"),
        ),
        Err(e @ ApiError::TokenExpired(_)) => {
            signin_page(StatusCode::UNAUTHORIZED, Some(&e.to_string()))
        }
        Err(e) => error_page(&e),
    }
}

#[derive(Debug, Deserialize)]
struct SignoutForm {
    #[serde(default)]
    csrf: String,
}

/// Signs out only a request from this site's own page, carrying the
/// session's token (D56); without a valid session there is nothing to end.
async fn signout(State(state): Shared, headers: HeaderMap, Form(f): Form<SignoutForm>) -> Response {
    if let Some(token) = crate::auth::cookie_token_of(&headers) {
        if let Ok(user) = state.user_by_token(&token).await {
            if !csrf::same_origin(&headers) || !csrf::same(&csrf::for_session(&user), &f.csrf) {
                return forged();
            }
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
            ),
            (header::LOCATION, "/signin".to_string()),
        ],
    )
        .into_response()
}

/// An event of the page, as a marker of the as-of control: where it is in
/// the ledger, when the ledger recorded it, and what it was.
pub(crate) struct Marker {
    pub position: u64,
    pub recorded_at: String,
    pub label: String,
}

/// The markers of `entries` (the last 40: the control stays short).
fn markers<'a>(entries: impl Iterator<Item = &'a Entry>) -> Vec<Marker> {
    let all: Vec<Marker> = entries
        .map(|e| Marker {
            position: e.position,
            recorded_at: e.recorded_at.to_rfc3339(),
            label: labels::event_type(e.event.event_type()),
        })
        .collect();
    let skip = all.len().saturating_sub(40);
    all.into_iter().skip(skip).collect()
}

/// The as-of control: a date, a slider over ledger positions with a tick
/// per event of this page, a field for a position or a time, and the
/// events as markers to jump to. "As of" is when the ledger recorded an
/// event, which a date of the events' own world may precede: a date before
/// the page's first event says so instead of showing an empty trail.
///
/// The other clock, occurred time (domain decision 35), has a field of its
/// own; a view cut by it says so above everything else, with how many of
/// the events shown the ledger recorded only later.
fn as_of_forms(
    action: &str,
    as_of: Option<u64>,
    occurred: Option<&OccurredCut>,
    head: u64,
    marks: &[Marker],
    q: &AsOf,
) -> Markup {
    let asked = q.as_of.as_deref();
    let value = as_of.unwrap_or(head);
    let first = marks.first();
    let empty = as_of.is_some() && first.is_none_or(|m| m.position > value);
    html! {
        section id="as-of" {
            h2 { "时点回溯 As of" }
            @if let Some(c) = occurred {
                p.notice id="clock" {
                    "按发生时间 by occurred time: 截至 as of " (labels::time(&c.time)) "，已发生 "
                    (c.shown) " 条事件 events had happened"
                    @if !c.recorded_later.is_empty() {
                        "；其中 " (c.recorded_later.len()) " 条在该时点之后才记录 recorded only after it ("
                        (c.recorded_later.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(" ")) ")"
                    }
                    "；之后发生的 " (c.happened_later) " 条未显示 later events not shown."
                    " " a href=(action) { "回到现在 back to now" }
                }
            } @else {
                p.meta id="clock" {
                    @match as_of {
                        Some(p) => { "按记录时间 by recorded time: 截至账本位置 as of position " (p) "，即账本当时所载 what the ledger held then" },
                        None => { "现在 now: 账本所载全部记录 everything the ledger holds" },
                    }
                }
            }
            @if empty {
                p.error id="as-of-empty" {
                    "截至所选时点（" (asked.unwrap_or_default()) "），本页尚无任何记录。"
                    @if let Some(m) = first {
                        "最早的一条记录于 " (labels::time(&m.recorded_at)) "（位置 #" (m.position) "）。"
                    }
                    " 时点按账本记录时间计 (as of = when the ledger recorded an event). Nothing was recorded here by then."
                }
            }
            form method="get" action=(action) {
                label for="as-of-date" { "日期 date " }
                input id="as-of-date" type="date" name="as_of"
                    value=(asked.filter(|a| a.len() == 10 && a.as_bytes().get(4) == Some(&b'-')).unwrap_or_default());
                " " button type="submit" { "查看 show" }
            }
            form method="get" action=(action) {
                label for="as-of-slider" { "账本位置 ledger position " }
                input id="as-of-slider" type="range" name="as_of" min="1" max=(head.max(1))
                    value=(value) list="as-of-marks";
                datalist id="as-of-marks" { @for m in marks { option value=(m.position) label=(m.label) {} } }
                " " output { (value) " / " (head) }
                " " button type="submit" { "查看 show" }
            }
            form method="get" action=(action) {
                label for="as-of-field" { "或时间/日期/位置 or a time, date or position " }
                input id="as-of-field" type="text" name="as_of" placeholder="2021-05-10 或 1200"
                    value=(as_of.map(|p| p.to_string()).unwrap_or_default());
                " " button type="submit" { "查看 show" }
                @if as_of.is_some() { " " a href=(action) { "回到现在 back to now" } }
            }
            form method="get" action=(action) {
                label for="as-of-occurred" { "按发生时间 by occurred time " }
                input id="as-of-occurred" type="text" name="as_of_occurred"
                    placeholder="2021-05-10 或 2021-05-10T12:00:00+08:00"
                    value=(q.as_of_occurred.as_deref().unwrap_or_default());
                " " button type="submit" { "查看 show" }
            }
            @if !marks.is_empty() {
                details id="as-of-markers" {
                    summary { "事件标记 event markers (" (marks.len()) ")" }
                    ol.markers {
                        @for m in marks {
                            li { a href=(format!("{action}?as_of={}", m.position)) { "#" (m.position) } " " (labels::time(&m.recorded_at)) " " (m.label) }
                        }
                    }
                }
            }
        }
    }
}

/// What a recording form left to say: the position it was recorded at,
/// or that it had been recorded already (a second submission, D103).
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    recorded: Option<u64>,
    again: Option<u8>,
    /// Rows of a sheet import recorded, from position `recorded` on.
    imported: Option<usize>,
}

fn notice(n: &Notice) -> Markup {
    html! {
        @if let Some(p) = n.recorded {
            @if n.again.is_some() {
                p.notice id="recorded" { "此表单已提交过，未重复记录 this form was already recorded, at position #" (p) "; nothing was recorded twice" }
            } @else if let Some(rows) = n.imported {
                p.notice id="recorded" { "已导入 " (rows) " 行，自账本位置 #" (p) " 起记录 imported " (rows) " rows, recorded from position #" (p) }
            } @else {
                p.notice id="recorded" { "已记录于账本位置 #" (p) " recorded at position #" (p) }
            }
        }
    }
}

async fn election(
    State(state): Shared,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
    Query(n): Query<Notice>,
) -> Response {
    let read = queries::election(&state, &user, &id, &q);
    let (d, badge) = match with_badge(&state, read).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let ctx = match crate::forms::context(&state, &user, &id).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let marks = match state
        .with_election(&user, &id, |e| Ok(markers(e.entries.iter())))
        .await
    {
        Ok(m) => m,
        Err(e) => return error_page(&e),
    };
    let p = ctx.procedure.as_ref();
    let action = format!("/elections/{}", crate::forms::enc(&id));
    let concluded = d.summary.concluded;
    page(layout(
        &id,
        Some(&user),
        Some(&badge),
        html! {
            (notice(&n))
            h1 { (d.summary.unit_name) " " (d.summary.body) " — " (id) }
            p.meta { "组织 org " (d.summary.unit_org) " · 类型 kind " (labels::procedure_kind(&d.summary.kind))
                " · " (d.summary.events) " 条事件 events" }
            (as_of_forms(&action, d.as_of, d.as_of_occurred.as_ref(), d.summary.last_position, &marks, &q))
            h2 { "人选 Candidates" }
            table id="candidates" {
                tr { th { "人选 Candidate" } th { "姓名 Name" } th { "状态 Status" } th { "最近环节 Last step" } th { "未结举报 Open petitions" } }
                @for c in &d.candidates {
                    tr {
                        td { a href=(format!("/elections/{}/candidates/{}", crate::forms::enc(&id), crate::forms::enc(&c.candidate_id))) { (c.candidate_id) } }
                        td { (c.name) } td { (labels::status(c.status)) }
                        td { (c.last_step.as_deref().map(labels::event_type).unwrap_or_default()) }
                        td { (c.open_petitions.join(", ")) }
                    }
                }
            }
            h2 { "合规检查 Compliance findings" }
            @match &d.compliance {
                None => p { "程序未知 the procedure is unknown (no election.opened)" },
                Some(r) if r.findings.is_empty() && !concluded => p.badge.pending id="findings" { "尚无发现 (no findings yet) — 选举尚未投票 the vote has not been held (as of position " (r.as_of) ")" },
                Some(r) if r.findings.is_empty() => p.badge.ok id="findings" { "无发现 no findings (as of position " (r.as_of) ")" },
                Some(r) => table id="findings" {
                    tr { th { "类别 Finding" } th { "规则 Rule" } th { "人选 Candidate" } th { "情况 Detail" } th { "证据位置 Evidence" } }
                    @for f in &r.findings {
                        tr {
                            td { (f.kind.label()) }
                            td { (f.rule.map(|r| r.to_string()).unwrap_or_default()) }
                            td { (f.candidate_id.clone().unwrap_or_default()) }
                            td { (restricted_text(&f.detail)) }
                            td { (f.evidence.iter().map(|p| format!("#{p}")).collect::<Vec<_>>().join(" ")) }
                        }
                    }
                }
            }
            h2 { "班子结构 Team statistics" }
            table id="stats" {
                tr { th { "应选 Seats" } th { "成员 Members" } th { "平均年龄 Avg age" } th { "35岁以下 Under 35" } th { "女性 Women" } th { "差额比例 Differential" } }
                tr {
                    td { (d.stats.seats) } td { (d.stats.members) }
                    td { (d.stats.average_age.map(|a| format!("{a:.1}")).unwrap_or_default()) }
                    td { (d.stats.under_35) } td { (d.stats.women) }
                    td { (d.stats.differential_ratio.map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_default()) }
                }
            }
            @if p.is_some() && policy::may_record(&user, "candidate.nominated", &d.summary.unit_org, false).is_ok()
                || user.role == AccessRole::Inspector {
                h2 { "记录环节 Record a step" }
                p { a id="import-link" href=(format!("/elections/{}/import", crate::forms::enc(&id))) { "导入名册或环节表（XLSX、CSV） import a roster or a step list" } }
                (crate::forms::step_links(&ctx, &user, None))
            }
            p.noprint { a id="export-link" href=(format!("/elections/{}/export.xlsx", crate::forms::enc(&id))) { "导出 Excel：人选、合规发现、统计 export (XLSX)" } }
        },
    ))
}

/// Restricted content as a short label, the digest it stands for on hover:
/// a 64-digit digest means nothing to a clerk (D105).
fn restricted_text(text: &str) -> Markup {
    match text.split_once(" · payload digest ") {
        Some((shown, digest)) => html! {
            span.restricted title=(format!("payload digest {digest}")) { (shown.replace("内容受限 restricted", "内容受限")) }
        },
        None => html! { (text) },
    }
}

fn restricted_row(r: &jishi_projections::views::redact::Restricted) -> Markup {
    let who = match r.sensitivity {
        jishi_projections::Sensitivity::PersonalMatters => "仅组织部门、纪检监察机关和倒查人员可见",
        jishi_projections::Sensitivity::Petition => "仅纪检监察机关和倒查人员可见",
        jishi_projections::Sensitivity::Process => "",
    };
    html! {
        div.restricted title=(format!("payload digest {}", r.payload_digest)) {
            "内容受限：" (r.sensitivity.label()) " · " (who)
        }
    }
}

fn timeline(t: &Trail, procedure: Option<&jishi_projections::Procedure>) -> Markup {
    html! {
        ol.timeline id="timeline" {
            @for r in &t.rows {
                li data-position=(r.position) data-event-type=(r.event_type) {
                    strong.step { (r.step) } " "
                    code { (r.event_type) }
                    div.meta {
                        "谁 who: " span.who { (r.actor.name) " (" (r.actor.id) ")" }
                        " · 角色 role: " span.role title=(r.actor.role) { (labels::role(procedure, &r.actor.role)) }
                        " · 组织 org: " span.org { (r.actor.org) }
                    }
                    div.meta {
                        "发生 when: " span.when { (labels::time(&r.occurred_at)) }
                        " · 记录 recorded: " (labels::time(&r.recorded_at))
                        " · 位置 position #" (r.position)
                        " · 哈希 hash " code.hash { (r.hash) }
                    }
                    @if let Some(x) = &r.restricted {
                        (restricted_row(x))
                    } @else {
                        div.facts { (r.facts) }
                    }
                    @for o in &r.overrides {
                        div.meta { "⚠ 例外 override " (o.rule) ": " (o.justification) " — " (o.authorised_by.name) }
                    }
                    @for c in &r.corrections {
                        div.meta { "✎ 更正 correction #" (c.position) ": " (restricted_text(&c.reason)) }
                    }
                }
            }
        }
    }
}

/// Reads per page of the reads table.
const READS_PER_PAGE: usize = 20;

#[derive(Debug, Default, Deserialize)]
struct ReadsPage {
    reads_page: Option<usize>,
}

async fn candidate(
    State(state): Shared,
    PageUser(user): PageUser,
    Path((e, c)): Path<(String, String)>,
    Query(q): Query<AsOf>,
    Query(n): Query<Notice>,
    Query(rp): Query<ReadsPage>,
) -> Response {
    let read = queries::candidate(&state, &user, &e, &c, &q, View::Trail);
    let (v, badge) = match with_badge(&state, read).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    // Who read this record: for the roles that may see it.
    let reads = if crate::policy::may_read_accesses(&user).is_ok() {
        match queries::accesses(&state, &user, &e, &c).await {
            Ok(list) => Some(list),
            Err(err) => return error_page(&err),
        }
    } else {
        None
    };
    let ctx = match crate::forms::context(&state, &user, &e).await {
        Ok(x) => x,
        Err(err) => return error_page(&err),
    };
    let marks = match state
        .with_election(&user, &e, |el| {
            Ok(markers(el.entries.iter().filter(|x| {
                x.event.candidate_id.as_deref() == Some(c.as_str())
            })))
        })
        .await
    {
        Ok(m) => m,
        Err(err) => return error_page(&err),
    };
    let p = ctx.procedure.as_ref();
    let action = format!(
        "/elections/{}/candidates/{}",
        crate::forms::enc(&e),
        crate::forms::enc(&c)
    );
    let name = v.trail.name.clone().unwrap_or_default();
    let may_record = policy::may_record(&user, "candidate.shortlisted", &user.org, false).is_ok();
    page(layout(
        &format!("{name} {c}"),
        Some(&user),
        Some(&badge),
        html! {
            (notice(&n))
            p { a href=(format!("/elections/{}", crate::forms::enc(&e))) { "← " (e) } }
            h1 { "全程纪实 Trail: " (name) " (" (c) ")" }
            p.meta {
                @match (&v.as_of_occurred, v.as_of) {
                    (Some(o), _) => { "按发生时间截至 as of occurred time " (labels::time(&o.time)) },
                    (None, Some(p)) => { "截至账本位置 as of position " (p) },
                    (None, None) => { "截至现在 as of now (position " (v.head) ")" },
                }
                " · 本次查阅已记录于位置 this read is recorded at position #" (v.recorded_read_at)
                " · " a id="print-link" href=(format!("{action}/print")) { "打印全程纪实表 print" }
                " · " a id="export-link" href=(format!("{action}/export.xlsx")) { "导出 Excel export (XLSX)" }
            }
            (as_of_forms(&action, v.as_of, v.as_of_occurred.as_ref(), v.head, &marks, &q))
            h2 { "时间线 Timeline" }
            (timeline(&v.trail, p))
            h2 { "责任链 Responsibility chain" }
            table id="accountability" {
                tr { th { "环节 Duty" } th { "责任人 Responsible" } th { "记录人 Recorded by" } th { "时间 When" } th { "位置 Position" } th { "情况 Detail" } }
                @for d in &v.accountability.duties {
                    tr {
                        td { (d.label) }
                        td { (d.responsible.join("、")) }
                        td { (d.recorded_by.name) " (" (labels::role(p, &d.recorded_by.role)) ", " (d.recorded_by.org) ")" }
                        td { (labels::time(&d.occurred_at)) }
                        td { "#" (d.position) }
                        td { (restricted_text(&d.detail)) }
                    }
                }
            }
            @if may_record || user.role == AccessRole::Inspector {
                h2 { "记录本人选的环节 Record a step for this candidate" }
                (crate::forms::step_links(&ctx, &user, Some(&c)))
            }
            @if let Some(reads) = &reads {
                @let newest: Vec<_> = reads.iter().rev().collect();
                @let pages = newest.len().div_ceil(READS_PER_PAGE).max(1);
                @let at = rp.reads_page.unwrap_or(1).clamp(1, pages);
                h2 { "查阅记录 Reads of this record (" (reads.len()) "，最新在前 newest first)" }
                table id="reads" {
                    tr { th { "时间 When" } th { "谁 Who" } th { "查阅 What" } th { "截至 As of" } th { "位置 Position" } }
                    @for r in newest.iter().skip((at - 1) * READS_PER_PAGE).take(READS_PER_PAGE) {
                        tr {
                            td { (labels::time(&r.recorded_at)) }
                            td { (r.actor.name) " (" (r.actor.id) ", " (labels::role(p, &r.actor.role)) ", " (r.actor.org) ")" }
                            td { (r.record.view.label()) }
                            td { @match (&r.record.as_of_occurred, r.record.as_of) {
                                (Some(t), _) => { "按发生时间 occurred by " (labels::time(t)) },
                                (None, Some(p)) => { "#" (p) },
                                (None, None) => { "现在 now" },
                            } }
                            td { "#" (r.position) }
                        }
                    }
                }
                @if pages > 1 {
                    p.pager id="reads-pager" {
                        "第 " (at) " / " (pages) " 页 page "
                        @if at > 1 { a rel="prev" href=(format!("{action}?reads_page={}", at - 1)) { "← 较新 newer" } " " }
                        @if at < pages { a rel="next" href=(format!("{action}?reads_page={}", at + 1)) { "较早 older →" } }
                    }
                }
            }
        },
    ))
}
