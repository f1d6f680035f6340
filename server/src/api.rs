//! The JSON API under `/api`: one handler per CLI capability. Every handler
//! authenticates (`ApiUser`), asks the policy, and calls the same use cases
//! as the command line (`jishi-app`, `jishi-ledger::publish`).

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jishi_app::access::{self, AccessRecord, SourceError, View};
use jishi_app::sealed::{Binding, Secret};
use jishi_app::users::{self, NewUser};
use jishi_ledger::export::Selector;
use jishi_ledger::publish::{build_case, sign_checkpoint, CaseError, SignError};
use jishi_projections::{candidate_stream, Command};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::{policy, queries};

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/me", get(me))
        .route("/api/record/{kind}", post(record))
        .route("/api/elections", get(elections))
        .route("/api/elections/{election}", get(election))
        .route("/api/elections/{election}/check", get(check))
        .route("/api/elections/{election}/stats", get(stats))
        .route("/api/elections/{election}/candidates", get(candidates))
        .route("/api/elections/{election}/joint-review", get(joint_review))
        .route("/api/elections/{election}/deferrals", get(deferrals))
        .route("/api/elections/{election}/supervision", get(supervision))
        .route("/api/units/{unit}", get(unit))
        .route(
            "/api/elections/{election}/candidates/{candidate}/trail",
            get(trail),
        )
        .route(
            "/api/elections/{election}/candidates/{candidate}/accountability",
            get(accountability),
        )
        .route(
            "/api/elections/{election}/candidates/{candidate}/up-one-level",
            get(up_one_level),
        )
        .route(
            "/api/elections/{election}/candidates/{candidate}/accesses",
            get(accesses),
        )
        .route(
            "/api/elections/{election}/petitions/{petition}/source",
            get(read_source).post(record_source),
        )
        .route("/api/verify", get(verify_status).post(verify_now))
        .route("/api/verify/job", get(verify_job_status))
        .route(
            "/api/checkpoint",
            get(latest_checkpoint).post(new_checkpoint),
        )
        .route("/api/export", post(export))
        .route("/api/users", get(list_users).post(add_user))
        .route("/api/users/{user}/revoke", post(revoke_user))
        .route("/api/users/{user}/token", post(rotate_user_token))
        .route("/api/me/token", post(rotate_own_token))
}

/// The body as JSON, or a 400 that says what is wrong with it.
fn body<T>(b: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    b.map(|Json(v)| v).map_err(|e| {
        let text = e.body_text();
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::TooLarge(text);
        }
        // serde's messages name the field ("missing field `identity`"); pass
        // the field on so that a client can point at it.
        let field = text
            .split('`')
            .nth(1)
            .filter(|_| text.contains("field"))
            .unwrap_or("body")
            .to_string();
        ApiError::bad(field, text)
    })
}

pub use crate::queries::AsOf;

async fn health(State(state): Shared) -> Result<Json<Value>, ApiError> {
    let head = state.store.head().await?;
    Ok(Json(json!({
        "status": "ok",
        "head": head.map(|h| h.position).unwrap_or(0),
    })))
}

async fn me(ApiUser(user): ApiUser) -> Json<Value> {
    Json(json!(user.as_ref()))
}

/// `POST /api/record/{kind}` with the command's JSON (as `jishi record KIND
/// --json`). The actor is the signed-in user; the body cannot name one
/// (an `actor` key is an unknown field of the command, hence a 400).
/// A nomination's `id_number`, replaced by its keyed `person_ref` with the
/// server's person key (domain decision 34): the number is never recorded,
/// and without a key it is refused, naming the field.
fn id_number_to_ref(state: &AppState, mut value: Value) -> Result<Value, ApiError> {
    let Some(map) = value.as_object_mut() else {
        return Ok(value);
    };
    let Some(number) = map.remove(crate::forms::spec::ID_NUMBER) else {
        return Ok(value);
    };
    let number = number
        .as_str()
        .ok_or_else(|| ApiError::bad("id_number", "must be a string"))?;
    let key = state.person_key.as_ref().ok_or_else(|| {
        ApiError::bad(
            "id_number",
            "this server holds no person key (jishi serve --person-key FILE); \
             the number is never recorded in clear",
        )
    })?;
    if map.contains_key("person_ref") {
        return Err(ApiError::bad(
            "id_number",
            "give id_number or person_ref, not both",
        ));
    }
    let r = jishi_projections::person::PersonRef::of_id_number(key, number)
        .map_err(|e| ApiError::bad("id_number", e.to_string()))?;
    map.insert("person_ref".into(), Value::String(r.to_string()));
    Ok(value)
}

async fn record(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(kind): Path<String>,
    json: Result<Json<Box<serde_json::value::RawValue>>, JsonRejection>,
) -> Result<Response, ApiError> {
    // Read as text and parsed strictly, as `jishi record --json` is: a
    // number whose value canonicalisation would change is refused (D44).
    let value = jishi_ledger::canonical::parse_strict(body(json)?.get())
        .map_err(|e| ApiError::bad(e.field_under("").unwrap_or_else(|| "body".into()), e.reason))?;
    let value = id_number_to_ref(&state, value)?;
    let command = Command::from_json(&kind, value)?;
    let org = match &command.body {
        jishi_projections::EventBody::ElectionOpened(b) => {
            check_namespace(&user, &command.election_id)?;
            b.unit_org.clone()
        }
        _ => {
            let org = state
                .election_org_of(&command.election_id)
                .await?
                .ok_or_else(|| queries::no_election(&command.election_id))?;
            // An election the user may not read answers as an absent one
            // (D53); one it reads but may not record in gets the policy's 403.
            policy::may_read_election(&user, &org)
                .map_err(|_| queries::no_election(&command.election_id))?;
            org
        }
    };
    policy::may_record(&user, &kind, &org, !command.overrides.is_empty())?;
    let recorded = jishi_app::record(&state.events, None, &user.actor(), &command).await?;
    let events: Vec<Value> = recorded
        .events
        .iter()
        .map(|(e, at)| {
            json!({
                "event_type": e.event_type(),
                "stream": e.stream(),
                "position": at.position,
                "event_id": at.event_id,
                "hash": at.hash.to_string(),
            })
        })
        .collect();
    Ok((StatusCode::CREATED, Json(json!({ "events": events }))).into_response())
}

/// An election opened through the server is named `<namespace>:<local>`,
/// the namespace being the opener's top organisation, so that one district
/// cannot take an id that another will want (D54). The command line, the
/// operator's own tool, is not held to this.
fn check_namespace(user: &jishi_app::users::User, election_id: &str) -> Result<(), ApiError> {
    let namespace = user.org.split('/').next().unwrap_or_default();
    match election_id.split_once(':') {
        Some((ns, local)) if !local.is_empty() && ns == namespace => Ok(()),
        Some((_, local)) if !local.is_empty() => Err(policy::Denied(format!(
            "{} opens elections named {namespace}:<name>, not {election_id:?}",
            user.id
        ))
        .into()),
        _ => Err(ApiError::bad(
            "election_id",
            format!(
                "{election_id:?} must have the form {namespace}:<name> \
                 (the namespace is the first segment of your organisation)"
            ),
        )),
    }
}

async fn elections(
    State(state): Shared,
    ApiUser(user): ApiUser,
) -> Result<Json<Vec<queries::ElectionSummary>>, ApiError> {
    Ok(Json(queries::elections(&state, &user).await?))
}

async fn election(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    let d = queries::election(&state, &user, &id, &q).await?;
    Ok((d.clock.header(), Json(d)).into_response())
}

/// One part of an election's detail, as its own resource.
async fn part(
    state: &AppState,
    user: &jishi_app::users::User,
    id: &str,
    q: AsOf,
    compliance: bool,
    pick: impl FnOnce(queries::ElectionDetail) -> Result<Value, ApiError>,
) -> Result<Response, ApiError> {
    let detail = queries::election_with(state, user, id, &q, compliance).await?;
    let clock = detail.clock.header();
    Ok((clock, Json(pick(detail)?)).into_response())
}

async fn check(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    part(&state, &user, &id, q, true, |d| {
        let reads = d.recorded_reads;
        d.compliance
            .map(|r| {
                let mut v = json!(r);
                v["recorded_reads"] = json!(reads);
                v
            })
            .ok_or_else(|| {
                ApiError::NotFound(format!(
                    "election {id:?} has no election.opened event, so its procedure is unknown"
                ))
            })
    })
    .await
}

async fn stats(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    part(&state, &user, &id, q, false, |d| Ok(json!(d.stats))).await
}

/// One of the inspector's queries (domain decision 31) of an election's
/// entries as of `q`, under the procedure recorded for it. Their events are
/// all process facts, so nothing in them is restricted or recorded as a read.
async fn query(
    state: &AppState,
    user: &jishi_app::users::User,
    id: &str,
    q: AsOf,
    pick: impl FnOnce(&[jishi_projections::views::Entry], &jishi_projections::Procedure) -> Value,
) -> Result<Response, ApiError> {
    let cut = queries::cut(state, &q).await?;
    state
        .with_election(user, id, |e| {
            let (entries, occurred) = cut.apply(&e.entries)?;
            let p = jishi_app::views::procedure_of(id, &entries, None)
                .map_err(|err| ApiError::NotFound(err.to_string()))?;
            let v = pick(&entries, &p);
            // The clock is named in the `jishi-clock` header of every
            // answer; an occurred-time answer also carries the cut beside
            // the view, as `jishi … --as-of-occurred T --json` prints it,
            // so that the server and the command line give one answer.
            let v = match occurred {
                Some(o) => json!({ "as_of_occurred": o, "view": v }),
                None => v,
            };
            Ok((cut.clock().header(), Json(v)).into_response())
        })
        .await
}

async fn joint_review(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    query(&state, &user, &id, q, |e, p| {
        json!(jishi_projections::views::queries::review_matrix(
            e,
            &p.joint_review_departments
        ))
    })
    .await
}

async fn deferrals(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    query(&state, &user, &id, q, |e, _| {
        json!(jishi_projections::views::queries::deferrals(e))
    })
    .await
}

async fn supervision(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    query(&state, &user, &id, q, |e, p| {
        json!(jishi_projections::views::supervision::coverage(e, p))
    })
    .await
}

/// A unit's elections, only those the user may read: the others are left
/// out as if absent (D53).
async fn unit(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(unit): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let list = state
        .with_views(|v| {
            jishi_projections::views::queries::unit_history(v, &unit)
                .into_iter()
                .filter(|u| {
                    v.elections.get(&u.election_id).is_some_and(|e| {
                        crate::policy::may_read_election(&user, &crate::state::election_org(e))
                            .is_ok()
                    })
                })
                .collect::<Vec<_>>()
        })
        .await?;
    if list.is_empty() {
        return Err(ApiError::NotFound(format!(
            "unit {unit:?}: no election of this unit in your scope"
        )));
    }
    Ok(Json(json!(list)))
}

async fn candidates(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    part(&state, &user, &id, q, false, |d| Ok(json!(d.candidates))).await
}

async fn trail(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, c)): Path<(String, String)>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    let v = queries::candidate(&state, &user, &e, &c, &q, View::Trail).await?;
    Ok((
        v.clock.header(),
        Json(json!({
            "trail": v.trail,
            "clock": v.clock,
            "as_of": v.as_of,
            "as_of_occurred": v.as_of_occurred,
            "recorded_read_at": v.recorded_read_at,
        })),
    )
        .into_response())
}

async fn accountability(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, c)): Path<(String, String)>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    let v = queries::candidate(&state, &user, &e, &c, &q, View::Accountability).await?;
    Ok((
        v.clock.header(),
        Json(json!({
            "accountability": v.accountability,
            "clock": v.clock,
            "as_of": v.as_of,
            "as_of_occurred": v.as_of_occurred,
            "recorded_read_at": v.recorded_read_at,
        })),
    )
        .into_response())
}

async fn up_one_level(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, c)): Path<(String, String)>,
    Query(q): Query<AsOf>,
) -> Result<Response, ApiError> {
    let (up, cut, occurred, recorded_read_at) =
        queries::one_level_up(&state, &user, &e, &c, &q).await?;
    Ok((
        cut.clock().header(),
        Json(json!({
            "up_one_level": up,
            "clock": cut.clock(),
            "as_of": cut.as_of,
            "as_of_occurred": occurred,
            "recorded_read_at": recorded_read_at,
        })),
    )
        .into_response())
}

async fn accesses(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, c)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!(queries::accesses(&state, &user, &e, &c).await?)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceBody {
    candidate_id: String,
    identity: String,
    #[serde(default)]
    contact: Option<String>,
}

async fn record_source(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, p)): Path<(String, String)>,
    json: Result<Json<SourceBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(json)?;
    policy::may_record_source(&user)?;
    if b.identity.trim().is_empty() {
        return Err(ApiError::bad(
            "identity",
            "must not be empty (write 匿名 for an anonymous petition)",
        ));
    }
    state
        .with_election(&user, &e, |el| {
            if el.state.candidates.contains_key(&b.candidate_id) {
                Ok(())
            } else {
                Err(ApiError::bad(
                    "candidate_id",
                    format!("{:?} is not a candidate of election {e:?}", b.candidate_id),
                ))
            }
        })
        .await?;
    // Never in the clear (D59): without a keyring nothing is recorded.
    let Some(keyring) = &state.sealing else {
        return Err(ApiError::Unavailable(
            "this server has no sealing keyring, and a petitioner's identity is never stored in \
             the clear: start it with `jishi serve --sealing-keys DIR`"
                .into(),
        ));
    };
    let position = access::record_source(
        state.events.as_ref(),
        keyring,
        &user.actor(),
        &Binding {
            election_id: &e,
            candidate_id: &b.candidate_id,
            petition_id: &p,
        },
        &Secret {
            identity: b.identity.trim().to_string(),
            contact: b.contact,
        },
    )
    .await
    .map_err(|err| match err {
        SourceError::Append(a) => ApiError::from(a),
        SourceError::Seal(s) => ApiError::Unavailable(s.to_string()),
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "position": position }))).into_response())
}

async fn read_source(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path((e, p)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    policy::may_read_source(&user)?;
    state.with_election(&user, &e, |_| Ok(())).await?;
    let sources =
        access::read_sources(state.read_events().await?, state.sealing.as_ref(), &e, &p).await?;
    let Some(first) = sources.first() else {
        return Err(ApiError::NotFound(format!(
            "petition {p:?} of election {e:?}: no source recorded"
        )));
    };
    let recorded_read_at = access::record_access(
        state.events.as_ref(),
        &user.actor(),
        &AccessRecord {
            election_id: e.clone(),
            candidate_id: first.candidate_id.clone(),
            view: View::PetitionSource,
            as_of: None,
            as_of_occurred: None,
            petition_id: Some(p.clone()),
        },
    )
    .await?;
    let list: Vec<Value> = sources
        .iter()
        .map(|s| json!({ "position": s.position, "sealed": s.sealed, "source": s }))
        .collect();
    Ok(Json(
        json!({ "sources": list, "recorded_read_at": recorded_read_at }),
    ))
}

async fn verify_status(
    State(state): Shared,
    ApiUser(_): ApiUser,
) -> Result<Json<queries::Badge>, ApiError> {
    Ok(Json(queries::badge(&state).await?))
}

#[derive(Debug, Deserialize)]
struct Wait {
    #[serde(default)]
    wait: bool,
}

/// Starts a verification in the background (or joins the running one): 202
/// with the job's status and where to follow it; with `?wait=true`, 200 with
/// its outcome once done (D87).
async fn verify_now(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Query(q): Query<Wait>,
) -> Result<Response, ApiError> {
    policy::may_run_verify(&user)?;
    let job = crate::verify_job::start(&state, &user.id).await;
    if q.wait {
        return Ok(Json(json!(job.finished().await?)).into_response());
    }
    Ok((
        StatusCode::ACCEPTED,
        [(axum::http::header::LOCATION, "/api/verify/job")],
        Json(json!(job.status())),
    )
        .into_response())
}

async fn verify_job_status(
    State(state): Shared,
    ApiUser(user): ApiUser,
) -> Result<Json<Value>, ApiError> {
    policy::may_run_verify(&user)?;
    match crate::verify_job::latest(&state).await {
        Some(job) => Ok(Json(json!(job.status()))),
        None => Err(ApiError::NotFound(
            "no verification was started: POST /api/verify".into(),
        )),
    }
}

async fn latest_checkpoint(
    State(state): Shared,
    ApiUser(_): ApiUser,
) -> Result<Json<Value>, ApiError> {
    let cp = state
        .store
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    let registry = jishi_ledger::attest::verified_registry(state.store.as_ref()).await?;
    Ok(Json(json!(queries::checkpoint_info(&cp, &registry))))
}

async fn new_checkpoint(
    State(state): Shared,
    ApiUser(user): ApiUser,
) -> Result<Response, ApiError> {
    policy::may_administer(&user)?;
    let Some(key) = &state.signer else {
        return Err(ApiError::Unavailable(
            "this server has no signing key: start it with `jishi serve --key FILE`".into(),
        ));
    };
    let _one = state.verifying.lock().await;
    let signed = sign_checkpoint(
        state.store.as_ref(),
        key,
        &state.origin,
        &user.actor(),
        &jishi_ledger::verify::Quiet,
    )
    .await
    .map_err(|e| match e {
        SignError::NotVerified(r) => ApiError::Conflict(format!(
            "refusing to sign: the ledger does not verify ({})",
            r.fault
                .map(|f| f.to_string())
                .unwrap_or_else(|| "tree or checkpoint fault".into())
        )),
        other => ApiError::Internal(other.to_string()),
    })?;
    *state.verified.write().await = Some(crate::state::Verified {
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ok: true,
        checked: signed.verified,
        fault: None,
    });
    Ok((
        StatusCode::CREATED,
        Json(json!(queries::checkpoint_info(
            &signed.stored,
            &jishi_ledger::attest::verified_registry(state.store.as_ref()).await?
        ))),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    election_id: String,
    candidate_id: String,
}

/// A candidate's case file (every event of its stream, with inclusion proofs
/// in a stored checkpoint), as `jishi export --prefix` writes it.
async fn export(
    State(state): Shared,
    ApiUser(user): ApiUser,
    json: Result<Json<ExportBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(json)?;
    policy::may_export(&user)?;
    // The candidate must be one of the election's: an empty id would select
    // the whole election by prefix and record the read against no candidate
    // (issue 15, item 3). Same 404 as an unknown election (D53).
    state
        .with_election(&user, &b.election_id, |el| {
            if !b.candidate_id.is_empty() && el.state.candidates.contains_key(&b.candidate_id) {
                Ok(())
            } else {
                Err(ApiError::NotFound(format!(
                    "candidate_id: {:?} is not a candidate of election {:?}",
                    b.candidate_id, b.election_id
                )))
            }
        })
        .await?;
    let selector = Selector::Prefix(candidate_stream(&b.election_id, &b.candidate_id));
    let case = build_case(state.read_store().await?, &selector)
        .await
        .map_err(|e| match e {
            CaseError::Empty(_) => ApiError::NotFound(e.to_string()),
            CaseError::NoCheckpoint { .. } => ApiError::Conflict(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        })?;
    access::record_access(
        state.events.as_ref(),
        &user.actor(),
        &AccessRecord {
            election_id: b.election_id,
            candidate_id: b.candidate_id,
            view: View::CaseExport,
            as_of: Some(case.checkpoint.size),
            as_of_occurred: None,
            petition_id: None,
        },
    )
    .await?;
    let text = case
        .export
        .to_json()
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response())
}

/// Users an admin manages: those of its subtree (D48).
async fn list_users(State(state): Shared, ApiUser(user): ApiUser) -> Result<Json<Value>, ApiError> {
    policy::may_administer(&user)?;
    let mut users = state.users.write().await;
    users
        .catch_up(state.events.as_ref())
        .await
        .map_err(ApiError::from)?;
    let mine: Vec<_> = users
        .all()
        .filter(|u| jishi_projections::org_covers(&user.org, &u.org))
        .collect();
    Ok(Json(json!(mine)))
}

/// The body of `POST /api/users`: a [`NewUser`] and the token's lifetime.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddUserBody {
    id: String,
    name: String,
    role: users::AccessRole,
    org: String,
    #[serde(default)]
    acts_as: Option<String>,
    /// Days the token lives; [`users::DEFAULT_TOKEN_DAYS`] when absent.
    #[serde(default)]
    expires_days: Option<u32>,
}

async fn add_user(
    State(state): Shared,
    ApiUser(user): ApiUser,
    json: Result<Json<AddUserBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let b = body(json)?;
    policy::may_add_user(&user, b.role, &b.org)?;
    let until = users::expiry_in(
        "expires_days",
        b.expires_days.unwrap_or(users::DEFAULT_TOKEN_DAYS),
        chrono::Utc::now(),
    )?;
    let new = NewUser {
        id: b.id,
        name: b.name,
        role: b.role,
        org: b.org,
        acts_as: b.acts_as,
    };
    let (added, token) =
        users::add_user_until(state.events.as_ref(), &user.actor(), new, until).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "user": added, "token": token })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeBody {
    reason: String,
}

/// The user `id` as the ledger head says, for a policy check before a write.
async fn target_user(state: &AppState, id: &str) -> Result<jishi_app::users::User, ApiError> {
    let mut users = state.users.write().await;
    users.catch_up(state.events.as_ref()).await?;
    users
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::from(users::UserError::Unknown(id.to_string())))
}

async fn revoke_user(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    json: Result<Json<RevokeBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = body(json)?;
    policy::may_administer(&user)?;
    let target = target_user(&state, &id).await?;
    policy::may_manage_user(&user, &target)?;
    users::revoke_user(state.events.as_ref(), &user.actor(), &id, &b.reason).await?;
    Ok(Json(json!({ "revoked": id })))
}

/// The body of a token rotation: the new token's lifetime.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    #[serde(default)]
    expires_days: Option<u32>,
}

/// An empty body is a rotation with the default lifetime.
fn rotate_body(b: Option<Json<RotateBody>>) -> RotateBody {
    b.map(|Json(b)| b).unwrap_or_default()
}

async fn rotate(
    state: &AppState,
    by: &jishi_app::users::User,
    id: &str,
    b: RotateBody,
) -> Result<Json<Value>, ApiError> {
    let until = users::expiry_in(
        "expires_days",
        b.expires_days.unwrap_or(users::DEFAULT_TOKEN_DAYS),
        chrono::Utc::now(),
    )?;
    let (rotated, token) =
        users::rotate_token(state.events.as_ref(), &by.actor(), id, until).await?;
    Ok(Json(json!({ "user": rotated, "token": token })))
}

/// `POST /api/users/{id}/token`: an admin reissues the token of a user in
/// its subtree (a lost token, D49). The new token is shown once.
async fn rotate_user_token(
    State(state): Shared,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
    json: Result<Option<Json<RotateBody>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = json.map_err(|e| ApiError::bad("body", e.body_text()))?;
    policy::may_administer(&user)?;
    let target = target_user(&state, &id).await?;
    policy::may_manage_user(&user, &target)?;
    rotate(&state, &user, &id, rotate_body(b)).await
}

/// `POST /api/me/token`: any user replaces its own token; the old one stops
/// working at once.
async fn rotate_own_token(
    State(state): Shared,
    ApiUser(user): ApiUser,
    json: Result<Option<Json<RotateBody>>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let b = json.map_err(|e| ApiError::bad("body", e.body_text()))?;
    rotate(&state, &user, &user.id, rotate_body(b)).await
}
