//! Spreadsheets for people who work in Excel or WPS: a candidate's
//! 全程纪实表 (trail, responsibility chain, findings, and the line that ties
//! the file to the ledger) and an election's candidates, findings and team
//! statistics, as XLSX (D110). They hold what the pages show the same
//! reader, redacted alike. Both are recorded before they are handed out as
//! exports (`access.exported`, view `sheet_export`): a candidate's sheet on
//! that candidate, an election's on every candidate it lists, beside the
//! compliance reads its report makes (D52).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jishi_app::access::View;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

use crate::auth::PageUser;
use crate::error::ApiError;
use crate::labels;
use crate::pages::error_page;
use crate::print::{sheet_data, SheetData};
use crate::queries::{self, Badge};
use crate::state::AppState;

type Shared = State<Arc<AppState>>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(
            "/elections/{election}/candidates/{candidate}/export.xlsx",
            get(candidate_xlsx),
        )
        .route("/elections/{election}/export.xlsx", get(election_xlsx))
}

/// A sheet of a table: a bold header row, frozen, then the rows as text
/// (positions and counts as numbers, so that they sort as numbers).
fn table(
    ws: &mut Worksheet,
    name: &str,
    header: &[&str],
    rows: &[Vec<Cell>],
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    let bold = Format::new().set_bold();
    let wrap = Format::new().set_text_wrap();
    for (j, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, j as u16, *h, &bold)?;
    }
    for (i, row) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (j, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(t) => {
                    ws.write_string_with_format(r, j as u16, fit(t).as_ref(), &wrap)?
                }
                Cell::Number(n) => ws.write_number(r, j as u16, *n)?,
            };
        }
    }
    ws.set_freeze_panes(1, 0)?;
    for (j, h) in header.iter().enumerate() {
        let widest = rows
            .iter()
            .filter_map(|r| r.get(j))
            .map(Cell::width)
            .chain(std::iter::once(h.chars().count() * 2))
            .max()
            .unwrap_or(8);
        ws.set_column_width(j as u16, widest.clamp(8, 60) as f64)?;
    }
    Ok(())
}

/// Most characters an Excel cell holds.
const EXCEL_CELL: usize = 32_767;

/// `text` as it fits in one cell: a longer value (a payload may hold up to
/// 1 MiB of text) is cut, and says so and where the whole is, rather than
/// failing the whole export.
fn fit(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().count() <= EXCEL_CELL {
        return text.into();
    }
    const NOTE: &str =
        "…（超出 Excel 单元格上限，已截断；全文见账本 truncated: the whole text is in the ledger）";
    let keep = EXCEL_CELL - NOTE.chars().count();
    let mut out: String = text.chars().take(keep).collect();
    out.push_str(NOTE);
    out.into()
}

/// One cell of an exported table.
pub enum Cell {
    Text(String),
    Number(f64),
}

impl Cell {
    fn width(&self) -> usize {
        match self {
            // A CJK character takes about two columns.
            Cell::Text(t) => t
                .lines()
                .map(|l| l.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum())
                .max()
                .unwrap_or(0),
            Cell::Number(_) => 10,
        }
    }
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn n(x: u64) -> Cell {
    Cell::Number(x as f64)
}

fn evidence(positions: &[u64]) -> Cell {
    t(positions
        .iter()
        .map(|p| format!("#{p}"))
        .collect::<Vec<_>>()
        .join(" "))
}

/// The rows that tie a file to the ledger: the checkpoint, the head, where
/// this export was recorded, so that a reader can check it with `jishi
/// verify` and `jishi prove`.
fn verification_rows(badge: &Badge, last: Option<(u64, &str)>, recorded: &[u64]) -> Vec<Vec<Cell>> {
    let mut rows = vec![];
    match &badge.checkpoint {
        Some(cp) => {
            rows.push(vec![
                t("检查点 checkpoint"),
                t(format!(
                    "#{} · {} 条事件 events · 根 root {}",
                    cp.id, cp.size, cp.root
                )),
            ]);
            rows.push(vec![t("签名 signed by"), t(cp.signed_by.join("、"))]);
            rows.push(vec![
                t("检查点后事件 events after the checkpoint"),
                n(badge.head.saturating_sub(cp.size)),
            ]);
        }
        None => rows.push(vec![
            t("检查点 checkpoint"),
            t("尚无签名检查点 none signed yet"),
        ]),
    }
    rows.push(vec![
        t("导出时账本事件数 ledger head at export"),
        n(badge.head),
    ]);
    if let Some((position, hash)) = last {
        rows.push(vec![
            t("本表截至位置 last position in this file"),
            n(position),
        ]);
        rows.push(vec![t("该事件哈希 its event hash (BLAKE3)"), t(hash)]);
        rows.push(vec![
            t("核对 check"),
            t(format!("jishi verify；jishi prove {position}")),
        ]);
    }
    for r in recorded {
        rows.push(vec![
            t("本次导出记录于 this export is recorded at"),
            t(format!("#{r}")),
        ]);
    }
    rows
}

fn xlsx(bytes: Vec<u8>, file: &str) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// A name safe in a `Content-Disposition` file name: ASCII letters, digits,
/// `-` and `_` (the ids may hold `:` and Chinese).
fn file_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A candidate's 全程纪实表 as a workbook.
pub fn candidate_workbook(d: &SheetData) -> Result<Vec<u8>, XlsxError> {
    let p = d.procedure.as_ref();
    let v = &d.view;
    let mut wb = Workbook::new();
    let head = vec![
        vec![t("姓名 name"), t(v.trail.name.clone().unwrap_or_default())],
        vec![t("人选编号 candidate"), t(v.trail.candidate_id.clone())],
        vec![t("选举编号 election"), t(v.trail.election_id.clone())],
        vec![
            t("单位 unit"),
            t(d.unit
                .as_ref()
                .map(|u| format!("{} {} {}", u.unit_name, u.body, u.term))
                .unwrap_or_default()),
        ],
    ];
    table(
        wb.add_worksheet(),
        "人选 candidate",
        &["项目 item", "内容 value"],
        &head,
    )?;
    let trail: Vec<Vec<Cell>> = v
        .trail
        .rows
        .iter()
        .map(|r| {
            let mut facts = match &r.restricted {
                Some(x) => format!("内容受限 restricted: {}", x.sensitivity.label()),
                None => r.facts.clone(),
            };
            for o in &r.overrides {
                facts.push_str(&format!(
                    "\n⚠ 依规越权 override {}：{}（批准 granted by {}）",
                    o.rule, o.justification, o.authorised_by.name
                ));
            }
            for k in &r.corrections {
                facts.push_str(&format!("\n✎ 更正 corrected at #{}", k.position));
            }
            vec![
                t(r.step.clone()),
                t(labels::minute(&r.occurred_at)),
                t(r.actor.name.clone()),
                t(labels::role(p, &r.actor.role)),
                t(r.actor.org.clone()),
                n(r.position),
                t(facts),
                t(r.hash.clone()),
            ]
        })
        .collect();
    table(
        wb.add_worksheet(),
        "环节记录 trail",
        &[
            "环节 step",
            "时间（北京时间）",
            "记录人 by",
            "角色 role",
            "单位 org",
            "位置 position",
            "要点 facts",
            "哈希 hash",
        ],
        &trail,
    )?;
    let chain: Vec<Vec<Cell>> = v
        .accountability
        .duties
        .iter()
        .map(|d| {
            vec![
                t(d.label),
                t(d.responsible.join("、")),
                t(d.recorded_by.name.clone()),
                t(labels::role(p, &d.recorded_by.role)),
                t(labels::minute(&d.occurred_at)),
                n(d.position),
                t(d.detail.clone()),
            ]
        })
        .collect();
    table(
        wb.add_worksheet(),
        "责任链 chain",
        &[
            "责任环节 duty",
            "责任人 responsible",
            "记录人 recorded by",
            "角色 role",
            "时间 when",
            "位置 position",
            "情况 detail",
        ],
        &chain,
    )?;
    let findings: Vec<Vec<Cell>> = d
        .findings
        .iter()
        .map(|f| {
            vec![
                t(f.kind.label()),
                t(f.rule.map(|r| r.to_string()).unwrap_or_default()),
                t(f.detail.clone()),
                evidence(&f.evidence),
            ]
        })
        .collect();
    table(
        wb.add_worksheet(),
        "合规发现 findings",
        &[
            "类别 finding",
            "规则 rule",
            "情况 detail",
            "证据位置 evidence",
        ],
        &findings,
    )?;
    let last = v.trail.rows.last().map(|r| (r.position, r.hash.as_str()));
    table(
        wb.add_worksheet(),
        "核验 verification",
        &["项目 item", "内容 value"],
        &verification_rows(&d.badge, last, &[v.recorded_read_at]),
    )?;
    wb.save_to_buffer()
}

async fn candidate_xlsx(
    State(state): Shared,
    PageUser(user): PageUser,
    Path((e, c)): Path<(String, String)>,
) -> Response {
    let d = match sheet_data(&state, &user, &e, &c, View::SheetExport).await {
        Ok(d) => d,
        Err(err) => return error_page(&err),
    };
    match candidate_workbook(&d) {
        Ok(bytes) => xlsx(
            bytes,
            &format!("jishi-{}-{}.xlsx", file_part(&e), file_part(&c)),
        ),
        Err(err) => error_page(&ApiError::Internal(err.to_string())),
    }
}

/// An election's candidates, findings and statistics as a workbook.
fn election_workbook(d: &queries::ElectionDetail, badge: &Badge) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let candidates: Vec<Vec<Cell>> = d
        .candidates
        .iter()
        .map(|c| {
            vec![
                t(c.candidate_id.clone()),
                t(c.name.clone()),
                t(c.sex
                    .map(|s| labels::choice_label("Sex", &format!("{s:?}").to_lowercase()))
                    .unwrap_or_default()),
                c.age.map_or(t(""), |a| n(a.into())),
                t(labels::status(c.status)),
                t(c.last_step
                    .as_deref()
                    .map(labels::event_type)
                    .unwrap_or_default()),
                t(c.open_petitions.join("、")),
            ]
        })
        .collect();
    table(
        wb.add_worksheet(),
        "人选 candidates",
        &[
            "人选编号 candidate",
            "姓名 name",
            "性别 sex",
            "年龄 age",
            "状态 status",
            "最近环节 last step",
            "未办结信访 open petitions",
        ],
        &candidates,
    )?;
    let findings: Vec<Vec<Cell>> = d
        .compliance
        .iter()
        .flat_map(|r| r.findings.iter())
        .map(|f| {
            vec![
                t(f.kind.label()),
                t(f.rule.map(|r| r.to_string()).unwrap_or_default()),
                t(f.candidate_id.clone().unwrap_or_default()),
                t(f.detail.clone()),
                evidence(&f.evidence),
            ]
        })
        .collect();
    table(
        wb.add_worksheet(),
        "合规发现 findings",
        &[
            "类别 finding",
            "规则 rule",
            "人选 candidate",
            "情况 detail",
            "证据位置 evidence",
        ],
        &findings,
    )?;
    let s = &d.stats;
    let share = |x: Option<f64>| t(x.map(|x| format!("{:.1}%", x * 100.0)).unwrap_or_default());
    let mut stats = vec![
        vec![t("单位 unit"), t(s.unit_name.clone())],
        vec![t("应选 seats"), n(s.seats.into())],
        vec![t("统计口径 basis"), t(s.basis.clone())],
        vec![t("成员 members"), n(s.members.into())],
        vec![
            t("年龄计算日 ages on"),
            t(s.on.map(|d| d.to_string()).unwrap_or_default()),
        ],
        vec![
            t("平均年龄 average age"),
            t(s.average_age.map(|a| format!("{a:.1}")).unwrap_or_default()),
        ],
        vec![t("35岁以下 under 35"), n(s.under_35.into())],
        vec![t("35岁以下占比 share under 35"), share(s.under_35_share)],
        vec![t("女性 women"), n(s.women.into())],
        vec![
            t("乡镇工作满2年 2 years in a township"),
            n(s.township_2y.into()),
        ],
        vec![t("交流 exchanged"), n(s.exchanged.into())],
        vec![t("交流比例 exchange rate"), share(s.exchange_rate)],
        vec![t("提名人选 nominees"), n(s.nominees.into())],
        vec![
            t("候选人 on the ballot"),
            s.on_ballot.map_or(t(""), |b| n(b.into())),
        ],
        vec![t("差额比例 differential"), share(s.differential_ratio)],
    ];
    for v in &s.vote_shares {
        stats.push(vec![
            t(format!("得票 votes: {} {}", v.name, v.candidate_id)),
            t(format!("{}（{:.1}%）", v.votes, v.share * 100.0)),
        ]);
    }
    table(
        wb.add_worksheet(),
        "统计 statistics",
        &["项目 item", "数值 value"],
        &stats,
    )?;
    let as_of = d.compliance.as_ref().map(|r| r.as_of);
    let mut verify = vec![vec![
        t("选举编号 election"),
        t(d.summary.election_id.clone()),
    ]];
    if let Some(a) = as_of {
        verify.push(vec![t("合规检查截至 findings as of position"), n(a)]);
    }
    verify.extend(verification_rows(badge, None, &d.recorded_reads));
    table(
        wb.add_worksheet(),
        "核验 verification",
        &["项目 item", "内容 value"],
        &verify,
    )?;
    wb.save_to_buffer()
}

async fn election_xlsx(
    State(state): Shared,
    PageUser(user): PageUser,
    Path(e): Path<String>,
) -> Response {
    let mut d = match queries::election(&state, &user, &e, &queries::AsOf::default()).await {
        Ok(d) => d,
        Err(err) => return error_page(&err),
    };
    // The file lists every candidate (name, sex, age, status): it is an
    // export of each, recorded on each one's reads before it is served.
    let listed: Vec<String> = d
        .candidates
        .iter()
        .map(|c| c.candidate_id.clone())
        .collect();
    match queries::record_reads(
        &state,
        &user,
        &e,
        &listed,
        View::SheetExport,
        &queries::Cut::default(),
    )
    .await
    {
        Ok(at) => d.recorded_reads.extend(at),
        Err(err) => return error_page(&err),
    }
    let badge = match queries::badge(&state).await {
        Ok(b) => b,
        Err(err) => return error_page(&err),
    };
    match election_workbook(&d, &badge) {
        Ok(bytes) => xlsx(bytes, &format!("jishi-{}.xlsx", file_part(&e))),
        Err(err) => error_page(&ApiError::Internal(err.to_string())),
    }
}
