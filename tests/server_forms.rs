//! A whole township election recorded through the forms, over HTTP as a
//! browser without JavaScript sends them (plain `application/x-www-form-
//! urlencoded` POSTs with the session cookie, the form's CSRF token and its
//! event id): every step of tests/common/township.rs, each refusal shown on
//! the form with nothing written, a double submission recorded once, and
//! at the end a ledger that verifies and an election without findings.

mod common;
#[path = "common/township.rs"]
mod township;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::browser::{free_port, run_ok, wait_ready, Running};
use township::{Expect, Step};

struct Site {
    base: String,
    port: u16,
    http: reqwest::Client,
    tokens: BTreeMap<String, String>,
    _server: Running,
}

impl Site {
    fn start(dir: &Path, db: &Path) -> Site {
        let tokens = township::add_users(db);
        let port = free_port();
        let mut server = Running::start(
            "jishi serve",
            Command::new(env!("CARGO_BIN_EXE_jishi"))
                .arg("--db")
                .arg(db)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .env_remove("JISHI_DB")
                .env_remove("JISHI_ACTOR"),
            dir.join("serve.log"),
        );
        wait_ready(port, "/api/health", "jishi serve", &mut server.child);
        Site {
            base: format!("http://127.0.0.1:{port}"),
            port,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            tokens,
            _server: server,
        }
    }

    fn cookie(&self, who: &str) -> String {
        format!("jishi_token={}", self.tokens[who])
    }

    async fn get(&self, who: &str, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie(who))
            .send()
            .await
            .expect("get");
        (r.status().as_u16(), r.text().await.expect("body"))
    }

    /// Posts `pairs` to `action` from this site's own page; the status, the
    /// redirect target and the body.
    async fn post(
        &self,
        who: &str,
        action: &str,
        pairs: &[(String, String)],
    ) -> (u16, String, String) {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .post(format!("{}{action}", self.base))
            .header("cookie", self.cookie(who))
            .header("origin", format!("http://127.0.0.1:{}", self.port))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("post");
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, location, r.text().await.expect("body"))
    }
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The value of the hidden input `name` in a page.
fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in the form"))
        + marker.len();
    page[at..].split('"').next().unwrap_or_default().to_string()
}

fn form_action(page: &str) -> String {
    let marker = "id=\"record-form\"";
    let form = &page[..page.find(marker).expect("a record form")];
    let at = form.rfind("action=\"").expect("action") + "action=\"".len();
    form[at..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&")
}

fn head(db: &Path) -> u64 {
    let out = run_ok(db, &["head", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("head json");
    v["position"].as_u64().unwrap_or(0)
}

/// Opens the step's form, types its values and sends it once.
async fn submit(site: &Site, st: &Step) -> (u16, String, String, Vec<(String, String)>) {
    let (status, page) = site.get(st.who, &township::form_path(st)).await;
    assert_eq!(status, 200, "{} form for {}: {page}", st.kind, st.who);
    let mut pairs = vec![
        ("csrf".to_string(), hidden(&page, "csrf")),
        ("event_id".to_string(), hidden(&page, "event_id")),
    ];
    if let Some(c) = st.candidate {
        pairs.push(("candidate_id".into(), c.into()));
    }
    if let Some(rows) = page.find("name=\"f.") {
        let _ = rows;
    }
    // Row lists say how many rows they offered.
    for (k, _) in &st.fields {
        if let Some(list) = k.strip_prefix("f.").and_then(|r| r.split('.').next()) {
            let rows = format!("f.{list}.rows");
            if page.contains(&format!("name=\"{rows}\"")) && !pairs.iter().any(|(p, _)| *p == rows)
            {
                pairs.push((rows.clone(), hidden(&page, &rows)));
            }
        }
    }
    pairs.extend(st.fields.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let action = form_action(&page);
    let (status, location, body) = site.post(st.who, &action, &pairs).await;
    (status, location, body, pairs)
}

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
