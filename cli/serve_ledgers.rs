//! `jishi serve --ledger NAME=STORE`: the other ledgers one service holds
//! beside its home ledger (`--db`), each under `/ledgers/NAME` (D112).
//!
//! Every argument is read and checked before any ledger is opened, so a
//! mistyped one stops the service before it writes anything (a new
//! ledger's recording key is registered on opening). Each ledger is opened
//! as `jishi serve` opens its home one, with a recording key of its own:
//! `--ledger-recording-key NAME=FILE`, or beside a SQLite file by default;
//! the home ledger's `--recording-key` is never used for another ledger,
//! since each ledger's rows must be attested by its own key.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use jishi_ledger::{StoreSpec, Suite};
use jishi_server::ledgers::{check_name, Ledger};
use jishi_server::AppState;

/// One `--ledger` and what else was given for it.
#[derive(Debug)]
pub struct LedgerArg {
    pub name: String,
    pub spec: StoreSpec,
    pub key: Option<PathBuf>,
    pub recording_key: Option<PathBuf>,
}

/// `NAME=VALUE` split, with the flag named in every error.
fn split<'a>(flag: &str, arg: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    let Some((name, value)) = arg.split_once('=') else {
        bail!(
            "{flag} {arg:?}: expected NAME={what}, e.g. {flag} hexi={}",
            example(what)
        );
    };
    check_name(name).map_err(|e| anyhow::anyhow!("{flag} {arg:?}: {e}"))?;
    if value.trim().is_empty() {
        bail!("{flag} {arg:?}: the {what} after '=' is empty");
    }
    Ok((name, value))
}

fn example(what: &str) -> &'static str {
    if what == "STORE" {
        "hexi.db"
    } else {
        "hexi.key"
    }
}

/// What identifies a store, so that one ledger is not served twice (its
/// events would be counted twice, and recorded into from two names).
fn identity(spec: &StoreSpec) -> String {
    match spec {
        StoreSpec::Sqlite(p) => std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .display()
            .to_string(),
        StoreSpec::Postgres(url) => url.clone(),
    }
}

/// Reads `--ledger`, `--ledger-key` and `--ledger-recording-key` together.
pub fn parse(
    home: &StoreSpec,
    ledgers: &[String],
    keys: &[String],
    recording_keys: &[String],
) -> anyhow::Result<Vec<LedgerArg>> {
    let mut out: Vec<LedgerArg> = Vec::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    seen.insert(identity(home), "--db".into());
    for arg in ledgers {
        let (name, store) = split("--ledger", arg, "STORE")?;
        if out.iter().any(|l| l.name == name) {
            bail!("--ledger {arg:?}: a ledger named {name:?} was already given");
        }
        let spec = StoreSpec::parse(store);
        // A `file:` URI or a `?` query would name a store the same-store
        // check below cannot compare (one file served as two ledgers).
        if matches!(spec, StoreSpec::Sqlite(_))
            && (store.starts_with("file:") || store.contains('?'))
        {
            bail!("--ledger {arg:?}: give a SQLite ledger as a plain file path, not a URI");
        }
        if let Some(other) = seen.insert(identity(&spec), format!("--ledger {name}")) {
            bail!("--ledger {arg:?}: the same store as {other}; each ledger is served once");
        }
        out.push(LedgerArg {
            name: name.to_string(),
            spec,
            key: None,
            recording_key: None,
        });
    }
    for (flag, list, recording) in [
        ("--ledger-key", keys, false),
        ("--ledger-recording-key", recording_keys, true),
    ] {
        for arg in list {
            let (name, file) = split(flag, arg, "FILE")?;
            let Some(l) = out.iter_mut().find(|l| l.name == name) else {
                bail!("{flag} {arg:?}: no --ledger {name}=STORE was given");
            };
            let slot = if recording {
                &mut l.recording_key
            } else {
                &mut l.key
            };
            if slot.is_some() {
                bail!("{flag} {arg:?}: given twice for {name}");
            }
            *slot = Some(PathBuf::from(file));
        }
    }
    Ok(out)
}

/// Opens each ledger as its own [`AppState`], taking its users from
/// `home` and sharing its person key (so that a person's reference is the
/// same in every ledger) and a keyring directory of its own under the
/// home's (election ids are unique per ledger only).
pub async fn open(
    args: Vec<LedgerArg>,
    home: &Arc<AppState>,
    sealing: Option<&std::path::Path>,
) -> anyhow::Result<Vec<Ledger>> {
    let mut out = Vec::new();
    // Origin → who signs under it: one log key signing two ledgers would
    // make two inconsistent checkpoints under one origin, which any witness
    // takes as a fork of that log.
    let mut origins: BTreeMap<String, String> = BTreeMap::new();
    if !home.origin.is_empty() {
        origins.insert(home.origin.clone(), "--key".into());
    }
    for a in args {
        let context = format!("--ledger {}={}", a.name, a.spec);
        let signer = match &a.key {
            Some(path) => Some(
                crate::proof_cmds::read_signer(path)
                    .with_context(|| format!("--ledger-key {}={}", a.name, path.display()))?,
            ),
            None => None,
        };
        let origin = signer
            .as_ref()
            .map(|k| k.name().to_string())
            .unwrap_or_default();
        if !origin.is_empty() {
            if let Some(other) = origins.insert(origin.clone(), format!("--ledger-key {}", a.name))
            {
                bail!(
                    "--ledger-key {}: its log {origin:?} is already signed by {other}; each \
                     ledger needs a log key and origin of its own",
                    a.name
                );
            }
        }
        let explicit = a.recording_key.is_some();
        let key_at = a
            .recording_key
            .clone()
            .or_else(|| crate::recording::default_key_path(&a.spec));
        let store = crate::recording::open_new_at(&a.spec, Suite::Ed25519, key_at, explicit)
            .await
            .with_context(|| match a.spec {
                StoreSpec::Postgres(_) if !explicit => format!(
                    "{context} (give its recording key with --ledger-recording-key {}=FILE)",
                    a.name
                ),
                _ => context.clone(),
            })?;
        let mut state = AppState::new(store, signer, origin).with_users_from(home.clone());
        if let Some(key) = home.person_key {
            state = state.with_person_key(key);
        }
        if let Some(dir) = sealing {
            let dir = dir.join("ledgers").join(&a.name);
            state = state.with_sealing(
                jishi_app::sealed::Keyring::open(&dir)
                    .with_context(|| format!("--sealing-keys {}", dir.display()))?,
            );
        }
        eprintln!("ledger {} at /ledgers/{}: {}", a.name, a.name, a.spec);
        out.push(Ledger {
            name: a.name,
            state: Arc::new(state),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(ledgers: &[&str], keys: &[&str]) -> String {
        let l: Vec<String> = ledgers.iter().map(|s| s.to_string()).collect();
        let k: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        match parse(&StoreSpec::parse("home.db"), &l, &k, &[]) {
            Ok(_) => panic!("accepted {ledgers:?} {keys:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn every_bad_argument_is_named() {
        assert!(err(&["hexi"], &[]).contains("--ledger \"hexi\": expected NAME=STORE"));
        assert!(err(&["hexi=a.db", "hexi=b.db"], &[]).contains("already given"));
        assert!(err(&["Hexi=a.db"], &[]).contains("lower-case"));
        assert!(err(&["../x=a.db"], &[]).contains("lower-case"));
        assert!(err(&["home=a.db"], &[]).contains("--db"));
        assert!(err(&["hexi="], &[]).contains("empty"));
        assert!(err(&["hexi=home.db"], &[]).contains("the same store as --db"));
        assert!(err(&["hexi=a.db", "hedong=a.db"], &[]).contains("--ledger hexi"));
        assert!(err(&["hexi=a.db"], &["hedong=k"]).contains("no --ledger hedong"));
        assert!(err(&["hexi=a.db"], &["hexi=k", "hexi=j"]).contains("twice"));
    }

    #[test]
    fn ledgers_and_their_keys_are_read_together() {
        let l = parse(
            &StoreSpec::parse("home.db"),
            &["hexi=a.db".into(), "hedong=postgres://x@h/db".into()],
            &["hexi=k".into()],
            &["hedong=r".into()],
        )
        .expect("parse");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].key.as_deref(), Some(std::path::Path::new("k")));
        assert!(matches!(l[1].spec, StoreSpec::Postgres(_)));
        assert_eq!(
            l[1].recording_key.as_deref(),
            Some(std::path::Path::new("r"))
        );
    }
}
