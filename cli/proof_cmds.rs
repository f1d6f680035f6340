//! The proof commands: keygen, checkpoint, cosign, prove, prove-consistency,
//! verify-proof (export and verify-export are `export_cmds`). They parse arguments, call the ledger
//! crate (`tree`, `checkpoint`, `export`) and print; failures of a check exit
//! with 3 (like `verify`), bad input with 1, and write nothing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use jishi_ledger::export::{self, InclusionDocument, ProofDocument};
use jishi_ledger::publish::{sign_checkpoint, SignError};
use jishi_ledger::{open_proof_store, Checkpoint, Digest, Note, SignerKey, StoreSpec, VerifierKey};

use crate::VerifyFailed;

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The key's name, e.g. the log's name `tianyuan.gov.cn/jishi/2026` or a
    /// witness's `city-zzb.gov.cn/witness`. No spaces or '+'.
    name: String,
    /// Where to write the private key (created with mode 0600; never
    /// overwritten). The public key goes to the same path plus `.pub`.
    #[arg(long)]
    out: PathBuf,
    /// The signature suite: ed25519 (default) or sm2-sm3 (SM2 with SM3,
    /// for 密评; D69). Verifiers that know only Ed25519 ignore SM2 lines.
    #[arg(long, default_value = "ed25519", value_parser = crate::recording::parse_any_suite)]
    suite: jishi_ledger::Suite,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The log's private key file (from `jishi keygen`).
    #[arg(long)]
    key: PathBuf,
    /// The log's name in the checkpoint; defaults to the key's name.
    #[arg(long)]
    origin: Option<String>,
    /// Also write the signed note to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// A witness to push the checkpoint to, as URL=VKEY or URL=@FILE (its
    /// C2SP tlog-witness submission prefix and its public key); repeat for
    /// each. The cosignatures that verify are stored with the checkpoint.
    #[arg(long = "witness", value_name = "URL=VKEY")]
    witnesses: Vec<jishi_witness::WitnessEndpoint>,
    /// How many of the witnesses must cosign; fewer fail the command (the
    /// log's own checkpoint is stored anyway). Defaults to all of them.
    #[arg(long)]
    witness_quorum: Option<usize>,
    /// A C2SP tlog-policy file: the checkpoint goes to each `witness` line
    /// with a URL, and the `quorum` must be met (else exit 1, the
    /// checkpoint stored).
    #[arg(long, conflicts_with_all = ["witnesses", "witness_quorum"])]
    policy: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CosignArgs {
    /// The signed checkpoint note to cosign.
    checkpoint_file: PathBuf,
    /// The witness's private key file.
    #[arg(long)]
    key: PathBuf,
    /// The log's public key (a `.pub` file or the vkey text).
    #[arg(long)]
    log_key: String,
    /// The witness's state: the last checkpoint it cosigned of each log.
    /// Defaults to the witness key path plus `.state.json`.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Also write the cosigned note to this file.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ProveArgs {
    /// The event's position (1-based).
    position: u64,
    /// The tree size to prove against (a checkpoint's size); defaults to the
    /// current tree.
    #[arg(long)]
    size: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ProveConsistencyArgs {
    /// The earlier tree size.
    first: u64,
    /// The later tree size.
    second: u64,
}

#[derive(Debug, Args)]
pub struct VerifyProofArgs {
    /// A proof printed by `jishi prove` or `jishi prove-consistency`.
    file: PathBuf,
    /// Signed checkpoint note(s) to take sizes and roots from: one for an
    /// inclusion proof, two (earlier, later) for a consistency proof.
    #[arg(long)]
    checkpoint: Vec<PathBuf>,
    /// Public key(s) the checkpoints must be signed by (`.pub` file or vkey text).
    #[arg(long)]
    key: Vec<String>,
    /// The trusted root (64 hex digits) for an inclusion proof, instead of a checkpoint.
    #[arg(long)]
    root: Option<String>,
    /// The trusted earlier root for a consistency proof.
    #[arg(long)]
    first_root: Option<String>,
    /// The trusted later root for a consistency proof.
    #[arg(long)]
    second_root: Option<String>,
}

/// A private key from a file written by `jishi keygen`.
pub fn read_signer(path: &Path) -> anyhow::Result<SignerKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--key {}: cannot read the private key file", path.display()))?;
    text.trim()
        .parse()
        .with_context(|| format!("--key {}: not a jishi private key", path.display()))
}

/// A C2SP tlog-policy file (docs/FORMAT-merkle.md §16).
pub(crate) fn read_policy(path: &Path) -> anyhow::Result<jishi_ledger::policy::Policy> {
    let bytes =
        std::fs::read(path).with_context(|| format!("--policy {}: cannot read", path.display()))?;
    jishi_ledger::policy::Policy::parse(&bytes)
        .with_context(|| format!("--policy {}", path.display()))
}

/// A public key given as a file (`jishi keygen`'s `.pub`) or as vkey text.
pub(crate) fn read_verifier(arg: &str) -> anyhow::Result<VerifierKey> {
    let path = Path::new(arg);
    let text = if path.is_file() {
        std::fs::read_to_string(path)
            .with_context(|| format!("key {arg}: cannot read the public key file"))?
    } else {
        arg.to_string()
    };
    text.trim().parse().with_context(|| {
        if path.is_file() {
            format!("key {arg}: the file does not hold a public key (name+id+key)")
        } else {
            format!("key {arg}: no such file, and not a public key (name+id+key) either")
        }
    })
}

fn parse_root(flag: &str, text: &str) -> anyhow::Result<Digest> {
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("{flag}: {e}"))
}

/// Writes `contents` to `path` via a temporary file in the same directory,
/// so that a reader never sees half a file and a failure leaves nothing.
pub(crate) fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| {
        format!(
            "{}: cannot create a file in {}",
            path.display(),
            dir.display()
        )
    })?;
    tmp.write_all(contents)
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(())
}

pub fn keygen(args: KeygenArgs) -> anyhow::Result<()> {
    let key = SignerKey::generate_in(&args.name, args.suite).context("NAME")?;
    let mut pub_path = args.out.clone().into_os_string();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    for p in [&args.out, &pub_path] {
        if p.exists() {
            bail!(
                "{}: already exists; jishi never overwrites a key (choose another --out)",
                p.display()
            );
        }
    }
    write_private_key(&args.out, &key)?;
    let vkey = key.verifier().to_vkey();
    std::fs::write(&pub_path, format!("{vkey}\n"))
        .with_context(|| format!("{}: cannot write the public key", pub_path.display()))?;
    eprintln!(
        "private key written to {} (keep it secret); public key to {}",
        args.out.display(),
        pub_path.display()
    );
    println!("{vkey}");
    Ok(())
}

/// Writes a private key to a new file readable by its owner only (0600);
/// an existing file is never overwritten.
pub fn write_private_key(path: &Path, key: &SignerKey) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("{}: cannot create the key file", path.display()))?;
    file.write_all(format!("{}\n", key.to_private_text()).as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("{}: cannot write the key", path.display()))
}

/// Verifies the ledger, then signs and stores its current tree head: the log
/// never signs a history that does not verify.
pub async fn checkpoint(spec: &StoreSpec, args: CheckpointArgs) -> anyhow::Result<()> {
    let key = read_signer(&args.key)?;
    let origin = args.origin.unwrap_or_else(|| key.name().to_string());
    // Writes: the log's key is registered in the ledger on first use.
    let store = crate::recording::open_writer(spec, false).await?;
    let actor = crate::server_cmds::operator(None)?;
    let bar = crate::output::VerifyBar::new();
    let signed = match sign_checkpoint(&*store, &key, &origin, &actor, &bar).await {
        Ok(s) => s,
        Err(SignError::NotVerified(report)) => {
            crate::ledger_cmds::print_verify_failure(&report);
            eprintln!("refusing to sign a checkpoint of a ledger that does not verify");
            return Err(VerifyFailed.into());
        }
        Err(SignError::Origin(e)) => return Err(anyhow::Error::new(e).context("--origin")),
        Err(e) => return Err(e.into()),
    };
    eprintln!(
        "checkpoint #{} stored: {} events, root {} ({} events verified first)",
        signed.stored.id, signed.stored.size, signed.stored.root, signed.verified
    );
    let mut note_text = signed.note.clone();
    let mut short = None;
    let rule = args.policy.as_deref().map(read_policy).transpose()?;
    let mut witnesses = args.witnesses.clone();
    if let Some(r) = &rule {
        witnesses.extend(r.witnesses.iter().filter_map(|w| {
            w.url.as_ref().map(|u| jishi_witness::WitnessEndpoint {
                url: u.trim_end_matches('/').to_string(),
                key: w.key.clone(),
            })
        }));
    }
    if !witnesses.is_empty() || rule.is_some() {
        let quorum = args.witness_quorum.unwrap_or(witnesses.len());
        if quorum > witnesses.len() {
            bail!(
                "--witness-quorum {quorum}: only {} witnesses are given",
                witnesses.len()
            );
        }
        let note = Note::parse(&signed.note)?;
        let got =
            jishi_witness::gather_cosignatures(&*store, &note, signed.stored.size, &witnesses)
                .await;
        for (w, why) in &got.refused {
            eprintln!("witness {w} did not cosign: {why}");
        }
        if !got.cosigned.is_empty() {
            note_text = got.note.to_string();
            let stored = store.save_checkpoint(&note_text).await?;
            // Each witness key is recorded in the ledger once, so that
            // `verify` counts its cosignatures.
            for w in witnesses
                .iter()
                .filter(|w| got.cosigned.iter().any(|c| c == w.key.name()))
            {
                jishi_ledger::publish::register_checkpoint_key(&*store, &w.key, "witness", &actor)
                    .await?;
            }
            eprintln!(
                "checkpoint #{} stored, cosigned by {} of {} witnesses ({})",
                stored.id,
                got.cosigned.len(),
                witnesses.len(),
                got.cosigned.join(", ")
            );
        }
        match &rule {
            Some(r) => {
                let cosigned: Vec<&jishi_ledger::VerifierKey> = witnesses
                    .iter()
                    .filter(|w| got.cosigned.iter().any(|c| c == w.key.name()))
                    .map(|w| &w.key)
                    .collect();
                if !r.quorum_met(&|k| cosigned.contains(&k)) {
                    bail!(
                        "the policy's quorum {} is not met ({} cosigned); the log's checkpoint \
                         is stored, run `jishi checkpoint` again when the witnesses answer",
                        r.describe_quorum(),
                        got.cosigned.len()
                    );
                }
            }
            None if got.cosigned.len() < quorum => short = Some((got.cosigned.len(), quorum)),
            None => {}
        }
    }
    if let Some(out) = &args.out {
        write_atomically(out, note_text.as_bytes())?;
    }
    print!("{note_text}");
    if let Some((got, quorum)) = short {
        bail!(
            "only {got} of the {quorum} witness cosignatures the policy needs were obtained; the \
             log's checkpoint is stored, run `jishi checkpoint` again when the witnesses answer"
        );
    }
    Ok(())
}

/// What a witness remembers: per log (origin), the last checkpoint it cosigned.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessState {
    format: String,
    logs: BTreeMap<String, Checkpoint>,
}

const WITNESS_STATE_FORMAT: &str = "jishi-witness-state/1";

fn load_state(path: &Path) -> anyhow::Result<WitnessState> {
    match std::fs::read(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(WitnessState {
            format: WITNESS_STATE_FORMAT.into(),
            logs: BTreeMap::new(),
        }),
        Err(e) => Err(e).with_context(|| format!("--state {}: cannot read", path.display())),
        Ok(bytes) => {
            let state: WitnessState = serde_json::from_slice(&bytes)
                .with_context(|| format!("--state {}: not a witness state file", path.display()))?;
            if state.format != WITNESS_STATE_FORMAT {
                bail!(
                    "--state {}: format {:?} is not {WITNESS_STATE_FORMAT:?}",
                    path.display(),
                    state.format
                );
            }
            Ok(state)
        }
    }
}

/// The witness: cosigns only a checkpoint that the log signed and that
/// extends, by a consistency proof fetched from the ledger, the last one it
/// cosigned. A rewritten history fails here.
pub async fn cosign(spec: &StoreSpec, args: CosignArgs) -> anyhow::Result<()> {
    let witness = read_signer(&args.key)?;
    let log_key = read_verifier(&args.log_key).context("--log-key")?;
    let text = std::fs::read_to_string(&args.checkpoint_file).with_context(|| {
        format!(
            "{}: cannot read the checkpoint",
            args.checkpoint_file.display()
        )
    })?;
    let note = Note::parse(&text)
        .with_context(|| format!("{}: not a signed note", args.checkpoint_file.display()))?;
    let new = Checkpoint::from_body(note.text())
        .with_context(|| format!("{}: not a checkpoint", args.checkpoint_file.display()))?;
    let state_path = args.state.clone().unwrap_or_else(|| {
        let mut p = args.key.clone().into_os_string();
        p.push(".state.json");
        PathBuf::from(p)
    });
    let mut state = load_state(&state_path)?;
    let last = state.logs.get(&new.origin).cloned();
    let store = open_proof_store(spec, false).await?;
    let from = last.as_ref().map_or(0, |l| l.size);
    let proof = if from <= new.size {
        store
            .consistency_proof(from, new.size)
            .await
            .context("fetching the consistency proof from the ledger")?
            .path
    } else {
        Vec::new() // cosign refuses a smaller size by itself, by name.
    };
    let cosigned = match jishi_ledger::cosign(&witness, &log_key, last.as_ref(), &note, &proof) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("REFUSED to cosign: {}", chain(&e));
            return Err(VerifyFailed.into());
        }
    };
    // Remember first: a crash after this can only lose a cosignature, never
    // let the witness cosign a fork later.
    state.format = WITNESS_STATE_FORMAT.into();
    state
        .logs
        .insert(new.origin.clone(), cosigned.checkpoint.clone());
    write_atomically(
        &state_path,
        serde_json::to_string_pretty(&state)?.as_bytes(),
    )?;
    let note = cosigned.note.to_string();
    store.save_checkpoint(&note).await?;
    if let Some(out) = &args.out {
        write_atomically(out, note.as_bytes())?;
    }
    eprintln!(
        "cosigned {} at size {} (consistent with size {from}); state in {}",
        new.origin,
        new.size,
        state_path.display()
    );
    print!("{note}");
    Ok(())
}

/// An error and its sources on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

pub async fn prove(spec: &StoreSpec, args: ProveArgs) -> anyhow::Result<()> {
    if args.position == 0 {
        bail!("POSITION: positions start at 1");
    }
    let store = open_proof_store(spec, false).await?;
    let size = match args.size {
        Some(s) => s,
        None => store.tree_size().await?,
    };
    let proof = store
        .inclusion_proof(args.position - 1, size)
        .await
        .with_context(|| format!("POSITION {}", args.position))?;
    let event = store
        .read_all(args.position, 1)
        .await?
        .into_iter()
        .next()
        .with_context(|| format!("POSITION {}: no event is stored there", args.position))?;
    let doc = ProofDocument::Inclusion(InclusionDocument {
        position: args.position,
        leaf: event.hash,
        leaf_index: proof.leaf_index,
        tree_size: proof.tree_size,
        path: proof.path,
        root: store.tree_root(size).await?,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

pub async fn prove_consistency(spec: &StoreSpec, args: ProveConsistencyArgs) -> anyhow::Result<()> {
    let store = open_proof_store(spec, false).await?;
    let proof = store.consistency_proof(args.first, args.second).await?;
    let doc = ProofDocument::Consistency(export::ConsistencyDocument {
        first_size: proof.first_size,
        second_size: proof.second_size,
        path: proof.path,
        first_root: store.tree_root(args.first).await?,
        second_root: store.tree_root(args.second).await?,
    });
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}

/// Opens a checkpoint note file against the given keys (each must have signed).
fn open_checkpoint(path: &Path, keys: &[VerifierKey]) -> anyhow::Result<Checkpoint> {
    if keys.is_empty() {
        bail!("--checkpoint needs --key: the public key(s) the checkpoint must be signed by");
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--checkpoint {}: cannot read", path.display()))?;
    let (cp, verified) = Checkpoint::open(&text, keys)
        .with_context(|| format!("--checkpoint {}", path.display()))?;
    for k in keys {
        if !verified.is_signed_by(k) {
            bail!(
                "--checkpoint {}: not signed by the key {:?}",
                path.display(),
                k.name()
            );
        }
    }
    Ok(cp)
}

pub fn verify_proof(args: VerifyProofArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    let doc: ProofDocument = serde_json::from_slice(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a proof printed by jishi prove or prove-consistency ({e})",
            args.file.display()
        )
    })?;
    let keys = args
        .key
        .iter()
        .map(|k| read_verifier(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let checkpoints = args
        .checkpoint
        .iter()
        .map(|p| open_checkpoint(p, &keys))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let result = match &doc {
        ProofDocument::Inclusion(p) => {
            if p.position != p.leaf_index.saturating_add(1) {
                bail!(
                    "{}: position {} and leaf_index {} disagree (leaf_index is position − 1)",
                    args.file.display(),
                    p.position,
                    p.leaf_index
                );
            }
            let (root, source) = match (&args.root, checkpoints.as_slice()) {
                (Some(r), []) => (parse_root("--root", r)?, "the given root".to_string()),
                (None, [cp]) => {
                    if cp.size != p.tree_size {
                        bail!(
                            "the proof is for tree size {} but the checkpoint is of size {}: \
                             ask for `jishi prove {} --size {}`",
                            p.tree_size,
                            cp.size,
                            p.position,
                            cp.size
                        );
                    }
                    (
                        cp.root,
                        format!("the checkpoint of {} at size {}", cp.origin, cp.size),
                    )
                }
                _ => bail!(
                    "an inclusion proof is checked against a trusted root: give --root HEX, or \
                     one --checkpoint FILE with --key"
                ),
            };
            p.verify(&root).map(|()| {
                format!(
                    "ok: position {} (event hash {}) is in the tree of size {} with {source}",
                    p.position, p.leaf, p.tree_size
                )
            })
        }
        ProofDocument::Consistency(p) => {
            let (first, second) =
                match (&args.first_root, &args.second_root, checkpoints.as_slice()) {
                    (Some(a), Some(b), []) => (
                        parse_root("--first-root", a)?,
                        parse_root("--second-root", b)?,
                    ),
                    (None, None, [a, b]) => {
                        if (a.size, b.size) != (p.first_size, p.second_size) {
                            bail!(
                            "the proof is for sizes {} → {} but the checkpoints are of sizes {} \
                             and {}",
                            p.first_size,
                            p.second_size,
                            a.size,
                            b.size
                        );
                        }
                        (a.root, b.root)
                    }
                    _ => bail!(
                        "a consistency proof is checked against two trusted roots: give \
                     --first-root and --second-root, or two --checkpoint files (earlier, later) \
                     with --key"
                    ),
                };
            p.verify(&first, &second).map(|()| {
                format!(
                    "ok: the tree of size {} extends the tree of size {} (append-only)",
                    p.second_size, p.first_size
                )
            })
        }
    };
    match result {
        Ok(msg) => {
            println!("{msg}");
            Ok(())
        }
        Err(e) => {
            eprintln!("FAILED: {}: {e}", args.file.display());
            Err(VerifyFailed.into())
        }
    }
}
