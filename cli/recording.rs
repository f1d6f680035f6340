//! The recording key on the command line (D69): where it is read from, how
//! the writing commands open the ledger with it, and `jishi recording-key`
//! (show, register, rotate, compromised).
//!
//! The key is a file, never a row: `--recording-key FILE` (or
//! `JISHI_RECORDING_KEY`); beside a SQLite ledger `X` the default is
//! `X.recording-key`, which `jishi init` and `jishi demo` create on a new
//! ledger. A PostgreSQL ledger has no default: the key must not live where
//! the database's administrator keeps the database.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::{bail, Context};
use clap::Subcommand;
use jishi_ledger::attest::{self, Attestor, KeyRegistry};
use jishi_ledger::tree::ProofStore;
use jishi_ledger::{
    open_store_with, AppendRequest, ExpectedVersion, NewEvent, SignerKey, StoreSpec, Suite,
};

/// The `--recording-key` given on the command line, if any (set once, in
/// `main`, before any command runs).
static GIVEN: OnceLock<Option<PathBuf>> = OnceLock::new();

/// The name recording keys get unless told otherwise.
const DEFAULT_NAME: &str = "jishi.recording";

pub fn set_given(path: Option<PathBuf>) {
    let _ = GIVEN.set(path);
}

/// Where the recording key of `spec` is: the one given, or the default
/// beside a SQLite ledger.
pub fn key_path(spec: &StoreSpec) -> Option<PathBuf> {
    if let Some(Some(p)) = GIVEN.get() {
        return Some(p.clone());
    }
    default_key_path(spec)
}

/// Where the recording key of `spec` is when none is given: beside a
/// SQLite ledger, nowhere for PostgreSQL.
pub fn default_key_path(spec: &StoreSpec) -> Option<PathBuf> {
    match spec {
        StoreSpec::Sqlite(db) => {
            let mut p = db.clone().into_os_string();
            p.push(".recording-key");
            Some(PathBuf::from(p))
        }
        StoreSpec::Postgres(_) => None,
    }
}

fn read_key(path: &Path) -> anyhow::Result<Attestor> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--recording-key {}: cannot read", path.display()))?;
    Attestor::from_private_text(&text)
        .with_context(|| format!("--recording-key {}: not a private key", path.display()))
}

/// The key at `path`, created (0600, never overwritten) if absent.
fn read_or_create(path: &Path, suite: Suite) -> anyhow::Result<Attestor> {
    if path.exists() {
        return read_key(path);
    }
    let key = SignerKey::generate_in(DEFAULT_NAME, suite).context("recording key name")?;
    crate::proof_cmds::write_private_key(path, &key)?;
    eprintln!(
        "created the recording key {} ({}) at {}; keep it outside the database, and back it up",
        key.verifier().to_vkey(),
        suite,
        path.display()
    );
    Ok(Attestor::new(key))
}

/// Opens the ledger for a command that writes: with its recording key, after
/// checking that the key is the ledger's current one. A ledger that never
/// registered a key is written unattested (with a warning), as before.
pub async fn open_writer(spec: &StoreSpec, create: bool) -> anyhow::Result<Arc<dyn ProofStore>> {
    let explicit = matches!(GIVEN.get(), Some(Some(_)));
    open_writer_at(spec, create, key_path(spec), explicit).await
}

/// [`open_writer`] with the key at `path`, the one given on the command
/// line when `explicit` (then it must exist). `jishi serve --ledger` opens
/// each of its other ledgers so, with a key of its own (D112).
pub async fn open_writer_at(
    spec: &StoreSpec,
    create: bool,
    path: Option<PathBuf>,
    explicit: bool,
) -> anyhow::Result<Arc<dyn ProofStore>> {
    let given = path.clone().filter(|p| p.exists());
    if explicit && given.is_none() {
        if let Some(p) = &path {
            bail!("--recording-key {}: no such file", p.display());
        }
    }
    let attestor = given.as_deref().map(read_key).transpose()?.map(Arc::new);
    let store = open_store_with(spec, create, attestor.clone()).await?;
    let registry = attest::verified_registry(&*store).await?;
    check_key(&registry, attestor.as_deref(), path.as_deref())?;
    if registry.current().is_none() && store.head().await?.is_some() {
        eprintln!(
            "warning: this ledger has no recording key, so its rows are not attested; \
             register one with `jishi recording-key register`"
        );
    }
    Ok(store)
}

fn check_key(
    registry: &KeyRegistry,
    attestor: Option<&Attestor>,
    path: Option<&Path>,
) -> anyhow::Result<()> {
    match (registry.current(), attestor) {
        (Some(current), None) => bail!(
            "--recording-key: this ledger's rows are attested by {}; give its key file \
             (--recording-key FILE or JISHI_RECORDING_KEY{})",
            current.to_vkey(),
            match path {
                Some(p) => format!("; none at {}", p.display()),
                None => String::new(),
            }
        ),
        (Some(current), Some(a)) if a.verifier() != *current => bail!(
            "--recording-key: the key file holds {}, but the ledger's current recording key \
             is {} (was the key rotated? use the new key file)",
            a.verifier().to_vkey(),
            current.to_vkey()
        ),
        (None, Some(a)) => {
            tracing::debug!(key = %a.verifier(), "the ledger has no recording key yet");
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Opens a new or empty ledger for `init` and `demo`: creates the recording
/// key if it is missing and registers it, so that every row is attested from
/// position 1. A ledger that already has events and no key is left to
/// `jishi recording-key register`, which says what it adopts.
pub async fn open_new(spec: &StoreSpec, suite: Suite) -> anyhow::Result<Arc<dyn ProofStore>> {
    let explicit = matches!(GIVEN.get(), Some(Some(_)));
    open_new_at(spec, suite, key_path(spec), explicit).await
}

/// [`open_new`] with the key at `path` (see [`open_writer_at`]).
pub async fn open_new_at(
    spec: &StoreSpec,
    suite: Suite,
    path: Option<PathBuf>,
    explicit: bool,
) -> anyhow::Result<Arc<dyn ProofStore>> {
    let probe = open_store_with(spec, true, None).await?;
    let registry = attest::verified_registry(&*probe).await?;
    let empty = probe.head().await?.is_none();
    drop(probe);
    if registry.current().is_none() && empty {
        let Some(path) = path else {
            bail!(
                "--recording-key: a PostgreSQL ledger needs the file of its recording key \
                 (created if missing), kept outside the database"
            );
        };
        let attestor = Arc::new(read_or_create(&path, suite)?);
        let store = open_store_with(spec, true, Some(attestor.clone())).await?;
        register_key(&*store, &attestor).await?;
        return Ok(store);
    }
    open_writer_at(spec, true, path, explicit).await
}

/// Records `attestor`'s key as the ledger's first recording key; its
/// position.
pub async fn register_key(
    store: &dyn jishi_ledger::EventStore,
    attestor: &Attestor,
) -> anyhow::Result<u64> {
    let appended = store
        .append(AppendRequest {
            stream: attest::KEYS_STREAM.into(),
            expected: ExpectedVersion::NoStream,
            events: vec![NewEvent {
                event_id: None,
                event_type: attest::KEY_REGISTERED.into(),
                schema_version: 1,
                occurred_at: None,
                actor: crate::server_cmds::operator(None)?,
                payload: attestor.registration(),
            }],
        })
        .await?;
    Ok(appended.events.first().map_or(0, |e| e.position))
}

/// `jishi recording-key`.
#[derive(Debug, Subcommand)]
pub enum RecordingKeyCmd {
    /// The ledger's recording keys, oldest first, and any declared compromised.
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Register a recording key on a ledger that has none (created at
    /// --recording-key if missing); the rows already there are adopted.
    Register {
        /// ed25519 (default) or sm2-sm3.
        #[arg(long, default_value = "ed25519", value_parser = parse_suite)]
        suite: Suite,
    },
    /// Introduce a new recording key, signed by the current one; writers
    /// must then be given the new key file.
    Rotate {
        /// Where to create the new key (must not exist).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "ed25519", value_parser = parse_suite)]
        suite: Suite,
    },
    /// Declare a key compromised from a position on: what it attested from
    /// there is flagged by `jishi verify`. Rotate away from it first.
    Compromised {
        /// The compromised key (its vkey, as `show` prints it).
        #[arg(long)]
        key: String,
        /// The first position it may have signed without authority.
        #[arg(long)]
        from_position: u64,
        #[arg(long)]
        reason: String,
    },
}

/// A suite a recording key or a log key may have.
pub fn parse_suite(s: &str) -> Result<Suite, String> {
    Suite::from_name(s)
        .filter(|s| Suite::SIGNING.contains(s))
        .ok_or_else(|| format!("{s:?}: the suites are ed25519 and sm2-sm3"))
}

/// A suite `jishi keygen` makes keys of: also a witness's cosignature key.
pub fn parse_any_suite(s: &str) -> Result<Suite, String> {
    Suite::from_name(s).ok_or_else(|| {
        format!("{s:?}: the suites are ed25519, sm2-sm3 and cosignature-v1 (witnesses)")
    })
}

pub async fn recording_key(spec: &StoreSpec, cmd: RecordingKeyCmd) -> anyhow::Result<()> {
    match cmd {
        RecordingKeyCmd::Show { json } => {
            let store = jishi_ledger::open_store(spec, false).await?;
            let r = attest::verified_registry(&*store).await?;
            let keys: Vec<String> = r.keys.iter().map(|(k, _)| k.to_vkey()).collect();
            if json {
                println!(
                    "{}",
                    serde_json::json!({"keys": keys, "compromised": r.compromised})
                );
            } else if keys.is_empty() {
                println!("no recording key: this ledger's rows are not attested");
            } else {
                for (i, k) in keys.iter().enumerate() {
                    let now = if i + 1 == keys.len() {
                        " (current)"
                    } else {
                        ""
                    };
                    println!("{k}{now}");
                }
                for c in &r.compromised {
                    println!(
                        "compromised from position {} (declared at {}): {} — {}",
                        c.from_position, c.declared_at, c.key, c.reason
                    );
                }
            }
            Ok(())
        }
        RecordingKeyCmd::Register { suite } => {
            let Some(path) = key_path(spec) else {
                bail!("--recording-key: name the file of the key to register");
            };
            let store = jishi_ledger::open_store(spec, false).await?;
            if let Some(k) = attest::verified_registry(&*store).await?.current() {
                bail!(
                    "this ledger already has a recording key ({}); a new one is introduced \
                     with `jishi recording-key rotate`",
                    k.to_vkey()
                );
            }
            let before = store.head().await?.map_or(0, |h| h.position);
            drop(store);
            let attestor = Arc::new(read_or_create(&path, suite)?);
            let store = open_store_with(spec, false, Some(attestor.clone())).await?;
            let at = register_key(&*store, &attestor).await?;
            println!(
                "registered {} at position {at}; its attestation adopts the {before} event(s) \
                 recorded before it",
                attestor.verifier().to_vkey()
            );
            Ok(())
        }
        RecordingKeyCmd::Rotate { out, suite } => {
            if out.exists() {
                bail!(
                    "--out {}: already exists; jishi never overwrites a key",
                    out.display()
                );
            }
            let store = open_writer(spec, false).await?;
            let registry = attest::verified_registry(&*store).await?;
            let Some(old) = registry.current() else {
                bail!("this ledger has no recording key: register one first");
            };
            let new = SignerKey::generate_in(DEFAULT_NAME, suite).context("key name")?;
            crate::proof_cmds::write_private_key(&out, &new)?;
            let version = store.stream_version(attest::KEYS_STREAM).await?;
            store
                .append(AppendRequest {
                    stream: attest::KEYS_STREAM.into(),
                    expected: version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact),
                    events: vec![NewEvent {
                        event_id: None,
                        event_type: attest::KEY_ROTATED.into(),
                        schema_version: 1,
                        occurred_at: None,
                        actor: crate::server_cmds::operator(None)?,
                        payload: serde_json::json!({
                            "key": new.verifier().to_vkey(),
                            "replaces": old.to_vkey(),
                        }),
                    }],
                })
                .await?;
            println!(
                "rotated: {} replaces {}; from now on give writers --recording-key {}",
                new.verifier().to_vkey(),
                old.to_vkey(),
                out.display()
            );
            Ok(())
        }
        RecordingKeyCmd::Compromised {
            key,
            from_position,
            reason,
        } => {
            let vkey: jishi_ledger::VerifierKey = key.parse().context("--key")?;
            if reason.trim().is_empty() {
                bail!("--reason: say why the key is no longer trusted");
            }
            let store = open_writer(spec, false).await?;
            let registry = attest::verified_registry(&*store).await?;
            if !registry.keys.iter().any(|(k, _)| *k == vkey) {
                bail!(
                    "--key: {} is not a recording key of this ledger",
                    vkey.to_vkey()
                );
            }
            let version = store.stream_version(attest::KEYS_STREAM).await?;
            let appended = store
                .append(AppendRequest {
                    stream: attest::KEYS_STREAM.into(),
                    expected: version.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact),
                    events: vec![NewEvent {
                        event_id: None,
                        event_type: attest::KEY_COMPROMISED.into(),
                        schema_version: 1,
                        occurred_at: None,
                        actor: crate::server_cmds::operator(None)?,
                        payload: serde_json::json!({
                            "key": vkey.to_vkey(),
                            "from_position": from_position,
                            "reason": reason,
                        }),
                    }],
                })
                .await?;
            println!(
                "recorded at position {}: what {} attested from position {from_position} on is \
                 flagged by `jishi verify`",
                appended.events.first().map_or(0, |e| e.position),
                vkey.to_vkey()
            );
            Ok(())
        }
    }
}

/// `jishi checkpoint-key`: the keys whose signatures on stored checkpoints
/// `verify` counts (the log's is registered by `jishi checkpoint` itself).
#[derive(Debug, Subcommand)]
pub enum CheckpointKeyCmd {
    /// Register a log or witness key (a `.pub` file or vkey text).
    Add {
        key: String,
        /// log (signs checkpoints) or witness (cosigns them).
        #[arg(long, default_value = "witness")]
        role: String,
    },
    /// The registered checkpoint keys.
    List,
}

pub async fn checkpoint_key(spec: &StoreSpec, cmd: CheckpointKeyCmd) -> anyhow::Result<()> {
    match cmd {
        CheckpointKeyCmd::Add { key, role } => {
            if role != "log" && role != "witness" {
                bail!("--role: {role:?} is neither log nor witness");
            }
            let vkey = crate::proof_cmds::read_verifier(&key)?;
            let store = open_writer(spec, false).await?;
            let actor = crate::server_cmds::operator(None)?;
            let added =
                jishi_ledger::publish::register_checkpoint_key(&*store, &vkey, &role, &actor)
                    .await
                    .context("registering the key")?;
            println!(
                "{} {} as a {role} key",
                if added {
                    "registered"
                } else {
                    "already registered:"
                },
                vkey.to_vkey()
            );
            Ok(())
        }
        CheckpointKeyCmd::List => {
            let store = jishi_ledger::open_store(spec, false).await?;
            for (k, role) in attest::verified_registry(&*store).await?.checkpoint_keys {
                println!("{role:8} {}", k.to_vkey());
            }
            Ok(())
        }
    }
}
