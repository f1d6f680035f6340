//! `POST /api/verify` as a background job (issue 18, item 3; D87): verifying
//! a large ledger takes minutes, longer than a request should be held (and
//! than the server's request timeout), so the request starts the job, or
//! joins the one running, and answers 202 at once; `GET /api/verify/job`
//! says how far it has got (events checked of the head when it started) and,
//! once done, what it found. `?wait=true` keeps the old answer for scripts:
//! it waits for the job and returns its outcome. One job runs at a time
//! (the state's `verifying` lock, as before); its outcome also becomes the
//! badge's.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use jishi_ledger::verify::Progress;
use serde::Serialize;
use tokio::sync::watch;

use crate::error::ApiError;
use crate::queries;
use crate::state::{AppState, Verified};

/// One verification started through the API.
#[derive(Debug)]
pub struct VerifyJob {
    pub id: u64,
    pub started_at: String,
    /// Who asked for it (the first asker, when others joined).
    pub started_by: String,
    total: AtomicU64,
    checked: AtomicU64,
    /// `None` while running; then the outcome, or why it could not run.
    done: watch::Sender<Option<Result<Verified, String>>>,
}

/// What `GET /api/verify/job` answers.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub id: u64,
    /// `running`, `done` or `failed` (it could not run: a store error).
    pub state: &'static str,
    pub started_at: String,
    pub started_by: String,
    /// Events checked so far, of `total` (the head when it started).
    pub checked: u64,
    pub total: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<Verified>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl VerifyJob {
    pub fn status(&self) -> JobStatus {
        let outcome = self.done.borrow().clone();
        let (state, result, error) = match outcome {
            None => ("running", None, None),
            Some(Ok(v)) => ("done", Some(v), None),
            Some(Err(e)) => ("failed", None, Some(e)),
        };
        JobStatus {
            id: self.id,
            state,
            started_at: self.started_at.clone(),
            started_by: self.started_by.clone(),
            checked: self.checked.load(Ordering::Relaxed),
            total: self.total.load(Ordering::Relaxed),
            result,
            error,
        }
    }

    /// Waits until the job has finished; its outcome.
    pub async fn finished(&self) -> Result<Verified, ApiError> {
        let mut rx = self.done.subscribe();
        let outcome = rx
            .wait_for(Option::is_some)
            .await
            .map_err(|_| ApiError::Internal("the verification job was dropped".into()))?
            .clone();
        match outcome {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(ApiError::Internal(e)),
            None => Err(ApiError::Internal(
                "the verification job did not finish".into(),
            )),
        }
    }

    fn running(&self) -> bool {
        self.done.borrow().is_none()
    }
}

/// The verification's progress, as the job reports it.
struct Counting(Arc<VerifyJob>);

impl Progress for Counting {
    fn start(&self, total: u64) {
        self.0.total.store(total, Ordering::Relaxed);
    }
    fn advance(&self, done: u64) {
        self.0.checked.store(done, Ordering::Relaxed);
    }
}

/// Starts a verification in the background, or returns the one running.
pub async fn start(state: &Arc<AppState>, by: &str) -> Arc<VerifyJob> {
    let mut slot = state.verify_job.lock().await;
    if let Some(job) = slot.as_ref().filter(|j| j.running()) {
        return job.clone();
    }
    let job = Arc::new(VerifyJob {
        id: slot.as_ref().map_or(1, |j| j.id + 1),
        started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        started_by: by.to_string(),
        total: AtomicU64::new(0),
        checked: AtomicU64::new(0),
        done: watch::channel(None).0,
    });
    *slot = Some(job.clone());
    let (state, running) = (state.clone(), job.clone());
    tokio::spawn(async move {
        let outcome = queries::run_verify_with(&state, &Counting(running.clone()))
            .await
            .map_err(|e| e.to_string());
        running.done.send_replace(Some(outcome));
    });
    job
}

/// The newest job, if one was started.
pub async fn latest(state: &AppState) -> Option<Arc<VerifyJob>> {
    state.verify_job.lock().await.clone()
}
