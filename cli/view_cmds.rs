//! The read commands: `jishi trail`, `accountability`, `check`, `stats` and
//! `candidates`. They read the ledger through `jishi_app::views`, compute the
//! pure views of `jishi_projections::views` and print tables (Chinese and
//! English labels) or JSON.

use std::path::PathBuf;

use crate::output::{print_json, table};
use anyhow::Context;
use clap::Args;
use jishi_app::views as views_io;
use jishi_ledger::{open_store, EventStore, StoreSpec};
use jishi_projections::views::{self, Accountability, ComplianceReport, Entry, Trail};
use jishi_projections::{fold, Procedure};

#[derive(Debug, Args)]
pub struct CandidateArgs {
    /// The candidate id (unique within an election).
    pub candidate: String,
    /// The election; found from the stream names when left out (slow on a
    /// large ledger, and refused when the id is in several elections).
    #[arg(long)]
    pub election: Option<String>,
    /// As of a ledger position (e.g. 1200), an RFC 3339 time or a date.
    #[arg(long = "as-of", value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
    /// As of an occurred time instead (a date or an RFC 3339 time): the
    /// events that happened by then, whenever they were recorded. `--as-of`
    /// reads the recorded time.
    #[arg(long = "as-of-occurred", value_name = "TIME", conflicts_with = "as_of")]
    pub as_of_occurred: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ElectionArgs {
    /// The election, e.g. qingshan-2021.
    pub election: String,
    /// As of a ledger position (e.g. 1200), an RFC 3339 time or a date.
    #[arg(long = "as-of", value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
    /// As of an occurred time instead (a date or an RFC 3339 time): the
    /// events that happened by then, whenever they were recorded. `--as-of`
    /// reads the recorded time.
    #[arg(long = "as-of-occurred", value_name = "TIME", conflicts_with = "as_of")]
    pub as_of_occurred: Option<String>,
    /// A procedure file instead of the built-in one of the election's kind.
    #[arg(long)]
    pub procedure: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// One or more elections; with several, a district total is printed too.
    #[arg(required = true)]
    pub elections: Vec<String>,
    /// As of a ledger position (e.g. 1200), an RFC 3339 time or a date.
    #[arg(long = "as-of", value_name = "POSITION|TIME")]
    pub as_of: Option<String>,
    /// As of an occurred time instead (a date or an RFC 3339 time): the
    /// events that happened by then, whenever they were recorded. `--as-of`
    /// reads the recorded time.
    #[arg(long = "as-of-occurred", value_name = "TIME", conflicts_with = "as_of")]
    pub as_of_occurred: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// A candidate's entries and the election they belong to, with what an
/// `--as-of-occurred` left out.
pub(crate) async fn candidate_view(
    store: &dyn EventStore,
    args: &CandidateArgs,
) -> anyhow::Result<(String, Vec<Entry>, Option<views_io::OccurredCut>)> {
    let (election, entries) = views_io::candidate_view(
        store,
        &args.candidate,
        args.election.as_deref(),
        args.as_of.as_deref(),
    )
    .await?;
    let (entries, cut) = by_occurred(entries, args.as_of_occurred.as_deref())?;
    Ok((election, entries, cut))
}

/// Applies `--as-of-occurred`, when given.
pub(crate) fn by_occurred(
    entries: Vec<Entry>,
    spec: Option<&str>,
) -> anyhow::Result<(Vec<Entry>, Option<views_io::OccurredCut>)> {
    Ok(match spec {
        Some(s) => {
            let (kept, cut) = views_io::occurred_by(entries, s)?;
            (kept, Some(cut))
        }
        None => (entries, None),
    })
}

/// Names the clock the view was cut by, above a table: which events an
/// occurred-time view shows, and which of them the record held only later.
pub(crate) fn print_clock(cut: Option<&views_io::OccurredCut>, as_of: Option<&str>) {
    if let Some(c) = cut {
        let later = if c.recorded_later.is_empty() {
            String::new()
        } else {
            format!(
                "; {} of them recorded only after it ({})",
                c.recorded_later.len(),
                c.recorded_later
                    .iter()
                    .map(|p| format!("#{p}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        println!(
            "按发生时间 by occurred time, as of {}: {} event(s) had happened{later}; {} later \
             event(s) not shown",
            c.time, c.shown, c.happened_later
        );
    } else if let Some(spec) = as_of {
        println!("按记录时间 by recorded time, as of {spec}: what the ledger held then");
    }
}

/// JSON with the occurred-time cut named beside the view.
pub(crate) fn print_json_cut<T: serde::Serialize>(
    view: &T,
    cut: Option<&views_io::OccurredCut>,
) -> anyhow::Result<()> {
    match cut {
        Some(c) => print_json(&serde_json::json!({
            "as_of_occurred": c,
            "view": view,
        })),
        None => print_json(view),
    }
}

pub async fn trail(spec: &StoreSpec, args: CandidateArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let (election, entries, cut) = candidate_view(store.as_ref(), &args).await?;
    let mut t = views::trail(&entries, &args.candidate);
    t.election_id = election;
    if args.json {
        return print_json_cut(&t, cut.as_ref());
    }
    print_clock(cut.as_ref(), args.as_of.as_deref());
    print_trail(&t);
    Ok(())
}

pub fn print_trail(t: &Trail) {
    println!(
        "全程纪实 trail — {} {} (election {}), {} events, as of position {}",
        t.candidate_id,
        t.name.as_deref().unwrap_or(""),
        t.election_id,
        t.rows.len(),
        t.as_of
    );
    let mut table = table(vec![
        "位置\nPos",
        "环节\nStep",
        "发生 / 记录\nOccurred / Recorded",
        "责任人\nActor",
        "角色 / 单位\nRole / Org",
        "要点\nKey facts",
        "哈希\nHash",
    ]);
    for r in &t.rows {
        let mut facts = r.facts.clone();
        for o in &r.overrides {
            if r.event_type != "override.recorded" {
                facts.push_str(&format!(
                    "\n⚠ {} override by {}: {}",
                    o.rule, o.authorised_by.name, o.justification
                ));
            }
        }
        for c in &r.corrections {
            facts.push_str(&format!(
                "\n✎ 更正 corrected at #{} by {}: {}",
                c.position, c.by.name, c.reason
            ));
        }
        if let Some(p) = r.corrects {
            facts.push_str(&format!("\n→ corrects #{p}"));
        }
        table.add_row(vec![
            r.position.to_string(),
            format!("{}\n{}", r.step, r.event_type),
            format!("{}\n{}", r.occurred_at, r.recorded_at),
            format!("{}\n{}", r.actor.name, r.actor.id),
            format!("{}\n{}", r.actor.role, r.actor.org),
            facts,
            r.hash.clone(),
        ]);
    }
    println!("{table}");
}

pub async fn accountability(spec: &StoreSpec, args: CandidateArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let (election, entries, cut) = candidate_view(store.as_ref(), &args).await?;
    let mut a = views::accountability(&entries, &args.candidate);
    a.election_id = election;
    if args.json {
        return print_json_cut(&a, cut.as_ref());
    }
    print_clock(cut.as_ref(), args.as_of.as_deref());
    print_accountability(&a);
    Ok(())
}

pub fn print_accountability(a: &Accountability) {
    println!(
        "责任链 responsibility chain — {} {} (election {})",
        a.candidate_id,
        a.name.as_deref().unwrap_or(""),
        a.election_id
    );
    let mut table = table(vec![
        "环节\nDuty",
        "责任人\nResponsible",
        "记录人\nRecorded by",
        "日期\nDate",
        "位置\nPos",
        "说明\nDetail",
    ]);
    for d in &a.duties {
        table.add_row(vec![
            d.label.to_string(),
            d.responsible.join("\n"),
            format!(
                "{} ({})\n{} / {}",
                d.recorded_by.name, d.recorded_by.id, d.recorded_by.role, d.recorded_by.org
            ),
            d.occurred_at
                .get(..10)
                .unwrap_or(&d.occurred_at)
                .to_string(),
            d.position.to_string(),
            d.detail.clone(),
        ]);
    }
    println!("{table}");
}

/// The procedure an election was recorded under: a file, or the built-in one
/// of the kind its opening names.
fn procedure_of(
    election: &str,
    entries: &[Entry],
    file: Option<&PathBuf>,
) -> anyhow::Result<Procedure> {
    let given = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading procedure file {}", path.display()))?;
            Some(Procedure::from_toml_str(
                &text,
                &path.display().to_string(),
            )?)
        }
        None => None,
    };
    Ok(views_io::procedure_of(election, entries, given)?)
}

async fn election_view(
    store: &dyn EventStore,
    election: &str,
    as_of_spec: Option<&str>,
) -> anyhow::Result<Vec<Entry>> {
    Ok(views_io::election_view(store, election, as_of_spec).await?)
}

pub async fn check(spec: &StoreSpec, args: ElectionArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let as_of = views_io::as_of_position(store.as_ref(), args.as_of.as_deref()).await?;
    let (entries, unreadable) =
        views_io::election_entries_lenient(store.as_ref(), &args.election, as_of).await?;
    if entries.is_empty() && unreadable.is_empty() && as_of.is_none() {
        return Err(views_io::ViewError::UnknownElection(args.election.clone()).into());
    }
    let (entries, cut) = by_occurred(entries, args.as_of_occurred.as_deref())?;
    let procedure = procedure_of(&args.election, &entries, args.procedure.as_ref())?;
    // The compliance findings and, beside them, replay's: what the gates
    // would have refused, and what was recorded outside them (D68).
    let (mut report, _) = jishi_projections::replay::compliance_with(
        &entries,
        &unreadable,
        &procedure,
        &views::StructureRules::default(),
    );
    report.election_id = args.election.clone();
    if args.json {
        return print_json_cut(&report, cut.as_ref());
    }
    print_clock(cut.as_ref(), args.as_of.as_deref());
    print_report(&report);
    Ok(())
}

pub fn print_report(r: &ComplianceReport) {
    println!(
        "合规检查 compliance — election {}, as of position {}: {} finding(s)",
        r.election_id,
        r.as_of,
        r.findings.len()
    );
    for p in &r.procedures {
        println!(
            "程序 procedure {} ({}), {} at #{}",
            p.kind,
            p.digest.get(..12).unwrap_or(&p.digest),
            p.how,
            p.position
        );
    }
    if r.findings.is_empty() {
        return;
    }
    let mut table = table(vec![
        "类别\nFinding",
        "规则\nRule",
        "人选\nCandidate",
        "情况\nDetail",
        "证据位置\nEvidence",
    ]);
    for f in &r.findings {
        table.add_row(vec![
            f.kind.label().to_string(),
            f.rule.map(|r| r.to_string()).unwrap_or_default(),
            f.candidate_id.clone().unwrap_or_default(),
            f.detail.clone(),
            f.evidence
                .iter()
                .map(|p| format!("#{p}"))
                .collect::<Vec<_>>()
                .join(" "),
        ]);
    }
    println!("{table}");
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

pub async fn stats(spec: &StoreSpec, args: StatsArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let mut teams = Vec::new();
    let mut cuts = Vec::new();
    for e in &args.elections {
        let entries = election_view(store.as_ref(), e, args.as_of.as_deref()).await?;
        let (entries, cut) = by_occurred(entries, args.as_of_occurred.as_deref())?;
        cuts.extend(cut);
        let mut s = views::stats(&fold(entries.iter().map(|x| &x.event)));
        s.election_id = e.clone();
        teams.push(s);
    }
    let total = views::summarise(&teams);
    if args.json {
        let mut v = serde_json::json!({ "teams": teams, "total": total });
        if args.as_of_occurred.is_some() {
            v["as_of_occurred"] = serde_json::to_value(&cuts)?;
        }
        return print_json(&v);
    }
    for c in &cuts {
        print_clock(Some(c), None);
    }
    if cuts.is_empty() {
        print_clock(None, args.as_of.as_deref());
    }
    print_stats(&teams, &total);
    Ok(())
}

pub fn print_stats(teams: &[views::TeamStats], total: &views::DistrictStats) {
    let mut table = table(vec![
        "选举\nElection",
        "应选/人数\nSeats/Members",
        "平均年龄\nAvg age",
        "35岁以下\nUnder 35",
        "女干部\nWomen",
        "乡镇经历≥2年\nTownship ≥2y",
        "交流\nExchanged",
        "差额\nDifferential",
        "平均得票率\nAvg vote share",
    ]);
    for t in teams {
        table.add_row(vec![
            format!("{}\n{}", t.election_id, t.unit_name),
            format!("{}/{} {}", t.seats, t.members, t.basis),
            t.average_age
                .map(|a| format!("{a:.1}"))
                .unwrap_or_else(|| "—".into()),
            format!("{} ({})", t.under_35, pct(t.under_35_share)),
            t.women.to_string(),
            format!("{} ({})", t.township_2y, pct(t.township_2y_share)),
            format!("{} ({})", t.exchanged, pct(t.exchange_rate)),
            format!(
                "{} on ballot, {}",
                t.on_ballot
                    .map(|b| b.to_string())
                    .unwrap_or_else(|| "—".into()),
                pct(t.differential_ratio)
            ),
            pct(t.average_vote_share),
        ]);
    }
    if teams.len() > 1 {
        table.add_row(vec![
            format!("合计 total ({} teams)", total.teams),
            total.members.to_string(),
            total
                .average_age
                .map(|a| format!("{a:.1}"))
                .unwrap_or_else(|| "—".into()),
            format!("{} ({})", total.under_35, pct(total.under_35_share)),
            format!(
                "{} ({}/{} teams)",
                total.women, total.teams_with_women, total.teams
            ),
            pct(total.township_2y_share),
            format!("{} ({})", total.exchanged, pct(total.exchange_rate)),
            String::new(),
            pct(total.average_vote_share),
        ]);
    }
    println!("{table}");
}

pub async fn candidates(spec: &StoreSpec, args: ElectionArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let entries = election_view(store.as_ref(), &args.election, args.as_of.as_deref()).await?;
    let (entries, cut) = by_occurred(entries, args.as_of_occurred.as_deref())?;
    let state = fold(entries.iter().map(|e| &e.event));
    let on = views::stats(&state).on;
    let rows = views::candidates(&state, on);
    if args.json {
        return print_json_cut(&rows, cut.as_ref());
    }
    print_clock(cut.as_ref(), args.as_of.as_deref());
    let mut table = table(vec![
        "人选\nCandidate",
        "姓名\nName",
        "性别/年龄\nSex/Age",
        "状态\nStatus",
        "最近环节\nLast step",
        "未结举报\nOpen petitions",
    ]);
    for r in &rows {
        table.add_row(vec![
            r.candidate_id.clone(),
            r.name.clone(),
            format!(
                "{} {}",
                match r.sex {
                    Some(jishi_projections::events::Sex::Female) => "女",
                    Some(jishi_projections::events::Sex::Male) => "男",
                    None => "",
                },
                r.age.map(|a| a.to_string()).unwrap_or_default()
            ),
            r.status.to_string(),
            r.last_step.clone().unwrap_or_default(),
            r.open_petitions.join(", "),
        ]);
    }
    println!("{table}");
    Ok(())
}
