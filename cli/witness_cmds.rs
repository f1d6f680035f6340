//! `jishi witness` (a C2SP tlog-witness service), `jishi split-view` (turn two
//! inconsistent checkpoints into evidence) and `jishi verify-evidence`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use jishi_ledger::evidence::SplitView;
use jishi_ledger::{open_proof_store, Checkpoint, StoreSpec};

use crate::proof_cmds::{read_signer, read_verifier};
use crate::VerifyFailed;

#[derive(Debug, Args)]
pub struct WitnessArgs {
    /// The witness's private key: a cosignature-v1 key (`jishi keygen NAME
    /// --suite cosignature-v1 --out FILE`).
    #[arg(long)]
    key: PathBuf,
    /// A log this witness follows: its public key (`.pub` file or vkey text),
    /// whose name is the log's origin. Repeat for each log.
    #[arg(long = "log", required = true)]
    logs: Vec<String>,
    /// Where the witness keeps `state.json` (the last checkpoint cosigned of
    /// each log) and `evidence/` (refused forks). Created if missing.
    #[arg(long)]
    state: PathBuf,
    /// The address to listen on; the submission prefix is `http://ADDR`.
    #[arg(long, default_value = "127.0.0.1:7380")]
    listen: String,
}

pub async fn witness(args: WitnessArgs) -> anyhow::Result<()> {
    let key = read_signer(&args.key).context("--key")?;
    let logs = args
        .logs
        .iter()
        .map(|l| read_verifier(l).context("--log"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let w = jishi_witness::Witness::open(jishi_witness::WitnessConfig {
        key,
        logs: logs.clone(),
        state_dir: args.state.clone(),
    })
    .with_context(|| format!("--state {}", args.state.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("--listen {}", args.listen))?;
    let addr = listener.local_addr()?;
    // The first line on standard output is the address, so that a script
    // (or a test) that asked for port 0 learns the port.
    println!(
        "witness {} listening on http://{addr}",
        w.verifier().to_vkey()
    );
    eprintln!(
        "following {}; state in {}",
        logs.iter()
            .map(|k| k.name().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.state.display()
    );
    jishi_witness::serve(listener, Arc::new(w)).await?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct SplitViewArgs {
    /// One signed checkpoint note.
    first: PathBuf,
    /// Another signed checkpoint note of the same log.
    second: PathBuf,
    /// The log's public key: both notes must be signed by it.
    #[arg(long)]
    log_key: String,
    /// When the sizes differ: take the larger history's root at the smaller
    /// size, and the consistency proof, from this ledger (which must hold the
    /// larger checkpoint's history). Without it, uses the ledger of --db.
    #[arg(long)]
    from_ledger: bool,
    /// Where to write the evidence file.
    #[arg(long)]
    out: PathBuf,
}

pub async fn split_view(spec: &StoreSpec, args: SplitViewArgs) -> anyhow::Result<()> {
    let key = read_verifier(&args.log_key).context("--log-key")?;
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))
    };
    let (a, b) = (read(&args.first)?, read(&args.second)?);
    let open = |text: &str, p: &PathBuf| {
        Checkpoint::open(text, std::slice::from_ref(&key))
            .map(|(c, _)| c)
            .with_context(|| format!("{}: not a checkpoint signed by the log's key", p.display()))
    };
    let (ca, cb) = (open(&a, &args.first)?, open(&b, &args.second)?);
    let (small, large) = if ca.size <= cb.size {
        (&ca, &cb)
    } else {
        (&cb, &ca)
    };
    let evidence = if small.size == large.size {
        SplitView::new(&a, &b, ca.size, cb.size, None, Vec::new())
    } else {
        if !args.from_ledger {
            bail!(
                "the checkpoints have sizes {} and {}: showing them inconsistent needs the larger \
                 history's root at size {} and a consistency proof; pass --from-ledger with the \
                 ledger (--db) that holds the larger history",
                small.size,
                large.size,
                small.size
            );
        }
        let store = open_proof_store(spec, false).await?;
        let root_now = store.tree_root(large.size).await?;
        if root_now != large.root {
            bail!(
                "this ledger's root at size {} is {root_now}, not the larger checkpoint's {}: it \
                 does not hold that history",
                large.size,
                large.root
            );
        }
        let root = store.tree_root(small.size).await?;
        let proof = store.consistency_proof(small.size, large.size).await?.path;
        SplitView::new(&a, &b, ca.size, cb.size, Some(root), proof)
    };
    match evidence.check(&key) {
        Ok(p) => {
            std::fs::write(&args.out, evidence.to_json())
                .with_context(|| format!("{}: cannot write", args.out.display()))?;
            println!(
                "split view of {}: checkpoints of size {} (root {}) and {} (root {}) are not \
                 consistent; evidence written to {}",
                p.origin,
                p.first.size,
                p.first.root,
                p.second.size,
                p.second.root,
                args.out.display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("no split view: {e}");
            Err(VerifyFailed.into())
        }
    }
}

#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// A split-view evidence file (`jishi split-view`, or a witness's
    /// `evidence/…-split-view.json`).
    file: PathBuf,
    /// The log's public key.
    #[arg(long)]
    log_key: String,
}

pub fn verify_evidence(args: VerifyEvidenceArgs) -> anyhow::Result<()> {
    let key = read_verifier(&args.log_key).context("--log-key")?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    match SplitView::parse(&bytes).and_then(|e| e.check(&key)) {
        Ok(p) => {
            println!(
                "PROVEN: log {} signed two inconsistent checkpoints: size {} root {} and size {} \
                 root {}",
                p.origin, p.first.size, p.first.root, p.second.size, p.second.root
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("not proven: {}: {e}", args.file.display());
            Err(VerifyFailed.into())
        }
    }
}
