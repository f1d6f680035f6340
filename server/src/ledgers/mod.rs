//! One service over many ledgers (issue 19 §3, D112–D114).
//!
//! A city's or a province's `jishi serve` holds its own ledger, the *home*
//! one, served at `/` exactly as a service of one ledger is, and any number
//! of others (the counties' full ledgers: SQLite files, or PostgreSQL
//! schemas of one database), each served with the same routes under
//! `/ledgers/{name}/…`. Each ledger is an [`AppState`] of its own: its own
//! store, chain, recording key, checkpoints, projections and recorded
//! reads, so nothing of one ledger is ever written into another. Only the
//! users are shared, and they come from the home ledger alone
//! ([`AppState::with_users_from`]): one token, one organisation, one scope
//! in every ledger, and `user/<id>` streams found in a county's ledger sign
//! no one in.
//!
//! [`cross`] holds what spans the ledgers: the list of ledgers a user can
//! see something in, and the search across them. [`links`] keeps a nested
//! ledger's pages inside its prefix.

pub mod cross;
mod links;

use std::sync::Arc;

use axum::Router;

use crate::state::AppState;
use crate::Limits;

/// The name the home ledger goes by in lists and search hits. It is
/// reserved: no other ledger may take it.
pub const HOME: &str = "home";

/// The longest name a ledger may have.
const MAX_NAME: usize = 32;

/// Whether `name` may name a ledger: a short slug (`hexi`, `county-a`),
/// lower-case ASCII letters, digits and `-`, starting with a letter. It is
/// a path segment under `/ledgers/`, so nothing that a URL decodes, a
/// browser normalises (`.`, `..`) or a router splits (`/`) can be in it.
pub fn check_name(name: &str) -> Result<(), String> {
    let Some(first) = name.chars().next() else {
        return Err("a ledger's name must not be empty".into());
    };
    if name.len() > MAX_NAME {
        return Err(format!(
            "{name:?}: a ledger's name is at most {MAX_NAME} characters"
        ));
    }
    if !first.is_ascii_lowercase()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!(
            "{name:?}: a ledger's name is lower-case ASCII letters, digits and '-', \
             starting with a letter (e.g. hexi, county-a)"
        ));
    }
    if name == HOME {
        return Err(format!(
            "{HOME:?} is the name of the ledger given with --db; choose another"
        ));
    }
    Ok(())
}

/// One ledger other than the home one.
pub struct Ledger {
    pub name: String,
    pub state: Arc<AppState>,
}

/// Every ledger a service holds: the home one and the others, in the order
/// they were given (which is the order lists and search hits follow).
pub struct Ledgers {
    home: Arc<AppState>,
    others: Vec<Ledger>,
}

impl Ledgers {
    /// A service of one ledger, as `jishi serve` without `--ledger` is.
    pub fn single(home: Arc<AppState>) -> Ledgers {
        Ledgers {
            home,
            others: Vec::new(),
        }
    }

    /// The home ledger and `others`, each named by [`check_name`], no name
    /// twice, each taking its users from `home`.
    pub fn new(home: Arc<AppState>, others: Vec<Ledger>) -> Result<Ledgers, String> {
        for (i, l) in others.iter().enumerate() {
            check_name(&l.name)?;
            if others[..i].iter().any(|o| o.name == l.name) {
                return Err(format!("{:?}: two ledgers of that name", l.name));
            }
            if !l.state.borrows_users() {
                return Err(format!(
                    "{:?}: a ledger other than the home one must take its users from it \
                     (AppState::with_users_from)",
                    l.name
                ));
            }
        }
        Ok(Ledgers { home, others })
    }

    pub fn home(&self) -> &Arc<AppState> {
        &self.home
    }

    /// Every ledger with its name, the home one first.
    pub fn all(&self) -> impl Iterator<Item = (&str, &Arc<AppState>)> {
        std::iter::once((HOME, &self.home))
            .chain(self.others.iter().map(|l| (l.name.as_str(), &l.state)))
    }

    /// The ledger of this name, the home one included.
    pub fn get(&self, name: &str) -> Option<&Arc<AppState>> {
        self.all().find(|(n, _)| *n == name).map(|(_, s)| s)
    }
}

/// Where the routes of ledger `name` begin: `` for the home ledger (its
/// paths are the usual `/elections/…`), `/ledgers/{name}` for the others.
pub fn base(name: &str) -> String {
    if name == HOME {
        String::new()
    } else {
        format!("/ledgers/{name}")
    }
}

/// The whole service: the home ledger's routes at `/`, the routes across
/// ledgers, and each other ledger's routes nested under `/ledgers/{name}`,
/// inside the one set of limits and protective headers.
pub fn router(ledgers: Arc<Ledgers>, limits: &Limits) -> Router {
    let mut app = crate::routes(ledgers.home.clone())
        .merge(cross::routes().with_state(cross::Cross(ledgers.clone())));
    for l in &ledgers.others {
        let nested = crate::routes(l.state.clone()).layer(axum::middleware::from_fn_with_state(
            Arc::new(links::Nested::new(&l.name)),
            links::inside,
        ));
        app = app.nest(&base(&l.name), nested);
    }
    crate::layered(app, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_slugs() {
        for ok in ["hexi", "county-a", "a1", "x"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Hexi",
            "1a",
            "-a",
            "a/b",
            "..",
            "a.b",
            "a%2fb",
            "河西",
            "a b",
            "home",
            &"a".repeat(33),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?} passed");
        }
    }
}
