//! A whole township election recorded through the forms, over HTTP as a
//! browser without JavaScript sends them (plain `application/x-www-form-
//! urlencoded` POSTs with the session cookie, the form's CSRF token and its
//! event id): every step of tests/common/township.rs, each refusal shown on
//! the form with nothing written, a double submission recorded once, and
//! at the end a ledger that verifies and an election without findings.

mod common;
#[path = "common/site.rs"]
mod site;
#[path = "common/township.rs"]
mod township;

use common::browser::run_ok;
use site::{head, submit, Site};
use township::Expect;

#[test]
fn a_clerk_records_a_whole_township_election_through_the_forms() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("forms.db");
    run_ok(&db, &["init"]);
    let site = Site::start(dir.path(), &db);
    common::server::rt().block_on(async {
        let mut twice_checked = false;
        for st in township::steps() {
            let before = head(&db);
            let (status, location, body, pairs) = submit(&site, &st).await;
            let after = head(&db);
            match st.expect {
                Expect::Recorded => {
                    assert_eq!(status, 303, "{} by {}: {status}\n{body}", st.kind, st.who);
                    assert!(location.contains("recorded="), "{location}");
                    assert!(after > before, "{} wrote something", st.kind);
                    if !twice_checked && st.kind == "candidate.nominated" {
                        // The same form sent again (a double click): recorded once.
                        twice_checked = true;
                        let action = township::form_path(&st);
                        let action = action.split('?').next().unwrap_or_default().to_string();
                        let (again, location, _) = site.post(st.who, &action, &pairs).await;
                        assert_eq!(again, 303);
                        assert!(location.contains("again=1"), "{location}");
                        assert_eq!(head(&db), after, "a second submission writes nothing");
                        let (_, page) = site.get(st.who, &location).await;
                        assert!(page.contains("未重复记录"), "the page says so");
                    }
                }
                Expect::Refused(rule) => {
                    assert_eq!(status, 422, "{} by {}: {body}", st.kind, st.who);
                    assert_eq!(after, before, "a refusal writes nothing");
                    assert!(body.contains("id=\"refusal\""), "{body}");
                    assert!(
                        body.contains(&format!("<span class=\"rule\">{rule}</span>")),
                        "{rule}: {body}"
                    );
                    assert!(body.contains("依据 source: seeds/"), "the source: {body}");
                    // What was typed is still there.
                    let typed = &st.fields[1].1;
                    assert!(body.contains(typed.as_str()), "{typed} kept");
                    if rule == "R5" {
                        assert!(body.contains("override-path"), "{body}");
                        assert!(body.contains("党委(常委会)"), "who grants R5: {body}");
                        assert!(
                            body.contains("id=\"who-grants\""),
                            "the clerk cannot: {body}"
                        );
                    }
                }
                Expect::FieldError(field) => {
                    assert_eq!(status, 400, "{} by {}: {body}", st.kind, st.who);
                    assert_eq!(after, before, "a field error writes nothing");
                    assert!(body.contains(&format!("data-field=\"{field}\"")), "{body}");
                    assert!(body.contains("出席人员"), "named in Chinese: {body}");
                }
            }
        }
        // The election page: elected, no findings but the override, verified.
        let e = township::ELECTION.replace(':', "%3A");
        let (status, page) = site.get("jw-zhao", &format!("/elections/{e}")).await;
        assert_eq!(status, 200);
        assert!(page.contains("当选 elected"), "{page}");
        assert!(
            page.contains("越过规则记录 override"),
            "the R5 override is a finding"
        );
        // The inspector finds 王芳 by name in one search, and sees the override at home.
        let (_, found) = site.get("jw-zhao", "/search?q=%E7%8E%8B%E8%8A%B3").await;
        assert!(found.contains("找到 1 名人选"), "{found}");
        assert!(found.contains("/candidates/c-02"), "{found}");
        let (_, home) = site.get("jw-zhao", "/inspect").await;
        assert!(home.contains("越过规则记录 Overrides (1)"), "{home}");
        // A forged form (no CSRF token) records nothing.
        let before = head(&db);
        let (status, _, _) = site
            .post(
                "zzb-wang",
                &format!("/elections/{e}/record/deliberation.round"),
                &[("occurred_at".into(), "2021-05-15T09:00".into())],
            )
            .await;
        assert_eq!(status, 403);
        assert_eq!(head(&db), before);
    });
    let out = run_ok(&db, &["verify"]);
    assert!(!out.is_empty());
}
