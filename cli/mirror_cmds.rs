//! `jishi mirror` (a C2SP tlog-mirror service) and `jishi mirror-push` (the
//! log's side: bring a mirror up to the ledger's latest checkpoint).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use jishi_ledger::{open_proof_store, StoreSpec};

use crate::proof_cmds::{read_policy, read_signer, read_verifier};

#[derive(Debug, Args)]
pub struct MirrorArgs {
    /// The mirror's private key: a cosignature-v1 key with a name of its
    /// own (`jishi keygen NAME --suite cosignature-v1 --out FILE`).
    #[arg(long)]
    key: PathBuf,
    /// A jishi log this mirror keeps, events checked: its public key, whose
    /// name is the log's origin. Repeat for each log.
    #[arg(long = "log")]
    logs: Vec<String>,
    /// Any C2SP log, kept as opaque entries (no envelopes): its public key.
    #[arg(long = "entries-log")]
    entries_logs: Vec<String>,
    /// A C2SP tlog-policy file: each of its `log` lines is a jishi log to
    /// mirror, as with --log.
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Where the mirror keeps `mirror.db` (the replicas) and `evidence/`.
    /// Created if missing.
    #[arg(long)]
    state: PathBuf,
    /// The address to listen on; the submission and monitoring prefix is
    /// `http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:7390")]
    listen: String,
}

pub async fn mirror(args: MirrorArgs) -> anyhow::Result<()> {
    let key = read_signer(&args.key).context("--key")?;
    let mut logs = Vec::new();
    for (list, events) in [(&args.logs, true), (&args.entries_logs, false)] {
        for l in list {
            logs.push(jishi_mirror::LogConfig {
                key: read_verifier(l).context(if events { "--log" } else { "--entries-log" })?,
                events,
            });
        }
    }
    if let Some(path) = &args.policy {
        for l in read_policy(path)?.logs {
            logs.push(jishi_mirror::LogConfig {
                key: l.key,
                events: true,
            });
        }
    }
    if logs.is_empty() {
        bail!("give at least one --log (a jishi log) or --entries-log (any C2SP log)");
    }
    let m = jishi_mirror::Mirror::open(jishi_mirror::MirrorConfig {
        key,
        logs: logs.clone(),
        state_dir: args.state.clone(),
    })
    .with_context(|| format!("--state {}", args.state.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first line on standard output is the address (a test or script
    // that asked for port 0 learns the port from it).
    println!(
        "mirror {} listening on http://{addr}",
        m.verifier().to_vkey()
    );
    for l in &logs {
        eprintln!(
            "mirroring {} ({}) under http://{addr}/{}/",
            l.key.name(),
            if l.events {
                "events checked"
            } else {
                "entries only"
            },
            jishi_mirror::origin_hash(l.key.name())
        );
    }
    jishi_mirror::serve(listener, Arc::new(m)).await?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct MirrorPushArgs {
    /// The mirror's submission prefix, e.g. `http://127.0.0.1:7390`.
    #[arg(long)]
    to: String,
    /// The mirror's public key: its cosignature must verify under it, and
    /// is then stored with the checkpoint (the key registered as a
    /// cosigner), as `checkpoint --witness` stores a witness's.
    #[arg(long)]
    mirror_key: Option<String>,
    /// Send entries only (the mirror keeps this log with --entries-log).
    #[arg(long)]
    entries_only: bool,
}

pub async fn mirror_push(spec: &StoreSpec, args: MirrorPushArgs) -> anyhow::Result<()> {
    let key = args
        .mirror_key
        .as_deref()
        .map(read_verifier)
        .transpose()
        .context("--mirror-key")?;
    let store = open_proof_store(spec, false).await?;
    let Some(cp) = store.latest_checkpoint().await? else {
        bail!("the ledger has no checkpoint yet: run `jishi checkpoint` first");
    };
    let pushed = jishi_mirror::push(
        store.as_ref(),
        &args.to,
        &cp.note,
        !args.entries_only,
        key.as_ref(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("mirroring to {}: {e}", args.to))?;
    println!(
        "mirrored {} up to size {} ({} entries and {} envelopes sent); the mirror cosigned:",
        cp.origin, cp.size, pushed.entries_sent, pushed.envelopes_sent
    );
    print!("{}", pushed.cosignature);
    // A verified mirror line is kept with the checkpoint, as a witness's is
    // (`checkpoint --witness`), so that exports carry it and `verify`
    // counts it. The ledger's key events know the roles `log` and
    // `witness`; a mirror is registered as a cosigner of role `witness`.
    if let Some(k) = &key {
        let writer = crate::recording::open_writer(spec, false).await?;
        let actor = crate::server_cmds::operator(None)?;
        let stored = writer.save_checkpoint(&pushed.note.to_string()).await?;
        jishi_ledger::publish::register_checkpoint_key(&*writer, k, "witness", &actor).await?;
        eprintln!(
            "checkpoint #{} stored with the mirror's cosignature ({})",
            stored.id,
            k.name()
        );
    }
    Ok(())
}

#[derive(Debug, Args)]
pub struct MirrorPullArgs {
    /// The county's server (`jishi serve`), whose tiles are under
    /// `<URL>/tlog/`.
    #[arg(long)]
    from: String,
    /// The county log's public key (its name is the log's origin).
    #[arg(long)]
    log_key: String,
    /// The mirror's submission prefix, e.g. `http://127.0.0.1:7390`.
    #[arg(long)]
    to: String,
    /// An investigator's API token on the county's server, for the envelope
    /// bundles (`JISHI_TOKEN`).
    #[arg(long, env = "JISHI_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The mirror's public key: its cosignature must verify under it.
    #[arg(long)]
    mirror_key: Option<String>,
    /// Fetch and send entries only (the mirror keeps this log with
    /// --entries-log); no token is needed.
    #[arg(long)]
    entries_only: bool,
}

/// Pull mode: fetch the county's log from its tiles and feed the mirror.
pub async fn mirror_pull(args: MirrorPullArgs) -> anyhow::Result<()> {
    let log_key = read_verifier(&args.log_key).context("--log-key")?;
    let key = args
        .mirror_key
        .as_deref()
        .map(read_verifier)
        .transpose()
        .context("--mirror-key")?;
    if !args.entries_only && args.token.is_none() {
        bail!(
            "the envelope bundles need an investigator's token on {}: give --token (or \
             JISHI_TOKEN), or --entries-only for a mirror that keeps entries only",
            args.from
        );
    }
    let pushed = jishi_mirror::pull(
        &args.from,
        args.token.as_deref(),
        &log_key,
        &args.to,
        !args.entries_only,
        key.as_ref(),
    )
    .await
    .map_err(|e| anyhow::anyhow!("pulling {} into {}: {e}", args.from, args.to))?;
    println!(
        "pulled {} from {} into {} ({} entries and {} envelopes sent); the mirror cosigned:",
        log_key.name(),
        args.from,
        args.to,
        pushed.entries_sent,
        pushed.envelopes_sent
    );
    print!("{}", pushed.cosignature);
    Ok(())
}
