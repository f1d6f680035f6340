//! The log as C2SP `tlog-tiles` under `/tlog/` (D75): `checkpoint`, Merkle
//! tiles `tile/<L>/<N>[.p/<W>]` and entry bundles `tile/entries/…`, which
//! any transparency client can fetch and check. They hold hashes only, so
//! they are served without a token. They are immutable, so they cache and
//! mirror as plain files. The envelope bundles `jishi/envelopes/…` name
//! streams and actors, so only an investigator (who may export) gets them.
//! Payloads are never in a bundle.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jishi_ledger::tiles::{read_tile, TileError, TilePath};

use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::policy;
use crate::state::AppState;

/// The routes, under `/tlog/`.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/tlog/checkpoint", get(checkpoint))
        .route("/tlog/tile/{*path}", get(tile))
        .route("/tlog/jishi/{*path}", get(envelopes))
}

/// The latest stored checkpoint, with every cosignature stored with it. A
/// client re-fetches it, so it is not cached.
async fn checkpoint(State(state): State<Arc<AppState>>) -> Result<Response, ApiError> {
    // From the store the tiles come from, so that a client that fetched it
    // finds every tile it names (on a standby, D116; its signature is the
    // log's, which a standby cannot make).
    let cp = state
        .read_store()
        .await?
        .latest_checkpoint()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .ok_or_else(|| ApiError::NotFound("no checkpoint has been signed yet".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        cp.note,
    )
        .into_response())
}

async fn tile(State(state): State<Arc<AppState>>, Path(path): Path<String>) -> Response {
    serve(&state, &format!("tile/{path}")).await
}

async fn envelopes(
    State(state): State<Arc<AppState>>,
    ApiUser(user): ApiUser,
    Path(path): Path<String>,
) -> Result<Response, ApiError> {
    policy::may_export(&user)?;
    Ok(serve(&state, &format!("jishi/{path}")).await)
}

async fn serve(state: &AppState, path: &str) -> Response {
    let not_found = |why: String| {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            why + "\n",
        )
            .into_response()
    };
    let t = match TilePath::parse(path) {
        Ok(t) => t,
        Err(e) => return not_found(e.to_string()),
    };
    let store = match state.read_store().await {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let size = match store.tree_size().await {
        Ok(s) => s,
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    match read_tile(store, size, &t).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                // Every tile, full or partial, is the same bytes for ever.
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            bytes,
        )
            .into_response(),
        Err(e @ (TileError::BadPath(_) | TileError::NotYet { .. })) => not_found(e.to_string()),
        Err(e) => {
            tracing::error!(tile = %t.to_path(), "{e}");
            ApiError::Internal(format!("tile {}: {e}", t.to_path())).into_response()
        }
    }
}
