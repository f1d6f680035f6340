//! One error type for every handler, and how each kind answers: the status
//! code, and a JSON body that names the field and the reason, so that a
//! client (or a person reading a log) knows what to change. Whatever the
//! error, nothing was written by the request that got it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use jishi_app::users::UserError;
use jishi_app::views::ViewError;
use jishi_app::RecordError;
use jishi_ledger::AppendError;
use jishi_projections::{CommandError, Refusal};
use serde_json::json;

use crate::policy::Denied;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in: send `Authorization: Bearer <token>` (a token from `jishi user add`)")]
    Unauthenticated,
    /// A real token whose time is up: the message says whom to ask (D49).
    #[error("{0}")]
    TokenExpired(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error("{field}: {reason}")]
    BadRequest { field: String, reason: String },
    #[error("{0}")]
    NotFound(String),
    #[error("the request body is larger than this server accepts ({0})")]
    TooLarge(String),
    /// The procedure refuses the act: the rule, and its source in the seeds.
    #[error("{refusal}")]
    Refused { refusal: Refusal },
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad(field: impl Into<String>, reason: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::TokenExpired(_) => StatusCode::UNAUTHORIZED,
            ApiError::Denied(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Refused { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::TokenExpired(_) => "token_expired",
            ApiError::Denied(_) => "forbidden",
            ApiError::BadRequest { .. } => "bad_request",
            ApiError::NotFound(_) => "not_found",
            ApiError::TooLarge(_) => "too_large",
            ApiError::Refused { .. } => "refused",
            ApiError::Conflict(_) => "conflict",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The JSON body: `{"error": {"status", "code", "message", "field"?, "rule"?, "source"?}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut e = json!({
            "status": self.status().as_u16(),
            "code": self.code(),
            "message": self.to_string(),
        });
        match self {
            ApiError::BadRequest { field, reason } => {
                e["field"] = json!(field);
                e["reason"] = json!(reason);
            }
            ApiError::Refused { refusal } => {
                if let Some(rule) = refusal.rule() {
                    e["rule"] = json!(rule.as_str());
                    e["source"] = json!(rule.source().to_string());
                }
            }
            _ => {}
        }
        json!({ "error": e })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<CommandError> for ApiError {
    fn from(e: CommandError) -> Self {
        match &e {
            CommandError::Field { field, reason, .. } => ApiError::bad(field, reason),
            CommandError::UnknownKind { .. } => ApiError::bad("kind", e.to_string()),
            _ => ApiError::bad("body", e.to_string()),
        }
    }
}

impl From<AppendError> for ApiError {
    fn from(e: AppendError) -> Self {
        match e {
            AppendError::Invalid(f) => ApiError::bad(f.field, f.reason),
            AppendError::Conflict { .. }
            | AppendError::ScopeChanged { .. }
            | AppendError::EventIdReused { .. } => ApiError::Conflict(e.to_string()),
            AppendError::Store(s) => ApiError::Internal(s.to_string()),
            AppendError::Unattested(m) => ApiError::Internal(m),
        }
    }
}

impl From<RecordError> for ApiError {
    fn from(e: RecordError) -> Self {
        match e {
            RecordError::Refused(refusal) => match refusal {
                Refusal::Invalid { field, reason } => ApiError::bad(field, reason),
                refusal => ApiError::Refused { refusal },
            },
            RecordError::Procedure(p) => ApiError::bad("procedure", p.to_string()),
            // The server never passes a procedure file; kept total.
            RecordError::ProcedureDiffers { .. } => ApiError::bad("procedure", e.to_string()),
            RecordError::Ledger(a) => a.into(),
            RecordError::Busy(_) | RecordError::IdTaken(_) => ApiError::Conflict(e.to_string()),
            RecordError::Store(_) | RecordError::Undecodable { .. } => {
                ApiError::Internal(e.to_string())
            }
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::AsOf(_) => ApiError::bad("as_of", e.to_string()),
            ViewError::UnknownCandidate(_)
            | ViewError::UnknownElection(_)
            | ViewError::NoCandidateEvents { .. } => ApiError::NotFound(e.to_string()),
            ViewError::Record(r) => r.into(),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::Field { field, reason } => ApiError::bad(field, reason),
            UserError::Exists(_) | UserError::AlreadyRevoked(_) | UserError::Revoked(_) => {
                ApiError::Conflict(e.to_string())
            }
            UserError::Unknown(_) => ApiError::NotFound(e.to_string()),
            UserError::Append(a) => a.into(),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<jishi_ledger::StoreError> for ApiError {
    fn from(e: jishi_ledger::StoreError) -> Self {
        ApiError::Internal(e.to_string())
    }
}
