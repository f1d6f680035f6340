//! The mirror service: its configuration, `add-checkpoint` (a witness's
//! checks, updating the *pending* checkpoint and cosigning nothing), and the
//! routes. `add-entries` and the envelope companion are in
//! [`crate::entries`], the tiles in [`crate::tiles`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use jishi_ledger::evidence::SplitView;
use jishi_ledger::merkle::empty_root;
use jishi_ledger::{Checkpoint, Note, SignerKey, Suite, VerifierKey};
use jishi_witness::{check_consistency, write_evidence, AddCheckpoint};
use tokio::sync::Mutex;

use crate::store::{MirrorStore, Pending};
use crate::wire::origin_hash;

/// The content type of a 409 answer to `add-checkpoint`: the size held.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The largest `add-checkpoint` body taken, as for the witness.
const MAX_CHECKPOINT_BODY: usize = 1 << 20;

/// One log the mirror follows.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// The log's key; its name is the log's origin.
    pub key: VerifierKey,
    /// A jishi log: every entry is an event hash whose envelope must be
    /// uploaded and checked first (`jishi/add-envelopes`). Without it the
    /// mirror takes any C2SP log's entries as opaque bytes.
    pub events: bool,
}

/// What the operator configures.
#[derive(Debug, Clone)]
pub struct MirrorConfig {
    /// The mirror's key: a `cosignature-v1` key, with a name of its own
    /// (never a witness's: the two statements differ).
    pub key: SignerKey,
    pub logs: Vec<LogConfig>,
    /// Where `mirror.db` and `evidence/` live.
    pub state_dir: PathBuf,
}

/// An answer: status, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub(crate) fn text(status: u16, body: impl Into<String>) -> Reply {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

/// A running mirror.
pub struct Mirror {
    pub(crate) cfg: MirrorConfig,
    pub(crate) store: MirrorStore,
    /// By origin hash, for the monitoring paths.
    pub(crate) by_hash: HashMap<String, String>,
    /// Held from the pending size check to the durable write of a new
    /// pending checkpoint (the witness's race, on the pending checkpoint).
    pub(crate) pending_lock: Mutex<()>,
    /// Held while the mirror checkpoint is compared and replaced, so that
    /// two uploads finishing together cannot rewind it.
    pub(crate) commit_lock: Mutex<()>,
}

impl Mirror {
    /// Opens the state directory (creating it and `evidence/`) and the store.
    pub fn open(cfg: MirrorConfig) -> std::io::Result<Mirror> {
        if cfg.key.suite() != Suite::Cosignature {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the mirror key {:?} is a {} key; a mirror signs C2SP cosignature/v1 lines \
                     with a cosignature-v1 key (`jishi keygen NAME --suite cosignature-v1`)",
                    cfg.key.name(),
                    cfg.key.suite()
                ),
            ));
        }
        if let Some(l) = cfg.logs.iter().find(|l| l.key.name() == cfg.key.name()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the mirror's key name {:?} is the origin of a log it mirrors",
                    l.key.name()
                ),
            ));
        }
        std::fs::create_dir_all(cfg.state_dir.join("evidence"))?;
        let store = MirrorStore::open(&cfg.state_dir.join("mirror.db"))
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let by_hash = cfg
            .logs
            .iter()
            .map(|l| (origin_hash(l.key.name()), l.key.name().to_string()))
            .collect();
        Ok(Mirror {
            cfg,
            store,
            by_hash,
            pending_lock: Mutex::new(()),
            commit_lock: Mutex::new(()),
        })
    }

    /// The mirror's public key, as verifiers configure it.
    pub fn verifier(&self) -> VerifierKey {
        self.cfg.key.verifier()
    }

    pub(crate) fn log(&self, origin: &str) -> Option<&LogConfig> {
        self.cfg.logs.iter().find(|l| l.key.name() == origin)
    }

    /// Answers one `add-checkpoint` body, as a witness would, on the
    /// pending checkpoint; a 200 has an empty body (nothing is cosigned).
    pub async fn add_checkpoint(&self, body: &[u8]) -> Reply {
        let req = match AddCheckpoint::parse(body) {
            Ok(r) => r,
            Err(e) => return Reply::text(400, e.to_string()),
        };
        let note = match Note::parse(&req.note) {
            Ok(n) => n,
            Err(e) => return Reply::text(400, format!("the checkpoint note: {e}")),
        };
        let origin = note.text().split('\n').next().unwrap_or_default();
        let Some(log) = self.log(origin) else {
            return Reply::text(404, format!("this mirror does not follow log {origin:?}"));
        };
        if let Err(e) = note.verify(std::slice::from_ref(&log.key)) {
            return Reply::text(403, format!("the log's signature: {e}"));
        }
        let checkpoint = match Checkpoint::from_body(note.text()) {
            Ok(c) => c,
            Err(e) => return Reply::text(400, format!("the checkpoint body: {e}")),
        };
        if req.old > checkpoint.size {
            return Reply::text(
                400,
                format!(
                    "old size {} is above the checkpoint's size {}",
                    req.old, checkpoint.size
                ),
            );
        }
        let _guard = self.pending_lock.lock().await;
        let held = match self.store.latest_pending(origin) {
            Ok(h) => h,
            Err(e) => return Reply::text(500, e.to_string()),
        };
        let (held_size, held_root) = held
            .as_ref()
            .map_or((0, empty_root()), |h| (h.size, h.root));
        let size_reply = || Reply {
            status: 409,
            content_type: SIZE_CONTENT_TYPE,
            body: format!("{held_size}\n"),
        };
        if req.old != held_size {
            return size_reply();
        }
        let held_checkpoint = held
            .as_ref()
            .and_then(|h| Note::parse(&h.note).ok())
            .and_then(|n| Checkpoint::from_body(n.text()).ok());
        if req.old == checkpoint.size
            && (held_root != checkpoint.root
                || held_checkpoint.is_some_and(|h| h.contradicts(&checkpoint)))
        {
            if let Some(h) = &held {
                let ev = SplitView::new(&h.note, &req.note, h.size, checkpoint.size, None, vec![]);
                write_evidence(&self.cfg.state_dir, "split-view", ev.to_json());
            }
            return size_reply();
        }
        if let Err(text) = check_consistency(
            &self.cfg.state_dir,
            held.as_ref().map(|h| h.note.as_str()),
            (held_size, &held_root),
            &checkpoint,
            &req,
        ) {
            return Reply::text(422, text);
        }
        let pending = Pending {
            size: checkpoint.size,
            root: checkpoint.root,
            note: req.note.clone(),
        };
        if let Err(e) = self.store.insert_pending(origin, &pending) {
            tracing::error!("storing a pending checkpoint: {e}");
            return Reply::text(500, "the mirror could not store the pending checkpoint");
        }
        Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
        }
    }
}

fn respond(r: Reply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

async fn add_checkpoint(State(m): State<Arc<Mirror>>, body: Bytes) -> Response {
    respond(m.add_checkpoint(&body).await)
}

fn is_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"))
}

async fn add_entries(State(m): State<Arc<Mirror>>, headers: HeaderMap, body: Body) -> Response {
    let mut r = respond(m.add_entries(body, is_gzip(&headers)).await);
    r.headers_mut().insert(
        header::ACCEPT_ENCODING,
        header::HeaderValue::from_static("gzip"),
    );
    r
}

async fn add_envelopes(State(m): State<Arc<Mirror>>, headers: HeaderMap, body: Body) -> Response {
    respond(m.add_envelopes(body, is_gzip(&headers)).await)
}

async fn checkpoint(State(m): State<Arc<Mirror>>, Path(hash): Path<String>) -> Response {
    m.serve_checkpoint(&hash)
}

async fn tile(
    State(m): State<Arc<Mirror>>,
    Path((hash, path)): Path<(String, String)>,
) -> Response {
    m.serve_tile(&hash, &format!("tile/{path}"))
}

/// The mirror's routes: submission and monitoring under one prefix.
pub fn router(m: Arc<Mirror>) -> Router {
    Router::new()
        .route(
            "/add-checkpoint",
            post(add_checkpoint).layer(DefaultBodyLimit::max(MAX_CHECKPOINT_BODY)),
        )
        .route("/add-entries", post(add_entries))
        .route("/jishi/add-envelopes", post(add_envelopes))
        .route("/{hash}/checkpoint", get(checkpoint))
        .route("/{hash}/tile/{*path}", get(tile))
        .with_state(m)
}

/// Serves the mirror on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, m: Arc<Mirror>) -> std::io::Result<()> {
    axum::serve(listener, router(m)).await
}
