//! The case-file commands: `jishi export` (a candidate's or an election's
//! events with inclusion, completeness and range proofs, D72) and `jishi
//! verify-export` (checked offline with public keys, or a policy file, only).
//! Split from `proof_cmds` by concern; a failed check exits 3, bad input 1.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use jishi_ledger::export::{self, ExportError, Selector};
use jishi_ledger::publish::{build_case, Case};
use jishi_ledger::{open_proof_store, Checkpoint, Note, StoreSpec};

use crate::proof_cmds::{read_policy, read_verifier, write_atomically};
use crate::VerifyFailed;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The stream to export (or use --prefix).
    stream: Option<String>,
    /// Export every stream equal to or below this prefix, e.g. a candidate's
    /// `election/x/candidate/c1`.
    #[arg(long, conflicts_with = "stream")]
    prefix: Option<String>,
    /// The file to write.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("log").required(true).multiple(true).args(["log_key", "key", "policy"]))]
pub struct VerifyExportArgs {
    /// The case export file.
    file: PathBuf,
    /// The log's public key (`.pub` file or vkey text), always required: its
    /// name must be the checkpoint's origin.
    #[arg(long)]
    log_key: Vec<String>,
    /// A witness's public key; repeat for each witness you rely on.
    #[arg(long)]
    witness: Vec<String>,
    /// How many of the witnesses given must have cosigned (default: all).
    #[arg(long)]
    witness_quorum: Option<usize>,
    /// Keys as earlier versions took them: those named after the origin are
    /// the log's, every other one a witness that must have cosigned.
    #[arg(long)]
    key: Vec<String>,
    /// A C2SP tlog-policy file: its `log` lines are the log's keys, its
    /// `witness` lines the cosigners (witnesses and mirrors), its `quorum`
    /// the groups and thresholds that must have cosigned.
    #[arg(long, conflicts_with_all = ["witness", "witness_quorum", "key"])]
    policy: Option<PathBuf>,
    /// The newest signed checkpoint of this log you already hold: an export
    /// proved against an older one is refused (it says nothing of later
    /// events), and one of the same size with another root is a split view.
    #[arg(long)]
    newest: Option<PathBuf>,
    /// Accept a format-1 export, which cannot prove that no event was left
    /// out (it is then reported as "not proved complete").
    #[arg(long)]
    allow_incomplete: bool,
}

pub async fn export_case(spec: &StoreSpec, args: ExportArgs) -> anyhow::Result<()> {
    let selector = match (args.stream, args.prefix) {
        (Some(s), None) => Selector::Stream(s),
        (None, Some(p)) if !p.is_empty() => Selector::Prefix(p),
        _ => bail!("give the STREAM to export, or --prefix PREFIX"),
    };
    let store = open_proof_store(spec, false).await?;
    let Case {
        export: case,
        checkpoint: cp,
    } = build_case(&*store, &selector).await?;
    write_atomically(&args.out, case.to_json()?.as_bytes())?;
    // Check what was written against the checkpoint (signatures are for the
    // investigator's keys): a file that fails says the ledger changed after
    // the checkpoint was signed, which the investigator must be told.
    let body = Note::parse(&cp.note)?;
    let signed = Checkpoint::from_body(body.text())?;
    let signers: Vec<&str> = body.signatures().iter().map(|s| s.name.as_str()).collect();
    match export::check_events(&case, &signed) {
        Ok(c) => {
            println!(
                "wrote {}: {} events of {selector} (positions {}–{}), with inclusion proofs in \
                 checkpoint #{} of size {} signed by {}",
                args.out.display(),
                c.events,
                c.first_position,
                c.last_position,
                cp.id,
                cp.size,
                signers.join(", ")
            );
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "WARNING: wrote {}, but it does not verify against checkpoint #{} of size {}: \
                 {e}\nthe ledger no longer matches what was signed; run `jishi verify`",
                args.out.display(),
                cp.id,
                cp.size
            );
            Err(VerifyFailed.into())
        }
    }
}

pub fn verify_export(args: VerifyExportArgs) -> anyhow::Result<()> {
    let read = |keys: &[String], flag: &str| {
        keys.iter()
            .map(|k| read_verifier(k).with_context(|| flag.to_string()))
            .collect::<anyhow::Result<Vec<_>>>()
    };
    // Keys first: a mistyped key is the user's error (exit 1), whatever
    // the file holds.
    let given = read(&args.key, "--key")?;
    let log_keys = read(&args.log_key, "--log-key")?;
    let witnesses = read(&args.witness, "--witness")?;
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("{}: cannot read", args.file.display()))?;
    let parsed = match export::parse_export(&bytes) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("FAILED: {}: {e}", args.file.display());
            return Err(VerifyFailed.into());
        }
    };
    let origin = Note::parse(&parsed.checkpoint)
        .map(|n| n.text().split('\n').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    let mut policy = export::TrustPolicy::of_keys(&given, &origin);
    policy.log_keys.extend(log_keys);
    policy.quorum += args.witness_quorum.unwrap_or(witnesses.len());
    policy.witnesses.extend(witnesses);
    if let Some(path) = &args.policy {
        let rule = read_policy(path)?;
        policy
            .log_keys
            .extend(rule.logs.iter().map(|l| l.key.clone()));
        policy
            .witnesses
            .extend(rule.witnesses.iter().map(|w| w.key.clone()));
        policy.quorum = 0;
        policy.rule = Some(rule);
    }
    if policy.quorum > policy.witnesses.len() {
        bail!(
            "--witness-quorum {}: only {} witness keys are given",
            policy.quorum,
            policy.witnesses.len()
        );
    }
    if let Some(path) = &args.newest {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("--newest {}: cannot read", path.display()))?;
        let keys: Vec<_> = policy.log_keys.clone();
        let (cp, _) = Checkpoint::open(&text, &keys).with_context(|| {
            format!(
                "--newest {}: not a checkpoint signed by the log's key",
                path.display()
            )
        })?;
        policy.newest = Some(cp);
    }
    match export::verify_export_with(&bytes, &policy) {
        Ok(c) if c.complete.is_none() && !args.allow_incomplete => {
            eprintln!(
                "FAILED: {}: a {} file proves each event it holds but not that none was left \
                 out (no stream map); ask for a new export, or pass --allow-incomplete",
                args.file.display(),
                c.format
            );
            Err(VerifyFailed.into())
        }
        Ok(c) => {
            println!("ok: {} verifies offline", args.file.display());
            println!("  format            {}", c.format);
            println!(
                "  checkpoint        {} at size {}, root {}",
                c.checkpoint.origin, c.checkpoint.size, c.checkpoint.root
            );
            match &c.complete {
                Some(k) => println!(
                    "  complete          as of checkpoint {}: all {} event(s) of the {} \
                     stream(s) of {} are in the file",
                    c.checkpoint.size, k.events, k.streams, c.selector
                ),
                None => println!("  complete          NOT PROVED (format 1: no stream map)"),
            }
            let (need, of) = c.quorum;
            let rule = policy
                .rule
                .as_ref()
                .map_or(format!("{need} of {of}"), |r| r.describe_quorum());
            println!(
                "  witnesses         cosigned by {} of {of} (policy: {rule}){}",
                c.cosigned_by.len(),
                if c.cosigned_by.is_empty() {
                    String::new()
                } else {
                    format!(
                        ": {}",
                        c.cosigned_by
                            .iter()
                            .map(|(k, t)| match t {
                                Some(t) => format!("{k} at {}", crate::output::unix_time(*t)),
                                None => k.clone(),
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
            println!("  signatures        verified: {}", c.signed_by.join(", "));
            if !c.unknown_signers.is_empty() {
                println!(
                    "                    not checked (no key given): {}",
                    c.unknown_signers.join(", ")
                );
            }
            println!(
                "  events            {} of {} ({}), positions {}–{}",
                c.events,
                c.selector,
                c.streams.join(", "),
                c.first_position,
                c.last_position
            );
            println!(
                "  payload digests   {} checked{}",
                c.payloads_checked,
                if c.payloads_withheld.is_empty() {
                    String::new()
                } else {
                    format!(
                        ", {} withheld as redacted (digest only) at position(s) {}",
                        c.payloads_withheld.len(),
                        c.payloads_withheld
                            .iter()
                            .map(u64::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
            println!(
                "  event hashes      {} recomputed from the envelopes",
                c.events
            );
            println!(
                "  inclusion proofs  {} verified against the checkpoint's root",
                c.events
            );
            Ok(())
        }
        Err(ExportError::Events(faults)) => {
            eprintln!(
                "FAILED: {}: {} event check(s) failed:",
                args.file.display(),
                faults.len()
            );
            for f in faults.iter().take(50) {
                eprintln!("  {f}");
            }
            if faults.len() > 50 {
                eprintln!("  … and {} more", faults.len() - 50);
            }
            Err(VerifyFailed.into())
        }
        Err(ExportError::Incomplete(problems)) => {
            eprintln!(
                "FAILED: {}: the file is not complete as of its checkpoint:",
                args.file.display()
            );
            for p in &problems {
                eprintln!("  {p}");
            }
            Err(VerifyFailed.into())
        }
        Err(e) => {
            eprintln!("FAILED: {}: {e}", args.file.display());
            Err(VerifyFailed.into())
        }
    }
}
