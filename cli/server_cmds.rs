//! `jishi serve` and `jishi user`: start the service, and manage who may use
//! it. Users live in the ledger (`user/<id>` streams), so `jishi user add`
//! works with the server running or not, on either store.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Args, Subcommand};
use jishi_app::sealed::Keyring;
use jishi_app::users::{self, AccessRole, NewUser};
use jishi_ledger::input::parse_actor;
use jishi_ledger::{open_store, StoreSpec};
use jishi_server::{AppState, Limits};

use crate::output::{print_json, table};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The log's private key (from `jishi keygen`), so that admins can sign
    /// checkpoints through the API.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// The log's name in checkpoints; defaults to the key's name.
    #[arg(long)]
    pub origin: Option<String>,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Seconds a client may take to send a request's headers (also the
    /// longest a kept-alive connection may wait for its next request).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_timeout: u64,
    /// Most connections served at once; more wait until one ends.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,
    /// The keyring directory that seals petitioners' identities (D59), one
    /// key per election; keep it outside the database and its backups.
    /// Without it the server records no petitioner's identity.
    #[arg(long, value_name = "DIR")]
    pub sealing_keys: Option<PathBuf>,
    /// The person key (`jishi person-key new`): nomination forms and the API
    /// then take a nominee's id number and record only its keyed reference
    /// (domain decision 34). Keep it outside the database, as for
    /// `jishi record --person-key`.
    #[arg(long, env = "JISHI_PERSON_KEY", value_name = "FILE")]
    pub person_key: Option<PathBuf>,
    /// Another ledger to serve beside the home one (`--db`), under
    /// /ledgers/NAME with the same routes (D112): NAME a short slug (hexi),
    /// STORE a SQLite file or a postgres:// URL (a schema each through
    /// options=-csearch_path%3DNAME). Users come from the home ledger only.
    /// Repeatable.
    #[arg(long = "ledger", value_name = "NAME=STORE")]
    pub ledgers: Vec<String>,
    /// The log's private key of ledger NAME, to sign its checkpoints; its
    /// name is that ledger's origin. Repeatable.
    #[arg(long = "ledger-key", value_name = "NAME=FILE")]
    pub ledger_keys: Vec<String>,
    /// The recording key of ledger NAME (created if missing); beside a
    /// SQLite ledger the default is STORE.recording-key, a PostgreSQL one
    /// needs it. Never the home ledger's --recording-key. Repeatable.
    #[arg(long = "ledger-recording-key", value_name = "NAME=FILE")]
    pub ledger_recording_keys: Vec<String>,
    /// A PostgreSQL hot standby of the `--db` primary (a `postgres://` URL):
    /// pages, queries, search, exports and tiles are read there, while every
    /// write (recordings, users, checkpoints, the recorded reads) and
    /// sign-in stay on the primary (D116).
    #[arg(long, env = "JISHI_READ_DB", value_name = "URL")]
    pub read_db: Option<String>,
    /// With --read-db: the longest a read waits for the standby to replay
    /// this server's newest acknowledged write before it is answered 503
    /// (D117), in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub read_patience_ms: u64,
}

pub async fn serve(spec: &StoreSpec, args: ServeArgs) -> anyhow::Result<()> {
    // Every --ledger is checked before anything is opened or written.
    let others = crate::serve_ledgers::parse(
        spec,
        &args.ledgers,
        &args.ledger_keys,
        &args.ledger_recording_keys,
    )?;
    // A new ledger gets its recording key first, as with `jishi init`.
    let store = crate::recording::open_new(spec, jishi_ledger::Suite::Ed25519).await?;
    let signer = match &args.key {
        Some(path) => Some(crate::proof_cmds::read_signer(path)?),
        None => None,
    };
    let origin = args
        .origin
        .or_else(|| signer.as_ref().map(|k| k.name().to_string()))
        .unwrap_or_default();
    let mut state = AppState::new(store, signer, origin);
    if let Some(dir) = &args.sealing_keys {
        state = state.with_sealing(
            Keyring::open(dir).with_context(|| format!("--sealing-keys {}", dir.display()))?,
        );
    }
    if let Some(path) = &args.person_key {
        state = state.with_person_key(crate::person_cmds::read_person_key(path)?);
    }
    if let Some(url) = &args.read_db {
        let (standby, name) = open_standby(spec, url).await?;
        eprintln!("reading from the hot standby {name}; writing to {spec}");
        state = state.with_standby(
            standby,
            name,
            std::time::Duration::from_millis(args.read_patience_ms),
        );
    }
    let state = Arc::new(state);
    let known = users::load_users(state.events.as_ref()).await?;
    if known.is_empty() {
        eprintln!(
            "no users yet: add one with `jishi --db {} user add ID --name NAME --role admin --org ORG`",
            spec
        );
    }
    *state.users.write().await = known;
    let others = crate::serve_ledgers::open(others, &state, args.sealing_keys.as_deref()).await?;
    let many = !others.is_empty();
    let ledgers =
        jishi_server::Ledgers::new(state, others).map_err(|e| anyhow::anyhow!("--ledger {e}"))?;
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("--bind {}", args.bind))?;
    eprintln!(
        "jishi serving {} on http://{} (API /api, pages /elections, OpenAPI /openapi.json{}); Ctrl-C stops",
        spec,
        listener.local_addr()?,
        if many { ", other ledgers /ledgers" } else { "" }
    );
    let limits = Limits {
        body_bytes: args.max_body,
        timeout: std::time::Duration::from_secs(args.timeout),
        header_timeout: std::time::Duration::from_secs(args.header_timeout),
        max_connections: args.max_connections as usize,
    };
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    jishi_server::serve_ledgers(listener, Arc::new(ledgers), limits, shutdown).await?;
    Ok(())
}

/// The hot standby named by `--read-db`, opened read-only, and its name as
/// the 503s give it (host, port and database; never a password).
async fn open_standby(
    primary: &StoreSpec,
    url: &str,
) -> anyhow::Result<(Arc<dyn jishi_ledger::ProofStore>, String)> {
    if !matches!(primary, StoreSpec::Postgres(_)) {
        anyhow::bail!("--read-db: a standby reads a PostgreSQL primary, and --db names {primary}");
    }
    let config: jishi_ledger::postgres::tokio_postgres::Config = url
        .parse()
        .map_err(|e| anyhow::anyhow!("--read-db: not a PostgreSQL URL: {e}"))?;
    let name = standby_name(&config);
    let store = jishi_ledger::PostgresStore::open_standby(config, 8)
        .await
        .with_context(|| format!("--read-db {name}"))?;
    Ok((Arc::new(store), name))
}

fn standby_name(config: &jishi_ledger::postgres::tokio_postgres::Config) -> String {
    use jishi_ledger::postgres::tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Add a user and print its token (shown once; only its hash is stored).
    Add(UserAddArgs),
    /// List users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Give a user a new token (a lost or expiring one) and print it, shown
    /// once; the old token stops working at once, on a running server too.
    Rotate {
        id: String,
        /// Days the new token lives.
        #[arg(long = "expires-days", default_value_t = users::DEFAULT_TOKEN_DAYS)]
        expires_days: u32,
        /// Who rotates (default: the local operator).
        #[arg(long, env = "JISHI_ACTOR")]
        actor: Option<String>,
    },
    /// Revoke a user's token; the user stays in the ledger.
    Revoke {
        id: String,
        #[arg(long)]
        reason: String,
        /// Who revokes (default: the local operator).
        #[arg(long, env = "JISHI_ACTOR")]
        actor: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct UserAddArgs {
    /// The user's id (letters, digits, '-', '_', '.'), e.g. zzb-wang.
    pub id: String,
    /// Display name; defaults to the id.
    #[arg(long)]
    pub name: Option<String>,
    /// recorder, inspector, investigator or admin.
    #[arg(long)]
    pub role: String,
    /// Organisation path, e.g. 天元区/青山镇; the user's scope is this and below.
    #[arg(long)]
    pub org: String,
    /// The procedure role stamped on events the user records (default:
    /// organisation_department for a recorder, discipline_inspection for an
    /// inspector).
    #[arg(long = "acts-as")]
    pub acts_as: Option<String>,
    /// Days the token lives; then it is refused until rotated.
    #[arg(long = "expires-days", default_value_t = users::DEFAULT_TOKEN_DAYS)]
    pub expires_days: u32,
    /// Who adds the user (default: the local operator).
    #[arg(long, env = "JISHI_ACTOR")]
    pub actor: Option<String>,
}

/// The actor of a user command: the one given, or the local operator (the
/// OS user at this machine, who can write to the ledger directly anyway).
pub(crate) fn operator(given: Option<&str>) -> anyhow::Result<jishi_ledger::Actor> {
    if let Some(text) = given {
        return Ok(parse_actor(text)?);
    }
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "operator".into());
    Ok(jishi_ledger::Actor {
        id: format!("local:{who}"),
        name: who,
        role: "admin".into(),
        org: "本机 local".into(),
    })
}

pub async fn user(spec: &StoreSpec, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Add(a) => {
            let store = crate::recording::open_writer(spec, false).await?;
            let role: AccessRole = a.role.parse()?;
            let by = operator(a.actor.as_deref())?;
            let until = users::expiry_in("--expires-days", a.expires_days, chrono::Utc::now())?;
            let (user, token) = users::add_user_until(
                store.as_ref(),
                &by,
                NewUser {
                    name: a.name.unwrap_or_else(|| a.id.clone()),
                    id: a.id,
                    role,
                    org: a.org,
                    acts_as: a.acts_as,
                },
                until,
            )
            .await?;
            eprintln!(
                "added {} ({}, {}, acts as {}) at position {}; its token, valid until {} (shown once):",
                user.id, user.role, user.org, user.acts_as, user.added_at, user.expires_at
            );
            println!("{token}");
            Ok(())
        }
        UserCmd::List { json } => {
            let store = open_store(spec, false).await?;
            let all = users::load_users(store.as_ref()).await?;
            let list: Vec<_> = all.all().collect();
            if json {
                return print_json(&list);
            }
            let mut t = table(vec![
                "用户 Id",
                "姓名 Name",
                "权限 Role",
                "组织 Org",
                "程序角色 Acts as",
                "状态 Status",
                "到期 Expires",
            ]);
            for u in list {
                t.add_row(vec![
                    u.id.clone(),
                    u.name.clone(),
                    u.role.to_string(),
                    u.org.clone(),
                    u.acts_as.clone(),
                    if u.revoked { "revoked" } else { "active" }.to_string(),
                    u.expires_at.clone(),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        UserCmd::Rotate {
            id,
            expires_days,
            actor,
        } => {
            let store = crate::recording::open_writer(spec, false).await?;
            let by = operator(actor.as_deref())?;
            let until = users::expiry_in("--expires-days", expires_days, chrono::Utc::now())?;
            let (user, token) = users::rotate_token(store.as_ref(), &by, &id, until).await?;
            eprintln!(
                "new token for {}, valid until {}; the old one no longer works (shown once):",
                user.id, user.expires_at
            );
            println!("{token}");
            Ok(())
        }
        UserCmd::Revoke { id, reason, actor } => {
            let store = crate::recording::open_writer(spec, false).await?;
            let by = operator(actor.as_deref())?;
            users::revoke_user(store.as_ref(), &by, &id, &reason).await?;
            println!("revoked {id}");
            Ok(())
        }
    }
}

/// The keyring that seals petitioners' identities.
#[derive(Debug, Subcommand)]
pub enum SealingKeyCmd {
    /// Destroy an election's key once its retention has ended: every
    /// petitioner's identity sealed for it becomes unreadable for ever,
    /// while the ledger (which holds only ciphertext) still verifies.
    Shred {
        /// The keyring directory given to `jishi serve --sealing-keys`.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The election whose key to destroy.
        #[arg(long)]
        election: String,
    },
}

pub fn sealing_key(cmd: SealingKeyCmd) -> anyhow::Result<()> {
    match cmd {
        SealingKeyCmd::Shred { dir, election } => {
            let ring = Keyring::open(&dir).with_context(|| format!("--dir {}", dir.display()))?;
            if ring.shred(&election)? {
                println!("destroyed the sealing key of election {election}: its petitioners' identities can no longer be read");
            } else {
                anyhow::bail!(
                    "election: {election:?} has no sealing key in {}",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}
