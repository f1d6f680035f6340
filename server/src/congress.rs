//! A congress's composition over HTTP (domain decisions 32 and 36): the
//! elected of several units counted together and held to the quotas their
//! procedure states, as `jishi composition` does on the command line.
//!
//! The answer is counts and shares, never a name or a restricted detail, so
//! it records no read. It is scoped like every list: only the elections the
//! user may read are counted, and an election named but out of scope is
//! refused with the same 404 as one that does not exist (D53), so the count
//! cannot be used to learn about another organisation's units.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use jishi_app::views::ViewError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::policy;
use crate::queries::no_election;
use crate::state::{election_org, AppState};

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/composition", get(composition))
}

/// Which units to count: the elections named (comma-separated), or else
/// every election of `kind` the user may read.
#[derive(Debug, Default, Deserialize)]
struct Which {
    kind: Option<String>,
    elections: Option<String>,
}

async fn composition(
    State(state): State<Arc<AppState>>,
    ApiUser(user): ApiUser,
    Query(w): Query<Which>,
) -> Result<Json<Value>, ApiError> {
    // Given means given: a blank list or kind is refused, not read as
    // "every election", and the two ways of choosing are not mixed.
    let named: Vec<String> = match &w.elections {
        None => Vec::new(),
        Some(list) => {
            let names: Vec<String> = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if names.is_empty() {
                return Err(ApiError::bad("elections", "name at least one election"));
            }
            if w.kind.is_some() {
                return Err(ApiError::bad(
                    "kind",
                    "give elections or kind, not both: the elections named are counted whatever their kind",
                ));
            }
            names
        }
    };
    let kind = match w.kind.as_deref().map(str::trim) {
        None => "party_representative",
        Some("") => return Err(ApiError::bad("kind", "a blank kind names no procedure")),
        Some(k) => k,
    };
    if named.is_empty() && jishi_projections::Procedure::builtin(kind).is_err() {
        return Err(ApiError::bad(
            "kind",
            format!("{kind:?} is not a procedure kind"),
        ));
    }
    state
        .with_views(|v| {
            let readable = |e: &jishi_projections::views::ElectionProjection| {
                policy::may_read_election(&user, &election_org(e)).is_ok()
            };
            for n in &named {
                if !v.elections.get(n).is_some_and(readable) {
                    return Err(no_election(n));
                }
            }
            let chosen = v.elections.iter().filter(|(id, e)| {
                readable(e)
                    && if named.is_empty() {
                        e.state.opened.as_ref().is_some_and(|o| o.kind == kind)
                    } else {
                        named.contains(id)
                    }
            });
            let (c, check) = jishi_app::views::congress(chosen.map(|(id, e)| (id.as_str(), e)))
                .map_err(|e| match e {
                    ViewError::MixedQuotas(_) => ApiError::bad("elections", e.to_string()),
                    other => other.into(),
                })?;
            Ok(Json(json!({ "composition": c, "quotas": check })))
        })
        .await?
}
