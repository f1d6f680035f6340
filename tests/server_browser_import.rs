//! A clerk imports a roster from an XLSX file in the browser: headless
//! Chromium opens the election's import page from its link, picks the file
//! in the file input, previews it (every row checked, nothing written),
//! and records it with one click; a sheet with a bad row shows the row,
//! the column and the field, with nothing written. Screenshots land in
//! `$CARGO_TARGET_TMPDIR/server-browser/` (import-preview.png,
//! import-recorded.png, import-errors.png).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them the
//! test prints `skipped: …` and passes, except under CI, where it fails.

mod common;
#[path = "common/sheets.rs"]
mod sheets;
#[path = "common/township.rs"]
mod township;

use common::browser::*;
use sheets::{nominee, roster_header, xlsx, C};

#[test]
fn a_clerk_imports_a_roster_from_an_xlsx_file_in_the_browser() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, key) = demo_with_checkpoint(dir.path());
    let tokens = township::add_users(&db);
    let served = Served::start(dir.path(), &db, &key);
    let shots = screenshot_dir();
    let good = dir.path().join("roster.xlsx");
    std::fs::write(
        &good,
        xlsx(&[
            roster_header(),
            nominee("c-01", "李明", "男", 0),
            nominee("c-02", "王芳", "女", 10),
        ]),
    )
    .expect("write the roster");
    let bad = dir.path().join("roster-bad.xlsx");
    let mut no_sex = nominee("c-03", "张伟", "男", 20);
    no_sex[3] = C::S("不详");
    std::fs::write(
        &bad,
        xlsx(&[roster_header(), nominee("c-04", "赵六", "男", 30), no_sex]),
    )
    .expect("write the bad roster");
    let head = |db: &std::path::Path| -> u64 {
        let v: serde_json::Value =
            serde_json::from_str(run_ok(db, &["head", "--json"]).trim()).expect("head json");
        v["position"].as_u64().unwrap_or(0)
    };
    common::server::rt().block_on(async {
        let base = format!("http://127.0.0.1:{}", served.port);
        let c = connect(served.driver_port, &dir.path().join("profile")).await;
        sign_in(&c, &base, &tokens["zzb-wang"]).await;
        // The election is opened and its pledge recorded through the forms.
        for st in township::steps().into_iter().take(2) {
            c.goto(&format!("{base}{}", township::form_path(&st)))
                .await
                .expect("goto");
            fill(&c, &st.fields).await;
            click_and_wait(&c, "#record-submit", "#recorded").await;
        }
        let e = township::ELECTION.replace(':', "%3A");
        c.goto(&format!("{base}/elections/{e}"))
            .await
            .expect("goto");
        click_and_wait(&c, "#import-link", "#import-form").await;

        // A bad row: shown with its row, column and field; nothing written.
        let before = head(&db);
        find(&c, "input#import-file")
            .await
            .send_keys(bad.to_str().expect("utf-8 path"))
            .await
            .expect("choose the file");
        click_and_wait(&c, "#import-preview", "#import-errors").await;
        let errors = find(&c, "#import-errors").await.text().await.expect("text");
        assert!(
            errors.contains("第3行 row 3，D列「性别（sex）」"),
            "{errors}"
        );
        screenshot(&c, &shots, "import-errors.png").await;
        assert_eq!(head(&db), before, "a preview with errors writes nothing");

        // The good roster, from the form the preview page offers again.
        find(&c, "input#import-file")
            .await
            .send_keys(good.to_str().expect("utf-8 path"))
            .await
            .expect("choose the file");
        click_and_wait(&c, "#import-preview", "#import-ok").await;
        let ok = find(&c, "#import-ok").await.text().await.expect("text");
        assert!(ok.contains("全部 2 行通过检查"), "{ok}");
        let rows = find_all(&c, "#import-rows tr").await;
        assert_eq!(rows.len(), 3, "a header and two rows");
        screenshot(&c, &shots, "import-preview.png").await;
        assert_eq!(head(&db), before, "a preview writes nothing");

        click_and_wait(&c, "#import-record", "#recorded").await;
        let notice = find(&c, "#recorded").await.text().await.expect("text");
        assert!(notice.contains("已导入 2 行"), "{notice}");
        let page = c.source().await.expect("source");
        assert!(
            page.contains("李明") && page.contains("王芳"),
            "both nominees listed"
        );
        screenshot(&c, &shots, "import-recorded.png").await;
        assert_eq!(head(&db), before + 2);

        c.close().await.expect("close the browser");
    });
}
