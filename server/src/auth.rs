//! Who is asking. The JSON API takes only `Authorization: Bearer <token>`;
//! the pages take only the `jishi_token` cookie set by the sign-in form
//! (HttpOnly, SameSite=Strict). Keeping the two apart means a page in another
//! site can never make a browser send an API write with the cookie (no CSRF
//! surface), and a script never needs the cookie.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use jishi_app::users::User;

use crate::error::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "jishi_token";

/// The authenticated user of an API request.
pub struct ApiUser(pub Arc<User>);

// Generic over the router's state so that the routes across ledgers
// (D112), whose state is every ledger, authenticate against the home one.
impl<S> FromRequestParts<S> for ApiUser
where
    S: Send + Sync,
    Arc<AppState>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = Arc::<AppState>::from_ref(state);
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::Unauthenticated)?;
        Ok(ApiUser(state.user_by_token(token).await?))
    }
}

/// The signed-in user of a page; anyone else is sent to the sign-in page.
pub struct PageUser(pub Arc<User>);

/// The token in the request's cookie, if any.
pub fn cookie_token(parts: &Parts) -> Option<String> {
    cookie_token_of(&parts.headers)
}

/// The session token in these headers' cookie, if any.
pub fn cookie_token_of(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::csrf::cookie(headers, COOKIE)
}

// Generic over the router's state so that the routes across ledgers
// (D112), whose state is every ledger, authenticate against the home one.
impl<S> FromRequestParts<S> for PageUser
where
    S: Send + Sync,
    Arc<AppState>: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = Arc::<AppState>::from_ref(state);
        let Some(token) = cookie_token(parts) else {
            return Err(Redirect::to("/signin").into_response());
        };
        match state.user_by_token(&token).await {
            Ok(u) => Ok(PageUser(u)),
            // A revoked, rotated-away or expired token signs the page out.
            Err(ApiError::Unauthenticated | ApiError::TokenExpired(_)) => {
                Err(Redirect::to("/signin").into_response())
            }
            Err(e) => Err(crate::pages::error_page(&e)),
        }
    }
}
