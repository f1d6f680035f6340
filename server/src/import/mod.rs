//! Importing a candidate roster or a step list from a spreadsheet (XLSX or
//! CSV): upload, a preview that checks every row exactly as its form would
//! be checked and then as recording it would be judged (each row on the
//! state the rows above it leave), and a confirmation that records all the
//! rows in one transaction, or nothing (D109).
//!
//! Nothing is written by the preview. The confirmation carries the file
//! itself (base64, in a hidden field) rather than a server-side copy, so
//! that the server keeps no state between the two requests; it is checked
//! again from the start on confirmation, so a file edited in between, or an
//! election changed in between, is judged as it then is. The confirmation
//! carries a batch id: a second click records nothing (as a form's event id
//! does, D103).

mod rows;
pub mod sheet;

use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use base64::Engine;
use jishi_app::batch::{BatchItem, BatchOnce};
use jishi_app::users::User;
use jishi_app::RecordError;
use jishi_projections::{EventKind, Refusal};
use maud::{html, Markup};

use crate::error::ApiError;
use crate::forms::spec::Values;
use crate::forms::{context, enc, Context};
use crate::pages::{error_page, forged, layout_for};
use crate::state::AppState;
use crate::{csrf, labels, policy, queries};
pub use rows::{commands, is_id_number, kind_named, template_header, Line, LineError};
use sheet::Table;

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/elections/{election}/import",
            get(import_page).post(preview),
        )
        .route("/elections/{election}/import/confirm", post(confirm))
        .route(
            "/elections/{election}/import/template.csv",
            get(template_csv),
        )
}

/// The kind a roster holds, when the clerk chose one; `None`: each row names
/// its own (a step list).
fn fixed_kind(text: Option<&str>) -> Result<Option<&'static EventKind>, ApiError> {
    match text
        .map(str::trim)
        .filter(|t| !t.is_empty() && *t != "rows")
    {
        None => Ok(None),
        Some(t) => kind_named(t).map(Some).ok_or_else(|| {
            ApiError::bad("kind", format!("{t:?} is not a kind that can be imported"))
        }),
    }
}

/// Errors listed on one preview; the count says how many more.
const MAX_SHOWN: usize = 200;

/// What a check of a sheet found.
struct Checked {
    table: Table,
    lines: Vec<Line>,
    /// Field errors, refusals and denials, by row; empty when all pass.
    errors: Vec<LineError>,
    /// Events the rows would write.
    events: usize,
}

/// Checks every row of `bytes`: read as the form of its kind, allowed to
/// `user` (the policy, as for a form), and decided in order on the
/// election as it stands. Writes nothing.
async fn check(
    state: &AppState,
    user: &User,
    ctx: &Context,
    fixed: Option<&'static EventKind>,
    bytes: &[u8],
) -> Result<Result<Checked, sheet::SheetError>, ApiError> {
    // Reading a workbook is CPU work: off the async workers, so that one
    // upload does not stall every other request.
    let owned = bytes.to_vec();
    let read = tokio::task::spawn_blocking(move || sheet::read(&owned))
        .await
        .map_err(|e| ApiError::Internal(format!("reading the sheet: {e}")))?;
    let table = match read {
        Ok(t) => t,
        Err(e) => return Ok(Err(e)),
    };
    let candidates: Vec<String> = ctx.candidates.iter().map(|c| c.0.clone()).collect();
    let (lines, mut errors) = commands(
        &table,
        fixed,
        &ctx.election_id,
        &candidates,
        state.person_key.as_ref(),
    );
    let org = state
        .election_org_of(&ctx.election_id)
        .await?
        .ok_or_else(|| queries::no_election(&ctx.election_id))?;
    for l in &lines {
        if let Err(d) = policy::may_record(user, l.kind.event_type, &org, false) {
            errors.push(LineError {
                line: l.line,
                column: None,
                field: "kind".into(),
                label: l.kind.label.into(),
                reason: format!("无权记录 not allowed: {}", d.0),
            });
        }
    }
    let mut events = 0;
    if errors.is_empty() && !lines.is_empty() {
        let preview = jishi_app::batch::preview_batch(
            &state.events,
            None,
            &ctx.election_id,
            &items(user, &lines),
        )
        .await
        .map_err(ApiError::from)?;
        events = preview.events;
        for (index, error) in preview.refused {
            let line = lines.get(index).map_or(0, |l| l.line);
            errors.push(refusal_error(line, &error));
        }
    }
    if lines.is_empty() && errors.is_empty() {
        errors.push(LineError {
            line: 2,
            column: None,
            field: "rows".into(),
            label: "数据行".into(),
            reason: "表头下没有数据 no rows below the header".into(),
        });
    }
    errors.sort_by_key(|e| e.line);
    Ok(Ok(Checked {
        table,
        lines,
        errors,
        events,
    }))
}

/// Largest file taken: the confirmation carries it back as base64 in a
/// form (about 1.4 times its size, percent-encoded), under the server's
/// 1 MiB body limit.
pub const MAX_FILE: usize = 640 << 10;

/// The batch id of a confirmation: derived from the preview's random
/// nonce, the election and the file's digest, so that the same nonce with
/// another file, or in another election, is another batch, and only the
/// very confirmation that was previewed finds itself recorded.
fn batch_id(nonce: &str, election: &str, bytes: &[u8]) -> uuid::Uuid {
    let mut h = blake3::Hasher::new();
    h.update(b"jishi.import.batch.v1\0");
    for part in [
        nonce.as_bytes(),
        election.as_bytes(),
        blake3::hash(bytes).as_bytes(),
    ] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&h.finalize().as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(id).into_uuid()
}

fn items(user: &User, lines: &[Line]) -> Vec<BatchItem> {
    lines
        .iter()
        .map(|l| BatchItem {
            actor: user.actor(),
            command: l.command.clone(),
        })
        .collect()
}

/// A row the gates refuse, named by rule and source as a form shows it.
fn refusal_error(line: usize, error: &RecordError) -> LineError {
    match error {
        RecordError::Refused(Refusal::Invalid { field, reason }) => LineError {
            line,
            column: None,
            field: field.clone(),
            label: field.clone(),
            reason: reason.clone(),
        },
        RecordError::Refused(r) => {
            let (rule, source) = match r {
                Refusal::Violation(v)
                | Refusal::OverrideNotEntitled { violation: v, .. }
                | Refusal::OverrideNotGranted { violation: v, .. }
                | Refusal::SelfServingOverride { violation: v, .. } => (
                    format!("{} {}", v.rule.as_str(), v.rule.text()),
                    format!("；依据 source: {}", v.source()),
                ),
                _ => ("gates".to_string(), String::new()),
            };
            LineError {
                line,
                column: None,
                field: "rule".into(),
                label: format!("未通过 refused: {rule}"),
                reason: format!("{r}{source}"),
            }
        }
        other => LineError {
            line,
            column: None,
            field: "record".into(),
            label: "记录".into(),
            reason: other.to_string(),
        },
    }
}

fn kind_options(selected: Option<&str>) -> Markup {
    let sel = selected.unwrap_or("candidate.nominated");
    html! {
        select name="kind" id="import-kind" {
            option value="rows" selected[sel == "rows"] { "环节表：每行在“环节（kind）”列写明环节 step list: a kind column per row" }
            @for k in jishi_projections::Command::kinds().filter(|k| kind_named(k.event_type).is_some()) {
                option value=(k.event_type) selected[sel == k.event_type] {
                    (k.label) " " (k.event_type)
                    @if k.event_type == "candidate.nominated" { "（人选名册 roster）" }
                }
            }
        }
    }
}

fn upload_form(election: &str, user: &User, kind: Option<&str>) -> Markup {
    html! {
        form id="import-form" method="post" enctype="multipart/form-data"
            action=(format!("/elections/{}/import", enc(election))) {
            input type="hidden" name=(csrf::FIELD) value=(csrf::for_session(user));
            p { label for="import-kind" { "内容 What the sheet holds" } br; (kind_options(kind)) }
            p {
                label for="import-file" { "文件 File（XLSX 或 CSV，至多 640 KiB）" } br;
                input type="file" name="file" id="import-file" required
                    accept=".xlsx,.csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet,text/csv";
            }
            button type="submit" id="import-preview" { "预览 Preview（不记录 nothing is recorded）" }
        }
    }
}

async fn import_page(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    Path(election): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let values = Values(q);
    let kind = values.text("kind");
    let template_kind = kind
        .filter(|k| *k != "rows")
        .unwrap_or("candidate.nominated");
    let body = html! {
        p { a href=(format!("/elections/{}", enc(&election))) { "← " (election) } }
        h1 { "导入名册或环节表 Import a roster or a step list" }
        p {
            "第1行为表头，每列一个字段（填中文名或字段名，如“姓名”或“name”），以下每行一条记录，"
            "与逐条填写表单时的检查完全相同。预览不写入任何内容；全部行通过后才可确认记录，"
            "且所有行在同一事务中记录，任一行不通过则一行也不记录。"
        }
        p.meta {
            "Row 1 is the header, a column per field (its Chinese name or identifier); each row below is one "
            "record, checked exactly as its form is. The preview writes nothing; only when every row passes "
            "can it be recorded, all rows in one transaction."
        }
        p {
            "模板 Template: "
            a id="template-link" href=(format!("/elections/{}/import/template.csv?kind={}", enc(&election), enc(template_kind))) {
                (labels::event_type(template_kind)) " CSV"
            }
        }
        (upload_form(&ctx.election_id, &user, kind))
    };
    Html(layout_for("导入 import", &user, body).into_string()).into_response()
}

/// The template of a kind as CSV (UTF-8 with a BOM, which Excel needs to
/// read it as UTF-8): the header row only.
async fn template_csv(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    Path(election): Path<String>,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let values = Values(q);
    let kind = match fixed_kind(values.text("kind")) {
        Ok(Some(k)) => k,
        Ok(None) => return error_page(&ApiError::bad("kind", "name one kind for a template")),
        Err(e) => return error_page(&e),
    };
    let candidates: Vec<String> = ctx.candidates.iter().map(|c| c.0.clone()).collect();
    let mut w = csv::Writer::from_writer(Vec::from("\u{feff}".as_bytes()));
    let written = w
        .write_record(template_header(kind, &candidates))
        .map_err(|e| e.to_string())
        .and_then(|_| w.into_inner().map_err(|e| e.to_string()));
    match written {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}.csv\"", kind.event_type),
                ),
            ],
            bytes,
        )
            .into_response(),
        Err(e) => error_page(&ApiError::Internal(e)),
    }
}

/// What the upload form sent.
#[derive(Default)]
struct Upload {
    csrf: String,
    kind: Option<String>,
    name: String,
    bytes: Vec<u8>,
}

async fn read_upload(mut m: Multipart) -> Result<Upload, ApiError> {
    let mut u = Upload::default();
    let bad = |e: axum::extract::multipart::MultipartError| ApiError::bad("file", e.body_text());
    while let Some(field) = m.next_field().await.map_err(bad)? {
        match field.name().unwrap_or_default() {
            "csrf" => u.csrf = field.text().await.map_err(bad)?,
            "kind" => u.kind = Some(field.text().await.map_err(bad)?),
            "file" => {
                u.name = field.file_name().unwrap_or_default().to_string();
                u.bytes = field.bytes().await.map_err(bad)?.to_vec();
            }
            _ => {}
        }
    }
    Ok(u)
}

async fn preview(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    headers: HeaderMap,
    Path(election): Path<String>,
    multipart: Multipart,
) -> Response {
    let upload = match read_upload(multipart).await {
        Ok(u) => u,
        Err(e) => return error_page(&e),
    };
    if !csrf::same_origin(&headers) || !csrf::same(&csrf::for_session(&user), &upload.csrf) {
        return forged();
    }
    if upload.bytes.len() > MAX_FILE {
        return error_page(&ApiError::bad(
            "file",
            format!(
                "{} bytes: at most {} KiB, so that the confirmation fits in one request; split the file",
                upload.bytes.len(),
                MAX_FILE >> 10
            ),
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&upload.bytes);
    judge(
        &state,
        &user,
        &election,
        upload.kind.as_deref(),
        &upload.name,
        &upload.bytes,
        &b64,
        None,
    )
    .await
}

/// Checks a sheet and shows the preview: every row with what it would
/// record or why not; with the confirmation form only when all pass.
/// `refused_on_confirm` is set when a confirmation found it no longer passes.
#[allow(clippy::too_many_arguments)]
async fn judge(
    state: &AppState,
    user: &User,
    election: &str,
    kind_text: Option<&str>,
    name: &str,
    bytes: &[u8],
    b64: &str,
    refused_on_confirm: Option<&str>,
) -> Response {
    let ctx = match context(state, user, election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let fixed = match fixed_kind(kind_text) {
        Ok(k) => k,
        Err(e) => return error_page(&e),
    };
    let checked = match check(state, user, &ctx, fixed, bytes).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let digest = blake3::hash(bytes).to_hex().to_string();
    let back = html! {
        p { a href=(format!("/elections/{}", enc(election))) { "← " (election) } }
        h1 { "导入预览 Import preview" }
        p.meta id="import-file-meta" {
            "文件 file: " (name) " · " (bytes.len()) " 字节 bytes · BLAKE3 " (digest)
        }
    };
    let (status, body) = match checked {
        Err(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                (back)
                div.error id="import-errors" { p { "未记录任何内容 nothing was recorded: " (e.to_string()) } }
                (upload_form(election, user, kind_text))
            },
        ),
        Ok(c) => {
            // A confirmation that failed does not offer itself again.
            let ok = c.errors.is_empty() && refused_on_confirm.is_none();
            let status = if ok {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (
                status,
                html! {
                    (back)
                    p id="import-read-as" {
                        "读作 read as " (c.table.format)
                        @if let Some(sheet) = &c.table.sheet { "，工作表 sheet「" (sheet) "」" }
                        "，" (c.table.rows.len()) " 行数据 data rows"
                    }
                    @if let Some(why) = refused_on_confirm {
                        div.error id="import-changed" { p { (why) } }
                    }
                    @if ok {
                        p.notice id="import-ok" {
                            "全部 " (c.lines.len()) " 行通过检查，将记录 " (c.events) " 条事件。尚未记录。"
                            " All " (c.lines.len()) " rows pass; recording them writes " (c.events) " events. Nothing is recorded yet."
                        }
                        form id="import-confirm" method="post"
                            action=(format!("/elections/{}/import/confirm", enc(election))) {
                            input type="hidden" name=(csrf::FIELD) value=(csrf::for_session(user));
                            input type="hidden" name="kind" value=(kind_text.unwrap_or("rows"));
                            input type="hidden" name="name" value=(name);
                            input type="hidden" name="nonce" value=(uuid::Uuid::new_v4().to_string());
                            input type="hidden" name="sheet" value=(b64);
                            button type="submit" id="import-record" { "确认记录 Record these " (c.lines.len()) " rows" }
                        }
                    } @else {
                        @if !c.errors.is_empty() { div.error id="import-errors" {
                            p { strong { (c.errors.len()) " 处问题，未记录任何内容 problems; nothing was recorded. " } "改正后重新上传 fix them and upload again." }
                            ol {
                                @for e in c.errors.iter().take(MAX_SHOWN) { li data-line=(e.line) { (e.to_string()) } }
                            }
                            @if c.errors.len() > MAX_SHOWN {
                                p { "…另有 " (c.errors.len() - MAX_SHOWN) " 处 and " (c.errors.len() - MAX_SHOWN) " more" }
                            }
                        } }
                        (upload_form(election, user, kind_text))
                    }
                    table id="import-rows" {
                        tr { th { "行 Row" } th { "环节 Step" } th { "人选 Candidate" } th { "内容 Cells" } th { "结果 Result" } }
                        @for (line, cells) in &c.table.rows {
                            @let mine = c.errors.iter().filter(|e| e.line == *line).count();
                            @let read = c.lines.iter().find(|l| l.line == *line);
                            tr data-line=(line) {
                                td { (line) }
                                td { (read.map(|l| l.kind.label).unwrap_or("—")) }
                                td { (read.and_then(|l| l.command.candidate_id.clone()).unwrap_or_default()) }
                                td { (cells_text(&c.table.header, cells, fixed)) }
                                td {
                                    @if mine == 0 && read.is_some() { "✓ 通过 passes" }
                                    @else if mine == 0 { "—" }
                                    @else { "✗ " (mine) " 处问题 problems" }
                                }
                            }
                        }
                    }
                },
            )
        }
    };
    (
        status,
        Html(layout_for("导入预览 import preview", user, body).into_string()),
    )
        .into_response()
}

async fn confirm(
    State(state): Shared,
    crate::auth::PageUser(user): crate::auth::PageUser,
    headers: HeaderMap,
    Path(election): Path<String>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let values = Values(pairs);
    let token = values.get(csrf::FIELD).unwrap_or_default();
    if !csrf::same_origin(&headers) || !csrf::same(&csrf::for_session(&user), token) {
        return forged();
    }
    let b64 = values.get("sheet").unwrap_or_default();
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
        return error_page(&ApiError::bad("sheet", "not base64: upload the file again"));
    };
    let Some(nonce) = values.text("nonce").filter(|n| n.len() <= 64) else {
        return error_page(&ApiError::bad("nonce", "missing: preview the file again"));
    };
    let kind_text = values.text("kind");
    let name = values.text("name").unwrap_or_default();
    let ctx = match context(&state, &user, &election).await {
        Ok(c) => c,
        Err(e) => return error_page(&e),
    };
    let fixed = match fixed_kind(kind_text) {
        Ok(k) => k,
        Err(e) => return error_page(&e),
    };
    let batch_id = batch_id(nonce, &ctx.election_id, &bytes);
    // A second click finds its batch before anything is judged again: the
    // rows, once recorded, would now be refused (a second nomination).
    match already(&state, &user, &ctx.election_id, batch_id).await {
        Ok(Some(position)) => return see_other(&election, position, None, true),
        Ok(None) => {}
        Err(e) => return error_page(&e),
    }
    let checked = match check(&state, &user, &ctx, fixed, &bytes).await {
        Ok(Ok(c)) if c.errors.is_empty() => c,
        Ok(_) => {
            // A double click that raced: the other request recorded the
            // batch while this one was checking it again.
            if let Ok(Some(position)) = already(&state, &user, &ctx.election_id, batch_id).await {
                return see_other(&election, position, None, true);
            }
            return judge(
                &state,
                &user,
                &election,
                kind_text,
                name,
                &bytes,
                b64,
                Some("确认时重新检查未通过，未记录任何内容 checked again on confirmation, the sheet no longer passes; nothing was recorded"),
            )
            .await;
        }
        Err(e) => return error_page(&e),
    };
    let items = items(&user, &checked.lines);
    match jishi_app::batch::record_batch_once(&state.events, &ctx.election_id, &items, batch_id)
        .await
    {
        Ok(BatchOnce::Recorded(positions)) => see_other(
            &election,
            positions.first().copied().unwrap_or_default(),
            Some(checked.lines.len()),
            false,
        ),
        Ok(BatchOnce::Already { position }) => see_other(&election, position, None, true),
        Err(e) => {
            if let Ok(Some(position)) = already(&state, &user, &ctx.election_id, batch_id).await {
                return see_other(&election, position, None, true);
            }
            let why = format!(
                "第{}行 row {}: {}；未记录任何内容 nothing was recorded",
                checked.lines.get(e.index).map_or(0, |l| l.line),
                checked.lines.get(e.index).map_or(0, |l| l.line),
                e.error
            );
            judge(
                &state,
                &user,
                &election,
                kind_text,
                name,
                &bytes,
                b64,
                Some(&why),
            )
            .await
        }
    }
}

/// Where the batch `id` was recorded, if it was: by this user, in this
/// election. The same id elsewhere is refused rather than taken for this
/// confirmation (it cannot happen without editing the form by hand).
async fn already(
    state: &AppState,
    user: &User,
    election_id: &str,
    id: uuid::Uuid,
) -> Result<Option<u64>, ApiError> {
    let Some(found) = state.events.stored_events(&[id]).await?.remove(&id) else {
        return Ok(None);
    };
    let stream = jishi_projections::election_stream(election_id);
    let here = found.stream == stream || found.stream.starts_with(&format!("{stream}/"));
    if !here || found.actor.id != user.actor().id {
        return Err(ApiError::bad(
            "nonce",
            "this confirmation was already used elsewhere: preview the file again",
        ));
    }
    Ok(Some(found.position))
}

/// A row's first non-blank cells as "header：value", for the preview; an id
/// number shown only by its first four and last characters.
fn cells_text(header: &[String], cells: &[String], kind: Option<&EventKind>) -> String {
    header
        .iter()
        .zip(cells)
        .filter(|(_, v)| !v.trim().is_empty())
        .take(6)
        .map(|(h, v)| {
            if is_id_number(kind, h) {
                let v = v.trim();
                let head: String = v.chars().take(4).collect();
                let last: String = v.chars().last().map(String::from).unwrap_or_default();
                format!("{h}：{head}…{last}")
            } else {
                format!("{h}：{v}")
            }
        })
        .collect::<Vec<_>>()
        .join("；")
}

fn see_other(election: &str, position: u64, imported: Option<usize>, again: bool) -> Response {
    let mut to = format!("/elections/{}?recorded={position}", enc(election));
    if let Some(n) = imported {
        to.push_str(&format!("&imported={n}"));
    }
    if again {
        to.push_str("&again=1");
    }
    (StatusCode::SEE_OTHER, [(header::LOCATION, to)]).into_response()
}
