//! A person across elections (issue 16, item 7; domain decision 30): the
//! person key, the reference `jishi record --id-number` puts on a
//! nomination, and `jishi person`, which finds every selection a person
//! went through. The id number itself is never written anywhere.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use jishi_ledger::{open_store, StoreSpec};
use jishi_projections::person::PersonRef;

use crate::output::{print_json, table};

/// Reads a person key: 64 hex digits (32 bytes), alone in its file.
pub fn read_person_key(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--person-key {}: cannot read", path.display()))?;
    let hex = text.trim();
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>();
    match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
        Some(k) if hex.len() == 64 => Ok(k),
        _ => bail!(
            "--person-key {}: a person key is 64 hex digits (make one with `jishi person-key new`)",
            path.display()
        ),
    }
}

/// The reference of `id_number` under the key at `key`.
pub fn person_ref(id_number: &str, key: Option<&Path>) -> anyhow::Result<PersonRef> {
    let key = key.context(
        "--id-number needs --person-key FILE (or JISHI_PERSON_KEY): the number is recorded only \
         as its keyed hash",
    )?;
    let key = read_person_key(key)?;
    PersonRef::of_id_number(&key, id_number).map_err(|e| anyhow::anyhow!("--id-number: {e}"))
}

#[derive(Debug, Subcommand)]
pub enum PersonKeyCmd {
    /// Make a new person key (mode 0600). Keep it off the database's
    /// machine; give the same key to every ledger that should link people.
    New {
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn person_key(cmd: PersonKeyCmd) -> anyhow::Result<()> {
    match cmd {
        PersonKeyCmd::New { out } => {
            if out.exists() {
                bail!(
                    "--out {}: exists; a person key is never overwritten",
                    out.display()
                );
            }
            let key: [u8; 32] = rand_key();
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            write_secret(&out, &format!("{hex}\n"))?;
            println!("person key written to {} (keep it secret)", out.display());
            Ok(())
        }
    }
}

/// 32 bytes from the operating system's generator: an Ed25519 seed is
/// exactly that, drawn as the recording and signing keys are.
fn rand_key() -> [u8; 32] {
    jishi_ledger::suite::SecretKey::generate(jishi_ledger::Suite::Ed25519).to_bytes()
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("--out {}: cannot create", path.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    Ok(())
}

#[derive(Debug, Args)]
pub struct PersonArgs {
    /// The person's id number (居民身份证号码); needs --person-key.
    #[arg(long = "id-number", conflicts_with = "reference")]
    id_number: Option<String>,
    /// Or the person reference itself (`p1:…`), as a nomination shows it.
    #[arg(long = "ref", value_name = "p1:…")]
    reference: Option<String>,
    /// The person key the references were made with.
    #[arg(long = "person-key", env = "JISHI_PERSON_KEY")]
    person_key: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, serde::Serialize)]
struct Selection {
    election_id: String,
    candidate_id: String,
    name: String,
    status: &'static str,
    last_step: Option<String>,
    nominated_at: String,
}

/// Every candidacy of one person in this ledger, in election order.
pub async fn person(spec: &StoreSpec, args: PersonArgs) -> anyhow::Result<()> {
    let wanted = match (&args.id_number, &args.reference) {
        (Some(n), _) => person_ref(n, args.person_key.as_deref())?,
        (None, Some(r)) => PersonRef::parse(r).map_err(|e| anyhow::anyhow!("--ref: {e}"))?,
        (None, None) => bail!("give --id-number (with --person-key) or --ref"),
    };
    let store = open_store(spec, false).await?;
    let projections = jishi_app::views::rebuild(store.as_ref()).await?;
    let mut found = Vec::new();
    for (election, p) in &projections.elections {
        let on = jishi_projections::views::stats(&p.state).on;
        let rows = jishi_projections::views::candidates(&p.state, on);
        for (id, c) in &p.state.candidates {
            let Some(n) = &c.nomination else { continue };
            if n.person_ref.as_ref() != Some(&wanted) {
                continue;
            }
            let row = rows.iter().find(|r| &r.candidate_id == id);
            let nominated_at = p
                .entries
                .iter()
                .find(|e| {
                    e.event.candidate_id.as_deref() == Some(id.as_str())
                        && e.event.body.event_type() == "candidate.nominated"
                })
                .map_or_else(String::new, |e| e.event.occurred_at.to_rfc3339());
            found.push(Selection {
                election_id: election.clone(),
                candidate_id: id.clone(),
                name: n.name.clone(),
                status: row.map_or("", |r| r.status),
                last_step: row.and_then(|r| r.last_step.clone()),
                nominated_at,
            });
        }
    }
    found.sort_by(|a, b| a.nominated_at.cmp(&b.nominated_at));
    if args.json {
        return print_json(&serde_json::json!({ "person_ref": wanted, "selections": found }));
    }
    println!(
        "人员 person {wanted}: {} selection(s) in this ledger",
        found.len()
    );
    let mut t = table(vec![
        "换届\nElection",
        "人选\nCandidate",
        "姓名\nName",
        "提名\nNominated",
        "状态\nStatus",
        "最近环节\nLast step",
    ]);
    for s in &found {
        t.add_row(vec![
            s.election_id.clone(),
            s.candidate_id.clone(),
            s.name.clone(),
            s.nominated_at.get(..10).unwrap_or_default().to_string(),
            s.status.to_string(),
            s.last_step.clone().unwrap_or_default(),
        ]);
    }
    println!("{t}");
    Ok(())
}
