//! The inspector's questions beyond one trail (issue 16, item 7; domain
//! decision 31): `jishi joint-review`, `jishi deferrals` and `jishi unit`;
//! and 上查一级 (domain decision 33): `jishi up-one-level`.
//! The views are `jishi_projections::views::queries`; this prints them.

use clap::Args;
use jishi_app::views as views_io;
use jishi_ledger::{open_store, StoreSpec};
use jishi_projections::views::queries;

use crate::output::{print_json, table};
use crate::view_cmds::{self, CandidateArgs, ElectionArgs};

/// `jishi joint-review ELECTION`: candidates by department, each verdict,
/// the departments that gave none, and who flagged whom.
pub async fn joint_review(spec: &StoreSpec, args: ElectionArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let entries =
        views_io::election_view(store.as_ref(), &args.election, args.as_of.as_deref()).await?;
    let procedure = views_io::procedure_of(&args.election, &entries, None)?;
    let (entries, cut) = view_cmds::by_occurred(entries, args.as_of_occurred.as_deref())?;
    let m = queries::review_matrix(&entries, &procedure.joint_review_departments);
    if args.json {
        return view_cmds::print_json_cut(&m, cut.as_ref());
    }
    view_cmds::print_clock(cut.as_ref(), args.as_of.as_deref());
    println!(
        "联审 joint review — election {}: {} candidate(s) reviewed, {} department(s)",
        args.election,
        m.rows.len(),
        m.departments.len()
    );
    let mut header = vec!["人选\nCandidate".to_string(), "结论\nOutcome".to_string()];
    header.extend(m.departments.iter().cloned());
    header.push("未出具意见\nNo verdict".to_string());
    let mut t = table(header.iter().map(String::as_str).collect());
    for r in &m.rows {
        let mut row = vec![
            format!(
                "{} {}\n#{}",
                r.candidate_id,
                r.name.clone().unwrap_or_default(),
                r.position
            ),
            verdict(r.outcome).to_string(),
        ];
        for d in &m.departments {
            row.push(r.cells.get(d).map_or("—".to_string(), |c| match &c.note {
                Some(n) => format!("{}\n{n}", verdict(c.verdict)),
                None => verdict(c.verdict).to_string(),
            }));
        }
        row.push(r.missing.join("\n"));
        t.add_row(row);
    }
    println!("{t}");
    if !m.not_reviewed.is_empty() {
        println!("未联审 not reviewed: {}", m.not_reviewed.join(", "));
    }
    Ok(())
}

fn verdict(v: jishi_projections::events::ReviewVerdict) -> &'static str {
    use jishi_projections::events::ReviewVerdict::*;
    match v {
        Passed => "通过 passed",
        Adjusted => "调整 adjusted",
        Failed => "不通过 failed",
    }
}

/// `jishi deferrals ELECTION`: every 暂缓提名, and how it ended.
pub async fn deferrals(spec: &StoreSpec, args: ElectionArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let entries =
        views_io::election_view(store.as_ref(), &args.election, args.as_of.as_deref()).await?;
    let (entries, cut) = view_cmds::by_occurred(entries, args.as_of_occurred.as_deref())?;
    let list = queries::deferrals(&entries);
    if args.json {
        return view_cmds::print_json_cut(&list, cut.as_ref());
    }
    view_cmds::print_clock(cut.as_ref(), args.as_of.as_deref());
    let open = list.iter().filter(|d| d.ended.is_none()).count();
    println!(
        "暂缓提名 deferrals — election {}: {} deferral(s), {} still open",
        args.election,
        list.len(),
        open
    );
    let mut t = table(vec![
        "人选\nCandidate",
        "暂缓\nDeferred",
        "理由\nReason",
        "结果\nEnded",
    ]);
    for d in &list {
        t.add_row(vec![
            format!("{} {}", d.candidate_id, d.name.clone().unwrap_or_default()),
            format!(
                "{}\n#{}",
                d.occurred_at.get(..10).unwrap_or_default(),
                d.position
            ),
            d.reason.clone(),
            match &d.ended {
                Some(e) => format!(
                    "{} {}\n#{}",
                    match e.how {
                        "resumed" => "恢复提名 resumed",
                        "withdrawn" => "撤回提名 withdrawn",
                        _ => "拿下 removed",
                    },
                    e.occurred_at.get(..10).unwrap_or_default(),
                    e.position
                ),
                None => "仍暂缓 still deferred".to_string(),
            },
        ]);
    }
    println!("{t}");
    Ok(())
}

#[derive(Debug, Args)]
pub struct UnitArgs {
    /// The election unit's id, as its elections' openings give it.
    pub unit: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `jishi unit UNIT`: the unit's elections, term by term.
pub async fn unit(spec: &StoreSpec, args: UnitArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    let p = views_io::rebuild(store.as_ref()).await?;
    let list = queries::unit_history(&p, &args.unit);
    if args.json {
        return print_json(&list);
    }
    if list.is_empty() {
        anyhow::bail!(
            "unit {:?}: no election of this unit in the ledger",
            args.unit
        );
    }
    println!("选举单位 unit {}: {} election(s)", args.unit, list.len());
    let mut t = table(vec![
        "换届\nElection",
        "类别\nKind",
        "届次\nTerm",
        "启动\nOpened",
        "应选\nSeats",
        "人选\nCandidates",
        "当选\nElected",
    ]);
    for e in &list {
        t.add_row(vec![
            format!("{}\n{}", e.election_id, e.body),
            e.kind.clone(),
            e.term.clone(),
            e.opened_at
                .as_deref()
                .and_then(|s| s.get(..10))
                .unwrap_or_default()
                .to_string(),
            e.seats.to_string(),
            e.candidates.to_string(),
            e.elected.to_string(),
        ]);
    }
    println!("{t}");
    Ok(())
}

#[derive(Debug, Args)]
pub struct CompositionArgs {
    /// The elections to count together (a congress's units); without any,
    /// every election of --kind in the ledger.
    pub elections: Vec<String>,
    /// With no election named: the procedure kind to count.
    #[arg(long, default_value = "party_representative")]
    pub kind: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `jishi composition`: who the elected representatives are, together.
pub async fn composition(spec: &StoreSpec, args: CompositionArgs) -> anyhow::Result<()> {
    if args.elections.is_empty() && jishi_projections::Procedure::builtin(&args.kind).is_err() {
        anyhow::bail!(
            "--kind {:?}: not a procedure kind (see `jishi procedure list`)",
            args.kind
        );
    }
    let store = open_store(spec, false).await?;
    let p = views_io::rebuild(store.as_ref()).await?;
    for e in &args.elections {
        if !p.elections.contains_key(e) {
            anyhow::bail!("election {e:?}: no event in the ledger");
        }
    }
    let chosen = p.elections.iter().filter(|(id, e)| {
        if args.elections.is_empty() {
            e.state.opened.as_ref().is_some_and(|o| o.kind == args.kind)
        } else {
            args.elections.contains(id)
        }
    });
    let (c, check) = views_io::congress(chosen.map(|(id, e)| (id.as_str(), e)))?;
    if args.json {
        // The count as before, with the quota check beside it.
        let mut v = serde_json::to_value(&c)?;
        v["quotas"] = serde_json::to_value(&check)?;
        return print_json(&v);
    }
    let pct = |n: usize| {
        if c.elected == 0 {
            "—".to_string()
        } else {
            format!("{:.1}%", 100.0 * n as f64 / c.elected as f64)
        }
    };
    println!(
        "代表结构 composition — {} election(s), {} elected",
        c.elections.len(),
        c.elected
    );
    let mut t = table(vec!["类别\nCategory", "人数\nCount", "占比\nShare"]);
    for (k, n) in &c.by_category {
        let label = match k.as_str() {
            "frontline" => "工作一线 frontline",
            "professional_or_model" => "专业技术人才和先进模范 professionals, models",
            "migrant_worker" => "外出务工 migrant workers",
            "leading_cadre" => "领导干部 leading cadres",
            "other" => "其他 other",
            _ => "未填 unstated",
        };
        t.add_row(vec![label.to_string(), n.to_string(), pct(*n)]);
    }
    t.add_row(vec![
        "女性 women".to_string(),
        c.women.to_string(),
        pct(c.women),
    ]);
    t.add_row(vec![
        "少数民族 minorities".to_string(),
        c.minorities.to_string(),
        pct(c.minorities),
    ]);
    println!("{t}");
    if c.ethnicity_unstated > 0 {
        println!("未填民族 ethnicity not stated: {}", c.ethnicity_unstated);
    }
    print_quotas(check.as_ref());
    Ok(())
}

/// The quota findings under the composition table: what failed, against
/// which share, and the seed it rests on.
fn print_quotas(check: Option<&jishi_projections::views::composition::CompositionCheck>) {
    let Some(q) = check else {
        println!("名额比例 quotas: 程序未规定 the procedure states none ([composition])");
        return;
    };
    if !q.pending.is_empty() {
        println!(
            "尚未投票 vote not yet held in: {} (findings are provisional)",
            q.pending.join(", ")
        );
    }
    if q.findings.is_empty() {
        println!("名额比例 quotas: 均符合 every quota met");
        return;
    }
    let mut t = table(vec![
        "名额 Quota",
        "类别 Measure",
        "规定 Required",
        "实际 Actual",
        "未填 Unstated",
        "依据 Source",
    ]);
    for f in &q.findings {
        t.add_row(vec![
            f.quota.label().to_string(),
            f.measure.clone(),
            format!("{:.1}%", 100.0 * f.required),
            format!("{:.1}% ({}/{})", 100.0 * f.actual, f.count, f.elected),
            f.unstated.to_string(),
            f.source.clone(),
        ]);
    }
    println!("{t}");
}

/// `jishi up-one-level CANDIDATE`: the breaches, the direct chain, and those
/// above it. The operator's own ledger: nothing is redacted.
pub async fn up_one_level(spec: &StoreSpec, args: CandidateArgs) -> anyhow::Result<()> {
    let store = open_store(spec, false).await?;
    // The candidate's own events name the election; the query reads the
    // whole election (its opening, the supervision group's visits).
    let (election, _, _) = view_cmds::candidate_view(store.as_ref(), &args).await?;
    let entries = views_io::election_view(store.as_ref(), &election, args.as_of.as_deref()).await?;
    let (entries, cut) = view_cmds::by_occurred(entries, args.as_of_occurred.as_deref())?;
    let mut up =
        jishi_projections::views::oversight::one_level_up(&entries, &args.candidate, &|_| true);
    up.election_id = election;
    if args.json {
        return view_cmds::print_json_cut(&up, cut.as_ref());
    }
    view_cmds::print_clock(cut.as_ref(), args.as_of.as_deref());
    println!(
        "上查一级 one level up — {} {} (election {})",
        up.candidate_id,
        up.name.as_deref().unwrap_or(""),
        up.election_id
    );
    if up.breaches.is_empty() {
        println!("严重违规 serious breaches: 尚无记录 none recorded");
    } else {
        let mut t = table(vec![
            "严重违规\nBreach",
            "日期\nDate",
            "位置\nPos",
            "情况\nDetail",
        ]);
        for b in &up.breaches {
            t.add_row(vec![
                b.label.to_string(),
                b.occurred_at.get(..10).unwrap_or_default().to_string(),
                b.position.to_string(),
                b.detail.clone(),
            ]);
        }
        println!("{t}");
    }
    let mut t = table(vec!["直接责任\nDirect", "责任人\nResponsible", "位置\nPos"]);
    for d in &up.direct {
        t.add_row(vec![
            d.label.to_string(),
            d.responsible.join("\n"),
            d.position.to_string(),
        ]);
    }
    println!("{t}");
    let mut t = table(vec![
        "上一级\nOne level up",
        "谁\nWho",
        "记录人\nRecorded by",
        "位置\nPos",
        "情况\nDetail",
    ]);
    for o in &up.above {
        t.add_row(vec![
            o.label.to_string(),
            o.who.join("\n"),
            format!("{} ({})", o.recorded_by.name, o.recorded_by.id),
            o.position.to_string(),
            o.detail.clone(),
        ]);
    }
    println!("{t}");
    println!(
        "领导换届的上级组织 leading organisation: {}；督导 supervision: {}",
        up.leading_org.as_deref().unwrap_or("—"),
        if up.supervised {
            "有督导记录 visited"
        } else {
            "无督导记录 no visit recorded"
        }
    );
    Ok(())
}
