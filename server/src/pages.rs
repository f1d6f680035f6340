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
use jishi_app::users::User;
use jishi_projections::views::Trail;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::api::AsOf;
use crate::auth::{PageUser, COOKIE};
use crate::csrf;
use crate::error::ApiError;
use crate::queries::{self, Badge};
use crate::state::AppState;

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
        .route(
            "/signin",
            get(signin_form).merge(post(signin).layer(signin_limit())),
        )
        .route("/signout", post(signout))
        .route("/elections", get(elections))
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
"#;

/// Sends the slider's form as soon as it is moved; the "show" button does
/// the same without JavaScript.
const JS: &str = "var s=document.getElementById('as-of-slider');\nif(s){s.addEventListener('change',function(){s.form.submit();});}\n";

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS).into_response()
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
                    @if let Some(b) = badge { (badge_markup(b)) }
                    @if let Some(u) = user {
                        span id="whoami" { (u.name) " (" (u.id) ") · " (u.role.label()) " · " (u.org) }
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

/// The page frame for a signed-in user, without the badge (forms).
pub(crate) fn layout_for(title: &str, user: &User, body: Markup) -> Markup {
    layout(title, Some(user), None, body)
}

fn badge_markup(b: &Badge) -> Markup {
    match (&b.verified, &b.checkpoint) {
        (Some(v), Some(c)) if v.ok => html! {
            span.badge.ok id="verified-badge" title=(format!("root {}", c.root)) {
                "✔ 已核验至检查点 #" (c.id) "（" (c.size) " 条事件），签名 " (c.signed_by.join("、"))
                " · verified up to checkpoint #" (c.id) " (" (c.size) " events), signed by "
                (c.signed_by.join(", "))
            }
        },
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

async fn elections(State(state): Shared, PageUser(user): PageUser) -> Response {
    let (list, badge) = match with_badge(&state, queries::elections(&state, &user)).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    page(layout(
        "换届 elections",
        Some(&user),
        Some(&badge),
        html! {
            h1 { "换届选举 Elections" }
            @if list.is_empty() { p { "暂无可查看的选举 no election in your scope" } }
            @else {
                table id="elections" {
                    tr {
                        th { "选举 Election" } th { "单位 Unit" } th { "组织 Org" } th { "类型 Kind" }
                        th { "人选 Candidates" } th { "事件 Events" } th { "合规 Compliance" }
                    }
                    @for e in &list {
                        tr {
                            td { a href=(format!("/elections/{}", e.election_id)) { (e.election_id) } }
                            td { (e.unit_name) } td { (e.unit_org) } td { (e.kind) }
                            td { (e.candidates) } td { (e.events) }
                            td {
                                @match e.findings {
                                    Some(0) => span.badge.ok { "合规 no findings" },
                                    Some(n) => span.badge.bad { (n) " 项发现 findings" },
                                    None => span.badge.pending { "未启动 not opened" },
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn as_of_forms(action: &str, as_of: Option<u64>, head: u64) -> Markup {
    let value = as_of.unwrap_or(head);
    html! {
        section id="as-of" {
            h2 { "时点回溯 As of" }
            form method="get" action=(action) {
                label for="as-of-slider" { "账本位置 ledger position " }
                input id="as-of-slider" type="range" name="as_of" min="1" max=(head.max(1))
                    value=(value);
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
        }
    }
}

async fn election(
    State(state): Shared,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Response {
    let read = queries::election(&state, &user, &id, q.as_of.as_deref());
    let (d, badge) = match with_badge(&state, read).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let action = format!("/elections/{id}");
    page(layout(
        &id,
        Some(&user),
        Some(&badge),
        html! {
            h1 { (d.summary.unit_name) " " (d.summary.body) " — " (id) }
            p.meta { "组织 org " (d.summary.unit_org) " · 类型 kind " (d.summary.kind)
                " · " (d.summary.events) " 条事件 events" }
            (as_of_forms(&action, d.as_of, d.summary.last_position))
            h2 { "人选 Candidates" }
            table id="candidates" {
                tr { th { "人选 Candidate" } th { "姓名 Name" } th { "状态 Status" } th { "最近环节 Last step" } th { "未结举报 Open petitions" } }
                @for c in &d.candidates {
                    tr {
                        td { a href=(format!("/elections/{id}/candidates/{}", c.candidate_id)) { (c.candidate_id) } }
                        td { (c.name) } td { (c.status) }
                        td { (c.last_step.clone().unwrap_or_default()) }
                        td { (c.open_petitions.join(", ")) }
                    }
                }
            }
            h2 { "合规检查 Compliance findings" }
            @match &d.compliance {
                None => p { "程序未知 the procedure is unknown (no election.opened)" },
                Some(r) if r.findings.is_empty() => p.badge.ok id="findings" { "无发现 no findings (as of position " (r.as_of) ")" },
                Some(r) => table id="findings" {
                    tr { th { "类别 Finding" } th { "规则 Rule" } th { "人选 Candidate" } th { "情况 Detail" } th { "证据位置 Evidence" } }
                    @for f in &r.findings {
                        tr {
                            td { (f.kind.label()) }
                            td { (f.rule.map(|r| r.to_string()).unwrap_or_default()) }
                            td { (f.candidate_id.clone().unwrap_or_default()) }
                            td { (f.detail) }
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
        },
    ))
}

fn timeline(t: &Trail) -> Markup {
    html! {
        ol.timeline id="timeline" {
            @for r in &t.rows {
                li data-position=(r.position) data-event-type=(r.event_type) {
                    strong.step { (r.step) } " "
                    code { (r.event_type) }
                    div.meta {
                        "谁 who: " span.who { (r.actor.name) " (" (r.actor.id) ")" }
                        " · 角色 role: " span.role { (r.actor.role) }
                        " · 组织 org: " span.org { (r.actor.org) }
                    }
                    div.meta {
                        "发生 when: " span.when { (r.occurred_at) }
                        " · 记录 recorded: " (r.recorded_at)
                        " · 位置 position #" (r.position)
                        " · 哈希 hash " code.hash { (r.hash) }
                    }
                    @if r.restricted.is_some() {
                        div.restricted { (r.facts) }
                    } @else {
                        div.facts { (r.facts) }
                    }
                    @for o in &r.overrides {
                        div.meta { "⚠ 例外 override " (o.rule) ": " (o.justification) " — " (o.authorised_by.name) }
                    }
                    @for c in &r.corrections {
                        div.meta { "✎ 更正 correction #" (c.position) ": " (c.reason) }
                    }
                }
            }
        }
    }
}

async fn candidate(
    State(state): Shared,
    PageUser(user): PageUser,
    Path((e, c)): Path<(String, String)>,
    Query(q): Query<AsOf>,
) -> Response {
    let read = queries::candidate(&state, &user, &e, &c, q.as_of.as_deref(), View::Trail);
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
    let action = format!("/elections/{e}/candidates/{c}");
    let name = v.trail.name.clone().unwrap_or_default();
    page(layout(
        &format!("{name} {c}"),
        Some(&user),
        Some(&badge),
        html! {
            p { a href=(format!("/elections/{e}")) { "← " (e) } }
            h1 { "全程纪实 Trail: " (name) " (" (c) ")" }
            p.meta {
                @match v.as_of {
                    Some(p) => { "截至账本位置 as of position " (p) },
                    None => { "截至现在 as of now (position " (v.head) ")" },
                }
                " · 本次查阅已记录于位置 this read is recorded at position #" (v.recorded_read_at)
            }
            (as_of_forms(&action, v.as_of, v.head))
            h2 { "时间线 Timeline" }
            (timeline(&v.trail))
            h2 { "责任链 Responsibility chain" }
            table id="accountability" {
                tr { th { "环节 Duty" } th { "责任人 Responsible" } th { "记录人 Recorded by" } th { "时间 When" } th { "位置 Position" } th { "情况 Detail" } }
                @for d in &v.accountability.duties {
                    tr {
                        td { (d.label) }
                        td { (d.responsible.join("、")) }
                        td { (d.recorded_by.name) " (" (d.recorded_by.role) ", " (d.recorded_by.org) ")" }
                        td { (d.occurred_at) }
                        td { "#" (d.position) }
                        td { (d.detail) }
                    }
                }
            }
            @if let Some(reads) = &reads {
                h2 { "查阅记录 Reads of this record" }
                table id="reads" {
                    tr { th { "时间 When" } th { "谁 Who" } th { "查阅 What" } th { "截至 As of" } th { "位置 Position" } }
                    @for r in reads {
                        tr {
                            td { (r.recorded_at) }
                            td { (r.actor.name) " (" (r.actor.id) ", " (r.actor.role) ", " (r.actor.org) ")" }
                            td { (r.record.view.label()) }
                            td { (r.record.as_of.map(|p| format!("#{p}")).unwrap_or_else(|| "现在 now".into())) }
                            td { "#" (r.position) }
                        }
                    }
                }
            }
        },
    ))
}
