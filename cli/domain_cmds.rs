//! The domain commands: `jishi record` and `jishi procedure`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use jishi_ledger::input::parse_actor;
use jishi_ledger::StoreSpec;
use jishi_projections::{Command, Procedure};
use serde_json::{Map, Value};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The step to record, e.g. candidate.nominated (see `jishi record --list`).
    #[arg(required_unless_present = "list")]
    kind: Option<String>,
    /// The election (unit and term), e.g. qingshan-2021.
    #[arg(long)]
    election: Option<String>,
    /// The candidate, for candidate-level steps.
    #[arg(long)]
    candidate: Option<String>,
    /// When it happened (RFC 3339 with offset), e.g. 2021-03-08T15:30:00+08:00.
    #[arg(long)]
    at: Option<String>,
    /// A field of the step: `--set name=李明` (repeatable). Values are read as
    /// JSON where the field is not text: `--set seats=7`.
    #[arg(long = "set", value_name = "FIELD=VALUE")]
    set: Vec<String>,
    /// All fields as one JSON object (combined with the flags above).
    #[arg(long)]
    json: Option<String>,
    /// Record despite a rule, openly: the rule broken (R1–R13).
    #[arg(long = "override", value_name = "RULE", requires = "justification")]
    override_rule: Option<String>,
    /// Why the rule is overridden; shown in every compliance report.
    #[arg(long)]
    justification: Option<String>,
    /// With election.opened: the procedure file to open under instead of the
    /// built-in one of the kind; it is recorded with the opening. With any
    /// later step: it must be the procedure recorded in force, or nothing is
    /// recorded (change it with procedure.amended).
    #[arg(long)]
    procedure: Option<PathBuf>,
    /// Who records it: `id=…,name=…,role=…,org=…` or JSON.
    #[arg(long, env = "JISHI_ACTOR")]
    actor: Option<String>,
    /// List the steps that can be recorded, with their fields.
    #[arg(long)]
    list: bool,
    /// Print the result as JSON.
    #[arg(long = "output-json")]
    output_json: bool,
    /// With candidate.nominated: the nominee's id number (居民身份证号码),
    /// checked (GB 11643) and never recorded. The nomination carries its
    /// keyed hash (`person_ref`) instead, which links the person across
    /// elections (`jishi person`).
    #[arg(long = "id-number", value_name = "NUMBER")]
    id_number: Option<String>,
    /// The person key for --id-number (`jishi person-key new`), kept outside
    /// the database.
    #[arg(long = "person-key", env = "JISHI_PERSON_KEY")]
    person_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ProcedureCmd {
    /// The built-in procedures.
    List,
    /// One procedure: stages, steps, roles, periods and ratios.
    Show {
        /// A built-in kind, e.g. township_party_committee.
        kind: Option<String>,
        /// A procedure file to load (and check) instead.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

pub fn procedure(cmd: ProcedureCmd) -> anyhow::Result<()> {
    match cmd {
        ProcedureCmd::List => {
            let mut t = comfy_table::Table::new();
            t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_header(vec!["类型\nKind", "名称\nName", "阶段/环节\nStages/Steps"]);
            for p in Procedure::builtins()? {
                t.add_row(vec![
                    p.kind.clone(),
                    p.name.clone(),
                    format!("{} / {}", p.stages.len(), p.steps.len()),
                ]);
            }
            println!("{t}");
            Ok(())
        }
        ProcedureCmd::Show { kind, file } => {
            let p = match (kind, file) {
                (_, Some(path)) => load_procedure(&path)?,
                (Some(kind), None) => Procedure::builtin(&kind)?,
                (None, None) => bail!("give a KIND (see `jishi procedure list`) or --file"),
            };
            println!("{p}");
            // The identity an election records for it (procedure.adopted, D65).
            println!("digest (BLAKE3 of the canonical text): {}", p.digest());
            Ok(())
        }
    }
}

fn load_procedure(path: &std::path::Path) -> anyhow::Result<Procedure> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    Ok(Procedure::from_toml_str(
        &text,
        &path.display().to_string(),
    )?)
}

/// Builds the command's JSON from `--json` and the flags; a field given twice
/// is an error rather than a silent choice.
fn command_json(args: &RecordArgs, kind: &str) -> anyhow::Result<Value> {
    let mut map = match &args.json {
        None => Map::new(),
        Some(text) => match jishi_ledger::canonical::parse_strict(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => bail!("--json: must be a JSON object"),
            Err(e) => match e.field_under("") {
                Some(field) => bail!("--json: {field}: {}", e.reason),
                None => bail!("--json: malformed JSON: {}", e.reason),
            },
        },
    };
    let mut put = |key: &str, value: Value| -> anyhow::Result<()> {
        if map.insert(key.to_string(), value).is_some() {
            bail!("{key}: given twice (in --json and as a flag)");
        }
        Ok(())
    };
    if let Some(e) = &args.election {
        put("election_id", Value::String(e.clone()))?;
    }
    if let Some(c) = &args.candidate {
        put("candidate_id", Value::String(c.clone()))?;
    }
    if let Some(t) = &args.at {
        put("occurred_at", Value::String(t.clone()))?;
    }
    if let Some(n) = &args.id_number {
        if kind != "candidate.nominated" {
            bail!("--id-number: only candidate.nominated carries a person, not {kind}");
        }
        let r = crate::person_cmds::person_ref(n, args.person_key.as_deref())?;
        put("person_ref", Value::String(r.to_string()))?;
    }
    if let (Some(rule), Some(why)) = (&args.override_rule, &args.justification) {
        put(
            "override",
            serde_json::json!({"rule": rule, "justification": why}),
        )?;
    }
    let pairs = args
        .set
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .with_context(|| format!("--set {kv:?}: write FIELD=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Value::Object(from_pairs) = Command::json_from_pairs(kind, &pairs)? {
        for (k, v) in from_pairs {
            // A value read as JSON (not kept as text) is held to the same
            // rule as `--json`: a number whose value canonicalisation would
            // change is refused, not rounded (D44).
            if !v.is_string() {
                if let Some((_, raw)) = pairs.iter().rev().find(|(key, _)| *key == k) {
                    // `raw` already read as JSON, so an error here is a
                    // refusal, not malformed text.
                    if let Err(e) = jishi_ledger::canonical::parse_strict(raw) {
                        let field = e.field_under(&k).unwrap_or_else(|| k.clone());
                        bail!("--set {field}: {}", e.reason);
                    }
                }
            }
            put(&k, v)?;
        }
    }
    Ok(Value::Object(map))
}

pub async fn record(spec: &StoreSpec, args: RecordArgs) -> anyhow::Result<()> {
    if args.list {
        for kind in Command::kinds() {
            println!("{kind}");
        }
        return Ok(());
    }
    let kind = args.kind.clone().context("KIND: is required")?;
    let actor = parse_actor(
        args.actor
            .as_deref()
            .context("actor: is required (--actor or JISHI_ACTOR)")?,
    )?;
    let command = Command::from_json(&kind, command_json(&args, &kind)?)?;
    let procedure = args.procedure.as_deref().map(load_procedure).transpose()?;
    let store: std::sync::Arc<dyn jishi_ledger::EventStore> =
        crate::recording::open_writer(spec, false).await?;
    let recorded = jishi_app::record(&store, procedure.as_ref(), &actor, &command).await?;
    if args.output_json {
        let out: Vec<Value> = recorded
            .events
            .iter()
            .map(|(e, at)| {
                serde_json::json!({
                    "event_type": e.event_type(), "stream": e.stream(),
                    "position": at.position, "stream_version": at.stream_version,
                    "hash": at.hash,
                })
            })
            .collect();
        println!("{}", serde_json::to_string(&out)?);
    } else {
        for (e, at) in &recorded.events {
            println!(
                "recorded {} on {} at position {} (hash {})",
                e.event_type(),
                e.stream(),
                at.position,
                at.hash.short()
            );
        }
    }
    Ok(())
}
