//! A clerk runs a whole township election from the browser alone: headless
//! Chromium, through chromedriver, signs in as each of the people of
//! tests/common/township.rs in turn, opens every step's form by clicking
//! its link on the election's or the candidate's page, types the values and
//! clicks 记录. The decision refused while a petition is open (R3) and the
//! early end of publicity (R5) come back on the form naming the rule, its
//! source and who may grant an override; the party committee grants it, the
//! clerk uses it. Then an inspector finds a candidate by name, and the
//! printable 全程纪实表 is shot and printed to an A4 PDF.
//! Screenshots and the PDF land in `$CARGO_TARGET_TMPDIR/server-browser/`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`; without them the
//! test prints `skipped: …` and passes, except under CI, where it fails.

mod common;
#[path = "common/township.rs"]
mod township;

use std::path::Path;

use common::browser::*;
use fantoccini::wd::{PrintConfiguration, PrintSize};
use fantoccini::Client;
use township::Expect;

#[test]
fn a_clerk_runs_a_township_election_from_the_browser_alone() {
    if !browser_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let (db, key) = demo_with_checkpoint(dir.path());
    let tokens = township::add_users(&db);
    let served = Served::start(dir.path(), &db, &key);
    let shots = screenshot_dir();
    let profile = dir.path().join("chromium-profile");
    common::server::rt().block_on(async {
        let base = format!("http://127.0.0.1:{}", served.port);
        let mut people = People {
            driver_port: served.driver_port,
            profile,
            base: base.clone(),
            tokens,
            open: Vec::new(),
        };
        run(&mut people, &base, &shots).await;
        for (_, c) in people.open {
            c.close().await.expect("close the browser");
        }
    });
}

/// One browser per person, each signed in once through the sign-in form,
/// as each person at their own desk (and within the form's limit of 10
/// sign-ins a burst, D58).
struct People {
    driver_port: u16,
    profile: std::path::PathBuf,
    base: String,
    tokens: std::collections::BTreeMap<String, String>,
    open: Vec<(String, Client)>,
}

impl People {
    async fn browser(&mut self, who: &str) -> Client {
        if let Some((_, c)) = self.open.iter().find(|(w, _)| w == who) {
            return c.clone();
        }
        let c = connect(self.driver_port, &self.profile.join(who)).await;
        sign_in(&c, &self.base, &self.tokens[who]).await;
        self.open.push((who.to_string(), c.clone()));
        c
    }
}

async fn run(people: &mut People, base: &str, shots: &Path) {
    let e = township::ELECTION.replace(':', "%3A");
    let mut shot_refusal = false;
    for (i, st) in township::steps().into_iter().enumerate() {
        let c = &people.browser(st.who).await;
        // Find the form as a person would: the link on the page.
        if st.kind == "election.opened" {
            click_and_wait(c, "#nav-open", "form#record-form").await;
        } else {
            let page = match st.candidate {
                Some(cand) if st.kind != "candidate.nominated" => {
                    format!("{base}/elections/{e}/candidates/{cand}")
                }
                _ => format!("{base}/elections/{e}"),
            };
            c.goto(&page).await.expect("goto");
            click_and_wait(
                c,
                &format!("#record-steps a[data-kind='{}']", st.kind),
                "form#record-form",
            )
            .await;
        }
        let mut fields = st.fields.clone();
        if let Some(cand) = st.candidate {
            fields.push(("candidate_id", cand.to_string()));
        }
        fill(c, &fields).await;
        if i == 3 {
            screenshot(c, shots, "form-nomination.png").await;
        }
        click_and_wait(c, "#record-submit", "main").await;
        match st.expect {
            Expect::Recorded => {
                let notice = find(c, "#recorded").await.text().await.expect("text");
                assert!(notice.contains("已记录"), "{}: {notice}", st.kind);
            }
            Expect::Refused(rule) => {
                let box_ = find(c, "#refusal").await.text().await.expect("text");
                assert!(box_.contains(rule), "{}: {box_}", st.kind);
                assert!(box_.contains("依据 source: seeds/"), "{box_}");
                if rule == "R5" {
                    let who = find(c, "#who-grants").await.text().await.expect("text");
                    assert!(who.contains("党委(常委会)"), "{who}");
                    screenshot(c, shots, "form-refused-R5-override-path.png").await;
                } else if !shot_refusal {
                    shot_refusal = true;
                    screenshot(c, shots, format!("form-refused-{rule}.png").as_str()).await;
                }
            }
            Expect::FieldError(field) => {
                let errors = find(c, "#field-errors").await.text().await.expect("text");
                assert!(errors.contains(field), "{errors}");
                screenshot(c, shots, "form-field-error.png").await;
            }
        }
        if st.kind == "override.granted" && st.expect == Expect::Recorded {
            screenshot(c, shots, "override-granted.png").await;
        }
    }

    // The election: 李明 elected, the override a finding.
    let c = &people.browser("jw-zhao").await;
    c.goto(&format!("{base}/elections/{e}"))
        .await
        .expect("goto");
    let table = find(c, "table#candidates")
        .await
        .text()
        .await
        .expect("text");
    assert!(table.contains("当选"), "{table}");
    screenshot(c, shots, "forms-election-done.png").await;

    // The inspector finds 王芳 by name across the elections in scope.
    c.goto(&format!("{base}/search")).await.expect("goto");
    find(c, "#search-q")
        .await
        .send_keys("王芳")
        .await
        .expect("type");
    submit_and_wait(c, "//form[@id='search-form']", "#search-count").await;
    let results = find(c, "#search-results").await.text().await.expect("text");
    assert!(
        results.contains("王芳") && results.contains("青山镇"),
        "{results}"
    );
    screenshot(c, shots, "search.png").await;

    // The printable 全程纪实表.
    c.goto(&format!("{base}/elections/{e}/candidates/c-01/print"))
        .await
        .expect("goto");
    let sheet = find(c, "#sheet").await;
    let text = sheet.text().await.expect("text");
    for want in ["全程纪实表", "李明", "责任链", "检查点", "依规越权 R5"] {
        assert!(text.contains(want), "{want} on the sheet: {text}");
    }
    let width = c
        .execute(
            "const s = document.getElementById('sheet');
             let over = 0;
             for (const t of s.querySelectorAll('table')) { over = Math.max(over, t.scrollWidth - s.clientWidth); }
             return [s.offsetWidth, over];",
            vec![],
        )
        .await
        .expect("measure");
    let sheet_px = width[0].as_f64().unwrap_or(f64::MAX);
    assert!(
        sheet_px <= 210.0 / 25.4 * 96.0,
        "the sheet fits A4's width: {sheet_px}px"
    );
    assert!(
        width[1].as_f64().unwrap_or(1.0) <= 0.0,
        "no table overflows the sheet: {width}"
    );
    screenshot(c, shots, "print-sheet.png").await;
    let pdf = c
        .print(
            PrintConfiguration::builder()
                .size(PrintSize::A4)
                .shrink_to_fit(false)
                .build()
                .expect("print configuration"),
        )
        .await
        .expect("print to PDF");
    assert!(pdf.starts_with(b"%PDF"), "a PDF");
    std::fs::write(shots.join("print-sheet.pdf"), &pdf).expect("write the PDF");
    let text = String::from_utf8_lossy(&pdf);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!(
        (1..=4).contains(&pages),
        "the sheet prints on 1 to 4 pages: {pages}"
    );
    assert!(
        text.contains("/MediaBox [0 0 595") || text.contains("/MediaBox [0 0 594"),
        "A4 pages"
    );
}
