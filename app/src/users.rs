//! The people who may use the server, kept in the ledger itself.
//!
//! A user is a `user.added` event in the stream `user/<id>` (and a
//! `user.revoked` event ends it). Keeping users in the chain rather than in a
//! side table means a hostile DBA cannot slip in an account with a token of
//! their own choosing without breaking `jishi verify`, and every account has
//! an author (the admin who added it) and a time (DESIGN.md §3, D31).
//!
//! Only the SHA-256 of a token is stored: the token itself is shown once, to
//! the admin who adds the user, and cannot be recovered from the ledger. The
//! token is 256 random bits, so its hash needs no salt or slow KDF.

use std::collections::{BTreeMap, HashMap};

use jishi_ledger::{AppendError, EventStore, ExpectedVersion, StoreError};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::{append_one, plain_event};

/// The streams of users are `user/<id>`.
pub const USER_PREFIX: &str = "user";
pub const USER_ADDED: &str = "user.added";
pub const USER_REVOKED: &str = "user.revoked";
pub const USER_TOKEN_ROTATED: &str = "user.token_rotated";
/// A token's lifetime unless told otherwise, and the lifetime of a token
/// recorded before tokens had one (counted from its `recorded_at`, D49): long
/// enough not to burden a term's work, short enough that a token forgotten in
/// a script or a laptop dies on its own.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
/// The longest lifetime a token may be given: a token that never dies is the
/// risk this bounds.
pub const MAX_TOKEN_DAYS: u32 = 3_660;
/// Tokens start with this, so that a leaked one is recognisable in a log.
pub const TOKEN_PREFIX: &str = "jst_";

/// What a user may do on the server (issue 7). The *acting role* on events a
/// user records is a separate field, [`User::acts_as`], a role of the
/// procedure (e.g. `organisation_department`), which the domain checks (R11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccessRole {
    /// An organisation department: records steps for its own organisation
    /// and below, and reads those elections.
    Recorder,
    /// Discipline inspection: reads trails in its organisation and below,
    /// records its opinions and the handling of petitions.
    Inspector,
    /// Accountability investigation: reads everything, exports cases; records
    /// nothing of the procedure.
    Investigator,
    /// System administration: users, keys (checkpoints), overrides.
    Admin,
}

impl AccessRole {
    pub const ALL: [AccessRole; 4] = [
        AccessRole::Recorder,
        AccessRole::Inspector,
        AccessRole::Investigator,
        AccessRole::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessRole::Recorder => "recorder",
            AccessRole::Inspector => "inspector",
            AccessRole::Investigator => "investigator",
            AccessRole::Admin => "admin",
        }
    }

    /// Chinese and English, for pages.
    pub fn label(self) -> &'static str {
        match self {
            AccessRole::Recorder => "组织部门 recorder",
            AccessRole::Inspector => "纪检监察 inspector",
            AccessRole::Investigator => "责任倒查 investigator",
            AccessRole::Admin => "系统管理员 admin",
        }
    }

    /// The procedure role a user of this kind acts as unless told otherwise.
    pub fn default_acts_as(self) -> &'static str {
        match self {
            AccessRole::Recorder => "organisation_department",
            AccessRole::Inspector => "discipline_inspection",
            AccessRole::Investigator => "investigator",
            AccessRole::Admin => "admin",
        }
    }
}

impl std::str::FromStr for AccessRole {
    type Err = UserError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessRole::ALL
            .into_iter()
            .find(|r| r.as_str() == s.trim())
            .ok_or_else(|| UserError::Field {
                field: "role",
                reason: format!(
                    "{s:?} is not a role; one of: recorder, inspector, investigator, admin"
                ),
            })
    }
}

impl std::fmt::Display for AccessRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The payload of `user.added`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAdded {
    pub user_id: String,
    pub name: String,
    pub role: AccessRole,
    /// `/`-separated organisation path, e.g. `天元区/青山镇`.
    pub org: String,
    /// The procedure role stamped on the events this user records.
    pub acts_as: String,
    /// Lower-case hex SHA-256 of the token.
    pub token_sha256: String,
    /// When the token stops working (RFC 3339). Absent on users recorded
    /// before tokens expired: those expire [`DEFAULT_TOKEN_DAYS`] after the
    /// event's `recorded_at` (D49).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// The payload of `user.token_rotated`: the user's new token, which replaces
/// the old one at once (D49).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRotated {
    pub user_id: String,
    pub token_sha256: String,
    pub expires_at: String,
}

/// The payload of `user.revoked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRevoked {
    pub user_id: String,
    pub reason: String,
}

/// A user as the ledger says it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: AccessRole,
    pub org: String,
    pub acts_as: String,
    #[serde(skip)]
    pub token_sha256: String,
    /// Position of the `user.added` event.
    pub added_at: u64,
    /// Who added the user (the ledger actor's id).
    pub added_by: String,
    pub revoked: bool,
    /// When the current token stops working (RFC 3339, UTC).
    pub expires_at: String,
}

/// Why a token does not authenticate. Kept apart so that the server can tell
/// the holder of an expired token what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefused {
    /// No user has this token now (never had, revoked, or rotated away).
    Unknown,
    /// The token is its user's current one, but its time is up.
    Expired { user_id: String, at: String },
}

impl User {
    /// The actor stamped on every event this user causes: never a field the
    /// client sends.
    pub fn actor(&self) -> jishi_ledger::Actor {
        jishi_ledger::Actor {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.acts_as.clone(),
            org: self.org.clone(),
        }
    }
}

/// What an admin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub id: String,
    pub name: String,
    pub role: AccessRole,
    pub org: String,
    #[serde(default)]
    pub acts_as: Option<String>,
}

/// Why a user could not be added or revoked, or the users not read. Nothing
/// was written in any case.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("{field}: {reason}")]
    Field { field: &'static str, reason: String },
    #[error("user {0:?} is revoked; its token cannot be rotated")]
    Revoked(String),
    #[error("user {0:?} already exists (a revoked id is not reused)")]
    Exists(String),
    #[error("user {0:?} does not exist")]
    Unknown(String),
    #[error("user {0:?} is already revoked")]
    AlreadyRevoked(String),
    #[error("position {position}: a {event_type} event is unreadable: {reason}")]
    Corrupt {
        position: u64,
        event_type: String,
        reason: String,
    },
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Lower-case hex SHA-256 of a token.
pub fn token_sha256(token: &str) -> String {
    Sha256::digest(token.trim().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new random token: the prefix and 256 bits from the OS, in hex.
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TOKEN_PREFIX}{hex}")
}

fn check_id(id: &str) -> Result<(), UserError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(UserError::Field {
            field: "id",
            reason: format!("{id:?}: use 1–64 letters, digits, '-', '_' or '.'"),
        })
    }
}

fn non_empty(field: &'static str, value: &str) -> Result<(), UserError> {
    if value.trim().is_empty() {
        Err(UserError::Field {
            field,
            reason: "must not be empty".into(),
        })
    } else {
        Ok(())
    }
}

fn user_stream(id: &str) -> String {
    format!("{USER_PREFIX}/{id}")
}

/// When a token given `days` of life from `now` expires, after checking
/// `days` (named `field` in the error).
pub fn expiry_in(
    field: &'static str,
    days: u32,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, UserError> {
    if days == 0 || days > MAX_TOKEN_DAYS {
        return Err(UserError::Field {
            field,
            reason: format!("{days}: give 1 to {MAX_TOKEN_DAYS} days"),
        });
    }
    Ok(now + chrono::Duration::days(i64::from(days)))
}

fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Adds a user whose token lives [`DEFAULT_TOKEN_DAYS`], and returns it with
/// its token (the only time the token exists outside the caller's hands).
/// `by` is the admin who adds it.
pub async fn add_user(
    store: &dyn EventStore,
    by: &jishi_ledger::Actor,
    new: NewUser,
) -> Result<(User, String), UserError> {
    let until = expiry_in("expires_days", DEFAULT_TOKEN_DAYS, chrono::Utc::now())?;
    add_user_until(store, by, new, until).await
}

/// [`add_user`] with the token's expiry given. A time in the past is allowed
/// (the user is then recorded and cannot sign in until rotated), which is
/// what tests of expiry use.
pub async fn add_user_until(
    store: &dyn EventStore,
    by: &jishi_ledger::Actor,
    new: NewUser,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(User, String), UserError> {
    check_id(&new.id)?;
    non_empty("name", &new.name)?;
    non_empty("org", &new.org)?;
    let acts_as = new
        .acts_as
        .clone()
        .unwrap_or_else(|| new.role.default_acts_as().to_string());
    non_empty("acts_as", &acts_as)?;
    let token = new_token();
    let payload = UserAdded {
        user_id: new.id.clone(),
        name: new.name.trim().to_string(),
        role: new.role,
        org: new.org.trim().to_string(),
        acts_as: acts_as.trim().to_string(),
        token_sha256: token_sha256(&token),
        expires_at: Some(rfc3339(expires_at)),
    };
    let position = match append_one(
        store,
        user_stream(&new.id),
        // An id names one person for ever: a revoked id is not handed out again.
        ExpectedVersion::NoStream,
        plain_event(USER_ADDED, by, &payload)?,
    )
    .await
    {
        Ok(p) => p,
        Err(AppendError::Conflict { .. }) => return Err(UserError::Exists(new.id)),
        Err(e) => return Err(e.into()),
    };
    let user = user_of(&payload, position, &by.id, "");
    Ok((user, token))
}

/// Gives user `id` a new token that expires at `expires_at`, and returns the
/// user and the token (shown once). The old token stops working at the next
/// request the server sees, because the server reads users from the ledger
/// head on every request (D47).
pub async fn rotate_token(
    store: &dyn EventStore,
    by: &jishi_ledger::Actor,
    id: &str,
    expires_at: chrono::DateTime<chrono::Utc>,
) -> Result<(User, String), UserError> {
    let users = load_users(store).await?;
    let user = users
        .get(id)
        .ok_or_else(|| UserError::Unknown(id.to_string()))?;
    if user.revoked {
        return Err(UserError::Revoked(id.to_string()));
    }
    let version = store.stream_version(&user_stream(id)).await?.unwrap_or(0);
    let token = new_token();
    let payload = TokenRotated {
        user_id: id.to_string(),
        token_sha256: token_sha256(&token),
        expires_at: rfc3339(expires_at),
    };
    append_one(
        store,
        user_stream(id),
        // A concurrent rotation or revocation makes this one fail rather than
        // leave two live tokens.
        ExpectedVersion::Exact(version),
        plain_event(USER_TOKEN_ROTATED, by, &payload)?,
    )
    .await?;
    let mut user = user.clone();
    user.token_sha256 = payload.token_sha256;
    user.expires_at = payload.expires_at;
    Ok((user, token))
}

/// Ends a user's access; the user stays in the ledger (and in every event it
/// recorded) for ever.
pub async fn revoke_user(
    store: &dyn EventStore,
    by: &jishi_ledger::Actor,
    id: &str,
    reason: &str,
) -> Result<(), UserError> {
    non_empty("reason", reason)?;
    let users = load_users(store).await?;
    let user = users
        .get(id)
        .ok_or_else(|| UserError::Unknown(id.to_string()))?;
    if user.revoked {
        return Err(UserError::AlreadyRevoked(id.to_string()));
    }
    let version = store.stream_version(&user_stream(id)).await?.unwrap_or(0);
    let payload = UserRevoked {
        user_id: id.to_string(),
        reason: reason.trim().to_string(),
    };
    append_one(
        store,
        user_stream(id),
        ExpectedVersion::Exact(version),
        plain_event(USER_REVOKED, by, &payload)?,
    )
    .await?;
    Ok(())
}

/// `recorded_at` is the event's, for a `user.added` without `expires_at`.
fn user_of(a: &UserAdded, position: u64, by: &str, recorded_at: &str) -> User {
    let expires_at = a.expires_at.clone().unwrap_or_else(|| {
        chrono::DateTime::parse_from_rfc3339(recorded_at)
            .map(|t| {
                rfc3339(
                    t.with_timezone(&chrono::Utc)
                        + chrono::Duration::days(DEFAULT_TOKEN_DAYS.into()),
                )
            })
            // An unreadable time: the token is taken as expired, the safe side.
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
    });
    User {
        expires_at,
        id: a.user_id.clone(),
        name: a.name.clone(),
        role: a.role,
        org: a.org.clone(),
        acts_as: a.acts_as.clone(),
        token_sha256: a.token_sha256.clone(),
        added_at: position,
        added_by: by.to_string(),
        revoked: false,
    }
}

/// Every user, read from the `user/…` streams.
#[derive(Debug, Clone, Default)]
pub struct Users {
    by_id: BTreeMap<String, User>,
    by_token: HashMap<String, String>,
    /// The last position read, so a reload can start after it.
    pub last_position: u64,
}

impl Users {
    pub fn get(&self, id: &str) -> Option<&User> {
        self.by_id.get(id)
    }

    /// The active user a token belongs to, whatever its expiry.
    pub fn by_token(&self, token: &str) -> Option<&User> {
        let id = self.by_token.get(&token_sha256(token))?;
        self.by_id.get(id).filter(|u| !u.revoked)
    }

    /// The active user whose current, unexpired token this is at `now`.
    pub fn authenticate(
        &self,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<&User, TokenRefused> {
        let user = self.by_token(token).ok_or(TokenRefused::Unknown)?;
        let expired = chrono::DateTime::parse_from_rfc3339(&user.expires_at)
            .map(|t| t.with_timezone(&chrono::Utc) <= now)
            .unwrap_or(true);
        if expired {
            return Err(TokenRefused::Expired {
                user_id: user.id.clone(),
                at: user.expires_at.clone(),
            });
        }
        Ok(user)
    }

    pub fn all(&self) -> impl Iterator<Item = &User> {
        self.by_id.values()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn apply(&mut self, e: &jishi_ledger::RecordedEvent) -> Result<(), UserError> {
        let corrupt = |reason: String| UserError::Corrupt {
            position: e.position,
            event_type: e.event_type.clone(),
            reason,
        };
        let value = e
            .payload
            .to_value()
            .map_err(|err| corrupt(err.to_string()))?;
        match e.event_type.as_str() {
            USER_ADDED => {
                let a: UserAdded =
                    serde_json::from_value(value).map_err(|err| corrupt(err.to_string()))?;
                self.by_token
                    .insert(a.token_sha256.clone(), a.user_id.clone());
                self.by_id.insert(
                    a.user_id.clone(),
                    user_of(&a, e.position, &e.actor.id, &e.recorded_at),
                );
            }
            USER_TOKEN_ROTATED => {
                let r: TokenRotated =
                    serde_json::from_value(value).map_err(|err| corrupt(err.to_string()))?;
                if let Some(u) = self.by_id.get_mut(&r.user_id) {
                    // The old hash no longer names anyone.
                    self.by_token.remove(&u.token_sha256);
                    self.by_token
                        .insert(r.token_sha256.clone(), r.user_id.clone());
                    u.token_sha256 = r.token_sha256;
                    u.expires_at = r.expires_at;
                }
            }
            USER_REVOKED => {
                let r: UserRevoked =
                    serde_json::from_value(value).map_err(|err| corrupt(err.to_string()))?;
                if let Some(u) = self.by_id.get_mut(&r.user_id) {
                    u.revoked = true;
                }
            }
            // A raw append under `user/` is not a user; it is ignored here and
            // visible to `jishi log` like any other event.
            _ => {}
        }
        self.last_position = self.last_position.max(e.position);
        Ok(())
    }

    /// Applies the user events recorded after `last_position`.
    pub async fn catch_up(&mut self, store: &dyn EventStore) -> Result<(), UserError> {
        loop {
            let page = store
                .read_prefix(USER_PREFIX, self.last_position + 1, 1_000)
                .await?;
            for e in &page {
                self.apply(e)?;
            }
            if page.len() < 1_000 {
                return Ok(());
            }
        }
    }
}

/// Every user in the ledger.
pub async fn load_users(store: &dyn EventStore) -> Result<Users, UserError> {
    let mut users = Users::default();
    users.catch_up(store).await?;
    Ok(users)
}
