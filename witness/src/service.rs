//! The witness's one call, `POST <prefix>/add-checkpoint`, answered as
//! c2sp.org/tlog-witness says, check by check, in the spec's order.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use jishi_ledger::evidence::SplitView;
use jishi_ledger::merkle::{empty_root, first_root_from_consistency, verify_consistency};
use jishi_ledger::{Checkpoint, Note, SignerKey, Suite, VerifierKey};
use tokio::sync::Mutex;

use crate::request::AddCheckpoint;
use crate::state::{LogState, WitnessState};

/// The content type of a 409 answer's body, the size the witness holds.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The largest request body taken: a note is at most about 1 MiB.
const MAX_BODY: usize = 1 << 20;

/// What the operator configures.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    /// The witness's key: a `cosignature-v1` key, so that its lines are
    /// C2SP `cosignature/v1` lines (type 0x04, timestamped).
    pub key: SignerKey,
    /// The logs it witnesses: each key's name is the log's origin.
    pub logs: Vec<VerifierKey>,
    /// Where `state.json` and `evidence/` live.
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
    fn text(status: u16, body: impl Into<String>) -> Reply {
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

/// A running witness. The state lock is held from the old-size check to the
/// durable write of the new state, so two requests cannot interleave (the
/// race the spec describes, which would roll a log back).
pub struct Witness {
    cfg: WitnessConfig,
    state: Mutex<WitnessState>,
}

impl Witness {
    /// Opens the state directory (creating it and `evidence/`), reading the
    /// state a previous run left.
    pub fn open(cfg: WitnessConfig) -> std::io::Result<Witness> {
        if cfg.key.suite() != Suite::Cosignature {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the witness key {:?} is a {} key; a witness signs C2SP cosignature/v1 lines \
                     with a cosignature-v1 key (`jishi keygen NAME --suite cosignature-v1`)",
                    cfg.key.name(),
                    cfg.key.suite()
                ),
            ));
        }
        std::fs::create_dir_all(cfg.state_dir.join("evidence"))?;
        let state = WitnessState::load(&cfg.state_dir)?;
        Ok(Witness {
            cfg,
            state: Mutex::new(state),
        })
    }

    /// The witness's public key, as verifiers configure it.
    pub fn verifier(&self) -> VerifierKey {
        self.cfg.key.verifier()
    }

    /// Answers one `add-checkpoint` body.
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
        // "If the checkpoint origin is unknown, the witness MUST respond with
        // a 404 Not Found."
        let keys: Vec<VerifierKey> = self
            .cfg
            .logs
            .iter()
            .filter(|k| k.name() == origin)
            .cloned()
            .collect();
        if keys.is_empty() {
            return Reply::text(404, format!("this witness does not follow log {origin:?}"));
        }
        // "If none of the signatures verify against a trusted public key, the
        // witness MUST respond with a 403 Forbidden."
        if let Err(e) = note.verify(&keys) {
            return Reply::text(403, format!("the log's signature: {e}"));
        }
        let checkpoint = match Checkpoint::from_body(note.text()) {
            Ok(c) => c,
            Err(e) => return Reply::text(400, format!("the checkpoint body: {e}")),
        };
        // "The old size MUST be equal to or lower than the checkpoint size.
        // Otherwise, the witness MUST respond with a 400 Bad Request."
        if req.old > checkpoint.size {
            return Reply::text(
                400,
                format!(
                    "old size {} is above the checkpoint's size {}",
                    req.old, checkpoint.size
                ),
            );
        }
        let mut state = self.state.lock().await;
        let held = state.logs.get(origin).cloned();
        let (held_size, held_root) = held
            .as_ref()
            .map_or((0, empty_root()), |h| (h.size, h.root));
        // "The witness MUST check that the old size matches the size of the
        // latest checkpoint it cosigned ... If it doesn't match, ... 409
        // Conflict ... the tree size of the latest cosigned checkpoint."
        if req.old != held_size {
            return Reply {
                status: 409,
                content_type: SIZE_CONTENT_TYPE,
                body: format!("{held_size}\n"),
            };
        }
        // "If the old size matches the checkpoint size, the witness MUST check
        // that the root hashes are also identical ... 409 Conflict." The
        // same root with another stream map is refused too: of two maps
        // of the same events, one is false (FORMAT-merkle.md §12.2).
        let held_checkpoint = held
            .as_ref()
            .and_then(|h| Note::parse(&h.checkpoint).ok())
            .and_then(|n| Checkpoint::from_body(n.text()).ok());
        if req.old == checkpoint.size
            && (held_root != checkpoint.root
                || held_checkpoint.is_some_and(|h| h.contradicts(&checkpoint)))
        {
            if let Some(h) = &held {
                self.keep_evidence(SplitView::new(
                    &h.checkpoint,
                    &req.note,
                    h.size,
                    checkpoint.size,
                    None,
                    Vec::new(),
                ));
            }
            return Reply {
                status: 409,
                content_type: SIZE_CONTENT_TYPE,
                body: format!("{held_size}\n"),
            };
        }
        // "The proof MUST be empty if the old size is zero. If the Merkle
        // Consistency Proof doesn't verify, ... 422 Unprocessable Entity."
        let held_note = held.as_ref().map(|h| h.checkpoint.as_str());
        if let Err(text) = check_consistency(
            &self.cfg.state_dir,
            held_note,
            (held_size, &held_root),
            &checkpoint,
            &req,
        ) {
            return Reply::text(422, text);
        }
        // Cosign, persist, then answer: never a cosignature for a state that
        // is not on disk.
        let mut cosigned = note.without_signatures_of(&self.cfg.key.verifier());
        if let Err(e) = cosigned.add_signature(&self.cfg.key) {
            return Reply::text(400, format!("cosigning: {e}"));
        }
        let Some(line) = cosigned.signatures().last().map(|s| s.to_line()) else {
            return Reply::text(500, "no cosignature was made");
        };
        let mut next = state.clone();
        next.logs.insert(
            origin.to_string(),
            LogState {
                size: checkpoint.size,
                root: checkpoint.root,
                checkpoint: req.note.clone(),
            },
        );
        if let Err(e) = next.store(&self.cfg.state_dir) {
            tracing::error!("writing the witness state: {e}");
            return Reply::text(
                500,
                "the witness could not store its state; nothing was cosigned",
            );
        }
        *state = next;
        Reply {
            status: 200,
            content_type: "text/plain; charset=utf-8",
            body: line,
        }
    }

    /// Writes a proven split view to `evidence/`, named by time and size.
    fn keep_evidence(&self, ev: SplitView) {
        self.write_evidence("split-view", ev.to_json());
    }

    fn write_evidence(&self, kind: &str, text: String) {
        write_evidence(&self.cfg.state_dir, kind, text);
    }
}

/// A `jishi-witness-refusal/1` record (docs/FORMAT-merkle.md §12.4): the
/// held note, the submitted one and its proof, and why it was refused. The
/// mirror keeps the same records, so one reader serves both.
pub fn refusal_record(held: &str, req: &AddCheckpoint, why: &str) -> String {
    let record = serde_json::json!({
        "format": "jishi-witness-refusal/1",
        "held": held,
        "submitted": req.note,
        "old": req.old,
        "proof": req.proof,
        "reason": why,
    });
    format!("{record:#}\n")
}

/// Writes an evidence file into `dir/evidence/`, named by the time in
/// nanoseconds and its kind (`split-view` or `refusal`). A failure is
/// logged, not answered: the refusal stands whether or not it was kept.
/// The `add-checkpoint` consistency check that a witness and a mirror
/// share. It passes when `req`'s proof takes the held tree (`held`: size and
/// root) to `checkpoint`. When the proof does not verify, the request is kept
/// in `dir` as evidence: a split view when the proof implies another root
/// for the held size, and a refusal otherwise. The error is then the text of
/// the 422 answer. "the witness MAY log the request even if the
/// consistency proof doesn't verify ... as it might be proof of log
/// misbehavior." There is nothing to keep when nothing is held (`held_note`
/// is `None`).
pub fn check_consistency(
    dir: &std::path::Path,
    held_note: Option<&str>,
    held: (u64, &jishi_ledger::Digest),
    checkpoint: &Checkpoint,
    req: &AddCheckpoint,
) -> Result<(), String> {
    let (held_size, held_root) = held;
    let Err(e) = verify_consistency(
        held_size,
        checkpoint.size,
        held_root,
        &checkpoint.root,
        &req.proof,
    ) else {
        return Ok(());
    };
    if let Some(note) = held_note {
        let implied =
            first_root_from_consistency(held_size, checkpoint.size, &checkpoint.root, &req.proof);
        match implied.filter(|r| r != held_root) {
            Some(root) => {
                let ev = SplitView::new(
                    note,
                    &req.note,
                    held_size,
                    checkpoint.size,
                    Some(root),
                    req.proof.clone(),
                );
                write_evidence(dir, "split-view", ev.to_json());
            }
            None => write_evidence(dir, "refusal", refusal_record(note, req, &e.to_string())),
        }
    }
    Err(format!(
        "the consistency proof from size {held_size} to {} does not verify: {e}",
        checkpoint.size
    ))
}

pub fn write_evidence(dir: &std::path::Path, kind: &str, text: String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let path = dir.join("evidence").join(format!("{now}-{kind}.json"));
    if let Err(e) = std::fs::write(&path, text) {
        tracing::error!("writing evidence {}: {e}", path.display());
    } else {
        tracing::warn!("kept {kind} evidence in {}", path.display());
    }
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: Bytes) -> Response {
    let r = w.add_checkpoint(&body).await;
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, r.content_type)], r.body).into_response()
}

/// The witness's routes under `prefix` (`""` for the root).
pub fn router(w: Arc<Witness>, prefix: &str) -> Router {
    Router::new()
        .route(&format!("{prefix}/add-checkpoint"), post(add_checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(w)
}

/// Serves the witness on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, w: Arc<Witness>) -> std::io::Result<()> {
    axum::serve(listener, router(w, "")).await
}
