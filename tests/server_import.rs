//! Importing a roster and a step list from a spreadsheet, and exporting a
//! trail and an election as XLSX, over plain HTTP as a browser sends them
//! (multipart upload, then a plain confirmation form). A preview writes
//! nothing and names each bad row, column and field; a confirmation
//! records every row or none, once however often it is sent; another
//! organisation, a reader without the right, a forged form and a sheet
//! edited between preview and confirmation all record nothing. The
//! workbooks are read back with calamine, not with jishi's code.

mod common;
#[path = "common/sheets.rs"]
mod sheets;
#[path = "common/site.rs"]
mod site;
#[path = "common/township.rs"]
mod township;

use std::io::Cursor;

use calamine::{Data, Reader};
use common::browser::{add_user, run_ok};
use sheets::{nominee, roster_header, xlsx, C};
use site::{head, hidden, hidden_fields, submit, Site};

const E: &str = "%E5%A4%A9%E5%85%83%E5%8C%BA%3Aqs-2021";

/// Opens the election and records the pledge through the forms.
async fn opened(site: &Site) {
    for st in township::steps().into_iter().take(2) {
        let (status, _, body, _) = submit(site, &st).await;
        assert_eq!(status, 303, "{}: {body}", st.kind);
    }
}

async fn upload(
    site: &Site,
    who: &str,
    kind: &str,
    name: &str,
    bytes: &[u8],
) -> (u16, String, String) {
    let (status, page) = site.get(who, &format!("/elections/{E}/import")).await;
    assert_eq!(status, 200, "{page}");
    let csrf = hidden(&page, "csrf");
    site.post_file(
        who,
        &format!("/elections/{E}/import"),
        &[("csrf", &csrf), ("kind", kind)],
        name,
        bytes,
    )
    .await
}

async fn confirm(site: &Site, who: &str, fields: &[(String, String)]) -> (u16, String, String) {
    site.post(who, &format!("/elections/{E}/import/confirm"), fields)
        .await
}

fn sheet_rows(book: &[u8], name: &str) -> Vec<Vec<String>> {
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(book.to_vec())).expect("xlsx");
    let range = wb
        .worksheet_range(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    range
        .rows()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::Float(f) => format!("{f}"),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

#[test]
fn a_roster_is_previewed_then_recorded_once_and_exported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("import.db");
    run_ok(&db, &["init"]);
    let mut site = Site::start(dir.path(), &db);
    common::server::rt().block_on(async {
        opened(&site).await;
        let before = head(&db);
        let book = xlsx(&[
            roster_header(),
            nominee("c-01", "李明", "男", 0),
            nominee("c-02", "王芳", "女", 10),
        ]);
        let (status, _, page) = upload(&site, "zzb-wang", "candidate.nominated", "名册.xlsx", &book).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("全部 2 行通过检查"), "{page}");
        assert!(page.contains("读作 read as XLSX"), "{page}");
        assert_eq!(head(&db), before, "a preview writes nothing");
        let fields = hidden_fields(&page, "import-confirm");
        assert!(fields.iter().any(|(k, _)| k == "sheet"), "{fields:?}");

        let (status, location, body) = confirm(&site, "zzb-wang", &fields).await;
        assert_eq!(status, 303, "{body}");
        assert!(location.contains("imported=2"), "{location}");
        let after = head(&db);
        assert_eq!(after, before + 2, "two nominations, one transaction");
        let (_, election) = site.get("zzb-wang", &location).await;
        assert!(election.contains("已导入 2 行"), "{election}");
        assert!(election.contains("李明") && election.contains("王芳"), "{election}");

        // The same confirmation again (a double click): nothing more.
        let (status, location, _) = confirm(&site, "zzb-wang", &fields).await;
        assert_eq!(status, 303);
        assert!(location.contains("again=1"), "{location}");
        assert_eq!(head(&db), after);
        // Two clicks at once on a new batch: one records, the other says it
        // was recorded (never "nothing was recorded").
        let pair = xlsx(&[roster_header(), nominee("c-07", "周八", "男", 40)]);
        let (_, _, page) = upload(&site, "zzb-wang", "candidate.nominated", "p.xlsx", &pair).await;
        let twice = hidden_fields(&page, "import-confirm");
        let (a, b) = tokio::join!(
            confirm(&site, "zzb-wang", &twice),
            confirm(&site, "zzb-wang", &twice)
        );
        assert_eq!((a.0, b.0), (303, 303), "{} / {}", a.2, b.2);
        assert!(a.1.contains("again=1") != b.1.contains("again=1"), "{} / {}", a.1, b.1);
        assert_eq!(head(&db), after + 1);
        let after = after + 1;
        // A fresh preview of the same file now refuses every row: both are
        // nominated already (one candidacy per candidate).
        let (status, _, page) = upload(&site, "zzb-wang", "candidate.nominated", "名册.xlsx", &book).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("第2行") && page.contains("第3行"), "{page}");
        assert!(!page.contains("id=\"import-confirm\""), "no confirmation offered");

        // A CSV from a Chinese Windows Excel (GB18030), dates typed with
        // slashes: read and recorded. (The name is a formula's text, which
        // the export below must keep as text.)
        let csv = "人选编号,发生时间,姓名,性别,出生日期,现任职务,乡镇工作年限,推荐方式,nominator_id,nominator_name\r\n\
                   c-03,2021/4/14 9:20,=1+2,男,1990/1/2,党政办主任,3,个别谈话推荐,qs-party,青山镇党委\r\n";
        let (gb, _, _) = encoding_rs::GB18030.encode(csv);
        let (status, _, page) = upload(&site, "zzb-wang", "candidate.nominated", "roster.csv", &gb).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("CSV (GB18030)"), "{page}");
        let (status, _, _) = confirm(&site, "zzb-wang", &hidden_fields(&page, "import-confirm")).await;
        assert_eq!(status, 303);
        assert_eq!(head(&db), after + 1);

        // The template names every input, required ones marked.
        let (status, ty, template) = site
            .get_bytes("zzb-wang", &format!("/elections/{E}/import/template.csv?kind=candidate.nominated"))
            .await;
        assert_eq!(status, 200);
        assert!(ty.starts_with("text/csv"), "{ty}");
        let template = String::from_utf8(template).expect("utf-8");
        assert!(template.starts_with('\u{feff}'), "a BOM, for Excel");
        assert!(template.contains("姓名（name）*"), "{template}");
        assert!(template.contains("recommendation_votes.received"), "{template}");

        // The inspector exports 李明's 全程纪实表: the trail, the chain, the
        // line to the ledger; the export is recorded before it is served.
        let before_export = head(&db);
        let (status, ty, book) = site
            .get_bytes("jw-zhao", &format!("/elections/{E}/candidates/c-01/export.xlsx"))
            .await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&book));
        assert!(ty.contains("spreadsheetml"), "{ty}");
        assert_eq!(head(&db), before_export + 1, "the export is recorded");
        let trail = sheet_rows(&book, "环节记录 trail");
        assert_eq!(trail[0][0], "环节 step");
        assert!(trail.iter().any(|r| r[0].contains("提名") && r[2] == "王敏"), "{trail:?}");
        assert!(trail.iter().any(|r| r[1] == "2021-04-14 09:00"), "Beijing time: {trail:?}");
        let chain = sheet_rows(&book, "责任链 chain");
        assert!(chain.iter().any(|r| r[1].contains("qs-party")), "who nominated: {chain:?}");
        let verify = sheet_rows(&book, "核验 verification");
        let recorded = format!("#{}", before_export + 1);
        assert!(
            verify.iter().any(|r| r[0].contains("本次导出记录于") && r[1] == recorded),
            "{verify:?}"
        );
        let (_, page) = site.get("jw-zhao", &format!("/elections/{E}/candidates/c-01")).await;
        assert!(page.contains("导出纪实表"), "the reads list shows the export: {page}");

        // The election's workbook: candidates, findings, statistics; an
        // export of each candidate it lists, recorded on each.
        let before_export = head(&db);
        let (status, _, book) = site.get_bytes("jw-zhao", &format!("/elections/{E}/export.xlsx")).await;
        assert_eq!(status, 200);
        assert_eq!(head(&db), before_export + 4, "one export event per candidate listed");
        let candidates = sheet_rows(&book, "人选 candidates");
        assert_eq!(candidates.len(), 5, "header and four: {candidates:?}");
        assert!(candidates.iter().any(|r| r[0] == "c-02" && r[1] == "王芳" && r[2] == "女"), "{candidates:?}");
        // A recorded value that looks like a formula stays text.
        assert!(candidates.iter().any(|r| r[0] == "c-03" && r[1] == "=1+2"), "{candidates:?}");
        let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(book.clone())).expect("xlsx");
        for name in wb.sheet_names() {
            let formulas = wb.worksheet_formula(&name).expect("formulas");
            assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no formula in {name}");
        }
        let stats = sheet_rows(&book, "统计 statistics");
        assert!(stats.iter().any(|r| r[0].starts_with("提名人选") && r[1] == "4"), "{stats:?}");
        sheet_rows(&book, "合规发现 findings");

        // Someone of another county sees neither the import nor the export.
        let token = add_user(&db, "other", "外县", "recorder", "云溪县");
        site.tokens.insert("other".into(), token);
        let outsider = &site;
        let before = head(&db);
        let (status, _, _) = outsider
            .get_bytes("other", &format!("/elections/{E}/candidates/c-01/export.xlsx"))
            .await;
        assert_eq!(status, 404);
        let (status, _) = outsider.get("other", &format!("/elections/{E}/import")).await;
        assert_eq!(status, 404);
        assert_eq!(head(&db), before, "nothing recorded for the outsider");
    });
    run_ok(&db, &["verify"]);
}

#[test]
fn a_bad_sheet_names_each_row_column_and_field_and_writes_nothing() {
    use C::*;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("bad.db");
    run_ok(&db, &["init"]);
    let site = Site::start(dir.path(), &db);
    common::server::rt().block_on(async {
        opened(&site).await;
        let before = head(&db);

        // A header no field has: refused at row 1, naming the column.
        let mut header = roster_header();
        header.push(S("备注二"));
        let (status, _, page) = upload(
            &site,
            "zzb-wang",
            "candidate.nominated",
            "a.xlsx",
            &xlsx(&[header, nominee("c-01", "李明", "男", 0)]),
        )
        .await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("第1行 row 1，N列「备注二」"), "{page}");

        // Bad cells in rows 3, 4 and 5; row 2 is good but nothing is written.
        let mut bad_date = nominee("c-02", "王芳", "女", 10);
        bad_date[4] = S("1988-13-40");
        let mut bad_sex = nominee("c-03", "张伟", "男", 20);
        bad_sex[3] = S("未知");
        let mut no_name = nominee("c-04", "赵六", "男", 30);
        no_name[2] = S("");
        let book = xlsx(&[
            roster_header(),
            nominee("c-01", "李明", "男", 0),
            bad_date,
            bad_sex,
            no_name,
        ]);
        let (status, _, page) =
            upload(&site, "zzb-wang", "candidate.nominated", "b.xlsx", &book).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("3 处问题"), "{page}");
        assert!(
            page.contains("第3行 row 3，E列「birth_date」：出生日期（birth_date）"),
            "{page}"
        );
        assert!(page.contains("第4行 row 4，D列「性别（sex）」"), "{page}");
        assert!(page.contains("不是可选值 not one of: 女、男"), "{page}");
        assert!(
            page.contains("第5行 row 5") && page.contains("姓名（name）：未填"),
            "{page}"
        );
        assert!(!page.contains("id=\"import-confirm\""));
        assert_eq!(head(&db), before);

        // A step list: a nomination, then its publicity before any
        // decision: refused by the gates, naming the rule and its source,
        // and the nomination is not written either.
        let steps = xlsx(&[
            vec![
                S("环节（kind）"),
                S("candidate_id"),
                S("occurred_at"),
                S("name"),
                S("sex"),
                S("birth_date"),
                S("method"),
                S("nominator_id"),
                S("nominator_name"),
                S("township_work_years"),
                S("current_post"),
                S("scope"),
                S("channel"),
            ],
            vec![
                S("提名推荐"),
                S("c-09"),
                At(2021, 4, 14, 9, 0),
                S("孙七"),
                S("男"),
                Date(1985, 1, 1),
                S("meeting"),
                S("qs-party"),
                S("青山镇党委"),
                N(5.0),
                S("副镇长"),
                S(""),
                S(""),
            ],
            vec![
                S("publicity.started"),
                S("c-09"),
                At(2021, 4, 15, 9, 0),
                S(""),
                S(""),
                S(""),
                S(""),
                S(""),
                S(""),
                S(""),
                S(""),
                S("全镇范围"),
                S("公示栏"),
            ],
        ]);
        let (status, _, page) = upload(&site, "zzb-wang", "rows", "steps.xlsx", &steps).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("第3行 row 3：未通过 refused: R"), "{page}");
        assert!(page.contains("依据 source: seeds/"), "{page}");
        assert!(
            !page.contains("第2行 row 2："),
            "the nomination itself passes: {page}"
        );
        assert_eq!(head(&db), before);

        // A good sheet previewed, then edited in the confirmation form: the
        // confirmation checks the sheet again and records nothing.
        let good = xlsx(&[roster_header(), nominee("c-01", "李明", "男", 0)]);
        let (status, _, page) =
            upload(&site, "zzb-wang", "candidate.nominated", "c.xlsx", &good).await;
        assert_eq!(status, 200, "{page}");
        let fields = hidden_fields(&page, "import-confirm");
        let mut no_sex = nominee("c-01", "李明", "男", 0);
        no_sex[3] = S("");
        let edited = xlsx(&[roster_header(), no_sex]);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &edited);
        let swapped: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| {
                if k == "sheet" {
                    (k.clone(), b64.clone())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect();
        let (status, _, body) = confirm(&site, "zzb-wang", &swapped).await;
        assert_eq!(status, 422, "{body}");
        assert!(body.contains("确认时重新检查未通过"), "{body}");
        assert_eq!(head(&db), before);

        // Without the form's CSRF token, or from another origin: forged.
        let no_token: Vec<(String, String)> = fields
            .iter()
            .filter(|(k, _)| k != "csrf")
            .cloned()
            .collect();
        let (status, _, _) = confirm(&site, "zzb-wang", &no_token).await;
        assert_eq!(status, 403);
        let (status, _, _) = site
            .post_file(
                "zzb-wang",
                &format!("/elections/{E}/import"),
                &[("csrf", "0000"), ("kind", "candidate.nominated")],
                "c.xlsx",
                &good,
            )
            .await;
        assert_eq!(status, 403);
        // The discipline inspector may read but not record nominations.
        let (status, _, page) =
            upload(&site, "jw-zhao", "candidate.nominated", "c.xlsx", &good).await;
        assert_eq!(status, 422, "{page}");
        assert!(page.contains("无权记录"), "{page}");
        // Too large for its confirmation to fit in one request.
        let big = vec![b'a'; (640 << 10) + 1];
        let (status, _, page) =
            upload(&site, "zzb-wang", "candidate.nominated", "big.csv", &big).await;
        assert_eq!(status, 400, "{page}");
        assert!(page.contains("640 KiB"), "{page}");
        // The old binary XLS: refused, saying what to do.
        let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0];
        let (status, _, page) =
            upload(&site, "zzb-wang", "candidate.nominated", "old.xls", &xls).await;
        assert_eq!(status, 422);
        assert!(page.contains("save the file as .xlsx"), "{page}");
        // Not a spreadsheet at all.
        let (status, _, page) = upload(
            &site,
            "zzb-wang",
            "candidate.nominated",
            "x.xlsx",
            b"PK\x03\x04broken",
        )
        .await;
        assert_eq!(status, 422);
        assert!(page.contains("无法读取电子表格"), "{page}");
        assert_eq!(head(&db), before, "nothing of any of it was written");

        // The edited-back confirmation of the good preview still records.
        let (status, _, body) = confirm(&site, "zzb-wang", &fields).await;
        assert_eq!(status, 303, "{body}");
        assert_eq!(head(&db), before + 1);
    });
}
