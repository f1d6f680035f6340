//! Recording through forms: a page per recordable kind of the catalogue,
//! generated from its fields ([`spec`]), posted as a plain form (no
//! script needed) with the session's CSRF token (D56) and a fresh event id,
//! and recorded through the same path as `POST /api/record/{kind}`: the
//! policy, then `decide` under the procedure in force. A refusal comes back
//! on the same form, with what was typed, naming the rule, its source and
//! who may grant an override (D20); a second submission of the same form
//! finds its event id in the ledger and records nothing (D103).

mod render;
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
    /// Whether the server holds a person key: the nomination form then
    /// takes an id number (domain decision 34).
    pub person_key: bool,
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
                person_key: state.person_key.is_some(),
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

use render::form_markup;

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
    // The id number is turned into its reference and dropped from what is
    // shown again, so that a refused form does not echo it back either.
    let mut values = shown.values.clone();
    if let Err(e) = spec::id_number_to_ref(&mut values, state.person_key.as_ref()) {
        shown.values.0.retain(|(k, _)| k != spec::ID_NUMBER);
        shown.errors.push(e);
        return render(StatusCode::BAD_REQUEST, &shown, &action);
    }
    shown.values.0.retain(|(k, _)| k != spec::ID_NUMBER);
    let json = match spec::command_json(kind, header, &values, &candidates) {
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
