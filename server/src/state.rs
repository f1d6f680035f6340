//! What every request shares: the store, the projections kept in memory and
//! caught up from the ledger before each read, the users (also from the
//! ledger), the signing key, and the outcome of the last verification.

use std::collections::HashMap;
use std::sync::Arc;

use jishi_app::sealed::Keyring;
use jishi_app::users::{TokenRefused, User, Users};
use jishi_app::views::catch_up;
use jishi_ledger::{EventStore, ProofStore, SignerKey};
use jishi_projections::views::{ElectionProjection, Projections};
use jishi_projections::{election_stream, EventBody};
use serde::Serialize;
use tokio::sync::{Mutex, RwLock};

use crate::error::ApiError;
use crate::policy;

/// The outcome of one full verification (chain and tree).
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// When it finished (RFC 3339, UTC).
    pub at: String,
    pub ok: bool,
    /// Events checked: all of them when `ok`.
    pub checked: u64,
    /// The first fault, when not `ok`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

pub struct AppState {
    /// The ledger of record (the primary): every write, and the reads that
    /// decide, authenticate, verify or sign (D116).
    pub store: Arc<dyn ProofStore>,
    /// The same store, as the use cases of `jishi-app` take it.
    pub events: Arc<dyn EventStore>,
    /// Where the reads that only show come from: `store`, or a hot standby
    /// (`jishi serve --read-db`, D116). Take them through
    /// [`AppState::read_events`] and [`AppState::read_store`], which wait
    /// for this server's own writes to be there.
    pub reads: crate::standby::Reads,
    pub views: Mutex<Projections>,
    pub users: RwLock<Users>,
    /// The log's key, for `POST /api/checkpoint`; none when the server was
    /// started without `--key`.
    pub signer: Option<SignerKey>,
    /// Where petitioners' identities are sealed (D59); none when the server
    /// was started without `--sealing-keys`, and then none are recorded.
    pub sealing: Option<Keyring>,
    pub origin: String,
    /// The person key (domain decision 30): with it the server turns an id
    /// number typed into a nomination into its keyed reference, and the
    /// number itself is never recorded; without it an id number is refused.
    pub person_key: Option<[u8; 32]>,
    pub verified: RwLock<Option<Verified>>,
    /// Held while a verification runs, so that two do not run at once.
    pub verifying: Mutex<()>,
    /// The newest verification started through the API (D87).
    pub verify_job: Mutex<Option<Arc<crate::verify_job::VerifyJob>>>,
    /// Each opened election's organisation. An election is opened once and
    /// its organisation never changes, so recording looks it up here rather
    /// than catching the projections up under their lock on every request
    /// (measured: that halved the recording rate on PostgreSQL).
    orgs: RwLock<HashMap<String, String>>,
    /// The home ledger's state when this one serves another ledger of the
    /// same service (D112): users live in the home ledger only, so a token
    /// is judged there, and `user/<id>` streams written into this ledger
    /// (by a DBA, an import, a raw append) never sign anyone in.
    users_from: Option<Arc<AppState>>,
}

impl AppState {
    pub fn new(store: Arc<dyn ProofStore>, signer: Option<SignerKey>, origin: String) -> AppState {
        let events: Arc<dyn EventStore> = store.clone();
        AppState {
            reads: crate::standby::Reads::primary(&store),
            store,
            events,
            views: Mutex::new(Projections::default()),
            users: RwLock::new(Users::default()),
            signer,
            sealing: None,
            origin,
            person_key: None,
            verified: RwLock::new(None),
            verifying: Mutex::new(()),
            verify_job: Mutex::new(None),
            orgs: RwLock::new(HashMap::new()),
            users_from: None,
        }
    }

    /// The same state, judging tokens by `home`'s users (D112).
    pub fn with_users_from(mut self, home: Arc<AppState>) -> AppState {
        self.users_from = Some(home);
        self
    }

    /// Whether this state takes its users from another ledger's (D112).
    pub fn borrows_users(&self) -> bool {
        self.users_from.is_some()
    }

    /// The same state, reading what it only shows from the hot standby
    /// `standby` (D116): a read waits at most `patience` for the standby to
    /// replay this server's newest acknowledged write, then is refused (503
    /// naming `name`, D117).
    pub fn with_standby(
        mut self,
        standby: Arc<dyn ProofStore>,
        name: String,
        patience: std::time::Duration,
    ) -> AppState {
        let (reads, events) =
            crate::standby::Reads::standby(standby, name, patience, self.events.clone());
        self.reads = reads;
        self.events = events;
        self
    }

    /// The store the reads that only show take, once it shows every write
    /// this server has acknowledged (at once without a standby).
    pub async fn read_events(&self) -> Result<&dyn EventStore, ApiError> {
        self.reads.settled().await?;
        Ok(self.reads.events.as_ref())
    }

    /// As [`AppState::read_events`], for tiles and case exports.
    pub async fn read_store(&self) -> Result<&dyn ProofStore, ApiError> {
        self.reads.settled().await?;
        Ok(self.reads.store.as_ref())
    }

    /// The same state, sealing petitioners' identities with `keyring`.
    pub fn with_person_key(mut self, key: [u8; 32]) -> AppState {
        self.person_key = Some(key);
        self
    }

    pub fn with_sealing(mut self, keyring: Keyring) -> AppState {
        self.sealing = Some(keyring);
        self
    }

    /// The active user a token belongs to, judged at the ledger's head. The
    /// users are caught up from the last position read on every request (a
    /// prefix read after that position, usually empty), so a revocation or
    /// rotation by any process, `jishi user revoke` included, holds from the
    /// very next request: there is no cache that can go stale (D47). Expiry
    /// is judged against this server's clock.
    pub async fn user_by_token(&self, token: &str) -> Result<Arc<User>, ApiError> {
        if let Some(home) = &self.users_from {
            return Box::pin(home.user_by_token(token)).await;
        }
        let mut users = self.users.write().await;
        users
            .catch_up(self.events.as_ref())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        match users.authenticate(token, chrono::Utc::now()) {
            Ok(u) => Ok(Arc::new(u.clone())),
            Err(TokenRefused::Unknown) => Err(ApiError::Unauthenticated),
            Err(TokenRefused::Expired { user_id, at }) => Err(ApiError::TokenExpired(format!(
                "the token of {user_id} expired at {at}: ask an admin for a new one \
                 (`jishi user rotate {user_id}` or POST /api/users/{user_id}/token)"
            ))),
        }
    }

    /// The organisation of an opened election, `None` when it has not been
    /// opened: read from its first event, once.
    pub async fn election_org_of(&self, election_id: &str) -> Result<Option<String>, ApiError> {
        if let Some(org) = self.orgs.read().await.get(election_id) {
            return Ok(Some(org.clone()));
        }
        let first = self
            .events
            .read_stream(&election_stream(election_id), 1, 1)
            .await?;
        let Some(e) = first.first() else {
            return Ok(None);
        };
        let opened = match jishi_app::decode(e).map(|d| d.body) {
            Ok(EventBody::ElectionOpened(b)) => b,
            // The first event of an election stream is always its opening
            // (`decide` refuses anything else first); a raw append may break
            // that, and then the election is not one the server can scope.
            _ => return Ok(None),
        };
        self.orgs
            .write()
            .await
            .insert(election_id.to_string(), opened.unit_org.clone());
        Ok(Some(opened.unit_org))
    }

    /// Runs `f` on the projections, caught up to the ledger's head first.
    pub async fn with_views<T>(&self, f: impl FnOnce(&Projections) -> T) -> Result<T, ApiError> {
        let reads = self.read_events().await?;
        let mut views = self.views.lock().await;
        catch_up(reads, &mut views).await?;
        Ok(f(&views))
    }

    /// Runs `f` on one election's projection, if `user` may read it.
    pub async fn with_election<T>(
        &self,
        user: &User,
        election_id: &str,
        f: impl FnOnce(&ElectionProjection) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let reads = self.read_events().await?;
        let mut views = self.views.lock().await;
        catch_up(reads, &mut views).await?;
        // Absent and out of scope answer alike (D53): a 403 would tell an
        // outsider that the election exists, and name its organisation.
        let absent = || crate::queries::no_election(election_id);
        let election = views.elections.get(election_id).ok_or_else(absent)?;
        policy::may_read_election(user, &election_org(election)).map_err(|_| absent())?;
        f(election)
    }
}

/// The organisation an election belongs to (its unit's), empty before it is
/// opened (then only the roles that read everywhere may read it).
pub fn election_org(e: &ElectionProjection) -> String {
    e.state
        .opened
        .as_ref()
        .map(|o| o.unit_org.clone())
        .unwrap_or_default()
}
