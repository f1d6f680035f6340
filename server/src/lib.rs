//! `jishi-server`: the service organisation departments and inspectors use
//! at the same time from many offices (`jishi serve`).
//!
//! * [`api`]: the JSON API, one operation per CLI capability, documented in
//!   [`openapi`] and served at `/openapi.json`;
//! * [`pages`]: server-rendered HTML for people who want to look;
//! * [`policy`]: who may do what (access role × organisation scope ×
//!   sensitivity), pure and unit-tested;
//! * [`auth`]: bearer tokens for the API, a cookie for the pages;
//! * [`queries`]: the reads both share, with redaction and recorded reads;
//! * [`ledgers`]: one service over many ledgers, each under
//!   `/ledgers/{name}`, and the search across them (D112).
//!
//! Architecture invariant: no rule of the procedure lives here (that is
//! `projections`), no SQL (that is `ledger`), and no use case the command
//! line also has (that is `jishi-app`). Recording goes through the store's
//! own writer (group commit on PostgreSQL), so the server adds no lock of
//! its own around appends.

pub mod api;
pub mod auth;
pub mod congress;
pub mod csrf;
pub mod error;
pub mod export;
pub mod forms;
pub mod import;
pub mod labels;
pub mod ledgers;
pub mod openapi;
pub mod pages;
pub mod policy;
pub mod print;
pub mod queries;
pub mod search;
pub mod standby;
pub mod state;
pub mod tiles;
pub mod verify_job;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;
pub use ledgers::Ledgers;
pub use state::AppState;

/// Limits a client cannot exceed.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body; the ledger refuses payloads over 1 MiB anyway.
    pub body_bytes: usize,
    /// Longest a request may take before it is answered 408.
    pub timeout: Duration,
    /// Longest a client may take to send a request's headers, including the
    /// wait for the next request on a kept-alive connection: a client that
    /// trickles a header line every few seconds is cut off (issue 15, 5).
    pub header_timeout: Duration,
    /// Most connections served at once; a connection over the cap waits in
    /// the listen queue until one ends (D57).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 1 << 20,
            timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
        }
    }
}

async fn not_found(uri: Uri) -> Response {
    let e = ApiError::NotFound(format!("no such route: {}", uri.path()));
    if uri.path().starts_with("/api/") {
        e.into_response()
    } else {
        pages::error_page(&e)
    }
}

/// The policy every response carries: nothing inline, nothing from another
/// origin, forms only to this one, and no framing (D55).
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the protective headers to every response, pages, API, 404 and 408
/// alike: one layer outside all routes, so no handler can forget them.
async fn protective_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    res
}

/// The whole service over one ledger.
pub fn router(state: Arc<AppState>, limits: &Limits) -> Router {
    layered(routes(state), limits)
}

/// Every route of one ledger, on `state`, without the limits and headers:
/// the home ledger's at `/`, each other ledger's nested under
/// `/ledgers/{name}` (D112), so that the layers are applied once, outside.
pub(crate) fn routes(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .merge(api::routes())
        .merge(pages::routes())
        .merge(tiles::routes())
        .merge(forms::routes())
        .merge(search::routes())
        .merge(print::routes())
        .merge(import::routes())
        .merge(export::routes())
        .merge(congress::routes())
        .fallback(not_found)
        .with_state(state)
}

/// The limits and the protective headers around `routes`.
pub(crate) fn layered(routes: Router, limits: &Limits) -> Router {
    routes
        .layer(DefaultBodyLimit::max(limits.body_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.timeout,
        ))
        .layer(axum::middleware::map_response(protective_headers))
}

/// Serves on `listener` until `shutdown` resolves. Verifies the ledger in
/// the background first, so that the badge has something to say.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_ledgers(listener, Arc::new(Ledgers::single(state)), limits, shutdown).await
}

/// Serves every ledger of `ledgers` on `listener` until `shutdown`
/// resolves (D112): the home one at `/`, the others under
/// `/ledgers/{name}`. Each is verified in the background first, on its own.
pub async fn serve_ledgers(
    listener: tokio::net::TcpListener,
    ledgers: Arc<Ledgers>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    for (name, state) in ledgers.all() {
        let (name, state) = (name.to_string(), state.clone());
        tokio::spawn(async move {
            match queries::run_verify(&state).await {
                Ok(v) if v.ok => {
                    tracing::info!(ledger = %name, checked = v.checked, "ledger verified")
                }
                Ok(v) => {
                    tracing::error!(ledger = %name, fault = ?v.fault, "ledger does NOT verify")
                }
                Err(e) => tracing::error!(ledger = %name, error = %e, "verification could not run"),
            }
        });
    }
    let app = ledgers::router(ledgers, &limits);
    let permits = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder =
        hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        // A permit first: over the cap, connections wait in the kernel's
        // listen queue rather than each holding a task and a socket here.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let service = hyper_util::service::TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer))),
        );
        let connection = builder
            .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended");
            }
            drop(permit);
        });
    }
    graceful.shutdown().await;
    Ok(())
}
