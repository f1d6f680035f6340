//! A `jishi serve` on loopback with the township's users signed in, and
//! the plain-HTTP client a browser without JavaScript would be: shared by
//! the forms test (tests/server_forms.rs) and the import test
//! (tests/server_import.rs).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::common::browser::{free_port, run_ok, wait_ready, Running};
use crate::township::{self, Step};

pub struct Site {
    pub base: String,
    pub port: u16,
    pub http: reqwest::Client,
    pub tokens: BTreeMap<String, String>,
    _server: Running,
}

impl Site {
    pub fn start(dir: &Path, db: &Path) -> Site {
        Site::start_with(dir, db, township::add_users(db), &[])
    }

    /// A server on `db` for the users of `tokens`, with `extra` arguments to
    /// `jishi serve`.
    pub fn start_with(
        dir: &Path,
        db: &Path,
        tokens: BTreeMap<String, String>,
        extra: &[&str],
    ) -> Site {
        let port = free_port();
        let mut server = Running::start(
            "jishi serve",
            Command::new(env!("CARGO_BIN_EXE_jishi"))
                .arg("--db")
                .arg(db)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .args(extra)
                .env_remove("JISHI_DB")
                .env_remove("JISHI_PERSON_KEY")
                .env_remove("JISHI_ACTOR"),
            dir.join(format!("serve-{port}.log")),
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

    pub fn cookie(&self, who: &str) -> String {
        format!("jishi_token={}", self.tokens[who])
    }

    pub async fn get(&self, who: &str, path: &str) -> (u16, String) {
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
    pub async fn post(
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
        answer(r).await
    }
}

impl Site {
    /// Posts a `multipart/form-data` upload, as a browser sends a form with
    /// a file input (RFC 7578), built here by hand: text `fields`, then the
    /// file under the name `file`.
    pub async fn post_file(
        &self,
        who: &str,
        action: &str,
        fields: &[(&str, &str)],
        file_name: &str,
        bytes: &[u8],
    ) -> (u16, String, String) {
        let boundary = "----jishi-test-boundary-7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let r = self
            .http
            .post(format!("{}{action}", self.base))
            .header("cookie", self.cookie(who))
            .header("origin", format!("http://127.0.0.1:{}", self.port))
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .expect("post");
        answer(r).await
    }

    /// A download: status, content type, bytes.
    pub async fn get_bytes(&self, who: &str, path: &str) -> (u16, String, Vec<u8>) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie(who))
            .send()
            .await
            .expect("get");
        let status = r.status().as_u16();
        let ty = r
            .headers()
            .get("content-type")
            .and_then(|l| l.to_str().ok())
            .unwrap_or_default()
            .to_string();
        (status, ty, r.bytes().await.expect("body").to_vec())
    }
}

/// Every hidden input of the form with `id`, in order, as (name, value),
/// with the HTML escapes maud writes undone.
pub fn hidden_fields(page: &str, id: &str) -> Vec<(String, String)> {
    let start = page
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no form {id}"));
    let form = &page[start..];
    let form = &form[..form.find("</form>").unwrap_or(form.len())];
    let mut out = Vec::new();
    for part in form.split("<input ").skip(1) {
        if !part.contains("type=\"hidden\"") {
            continue;
        }
        let attr = |name: &str| {
            let m = format!("{name}=\"");
            part.find(&m).map(|a| {
                part[a + m.len()..]
                    .split('"')
                    .next()
                    .unwrap_or_default()
                    .replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

/// A form's answer: status, redirect target, body.
async fn answer(r: reqwest::Response) -> (u16, String, String) {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, location, r.text().await.expect("body"))
}

pub use crate::common::enc;

/// The value of the hidden input `name` in a page.
pub fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in the form"))
        + marker.len();
    page[at..].split('"').next().unwrap_or_default().to_string()
}

pub fn form_action(page: &str) -> String {
    let marker = "id=\"record-form\"";
    let form = &page[..page.find(marker).expect("a record form")];
    let at = form.rfind("action=\"").expect("action") + "action=\"".len();
    form[at..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&")
}

pub fn head(db: &Path) -> u64 {
    let out = run_ok(db, &["head", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("head json");
    v["position"].as_u64().unwrap_or(0)
}

/// Opens the step's form, types its values and sends it once.
pub async fn submit(site: &Site, st: &Step) -> (u16, String, String, Vec<(String, String)>) {
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
